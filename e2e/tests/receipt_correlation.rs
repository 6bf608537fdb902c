//! End-to-end: receipts of an SMSC with sequential decimal ids from 1 (every id from `10` up
//! is also another id read as hex) each land on their own message, once.

use std::collections::HashMap;
use std::time::Duration;

use e2e::harness::{self, Bus, Connector, Db, TempDir};
use e2e::sim::message_id::{IdForm, IdStart};
use e2e::sim::Delay;
use serde_json::json;

/// smsc-sim with the field's most common ids, sequential decimal from 1, sending each receipt
/// `delay_ms` after its submit.
async fn sim_with_ids_from_1(delay_ms: u64) -> e2e::sim::SimHandle {
    harness::start_sim("ghasi01", "s3cret", |c| {
        c.message_id = IdForm::Decimal;
        c.id_start = IdStart::At(1);
        c.receipts.delay = Delay::from_millis(delay_ms);
    })
    .await
}

/// Exactly one final event per message: DELIVERED, named by the message's own SMSC id (in
/// `smscMessageId` and its `eventId`); no receipt published uncorrelated.
fn each_delivered_once_under_its_own_id(
    bus: &Bus,
    op: &str,
    ids: &[String],
    smsc_of: &HashMap<&str, &str>,
) {
    for id in ids {
        let finals: Vec<_> = bus
            .events_of(id)
            .into_iter()
            .filter(|e| e["final"] == true)
            .collect();
        assert_eq!(finals.len(), 1, "{id}: {finals:?}");
        let e = finals[0];
        assert_eq!(e["status"], "DELIVERED", "{e}");
        let smsc = smsc_of[id.as_str()];
        assert_eq!(e["smscMessageId"], smsc, "{e}");
        assert_eq!(e["eventId"], format!("{op}:{smsc}:DELIVRD"), "{e}");
    }
    let uncorrelated = bus
        .dlr_events
        .iter()
        .filter(|e| e["messageId"].is_null())
        .count();
    assert_eq!(uncorrelated, 0, "no receipt left uncorrelated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_decimal_ids_correlate_each_receipt_to_its_own_message() {
    harness::init_logging();
    let op = harness::unique_operator("seqid");
    let sim = sim_with_ids_from_1(20).await;
    let dir = TempDir::new().expect("temp dir");
    let creds = harness::sim_credentials(&dir);
    let mut config = harness::test_config(&op, sim.addr(), creds);
    config.session.window = 64;
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(Duration::from_secs(15)).await);

    let total = 500;
    let ids = harness::message_ids("seq", total);
    let commands = harness::id_commands(&op, &ids, |c| c["registeredDelivery"] = json!(true));
    bus.publish_many(&commands).await;
    assert!(
        bus.wait_final(&ids, Duration::from_secs(90)).await,
        "every message gets its final receipt"
    );
    bus.settle(Duration::from_secs(2)).await;

    // The simulator handed out "1".."500".
    let rows = Db::connect().await.rows(&op).await;
    assert_eq!(rows.len(), total);
    let mut smsc_ids: Vec<u64> = rows
        .iter()
        .filter_map(|r| r.smsc_message_id.as_deref()?.parse().ok())
        .collect();
    smsc_ids.sort_unstable();
    assert_eq!(smsc_ids, (1..=total as u64).collect::<Vec<_>>());
    let smsc_of: HashMap<&str, &str> = rows
        .iter()
        .filter_map(|r| Some((r.message_id.as_str(), r.smsc_message_id.as_deref()?)))
        .collect();

    // Exactly one DELIVERED event per message, named by its own SMSC id, and every row holds
    // the receipt of its own id.
    each_delivered_once_under_its_own_id(&bus, &op, &ids, &smsc_of);
    let held: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT message_id, smsc_message_id, receipt_smsc_message_id
         FROM smpp.message_correlations WHERE operator_id = $1",
    )
    .bind(&op)
    .fetch_all(&Db::connect().await.0)
    .await
    .expect("rows");
    for (mid, smsc, receipt) in &held {
        assert_eq!(smsc, receipt, "{mid}: the row holds its own id's receipt");
    }
    assert_eq!(
        connector
            .metric("smpp_correlation_conflicts_total", "")
            .await,
        0.0
    );
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intermediate_notification_is_not_final_and_the_final_receipt_follows_it() {
    harness::init_logging();
    let op = harness::unique_operator("interim");
    let sim = harness::start_sim("ghasi01", "s3cret", |c| c.receipts.enabled = false).await;
    let dir = TempDir::new().expect("temp dir");
    let creds = harness::sim_credentials(&dir);
    let config = harness::test_config(&op, sim.addr(), creds);
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(Duration::from_secs(15)).await);
    let id = harness::message_ids("interim", 1).remove(0);
    bus.publish(&harness::command(&op, &id, "hello")).await;
    let smsc_id = harness::eventually(Duration::from_secs(10), || async {
        sim.submits().first().map(|s| s.message_id.clone())
    })
    .await
    .unwrap_or_else(|| panic!("no submit"));

    // The SMSC could not deliver yet and says so in an intermediate notification (0x20).
    let body = |stat: &str| {
        format!("id:{smsc_id} sub:001 dlvrd:000 submit date:2612031000 done date:2612031001 stat:{stat} err:000 text:hello")
    };
    sim.inject_mo(harness::receipt_pdu(0x20, body("UNDELIV").as_bytes()));
    assert!(
        bus.wait_for(Duration::from_secs(10), |dlr, _| !dlr.is_empty())
            .await
    );
    let first = bus.dlr_events[0].clone();
    assert_eq!(first["messageId"], id.as_str());
    assert_eq!(first["status"], "UNDELIVERED");
    assert_eq!(first["final"], false, "{first}");
    assert_eq!(first["messageStatus"], "PENDING");

    // Then the final receipt: the message is delivered, on its own message.
    sim.inject_mo(harness::receipt_pdu(0x04, body("DELIVRD").as_bytes()));
    assert!(
        bus.wait_for(Duration::from_secs(10), |dlr, _| dlr.len() >= 2)
            .await
    );
    let last = bus.dlr_events[1].clone();
    assert_eq!(last["messageId"], id.as_str(), "{last}");
    assert_eq!(
        (last["status"].clone(), last["final"].clone()),
        (json!("DELIVERED"), json!(true))
    );
    assert_eq!(last["messageStatus"], "DELIVERED");
    assert_ne!(first["eventId"], last["eventId"]);
    let rows = Db::connect().await.rows(&op).await;
    assert_eq!(rows[0].receipt_status.as_deref(), Some("DELIVERED"));
    assert_eq!(
        connector
            .metric("smpp_correlation_conflicts_total", "")
            .await,
        0.0
    );
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_and_backup_numbering_from_1_each_get_their_own_receipts() {
    // Two SMSC systems that both hand out "1", "2", "3": the primary's receipts arrive after
    // the failback, when the backup's messages with the same ids are the newer submits.
    harness::init_logging();
    let op = harness::unique_operator("idspace");
    let primary = sim_with_ids_from_1(4_000).await;
    let backup = sim_with_ids_from_1(20).await;
    let dir = TempDir::new().expect("temp dir");
    let mut config = harness::test_config(&op, primary.addr(), harness::sim_credentials(&dir));
    harness::with_backup(&mut config, backup.addr());
    assert_eq!(
        config.receipts.id_scope,
        crds::config::ReceiptIdScope::Endpoint,
        "the default"
    );
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(Duration::from_secs(15)).await);

    let ids = harness::message_ids("ids", 6);
    let (on_primary, on_backup) = ids.split_at(3);
    bus.publish_many(&harness::id_commands(&op, on_primary, |_| {}))
        .await;
    assert!(
        harness::eventually(Duration::from_secs(10), || async {
            (primary.submits().len() == 3).then_some(())
        })
        .await
        .is_some(),
        "the primary took three messages"
    );
    assert!(
        harness::eventually(Duration::from_secs(10), || async {
            (Db::connect().await.rows(&op).await.len() == 3).then_some(())
        })
        .await
        .is_some(),
        "their submits are committed"
    );
    primary.set_faults(e2e::sim::Faults {
        refuse_connections: Some(e2e::sim::RefuseMode::AcceptAndClose),
        ..Default::default()
    });
    primary.break_connections(e2e::sim::BreakAction::Reset);
    bus.publish_many(&harness::id_commands(&op, on_backup, |_| {}))
        .await;
    assert!(
        bus.wait_final(on_backup, Duration::from_secs(20)).await,
        "the backup's messages get their receipts"
    );
    assert_eq!(backup.submits().len(), 3);
    primary.clear_faults();
    assert!(
        bus.wait_final(on_primary, Duration::from_secs(30)).await,
        "the primary's receipts reach the primary's messages after the failback"
    );
    bus.settle(Duration::from_secs(1)).await;

    let rows = Db::connect().await.rows(&op).await;
    let smsc_of: HashMap<&str, &str> = rows
        .iter()
        .filter_map(|r| Some((r.message_id.as_str(), r.smsc_message_id.as_deref()?)))
        .collect();
    let mut primary_ids: Vec<&str> = on_primary.iter().map(|m| smsc_of[m.as_str()]).collect();
    let mut backup_ids: Vec<&str> = on_backup.iter().map(|m| smsc_of[m.as_str()]).collect();
    primary_ids.sort_unstable();
    backup_ids.sort_unstable();
    assert_eq!(primary_ids, ["1", "2", "3"]);
    assert_eq!(backup_ids, ["1", "2", "3"], "the same ids at both SMSCs");
    for (id, suffix) in on_primary
        .iter()
        .map(|m| (m, ""))
        .chain(on_backup.iter().map(|m| (m, ":backup")))
    {
        let finals: Vec<_> = bus
            .events_of(id)
            .into_iter()
            .filter(|e| e["final"] == true)
            .collect();
        assert_eq!(finals.len(), 1, "{id}: {finals:?}");
        let smsc = smsc_of[id.as_str()];
        assert_eq!(finals[0]["status"], "DELIVERED", "{}", finals[0]);
        assert_eq!(
            finals[0]["eventId"],
            format!("{op}:{smsc}:DELIVRD{suffix}"),
            "{}",
            finals[0]
        );
    }
    assert!(
        bus.dlr_events.iter().all(|e| !e["messageId"].is_null()),
        "no receipt left uncorrelated: {:?}",
        bus.dlr_events
    );
    assert_eq!(
        connector
            .metric("smpp_correlation_conflicts_total", "")
            .await,
        0.0
    );
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

/// A pool of four binds: smsc-sim hands each receipt to the next receiver of the system_id
/// (round-robin), as SMSCs deliver on any receiver or transceiver of the account, so most
/// receipts arrive on another bind than their submit's. Each still lands on its own message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_on_any_bind_of_a_pool_land_on_their_own_messages() {
    harness::init_logging();
    let op = harness::unique_operator("poolrcpt");
    let sim = sim_with_ids_from_1(20).await;
    let dir = TempDir::new().expect("temp dir");
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    config.session.binds = 4;
    config.session.window = 16;
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(Duration::from_secs(15)).await);
    let four = harness::eventually(Duration::from_secs(10), || async {
        (sim.bound_for("ghasi01") == 4).then_some(())
    })
    .await;
    assert!(four.is_some(), "four binds: {}", sim.bound_for("ghasi01"));

    let total = 400;
    let ids = harness::message_ids("poolrcpt", total);
    let commands = harness::id_commands(&op, &ids, |c| c["registeredDelivery"] = json!(true));
    bus.publish_many(&commands).await;
    assert!(
        bus.wait_final(&ids, Duration::from_secs(90)).await,
        "every message gets its final receipt"
    );
    bus.settle(Duration::from_secs(1)).await;
    let rows = Db::connect().await.rows(&op).await;
    let smsc_of: HashMap<&str, &str> = rows
        .iter()
        .filter_map(|r| Some((r.message_id.as_str(), r.smsc_message_id.as_deref()?)))
        .collect();
    assert_eq!(smsc_of.len(), total);
    each_delivered_once_under_its_own_id(&bus, &op, &ids, &smsc_of);
    assert!(sim.peak_bound_sessions() <= 4);
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}
