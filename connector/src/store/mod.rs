//! Correlation of submitted segments and receipts in PostgreSQL (`smpp.message_correlations`,
//! `smpp.pending_receipts`; migrations in `migrations/`).
//!
//! Writes go through [`CorrelationWriter`], a group commit: one task collects rows for at most
//! `postgres.batchDelayMs` or `postgres.batchSize` rows, writes them in one transaction, and
//! only after COMMIT completes each caller's future. The JetStream ack of a command waits for
//! it, so a crash never loses the correlation of a sent message. Receipts are applied in the
//! same transactions: their rows (and the sibling segments of the same message) are locked, the
//! latest status is stored, and each caller gets the message's aggregate status as of its
//! receipt.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::protocol::receipt::{MessageStatus, Segment};

/// The embedded migrations of `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The message a receipt belongs to, found by correlation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrelatedMessage {
    /// Platform message id.
    pub message_id: String,
    /// The receipt's segment.
    pub segment: Segment,
    /// The SMSC id of the segment's submit (the receipt's event is named by it).
    pub smsc_message_id: Option<String>,
    /// Aggregate status after this receipt.
    pub message_status: MessageStatus,
    /// The command's metadata.
    pub metadata: BTreeMap<String, String>,
    /// W3C `traceparent` of the command that sent the segment, when it was traced.
    pub trace_parent: Option<String>,
}

/// A correlation operation failed; the caller must not acknowledge (nak, or answer
/// ESME_RX_T_APPN to a receipt).
#[derive(Clone, Debug, thiserror::Error)]
pub enum CorrelationError {
    /// PostgreSQL failed (the whole batch was rolled back).
    #[error("PostgreSQL: {0}")]
    Database(Arc<sqlx::Error>),
    /// A stored value could not be read back.
    #[error("bad stored value: {0}")]
    Corrupt(String),
    /// The writer task is gone (shutdown).
    #[error("correlation writer stopped")]
    WriterGone,
    /// PostgreSQL did not answer in time.
    #[error("PostgreSQL did not answer in time")]
    TimedOut,
}

impl CorrelationError {
    /// Whether PostgreSQL refused the data itself (a data exception or a violated constraint,
    /// SQLSTATE classes 22 and 23): retrying the same rows fails again.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Database(e) => match e.as_ref() {
                sqlx::Error::Database(d) => d
                    .code()
                    .is_some_and(|c| c.starts_with("22") || c.starts_with("23")),
                sqlx::Error::Encode(_) => true,
                _ => false,
            },
            Self::Corrupt(_) | Self::WriterGone | Self::TimedOut => false,
        }
    }
}

impl From<sqlx::Error> for CorrelationError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(Arc::new(e))
    }
}

/// Connects a pool from the `postgres` configuration.
///
/// Connections are not pinged before each use (see below). Its sessions never plan parallel
/// queries: the connector's statements are index lookups of
/// a few hundred keys, and once the table holds millions of rows the planner's estimates make a
/// parallel plan look cheaper, which then forks workers for every batch (measured: the full
/// path fell from about 10,000 to 4,500 messages/s at 3 million rows).
pub async fn connect(c: &crds::config::PostgresConfig) -> Result<PgPool, CorrelationError> {
    let options = PgConnectOptions::from_str(&c.url)?.options(SESSION_SETTINGS);
    Ok(PgPoolOptions::new()
        .max_connections(c.max_connections.max(2))
        .acquire_timeout(Duration::from_secs(5))
        // No ping before every checkout (a round trip per commit): a connection that died
        // fails its statement, the batch is retried, and the pool replaces the connection.
        .test_before_acquire(false)
        .connect_with(options)
        .await?)
}

/// Opening the database failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Connecting.
    #[error(transparent)]
    Connect(#[from] CorrelationError),
    /// Running the migrations.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// [`connect`], then the migrations when `postgres.migrate` says so.
pub async fn open(c: &crds::config::PostgresConfig) -> Result<PgPool, OpenError> {
    let pool = connect(c).await?;
    if c.migrate {
        migrate(&pool).await?;
    }
    Ok(pool)
}

/// Settings of every session of the pool (sent in the startup packet). A statement, a lock
/// wait or an idle transaction never blocks a commit for long (the caller retries), and the
/// server probes idle connections so that a dead peer is noticed.
pub const SESSION_SETTINGS: [(&str, &str); 8] = [
    ("max_parallel_workers_per_gather", "0"),
    ("plan_cache_mode", "force_generic_plan"),
    ("statement_timeout", "15s"),
    ("lock_timeout", "5s"),
    ("idle_in_transaction_session_timeout", "30s"),
    ("tcp_keepalives_idle", "30"),
    ("tcp_keepalives_interval", "10"),
    ("tcp_keepalives_count", "3"),
];

/// The longest a batch's round trips may take on our side, past the server's
/// `statement_timeout` (a connection to a host that stopped answering): then the batch fails
/// and is retried.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs the migrations (under PostgreSQL's advisory lock, so replicas may race).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

mod pending;
mod probe;
mod receipts;
mod retention;
mod submits;
mod writer;

pub use pending::*;
pub use probe::*;
pub use receipts::*;
pub use retention::*;
pub use submits::*;
pub use writer::*;

#[cfg(test)]
mod tests;
