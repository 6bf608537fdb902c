//! The lease in PostgreSQL, for replicas outside Kubernetes: a row of `smpp.leases` (holder,
//! last renewal, duration, all timed by the server's clock) decides who is active, as a
//! Kubernetes Lease would. Every candidate renews on a dedicated connection, and the row
//! records the server session (pid and start time) of the holder's. When the holder dies its
//! connection closes and its session leaves `pg_stat_activity`: a standby then takes the lease
//! at once instead of waiting for the expiry, and waits the fence delay before binding.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::{LeaseError, LeaseSettings, Round};

/// A candidate for the PostgreSQL lease.
pub struct PgLease {
    options: PgConnectOptions,
    conn: Option<PgConnection>,
    name: String,
    identity: String,
    duration_ms: i64,
    fence: Duration,
}

impl PgLease {
    /// A candidate on the database of `postgres.url` (connected at the first round).
    pub fn new(c: &crds::config::PostgresConfig, s: &LeaseSettings) -> Result<Self, LeaseError> {
        let options = PgConnectOptions::from_str(&c.url)?
            .options([
                ("statement_timeout", "5s"),
                ("lock_timeout", "2s"),
                ("idle_in_transaction_session_timeout", "10s"),
                ("tcp_keepalives_idle", "5"),
                ("tcp_keepalives_interval", "2"),
                ("tcp_keepalives_count", "2"),
            ])
            .application_name("smpp-connector-lease");
        Ok(Self {
            options,
            conn: None,
            name: s.name.clone(),
            identity: s.identity.clone(),
            duration_ms: i64::try_from(s.duration.as_millis()).unwrap_or(i64::MAX),
            fence: s.fence_delay(),
        })
    }

    /// Drops the connection (after a failure or a timeout): the session the row names ends
    /// with it, so that a standby may take the lease early.
    pub(super) fn forget_connection(&mut self) {
        self.conn = None;
    }

    pub(super) async fn round(&mut self) -> Result<Round, LeaseError> {
        let r = self.round_on_connection().await;
        if r.is_err() {
            self.forget_connection();
        }
        r
    }

    async fn round_on_connection(&mut self) -> Result<Round, LeaseError> {
        if self.conn.is_none() {
            self.conn = Some(self.options.connect().await?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(LeaseError::Config("no connection".into()));
        };
        let mut tx = conn.begin().await?;
        sqlx::query("INSERT INTO smpp.leases (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(&self.name)
            .execute(&mut *tx)
            .await?;
        let (holder, expired, holder_gone): (String, bool, bool) = sqlx::query_as(
            "SELECT holder, \
                 renewed_at IS NULL OR renewed_at + duration_ms * interval '1 millisecond' < now(), \
                 NOT EXISTS (SELECT 1 FROM pg_stat_activity a \
                     WHERE a.pid = l.holder_pid AND a.backend_start = l.holder_backend_start) \
             FROM smpp.leases l WHERE name = $1 FOR UPDATE",
        )
        .bind(&self.name)
        .fetch_one(&mut *tx)
        .await?;
        let round = if holder == self.identity {
            Round::Renewed
        } else if holder.is_empty() || expired {
            Round::Acquired {
                fence: Duration::ZERO,
            }
        } else if holder_gone {
            // The holder's lease connection is gone: it fences itself at its next round.
            Round::Acquired { fence: self.fence }
        } else {
            Round::HeldByOther
        };
        match round {
            Round::Renewed => {
                sqlx::query(
                    "UPDATE smpp.leases SET renewed_at = now(), duration_ms = $2 WHERE name = $1",
                )
                .bind(&self.name)
                .bind(self.duration_ms)
                .execute(&mut *tx)
                .await?;
            }
            Round::Acquired { .. } => {
                sqlx::query(
                    "UPDATE smpp.leases SET holder = $2, acquired_at = now(), renewed_at = now(), \
                     duration_ms = $3, transitions = transitions + 1, \
                     holder_pid = pg_backend_pid(), holder_backend_start = \
                     (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()) \
                     WHERE name = $1",
                )
                .bind(&self.name)
                .bind(&self.identity)
                .bind(self.duration_ms)
                .execute(&mut *tx)
                .await?;
            }
            Round::HeldByOther => {}
        }
        tx.commit().await?;
        Ok(round)
    }

    pub(super) async fn release(&mut self) -> Result<(), LeaseError> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        sqlx::query(
            "UPDATE smpp.leases SET holder = '', renewed_at = NULL, holder_pid = NULL \
             WHERE name = $1 AND holder = $2",
        )
        .bind(&self.name)
        .bind(&self.identity)
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }
}
