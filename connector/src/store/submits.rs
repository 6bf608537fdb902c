//! Submitted segments: their rows in `smpp.message_correlations`, and the prior submissions
//! of a command delivered again.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;
use sqlx::Row;

use crate::protocol::receipt::{submit_key, Segment};
use crate::session::EndpointRole;

use super::*;

/// How a segment's submit ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// submit_sm_resp ESME_ROK with the operator's message id.
    Submitted {
        /// The operator's id as in submit_sm_resp (stored with its
        /// [`submit_key`](crate::protocol::receipt::submit_key)).
        smsc_message_id: String,
        /// The endpoint that accepted it (`None` only for rows stored before endpoints were
        /// recorded): a receipt names it only from there unless `receipts.idScope` is shared.
        endpoint: Option<EndpointRole>,
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
    /// W3C `traceparent` of the command's span, when traced.
    pub trace_parent: Option<String>,
}

pub(super) async fn insert_submits(
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
    let mut trace = Vec::with_capacity(n);
    let (mut attempts, mut cref, mut at, mut meta, mut ep) = (
        Vec::with_capacity(n),
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
            SubmitOutcome::Submitted {
                smsc_message_id,
                endpoint,
            } => {
                smsc.push(Some(smsc_message_id.as_str()));
                ep.push(endpoint.map(EndpointRole::as_str));
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
                ep.push(None);
                key.push(None);
                status.push("FAILED");
                cs.push(*command_status as i32);
            }
            SubmitOutcome::Expired { command_status } => {
                smsc.push(None);
                ep.push(None);
                key.push(None);
                status.push("EXPIRED");
                cs.push(*command_status as i32);
            }
        }
        attempts.push(i32::try_from(r.attempts).unwrap_or(i32::MAX));
        cref.push(r.concat_ref.map(i32::from));
        at.push(r.submitted_at);
        meta.push(serde_json::to_string(&r.metadata).unwrap_or_else(|_| "{}".into()));
        trace.push(r.trace_parent.as_deref());
    }
    sqlx::query(
        r#"INSERT INTO smpp.message_correlations
             (operator_id, message_id, segment_index, segment_count, smsc_message_id, smsc_id_key,
              submit_status, command_status, attempts, concat_ref, submitted_at, metadata,
              smsc_endpoint, trace_parent)
           SELECT u.op, u.mid, u.idx, u.cnt, u.smsc, u.k, u.st, u.cs, u.att, u.cref, u.at,
                  u.meta::jsonb, u.ep, u.tp
           FROM UNNEST($1::text[], $2::text[], $3::int2[], $4::int2[], $5::text[], $6::text[],
                       $7::text[], $8::int4[], $9::int4[], $10::int4[], $11::timestamptz[],
                       $12::text[], $13::text[], $14::text[])
                AS u(op, mid, idx, cnt, smsc, k, st, cs, att, cref, at, meta, ep, tp)
           ON CONFLICT (operator_id, message_id, segment_index) DO UPDATE SET
             segment_count = EXCLUDED.segment_count,
             smsc_message_id = EXCLUDED.smsc_message_id,
             smsc_id_key = EXCLUDED.smsc_id_key,
             smsc_endpoint = EXCLUDED.smsc_endpoint,
             submit_status = EXCLUDED.submit_status,
             command_status = EXCLUDED.command_status,
             attempts = smpp.message_correlations.attempts + EXCLUDED.attempts,
             concat_ref = EXCLUDED.concat_ref,
             submitted_at = EXCLUDED.submitted_at,
             metadata = EXCLUDED.metadata,
             trace_parent = COALESCE(EXCLUDED.trace_parent, smpp.message_correlations.trace_parent),
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
    .bind(ep)
    .bind(trace)
    .execute(&mut *conn)
    .await?;
    Ok(())
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
                  command_status, concat_ref, submitted_at, smsc_endpoint
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
                endpoint: row
                    .try_get::<Option<String>, _>("smsc_endpoint")?
                    .as_deref()
                    .and_then(EndpointRole::from_name),
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
