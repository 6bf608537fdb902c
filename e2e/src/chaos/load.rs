//! The steady-rate load of one fault run and the live view of its events.
//!
//! [`Publisher`] publishes commands at a fixed rate to JetStream, retrying each one (same
//! `Nats-Msg-Id`, so JetStream keeps one copy) until it is acknowledged. [`Tracker`] follows
//! `sms.dlr.inbound` on a core subscription to see when each message got its final event; the
//! reconciliation reads the stream itself (what a consumer sees, after de-duplication).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use serde_json::Value;

use crate::harness::is_final_event;

/// How long one command is retried before the publisher gives up on it.
const PUBLISH_DEADLINE: Duration = Duration::from_secs(90);
/// Acknowledgements outstanding at most.
const IN_FLIGHT: usize = 256;

/// One command to publish: its `Nats-Msg-Id` and body.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// `Nats-Msg-Id` (the `messageId` when it has one).
    pub msg_id: String,
    /// The JSON body (possibly malformed on purpose).
    pub body: Vec<u8>,
}

/// What the publisher did.
#[derive(Debug, Default, Clone)]
pub struct Published {
    /// Acknowledged by JetStream, in order.
    pub acked: Vec<String>,
    /// Given up after [`PUBLISH_DEADLINE`] (NATS never came back).
    pub failed: Vec<String>,
}

/// Publishes `commands` to `subject` at `rate` per second; `progress` counts the commands handed
/// to JetStream so far (the fault schedule watches it), and `total` too if given (the soak's
/// count over every round).
pub async fn publish_at_rate(
    js: jetstream::Context,
    subject: String,
    commands: Vec<Outgoing>,
    rate: u32,
    progress: Arc<std::sync::atomic::AtomicUsize>,
    total: Option<Arc<std::sync::atomic::AtomicUsize>>,
) -> Published {
    let rate = f64::from(rate.max(1));
    let start = tokio::time::Instant::now();
    let mut pending = FuturesUnordered::new();
    let mut out = Published::default();
    for (i, c) in commands.into_iter().enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        while pending.len() >= IN_FLIGHT {
            if let Some((id, ok)) = pending.next().await {
                record(&mut out, id, ok);
            }
        }
        pending.push(publish_one(js.clone(), subject.clone(), c));
        progress.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = &total {
            t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    while let Some((id, ok)) = pending.next().await {
        record(&mut out, id, ok);
    }
    out
}

fn record(out: &mut Published, id: String, ok: bool) {
    if ok {
        out.acked.push(id);
    } else {
        out.failed.push(id);
    }
}

async fn publish_one(js: jetstream::Context, subject: String, c: Outgoing) -> (String, bool) {
    let deadline = Instant::now() + PUBLISH_DEADLINE;
    loop {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", c.msg_id.as_str());
        let sent = js
            .publish_with_headers(subject.clone(), headers, c.body.clone().into())
            .await;
        if let Ok(ack) = sent {
            if ack.await.is_ok() {
                return (c.msg_id, true);
            }
        }
        if Instant::now() >= deadline {
            return (c.msg_id, false);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The live view of one operator's events.
#[derive(Debug, Default)]
pub struct Tracker {
    /// When each message first had a final event.
    pub final_at: HashMap<String, Instant>,
    /// Uncorrelated events (`messageId: null`) seen.
    pub uncorrelated: usize,
}

/// A shared [`Tracker`] fed by a background task, which ends when the last clone is dropped
/// (the soak follows each round with a new one).
#[derive(Clone, Debug, Default)]
pub struct LiveEvents {
    tracker: Arc<Mutex<Tracker>>,
    _follower: Arc<Follower>,
}

/// Aborts the following task on drop.
#[derive(Debug, Default)]
pub struct Follower(Option<tokio::task::JoinHandle<()>>);

impl Drop for Follower {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.abort();
        }
    }
}

impl LiveEvents {
    /// Subscribes to `subject` and follows the events of `operator` until the client closes.
    pub async fn follow(
        client: &async_nats::Client,
        subject: &str,
        operator: &str,
    ) -> Result<Self, String> {
        let mut sub = client
            .subscribe(subject.to_string())
            .await
            .map_err(|e| format!("subscribe {subject}: {e}"))?;
        let inner = Arc::new(Mutex::new(Tracker::default()));
        let tracker = inner.clone();
        let operator = operator.to_string();
        let task = tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                let Ok(e) = serde_json::from_slice::<Value>(&m.payload) else {
                    continue;
                };
                if e["operatorId"] != operator.as_str() {
                    continue;
                }
                let Ok(mut t) = inner.lock() else {
                    return;
                };
                match e["messageId"].as_str() {
                    Some(id) if is_final_event(&e) => {
                        t.final_at
                            .entry(id.to_string())
                            .or_insert_with(Instant::now);
                    }
                    Some(_) => {}
                    None => t.uncorrelated += 1,
                }
            }
        });
        let _ = client.flush().await;
        Ok(Self {
            tracker,
            _follower: Arc::new(Follower(Some(task))),
        })
    }

    /// Messages with a final event so far.
    pub fn finals(&self) -> usize {
        self.tracker.lock().map(|t| t.final_at.len()).unwrap_or(0)
    }

    /// Uncorrelated events so far.
    pub fn uncorrelated(&self) -> usize {
        self.tracker.lock().map(|t| t.uncorrelated).unwrap_or(0)
    }

    /// Whether every id has a final event.
    pub fn all_final(&self, ids: &[String]) -> bool {
        self.tracker
            .lock()
            .map(|t| ids.iter().all(|id| t.final_at.contains_key(id)))
            .unwrap_or(false)
    }

    /// When each id got its final event (absent: not yet).
    pub fn final_times(&self, ids: &[String]) -> Vec<Option<Instant>> {
        self.tracker
            .lock()
            .map(|t| ids.iter().map(|id| t.final_at.get(id).copied()).collect())
            .unwrap_or_default()
    }
}
