//! Retention: correlation rows older than `postgres.retentionDays` are deleted.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;

use tokio_util::sync::CancellationToken;

use super::*;

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

/// How often rows past `postgres.retentionDays` are deleted (the first time at start).
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Deletes an operator's correlation rows once they are older than its retention.
#[derive(Debug)]
pub struct Retention {
    /// The database.
    pub pool: PgPool,
    /// The operator.
    pub operator_id: String,
    /// Rows older than this many days are deleted.
    pub days: u32,
}

impl Retention {
    /// The purge of `postgres.retentionDays`; `None` when it is 0 (rows are kept).
    pub fn from_config(c: &crds::ConnectorConfig, pool: PgPool) -> Option<Self> {
        (c.postgres.retention_days > 0).then(|| Self {
            pool,
            operator_id: c.operator_id.clone(),
            days: c.postgres.retention_days,
        })
    }

    /// Purges at start and every [`RETENTION_INTERVAL`] until `shutdown`; `purged` is told
    /// each number of rows deleted.
    pub async fn run(self, purged: impl Fn(u64) + Send, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(RETENTION_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match purge_older_than(&self.pool, &self.operator_id, self.days, 5_000).await {
                Ok(0) => {}
                Ok(n) => {
                    purged(n);
                    tracing::info!(
                        rows = n,
                        days = self.days,
                        "correlation rows past their retention deleted"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "retention purge failed; retrying in an hour"),
            }
        }
    }
}
