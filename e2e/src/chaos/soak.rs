//! Soak samples of the suite's own process (the connector runs in it): resident memory and open
//! file descriptors, taken between fault runs.

/// One sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Resident set size in KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: usize,
}

/// A sample of this process, if `/proc` can be read.
pub fn sample() -> Option<Sample> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir("/proc/self/fd").ok()?.count();
    Some(Sample { rss_kib, fds })
}

/// Whether the samples level off: the last third grew less than `tolerance` (a fraction) over
/// the middle third, for memory and for descriptors. Fewer than 6 samples: `true` (too short
/// to tell).
pub fn levels_off(samples: &[Sample], tolerance: f64) -> bool {
    if samples.len() < 6 {
        return true;
    }
    let third = samples.len() / 3;
    let max = |s: &[Sample], f: fn(&Sample) -> f64| s.iter().map(f).fold(0.0, f64::max);
    let middle = &samples[third..2 * third];
    let last = &samples[2 * third..];
    let rss = |s: &Sample| s.rss_kib as f64;
    let fds = |s: &Sample| s.fds as f64;
    max(last, rss) <= max(middle, rss) * (1.0 + tolerance)
        && max(last, fds) <= max(middle, fds) * (1.0 + tolerance) + 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(rss_kib: u64, fds: usize) -> Sample {
        Sample { rss_kib, fds }
    }

    #[test]
    fn growth_that_goes_on_is_told_from_growth_that_stops() {
        let flat: Vec<Sample> = [100, 150, 160, 161, 160, 162].map(|r| s(r, 40)).to_vec();
        assert!(levels_off(&flat, 0.1));
        let leak: Vec<Sample> = [100, 150, 200, 250, 300, 350].map(|r| s(r, 40)).to_vec();
        assert!(!levels_off(&leak, 0.1));
        let fd_leak: Vec<Sample> = [10, 20, 30, 40, 50, 60].map(|f| s(100, f)).to_vec();
        assert!(!levels_off(&fd_leak, 0.1));
        assert!(sample().is_some_and(|x| x.rss_kib > 0 && x.fds > 0));
    }
}
