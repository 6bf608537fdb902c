//! Receipts applied to their segments: the rows locked, the merge rule applied
//! ([`crate::protocol::receipt::merge`]), the message status computed.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::protocol::receipt::{
    aggregate_status, merge, parse_status, DeliveryStatus, HeldReceipt, IdForm, Merge, NewReceipt,
    ReceiptFacts, ReceiptLookup, Segment,
};

use crate::session::EndpointRole;

use super::*;

/// A receipt to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptUpdate {
    /// Operator id.
    pub operator_id: String,
    /// The keys to look the receipt's id up with: only a match on `lookup.key` attributes it.
    pub lookup: ReceiptLookup,
    /// The endpoint whose submits the receipt can name: the one it arrived from, or `None`
    /// when primary and backup share one id space (`receipts.idScope: shared`). Rows stored
    /// before endpoints were recorded match from either.
    pub endpoint: Option<EndpointRole>,
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

/// A matched segment, as read before the update.
struct Hit {
    operator_id: String,
    message_id: String,
    index: u16,
    count: u16,
    smsc_message_id: Option<String>,
    submitted_at: DateTime<Utc>,
    metadata: BTreeMap<String, String>,
    trace_parent: Option<String>,
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

/// Finds each receipt's segment: among the rows of its attributing key submitted to its
/// endpoint (any endpoint when the id space is shared) the newest submit (an SMSC that reuses
/// ids names its latest message); rows of the unconfirmed keys only report which forms would
/// have matched.
async fn find_segments(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    receipts: &[&ReceiptUpdate],
) -> Result<(Vec<Option<Hit>>, Vec<Vec<IdForm>>), CorrelationError> {
    let (mut ord, mut ops, mut keys, mut eps) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, r) in receipts.iter().enumerate() {
        for k in r.lookup.all_keys() {
            ord.push(i32::try_from(i).unwrap_or(i32::MAX));
            ops.push(r.operator_id.as_str());
            keys.push(k.as_str());
            eps.push(r.endpoint.map(EndpointRole::as_str));
        }
    }
    let found = sqlx::query(
        r#"SELECT u.ord, u.k, c.operator_id, c.message_id, c.segment_index, c.segment_count,
                  c.smsc_message_id, c.submitted_at, c.metadata::text AS metadata,
                  c.trace_parent
           FROM UNNEST($1::int4[], $2::text[], $3::text[], $4::text[]) AS u(ord, op, k, ep)
           JOIN smpp.message_correlations c ON c.operator_id = u.op AND c.smsc_id_key = u.k
            AND (u.ep IS NULL OR c.smsc_endpoint IS NULL OR c.smsc_endpoint = u.ep)"#,
    )
    .bind(&ord)
    .bind(&ops)
    .bind(&keys)
    .bind(&eps)
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
            trace_parent: row.try_get("trace_parent")?,
        });
    }
    Ok((hits, unconfirmed))
}

pub(super) async fn apply_receipts(
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
                trace_parent: h.trace_parent.clone(),
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
