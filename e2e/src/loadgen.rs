//! The load generator: publishes dispatch commands to `smpp.operator.{operatorId}` the way
//! sms-orchestrator does (JetStream, `Nats-Msg-Id` = `messageId`), follows `sms.dlr.inbound`
//! for the events of its own messages, and summarises what happened.
//!
//! Three ways to wait:
//! - [`Wait::Receipts`]: until every message has a final `messageStatus` (or was rejected);
//! - [`Wait::Acked`]: until the operator's durable consumer has nothing pending or unacknowledged
//!   (the submit path: every command submitted, correlated and acknowledged);
//! - [`Wait::Nothing`]: publish only.
//!
//! [`run_ceiling`] measures the bare ceiling of this machine: the same publishing, with a
//! consumer that only acknowledges.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, consumer::DeliverPolicy};
use async_nats::HeaderMap;
use futures::StreamExt;
use serde::Serialize;

use connector::pipeline::events::DlrEvent;
use connector::pipeline::jetstream as js_setup;

/// What the load generator does.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    /// NATS server URL.
    pub nats_url: String,
    /// Operator the commands are for.
    pub operator: String,
    /// Number of commands.
    pub count: usize,
    /// Publish rate in commands per second; 0 publishes as fast as JetStream acknowledges.
    pub rate: u32,
    /// Text of each message; `{i}` is replaced by the message's number.
    pub text: String,
    /// Ask the operator for delivery receipts.
    pub registered_delivery: bool,
    /// Prefix of the message ids (unique per run).
    pub run_id: String,
    /// How to wait for the outcome.
    pub wait: Wait,
    /// Give up waiting after this long.
    pub timeout: Duration,
    /// Dispatch stream name.
    pub dispatch_stream: String,
    /// Durable consumer of the connector (for [`Wait::Acked`]).
    pub durable: String,
    /// Subject of delivery events.
    pub dlr_subject: String,
    /// Publishes in flight (awaiting their JetStream acknowledgement) at once.
    pub in_flight: usize,
}

/// How the load generator waits once everything is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Every message reaches a final status on `sms.dlr.inbound`.
    Receipts,
    /// The connector's consumer has acknowledged everything.
    Acked,
    /// Do not wait.
    Nothing,
}

/// The outcome of a run.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Commands published (acknowledged by JetStream).
    pub sent: usize,
    /// Messages with at least one ACCEPTED event or receipt.
    pub accepted: usize,
    /// Messages by their final `messageStatus`.
    pub final_status: std::collections::BTreeMap<String, usize>,
    /// Events seen by `status`.
    pub events: std::collections::BTreeMap<String, usize>,
    /// Messages rejected by the connector.
    pub rejected: usize,
    /// Messages that did not finish before the timeout.
    pub unfinished: usize,
    /// Seconds spent publishing.
    pub publish_seconds: f64,
    /// Seconds from the first publish to the end of the wait.
    pub total_seconds: f64,
    /// Messages per second over `total_seconds`.
    pub throughput: f64,
    /// Publish-to-final-event latency percentiles in milliseconds (receipts mode).
    pub latency_ms: Percentiles,
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// Percentiles of `samples` (milliseconds); all zero when empty.
    pub fn of(samples: &mut [f64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[i.min(samples.len() - 1)]
        };
        Self {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: samples[samples.len() - 1],
        }
    }
}

/// A load generator failure.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// NATS could not be reached or refused an operation.
    #[error("nats: {0}")]
    Nats(String),
}

fn nats_err(e: impl std::fmt::Display) -> LoadError {
    LoadError::Nats(e.to_string())
}

/// The message id of message number `i` of a run.
pub fn message_id(run_id: &str, i: usize) -> String {
    format!("{run_id}-{i:08}")
}

/// The JSON dispatch command of message number `i`.
pub fn command_json(spec: &LoadSpec, i: usize) -> serde_json::Value {
    serde_json::json!({
        "messageId": message_id(&spec.run_id, i),
        "operatorId": spec.operator,
        "from": "LOADGEN",
        "to": format!("23324{:07}", i % 10_000_000),
        "text": spec.text.replace("{i}", &i.to_string()),
        "registeredDelivery": spec.registered_delivery,
        "metadata": {"run": spec.run_id},
    })
}

/// Publishes to JetStream with `Nats-Msg-Id` set, keeping at most `in_flight` acknowledgements
/// outstanding (pipelined, as sms-orchestrator does), and counts the acknowledged messages.
pub struct PipelinedPublisher {
    js: jetstream::Context,
    in_flight: usize,
    acks: futures::stream::FuturesUnordered<
        futures::future::BoxFuture<'static, Result<(), LoadError>>,
    >,
    acked: usize,
}

impl PipelinedPublisher {
    /// A publisher with at most `in_flight` (at least 1) acknowledgements outstanding.
    pub fn new(js: jetstream::Context, in_flight: usize) -> Self {
        Self {
            js,
            in_flight: in_flight.max(1),
            acks: futures::stream::FuturesUnordered::new(),
            acked: 0,
        }
    }

    /// Publishes `body` to `subject` with `Nats-Msg-Id: msg_id`; waits while the bound is reached.
    pub async fn publish(
        &mut self,
        subject: String,
        msg_id: &str,
        body: Vec<u8>,
    ) -> Result<(), LoadError> {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        let ack = self
            .js
            .publish_with_headers(subject, headers, body.into())
            .await
            .map_err(nats_err)?;
        self.acks.push(Box::pin(
            async move { ack.await.map(drop).map_err(nats_err) },
        ));
        while self.acks.len() >= self.in_flight {
            self.next_ack().await?;
        }
        Ok(())
    }

    async fn next_ack(&mut self) -> Result<(), LoadError> {
        if let Some(r) = self.acks.next().await {
            r?;
            self.acked += 1;
        }
        Ok(())
    }

    /// Waits for every outstanding acknowledgement; returns how many messages were acknowledged.
    pub async fn finish(mut self) -> Result<usize, LoadError> {
        while !self.acks.is_empty() {
            self.next_ack().await?;
        }
        Ok(self.acked)
    }
}

/// Tracks the events of one run's messages.
#[derive(Default)]
struct Tracker {
    published_at: HashMap<String, Instant>,
    finished: HashMap<String, String>,
    accepted: std::collections::HashSet<String>,
    events: std::collections::BTreeMap<String, usize>,
    latencies: Vec<f64>,
    rejected: usize,
}

impl Tracker {
    fn observe(&mut self, ev: &DlrEvent, now: Instant) {
        let Some(id) = ev.message_id.as_deref() else {
            return;
        };
        let Some(sent) = self.published_at.get(id).copied() else {
            return;
        };
        *self
            .events
            .entry(ev.status.as_str().to_string())
            .or_default() += 1;
        let status = ev.status.as_str();
        if status == "ACCEPTED" || ev.source == connector::pipeline::events::EventSource::Operator {
            self.accepted.insert(id.to_string());
        }
        if self.finished.contains_key(id) {
            return;
        }
        let rejected_by_connector = status == "REJECTED"
            && ev.source == connector::pipeline::events::EventSource::Connector;
        if rejected_by_connector {
            self.rejected += 1;
        }
        let final_status = match ev.message_status {
            Some(ms) if ms != connector::pipeline::events::MessageStatus::Pending => {
                Some(serde_json::to_value(ms).map_or_else(
                    |_| format!("{ms:?}"),
                    |v| v.as_str().unwrap_or_default().to_string(),
                ))
            }
            _ if rejected_by_connector => Some("REJECTED".to_string()),
            _ => None,
        };
        if let Some(fs) = final_status {
            self.latencies
                .push(now.duration_since(sent).as_secs_f64() * 1000.0);
            self.finished.insert(id.to_string(), fs);
        }
    }
}

/// Runs the load described by `spec` and returns its summary.
pub async fn run(spec: &LoadSpec) -> Result<Summary, LoadError> {
    let client = async_nats::ConnectOptions::new()
        .subscription_capacity(1 << 20)
        .connect(&spec.nats_url)
        .await
        .map_err(nats_err)?;
    let js = jetstream::new(client.clone());
    js_setup::ensure_dispatch_stream(&js, &spec.dispatch_stream)
        .await
        .map_err(nats_err)?;

    let mut events = None;
    if spec.wait == Wait::Receipts {
        let stream_name = js_setup::ensure_event_stream(
            &js,
            &spec.dlr_subject,
            js_setup::DLR_STREAM,
            js_setup::DLR_DUPLICATE_WINDOW,
        )
        .await
        .map_err(nats_err)?;
        let stream = js.get_stream(&stream_name).await.map_err(nats_err)?;
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: spec.dlr_subject.clone(),
                deliver_policy: DeliverPolicy::New,
                ..Default::default()
            })
            .await
            .map_err(nats_err)?;
        events = Some(consumer.messages().await.map_err(nats_err)?);
    }

    let mut tracker = Tracker::default();
    let subject = format!("smpp.operator.{}", spec.operator);
    let start = Instant::now();
    let mut publisher = PipelinedPublisher::new(js.clone(), spec.in_flight);
    for i in 0..spec.count {
        if spec.rate > 0 {
            let due = start + Duration::from_secs_f64(i as f64 / spec.rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let id = message_id(&spec.run_id, i);
        let body = serde_json::to_vec(&command_json(spec, i)).map_err(nats_err)?;
        tracker.published_at.insert(id.clone(), Instant::now());
        publisher.publish(subject.clone(), &id, body).await?;
    }
    let sent = publisher.finish().await?;
    let publish_seconds = start.elapsed().as_secs_f64();
    let deadline = tokio::time::Instant::now() + spec.timeout;

    match spec.wait {
        Wait::Receipts => {
            if let Some(mut msgs) = events {
                while tracker.finished.len() < spec.count {
                    let next = tokio::time::timeout_at(deadline, msgs.next()).await;
                    let Ok(Some(Ok(msg))) = next else { break };
                    if let Ok(ev) = serde_json::from_slice::<DlrEvent>(&msg.payload) {
                        tracker.observe(&ev, Instant::now());
                    }
                }
            }
        }
        Wait::Acked => {
            let stream = js
                .get_stream(&spec.dispatch_stream)
                .await
                .map_err(nats_err)?;
            loop {
                // One request per poll: the poll must cost the server little next to the
                // traffic it measures.
                let done = match stream.consumer_info(&spec.durable).await {
                    Ok(info) => info.num_pending == 0 && info.num_ack_pending == 0,
                    Err(_) => false,
                };
                if done || tokio::time::Instant::now() >= deadline {
                    if done {
                        for id in tracker.published_at.keys() {
                            tracker.finished.insert(id.clone(), "ACKED".into());
                        }
                    }
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Wait::Nothing => {}
    }

    let total_seconds = start.elapsed().as_secs_f64();
    let mut final_status = std::collections::BTreeMap::new();
    for s in tracker.finished.values() {
        *final_status.entry(s.clone()).or_default() += 1;
    }
    let finished = tracker.finished.len();
    let unfinished = if spec.wait == Wait::Nothing {
        0
    } else {
        spec.count.saturating_sub(finished)
    };
    Ok(Summary {
        sent,
        accepted: tracker.accepted.len(),
        final_status,
        events: tracker.events,
        rejected: tracker.rejected,
        unfinished,
        publish_seconds,
        total_seconds,
        throughput: if total_seconds > 0.0 {
            finished.max(if spec.wait == Wait::Nothing { sent } else { 0 }) as f64 / total_seconds
        } else {
            0.0
        },
        latency_ms: Percentiles::of(&mut tracker.latencies),
    })
}

/// The bare ceiling: publishes like [`run`] to a throw-away stream of its own and consumes with
/// a consumer that only acknowledges. Returns messages per second from the first publish to
/// the last acknowledgement.
pub async fn run_ceiling(spec: &LoadSpec) -> Result<f64, LoadError> {
    let client = async_nats::connect(&spec.nats_url)
        .await
        .map_err(nats_err)?;
    let js = jetstream::new(client.clone());
    let stream_name = format!(
        "LOADGEN_CEILING_{}",
        spec.run_id.replace(['.', '-', ':'], "_")
    );
    let subject = format!("loadgen.ceiling.{}", spec.run_id.replace(['.', ':'], "-"));
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: stream_name.clone(),
            subjects: vec![subject.clone()],
            storage: jetstream::stream::StorageType::File,
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            ..Default::default()
        })
        .await
        .map_err(nats_err)?;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("ceiling".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: 1024,
            ..Default::default()
        })
        .await
        .map_err(nats_err)?;
    let count = spec.count;
    let start = Instant::now();
    let consume = tokio::spawn(async move {
        let mut msgs = consumer.messages().await.map_err(nats_err)?;
        let mut n = 0usize;
        while n < count {
            match msgs.next().await {
                Some(Ok(m)) => {
                    m.ack().await.map_err(nats_err)?;
                    n += 1;
                }
                Some(Err(e)) => return Err(nats_err(e)),
                None => break,
            }
        }
        Ok::<usize, LoadError>(n)
    });
    let mut publisher = PipelinedPublisher::new(js.clone(), spec.in_flight);
    for i in 0..count {
        let id = message_id(&spec.run_id, i);
        let body = serde_json::to_vec(&command_json(spec, i)).map_err(nats_err)?;
        publisher.publish(subject.clone(), &id, body).await?;
    }
    publisher.finish().await?;
    let consumed = tokio::time::timeout(spec.timeout, consume)
        .await
        .map_err(|_| LoadError::Nats("ceiling consumer timed out".into()))?
        .map_err(nats_err)??;
    let secs = start.elapsed().as_secs_f64();
    let _ = js.delete_stream(&stream_name).await;
    Ok(consumed as f64 / secs.max(1e-9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranked_samples() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&mut v);
        assert_eq!(p.p50, 51.0);
        assert_eq!(p.p90, 90.0);
        assert_eq!(p.p99, 99.0);
        assert_eq!(p.max, 100.0);
        assert_eq!(Percentiles::of(&mut []), Percentiles::default());
    }

    #[test]
    fn commands_follow_the_dispatch_contract() {
        let spec = LoadSpec {
            nats_url: String::new(),
            operator: "op-x".into(),
            count: 1,
            rate: 0,
            text: "hello {i}".into(),
            registered_delivery: true,
            run_id: "run1".into(),
            wait: Wait::Nothing,
            timeout: Duration::from_secs(1),
            dispatch_stream: "SMPP_DISPATCH".into(),
            durable: "d".into(),
            dlr_subject: "sms.dlr.inbound".into(),
            in_flight: 1,
        };
        let json = command_json(&spec, 7);
        let payload = serde_json::to_vec(&json).unwrap_or_default();
        let cmd = connector::pipeline::command::parse_command("op-x", &payload)
            .map_err(|e| e.to_string());
        assert!(cmd.is_ok(), "{cmd:?}");
        assert_eq!(json["messageId"], "run1-00000007");
        assert_eq!(json["text"], "hello 7");
    }
}
