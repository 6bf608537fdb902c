-- smpp-connector: the endpoint of each submit and of each kept receipt.
--
-- An operator's primary and backup may be two SMSC systems that both number their messages
-- from 1: the same id then names two messages. With `receipts.idScope: endpoint` (the default)
-- a receipt names only a segment submitted to the endpoint it arrived from
-- (connector::store::receipts). Rows written before this column hold NULL and are matched from
-- either endpoint, as they were.
ALTER TABLE smpp.message_correlations
    ADD COLUMN IF NOT EXISTS smsc_endpoint text COLLATE "C";

-- A kept receipt remembers the endpoint it came from ('' when the endpoints share one id
-- space) and whether it is an intermediate notification: the receipts of two messages with the
-- same id from two endpoints, and an intermediate notification and the final receipt with the
-- same stat, are different receipts and are all kept.
ALTER TABLE smpp.pending_receipts
    ADD COLUMN IF NOT EXISTS endpoint text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS intermediate boolean NOT NULL DEFAULT false;

UPDATE smpp.pending_receipts
SET intermediate = true
WHERE receipt ? 'intermediate' AND (receipt->>'intermediate') = 'true';

ALTER TABLE smpp.pending_receipts DROP CONSTRAINT IF EXISTS pending_receipts_pkey;
ALTER TABLE smpp.pending_receipts
    ADD PRIMARY KEY (operator_id, smsc_id_key, stat, intermediate, endpoint);
