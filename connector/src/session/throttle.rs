//! The session's reaction to SMSC throttling, by evidence: additive-increase /
//! multiplicative-decrease of the send rate after `ESME_RTHROTTLED`, and an adaptive pause
//! with a single probe after `ESME_RMSGQFUL`.
//!
//! Queue full: the first refusal pauses sending for [`FIRST_QUEUE_FULL_PAUSE`]; then one
//! submit (the probe) goes out. Its refusal doubles the pause (up to the configured
//! maximum) and another probe follows; its acceptance opens the session again. Each accepted
//! submit halves the pause, and below the first pause the slow-down ends. Only answers to
//! submits sent after the current pause started count as evidence: the refusals of a
//! window written before the pause do not make it grow.
//!
//! Throttled: unthrottled, the pacer imposes no limit. The first throttling response sets
//! the rate to half of what was sent over the last second; each further one halves it again,
//! at most once per [`DECREASE_GAP`] and only for a submit sent after the last decrease (a
//! whole window may be refused at once). While submits succeed the rate grows by 5 % of the
//! rate at the last decrease (at least [`MIN_STEP`]) every [`INCREASE_EVERY`]; once it is four
//! times that rate the limit is lifted.

use std::time::Duration;

use tokio::time::Instant;

/// Shortest time between two multiplicative decreases.
pub const DECREASE_GAP: Duration = Duration::from_millis(200);
/// How often the rate grows while submits succeed.
pub const INCREASE_EVERY: Duration = Duration::from_millis(100);
/// Smallest rate increase per [`INCREASE_EVERY`], in submits per second.
pub const MIN_STEP: f64 = 2.0;
/// Lowest rate the pacer falls to, in submits per second.
pub const MIN_RATE: f64 = 1.0;

/// The first pause after `ESME_RMSGQFUL`.
pub const FIRST_QUEUE_FULL_PAUSE: Duration = Duration::from_millis(100);
/// How long an unanswered probe holds the next one back, at least.
pub const PROBE_RETRY: Duration = Duration::from_secs(1);

/// The send-rate controller of one session.
#[derive(Clone, Debug)]
pub struct Pacer {
    limit: Option<Limit>,
    paused_until: Option<Instant>,
    /// `None` outside a queue-full slow-down.
    queue_full: Option<QueueFull>,
    paused_total: Duration,
    second_start: Instant,
    sent_this_second: u32,
    sent_last_second: u32,
}

#[derive(Clone, Debug)]
struct Limit {
    rate: f64,
    /// The rate observed when throttling began (the factor's 1.0).
    observed: f64,
    decreased_rate: f64,
    tokens: f64,
    refilled: Instant,
    last_decrease: Instant,
    last_increase: Instant,
}

#[derive(Clone, Debug)]
struct QueueFull {
    pause: Duration,
    /// When the current pause started: answers to earlier submits are no evidence.
    started: Instant,
    /// A submit sent after `started` was accepted: no more probing.
    open: bool,
    /// When the outstanding probe was sent.
    probe_at: Option<Instant>,
}

/// What the pacer is doing, for status and metrics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PacerState {
    /// The send rate limit after `ESME_RTHROTTLED`, submits per second.
    pub rate_limit: Option<f64>,
    /// The limit relative to the rate when throttling began (1.0 when unlimited).
    pub rate_factor: f64,
    /// The current queue-full pause, while in a queue-full slow-down.
    pub queue_full_pause: Option<Duration>,
}

impl Pacer {
    /// An unlimited pacer.
    pub fn new(now: Instant) -> Self {
        Self {
            limit: None,
            paused_until: None,
            queue_full: None,
            paused_total: Duration::ZERO,
            second_start: now,
            sent_this_second: 0,
            sent_last_second: 0,
        }
    }

    /// The current limit in submits per second; `None` when unlimited.
    pub fn rate(&self) -> Option<f64> {
        self.limit.as_ref().map(|l| l.rate)
    }

    /// The current state.
    pub fn state(&self) -> PacerState {
        PacerState {
            rate_limit: self.rate(),
            rate_factor: self
                .limit
                .as_ref()
                .map_or(1.0, |l| (l.rate / l.observed.max(MIN_RATE)).min(1.0)),
            queue_full_pause: self.queue_full.as_ref().map(|q| q.pause),
        }
    }

    /// Time paused after queue-full answers so far.
    pub fn paused_total(&self) -> Duration {
        self.paused_total
    }

    /// `None` if a submit may be sent at `now`, otherwise when to look again.
    pub fn wait_until(&mut self, now: Instant) -> Option<Instant> {
        if let Some(until) = self.paused_until {
            if now < until {
                return Some(until);
            }
            self.paused_until = None;
        }
        if let Some(q) = &self.queue_full {
            if let (false, Some(at)) = (q.open, q.probe_at) {
                let again = at + q.pause.max(PROBE_RETRY);
                if now < again {
                    return Some(again);
                }
            }
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
        if let Some(q) = self.queue_full.as_mut() {
            if !q.open {
                q.probe_at = Some(now);
            }
        }
    }

    /// A submit sent at `sent_at` succeeded at `now`.
    pub fn on_success(&mut self, now: Instant, sent_at: Instant) {
        if let Some(q) = self.queue_full.as_mut() {
            if sent_at >= q.started {
                q.open = true;
                q.probe_at = None;
            }
            let shorter = q.pause / 2;
            if shorter < FIRST_QUEUE_FULL_PAUSE {
                self.queue_full = None;
            } else {
                q.pause = shorter;
            }
        }
        let Some(limit) = self.limit.as_mut() else {
            return;
        };
        if now.duration_since(limit.last_increase) >= INCREASE_EVERY {
            limit.last_increase = now;
            limit.rate += (limit.decreased_rate * 0.05).max(MIN_STEP);
            if limit.rate >= limit.decreased_rate * 4.0 {
                self.limit = None;
            }
        }
    }

    /// The SMSC answered `ESME_RTHROTTLED` at `now` to a submit sent at `sent_at`.
    pub fn on_throttled(&mut self, now: Instant, sent_at: Instant) {
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
                    observed: observed.max(rate),
                    decreased_rate: rate,
                    tokens: 0.0,
                    refilled: now,
                    last_decrease: now,
                    last_increase: now,
                });
            }
            Some(limit) => {
                if now.duration_since(limit.last_decrease) >= DECREASE_GAP
                    && sent_at >= limit.last_decrease
                {
                    limit.rate = (limit.rate / 2.0).max(MIN_RATE);
                    limit.decreased_rate = limit.rate;
                    limit.last_decrease = now;
                    limit.last_increase = now;
                    limit.tokens = limit.tokens.min(0.0);
                }
            }
        }
    }

    /// The SMSC answered `ESME_RMSGQFUL` at `now` to a submit sent at `sent_at`: pauses
    /// sending for the current queue-full pause (at most `max`) and returns it.
    pub fn on_queue_full(&mut self, now: Instant, sent_at: Instant, max: Duration) -> Duration {
        let max = max.max(Duration::from_millis(1));
        let pause = match self.queue_full.as_mut() {
            None => {
                let pause = FIRST_QUEUE_FULL_PAUSE.min(max);
                self.queue_full = Some(QueueFull {
                    pause,
                    started: now,
                    open: false,
                    probe_at: None,
                });
                pause
            }
            // Written before the current pause began: no news.
            Some(q) if sent_at < q.started => return q.pause,
            Some(q) => {
                q.pause = (q.pause * 2).min(max);
                q.started = now;
                q.open = false;
                q.probe_at = None;
                q.pause
            }
        };
        self.pause(now, pause);
        pause
    }

    /// The current queue-full pause; `None` outside a queue-full slow-down.
    pub fn queue_full_pause(&self) -> Option<Duration> {
        self.queue_full.as_ref().map(|q| q.pause)
    }

    /// Send nothing for `pause` from `now`.
    pub fn pause(&mut self, now: Instant, pause: Duration) {
        let until = now + pause;
        let from = self.paused_until.map_or(now, |p| p.max(now));
        if until > from {
            self.paused_total += until - from;
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
        p.on_throttled(t1, t1);
        assert_eq!(p.rate(), Some(500.0));
        assert_eq!(p.state().rate_factor, 0.5);
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
        p.on_throttled(now, now);
        p.on_throttled(now + Duration::from_millis(10), now);
        assert_eq!(p.rate(), Some(250.0));
        // A submit written before the last decrease is no evidence against the new rate.
        let later = now + DECREASE_GAP * 2;
        p.on_throttled(later, now - Duration::from_millis(1));
        assert_eq!(p.rate(), Some(250.0));
        p.on_throttled(later, later);
        assert_eq!(p.rate(), Some(125.0));
    }

    #[tokio::test(start_paused = true)]
    async fn success_raises_the_rate_until_the_limit_is_lifted() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        p.on_sent(t0);
        p.on_throttled(t0 + Duration::from_millis(100), t0);
        let start = p.rate().unwrap_or(0.0);
        assert!(start >= MIN_RATE);
        let mut now = t0 + Duration::from_millis(100);
        let mut last = start;
        for _ in 0..200 {
            now += INCREASE_EVERY;
            p.on_success(now, now);
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
            .map(|_| p.on_queue_full(t0, t0, max).as_millis())
            .collect();
        assert_eq!(pauses, vec![100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        for _ in 0..5 {
            p.on_success(t0, t0);
        }
        let left = p.queue_full_pause().map(|d| d.as_millis());
        assert_eq!(left, Some(156));
        p.on_success(t0, t0);
        assert_eq!(p.queue_full_pause(), None);
        assert_eq!(p.on_queue_full(t0, t0, max), FIRST_QUEUE_FULL_PAUSE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_is_probed_with_one_submit_at_a_time() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        let max = Duration::from_secs(1);
        // A whole window refused: only the first refusal starts the pause.
        for _ in 0..10 {
            p.on_queue_full(t0, t0 - Duration::from_millis(1), max);
        }
        assert_eq!(p.queue_full_pause(), Some(FIRST_QUEUE_FULL_PAUSE));
        let t1 = t0 + FIRST_QUEUE_FULL_PAUSE;
        assert_eq!(p.wait_until(t0), Some(t1));
        // One probe, then nothing until it is answered.
        assert_eq!(p.wait_until(t1), None);
        p.on_sent(t1);
        assert!(p.wait_until(t1 + Duration::from_millis(50)).is_some());
        // Refused: the pause doubles, then the next probe.
        let t2 = t1 + Duration::from_millis(1);
        assert_eq!(p.on_queue_full(t2, t1, max), FIRST_QUEUE_FULL_PAUSE * 2);
        let t3 = t2 + FIRST_QUEUE_FULL_PAUSE * 2;
        assert_eq!(p.wait_until(t2), Some(t3));
        assert_eq!(p.wait_until(t3), None);
        p.on_sent(t3);
        // A success of a submit written before the pause opens nothing.
        p.on_success(t3, t1);
        assert!(p.wait_until(t3).is_some());
        // Accepted: the session opens at once.
        p.on_success(t3 + Duration::from_millis(1), t3);
        assert_eq!(p.wait_until(t3 + Duration::from_millis(1)), None);
        assert_eq!(p.queue_full_pause(), None);
        assert_eq!(p.paused_total(), FIRST_QUEUE_FULL_PAUSE * 3);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_probe_is_followed_by_another() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        p.on_queue_full(t0, t0, Duration::from_secs(5));
        let t1 = t0 + FIRST_QUEUE_FULL_PAUSE;
        p.on_sent(t1);
        assert_eq!(p.wait_until(t1), Some(t1 + PROBE_RETRY));
        assert_eq!(p.wait_until(t1 + PROBE_RETRY), None);
    }

    #[tokio::test(start_paused = true)]
    async fn queue_full_pauses_never_pass_the_maximum() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        let max = Duration::from_millis(300);
        let mut now = t0;
        for _ in 0..10 {
            let pause = p.on_queue_full(now, now, max);
            assert!(pause <= max);
            now += pause;
        }
        assert_eq!(p.queue_full_pause(), Some(max));
    }
}
