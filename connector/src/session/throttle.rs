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
//! the rate to half of what was sent over the last second. Each later change is judged by
//! its evidence, the share of throttled answers among the answers to the submits written
//! since (at least [`EVIDENCE`] of them, at most one change per [`CHANGE_GAP`]; a majority
//! refused is seen on [`QUICK_EVIDENCE`] answers, at once): while
//! lowering the rate lowers that share, or while at least half of the submits are refused,
//! the rate is halved again; when a decrease did not lower a minority share (an SMSC
//! refusing every Nth submit whatever the rate), the rate is doubled back, and while that
//! does not raise the share it keeps doubling until the limit is lifted.
//! While submits succeed the rate also grows by 5 % of the rate at the last decrease (at
//! least [`MIN_STEP`]) every [`INCREASE_EVERY`]; once it is four times that rate the limit
//! is lifted.

use std::time::Duration;

use tokio::time::Instant;

/// Shortest time between two rate changes after throttling answers.
pub const CHANGE_GAP: Duration = Duration::from_millis(200);
/// Answers to submits written since the last rate change needed to judge it.
pub const EVIDENCE: u32 = 50;
/// A throttled share from which the rate is always lowered.
pub const MAJORITY: f64 = 0.5;
/// Answers enough to see a majority refused (judged without waiting for [`CHANGE_GAP`]).
pub const QUICK_EVIDENCE: u32 = 10;
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
    /// Answers since the last rate change (or, unlimited, since the last reset).
    evidence: Evidence,
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
    last_change: Instant,
    last_increase: Instant,
    /// The last change after throttling answers.
    change: Change,
    /// The throttled share measured before the last change, when there was enough evidence.
    share_before: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Decreased,
    Restored,
}

/// Answers to submits written since `since`.
#[derive(Clone, Copy, Debug)]
struct Evidence {
    since: Instant,
    answers: u32,
    throttled: u32,
}

impl Evidence {
    fn new(since: Instant) -> Self {
        Self {
            since,
            answers: 0,
            throttled: 0,
        }
    }

    fn note(&mut self, sent_at: Instant, throttled: bool) {
        if sent_at >= self.since {
            self.answers = self.answers.saturating_add(1);
            self.throttled = self.throttled.saturating_add(u32::from(throttled));
        }
    }

    /// The throttled share, once there are at least `enough` answers.
    fn share_of(&self, enough: u32) -> Option<f64> {
        (self.answers >= enough).then(|| f64::from(self.throttled) / f64::from(self.answers))
    }
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
            evidence: Evidence::new(now),
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

    /// Any answer to a submit sent at `sent_at` (before its class is handled): an answered
    /// probe no longer holds the next one back.
    pub fn on_answer(&mut self, sent_at: Instant) {
        if let Some(q) = self.queue_full.as_mut() {
            if q.probe_at.is_some_and(|at| sent_at >= at) {
                q.probe_at = None;
            }
        }
    }

    /// A submit sent at `sent_at` succeeded at `now`.
    pub fn on_success(&mut self, now: Instant, sent_at: Instant) {
        self.evidence.note(sent_at, false);
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
                self.evidence = Evidence::new(now);
            }
        }
    }

    /// The SMSC answered `ESME_RTHROTTLED` at `now` to a submit sent at `sent_at`.
    pub fn on_throttled(&mut self, now: Instant, sent_at: Instant) {
        self.roll(now);
        self.evidence.note(sent_at, true);
        let Some(limit) = self.limit.as_mut() else {
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
                last_change: now,
                last_increase: now,
                change: Change::Decreased,
                share_before: self.evidence.share_of(EVIDENCE),
            });
            self.evidence = Evidence::new(now);
            return;
        };
        // One change at a time (a whole window may be refused at once), judged on the
        // answers to submits written since the last one.
        if sent_at < limit.last_change {
            return;
        }
        // A majority refused is judged at once on a few answers; a minority needs more
        // evidence and time.
        let quick = self
            .evidence
            .share_of(QUICK_EVIDENCE)
            .filter(|s| *s >= MAJORITY);
        let share = match quick {
            Some(share) => share,
            None if now.duration_since(limit.last_change) < CHANGE_GAP => return,
            None => match self.evidence.share_of(EVIDENCE) {
                Some(share) => share,
                None => return,
            },
        };
        let decrease = match (limit.change, limit.share_before) {
            // Most submits refused: too fast, whatever the last change did.
            _ if share >= MAJORITY => true,
            (_, None) => true,
            // The last decrease lowered the share: the rate is the cause.
            (Change::Decreased, Some(before)) => share < before * 0.8,
            // Doubling back raised it: the rate is the cause after all.
            (Change::Restored, Some(before)) => share > before * 1.25,
        };
        if decrease {
            limit.rate = (limit.rate / 2.0).max(MIN_RATE);
            limit.decreased_rate = limit.rate;
            limit.change = Change::Decreased;
            limit.tokens = limit.tokens.min(0.0);
        } else {
            limit.rate *= 2.0;
            if limit.rate >= limit.observed {
                self.limit = None;
                self.evidence = Evidence::new(now);
                return;
            }
            limit.change = Change::Restored;
        }
        limit.share_before = Some(share);
        limit.last_change = now;
        limit.last_increase = now;
        self.evidence = Evidence::new(now);
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
    }

    /// One epoch of answers at `at` (sent then), `throttled` of `answers` refused; the last
    /// refusal comes `CHANGE_GAP` later and lets the pacer judge.
    fn epoch(p: &mut Pacer, at: Instant, answers: u32, throttled: u32) -> Instant {
        let sent = at + Duration::from_millis(1);
        for _ in 0..answers - throttled {
            p.on_success(sent, sent);
        }
        for _ in 1..throttled {
            p.on_throttled(sent, sent);
        }
        let judged = at + CHANGE_GAP;
        p.on_throttled(judged, sent);
        judged
    }

    fn throttled_at_500(t0: Instant) -> (Pacer, Instant) {
        let mut p = Pacer::new(t0);
        for i in 0..1000u64 {
            p.on_sent(t0 + Duration::from_millis(i));
        }
        let t1 = t0 + Duration::from_millis(1000);
        p.on_throttled(t1, t1);
        assert_eq!(p.rate(), Some(500.0));
        (p, t1)
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_sensitive_smsc_gets_halved_while_halving_helps() {
        let (mut p, t1) = throttled_at_500(Instant::now());
        // Too few answers yet: no change.
        p.on_throttled(t1 + CHANGE_GAP, t1 + CHANGE_GAP);
        assert_eq!(p.rate(), Some(500.0));
        let t2 = epoch(&mut p, t1, EVIDENCE, 20);
        assert_eq!(p.rate(), Some(250.0));
        // A refusal of a submit written before the change is no evidence.
        p.on_throttled(t2 + CHANGE_GAP, t2 - Duration::from_millis(1));
        assert_eq!(p.rate(), Some(250.0));
        // The share fell from 40 % to 20 %: halving helps, so again.
        epoch(&mut p, t2, EVIDENCE, 10);
        assert_eq!(p.rate(), Some(125.0));
    }

    #[tokio::test(start_paused = true)]
    async fn an_smsc_refusing_every_nth_submit_gets_its_rate_back() {
        let (mut p, t1) = throttled_at_500(Instant::now());
        let t2 = epoch(&mut p, t1, EVIDENCE, 10);
        assert_eq!(p.rate(), Some(250.0));
        // Still one in five refused at half the rate: the decrease is undone...
        let t3 = epoch(&mut p, t2, EVIDENCE, 10);
        assert_eq!(p.rate(), Some(500.0));
        // ... and while doubling does not raise the share, the limit goes.
        epoch(&mut p, t3, EVIDENCE, 11);
        assert_eq!(p.rate(), None);
        assert_eq!(p.state().rate_factor, 1.0);
    }

    #[tokio::test(start_paused = true)]
    async fn doubling_back_that_raises_the_share_is_reversed() {
        let (mut p, t1) = throttled_at_500(Instant::now());
        let t2 = epoch(&mut p, t1, EVIDENCE, 10);
        let t3 = epoch(&mut p, t2, EVIDENCE, 10);
        assert_eq!(p.rate(), Some(500.0));
        epoch(&mut p, t3, EVIDENCE, 20);
        assert_eq!(p.rate(), Some(250.0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_majority_refused_lowers_the_rate_at_once() {
        let (mut p, t1) = throttled_at_500(Instant::now());
        let mut at = t1;
        for expected in [250.0, 125.0, 62.5] {
            // A window written after the last change, refused: judged on a few answers.
            let sent = at + Duration::from_millis(1);
            at = sent + Duration::from_millis(1);
            for _ in 0..QUICK_EVIDENCE {
                p.on_throttled(at, sent);
            }
            assert_eq!(p.rate(), Some(expected));
        }
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
        // A probe answered otherwise (a temporary error, say) lets the next one go at once.
        let t2 = t1 + PROBE_RETRY;
        p.on_sent(t2);
        assert!(p.wait_until(t2).is_some());
        p.on_answer(t2);
        assert_eq!(p.wait_until(t2 + Duration::from_millis(1)), None);
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
