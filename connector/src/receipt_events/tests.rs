use super::*;
use crate::correlation::{SegmentSubmit, SubmitOutcome};
use crate::events::{DeliveryStatus, MessageStatus, Segment};
use crate::receipt::IdForm;
use crate::test_support::{event_publisher, event_stream, jetstream as js_context, unique, TestDb};
use async_nats::jetstream;
use crds::config::ReceiptIdForm;
use std::collections::BTreeMap;

struct Env {
    js: jetstream::Context,
    db: TestDb,
    stream_name: String,
    publisher: EventPublisher,
    writer: CorrelationWriter,
    op: String,
}

impl Env {
    async fn new() -> Self {
        let js = js_context().await;
        let db = TestDb::new().await;
        let (stream_name, prefix) = event_stream(&js, "rcpt").await;
        let publisher = event_publisher(&js, &prefix);
        let (writer, _) = CorrelationWriter::spawn(db.pool.clone(), 32, Duration::from_millis(1));
        Self {
            js,
            db,
            stream_name,
            publisher,
            writer,
            op: unique("op"),
        }
    }

    fn events(&self, wait: Duration) -> (ReceiptEvents, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::new());
        let r = ReceiptEvents::new(
            &self.op,
            self.writer.clone(),
            self.db.pool.clone(),
            self.publisher.clone(),
            metrics.clone(),
            wait,
            Arc::new(IdForms::new(ReceiptIdForm::Auto)),
        );
        (r, metrics)
    }

    async fn submit(&self, mid: &str, smsc: &str) {
        self.writer
            .record_submit(SegmentSubmit {
                operator_id: self.op.clone(),
                message_id: mid.into(),
                segment: Segment { index: 1, count: 1 },
                outcome: SubmitOutcome::Submitted {
                    smsc_message_id: smsc.into(),
                },
                attempts: 1,
                concat_ref: None,
                submitted_at: Utc::now(),
                metadata: BTreeMap::from([("tenantId".to_string(), "t-1".to_string())]),
            })
            .await
            .await
            .unwrap();
    }

    async fn stored(&self) -> Vec<DlrEvent> {
        let mut s = self.js.get_stream(&self.stream_name).await.unwrap();
        let n = s.info().await.unwrap().state.messages;
        let mut out = Vec::new();
        for seq in 1..=n {
            let raw = s.get_raw_message(seq).await.unwrap();
            out.push(serde_json::from_slice(&raw.payload).unwrap());
        }
        out
    }

    async fn finish(self) {
        self.js.delete_stream(&self.stream_name).await.unwrap();
        self.db.drop_db().await;
    }
}

fn facts(smsc: &str, stat: &str) -> ReceiptFacts {
    ReceiptFacts {
        smsc_message_id: smsc.into(),
        status: crate::events::status_of_stat(stat),
        stat: stat.into(),
        err: Some("000".into()),
        network_error_code: None,
        submit_date: None,
        done_date: None,
    }
}

#[tokio::test]
async fn correlated_receipt_is_published_once() {
    let env = Env::new().await;
    let (r, metrics) = env.events(Duration::from_secs(300));
    env.submit("m1", "AB12").await;
    let answer = r.handle(facts("AB12", "DELIVRD"), Instant::now()).await;
    assert_eq!(answer, ReceiptAnswer::Ok);
    // The SMSC sends it again: answered OK, no second event.
    let again = r.handle(facts("AB12", "DELIVRD"), Instant::now()).await;
    assert_eq!(again, ReceiptAnswer::Ok);
    let events = env.stored().await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.event_id, format!("{}:AB12:DELIVRD", env.op));
    assert_eq!(e.message_id.as_deref(), Some("m1"));
    assert_eq!(
        (e.status, e.message_status),
        (DeliveryStatus::Delivered, Some(MessageStatus::Delivered))
    );
    assert_eq!(e.metadata.get("tenantId").map(String::as_str), Some("t-1"));
    let text = metrics.encode();
    assert!(
        text.contains("smpp_receipts_total{status=\"DELIVERED\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("smpp_receipt_latency_seconds_count 2"),
        "{text}"
    );
    env.finish().await;
}

#[tokio::test]
async fn early_receipt_is_kept_then_correlated_by_the_sweep() {
    let env = Env::new().await;
    let (r, _) = env.events(Duration::from_secs(300));
    let answer = r.handle(facts("CD34", "DELIVRD"), Instant::now()).await;
    assert_eq!(answer, ReceiptAnswer::Ok);
    assert!(
        env.stored().await.is_empty(),
        "nothing published before the submit is known"
    );
    assert_eq!(r.sweep_pending(100).await.unwrap(), 0, "still waiting");
    env.submit("m2", "CD34").await;
    assert_eq!(r.sweep_pending(100).await.unwrap(), 1);
    let events = env.stored().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].message_id.as_deref(), Some("m2"));
    assert_eq!(
        r.sweep_pending(100).await.unwrap(),
        0,
        "forgotten once published"
    );
    env.finish().await;
}

#[tokio::test]
async fn receipt_that_never_correlates_is_published_uncorrelated() {
    let env = Env::new().await;
    let (r, metrics) = env.events(Duration::from_micros(1));
    assert_eq!(
        r.handle(facts("EE", "UNDELIV"), Instant::now()).await,
        ReceiptAnswer::Ok
    );
    assert_eq!(r.sweep_pending(100).await.unwrap(), 1);
    let (now, _) = env.events(Duration::ZERO);
    assert_eq!(
        now.handle(facts("FF", "DELIVRD"), Instant::now()).await,
        ReceiptAnswer::Ok
    );
    let events = env.stored().await;
    assert_eq!(events.len(), 2);
    for e in &events {
        assert_eq!(e.message_id, None);
        assert_eq!(e.segment, None);
        assert_eq!(e.operator_id, env.op);
        assert!(e.smsc_message_id.is_some());
    }
    assert!(metrics.encode().contains("smpp_correlation_misses_total 1"));
    env.finish().await;
}

#[tokio::test]
async fn failures_answer_a_temporary_error() {
    let env = Env::new().await;
    env.submit("m3", "AA").await;
    // NATS: no stream captures the subject.
    let orphan = EventPublisher::new(
        env.js.clone(),
        &format!("{}.nowhere", unique("x")),
        "x.health",
    );
    let metrics = Arc::new(Metrics::new());
    let r = ReceiptEvents::new(
        &env.op,
        env.writer.clone(),
        env.db.pool.clone(),
        orphan,
        metrics.clone(),
        Duration::from_secs(1),
        Arc::new(IdForms::new(ReceiptIdForm::Auto)),
    );
    assert_eq!(
        r.handle(facts("AA", "DELIVRD"), Instant::now()).await,
        ReceiptAnswer::TemporaryError
    );
    // PostgreSQL: unreachable.
    let dead = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(200))
        .connect_lazy("postgres://postgres@127.0.0.1:1/postgres")
        .unwrap();
    let (dead_writer, _) = CorrelationWriter::spawn(dead.clone(), 8, Duration::ZERO);
    let r = ReceiptEvents::new(
        &env.op,
        dead_writer,
        dead,
        env.publisher.clone(),
        metrics,
        Duration::from_secs(1),
        Arc::new(IdForms::new(ReceiptIdForm::Auto)),
    );
    assert_eq!(
        r.handle(facts("AA", "DELIVRD"), Instant::now()).await,
        ReceiptAnswer::TemporaryError
    );
    assert!(env.stored().await.is_empty());
    env.finish().await;
}

#[test]
fn auto_id_form_is_learnt_from_unambiguous_matches() {
    let forms = IdForms::new(ReceiptIdForm::Auto);
    assert_eq!(forms.label(), "learning");
    // Hex submit ids, decimal receipt ids: every form's key until the form is known.
    assert_eq!(forms.lookup_keys("2587"), ["s:2587", "s:a1b", "s:9607"]);
    for (submit, receipt) in [("0A1B", "2587"), ("0A1C", "2588"), ("0A1D", "2589")] {
        forms.observe_submit(submit);
        let keys = forms.lookup_keys(receipt);
        assert_eq!(keys.len(), 3);
        forms.record_match(receipt, &keys[1]);
    }
    assert_eq!(forms.locked(), Some(IdForm::HexToDecimal));
    assert_eq!(forms.label(), "hexToDecimal");
    assert_eq!(forms.lookup_keys("2590"), ["s:a1e"]);
}

#[test]
fn ambiguous_matches_teach_nothing() {
    let forms = IdForms::new(ReceiptIdForm::Auto);
    // "1" is the same key in every form: no evidence for any.
    for _ in 0..5 {
        forms.record_match("1", "s:1");
    }
    assert_eq!(forms.locked(), None);
    // A fixed configuration is locked from the start: one key.
    let fixed = IdForms::new(ReceiptIdForm::DecimalToHex);
    assert_eq!(fixed.label(), "decimalToHex");
    assert_eq!(fixed.lookup_keys("a1b"), ["s:2587"]);
}
