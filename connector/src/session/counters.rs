//! Session counters for the connector's metrics: PDUs per command, direction and
//! command_status, window occupancy, response latency histogram, reconnects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::protocol::codec::{CommandId, CommandStatus};

/// Upper bounds of the response latency buckets, in microseconds (the last bucket is +Inf).
pub const LATENCY_BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// Which way a PDU travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Sent to the SMSC.
    Sent,
    /// Received from the SMSC.
    Received,
}

/// Shared, thread-safe counters of one session engine.
#[derive(Debug, Default)]
pub struct Counters {
    pdus: Mutex<HashMap<(Direction, CommandId, CommandStatus), u64>>,
    latency: Mutex<Histogram>,
    window_in_use: AtomicUsize,
    reconnects: AtomicU64,
    late_responses: AtomicU64,
    response_timeouts: AtomicU64,
    unmatched_responses: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
}

/// A response latency histogram with [`LATENCY_BOUNDS_US`] buckets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Count per bucket; index `LATENCY_BOUNDS_US.len()` is the +Inf bucket (not cumulative).
    pub buckets: [u64; 17],
    /// Number of observations.
    pub count: u64,
    /// Sum of the observations in microseconds.
    pub sum_us: u64,
}

impl Histogram {
    /// Adds one observation.
    pub fn observe(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = LATENCY_BOUNDS_US.partition_point(|&b| b < us);
        self.buckets[i] += 1;
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }

    /// The upper bound (microseconds) of the bucket holding quantile `q` (0..=1);
    /// `None` when empty or in the +Inf bucket.
    pub fn quantile_bound_us(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let target = ((self.count as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return LATENCY_BOUNDS_US.get(i).copied();
            }
        }
        None
    }
}

/// A point-in-time copy of the counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// PDUs by direction, command and command_status, sorted.
    pub pdus: Vec<(Direction, CommandId, CommandStatus, u64)>,
    /// Response latency of submits (first send to response).
    pub latency: Histogram,
    /// Configured window size.
    pub window_size: usize,
    /// Requests outstanding or waiting for window space to be sent.
    pub window_in_use: usize,
    /// Binds after the first one.
    pub reconnects: u64,
    /// Responses matched after their request had timed out.
    pub late_responses: u64,
    /// Requests whose response timed out.
    pub response_timeouts: u64,
    /// Responses matching no request.
    pub unmatched_responses: u64,
    /// `ESME_RTHROTTLED` and `ESME_RMSGQFUL` responses.
    pub throttled: u64,
    /// Submits sent again after a throttling response.
    pub retries: u64,
}

impl CountersSnapshot {
    /// PDUs counted for `direction` and `command` with `status`.
    pub fn count(&self, direction: Direction, command: CommandId, status: CommandStatus) -> u64 {
        self.pdus
            .iter()
            .filter(|(d, c, s, _)| *d == direction && *c == command && *s == status)
            .map(|(.., n)| n)
            .sum()
    }
}

impl Counters {
    /// Counts one PDU.
    pub fn pdu(&self, direction: Direction, command: CommandId, status: CommandStatus) {
        if let Ok(mut map) = self.pdus.lock() {
            *map.entry((direction, command, status)).or_default() += 1;
        }
    }

    /// Records a response latency.
    pub fn latency(&self, d: Duration) {
        if let Ok(mut h) = self.latency.lock() {
            h.observe(d);
        }
    }

    pub(crate) fn window_acquired(&self) {
        self.window_in_use.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn window_released(&self) {
        self.window_in_use.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn late_response(&self) {
        self.late_responses.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn response_timeout(&self) {
        self.response_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unmatched_response(&self) {
        self.unmatched_responses.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of every counter.
    pub fn snapshot(&self, window_size: usize) -> CountersSnapshot {
        let mut pdus: Vec<_> = self
            .pdus
            .lock()
            .map(|m| m.iter().map(|(&(d, c, s), &n)| (d, c, s, n)).collect())
            .unwrap_or_default();
        pdus.sort_by_key(|&(d, c, s, _)| (d, c.as_u32(), s));
        CountersSnapshot {
            pdus,
            latency: self.latency.lock().map(|h| h.clone()).unwrap_or_default(),
            window_size,
            window_in_use: self.window_in_use.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            late_responses: self.late_responses.load(Ordering::Relaxed),
            response_timeouts: self.response_timeouts.load(Ordering::Relaxed),
            unmatched_responses: self.unmatched_responses.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_and_quantiles() {
        let mut h = Histogram::default();
        for _ in 0..99 {
            h.observe(Duration::from_micros(200));
        }
        h.observe(Duration::from_millis(40));
        assert_eq!(h.count, 100);
        assert_eq!(h.buckets[1], 99);
        assert_eq!(h.quantile_bound_us(0.5), Some(250));
        assert_eq!(h.quantile_bound_us(1.0), Some(50_000));
        h.observe(Duration::from_secs(60));
        assert_eq!(h.buckets[16], 1);
    }

    #[test]
    fn counts_pdus_by_command_and_status() {
        let c = Counters::default();
        c.pdu(
            Direction::Sent,
            CommandId::SubmitSm,
            CommandStatus::ESME_ROK,
        );
        c.pdu(
            Direction::Received,
            CommandId::SubmitSmResp,
            CommandStatus::ESME_RTHROTTLED,
        );
        c.pdu(
            Direction::Received,
            CommandId::SubmitSmResp,
            CommandStatus::ESME_RTHROTTLED,
        );
        let s = c.snapshot(10);
        assert_eq!(
            s.count(
                Direction::Received,
                CommandId::SubmitSmResp,
                CommandStatus::ESME_RTHROTTLED
            ),
            2
        );
        assert_eq!(
            s.count(
                Direction::Sent,
                CommandId::SubmitSm,
                CommandStatus::ESME_ROK
            ),
            1
        );
        assert_eq!(s.window_size, 10);
    }
}
