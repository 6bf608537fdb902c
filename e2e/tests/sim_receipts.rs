//! Delivery receipts and MO: delay, mix, formats, routing, keeping, redelivery.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use connector::protocol::codec::{esm_class, Body, CommandStatus, MessageState};
use e2e::sim::client::{parse_receipt_text, submit_sm, RawClient};
use e2e::sim::{
    BindMode, Delay, MoMessage, ReceiptFormat, ReceiptTextId, SimConfig, SimHandle, Simulator,
    Trigger,
};

async fn start(config: SimConfig) -> SimHandle {
    Simulator::start(config).await.expect("start simulator")
}

async fn bind(sim: &SimHandle, mode: BindMode) -> RawClient {
    let mut c = RawClient::connect(sim.addr()).await.expect("connect");
    let resp = c.bind(mode, "alice", "secret").await.unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);
    c
}

fn id_of(pdu: &connector::protocol::codec::Pdu) -> String {
    match &pdu.body {
        Body::SubmitSmResp(r) => r.message_id.to_string(),
        other => panic!("{other:?}"),
    }
}

fn config() -> SimConfig {
    let mut c = SimConfig::with_account("alice", "secret");
    c.enquire_link_secs = 0;
    c
}

#[tokio::test]
async fn receipts_follow_the_delay_and_the_mix_as_text_and_tlvs() {
    let mut config = config();
    config.receipts.delay = Delay::from_millis(150);
    config.receipts.mix = "DELIVRD=5,UNDELIV=2,EXPIRED=2,REJECTD=1".parse().unwrap();
    let sim = start(config).await;
    let mut c = bind(&sim, BindMode::Transceiver).await;
    let started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..10 {
        let resp = c
            .submit(submit_sm("1000", "2000", &format!("hello {i}"), true).unwrap())
            .await
            .unwrap();
        ids.push(id_of(&resp));
    }
    let mut stats: HashMap<String, usize> = HashMap::new();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let sm = c.receive_deliver_sm().await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!(sm.esm_class, esm_class::TYPE_DELIVERY_RECEIPT);
        // Source and destination are swapped.
        assert_eq!(
            (sm.source.addr.to_string(), sm.dest.addr.to_string()),
            ("2000".into(), "1000".into())
        );
        let text = parse_receipt_text(&sm.short_message).expect("standard receipt text");
        assert_eq!(sm.tlvs.receipted_message_id().unwrap().to_string(), text.id);
        let state = *sm.tlvs.message_state().unwrap();
        let expected_state = match text.stat.as_str() {
            "DELIVRD" => MessageState::DELIVERED,
            "UNDELIV" => MessageState::UNDELIVERABLE,
            "EXPIRED" => MessageState::EXPIRED,
            "REJECTD" => MessageState::REJECTED,
            other => panic!("stat {other}"),
        };
        assert_eq!(state, expected_state);
        assert_eq!(
            text.dlvrd,
            if text.stat == "DELIVRD" { "001" } else { "000" }
        );
        assert_eq!(
            sm.tlvs.network_error_code().is_some(),
            text.stat != "DELIVRD"
        );
        assert!(std::str::from_utf8(&sm.short_message)
            .unwrap()
            .contains("text:hello "));
        *stats.entry(text.stat).or_default() += 1;
        seen.push(text.id);
    }
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    assert_eq!(stats["DELIVRD"], 5);
    assert_eq!(stats["UNDELIV"], 2);
    assert_eq!(stats["EXPIRED"], 2);
    assert_eq!(stats["REJECTD"], 1);
    assert_eq!(sim.stats().event("receipts_sent"), 10);
}

#[tokio::test]
async fn tlv_only_and_decimal_text_ids() {
    let mut config = config();
    config.receipts.delay = Delay::from_millis(0);
    config.receipts.format = ReceiptFormat::Tlv;
    let sim = start(config.clone()).await;
    let mut c = bind(&sim, BindMode::Transceiver).await;
    let id = id_of(
        &c.submit(submit_sm("1", "2", "t", true).unwrap())
            .await
            .unwrap(),
    );
    let sm = c.receive_deliver_sm().await.unwrap();
    assert!(sm.short_message.is_empty());
    assert_eq!(sm.tlvs.receipted_message_id().unwrap().to_string(), id);

    config.receipts.format = ReceiptFormat::Text;
    config.receipts.text_id = ReceiptTextId::Decimal;
    let sim = start(config).await;
    let mut c = bind(&sim, BindMode::Transceiver).await;
    let id = id_of(
        &c.submit(submit_sm("1", "2", "t", true).unwrap())
            .await
            .unwrap(),
    );
    let sm = c.receive_deliver_sm().await.unwrap();
    assert!(sm.tlvs.is_empty());
    let text = parse_receipt_text(&sm.short_message).unwrap();
    assert_eq!(text.id, u128::from_str_radix(&id, 16).unwrap().to_string());
}

#[tokio::test]
async fn no_receipt_unless_requested_and_failure_only_receipts() {
    let mut config = config();
    config.receipts.delay = Delay::from_millis(0);
    config.receipts.mix = "DELIVRD=1,UNDELIV=1".parse().unwrap();
    let sim = start(config).await;
    let mut c = bind(&sim, BindMode::Transceiver).await;
    c.submit(submit_sm("1", "2", "none", false).unwrap())
        .await
        .unwrap();
    for _ in 0..2 {
        let mut sm = submit_sm("1", "2", "fail only", false).unwrap();
        sm.registered_delivery = 2;
        c.submit(sm).await.unwrap();
    }
    // Only the UNDELIV one of the two failure-only messages comes back.
    let sm = c.receive_deliver_sm().await.unwrap();
    assert_eq!(
        parse_receipt_text(&sm.short_message).unwrap().stat,
        "UNDELIV"
    );
    assert!(c
        .recv_within(Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());
    assert_eq!(sim.stats().event("receipts_sent"), 1);
}

#[tokio::test]
async fn receipts_go_to_the_receiver_of_a_transmitter_receiver_pair_round_robin() {
    let mut config = config();
    config.receipts.delay = Delay::from_millis(0);
    let sim = start(config).await;
    let mut tx = bind(&sim, BindMode::Transmitter).await;
    let mut rx1 = bind(&sim, BindMode::Receiver).await;
    let mut rx2 = bind(&sim, BindMode::Receiver).await;
    for i in 0..4 {
        tx.submit(submit_sm("1", "2", &format!("rr{i}"), true).unwrap())
            .await
            .unwrap();
    }
    for _ in 0..2 {
        rx1.receive_deliver_sm().await.unwrap();
        rx2.receive_deliver_sm().await.unwrap();
    }
    assert!(tx
        .recv_within(Duration::from_millis(100))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn receipts_for_a_dropped_session_are_kept_for_the_next_bind() {
    let mut config = config();
    config.receipts.delay = Delay::from_millis(50);
    let sim = start(config).await;
    let mut c = bind(&sim, BindMode::Transceiver).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let resp = c
            .submit(submit_sm("1", "2", &format!("k{i}"), true).unwrap())
            .await
            .unwrap();
        ids.push(id_of(&resp));
    }
    drop(c);
    assert!(sim.wait_bound_at_most(0, Duration::from_secs(5)).await);
    // Wait until the three receipts fell due and were kept.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.pending_deliveries(Some("alice")) < 3 {
        assert!(Instant::now() < deadline, "receipts were not kept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut c = bind(&sim, BindMode::Receiver).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let sm = c.receive_deliver_sm().await.unwrap();
        got.push(parse_receipt_text(&sm.short_message).unwrap().id);
    }
    assert_eq!(got, ids);
    assert_eq!(sim.pending_deliveries(None), 0);
}

#[tokio::test]
async fn unanswered_receipts_of_a_dropped_session_are_sent_again() {
    let mut config = config();
    config.receipts.delay = Delay::from_millis(0);
    let sim = start(config).await;
    let mut c = bind(&sim, BindMode::Transceiver).await;
    let id = id_of(
        &c.submit(submit_sm("1", "2", "x", true).unwrap())
            .await
            .unwrap(),
    );
    let (_seq, first) = c.next_deliver_sm().await.unwrap();
    drop(c); // never answered
    let mut c = bind(&sim, BindMode::Transceiver).await;
    let again = c.receive_deliver_sm().await.unwrap();
    assert_eq!(first.short_message, again.short_message);
    assert_eq!(parse_receipt_text(&again.short_message).unwrap().id, id);
}

#[tokio::test]
async fn error_responses_cause_redelivery_after_a_delay() {
    let mut config = config();
    config.receipts.delay = Delay::from_millis(0);
    config.receipts.redelivery_delay = Delay::from_millis(100);
    let sim = start(config).await;
    let mut c = bind(&sim, BindMode::Transceiver).await;
    c.submit(submit_sm("1", "2", "retry", true).unwrap())
        .await
        .unwrap();
    let (seq, first) = c.next_deliver_sm().await.unwrap();
    let refused_at = Instant::now();
    c.answer_deliver_sm(seq, CommandStatus::ESME_RX_T_APPN)
        .await
        .unwrap();
    let (seq, second) = c.next_deliver_sm().await.unwrap();
    assert!(refused_at.elapsed() >= Duration::from_millis(90));
    assert_eq!(first.short_message, second.short_message);
    c.answer_deliver_sm(seq, CommandStatus::ESME_ROK)
        .await
        .unwrap();
    assert!(c
        .recv_within(Duration::from_millis(250))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn duplicate_receipts_and_receipts_before_the_response() {
    let mut config = config();
    config.receipts.delay = Delay::from_millis(0);
    config.faults.duplicate_receipts = Some(Trigger::Always);
    let sim = start(config).await;
    let mut c = bind(&sim, BindMode::Transceiver).await;
    c.submit(submit_sm("1", "2", "twice", true).unwrap())
        .await
        .unwrap();
    let a = c.receive_deliver_sm().await.unwrap();
    let b = c.receive_deliver_sm().await.unwrap();
    assert_eq!(a.short_message, b.short_message);

    sim.update_faults(|f| {
        f.duplicate_receipts = None;
        f.receipt_before_response = true;
        f.early_receipt_hold_ms = 100;
    });
    let seq = c
        .send_request(Body::SubmitSm(submit_sm("1", "2", "early", true).unwrap()))
        .await
        .unwrap();
    let first = c.recv().await.unwrap();
    let Body::DeliverSm(receipt) = &first.body else {
        panic!("expected the receipt first, got {first:?}")
    };
    c.answer_deliver_sm(first.sequence, CommandStatus::ESME_ROK)
        .await
        .unwrap();
    let resp = c.recv().await.unwrap();
    assert_eq!(resp.sequence, seq);
    assert_eq!(
        parse_receipt_text(&receipt.short_message).unwrap().id,
        id_of(&resp)
    );
}

#[tokio::test]
async fn injected_mo_reaches_a_receiver_and_is_kept_until_one_binds() {
    let sim = start(config()).await;
    sim.inject_mo(MoMessage::text("alice", "447700900123", "5555", "STOP").unwrap());
    assert_eq!(sim.pending_deliveries(Some("alice")), 1);
    let mut c = bind(&sim, BindMode::Receiver).await;
    let sm = c.receive_deliver_sm().await.unwrap();
    assert_eq!(sm.esm_class, 0);
    assert_eq!(&sm.short_message[..], b"STOP");
    assert_eq!(sm.source.addr, "447700900123");
    sim.inject_mo(MoMessage::text("alice", "447700900124", "5555", "HELP").unwrap());
    let sm = c.receive_deliver_sm().await.unwrap();
    assert_eq!(&sm.short_message[..], b"HELP");
    assert_eq!(sim.stats().event("mo_sent"), 2);
}
