//! Reconciliation of one fault run: every messageId published against the submits the
//! simulators recorded, the events stored in the `sms.dlr.inbound` stream (what a consumer
//! reads, after JetStream's de-duplication) and the correlation rows.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use serde_json::Value;

use crate::harness::is_final_event;
use crate::sim::SimHandle;

/// What was published and injected, to be accounted for.
#[derive(Debug, Default)]
pub struct Expected<'a> {
    /// Good commands acknowledged by JetStream.
    pub ids: &'a [String],
    /// Malformed commands: one REJECTED event each, never sent.
    pub bad_ids: &'a [String],
    /// SMSC ids of receipts for unknown messages: one uncorrelated event each.
    pub unknown_receipts: &'a [String],
}

/// What was observed.
#[derive(Debug, Default)]
pub struct Observed {
    /// Accepted submits per text (the text of every command is its messageId).
    pub submits: HashMap<String, usize>,
    /// This operator's events in the stream, in order.
    pub events: Vec<Value>,
    /// Submit statuses of the correlation rows per messageId.
    pub rows: HashMap<String, Vec<String>>,
    /// The SMSC message ids the simulators gave each text (to explain a lost receipt).
    pub smsc_ids: HashMap<String, Vec<String>>,
    /// What the simulators saw of each text's receipts ("ID@sim: written 1, acked 1, …").
    pub receipt_fates: HashMap<String, Vec<String>>,
}

/// The figures of one run.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Commands with no outcome at all (never sent, no REJECTED/EXPIRED event) or sent without
    /// a correlation row.
    pub lost_commands: Vec<String>,
    /// Commands sent whose final receipt event never came.
    pub lost_receipts: Vec<String>,
    /// Submits beyond the first of each message.
    pub duplicate_submits: usize,
    /// Events beyond the first of each (message, status) and repeated event ids.
    pub duplicate_events: usize,
    /// Commands settled by a connector REJECTED or EXPIRED event (not lost; shown).
    pub rejected: usize,
    /// Anything else wrong.
    pub problems: Vec<String>,
}

/// Accepted submits of the simulators among `ids`, per text (the text of every command is its
/// messageId), and the SMSC message ids they were given.
pub fn submits_of(sims: &[(&str, &SimHandle)], ids: &[String]) -> Submits {
    let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut out = Submits::default();
    for (name, sim) in sims {
        for s in sim.submits() {
            let text = String::from_utf8_lossy(s.message());
            if !wanted.contains(text.as_ref()) {
                continue;
            }
            *out.counts.entry(text.to_string()).or_default() += 1;
            let fate = match sim.receipt_fate(&s.message_id) {
                Some(f) => f.to_string(),
                None => "no receipt written".into(),
            };
            out.fates
                .entry(text.to_string())
                .or_default()
                .push(format!("{}@{name}: {fate}", s.message_id));
            out.smsc_ids
                .entry(text.into_owned())
                .or_default()
                .push(s.message_id.clone());
        }
    }
    out
}

/// The accepted submits of some texts, as the simulators recorded them.
#[derive(Debug, Default)]
pub struct Submits {
    /// Accepted submits per text.
    pub counts: HashMap<String, usize>,
    /// The SMSC ids given to each text.
    pub smsc_ids: HashMap<String, Vec<String>>,
    /// The fate of each of those receipts at its simulator.
    pub fates: HashMap<String, Vec<String>>,
}

/// The events of `operator` stored in `stream` after `start_seq`, up to its last sequence now.
pub async fn stream_events(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
    start_seq: u64,
    operator: &str,
) -> Result<Vec<Value>, String> {
    let end_seq = super::env::last_sequence(js, stream).await?;
    if end_seq <= start_seq {
        return Ok(Vec::new());
    }
    let consumer = js
        .get_stream(stream)
        .await
        .map_err(|e| format!("stream {stream}: {e}"))?
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: subject.to_string(),
            deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start_seq + 1,
            },
            ..Default::default()
        })
        .await
        .map_err(|e| format!("events consumer: {e}"))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| format!("events consumer: {e}"))?;
    let mut out = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), messages.next()).await;
        let Ok(Some(Ok(m))) = next else {
            break;
        };
        let seq = m.info().map(|i| i.stream_sequence).unwrap_or(end_seq);
        if let Ok(v) = serde_json::from_slice::<Value>(&m.payload) {
            if v["operatorId"] == operator {
                out.push(trim(v));
            }
        }
        if seq >= end_seq {
            break;
        }
    }
    Ok(out)
}

/// The fields the reconciliation reads (an event is ~1.5 KB as a full `Value`; a soak round
/// reads 100,000 of them).
const KEPT_FIELDS: [&str; 7] = [
    "messageId",
    "eventId",
    "status",
    "messageStatus",
    "source",
    "smscMessageId",
    "operatorId",
];

fn trim(mut v: Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(o) = v.as_object_mut() {
        for k in KEPT_FIELDS {
            if let Some(x) = o.remove(k) {
                out.insert(k.to_string(), x);
            }
        }
    }
    Value::Object(out)
}

/// Submit statuses of `operator`'s correlation rows of `ids`, per messageId.
pub async fn rows(
    pg_url: &str,
    operator: &str,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, String> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(pg_url)
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT message_id, submit_status FROM smpp.message_correlations \
         WHERE operator_id = $1 AND message_id = ANY($2)",
    )
    .bind(operator)
    .bind(ids)
    .fetch_all(&pool)
    .await
    .map_err(|e| format!("correlation rows: {e}"))?;
    pool.close().await;
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for (id, status) in rows {
        m.entry(id).or_default().push(status);
    }
    Ok(m)
}

/// Accounts for everything expected in what was observed.
pub fn reconcile(expected: &Expected<'_>, observed: &Observed) -> Outcome {
    let mut out = Outcome::default();
    let mut by_id: HashMap<&str, Vec<&Value>> = HashMap::new();
    let mut event_ids = HashSet::new();
    for e in &observed.events {
        if let Some(id) = e["messageId"].as_str() {
            by_id.entry(id).or_default().push(e);
        }
        if let Some(eid) = e["eventId"].as_str() {
            if !event_ids.insert(eid) {
                out.duplicate_events += 1;
                out.problems.push(format!("event id {eid} stored twice"));
            }
        }
    }
    let none = Vec::new();
    for id in expected.ids {
        let sent = observed.submits.get(id).copied().unwrap_or(0);
        let events = by_id.get(id.as_str()).unwrap_or(&none);
        let by_connector = events
            .iter()
            .any(|e| is_final_event(e) && e["source"] == "connector");
        let by_operator = events
            .iter()
            .any(|e| is_final_event(e) && e["source"] == "operator");
        let extra_submits = sent.saturating_sub(1);
        out.duplicate_submits += extra_submits;
        let extra_events = duplicate_statuses(events);
        out.duplicate_events += extra_events;
        if extra_events > extra_submits {
            out.problems.push(format!(
                "{id}: {extra_events} duplicate event(s) for {extra_submits} duplicate submit(s)"
            ));
        }
        let recorded = observed
            .rows
            .get(id)
            .is_some_and(|r| r.iter().any(|s| s == "SUBMITTED"));
        match (sent, by_connector) {
            (0, true) => out.rejected += 1,
            (0, false) => out.lost_commands.push(id.clone()),
            _ if !recorded => {
                out.lost_commands.push(id.clone());
                out.problems
                    .push(format!("{id}: sent {sent} time(s) but no SUBMITTED row"));
            }
            _ if !by_operator => {
                if out.lost_receipts.len() < 3 {
                    out.problems
                        .push(explain_lost_receipt(id, events, observed));
                }
                out.lost_receipts.push(id.clone());
            }
            _ => {}
        }
    }
    for id in expected.bad_ids {
        let events = by_id.get(id.as_str()).unwrap_or(&none);
        let rejected = events
            .iter()
            .filter(|e| e["status"] == "REJECTED" && e["source"] == "connector")
            .count();
        let sent = observed.submits.get(id).copied().unwrap_or(0);
        if rejected != 1 || sent != 0 || events.len() != 1 {
            out.problems.push(format!(
                "malformed {id}: {rejected} REJECTED event(s), {} event(s), sent {sent} time(s)",
                events.len()
            ));
        }
        if rejected == 0 {
            out.lost_commands.push(id.clone());
        }
    }
    for smsc_id in expected.unknown_receipts {
        let n = observed
            .events
            .iter()
            .filter(|e| e["messageId"].is_null() && e["smscMessageId"] == smsc_id.as_str())
            .count();
        if n == 0 {
            out.lost_receipts.push(format!("unknown receipt {smsc_id}"));
        }
        out.duplicate_events += n.saturating_sub(1);
    }
    out
}

/// What was seen of a message whose receipt is missing: its events, and whether the receipts
/// for its SMSC ids came out uncorrelated.
fn explain_lost_receipt(id: &str, events: &[&Value], observed: &Observed) -> String {
    let seen: Vec<String> = events
        .iter()
        .map(|e| format!("{}/{}", e["status"], e["source"]))
        .collect();
    let smsc = observed.smsc_ids.get(id).cloned().unwrap_or_default();
    let fates = observed.receipt_fates.get(id).cloned().unwrap_or_default();
    let uncorrelated: Vec<String> = observed
        .events
        .iter()
        .filter(|e| {
            e["messageId"].is_null()
                && e["smscMessageId"]
                    .as_str()
                    .is_some_and(|s| smsc.iter().any(|x| x == s))
        })
        .map(|e| format!("{}", e["status"]))
        .collect();
    format!(
        "{id}: no final receipt event; its events [{}]; SMSC ids {smsc:?}; uncorrelated events \
         for those ids [{}]; at the simulators [{}]",
        seen.join(", "),
        uncorrelated.join(", "),
        fates.join("; ")
    )
}

/// Events beyond the first of each status of one message.
fn duplicate_statuses(events: &[&Value]) -> usize {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for e in events {
        *seen.entry(e["status"].as_str().unwrap_or("")).or_default() += 1;
    }
    seen.values().map(|n| n.saturating_sub(1)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(id: &str, eid: &str, status: &str, source: &str) -> Value {
        let ms = if status == "ACCEPTED" {
            "PENDING"
        } else {
            status
        };
        json!({"messageId": id, "eventId": eid, "status": status, "messageStatus": ms,
               "source": source, "operatorId": "op"})
    }

    #[test]
    fn lost_duplicated_and_rejected_are_told_apart() {
        let ids: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let observed = Observed {
            receipt_fates: HashMap::new(),
            submits: HashMap::from([("a".into(), 1), ("b".into(), 2), ("c".into(), 1)]),
            events: vec![
                ev("a", "1", "DELIVERED", "operator"),
                ev("b", "2", "DELIVERED", "operator"),
                ev("b", "3", "DELIVERED", "operator"),
                ev("d", "4", "REJECTED", "connector"),
            ],
            rows: HashMap::from([
                ("a".into(), vec!["SUBMITTED".into()]),
                ("b".into(), vec!["SUBMITTED".into()]),
                ("c".into(), vec!["SUBMITTED".into()]),
            ]),
            ..Observed::default()
        };
        let o = reconcile(
            &Expected {
                ids: &ids,
                ..Expected::default()
            },
            &observed,
        );
        assert_eq!(o.lost_commands, ["e"]);
        assert_eq!(o.lost_receipts, ["c"]);
        assert_eq!(o.duplicate_submits, 1);
        assert_eq!(o.duplicate_events, 1);
        assert_eq!(o.rejected, 1);
        // The lost receipt is explained (its events, its SMSC ids).
        assert_eq!(o.problems.len(), 1, "{:?}", o.problems);
        assert!(o.problems[0].starts_with("c: no final receipt event"));
    }

    #[test]
    fn a_duplicate_event_without_a_duplicate_submit_is_a_problem() {
        let ids = vec!["a".to_string()];
        let observed = Observed {
            receipt_fates: HashMap::new(),
            submits: HashMap::from([("a".into(), 1)]),
            events: vec![
                ev("a", "1", "DELIVERED", "operator"),
                ev("a", "1", "DELIVERED", "operator"),
            ],
            rows: HashMap::from([("a".into(), vec!["SUBMITTED".into()])]),
            ..Observed::default()
        };
        let o = reconcile(
            &Expected {
                ids: &ids,
                ..Expected::default()
            },
            &observed,
        );
        assert_eq!(o.duplicate_events, 2);
        assert_eq!(o.problems.len(), 2, "{:?}", o.problems);
    }

    #[test]
    fn malformed_commands_need_exactly_one_rejection() {
        let bad = vec!["x".to_string(), "y".to_string()];
        let observed = Observed {
            events: vec![
                ev("x", "1", "REJECTED", "connector"),
                ev("y", "2", "REJECTED", "connector"),
                ev("y", "3", "REJECTED", "connector"),
            ],
            ..Observed::default()
        };
        let o = reconcile(
            &Expected {
                bad_ids: &bad,
                ..Expected::default()
            },
            &observed,
        );
        assert_eq!(o.problems.len(), 1, "{:?}", o.problems);
        assert!(o.problems[0].contains("malformed y"));
    }
}
