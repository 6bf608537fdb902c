//! What an on-call engineer asks first, kept in memory for `/status` (and `kubectl mno
//! status`): the last health transitions, the last submit errors with their command_status
//! names, the submits of the last minute, the reconnects of the last hour. Process-wide: it
//! outlives the terms of an active/standby replica.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
pub use crds::report::{ActivityReport, SubmitFailure, Transition};

use crate::protocol::codec::CommandStatus;

/// Transitions kept.
const TRANSITIONS: usize = 20;
/// Submit errors kept.
const ERRORS: usize = 10;

#[derive(Default)]
struct Inner {
    transitions: VecDeque<Transition>,
    errors: VecDeque<SubmitFailure>,
    /// (second since the epoch, submits answered in it), oldest first, at most 60.
    seconds: VecDeque<(i64, u64)>,
    reconnects: VecDeque<DateTime<Utc>>,
}

/// The recent activity of this connector process.
#[derive(Default)]
pub struct Activity {
    inner: Mutex<Inner>,
}

impl Activity {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    /// Notes a health transition at `at`.
    pub fn transition(&self, at: DateTime<Utc>, state: &str, endpoint: &str, reason: &str) {
        self.with(|i| {
            if i.transitions.len() == TRANSITIONS {
                i.transitions.pop_front();
            }
            i.transitions.push_back(Transition {
                at,
                state: state.into(),
                endpoint: endpoint.into(),
                reason: reason.into(),
            });
        });
    }

    /// Notes a reconnect at `at`.
    pub fn reconnect(&self, at: DateTime<Utc>) {
        self.with(|i| {
            i.reconnects.push_back(at);
            while i
                .reconnects
                .front()
                .is_some_and(|t| at - *t > Duration::hours(1))
            {
                i.reconnects.pop_front();
            }
        });
    }

    /// Notes a submit answered with `status` at `at`.
    pub fn submitted(&self, at: DateTime<Utc>, status: u32) {
        self.with(|i| {
            let second = at.timestamp();
            match i.seconds.back_mut() {
                Some((s, n)) if *s == second => *n += 1,
                _ => {
                    i.seconds.push_back((second, 1));
                    while i.seconds.front().is_some_and(|(s, _)| second - s >= 60) {
                        i.seconds.pop_front();
                    }
                }
            }
            if status != 0 {
                if i.errors.len() == ERRORS {
                    i.errors.pop_front();
                }
                let s = CommandStatus(status);
                i.errors.push_back(SubmitFailure {
                    at,
                    command_status: format!("0x{status:08X}"),
                    name: s.name().unwrap_or("vendor-specific").into(),
                });
            }
        });
    }

    /// The activity as of `now`.
    pub fn report(&self, now: DateTime<Utc>) -> ActivityReport {
        self.with(|i| ActivityReport {
            transitions: i.transitions.iter().rev().cloned().collect(),
            last_errors: i.errors.iter().rev().cloned().collect(),
            submits_last_minute: i
                .seconds
                .iter()
                .filter(|(s, _)| now.timestamp() - s < 60)
                .map(|(_, n)| n)
                .sum(),
            reconnects_last_hour: i
                .reconnects
                .iter()
                .filter(|t| now - **t <= Duration::hours(1))
                .count() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap_or_default()
    }

    #[test]
    fn the_last_minute_the_last_hour_and_the_newest_first() {
        let a = Activity::default();
        for s in 0..90 {
            a.submitted(at(s), 0);
        }
        a.submitted(at(89), 0x58);
        a.submitted(at(89), 0x0400);
        let r = a.report(at(89));
        assert_eq!(r.submits_last_minute, 62, "seconds 30..=89, two at 89 more");
        assert_eq!(r.last_errors.len(), 2);
        assert_eq!(r.last_errors[0].name, "vendor-specific");
        assert_eq!(r.last_errors[1].name, "ESME_RTHROTTLED");
        assert_eq!(r.last_errors[1].command_status, "0x00000058");
        assert_eq!(a.report(at(200)).submits_last_minute, 0, "a quiet minute");

        a.reconnect(at(0));
        a.reconnect(at(3000));
        assert_eq!(a.report(at(3000)).reconnects_last_hour, 2);
        assert_eq!(a.report(at(3601)).reconnects_last_hour, 1);

        for n in 0..25 {
            a.transition(at(n), "BOUND", "primary", &format!("r{n}"));
        }
        let t = a.report(at(30)).transitions;
        assert_eq!(t.len(), TRANSITIONS, "bounded");
        assert_eq!(t[0].reason, "r24", "newest first");
        for _ in 0..15 {
            a.submitted(at(100), 8);
        }
        assert_eq!(a.report(at(100)).last_errors.len(), ERRORS, "bounded");
    }
}
