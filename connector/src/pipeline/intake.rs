//! Intake of pulled dispatch commands, before the session: validation (a REJECTED event and a
//! JetStream `Term` for an invalid command) and idempotency.
//!
//! Every command is checked against PostgreSQL (one `= ANY` lookup per pulled batch): a
//! command whose segments were all settled in an earlier delivery (or by an earlier copy the
//! orchestrator published again) is acknowledged without sending, after its segment events
//! are published again from the rows (their event ids are deterministic: JetStream drops the
//! copies it already has). A command whose `messageId` is being sent right now (the same id
//! twice in one pull, or a copy pulled while the first is in flight) is delayed until the
//! first is recorded, then skipped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::Message;
use chrono::Utc;
use sqlx::PgPool;
use tracing::Instrument;

use crate::pipeline::command::{parse_command, ValidCommand};
use crate::pipeline::events::{DeliveryStatus, DlrEvent, EventPublisher, Segment};
use crate::pipeline::jetstream::{ack, nak_after, stream_sequence, terminate};
use crate::pipeline::metrics::Metrics;
use crate::pipeline::trace::{self, TRACE_TARGET};
use crate::protocol::codec::CommandStatus;
use crate::store::{prior_submissions, PriorSubmission, SubmitOutcome};

/// Delay before a command whose handling failed (NATS or PostgreSQL down) is redelivered.
pub const RETRY_DELAY: Duration = Duration::from_secs(5);

/// Publishes a command's REJECTED event, then terminates the command; when the event cannot be
/// published, naks it with [`RETRY_DELAY`] so that it comes back. Returns whether the event
/// was published.
pub async fn reject(publisher: &EventPublisher, message: &Message, event: &DlrEvent) -> bool {
    match publisher.publish_dlr(event).await {
        Ok(_) => {
            if let Err(e) = terminate(message).await {
                tracing::warn!(error = %e, "cannot terminate a rejected command; it will be rejected again");
            }
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot publish a REJECTED event; the command will come back");
            let _ = nak_after(message, RETRY_DELAY).await;
            false
        }
    }
}

/// A command to send, with its JetStream message (to ack once its rows are committed).
pub struct Accepted {
    /// The JetStream message.
    pub message: Message,
    /// The validated command.
    pub command: ValidCommand,
    /// Segments already settled in an earlier delivery (send only the others, with the same
    /// concatenation reference); `None` when nothing was.
    pub prior: Option<PriorSubmission>,
    /// Marks the command's `messageId` as being sent until dropped.
    pub in_flight: InFlight,
    /// The command's span (`smpp.dispatch`), continuing the trace of its headers.
    pub span: tracing::Span,
}

/// The `messageId`s being sent.
type InFlightSet = Arc<Mutex<HashSet<String>>>;

/// A claim on a `messageId` while its command is sent and recorded; released on drop.
pub struct InFlight {
    set: InFlightSet,
    message_id: String,
}

impl InFlight {
    /// Claims `message_id`; `None` when it is already claimed.
    fn claim(set: &InFlightSet, message_id: &str) -> Option<Self> {
        let mut ids = set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.insert(message_id.to_string()).then(|| Self {
            set: set.clone(),
            message_id: message_id.to_string(),
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.message_id);
    }
}

/// The segment events of what an earlier delivery settled: ACCEPTED for accepted segments
/// (when `publish_accepted`), REJECTED for refused ones. Published again whenever those
/// segments are skipped, so that an event lost after its commit is not lost for good.
pub fn prior_events(
    operator_id: &str,
    command: &ValidCommand,
    prior: &PriorSubmission,
    publish_accepted: bool,
) -> Vec<DlrEvent> {
    let segment = |index| Segment {
        index,
        count: prior.segment_count,
    };
    prior
        .settled
        .iter()
        .filter_map(|s| match &s.outcome {
            SubmitOutcome::Submitted {
                smsc_message_id, ..
            } => publish_accepted.then(|| {
                DlrEvent::segment_outcome(
                    operator_id,
                    &command.message_id,
                    segment(s.index),
                    DeliveryStatus::Accepted,
                    Some(smsc_message_id),
                    Some(0),
                    None,
                    &command.metadata,
                    s.submitted_at,
                )
            }),
            SubmitOutcome::Expired { .. } => Some(DlrEvent::expired_segment(
                operator_id,
                &command.message_id,
                segment(s.index),
                &command.metadata,
                s.submitted_at,
            )),
            SubmitOutcome::Failed { command_status } => Some(DlrEvent::segment_outcome(
                operator_id,
                &command.message_id,
                segment(s.index),
                DeliveryStatus::Rejected,
                None,
                Some(*command_status),
                Some(
                    CommandStatus(*command_status)
                        .name()
                        .unwrap_or("vendor-specific status")
                        .to_string(),
                ),
                &command.metadata,
                s.submitted_at,
            )),
        })
        .collect()
}

/// Validates and de-duplicates pulled commands.
pub struct Intake {
    operator_id: String,
    publisher: EventPublisher,
    pool: PgPool,
    metrics: Arc<Metrics>,
    publish_accepted: bool,
    in_flight: InFlightSet,
}

impl Intake {
    /// Intake for `operator_id`; `publish_accepted` is `receipts.publishAccepted`.
    pub fn new(
        operator_id: &str,
        publisher: EventPublisher,
        pool: PgPool,
        metrics: Arc<Metrics>,
        publish_accepted: bool,
    ) -> Self {
        Self {
            operator_id: operator_id.to_string(),
            publisher,
            pool,
            metrics,
            publish_accepted,
            in_flight: InFlightSet::default(),
        }
    }

    /// Handles a batch of pulled messages and returns those to send. Invalid commands get their
    /// REJECTED event and are terminated; completed ones are acknowledged; those whose
    /// `messageId` is in flight, and all when PostgreSQL cannot be asked, are nak'ed with
    /// [`RETRY_DELAY`]. Nothing is dropped silently.
    pub async fn process(&self, messages: Vec<Message>) -> Vec<Accepted> {
        let mut claimed = Vec::with_capacity(messages.len());
        for message in messages {
            let span = tracing::info_span!(
                target: TRACE_TARGET,
                "smpp.dispatch",
                otel.kind = "consumer",
                messaging.system = "nats",
                messaging.destination.name = %message.subject,
                smpp.operator_id = %self.operator_id,
                smpp.message_id = tracing::field::Empty,
            );
            trace::continue_from_headers(&span, message.headers.as_ref());
            let parsed = span.in_scope(|| {
                tracing::info_span!(target: TRACE_TARGET, "smpp.intake")
                    .in_scope(|| parse_command(&self.operator_id, &message.payload))
            });
            if let Ok(command) = &parsed {
                span.record("smpp.message_id", command.message_id.as_str());
            }
            match parsed {
                Ok(command) => match InFlight::claim(&self.in_flight, &command.message_id) {
                    Some(in_flight) => claimed.push((message, command, in_flight, span)),
                    None => {
                        self.metrics.duplicate_commands_total.inc();
                        tracing::info!(message_id = %command.message_id, "a command of this messageId is being sent; this copy comes back later");
                        let _ = nak_after(&message, RETRY_DELAY).await;
                    }
                },
                Err(rejection) => {
                    let fallback = format!("seq-{}", stream_sequence(&message));
                    let event = DlrEvent::rejected_command(
                        &self.operator_id,
                        &rejection,
                        &fallback,
                        Utc::now(),
                    );
                    if reject(&self.publisher, &message, &event)
                        .instrument(span)
                        .await
                    {
                        self.metrics.rejected(rejection.reason.kind());
                        tracing::debug!(event_id = %event.event_id, reason = %rejection.reason, "command rejected");
                    }
                }
            }
        }
        if claimed.is_empty() {
            return Vec::new();
        }
        // Claimed first, looked up after: a copy whose first is recorded meanwhile sees it.
        let ids: Vec<&str> = claimed
            .iter()
            .map(|(_, c, _, _)| c.message_id.as_str())
            .collect();
        let mut prior = match prior_submissions(&self.pool, &self.operator_id, &ids).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check pulled commands against PostgreSQL; they will come back");
                for (message, _, _, _) in claimed {
                    let _ = nak_after(&message, RETRY_DELAY).await;
                }
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(claimed.len());
        for (message, command, in_flight, span) in claimed {
            let prior = prior.remove(&command.message_id);
            match prior {
                Some(p) if p.is_complete() => {
                    self.skip(&message, &command, &p).instrument(span).await
                }
                prior => out.push(Accepted {
                    message,
                    command,
                    prior,
                    in_flight,
                    span,
                }),
            }
        }
        out
    }

    /// Acknowledges a command whose segments were all settled, after publishing their events
    /// again; naks it when they cannot be published.
    async fn skip(&self, message: &Message, command: &ValidCommand, prior: &PriorSubmission) {
        for event in prior_events(&self.operator_id, command, prior, self.publish_accepted) {
            if let Err(e) = self.publisher.publish_dlr(&event).await {
                tracing::warn!(error = %e, "cannot publish the events of an already sent command; it will come back");
                let _ = nak_after(message, RETRY_DELAY).await;
                return;
            }
        }
        self.metrics.idempotent_skips_total.inc();
        tracing::debug!(message_id = %command.message_id, "already settled; acknowledged without sending");
        if let Err(e) = ack(message).await {
            tracing::warn!(error = %e, "cannot acknowledge an already sent command");
        }
    }
}

#[cfg(test)]
mod tests;
