//! The status the connector writes into its MnoConnection (`status.session`, `status.binds`,
//! `status.bindsReady`, `status.activePod`, through [`crate::pipeline::status_writer`]), kept up
//! to date from the session engine's state changes, its binds and its slow-down.

use crds::config::ConnectorConfig;
use crds::status::{
    ActiveEndpoint, BindSlotStatus, BindState, BindStatus, EndpointState, EndpointStatus,
};
use crds::{ConnectorStatus, SessionStatus, SlowDownState, SlowDownStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::pipeline::activity::Activity;
use crate::pipeline::events::{EndpointRole, EventPublisher, HealthState, OperatorHealth};
use crate::pipeline::metrics::Metrics;
use crate::session::{BindInfo, BindSlotState, SessionEvent, SlowDown};

/// Publishes an UNBOUND `operator.health` event with `reason` (at the start and at the stop);
/// returns whether it was published (a failure is logged and returns `false`).
pub async fn publish_unbound(
    publisher: &EventPublisher,
    operator_id: &str,
    reason: &str,
    instance: &str,
) -> bool {
    let event = OperatorHealth::unbound(operator_id, reason, instance, Utc::now());
    match publisher.publish_health(&event).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, reason, "cannot publish the health event");
            false
        }
    }
}

/// The next session event for a follower of the state (health events, the MnoConnection
/// status, the state gauge): one that fell behind a flapping link logs how many it missed and
/// goes on with the oldest event still kept, never stops. `None` once the session is gone.
pub async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<SessionEvent>,
) -> Option<SessionEvent> {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(ev) => return Some(ev),
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "fell behind the session events; going on with the newest"
                );
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Folds session events into a [`SessionStatus`], and the pool's binds into `status.binds`.
#[derive(Clone, Debug)]
pub struct StatusTracker {
    status: SessionStatus,
    pod: String,
    configured: u32,
    binds: Vec<BindStatus>,
    /// The pool's binds to follow ([`HealthReporter::with_binds`]); taken by the reporter.
    binds_feed: Option<watch::Receiver<Vec<BindInfo>>>,
}

fn time(t: std::time::SystemTime) -> Time {
    Time(Timestamp::try_from(t).unwrap_or_else(|_| Timestamp::now()))
}

/// One bind of the pool as `status.binds[]` shows it, kept by `pod`.
pub fn bind_status(b: &BindInfo, pod: &str) -> BindStatus {
    BindStatus {
        index: b.index,
        pod: pod.to_string(),
        endpoint: b.endpoint,
        state: match b.state {
            BindSlotState::Binding => BindSlotStatus::Binding,
            BindSlotState::Bound => BindSlotStatus::Bound,
            BindSlotState::Unbound => BindSlotStatus::Unbound,
            BindSlotState::Refused => BindSlotStatus::Refused,
        },
        mode: b.mode,
        since: time(b.since),
        window_in_use: b.window_in_use,
        last_error: b.last_error.clone(),
    }
}

fn endpoint(address: String) -> EndpointStatus {
    EndpointStatus {
        address,
        state: EndpointState::Connecting,
        last_error: None,
        consecutive_failures: 0,
        bound_since: None,
    }
}

impl StatusTracker {
    /// Unbound, connecting to the primary, written by `pod`.
    pub fn new(config: &ConnectorConfig, pod: &str) -> Self {
        Self {
            status: SessionStatus {
                bind_state: BindState::Unbound,
                active_endpoint: ActiveEndpoint::None,
                primary: endpoint(config.primary.address()),
                backup: config.backup.as_ref().map(|b| {
                    let mut e = endpoint(b.address());
                    e.state = EndpointState::Idle;
                    e
                }),
                last_failover_time: None,
                last_failback_time: None,
                connector_pod: Some(pod.to_string()),
                connector_ready: false,
                slow_down: None,
                reconnects_last_hour: 0,
                submits_last_minute: 0,
            },
            pod: pod.to_string(),
            configured: config.session.binds,
            binds: Vec::new(),
            binds_feed: None,
        }
    }

    /// The current session status.
    pub fn status(&self) -> &SessionStatus {
        &self.status
    }

    /// Takes the pool's binds (one [`BindInfo`] per bind).
    pub fn set_binds(&mut self, binds: &[BindInfo]) {
        self.binds = binds.iter().map(|b| bind_status(b, &self.pod)).collect();
    }

    /// Binds up / binds configured, for example `3/4`.
    pub fn binds_ready(&self) -> String {
        let up = self
            .binds
            .iter()
            .filter(|b| b.state == BindSlotStatus::Bound)
            .count();
        format!("{up}/{}", self.configured)
    }

    /// Everything this connector writes into the status: it is the active pod (only the
    /// active replica runs the reporter).
    pub fn report(&self) -> ConnectorStatus {
        ConnectorStatus {
            session: self.status.clone(),
            binds: self.binds.clone(),
            binds_ready: self.binds_ready(),
            active_pod: self.pod.clone(),
        }
    }

    fn side(&mut self, role: EndpointRole) -> Option<&mut EndpointStatus> {
        match role {
            EndpointRole::Primary => Some(&mut self.status.primary),
            EndpointRole::Backup => self.status.backup.as_mut(),
        }
    }

    /// Sets the reconnects of the last hour and the submits of the last minute; `true` when
    /// they changed.
    pub fn set_activity(&mut self, reconnects_last_hour: u32, submits_last_minute: u64) -> bool {
        let s = &mut self.status;
        let changed = s.reconnects_last_hour != reconnects_last_hour
            || s.submits_last_minute != submits_last_minute;
        s.reconnects_last_hour = reconnects_last_hour;
        s.submits_last_minute = submits_last_minute;
        changed
    }

    /// Applies a change of the session's slow-down.
    pub fn set_slow_down(&mut self, s: &SlowDown) -> &SessionStatus {
        let state = match (s.throttled, s.queue_full) {
            (false, false) => None,
            (true, false) => Some(SlowDownState::Throttled),
            (false, true) => Some(SlowDownState::QueueFull),
            (true, true) => Some(SlowDownState::ThrottledQueueFull),
        };
        self.status.slow_down = state.map(|state| SlowDownStatus {
            state,
            since: Time(
                s.since
                    .and_then(|t| Timestamp::try_from(t).ok())
                    .unwrap_or_else(Timestamp::now),
            ),
        });
        &self.status
    }

    /// Applies one state change at `now`.
    pub fn apply(&mut self, ev: &SessionEvent, now: Timestamp) -> &SessionStatus {
        let previous = self.status.active_endpoint;
        match (ev.state, ev.endpoint) {
            (HealthState::Bound | HealthState::Failback, Some(role)) => {
                let other = match role {
                    EndpointRole::Primary => EndpointRole::Backup,
                    EndpointRole::Backup => EndpointRole::Primary,
                };
                if let Some(e) = self.side(role) {
                    if e.state != EndpointState::Bound {
                        e.bound_since = Some(Time(now));
                    }
                    e.state = EndpointState::Bound;
                    e.last_error = None;
                    e.consecutive_failures = 0;
                    if let Some(a) = &ev.address {
                        e.address = a.clone();
                    }
                }
                if let Some(o) = self.side(other) {
                    if o.state == EndpointState::Bound {
                        o.state = EndpointState::Idle;
                        o.bound_since = None;
                    }
                }
                let (state, active) = match role {
                    EndpointRole::Primary => (BindState::Bound, ActiveEndpoint::Primary),
                    EndpointRole::Backup => (BindState::Failback, ActiveEndpoint::Backup),
                };
                if active == ActiveEndpoint::Backup && previous != ActiveEndpoint::Backup {
                    self.status.last_failover_time = Some(Time(now));
                }
                if active == ActiveEndpoint::Primary && previous == ActiveEndpoint::Backup {
                    self.status.last_failback_time = Some(Time(now));
                }
                self.status.bind_state = state;
                self.status.active_endpoint = active;
            }
            _ => {
                let failed = match previous {
                    ActiveEndpoint::Backup => EndpointRole::Backup,
                    _ => EndpointRole::Primary,
                };
                if let Some(e) = self.side(failed) {
                    e.state = EndpointState::Failed;
                    e.last_error = Some(ev.reason.clone());
                    e.consecutive_failures = e.consecutive_failures.saturating_add(1);
                    e.bound_since = None;
                }
                self.status.bind_state = BindState::Unbound;
                self.status.active_endpoint = ActiveEndpoint::None;
            }
        }
        self.status.connector_ready = self.status.bind_state != BindState::Unbound;
        &self.status
    }
}

/// How often the status's activity counts (reconnects of the last hour, submits of the last
/// minute) are refreshed.
pub const ACTIVITY_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// Follows the session: publishes an `operator.health` event per state change, sets the state
/// gauge and the reconnect counter, and keeps the MnoConnection status (`status`) current,
/// slow-down and (with [`HealthReporter::with_binds`]) the binds included.
pub struct HealthReporter {
    /// Folds the events into the status.
    pub tracker: StatusTracker,
    /// The session's state changes, from the start.
    pub events: broadcast::Receiver<SessionEvent>,
    /// The session's slow-down.
    pub slow_down: watch::Receiver<SlowDown>,
    /// Where the status goes (the status writer).
    pub status: watch::Sender<Option<ConnectorStatus>>,
    /// The event publisher.
    pub publisher: EventPublisher,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The operator.
    pub operator_id: String,
    /// This connector instance (the pod).
    pub instance: String,
    /// Whether the last health event sent says UNBOUND (the final one is then not repeated).
    pub unbound_published: Arc<AtomicBool>,
    /// The recent transitions and reconnects, for `/status`.
    pub activity: Arc<Activity>,
}

impl HealthReporter {
    /// Also follows the pool's binds (`SessionHandle::watch_binds`) into `status.binds` and
    /// `status.bindsReady`; without it they stay empty and `0/N`.
    pub fn with_binds(mut self, binds: watch::Receiver<Vec<BindInfo>>) -> Self {
        self.tracker.binds_feed = Some(binds);
        self
    }

    /// Runs until the session is gone or `shutdown`, which comes after the unbind so that
    /// the session's last events are still reported.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut bound_before = false;
        let mut bound_now = false;
        let mut slow_down_open = true;
        let mut binds = self.tracker.binds_feed.take();
        if let Some(feed) = binds.as_mut() {
            let now = feed.borrow_and_update().clone();
            if !now.is_empty() {
                self.tracker.set_binds(&now);
                self.status.send_replace(Some(self.tracker.report()));
            }
        }
        let mut minute = tokio::time::interval_at(
            tokio::time::Instant::now() + ACTIVITY_REFRESH,
            ACTIVITY_REFRESH,
        );
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = minute.tick() => {
                    if self.refresh_activity() {
                        self.status.send_replace(Some(self.tracker.report()));
                    }
                    continue;
                }
                ev = next_event(&mut self.events) => ev,
                changed = self.slow_down.changed(), if slow_down_open => {
                    match changed {
                        Ok(()) => {
                            let s = *self.slow_down.borrow_and_update();
                            self.tracker.set_slow_down(&s);
                            self.status.send_replace(Some(self.tracker.report()));
                        }
                        Err(_) => slow_down_open = false,
                    }
                    continue;
                }
                changed = binds_changed(&mut binds) => {
                    match changed {
                        Some(now) => {
                            self.tracker.set_binds(&now);
                            self.status.send_replace(Some(self.tracker.report()));
                        }
                        None => binds = None,
                    }
                    continue;
                }
            };
            let Some(ev) = received else {
                return;
            };
            // A reconnect is bound again after UNBOUND; a pool's "k/N binds" updates while
            // it stays bound are not.
            let bound = ev.endpoint.is_some();
            if bound && bound_before && !bound_now {
                self.metrics.reconnects_total.inc();
                self.activity.reconnect(Utc::now());
            }
            bound_before |= bound;
            bound_now = bound;
            self.report(&ev).await;
        }
    }

    /// Copies the activity's counts into the status; `true` when they changed.
    fn refresh_activity(&mut self) -> bool {
        let r = self.activity.report(Utc::now());
        self.tracker.set_activity(
            u32::try_from(r.reconnects_last_hour).unwrap_or(u32::MAX),
            r.submits_last_minute,
        )
    }

    async fn report(&mut self, ev: &SessionEvent) {
        let health = OperatorHealth {
            operator_id: self.operator_id.clone(),
            state: ev.state,
            endpoint: ev.endpoint,
            address: ev.address.clone(),
            bind_mode: ev.bind_mode,
            reason: Some(ev.reason.clone()),
            connector: Some(self.instance.clone()),
            at: Utc::now(),
        };
        let state = serde_json::to_value(ev.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let endpoint = match ev.endpoint {
            Some(EndpointRole::Primary) => "primary",
            Some(EndpointRole::Backup) => "backup",
            None => "none",
        };
        self.metrics.set_session_state(&state, endpoint);
        self.activity
            .transition(health.at, &state, endpoint, &ev.reason);
        tracing::info!(state = %state, endpoint, address = ?ev.address, reason = %ev.reason, "session state");
        self.tracker.apply(ev, Timestamp::now());
        self.refresh_activity();
        self.status.send_replace(Some(self.tracker.report()));
        // Set before the publish: the stop may end this worker while it awaits the PubAck of
        // an UNBOUND that NATS already has.
        self.unbound_published
            .store(health.state == HealthState::Unbound, Ordering::SeqCst);
        if let Err(e) = self.publisher.publish_health(&health).await {
            self.unbound_published.store(false, Ordering::SeqCst);
            tracing::warn!(error = %e, "cannot publish a health event");
        }
    }
}

/// The pool's binds after their next change; `None` once the pool is gone; never with no feed.
async fn binds_changed(feed: &mut Option<watch::Receiver<Vec<BindInfo>>>) -> Option<Vec<BindInfo>> {
    match feed {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(rx.borrow_and_update().clone()),
            Err(_) => None,
        },
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::events::BindMode;

    fn config() -> ConnectorConfig {
        let yaml = "operatorId: op\nprimary: {host: p, port: 1}\nbackup: {host: b, port: 2}\ncredentials: {source: file, path: x}\n";
        ConnectorConfig::from_yaml(yaml).unwrap()
    }

    #[tokio::test]
    async fn a_follower_that_falls_behind_goes_on_with_the_newest_events() {
        let (tx, mut rx) = tokio::sync::broadcast::channel(2);
        for n in 0..5 {
            tx.send(SessionEvent::unbound(format!("drop {n}"))).unwrap();
        }
        let reasons = [
            next_event(&mut rx).await.map(|e| e.reason),
            next_event(&mut rx).await.map(|e| e.reason),
        ];
        assert_eq!(reasons, [Some("drop 3".into()), Some("drop 4".into())]);
        tx.send(SessionEvent::unbound("later".into())).unwrap();
        assert_eq!(
            next_event(&mut rx).await.map(|e| e.reason).as_deref(),
            Some("later")
        );
        drop(tx);
        assert!(next_event(&mut rx).await.is_none(), "ends with the session");
    }

    #[test]
    fn the_activity_counts_reach_the_status_only_when_they_change() {
        let mut t = StatusTracker::new(&config(), "pod-1");
        assert!(t.set_activity(2, 5_400));
        assert!(!t.set_activity(2, 5_400), "unchanged: nothing to write");
        let s = t.report().session;
        assert_eq!((s.reconnects_last_hour, s.submits_last_minute), (2, 5_400));
        let json = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(json["reconnectsLastHour"], 2);
        assert_eq!(json["submitsLastMinute"], 5_400);
    }

    #[test]
    fn the_slow_down_is_shown_while_it_lasts() {
        let mut t = StatusTracker::new(&config(), "pod-1");
        let since =
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let s = t
            .set_slow_down(&SlowDown {
                throttled: false,
                queue_full: true,
                since: Some(since),
            })
            .clone();
        let slow = s.slow_down.expect("slow-down shown");
        assert_eq!(slow.state, SlowDownState::QueueFull);
        assert_eq!(slow.since.0.as_second(), 1_700_000_000);
        assert_eq!(t.set_slow_down(&SlowDown::default()).slow_down, None);
    }

    #[test]
    fn failover_and_failback() {
        let mut t = StatusTracker::new(&config(), "pod-1");
        assert_eq!(t.status().bind_state, BindState::Unbound);
        assert_eq!(t.status().primary.state, EndpointState::Connecting);
        let now = Timestamp::now();

        let s = t
            .apply(
                &SessionEvent::bound(
                    EndpointRole::Primary,
                    "p:1".into(),
                    BindMode::Transceiver,
                    "bound".into(),
                ),
                now,
            )
            .clone();
        assert_eq!(
            (s.bind_state, s.active_endpoint),
            (BindState::Bound, ActiveEndpoint::Primary)
        );
        assert!(s.connector_ready && s.primary.bound_since.is_some());

        let s = t
            .apply(&SessionEvent::unbound("connection reset".into()), now)
            .clone();
        assert_eq!(
            (s.bind_state, s.active_endpoint),
            (BindState::Unbound, ActiveEndpoint::None)
        );
        assert_eq!(s.primary.state, EndpointState::Failed);
        assert_eq!(s.primary.last_error.as_deref(), Some("connection reset"));
        assert_eq!(s.primary.consecutive_failures, 1);
        assert!(!s.connector_ready);

        let s = t
            .apply(
                &SessionEvent::bound(
                    EndpointRole::Backup,
                    "b:2".into(),
                    BindMode::TransmitterReceiver,
                    "failover".into(),
                ),
                now,
            )
            .clone();
        assert_eq!(
            (s.bind_state, s.active_endpoint),
            (BindState::Failback, ActiveEndpoint::Backup)
        );
        assert!(s.last_failover_time.is_some() && s.last_failback_time.is_none());
        assert_eq!(
            s.primary.state,
            EndpointState::Failed,
            "the primary keeps its failure"
        );
        assert_eq!(
            s.backup.as_ref().map(|b| b.state),
            Some(EndpointState::Bound)
        );

        let s = t
            .apply(
                &SessionEvent::bound(
                    EndpointRole::Primary,
                    "p:1".into(),
                    BindMode::Transceiver,
                    "failback".into(),
                ),
                now,
            )
            .clone();
        assert_eq!(s.bind_state, BindState::Bound);
        assert!(s.last_failback_time.is_some());
        assert_eq!(s.primary.consecutive_failures, 0);
        assert_eq!(
            s.backup.as_ref().map(|b| b.state),
            Some(EndpointState::Idle)
        );
        assert_eq!(s.connector_pod.as_deref(), Some("pod-1"));
    }

    fn info(index: u32, state: BindSlotState, error: Option<&str>) -> BindInfo {
        BindInfo {
            index,
            endpoint: EndpointRole::Primary,
            state,
            mode: (state == BindSlotState::Bound).then_some(BindMode::Transceiver),
            since: std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(1_764_000_000 + u64::from(index)),
            window_in_use: index * 2,
            last_error: error.map(str::to_string),
        }
    }

    fn four_binds() -> ConnectorConfig {
        let mut c = config();
        c.session.binds = 4;
        c
    }

    #[test]
    fn the_binds_are_shown_per_bind_and_counted_in_binds_ready() {
        let mut t = StatusTracker::new(&four_binds(), "mtn-gh-connector-a");
        let empty = t.report();
        assert_eq!(empty.binds_ready, "0/4", "nothing reported yet");
        assert!(empty.binds.is_empty());
        assert_eq!(empty.active_pod, "mtn-gh-connector-a");

        t.set_binds(&[
            info(0, BindSlotState::Bound, None),
            info(1, BindSlotState::Bound, None),
            info(2, BindSlotState::Bound, None),
            info(3, BindSlotState::Refused, Some("ESME_RBINDFAIL")),
        ]);
        let r = t.report();
        assert_eq!(r.binds_ready, "3/4");
        assert_eq!(r.binds.len(), 4);
        let b = &r.binds[1];
        assert_eq!(
            (b.index, b.pod.as_str(), b.endpoint, b.state),
            (
                1,
                "mtn-gh-connector-a",
                EndpointRole::Primary,
                BindSlotStatus::Bound
            )
        );
        assert_eq!(b.mode, Some(BindMode::Transceiver));
        assert_eq!(b.since.0.as_second(), 1_764_000_001);
        assert_eq!(b.window_in_use, 2);
        let refused = &r.binds[3];
        assert_eq!(refused.state, BindSlotStatus::Refused);
        assert_eq!(refused.mode, None);
        assert_eq!(refused.last_error.as_deref(), Some("ESME_RBINDFAIL"));
        assert_eq!(r.session, *t.status(), "the session part is the tracker's");

        t.set_binds(&[
            info(0, BindSlotState::Unbound, Some("reset")),
            info(1, BindSlotState::Binding, None),
            info(2, BindSlotState::Unbound, None),
            info(3, BindSlotState::Refused, None),
        ]);
        assert_eq!(t.binds_ready(), "0/4");
        let json = serde_json::to_value(t.report()).unwrap();
        assert_eq!(json["binds"][0]["state"], "unbound");
        assert_eq!(json["binds"][1]["state"], "binding");
        assert_eq!(json["bindsReady"], "0/4");
        assert_eq!(json["activePod"], "mtn-gh-connector-a");
    }

    async fn next_report(rx: &mut watch::Receiver<Option<ConnectorStatus>>) -> ConnectorStatus {
        tokio::time::timeout(std::time::Duration::from_secs(5), rx.changed())
            .await
            .expect("a report in time")
            .expect("reporter alive");
        rx.borrow_and_update().clone().expect("a report")
    }

    #[tokio::test]
    async fn the_reporter_writes_the_binds_as_they_change() {
        let js = crate::test_support::jetstream().await;
        let (stream, prefix) = crate::test_support::event_stream(&js, "health-binds").await;
        let (events_tx, events) = broadcast::channel(8);
        let (_slow_tx, slow_down) = watch::channel(SlowDown::default());
        let (binds_tx, binds) = watch::channel(vec![
            info(0, BindSlotState::Binding, None),
            info(1, BindSlotState::Binding, None),
        ]);
        let (status, mut reports) = watch::channel(None);
        let mut cfg = config();
        cfg.session.binds = 2;
        let reporter = HealthReporter {
            tracker: StatusTracker::new(&cfg, "pod-b"),
            events,
            slow_down,
            status,
            publisher: crate::test_support::event_publisher(&js, &prefix),
            metrics: Arc::new(Metrics::new()),
            operator_id: "op".into(),
            instance: "pod-b".into(),
            unbound_published: Arc::new(AtomicBool::new(false)),
            activity: Arc::new(Activity::default()),
        }
        .with_binds(binds);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(reporter.run(shutdown.clone()));

        let first = next_report(&mut reports).await;
        assert_eq!(first.binds_ready, "0/2", "the binds known at the start");
        assert_eq!(first.binds.len(), 2);

        binds_tx.send_replace(vec![
            info(0, BindSlotState::Bound, None),
            info(1, BindSlotState::Binding, None),
        ]);
        let r = next_report(&mut reports).await;
        assert_eq!(r.binds_ready, "1/2");
        assert_eq!(r.binds[0].state, BindSlotStatus::Bound);

        events_tx
            .send(SessionEvent::bound(
                EndpointRole::Primary,
                "p:1".into(),
                BindMode::Transceiver,
                "bound".into(),
            ))
            .unwrap();
        let r = next_report(&mut reports).await;
        assert_eq!(r.session.bind_state, BindState::Bound);
        assert_eq!(r.binds_ready, "1/2", "a session event keeps the binds");
        assert_eq!(r.active_pod, "pod-b");

        binds_tx.send_replace(vec![
            info(0, BindSlotState::Bound, None),
            info(1, BindSlotState::Bound, None),
        ]);
        let r = next_report(&mut reports).await;
        assert_eq!(r.binds_ready, "2/2");
        assert_eq!(
            r.session.bind_state,
            BindState::Bound,
            "and the binds keep the session"
        );

        shutdown.cancel();
        task.await.unwrap();
        js.delete_stream(&stream).await.unwrap();
    }
}
