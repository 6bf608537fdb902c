//! End-to-end: the contract examples, rejected commands, long messages and receipt corner
//! cases, against the machine's NATS, Redis and PostgreSQL and the in-process simulator.

use std::time::Duration;

use connector::protocol::codec::{CommandId, CommandStatus};
use e2e::harness::{self, Db};
use e2e::sim::{Direction, SegmentMark};
use serde_json::{json, Value};

const EVENTS: Duration = Duration::from_secs(20);

fn example_command(op: &str, message_id: &str) -> Value {
    json!({
        "messageId": message_id,
        "operatorId": op,
        "from": "GHASI",
        "to": "233241234567",
        "text": "Your code is 123456",
        "encoding": "auto",
        "registeredDelivery": true,
        "validityPeriodSeconds": 86400,
        "priority": 0,
        "metadata": {"tenantId": "t-42", "campaignId": "c-7"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_example_is_submitted_and_its_receipt_published_as_in_the_contract() {
    let mut s = harness::setup("example", |_| {}, |_| {}).await;
    let id = harness::message_ids("01JDX0Q7S9W3B2K4M5N6P7R8T9", 1).remove(0);
    let mut submits = s.sim.subscribe_submits().expect("capture on");
    s.bus.publish(&example_command(&s.op, &id)).await;

    let submit = tokio::time::timeout(EVENTS, submits.recv())
        .await
        .expect("a submit within the deadline")
        .expect("capture open");
    assert_eq!(submit.source, "GHASI");
    assert_eq!(submit.source_ton_npi, (5, 0), "alphanumeric sender");
    assert_eq!(submit.dest, "233241234567");
    assert_eq!(submit.dest_ton_npi, (1, 1), "international MSISDN");
    assert_eq!(submit.data_coding, 0, "GSM 7-bit default alphabet");
    assert_eq!(submit.registered_delivery & 0x03, 1, "receipt asked");
    assert_eq!(
        submit.validity_period, "000001000000000R",
        "one day, relative"
    );
    assert_eq!(submit.priority, 0);
    assert_eq!(&submit.short_message[..], b"Your code is 123456");
    assert!(submit.segment.is_none());

    assert!(s.bus.wait_final(std::slice::from_ref(&id), EVENTS).await);
    let events = s.bus.events_of(&id);
    assert_eq!(events.len(), 1, "one event: {events:?}");
    let ev = events[0].clone();
    assert_eq!(
        testkit::instance_errors("dlr-event.schema.json", &ev),
        Vec::<String>::new()
    );
    assert_eq!(
        ev["eventId"],
        format!("{}:{}:DELIVRD", s.op, submit.message_id)
    );
    assert_eq!(ev["messageId"], id.as_str());
    assert_eq!(ev["operatorId"], s.op.as_str());
    assert_eq!(ev["smscMessageId"], submit.message_id.as_str());
    assert_eq!(ev["segment"], json!({"index": 1, "count": 1}));
    assert_eq!(ev["status"], "DELIVERED");
    assert_eq!(ev["final"], true);
    assert_eq!(ev["messageStatus"], "DELIVERED");
    assert_eq!(ev["source"], "operator");
    assert_eq!(ev["stat"], "DELIVRD");
    assert_eq!(ev["err"], "000");
    assert!(ev["submitDate"].is_string() && ev["doneDate"].is_string());
    assert!(ev["receivedAt"].is_string());
    assert_eq!(
        ev["metadata"],
        json!({"tenantId": "t-42", "campaignId": "c-7"})
    );
    // The example's key set, nothing more (commandStatus/reason only for connector events).
    let example_keys = [
        "eventId",
        "messageId",
        "operatorId",
        "smscMessageId",
        "segment",
        "status",
        "final",
        "messageStatus",
        "source",
        "stat",
        "err",
        "networkErrorCode",
        "submitDate",
        "doneDate",
        "receivedAt",
        "metadata",
    ];
    for k in ev.as_object().expect("object").keys() {
        assert!(example_keys.contains(&k.as_str()), "unexpected key {k}");
    }

    let rows = Db::connect().await.rows(&s.op).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].message_id, id);
    assert_eq!(rows[0].submit_status, "SUBMITTED");
    assert_eq!(
        rows[0].smsc_message_id.as_deref(),
        Some(submit.message_id.as_str())
    );
    assert_eq!(rows[0].receipt_status.as_deref(), Some("DELIVERED"));

    // operator.health: once at start (UNBOUND), then BOUND on the primary.
    let addr = s.sim.addr().to_string();
    assert!(
        s.bus
            .wait_for(EVENTS, |_, h| h.iter().any(|e| e["state"] == "BOUND"))
            .await
    );
    let h = &s.bus.health_events;
    assert_eq!(
        h[0]["state"], "UNBOUND",
        "first health event at start: {h:?}"
    );
    let bound = h.iter().find(|e| e["state"] == "BOUND").expect("BOUND");
    for e in h {
        assert_eq!(
            testkit::instance_errors("operator-health.schema.json", e),
            Vec::<String>::new()
        );
    }
    assert_eq!(bound["endpoint"], "primary");
    assert_eq!(bound["address"], addr.as_str());
    assert_eq!(bound["bindMode"], "transceiver");
    assert!(bound["connector"].is_string() && bound["at"].is_string());
    assert!(bound["reason"].is_string());
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_commands_of_each_kind_get_one_event_and_are_not_sent_or_redelivered() {
    let mut s = harness::setup("reject", |_| {}, |c| c.nats.ack_wait_seconds = 1).await;
    let ids = harness::message_ids("rej", 6);
    let subject = s.bus.subject();
    // Not JSON.
    s.bus
        .publish_raw(&subject, &ids[0], b"{not json".to_vec())
        .await;
    // Schema violations: missing `to`; a priority out of range.
    let mut missing = harness::command(&s.op, &ids[1], "hi");
    missing.as_object_mut().expect("object").remove("to");
    s.bus.publish(&missing).await;
    let mut priority = harness::command(&s.op, &ids[2], "hi");
    priority["priority"] = json!(9);
    s.bus.publish(&priority).await;
    // operatorId differs from the subject's.
    let mut other = harness::command(&s.op, &ids[3], "hi");
    other["operatorId"] = json!("someone-else");
    s.bus.publish(&other).await;
    // Text the forced encoding cannot carry.
    let mut cyrillic = harness::command(&s.op, &ids[4], "привет");
    cyrillic["encoding"] = json!("gsm7");
    s.bus.publish(&cyrillic).await;
    // Too many segments (more than 255 GSM-7 segments of 153 characters).
    let long = harness::command(&s.op, &ids[5], &"a".repeat(39_500));
    s.bus.publish(&long).await;

    let want = 6;
    assert!(
        s.bus.wait_for(EVENTS, |dlr, _| dlr.len() >= want).await,
        "six REJECTED events: {:?}",
        s.bus.dlr_events
    );
    // Longer than ack_wait: a command that was not terminated would come back.
    s.bus.settle(Duration::from_millis(2500)).await;
    let events = &s.bus.dlr_events;
    assert_eq!(events.len(), want, "exactly one event each: {events:?}");
    for ev in events {
        assert_eq!(ev["status"], "REJECTED", "{ev}");
        assert_eq!(ev["source"], "connector");
        assert_eq!(ev["final"], true);
        assert_eq!(ev["messageStatus"], "REJECTED");
        assert_eq!(ev["operatorId"], s.op.as_str());
        let reason = ev["reason"].as_str().unwrap_or_default();
        assert!(!reason.is_empty(), "a reason: {ev}");
        assert_eq!(
            testkit::instance_errors("dlr-event.schema.json", ev),
            Vec::<String>::new()
        );
    }
    let bad_json = events
        .iter()
        .find(|e| e["messageId"].is_null())
        .expect("the bad JSON's event has no messageId");
    assert!(bad_json["reason"].as_str().is_some());
    for id in &ids[1..] {
        assert_eq!(s.bus.events_of(id).len(), 1, "event for {id}");
    }
    let reason_of = |id: &str| {
        s.bus.events_of(id)[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
    };
    assert!(reason_of(&ids[1]).contains("to"), "{}", reason_of(&ids[1]));
    assert!(
        reason_of(&ids[2]).contains("priority"),
        "{}",
        reason_of(&ids[2])
    );
    assert!(reason_of(&ids[3]).contains("someone-else") || reason_of(&ids[3]).contains("operator"));
    assert!(
        reason_of(&ids[5]).contains("segment"),
        "{}",
        reason_of(&ids[5])
    );

    assert_eq!(s.sim.submits().len(), 0, "nothing sent");
    assert_eq!(
        s.bus.consumer_backlog().await,
        Some((0, 0)),
        "all terminated"
    );
    let rejected = s.connector.metric("smpp_rejected_commands_total", "").await;
    assert_eq!(rejected, 6.0, "rejected metric");
    s.finish().await;
}

async fn long_message(split: crds::config::SplitMethod, tag: &str) {
    let mut s = harness::setup(tag, |_| {}, |c| c.encoding.split = split).await;
    let ids = harness::message_ids(tag, 2);
    let text: String = (0..400)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    for id in &ids {
        s.bus.publish(&harness::command(&s.op, id, &text)).await;
    }
    let expected_per_message = match split {
        crds::config::SplitMethod::Payload => 1,
        _ => 3,
    };
    assert!(
        s.bus.wait_final(&ids, EVENTS).await,
        "{:?}",
        s.bus.dlr_events
    );
    let all_segments = s
        .bus
        .wait_for(EVENTS, |dlr, _| dlr.len() >= 2 * expected_per_message)
        .await;
    assert!(all_segments, "{:?}", s.bus.dlr_events);
    s.bus.settle(Duration::from_millis(300)).await;
    let submits = s.sim.submits();
    assert_eq!(submits.len(), 2 * expected_per_message);
    for sub in &submits {
        match split {
            crds::config::SplitMethod::Udh => {
                let seg = sub.segment.expect("segment info");
                assert_eq!(seg.mark, SegmentMark::Udh);
                assert_eq!(seg.total, 3);
                assert_eq!(sub.esm_class & 0x40, 0x40, "UDHI");
            }
            crds::config::SplitMethod::Sar => {
                let seg = sub.segment.expect("segment info");
                assert_eq!(seg.mark, SegmentMark::Sar);
                assert_eq!(seg.total, 3);
                assert_eq!(sub.esm_class & 0x40, 0, "no UDHI");
            }
            crds::config::SplitMethod::Payload => {
                assert!(sub.short_message.is_empty());
                assert_eq!(sub.payload.as_deref(), Some(text.as_bytes()));
            }
        }
    }
    for id in &ids {
        let evs = s.bus.events_of(id);
        assert_eq!(
            evs.len(),
            expected_per_message,
            "one event per segment: {evs:?}"
        );
        let mut indexes: Vec<i64> = evs
            .iter()
            .map(|e| e["segment"]["index"].as_i64().unwrap_or(0))
            .collect();
        indexes.sort();
        assert_eq!(
            indexes,
            (1..=expected_per_message as i64).collect::<Vec<_>>()
        );
        for e in &evs {
            assert_eq!(e["segment"]["count"], expected_per_message);
            assert_eq!(e["status"], "DELIVERED");
            assert!(testkit::instance_errors("dlr-event.schema.json", e).is_empty());
        }
        // Aggregate: PENDING until the last segment's receipt, then DELIVERED.
        let finals = evs
            .iter()
            .filter(|e| e["messageStatus"] == "DELIVERED")
            .count();
        assert_eq!(
            finals, 1,
            "exactly the last segment's event is final: {evs:?}"
        );
        let pending = evs
            .iter()
            .filter(|e| e["messageStatus"] == "PENDING")
            .count();
        assert_eq!(pending, expected_per_message - 1);
    }
    let rows = Db::connect().await.rows(&s.op).await;
    assert_eq!(rows.len(), 2 * expected_per_message);
    assert!(rows
        .iter()
        .all(|r| r.receipt_status.as_deref() == Some("DELIVERED")));
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_messages_by_udh_have_per_segment_receipts_and_an_aggregate_status() {
    long_message(crds::config::SplitMethod::Udh, "udh").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_messages_by_sar_have_per_segment_receipts_and_an_aggregate_status() {
    long_message(crds::config::SplitMethod::Sar, "sar").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_messages_by_message_payload_are_one_submit() {
    long_message(crds::config::SplitMethod::Payload, "payload").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_before_its_submit_response_is_correlated() {
    let mut s = harness::setup(
        "early",
        |c| {
            c.faults.receipt_before_response = true;
            c.faults.early_receipt_hold_ms = 300;
        },
        |_| {},
    )
    .await;
    let ids = harness::message_ids("early", 5);
    for id in &ids {
        s.bus
            .publish(&harness::command(&s.op, id, "early bird"))
            .await;
    }
    assert!(
        s.bus.wait_final(&ids, EVENTS).await,
        "{:?}",
        s.bus.dlr_events
    );
    for id in &ids {
        let evs = s.bus.events_of(id);
        assert_eq!(evs.len(), 1, "{evs:?}");
        assert_eq!(evs[0]["status"], "DELIVERED");
        assert_eq!(evs[0]["messageStatus"], "DELIVERED");
    }
    assert!(s.bus.dlr_events.iter().all(|e| !e["messageId"].is_null()));
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_receipt_publishes_no_duplicate_event() {
    let mut s = harness::setup(
        "dupdlr",
        |c| c.faults.duplicate_receipts = Some(e2e::sim::Trigger::Always),
        |_| {},
    )
    .await;
    let ids = harness::message_ids("dup", 5);
    for id in &ids {
        s.bus.publish(&harness::command(&s.op, id, "twice")).await;
    }
    assert!(s.bus.wait_final(&ids, EVENTS).await);
    // Both copies answered: the simulator has nothing left to deliver.
    let sim = &s.sim;
    let drained = harness::eventually(EVENTS, || async {
        let st = sim.stats();
        let answered_ok = st.count(
            Direction::In,
            CommandId::DeliverSmResp,
            CommandStatus::ESME_ROK,
        );
        (st.event("receipts_sent") == 10 && answered_ok == 10).then_some(())
    })
    .await;
    assert!(
        drained.is_some(),
        "both copies of each receipt answered ESME_ROK: {}",
        s.sim.stats()
    );
    s.bus.settle(Duration::from_millis(500)).await;
    for id in &ids {
        assert_eq!(s.bus.events_of(id).len(), 1, "{:?}", s.bus.events_of(id));
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hex_submit_ids_and_decimal_receipt_ids_are_correlated_under_auto() {
    // The simulator answers submits with (large, random) hex ids and writes the receipt's id
    // in decimal, in the text only (no receipted_message_id): the connector, configured
    // `auto`, keeps the first receipts until their as-is reading is ruled out (the settle
    // time), learns the form from them, then finds the submits by the learnt form alone.
    let mut s = harness::setup(
        "idform",
        |c| {
            c.message_id = e2e::sim::message_id::IdForm::Hex;
            c.id_start = e2e::sim::IdStart::Random(e2e::sim::message_id::RandomWord::Random);
            c.receipts.format = e2e::sim::ReceiptFormat::Text;
            c.receipts.text_id = e2e::sim::ReceiptTextId::Decimal;
        },
        |c| {
            c.receipts.id_form = crds::config::ReceiptIdForm::Auto;
            // Longer than the settle time (responseTimeoutMs + batchDelayMs + 5 s).
            c.receipts.correlation_wait_seconds = 30;
        },
    )
    .await;
    let first = harness::message_ids("learn", 4);
    for id in &first {
        s.bus.publish(&harness::command(&s.op, id, "learn")).await;
    }
    assert!(s.bus.wait_final(&first, EVENTS + EVENTS).await);
    let later = harness::message_ids("learnt", 8);
    for id in &later {
        s.bus.publish(&harness::command(&s.op, id, "learnt")).await;
    }
    assert!(s.bus.wait_final(&later, EVENTS).await);
    for id in first.iter().chain(&later) {
        let events = s.bus.events_of(id);
        assert!(
            // Named by the submit's (hex) id, whatever form the receipt wrote it in.
            events.iter().any(|e| e["status"] == "DELIVERED"
                && e["messageId"] == id.as_str()
                && e["smscMessageId"].as_str().is_some_and(|m| {
                    m.bytes().all(|b| b.is_ascii_hexdigit())
                        && e["eventId"] == format!("{}:{m}:DELIVRD", s.op)
                })),
            "{id}: {events:?}"
        );
    }
    let misses = s
        .connector
        .metric("smpp_correlation_misses_total", "")
        .await;
    assert_eq!(misses, 0.0);
    // The gauge shows the learnt form (refreshed every second).
    let connector = &s.connector;
    let learnt = harness::eventually(EVENTS, || async {
        let v = connector
            .metric("smpp_receipt_id_form", "form=\"hexToDecimal\"")
            .await;
        (v == 1.0).then_some(())
    })
    .await;
    assert!(learnt.is_some(), "smpp_receipt_id_form shows hexToDecimal");
    s.finish().await;
}
