//! The session's slow-down as the rest of the connector sees it: whether the pacer
//! ([`super::throttle`]) is limiting the rate or pausing for a full queue (changes only on
//! entering and leaving, each logged once), the time paused so far and the current rate.
//!
//! A slow-down ends only after [`LINGER`] without one: an SMSC that refuses every Nth
//! submit makes the pacer pause and resume many times a second, which is one slow-down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::time::Instant;

/// How long the pacer must be unhindered before a slow-down is reported over.
pub const LINGER: Duration = Duration::from_secs(5);

use super::throttle::PacerState;

/// Whether the session is slowed down, and since when.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlowDown {
    /// The send rate is limited after `ESME_RTHROTTLED`.
    pub throttled: bool,
    /// Sending is paused or probing after `ESME_RMSGQFUL`.
    pub queue_full: bool,
    /// When the current slow-down began; `None` when not slowed down.
    pub since: Option<SystemTime>,
}

impl SlowDown {
    /// Whether any slow-down is in force.
    pub fn active(&self) -> bool {
        self.throttled || self.queue_full
    }

    /// `none`, `throttled`, `queueFull` or `throttledQueueFull`.
    pub fn label(&self) -> &'static str {
        match (self.throttled, self.queue_full) {
            (false, false) => "none",
            (true, false) => "throttled",
            (false, true) => "queueFull",
            (true, true) => "throttledQueueFull",
        }
    }
}

/// A copy of the slow-down figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlowDownSnapshot {
    /// The state.
    pub state: SlowDown,
    /// Time paused after queue-full answers since the engine started.
    pub paused_total: Duration,
    /// The send rate limit, submits per second, while throttled.
    pub rate_limit: Option<f64>,
    /// The rate limit relative to the rate when throttling began (1.0 when unlimited).
    pub rate_factor: f64,
    /// The current queue-full pause, while the queue is full.
    pub queue_full_pause: Option<Duration>,
}

/// Shared between the links of an engine (written) and its handle (read).
#[derive(Debug)]
pub struct SlowDownMeter {
    state: watch::Sender<SlowDown>,
    paused_us: AtomicU64,
    /// Rate limit × 1000; 0 when unlimited.
    rate_milli: AtomicU64,
    factor_milli: AtomicU64,
    /// Pause in µs; 0 outside a queue-full slow-down.
    pause_us: AtomicU64,
    /// When the pacer was last seen throttled and queue-full.
    seen: Mutex<(Option<Instant>, Option<Instant>)>,
}

impl Default for SlowDownMeter {
    fn default() -> Self {
        Self {
            state: watch::channel(SlowDown::default()).0,
            paused_us: AtomicU64::new(0),
            rate_milli: AtomicU64::new(0),
            factor_milli: AtomicU64::new(1000),
            pause_us: AtomicU64::new(0),
            seen: Mutex::new((None, None)),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl SlowDownMeter {
    /// A receiver of the state (changes on entering and leaving only).
    pub fn watch(&self) -> watch::Receiver<SlowDown> {
        self.state.subscribe()
    }

    /// The current figures.
    pub fn snapshot(&self) -> SlowDownSnapshot {
        let rate = self.rate_milli.load(Ordering::Relaxed);
        let pause = self.pause_us.load(Ordering::Relaxed);
        SlowDownSnapshot {
            state: *self.state.borrow(),
            paused_total: Duration::from_micros(self.paused_us.load(Ordering::Relaxed)),
            rate_limit: (rate > 0).then(|| rate as f64 / 1000.0),
            rate_factor: self.factor_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            queue_full_pause: (pause > 0).then(|| Duration::from_micros(pause)),
        }
    }

    /// Records the pacer's state at `now`; `paused` is the pause time added since the last
    /// call. Logs and publishes a change of state.
    pub(crate) fn record(&self, pacer: PacerState, paused: Duration, now: Instant) {
        if !paused.is_zero() {
            self.paused_us.fetch_add(micros(paused), Ordering::Relaxed);
        }
        let rate = pacer.rate_limit.map_or(0, |r| ((r * 1000.0) as u64).max(1));
        self.rate_milli.store(rate, Ordering::Relaxed);
        self.factor_milli
            .store((pacer.rate_factor * 1000.0) as u64, Ordering::Relaxed);
        self.pause_us
            .store(pacer.queue_full_pause.map_or(0, micros), Ordering::Relaxed);
        let (throttled, queue_full) = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if pacer.rate_limit.is_some() {
                seen.0 = Some(now);
            }
            if pacer.queue_full_pause.is_some() {
                seen.1 = Some(now);
            }
            let recent = |at: Option<Instant>| at.is_some_and(|at| now.duration_since(at) < LINGER);
            (recent(seen.0), recent(seen.1))
        };
        self.publish(throttled, queue_full, pacer);
    }

    /// The link ended: no slow-down any more (the next link starts unlimited).
    pub(crate) fn reset(&self) {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = (None, None);
        self.rate_milli.store(0, Ordering::Relaxed);
        self.factor_milli.store(1000, Ordering::Relaxed);
        self.pause_us.store(0, Ordering::Relaxed);
        let pacer = PacerState {
            rate_limit: None,
            rate_factor: 1.0,
            queue_full_pause: None,
        };
        self.publish(false, false, pacer);
    }

    fn publish(&self, throttled: bool, queue_full: bool, pacer: PacerState) {
        let old = *self.state.borrow();
        if (old.throttled, old.queue_full) == (throttled, queue_full) {
            return;
        }
        log_change(&old, throttled, queue_full, pacer);
        let since = match (old.active(), throttled || queue_full) {
            (_, false) => None,
            (false, true) => Some(SystemTime::now()),
            (true, true) => old.since,
        };
        self.state.send_replace(SlowDown {
            throttled,
            queue_full,
            since,
        });
    }
}

fn log_change(old: &SlowDown, throttled: bool, queue_full: bool, pacer: PacerState) {
    if throttled && !old.throttled {
        let rate = pacer.rate_limit.unwrap_or_default();
        tracing::info!(
            rate_limit = format!("{rate:.1}/s"),
            "SMSC throttling (ESME_RTHROTTLED): slow-down started, send rate limited"
        );
    } else if !throttled && old.throttled {
        tracing::info!("SMSC throttling over: slow-down ended, send rate no longer limited");
    }
    if queue_full && !old.queue_full {
        let pause = pacer.queue_full_pause.unwrap_or_default();
        tracing::info!(
            pause_ms = pause.as_millis() as u64,
            "SMSC queue full (ESME_RMSGQFUL): slow-down started, sending paused and probed"
        );
    } else if !queue_full && old.queue_full {
        tracing::info!("SMSC queue no longer full: queue-full slow-down ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(rate: Option<f64>, pause: Option<u64>) -> PacerState {
        PacerState {
            rate_limit: rate,
            rate_factor: rate.map_or(1.0, |r| r / 100.0),
            queue_full_pause: pause.map(Duration::from_millis),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_state_changes_on_entering_and_leaving_only() {
        let m = SlowDownMeter::default();
        let mut w = m.watch();
        let t0 = Instant::now();
        m.record(state(None, Some(100)), Duration::from_millis(100), t0);
        assert!(w.has_changed().unwrap());
        let first = *w.borrow_and_update();
        assert_eq!(first.label(), "queueFull");
        assert!(first.since.is_some());
        m.record(state(None, Some(200)), Duration::from_millis(200), t0);
        assert!(!w.has_changed().unwrap());
        m.record(state(Some(50.0), Some(200)), Duration::ZERO, t0);
        let both = *w.borrow_and_update();
        assert_eq!(both.label(), "throttledQueueFull");
        assert_eq!(both.since, first.since);
        let s = m.snapshot();
        assert_eq!(s.paused_total, Duration::from_millis(300));
        assert_eq!(s.rate_limit, Some(50.0));
        assert_eq!(s.rate_factor, 0.5);
        assert_eq!(s.queue_full_pause, Some(Duration::from_millis(200)));
        // The pacer resumes and pauses again and again: still one slow-down.
        for i in 1..10 {
            let at = t0 + Duration::from_millis(300 * i);
            let pause = (i % 2 == 0).then_some(100);
            m.record(state(Some(50.0), pause), Duration::ZERO, at);
        }
        assert!(!w.has_changed().unwrap());
        // Unhindered for LINGER: over.
        let quiet = t0 + Duration::from_millis(2_700);
        m.record(state(None, None), Duration::ZERO, quiet);
        assert!(!w.has_changed().unwrap());
        m.record(state(None, None), Duration::ZERO, quiet + LINGER);
        assert_eq!(*w.borrow_and_update(), SlowDown::default());
        assert_eq!(m.snapshot().paused_total, Duration::from_millis(300));
        assert_eq!(m.snapshot().rate_factor, 1.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_link_starts_without_a_slow_down() {
        let m = SlowDownMeter::default();
        m.record(state(Some(10.0), None), Duration::ZERO, Instant::now());
        assert!(m.snapshot().state.active());
        m.reset();
        assert_eq!(m.snapshot().state, SlowDown::default());
        assert_eq!(m.snapshot().rate_limit, None);
    }
}
