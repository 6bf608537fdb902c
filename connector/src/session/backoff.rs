//! Reconnect delays: exponential with a cap and jitter, and a slower fixed pace after the
//! SMSC refused the credentials.

use std::time::Duration;

/// Exponential reconnect backoff (for example 5 s, 10 s, 20 s, 40 s, 60 s, 60 s, ...).
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    credentials: Duration,
    failures: u32,
}

/// Why the previous attempt failed, which decides the next delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Network, TLS, timeout or an SMSC refusal other than credentials.
    Network,
    /// The SMSC refused the credentials.
    Credentials,
}

impl Backoff {
    /// A backoff starting at `initial`, doubling up to `max`; `credentials` after a
    /// credentials refusal.
    pub fn new(initial: Duration, max: Duration, credentials: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            credentials,
            failures: 0,
        }
    }

    /// The delay before the next attempt after a failure of `kind`, without jitter.
    pub fn next_base(&mut self, kind: FailureKind) -> Duration {
        let exp = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let base = self
            .initial
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max);
        match kind {
            FailureKind::Network => base,
            FailureKind::Credentials => self.credentials.max(base),
        }
    }

    /// The delay before the next attempt, with up to ±20 % jitter (never below half the
    /// initial delay), so that many connectors do not reconnect in step.
    pub fn next(&mut self, kind: FailureKind) -> Duration {
        jitter(
            self.next_base(kind),
            rand::random::<f64>(),
            self.initial / 2,
        )
    }

    /// Forgets the failures after a successful bind.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// `base` scaled by a factor in 0.8..1.2 chosen by `unit` (0..1), at least `floor`.
fn jitter(base: Duration, unit: f64, floor: Duration) -> Duration {
    let factor = 0.8 + 0.4 * unit.clamp(0.0, 1.0);
    base.mul_f64(factor).max(floor.min(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn doubles_up_to_the_cap() {
        let mut b = Backoff::new(secs(5), secs(60), secs(300));
        let got: Vec<u64> = (0..7)
            .map(|_| b.next_base(FailureKind::Network).as_secs())
            .collect();
        assert_eq!(got, vec![5, 10, 20, 40, 60, 60, 60]);
        b.reset();
        assert_eq!(b.next_base(FailureKind::Network), secs(5));
    }

    #[test]
    fn credentials_refusals_wait_longer() {
        let mut b = Backoff::new(secs(5), secs(60), secs(300));
        assert_eq!(b.next_base(FailureKind::Credentials), secs(300));
        assert_eq!(b.failures(), 1);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        assert_eq!(jitter(secs(10), 0.0, secs(1)), secs(8));
        assert_eq!(jitter(secs(10), 1.0, secs(1)), secs(12));
        let mut b = Backoff::new(secs(5), secs(60), secs(300));
        for _ in 0..50 {
            let d = b.next(FailureKind::Network);
            assert!(d >= secs(4) && d <= secs(72), "{d:?}");
        }
    }
}
