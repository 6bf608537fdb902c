-- smpp-connector: a segment whose validity ended before the operator accepted it.
--
-- Such a segment is settled (never sent again) like a refused one, but its event is EXPIRED,
-- not REJECTED: the row says which, so that the event published again from it on a
-- redelivery is the same one.
ALTER TABLE smpp.message_correlations
    DROP CONSTRAINT IF EXISTS message_correlations_submit_status_check;
ALTER TABLE smpp.message_correlations
    ADD CONSTRAINT message_correlations_submit_status_check
    CHECK (submit_status IN ('SUBMITTED', 'FAILED', 'EXPIRED'));
