//! Receipts kept until their submit is known (`smpp.pending_receipts`).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;
use sqlx::Row;

use crate::protocol::receipt::ReceiptFacts;

use super::*;

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
