-- smpp-connector: the id a segment's receipt was written with.
--
-- A segment takes receipts of one SMSC id only (connector::receipt::merge): a receipt with
-- another id for a segment that already holds one is a conflict, counted and published
-- uncorrelated instead of being put on this message. Rows stored before this column existed
-- hold NULL and are compared by status alone.
ALTER TABLE smpp.message_correlations
    ADD COLUMN IF NOT EXISTS receipt_smsc_message_id text;
