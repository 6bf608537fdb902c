//! JetStream plumbing: the streams (created with the documented settings when missing), the
//! durable per-operator pull consumer, a credit-based puller that never pulls while the session
//! is unbound, and the acknowledgement helpers.
//!
//! Streams:
//! - `SMPP_DISPATCH` (name from `nats.dispatchStream`): subjects `smpp.operator.>`, file storage,
//!   work-queue retention (contract §1);
//! - `SMS_DLR`: subject `nats.dlrSubject` (`sms.dlr.inbound`), file storage, limits retention,
//!   7 days, 5-minute duplicate window — created only when no stream captures the subject;
//! - `OPERATOR_HEALTH`: subject `nats.healthSubject` (`operator.health`), file storage, 7 days —
//!   likewise only when missing.

use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer},
    stream, AckKind, Message,
};
use crds::ConnectorConfig;
use tokio::sync::watch;

/// Subjects of the dispatch stream.
pub const DISPATCH_SUBJECTS: &str = "smpp.operator.>";
/// Name of the stream created for DLR events when none captures the subject.
pub const DLR_STREAM: &str = "SMS_DLR";
/// Name of the stream created for health events when none captures the subject.
pub const HEALTH_STREAM: &str = "OPERATOR_HEALTH";

/// How long JetStream remembers a health event id for de-duplication.
pub const HEALTH_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Duplicate window of a created DLR stream: a receipt retried by the SMSC within it
/// publishes no second event.
pub const DLR_DUPLICATE_WINDOW: Duration = Duration::from_secs(300);
/// The duplicate window of a dispatch stream the connector creates (JetStream's default is
/// 2 minutes). The connector does not rely on it: every command is checked against
/// PostgreSQL before it is sent.
pub const DISPATCH_DUPLICATE_WINDOW: Duration = Duration::from_secs(600);
/// Retention of the created event streams.
pub const EVENT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A JetStream setup step failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Creating or reading a stream failed.
    #[error("stream {stream}: {source}")]
    Stream {
        /// Stream name or subject.
        stream: String,
        /// The cause.
        source: async_nats::Error,
    },
    /// Creating the consumer failed.
    #[error("consumer {consumer} on {stream}: {source}")]
    Consumer {
        /// Consumer name.
        consumer: String,
        /// Stream name.
        stream: String,
        /// The cause.
        source: async_nats::Error,
    },
}

fn stream_err(stream: &str, e: impl Into<async_nats::Error>) -> SetupError {
    SetupError::Stream {
        stream: stream.to_string(),
        source: e.into(),
    }
}

/// The settings of the dispatch stream as contract §1 gives them.
pub fn dispatch_stream_config(name: &str) -> stream::Config {
    stream::Config {
        name: name.to_string(),
        subjects: vec![DISPATCH_SUBJECTS.to_string()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::WorkQueue,
        duplicate_window: DISPATCH_DUPLICATE_WINDOW,
        ..Default::default()
    }
}

/// Returns the dispatch stream, creating it with [`dispatch_stream_config`] when missing. An
/// existing stream with other settings is used as it is, with a warning.
pub async fn ensure_dispatch_stream(
    js: &jetstream::Context,
    name: &str,
) -> Result<stream::Stream, SetupError> {
    let mut stream = js
        .get_or_create_stream(dispatch_stream_config(name))
        .await
        .map_err(|e| stream_err(name, e))?;
    let info = stream.info().await.map_err(|e| stream_err(name, e))?;
    let c = &info.config;
    if c.retention != stream::RetentionPolicy::WorkQueue
        || !c.subjects.iter().any(|s| s == DISPATCH_SUBJECTS)
    {
        tracing::warn!(
            stream = name,
            retention = ?c.retention,
            subjects = ?c.subjects,
            "dispatch stream exists with settings other than the contract's"
        );
    }
    Ok(stream)
}

/// Makes sure some stream captures `subject`: returns its name, or creates `default_name` with
/// file storage, limits retention, [`EVENT_MAX_AGE`] and the given duplicate window.
pub async fn ensure_event_stream(
    js: &jetstream::Context,
    subject: &str,
    default_name: &str,
    duplicate_window: Duration,
) -> Result<String, SetupError> {
    use async_nats::jetstream::context::GetStreamByNameErrorKind;
    match js.stream_by_subject(subject).await {
        Ok(name) => Ok(name),
        Err(e) if e.kind() == GetStreamByNameErrorKind::NotFound => {
            js.get_or_create_stream(stream::Config {
                name: default_name.to_string(),
                subjects: vec![subject.to_string()],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                max_age: EVENT_MAX_AGE,
                duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(|e| stream_err(default_name, e))?;
            Ok(default_name.to_string())
        }
        Err(e) => Err(stream_err(subject, e)),
    }
}

/// The durable consumer's settings: filtered to the operator's subject, explicit acks,
/// bounded `max_ack_pending`, `ack_wait` from the configuration.
pub fn consumer_config(config: &ConnectorConfig) -> pull::Config {
    pull::Config {
        durable_name: Some(config.durable_name()),
        filter_subject: config.dispatch_subject(),
        ack_policy: AckPolicy::Explicit,
        deliver_policy: DeliverPolicy::All,
        ack_wait: Duration::from_secs(config.nats.ack_wait_seconds.max(1)),
        max_ack_pending: config.nats.max_ack_pending.max(1),
        max_deliver: -1,
        ..Default::default()
    }
}

/// Creates (or updates to [`consumer_config`]) the operator's durable pull consumer.
pub async fn dispatch_consumer(
    stream: &stream::Stream,
    config: &ConnectorConfig,
) -> Result<PullConsumer, SetupError> {
    let cfg = consumer_config(config);
    stream
        .create_consumer(cfg)
        .await
        .map_err(|e| SetupError::Consumer {
            consumer: config.durable_name(),
            stream: config.nats.dispatch_stream.clone(),
            source: e.into(),
        })
}

/// Sets up everything the connector uses in JetStream: the dispatch stream, the event streams
/// (`sms.dlr.inbound`, `operator.health`) and the operator's durable pull consumer.
pub async fn set_up(
    jet: &async_nats::jetstream::Context,
    config: &ConnectorConfig,
) -> Result<PullConsumer, SetupError> {
    let dispatch = ensure_dispatch_stream(jet, &config.nats.dispatch_stream).await?;
    ensure_event_stream(
        jet,
        &config.nats.dlr_subject,
        DLR_STREAM,
        DLR_DUPLICATE_WINDOW,
    )
    .await?;
    ensure_event_stream(
        jet,
        &config.nats.health_subject,
        HEALTH_STREAM,
        HEALTH_DUPLICATE_WINDOW,
    )
    .await?;
    dispatch_consumer(&dispatch, config).await
}

/// A pull failed (NATS unreachable, consumer deleted, ...).
#[derive(Debug, thiserror::Error)]
#[error("pull from the dispatch consumer failed: {0}")]
pub struct PullError(#[source] pub async_nats::Error);

/// Pulls dispatch commands on credit: only while the session is bound (a `watch` that the
/// session engine sets), and never more than the credit the caller grants (free window, TPS).
pub struct DispatchPuller {
    consumer: PullConsumer,
    bound: watch::Receiver<bool>,
    expires: Duration,
}

impl DispatchPuller {
    /// A puller; each pull request lasts at most `expires` (a bound on the latency of noticing
    /// new credit, and on how long a pull outlives an unbind).
    pub fn new(consumer: PullConsumer, bound: watch::Receiver<bool>, expires: Duration) -> Self {
        Self {
            consumer,
            bound,
            expires,
        }
    }

    /// Waits until the session is bound. Returns `false` when the sender is gone (shutdown).
    pub async fn wait_bound(&mut self) -> bool {
        self.bound.has_changed().is_ok() && self.bound.wait_for(|b| *b).await.is_ok()
    }

    /// Whether the session is bound now.
    pub fn is_bound(&self) -> bool {
        *self.bound.borrow()
    }

    /// Waits until bound, then asks for at most `credit` messages. The returned stream yields
    /// each message as soon as it arrives and ends after `credit` messages or `expires`.
    /// Returns `Ok(None)` when the bound-state sender is gone (shutdown) or `credit` is 0.
    pub async fn pull(&mut self, credit: usize) -> Result<Option<pull::Batch>, PullError> {
        if credit == 0 || !self.wait_bound().await {
            return Ok(None);
        }
        self.consumer
            .batch()
            .max_messages(credit)
            .expires(self.expires)
            .messages()
            .await
            .map(Some)
            .map_err(|e| PullError(e.into()))
    }

    /// The underlying consumer.
    pub fn consumer(&self) -> &PullConsumer {
        &self.consumer
    }
}

/// An acknowledgement could not be sent.
#[derive(Debug, thiserror::Error)]
#[error("acknowledgement ({kind}) failed: {source}")]
pub struct AckError {
    /// Which acknowledgement.
    pub kind: &'static str,
    /// The cause.
    #[source]
    pub source: async_nats::Error,
}

async fn send(msg: &Message, kind: AckKind, name: &'static str) -> Result<(), AckError> {
    msg.ack_with(kind)
        .await
        .map_err(|source| AckError { kind: name, source })
}

/// Done with the message: it leaves the work queue.
pub async fn ack(msg: &Message) -> Result<(), AckError> {
    send(msg, AckKind::Ack, "ack").await
}

/// Done with the message, and wait until the server confirmed it (for the last acks of a
/// graceful shutdown).
pub async fn ack_confirmed(msg: &Message) -> Result<(), AckError> {
    msg.double_ack().await.map_err(|source| AckError {
        kind: "ack",
        source,
    })
}

/// Not now: redeliver after `delay`.
pub async fn nak_after(msg: &Message, delay: Duration) -> Result<(), AckError> {
    send(msg, AckKind::Nak(Some(delay)), "nak").await
}

/// Still working on it (waiting for throttle permits or a submit response): restarts the
/// ack-wait timer.
pub async fn in_progress(msg: &Message) -> Result<(), AckError> {
    send(msg, AckKind::Progress, "in-progress").await
}

/// Runs `work` while telling JetStream every `every` that `msg` is still being worked on, so
/// that it is not redelivered however long the work waits (for the window, a TPS permit, a
/// commit or a publish).
pub async fn with_progress<F: std::future::Future>(
    msg: &Message,
    every: Duration,
    work: F,
) -> F::Output {
    tokio::pin!(work);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => {
                if let Err(e) = in_progress(msg).await {
                    tracing::debug!(error = %e, "in-progress acknowledgement failed");
                }
            }
        }
    }
}

/// Never redeliver (an invalid command, after its REJECTED event was published).
pub async fn terminate(msg: &Message) -> Result<(), AckError> {
    send(msg, AckKind::Term, "term").await
}

/// How many times the message was delivered (1 on the first delivery); 1 when unknown.
pub fn delivery_count(msg: &Message) -> i64 {
    msg.info().map(|i| i.delivered).unwrap_or(1)
}

/// The message's stream sequence, used to name the REJECTED event of a command with no
/// usable messageId; 0 when unknown.
pub fn stream_sequence(msg: &Message) -> u64 {
    msg.info().map(|i| i.stream_sequence).unwrap_or(0)
}

#[cfg(test)]
mod tests;
