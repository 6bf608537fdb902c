//! `loadgen`: publishes dispatch commands to NATS like sms-orchestrator and reports what the
//! connector made of them. See `e2e::loadgen` and docs/benchmarks in BENCHMARKS.md.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use e2e::loadgen::{self, LoadSpec, Wait};

/// Publish N dispatch commands and wait for their receipts (or their acknowledgement).
#[derive(Parser, Debug)]
#[command(name = "loadgen", version)]
struct Args {
    /// NATS server URL.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// Operator id (subject `smpp.operator.{operator}`).
    #[arg(long)]
    operator: String,
    /// Number of commands to publish.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Commands per second (0: as fast as JetStream acknowledges).
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Message text; `{i}` is replaced by the message number.
    #[arg(long, default_value = "Hello from loadgen, message {i}")]
    text: String,
    /// Do not ask for delivery receipts (then wait for acknowledgement instead).
    #[arg(long)]
    no_receipts: bool,
    /// What to wait for: receipts, acked or nothing (default: receipts, or acked with
    /// --no-receipts).
    #[arg(long)]
    wait: Option<String>,
    /// Wait for every receipt (same as --wait receipts).
    #[arg(long)]
    wait_receipts: bool,
    /// Seconds to wait for the outcome.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Message id prefix (default: a fresh one).
    #[arg(long)]
    run_id: Option<String>,
    /// Dispatch stream.
    #[arg(long, default_value = "SMPP_DISPATCH")]
    stream: String,
    /// The connector's durable consumer (default smpp-connector-{operator}).
    #[arg(long)]
    durable: Option<String>,
    /// Subject of delivery events.
    #[arg(long, default_value = "sms.dlr.inbound")]
    dlr_subject: String,
    /// Publishes awaiting their JetStream acknowledgement at once.
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// Measure the bare ceiling instead: publish to a stream of its own that a consumer only
    /// acknowledges.
    #[arg(long)]
    ceiling: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let wait = match (args.wait.as_deref(), args.wait_receipts, args.no_receipts) {
        (Some("receipts"), _, _) | (None, true, _) => Wait::Receipts,
        (Some("acked"), _, _) => Wait::Acked,
        (Some("nothing"), _, _) => Wait::Nothing,
        (Some(other), _, _) => {
            eprintln!("loadgen: --wait must be receipts, acked or nothing, not {other:?}");
            return ExitCode::from(2);
        }
        (None, false, true) => Wait::Acked,
        (None, false, false) => Wait::Receipts,
    };
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| format!("lg{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%3f")));
    let spec = LoadSpec {
        nats_url: args.nats_url.clone(),
        operator: args.operator.clone(),
        count: args.count,
        rate: args.rate,
        text: args.text.clone(),
        registered_delivery: !args.no_receipts,
        run_id,
        wait,
        timeout: Duration::from_secs(args.timeout),
        dispatch_stream: args.stream.clone(),
        durable: args
            .durable
            .clone()
            .unwrap_or_else(|| format!("smpp-connector-{}", args.operator)),
        dlr_subject: args.dlr_subject.clone(),
        in_flight: args.in_flight,
    };
    if args.ceiling {
        return match loadgen::run_ceiling(&spec).await {
            Ok(rate) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"ceiling": rate, "count": spec.count})
                    );
                } else {
                    println!(
                        "bare ceiling: {rate:.0} messages/s over {} messages",
                        spec.count
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("loadgen: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match loadgen::run(&spec).await {
        Ok(s) => {
            if args.json {
                println!("{}", serde_json::to_string(&s).unwrap_or_default());
            } else {
                println!(
                    "loadgen summary (operator {}, run {})",
                    spec.operator, spec.run_id
                );
                println!("  sent:        {}", s.sent);
                println!("  accepted:    {}", s.accepted);
                println!("  rejected:    {}", s.rejected);
                println!("  final:       {:?}", s.final_status);
                println!("  events:      {:?}", s.events);
                println!("  unfinished:  {}", s.unfinished);
                println!("  publish:     {:.2} s", s.publish_seconds);
                println!("  total:       {:.2} s", s.total_seconds);
                println!("  throughput:  {:.0} messages/s", s.throughput);
                println!(
                    "  latency ms:  p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
                    s.latency_ms.p50, s.latency_ms.p90, s.latency_ms.p99, s.latency_ms.max
                );
            }
            if s.unfinished > 0 {
                eprintln!("loadgen: {} messages did not finish in time", s.unfinished);
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
