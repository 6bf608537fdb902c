-- smpp-connector: retention of correlation rows (postgres.retentionDays).
--
-- Rows are appended in created_at order, so a BRIN index finds the old ones for a fraction of
-- the cost of a b-tree, both to maintain on insert and to store.
CREATE INDEX IF NOT EXISTS message_correlations_created_brin
    ON smpp.message_correlations USING brin (created_at);
