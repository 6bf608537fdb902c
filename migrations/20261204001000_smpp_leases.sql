-- Active/standby replicas of a connector without Kubernetes: the lease row names the active
-- replica (holder), when it last renewed, and the server session (pid and start time) of the
-- holder's dedicated connection, so that the holder's death frees the lease before the expiry.
CREATE TABLE IF NOT EXISTS smpp.leases (
    name                 text COLLATE "C" PRIMARY KEY,
    holder               text        NOT NULL DEFAULT '',
    holder_pid           integer,
    holder_backend_start timestamptz,
    acquired_at          timestamptz,
    renewed_at           timestamptz,
    duration_ms          bigint      NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    transitions          integer     NOT NULL DEFAULT 0
);
