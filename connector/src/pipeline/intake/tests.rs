use super::*;
use crate::pipeline::events::{DeliveryStatus, EventSource, Segment};
use crate::pipeline::jetstream::{
    delivery_count, dispatch_consumer, ensure_dispatch_stream, DispatchPuller,
};
use crate::session::EndpointRole;
use crate::store::{CorrelationWriter, SegmentSubmit, SubmitOutcome};
use crate::test_support::{
    config, event_publisher, event_stream, jetstream as js_context, unique, TestDb,
};
use futures::StreamExt;
use std::collections::BTreeMap;
use tokio::sync::watch;

async fn pull_all(puller: &mut DispatchPuller, n: usize) -> Vec<Message> {
    let batch = puller.pull(n).await.unwrap().unwrap();
    batch.map(|m| m.unwrap()).collect().await
}

#[tokio::test]
async fn rejects_invalid_commands_and_skips_completed_redeliveries() {
    let js = js_context().await;
    let db = TestDb::new().await;
    let cfg = config(&unique("intake"));
    let op = cfg.operator_id.clone();
    let dispatch = ensure_dispatch_stream(&js, "SMPP_DISPATCH").await.unwrap();
    let consumer = dispatch_consumer(&dispatch, &cfg).await.unwrap();
    let (events_name, prefix) = event_stream(&js, "intake").await;
    let publisher = event_publisher(&js, &prefix);
    let metrics = Arc::new(Metrics::new());
    let intake = Intake::new(&op, publisher, db.pool.clone(), metrics.clone(), false);

    let good = format!(
        r#"{{"messageId":"ok-1","operatorId":"{op}","from":"GHASI","to":"233241234567","text":"hi","metadata":{{"t":"1"}}}}"#
    );
    let bad_priority = format!(
        r#"{{"messageId":"bad-1","operatorId":"{op}","from":"GHASI","to":"233241234567","text":"hi","priority":9,"metadata":{{"t":"2"}}}}"#
    );
    let other_op =
        r#"{"messageId":"bad-2","operatorId":"someone-else","from":"GHASI","to":"1","text":"hi"}"#
            .to_string();
    for payload in [good, bad_priority, other_op, "not json".to_string()] {
        js.publish(cfg.dispatch_subject(), payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let (_bound, rx) = watch::channel(true);
    let mut puller = DispatchPuller::new(consumer, rx, Duration::from_millis(300));
    let pulled = pull_all(&mut puller, 10).await;
    assert_eq!(pulled.len(), 4);
    let not_json_seq = stream_sequence(&pulled[3]);

    let accepted = intake.process(pulled).await;
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].command.message_id, "ok-1");
    assert!(accepted[0].prior.is_none());

    // Three REJECTED events, in order, each with its reason, metadata and event id.
    let mut events_stream = js.get_stream(&events_name).await.unwrap();
    assert_eq!(events_stream.info().await.unwrap().state.messages, 3);
    let mut events = Vec::new();
    for seq in 1..=3 {
        let raw = events_stream.get_raw_message(seq).await.unwrap();
        events.push(serde_json::from_slice::<DlrEvent>(&raw.payload).unwrap());
    }
    assert_eq!(events[0].event_id, format!("{op}:bad-1:REJECTED"));
    assert_eq!(events[0].message_id.as_deref(), Some("bad-1"));
    assert_eq!(
        events[0].reason.as_deref(),
        Some("\"priority\" is 9, out of range 0..=3")
    );
    assert_eq!(events[0].metadata.get("t").map(String::as_str), Some("2"));
    assert_eq!(
        (events[0].status, events[0].source),
        (DeliveryStatus::Rejected, EventSource::Connector)
    );
    assert!(events[1]
        .reason
        .as_deref()
        .unwrap()
        .contains("differs from the subject's operator"));
    assert_eq!(
        events[2].event_id,
        format!("{op}:seq-{not_json_seq}:REJECTED")
    );
    assert_eq!(events[2].message_id, None);
    let text = metrics.encode();
    for kind in ["out_of_range", "operator_mismatch", "not_json"] {
        assert!(
            text.contains(&format!(
                "smpp_rejected_commands_total{{reason=\"{kind}\"}} 1"
            )),
            "{text}"
        );
    }

    // Terminated: nothing pending but the accepted one.
    let mut c = puller.consumer().clone();
    let info = c.info().await.unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 1));

    // The accepted command is submitted and recorded, then redelivered (a crash before the ack).
    let (writer, _h) = CorrelationWriter::spawn(db.pool.clone(), 16, Duration::from_millis(1));
    writer
        .record_submit(SegmentSubmit {
            trace_parent: None,
            operator_id: op.clone(),
            message_id: "ok-1".into(),
            segment: Segment { index: 1, count: 1 },
            outcome: SubmitOutcome::Submitted {
                smsc_message_id: "A1".into(),
                endpoint: Some(EndpointRole::Primary),
            },
            attempts: 1,
            concat_ref: None,
            submitted_at: Utc::now(),
            metadata: BTreeMap::new(),
        })
        .await
        .await
        .unwrap();
    // Its handling ends (the claim on its messageId with it) without an ack.
    let first = accepted.into_iter().next().unwrap();
    nak_after(&first.message, Duration::ZERO).await.unwrap();
    drop(first);
    let again = pull_all(&mut puller, 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!(delivery_count(&again[0]), 2);
    assert!(
        intake.process(again).await.is_empty(),
        "already submitted: not sent again"
    );
    assert!(metrics.encode().contains("smpp_idempotent_skips_total 1"));
    // Acknowledged: nothing left.
    let mut info = c.info().await.unwrap().clone();
    for _ in 0..20 {
        if info.num_ack_pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        info = c.info().await.unwrap().clone();
    }
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0));

    dispatch.delete_consumer(&cfg.durable_name()).await.unwrap();
    js.delete_stream(&events_name).await.unwrap();
    db.drop_db().await;
}

#[tokio::test]
async fn every_command_is_checked_settled_ones_republish_their_events_and_copies_wait() {
    let js = js_context().await;
    let db = TestDb::new().await;
    let cfg = config(&unique("intake"));
    let op = cfg.operator_id.clone();
    let dispatch = ensure_dispatch_stream(&js, "SMPP_DISPATCH").await.unwrap();
    let consumer = dispatch_consumer(&dispatch, &cfg).await.unwrap();
    let (events_name, prefix) = event_stream(&js, "intake").await;
    let publisher = event_publisher(&js, &prefix);
    let metrics = Arc::new(Metrics::new());
    let intake = Intake::new(&op, publisher, db.pool.clone(), metrics.clone(), true);

    // Settled by an earlier copy: one accepted segment; one accepted and one refused.
    let (writer, _h) = CorrelationWriter::spawn(db.pool.clone(), 16, Duration::from_millis(1));
    let row = |mid: &str, index: u16, count: u16, outcome: SubmitOutcome| SegmentSubmit {
        trace_parent: None,
        operator_id: op.clone(),
        message_id: mid.into(),
        segment: Segment { index, count },
        outcome,
        attempts: 1,
        concat_ref: (count > 1).then_some(9),
        submitted_at: Utc::now(),
        metadata: BTreeMap::new(),
    };
    let ok = |id: &str| SubmitOutcome::Submitted {
        smsc_message_id: id.into(),
        endpoint: Some(EndpointRole::Primary),
    };
    writer
        .record_submits(Arc::from([
            row("done-1", 1, 1, ok("A1")),
            row("done-2", 1, 2, ok("B1")),
            row(
                "done-2",
                2,
                2,
                SubmitOutcome::Failed {
                    command_status: 0x0B,
                },
            ),
            row(
                "done-3",
                1,
                1,
                SubmitOutcome::Expired {
                    command_status: 0x58,
                },
            ),
        ]))
        .await
        .await
        .unwrap();

    let cmd = |mid: &str| {
        format!(
            r#"{{"messageId":"{mid}","operatorId":"{op}","from":"GHASI","to":"233241234567","text":"hi","metadata":{{"t":"{mid}"}}}}"#
        )
    };
    // First deliveries all: the settled ones were published again by the orchestrator.
    for mid in ["done-1", "done-2", "done-3", "new-1", "new-1"] {
        js.publish(cfg.dispatch_subject(), cmd(mid).into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let (_bound, rx) = watch::channel(true);
    let mut puller = DispatchPuller::new(consumer, rx, Duration::from_millis(300));
    let pulled = pull_all(&mut puller, 10).await;
    assert_eq!(pulled.len(), 5);
    assert!(pulled.iter().all(|m| delivery_count(m) == 1));
    let accepted = intake.process(pulled).await;
    assert_eq!(accepted.len(), 1, "only the new command, once");
    assert_eq!(accepted[0].command.message_id, "new-1");
    assert!(accepted[0].prior.is_none());
    let text = metrics.encode();
    assert!(text.contains("smpp_idempotent_skips_total 3"), "{text}");
    assert!(text.contains("smpp_duplicate_commands_total 1"), "{text}");

    // The settled segments' events, again, with their deterministic ids.
    let mut events_stream = js.get_stream(&events_name).await.unwrap();
    assert_eq!(events_stream.info().await.unwrap().state.messages, 4);
    let mut events = Vec::new();
    for seq in 1..=4 {
        let raw = events_stream.get_raw_message(seq).await.unwrap();
        events.push(serde_json::from_slice::<DlrEvent>(&raw.payload).unwrap());
    }
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            format!("{op}:done-1:1:ACCEPTED"),
            format!("{op}:done-2:1:ACCEPTED"),
            format!("{op}:done-2:2:REJECTED"),
            format!("{op}:done-3:1:EXPIRED"),
        ]
    );
    assert_eq!(events[0].smsc_message_id.as_deref(), Some("A1"));
    assert_eq!(events[2].command_status, Some(0x0B));
    assert_eq!(events[2].segment, Some(Segment { index: 2, count: 2 }));
    assert_eq!(
        events[1].metadata.get("t").map(String::as_str),
        Some("done-2")
    );

    // The copy of new-1 waits while the first is in flight, and is taken once it is done.
    js.publish(cfg.dispatch_subject(), cmd("new-1").into())
        .await
        .unwrap()
        .await
        .unwrap();
    let copy = pull_all(&mut puller, 10).await;
    assert!(!copy.is_empty());
    assert!(
        intake.process(copy).await.is_empty(),
        "first still in flight"
    );
    let first = accepted.into_iter().next().unwrap();
    ack(&first.message).await.unwrap();
    drop(first);
    js.publish(cfg.dispatch_subject(), cmd("new-1").into())
        .await
        .unwrap()
        .await
        .unwrap();
    let copy = pull_all(&mut puller, 1).await;
    assert_eq!(copy.len(), 1);
    assert_eq!(intake.process(copy).await.len(), 1, "claim released");

    dispatch.delete_consumer(&cfg.durable_name()).await.unwrap();
    dispatch
        .purge()
        .filter(cfg.dispatch_subject())
        .await
        .unwrap();
    js.delete_stream(&events_name).await.unwrap();
    db.drop_db().await;
}
