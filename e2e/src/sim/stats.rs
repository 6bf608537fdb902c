//! Counters: PDUs per direction, command and status, plus session and receipt events.
//!
//! Sessions count locally ([`LocalCounts`]) and merge once per batch of PDUs, so the hot
//! path takes no lock per PDU.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use connector::protocol::codec::{CommandId, CommandStatus};
use serde::Serialize;

/// Which way a PDU went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Received from an ESME.
    In,
    /// Sent to an ESME.
    Out,
}

type Key = (Direction, u32, u32);

/// Per-batch counts kept by a session before merging into [`Stats`].
#[derive(Debug, Default)]
pub struct LocalCounts {
    entries: Vec<(Key, u64)>,
}

impl LocalCounts {
    /// Counts one PDU.
    pub fn add(&mut self, dir: Direction, command_id: u32, status: CommandStatus) {
        let key = (dir, command_id, status.0);
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => self.entries.push((key, 1)),
        }
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Event counters other than PDUs.
#[derive(Debug, Default)]
pub struct EventCounters {
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// Connections refused or closed at once by a fault.
    pub connections_refused: AtomicU64,
    /// Successful binds.
    pub binds: AtomicU64,
    /// Refused binds.
    pub bind_failures: AtomicU64,
    /// Binds refused for the per-system_id bind limit (also counted in `bind_failures`).
    pub binds_over_limit: AtomicU64,
    /// Submits (submit_sm, data_sm) accepted with ESME_ROK.
    pub accepted_submits: AtomicU64,
    /// Submits left unanswered on purpose.
    pub ignored_submits: AtomicU64,
    /// submit_sm refused for a time field not in the SMPP form.
    pub rejected_times: AtomicU64,
    /// Receipt deliver_sm sent (each attempt).
    pub receipts_sent: AtomicU64,
    /// Receipts acknowledged with ESME_ROK.
    pub receipts_acked: AtomicU64,
    /// Receipts or MO given up after too many attempts.
    pub deliveries_abandoned: AtomicU64,
    /// MO deliver_sm sent (each attempt).
    pub mo_sent: AtomicU64,
    /// MO acknowledged with ESME_ROK.
    pub mo_acked: AtomicU64,
    /// Connections broken on purpose.
    pub connections_broken: AtomicU64,
}

/// Counters shared by all sessions of one simulator.
#[derive(Debug, Default)]
pub struct Stats {
    pdus: Mutex<HashMap<Key, u64>>,
    /// Event counters.
    pub events: EventCounters,
}

impl Stats {
    /// Merges and clears a session's local counts.
    pub fn merge(&self, local: &mut LocalCounts) {
        if local.entries.is_empty() {
            return;
        }
        let mut pdus = self.pdus.lock().unwrap_or_else(|p| p.into_inner());
        for (key, n) in local.entries.drain(..) {
            *pdus.entry(key).or_default() += n;
        }
    }

    /// Adds one to an event counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// PDUs counted so far for this direction, command and status.
    pub fn count(&self, dir: Direction, command: CommandId, status: CommandStatus) -> u64 {
        let pdus = self.pdus.lock().unwrap_or_else(|p| p.into_inner());
        pdus.get(&(dir, command.as_u32(), status.0))
            .copied()
            .unwrap_or(0)
    }

    /// All PDU counts by direction, command name and status name.
    pub fn pdu_counts(&self) -> Vec<PduCount> {
        let pdus = self.pdus.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<PduCount> = pdus
            .iter()
            .map(|(&(direction, cmd, status), &count)| PduCount {
                direction,
                command: command_name(cmd),
                status: status_name(CommandStatus(status)),
                count,
            })
            .collect();
        out.sort_by(|a, b| {
            (a.direction, &a.command, &a.status).cmp(&(b.direction, &b.command, &b.status))
        });
        out
    }
}

/// The name of a command id, or its hex value.
pub fn command_name(cmd: u32) -> String {
    CommandId::from_u32(cmd)
        .map(|c| c.name().to_owned())
        .unwrap_or_else(|| format!("0x{cmd:08X}"))
}

/// The ESME_ name of a status, or its hex value.
pub fn status_name(status: CommandStatus) -> String {
    status
        .name()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("0x{:08X}", status.0))
}

/// PDUs of one direction, command and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PduCount {
    /// In or out.
    pub direction: Direction,
    /// Command name.
    pub command: String,
    /// Status name.
    pub status: String,
    /// How many.
    pub count: u64,
}

/// A point-in-time copy of every counter.
#[derive(Debug, Clone, Serialize)]
pub struct StatsSnapshot {
    /// Time since the simulator started.
    pub uptime: Duration,
    /// PDU counts.
    pub pdus: Vec<PduCount>,
    /// Event counters by name.
    pub events: BTreeMap<&'static str, u64>,
    /// Accepted submits in each second since the start.
    pub accepted_per_second: Vec<u64>,
    /// The most accepted submits in any one-second window.
    pub max_accepted_in_one_second: u64,
    /// Receipts and MO waiting for a receiver to bind.
    pub pending_deliveries: usize,
    /// Sessions currently bound.
    pub bound_sessions: usize,
    /// The most sessions bound at the same time since the start.
    pub peak_bound_sessions: usize,
}

impl EventCounters {
    /// The counters by name.
    pub fn to_map(&self) -> BTreeMap<&'static str, u64> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BTreeMap::from([
            ("connections", get(&self.connections)),
            ("connections_refused", get(&self.connections_refused)),
            ("connections_broken", get(&self.connections_broken)),
            ("binds", get(&self.binds)),
            ("bind_failures", get(&self.bind_failures)),
            ("binds_over_limit", get(&self.binds_over_limit)),
            ("accepted_submits", get(&self.accepted_submits)),
            ("ignored_submits", get(&self.ignored_submits)),
            ("rejected_times", get(&self.rejected_times)),
            ("receipts_sent", get(&self.receipts_sent)),
            ("receipts_acked", get(&self.receipts_acked)),
            ("mo_sent", get(&self.mo_sent)),
            ("mo_acked", get(&self.mo_acked)),
            ("deliveries_abandoned", get(&self.deliveries_abandoned)),
        ])
    }
}

impl StatsSnapshot {
    /// PDUs counted for this direction, command and status.
    pub fn count(&self, dir: Direction, command: CommandId, status: CommandStatus) -> u64 {
        let (c, s) = (command.name(), status_name(status));
        self.pdus
            .iter()
            .filter(|p| p.direction == dir && p.command == c && p.status == s)
            .map(|p| p.count)
            .sum()
    }

    /// An event counter by name (0 if unknown).
    pub fn event(&self, name: &str) -> u64 {
        self.events.get(name).copied().unwrap_or(0)
    }
}

impl fmt::Display for StatsSnapshot {
    /// The human summary printed on exit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.uptime.as_secs_f64().max(1e-9);
        writeln!(f, "smsc-sim statistics after {:.1} s", secs)?;
        writeln!(f, "  PDUs (direction command status: count, rate/s):")?;
        for p in &self.pdus {
            let dir = match p.direction {
                Direction::In => "in ",
                Direction::Out => "out",
            };
            writeln!(
                f,
                "    {dir} {:<22} {:<22} {:>10} {:>10.1}",
                p.command,
                p.status,
                p.count,
                p.count as f64 / secs
            )?;
        }
        writeln!(f, "  events:")?;
        for (name, n) in &self.events {
            writeln!(f, "    {name:<22} {n:>10}")?;
        }
        let mut rates = String::new();
        for (i, n) in self
            .accepted_per_second
            .iter()
            .enumerate()
            .rev()
            .take(10)
            .rev()
        {
            let _ = write!(rates, " [{i}s]={n}");
        }
        writeln!(
            f,
            "  accepted submits/s: mean {:.1}, max in any 1 s window {}; last seconds:{}",
            self.event("accepted_submits") as f64 / secs,
            self.max_accepted_in_one_second,
            rates
        )?;
        write!(
            f,
            "  bound sessions {} (at most {} at once), deliveries pending {}",
            self.bound_sessions, self.peak_bound_sessions, self.pending_deliveries
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_counts_merge() {
        let stats = Stats::default();
        let mut local = LocalCounts::default();
        for _ in 0..3 {
            local.add(
                Direction::In,
                CommandId::SubmitSm.as_u32(),
                CommandStatus::ESME_ROK,
            );
        }
        local.add(
            Direction::Out,
            CommandId::SubmitSmResp.as_u32(),
            CommandStatus::ESME_RTHROTTLED,
        );
        stats.merge(&mut local);
        assert!(local.is_empty());
        assert_eq!(
            stats.count(Direction::In, CommandId::SubmitSm, CommandStatus::ESME_ROK),
            3
        );
        let all = stats.pdu_counts();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].status, "ESME_RTHROTTLED");
    }
}
