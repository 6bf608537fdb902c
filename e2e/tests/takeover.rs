//! Active/standby replicas (issue 12): two connector processes of one operator share a lease
//! in PostgreSQL (`lease.backend: postgres`). Under 500 msg/s the active one is killed with
//! SIGKILL (a crash: the standby takes over after the fence delay), then the new active one
//! gets SIGTERM (a rollout: it drains, unbinds and releases the lease, the other takes over at
//! once), then the lease connection of the active one is cut while it lives (it must fence
//! itself: unbind before the standby, which takes the lease early, binds). Every message
//! reaches the simulator; duplicates only after the SIGKILL, within the documented bound of a
//! crash (the pool's window plus one commit batch), or counted by the fenced replica; the
//! simulator never sees more binds than configured.
//!
//! `TAKEOVER_KILLS=5` repeats the SIGKILL takeover (for BENCHMARKS.md) and prints each gap.

use std::time::{Duration, Instant};

use crds::config::{LeaseBackend, LogFormat};
use crds::ConnectorConfig;
use e2e::harness::{self, Bus, ConnectorProcess, Db, TempDir};
use e2e::sim::SimHandle;

const BINDS: u32 = 2;
const WINDOW: u32 = 16;
const RATE: usize = 500;
/// The longest the active replica's submits may pause: SIGKILL, SIGTERM.
const KILL_GAP: Duration = Duration::from_secs(10);
const TERM_GAP: Duration = Duration::from_secs(2);

type Replica = ConnectorProcess;

fn start_replica(name: &'static str, config: &ConnectorConfig, dir: &TempDir) -> Replica {
    ConnectorProcess::start(env!("CARGO_BIN_EXE_e2e-connector"), name, config, dir, &[])
}

/// The longest time without a new submit at the simulator between `from` and `until`
/// (the samples are taken every 10 ms).
fn longest_pause(samples: &[(Instant, u64)], from: Instant, until: Instant) -> Duration {
    let mut last_change = from;
    let mut last_count = None;
    let mut longest = Duration::ZERO;
    for &(t, n) in samples.iter().filter(|(t, _)| *t >= from && *t <= until) {
        if last_count != Some(n) {
            longest = longest.max(t - last_change);
            last_change = t;
            last_count = Some(n);
        }
    }
    longest
}

/// Publishes `ids` at [`RATE`] per second (chunks every 100 ms); returns when it finished.
fn paced_load(
    js: async_nats::jetstream::Context,
    op: String,
    ids: Vec<String>,
) -> tokio::task::JoinHandle<Instant> {
    tokio::spawn(async move {
        let subject = format!("smpp.operator.{op}");
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        for part in ids.chunks(RATE / 10) {
            tick.tick().await;
            let mut publisher = e2e::loadgen::PipelinedPublisher::new(js.clone(), 256);
            for c in harness::id_commands(&op, part, harness::no_receipts) {
                let id = c["messageId"].as_str().unwrap_or_default().to_string();
                let body = serde_json::to_vec(&c).unwrap_or_default();
                if let Err(e) = publisher.publish(subject.clone(), &id, body).await {
                    panic!("publish: {e}");
                }
            }
            if let Err(e) = publisher.finish().await {
                panic!("publish ack: {e}");
            }
        }
        Instant::now()
    })
}

/// Which of the two replicas is active and bound (`None` while neither or both say so).
async fn active_of(a: &Replica, b: &Replica) -> Option<usize> {
    let (ra, rb) = (a.role().await, b.role().await);
    let active = |r: &Option<String>| r.as_deref() == Some("active+bound");
    let standby = |r: &Option<String>| r.as_deref() == Some("standby");
    match (active(&ra), active(&rb)) {
        (true, false) if standby(&rb) => Some(0),
        (false, true) if standby(&ra) => Some(1),
        _ => None,
    }
}

async fn wait_pair(a: &Replica, b: &Replica) -> usize {
    let found = harness::eventually(Duration::from_secs(30), || active_of(a, b)).await;
    found.unwrap_or_else(|| {
        panic!(
            "no active+standby pair: a {:?}, b {:?}\n--- a:\n{}\n--- b:\n{}",
            futures::executor::block_on(a.role()),
            futures::executor::block_on(b.role()),
            a.tail(),
            b.tail()
        )
    })
}

/// What happens to the active replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// SIGKILL (a crash, an OOM kill).
    Kill,
    /// SIGTERM (a rollout).
    Term,
    /// Its lease connection to PostgreSQL is cut while it lives: it must fence itself.
    LeaseCut,
}

struct Round {
    gap: Duration,
    duplicates: usize,
    counted: f64,
}

/// Runs `n` messages at [`RATE`] per second, applies `fault` to the active replica after 3 s,
/// waits until every message reached the simulator, starts the stopped replica again and
/// returns the longest pause, the duplicates seen and those counted by the survivor.
async fn round(
    tag: &str,
    n: usize,
    op: &str,
    sim: &SimHandle,
    pair: &mut [Replica; 2],
    fault: Fault,
) -> Round {
    let active = wait_pair(&pair[0], &pair[1]).await;
    let before = harness::received_by_text(sim);
    let ids = harness::message_ids(tag, n);
    assert!(
        before.keys().all(|k| !ids.contains(k)),
        "ids of this round are new"
    );
    let counted_before = pair[0].metric("smpp_duplicate_window_total").await
        + pair[1].metric("smpp_duplicate_window_total").await;
    let db = Db::connect().await;
    let bus = Bus::connect(&harness::nats_url(), op).await;
    let load = paced_load(bus.js.clone(), op.to_string(), ids.clone());
    let mut samples = Vec::new();
    let fault_at = Instant::now() + Duration::from_secs(3);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut faulted = false;
    let mut exited = false;
    let mut load_end = None;
    let mut delivered = false;
    let mut checked = Instant::now();
    while !(exited && delivered && load_end.is_some()) && Instant::now() < deadline {
        samples.push((Instant::now(), sim.accepted_submits()));
        // Slower checks every 200 ms.
        let tick = checked.elapsed() >= Duration::from_millis(200);
        if tick {
            checked = Instant::now();
        }
        let victim = &mut pair[active];
        if !faulted && Instant::now() >= fault_at {
            faulted = true;
            match fault {
                Fault::Kill => victim
                    .child
                    .start_kill()
                    .unwrap_or_else(|e| panic!("SIGKILL: {e}")),
                Fault::Term => {
                    let status = std::process::Command::new("kill")
                        .args(["-TERM", &victim.pid().to_string()])
                        .status()
                        .unwrap_or_else(|e| panic!("kill -TERM: {e}"));
                    assert!(status.success(), "kill -TERM");
                }
                Fault::LeaseCut => {
                    let cut: Option<bool> = sqlx::query_scalar(
                        "SELECT pg_terminate_backend(holder_pid) FROM smpp.leases WHERE name = $1",
                    )
                    .bind(format!("smpp-connector-{op}"))
                    .fetch_optional(&db.0)
                    .await
                    .unwrap_or_else(|e| panic!("terminate the lease connection: {e}"));
                    assert_eq!(cut, Some(true), "the holder's lease connection was cut");
                }
            }
        }
        if faulted && !exited && tick {
            if fault == Fault::LeaseCut {
                // The victim lives on: it must have fenced itself and be the standby now.
                exited = victim.role().await.as_deref() == Some("standby");
            } else if let Ok(Some(status)) = victim.child.try_wait() {
                exited = true;
                assert!(
                    fault == Fault::Kill || status.success(),
                    "graceful exit: {status:?}\n{}",
                    victim.tail()
                );
            }
        }
        if load_end.is_none() && load.is_finished() {
            load_end = Some(Instant::now());
        }
        if load_end.is_some() && tick {
            let got = harness::received_by_text(sim);
            delivered = ids.iter().all(|id| got.contains_key(id));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let survivor = &pair[1 - active];
    let got = harness::received_by_text(sim);
    let lost: Vec<&String> = ids.iter().filter(|id| !got.contains_key(*id)).collect();
    assert!(
        exited && delivered,
        "exited {exited}; {} of {n} lost (e.g. {:?})\n--- victim {}:\n{}\n--- survivor {}:\n{}",
        lost.len(),
        lost.iter().take(5).collect::<Vec<_>>(),
        pair[active].name,
        pair[active].tail(),
        survivor.name,
        survivor.tail()
    );
    // Until the last sample: every message has arrived by then.
    let until = samples.last().map_or_else(Instant::now, |(t, _)| *t);
    if std::env::var_os("TAKEOVER_DEBUG").is_some() {
        for (t, n) in samples.iter().step_by(25) {
            let at = t
                .duration_since(fault_at - Duration::from_secs(3))
                .as_secs_f64();
            println!("t={at:.2} accepted={n}");
        }
        println!("--- survivor:\n{}", survivor.tail());
    }
    let gap = longest_pause(&samples, fault_at - Duration::from_millis(500), until);
    let duplicates: usize = ids
        .iter()
        .map(|id| got.get(id).copied().unwrap_or(0).saturating_sub(1))
        .sum();
    let counted = pair[0].metric("smpp_duplicate_window_total").await
        + pair[1].metric("smpp_duplicate_window_total").await
        - counted_before;
    if fault != Fault::LeaseCut {
        pair[active].restart();
    }
    Round {
        gap,
        duplicates,
        counted,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_after_sigkill_and_sigterm_and_nothing_is_lost() {
    harness::init_logging();
    let op = harness::unique_operator("takeover");
    let sim = harness::start_sim("ghasi01", "s3cret", |c| {
        c.receipts.enabled = false;
    })
    .await;
    let dir = TempDir::new().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let mut base = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    base.session.binds = BINDS;
    base.session.window = WINDOW;
    base.nats.ack_wait_seconds = 3;
    base.lease.backend = LeaseBackend::Postgres;
    base.logging.format = LogFormat::Text;
    base.logging.level = "info".into();
    let mut a = base.clone();
    a.lease.identity = "replica-a".into();
    let mut b = base.clone();
    b.lease.identity = "replica-b".into();
    b.http.address = format!("127.0.0.1:{}", harness::free_port());
    let mut pair = [start_replica("a", &a, &dir), start_replica("b", &b, &dir)];

    let kills: usize = std::env::var("TAKEOVER_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut gaps = Vec::new();
    for k in 0..kills {
        let r = round(
            &format!("kill{k}"),
            8 * RATE,
            &op,
            &sim,
            &mut pair,
            Fault::Kill,
        )
        .await;
        println!(
            "SIGKILL takeover {k}: gap {:.2} s, duplicates {} (counted {})",
            r.gap.as_secs_f64(),
            r.duplicates,
            r.counted
        );
        assert!(r.gap <= KILL_GAP, "takeover gap {:?} > {KILL_GAP:?}", r.gap);
        // A crash cannot count its own in-flight submits (docs/pipeline.md, "The one window
        // for a duplicate"): the bound is the window of every bind plus one commit batch.
        let bound = (BINDS * WINDOW + base.postgres.batch_size) as usize;
        assert!(
            r.duplicates <= bound,
            "{} duplicates, more than the window and a batch ({bound})",
            r.duplicates
        );
        gaps.push(r.gap.as_secs_f64());
    }
    gaps.sort_by(f64::total_cmp);
    println!(
        "SIGKILL takeover gap over {kills}: median {:.2} s, min {:.2} s, max {:.2} s",
        gaps[gaps.len() / 2],
        gaps[0],
        gaps[gaps.len() - 1]
    );

    let r = round("term", 8 * RATE, &op, &sim, &mut pair, Fault::Term).await;
    println!(
        "SIGTERM takeover: gap {:.2} s, duplicates {}",
        r.gap.as_secs_f64(),
        r.duplicates
    );
    assert!(r.gap <= TERM_GAP, "rollout gap {:?} > {TERM_GAP:?}", r.gap);
    assert_eq!(r.duplicates, 0, "a drained rollout sends nothing twice");

    // The lease connection of the active replica is cut while it lives: it ends its term
    // (unbinds) before the standby, which takes the lease early, binds.
    let r = round("cut", 8 * RATE, &op, &sim, &mut pair, Fault::LeaseCut).await;
    println!(
        "lease connection cut: gap {:.2} s, duplicates {} (counted {})",
        r.gap.as_secs_f64(),
        r.duplicates,
        r.counted
    );
    assert!(r.gap <= KILL_GAP, "takeover gap {:?} > {KILL_GAP:?}", r.gap);
    assert!(
        r.duplicates as f64 <= r.counted,
        "the fenced replica lives and counts every duplicate: {} > {}",
        r.duplicates,
        r.counted
    );

    let peak = sim.peak_bound_sessions();
    assert!(
        peak <= BINDS as usize,
        "the SMSC saw {peak} binds at once, more than {BINDS}"
    );
    // The replica stopped last came back as the standby.
    wait_pair(&pair[0], &pair[1]).await;
    for mut r in pair {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &r.pid().to_string()])
            .status();
        let _ = tokio::time::timeout(Duration::from_secs(20), r.child.wait()).await;
    }
    Bus::connect(&harness::nats_url(), &op)
        .await
        .cleanup()
        .await;
}
