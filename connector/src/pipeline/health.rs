//! The session status the connector writes into its MnoConnection (`status.session`, through
//! [`crate::pipeline::status_writer`]), kept up to date from the session engine's state changes and its
//! slow-down.

use crds::config::ConnectorConfig;
use crds::status::{ActiveEndpoint, BindState, EndpointState, EndpointStatus};
use crds::{SessionStatus, SlowDownState, SlowDownStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::pipeline::events::{EndpointRole, EventPublisher, HealthState, OperatorHealth};
use crate::pipeline::metrics::Metrics;
use crate::session::{SessionEvent, SlowDown};

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

/// Folds session events into a [`SessionStatus`].
#[derive(Clone, Debug)]
pub struct StatusTracker {
    status: SessionStatus,
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
            },
        }
    }

    /// The current status.
    pub fn status(&self) -> &SessionStatus {
        &self.status
    }

    fn side(&mut self, role: EndpointRole) -> Option<&mut EndpointStatus> {
        match role {
            EndpointRole::Primary => Some(&mut self.status.primary),
            EndpointRole::Backup => self.status.backup.as_mut(),
        }
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

/// Follows the session: publishes an `operator.health` event per state change, sets the state
/// gauge and the reconnect counter, and keeps the MnoConnection status (`status`) current,
/// slow-down included.
pub struct HealthReporter {
    /// Folds the events into the status.
    pub tracker: StatusTracker,
    /// The session's state changes, from the start.
    pub events: broadcast::Receiver<SessionEvent>,
    /// The session's slow-down.
    pub slow_down: watch::Receiver<SlowDown>,
    /// Where the status goes (the status writer).
    pub status: watch::Sender<Option<SessionStatus>>,
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
}

impl HealthReporter {
    /// Runs until the session is gone or `shutdown`, which comes after the unbind so that
    /// the session's last events are still reported.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut bound_before = false;
        let mut bound_now = false;
        let mut slow_down_open = true;
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                ev = next_event(&mut self.events) => ev,
                changed = self.slow_down.changed(), if slow_down_open => {
                    match changed {
                        Ok(()) => {
                            let s = *self.slow_down.borrow_and_update();
                            self.status.send_replace(Some(self.tracker.set_slow_down(&s).clone()));
                        }
                        Err(_) => slow_down_open = false,
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
            }
            bound_before |= bound;
            bound_now = bound;
            self.report(&ev).await;
        }
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
        tracing::info!(state = %state, endpoint, address = ?ev.address, reason = %ev.reason, "session state");
        let status = self.tracker.apply(ev, Timestamp::now()).clone();
        self.status.send_replace(Some(status));
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
}
