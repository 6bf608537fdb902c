//! The group-commit writer: one task batches submits and receipts into transactions and
//! answers each caller after COMMIT.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::*;

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

/// Counters of the writer (for the metrics and tests).
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

    /// The writer's counters (exported as `smpp_correlation_commits_total` and
    /// `smpp_correlation_commit_failures_total`).
    pub fn stats(&self) -> Arc<WriterStats> {
        self.stats.clone()
    }

    /// Queues a segment's submit outcome; the returned future resolves after COMMIT (tests).
    #[cfg(test)]
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
