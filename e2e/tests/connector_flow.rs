//! End-to-end: the TPS limit, idempotent redelivery after a crash (and the one duplicate
//! window), failover to the backup and back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use e2e::harness::{self, Bus, Connector, CredentialsServer, Db, ProxyMode, TcpProxy, TempDir};
use e2e::sim::{BreakAction, Delay, RefuseMode};
use serde_json::{json, Value};

const READY: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tps_limit_is_never_exceeded_at_the_smsc() {
    harness::init_logging();
    let op = harness::unique_operator("tps");
    let sim = harness::start_sim("ghasi01", "s3cret", |_| {}).await;
    let dir = TempDir::new().expect("temp dir");
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    config.throttle.tps = 500;
    config.session.window = 128;
    let bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);

    let total = 5_000;
    let ids = harness::message_ids("tps", total);
    bus.publish_many(&harness::id_commands(&op, &ids, harness::no_receipts))
        .await;
    let all = harness::eventually(Duration::from_secs(30), || async {
        (sim.accepted_submits() >= total as u64).then_some(())
    })
    .await;
    assert!(all.is_some(), "accepted {}", sim.accepted_submits());
    let per_second = sim.accepted_per_second();
    let max = sim.max_accepted_in(Duration::from_secs(1));
    assert!(
        max <= 505,
        "at most 500 + 1% in any one-second window, saw {max}: {per_second:?}"
    );
    // And the limit was used: 5,000 at 500/s takes about 10 s.
    let busy = per_second.iter().filter(|&&n| n >= 400).count();
    assert!(busy >= 8, "rate near the limit: {per_second:?}");
    assert_eq!(sim.accepted_submits(), total as u64, "each once");
    assert!(harness::wait_acked(&bus, Duration::from_secs(10)).await);
    // The shared window lives in Redis under the contract's key names.
    let mut redis = redis::Client::open(harness::redis_url())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("tps:{op}:*"))
        .query_async(&mut redis)
        .await
        .expect("KEYS");
    assert!(!keys.is_empty(), "tps:{op}:{{windowStart}} keys");
    // The group commit's counters reach the metrics (sampled every second), none failed.
    let commits = harness::eventually(Duration::from_secs(3), || async {
        let c = connector.metric("smpp_correlation_commits_total", "").await;
        (c > 0.0).then_some(c)
    })
    .await;
    assert!(commits.is_some(), "commits counted");
    assert_eq!(
        connector
            .metric("smpp_correlation_commit_failures_total", "")
            .await,
        0.0
    );
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_acks_does_not_send_twice_except_in_the_documented_window() {
    harness::init_logging();
    let op = harness::unique_operator("crash");
    let sim = harness::start_sim("ghasi01", "s3cret", |c| {
        c.faults.response_delay = Some(Delay::from_millis(1_000));
    })
    .await;
    let dir = TempDir::new().expect("temp dir");
    let nats_addr: SocketAddr = harness::nats_url()
        .trim_start_matches("nats://")
        .parse()
        .expect("nats address");
    let proxy = TcpProxy::start(nats_addr).await;
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    config.nats.ack_wait_seconds = 1;
    let direct = config.clone();
    config.nats.url = format!("nats://{}", proxy.addr());
    let bus = Bus::connect(&direct.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);

    // Phase 1: submits answered and committed, acknowledgements lost in a crash.
    let n = 40;
    let ids = harness::message_ids("crash", n);
    bus.publish_many(&harness::id_commands(&op, &ids, harness::no_receipts))
        .await;
    let sent = harness::eventually(Duration::from_secs(10), || async {
        (sim.submits().len() >= n).then_some(())
    })
    .await;
    assert!(sent.is_some(), "all submitted: {}", sim.submits().len());
    // The responses are still held back by the simulator: nothing is acknowledged yet.
    proxy.set(ProxyMode::Frozen);
    let db = Db::connect().await;
    let committed = harness::eventually(Duration::from_secs(10), || async {
        let rows = db.rows(&op).await;
        (rows.len() == n && rows.iter().all(|r| r.submit_status == "SUBMITTED")).then_some(())
    })
    .await;
    assert!(committed.is_some(), "correlations committed");
    connector.crash();
    proxy.set(ProxyMode::Down);
    assert_eq!(
        bus.consumer_backlog()
            .await
            .map(|(_, ack_pending)| ack_pending),
        Some(n),
        "the acknowledgements never reached NATS"
    );

    sim.clear_faults();
    let connector = Connector::start(direct.clone());
    assert!(connector.wait_ready(READY).await);
    assert!(
        harness::wait_acked(&bus, Duration::from_secs(15)).await,
        "redelivered and acked"
    );
    let counts = harness::received_by_text(&sim);
    for id in &ids {
        assert_eq!(counts.get(id), Some(&1), "{id} sent once");
    }
    let skipped = connector.metric("smpp_idempotent_skips_total", "").await;
    assert_eq!(
        skipped, n as f64,
        "each redelivery acknowledged without sending"
    );

    // Phase 2, the documented window: the connection is lost after submits were written and
    // before their responses; they are sent again and counted.
    sim.update_faults(|f| f.response_delay = Some(Delay::from_millis(1_500)));
    let m = 10;
    let ids2 = harness::message_ids("window", m);
    let before = sim.submits().len();
    bus.publish_many(&harness::id_commands(&op, &ids2, harness::no_receipts))
        .await;
    let sent = harness::eventually(Duration::from_secs(10), || async {
        (sim.submits().len() >= before + m).then_some(())
    })
    .await;
    assert!(sent.is_some());
    sim.clear_faults();
    sim.break_connections(BreakAction::Reset);
    assert!(harness::wait_acked(&bus, Duration::from_secs(20)).await);
    let counts = harness::received_by_text(&sim);
    let duplicates: usize = ids2
        .iter()
        .map(|id| counts.get(id).copied().unwrap_or(0).saturating_sub(1))
        .sum();
    for id in &ids2 {
        assert!(counts.get(id).is_some_and(|&c| c >= 1), "{id} sent");
    }
    let window = connector.metric("smpp_duplicate_window_total", "").await;
    assert!(duplicates > 0, "the break fell inside the window");
    assert_eq!(
        window, duplicates as f64,
        "every duplicate is counted in smpp_duplicate_window_total"
    );
    let rows = db.rows(&op).await;
    assert_eq!(rows.len(), n + m, "one row per message");
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

fn states(h: &[Value]) -> Vec<(String, String)> {
    h.iter()
        .map(|e| {
            (
                e["state"].as_str().unwrap_or_default().to_string(),
                e["endpoint"].as_str().unwrap_or("null").to_string(),
            )
        })
        .collect()
}

fn has_sequence(h: &[Value], want: &[(&str, &str)]) -> bool {
    let mut it = states(h).into_iter();
    want.iter()
        .all(|(s, e)| it.any(|(s2, e2)| s2 == *s && e2 == *e))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_the_backup_and_back_with_health_events() {
    harness::init_logging();
    let op = harness::unique_operator("failover");
    let primary = harness::start_sim("ghasi01", "s3cret", |_| {}).await;
    // The backup counts its ids from elsewhere (the same ids at both endpoints are tested in
    // receipt_correlation.rs).
    let backup = harness::start_sim("ghasi01b", "s3cret2", |c| {
        c.id_start = e2e::sim::IdStart::At(1_000_000_001);
    })
    .await;
    // The contract's credentials example, with other credentials for the backup.
    let creds = CredentialsServer::start(
        vec![],
        harness::CredentialsAnswer {
            status: 200,
            body: json!({"systemId": "ghasi01", "password": "s3cret", "systemType": "",
                         "backup": {"systemId": "ghasi01b", "password": "s3cret2"}})
            .to_string(),
        },
    )
    .await;
    let dir = TempDir::new().expect("temp dir");
    let token = dir.write("token", "test-token\n").expect("token");
    let mut config = harness::test_config(
        &op,
        primary.addr(),
        crds::config::CredentialsSource::OperatorManagement {
            base_url: creds.base_url(),
            token_file: token.display().to_string(),
            timeout_ms: 1_000,
        },
    );
    harness::with_backup(&mut config, backup.addr());
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);
    let reqs = creds.requests();
    assert!(!reqs.is_empty());
    assert!(reqs
        .iter()
        .all(|(o, auth)| o == &op && auth.as_deref() == Some("Bearer test-token")));

    let ids = harness::message_ids("fo", 3);
    bus.publish(&harness::command(&op, &ids[0], "on primary"))
        .await;
    assert!(bus.wait_final(&ids[..1], Duration::from_secs(10)).await);
    assert_eq!(primary.submits().len(), 1);

    // The primary goes away.
    primary.set_faults(e2e::sim::Faults {
        refuse_connections: Some(RefuseMode::AcceptAndClose),
        ..Default::default()
    });
    primary.break_connections(BreakAction::Reset);
    let failed_over = bus
        .wait_for(Duration::from_secs(15), |_, h| {
            has_sequence(h, &[("BOUND", "primary"), ("FAILBACK", "backup")])
        })
        .await;
    assert!(failed_over, "{:#?}", bus.health_events);
    let fb = bus
        .health_events
        .iter()
        .find(|e| e["state"] == "FAILBACK")
        .cloned()
        .expect("FAILBACK");
    assert_eq!(fb["address"], backup.addr().to_string());
    assert!(testkit::instance_errors("operator-health.schema.json", &fb).is_empty());
    bus.publish(&harness::command(&op, &ids[1], "on backup"))
        .await;
    assert!(bus.wait_final(&ids[1..2], Duration::from_secs(10)).await);
    assert_eq!(backup.submits().len(), 1, "sent through the backup");
    assert_eq!(
        backup.submits()[0].system_id,
        "ghasi01b",
        "backup credentials"
    );

    // The primary comes back: failback after the hold time.
    primary.clear_faults();
    let back = bus
        .wait_for(Duration::from_secs(20), |_, h| {
            has_sequence(
                h,
                &[
                    ("BOUND", "primary"),
                    ("FAILBACK", "backup"),
                    ("BOUND", "primary"),
                ],
            )
        })
        .await;
    assert!(back, "{:?}", states(&bus.health_events));
    bus.publish(&harness::command(&op, &ids[2], "primary again"))
        .await;
    assert!(bus.wait_final(&ids[2..3], Duration::from_secs(10)).await);
    assert_eq!(primary.submits().len(), 2, "back on the primary");
    assert_eq!(backup.submits().len(), 1);
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

/// Runs the backup-receipt scenario with `failover.receiptLingerSeconds` = `linger`: three
/// messages accepted by the backup whose receipts it sends 8 s later, after the failback to the
/// primary. Returns whether all three receipts arrived within 20 s of the failback.
async fn receipts_held_by_the_backup_after_failback(linger: u64) -> bool {
    let op = harness::unique_operator("linger");
    let primary = harness::start_sim("ghasi01", "s3cret", |_| {}).await;
    let backup = harness::start_sim("ghasi01", "s3cret", |c| {
        c.id_start = e2e::sim::IdStart::At(1_000_000_001);
        c.receipts.delay = Delay::from_millis(8_000);
    })
    .await;
    let dir = TempDir::new().expect("temp dir");
    let mut config = harness::test_config(&op, primary.addr(), harness::sim_credentials(&dir));
    harness::with_backup(&mut config, backup.addr());
    config.failover.receipt_linger_seconds = linger;
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);
    primary.set_faults(e2e::sim::Faults {
        refuse_connections: Some(RefuseMode::AcceptAndClose),
        ..Default::default()
    });
    primary.break_connections(BreakAction::Reset);
    assert!(
        bus.wait_for(Duration::from_secs(15), |_, h| has_sequence(
            h,
            &[("FAILBACK", "backup")]
        ))
        .await,
        "{:?}",
        states(&bus.health_events)
    );
    let ids = harness::message_ids("linger", 3);
    bus.publish_many(&harness::id_commands(&op, &ids, |_| {}))
        .await;
    assert!(
        harness::eventually(Duration::from_secs(10), || async {
            (Db::connect().await.rows(&op).await.len() == 3).then_some(())
        })
        .await
        .is_some(),
        "the backup's submits are committed"
    );
    assert_eq!(backup.submits().len(), 3);
    primary.clear_faults();
    assert!(
        bus.wait_for(Duration::from_secs(15), |_, h| has_sequence(
            h,
            &[("FAILBACK", "backup"), ("BOUND", "primary")]
        ))
        .await,
        "failback: {:?}",
        states(&bus.health_events)
    );
    assert!(
        ids.iter()
            .all(|id| !bus.events_of(id).iter().any(|e| e["final"] == true)),
        "the receipts are still held by the backup at the failback"
    );
    let delivered = bus.wait_final(&ids, Duration::from_secs(20)).await;
    if delivered {
        assert_eq!(
            bus.dlr_events
                .iter()
                .filter(|e| e["messageId"].is_null())
                .count(),
            0,
            "each on its own message"
        );
    }
    assert_eq!(connector.stop().await, Ok(()));
    assert_eq!(
        backup.bound_sessions(),
        0,
        "the lingering bind is gone at the stop"
    );
    bus.cleanup().await;
    delivered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_the_backup_holds_at_failback_are_taken_by_a_lingering_bind() {
    harness::init_logging();
    assert!(
        receipts_held_by_the_backup_after_failback(300).await,
        "every receipt the backup held is published"
    );
    // Without the lingering bind they stay at the backup.
    assert!(
        !receipts_held_by_the_backup_after_failback(0).await,
        "without it the receipts stay at the backup"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_drains_the_window_commits_and_unbinds_and_the_rest_is_sent_later() {
    harness::init_logging();
    let op = harness::unique_operator("stop");
    // Answers take 300 ms, so the stop comes while the window is full.
    let sim = harness::start_sim("ghasi01", "s3cret", |c| {
        c.faults.response_delay = Some(Delay::from_millis(300));
    })
    .await;
    let dir = TempDir::new().expect("temp dir");
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    config.session.window = 16;
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config.clone());
    assert!(connector.wait_ready(READY).await);

    let total = 200;
    let ids = harness::message_ids("stop", total);
    bus.publish_many(&harness::id_commands(&op, &ids, harness::no_receipts))
        .await;
    let in_flight = harness::eventually(Duration::from_secs(10), || async {
        (sim.submits().len() >= 16).then_some(())
    })
    .await;
    assert!(in_flight.is_some(), "submits in flight before the stop");
    assert_eq!(connector.stop().await, Ok(()), "stops in time and cleanly");

    // Everything the SMSC received before the stop got its response, its committed row and
    // its acknowledgement: nothing sent is left without a correlation.
    let sent_before: HashMap<String, usize> = harness::received_by_text(&sim);
    assert!(sent_before.values().all(|&n| n == 1), "{sent_before:?}");
    let rows = Db::connect().await.rows(&op).await;
    for id in sent_before.keys() {
        assert!(
            rows.iter()
                .any(|r| &r.message_id == id && r.submit_status == "SUBMITTED"),
            "row of {id} committed before the exit"
        );
    }
    assert_eq!(
        rows.len(),
        sent_before.len(),
        "a row per sent message, no more"
    );
    let unbound = harness::eventually(Duration::from_secs(5), || async {
        (sim.bound_sessions() == 0).then_some(())
    })
    .await;
    assert!(unbound.is_some(), "the session unbound");
    // One UNBOUND after the BOUND: the stop is a state change, published once.
    assert!(
        bus.wait_for(Duration::from_secs(5), |_, h| h.len() >= 2
            && h[h.len() - 1]["state"] == "UNBOUND"
            && h[h.len() - 2]["state"] == "BOUND")
            .await,
        "health events end BOUND, UNBOUND: {:?}",
        bus.health_events
    );
    bus.settle(Duration::from_millis(500)).await;
    assert_eq!(
        bus.health_events.last().map(|e| e["state"].clone()),
        Some(json!("UNBOUND")),
        "no further event after the stop: {:?}",
        bus.health_events
    );
    assert_eq!(
        bus.health_events
            .windows(2)
            .filter(|w| w[0]["state"] == w[1]["state"])
            .count(),
        0,
        "no repeated state: {:?}",
        bus.health_events
    );

    // The commands not sent stayed in JetStream: a new connector sends each of them once.
    assert!(sent_before.len() < total, "the stop came before the end");
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);
    assert!(harness::wait_acked(&bus, Duration::from_secs(60)).await);
    let received = harness::received_by_text(&sim);
    assert_eq!(received.len(), total, "every message sent");
    assert!(
        received.values().all(|&n| n == 1),
        "each once: {received:?}"
    );
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}
