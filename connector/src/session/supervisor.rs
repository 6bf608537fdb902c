//! The engine's main task: connect and bind (with the transmitter + receiver fallback),
//! run the bound links, reconnect with backoff, fail over to the backup and probe the
//! primary for failback, and publish every state change.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

use super::backoff::{Backoff, FailureKind};
use super::bind::{bind, bind_body, classify_refusal, BindError, BindKind, Refusal};
use super::connection::{connect, ConnectError};
use super::credentials::{CredentialsError, CredentialsProvider};
use super::failover::Failover;
use super::link::{Link, LinkContext, LinkEnd};

/// How long a bind must stay up before its loss counts as a fresh start: the reconnect
/// backoff is reset, and the next connect is immediate. A bind lost sooner continues the
/// backoff where it was (5 s, 10 s, ... 60 s by default).
pub const STABLE_BIND: Duration = Duration::from_secs(30);
use super::state::{SessionEvent, SessionState, UnboundCause};
use super::submit::{SubmitError, SubmitJob};
use super::EngineConfig;
use crate::session::state::{BindMode, EndpointRole, HealthState};
use crds::config::Endpoint;

/// What the handle and the supervisor share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub state: watch::Sender<SessionState>,
    pub bound: watch::Sender<bool>,
    pub events: broadcast::Sender<SessionEvent>,
}

/// The bound connections of one session.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // Built once per bind; boxing buys nothing.
enum Established {
    Transceiver(Link),
    Pair { tx: Link, rx: Link },
}

impl Established {
    fn mode(&self) -> BindMode {
        match self {
            Established::Transceiver(_) => BindMode::Transceiver,
            Established::Pair { .. } => BindMode::TransmitterReceiver,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum EstablishError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
}

pub(crate) struct Supervisor {
    pub cfg: Arc<EngineConfig>,
    pub creds: Arc<dyn CredentialsProvider>,
    pub ctx: Arc<LinkContext>,
    pub jobs: mpsc::Receiver<SubmitJob>,
    pub shared: Arc<Shared>,
    pub stop: watch::Receiver<Option<Instant>>,
}

fn index(role: EndpointRole) -> usize {
    match role {
        EndpointRole::Primary => 0,
        EndpointRole::Backup => 1,
    }
}

fn endpoint(cfg: &EngineConfig, role: EndpointRole) -> &Endpoint {
    match (role, &cfg.backup) {
        (EndpointRole::Backup, Some(b)) => b,
        _ => &cfg.primary,
    }
}

/// Connects and binds to `role`, falling back to transmitter + receiver when the SMSC
/// refuses transceiver binds (remembered in `pair` for that endpoint).
async fn establish(
    cfg: &EngineConfig,
    creds: &dyn CredentialsProvider,
    role: EndpointRole,
    pair: &mut [bool; 2],
) -> Result<Established, EstablishError> {
    let ep = endpoint(cfg, role);
    let s = &cfg.session;
    let timeout = Duration::from_secs(s.bind_timeout_seconds.max(1));
    let credentials = creds.credentials(role).await?;
    let body = bind_body(&credentials, &cfg.bind)?;
    let use_pair = match cfg.bind.mode {
        BindMode::Transceiver => false,
        BindMode::TransmitterReceiver => true,
        BindMode::Auto => pair[index(role)],
    };
    let open = |kind: BindKind| {
        let body = body.clone();
        async move {
            let mut transport = connect(ep, s.max_pdu_bytes, timeout).await?;
            let accepted = bind(&mut transport, kind, body, 1, timeout).await?;
            tracing::debug!(?kind, smsc = %accepted.smsc_system_id, version = ?accepted.sc_interface_version, "bound");
            Ok::<_, EstablishError>(Link {
                transport,
                kind,
                endpoint: role,
                first_sequence: 2,
            })
        }
    };
    if !use_pair {
        match open(BindKind::Transceiver).await {
            Ok(link) => return Ok(Established::Transceiver(link)),
            Err(EstablishError::Bind(BindError::Refused { kind, status, nack }))
                if cfg.bind.mode == BindMode::Auto
                    && classify_refusal(kind, status, nack, &cfg.bind.fallback_statuses)
                        == Refusal::TransceiverUnsupported =>
            {
                tracing::info!(address = %ep.address(), %status, nack, "transceiver bind refused; falling back to transmitter + receiver");
                pair[index(role)] = true;
            }
            Err(e) => return Err(e),
        }
    }
    let tx = open(BindKind::Transmitter).await?;
    let rx = open(BindKind::Receiver).await?;
    Ok(Established::Pair { tx, rx })
}

/// Runs the links of one established session until it ends.
async fn run_links(
    est: Established,
    ctx: &LinkContext,
    jobs: Option<&mut mpsc::Receiver<SubmitJob>>,
    stop: &watch::Sender<Option<Instant>>,
    hold: Option<Duration>,
) -> LinkEnd {
    let sibling_gone = || {
        let grace = Duration::from_secs(ctx.session.drain_timeout_seconds.min(5));
        stop.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(Instant::now() + grace);
                true
            } else {
                false
            }
        });
    };
    match est {
        Established::Transceiver(link) => link.run(ctx, jobs, stop.subscribe(), hold).await,
        Established::Pair { tx, rx } => {
            let a = async {
                let end = tx.run(ctx, jobs, stop.subscribe(), hold).await;
                sibling_gone();
                end
            };
            let b = async {
                let end = rx.run(ctx, None, stop.subscribe(), hold).await;
                sibling_gone();
                end
            };
            let (ea, eb) = tokio::join!(a, b);
            match (&ea, &eb) {
                (LinkEnd::Held, LinkEnd::Held) => LinkEnd::Held,
                (LinkEnd::Unbound | LinkEnd::Held, _) => eb,
                _ => ea,
            }
        }
    }
}

impl Supervisor {
    pub(crate) async fn run(mut self) {
        let now = Instant::now();
        let cfg = self.cfg.clone();
        let s = &cfg.session;
        let mut failover = Failover::new(&cfg.failover, cfg.backup.is_some(), now);
        let mut backoff = Backoff::new(
            Duration::from_secs(s.reconnect_initial_seconds.max(1)),
            Duration::from_secs(s.reconnect_max_seconds.max(1)),
            Duration::from_secs(s.credentials_backoff_seconds.max(1)),
        );
        let mut pair = [false; 2];
        let mut bound_before = false;
        let mut last_event: Option<SessionEvent> = None;
        let mut linger: Option<Linger> = None;
        loop {
            if self.stopping() {
                break;
            }
            let role = failover.active();
            if role == EndpointRole::Backup {
                if let Some(l) = linger.take() {
                    l.end(Instant::now()).await;
                }
            }
            let address = endpoint(&cfg, role).address();
            self.shared.state.send_replace(SessionState::Connecting {
                endpoint: role,
                address: address.clone(),
            });
            let attempt = tokio::select! {
                r = establish(&cfg, &*self.creds, role, &mut pair) => Some(r),
                _ = wait_stop(&mut self.stop) => None,
            };
            let Some(attempt) = attempt else { break };
            match attempt {
                Ok(est) => {
                    failover.on_bound(role);
                    if bound_before {
                        self.ctx.counters.reconnect();
                    }
                    bound_before = true;
                    let mode = est.mode();
                    let reason = match role {
                        EndpointRole::Primary => "bound to the primary".to_string(),
                        EndpointRole::Backup => "bound to the backup".to_string(),
                    };
                    tracing::info!(endpoint = ?role, %address, ?mode, "session bound");
                    self.shared.state.send_replace(SessionState::Bound {
                        endpoint: role,
                        address: address.clone(),
                        mode,
                    });
                    self.shared.bound.send_replace(true);
                    self.emit(
                        &mut last_event,
                        SessionEvent::bound(role, address.clone(), mode, reason),
                    );
                    let since = Instant::now();
                    let (end, failback) = self.run_bound(est, role, &failover, &pair).await;
                    self.shared.bound.send_replace(false);
                    let now = Instant::now();
                    failover.on_lost(role, now);
                    if self.stopping() {
                        break;
                    }
                    let reason = if failback {
                        linger = Linger::start(&cfg, &self.creds, &self.ctx, pair);
                        let sw = failover.on_probe_healthy(now);
                        sw.reason
                    } else {
                        format!("session lost: {}", end.reason())
                    };
                    tracing::warn!(endpoint = ?role, %address, %reason, "session unbound");
                    self.emit(&mut last_event, SessionEvent::unbound(reason.clone()));
                    let cause = UnboundCause::Network(reason);
                    // A session that lasted is re-established at once and forgets earlier
                    // failures; a flapping one (bound, then lost within STABLE_BIND) backs
                    // off further each time.
                    if now.duration_since(since) >= STABLE_BIND {
                        backoff.reset();
                    } else if !failback {
                        let delay = backoff.next(FailureKind::Network);
                        if self.idle(cause, delay).await {
                            break;
                        }
                    }
                }
                Err(e) => {
                    let (kind, cause) = match &e {
                        EstablishError::Bind(BindError::Refused { kind, status, nack }) => {
                            match classify_refusal(
                                *kind,
                                *status,
                                *nack,
                                &cfg.bind.fallback_statuses,
                            ) {
                                Refusal::Credentials => (
                                    FailureKind::Credentials,
                                    UnboundCause::CredentialsRefused { status: *status },
                                ),
                                _ => (
                                    FailureKind::Network,
                                    UnboundCause::BindRefused { status: *status },
                                ),
                            }
                        }
                        EstablishError::Bind(BindError::InvalidCredentials(m)) => (
                            FailureKind::Credentials,
                            UnboundCause::CredentialsUnavailable(m.clone()),
                        ),
                        EstablishError::Credentials(c) => (
                            FailureKind::Credentials,
                            UnboundCause::CredentialsUnavailable(c.0.clone()),
                        ),
                        other => (
                            FailureKind::Network,
                            UnboundCause::Network(other.to_string()),
                        ),
                    };
                    tracing::warn!(endpoint = ?role, %address, error = %e, "bind failed");
                    if matches!(cause, UnboundCause::CredentialsRefused { .. }) {
                        if let Err(err) = self.creds.refresh(role).await {
                            tracing::warn!(endpoint = ?role, error = %err, "credentials refresh failed");
                        }
                    }
                    let reason = match &cause {
                        UnboundCause::CredentialsRefused { status } => {
                            format!("credentials refused by {address} ({status})")
                        }
                        _ => format!("{role:?} {address}: {e}").to_lowercase(),
                    };
                    self.emit(&mut last_event, SessionEvent::unbound(reason));
                    let switch = failover.on_failure(role, Instant::now());
                    if let Some(sw) = &switch {
                        tracing::warn!(to = ?sw.to, reason = %sw.reason, "failover");
                    }
                    if switch.is_some_and(|sw| sw.to == EndpointRole::Backup) {
                        continue;
                    }
                    let delay = backoff.next(kind);
                    if self.idle(cause, delay).await {
                        break;
                    }
                }
            }
        }
        self.shared.bound.send_replace(false);
        if let Some(l) = linger.take() {
            let deadline = self.stop.borrow().unwrap_or_else(Instant::now);
            l.end(deadline).await;
        }
        self.jobs.close();
        while let Ok(job) = self.jobs.try_recv() {
            job.finish(Err(SubmitError::ShuttingDown));
        }
        if last_event
            .as_ref()
            .is_some_and(|e| e.state != HealthState::Unbound)
        {
            self.emit(&mut last_event, SessionEvent::unbound("stopped".into()));
        }
        self.shared.state.send_replace(SessionState::Stopped);
    }

    fn stopping(&self) -> bool {
        self.stop.borrow().is_some() || self.stop.has_changed().is_err()
    }

    fn emit(&self, last: &mut Option<SessionEvent>, event: SessionEvent) {
        if last.as_ref() != Some(&event) {
            let _ = self.shared.events.send(event.clone());
            *last = Some(event);
        }
    }

    /// Waits `delay` unbound, answering queued submits with `NotBound`; `true` if stopped.
    async fn idle(&mut self, cause: UnboundCause, delay: Duration) -> bool {
        self.shared.state.send_replace(SessionState::Unbound {
            cause,
            retry_in: delay,
        });
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return false,
                job = self.jobs.recv() => match job {
                    Some(job) => job.finish(Err(SubmitError::NotBound)),
                    None => return true,
                },
                _ = wait_stop(&mut self.stop) => return true,
            }
        }
    }

    /// Runs a bound session; on the backup, probes the primary and drains for failback.
    async fn run_bound(
        &mut self,
        est: Established,
        role: EndpointRole,
        failover: &Failover,
        pair: &[bool; 2],
    ) -> (LinkEnd, bool) {
        let Self {
            cfg,
            creds,
            ctx,
            jobs,
            stop,
            shared,
            ..
        } = self;
        let (session_stop, _) = watch::channel(*stop.borrow());
        let links = run_links(est, ctx, Some(jobs), &session_stop, None);
        let probing = role == EndpointRole::Backup;
        let interval = failover.probe_interval();
        let hold = failover.hold();
        let mut probe_pair = *pair;
        let (probe_stop, _) = watch::channel(None);
        let probe = async {
            loop {
                tokio::time::sleep(interval).await;
                match establish(cfg, &**creds, EndpointRole::Primary, &mut probe_pair).await {
                    Ok(est) => {
                        tracing::info!("primary bound by probe; holding");
                        let end = run_links(est, ctx, None, &probe_stop, Some(hold)).await;
                        if end == LinkEnd::Held {
                            return;
                        }
                        tracing::info!(reason = %end.reason(), "primary probe did not hold");
                    }
                    Err(e) => tracing::debug!(error = %e, "primary probe failed"),
                }
            }
        };
        tokio::pin!(links);
        tokio::pin!(probe);
        let mut failback = false;
        let mut stop_forwarded = false;
        let _ = shared;
        loop {
            tokio::select! {
                end = &mut links => return (end, failback),
                _ = &mut probe, if probing && !failback => {
                    failback = true;
                    let drain = Duration::from_secs(cfg.session.drain_timeout_seconds);
                    session_stop.send_replace(Some(Instant::now() + drain));
                }
                changed = stop.changed(), if !stop_forwarded => {
                    let deadline = match changed {
                        Ok(()) => *stop.borrow_and_update(),
                        Err(_) => Some(Instant::now()),
                    };
                    if deadline.is_some() {
                        stop_forwarded = true;
                        session_stop.send_replace(deadline);
                    }
                }
            }
        }
    }
}

/// After a failback, a bind to the backup that sends nothing, kept for
/// `failover.receiptLingerSeconds` so that the receipts the backup still holds for the messages
/// it accepted are delivered: an SMSC delivers a receipt only to a bound receiver of the
/// system_id, and keeps it while none is bound.
struct Linger {
    stop: watch::Sender<Option<Instant>>,
    task: tokio::task::JoinHandle<()>,
}

impl Linger {
    /// Starts lingering on the backup, unless it is configured off or there is no backup.
    fn start(
        cfg: &Arc<EngineConfig>,
        creds: &Arc<dyn CredentialsProvider>,
        ctx: &Arc<LinkContext>,
        pair: [bool; 2],
    ) -> Option<Self> {
        let linger = Duration::from_secs(cfg.failover.receipt_linger_seconds);
        if linger.is_zero() || cfg.backup.is_none() {
            return None;
        }
        let (stop, stop_rx) = watch::channel(None);
        let task = tokio::spawn(run_linger(
            cfg.clone(),
            creds.clone(),
            ctx.clone(),
            pair,
            linger,
            stop_rx,
        ));
        Some(Self { stop, task })
    }

    /// Unbinds by `deadline` (draining what the SMSC is sending) and waits for the end.
    async fn end(self, deadline: Instant) {
        self.stop.send_replace(Some(deadline));
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "backup receipt bind task failed");
        }
    }
}

async fn run_linger(
    cfg: Arc<EngineConfig>,
    creds: Arc<dyn CredentialsProvider>,
    ctx: Arc<LinkContext>,
    mut pair: [bool; 2],
    linger: Duration,
    mut stop: watch::Receiver<Option<Instant>>,
) {
    let until = Instant::now() + linger;
    let retry = Duration::from_secs(cfg.failover.probe_interval_seconds.max(1));
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || stop.borrow().is_some() {
            return;
        }
        let attempt = tokio::select! {
            r = establish(&cfg, &*creds, EndpointRole::Backup, &mut pair) => r,
            _ = wait_stop(&mut stop) => return,
        };
        match attempt {
            Ok(est) => {
                tracing::info!(
                    seconds = left.as_secs(),
                    "bound to the backup, sending nothing, for the receipts it holds"
                );
                let (link_stop, _) = watch::channel(None);
                let links = run_links(est, &ctx, None, &link_stop, Some(left));
                tokio::pin!(links);
                let end = tokio::select! {
                    end = &mut links => end,
                    _ = wait_stop(&mut stop) => {
                        let deadline = *stop.borrow();
                        link_stop.send_replace(deadline);
                        (&mut links).await
                    }
                };
                if matches!(end, LinkEnd::Held | LinkEnd::Unbound) {
                    return;
                }
                tracing::info!(reason = %end.reason(), "backup receipt bind lost");
            }
            Err(e) => tracing::debug!(error = %e, "backup receipt bind failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = wait_stop(&mut stop) => return,
        }
    }
}

/// Resolves when a stop is requested (or the handle side is gone).
async fn wait_stop(stop: &mut watch::Receiver<Option<Instant>>) {
    loop {
        if stop.borrow_and_update().is_some() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}
