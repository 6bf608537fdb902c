//! One term of activity: the session engine and every worker that needs it, from the start of
//! the binds to the unbind. A replica without a lease runs one term for its whole life; with a
//! lease, one term per acquisition of the lease.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::pipeline::dispatcher::Dispatcher;
use crate::pipeline::health::{publish_unbound, HealthReporter, StatusTracker};
use crate::pipeline::inbound::InboundWorker;
use crate::pipeline::intake::Intake;
use crate::pipeline::jetstream::DispatchPuller;
use crate::pipeline::metrics::Gauges;
use crate::pipeline::receipt_flow::ReceiptEvents;
use crate::pipeline::status_writer::StatusWriter;
use crate::pipeline::submit::{log_late_responses, SubmitFlow};
use crate::pipeline::throttle::TpsGate;
use crate::session::{EngineConfig, SessionEngine, SessionHandle};
use crate::store::Retention;

/// How a term ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TermEnd {
    /// The process stops (SIGTERM): full drain, then unbind.
    Shutdown,
    /// The lease is lost: stop within the fence budget (the other replica may bind soon).
    Fenced,
}

impl TermEnd {
    /// The longest wait for the commands in flight, then for the window.
    fn budget(self, drain: Duration) -> (Duration, Duration) {
        match self {
            TermEnd::Shutdown => (drain, UNBIND_AFTER_DRAIN),
            TermEnd::Fenced => (
                drain.min(FENCED_DRAIN),
                UNBIND_AFTER_DRAIN.min(FENCED_DRAIN),
            ),
        }
    }
}

/// How long the stop waits for the window after the commands in flight were settled.
const UNBIND_AFTER_DRAIN: Duration = Duration::from_secs(2);
/// The drain, and the wait for the window, of a fenced term: the two fit in the lease's
/// stop budget.
const FENCED_DRAIN: Duration = Duration::from_millis(800);

/// A running term.
pub(super) struct Term {
    session: SessionHandle,
    /// The dispatcher's drain wait, shortened for a fenced stop.
    drain: watch::Sender<Duration>,
    stop: CancellationToken,
    receive_stop: CancellationToken,
    workers: JoinSet<()>,
    dispatching: JoinHandle<()>,
    receipts: Arc<ReceiptEvents>,
}

impl Term {
    /// Starts the binds and the workers; the session is published on `shared.session` and its
    /// bound state forwarded to `shared.bound`.
    pub(super) async fn start(shared: &Shared) -> Self {
        let config = &shared.config;
        let op = &config.operator_id;
        // The session takes each submit's window place and TPS permit together.
        let (session, streams) = SessionEngine::start_gated(
            EngineConfig::from_connector(config),
            shared.credentials.clone(),
            Arc::new(TpsGate::new(shared.throttle.clone())),
        );
        shared.unbound_published.store(
            publish_unbound(&shared.publisher, op, "starting", &shared.instance).await,
            std::sync::atomic::Ordering::SeqCst,
        );
        shared.session.send_replace(Some(session.clone()));

        // `stop`: no more pulls and sends (the dispatch side); `receive_stop`, after the
        // unbind: the receiving side (receipts, health), which answers the SMSC until then.
        let (stop, receive_stop) = (CancellationToken::new(), CancellationToken::new());
        let mut workers = JoinSet::new();
        workers.spawn(forward_bound(
            session.watch_bound(),
            shared.bound.clone(),
            receive_stop.clone(),
        ));
        // Inside Kubernetes: the status writer and the manual switch, on the process's client.
        let (status_tx, status_rx) = watch::channel(None);
        if let Some(client) = &shared.kube {
            if let Some(writer) = StatusWriter::new(client.clone(), &config.status_writer) {
                workers.spawn(writer.run(status_rx));
            }
            workers.spawn(crate::pipeline::manual_switch::run(
                kube::Api::namespaced(client.clone(), &config.status_writer.namespace),
                config.status_writer.name.clone(),
                session.clone(),
                stop.clone(),
            ));
        }
        let health = HealthReporter {
            tracker: StatusTracker::new(config, &shared.instance),
            events: streams.events,
            slow_down: session.watch_slow_down(),
            status: status_tx,
            publisher: shared.publisher.clone(),
            metrics: shared.metrics.clone(),
            operator_id: op.clone(),
            instance: shared.instance.clone(),
            unbound_published: shared.unbound_published.clone(),
            activity: shared.activity.clone(),
        };
        workers.spawn(
            health
                .with_binds(session.watch_binds())
                .run(receive_stop.clone()),
        );
        let receipts = Arc::new(ReceiptEvents::from_config(
            config,
            shared.writer.clone(),
            shared.pool.clone(),
            shared.publisher.clone(),
            shared.metrics.clone(),
            shared.id_forms.clone(),
        ));
        let inbound = InboundWorker {
            receipts: receipts.clone(),
            metrics: shared.metrics.clone(),
        };
        workers.spawn(inbound.run(streams.inbound, receive_stop.clone()));
        workers.spawn(
            receipts
                .clone()
                .run_sweeper(Duration::from_secs(1), stop.clone()),
        );
        workers.spawn(log_late_responses(streams.late, receive_stop.clone()));
        if let Some(retention) = Retention::from_config(config, shared.pool.clone()) {
            let m = shared.metrics.clone();
            let purged = move |n| {
                m.correlations_purged_total.inc_by(n);
            };
            workers.spawn(retention.run(purged, stop.clone()));
        }
        let gauges = Gauges {
            metrics: shared.metrics.clone(),
            session: session.clone(),
            throttle: shared.throttle.clone(),
            id_forms: shared.id_forms.clone(),
            writer: shared.writer.stats(),
        };
        workers.spawn(gauges.run(stop.clone()));

        let flow = Arc::new(SubmitFlow {
            config: (**config).clone(),
            session: session.clone(),
            writer: shared.writer.clone(),
            publisher: shared.publisher.clone(),
            metrics: shared.metrics.clone(),
            id_forms: shared.id_forms.clone(),
            db: shared.db.clone(),
            stopping: stop.clone(),
            activity: shared.activity.clone(),
        });
        let dispatcher = Dispatcher {
            puller: DispatchPuller::new(
                shared.consumer.clone(),
                session.watch_bound(),
                Duration::from_millis(500),
            ),
            intake: Intake::new(
                op,
                shared.publisher.clone(),
                shared.pool.clone(),
                shared.metrics.clone(),
                config.receipts.publish_accepted,
            ),
            flow,
            in_flight_limit: Dispatcher::in_flight_limit(
                config.nats.max_ack_pending,
                session.window_size(),
            ),
            metrics: shared.metrics.clone(),
        };
        let (drain, drain_rx) =
            watch::channel(Duration::from_secs(config.session.drain_timeout_seconds));
        let dispatching = tokio::spawn(dispatcher.run(stop.clone(), drain_rx));
        Self {
            session,
            drain,
            stop,
            receive_stop,
            workers,
            dispatching,
            receipts,
        }
    }

    /// Stops in order: no more pulls or sends, the commands in flight finished (within the
    /// budget of `end`), the window drained and the binds unbound, then the receiving side.
    pub(super) async fn stop(self, shared: &Shared, end: TermEnd) {
        let Term {
            session,
            drain,
            stop,
            receive_stop,
            mut workers,
            dispatching,
            receipts,
        } = self;
        let (drain_wait, unbind_wait) = end.budget(*drain.borrow());
        drain.send_replace(drain_wait);
        stop.cancel();
        if let Err(e) = dispatching.await {
            tracing::warn!(error = %e, "the dispatch loop ended abnormally");
        }
        // No segment is sent any more and those sent were answered (or their commands were
        // aborted): the window is empty, only the unbind is left.
        session.shutdown(unbind_wait).await;
        receive_stop.cancel();
        drop(receipts);
        let joined = async { while workers.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(5), joined)
            .await
            .is_err()
        {
            workers.abort_all();
        }
        shared.session.send_replace(None);
        shared.bound.send_replace(false);
    }
}

/// Copies the session's bound state into the process-wide one until `stop`.
async fn forward_bound(
    mut from: watch::Receiver<bool>,
    to: watch::Sender<bool>,
    stop: CancellationToken,
) {
    loop {
        to.send_replace(*from.borrow_and_update());
        tokio::select! {
            () = stop.cancelled() => return,
            changed = from.changed() => if changed.is_err() { return },
        }
    }
}
