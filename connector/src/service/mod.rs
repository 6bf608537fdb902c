//! The connector service: wiring only. [`run`] connects NATS, PostgreSQL and Redis (process
//! wide: a standby replica keeps them warm), then runs terms of activity ([`term`]): without a
//! lease one term for the whole life of the process; with one (`lease.backend`), a term each
//! time this replica holds the lease, ended when the lease is lost (fenced) or the process
//! stops. On shutdown (SIGTERM in the binary) the term stops in order: no more pulls or sends,
//! the commands in flight finished, the window drained and the binds unbound; then the lease
//! is released, the correlation batches flushed and the last health event published.

mod term;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use crds::ConnectorConfig;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::http::{AppState, Role, StatusSource};
use crate::lease::{self, Lease, LeaseSettings};
use crate::pipeline::activity::Activity;
use crate::pipeline::credentials::CredentialsStore;
use crate::pipeline::events::EventPublisher;
use crate::pipeline::health::publish_unbound;
use crate::pipeline::jetstream as js;
use crate::pipeline::metrics::Metrics;
use crate::pipeline::receipt_flow::IdForms;
use crate::pipeline::submit::DbHealth;
use crate::pipeline::throttle::Throttle;
use crate::session::SessionHandle;
use crate::store::{self, CorrelationWriter, WriteProbe};
use term::{Term, TermEnd};

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
    /// The lease backend could not be set up, or its candidate ended.
    #[error("lease: {0}")]
    Lease(String),
}

/// The name of this connector instance in health events (the pod name in Kubernetes).
pub fn instance_name() -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "smpp-connector".into())
}

/// What lives as long as the process, shared by its terms.
struct Shared {
    config: Arc<ConnectorConfig>,
    instance: String,
    metrics: Arc<Metrics>,
    consumer: PullConsumer,
    publisher: EventPublisher,
    pool: PgPool,
    writer: CorrelationWriter,
    throttle: Arc<Throttle>,
    credentials: Arc<CredentialsStore>,
    id_forms: Arc<IdForms>,
    db: DbHealth,
    /// Whether the last health event sent says UNBOUND: the final one is then not repeated.
    unbound_published: Arc<AtomicBool>,
    /// Bound state of the current term's session (false between terms).
    bound: watch::Sender<bool>,
    /// The current term's session.
    session: watch::Sender<Option<SessionHandle>>,
    /// The recent activity (`/status`).
    activity: Arc<Activity>,
    /// The Kubernetes client of the status writer and the manual switch (with
    /// `statusWriter.enabled`, when one could be built).
    kube: Option<kube::Client>,
}

/// Runs the connector until `shutdown` resolves, then stops gracefully: stop pulling, finish
/// the commands in flight, drain the window and unbind, release the lease, flush the
/// correlation batches.
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
    let lease_settings = LeaseSettings::resolve(&config.lease, &op);
    let lease = lease::backend(&config, &lease_settings)
        .await
        .map_err(|e| ServiceError::Lease(e.to_string()))?
        .map(|b| lease::spawn(b, lease_settings.clone()));

    let http_addr = config
        .http
        .address
        .parse()
        .map_err(|e| ServiceError::Http(format!("{}: {e}", config.http.address)))?;
    let (bound, bound_rx) = watch::channel(false);
    let (session, session_rx) = watch::channel(None);
    let (role, role_rx) = watch::channel(if lease.is_some() {
        Role::Standby
    } else {
        Role::Single
    });
    let activity = Arc::new(Activity::default());
    let kube = if config.status_writer.enabled {
        match kube::Client::try_default().await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "no Kubernetes client: the MnoConnection status is not written and manual switches are not followed");
                None
            }
        }
    } else {
        None
    };
    let http_stop = CancellationToken::new();
    let http = tokio::spawn(crate::http::serve(
        http_addr,
        AppState {
            metrics: metrics.clone(),
            bound: bound_rx,
            nats: Some(nats.clone()),
            postgres: Some(probe.clone()),
            throttle: Some(throttle.clone()),
            session: session_rx,
            role: role_rx,
            status: Some(StatusSource {
                operator_id: op.clone(),
                pod: instance.clone(),
                tps_limit: config.throttle.tps,
                activity: activity.clone(),
            }),
        },
        http_stop.clone().cancelled_owned(),
        None,
    ));
    let process_stop = CancellationToken::new();
    let db = DbHealth::default();
    let db_probe = tokio::spawn(db.clone().run_probe(probe, process_stop.clone()));
    let shared = Shared {
        id_forms: Arc::new(IdForms::new(
            config.receipts.id_form,
            config.receipts.id_scope,
        )),
        config,
        instance: instance.clone(),
        metrics,
        consumer,
        publisher,
        pool,
        writer,
        throttle,
        credentials: Arc::new(credentials),
        db,
        unbound_published: Arc::new(AtomicBool::new(false)),
        bound,
        session,
        activity,
        kube,
    };
    let stopping = CancellationToken::new();
    tokio::spawn({
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            stopping.cancel();
        }
    });
    tracing::info!(operator = %op, instance = %instance, lease = ?lease.as_ref().map(|_| &lease_settings.name), "connector started");

    let result = run_terms(&shared, lease.as_ref(), &role, &stopping).await;

    if let Some(lease) = lease {
        lease.release().await;
    }
    let Shared {
        writer,
        publisher,
        unbound_published,
        metrics,
        ..
    } = shared;
    drop(writer);
    if tokio::time::timeout(Duration::from_secs(10), writer_task)
        .await
        .is_err()
    {
        tracing::warn!("correlation writer did not flush in time");
    }
    if role.borrow().is_active() && !unbound_published.load(Ordering::SeqCst) {
        publish_unbound(&publisher, &op, "shutdown", &instance).await;
    }
    metrics.lease_active.set(0);
    process_stop.cancel();
    let _ = db_probe.await;
    http_stop.cancel();
    let _ = http.await;
    tracing::info!("stopped");
    result
}

/// Runs terms until `stopping`: at once without a lease, else each time the lease is held.
async fn run_terms(
    shared: &Shared,
    lease: Option<&Lease>,
    role: &watch::Sender<Role>,
    stopping: &CancellationToken,
) -> Result<(), ServiceError> {
    let mut terms = lease.map(Lease::watch_term);
    loop {
        let term = match terms.as_mut() {
            None => 0,
            Some(rx) => {
                tracing::info!("standby: waiting for the lease");
                tokio::select! {
                    () = stopping.cancelled() => return Ok(()),
                    t = rx.wait_for(Option::is_some) => match t {
                        Ok(t) => t.unwrap_or_default(),
                        Err(_) => return Err(ServiceError::Lease("the candidate ended".into())),
                    },
                }
            }
        };
        if terms.is_some() {
            role.send_replace(Role::Active);
        }
        shared.metrics.lease_active.set(1);
        tracing::info!(term, "active: binding");
        let active = Term::start(shared).await;
        let end = match terms.as_mut() {
            None => {
                stopping.cancelled().await;
                TermEnd::Shutdown
            }
            Some(rx) => tokio::select! {
                () = stopping.cancelled() => TermEnd::Shutdown,
                _ = rx.wait_for(|t| *t != Some(term)) => TermEnd::Fenced,
            },
        };
        tracing::info!(term, ?end, "ending the term");
        active.stop(shared, end).await;
        shared.metrics.lease_active.set(0);
        if end == TermEnd::Shutdown {
            return Ok(());
        }
        if !shared.unbound_published.load(Ordering::SeqCst) {
            shared.unbound_published.store(
                publish_unbound(
                    &shared.publisher,
                    &shared.config.operator_id,
                    "lease lost",
                    &shared.instance,
                )
                .await,
                Ordering::SeqCst,
            );
        }
        role.send_replace(Role::Standby);
    }
}
