//! The write probe: whether PostgreSQL takes writes (`smpp.connector_heartbeats`).

use std::time::Duration;

use sqlx::postgres::PgPool;

use super::*;

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
