//! Intake of pulled dispatch commands, before the session: validation (a REJECTED event and a
//! JetStream `Term` for an invalid command) and idempotency (a redelivered command whose
//! segments were all submitted is acknowledged without sending).
//!
//! Only redeliveries (delivery count above 1) are looked up in PostgreSQL: a first delivery
//! cannot have been submitted (the orchestrator's `Nats-Msg-Id` de-duplicates republishing), so
//! the hot path costs no query.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::Message;
use chrono::Utc;
use sqlx::PgPool;

use crate::correlation::{prior_submissions, CorrelationError, PriorSubmission};
use crate::dispatch::{parse_command, ValidCommand};
use crate::events::{DlrEvent, EventPublisher};
use crate::jetstream::{ack, delivery_count, nak_after, stream_sequence, terminate};
use crate::metrics::Metrics;

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
    /// Segments already submitted in an earlier delivery (send only the others, with the same
    /// concatenation reference); `None` for a first delivery.
    pub prior: Option<PriorSubmission>,
}

/// Validates and de-duplicates pulled commands.
pub struct Intake {
    operator_id: String,
    publisher: EventPublisher,
    pool: PgPool,
    metrics: Arc<Metrics>,
}

impl Intake {
    /// Intake for `operator_id`.
    pub fn new(
        operator_id: &str,
        publisher: EventPublisher,
        pool: PgPool,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            operator_id: operator_id.to_string(),
            publisher,
            pool,
            metrics,
        }
    }

    /// Handles a batch of pulled messages and returns those to send. Invalid commands get their
    /// REJECTED event and are terminated; completed redeliveries are acknowledged; messages
    /// whose handling failed are nak'ed with [`RETRY_DELAY`]. Nothing is dropped silently.
    pub async fn process(&self, messages: Vec<Message>) -> Vec<Accepted> {
        let mut valid = Vec::with_capacity(messages.len());
        for message in messages {
            match parse_command(&self.operator_id, &message.payload) {
                Ok(command) => valid.push((message, command)),
                Err(rejection) => {
                    let fallback = format!("seq-{}", stream_sequence(&message));
                    let event = DlrEvent::rejected_command(
                        &self.operator_id,
                        &rejection,
                        &fallback,
                        Utc::now(),
                    );
                    if reject(&self.publisher, &message, &event).await {
                        self.metrics.rejected(rejection.reason.kind());
                        tracing::debug!(event_id = %event.event_id, reason = %rejection.reason, "command rejected");
                    }
                }
            }
        }
        let redelivered: Vec<&str> = valid
            .iter()
            .filter(|(m, _)| delivery_count(m) > 1)
            .map(|(_, c)| c.message_id.as_str())
            .collect();
        let mut prior = if redelivered.is_empty() {
            Default::default()
        } else {
            match prior_submissions(&self.pool, &self.operator_id, &redelivered).await {
                Ok(p) => p,
                Err(e) => return self.fail_redeliveries(valid, &e).await,
            }
        };
        let mut out = Vec::with_capacity(valid.len());
        for (message, command) in valid {
            let prior = prior.remove(&command.message_id);
            if prior.as_ref().is_some_and(PriorSubmission::is_complete) {
                self.metrics.idempotent_skips_total.inc();
                tracing::debug!(message_id = %command.message_id, "already submitted; acknowledged without sending");
                if let Err(e) = ack(&message).await {
                    tracing::warn!(error = %e, "cannot acknowledge an already submitted command");
                }
                continue;
            }
            out.push(Accepted {
                message,
                command,
                prior,
            });
        }
        out
    }

    /// PostgreSQL failed while checking redeliveries: those are nak'ed, first deliveries go on.
    async fn fail_redeliveries(
        &self,
        valid: Vec<(Message, ValidCommand)>,
        e: &CorrelationError,
    ) -> Vec<Accepted> {
        tracing::warn!(error = %e, "cannot check redelivered commands; they will come back");
        let mut out = Vec::new();
        for (message, command) in valid {
            if delivery_count(&message) > 1 {
                let _ = nak_after(&message, RETRY_DELAY).await;
            } else {
                out.push(Accepted {
                    message,
                    command,
                    prior: None,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
