-- smpp-connector: one receipt lookup key per submitted segment.
--
-- A segment keeps one key, `smsc_id_key` = 's:' and its smsc_message_id as written
-- (lowercased; an id of hex digits only also loses its leading zeros); a receipt's id is
-- mapped into that form for each id form instead (connector::receipt::msgid). One index then
-- serves every form, and a receipt is looked up with at most three keys instead of nine.

DROP INDEX IF EXISTS smpp.message_correlations_smsc_id_key2;
DROP INDEX IF EXISTS smpp.message_correlations_smsc_id_key3;
ALTER TABLE smpp.message_correlations
    DROP COLUMN IF EXISTS smsc_id_key2,
    DROP COLUMN IF EXISTS smsc_id_key3;

-- Rows written under a fixed hexToDecimal / decimalToHex form hold that form's key: rewrite
-- them in the single form.
UPDATE smpp.message_correlations
SET smsc_id_key = 's:' || CASE
        WHEN lower(btrim(smsc_message_id)) ~ '^[0-9a-f]+$'
            THEN coalesce(nullif(ltrim(lower(btrim(smsc_message_id)), '0'), ''), '0')
        ELSE lower(btrim(smsc_message_id))
    END
WHERE smsc_message_id IS NOT NULL
  AND (smsc_id_key IS NULL OR smsc_id_key NOT LIKE 's:%');

-- Kept receipts: their `hd:` / `dh:` lookup keys become the submit keys they name (an `hd:`
-- value of more than 18 digits stays; its receipt is published uncorrelated when its wait ends).
UPDATE smpp.pending_receipts
SET candidate_keys = ARRAY(
        SELECT CASE
                   WHEN k ~ '^dh:[0-9]+$' THEN 's:' || substr(k, 4)
                   WHEN k ~ '^hd:[0-9]{1,18}$' THEN 's:' || to_hex(substr(k, 4)::bigint)
                   ELSE k
               END
        FROM unnest(candidate_keys) AS k)
WHERE EXISTS (SELECT 1 FROM unnest(candidate_keys) AS k WHERE k NOT LIKE 's:%');
