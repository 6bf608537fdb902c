//! The fault suite (issue 14): the connector under a steady load, one fault at a time, then
//! every messageId published accounted for ([`reconcile`]) and one row per fault ([`report`]).
//!
//! Each fault runs in an environment of its own ([`env::Env`]: fresh operator, smsc-sim
//! primary and backup with receipts, proxies in front of PostgreSQL and Redis, or private
//! servers for the faults that stop them). The fault is injected once a third of the commands
//! are published, while the publishing goes on; once every command settled (or the settle
//! timeout passed) the run is reconciled. The soak ([`soak::run`]) runs round after round of
//! the same in one environment, sampled every 10 s.

pub mod delay_proxy;
pub mod env;
pub mod faults;
pub mod load;
pub mod netem;
pub mod reconcile;
pub mod redis_keys;
pub mod report;
pub mod servers;
pub mod soak;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use env::Options;
pub use faults::Fault;
pub use report::Row;

use env::Env;
use load::{LiveEvents, Outgoing};

/// Runs `faults` one after the other; returns their rows.
pub async fn run_campaign(faults: &[Fault], opts: &Options) -> Vec<Row> {
    let mut rows = Vec::new();
    for &f in faults {
        let row = run_fault(f, opts).await;
        eprintln!(
            "chaos: {} {}",
            row.fault,
            if row.passed() { "ok" } else { "FAIL" }
        );
        rows.push(row);
    }
    rows
}

/// Runs one fault and reconciles it.
pub async fn run_fault(fault: Fault, opts: &Options) -> Row {
    if let Some(why) = fault.skipped() {
        return Row::skipped(fault.name(), &why);
    }
    match run(fault, opts).await {
        Ok(row) => row,
        Err(e) => Row::error(fault.name(), e),
    }
}

async fn run(fault: Fault, opts: &Options) -> Result<Row, String> {
    let mut env = Env::start(opts, fault.needs(), "chaos").await?;
    let result = run_round(fault, opts, &mut env, None).await;
    env.shutdown().await;
    result
}

/// One round in `env`: load, `fault` once a third is published, settle, reconcile (the
/// commands of this round only). Starts the connector if none runs. `total` counts the
/// commands published over every round (the soak).
pub async fn run_round(
    fault: Fault,
    opts: &Options,
    env: &mut Env,
    total: Option<Arc<AtomicUsize>>,
) -> Result<Row, String> {
    let subject = env.config.nats.dlr_subject.clone();
    let live = LiveEvents::follow(&env.client, &subject, &env.op).await?;
    if !env.has_connector() {
        env.start_connector().await?;
    }
    let counted_start = env.duplicates_counted().await;
    let dlr_start_seq = env::last_sequence(&env.js, &env.dlr_stream).await?;
    let keys = redis_keys::KeyWatch::start(env.redis_url.clone(), env.keys.clone());
    let abandoned_start: u64 = [&env.primary, &env.backup]
        .iter()
        .map(|s| {
            s.stats()
                .events
                .get("deliveries_abandoned")
                .copied()
                .unwrap_or(0)
        })
        .sum();

    let run_id = format!("{:08x}", rand::random::<u32>());
    let ids: Vec<String> = (0..opts.messages)
        .map(|i| format!("chaos-{run_id}-{i}"))
        .collect();
    let commands: Vec<Outgoing> = ids
        .iter()
        .map(|id| Outgoing {
            msg_id: id.clone(),
            body: serde_json::to_vec(&crate::harness::command(&env.op, id, id)).unwrap_or_default(),
        })
        .collect();
    let progress = Arc::new(AtomicUsize::new(0));
    let publisher = tokio::spawn(load::publish_at_rate(
        env.js.clone(),
        env.subject(),
        commands,
        opts.rate,
        progress.clone(),
        total,
    ));
    let third = opts.messages / 3;
    // The fault comes once a third is published and the pipeline flows (a message settled).
    while (progress.load(Ordering::Relaxed) < third || live.finals() == 0)
        && !publisher.is_finished()
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let in_flight = progress
        .load(Ordering::Relaxed)
        .saturating_sub(live.finals());
    let injected = fault.inject(env, opts.outage).await;
    let fault_end = Instant::now();
    let published_before_end = progress.load(Ordering::Relaxed);
    let published = publisher
        .await
        .map_err(|e| format!("publisher task: {e}"))?;
    let injected = injected.map_err(|e| format!("injection: {e}"))?;

    let mut all: Vec<String> = published.acked.clone();
    all.extend(injected.bad_ids.iter().cloned());
    let deadline = Instant::now() + opts.settle_timeout;
    while !live.all_final(&all) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Receipts for unknown ids are published after the correlation wait.
    if !injected.unknown_receipts.is_empty() {
        let wait = Duration::from_secs(env.config.receipts.correlation_wait_seconds + 3);
        let until = Instant::now() + wait;
        while live.uncorrelated() < injected.unknown_receipts.len() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Late copies (a redelivered command, a receipt sent again) have time to show.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let counted = env.duplicates_counted().await - counted_start;
    let watched = keys.finish(&env.redis_url, &env.keys).await;
    let every: Vec<String> = ids.iter().chain(&injected.bad_ids).cloned().collect();
    let sims = [("primary", &env.primary), ("backup", &env.backup)];
    let submits = reconcile::submits_of(&sims, &every);
    let observed = reconcile::Observed {
        submits: submits.counts,
        smsc_ids: submits.smsc_ids,
        receipt_fates: submits.fates,
        events: reconcile::stream_events(
            &env.js,
            &env.dlr_stream,
            &subject,
            dlr_start_seq,
            &env.op,
        )
        .await?,
        rows: reconcile::rows(&env.db_url, &env.op, &ids).await?,
    };
    let good: Vec<String> = published
        .acked
        .iter()
        .chain(&published.failed)
        .cloned()
        .collect();
    let outcome = reconcile::reconcile(
        &reconcile::Expected {
            ids: &good,
            bad_ids: &injected.bad_ids,
            unknown_receipts: &injected.unknown_receipts,
        },
        &observed,
    );
    let before_end: Vec<String> = ids.iter().take(published_before_end).cloned().collect();
    let (recover_s, unseen) = recovery(&live, &before_end, fault_end);
    let mut note = injected.note.clone();
    if unseen > 0 {
        note.push_str(&format!(
            "; recovery from the settlements seen live ({unseen} missed by the live view)"
        ));
    }
    note.push_str(&format!(
        "{}{}",
        if note.is_empty() { "" } else { "; " },
        watched.summary(&env.keys)
    ));
    let mut problems = injected.problems.clone();
    problems.extend(watched.problems(&env.keys));
    let abandoned: u64 = [&env.primary, &env.backup]
        .iter()
        .map(|s| {
            s.stats()
                .events
                .get("deliveries_abandoned")
                .copied()
                .unwrap_or(0)
        })
        .sum::<u64>()
        .saturating_sub(abandoned_start);
    if abandoned > 0 {
        problems.push(format!(
            "the SMSCs gave up {abandoned} receipt(s) after {} attempts each (every attempt \
             refused or unanswered by the connector)",
            env.primary.config().receipts.max_attempts
        ));
    }
    if !outcome.lost_receipts.is_empty() {
        problems.push(format!(
            "deliveries kept undelivered at the SMSCs: primary {} (bound sessions {}), backup {} \
             (bound sessions {})",
            env.primary.pending_deliveries(None),
            env.primary.bound_sessions(),
            env.backup.pending_deliveries(None),
            env.backup.bound_sessions()
        ));
    }
    problems.extend(outcome.problems.iter().cloned());
    if !published.failed.is_empty() {
        problems.push(format!(
            "{} commands never acknowledged by JetStream (reconciled anyway)",
            published.failed.len()
        ));
    }
    problems.extend(
        outcome
            .lost_commands
            .iter()
            .take(5)
            .map(|id| format!("lost command {id}")),
    );
    problems.extend(
        outcome
            .lost_receipts
            .iter()
            .take(5)
            .map(|id| format!("lost receipt {id}")),
    );
    let max_tps = env
        .primary
        .max_accepted_in(Duration::from_secs(1))
        .max(env.backup.max_accepted_in(Duration::from_secs(1)));
    if let Some(most) = tps_allowed(env.config.throttle.tps) {
        if max_tps > most {
            problems.push(format!(
                "an SMSC accepted {max_tps} submits in one second, over throttle.tps {} \
                 (at most {most} allowed: the limit plus 1 %)",
                env.config.throttle.tps
            ));
        }
    }
    let row = Row {
        fault: fault.name().to_string(),
        published: good.len(),
        in_flight,
        lost_commands: outcome.lost_commands.len(),
        lost_receipts: outcome.lost_receipts.len(),
        duplicate_submits: outcome.duplicate_submits,
        counted: counted.max(0.0) as u64,
        allowance: fault.uncounted_allowance(env),
        duplicate_events: outcome.duplicate_events,
        rejected: outcome.rejected,
        recover_s: Some(recover_s),
        max_tps,
        redis_keys: Some(watched.max_keys),
        note,
        problems,
        skipped: None,
    };
    Ok(row)
}

/// The most submits an SMSC may accept in any one second under `throttle.tps` (0: no limit):
/// the limit plus 1 % for the time a submit spends between its permit and the SMSC.
fn tps_allowed(tps: u32) -> Option<u64> {
    (tps > 0).then(|| u64::from(tps) + u64::from(tps).div_ceil(100))
}

/// Seconds from `fault_end` until the last of `ids` settled, as seen live (0 if all settled
/// before), and how many settlements the live view missed (a NATS reconnect drops events for
/// core subscribers; the reconciliation reads the stream and still finds them).
fn recovery(live: &LiveEvents, ids: &[String], fault_end: Instant) -> (f64, usize) {
    let times = live.final_times(ids);
    let unseen = times.iter().filter(|t| t.is_none()).count();
    let last = times.into_iter().flatten().fold(fault_end, Instant::max);
    (last.duration_since(fault_end).as_secs_f64(), unseen)
}

#[cfg(test)]
mod tests {
    use super::tps_allowed;

    #[test]
    fn the_tps_rule_allows_one_percent_over_the_limit_and_nothing_without_one() {
        assert_eq!(tps_allowed(0), None);
        assert_eq!(tps_allowed(1_000), Some(1_010));
        assert_eq!(tps_allowed(150), Some(152));
    }
}
