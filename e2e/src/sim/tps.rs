//! Accepted-submit rate: the simulator's own TPS limit and per-interval counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Width of one history bucket.
pub const BUCKET: Duration = Duration::from_millis(10);
const BUCKETS_PER_SECOND: usize = 100;

/// Counts accepted submits in 10 ms buckets since the start and enforces an optional
/// limit per fixed one-second window.
#[derive(Debug)]
pub struct TpsMeter {
    start: Instant,
    limit: Option<u32>,
    /// Current window: second index (high 32 bits) and accepted count (low 32 bits).
    window: AtomicU64,
    buckets: Mutex<Vec<u32>>,
}

impl TpsMeter {
    /// A meter starting now.
    pub fn new(start: Instant, limit: Option<u32>) -> Self {
        TpsMeter {
            start,
            limit,
            window: AtomicU64::new(0),
            buckets: Mutex::new(Vec::new()),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> Option<u32> {
        self.limit
    }

    /// Takes one permit for a submit at `now`; `false` if the limit is reached.
    pub fn try_acquire(&self, now: Instant) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        let second = now.saturating_duration_since(self.start).as_secs() as u32;
        let mut cur = self.window.load(Ordering::Relaxed);
        loop {
            let (w, count) = ((cur >> 32) as u32, cur as u32);
            let next = if w == second {
                if count >= limit {
                    return false;
                }
                cur + 1
            } else {
                (u64::from(second) << 32) | 1
            };
            match self
                .window
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Records `n` accepted submits at `now`.
    pub fn record(&self, now: Instant, n: u32) {
        if n == 0 {
            return;
        }
        let idx =
            (now.saturating_duration_since(self.start).as_millis() / BUCKET.as_millis()) as usize;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() <= idx {
            buckets.resize(idx + 1, 0);
        }
        buckets[idx] = buckets[idx].saturating_add(n);
    }

    /// Accepted submits in each whole second since the start (index 0: the first second).
    pub fn per_second(&self) -> Vec<u64> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .chunks(BUCKETS_PER_SECOND)
            .map(|c| c.iter().map(|&n| u64::from(n)).sum())
            .collect()
    }

    /// The most accepted submits seen in any window of `window` (sliding in 10 ms steps).
    pub fn max_in_window(&self, window: Duration) -> u64 {
        let width = ((window.as_millis() / BUCKET.as_millis()) as usize).max(1);
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut sum: u64 = 0;
        let mut best = 0;
        for i in 0..buckets.len() {
            sum += u64::from(buckets[i]);
            if i >= width {
                sum -= u64::from(buckets[i - width]);
            }
            best = best.max(sum);
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_applies_per_second() {
        let start = Instant::now();
        let m = TpsMeter::new(start, Some(3));
        let ok = (0..5).filter(|_| m.try_acquire(start)).count();
        assert_eq!(ok, 3);
        assert!(m.try_acquire(start + Duration::from_millis(1500)));
    }

    #[test]
    fn counts_per_second_and_sliding_window() {
        let start = Instant::now();
        let m = TpsMeter::new(start, None);
        m.record(start + Duration::from_millis(900), 5);
        m.record(start + Duration::from_millis(1100), 7);
        m.record(start + Duration::from_millis(2500), 1);
        assert_eq!(m.per_second(), vec![5, 7, 1]);
        assert_eq!(m.max_in_window(Duration::from_secs(1)), 12);
    }
}
