//! `chaos`: the fault suite (issue 14, docs/reliability.md). Runs the connector in-process
//! against smsc-sim primary and backup with receipts at a steady rate, one fault at a time,
//! reconciles every messageId and prints one row per fault. Exits 1 when anything was lost or
//! a duplicate was not counted.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use e2e::chaos::{self, Fault, Options};

/// Inject faults under load and account for every message.
#[derive(Parser, Debug)]
#[command(name = "chaos", version)]
struct Args {
    /// Commands published per second.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Commands per fault: a number (`3000`) or seconds of load (`20s`).
    #[arg(long, default_value = "20s")]
    per_fault: String,
    /// Faults to run: `all` or a comma-separated list of names.
    #[arg(long, default_value = "all")]
    faults: String,
    /// Seconds the lasting faults last (throttling, primary down, PostgreSQL/Redis down).
    #[arg(long, default_value_t = 10)]
    outage: u64,
    /// Seconds to wait after the last publish for every message to settle.
    #[arg(long, default_value_t = 120)]
    settle_timeout: u64,
    /// The connector's window.
    #[arg(long, default_value_t = 64)]
    window: u32,
    /// Soak: rounds of load with one fault each, in one environment, until this much time
    /// passed (`30m`, `2h`, `600s`), sampled every 10 s.
    #[arg(long)]
    duration: Option<String>,
    /// Soak: where to write the samples as CSV.
    #[arg(long, default_value = "chaos-soak-samples.csv")]
    samples_csv: String,
    /// List the faults and exit.
    #[arg(long)]
    list: bool,
}

fn parse_secs(s: &str) -> Option<u64> {
    let s = s.trim();
    let (n, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = n.parse().ok()?;
    match unit {
        "s" => Some(n),
        "m" => Some(n * 60),
        "h" => Some(n * 3600),
        _ => None,
    }
}

fn messages(per_fault: &str, rate: u32) -> Option<usize> {
    if per_fault.ends_with('s') {
        parse_secs(per_fault).map(|s| (s * u64::from(rate)) as usize)
    } else {
        per_fault.trim().parse().ok()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        for f in Fault::ALL {
            println!("{}", f.name());
        }
        return ExitCode::SUCCESS;
    }
    let faults = match Fault::parse_list(&args.faults) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(messages) = messages(&args.per_fault, args.rate).filter(|&n| n >= 3) else {
        eprintln!("chaos: --per-fault wants a number (>= 3) or seconds such as 20s");
        return ExitCode::from(2);
    };
    let soak = match args.duration.as_deref().map(parse_secs) {
        Some(None) => {
            eprintln!("chaos: --duration wants a duration such as 30m");
            return ExitCode::from(2);
        }
        Some(Some(s)) => Some(Duration::from_secs(s)),
        None => None,
    };
    let opts = Options {
        rate: args.rate,
        messages,
        outage: Duration::from_secs(args.outage),
        settle_timeout: Duration::from_secs(args.settle_timeout),
        window: args.window,
        // The soak keeps two rounds of submits per simulator, the campaign the default.
        capture_limit: soak.map(|_| messages.saturating_mul(2).max(10_000)),
    };
    println!(
        "chaos: {} msg/s, {messages} commands per fault, outages of {} s, faults: {}",
        args.rate,
        args.outage,
        faults
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(",")
    );
    let start = Instant::now();
    let mut soak_problems = Vec::new();
    let rows = match soak {
        None => chaos::run_campaign(&faults, &opts).await,
        Some(d) => {
            let out = chaos::soak::run(&faults, &opts, d).await;
            let csv = chaos::soak::csv(&out.samples);
            match std::fs::write(&args.samples_csv, csv) {
                Ok(()) => println!(
                    "soak: {} samples written to {}",
                    out.samples.len(),
                    args.samples_csv
                ),
                Err(e) => println!("soak: cannot write {}: {e}", args.samples_csv),
            }
            println!("soak summary:\n{}", chaos::soak::summary(&out.samples));
            for p in &out.problems {
                println!("soak: FAIL: {p}");
            }
            if out.problems.is_empty() {
                println!("soak: every figure levels off (or stays within its bound)");
            }
            soak_problems = out.problems;
            out.rows
        }
    };
    println!("{}", chaos::report::render(&rows));
    println!("chaos: {:.0} s in all", start.elapsed().as_secs_f64());
    if soak_problems.is_empty() && rows.iter().all(|r| r.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
