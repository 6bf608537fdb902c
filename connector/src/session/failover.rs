//! Which endpoint to bind to: failover to the backup after repeated primary failures, and
//! failback (with hysteresis) once the primary has been probed healthy for a hold time.

use std::time::Duration;

use tokio::time::Instant;

use crate::session::state::EndpointRole;
use crds::config::FailoverConfig;

/// The failover decision state of one session.
#[derive(Clone, Debug)]
pub struct Failover {
    has_backup: bool,
    after_failures: u32,
    after: Duration,
    probe_interval: Duration,
    hold: Duration,
    active: EndpointRole,
    primary_failures: u32,
    primary_unbound_since: Instant,
    /// The backup failed while pinned to it: the pin is not honoured again until unpinned.
    pin_spent: bool,
}

/// A manual choice of endpoint (`kubectl mno failover`): `Backup` moves the pool to the backup
/// at once and keeps it there (no failback probe) until the pin is back to `Auto`, when the
/// usual probe and hold time bring it back to the primary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EndpointPin {
    /// Failover and failback as configured.
    #[default]
    Auto,
    /// On the backup until unpinned (while the backup works: a failing backup still makes the
    /// session try the primary).
    Backup,
}

/// A decision to change endpoint, with its reason for the state event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    /// The endpoint to use from now on.
    pub to: EndpointRole,
    /// Why.
    pub reason: String,
}

impl Failover {
    /// Starts on the primary at `now`.
    pub fn new(cfg: &FailoverConfig, has_backup: bool, now: Instant) -> Self {
        Self {
            has_backup,
            after_failures: cfg.after_failures.max(1),
            after: Duration::from_secs(cfg.after_seconds),
            probe_interval: Duration::from_secs(cfg.probe_interval_seconds.max(1)),
            hold: Duration::from_secs(cfg.failback_hold_seconds),
            active: EndpointRole::Primary,
            primary_failures: 0,
            primary_unbound_since: now,
            pin_spent: false,
        }
    }

    /// The endpoint to bind to next.
    pub fn active(&self) -> EndpointRole {
        self.active
    }

    /// How often the primary is probed while on the backup.
    pub fn probe_interval(&self) -> Duration {
        self.probe_interval
    }

    /// How long a probe of the primary must stay bound before failing back.
    pub fn hold(&self) -> Duration {
        self.hold
    }

    /// Consecutive failures of the primary.
    pub fn primary_failures(&self) -> u32 {
        self.primary_failures
    }

    /// A bind on `role` succeeded at `now`.
    pub fn on_bound(&mut self, role: EndpointRole) {
        if role == EndpointRole::Primary {
            self.primary_failures = 0;
        }
    }

    /// A bound session on `role` was lost at `now` (the primary's unbound clock restarts).
    pub fn on_lost(&mut self, role: EndpointRole, now: Instant) {
        if role == EndpointRole::Primary {
            self.primary_unbound_since = now;
        }
    }

    /// Connecting or binding to `role` failed at `now`; returns a switch if one is due.
    pub fn on_failure(&mut self, role: EndpointRole, now: Instant) -> Option<Switch> {
        match role {
            EndpointRole::Primary => {
                self.primary_failures = self.primary_failures.saturating_add(1);
                if !self.has_backup {
                    return None;
                }
                let unbound_for = now.duration_since(self.primary_unbound_since);
                let reason = if self.primary_failures >= self.after_failures {
                    format!("{} consecutive primary failures", self.primary_failures)
                } else if self.after > Duration::ZERO && unbound_for >= self.after {
                    format!("no bind on the primary for {} s", unbound_for.as_secs())
                } else {
                    return None;
                };
                self.active = EndpointRole::Backup;
                Some(Switch {
                    to: EndpointRole::Backup,
                    reason,
                })
            }
            EndpointRole::Backup => {
                // The backup failing too: try the primary again, from a clean count (a pin to
                // the backup is spent: it would only bring the session back to a dead backup).
                self.active = EndpointRole::Primary;
                self.pin_spent = true;
                self.primary_failures = 0;
                Some(Switch {
                    to: EndpointRole::Primary,
                    reason: "backup failed; trying the primary again".into(),
                })
            }
        }
    }

    /// A manual failover to the backup; `None` without a backup or when already on it.
    pub fn pin_backup(&mut self) -> Option<Switch> {
        if !self.has_backup || self.pin_spent || self.active == EndpointRole::Backup {
            return None;
        }
        self.active = EndpointRole::Backup;
        self.primary_failures = 0;
        Some(Switch {
            to: EndpointRole::Backup,
            reason: "manual failover to the backup".into(),
        })
    }

    /// The pin is back to `Auto`: a later pin is honoured again.
    pub fn unpin(&mut self) {
        self.pin_spent = false;
    }

    /// A probe of the primary stayed bound for the hold time: fail back.
    pub fn on_probe_healthy(&mut self, now: Instant) -> Switch {
        self.active = EndpointRole::Primary;
        self.primary_failures = 0;
        self.primary_unbound_since = now;
        Switch {
            to: EndpointRole::Primary,
            reason: format!(
                "primary healthy for {} s; failing back",
                self.hold.as_secs()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> FailoverConfig {
        FailoverConfig {
            after_failures: 3,
            after_seconds: 120,
            probe_interval_seconds: 30,
            failback_hold_seconds: 60,
            receipt_linger_seconds: 300,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fails_over_after_n_consecutive_primary_failures() {
        let t0 = Instant::now();
        let mut f = Failover::new(&cfg(), true, t0);
        assert_eq!(f.on_failure(EndpointRole::Primary, t0), None);
        assert_eq!(f.on_failure(EndpointRole::Primary, t0), None);
        let s = f.on_failure(EndpointRole::Primary, t0);
        assert_eq!(s.map(|s| s.to), Some(EndpointRole::Backup));
        assert_eq!(f.active(), EndpointRole::Backup);
    }

    #[tokio::test(start_paused = true)]
    async fn fails_over_after_time_without_a_bind() {
        let t0 = Instant::now();
        let mut f = Failover::new(&cfg(), true, t0);
        assert_eq!(
            f.on_failure(EndpointRole::Primary, t0 + Duration::from_secs(119)),
            None
        );
        let s = f.on_failure(EndpointRole::Primary, t0 + Duration::from_secs(121));
        assert_eq!(s.map(|s| s.to), Some(EndpointRole::Backup));
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_count_and_no_backup_means_no_switch() {
        let t0 = Instant::now();
        let mut f = Failover::new(&cfg(), true, t0);
        f.on_failure(EndpointRole::Primary, t0);
        f.on_failure(EndpointRole::Primary, t0);
        f.on_bound(EndpointRole::Primary);
        assert_eq!(f.on_failure(EndpointRole::Primary, t0), None);
        let mut alone = Failover::new(&cfg(), false, t0);
        for _ in 0..10 {
            assert_eq!(
                alone.on_failure(EndpointRole::Primary, t0 + Duration::from_secs(500)),
                None
            );
        }
        assert_eq!(alone.active(), EndpointRole::Primary);
    }

    #[tokio::test(start_paused = true)]
    async fn a_manual_failover_needs_a_backup_and_happens_once() {
        let t0 = Instant::now();
        let mut alone = Failover::new(&cfg(), false, t0);
        assert_eq!(alone.pin_backup(), None);
        let mut f = Failover::new(&cfg(), true, t0);
        let s = f.pin_backup().map(|s| s.to);
        assert_eq!(s, Some(EndpointRole::Backup));
        assert_eq!(f.active(), EndpointRole::Backup);
        assert_eq!(f.pin_backup(), None, "already there");
        // The backup fails: back to the primary, and the pin is spent until unpinned.
        for _ in 0..3 {
            f.on_failure(EndpointRole::Backup, t0);
        }
        assert_eq!(f.active(), EndpointRole::Primary);
        assert_eq!(f.pin_backup(), None, "spent");
        f.unpin();
        assert_eq!(f.pin_backup().map(|s| s.to), Some(EndpointRole::Backup));
    }

    #[tokio::test(start_paused = true)]
    async fn failback_after_a_healthy_probe() {
        let t0 = Instant::now();
        let mut f = Failover::new(&cfg(), true, t0);
        for _ in 0..3 {
            f.on_failure(EndpointRole::Primary, t0);
        }
        assert_eq!(f.active(), EndpointRole::Backup);
        let s = f.on_probe_healthy(t0 + Duration::from_secs(90));
        assert_eq!(s.to, EndpointRole::Primary);
        assert_eq!(f.active(), EndpointRole::Primary);
        assert_eq!(f.primary_failures(), 0);
    }
}
