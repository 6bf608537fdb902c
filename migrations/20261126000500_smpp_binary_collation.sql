-- smpp-connector: byte-order ("C") collation for the identifier columns.
--
-- Operator ids, message ids, lookup keys and receipt stats are ASCII identifiers matched by
-- equality; a language collation (the database default, e.g. en_US.UTF-8) only makes every
-- b-tree comparison of the primary keys and the lookup indexes slower. With "C" they compare
-- as bytes. Changing a column's collation keeps the table and rebuilds its indexes.
ALTER TABLE smpp.message_correlations
    ALTER COLUMN operator_id TYPE text COLLATE "C",
    ALTER COLUMN message_id TYPE text COLLATE "C",
    ALTER COLUMN smsc_id_key TYPE text COLLATE "C";

ALTER TABLE smpp.pending_receipts
    ALTER COLUMN operator_id TYPE text COLLATE "C",
    ALTER COLUMN smsc_id_key TYPE text COLLATE "C",
    ALTER COLUMN stat TYPE text COLLATE "C";
