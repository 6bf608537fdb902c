-- smpp-connector: the write probe.
--
-- Each connector updates its operator's row on readiness checks and before it resumes sending
-- after failed commits: a database that answers reads but refuses writes (a read-only
-- failover, a full disk) makes the connector unready and keeps it from sending.
CREATE TABLE IF NOT EXISTS smpp.connector_heartbeats (
    operator_id text COLLATE "C" PRIMARY KEY,
    instance    text        NOT NULL,
    beat_at     timestamptz NOT NULL
);
