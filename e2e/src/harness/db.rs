//! The correlation rows of the machine's PostgreSQL.

use super::env::postgres_url;

/// One row of `smpp.message_correlations`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CorrelationRow {
    /// Platform message id.
    pub message_id: String,
    /// Segment number from 1.
    pub segment_index: i16,
    /// Segments of the message.
    pub segment_count: i16,
    /// Operator's id.
    pub smsc_message_id: Option<String>,
    /// SUBMITTED or FAILED.
    pub submit_status: String,
    /// Last command_status.
    pub command_status: i32,
    /// Latest receipt status.
    pub receipt_status: Option<String>,
}

/// PostgreSQL access for assertions.
pub struct Db(pub sqlx::PgPool);

impl Db {
    /// Connects to the machine's PostgreSQL.
    pub async fn connect() -> Self {
        match sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&postgres_url())
            .await
        {
            Ok(p) => Self(p),
            Err(e) => panic!("PostgreSQL: {e}"),
        }
    }

    /// The rows of an operator, ordered by message and segment.
    pub async fn rows(&self, operator: &str) -> Vec<CorrelationRow> {
        sqlx::query_as::<_, CorrelationRow>(
            "SELECT message_id, segment_index, segment_count, smsc_message_id, submit_status, \
             command_status, receipt_status FROM smpp.message_correlations \
             WHERE operator_id = $1 ORDER BY message_id, segment_index",
        )
        .bind(operator)
        .fetch_all(&self.0)
        .await
        .unwrap_or_default()
    }
}
