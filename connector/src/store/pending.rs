//! Receipts kept until their submit is known (`smpp.pending_receipts`).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;
use sqlx::Row;

use crate::protocol::receipt::ReceiptFacts;
use crate::session::EndpointRole;

use super::*;

/// A receipt kept until its submit is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingReceipt {
    /// Operator id.
    pub operator_id: String,
    /// Main normalised key (part of the primary key with `stat`, the intermediate flag and
    /// the endpoint).
    pub key: String,
    /// The endpoint it came from, `None` when the endpoints share one id space (see
    /// [`ReceiptUpdate::endpoint`]).
    pub endpoint: Option<EndpointRole>,
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
             (operator_id, smsc_id_key, stat, smsc_message_id, candidate_keys, receipt, received_at,
              expires_at, intermediate, endpoint)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)
           ON CONFLICT (operator_id, smsc_id_key, stat, intermediate, endpoint) DO NOTHING"#,
    )
    .bind(&p.operator_id)
    .bind(&p.key)
    .bind(&p.facts.stat)
    .bind(&p.facts.smsc_message_id)
    .bind(&p.candidate_keys)
    .bind(receipt)
    .bind(p.received_at)
    .bind(p.expires_at)
    .bind(p.facts.intermediate)
    .bind(endpoint_column(p.endpoint))
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
        /// Its intermediate column.
        intermediate: bool,
        /// Its endpoint column (`''` for the shared id space).
        endpoint: String,
        /// Why it cannot be read.
        error: String,
    },
}

impl PendingRow {
    /// Its primary key columns after the operator: key, stat, intermediate, endpoint.
    fn key(&self) -> (&str, &str, bool, &str) {
        match self {
            Self::Kept(p) => (
                &p.key,
                &p.facts.stat,
                p.facts.intermediate,
                endpoint_column(p.endpoint),
            ),
            Self::Unreadable {
                key,
                stat,
                intermediate,
                endpoint,
                ..
            } => (key, stat, *intermediate, endpoint),
        }
    }
}

/// The `endpoint` column of a kept receipt: the role's name, `''` for the shared id space.
fn endpoint_column(endpoint: Option<EndpointRole>) -> &'static str {
    endpoint.map_or("", EndpointRole::as_str)
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
                  received_at, expires_at, intermediate, endpoint
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
            let endpoint: String = row.try_get("endpoint")?;
            let intermediate: bool = row.try_get("intermediate")?;
            let role = match (endpoint.as_str(), EndpointRole::from_name(&endpoint)) {
                ("", _) => Ok(None),
                (_, Some(role)) => Ok(Some(role)),
                (other, None) => Err(format!("unknown endpoint {other:?}")),
            };
            let facts = serde_json::from_str::<ReceiptFacts>(&receipt).map_err(|e| e.to_string());
            Ok(
                match role.and_then(|role| facts.map(|facts| (role, facts))) {
                    Ok((endpoint, facts)) => PendingRow::Kept(PendingReceipt {
                        operator_id: operator_id.to_string(),
                        key,
                        endpoint,
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
                        intermediate,
                        endpoint,
                        error: e,
                    },
                },
            )
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
    let (mut keys, mut stats, mut intermediates, mut endpoints) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (key, stat, intermediate, endpoint) in rows.iter().map(|r| r.key()) {
        keys.push(key);
        stats.push(stat);
        intermediates.push(intermediate);
        endpoints.push(endpoint);
    }
    sqlx::query(
        r#"DELETE FROM smpp.pending_receipts p
           USING UNNEST($2::text[], $3::text[], $4::bool[], $5::text[]) AS u(k, st, im, ep)
           WHERE p.operator_id = $1 AND p.smsc_id_key = u.k AND p.stat = u.st
             AND p.intermediate = u.im AND p.endpoint = u.ep"#,
    )
    .bind(operator_id)
    .bind(keys)
    .bind(stats)
    .bind(intermediates)
    .bind(endpoints)
    .execute(pool)
    .await?;
    Ok(())
}
