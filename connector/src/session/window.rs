//! The window of outstanding requests: sequence numbers, matching responses to requests,
//! response timeouts, and remembering timed-out requests so that a late response is still
//! matched.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// Largest sequence number (SMPP 3.4 section 3.2); numbers wrap from here back to 1.
pub const MAX_SEQUENCE: u32 = 0x7FFF_FFFF;

/// Hands out sequence numbers 1..=0x7FFFFFFF, wrapping back to 1.
#[derive(Clone, Debug)]
pub struct SequenceNumbers {
    next: u32,
}

impl Default for SequenceNumbers {
    fn default() -> Self {
        Self::starting_at(1)
    }
}

impl SequenceNumbers {
    /// A generator whose first number is `first` (clamped into 1..=0x7FFFFFFF).
    pub fn starting_at(first: u32) -> Self {
        Self {
            next: first.clamp(1, MAX_SEQUENCE),
        }
    }

    /// The next sequence number.
    pub fn next_sequence(&mut self) -> u32 {
        let seq = self.next;
        self.next = if seq >= MAX_SEQUENCE { 1 } else { seq + 1 };
        seq
    }
}

/// A request waiting for its response.
#[derive(Debug)]
pub struct Outstanding<P> {
    /// What the caller stored with the request.
    pub payload: P,
    /// When it was written.
    pub sent_at: Instant,
    deadline: Instant,
}

/// A request whose response timed out; kept so that a late response is still reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expired<L> {
    /// What the caller kept from the request (for example its tag).
    pub info: L,
    /// When the request was written.
    pub sent_at: Instant,
    forget_at: Instant,
}

/// What a response's sequence number matched.
#[derive(Debug)]
pub enum Matched<P, L> {
    /// A request still waiting: answer its caller.
    Outstanding(Outstanding<P>),
    /// A request that had timed out: report the late response.
    Late(Expired<L>),
    /// Nothing (a duplicate, or a response the SMSC invented).
    Unknown,
}

/// Outstanding requests keyed by sequence number, plus recently expired ones.
///
/// `P` is stored per outstanding request; `L` is what is kept of it after its timeout.
#[derive(Debug)]
pub struct Window<P, L> {
    sequences: SequenceNumbers,
    outstanding: HashMap<u32, Outstanding<P>>,
    expired: HashMap<u32, Expired<L>>,
    timeout: Duration,
    late_retention: Duration,
    max_expired: usize,
}

impl<P, L> Window<P, L> {
    /// A window whose requests time out after `timeout`; expired requests are remembered
    /// for `late_retention` (at most `max_expired` of them).
    pub fn new(timeout: Duration, late_retention: Duration, max_expired: usize) -> Self {
        Self::with_sequences(
            SequenceNumbers::default(),
            timeout,
            late_retention,
            max_expired,
        )
    }

    /// Like [`Window::new`] with a given sequence generator.
    pub fn with_sequences(
        sequences: SequenceNumbers,
        timeout: Duration,
        late_retention: Duration,
        max_expired: usize,
    ) -> Self {
        Self {
            sequences,
            outstanding: HashMap::new(),
            expired: HashMap::new(),
            timeout,
            late_retention,
            max_expired,
        }
    }

    /// A sequence number that is neither outstanding nor remembered as expired.
    pub fn allocate(&mut self) -> u32 {
        loop {
            let seq = self.sequences.next_sequence();
            if !self.outstanding.contains_key(&seq) && !self.expired.contains_key(&seq) {
                return seq;
            }
        }
    }

    /// Records a request written at `now` with sequence number `seq`.
    pub fn insert(&mut self, seq: u32, payload: P, now: Instant) {
        self.outstanding.insert(
            seq,
            Outstanding {
                payload,
                sent_at: now,
                deadline: now + self.timeout,
            },
        );
    }

    /// Matches a response's sequence number.
    pub fn take(&mut self, seq: u32) -> Matched<P, L> {
        if let Some(o) = self.outstanding.remove(&seq) {
            Matched::Outstanding(o)
        } else if let Some(e) = self.expired.remove(&seq) {
            Matched::Late(e)
        } else {
            Matched::Unknown
        }
    }

    /// Removes the requests whose response is overdue at `now`, keeping `keep(&payload)` of
    /// each for late matching, and forgets expired entries past their retention.
    pub fn expire(&mut self, now: Instant, keep: impl Fn(&P) -> L) -> Vec<(u32, Outstanding<P>)> {
        self.expired.retain(|_, e| e.forget_at > now);
        let overdue: Vec<u32> = self
            .outstanding
            .iter()
            .filter(|(_, o)| o.deadline <= now)
            .map(|(seq, _)| *seq)
            .collect();
        let mut out = Vec::with_capacity(overdue.len());
        for seq in overdue {
            if let Some(o) = self.outstanding.remove(&seq) {
                if self.expired.len() < self.max_expired {
                    self.expired.insert(
                        seq,
                        Expired {
                            info: keep(&o.payload),
                            sent_at: o.sent_at,
                            forget_at: now + self.late_retention,
                        },
                    );
                }
                out.push((seq, o));
            }
        }
        out
    }

    /// Removes every outstanding request (the connection is gone) and forgets expired ones.
    pub fn drain(&mut self) -> Vec<(u32, Outstanding<P>)> {
        self.expired.clear();
        self.outstanding.drain().collect()
    }

    /// Number of requests waiting for a response.
    pub fn len(&self) -> usize {
        self.outstanding.len()
    }

    /// Whether no request waits for a response.
    pub fn is_empty(&self) -> bool {
        self.outstanding.is_empty()
    }

    /// Number of expired requests still remembered.
    pub fn expired_len(&self) -> usize {
        self.expired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_wrap_to_one() {
        let mut s = SequenceNumbers::starting_at(MAX_SEQUENCE - 1);
        assert_eq!(s.next_sequence(), MAX_SEQUENCE - 1);
        assert_eq!(s.next_sequence(), MAX_SEQUENCE);
        assert_eq!(s.next_sequence(), 1);
        assert_eq!(SequenceNumbers::starting_at(0).next_sequence(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn allocation_skips_numbers_in_use_after_a_wrap() {
        let mut w: Window<&str, ()> = Window::with_sequences(
            SequenceNumbers::starting_at(MAX_SEQUENCE),
            Duration::from_secs(1),
            Duration::from_secs(60),
            10,
        );
        let now = Instant::now();
        let a = w.allocate();
        w.insert(a, "a", now);
        let b = w.allocate();
        w.insert(b, "b", now);
        assert_eq!((a, b), (MAX_SEQUENCE, 1));
        let mut w2: Window<&str, ()> = Window::with_sequences(
            SequenceNumbers::starting_at(1),
            Duration::from_secs(1),
            Duration::from_secs(60),
            10,
        );
        w2.insert(1, "taken", now);
        assert_eq!(w2.allocate(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_response_is_still_matched() {
        let mut w: Window<(&str, u64), u64> =
            Window::new(Duration::from_secs(10), Duration::from_secs(60), 100);
        let t0 = Instant::now();
        let seq = w.allocate();
        w.insert(seq, ("msg", 42), t0);
        assert!(w.expire(t0 + Duration::from_secs(9), |p| p.1).is_empty());
        let expired = w.expire(t0 + Duration::from_secs(10), |p| p.1);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].0, seq);
        assert!(w.is_empty());
        match w.take(seq) {
            Matched::Late(e) => {
                assert_eq!(e.info, 42);
                assert_eq!(e.sent_at, t0);
            }
            other => panic!("expected a late match, got {other:?}"),
        }
        assert!(matches!(w.take(seq), Matched::Unknown));
    }

    #[tokio::test(start_paused = true)]
    async fn expired_entries_are_forgotten_after_retention() {
        let mut w: Window<u64, u64> =
            Window::new(Duration::from_secs(1), Duration::from_secs(5), 100);
        let t0 = Instant::now();
        w.insert(7, 7, t0);
        w.expire(t0 + Duration::from_secs(1), |p| *p);
        assert_eq!(w.expired_len(), 1);
        w.expire(t0 + Duration::from_secs(7), |p| *p);
        assert_eq!(w.expired_len(), 0);
        assert!(matches!(w.take(7), Matched::Unknown));
    }

    #[tokio::test(start_paused = true)]
    async fn drain_hands_back_everything() {
        let mut w: Window<u64, u64> =
            Window::new(Duration::from_secs(1), Duration::from_secs(5), 100);
        let t0 = Instant::now();
        for i in 0..5 {
            let s = w.allocate();
            w.insert(s, i, t0);
        }
        let mut got: Vec<u64> = w.drain().into_iter().map(|(_, o)| o.payload).collect();
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert!(w.is_empty());
    }
}
