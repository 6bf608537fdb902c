-- smpp-connector: message correlation (contract §5).
CREATE SCHEMA IF NOT EXISTS smpp;

-- One row per submitted segment: the platform's message id and the operator's, the submit
-- outcome and the latest receipt. A row with submit_status 'SUBMITTED' is the idempotency
-- record: a redelivered command whose segments are all SUBMITTED is not sent again.
CREATE TABLE IF NOT EXISTS smpp.message_correlations (
    operator_id           text        NOT NULL,
    message_id            text        NOT NULL,
    segment_index         smallint    NOT NULL CHECK (segment_index >= 1),
    segment_count         smallint    NOT NULL CHECK (segment_count BETWEEN 1 AND 255),
    smsc_message_id       text,
    -- Normalised keys of smsc_message_id, one per id form (connector::receipt::canonical_keys:
    -- `s:` as-is, `hd:` hex-to-decimal, `dh:` decimal-to-hex); a receipt matches any of them.
    smsc_id_key           text,
    smsc_id_key2          text,
    smsc_id_key3          text,
    -- SUBMITTED (submit_sm_resp ESME_ROK) or FAILED (permanent error, or retries exhausted).
    submit_status         text        NOT NULL CHECK (submit_status IN ('SUBMITTED', 'FAILED')),
    command_status        integer     NOT NULL,
    attempts              integer     NOT NULL DEFAULT 1,
    -- Concatenation reference of a long message, reused when missing segments are resent.
    concat_ref            integer,
    submitted_at          timestamptz NOT NULL,
    receipt_status        text,
    receipt_final         boolean     NOT NULL DEFAULT false,
    receipt_stat          text,
    receipt_err           text,
    receipt_network_error text,
    receipt_submit_date   timestamptz,
    receipt_done_date     timestamptz,
    receipt_received_at   timestamptz,
    metadata              jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operator_id, message_id, segment_index),
    CHECK (segment_index <= segment_count)
);

CREATE INDEX IF NOT EXISTS message_correlations_smsc_id_key
    ON smpp.message_correlations (operator_id, smsc_id_key) WHERE smsc_id_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS message_correlations_smsc_id_key2
    ON smpp.message_correlations (operator_id, smsc_id_key2) WHERE smsc_id_key2 IS NOT NULL;
CREATE INDEX IF NOT EXISTS message_correlations_smsc_id_key3
    ON smpp.message_correlations (operator_id, smsc_id_key3) WHERE smsc_id_key3 IS NOT NULL;

-- Receipts that arrived before the submit_sm_resp of their message (or match nothing yet):
-- retried until expires_at, then published uncorrelated.
CREATE TABLE IF NOT EXISTS smpp.pending_receipts (
    operator_id      text        NOT NULL,
    smsc_id_key      text        NOT NULL,
    stat             text        NOT NULL,
    smsc_message_id  text        NOT NULL,
    candidate_keys   text[]      NOT NULL,
    receipt          jsonb       NOT NULL,
    received_at      timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (operator_id, smsc_id_key, stat)
);

CREATE INDEX IF NOT EXISTS pending_receipts_received
    ON smpp.pending_receipts (operator_id, received_at);
