//! `kannel-load`: the Kannel side of the side-by-side benchmark (issue 4, BENCHMARKS.md).
//!
//! Fires N HTTP sendsms requests at Kannel's smsbox, optionally with delivery reports to a
//! local receiver, and times two things from the first request:
//! - submits: until bearerbox's status page counts every accepted message as sent (Kannel
//!   counts a message sent when the SMSC answered its submit_sm with ESME_ROK);
//! - receipts: until every message's final delivery report reached the receiver.
//!
//! See e2e/bench/kannel.sh, which starts Kannel and smsc-sim around it.

mod dlr_receiver;
mod sendsms;
mod status;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::Url;
use serde::Serialize;

use dlr_receiver::DlrReceiver;
use status::StatusPage;

/// Load Kannel's HTTP sendsms interface and time its submits and delivery reports.
#[derive(Parser)]
#[command(name = "kannel-load", version)]
struct Args {
    /// smsbox's sendsms URL.
    #[arg(long, default_value = "http://127.0.0.1:13013/cgi-bin/sendsms")]
    sendsms_url: Url,
    /// sendsms-user name.
    #[arg(long, default_value = "bench")]
    username: String,
    /// sendsms-user password.
    #[arg(long, env = "KANNEL_SENDSMS_PASSWORD", hide_env_values = true)]
    password: String,
    /// bearerbox's status page.
    #[arg(long, default_value = "http://127.0.0.1:13000/status.xml")]
    status_url: Url,
    /// bearerbox's status password.
    #[arg(long, env = "KANNEL_STATUS_PASSWORD", hide_env_values = true)]
    status_password: String,
    /// smsc-id to route the messages to.
    #[arg(long, default_value = "sim")]
    smsc: String,
    /// Sender address.
    #[arg(long, default_value = "KANNEL")]
    from: String,
    /// Message text; `{i}` is replaced by the message number.
    #[arg(long, default_value = "Hello from kannel-load, message {i}")]
    text: String,
    /// Number of messages.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// HTTP requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Ask for delivery reports (dlr-mask 3) and wait for every final one.
    #[arg(long)]
    receipts: bool,
    /// Address of the delivery report receiver.
    #[arg(long, default_value = "127.0.0.1:0")]
    dlr_listen: SocketAddr,
    /// Seconds to wait for Kannel's SMSC connection to be online before starting.
    #[arg(long, default_value_t = 30)]
    online_timeout: u64,
    /// Seconds to wait for the whole run.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// The outcome of a run.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    count: u64,
    receipts: bool,
    concurrency: usize,
    /// Requests smsbox accepted.
    http_accepted: u64,
    /// Requests refused or failed.
    http_errors: u64,
    /// Seconds until the last HTTP answer.
    http_seconds: f64,
    /// Messages bearerbox counted as sent (submit_sm_resp ESME_ROK) during the run.
    submitted: u64,
    /// Seconds until the last of them.
    submit_seconds: f64,
    /// submitted / submit_seconds.
    submit_rate: f64,
    /// Messages with a final delivery report.
    receipts_received: u64,
    /// Delivery reports by Kannel type (1 delivered, 2 failed, 16 rejected...).
    receipts_by_type: std::collections::BTreeMap<u8, u64>,
    /// Reports for a message that already had its final one.
    duplicate_receipts: u64,
    /// Seconds until the last final report.
    receipt_seconds: f64,
    /// receipts_received / receipt_seconds.
    receipt_rate: f64,
    /// Everything finished before the timeout.
    complete: bool,
}

fn rate(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 / seconds
    } else {
        0.0
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(summary) => {
            print(&summary, args.json);
            if summary.complete {
                ExitCode::SUCCESS
            } else {
                eprintln!("kannel-load: the run did not complete before the timeout");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("kannel-load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<Summary, String> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(args.timeout))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let status = StatusPage::new(
        client.clone(),
        args.status_url.clone(),
        &args.status_password,
    );
    let baseline = status
        .wait_online(Duration::from_secs(args.online_timeout))
        .await
        .map_err(|e| e.to_string())?
        .sms_sent;
    let mut receiver = if args.receipts {
        Some(
            DlrReceiver::start(args.dlr_listen)
                .await
                .map_err(|e| format!("DLR receiver on {}: {e}", args.dlr_listen))?,
        )
    } else {
        None
    };
    let request = sendsms::Request {
        url: args.sendsms_url.clone(),
        username: args.username.clone(),
        password: args.password.clone(),
        from: args.from.clone(),
        smsc: args.smsc.clone(),
        text: args.text.clone(),
    };
    let dlr_addr = receiver.as_ref().map(DlrReceiver::addr);
    let count = args.count;
    let urls = (0..count).map(move |i| {
        let dlr = dlr_addr.map(|addr| dlr_receiver::dlr_url(addr, i));
        request.url_for(i, dlr.as_deref())
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    let started = Instant::now();
    let fire = {
        let client = client.clone();
        let concurrency = args.concurrency;
        tokio::spawn(async move {
            let outcome = sendsms::send_all(&client, urls, concurrency).await;
            (outcome, Instant::now())
        })
    };
    let mut summary = Summary {
        count: args.count,
        receipts: args.receipts,
        concurrency: args.concurrency,
        ..Summary::default()
    };
    let (outcome, http_done) = fire.await.map_err(|e| format!("sending task: {e}"))?;
    if let Some(e) = &outcome.first_error {
        eprintln!(
            "kannel-load: {} of {} requests failed, first: {e}",
            outcome.errors, args.count
        );
    }
    summary.http_accepted = outcome.accepted;
    summary.http_errors = outcome.errors;
    summary.http_seconds = (http_done - started).as_secs_f64();
    let submits_done = wait_sent(&status, baseline, outcome.accepted, started, deadline).await;
    summary.submitted = submits_done.sent;
    summary.submit_seconds = submits_done.seconds;
    summary.submit_rate = rate(summary.submitted, summary.submit_seconds);
    let mut complete = submits_done.sent >= outcome.accepted && outcome.errors == 0;
    if let Some(rx) = receiver.as_mut() {
        complete &= rx.wait_finals(outcome.accepted, deadline).await;
        let tally = rx.tally();
        summary.receipts_received = tally.finals;
        summary.receipts_by_type = tally.by_type;
        summary.duplicate_receipts = tally.duplicates;
        summary.receipt_seconds = tally
            .last_final_at
            .map_or(0.0, |t| (t - started).as_secs_f64());
        summary.receipt_rate = rate(summary.receipts_received, summary.receipt_seconds);
    }
    summary.complete = complete;
    Ok(summary)
}

/// How far the submits got.
struct SentProgress {
    sent: u64,
    seconds: f64,
}

/// Polls the status page until `target` messages more than `baseline` are sent; the time is
/// that of the first read that saw them (reads every 10 ms).
async fn wait_sent(
    status: &StatusPage,
    baseline: u64,
    target: u64,
    started: Instant,
    deadline: tokio::time::Instant,
) -> SentProgress {
    let mut progress = SentProgress {
        sent: 0,
        seconds: 0.0,
    };
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    loop {
        tick.tick().await;
        match status.read().await {
            Ok(s) => {
                let sent = s.sms_sent.saturating_sub(baseline);
                if sent > progress.sent {
                    progress.sent = sent;
                    progress.seconds = started.elapsed().as_secs_f64();
                }
                if sent >= target {
                    return progress;
                }
            }
            Err(e) => eprintln!("kannel-load: {e}"),
        }
        if tokio::time::Instant::now() >= deadline {
            return progress;
        }
    }
}

fn print(s: &Summary, json: bool) {
    if json {
        println!("{}", serde_json::to_string(s).unwrap_or_default());
        return;
    }
    println!(
        "kannel-load: {} messages, receipts {}, {} requests in flight",
        s.count,
        if s.receipts { "on" } else { "off" },
        s.concurrency
    );
    println!(
        "  http:      {} accepted, {} errors in {:.2} s",
        s.http_accepted, s.http_errors, s.http_seconds
    );
    println!(
        "  submits:   {} in {:.2} s = {:.0} msg/s",
        s.submitted, s.submit_seconds, s.submit_rate
    );
    if s.receipts {
        println!(
            "  receipts:  {} in {:.2} s = {:.0} msg/s (by type {:?}, {} duplicates)",
            s.receipts_received,
            s.receipt_seconds,
            s.receipt_rate,
            s.receipts_by_type,
            s.duplicate_receipts
        );
    }
}
