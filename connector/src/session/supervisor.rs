//! The engine's main task: connect and bind (with the transmitter + receiver fallback),
//! run the bound links, reconnect with backoff, fail over to the backup and probe the
//! primary for failback, and publish every state change.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

use super::backoff::{Backoff, FailureKind};
use super::bind::{bind, bind_body, classify_refusal, BindError, BindKind, Refusal};
use super::board::{Board, Seat};
use super::connection::{connect, ConnectError};
use super::credentials::{CredentialsError, CredentialsProvider};
use super::failover::{EndpointPin, Failover};
use super::link::{Link, LinkContext, LinkEnd};

/// How long a bind must stay up before its loss counts as a fresh start: the reconnect
/// backoff is reset, and the next connect is immediate. A bind lost sooner continues the
/// backoff where it was (5 s, 10 s, ... 60 s by default).
pub const STABLE_BIND: Duration = Duration::from_secs(30);
use super::state::{SessionEvent, SessionState, UnboundCause};
use super::submit::{SubmitError, SubmitJob};
use super::EngineConfig;
use crate::session::state::{BindInfo, BindMode, BindSlotState, EndpointRole, HealthState};
use crds::config::Endpoint;

/// What the handle and the supervisor share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub state: watch::Sender<SessionState>,
    pub binds: watch::Sender<Vec<BindInfo>>,
    pub bound: watch::Sender<bool>,
    pub events: broadcast::Sender<SessionEvent>,
    pub pin: watch::Sender<EndpointPin>,
}

/// The bound connections of one session.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // Built once per bind; boxing buys nothing.
enum Established {
    Transceiver(Link),
    Pair { tx: Link, rx: Link },
}

impl Established {
    /// Makes the sending link show its outstanding submits in `in_use` and take queued
    /// submits by its `seat` on the pool's board.
    fn attach(&mut self, in_use: &Arc<std::sync::atomic::AtomicU32>, seat: Seat) {
        match self {
            Established::Transceiver(link) | Established::Pair { tx: link, .. } => {
                link.in_use = in_use.clone();
                link.seat = Some(seat);
            }
        }
    }

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
    pub jobs: flume::Receiver<SubmitJob>,
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
                in_use: Arc::default(),
                seat: None,
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
    jobs: Option<flume::Receiver<SubmitJob>>,
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

/// Why a bind attempt failed, as the state and the backoff see it.
struct Failure {
    kind: FailureKind,
    cause: UnboundCause,
    reason: String,
}

fn classify_failure(
    cfg: &EngineConfig,
    address: &str,
    role: EndpointRole,
    e: &EstablishError,
) -> Failure {
    let (kind, cause) = match e {
        EstablishError::Bind(BindError::Refused { kind, status, nack }) => {
            match classify_refusal(*kind, *status, *nack, &cfg.bind.fallback_statuses) {
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
    let reason = match &cause {
        UnboundCause::CredentialsRefused { status } => {
            format!("credentials refused by {address} ({status})")
        }
        _ => format!("{role:?} {address}: {e}").to_lowercase(),
    };
    Failure {
        kind,
        cause,
        reason,
    }
}

/// What a bind of the pool tells the supervisor.
enum SlotEvent {
    Binding(usize),
    Bound(usize, BindMode),
    Lost {
        slot: usize,
        reason: String,
        retry_in: Duration,
    },
    Failed {
        slot: usize,
        failure: Failure,
        retry_in: Duration,
    },
}

/// How a pool on one endpoint ended.
enum PoolEnd {
    /// The engine is stopping.
    Stopped,
    /// Failover decided a switch; wait this long first (unbound).
    Switch(Duration, UnboundCause),
    /// The primary probe held: failing back.
    Failback,
}

/// What every bind of a pool shares.
struct PoolCtx<'a> {
    cfg: &'a EngineConfig,
    creds: &'a dyn CredentialsProvider,
    ctx: &'a LinkContext,
    jobs: &'a flume::Receiver<SubmitJob>,
    role: EndpointRole,
    pair: &'a std::sync::Mutex<[bool; 2]>,
    stop: &'a watch::Sender<Option<Instant>>,
    events: mpsc::UnboundedSender<SlotEvent>,
}

impl PoolCtx<'_> {
    /// One bind of the pool: binds, runs, and rebinds after its own backoff until the pool
    /// stops. `in_use` is where its links show their outstanding submits, `seat` its place on
    /// the pool's hand-out board.
    async fn run_slot(&self, slot: usize, in_use: Arc<std::sync::atomic::AtomicU32>, seat: Seat) {
        let s = &self.cfg.session;
        let mut backoff = Backoff::new(
            Duration::from_secs(s.reconnect_initial_seconds.max(1)),
            Duration::from_secs(s.reconnect_max_seconds.max(1)),
            Duration::from_secs(s.credentials_backoff_seconds.max(1)),
        );
        let mut stop = self.stop.subscribe();
        let address = endpoint(self.cfg, self.role).address();
        loop {
            if stop.borrow().is_some() {
                return;
            }
            let _ = self.events.send(SlotEvent::Binding(slot));
            let mut pair = self.pair.lock().map(|p| *p).unwrap_or_default();
            let attempt = tokio::select! {
                r = establish(self.cfg, self.creds, self.role, &mut pair) => r,
                _ = wait_stop(&mut stop) => return,
            };
            if let Ok(mut shared) = self.pair.lock() {
                for (s, p) in shared.iter_mut().zip(pair) {
                    *s |= p;
                }
            }
            let retry_in = match attempt {
                Ok(mut est) => {
                    est.attach(&in_use, seat.clone());
                    let _ = self.events.send(SlotEvent::Bound(slot, est.mode()));
                    let since = Instant::now();
                    let end = self.run_bound(est).await;
                    let retry_in = if since.elapsed() >= STABLE_BIND {
                        backoff.reset();
                        Duration::ZERO
                    } else {
                        backoff.next(FailureKind::Network)
                    };
                    let reason = format!("session lost: {}", end.reason());
                    let _ = self.events.send(SlotEvent::Lost {
                        slot,
                        reason,
                        retry_in,
                    });
                    retry_in
                }
                Err(e) => {
                    tracing::warn!(endpoint = ?self.role, %address, bind = slot, error = %e, "bind failed");
                    let failure = classify_failure(self.cfg, &address, self.role, &e);
                    if slot == 0 && matches!(failure.cause, UnboundCause::CredentialsRefused { .. })
                    {
                        if let Err(err) = self.creds.refresh(self.role).await {
                            tracing::warn!(endpoint = ?self.role, error = %err, "credentials refresh failed");
                        }
                    }
                    let retry_in = backoff.next(failure.kind);
                    let _ = self.events.send(SlotEvent::Failed {
                        slot,
                        failure,
                        retry_in,
                    });
                    retry_in
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(retry_in) => {}
                _ = wait_stop(&mut stop) => return,
            }
        }
    }

    /// Runs one bound session of the pool, passing on the pool's drain deadline.
    async fn run_bound(&self, est: Established) -> LinkEnd {
        let mut pool_stop = self.stop.subscribe();
        let (slot_stop, _) = watch::channel(*pool_stop.borrow_and_update());
        let links = run_links(est, self.ctx, Some(self.jobs.clone()), &slot_stop, None);
        tokio::pin!(links);
        loop {
            tokio::select! {
                end = &mut links => return end,
                changed = pool_stop.changed() => {
                    let deadline = match changed {
                        Ok(()) => *pool_stop.borrow_and_update(),
                        Err(_) => Some(Instant::now()),
                    };
                    if deadline.is_some() {
                        slot_stop.send_replace(deadline);
                    }
                }
            }
        }
    }
}

impl Supervisor {
    pub(crate) async fn run(mut self) {
        let now = Instant::now();
        let cfg = self.cfg.clone();
        let mut failover = Failover::new(&cfg.failover, cfg.backup.is_some(), now);
        let pair = std::sync::Mutex::new([false; 2]);
        let mut last_event: Option<SessionEvent> = None;
        let mut linger: Option<Linger> = None;
        let mut bound_before = false;
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
            let end = self
                .run_pool(
                    role,
                    &mut failover,
                    &pair,
                    &mut last_event,
                    &mut bound_before,
                )
                .await;
            match end {
                PoolEnd::Stopped => break,
                PoolEnd::Switch(delay, cause) => {
                    if !delay.is_zero() && self.idle(cause, delay).await {
                        break;
                    }
                }
                PoolEnd::Failback => {
                    let p = pair.lock().map(|p| *p).unwrap_or_default();
                    linger = Linger::start(&cfg, &self.creds, &self.ctx, p);
                    let sw = failover.on_probe_healthy(Instant::now());
                    tracing::warn!(endpoint = ?role, reason = %sw.reason, "session unbound");
                    self.emit(&mut last_event, SessionEvent::unbound(sw.reason));
                }
            }
        }
        self.shared.bound.send_replace(false);
        if let Some(l) = linger.take() {
            let deadline = self.stop.borrow().unwrap_or_else(Instant::now);
            l.end(deadline).await;
        }
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

    /// Keeps `session.binds` binds to `role` until the engine stops, failover switches
    /// endpoint, or (on the backup) the primary probe holds. The pool is bound while at least
    /// one of its binds is.
    async fn run_pool(
        &mut self,
        role: EndpointRole,
        failover: &mut Failover,
        pair: &std::sync::Mutex<[bool; 2]>,
        last_event: &mut Option<SessionEvent>,
        bound_before: &mut bool,
    ) -> PoolEnd {
        let cfg = self.cfg.clone();
        let n = cfg.session.binds.clamp(1, 16) as usize;
        let address = endpoint(&cfg, role).address();
        let (pool_stop, _) = watch::channel(*self.stop.borrow());
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let in_use: Vec<Arc<std::sync::atomic::AtomicU32>> =
            (0..n).map(|_| Arc::default()).collect();
        let pool = PoolCtx {
            cfg: &cfg,
            creds: &*self.creds,
            ctx: &self.ctx,
            jobs: &self.jobs,
            role,
            pair,
            stop: &pool_stop,
            events: events_tx,
        };
        let board = Board::new(n, self.ctx.window);
        let slots = futures::future::join_all(
            (0..n).map(|i| pool.run_slot(i, in_use[i].clone(), board.seat(i))),
        );
        let probing = role == EndpointRole::Backup;
        let interval = failover.probe_interval();
        let hold = failover.hold();
        let (probe_stop, _) = watch::channel(None);
        let mut pin = self.shared.pin.subscribe();
        if *pin.borrow() == EndpointPin::Auto {
            failover.unpin();
        }
        // A pin set before this pool started is seen at once.
        pin.mark_changed();
        let mut pin_open = true;
        let probe = async {
            let mut probe_pair = pair.lock().map(|p| *p).unwrap_or_default();
            loop {
                tokio::time::sleep(interval).await;
                match establish(&cfg, &*self.creds, EndpointRole::Primary, &mut probe_pair).await {
                    Ok(est) => {
                        tracing::info!("primary bound by probe; holding");
                        let end = run_links(est, &self.ctx, None, &probe_stop, Some(hold)).await;
                        if end == LinkEnd::Held {
                            return;
                        }
                        tracing::info!(reason = %end.reason(), "primary probe did not hold");
                    }
                    Err(e) => tracing::debug!(error = %e, "primary probe failed"),
                }
            }
        };
        tokio::pin!(slots);
        tokio::pin!(probe);
        let mut pool = Pool::new(n, role);
        let mut end: Option<PoolEnd> = None;
        let mut stop_rx = self.stop.clone();
        let mut stop_forwarded = false;
        loop {
            tokio::select! {
                biased;
                _ = &mut slots => break,
                Some(ev) = events.recv() => {
                    let now = Instant::now();
                    match ev {
                        SlotEvent::Binding(i) => {
                            pool.set(i, BindSlotState::Binding, None, None);
                            if pool.bound() == 0 && end.is_none() {
                                self.shared.state.send_replace(SessionState::Connecting {
                                    endpoint: role,
                                    address: address.clone(),
                                });
                            }
                        }
                        SlotEvent::Bound(i, mode) => {
                            pool.set(i, BindSlotState::Bound, Some(mode), None);
                            if pool.bound() == 1 {
                                failover.on_bound(role);
                            }
                            if std::mem::replace(&mut pool.ever_bound[i], true) || (*bound_before && pool.bound() == 1) {
                                self.ctx.counters.reconnect();
                            }
                            *bound_before = true;
                            tracing::info!(endpoint = ?role, %address, ?mode, bind = i, bound = pool.bound(), "session bound");
                            self.show_bound(&pool, &address, last_event);
                        }
                        SlotEvent::Lost { slot, reason, retry_in } => {
                            pool.set(slot, BindSlotState::Unbound, None, Some(reason.clone()));
                            if end.is_some() || self.stopping() {
                                continue;
                            }
                            tracing::warn!(endpoint = ?role, %address, bind = slot, %reason, "session unbound");
                            if pool.bound() == 0 {
                                failover.on_lost(role, now);
                                self.shared.bound.send_replace(false);
                                self.emit(last_event, SessionEvent::unbound(reason.clone()));
                                self.shared.state.send_replace(SessionState::Unbound {
                                    cause: UnboundCause::Network(reason),
                                    retry_in,
                                });
                            } else {
                                self.show_bound(&pool, &address, last_event);
                            }
                        }
                        SlotEvent::Failed { slot, failure, retry_in } => {
                            pool.set(slot, BindSlotState::Refused, None, Some(failure.reason.clone()));
                            if end.is_some() || pool.bound() > 0 {
                                continue;
                            }
                            self.emit(last_event, SessionEvent::unbound(failure.reason.clone()));
                            self.shared.state.send_replace(SessionState::Unbound {
                                cause: failure.cause.clone(),
                                retry_in,
                            });
                            if slot != 0 {
                                continue;
                            }
                            // While no bind is up, the first bind's failures count for failover
                            // (one per round of the pool, not one per bind).
                            if let Some(sw) = failover.on_failure(role, now) {
                                tracing::warn!(to = ?sw.to, reason = %sw.reason, "failover");
                                let delay = if sw.to == EndpointRole::Backup { Duration::ZERO } else { retry_in };
                                end = Some(PoolEnd::Switch(delay, failure.cause));
                                pool_stop.send_replace(Some(now));
                            }
                        }
                    }
                    self.shared.binds.send_replace(pool.infos(&in_use));
                }
                // On the backup a change only wakes the loop, so that the probe's guard is
                // evaluated again (unpinned: the probe runs).
                changed = pin.changed(), if pin_open && end.is_none() => {
                    if changed.is_err() {
                        pin_open = false;
                        continue;
                    }
                    if *pin.borrow_and_update() == EndpointPin::Auto {
                        failover.unpin();
                        continue;
                    }
                    if role == EndpointRole::Backup {
                        continue;
                    }
                    if let Some(sw) = failover.pin_backup() {
                        tracing::warn!(to = ?sw.to, reason = %sw.reason, "failover");
                        let drain = Duration::from_secs(cfg.session.drain_timeout_seconds);
                        end = Some(PoolEnd::Switch(
                            Duration::ZERO,
                            UnboundCause::Network(sw.reason),
                        ));
                        pool_stop.send_replace(Some(Instant::now() + drain));
                    } else {
                        tracing::warn!("manual failover asked without a backup endpoint; ignored");
                    }
                }
                _ = &mut probe, if probing && end.is_none() && *self.shared.pin.borrow() != EndpointPin::Backup => {
                    let drain = Duration::from_secs(cfg.session.drain_timeout_seconds);
                    end = Some(PoolEnd::Failback);
                    pool_stop.send_replace(Some(Instant::now() + drain));
                }
                changed = stop_rx.changed(), if !stop_forwarded => {
                    let deadline = match changed {
                        Ok(()) => *stop_rx.borrow_and_update(),
                        Err(_) => Some(Instant::now()),
                    };
                    if deadline.is_some() {
                        stop_forwarded = true;
                        end = Some(PoolEnd::Stopped);
                        pool_stop.send_replace(deadline);
                    }
                }
                job = self.jobs.recv_async(), if pool.bound() == 0 => match job {
                    Ok(job) => job.finish(Err(SubmitError::NotBound)),
                    Err(_) => {
                        end = Some(PoolEnd::Stopped);
                        pool_stop.send_replace(Some(Instant::now()));
                    }
                },
            }
        }
        self.shared.bound.send_replace(false);
        while let Ok(ev) = events.try_recv() {
            if let SlotEvent::Lost { slot, reason, .. } = ev {
                pool.set(slot, BindSlotState::Unbound, None, Some(reason));
            }
        }
        self.shared.binds.send_replace(pool.infos(&in_use));
        if self.stopping() {
            return PoolEnd::Stopped;
        }
        end.unwrap_or(PoolEnd::Stopped)
    }

    /// Shows a bound pool: state, bound flag and the health event (with the bound count when
    /// the pool has more than one bind).
    fn show_bound(&self, pool: &Pool, address: &str, last_event: &mut Option<SessionEvent>) {
        let Some(mode) = pool.mode() else {
            return;
        };
        let role = pool.role;
        self.shared.state.send_replace(SessionState::Bound {
            endpoint: role,
            address: address.to_string(),
            mode,
        });
        self.shared.bound.send_replace(true);
        let mut reason = match role {
            EndpointRole::Primary => "bound to the primary".to_string(),
            EndpointRole::Backup => "bound to the backup".to_string(),
        };
        if pool.slots.len() > 1 {
            reason = format!("{reason} ({}/{} binds)", pool.bound(), pool.slots.len());
        }
        self.emit(
            last_event,
            SessionEvent::bound(role, address.to_string(), mode, reason),
        );
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
                job = self.jobs.recv_async() => match job {
                    Ok(job) => job.finish(Err(SubmitError::NotBound)),
                    Err(_) => return true,
                },
                _ = wait_stop(&mut self.stop) => return true,
            }
        }
    }
}

/// The binds of a pool as the supervisor tracks them.
struct Pool {
    role: EndpointRole,
    slots: Vec<BindInfo>,
    ever_bound: Vec<bool>,
}

impl Pool {
    fn new(n: usize, role: EndpointRole) -> Self {
        let now = std::time::SystemTime::now();
        Self {
            role,
            slots: (0..n)
                .map(|i| BindInfo {
                    index: i as u32,
                    endpoint: role,
                    state: BindSlotState::Binding,
                    mode: None,
                    since: now,
                    window_in_use: 0,
                    last_error: None,
                })
                .collect(),
            ever_bound: vec![false; n],
        }
    }

    fn set(
        &mut self,
        i: usize,
        state: BindSlotState,
        mode: Option<BindMode>,
        error: Option<String>,
    ) {
        if let Some(b) = self.slots.get_mut(i) {
            if b.state != state {
                b.since = std::time::SystemTime::now();
            }
            b.state = state;
            b.mode = mode;
            if error.is_some() {
                b.last_error = error;
            }
        }
    }

    fn bound(&self) -> usize {
        self.slots
            .iter()
            .filter(|b| b.state == BindSlotState::Bound)
            .count()
    }

    /// The mode of the first bound bind.
    fn mode(&self) -> Option<BindMode> {
        self.slots
            .iter()
            .find(|b| b.state == BindSlotState::Bound)
            .and_then(|b| b.mode)
    }

    fn infos(&self, in_use: &[Arc<std::sync::atomic::AtomicU32>]) -> Vec<BindInfo> {
        self.slots
            .iter()
            .zip(in_use)
            .map(|(b, u)| BindInfo {
                window_in_use: u.load(std::sync::atomic::Ordering::Relaxed),
                ..b.clone()
            })
            .collect()
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
