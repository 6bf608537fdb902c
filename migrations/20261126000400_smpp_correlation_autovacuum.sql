-- smpp-connector: storage and autovacuum settings of the correlation table.
--
-- Every receipt updates its row, so the table gathers dead row versions as fast as it gathers
-- rows. PostgreSQL's defaults (vacuum at 20 % dead, analyze at 10 % changed) wait for millions
-- of them on a table of tens of millions of rows; vacuum and analyze it in smaller steps.
-- Pages are filled to 70 % so that a receipt's update can often stay on its page (a HOT update,
-- which writes no index entries); this applies to pages written from now on.
ALTER TABLE smpp.message_correlations SET (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.01
);
