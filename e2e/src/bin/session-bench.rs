//! `session-bench`: submit throughput and response latency of one `connector::session`
//! engine against an `smsc-sim` child process over loopback.
//!
//! For each window size the engine is bound to a fresh simulator and `2 × window`
//! submitters keep the window full for `--seconds`; the run prints submits per second,
//! latency p50/p99 (from submit to response), and the process's resident memory. With
//! `--delay-ms` the simulator answers after that delay, so the ceiling is window / delay.
//! With `--binds 1,4` each window is also measured over a pool of that many binds
//! (`session.binds`, all bound before the load starts), ceiling binds × window / delay.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use connector::protocol::codec::{Address, COctetString, SubmitSm};
use connector::session::{EngineConfig, SessionEngine, SmppCredentials, StaticCredentials};
use crds::config::{BindMode, Endpoint};

#[derive(Parser, Debug)]
#[command(about = "Session engine throughput against smsc-sim")]
struct Args {
    /// Path of the smsc-sim binary (default: next to this one).
    #[arg(long)]
    sim: Option<std::path::PathBuf>,
    /// Window sizes to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,10,64,256")]
    windows: Vec<u32>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Binds of the pool to measure each window with (`session.binds`).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    binds: Vec<u32>,
    /// Repetitions per window (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Simulator response delay in milliseconds (0: immediate).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Tokio worker threads of the client (0: current-thread runtime).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Concurrent submitters (0: twice the window over every bind, so that it never runs
    /// empty).
    #[arg(long, default_value_t = 0)]
    workers: usize,
}

/// Log-linear latency histogram shared by the submitters: 32 sub-buckets per power of two
/// of microseconds, atomic counters.
struct Latencies {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
}

impl Latencies {
    fn new() -> Self {
        Self {
            buckets: (0..64 * 32).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
        }
    }

    fn index(us: u64) -> usize {
        if us < 32 {
            return us as usize;
        }
        let exp = 63 - us.leading_zeros() as usize; // >= 5
        let sub = ((us >> (exp - 5)) & 31) as usize;
        (exp - 4) * 32 + sub
    }

    fn lower_bound(i: usize) -> u64 {
        if i < 32 {
            return i as u64;
        }
        let exp = i / 32 + 4;
        let sub = (i % 32) as u64;
        (32 + sub) << (exp - 5)
    }

    fn record(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX >> 1)) as u64;
        self.buckets[Self::index(us)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn quantile_us(&self, q: f64) -> u64 {
        let target = ((self.count() as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n.load(Ordering::Relaxed);
            if seen >= target {
                return Self::lower_bound(i);
            }
        }
        0
    }
}

struct RunResult {
    rate: f64,
    p50_us: u64,
    p99_us: u64,
    rss_kb: u64,
    errors: u64,
}

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> std::io::Result<u16> {
    Ok(StdListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sim(path: &std::path::Path, port: u16, delay_ms: u64) -> std::io::Result<Sim> {
    let mut cmd = Command::new(path);
    cmd.args([
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--no-receipts",
        "--capture-submits",
        "false",
        "--enquire-link-secs",
        "0",
    ]);
    if delay_ms > 0 {
        cmd.args(["--response-delay", &delay_ms.to_string()]);
    }
    cmd.env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Ok(Sim(cmd.spawn()?))
}

async fn wait_listening(port: u16) -> bool {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

fn message() -> SubmitSm {
    let addr = |s: &'static [u8]| COctetString::new(s).unwrap_or_default();
    SubmitSm {
        source: Address {
            ton: 5,
            npi: 0,
            addr: addr(b"Bench"),
        },
        dest: Address {
            ton: 1,
            npi: 1,
            addr: addr(b"31612345678"),
        },
        short_message: Bytes::from_static(
            b"Benchmark message of a typical length, 60 characters long!",
        ),
        ..SubmitSm::default()
    }
}

async fn run_once(
    args: &Args,
    sim_path: &std::path::Path,
    window: u32,
    binds: u32,
) -> Result<RunResult, String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let _sim = start_sim(sim_path, port, args.delay_ms)
        .map_err(|e| format!("cannot start {}: {e}", sim_path.display()))?;
    if !wait_listening(port).await {
        return Err("smsc-sim did not start listening".into());
    }
    let mut cfg = EngineConfig::new(Endpoint {
        host: "127.0.0.1".into(),
        port,
        tls: None,
        local_address: None,
    });
    cfg.session.window = window;
    cfg.session.binds = binds;
    cfg.bind.mode = BindMode::Transceiver;
    let creds = StaticCredentials::new(SmppCredentials {
        system_id: "bench".into(),
        password: "bench".into(),
        system_type: None,
    });
    let (handle, _streams) = SessionEngine::start(cfg, creds);
    let mut bound = handle.watch_bound();
    tokio::time::timeout(Duration::from_secs(10), bound.wait_for(|b| *b))
        .await
        .map_err(|_| "not bound within 10 s".to_string())?
        .map_err(|_| "engine stopped".to_string())?;
    let mut pool = handle.watch_binds();
    let all_bound = |b: &Vec<connector::session::BindInfo>| {
        b.iter()
            .filter(|s| s.state == connector::session::BindSlotState::Bound)
            .count()
            >= binds as usize
    };
    tokio::time::timeout(Duration::from_secs(10), pool.wait_for(all_bound))
        .await
        .map_err(|_| format!("not {binds} binds bound within 10 s"))?
        .map_err(|_| "engine stopped".to_string())?;
    let template = message();
    let stop = Arc::new(AtomicBool::new(false));
    // Warm-up: one second, not measured.
    let workers = if args.workers > 0 {
        args.workers
    } else {
        (handle.window_size() * 2).max(2)
    };
    let mut tasks = Vec::with_capacity(workers);
    let measuring = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(Latencies::new());
    for _ in 0..workers {
        let h = handle.clone();
        let sm = template.clone();
        let stop = stop.clone();
        let measuring = measuring.clone();
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                match h.submit(sm.clone()).await {
                    Ok(o) => {
                        if measuring.load(Ordering::Relaxed) {
                            latencies.record(o.latency);
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            errors
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let rss = rss_kb("VmRSS:");
    stop.store(true, Ordering::Relaxed);
    let mut errors = 0;
    for t in tasks {
        errors += t.await.map_err(|e| e.to_string())?;
    }
    let total = &latencies;
    let counters = handle.counters();
    let responses = counters.count(
        connector::session::Direction::Received,
        connector::protocol::codec::CommandId::SubmitSmResp,
        connector::protocol::codec::CommandStatus::ESME_ROK,
    );
    if responses < total.count() {
        return Err(format!(
            "counted {} outcomes but only {responses} submit_sm_resp",
            total.count()
        ));
    }
    handle.shutdown(Duration::from_secs(2)).await;
    Ok(RunResult {
        rate: total.count() as f64 / elapsed.as_secs_f64(),
        p50_us: total.quantile_us(0.5),
        p99_us: total.quantile_us(0.99),
        rss_kb: rss,
        errors,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

async fn bench(args: Args) -> Result<(), String> {
    let sim_path = match &args.sim {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("smsc-sim"),
    };
    println!(
        "| binds | window | sim delay | submit_sm/s (median of {}) | p50 latency | p99 latency | client RSS | runs (submit_sm/s) |",
        args.runs
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---|");
    let cases: Vec<(u32, u32)> = args
        .windows
        .iter()
        .flat_map(|&w| args.binds.iter().map(move |&b| (w, b)))
        .collect();
    for (window, binds) in cases {
        let mut results = Vec::new();
        for _ in 0..args.runs {
            results.push(run_once(&args, &sim_path, window, binds).await?);
        }
        let rates: Vec<f64> = results.iter().map(|r| r.rate).collect();
        let med = median(rates.clone());
        let pick = results
            .iter()
            .min_by(|a, b| (a.rate - med).abs().total_cmp(&(b.rate - med).abs()))
            .ok_or("no runs")?;
        let errors: u64 = results.iter().map(|r| r.errors).sum();
        println!(
            "| {binds} | {window} | {} ms | {:.0} | {:.2} ms | {:.2} ms | {:.1} MB | {}{} |",
            args.delay_ms,
            med,
            pick.p50_us as f64 / 1000.0,
            pick.p99_us as f64 / 1000.0,
            pick.rss_kb as f64 / 1024.0,
            rates
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            if errors > 0 {
                format!(" ({errors} errors)")
            } else {
                String::new()
            },
        );
    }
    println!(
        "peak RSS of the client process: {:.1} MB",
        rss_kb("VmHWM:") as f64 / 1024.0
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = if args.threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("session-bench: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(bench(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("session-bench: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
