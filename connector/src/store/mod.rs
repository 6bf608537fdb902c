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

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::protocol::receipt::{
    aggregate_status, merge, parse_status, submit_key, DeliveryStatus, HeldReceipt, IdForm, Merge,
    MessageStatus, NewReceipt, ReceiptFacts, ReceiptLookup, Segment,
};

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

/// Whether PostgreSQL takes writes: updates the operator's row of `smpp.connector_heartbeats`
/// (a database that answers reads but refuses writes fails it).
#[derive(Clone, Debug)]
pub struct WriteProbe {
    pool: PgPool,
    operator_id: String,
    instance: String,
}

impl WriteProbe {
    /// The probe of `operator_id`'s connector `instance`.
    pub fn new(pool: PgPool, operator_id: &str, instance: &str) -> Self {
        Self {
            pool,
            operator_id: operator_id.to_string(),
            instance: instance.to_string(),
        }
    }

    /// One write, within `timeout`.
    pub async fn check(&self, timeout: Duration) -> Result<(), CorrelationError> {
        let write = sqlx::query(
            r#"INSERT INTO smpp.connector_heartbeats (operator_id, instance, beat_at)
               VALUES ($1, $2, now())
               ON CONFLICT (operator_id) DO UPDATE SET instance = EXCLUDED.instance,
                                                       beat_at = EXCLUDED.beat_at"#,
        )
        .bind(&self.operator_id)
        .bind(&self.instance)
        .execute(&self.pool);
        match tokio::time::timeout(timeout, write).await {
            Ok(r) => r.map(|_| ()).map_err(CorrelationError::from),
            Err(_) => Err(CorrelationError::TimedOut),
        }
    }
}

/// Runs the migrations (under PostgreSQL's advisory lock, so replicas may race).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// How a segment's submit ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// submit_sm_resp ESME_ROK with the operator's message id.
    Submitted {
        /// The operator's id as in submit_sm_resp (stored with its
        /// [`submit_key`](crate::protocol::receipt::submit_key)).
        smsc_message_id: String,
    },
    /// A permanent error, or retries exhausted.
    Failed {
        /// The last command_status.
        command_status: u32,
    },
    /// The message's validity ended before the operator accepted the segment.
    Expired {
        /// The last command_status, 0 when the segment was never answered.
        command_status: u32,
    },
}

/// One submitted segment to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentSubmit {
    /// Operator id.
    pub operator_id: String,
    /// Platform message id.
    pub message_id: String,
    /// Position of the segment.
    pub segment: Segment,
    /// Outcome.
    pub outcome: SubmitOutcome,
    /// Attempts made.
    pub attempts: u32,
    /// Concatenation reference of a long message.
    pub concat_ref: Option<u16>,
    /// When the response arrived.
    pub submitted_at: DateTime<Utc>,
    /// The command's metadata.
    pub metadata: BTreeMap<String, String>,
}

/// A receipt to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptUpdate {
    /// Operator id.
    pub operator_id: String,
    /// The keys to look the receipt's id up with: only a match on `lookup.key` attributes it.
    pub lookup: ReceiptLookup,
    /// What the receipt says.
    pub facts: ReceiptFacts,
    /// When it was received.
    pub received_at: DateTime<Utc>,
}

/// What applying a receipt found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptMatch {
    /// The segment was found by the attributing key (and updated, see
    /// [`merge`](crate::protocol::receipt::merge)).
    Correlated {
        /// The message, its segment and aggregate status.
        message: CorrelatedMessage,
    },
    /// No submitted segment has the attributing key (yet).
    Unmatched {
        /// The forms of [`ReceiptLookup::unconfirmed`] whose key names a submitted segment:
        /// evidence for the learner, never an attribution.
        unconfirmed: Vec<IdForm>,
    },
    /// The segment found holds a receipt this one contradicts (another SMSC id, or a second,
    /// different final status): nothing was changed.
    Conflict {
        /// The message of the segment.
        message_id: String,
        /// The segment.
        segment: Segment,
        /// The SMSC id of the segment's submit.
        smsc_message_id: Option<String>,
        /// The id of the receipt the segment holds.
        held_receipt_id: Option<String>,
        /// Its `stat`.
        held_stat: Option<String>,
    },
}

type Reply<T> = oneshot::Sender<Result<T, CorrelationError>>;

enum Op {
    Submit(Arc<[SegmentSubmit]>, Reply<()>),
    Receipt(ReceiptUpdate, Reply<ReceiptMatch>),
}

impl Op {
    /// Rows this operation writes or updates.
    fn rows(&self) -> usize {
        match self {
            Op::Submit(rows, _) => rows.len(),
            Op::Receipt(..) => 1,
        }
    }
}

/// Counters of the writer (for metrics and tests).
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: std::sync::atomic::AtomicU64,
    /// Operations committed.
    pub rows: std::sync::atomic::AtomicU64,
    /// Transactions that failed.
    pub failures: std::sync::atomic::AtomicU64,
}

/// Group-commit writer; cheap to clone. Dropping every clone flushes and stops the task.
#[derive(Clone)]
pub struct CorrelationWriter {
    tx: mpsc::Sender<Op>,
    stats: Arc<WriterStats>,
}

impl CorrelationWriter {
    /// Starts the writer task on `pool`, committing about `batch_size` rows at a time (a
    /// command's segments are never split across transactions) and waiting at most
    /// `batch_delay` for a batch to fill.
    pub fn spawn(pool: PgPool, batch_size: usize, batch_delay: Duration) -> (Self, JoinHandle<()>) {
        let batch_size = batch_size.max(1);
        let (tx, rx) = mpsc::channel(batch_size * 4);
        let stats = Arc::new(WriterStats::default());
        let handle = tokio::spawn(run_writer(pool, rx, batch_size, batch_delay, stats.clone()));
        (Self { tx, stats }, handle)
    }

    /// The writer's counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Queues a segment's submit outcome; the returned future resolves after COMMIT.
    pub async fn record_submit(
        &self,
        row: SegmentSubmit,
    ) -> impl std::future::Future<Output = Result<(), CorrelationError>> {
        self.record_submits(Arc::from([row])).await
    }

    /// Queues the submit outcomes of one command's segments, committed in the same
    /// transaction; the returned future resolves after COMMIT. The rows are shared, not
    /// copied, so that a caller can queue them again after a failed commit.
    pub async fn record_submits(
        &self,
        rows: Arc<[SegmentSubmit]>,
    ) -> impl std::future::Future<Output = Result<(), CorrelationError>> {
        let (reply, rx) = oneshot::channel();
        let sent = self.tx.send(Op::Submit(rows, reply)).await.is_ok();
        async move {
            if !sent {
                return Err(CorrelationError::WriterGone);
            }
            rx.await.unwrap_or(Err(CorrelationError::WriterGone))
        }
    }

    /// Applies a receipt; resolves after COMMIT with the correlated message, if any.
    pub async fn apply_receipt(
        &self,
        receipt: ReceiptUpdate,
    ) -> impl std::future::Future<Output = Result<ReceiptMatch, CorrelationError>> {
        let (reply, rx) = oneshot::channel();
        let sent = self.tx.send(Op::Receipt(receipt, reply)).await.is_ok();
        async move {
            if !sent {
                return Err(CorrelationError::WriterGone);
            }
            rx.await.unwrap_or(Err(CorrelationError::WriterGone))
        }
    }
}

async fn run_writer(
    pool: PgPool,
    mut rx: mpsc::Receiver<Op>,
    batch_size: usize,
    delay: Duration,
    stats: Arc<WriterStats>,
) {
    while let Some(first) = rx.recv().await {
        let mut rows = first.rows();
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + delay;
        while rows < batch_size {
            match rx.try_recv() {
                Ok(op) => {
                    rows += op.rows();
                    batch.push(op);
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    if delay.is_zero() {
                        break;
                    }
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(op)) => {
                            rows += op.rows();
                            batch.push(op);
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        commit_batch(&pool, batch, &stats).await;
    }
}

async fn commit_batch(pool: &PgPool, batch: Vec<Op>, stats: &WriterStats) {
    use std::sync::atomic::Ordering::Relaxed;
    let n = batch.iter().map(Op::rows).sum::<usize>() as u64;
    let mut submits = Vec::new();
    let mut receipts = Vec::new();
    for op in batch {
        match op {
            Op::Submit(row, reply) => submits.push((row, reply)),
            Op::Receipt(r, reply) => receipts.push((r, reply)),
        }
    }
    let rows: Vec<&SegmentSubmit> = submits.iter().flat_map(|(r, _)| r.iter()).collect();
    let updates: Vec<&ReceiptUpdate> = receipts.iter().map(|(r, _)| r).collect();
    let result = match tokio::time::timeout(WRITE_TIMEOUT, write(pool, &rows, &updates)).await {
        Ok(r) => r,
        Err(_) => Err(CorrelationError::TimedOut),
    };
    let (rows, updates) = (rows.len(), updates.len());
    match result {
        Ok(matches) => {
            stats.batches.fetch_add(1, Relaxed);
            stats.rows.fetch_add(n, Relaxed);
            for (_, reply) in submits {
                let _ = reply.send(Ok(()));
            }
            for ((_, reply), m) in receipts.into_iter().zip(matches) {
                let _ = reply.send(Ok(m));
            }
        }
        Err(e) if e.is_permanent() && submits.len() + receipts.len() > 1 => {
            // One row PostgreSQL refuses must not fail the others: each operation is
            // committed on its own, and only the offending one gets the error.
            stats.failures.fetch_add(1, Relaxed);
            tracing::warn!(error = %e, rows = rows + updates, "correlation batch refused; committing its operations one by one");
            let ops = submits
                .into_iter()
                .map(|(r, reply)| Op::Submit(r, reply))
                .chain(receipts.into_iter().map(|(r, reply)| Op::Receipt(r, reply)));
            for op in ops {
                Box::pin(commit_batch(pool, vec![op], stats)).await;
            }
        }
        Err(e) => {
            stats.failures.fetch_add(1, Relaxed);
            tracing::warn!(error = %e, rows = rows + updates, "correlation batch failed");
            for (_, reply) in submits {
                let _ = reply.send(Err(e.clone()));
            }
            for (_, reply) in receipts {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

async fn write(
    pool: &PgPool,
    submits: &[&SegmentSubmit],
    receipts: &[&ReceiptUpdate],
) -> Result<Vec<ReceiptMatch>, CorrelationError> {
    if receipts.is_empty() {
        // One statement is a transaction of its own: no BEGIN and COMMIT round trips.
        let mut conn = pool.acquire().await?;
        insert_submits(&mut conn, submits).await?;
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    if !submits.is_empty() {
        insert_submits(&mut tx, submits).await?;
    }
    let matches = apply_receipts(&mut tx, receipts).await?;
    tx.commit().await?;
    Ok(matches)
}

async fn insert_submits(
    conn: &mut sqlx::PgConnection,
    rows: &[&SegmentSubmit],
) -> Result<(), CorrelationError> {
    // The same segment twice in one statement is an error for ON CONFLICT: keep the last.
    let mut last: HashMap<(&str, &str, u16), usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        last.insert((&r.operator_id, &r.message_id, r.segment.index), i);
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    let n = keep.len();
    let (mut op, mut mid, mut idx, mut cnt) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut smsc, mut key, mut status, mut cs) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut attempts, mut cref, mut at, mut meta) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for i in keep {
        let r = rows[i];
        op.push(r.operator_id.as_str());
        mid.push(r.message_id.as_str());
        idx.push(i16::try_from(r.segment.index).unwrap_or(i16::MAX));
        cnt.push(i16::try_from(r.segment.count).unwrap_or(i16::MAX));
        match &r.outcome {
            SubmitOutcome::Submitted { smsc_message_id } => {
                smsc.push(Some(smsc_message_id.as_str()));
                // An accepted submit whose id could not be read has no key: no receipt can
                // name it (an empty receipt id must not match every such row).
                key.push(
                    (!smsc_message_id
                        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                        .is_empty())
                    .then(|| submit_key(smsc_message_id).into_string()),
                );
                status.push("SUBMITTED");
                cs.push(0i32);
            }
            SubmitOutcome::Failed { command_status } => {
                smsc.push(None);
                key.push(None);
                status.push("FAILED");
                cs.push(*command_status as i32);
            }
            SubmitOutcome::Expired { command_status } => {
                smsc.push(None);
                key.push(None);
                status.push("EXPIRED");
                cs.push(*command_status as i32);
            }
        }
        attempts.push(i32::try_from(r.attempts).unwrap_or(i32::MAX));
        cref.push(r.concat_ref.map(i32::from));
        at.push(r.submitted_at);
        meta.push(serde_json::to_string(&r.metadata).unwrap_or_else(|_| "{}".into()));
    }
    sqlx::query(
        r#"INSERT INTO smpp.message_correlations
             (operator_id, message_id, segment_index, segment_count, smsc_message_id, smsc_id_key,
              submit_status, command_status, attempts, concat_ref, submitted_at, metadata)
           SELECT u.op, u.mid, u.idx, u.cnt, u.smsc, u.k, u.st, u.cs, u.att, u.cref, u.at,
                  u.meta::jsonb
           FROM UNNEST($1::text[], $2::text[], $3::int2[], $4::int2[], $5::text[], $6::text[],
                       $7::text[], $8::int4[], $9::int4[], $10::int4[], $11::timestamptz[],
                       $12::text[])
                AS u(op, mid, idx, cnt, smsc, k, st, cs, att, cref, at, meta)
           ON CONFLICT (operator_id, message_id, segment_index) DO UPDATE SET
             segment_count = EXCLUDED.segment_count,
             smsc_message_id = EXCLUDED.smsc_message_id,
             smsc_id_key = EXCLUDED.smsc_id_key,
             submit_status = EXCLUDED.submit_status,
             command_status = EXCLUDED.command_status,
             attempts = smpp.message_correlations.attempts + EXCLUDED.attempts,
             concat_ref = EXCLUDED.concat_ref,
             submitted_at = EXCLUDED.submitted_at,
             metadata = EXCLUDED.metadata,
             updated_at = now()
           WHERE smpp.message_correlations.submit_status <> 'SUBMITTED'
              OR EXCLUDED.submit_status = 'SUBMITTED'"#,
    )
    .bind(op)
    .bind(mid)
    .bind(idx)
    .bind(cnt)
    .bind(smsc)
    .bind(key)
    .bind(status)
    .bind(cs)
    .bind(attempts)
    .bind(cref)
    .bind(at)
    .bind(meta)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A matched segment, as read before the update.
struct Hit {
    operator_id: String,
    message_id: String,
    index: u16,
    count: u16,
    smsc_message_id: Option<String>,
    submitted_at: DateTime<Utc>,
    metadata: BTreeMap<String, String>,
}

/// The receipt one segment holds while a batch is applied.
#[derive(Clone, Default)]
struct SegState {
    status: Option<DeliveryStatus>,
    is_final: bool,
    receipt_id: Option<String>,
    stat: Option<String>,
}

impl SegState {
    fn held(&self) -> Option<HeldReceipt<'_>> {
        self.status.map(|status| HeldReceipt {
            status,
            is_final: self.is_final,
            receipt_id: self.receipt_id.as_deref(),
            stat: self.stat.as_deref(),
        })
    }
}

/// Finds each receipt's segment: among the rows of its attributing key the newest submit
/// (an SMSC that reuses ids names its latest message); rows of the unconfirmed keys only
/// report which forms would have matched.
async fn find_segments(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    receipts: &[&ReceiptUpdate],
) -> Result<(Vec<Option<Hit>>, Vec<Vec<IdForm>>), CorrelationError> {
    let (mut ord, mut ops, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in receipts.iter().enumerate() {
        for k in r.lookup.all_keys() {
            ord.push(i32::try_from(i).unwrap_or(i32::MAX));
            ops.push(r.operator_id.as_str());
            keys.push(k.as_str());
        }
    }
    let found = sqlx::query(
        r#"SELECT u.ord, u.k, c.operator_id, c.message_id, c.segment_index, c.segment_count,
                  c.smsc_message_id, c.submitted_at, c.metadata::text AS metadata
           FROM UNNEST($1::int4[], $2::text[], $3::text[]) AS u(ord, op, k)
           JOIN smpp.message_correlations c ON c.operator_id = u.op AND c.smsc_id_key = u.k"#,
    )
    .bind(&ord)
    .bind(&ops)
    .bind(&keys)
    .fetch_all(&mut **tx)
    .await?;
    let mut hits: Vec<Option<Hit>> = (0..receipts.len()).map(|_| None).collect();
    let mut unconfirmed: Vec<Vec<IdForm>> = vec![Vec::new(); receipts.len()];
    for row in found {
        let i = usize::try_from(row.try_get::<i32, _>("ord")?).unwrap_or(usize::MAX);
        let (Some(r), Some(slot)) = (receipts.get(i), hits.get_mut(i)) else {
            continue;
        };
        let key: String = row.try_get("k")?;
        if key != r.lookup.key.as_str() {
            if let Some((form, _)) = r.lookup.unconfirmed.iter().find(|(_, k)| k.as_str() == key) {
                if !unconfirmed[i].contains(form) {
                    unconfirmed[i].push(*form);
                }
            }
            continue;
        }
        let submitted_at: DateTime<Utc> = row.try_get("submitted_at")?;
        if slot
            .as_ref()
            .is_some_and(|h| h.submitted_at >= submitted_at)
        {
            continue;
        }
        let metadata: String = row.try_get("metadata")?;
        *slot = Some(Hit {
            operator_id: row.try_get("operator_id")?,
            message_id: row.try_get("message_id")?,
            index: u16::try_from(row.try_get::<i16, _>("segment_index")?).unwrap_or(0),
            count: u16::try_from(row.try_get::<i16, _>("segment_count")?).unwrap_or(0),
            smsc_message_id: row.try_get("smsc_message_id")?,
            submitted_at,
            metadata: serde_json::from_str(&metadata)
                .map_err(|e| CorrelationError::Corrupt(format!("metadata: {e}")))?,
        });
    }
    Ok((hits, unconfirmed))
}

async fn apply_receipts(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    receipts: &[&ReceiptUpdate],
) -> Result<Vec<ReceiptMatch>, CorrelationError> {
    let (hits, mut unconfirmed) = find_segments(tx, receipts).await?;

    // Lock every segment of the matched messages, in a fixed order, and read their receipts.
    let mut msg_ops = Vec::new();
    let mut msg_ids = Vec::new();
    for h in hits.iter().flatten() {
        msg_ops.push(h.operator_id.as_str());
        msg_ids.push(h.message_id.as_str());
    }
    let mut state: HashMap<(String, String), Vec<SegState>> = HashMap::new();
    if !msg_ids.is_empty() {
        let rows = sqlx::query(
            r#"SELECT c.operator_id, c.message_id, c.segment_index, c.segment_count,
                      c.receipt_status, c.receipt_final, c.receipt_smsc_message_id,
                      c.receipt_stat
               FROM smpp.message_correlations c
               WHERE (c.operator_id, c.message_id) IN
                     (SELECT * FROM UNNEST($1::text[], $2::text[]))
               ORDER BY c.operator_id, c.message_id, c.segment_index
               FOR UPDATE"#,
        )
        .bind(&msg_ops)
        .bind(&msg_ids)
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
            let key = (row.try_get("operator_id")?, row.try_get("message_id")?);
            let count = usize::try_from(row.try_get::<i16, _>("segment_count")?).unwrap_or(0);
            let idx = usize::try_from(row.try_get::<i16, _>("segment_index")?).unwrap_or(0);
            let status: Option<String> = row.try_get("receipt_status")?;
            let segs = state
                .entry(key)
                .or_insert_with(|| vec![SegState::default(); count]);
            if let Some(s) = idx.checked_sub(1).and_then(|i| segs.get_mut(i)) {
                s.status = status.as_deref().and_then(parse_status);
                s.is_final = row.try_get("receipt_final")?;
                s.receipt_id = row.try_get("receipt_smsc_message_id")?;
                s.stat = row.try_get("receipt_stat")?;
            }
        }
    }

    // Apply in arrival order (crate::protocol::receipt::merge).
    let mut updated: HashMap<(String, String, u16), usize> = HashMap::new();
    let mut results = Vec::with_capacity(receipts.len());
    for (i, (r, hit)) in receipts.iter().zip(&hits).enumerate() {
        let Some(h) = hit else {
            results.push(ReceiptMatch::Unmatched {
                unconfirmed: std::mem::take(&mut unconfirmed[i]),
            });
            continue;
        };
        let segs = state
            .entry((h.operator_id.clone(), h.message_id.clone()))
            .or_insert_with(|| vec![SegState::default(); usize::from(h.count)]);
        let segment = Segment {
            index: h.index,
            count: h.count,
        };
        let Some(s) = usize::from(h.index)
            .checked_sub(1)
            .and_then(|i| segs.get_mut(i))
        else {
            // Out of its message's range: impossible under the table's CHECKs; never attributed.
            results.push(ReceiptMatch::Unmatched {
                unconfirmed: Vec::new(),
            });
            continue;
        };
        let new = NewReceipt {
            status: r.facts.status,
            is_final: r.facts.is_final(),
            receipt_id: &r.facts.smsc_message_id,
            stat: &r.facts.stat,
        };
        match merge(s.held(), new) {
            Merge::Conflict => {
                results.push(ReceiptMatch::Conflict {
                    message_id: h.message_id.clone(),
                    segment,
                    smsc_message_id: h.smsc_message_id.clone(),
                    held_receipt_id: s.receipt_id.clone(),
                    held_stat: s.stat.clone(),
                });
                continue;
            }
            Merge::Store => {
                *s = SegState {
                    status: Some(r.facts.status),
                    is_final: r.facts.is_final(),
                    receipt_id: Some(r.facts.smsc_message_id.clone()),
                    stat: Some(r.facts.stat.clone()),
                };
                updated.insert((h.operator_id.clone(), h.message_id.clone(), h.index), i);
            }
            Merge::KeepHeld => {}
        }
        // A segment that holds a non-final receipt is pending, whatever its status says.
        let statuses: Vec<Option<DeliveryStatus>> = segs
            .iter()
            .map(|s| s.status.filter(|_| s.is_final))
            .collect();
        results.push(ReceiptMatch::Correlated {
            message: CorrelatedMessage {
                message_id: h.message_id.clone(),
                segment,
                smsc_message_id: h.smsc_message_id.clone(),
                message_status: aggregate_status(h.count, &statuses),
                metadata: h.metadata.clone(),
            },
        });
    }

    if !updated.is_empty() {
        store_receipts(tx, receipts, &updated).await?;
    }
    Ok(results)
}

/// Writes the receipt each updated segment now holds.
async fn store_receipts(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    receipts: &[&ReceiptUpdate],
    updated: &HashMap<(String, String, u16), usize>,
) -> Result<(), CorrelationError> {
    let mut u_op = Vec::new();
    let mut u_mid = Vec::new();
    let mut u_idx = Vec::new();
    let mut u_status = Vec::new();
    let mut u_final = Vec::new();
    let mut u_rid = Vec::new();
    let mut u_stat = Vec::new();
    let mut u_err = Vec::new();
    let mut u_nec = Vec::new();
    let mut u_sd = Vec::new();
    let mut u_dd = Vec::new();
    let mut u_ra = Vec::new();
    for ((op, mid, idx), i) in updated {
        let Some(r) = receipts.get(*i) else {
            continue;
        };
        let status = r.facts.status;
        u_op.push(op.as_str());
        u_mid.push(mid.as_str());
        u_idx.push(i16::try_from(*idx).unwrap_or(i16::MAX));
        u_status.push(status.as_str());
        u_final.push(r.facts.is_final());
        u_rid.push(r.facts.smsc_message_id.as_str());
        u_stat.push(r.facts.stat.as_str());
        u_err.push(r.facts.err.as_deref());
        u_nec.push(r.facts.network_error_code.as_deref());
        u_sd.push(r.facts.submit_date);
        u_dd.push(r.facts.done_date);
        u_ra.push(r.received_at);
    }
    sqlx::query(
        r#"UPDATE smpp.message_correlations c SET
             receipt_status = u.status, receipt_final = u.fin, receipt_smsc_message_id = u.rid,
             receipt_stat = u.stat, receipt_err = u.err, receipt_network_error = u.nec,
             receipt_submit_date = u.sd, receipt_done_date = u.dd, receipt_received_at = u.ra,
             updated_at = now()
           FROM UNNEST($1::text[], $2::text[], $3::int2[], $4::text[], $5::bool[], $6::text[],
                       $7::text[], $8::text[], $9::text[], $10::timestamptz[],
                       $11::timestamptz[], $12::timestamptz[])
                AS u(op, mid, idx, status, fin, rid, stat, err, nec, sd, dd, ra)
           WHERE c.operator_id = u.op AND c.message_id = u.mid AND c.segment_index = u.idx"#,
    )
    .bind(u_op)
    .bind(u_mid)
    .bind(u_idx)
    .bind(u_status)
    .bind(u_final)
    .bind(u_rid)
    .bind(u_stat)
    .bind(u_err)
    .bind(u_nec)
    .bind(u_sd)
    .bind(u_dd)
    .bind(u_ra)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes at most `limit` correlation rows of `operator_id` created before `before`;
/// returns how many were deleted.
pub async fn purge_before(
    pool: &PgPool,
    operator_id: &str,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64, CorrelationError> {
    let done = sqlx::query(
        r#"DELETE FROM smpp.message_correlations
           WHERE ctid = ANY(ARRAY(
               SELECT ctid FROM smpp.message_correlations
               WHERE created_at < $2 AND operator_id = $1
               LIMIT $3))"#,
    )
    .bind(operator_id)
    .bind(before)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes every row of `operator_id` older than `days` days, `batch` rows per statement with
/// a pause between statements so that the writer keeps its pace; returns the rows deleted.
pub async fn purge_older_than(
    pool: &PgPool,
    operator_id: &str,
    days: u32,
    batch: i64,
) -> Result<u64, CorrelationError> {
    let before = Utc::now() - chrono::Duration::days(i64::from(days));
    let mut total = 0;
    loop {
        let n = purge_before(pool, operator_id, before, batch).await?;
        total += n;
        if n < u64::try_from(batch).unwrap_or(u64::MAX) {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A segment whose submit was settled in an earlier delivery: accepted, or refused for good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettledSegment {
    /// 1-based index.
    pub index: u16,
    /// How its submit ended.
    pub outcome: SubmitOutcome,
    /// Concatenation reference used.
    pub concat_ref: Option<u16>,
    /// When its outcome was recorded.
    pub submitted_at: DateTime<Utc>,
}

/// What was already settled of a message (idempotency).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorSubmission {
    /// Number of segments of the message.
    pub segment_count: u16,
    /// The settled segments, by index.
    pub settled: Vec<SettledSegment>,
}

impl PriorSubmission {
    /// Whether every segment was settled: the command is acknowledged without sending.
    pub fn is_complete(&self) -> bool {
        self.settled.len() >= usize::from(self.segment_count)
    }

    /// Whether segment `index` was settled (it is not sent again).
    pub fn has(&self, index: u16) -> bool {
        self.settled.iter().any(|s| s.index == index)
    }

    /// The concatenation reference the earlier delivery used.
    pub fn concat_ref(&self) -> Option<u16> {
        self.settled.iter().find_map(|s| s.concat_ref)
    }
}

/// The settled segments recorded for each of `message_ids` (absent: nothing settled).
pub async fn prior_submissions(
    pool: &PgPool,
    operator_id: &str,
    message_ids: &[&str],
) -> Result<HashMap<String, PriorSubmission>, CorrelationError> {
    let rows = sqlx::query(
        r#"SELECT message_id, segment_index, segment_count, smsc_message_id, submit_status,
                  command_status, concat_ref, submitted_at
           FROM smpp.message_correlations
           WHERE operator_id = $1 AND message_id = ANY($2)
           ORDER BY message_id, segment_index"#,
    )
    .bind(operator_id)
    .bind(message_ids)
    .fetch_all(pool)
    .await?;
    let mut out: HashMap<String, PriorSubmission> = HashMap::new();
    for row in rows {
        let count = u16::try_from(row.try_get::<i16, _>("segment_count")?).unwrap_or(0);
        let status: String = row.try_get("submit_status")?;
        let command_status = row.try_get::<i32, _>("command_status")? as u32;
        let outcome = match status.as_str() {
            "SUBMITTED" => SubmitOutcome::Submitted {
                smsc_message_id: row
                    .try_get::<Option<String>, _>("smsc_message_id")?
                    .unwrap_or_default(),
            },
            "EXPIRED" => SubmitOutcome::Expired { command_status },
            _ => SubmitOutcome::Failed { command_status },
        };
        let entry = out
            .entry(row.try_get("message_id")?)
            .or_insert_with(|| PriorSubmission {
                segment_count: count,
                settled: Vec::new(),
            });
        entry.settled.push(SettledSegment {
            index: u16::try_from(row.try_get::<i16, _>("segment_index")?).unwrap_or(0),
            outcome,
            concat_ref: row
                .try_get::<Option<i32>, _>("concat_ref")?
                .and_then(|r| u16::try_from(r).ok()),
            submitted_at: row.try_get("submitted_at")?,
        });
    }
    Ok(out)
}

/// Whether every segment of the message was already settled.
pub async fn already_settled(
    pool: &PgPool,
    operator_id: &str,
    message_id: &str,
) -> Result<bool, CorrelationError> {
    Ok(prior_submissions(pool, operator_id, &[message_id])
        .await?
        .get(message_id)
        .is_some_and(PriorSubmission::is_complete))
}

/// A receipt kept until its submit is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingReceipt {
    /// Operator id.
    pub operator_id: String,
    /// Main normalised key (part of the primary key with `stat`).
    pub key: String,
    /// Every candidate key.
    pub candidate_keys: Vec<String>,
    /// The receipt.
    pub facts: ReceiptFacts,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// After this it is published uncorrelated.
    pub expires_at: DateTime<Utc>,
}

/// Stores an early receipt (a duplicate of one already kept is ignored); committed on return.
pub async fn store_pending(pool: &PgPool, p: &PendingReceipt) -> Result<(), CorrelationError> {
    let receipt =
        serde_json::to_string(&p.facts).map_err(|e| CorrelationError::Corrupt(e.to_string()))?;
    sqlx::query(
        r#"INSERT INTO smpp.pending_receipts
             (operator_id, smsc_id_key, stat, smsc_message_id, candidate_keys, receipt, received_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
           ON CONFLICT (operator_id, smsc_id_key, stat) DO NOTHING"#,
    )
    .bind(&p.operator_id)
    .bind(&p.key)
    .bind(&p.facts.stat)
    .bind(&p.facts.smsc_message_id)
    .bind(&p.candidate_keys)
    .bind(receipt)
    .bind(p.received_at)
    .bind(p.expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// A row of `smpp.pending_receipts` as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PendingRow {
    /// A kept receipt.
    Kept(PendingReceipt),
    /// A row whose receipt cannot be decoded; its key columns still say what it was.
    Unreadable {
        /// Operator id.
        operator_id: String,
        /// Its key.
        key: String,
        /// Its `stat` column.
        stat: String,
        /// Its SMSC id column.
        smsc_message_id: String,
        /// Why it cannot be read.
        error: String,
    },
}

impl PendingRow {
    fn key(&self) -> (&str, &str) {
        match self {
            Self::Kept(p) => (&p.key, &p.facts.stat),
            Self::Unreadable { key, stat, .. } => (key, stat),
        }
    }
}

/// The oldest `limit` kept receipts of the operator, to retry. A row that cannot be decoded
/// does not fail the others: it is returned as [`PendingRow::Unreadable`].
pub async fn pending_receipts(
    pool: &PgPool,
    operator_id: &str,
    limit: i64,
) -> Result<Vec<PendingRow>, CorrelationError> {
    let rows = sqlx::query(
        r#"SELECT smsc_id_key, stat, smsc_message_id, candidate_keys, receipt::text AS receipt,
                  received_at, expires_at
           FROM smpp.pending_receipts WHERE operator_id = $1
           ORDER BY received_at LIMIT $2"#,
    )
    .bind(operator_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let key: String = row.try_get("smsc_id_key")?;
            let stat: String = row.try_get("stat")?;
            let receipt: String = row.try_get("receipt")?;
            Ok(match serde_json::from_str::<ReceiptFacts>(&receipt) {
                Ok(facts) => PendingRow::Kept(PendingReceipt {
                    operator_id: operator_id.to_string(),
                    key,
                    candidate_keys: row.try_get("candidate_keys")?,
                    facts,
                    received_at: row.try_get("received_at")?,
                    expires_at: row.try_get("expires_at")?,
                }),
                Err(e) => PendingRow::Unreadable {
                    operator_id: operator_id.to_string(),
                    key,
                    stat,
                    smsc_message_id: row.try_get("smsc_message_id")?,
                    error: e.to_string(),
                },
            })
        })
        .collect()
}

/// How many receipts the operator keeps.
pub async fn pending_count(pool: &PgPool, operator_id: &str) -> Result<u64, CorrelationError> {
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM smpp.pending_receipts WHERE operator_id = $1")
            .bind(operator_id)
            .fetch_one(pool)
            .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Forgets kept receipts (after their events were published), in one statement.
pub async fn delete_pending(
    pool: &PgPool,
    operator_id: &str,
    rows: &[&PendingRow],
) -> Result<(), CorrelationError> {
    if rows.is_empty() {
        return Ok(());
    }
    let (keys, stats): (Vec<&str>, Vec<&str>) = rows.iter().map(|r| r.key()).unzip();
    sqlx::query(
        r#"DELETE FROM smpp.pending_receipts p
           USING UNNEST($2::text[], $3::text[]) AS u(k, st)
           WHERE p.operator_id = $1 AND p.smsc_id_key = u.k AND p.stat = u.st"#,
    )
    .bind(operator_id)
    .bind(keys)
    .bind(stats)
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
