//! The table of a campaign: one row per fault, and its verdict.

use std::fmt::Write;

/// The figures of one fault.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Fault name.
    pub fault: String,
    /// Commands published (good ones).
    pub published: usize,
    /// Published but not settled when the fault began.
    pub in_flight: usize,
    /// Commands lost.
    pub lost_commands: usize,
    /// Receipts lost.
    pub lost_receipts: usize,
    /// Duplicate submits seen at the SMSCs.
    pub duplicate_submits: usize,
    /// `smpp_duplicate_window_total` over the run.
    pub counted: u64,
    /// Duplicates allowed beyond the count (after a crash).
    pub allowance: usize,
    /// Duplicate events in the stream.
    pub duplicate_events: usize,
    /// Settled by a connector REJECTED/EXPIRED event.
    pub rejected: usize,
    /// Seconds from the end of the fault until every command published before it settled.
    pub recover_s: Option<f64>,
    /// Largest number of submits accepted in one second at an SMSC.
    pub max_tps: u64,
    /// Most throttle keys of the operator seen at once in Redis (`None`: not scanned).
    pub redis_keys: Option<usize>,
    /// What happened.
    pub note: String,
    /// Why the row fails.
    pub problems: Vec<String>,
    /// Not run, and why.
    pub skipped: Option<String>,
}

impl Row {
    /// A row for a fault that could not be run to the end.
    pub fn error(fault: &str, error: String) -> Self {
        Self {
            fault: fault.to_string(),
            problems: vec![error],
            ..Self::default()
        }
    }

    /// A row for a fault not run here.
    pub fn skipped(fault: &str, why: &str) -> Self {
        Self {
            fault: fault.to_string(),
            skipped: Some(why.to_string()),
            ..Self::default()
        }
    }

    /// Whether the fault was survived: nothing lost, every duplicate counted, no problem.
    pub fn passed(&self) -> bool {
        self.skipped.is_some()
            || (self.lost_commands == 0
                && self.lost_receipts == 0
                && self.duplicate_submits as u64 <= self.counted + self.allowance as u64
                && self.problems.is_empty())
    }
}

const HEADER: [&str; 13] = [
    "fault",
    "sent",
    "in flight",
    "lost cmds",
    "lost rcpts",
    "dup submits",
    "counted",
    "dup events",
    "rejected",
    "recover s",
    "max TPS",
    "redis keys",
    "verdict",
];

fn cells(r: &Row) -> [String; 13] {
    if r.skipped.is_some() {
        let mut c: [String; 13] = Default::default();
        c[0] = r.fault.clone();
        c[12] = "SKIPPED".into();
        return c;
    }
    let counted = match r.allowance {
        0 => r.counted.to_string(),
        a => format!("{}+{a}", r.counted),
    };
    [
        r.fault.clone(),
        r.published.to_string(),
        r.in_flight.to_string(),
        r.lost_commands.to_string(),
        r.lost_receipts.to_string(),
        r.duplicate_submits.to_string(),
        counted,
        r.duplicate_events.to_string(),
        r.rejected.to_string(),
        r.recover_s
            .map_or_else(|| "-".into(), |s| format!("{s:.1}")),
        r.max_tps.to_string(),
        r.redis_keys.map_or_else(|| "-".into(), |k| k.to_string()),
        if r.passed() { "ok" } else { "FAIL" }.into(),
    ]
}

/// The table (Markdown), then a note per row and the problems.
pub fn render(rows: &[Row]) -> String {
    let all: Vec<[String; 13]> = rows.iter().map(cells).collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            all.iter()
                .map(|c| c[i].len())
                .chain([HEADER[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |c: &[String]| {
        let mut s = String::from("|");
        for (i, v) in c.iter().enumerate() {
            let _ = write!(s, " {v:<w$} |", w = widths[i]);
        }
        s
    };
    let mut out = String::new();
    let head: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    let _ = writeln!(out, "{}", line(&head));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", line(&rule));
    for c in &all {
        let _ = writeln!(out, "{}", line(c));
    }
    out.push('\n');
    for r in rows {
        if let Some(why) = &r.skipped {
            let _ = writeln!(out, "- {}: {why}", r.fault);
            continue;
        }
        if !r.note.is_empty() {
            let _ = writeln!(out, "- {}: {}", r.fault, r.note);
        }
        for p in r.problems.iter().take(10) {
            let _ = writeln!(out, "  - PROBLEM {}: {p}", r.fault);
        }
        if r.problems.len() > 10 {
            let _ = writeln!(out, "  - ... {} more", r.problems.len() - 10);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_beyond_the_count_fails_the_row() {
        let mut r = Row {
            fault: "x".into(),
            duplicate_submits: 2,
            counted: 1,
            ..Row::default()
        };
        assert!(!r.passed());
        r.allowance = 1;
        assert!(r.passed());
        r.lost_receipts = 1;
        assert!(!r.passed());
        assert!(render(&[r]).contains("FAIL"));
        assert!(Row::skipped("netem", "no tc").passed());
    }
}
