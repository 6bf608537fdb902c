//! The session's reaction to SMSC throttling: additive-increase / multiplicative-decrease of
//! the send rate after `ESME_RTHROTTLED`, and an adaptive pause after `ESME_RMSGQFUL`.
//!
//! The first queue-full answer pauses sending for [`FIRST_QUEUE_FULL_PAUSE`]; each further
//! one doubles the pause up to the configured maximum; each successful submit halves it,
//! and below the first pause the slow-down ends.
//!
//! Unthrottled, the pacer imposes no limit. The first throttling response sets the rate to
//! half of what was sent over the last second; each further one (at most one per
//! [`DECREASE_GAP`], since a whole window may be refused at once) halves it again. While
//! submits succeed the rate grows by 5 % of the rate at the last decrease every
//! [`INCREASE_EVERY`]; once it is four times that rate the limit is lifted.

use std::time::Duration;

use tokio::time::Instant;

/// Shortest time between two multiplicative decreases.
pub const DECREASE_GAP: Duration = Duration::from_millis(200);
/// How often the rate grows while submits succeed.
pub const INCREASE_EVERY: Duration = Duration::from_millis(100);
/// Lowest rate the pacer falls to, in submits per second.
pub const MIN_RATE: f64 = 1.0;

/// The first pause after `ESME_RMSGQFUL`.
pub const FIRST_QUEUE_FULL_PAUSE: Duration = Duration::from_millis(100);

/// The send-rate controller of one session.
#[derive(Clone, Debug)]
pub struct Pacer {
    limit: Option<Limit>,
    paused_until: Option<Instant>,
    /// The current queue-full pause; `None` outside a queue-full slow-down.
    queue_full: Option<Duration>,
    second_start: Instant,
    sent_this_second: u32,
    sent_last_second: u32,
}

#[derive(Clone, Debug)]
struct Limit {
    rate: f64,
    decreased_rate: f64,
    tokens: f64,
    refilled: Instant,
    last_decrease: Instant,
    last_increase: Instant,
}

impl Pacer {
    /// An unlimited pacer.
    pub fn new(now: Instant) -> Self {
        Self {
            limit: None,
            paused_until: None,
            queue_full: None,
            second_start: now,
            sent_this_second: 0,
            sent_last_second: 0,
        }
    }

    /// The current limit in submits per second; `None` when unlimited.
    pub fn rate(&self) -> Option<f64> {
        self.limit.as_ref().map(|l| l.rate)
    }

    /// `None` if a submit may be sent at `now`, otherwise when to look again.
    pub fn wait_until(&mut self, now: Instant) -> Option<Instant> {
        if let Some(until) = self.paused_until {
            if now < until {
                return Some(until);
            }
            self.paused_until = None;
        }
        let limit = self.limit.as_mut()?;
        limit.refill(now);
        if limit.tokens >= 1.0 {
            None
        } else {
            Some(now + Duration::from_secs_f64((1.0 - limit.tokens) / limit.rate))
        }
    }

    /// A submit was sent at `now`.
    pub fn on_sent(&mut self, now: Instant) {
        self.roll(now);
        self.sent_this_second = self.sent_this_second.saturating_add(1);
        if let Some(limit) = self.limit.as_mut() {
            limit.tokens -= 1.0;
        }
    }

    /// A submit succeeded at `now`.
    pub fn on_success(&mut self, now: Instant) {
        if let Some(pause) = self.queue_full {
            let shorter = pause / 2;
            if shorter < FIRST_QUEUE_FULL_PAUSE {
                self.queue_full = None;
                tracing::info!("SMSC queue no longer full: queue-full slow-down ended");
            } else {
                self.queue_full = Some(shorter);
            }
        }
        let Some(limit) = self.limit.as_mut() else {
            return;
        };
        if now.duration_since(limit.last_increase) >= INCREASE_EVERY {
            limit.last_increase = now;
            limit.rate += (limit.decreased_rate * 0.05).max(1.0);
            if limit.rate >= limit.decreased_rate * 4.0 {
                self.limit = None;
            }
        }
    }

    /// The SMSC answered `ESME_RTHROTTLED` at `now`.
    pub fn on_throttled(&mut self, now: Instant) {
        self.roll(now);
        match self.limit.as_mut() {
            None => {
                let elapsed = now.duration_since(self.second_start).as_secs_f64();
                let observed = if self.sent_last_second > 0 {
                    f64::from(self.sent_last_second)
                } else {
                    f64::from(self.sent_this_second) / elapsed.max(0.05)
                };
                let rate = (observed / 2.0).max(MIN_RATE);
                self.limit = Some(Limit {
                    rate,
                    decreased_rate: rate,
                    tokens: 0.0,
                    refilled: now,
                    last_decrease: now,
                    last_increase: now,
                });
            }
            Some(limit) => {
                if now.duration_since(limit.last_decrease) >= DECREASE_GAP {
                    limit.rate = (limit.rate / 2.0).max(MIN_RATE);
                    limit.decreased_rate = limit.rate;
                    limit.last_decrease = now;
                    limit.last_increase = now;
                    limit.tokens = limit.tokens.min(0.0);
                }
            }
        }
    }

    /// The SMSC answered `ESME_RMSGQFUL` at `now`: pauses sending for the current
    /// queue-full pause (at most `max`) and returns it.
    pub fn on_queue_full(&mut self, now: Instant, max: Duration) -> Duration {
        let max = max.max(Duration::from_millis(1));
        let pause = match self.queue_full {
            None => {
                tracing::info!("SMSC queue full: queue-full slow-down started");
                FIRST_QUEUE_FULL_PAUSE.min(max)
            }
            Some(p) => (p * 2).min(max),
        };
        self.queue_full = Some(pause);
        self.pause(now, pause);
        pause
    }

    /// The current queue-full pause; `None` outside a queue-full slow-down.
    pub fn queue_full_pause(&self) -> Option<Duration> {
        self.queue_full
    }

    /// The SMSC's queue is full: send nothing for `pause`.
    pub fn pause(&mut self, now: Instant, pause: Duration) {
        let until = now + pause;
        if self.paused_until.is_none_or(|p| p < until) {
            self.paused_until = Some(until);
        }
    }

    fn roll(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.second_start);
        if elapsed >= Duration::from_secs(1) {
            self.sent_last_second = if elapsed >= Duration::from_secs(2) {
                0
            } else {
                self.sent_this_second
            };
            self.sent_this_second = 0;
            self.second_start = now;
        }
    }
}

impl Limit {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        let burst = (self.rate / 100.0).max(1.0);
        self.tokens = (self.tokens + elapsed * self.rate).min(burst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn unthrottled_never_waits() {
        let now = Instant::now();
        let mut p = Pacer::new(now);
        for _ in 0..10_000 {
            assert_eq!(p.wait_until(now), None);
            p.on_sent(now);
        }
        assert_eq!(p.rate(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_observed_rate_and_paces() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        // 1000 submits over one second.
        for i in 0..1000u64 {
            p.on_sent(t0 + Duration::from_millis(i));
        }
        let t1 = t0 + Duration::from_millis(1000);
        p.on_throttled(t1);
        assert_eq!(p.rate(), Some(500.0));
        // Over the next second at most ~500 (+ burst) submits get through.
        let mut sent = 0;
        let mut now = t1;
        while now < t1 + Duration::from_secs(1) {
            match p.wait_until(now) {
                None => {
                    p.on_sent(now);
                    sent += 1;
                }
                Some(at) => now = at,
            }
        }
        assert!((495..=506).contains(&sent), "{sent}");
        // A burst of throttles within DECREASE_GAP halves only once.
        p.on_throttled(now);
        p.on_throttled(now + Duration::from_millis(10));
        assert_eq!(p.rate(), Some(250.0));
    }

    #[tokio::test(start_paused = true)]
    async fn success_raises_the_rate_until_the_limit_is_lifted() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        p.on_sent(t0);
        p.on_throttled(t0 + Duration::from_millis(100));
        let start = p.rate().unwrap_or(0.0);
        assert!(start >= MIN_RATE);
        let mut now = t0 + Duration::from_millis(100);
        let mut last = start;
        for _ in 0..200 {
            now += INCREASE_EVERY;
            p.on_success(now);
            match p.rate() {
                Some(r) => {
                    assert!(r > last);
                    last = r;
                }
                None => return,
            }
        }
        panic!("limit never lifted, rate {last}");
    }

    #[tokio::test(start_paused = true)]
    async fn queue_full_pauses_sending() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        p.pause(t0, Duration::from_secs(5));
        assert_eq!(
            p.wait_until(t0 + Duration::from_secs(1)),
            Some(t0 + Duration::from_secs(5))
        );
        assert_eq!(p.wait_until(t0 + Duration::from_secs(5)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn queue_full_pauses_grow_while_refused_and_shrink_with_successes() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        let max = Duration::from_secs(5);
        let pauses: Vec<u128> = (0..8)
            .map(|_| p.on_queue_full(t0, max).as_millis())
            .collect();
        assert_eq!(pauses, vec![100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        for _ in 0..5 {
            p.on_success(t0);
        }
        let left = p.queue_full_pause().map(|d| d.as_millis());
        assert_eq!(left, Some(156));
        p.on_success(t0);
        assert_eq!(p.queue_full_pause(), None);
        assert_eq!(p.on_queue_full(t0, max), FIRST_QUEUE_FULL_PAUSE);
    }
}
