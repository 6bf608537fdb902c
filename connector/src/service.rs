//! The connector service: wiring only. [`run`] connects NATS, PostgreSQL and Redis, starts
//! the session engine and the workers of [`crate::pipeline`] and [`crate::store`], and runs
//! until its shutdown future resolves (SIGTERM in the binary); then it stops in order: no more
//! pulls or sends, the commands in flight finished, the window drained and the session
//! unbound, the correlation batches flushed, the last health event published.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crds::ConnectorConfig;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::http::AppState;
use crate::pipeline::credentials::CredentialsStore;
use crate::pipeline::dispatcher::Dispatcher;
use crate::pipeline::events::EventPublisher;
use crate::pipeline::health::{publish_unbound, HealthReporter, StatusTracker};
use crate::pipeline::inbound::InboundWorker;
use crate::pipeline::intake::Intake;
use crate::pipeline::jetstream::{self as js, DispatchPuller};
use crate::pipeline::metrics::{Gauges, Metrics};
use crate::pipeline::receipt_flow::{IdForms, ReceiptEvents};
use crate::pipeline::status_writer::StatusWriter;
use crate::pipeline::submit::{log_late_responses, DbHealth, SubmitFlow};
use crate::pipeline::throttle::{Throttle, TpsGate};
use crate::session::{EngineConfig, SessionEngine};
use crate::store::{self, CorrelationWriter, Retention, WriteProbe};

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

/// How long the stop waits for the window after the commands in flight were settled.
const UNBIND_AFTER_DRAIN: Duration = Duration::from_secs(2);

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
    let consumer = js::set_up(&jet, &config).await?;
    let publisher = EventPublisher::from_config(jet, &config.nats);
    let pool = store::open(&config.postgres)
        .await
        .map_err(|e| ServiceError::Postgres(e.to_string()))?;
    let probe = WriteProbe::new(pool.clone(), &op, &instance);
    let (writer, writer_task) = CorrelationWriter::spawn(
        pool.clone(),
        config.postgres.batch_size as usize,
        Duration::from_millis(config.postgres.batch_delay_ms),
    );
    let throttle =
        Arc::new(Throttle::from_config(&config).map_err(|e| ServiceError::Redis(e.to_string()))?);
    let credentials = CredentialsStore::from_config(&config)
        .map_err(|e| ServiceError::Credentials(e.to_string()))?;
    // The session takes each submit's window place and TPS permit together.
    let (session, streams) = SessionEngine::start_gated(
        EngineConfig::from_connector(&config),
        Arc::new(credentials),
        Arc::new(TpsGate::new(throttle.clone())),
    );
    // Whether the last health event sent says UNBOUND: the final one is then not repeated.
    let unbound_published = Arc::new(AtomicBool::new(
        publish_unbound(&publisher, &op, "starting", &instance).await,
    ));

    let http_addr = config
        .http
        .address
        .parse()
        .map_err(|e| ServiceError::Http(format!("{}: {e}", config.http.address)))?;
    let http_stop = CancellationToken::new();
    let http = tokio::spawn(crate::http::serve(
        http_addr,
        AppState {
            metrics: metrics.clone(),
            bound: session.watch_bound(),
            nats: Some(nats.clone()),
            postgres: Some(probe.clone()),
            throttle: Some(throttle.clone()),
            session: Some(session.clone()),
        },
        http_stop.clone().cancelled_owned(),
        None,
    ));

    // `stop`: no more pulls and sends (the dispatch side); `receive_stop`, after the unbind:
    // the receiving side (receipts, health), which must keep answering the SMSC until then.
    let (stop, receive_stop) = (CancellationToken::new(), CancellationToken::new());
    let mut workers = JoinSet::new();
    let id_forms = Arc::new(IdForms::new(
        config.receipts.id_form,
        config.receipts.id_scope,
    ));
    let (status_tx, status_rx) = watch::channel(None);
    match StatusWriter::from_config(&config.status_writer).await {
        Ok(Some(writer)) => drop(workers.spawn(writer.run(status_rx))),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot write the session status into the MnoConnection")
        }
    }
    let health = HealthReporter {
        tracker: StatusTracker::new(&config, &instance),
        events: streams.events,
        slow_down: session.watch_slow_down(),
        status: status_tx,
        publisher: publisher.clone(),
        metrics: metrics.clone(),
        operator_id: op.clone(),
        instance: instance.clone(),
        unbound_published: unbound_published.clone(),
    };
    workers.spawn(health.run(receive_stop.clone()));
    let receipts = Arc::new(ReceiptEvents::from_config(
        &config,
        writer.clone(),
        pool.clone(),
        publisher.clone(),
        metrics.clone(),
        id_forms.clone(),
    ));
    let inbound = InboundWorker {
        receipts: receipts.clone(),
        metrics: metrics.clone(),
    };
    workers.spawn(inbound.run(streams.inbound, receive_stop.clone()));
    workers.spawn(
        receipts
            .clone()
            .run_sweeper(Duration::from_secs(1), stop.clone()),
    );
    workers.spawn(log_late_responses(streams.late, receive_stop.clone()));
    if let Some(retention) = Retention::from_config(&config, pool.clone()) {
        let m = metrics.clone();
        let purged = move |n| {
            m.correlations_purged_total.inc_by(n);
        };
        workers.spawn(retention.run(purged, stop.clone()));
    }
    let gauges = Gauges {
        metrics: metrics.clone(),
        session: session.clone(),
        throttle: throttle.clone(),
        id_forms: id_forms.clone(),
        writer: writer.stats(),
    };
    workers.spawn(gauges.run(stop.clone()));
    let db = DbHealth::default();
    workers.spawn(db.clone().run_probe(probe, stop.clone()));

    let flow = Arc::new(SubmitFlow {
        config: (*config).clone(),
        session: session.clone(),
        writer: writer.clone(),
        publisher: publisher.clone(),
        metrics: metrics.clone(),
        id_forms,
        db,
        stopping: stop.clone(),
    });
    let dispatcher = Dispatcher {
        puller: DispatchPuller::new(consumer, session.watch_bound(), Duration::from_millis(500)),
        intake: Intake::new(
            &op,
            publisher.clone(),
            pool,
            metrics.clone(),
            config.receipts.publish_accepted,
        ),
        flow,
        in_flight_limit: Dispatcher::in_flight_limit(
            config.nats.max_ack_pending,
            session.window_size(),
        ),
        metrics,
    };
    tracing::info!(operator = %op, instance = %instance, "connector started");
    let drain = Duration::from_secs(config.session.drain_timeout_seconds);
    let dispatching = tokio::spawn(dispatcher.run(stop.clone(), drain));
    shutdown.await;

    stop.cancel();
    if let Err(e) = dispatching.await {
        tracing::warn!(error = %e, "the dispatch loop ended abnormally");
    }
    // No segment is sent any more and those sent were answered (or their commands were
    // aborted): the window is empty, only the unbind is left.
    session.shutdown(UNBIND_AFTER_DRAIN).await;
    receive_stop.cancel();
    drop((receipts, writer));
    let joined = async { while workers.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), joined)
        .await
        .is_err()
    {
        workers.abort_all();
    }
    if tokio::time::timeout(Duration::from_secs(10), writer_task)
        .await
        .is_err()
    {
        tracing::warn!("correlation writer did not flush in time");
    }
    if !unbound_published.load(Ordering::SeqCst) {
        publish_unbound(&publisher, &op, "shutdown", &instance).await;
    }
    http_stop.cancel();
    let _ = http.await;
    tracing::info!("stopped");
    Ok(())
}
