//! The SMPP client session engine.
//!
//! [`SessionEngine::start`] runs one logical session to an SMSC (primary, optionally a backup)
//! and returns a [`SessionHandle`] plus the [`SessionStreams`] of what the SMSC sends.
//!
//! - **Binds** ([`bind`]): bind_transceiver first; if refused with generic_nack,
//!   `ESME_RINVCMDID`, `ESME_RINVBNDSTS` or a configured status, bind_transmitter +
//!   bind_receiver on two connections (remembered per endpoint). `bind.mode` can force either.
//!   interface_version 0x34; the SMSC's sc_interface_version is accepted whatever it is.
//! - **Window** ([`window`]): at most `session.window` submits outstanding;
//!   [`SessionHandle::submit`] waits for space, then for the response. Sequence numbers run
//!   1..=0x7FFFFFFF and wrap. A request unanswered after `responseTimeoutMs` returns
//!   [`SubmitError::ResponseTimeout`]; a response arriving later is still matched and comes
//!   out of [`SessionStreams::late`]. When a connection drops, every outstanding submit
//!   returns [`SubmitError::Disconnected`] (retryable), nothing is lost silently.
//! - **Bind pool**: `session.binds` binds share one queue; a queued submit goes to the bind
//!   with the most free window (within a quarter of the window), never to a full, paused or
//!   lost bind while another has room (`board`).
//! - **Heartbeat** ([`heartbeat`]): enquire_link after `enquireLinkIntervalSeconds` without
//!   reading; no answer within `enquireLinkTimeoutSeconds`, or nothing read for
//!   `readIdleTimeoutSeconds`, and the connection is dead and re-established.
//! - **SMSC requests**: enquire_link is answered, unbind gets unbind_resp and the connection
//!   closes; unknown or malformed requests get generic_nack with the matching status and
//!   sequence number; deliver_sm / data_sm / alert_notification go to the application as
//!   [`Inbound`] with a [`Responder`] (the application chooses `ESME_ROK` or
//!   `ESME_RX_T_APPN`; an unanswered responder sends `ESME_RX_T_APPN` when dropped).
//! - **Reconnect** ([`backoff`]): 5, 10, 20, 40, 60 s (configurable) with ±20 % jitter. A bind
//!   refused for credentials calls [`CredentialsProvider::refresh`], waits the slower
//!   `credentialsBackoffSeconds` and shows [`UnboundCause::CredentialsRefused`].
//! - **Failover** ([`failover`]): after `failover.afterFailures` consecutive primary failures
//!   or `afterSeconds` without a bind there, bind to the backup; while there, probe the primary
//!   every `probeIntervalSeconds`; once a probe stays bound `failbackHoldSeconds`, drain the
//!   backup, unbind it and bind the primary. Each change is a [`SessionEvent`] (BOUND,
//!   FAILBACK, UNBOUND with endpoint, address, bind mode and reason).
//! - **Throttling** ([`throttle`], [`slowdown`]): `ESME_RTHROTTLED` lowers the session's send
//!   rate (AIMD); `ESME_RMSGQFUL` pauses sending, 100 ms at first, then probes with one
//!   submit, the pause doubling while refused up to `retry.queueFullPauseMs` and halving with
//!   each accepted submit. Such a submit is resent as soon as the pacer allows, without using
//!   up `retry.maxAttempts`; it is bounded by its validity ([`SessionHandle::submit_before`])
//!   or else by `retry.maxAttempts × retry.maxDelayMs` from its first send. Other retryable
//!   statuses are retried after `retry.initialDelayMs` doubling to `retry.maxDelayMs`, at
//!   most `retry.maxAttempts` attempts. Never sent after its validity ended. Every
//!   command_status is classed in [`status_class`].
//! - **Graceful stop**: [`SessionHandle::shutdown`] takes no new submits, waits for the
//!   outstanding responses up to its deadline, unbinds and closes.
//! - **TLS and source address** ([`connection`]): per endpoint, rustls with a custom CA and an
//!   optional client certificate; optional local bind address.
//! - **Counters** ([`counters`]): PDUs per command/direction/status, window occupancy, response
//!   latency histogram, reconnects, timeouts: [`SessionHandle::counters`].

/// The `tracing` target of the spans exported as distributed traces (the service's telemetry): kept
/// out of the log, and disabled (one callsite check) when tracing is off.
pub const TRACE_TARGET: &str = "smpp_trace";

pub mod backoff;
pub mod bind;
mod bind_rate;
mod board;
pub mod connection;
pub mod counters;
pub mod credentials;
pub mod failover;
pub mod gate;
pub mod heartbeat;
pub mod inbound;
mod link;
pub mod slowdown;
pub mod state;
pub mod status_class;
pub mod submit;
mod supervisor;
pub mod throttle;
pub mod window;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch, Mutex, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use counters::{Counters, CountersSnapshot, Direction, Histogram};
pub use credentials::{CredentialsError, CredentialsProvider, SmppCredentials, StaticCredentials};
pub use failover::EndpointPin;
pub use gate::{Permit, SubmitGate, Ungated};
pub use inbound::{Inbound, Responder};
pub use slowdown::{SlowDown, SlowDownMeter, SlowDownSnapshot};
pub use state::{
    BindInfo, BindMode, BindSlotState, EndpointRole, HealthState, SessionEvent, SessionState,
    UnboundCause,
};
pub use status_class::{classify, StatusClass};
pub use submit::{LateResponse, SubmitError, SubmitOutcome};

use crate::protocol::codec::{Body, Pdu, SubmitSm};
use crds::config::{
    BindConfig, ConnectorConfig, Endpoint, FailoverConfig, RetryConfig, SessionConfig,
};
use link::LinkContext;
use submit::{SubmitJob, WindowPermit};
use supervisor::{Shared, Supervisor};

/// Everything the engine needs from the connector configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// The primary SMSC.
    pub primary: Endpoint,
    /// The backup SMSC.
    pub backup: Option<Endpoint>,
    /// Bind mode and parameters.
    pub bind: BindConfig,
    /// Window and timers.
    pub session: SessionConfig,
    /// Failover and failback.
    pub failover: FailoverConfig,
    /// Retries after throttling.
    pub retry: RetryConfig,
    /// `throttle.perBindTps`: submits per second on any one bind (0: no cap).
    pub per_bind_tps: u32,
}

impl EngineConfig {
    /// Defaults for everything but the primary endpoint.
    pub fn new(primary: Endpoint) -> Self {
        Self {
            primary,
            backup: None,
            bind: BindConfig::default(),
            session: SessionConfig::default(),
            failover: FailoverConfig::default(),
            retry: RetryConfig::default(),
            per_bind_tps: 0,
        }
    }

    /// The engine's part of the connector configuration.
    pub fn from_connector(c: &ConnectorConfig) -> Self {
        Self {
            primary: c.primary.clone(),
            backup: c.backup.clone(),
            bind: c.bind.clone(),
            session: c.session.clone(),
            failover: c.failover.clone(),
            retry: c.retry.clone(),
            per_bind_tps: c.throttle.per_bind_tps,
        }
    }
}

/// What the SMSC sends the application.
#[derive(Debug)]
pub struct SessionStreams {
    /// deliver_sm, data_sm and alert_notification, each with its responder.
    pub inbound: mpsc::Receiver<Inbound>,
    /// Responses that arrived after their submit had timed out.
    pub late: mpsc::Receiver<LateResponse>,
    /// Every state change from the start (subscribed before the first connect, so that the
    /// first BOUND is never missed; [`SessionHandle::events`] only sees later ones).
    pub events: broadcast::Receiver<SessionEvent>,
}

/// Starts sessions.
#[derive(Debug)]
pub struct SessionEngine;

impl SessionEngine {
    /// Starts the engine on the current tokio runtime. It connects at once and keeps a
    /// session bound until [`SessionHandle::shutdown`] (or until every handle is dropped).
    pub fn start(
        config: EngineConfig,
        credentials: Arc<dyn CredentialsProvider>,
    ) -> (SessionHandle, SessionStreams) {
        Self::start_gated(config, credentials, Arc::new(Ungated))
    }

    /// Like [`SessionEngine::start`], with every submit also waiting for a permit of `gate`
    /// (the operator's TPS budget) once its window place is taken.
    pub fn start_gated(
        config: EngineConfig,
        credentials: Arc<dyn CredentialsProvider>,
        gate: Arc<dyn SubmitGate>,
    ) -> (SessionHandle, SessionStreams) {
        let per_bind = config.session.window.clamp(1, 65_536) as usize;
        let window = per_bind * config.session.binds.clamp(1, 16) as usize;
        let counters = Arc::new(Counters::default());
        let (inbound_tx, inbound_rx) = mpsc::channel(window.max(64));
        let (late_tx, late_rx) = mpsc::channel(4096);
        let (jobs_tx, jobs_rx) = flume::bounded(window);
        let (state_tx, state_rx) = watch::channel(SessionState::Unbound {
            cause: UnboundCause::Network("starting".into()),
            retry_in: Duration::ZERO,
        });
        let (bound_tx, bound_rx) = watch::channel(false);
        let (events_tx, events_rx) = broadcast::channel(256);
        let (stop_tx, stop_rx) = watch::channel(None);
        let (binds_tx, binds_rx) = watch::channel(Vec::new());
        let shared = Arc::new(Shared {
            state: state_tx,
            binds: binds_tx,
            bound: bound_tx,
            events: events_tx,
            pin: watch::channel(EndpointPin::Auto).0,
        });
        let slow_down = Arc::new(SlowDownMeter::default());
        let ctx = Arc::new(LinkContext {
            counters: counters.clone(),
            slow_down: slow_down.clone(),
            inbound: inbound_tx,
            late: late_tx,
            session: config.session.clone(),
            retry: config.retry.clone(),
            gate: gate.clone(),
            window: per_bind,
            per_bind_tps: config.per_bind_tps,
        });
        let supervisor = Supervisor {
            cfg: Arc::new(config),
            creds: credentials,
            ctx,
            jobs: jobs_rx,
            shared: shared.clone(),
            stop: stop_rx,
        };
        let task = tokio::spawn(supervisor.run());
        let handle = SessionHandle {
            inner: Arc::new(Inner {
                jobs: jobs_tx,
                window: Arc::new(Semaphore::new(window)),
                window_size: window,
                gate,
                counters,
                slow_down,
                state: state_rx,
                binds: binds_rx,
                bound: bound_rx,
                shared,
                stop: stop_tx,
                task: Mutex::new(Some(task)),
            }),
        };
        (
            handle,
            SessionStreams {
                inbound: inbound_rx,
                late: late_rx,
                events: events_rx,
            },
        )
    }
}

#[derive(Debug)]
struct Inner {
    jobs: flume::Sender<SubmitJob>,
    window: Arc<Semaphore>,
    window_size: usize,
    gate: Arc<dyn SubmitGate>,
    counters: Arc<Counters>,
    slow_down: Arc<SlowDownMeter>,
    state: watch::Receiver<SessionState>,
    binds: watch::Receiver<Vec<BindInfo>>,
    bound: watch::Receiver<bool>,
    shared: Arc<Shared>,
    stop: watch::Sender<Option<Instant>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Controls a running engine; cheap to clone.
#[derive(Clone, Debug)]
pub struct SessionHandle {
    inner: Arc<Inner>,
}

impl SessionHandle {
    /// Sends a submit_sm: waits for window space, then for the SMSC's response (retrying
    /// after throttling as configured).
    pub async fn submit(&self, sm: SubmitSm) -> Result<SubmitOutcome, SubmitError> {
        self.send(sm, None, None).await
    }

    /// Like [`SessionHandle::submit`] for a message valid until `expires`: never written at
    /// or after it ([`SubmitError::Expired`] instead), its relative validity_period rewritten
    /// to the time left at each send. While it waits for its window place or its gate permit,
    /// `cancel` gives it up ([`SubmitError::ShuttingDown`], nothing written); once handed to
    /// the link it is always answered.
    pub async fn submit_before(
        &self,
        sm: SubmitSm,
        expires: Option<Instant>,
        cancel: &CancellationToken,
    ) -> Result<SubmitOutcome, SubmitError> {
        self.send(sm, expires, Some(cancel)).await
    }

    async fn send(
        &self,
        sm: SubmitSm,
        expires: Option<Instant>,
        cancel: Option<&CancellationToken>,
    ) -> Result<SubmitOutcome, SubmitError> {
        let inner = &*self.inner;
        if inner.stop.borrow().is_some() {
            return Err(SubmitError::ShuttingDown);
        }
        if !*inner.bound.borrow() {
            return Err(SubmitError::NotBound);
        }
        // The window place, then the gate's permit: taken together, right before the link.
        let admitted = async {
            let permit = inner.window.clone().acquire_owned().await.ok()?;
            let gate = inner
                .gate
                .permit()
                .instrument(tracing::info_span!(target: TRACE_TARGET, "smpp.tps_wait"))
                .await;
            Some((permit, gate))
        };
        let (permit, gate) = match cancel {
            Some(cancel) => tokio::select! {
                biased;
                _ = cancel.cancelled() => None,
                p = admitted => p,
            },
            None => admitted.await,
        }
        .ok_or(SubmitError::ShuttingDown)?;
        let (reply, response) = oneshot::channel();
        let job = SubmitJob::new(
            Pdu::new(0, Body::SubmitSm(sm)),
            expires,
            gate,
            reply,
            WindowPermit::new(permit, inner.counters.clone()),
        );
        inner
            .jobs
            .send_async(job)
            .await
            .map_err(|_| SubmitError::ShuttingDown)?;
        response.await.unwrap_or(Err(SubmitError::Disconnected {
            maybe_accepted: true,
        }))
    }

    /// Pins the pool to the backup (a manual failover, at once) or back to automatic failover
    /// and failback (the usual probe and hold time bring it back to the primary).
    pub fn pin_endpoint(&self, pin: EndpointPin) {
        self.inner.shared.pin.send_replace(pin);
    }

    /// Free places in the window: how many submits may be started now without waiting.
    pub fn free_window(&self) -> usize {
        self.inner.window.available_permits()
    }

    /// The binds of the pool: state, endpoint, mode, window in use.
    pub fn binds(&self) -> Vec<BindInfo> {
        self.inner.binds.borrow().clone()
    }

    /// A receiver of the pool's binds (changes on every bind state change).
    pub fn watch_binds(&self) -> watch::Receiver<Vec<BindInfo>> {
        self.inner.binds.clone()
    }

    /// The configured window size over every bind of the pool (`session.window` × binds).
    pub fn window_size(&self) -> usize {
        self.inner.window_size
    }

    /// The slow-down after throttling answers: state, time paused, rate.
    pub fn slow_down(&self) -> SlowDownSnapshot {
        self.inner.slow_down.snapshot()
    }

    /// A receiver of the slow-down state (changes on entering and leaving only).
    pub fn watch_slow_down(&self) -> watch::Receiver<SlowDown> {
        self.inner.slow_down.watch()
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.inner.state.borrow().clone()
    }

    /// A receiver of the current state.
    pub fn watch_state(&self) -> watch::Receiver<SessionState> {
        self.inner.state.clone()
    }

    /// A receiver of "bound or not" (for the dispatch puller).
    pub fn watch_bound(&self) -> watch::Receiver<bool> {
        self.inner.bound.clone()
    }

    /// Every state change from now on (BOUND / FAILBACK / UNBOUND events).
    pub fn events(&self) -> broadcast::Receiver<SessionEvent> {
        self.inner.shared.events.subscribe()
    }

    /// A copy of the counters.
    pub fn counters(&self) -> CountersSnapshot {
        self.inner.counters.snapshot(self.inner.window_size)
    }

    /// Stops gracefully: no new submits, outstanding responses awaited until `deadline`
    /// from now, then unbind and close. Returns once the engine has stopped.
    pub async fn shutdown(&self, deadline: Duration) {
        let inner = &*self.inner;
        inner.stop.send_replace(Some(Instant::now() + deadline));
        inner.shared.state.send_replace(SessionState::Stopping);
        let task = inner.task.lock().await.take();
        if let Some(task) = task {
            let grace = deadline + Duration::from_secs(inner_unbind_wait());
            if tokio::time::timeout(grace, task).await.is_err() {
                tracing::warn!("session engine did not stop in time");
            }
        }
        inner.window.close();
    }
}

/// Seconds allowed for the unbind exchange after the drain deadline.
fn inner_unbind_wait() -> u64 {
    15
}
