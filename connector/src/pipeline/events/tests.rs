use super::*;
use crate::pipeline::command::parse_command;
use crate::test_support::{event_publisher, event_stream, jetstream};
use serde_json::{json, Value};
use testkit::{assert_valid, schema_errors};

fn dlr_example() -> Value {
    json!({
        "eventId": "mtn-gh:0A1B2C3D:DELIVRD",
        "messageId": "01JDX0Q7S9W3B2K4M5N6P7R8T9",
        "operatorId": "mtn-gh",
        "smscMessageId": "0A1B2C3D",
        "segment": {"index": 1, "count": 1},
        "status": "DELIVERED",
        "final": true,
        "messageStatus": "DELIVERED",
        "source": "operator",
        "stat": "DELIVRD",
        "err": "000",
        "networkErrorCode": null,
        "submitDate": "2026-11-25T10:00:00Z",
        "doneDate": "2026-11-25T10:00:03Z",
        "receivedAt": "2026-11-25T10:00:03.412Z",
        "metadata": {"tenantId": "t-42", "campaignId": "c-7"}
    })
}

fn health_example() -> Value {
    json!({
        "operatorId": "mtn-gh",
        "state": "BOUND",
        "endpoint": "primary",
        "address": "smsc1.mtn.example:2775",
        "bindMode": "transceiver",
        "reason": "bound",
        "connector": "mtn-gh-connector-6d5f",
        "at": "2026-11-25T10:00:00Z"
    })
}

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn example_receipt() -> DlrEvent {
    let facts = ReceiptFacts {
        smsc_message_id: "0A1B2C3D".into(),
        status: crate::pipeline::events::status_of_stat("DELIVRD"),
        stat: "DELIVRD".into(),
        err: Some("000".into()),
        network_error_code: None,
        submit_date: Some(ts("2026-11-25T10:00:00Z")),
        done_date: Some(ts("2026-11-25T10:00:03Z")),
        intermediate: false,
    };
    let correlated = CorrelatedMessage {
        message_id: "01JDX0Q7S9W3B2K4M5N6P7R8T9".into(),
        segment: Segment { index: 1, count: 1 },
        smsc_message_id: Some("0A1B2C3D".into()),
        message_status: MessageStatus::Delivered,
        metadata: [("tenantId", "t-42"), ("campaignId", "c-7")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        trace_parent: None,
    };
    DlrEvent::receipt(
        "mtn-gh",
        &facts,
        Some(&correlated),
        Some(EndpointRole::Primary),
        ts("2026-11-25T10:00:03.412Z"),
    )
}

#[test]
fn builders_reproduce_the_contract_examples() {
    assert_eq!(
        serde_json::to_value(example_receipt()).unwrap(),
        dlr_example()
    );
    let health = OperatorHealth::bound(
        "mtn-gh",
        EndpointRole::Primary,
        "smsc1.mtn.example:2775",
        BindMode::Transceiver,
        "bound",
        "mtn-gh-connector-6d5f",
        ts("2026-11-25T10:00:00Z"),
    );
    assert_eq!(serde_json::to_value(&health).unwrap(), health_example());
}

#[test]
fn contract_examples_round_trip() {
    let dlr: DlrEvent = serde_json::from_value(dlr_example()).unwrap();
    assert_eq!(serde_json::to_value(&dlr).unwrap(), dlr_example());
    let health: OperatorHealth = serde_json::from_value(health_example()).unwrap();
    assert_eq!(serde_json::to_value(&health).unwrap(), health_example());
}

#[test]
fn every_kind_of_event_validates_against_the_schemas() {
    let at = ts("2026-11-25T10:00:03.412Z");
    let rejection =
        parse_command("mtn-gh", br#"{"messageId":"m1","operatorId":"mtn-gh"}"#).unwrap_err();
    let unreadable = parse_command("mtn-gh", b"[").unwrap_err();
    let facts = ReceiptFacts {
        smsc_message_id: "77".into(),
        status: crate::pipeline::events::status_of_stat("UNDELIV"),
        stat: "UNDELIV".into(),
        err: Some("001".into()),
        network_error_code: Some("030001".into()),
        submit_date: None,
        done_date: None,
        intermediate: false,
    };
    let meta = BTreeMap::from([("k".to_string(), "v".to_string())]);
    let seg = Segment { index: 2, count: 3 };
    let events = [
        example_receipt(),
        DlrEvent::receipt("mtn-gh", &facts, None, None, at),
        DlrEvent::rejected_command("mtn-gh", &rejection, "seq-9", at),
        DlrEvent::rejected_command("mtn-gh", &unreadable, "seq-10", at),
        DlrEvent::rejected_message("mtn-gh", "m1", "cannot encode".into(), &meta, at),
        DlrEvent::segment_outcome(
            "mtn-gh",
            "m1",
            seg,
            DeliveryStatus::Rejected,
            None,
            Some(0x0B),
            Some("ESME_RINVDSTADR".into()),
            &meta,
            at,
        ),
        DlrEvent::segment_outcome(
            "mtn-gh",
            "m1",
            seg,
            DeliveryStatus::Accepted,
            Some("abc"),
            Some(0),
            None,
            &meta,
            at,
        ),
        DlrEvent::segment_outcome(
            "mtn-gh",
            "m1",
            seg,
            DeliveryStatus::Expired,
            None,
            None,
            Some("validity ended".into()),
            &meta,
            at,
        ),
    ];
    let values: Vec<Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_valid("dlr-event.schema.json", &values);
    let health = [
        OperatorHealth::bound(
            "a",
            EndpointRole::Backup,
            "h:1",
            BindMode::TransmitterReceiver,
            "failover",
            "pod",
            at,
        ),
        OperatorHealth::unbound("a", "connection refused", "pod", at),
    ];
    let values: Vec<Value> = health
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_valid("operator-health.schema.json", &values);
    assert_eq!(values[0]["state"], "FAILBACK");
    assert_eq!(values[0]["bindMode"], "transmitter+receiver");
    assert_eq!(values[1]["endpoint"], Value::Null);
}

#[test]
fn schema_rejects_what_our_types_cannot_make() {
    let mut bad = dlr_example();
    bad["status"] = json!("DELIVRD");
    let mut null_segment = dlr_example();
    null_segment["segment"] = Value::Null;
    let errors = schema_errors("dlr-event.schema.json", &[bad, null_segment]);
    assert!(errors.iter().all(|e| !e.is_empty()), "{errors:?}");
}

#[test]
fn event_ids() {
    let at = ts("2026-11-25T10:00:00Z");
    let rejection = parse_command("op", b"{}").unwrap_err();
    assert_eq!(
        DlrEvent::rejected_command("op", &rejection, "seq-5", at).event_id,
        "op:seq-5:REJECTED"
    );
    let e = DlrEvent::segment_outcome(
        "op",
        "m9",
        Segment { index: 2, count: 2 },
        DeliveryStatus::Rejected,
        None,
        Some(11),
        None,
        &BTreeMap::new(),
        at,
    );
    assert_eq!(e.event_id, "op:m9:2:REJECTED");
    assert_eq!(example_receipt().event_id, "mtn-gh:0A1B2C3D:DELIVRD");
}

#[test]
fn stat_mapping_and_finality() {
    let table = [
        ("DELIVRD", DeliveryStatus::Delivered, true),
        ("UNDELIV", DeliveryStatus::Undelivered, true),
        ("EXPIRED", DeliveryStatus::Expired, true),
        ("DELETED", DeliveryStatus::Deleted, true),
        ("REJECTD", DeliveryStatus::Rejected, true),
        ("ACCEPTD", DeliveryStatus::Accepted, false),
        ("ENROUTE", DeliveryStatus::Enroute, false),
        ("UNKNOWN", DeliveryStatus::Unknown, true),
        ("delivrd", DeliveryStatus::Delivered, true),
        ("WHATEVER", DeliveryStatus::Unknown, true),
    ];
    for (stat, status, fin) in table {
        assert_eq!(status_of_stat(stat), status, "{stat}");
        assert_eq!(status.is_final(), fin, "{stat}");
        assert_eq!(parse_status(status.as_str()), Some(status));
    }
    assert_eq!(parse_status("DELIVRD"), None, "only the contract's names");
}

#[test]
fn message_status_aggregation() {
    use DeliveryStatus::*;
    let agg = aggregate_status;
    assert_eq!(agg(1, &[Some(Delivered)]), MessageStatus::Delivered);
    assert_eq!(agg(2, &[Some(Delivered)]), MessageStatus::Pending);
    assert_eq!(agg(2, &[Some(Delivered), None]), MessageStatus::Pending);
    assert_eq!(
        agg(2, &[Some(Delivered), Some(Enroute)]),
        MessageStatus::Pending
    );
    assert_eq!(
        agg(2, &[Some(Delivered), Some(Delivered)]),
        MessageStatus::Delivered
    );
    assert_eq!(
        agg(3, &[Some(Delivered), Some(Expired), Some(Undelivered)]),
        MessageStatus::Undelivered
    );
    assert_eq!(
        agg(2, &[Some(Rejected), Some(Undelivered)]),
        MessageStatus::Rejected
    );
    assert_eq!(
        agg(2, &[Some(Unknown), Some(Delivered)]),
        MessageStatus::Unknown
    );
    assert_eq!(
        agg(2, &[Some(Deleted), Some(Unknown)]),
        MessageStatus::Deleted
    );
}

#[tokio::test]
async fn publishes_with_msg_id_and_dedupes() {
    let js = jetstream().await;
    let (name, prefix) = event_stream(&js, "evt").await;
    let publisher = event_publisher(&js, &prefix);
    let event = example_receipt();
    let first = publisher.publish_dlr(&event).await.unwrap();
    assert!(!first.duplicate);
    let again = publisher.publish_dlr(&event).await.unwrap();
    assert!(again.duplicate, "same eventId must be stored once");
    assert_eq!(again.sequence, first.sequence);

    let health = OperatorHealth::unbound("mtn-gh", "start", "pod-1", Utc::now());
    let h = publisher.publish_health(&health).await.unwrap();

    let stream = js.get_stream(&name).await.unwrap();
    let stored = stream.get_raw_message(first.sequence).await.unwrap();
    assert_eq!(stored.subject.as_str(), format!("{prefix}.dlr"));
    let back: DlrEvent = serde_json::from_slice(&stored.payload).unwrap();
    assert_eq!(back, event);
    let headers = stored.headers;
    assert_eq!(
        headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str()),
        Some("mtn-gh:0A1B2C3D:DELIVRD")
    );
    let stored = stream.get_raw_message(h.sequence).await.unwrap();
    let back: OperatorHealth = serde_json::from_slice(&stored.payload).unwrap();
    assert_eq!(back, health);
    js.delete_stream(&name).await.unwrap();
}

#[test]
fn facts_from_a_parsed_receipt() {
    use crate::protocol::receipt::{parse_receipt, ReceiptInput};
    let text = b"id:0A1B2C3D sub:001 dlvrd:001 submit date:2611251000 done date:2611251000 stat:DELIVRD err:000 text:hi";
    let r = parse_receipt(&ReceiptInput {
        esm_class: 0x04,
        short_message: text,
        network_error_code: Some([3, 0, 27]),
        ..Default::default()
    })
    .unwrap();
    let f = ReceiptFacts::from_receipt(&r);
    assert_eq!(f.smsc_message_id, "0A1B2C3D");
    assert_eq!(
        (f.status, f.stat.as_str()),
        (DeliveryStatus::Delivered, "DELIVRD")
    );
    assert_eq!(f.err.as_deref(), Some("000"));
    assert_eq!(f.network_error_code.as_deref(), Some("3:27"));
    assert_eq!(f.done_date, Some(ts("2026-11-25T10:00:00Z")));
    let e = DlrEvent::receipt("op", &f, None, None, ts("2026-11-25T10:00:01Z"));
    assert_valid(
        "dlr-event.schema.json",
        &[serde_json::to_value(&e).unwrap()],
    );
    assert_eq!(
        ReceiptFacts::from_stat("x", "weird").status,
        DeliveryStatus::Unknown
    );
}

#[test]
fn receipt_facts_hold_no_nul_characters() {
    let text = b"id:AB\0CD sub:001 dlvrd:001 submit date:2611251000 done date:2611251000 stat:DELIV\0RD err:0\x0000 text:";
    let r = crate::protocol::receipt::parse_receipt(&crate::protocol::receipt::ReceiptInput {
        esm_class: 0x04,
        data_coding: 0,
        short_message: text,
        receipted_message_id: None,
        message_state: None,
        network_error_code: None,
    })
    .unwrap();
    let f = ReceiptFacts::from_receipt(&r);
    for field in [&f.smsc_message_id, &f.stat] {
        assert!(!field.contains('\0'), "{field:?}");
    }
    assert!(!f.err.as_deref().unwrap_or("").contains('\0'));
    assert!(f.smsc_message_id.starts_with("AB"), "{f:?}");
    let f = ReceiptFacts::from_stat("1\x002", "DELIVRD\0");
    assert_eq!(
        (f.smsc_message_id.as_str(), f.stat.as_str()),
        ("12", "DELIVRD")
    );
}
