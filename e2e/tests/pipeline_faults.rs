//! End-to-end: the pipeline's defences against bad data and failing dependencies (issue 17):
//! a stop under load sends nothing twice, sending stops while PostgreSQL refuses writes, a
//! copy of a command published again is sent once, a NUL character poisons nothing, and
//! receipts that cannot be read are published rather than dropped.

use std::time::Duration;

use e2e::harness::{self, Bus, Connector, PrivateDb, TempDir};
use e2e::sim::Delay;
use serde_json::{json, Value};

const READY: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_under_load_with_a_short_drain_sends_nothing_twice() {
    harness::init_logging();
    let op = harness::unique_operator("stopload");
    // Each answer takes a second: the commands pulled (4 windows' worth) take 4 s to send,
    // twice the drain timeout.
    let sim = harness::start_sim("ghasi01", "s3cret", |c| {
        c.faults.response_delay = Some(Delay::from_millis(1000));
    })
    .await;
    let dir = TempDir::new().expect("temp dir");
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    config.session.window = 10;
    config.session.drain_timeout_seconds = 2;
    config.session.response_timeout_ms = 5_000;
    let bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config.clone());
    assert!(connector.wait_ready(READY).await);

    let total = 150;
    let ids = harness::message_ids("stopload", total);
    bus.publish_many(&harness::id_commands(&op, &ids, harness::no_receipts))
        .await;
    let in_flight = harness::eventually(Duration::from_secs(10), || async {
        (sim.submits().len() >= 10).then_some(())
    })
    .await;
    assert!(in_flight.is_some(), "the window is full before the stop");
    assert_eq!(connector.stop().await, Ok(()), "stops in time and cleanly");
    let before = harness::received_by_text(&sim);
    assert!(before.len() < total, "the stop came before the end");

    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);
    assert!(
        harness::wait_acked(&bus, Duration::from_secs(90)).await,
        "all sent"
    );
    let received = harness::received_by_text(&sim);
    assert_eq!(received.len(), total, "every message sent");
    let twice: Vec<_> = received.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_while_postgres_refuses_writes_and_all_is_sent_once_after() {
    harness::init_logging();
    let op = harness::unique_operator("readonly");
    let sim = harness::start_sim("ghasi01", "s3cret", |_| {}).await;
    let db = PrivateDb::create().await;
    let dir = TempDir::new().expect("temp dir");
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    config.session.window = 10;
    config.postgres.url = db.url.clone();
    let bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);

    let first = harness::message_ids("ro-before", 20);
    bus.publish_many(&harness::id_commands(&op, &first, harness::no_receipts))
        .await;
    assert!(harness::wait_acked(&bus, Duration::from_secs(30)).await);
    assert_eq!(sim.submits().len(), 20);

    // A read-only failover: reads are answered, writes refused.
    db.set_read_only(true).await;
    let unready = harness::eventually(Duration::from_secs(10), || async {
        matches!(connector.get("/ready").await, Some((503, body)) if body.contains("read-only"))
            .then_some(())
    })
    .await;
    assert!(unready.is_some(), "/ready tests a write");
    let during = harness::message_ids("ro-during", 100);
    bus.publish_many(&harness::id_commands(&op, &during, harness::no_receipts))
        .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let sent_during = sim.submits().len() - 20;
    // At most the commands of the pull made before the first commit failed (4 windows); not
    // the 100 (pulling went on while PostgreSQL answered `SELECT 1`).
    assert!(
        sent_during <= 40,
        "{sent_during} submits while PostgreSQL refused writes"
    );

    db.set_read_only(false).await;
    assert!(
        harness::wait_acked(&bus, Duration::from_secs(60)).await,
        "all sent after"
    );
    let received = harness::received_by_text(&sim);
    assert_eq!(received.len(), 120);
    let twice: Vec<_> = received.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    assert!(connector.wait_ready(READY).await, "ready again");
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_published_again_under_another_msg_id_is_sent_once() {
    harness::init_logging();
    let op = harness::unique_operator("republish");
    let sim = harness::start_sim("ghasi01", "s3cret", |c| {
        c.faults.response_delay = Some(Delay::from_millis(200));
    })
    .await;
    let dir = TempDir::new().expect("temp dir");
    let config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);

    // Two copies in one pull (JetStream's duplicate window does not know the second id), and
    // a third published once the first was sent (an orchestrator republish after the window).
    let ids = harness::message_ids("republish", 10);
    for (n, c) in harness::id_commands(&op, &ids, harness::no_receipts)
        .iter()
        .enumerate()
    {
        let body = serde_json::to_vec(c).unwrap_or_default();
        bus.publish_raw(&bus.subject(), &format!("{op}-a-{n}"), body.clone())
            .await;
        bus.publish_raw(&bus.subject(), &format!("{op}-b-{n}"), body)
            .await;
    }
    assert!(harness::wait_acked(&bus, Duration::from_secs(30)).await);
    for (n, c) in harness::id_commands(&op, &ids, harness::no_receipts)
        .iter()
        .enumerate()
    {
        let body = serde_json::to_vec(c).unwrap_or_default();
        bus.publish_raw(&bus.subject(), &format!("{op}-c-{n}"), body)
            .await;
    }
    assert!(harness::wait_acked(&bus, Duration::from_secs(30)).await);
    let received = harness::received_by_text(&sim);
    assert_eq!(received.len(), ids.len());
    assert!(received.values().all(|&n| n == 1), "{received:?}");
    assert!(connector.metric("smpp_duplicate_commands_total", "").await >= 1.0);
    assert!(connector.metric("smpp_idempotent_skips_total", "").await >= 10.0);
    bus.settle(Duration::from_millis(300)).await;
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_metadata_is_rejected_and_poisons_nothing() {
    harness::init_logging();
    let op = harness::unique_operator("nul");
    let sim = harness::start_sim("ghasi01", "s3cret", |_| {}).await;
    let dir = TempDir::new().expect("temp dir");
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    // Large batches, so that the bad command would share a commit with the others.
    config.postgres.batch_delay_ms = 50;
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);

    let ids = harness::message_ids("nul", 20);
    let mut cmds = harness::id_commands(&op, &ids, harness::no_receipts);
    cmds[7]["metadata"] = json!({"note": "a\u{0}b"});
    bus.publish_many(&cmds).await;
    assert!(harness::wait_acked(&bus, Duration::from_secs(30)).await);
    let bad = ids[7].clone();
    assert!(
        bus.wait_for(Duration::from_secs(10), |dlr, _| dlr
            .iter()
            .any(|e| e["messageId"] == bad.as_str() && e["status"] == "REJECTED"))
            .await,
        "the command with a NUL gets its REJECTED event"
    );
    let rejected = bus.events_of(&bad);
    assert!(
        rejected[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("NUL")),
        "{rejected:?}"
    );
    let received = harness::received_by_text(&sim);
    assert_eq!(received.len(), 19, "every other command sent");
    assert!(!received.contains_key(&bad));
    assert!(received.values().all(|&n| n == 1));
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_receipts_and_receipts_with_nul_are_published_not_dropped() {
    harness::init_logging();
    let op = harness::unique_operator("unreadable");
    let sim = harness::start_sim("ghasi01", "s3cret", |_| {}).await;
    let dir = TempDir::new().expect("temp dir");
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    config.receipts.correlation_wait_seconds = 1;
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);

    // No id; an id but no status; the first again (the SMSC retrying it); an id with a NUL
    // in the middle.
    sim.inject_mo(harness::receipt_pdu(
        0x04,
        b"sub:001 dlvrd:001 stat:DELIVRD err:000",
    ));
    sim.inject_mo(harness::receipt_pdu(0x04, b"id:4242 sub:001 dlvrd:001"));
    sim.inject_mo(harness::receipt_pdu(
        0x04,
        b"sub:001 dlvrd:001 stat:DELIVRD err:000",
    ));
    sim.inject_mo(harness::receipt_pdu(
        0x04,
        b"id:77\x0088 sub:001 dlvrd:001 stat:DELIVRD err:000",
    ));
    let seen = bus
        .wait_for(Duration::from_secs(15), |dlr, _| {
            dlr.iter().filter(|e| e["status"] == "UNKNOWN").count() >= 2
                && dlr.iter().any(|e| e["smscMessageId"] == "7788")
        })
        .await;
    assert!(seen, "{:?}", bus.dlr_events);
    bus.settle(Duration::from_millis(500)).await;
    let unknown: Vec<&Value> = bus
        .dlr_events
        .iter()
        .filter(|e| e["status"] == "UNKNOWN")
        .collect();
    assert_eq!(
        unknown.len(),
        2,
        "the repeated one is one event: {unknown:?}"
    );
    for e in &unknown {
        assert_eq!(e["messageId"], Value::Null);
        assert_eq!(e["source"], "operator");
        assert!(e["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("unreadable receipt")));
        assert!(testkit::instance_errors("dlr-event.schema.json", e).is_empty());
    }
    assert!(unknown.iter().any(|e| e["smscMessageId"] == "4242"));
    let nul = bus
        .dlr_events
        .iter()
        .find(|e| e["smscMessageId"] == "7788")
        .cloned()
        .unwrap_or_default();
    assert_eq!(nul["status"], "DELIVERED");
    assert_eq!(
        connector.metric("smpp_unreadable_receipts_total", "").await,
        3.0,
        "each unreadable deliver_sm counted"
    );
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}
