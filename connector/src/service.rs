//! The connector service: NATS JetStream in, SMPP out, PostgreSQL correlation, Redis TPS,
//! receipts and health back to NATS, HTTP probes and metrics. [`run`] wires the modules and
//! runs until its shutdown future resolves (SIGTERM in the binary).
//!
//! Per dispatch command: pulled on credit while bound ([`crate::pipeline::jetstream::DispatchPuller`]),
//! validated and de-duplicated ([`crate::pipeline::intake`]), built into PDUs ([`crate::pipeline::pdus`]),
//! each segment sent with a window slot and a TPS permit, the outcomes committed
//! ([`crate::store`]), the connector events published, and only then acknowledged.
//! Retryable failures (no session, connection lost, no response) nak the command with
//! backoff; its committed segments are not sent again. A connection lost after a submit was
//! written and before its response is the one window for a duplicate: counted in
//! `smpp_duplicate_window_total`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::Message;
use chrono::Utc;
use crds::ConnectorConfig;
use futures::StreamExt;
use tokio::sync::{watch, Mutex, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::http::AppState;
use crate::pipeline::credentials::{CredentialsStore, RetryPolicy};
use crate::pipeline::events::{
    DeliveryStatus, DlrEvent, EventPublisher, OperatorHealth, ReceiptFacts, Segment,
};
use crate::pipeline::intake::{Accepted, Intake};
use crate::pipeline::jetstream::{self as js, DispatchPuller};
use crate::pipeline::metrics::Metrics;
use crate::pipeline::pdus::{self, OutboundMessage};
use crate::pipeline::receipt_flow::{IdForms, ReceiptAnswer, ReceiptEvents};
use crate::pipeline::throttle::{Permits, Throttle, ThrottleSettings};
use crate::protocol::codec::{CommandStatus, DeliverSm};
use crate::protocol::receipt::{parse_receipt, ReceiptError, ReceiptInput};
use crate::session::{
    EngineConfig, Inbound, SessionEngine, SessionHandle, SubmitError, SubmitOutcome,
};
use crate::store::{
    self, CorrelationWriter, PriorSubmission, SegmentSubmit, SubmitOutcome as RowOutcome,
};

/// Starting the service failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// NATS.
    #[error("NATS: {0}")]
    Nats(String),
    /// JetStream streams or consumer.
    #[error(transparent)]
    JetStream(#[from] js::SetupError),
    /// PostgreSQL.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// Redis URL.
    #[error("Redis: {0}")]
    Redis(String),
    /// Credentials source.
    #[error("credentials: {0}")]
    Credentials(String),
    /// HTTP listener.
    #[error("HTTP: {0}")]
    Http(String),
}

/// The name of this connector instance in health events (the pod name in Kubernetes).
pub fn instance_name() -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "smpp-connector".into())
}

/// TPS permits shared by the segment senders: fetched from the [`Throttle`] in batches sized
/// by the number of waiting senders, used at once, dropped when stale.
struct PermitPool {
    throttle: Arc<Throttle>,
    held: Mutex<Option<Permits>>,
    waiting: std::sync::atomic::AtomicU32,
}

impl PermitPool {
    fn new(throttle: Arc<Throttle>) -> Self {
        Self {
            throttle,
            held: Mutex::new(None),
            waiting: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// One permit, to use immediately.
    async fn take(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        self.waiting.fetch_add(1, SeqCst);
        let mut held = self.held.lock().await;
        if let Some(p) = held.as_mut() {
            if p.count > 0 && Instant::now() < p.valid_until {
                p.count -= 1;
                self.waiting.fetch_sub(1, SeqCst);
                return;
            }
        }
        let want = self.waiting.load(SeqCst).max(1);
        let mut p = self.throttle.acquire(want).await;
        p.count -= 1;
        *held = Some(p);
        self.waiting.fetch_sub(1, SeqCst);
    }
}

/// What the message tasks share.
struct Pipeline {
    config: ConnectorConfig,
    session: SessionHandle,
    writer: CorrelationWriter,
    publisher: EventPublisher,
    metrics: Arc<Metrics>,
    permits: PermitPool,
    segment_slots: Arc<Semaphore>,
    /// The receipt id form; notes the submit ids.
    id_forms: Arc<IdForms>,
    /// A commit failed and neither a commit nor the write probe succeeded since: send and
    /// pull nothing.
    db_down: watch::Sender<bool>,
    /// The service is stopping: no new segment is sent.
    stopping: watch::Receiver<bool>,
}

/// How committing a command's rows ended.
enum Commit {
    Done,
    /// The service stops while PostgreSQL fails: the command is redelivered.
    Stopped,
    /// PostgreSQL refuses the rows themselves: retrying cannot help.
    Refused(store::CorrelationError),
}

/// How one segment's submit ended.
enum SegmentResult {
    Sent(Segment, SubmitOutcome),
    Failed(Segment, SubmitError),
}

impl Pipeline {
    fn op(&self) -> &str {
        &self.config.operator_id
    }

    /// Sends one segment. `published` is the command's JetStream publish time, for
    /// `smpp_publish_to_submit_seconds`.
    /// `expires`: the end of the message's validity (never sent at or after it).
    async fn send_segment(
        &self,
        seg: pdus::OutboundSegment,
        published: Option<chrono::DateTime<Utc>>,
        expires: Option<Instant>,
    ) -> SegmentResult {
        let mut stopping = self.stopping.clone();
        let mut db_down = self.db_down.subscribe();
        // A segment waits while commits fail (its row could not be recorded), and is not sent
        // once the service stops (the command is redelivered; what was sent is recorded).
        let ready = async {
            let slot = self.segment_slots.acquire().await.ok()?;
            let _ = db_down.wait_for(|down| !*down).await;
            self.permits.take().await;
            Some(slot)
        };
        let slot = tokio::select! {
            biased;
            _ = stopping.wait_for(|s| *s) => None,
            slot = ready => slot,
        };
        if slot.is_none() || *self.stopping.borrow() {
            return SegmentResult::Failed(seg.segment, SubmitError::ShuttingDown);
        }
        match self.session.submit_before(seg.pdu, expires).await {
            Ok(outcome) => {
                self.metrics.submit(outcome.status.0);
                if let Some(published) = published {
                    // The first write of the submit_sm: now minus its response latency (an
                    // upper bound: it includes the wake-up after the response).
                    let written = Utc::now()
                        - chrono::Duration::from_std(outcome.latency).unwrap_or_default();
                    let waited = (written - published).to_std().unwrap_or_default();
                    self.metrics
                        .publish_to_submit_seconds
                        .observe(waited.as_secs_f64());
                }
                self.metrics
                    .response_latency_seconds
                    .observe(outcome.latency.as_secs_f64());
                SegmentResult::Sent(seg.segment, outcome)
            }
            Err(e) => {
                if let Some(status) = e.status() {
                    self.metrics.submit(status.0);
                }
                if matches!(
                    e,
                    SubmitError::Disconnected {
                        maybe_accepted: true
                    } | SubmitError::ResponseTimeout { .. }
                ) {
                    self.metrics.duplicate_window_total.inc();
                }
                SegmentResult::Failed(seg.segment, e)
            }
        }
    }

    /// Handles a command ([`Self::send_and_settle`]) while keeping it from being redelivered:
    /// in-progress acknowledgements cover its whole life (waiting for the window, a TPS permit
    /// or a commit, publishing its events).
    async fn handle(self: Arc<Self>, accepted: Accepted) {
        let Accepted {
            message,
            command,
            prior,
            in_flight: _in_flight,
        } = accepted;
        let work = self.send_and_settle(&message, command, prior);
        js::with_progress(&message, self.progress_every(), work).await;
    }

    /// Sends a command, records it, publishes its connector events, and settles the JetStream
    /// message. Never returns an error: every path acks, naks or terminates.
    async fn send_and_settle(
        &self,
        message: &Message,
        command: crate::pipeline::command::ValidCommand,
        prior: Option<PriorSubmission>,
    ) {
        let reference = prior
            .as_ref()
            .and_then(PriorSubmission::concat_ref)
            .unwrap_or_else(rand::random::<u16>);
        let built: OutboundMessage = match pdus::build(&command, &self.config.encoding, reference) {
            Ok(m) => m,
            Err(e) => {
                let event = DlrEvent::rejected_message(
                    self.op(),
                    &command.message_id,
                    e.to_string(),
                    &command.metadata,
                    Utc::now(),
                );
                self.metrics.rejected("unsendable");
                // Boxed: a rare path kept out of every command's future.
                Box::pin(crate::pipeline::intake::reject(
                    &self.publisher,
                    message,
                    &event,
                ))
                .await;
                return;
            }
        };
        let to_send: Vec<_> = built
            .segments
            .into_iter()
            .filter(|s| !prior.as_ref().is_some_and(|p| p.has(s.segment.index)))
            .collect();
        let valid_until = validity_end(message, command.validity_period_seconds);
        let expires = valid_until
            .map(|end| Instant::now() + (end - Utc::now()).to_std().unwrap_or(Duration::ZERO));

        let published = message.info().ok().and_then(|i| {
            chrono::DateTime::from_timestamp(i.published.unix_timestamp(), i.published.nanosecond())
        });
        // One segment at a time, in order: a segment is written only once its predecessor
        // is settled, so a resent segment never overtakes one before it.
        let sends = async {
            let mut results = Vec::with_capacity(to_send.len());
            let mut unsent = Vec::new();
            let mut expired: Option<Option<CommandStatus>> = None;
            for seg in to_send {
                if !unsent.is_empty() {
                    unsent.push(seg.segment);
                    continue;
                }
                if expired.is_none() && expires.is_some_and(|e| Instant::now() >= e) {
                    expired = Some(None);
                }
                if let Some(last_status) = expired {
                    let e = SubmitError::Expired {
                        attempts: 0,
                        last_status,
                    };
                    results.push(SegmentResult::Failed(seg.segment, e));
                    continue;
                }
                let r = self.send_segment(seg, published, expires).await;
                match &r {
                    SegmentResult::Failed(_, SubmitError::Expired { last_status, .. }) => {
                        expired = Some(*last_status);
                    }
                    SegmentResult::Failed(segment, e)
                        if e.is_retryable() && e.status().is_none() =>
                    {
                        unsent.push(*segment);
                    }
                    _ => {}
                }
                results.push(r);
            }
            (results, unsent)
        };
        let (results, unsent) = sends.await;

        let now = Utc::now();
        let mut rows = Vec::new();
        // The events of segments settled earlier go again: one may have been lost.
        let mut events = prior.as_ref().map_or_else(Vec::new, |p| {
            crate::pipeline::intake::prior_events(
                self.op(),
                &command,
                p,
                self.config.receipts.publish_accepted,
            )
        });
        for r in results {
            match r {
                SegmentResult::Sent(segment, outcome) => {
                    self.id_forms.observe_submit(&outcome.message_id);
                    rows.push(SegmentSubmit {
                        operator_id: self.op().to_string(),
                        message_id: command.message_id.clone(),
                        segment,
                        outcome: RowOutcome::Submitted {
                            smsc_message_id: outcome.message_id.clone(),
                        },
                        attempts: outcome.attempts,
                        concat_ref: built.concat_ref,
                        submitted_at: now,
                        metadata: command.metadata.clone(),
                    });
                    if self.config.receipts.publish_accepted {
                        events.push(DlrEvent::segment_outcome(
                            self.op(),
                            &command.message_id,
                            segment,
                            DeliveryStatus::Accepted,
                            Some(&outcome.message_id),
                            Some(outcome.status.0),
                            None,
                            &command.metadata,
                            now,
                        ));
                    }
                }
                SegmentResult::Failed(
                    segment,
                    SubmitError::Expired {
                        attempts,
                        last_status,
                    },
                ) => {
                    rows.push(SegmentSubmit {
                        operator_id: self.op().to_string(),
                        message_id: command.message_id.clone(),
                        segment,
                        outcome: RowOutcome::Expired {
                            command_status: last_status.map_or(0, |s| s.0),
                        },
                        attempts,
                        concat_ref: built.concat_ref,
                        submitted_at: now,
                        metadata: command.metadata.clone(),
                    });
                    events.push(DlrEvent::expired_segment(
                        self.op(),
                        &command.message_id,
                        segment,
                        &command.metadata,
                        now,
                    ));
                }
                SegmentResult::Failed(segment, e) if !e.is_retryable() || e.status().is_some() => {
                    let status = e.status().map(|s| s.0);
                    rows.push(SegmentSubmit {
                        operator_id: self.op().to_string(),
                        message_id: command.message_id.clone(),
                        segment,
                        outcome: RowOutcome::Failed {
                            command_status: status.unwrap_or(0),
                        },
                        attempts: match &e {
                            SubmitError::Rejected { attempts, .. } => *attempts,
                            _ => 1,
                        },
                        concat_ref: built.concat_ref,
                        submitted_at: now,
                        metadata: command.metadata.clone(),
                    });
                    events.push(DlrEvent::segment_outcome(
                        self.op(),
                        &command.message_id,
                        segment,
                        DeliveryStatus::Rejected,
                        None,
                        status,
                        Some(status_reason(&e)),
                        &command.metadata,
                        now,
                    ));
                }
                SegmentResult::Failed(_, e) => {
                    tracing::debug!(message_id = %command.message_id, error = %e, "segment to retry");
                }
            }
        }

        if !rows.is_empty() {
            match self.commit(rows.clone()).await {
                Commit::Done => {}
                Commit::Stopped => {
                    let _ = js::nak_after(message, crate::pipeline::intake::RETRY_DELAY).await;
                    return;
                }
                Commit::Refused(e) => {
                    Box::pin(self.unrecordable(message, &command, &rows, &e)).await;
                    return;
                }
            }
        }
        if !events.is_empty() && !Box::pin(self.publish_outcomes(message, &events)).await {
            return;
        }
        if !unsent.is_empty() {
            Box::pin(self.retry_or_expire(
                message,
                &command.message_id,
                &command.metadata,
                valid_until,
                &unsent,
            ))
            .await;
        } else if let Err(e) = js::ack(message).await {
            tracing::warn!(error = %e, "cannot acknowledge a sent command");
        }
    }

    /// PostgreSQL refuses a command's rows (a value it cannot store): the command is not sent
    /// again (it is terminated), and each of its segments gets a REJECTED event saying why.
    /// Its sent segments are counted in `smpp_rejected_commands_total{reason="unrecordable"}`.
    async fn unrecordable(
        &self,
        message: &Message,
        command: &crate::pipeline::command::ValidCommand,
        rows: &[SegmentSubmit],
        e: &store::CorrelationError,
    ) {
        tracing::error!(message_id = %command.message_id, error = %e, "PostgreSQL refuses the rows of a command; it gets REJECTED events and is not sent again");
        self.metrics.rejected("unrecordable");
        let now = Utc::now();
        let events: Vec<DlrEvent> = rows
            .iter()
            .map(|r| {
                DlrEvent::segment_outcome(
                    self.op(),
                    &command.message_id,
                    r.segment,
                    DeliveryStatus::Rejected,
                    match &r.outcome {
                        RowOutcome::Submitted { smsc_message_id } => Some(smsc_message_id.as_str()),
                        RowOutcome::Failed { .. } | RowOutcome::Expired { .. } => None,
                    },
                    None,
                    Some(format!("the outcome cannot be recorded: {e}")),
                    &command.metadata,
                    now,
                )
            })
            .collect();
        for event in &events {
            if let Err(e) = self.publisher.publish_dlr(event).await {
                tracing::warn!(error = %e, "cannot publish a REJECTED event; the command will come back");
                let _ = js::nak_after(message, crate::pipeline::intake::RETRY_DELAY).await;
                return;
            }
        }
        if let Err(e) = js::terminate(message).await {
            tracing::warn!(error = %e, "cannot terminate an unrecordable command");
        }
    }

    /// Publishes a command's submit events (ACCEPTED, REJECTED); on failure naks the command
    /// and returns `false`.
    async fn publish_outcomes(&self, message: &Message, events: &[DlrEvent]) -> bool {
        for event in events {
            if let Err(e) = self.publisher.publish_dlr(event).await {
                tracing::warn!(error = %e, "cannot publish a submit event; the command will come back");
                let _ = js::nak_after(message, crate::pipeline::intake::RETRY_DELAY).await;
                return false;
            }
        }
        true
    }

    /// Commits rows; while PostgreSQL fails, keeps trying (the correlation of a sent segment
    /// must not be lost, and resending would duplicate it) and marks the database down, so
    /// that nothing more is sent or pulled. Gives up when the service stops (the command is
    /// then redelivered) or when PostgreSQL refuses the rows themselves.
    async fn commit(&self, rows: Vec<SegmentSubmit>) -> Commit {
        let rows: Arc<[SegmentSubmit]> = rows.into();
        let mut delay = Duration::from_millis(250);
        loop {
            match self.writer.record_submits(rows.clone()).await.await {
                Ok(()) => {
                    self.db_down
                        .send_if_modified(|down| std::mem::replace(down, false));
                    return Commit::Done;
                }
                Err(e) if e.is_permanent() => return Commit::Refused(e),
                Err(e) => {
                    if !self.db_down.send_replace(true) {
                        tracing::warn!(error = %e, "cannot commit submit outcomes; sending and pulling stop until PostgreSQL takes writes");
                    }
                    if *self.stopping.borrow() {
                        return Commit::Stopped;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn progress_every(&self) -> Duration {
        Duration::from_secs(self.config.nats.ack_wait_seconds.max(2) / 2)
    }

    /// A retryable failure of the `unsent` segments: nak with backoff, or, past the message's
    /// validity, publish their EXPIRED events and acknowledge.
    async fn retry_or_expire(
        &self,
        message: &Message,
        message_id: &str,
        metadata: &BTreeMap<String, String>,
        valid_until: Option<chrono::DateTime<Utc>>,
        unsent: &[Segment],
    ) {
        let now = Utc::now();
        if valid_until.is_some_and(|end| end <= now) {
            let mut published = true;
            for segment in unsent {
                let event =
                    DlrEvent::expired_segment(self.op(), message_id, *segment, metadata, now);
                if let Err(e) = self.publisher.publish_dlr(&event).await {
                    tracing::warn!(error = %e, "cannot publish an EXPIRED event; the command will come back");
                    published = false;
                    break;
                }
            }
            if published {
                let _ = js::ack(message).await;
                return;
            }
        }
        let n = u32::try_from(js::delivery_count(message).clamp(1, 16)).unwrap_or(16);
        let r = &self.config.retry;
        let delay = Duration::from_millis(r.initial_delay_ms)
            .saturating_mul(2u32.saturating_pow(n - 1))
            .min(Duration::from_millis(
                r.max_delay_ms.max(r.initial_delay_ms),
            ));
        let _ = js::nak_after(message, delay).await;
    }
}

/// The end of a command's validity: its JetStream publish time plus `validityPeriodSeconds`.
fn validity_end(message: &Message, validity: Option<u32>) -> Option<chrono::DateTime<Utc>> {
    let seconds = validity?;
    let published = message
        .info()
        .ok()
        .and_then(|i| {
            chrono::DateTime::from_timestamp(i.published.unix_timestamp(), i.published.nanosecond())
        })
        .unwrap_or_else(Utc::now);
    Some(published + chrono::Duration::seconds(i64::from(seconds)))
}

fn status_reason(e: &SubmitError) -> String {
    match e.status() {
        Some(s) => format!("{} ({})", s.name().unwrap_or("vendor-specific status"), e),
        None => e.to_string(),
    }
}

/// The receipt fields of a deliver_sm.
fn receipt_input(sm: &DeliverSm) -> ReceiptInput<'_> {
    let short_message: &[u8] = if sm.short_message.is_empty() {
        sm.tlvs.message_payload().map(|b| &b[..]).unwrap_or(&[])
    } else {
        &sm.short_message
    };
    ReceiptInput {
        esm_class: sm.esm_class,
        data_coding: sm.data_coding,
        short_message,
        receipted_message_id: sm.tlvs.receipted_message_id().and_then(|s| s.as_str().ok()),
        message_state: sm.tlvs.message_state().map(|m| m.0),
        network_error_code: sm.tlvs.network_error_code().map(|n| {
            let [hi, lo] = n.error_code.to_be_bytes();
            [n.network_type, hi, lo]
        }),
    }
}

async fn handle_inbound(inbound: Inbound, receipts: Arc<ReceiptEvents>, metrics: Arc<Metrics>) {
    let received = Instant::now();
    let input = match &inbound {
        Inbound::DeliverSm { sm, .. } => receipt_input(sm),
        Inbound::DataSm { sm, .. } => ReceiptInput {
            esm_class: sm.esm_class,
            data_coding: sm.data_coding,
            short_message: sm.tlvs.message_payload().map(|b| &b[..]).unwrap_or(&[]),
            receipted_message_id: sm.tlvs.receipted_message_id().and_then(|s| s.as_str().ok()),
            message_state: sm.tlvs.message_state().map(|m| m.0),
            network_error_code: sm.tlvs.network_error_code().map(|n| {
                let [hi, lo] = n.error_code.to_be_bytes();
                [n.network_type, hi, lo]
            }),
        },
        Inbound::AlertNotification { .. } => {
            tracing::debug!("alert_notification ignored");
            return;
        }
    };
    let answer = match parse_receipt(&input) {
        Err(ReceiptError::NotAReceipt(esm)) => {
            metrics.mo_messages_total.inc();
            tracing::debug!(
                esm_class = esm,
                "mobile-originated message answered and not processed"
            );
            ReceiptAnswer::Ok
        }
        Err(e) => {
            tracing::warn!(error = %e, "unreadable receipt; published as an uncorrelated UNKNOWN event");
            let state = input.message_state.map(|m| [m]);
            let fields: [&[u8]; 5] = [
                &[input.esm_class, input.data_coding],
                input.short_message,
                input.receipted_message_id.map_or(&[], str::as_bytes),
                state.as_ref().map_or(&[], |s| &s[..]),
                input.network_error_code.as_ref().map_or(&[], |n| &n[..]),
            ];
            let event = DlrEvent::unreadable_receipt(
                receipts.operator_id(),
                e.message_id(),
                &fields,
                format!("unreadable receipt: {e}"),
                Utc::now(),
            );
            match receipts.publish_unreadable(&event).await {
                Ok(()) => ReceiptAnswer::Ok,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot publish an unreadable receipt; answering ESME_RX_T_APPN");
                    ReceiptAnswer::TemporaryError
                }
            }
        }
        Ok(r) => {
            receipts
                .handle(ReceiptFacts::from_receipt(&r), received)
                .await
        }
    };
    let responder = match inbound {
        Inbound::DeliverSm { responder, .. } | Inbound::DataSm { responder, .. } => responder,
        Inbound::AlertNotification { .. } => return,
    };
    match answer {
        ReceiptAnswer::Ok => responder.ack(),
        ReceiptAnswer::TemporaryError => responder.respond(CommandStatus::ESME_RX_T_APPN),
    };
}

/// How long the stop waits for the window after the commands in flight were settled.
const UNBIND_AFTER_DRAIN: Duration = Duration::from_secs(2);

/// How often rows past `postgres.retentionDays` are deleted (the first time at start).
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Runs the connector until `shutdown` resolves, then stops gracefully: stop pulling, finish
/// the commands in flight, drain the window and unbind, flush the correlation batches.
pub async fn run(
    config: ConnectorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let config = Arc::new(config);
    let op = config.operator_id.clone();
    let instance = instance_name();
    let metrics = Arc::new(Metrics::new());
    metrics.set_session_state("UNBOUND", "none");

    let nats = async_nats::connect(&config.nats.url)
        .await
        .map_err(|e| ServiceError::Nats(e.to_string()))?;
    let jet = async_nats::jetstream::new(nats.clone());
    let dispatch = js::ensure_dispatch_stream(&jet, &config.nats.dispatch_stream).await?;
    js::ensure_event_stream(
        &jet,
        &config.nats.dlr_subject,
        js::DLR_STREAM,
        js::DLR_DUPLICATE_WINDOW,
    )
    .await?;
    js::ensure_event_stream(
        &jet,
        &config.nats.health_subject,
        js::HEALTH_STREAM,
        Duration::from_secs(120),
    )
    .await?;
    let consumer = js::dispatch_consumer(&dispatch, &config).await?;
    let publisher = EventPublisher::new(
        jet.clone(),
        &config.nats.dlr_subject,
        &config.nats.health_subject,
    );

    let pool = store::connect(&config.postgres)
        .await
        .map_err(|e| ServiceError::Postgres(e.to_string()))?;
    if config.postgres.migrate {
        store::migrate(&pool)
            .await
            .map_err(|e| ServiceError::Postgres(e.to_string()))?;
    }
    let probe = store::WriteProbe::new(pool.clone(), &op, &instance);
    let (writer, writer_task) = CorrelationWriter::spawn(
        pool.clone(),
        config.postgres.batch_size as usize,
        Duration::from_millis(config.postgres.batch_delay_ms),
    );

    let redis = redis::Client::open(config.redis.url.as_str())
        .map_err(|e| ServiceError::Redis(e.to_string()))?;
    let throttle = Arc::new(Throttle::new(
        redis,
        &op,
        ThrottleSettings::from_config(&config.throttle),
    ));

    let credentials = Arc::new(
        CredentialsStore::new(
            &op,
            &config.credentials,
            RetryPolicy {
                slow: Duration::from_secs(config.session.credentials_backoff_seconds.max(1)),
                ..RetryPolicy::default()
            },
        )
        .map_err(|e| ServiceError::Credentials(e.to_string()))?,
    );
    let (session, mut streams) =
        SessionEngine::start(EngineConfig::from_connector(&config), credentials);

    // Whether the last health event sent says UNBOUND: the final one is then not repeated.
    let unbound_published = Arc::new(std::sync::atomic::AtomicBool::new(false));
    match publisher
        .publish_health(&OperatorHealth::unbound(
            &op,
            "starting",
            &instance,
            Utc::now(),
        ))
        .await
    {
        Ok(_) => unbound_published.store(true, std::sync::atomic::Ordering::SeqCst),
        Err(e) => tracing::warn!(error = %e, "cannot publish the start health event"),
    }

    // HTTP.
    let http_addr = config
        .http
        .address
        .parse()
        .map_err(|e| ServiceError::Http(format!("{}: {e}", config.http.address)))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let http_state = AppState {
        metrics: metrics.clone(),
        bound: session.watch_bound(),
        nats: Some(nats.clone()),
        postgres: Some(probe.clone()),
        throttle: Some(throttle.clone()),
        session: Some(session.clone()),
    };
    let (http_stop_tx, mut http_stop) = watch::channel(false);
    let http = tokio::spawn(crate::http::serve(
        http_addr,
        http_state,
        async move {
            let _ = http_stop.wait_for(|s| *s).await;
        },
        None,
    ));

    let mut tasks = JoinSet::new();
    let id_forms = Arc::new(IdForms::new(config.receipts.id_form));

    // Health events and the session state gauge.
    // The session status in the MnoConnection (inside Kubernetes only).
    let (status_tx, status_rx) = watch::channel(None);
    match crate::pipeline::status_writer::StatusWriter::from_config(&config.status_writer).await {
        Ok(Some(writer)) => {
            tasks.spawn(writer.run(status_rx));
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot write the session status into the MnoConnection")
        }
    }
    {
        let mut tracker = crate::pipeline::health::StatusTracker::new(&config, &instance);
        let mut events = streams.events;
        let publisher = publisher.clone();
        let metrics = metrics.clone();
        let (op, instance) = (op.clone(), instance.clone());
        let unbound_published = unbound_published.clone();
        let mut slow_down = session.watch_slow_down();
        tasks.spawn(async move {
            let mut bound_before = false;
            let mut slow_down_open = true;
            loop {
                let received = tokio::select! {
                    ev = crate::pipeline::health::next_event(&mut events) => ev,
                    changed = slow_down.changed(), if slow_down_open => {
                        match changed {
                            Ok(()) => {
                                let s = *slow_down.borrow_and_update();
                                status_tx.send_replace(Some(tracker.set_slow_down(&s).clone()));
                            }
                            Err(_) => slow_down_open = false,
                        }
                        continue;
                    }
                };
                let Some(ev) = received else {
                    break;
                };
                let health = OperatorHealth {
                    operator_id: op.clone(),
                    state: ev.state,
                    endpoint: ev.endpoint,
                    address: ev.address.clone(),
                    bind_mode: ev.bind_mode,
                    reason: Some(ev.reason.clone()),
                    connector: Some(instance.clone()),
                    at: Utc::now(),
                };
                let state = serde_json::to_value(ev.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                let endpoint = match ev.endpoint {
                    Some(crate::pipeline::events::EndpointRole::Primary) => "primary",
                    Some(crate::pipeline::events::EndpointRole::Backup) => "backup",
                    None => "none",
                };
                metrics.set_session_state(&state, endpoint);
                let bound = ev.endpoint.is_some();
                if bound && bound_before {
                    metrics.reconnects_total.inc();
                }
                bound_before |= bound;
                tracing::info!(state = %state, endpoint, address = ?ev.address, reason = %ev.reason, "session state");
                let status = tracker.apply(&ev, k8s_openapi::jiff::Timestamp::now()).clone();
                status_tx.send_replace(Some(status));
                // Set before the publish: the stop may abort this task while it awaits the
                // PubAck of an UNBOUND that NATS already has.
                unbound_published.store(
                    health.state == crate::pipeline::events::HealthState::Unbound,
                    std::sync::atomic::Ordering::SeqCst,
                );
                if let Err(e) = publisher.publish_health(&health).await {
                    unbound_published.store(false, std::sync::atomic::Ordering::SeqCst);
                    tracing::warn!(error = %e, "cannot publish a health event");
                }
            }
        });
    }

    // Receipts and MO.
    let receipts = Arc::new(
        ReceiptEvents::new(
            &op,
            writer.clone(),
            pool.clone(),
            publisher.clone(),
            metrics.clone(),
            Duration::from_secs(config.receipts.correlation_wait_seconds),
            id_forms.clone(),
        )
        .with_settle(
            Duration::from_millis(config.session.response_timeout_ms)
                + Duration::from_millis(config.postgres.batch_delay_ms)
                + Duration::from_secs(5),
        )
        .with_max_pending(config.receipts.max_pending),
    );
    {
        let receipts = receipts.clone();
        let metrics = metrics.clone();
        let limit = Arc::new(Semaphore::new(1024));
        tasks.spawn(async move {
            while let Some(inbound) = streams.inbound.recv().await {
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                let (r, m) = (receipts.clone(), metrics.clone());
                tokio::spawn(async move {
                    handle_inbound(inbound, r, m).await;
                    drop(permit);
                });
            }
        });
    }
    {
        tasks.spawn(async move {
            while let Some(late) = streams.late.recv().await {
                // Counted in smpp_duplicate_window_total when its submit timed out.
                tracing::warn!(sequence = late.sequence, status = %late.status.0, smsc_message_id = %late.message_id, "response after the timeout: the command will be resent (possible duplicate)");
            }
        });
    }
    if config.postgres.retention_days > 0 {
        let (pool, metrics, op) = (pool.clone(), metrics.clone(), op.clone());
        let days = config.postgres.retention_days;
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(RETENTION_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    _ = tick.tick() => {}
                }
                match store::purge_older_than(&pool, &op, days, 5_000).await {
                    Ok(0) => {}
                    Ok(n) => {
                        metrics.correlations_purged_total.inc_by(n);
                        tracing::info!(
                            rows = n,
                            days,
                            "correlation rows past their retention deleted"
                        );
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "retention purge failed; retrying in an hour")
                    }
                }
            }
        });
    }
    {
        let receipts = receipts.clone();
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            receipts
                .run_sweeper(Duration::from_secs(1), async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        });
    }
    {
        let session = session.clone();
        let throttle = throttle.clone();
        let metrics = metrics.clone();
        let id_forms = id_forms.clone();
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            tokio::pin!(stopped);
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tick.tick() => {
                        metrics.window_in_use.set((session.window_size() - session.free_window()) as i64);
                        metrics.tps_used.set(i64::from(throttle.used_last_window().await));
                        metrics.set_receipt_id_form(id_forms.label());
                        let slow = session.slow_down();
                        metrics.set_slow_down(slow.paused_total, slow.rate_factor);
                        throttle.probe().await;
                    }
                }
            }
        });
    }

    // Dispatch.
    let window = session.window_size().max(1);
    let db_down = watch::Sender::new(false);
    {
        // While commits fail, a write probe every second tells when sending may resume.
        let (db_down, probe) = (db_down.clone(), probe.clone());
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let mut down = db_down.subscribe();
            loop {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    _ = down.wait_for(|d| *d) => {}
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                if *down.borrow() && probe.check(Duration::from_secs(2)).await.is_ok() {
                    db_down.send_replace(false);
                    tracing::info!("PostgreSQL takes writes again; sending and pulling resume");
                }
            }
        });
    }
    let pipeline = Arc::new(Pipeline {
        config: (*config).clone(),
        session: session.clone(),
        writer: writer.clone(),
        publisher: publisher.clone(),
        metrics: metrics.clone(),
        permits: PermitPool::new(throttle.clone()),
        segment_slots: Arc::new(Semaphore::new(window)),
        id_forms: id_forms.clone(),
        db_down,
        stopping: stop_rx.clone(),
    });
    let intake = Intake::new(
        &op,
        publisher.clone(),
        pool.clone(),
        metrics.clone(),
        config.receipts.publish_accepted,
    );
    // Commands in flight (pulled, not yet acknowledged): the window's worth being sent plus
    // those waiting for their commit, within maxAckPending.
    let in_flight_limit = usize::try_from(config.nats.max_ack_pending)
        .unwrap_or(window)
        .clamp(1, window * 4);
    let message_slots = Arc::new(Semaphore::new(in_flight_limit));
    let mut puller =
        DispatchPuller::new(consumer, session.watch_bound(), Duration::from_millis(500));
    let mut inflight = JoinSet::new();
    tokio::pin!(shutdown);
    tracing::info!(operator = %op, instance = %instance, "connector started");
    loop {
        // Credit: free command slots, at most the free window (at least one, once a slot is
        // free: a segment then waits for the window inside the pipeline).
        let credit = tokio::select! {
            _ = &mut shutdown => break,
            p = message_slots.clone().acquire_owned() => match p {
                Ok(p) => {
                    drop(p);
                    message_slots
                        .available_permits()
                        .min(pipeline.segment_slots.available_permits())
                        .max(1)
                }
                Err(_) => break,
            },
        };
        if *pipeline.db_down.borrow() {
            // Commits failed: pull nothing until PostgreSQL takes a write again.
            let mut db_down = pipeline.db_down.subscribe();
            tokio::select! {
                _ = &mut shutdown => break,
                _ = db_down.wait_for(|down| !*down) => {}
            }
        }
        let batch = tokio::select! {
            _ = &mut shutdown => break,
            b = puller.pull(credit) => b,
        };
        let batch = match batch {
            Ok(Some(b)) => {
                metrics.dispatch_pulls_total.inc();
                b
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "pull failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut chunks = batch.ready_chunks(credit);
        while let Some(chunk) = chunks.next().await {
            let messages: Vec<Message> = chunk
                .into_iter()
                .filter_map(|m| {
                    m.map_err(|e| tracing::debug!(error = %e, "pull status"))
                        .ok()
                })
                .collect();
            if messages.is_empty() {
                continue;
            }
            metrics.dispatch_pulled_total.inc_by(messages.len() as u64);
            for accepted in intake.process(messages).await {
                let Ok(slot) = message_slots.clone().acquire_owned().await else {
                    break;
                };
                let p = pipeline.clone();
                inflight.spawn(async move {
                    p.handle(accepted).await;
                    drop(slot);
                });
            }
            while inflight.try_join_next().is_some() {}
        }
    }

    tracing::info!("stopping: no more pulls, finishing the commands in flight");
    let _ = stop_tx.send(true);
    let drain = Duration::from_secs(config.session.drain_timeout_seconds);
    if tokio::time::timeout(drain, async {
        while inflight.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(
            "commands still in flight after the drain timeout; they will be redelivered"
        );
        inflight.abort_all();
    }
    // No segment is sent any more and those sent were answered (or their commands were
    // aborted): the window is empty, only the unbind is left.
    session.shutdown(UNBIND_AFTER_DRAIN).await;
    let _ = stop_tx.send(true);
    drop(pipeline);
    drop(receipts);
    drop(writer);
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    if tokio::time::timeout(Duration::from_secs(10), writer_task)
        .await
        .is_err()
    {
        tracing::warn!("correlation writer did not flush in time");
    }
    let already_unbound = unbound_published.load(std::sync::atomic::Ordering::SeqCst);
    if !already_unbound {
        if let Err(e) = publisher
            .publish_health(&OperatorHealth::unbound(
                &op,
                "shutdown",
                &instance,
                Utc::now(),
            ))
            .await
        {
            tracing::warn!(error = %e, "cannot publish the shutdown health event");
        }
    }
    let _ = http_stop_tx.send(true);
    let _ = http.await;
    tracing::info!("stopped");
    Ok(())
}
