//! Soak mode (`chaos --duration 30m`): one environment (private NATS, PostgreSQL and Redis, a
//! credentials API) and one connector for the whole run, rounds of steady load with one fault
//! each (every fault of the list in turn), each round reconciled like a campaign row; and a
//! background [`Sampler`] that every 10 s records the process's resident memory and open
//! descriptors (the connector runs in it), the tasks alive on the connector's runtime, the row
//! count of every table of schema `smpp` of the run's database and the operator's throttle keys
//! in Redis. At the end [`verdict`] fails the run on growth that does not level off.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::env::{Env, Options};
use super::faults::Fault;
use super::redis_keys::{self, KeyScheme};
use super::report::Row;

/// How often the sampler samples.
pub const EVERY: Duration = Duration::from_secs(10);

/// The process's own figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    /// Resident set size in KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: usize,
}

/// A sample of this process, if `/proc` can be read.
pub fn proc_sample() -> Option<Proc> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir("/proc/self/fd").ok()?.count();
    Some(Proc { rss_kib, fds })
}

/// One soak sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the soak began.
    pub at_s: f64,
    /// Resident memory of the process (suite and connector), KiB.
    pub rss_kib: Option<u64>,
    /// Open descriptors of the process.
    pub fds: Option<usize>,
    /// Tasks alive on the connector's runtime (`None` while it restarts).
    pub tasks: Option<usize>,
    /// Rows of each table of schema `smpp` (empty when PostgreSQL did not answer).
    pub tables: BTreeMap<String, i64>,
    /// The operator's throttle keys in Redis (`None` when Redis did not answer).
    pub redis_keys: Option<usize>,
    /// Commands published so far.
    pub published: usize,
}

/// Where the sampler looks.
#[derive(Clone)]
pub struct Targets {
    /// The run's database.
    pub db_url: String,
    /// The Redis the connector uses.
    pub redis_url: String,
    /// The throttle's keys.
    pub keys: KeyScheme,
    /// The connector's runtime now.
    pub runtime: Arc<Mutex<Option<tokio::runtime::Handle>>>,
    /// Commands published so far.
    pub published: Arc<AtomicUsize>,
}

/// Row counts of every table of schema `smpp` (exact `count(*)`).
pub async fn table_rows(db_url: &str) -> Result<BTreeMap<String, i64>, String> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .connect(db_url)
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    let r = async {
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'smpp' AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .map_err(|e| format!("tables: {e}"))?;
        let mut out = BTreeMap::new();
        for (t,) in tables {
            // The name comes from the catalogue; quoted as an identifier.
            let sql = format!("SELECT count(*) FROM smpp.\"{}\"", t.replace('"', "\"\""));
            let (n,): (i64,) = sqlx::query_as(&sql)
                .fetch_one(&pool)
                .await
                .map_err(|e| format!("count {t}: {e}"))?;
            out.insert(t, n);
        }
        Ok(out)
    }
    .await;
    pool.close().await;
    r
}

/// Takes one sample.
pub async fn take(t: &Targets, since: Instant) -> Sample {
    let p = proc_sample();
    let tasks = t
        .runtime
        .lock()
        .ok()
        .and_then(|r| r.as_ref().map(|h| h.metrics().num_alive_tasks()));
    let tables = tokio::time::timeout(Duration::from_secs(5), table_rows(&t.db_url))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let redis_keys = redis_keys::scan(&t.redis_url, &t.keys)
        .await
        .ok()
        .map(|s| s.keys);
    Sample {
        at_s: since.elapsed().as_secs_f64(),
        rss_kib: p.map(|p| p.rss_kib),
        fds: p.map(|p| p.fds),
        tasks,
        tables,
        redis_keys,
        published: t.published.load(Ordering::Relaxed),
    }
}

/// Samples every [`EVERY`] in the background, printing each sample.
pub struct Sampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling now.
    pub fn start(targets: Targets, since: Instant) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let out = samples.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let s = take(&targets, since).await;
                println!("soak: {}", line(&s));
                if let Ok(mut v) = out.lock() {
                    v.push(s);
                }
            }
        });
        Self { samples, task }
    }

    /// Stops it; the samples.
    pub fn finish(self) -> Vec<Sample> {
        self.task.abort();
        self.samples.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn line(s: &Sample) -> String {
    let tables: Vec<String> = s.tables.iter().map(|(t, n)| format!("{t} {n}")).collect();
    format!(
        "{:>6.0} s  RSS {} KiB  fds {}  tasks {}  redis keys {}  published {}  rows: {}",
        s.at_s,
        opt(s.rss_kib),
        opt(s.fds),
        opt(s.tasks),
        opt(s.redis_keys),
        s.published,
        if tables.is_empty() {
            "-".into()
        } else {
            tables.join(", ")
        }
    )
}

/// The samples as CSV: one column per figure and per table of schema `smpp`.
pub fn csv(samples: &[Sample]) -> String {
    let mut tables: Vec<&String> = samples.iter().flat_map(|s| s.tables.keys()).collect();
    tables.sort();
    tables.dedup();
    let mut out = String::from("at_s,rss_kib,fds,tasks,redis_keys,published");
    for t in &tables {
        let _ = write!(out, ",rows_{t}");
    }
    out.push('\n');
    let cell = |v: Option<String>| v.unwrap_or_default();
    for s in samples {
        let _ = write!(
            out,
            "{:.1},{},{},{},{},{}",
            s.at_s,
            cell(s.rss_kib.map(|v| v.to_string())),
            cell(s.fds.map(|v| v.to_string())),
            cell(s.tasks.map(|v| v.to_string())),
            cell(s.redis_keys.map(|v| v.to_string())),
            s.published
        );
        for t in &tables {
            let _ = write!(out, ",{}", cell(s.tables.get(*t).map(|v| v.to_string())));
        }
        out.push('\n');
    }
    out
}

/// Whether a series levels off: the largest value of its last third is at most the largest of
/// its middle third times `1 + tolerance`, plus `slack` (for small counts). The first third is
/// the warm-up and is not judged. Fewer than 6 values: `true` (too short to tell; the soak
/// refuses to judge such a run, see [`verdict`]).
///
/// A series growing steadily grows from the middle to the last third by the same amount as from
/// the first to the middle and fails as soon as that exceeds the tolerance; a series that stops
/// growing within its first two thirds passes. A leak slower than `tolerance` per third of the
/// run is not told apart from noise: the rule is as sensitive as the run is long.
pub fn levels_off(values: &[f64], tolerance: f64, slack: f64) -> bool {
    judge(values, tolerance, slack, |s| {
        s.iter().copied().fold(f64::MIN, f64::max)
    })
}

/// [`levels_off`] on the floor (the smallest value of each third) instead of the peak: for
/// figures that follow the instantaneous load (tasks alive, receipts kept for their
/// correlation wait), which peak with every burst but fall back when the load pauses between
/// rounds; a leak raises the floor.
pub fn floor_levels_off(values: &[f64], tolerance: f64, slack: f64) -> bool {
    judge(values, tolerance, slack, |s| {
        s.iter().copied().fold(f64::MAX, f64::min)
    })
}

fn judge(values: &[f64], tolerance: f64, slack: f64, of: impl Fn(&[f64]) -> f64) -> bool {
    if values.len() < 6 {
        return true;
    }
    let third = values.len() / 3;
    let middle = of(&values[third..2 * third]);
    let last = of(&values[2 * third..]);
    last <= middle * (1.0 + tolerance) + slack
}

/// Which rule judges a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Peak,
    Floor,
}

fn holds(rule: Rule, values: &[f64], tolerance: f64, slack: f64) -> bool {
    match rule {
        Rule::Peak => levels_off(values, tolerance, slack),
        Rule::Floor => floor_levels_off(values, tolerance, slack),
    }
}

/// The table holding one row per message (and segment): it grows with the work by design
/// (rows are deleted after `postgres.retentionDays`, days), so it is judged against the
/// commands published, not for levelling off.
pub const PER_MESSAGE_TABLE: &str = "message_correlations";

/// What fails a soak: growth that does not level off, keys beyond the bound, correlation rows
/// beyond the commands published, too few samples.
pub fn verdict(samples: &[Sample], keys: &KeyScheme) -> Vec<String> {
    let mut p = Vec::new();
    if samples.len() < 9 {
        p.push(format!(
            "only {} samples: too short to tell whether anything levels off",
            samples.len()
        ));
        return p;
    }
    let series =
        |f: &dyn Fn(&Sample) -> Option<f64>| -> Vec<f64> { samples.iter().filter_map(f).collect() };
    // Tasks follow the load (one per submit in flight): judged by their floor.
    let checks: [(&str, Vec<f64>, Rule, f64, f64); 3] = [
        (
            "RSS",
            series(&|s| s.rss_kib.map(|v| v as f64)),
            Rule::Peak,
            0.10,
            0.0,
        ),
        (
            "open fds",
            series(&|s| s.fds.map(|v| v as f64)),
            Rule::Peak,
            0.10,
            8.0,
        ),
        (
            "connector tasks (floor)",
            series(&|s| s.tasks.map(|v| v as f64)),
            Rule::Floor,
            0.10,
            16.0,
        ),
    ];
    for (name, values, rule, tol, slack) in checks {
        if !holds(rule, &values, tol, slack) {
            p.push(format!(
                "{name} still growing in the last third: {}",
                trend(&values)
            ));
        }
    }
    let mut tables: Vec<&String> = samples.iter().flat_map(|s| s.tables.keys()).collect();
    tables.sort();
    tables.dedup();
    for t in tables {
        if t == PER_MESSAGE_TABLE {
            if let Some(s) = samples
                .iter()
                .find(|s| s.tables.get(t).is_some_and(|&n| n > s.published as i64))
            {
                p.push(format!(
                    "{t}: {} rows at {:.0} s for {} commands published",
                    s.tables.get(t).copied().unwrap_or(0),
                    s.at_s,
                    s.published
                ));
            }
            continue;
        }
        let values = series(&|s| s.tables.get(t).map(|&n| n as f64));
        // Kept receipts follow the load (each waits its correlation wait): judged by the floor.
        let rule = match t.as_str() {
            "pending_receipts" => Rule::Floor,
            _ => Rule::Peak,
        };
        if !holds(rule, &values, 0.10, 100.0) {
            p.push(format!("table smpp.{t} still growing: {}", trend(&values)));
        }
    }
    let most = samples
        .iter()
        .filter_map(|s| s.redis_keys)
        .max()
        .unwrap_or(0);
    if most > keys.max_keys {
        p.push(format!(
            "{most} throttle keys in Redis at once, more than the bound {}",
            keys.max_keys
        ));
    }
    p
}

/// First value, then (min..max) of the middle and of the last third, for a message.
fn trend(values: &[f64]) -> String {
    let third = values.len() / 3;
    let max = |s: &[f64]| s.iter().copied().fold(f64::MIN, f64::max);
    let min = |s: &[f64]| s.iter().copied().fold(f64::MAX, f64::min);
    let (mid, last) = (&values[third..2 * third], &values[2 * third..]);
    format!(
        "{:.0} at the start, {:.0}..{:.0} in the middle third, {:.0}..{:.0} in the last",
        values.first().copied().unwrap_or(0.0),
        min(mid),
        max(mid),
        min(last),
        max(last)
    )
}

/// A summary of the samples (first, middle-third max, last-third max of each figure).
pub fn summary(samples: &[Sample]) -> String {
    let mut out = String::new();
    let series =
        |f: &dyn Fn(&Sample) -> Option<f64>| -> Vec<f64> { samples.iter().filter_map(f).collect() };
    let mut add = |name: &str, v: Vec<f64>| {
        if v.len() >= 3 {
            let _ = writeln!(out, "- {name}: {}", trend(&v));
        }
    };
    add("RSS KiB", series(&|s| s.rss_kib.map(|v| v as f64)));
    add("open fds", series(&|s| s.fds.map(|v| v as f64)));
    add("connector tasks", series(&|s| s.tasks.map(|v| v as f64)));
    add("redis keys", series(&|s| s.redis_keys.map(|v| v as f64)));
    let mut tables: Vec<&String> = samples.iter().flat_map(|s| s.tables.keys()).collect();
    tables.sort();
    tables.dedup();
    for t in tables {
        add(
            &format!("rows smpp.{t}"),
            series(&|s| s.tables.get(t).map(|&n| n as f64)),
        );
    }
    add("published", series(&|s| Some(s.published as f64)));
    out
}

/// What a soak produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One row per round.
    pub rows: Vec<Row>,
    /// Every sample.
    pub samples: Vec<Sample>,
    /// Why the soak fails (empty: it passed), besides the rows.
    pub problems: Vec<String>,
}

/// Runs rounds of `faults` (those that fit the soak's environment, in turn) until `duration`
/// passed, sampling every 10 s.
pub async fn run(faults: &[Fault], opts: &Options, duration: Duration) -> Outcome {
    let mut out = Outcome::default();
    let rotation: Vec<Fault> = faults
        .iter()
        .copied()
        .filter(|f| f.in_soak() && f.skipped().is_none())
        .collect();
    if rotation.is_empty() {
        out.problems
            .push("no fault of the list fits the soak".into());
        return out;
    }
    let mut env = match Env::start(opts, super::env::Needs::soak(), "soak").await {
        Ok(e) => e,
        Err(e) => {
            out.problems.push(format!("soak environment: {e}"));
            return out;
        }
    };
    let start = Instant::now();
    let published = Arc::new(AtomicUsize::new(0));
    if let Err(e) = env.start_connector().await {
        out.problems.push(e);
        env.shutdown().await;
        return out;
    }
    let sampler = Sampler::start(
        Targets {
            db_url: env.db_url.clone(),
            redis_url: env.redis_url.clone(),
            keys: env.keys.clone(),
            runtime: env.runtime.clone(),
            published: published.clone(),
        },
        start,
    );
    let mut i = 0;
    while start.elapsed() < duration {
        let f = rotation[i % rotation.len()];
        i += 1;
        let at = start.elapsed().as_secs_f64();
        let mut row = match super::run_round(f, opts, &mut env, Some(published.clone())).await {
            Ok(r) => r,
            Err(e) => Row::error(f.name(), e),
        };
        row.note = format!("round {i} from {at:.0} s; {}", row.note);
        eprintln!(
            "soak: round {i} {} {} ({:.0} s)",
            row.fault,
            if row.passed() { "ok" } else { "FAIL" },
            start.elapsed().as_secs_f64()
        );
        out.rows.push(row);
    }
    out.samples = sampler.finish();
    out.problems = verdict(&out.samples, &env.keys);
    env.shutdown().await;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[u64]) -> Vec<f64> {
        x.iter().map(|&n| n as f64).collect()
    }

    #[test]
    fn growth_that_goes_on_is_told_from_growth_that_stops() {
        // Warm-up, then a sawtooth (allocator, capture ring filling): levels off.
        let flat = v(&[
            60_000, 95_000, 120_000, 131_000, 128_000, 133_000, 130_000, 134_000, 129_000,
        ]);
        assert!(levels_off(&flat, 0.10, 0.0));
        // A leak of ~8 MiB per sample: the last third is well above the middle.
        let leak = v(&[
            60_000, 68_000, 76_000, 84_000, 92_000, 100_000, 108_000, 116_000, 124_000,
        ]);
        assert!(!levels_off(&leak, 0.10, 0.0));
        // One descriptor more per round: small numbers need the slack, and still fail.
        let fd_leak = v(&[40, 50, 60, 70, 80, 90, 100, 110, 120]);
        assert!(!levels_off(&fd_leak, 0.10, 8.0));
        // The same count going up and down by a few passes with the slack.
        let fds = v(&[38, 44, 41, 45, 43, 46, 44, 47, 45]);
        assert!(levels_off(&fds, 0.10, 8.0));
        // Growth that starts late (a leak triggered by a fault in the last third) fails.
        let step = v(&[100, 100, 100, 100, 100, 100, 100, 180, 260]);
        assert!(!levels_off(&step, 0.10, 0.0));
        // Too short to tell.
        assert!(levels_off(&v(&[1, 2, 3, 4, 5]), 0.0, 0.0));
        // Tasks of a soak run (debug, 150 msg/s): peaks with each burst, back to ~20 between
        // rounds. The peak rule would call it growth; the floor does not move.
        let tasks = v(&[21, 25, 30, 236, 20, 32, 276, 18, 23]);
        assert!(!levels_off(&tasks, 0.10, 16.0));
        assert!(floor_levels_off(&tasks, 0.10, 16.0));
        // A task leak raises the floor: 20 tasks left behind every 10 s.
        let task_leak = v(&[21, 200, 61, 230, 101, 250, 141, 300, 181]);
        assert!(!floor_levels_off(&task_leak, 0.10, 16.0));
    }

    fn sample(at: f64, rss: u64, corr: i64, pending: i64, published: usize) -> Sample {
        Sample {
            at_s: at,
            rss_kib: Some(rss),
            fds: Some(50),
            tasks: Some(40),
            tables: BTreeMap::from([
                ("message_correlations".to_string(), corr),
                ("pending_receipts".to_string(), pending),
            ]),
            redis_keys: Some(100),
            published,
        }
    }

    #[test]
    fn the_verdict_judges_each_figure_by_its_own_rule() {
        let keys = KeyScheme::new("op", 1000, 50);
        let good: Vec<Sample> = (0..12)
            .map(|i| sample(i as f64 * 10.0, 100_000, i * 5000, 20, i as usize * 5000))
            .collect();
        assert!(
            verdict(&good, &keys).is_empty(),
            "{:?}",
            verdict(&good, &keys)
        );
        // Correlation rows grow with the work; more rows than commands is wrong.
        let mut extra = good.clone();
        extra[5]
            .tables
            .insert("message_correlations".into(), 99_999);
        assert_eq!(verdict(&extra, &keys).len(), 1);
        // Kept receipts piling up (the floor rises).
        let pending: Vec<Sample> = (0..12)
            .map(|i| sample(i as f64, 100_000, 0, i * 1000, 0))
            .collect();
        let p = verdict(&pending, &keys);
        assert!(p.len() == 1 && p[0].contains("pending_receipts"), "{p:?}");
        assert!(!verdict(&good[..5], &keys).is_empty());
        // Tasks peaking with the load (the soak of 2026-12-03) do not fail it; a rising floor
        // does.
        let mut peaks = good.clone();
        for (i, s) in peaks.iter_mut().enumerate() {
            s.tasks = Some(if i % 3 == 1 { 17 } else { 100 + 30 * i });
        }
        assert!(
            verdict(&peaks, &keys).is_empty(),
            "{:?}",
            verdict(&peaks, &keys)
        );
        let mut floor = good.clone();
        for (i, s) in floor.iter_mut().enumerate() {
            s.tasks = Some(20 + 40 * i);
        }
        assert_eq!(verdict(&floor, &keys).len(), 1);
        let text = csv(&good);
        assert!(text.starts_with(
            "at_s,rss_kib,fds,tasks,redis_keys,published,rows_message_correlations,rows_pending_receipts\n"
        ));
        assert_eq!(text.lines().count(), 13);
    }

    #[test]
    fn this_process_can_be_sampled() {
        assert!(proc_sample().is_some_and(|x| x.rss_kib > 0 && x.fds > 0));
    }
}
