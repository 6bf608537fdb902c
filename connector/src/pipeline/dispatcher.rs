//! The dispatch loop: pulls commands from JetStream on credit while the session is bound,
//! passes each pull through the intake, and runs every accepted command's submit flow in a
//! task of its own; on shutdown, stops pulling and waits for the commands in flight.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::Message;
use futures::StreamExt;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::pipeline::intake::Intake;
use crate::pipeline::jetstream::DispatchPuller;
use crate::pipeline::metrics::Metrics;
use crate::pipeline::submit::SubmitFlow;

/// Pulls and handles dispatch commands.
pub struct Dispatcher {
    /// The pull consumer, gated by the session's bound state.
    pub puller: DispatchPuller,
    /// Validation, de-duplication and the look-up of prior submissions.
    pub intake: Intake,
    /// Each accepted command's flow.
    pub flow: Arc<SubmitFlow>,
    /// Commands in flight (pulled, not yet settled) at most.
    pub in_flight_limit: usize,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

impl Dispatcher {
    /// How many commands may be in flight: the window's worth being sent plus those waiting
    /// for their commit (up to four windows), within `nats.maxAckPending`.
    pub fn in_flight_limit(max_ack_pending: i64, window: usize) -> usize {
        let window = window.max(1);
        usize::try_from(max_ack_pending)
            .unwrap_or(window)
            .clamp(1, window * 4)
    }

    /// Pulls until `shutdown` (the flow stops sending at the same moment), then waits at most
    /// `drain` (read at that moment: a fenced stop shortens it) for the commands in flight;
    /// those still unsettled are aborted and redelivered.
    pub async fn run(mut self, shutdown: CancellationToken, drain: watch::Receiver<Duration>) {
        let slots = Arc::new(Semaphore::new(self.in_flight_limit.max(1)));
        let mut inflight = JoinSet::new();
        loop {
            // Credit: free command slots, at most the session's free window (at least one,
            // once a slot is free: a segment then waits for the window in the session).
            let credit = tokio::select! {
                _ = shutdown.cancelled() => break,
                p = slots.clone().acquire_owned() => match p {
                    Ok(p) => {
                        drop(p);
                        slots
                            .available_permits()
                            .min(self.flow.session.free_window())
                            .max(1)
                    }
                    Err(_) => break,
                },
            };
            if self.flow.db.is_down() {
                // Commits failed: pull nothing until PostgreSQL takes a write again.
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = self.flow.db.wait_up() => {}
                }
            }
            let batch = tokio::select! {
                _ = shutdown.cancelled() => break,
                b = self.puller.pull(credit) => b,
            };
            let batch = match batch {
                Ok(Some(b)) => {
                    self.metrics.dispatch_pulls_total.inc();
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
                self.metrics
                    .dispatch_pulled_total
                    .inc_by(messages.len() as u64);
                for accepted in self.intake.process(messages).await {
                    let Ok(slot) = slots.clone().acquire_owned().await else {
                        break;
                    };
                    let flow = self.flow.clone();
                    inflight.spawn(async move {
                        flow.handle(accepted).await;
                        drop(slot);
                    });
                }
                while inflight.try_join_next().is_some() {}
            }
        }
        tracing::info!("stopping: no more pulls, finishing the commands in flight");
        let drain = *drain.borrow();
        let drained = tokio::time::timeout(drain, async {
            while inflight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "commands still in flight after the drain timeout; they will be redelivered"
            );
            inflight.abort_all();
        }
    }
}
