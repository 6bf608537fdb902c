//! HTTP endpoints (axum): `/health` (liveness), `/ready` (readiness with details), `/metrics`.
//!
//! `/health` answers 200 whenever the process and its runtime answer: never because the SMSC
//! is down. `/ready` answers 200 only when NATS is connected, PostgreSQL answers, the TPS
//! window is shared (Redis reachable), and the session is bound, or the replica is a standby
//! (warm, waiting for the lease); otherwise 503. Both bodies are JSON, `/ready`'s names the
//! replica's `role` (`single`, `active` or `standby`).
//! `/status` is what `kubectl mno status` shows: the binds, the window, the rate of the last
//! minute, the receipts pending, the last transitions and errors (JSON, [`StatusReport`]).
//! `/ready`'s body also reports the session's slow-down after throttling answers (`slowdown`);
//! a slow-down does not make the connector unready.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::sync::watch;

use crate::pipeline::activity::Activity;
use crate::pipeline::metrics::Metrics;
use crate::pipeline::throttle::{Throttle, ThrottleState};
use crate::session::{SessionHandle, SlowDownSnapshot};
use crate::store::WriteProbe;
pub use crds::report::{SlowDownReport, StatusReport};

/// The replica's part in an active/standby pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// No lease: always active.
    Single,
    /// Holds the lease: binds and sends.
    Active,
    /// Waits for the lease, connected to its dependencies but not bound.
    Standby,
}

impl Role {
    /// `single`, `active` or `standby`.
    pub fn label(self) -> &'static str {
        match self {
            Role::Single => "single",
            Role::Active => "active",
            Role::Standby => "standby",
        }
    }

    /// Whether this replica binds (single or active).
    pub fn is_active(self) -> bool {
        self != Role::Standby
    }
}

/// What `/ready` checks. Absent dependencies are not checked.
#[derive(Clone)]
pub struct AppState {
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Whether the session is bound (the same `watch` the puller uses).
    pub bound: watch::Receiver<bool>,
    /// NATS client.
    pub nats: Option<async_nats::Client>,
    /// PostgreSQL, probed with a write.
    pub postgres: Option<WriteProbe>,
    /// The TPS limiter.
    pub throttle: Option<Arc<Throttle>>,
    /// The current session, for its slow-down report (none on a standby).
    pub session: watch::Receiver<Option<SessionHandle>>,
    /// The replica's role.
    pub role: watch::Receiver<Role>,
    /// What `/status` reports besides the session; `None`: `/status` answers 404.
    pub status: Option<StatusSource>,
}

/// The sources of `/status` that are not the session.
#[derive(Clone)]
pub struct StatusSource {
    /// The operator.
    pub operator_id: String,
    /// This connector instance (the pod).
    pub pod: String,
    /// `throttle.tps` (0: no limit).
    pub tps_limit: u32,
    /// The recent activity.
    pub activity: Arc<Activity>,
}

/// The `/ready` body.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Readiness {
    /// Overall verdict.
    pub ready: bool,
    /// Session bound.
    pub bound: bool,
    /// `single`, `active` or `standby`.
    pub role: String,
    /// `connected`, `disconnected`, `pending` or `unchecked`.
    pub nats: String,
    /// `ok` (a write was committed), the error, or `unchecked`.
    pub postgres: String,
    /// `shared`, `degraded`, `unlimited` or `unchecked`.
    pub throttle: String,
    /// The session's slow-down; absent when the session is not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowdown: Option<SlowDownReport>,
}

impl From<SlowDownSnapshot> for SlowDownReport {
    fn from(s: SlowDownSnapshot) -> Self {
        Self {
            state: s.state.label().into(),
            since: s
                .state
                .since
                .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()),
            rate_limit: s.rate_limit.map(|r| (r * 10.0).round() / 10.0),
            rate_factor: (s.rate_factor * 1000.0).round() / 1000.0,
            queue_full_pause_ms: s.queue_full_pause.map(|p| p.as_millis() as u64),
            paused_seconds_total: (s.paused_total.as_secs_f64() * 1000.0).round() / 1000.0,
        }
    }
}

const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

async fn health() -> impl IntoResponse {
    (StatusCode::OK, Json(serde_json::json!({"status": "ok"})))
}

async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    let bound = *s.bound.borrow();
    let role = *s.role.borrow();
    let (nats_ok, nats) = match &s.nats {
        None => (true, "unchecked".to_string()),
        Some(c) => match c.connection_state() {
            async_nats::connection::State::Connected => (true, "connected".into()),
            async_nats::connection::State::Disconnected => (false, "disconnected".into()),
            async_nats::connection::State::Pending => (false, "pending".into()),
        },
    };
    let (pg_ok, postgres) = match &s.postgres {
        None => (true, "unchecked".to_string()),
        Some(probe) => match probe.check(PROBE_TIMEOUT).await {
            Ok(()) => (true, "ok".into()),
            Err(e) => (false, format!("error: {e}")),
        },
    };
    let (tps_ok, throttle) = match &s.throttle {
        None => (true, "unchecked".to_string()),
        Some(t) => match t.state() {
            ThrottleState::Shared => (true, "shared".into()),
            ThrottleState::Unlimited => (true, "unlimited".into()),
            ThrottleState::Degraded => (false, "degraded".into()),
        },
    };
    let body = Readiness {
        ready: (bound || role == Role::Standby) && nats_ok && pg_ok && tps_ok,
        bound,
        role: role.label().into(),
        nats,
        postgres,
        throttle,
        slowdown: s.session.borrow().as_ref().map(|h| h.slow_down().into()),
    };
    let code = if body.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

async fn status(State(s): State<AppState>) -> axum::response::Response {
    let Some(src) = &s.status else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let session = s.session.borrow().clone();
    let activity = src.activity.report(chrono::Utc::now());
    let (binds, window_size, free) = match &session {
        Some(h) => (
            h.binds()
                .iter()
                .map(|b| crate::pipeline::health::bind_status(b, &src.pod))
                .collect(),
            h.window_size() as u64,
            h.free_window() as u64,
        ),
        None => (Vec::new(), 0, 0),
    };
    let report = StatusReport {
        operator_id: src.operator_id.clone(),
        pod: src.pod.clone(),
        role: s.role.borrow().label().into(),
        bound: *s.bound.borrow(),
        binds,
        window_in_use: window_size.saturating_sub(free),
        window_size,
        tps_limit: src.tps_limit,
        rate_last_minute: (activity.submits_last_minute as f64 / 60.0 * 10.0).round() / 10.0,
        receipts_pending: s.metrics.pending_receipts.get(),
        slowdown: session.as_ref().map(|h| h.slow_down().into()),
        activity,
    };
    (StatusCode::OK, Json(report)).into_response()
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}

/// The router of the three endpoints.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(state)
}

/// Binds `addr` and serves until `shutdown` resolves. Returns the bound address through
/// `bound_addr` (useful with port 0).
pub async fn serve(
    addr: SocketAddr,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    bound_addr: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    if let Some(tx) = bound_addr {
        let _ = tx.send(listener.local_addr()?);
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::throttle::ThrottleSettings;
    use crate::test_support::{unique, TestDb, NATS_URL};

    async fn start(state: AppState) -> (String, tokio::sync::oneshot::Sender<()>) {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(serve(
            "127.0.0.1:0".parse().unwrap(),
            state,
            async move {
                let _ = stop_rx.await;
            },
            Some(addr_tx),
        ));
        (format!("http://{}", addr_rx.await.unwrap()), stop_tx)
    }

    #[tokio::test]
    async fn health_ready_and_metrics() {
        let metrics = Arc::new(Metrics::new());
        metrics.submit(0);
        let (bound_tx, bound_rx) = watch::channel(false);
        let (role_tx, role_rx) = watch::channel(Role::Standby);
        let nats = async_nats::connect(NATS_URL).await.unwrap();
        let db = TestDb::new().await;
        let shared = Arc::new(Throttle::new(
            redis::Client::open(crate::test_support::REDIS_URL).unwrap(),
            &unique("http"),
            ThrottleSettings::new(10, 1),
        ));
        shared.acquire(1).await;
        let state = AppState {
            metrics,
            bound: bound_rx,
            nats: Some(nats),
            postgres: Some(WriteProbe::new(db.pool.clone(), "op", "pod-1")),
            throttle: Some(shared),
            session: watch::channel(None).1,
            role: role_rx,
            status: None,
        };
        let (base, stop) = start(state.clone()).await;
        let client = reqwest::Client::new();

        // A standby is ready unbound (its dependencies answer), and says so.
        let r = client.get(format!("{base}/ready")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Readiness = r.json().await.unwrap();
        assert!(
            body.ready && !body.bound && body.role == "standby",
            "{body:?}"
        );
        role_tx.send_replace(Role::Active);

        // Active and unbound: alive, not ready.
        let r = client.get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = client.get(format!("{base}/ready")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        let body: Readiness = r.json().await.unwrap();
        assert_eq!(
            body,
            Readiness {
                ready: false,
                bound: false,
                role: "active".into(),
                nats: "connected".into(),
                postgres: "ok".into(),
                throttle: "shared".into(),
                slowdown: None,
            }
        );

        bound_tx.send(true).unwrap();
        let r = client.get(format!("{base}/ready")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.json::<Readiness>().await.unwrap().ready);
        let beat: String = sqlx::query_scalar(
            "SELECT instance FROM smpp.connector_heartbeats WHERE operator_id = 'op'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(beat, "pod-1", "the probe is a committed write");

        let r = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(
            text.contains("smpp_submit_total{command_status=\"ESME_ROK\"} 1"),
            "{text}"
        );
        let _ = stop.send(());
        db.drop_db().await;
    }

    #[tokio::test]
    async fn a_database_that_answers_reads_but_refuses_writes_makes_it_unready() {
        use sqlx::Executor;
        let db = TestDb::new().await;
        let read_only = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET default_transaction_read_only = on")
                        .await?;
                    Ok(())
                })
            })
            .connect(&db.url())
            .await
            .unwrap();
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&read_only)
            .await
            .unwrap();
        assert_eq!(one, 1, "reads are answered");
        let (_bound_tx, bound_rx) = watch::channel(true);
        let state = AppState {
            metrics: Arc::new(Metrics::new()),
            bound: bound_rx,
            nats: None,
            postgres: Some(WriteProbe::new(read_only.clone(), "op", "pod-1")),
            throttle: None,
            session: watch::channel(None).1,
            role: watch::channel(Role::Single).1,
            status: None,
        };
        let (base, stop) = start(state).await;
        let r = reqwest::get(format!("{base}/ready")).await.unwrap();
        assert_eq!(r.status(), 503);
        let body: Readiness = r.json().await.unwrap();
        assert!(!body.ready);
        assert!(body.postgres.contains("read-only"), "{}", body.postgres);
        let _ = stop.send(());
        read_only.close().await;
        db.drop_db().await;
    }

    #[tokio::test(start_paused = false)]
    async fn degraded_throttle_and_dead_database_make_it_unready_but_alive() {
        let (_bound_tx, bound_rx) = watch::channel(true);
        let degraded = Arc::new(Throttle::new(
            redis::Client::open("redis://127.0.0.1:1").unwrap(),
            &unique("http"),
            ThrottleSettings::new(10, 1),
        ));
        degraded.acquire(1).await;
        let dead_pool = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_millis(200))
            .connect_lazy("postgres://postgres@127.0.0.1:1/postgres")
            .unwrap();
        let state = AppState {
            metrics: Arc::new(Metrics::new()),
            bound: bound_rx,
            nats: None,
            postgres: Some(WriteProbe::new(dead_pool, "op", "pod-1")),
            throttle: Some(degraded),
            session: watch::channel(None).1,
            role: watch::channel(Role::Single).1,
            status: None,
        };
        let (base, stop) = start(state).await;
        let client = reqwest::Client::new();
        assert_eq!(
            client
                .get(format!("{base}/health"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let r = client.get(format!("{base}/ready")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        let body: Readiness = r.json().await.unwrap();
        assert!(!body.ready && body.bound);
        assert_eq!(body.throttle, "degraded");
        assert!(body.postgres.starts_with("error"), "{}", body.postgres);
        assert_eq!(body.nats, "unchecked");
        let _ = stop.send(());
    }

    #[tokio::test]
    async fn status_reports_the_role_the_rate_and_the_last_errors_and_transitions() {
        let activity = Arc::new(Activity::default());
        let now = chrono::Utc::now();
        for _ in 0..120 {
            activity.submitted(now, 0);
        }
        activity.submitted(now, 0x58);
        activity.transition(now, "BOUND", "primary", "bound to the primary (1/1 binds)");
        activity.reconnect(now);
        let metrics = Arc::new(Metrics::new());
        metrics.pending_receipts.set(3);
        let (_bound_tx, bound_rx) = watch::channel(false);
        let state = AppState {
            metrics,
            bound: bound_rx,
            nats: None,
            postgres: None,
            throttle: None,
            session: watch::channel(None).1,
            role: watch::channel(Role::Standby).1,
            status: Some(StatusSource {
                operator_id: "mtn-gh".into(),
                pod: "mtn-gh-connector-0".into(),
                tps_limit: 200,
                activity,
            }),
        };
        let (base, stop) = start(state.clone()).await;
        let r = reqwest::get(format!("{base}/status")).await.unwrap();
        assert_eq!(r.status(), 200);
        let body: StatusReport = r.json().await.unwrap();
        assert_eq!(body.operator_id, "mtn-gh");
        assert_eq!(body.role, "standby");
        assert!(
            !body.bound && body.binds.is_empty(),
            "a standby has no binds"
        );
        assert_eq!(body.tps_limit, 200);
        assert_eq!(body.rate_last_minute, 2.0, "121 submits over 60 s");
        assert_eq!(body.receipts_pending, 3);
        assert_eq!(body.activity.last_errors[0].name, "ESME_RTHROTTLED");
        assert_eq!(body.activity.transitions[0].state, "BOUND");
        assert_eq!(body.activity.reconnects_last_hour, 1);
        let _ = stop.send(());

        let none = AppState {
            status: None,
            ..state
        };
        let (base, stop) = start(none).await;
        let r = reqwest::get(format!("{base}/status")).await.unwrap();
        assert_eq!(r.status(), 404);
        let _ = stop.send(());
    }
}
