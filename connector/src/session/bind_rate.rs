//! The per-bind TPS cap (`throttle.perBindTps`): at most `limit` submit_sm written on one bind
//! in any 1-second window, next to the operator-wide budget of the gate.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(1);

/// A sliding log of the last second's writes on one bind.
#[derive(Debug)]
pub(crate) struct BindRate {
    limit: usize,
    sent: VecDeque<Instant>,
}

impl BindRate {
    /// A cap of `limit` per second; `None` for 0 (no cap).
    pub(crate) fn new(limit: u32) -> Option<Self> {
        (limit > 0).then(|| Self {
            limit: limit as usize,
            sent: VecDeque::with_capacity(limit.min(4096) as usize),
        })
    }

    /// `None` if a submit may be written at `now`; otherwise when the next one may.
    pub(crate) fn wait_until(&mut self, now: Instant) -> Option<Instant> {
        while self
            .sent
            .front()
            .is_some_and(|&t| now.duration_since(t) >= WINDOW)
        {
            self.sent.pop_front();
        }
        if self.sent.len() < self.limit {
            None
        } else {
            self.sent.front().map(|&t| t + WINDOW)
        }
    }

    /// A submit was written at `now`.
    pub(crate) fn on_sent(&mut self, now: Instant) {
        self.sent.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_more_than_the_limit_in_any_second() {
        assert!(BindRate::new(0).is_none());
        let Some(mut r) = BindRate::new(3) else {
            panic!("a cap of 3");
        };
        let t0 = Instant::now();
        for i in 0..3 {
            let at = t0 + Duration::from_millis(i * 100);
            assert_eq!(r.wait_until(at), None);
            r.on_sent(at);
        }
        let at = t0 + Duration::from_millis(500);
        assert_eq!(r.wait_until(at), Some(t0 + WINDOW));
        assert_eq!(r.wait_until(t0 + WINDOW), None);
    }
}
