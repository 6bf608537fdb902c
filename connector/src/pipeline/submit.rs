//! The submit flow of one dispatch command: its segments sent in order through the session
//! (which takes each one's window place and TPS permit), their outcomes committed to
//! PostgreSQL ([`crate::store`]), the connector events published, and only then the JetStream
//! message settled: acknowledged, nak'ed with backoff, or terminated.
//!
//! Retryable failures (no session, connection lost, no response) nak the command; its
//! committed segments are not sent again. A connection lost after a submit was written and
//! before its response is the one window for a duplicate: counted in
//! `smpp_duplicate_window_total`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::Message;
use chrono::Utc;
use crds::ConnectorConfig;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::pipeline::activity::Activity;
use crate::pipeline::command::ValidCommand;
use crate::pipeline::events::{DeliveryStatus, DlrEvent, EventPublisher, Segment};
use crate::pipeline::intake::{self, Accepted};
use crate::pipeline::jetstream as js;
use crate::pipeline::metrics::Metrics;
use crate::pipeline::pdus::{self, OutboundMessage};
use crate::pipeline::receipt_flow::IdForms;
use crate::pipeline::trace::{self, TRACE_TARGET};
use crate::protocol::codec::CommandStatus;
use crate::session::{SessionHandle, SubmitError, SubmitOutcome};
use crate::store::{
    self, CorrelationWriter, PriorSubmission, SegmentSubmit, SubmitOutcome as RowOutcome,
    WriteProbe,
};

/// What every command's flow shares; one per connector.
pub struct SubmitFlow {
    /// The connector configuration.
    pub config: ConnectorConfig,
    /// The session engine (it takes each submit's window place and TPS permit).
    pub session: SessionHandle,
    /// The correlation writer.
    pub writer: CorrelationWriter,
    /// The event publisher.
    pub publisher: EventPublisher,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The receipt id form; notes the submit ids.
    pub id_forms: Arc<IdForms>,
    /// Whether PostgreSQL takes writes.
    pub db: DbHealth,
    /// Cancelled when the service stops: no new segment is sent after it.
    pub stopping: CancellationToken,
    /// The recent submits and their errors, for `/status`.
    pub activity: Arc<Activity>,
}

/// A commit failed and neither a commit nor the write probe succeeded since: nothing is sent
/// or pulled. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DbHealth {
    down: watch::Sender<bool>,
}

impl Default for DbHealth {
    fn default() -> Self {
        Self {
            down: watch::Sender::new(false),
        }
    }
}

impl DbHealth {
    /// Whether commits are failing now.
    pub fn is_down(&self) -> bool {
        *self.down.borrow()
    }

    /// Resolves once PostgreSQL takes writes (at once if it does).
    pub async fn wait_up(&self) {
        let _ = self.down.subscribe().wait_for(|down| !*down).await;
    }

    /// A commit succeeded.
    fn up(&self) {
        self.down
            .send_if_modified(|down| std::mem::replace(down, false));
    }

    /// A commit failed; `true` when it was up before.
    fn fail(&self) -> bool {
        !self.down.send_replace(true)
    }

    /// While commits fail, a write probe every second tells when sending may resume. Runs
    /// until `shutdown`.
    pub async fn run_probe(self, probe: WriteProbe, shutdown: CancellationToken) {
        let mut down = self.down.subscribe();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = down.wait_for(|d| *d) => {}
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            if *down.borrow() && probe.check(Duration::from_secs(2)).await.is_ok() {
                self.down.send_replace(false);
                tracing::info!("PostgreSQL takes writes again; sending and pulling resume");
            }
        }
    }
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

impl SubmitFlow {
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
        // A segment waits while commits fail (its row could not be recorded), and is not sent
        // once the service stops (the command is redelivered; what was sent is recorded). The
        // session takes its window place and TPS permit.
        let db_up = tokio::select! {
            biased;
            _ = self.stopping.cancelled() => false,
            _ = self.db.wait_up() => true,
        };
        if !db_up || self.stopping.is_cancelled() {
            return SegmentResult::Failed(seg.segment, SubmitError::ShuttingDown);
        }
        let span = tracing::info_span!(
            target: TRACE_TARGET,
            "smpp.submit_sm",
            otel.kind = "client",
            smpp.segment_index = seg.segment.index,
            smpp.segment_count = seg.segment.count,
            smpp.sequence_number = tracing::field::Empty,
            smpp.command_status = tracing::field::Empty,
            smpp.smsc_message_id = tracing::field::Empty,
            smpp.endpoint = tracing::field::Empty,
            smpp.bind = tracing::field::Empty,
            smpp.attempts = tracing::field::Empty,
        );
        let result = self
            .session
            .submit_before(seg.pdu, expires, &self.stopping)
            .instrument(span.clone())
            .await;
        if !span.is_disabled() {
            match &result {
                Ok(o) => {
                    span.record("smpp.sequence_number", o.sequence);
                    span.record(
                        "smpp.command_status",
                        o.status.name().unwrap_or("vendor-specific"),
                    );
                    span.record("smpp.smsc_message_id", o.message_id.as_str());
                    span.record("smpp.endpoint", o.endpoint.as_str());
                    span.record("smpp.bind", o.bind);
                    span.record("smpp.attempts", o.attempts);
                }
                Err(e) => {
                    span.record("smpp.command_status", tracing::field::display(e));
                }
            }
        }
        match result {
            Ok(outcome) => {
                self.metrics.submit(outcome.status.0);
                self.activity.submitted(Utc::now(), outcome.status.0);
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
                    self.activity.submitted(Utc::now(), status.0);
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
    pub async fn handle(self: Arc<Self>, accepted: Accepted) {
        let Accepted {
            message,
            command,
            prior,
            in_flight: _in_flight,
            span,
        } = accepted;
        let work = self.send_and_settle(&message, command, prior);
        js::with_progress(&message, self.progress_every(), work)
            .instrument(span)
            .await;
    }

    /// Sends a command, records it, publishes its connector events, and settles the JetStream
    /// message. Never returns an error: every path acks, naks or terminates.
    async fn send_and_settle(
        &self,
        message: &Message,
        command: ValidCommand,
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
                Box::pin(intake::reject(&self.publisher, message, &event)).await;
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
        let trace_parent = trace::traceparent(&tracing::Span::current());
        let mut rows = Vec::new();
        // The events of segments settled earlier go again: one may have been lost.
        let mut events = prior.as_ref().map_or_else(Vec::new, |p| {
            intake::prior_events(
                self.op(),
                &command,
                p,
                self.config.receipts.publish_accepted,
            )
        });
        for r in results {
            match r {
                SegmentResult::Sent(segment, outcome) => {
                    self.id_forms
                        .observe_submit(outcome.endpoint, &outcome.message_id);
                    rows.push(SegmentSubmit {
                        trace_parent: trace_parent.clone(),
                        operator_id: self.op().to_string(),
                        message_id: command.message_id.clone(),
                        segment,
                        outcome: RowOutcome::Submitted {
                            smsc_message_id: outcome.message_id.clone(),
                            endpoint: Some(outcome.endpoint),
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
                        trace_parent: trace_parent.clone(),
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
                        trace_parent: trace_parent.clone(),
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
            let commit = tracing::info_span!(
                target: TRACE_TARGET,
                "smpp.correlation_commit",
                smpp.rows = rows.len()
            );
            match self.commit(rows.clone()).instrument(commit).await {
                Commit::Done => {}
                Commit::Stopped => {
                    let _ = js::nak_after(message, intake::RETRY_DELAY).await;
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
        command: &ValidCommand,
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
                        RowOutcome::Submitted {
                            smsc_message_id, ..
                        } => Some(smsc_message_id.as_str()),
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
                let _ = js::nak_after(message, intake::RETRY_DELAY).await;
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
                let _ = js::nak_after(message, intake::RETRY_DELAY).await;
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
                    self.db.up();
                    return Commit::Done;
                }
                Err(e) if e.is_permanent() => return Commit::Refused(e),
                Err(e) => {
                    if self.db.fail() {
                        tracing::warn!(error = %e, "cannot commit submit outcomes; sending and pulling stop until PostgreSQL takes writes");
                    }
                    if self.stopping.is_cancelled() {
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

/// Logs the responses that came after their submit timed out (the command is resent: a
/// possible duplicate, counted in `smpp_duplicate_window_total` at the timeout), until the
/// session is gone or `shutdown`.
pub async fn log_late_responses(
    mut late: tokio::sync::mpsc::Receiver<crate::session::LateResponse>,
    shutdown: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            next = late.recv() => next,
        };
        let Some(late) = next else { return };
        tracing::warn!(sequence = late.sequence, status = %late.status.0, smsc_message_id = %late.message_id, "response after the timeout: the command will be resent (possible duplicate)");
    }
}
