use super::*;
use crate::pipeline::events::{DeliveryStatus, MessageStatus, Segment};
use crate::protocol::receipt::IdForm;
use crate::store::{SegmentSubmit, SubmitOutcome};
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
        self.events_with(
            wait,
            Arc::new(IdForms::new(ReceiptIdForm::Auto, ReceiptIdScope::Endpoint)),
            DEFAULT_SETTLE,
        )
    }

    fn events_with(
        &self,
        wait: Duration,
        forms: Arc<IdForms>,
        settle: Duration,
    ) -> (ReceiptEvents, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::new());
        let r = ReceiptEvents::new(
            &self.op,
            self.writer.clone(),
            self.db.pool.clone(),
            self.publisher.clone(),
            metrics.clone(),
            wait,
            forms,
        )
        .with_settle(settle);
        (r, metrics)
    }

    /// The receipt a segment holds: (receipt id, stat).
    async fn held(&self, mid: &str) -> (Option<String>, Option<String>) {
        sqlx::query_as(
            "SELECT receipt_smsc_message_id, receipt_stat FROM smpp.message_correlations
             WHERE operator_id = $1 AND message_id = $2",
        )
        .bind(&self.op)
        .bind(mid)
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }

    async fn submit(&self, mid: &str, smsc: &str) {
        self.submit_at(mid, smsc, EndpointRole::Primary).await;
    }

    async fn submit_at(&self, mid: &str, smsc: &str, endpoint: EndpointRole) {
        self.writer
            .record_submit(SegmentSubmit {
                trace_parent: None,
                operator_id: self.op.clone(),
                message_id: mid.into(),
                segment: Segment { index: 1, count: 1 },
                outcome: SubmitOutcome::Submitted {
                    smsc_message_id: smsc.into(),
                    endpoint: Some(endpoint),
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
        status: crate::pipeline::events::status_of_stat(stat),
        stat: stat.into(),
        err: Some("000".into()),
        network_error_code: None,
        submit_date: None,
        done_date: None,
        intermediate: false,
    }
}

#[tokio::test]
async fn correlated_receipt_is_published_once() {
    let env = Env::new().await;
    let (r, metrics) = env.events(Duration::from_secs(300));
    env.submit("m1", "AB12").await;
    let answer = r
        .handle(
            facts("AB12", "DELIVRD"),
            EndpointRole::Primary,
            Instant::now(),
        )
        .await;
    assert_eq!(answer, ReceiptAnswer::Ok);
    // The SMSC sends it again: answered OK, no second event.
    let again = r
        .handle(
            facts("AB12", "DELIVRD"),
            EndpointRole::Primary,
            Instant::now(),
        )
        .await;
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
    let answer = r
        .handle(
            facts("CD34", "DELIVRD"),
            EndpointRole::Primary,
            Instant::now(),
        )
        .await;
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
        r.handle(
            facts("EE", "UNDELIV"),
            EndpointRole::Primary,
            Instant::now()
        )
        .await,
        ReceiptAnswer::Ok
    );
    assert_eq!(r.sweep_pending(100).await.unwrap(), 1);
    let (now, _) = env.events(Duration::ZERO);
    assert_eq!(
        now.handle(
            facts("FF", "DELIVRD"),
            EndpointRole::Primary,
            Instant::now()
        )
        .await,
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
        Arc::new(IdForms::new(ReceiptIdForm::Auto, ReceiptIdScope::Endpoint)),
    );
    assert_eq!(
        r.handle(
            facts("AA", "DELIVRD"),
            EndpointRole::Primary,
            Instant::now()
        )
        .await,
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
        Arc::new(IdForms::new(ReceiptIdForm::Auto, ReceiptIdScope::Endpoint)),
    );
    assert_eq!(
        r.handle(
            facts("AA", "DELIVRD"),
            EndpointRole::Primary,
            Instant::now()
        )
        .await,
        ReceiptAnswer::TemporaryError
    );
    assert!(env.stored().await.is_empty());
    env.finish().await;
}

fn keys(l: &ReceiptLookup) -> Vec<&str> {
    l.all_keys().map(|k| k.as_str()).collect()
}

#[test]
fn auto_id_form_is_learnt_from_unambiguous_matches() {
    let forms = IdForms::new(ReceiptIdForm::Auto, ReceiptIdScope::Endpoint);
    assert_eq!(forms.label(EndpointRole::Primary), "learning");
    // Hex submit ids, decimal receipt ids: while learning, only the as-is key attributes; the
    // other forms' keys are evidence.
    let l = forms.lookup(Some(EndpointRole::Primary), "2587");
    assert_eq!(l.key.as_str(), "s:2587");
    assert_eq!(keys(&l), ["s:2587", "s:a1b", "s:9607"]);
    for (submit, receipt) in [("0A1B", "2587"), ("0A1C", "2588"), ("0A1D", "2589")] {
        forms.observe_submit(EndpointRole::Primary, submit);
        forms.record_unconfirmed_match(
            Some(EndpointRole::Primary),
            receipt,
            &[IdForm::HexToDecimal],
        );
        // The same receipt seen again is not new evidence.
        forms.record_unconfirmed_match(
            Some(EndpointRole::Primary),
            receipt,
            &[IdForm::HexToDecimal],
        );
        if receipt != "2589" {
            assert_eq!(forms.locked(Some(EndpointRole::Primary)), None);
        }
    }
    assert_eq!(
        forms.locked(Some(EndpointRole::Primary)),
        Some(IdForm::HexToDecimal)
    );
    assert_eq!(forms.label(EndpointRole::Primary), "hexToDecimal");
    let l = forms.lookup(Some(EndpointRole::Primary), "2590");
    assert_eq!(keys(&l), ["s:a1e"]);
}

#[test]
fn ambiguous_matches_teach_nothing() {
    let forms = IdForms::new(ReceiptIdForm::Auto, ReceiptIdScope::Endpoint);
    // "1" is the same key in every form: its as-is match is no evidence for any.
    for _ in 0..5 {
        forms.record_as_is_match(
            Some(EndpointRole::Primary),
            &forms.lookup(Some(EndpointRole::Primary), "1"),
        );
    }
    assert_eq!(forms.locked(Some(EndpointRole::Primary)), None);
    // Two forms' keys matching is no evidence either.
    for id in ["20", "21", "22", "23"] {
        forms.record_unconfirmed_match(
            Some(EndpointRole::Primary),
            id,
            &[IdForm::HexToDecimal, IdForm::DecimalToHex],
        );
    }
    assert_eq!(forms.locked(Some(EndpointRole::Primary)), None);
    // As-is matches of ids with a twin in another form lock as-is.
    for id in ["10", "11", "12"] {
        forms.record_as_is_match(
            Some(EndpointRole::Primary),
            &forms.lookup(Some(EndpointRole::Primary), id),
        );
    }
    assert_eq!(
        forms.locked(Some(EndpointRole::Primary)),
        Some(IdForm::AsIs)
    );
    // A fixed configuration is locked from the start: one key.
    let fixed = IdForms::new(ReceiptIdForm::DecimalToHex, ReceiptIdScope::Endpoint);
    assert_eq!(fixed.label(EndpointRole::Primary), "decimalToHex");
    assert_eq!(
        keys(&fixed.lookup(Some(EndpointRole::Primary), "a1b")),
        ["s:2587"]
    );
}

#[test]
fn as_is_and_converted_evidence_conflict_and_nothing_locks() {
    let forms = IdForms::new(ReceiptIdForm::Auto, ReceiptIdScope::Endpoint);
    forms.record_as_is_match(
        Some(EndpointRole::Primary),
        &forms.lookup(Some(EndpointRole::Primary), "10"),
    );
    for id in ["a", "b", "c", "d"] {
        forms.record_unconfirmed_match(Some(EndpointRole::Primary), id, &[IdForm::DecimalToHex]);
    }
    assert_eq!(forms.locked(Some(EndpointRole::Primary)), None);
    assert_eq!(
        forms.lookup(Some(EndpointRole::Primary), "10").key.as_str(),
        "s:10"
    );
}

#[tokio::test]
async fn an_as_is_match_wins_over_its_hex_twin_and_a_twin_alone_attributes_nothing() {
    // Sequential decimal ids: "10" read as hex is 16, so receipt "10" names submit "10" as-is
    // and submit "16" in the decimal-to-hex form.
    let env = Env::new().await;
    let (r, _) = env.events(Duration::from_secs(300));
    env.submit("m16", "16").await;
    // Receipt "10" before submit "10" is known: its twin "16" exists, but it waits.
    assert_eq!(
        r.handle(
            facts("10", "DELIVRD"),
            EndpointRole::Primary,
            Instant::now()
        )
        .await,
        ReceiptAnswer::Ok
    );
    assert!(env.stored().await.is_empty(), "never put on m16");
    assert_eq!(r.sweep_pending(100).await.unwrap(), 0, "still waiting");
    env.submit("m10", "10").await;
    assert_eq!(r.sweep_pending(100).await.unwrap(), 1);
    // Receipt "16" while both exist: as-is.
    assert_eq!(
        r.handle(
            facts("16", "DELIVRD"),
            EndpointRole::Primary,
            Instant::now()
        )
        .await,
        ReceiptAnswer::Ok
    );
    let events = env.stored().await;
    let got: Vec<(Option<&str>, &str)> = events
        .iter()
        .map(|e| (e.message_id.as_deref(), e.event_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Some("m10"), format!("{}:10:DELIVRD", env.op).as_str()),
            (Some("m16"), format!("{}:16:DELIVRD", env.op).as_str()),
        ]
    );
    assert_eq!(env.held("m10").await.0.as_deref(), Some("10"));
    assert_eq!(env.held("m16").await.0.as_deref(), Some("16"));
    env.finish().await;
}

#[tokio::test]
async fn a_converting_form_is_learnt_from_settled_receipts_then_attributes_them() {
    // Hex submit ids, decimal receipt ids (0x0A1B = 2587 ...).
    let env = Env::new().await;
    let forms = Arc::new(IdForms::new(ReceiptIdForm::Auto, ReceiptIdScope::Endpoint));
    let (r, _) = env.events_with(Duration::from_secs(300), forms.clone(), Duration::ZERO);
    let pairs = [
        ("0A1B", "2587"),
        ("0A1C", "2588"),
        ("0A1D", "2589"),
        ("0A1E", "2590"),
    ];
    for (i, (submit, _)) in pairs.iter().enumerate() {
        forms.observe_submit(EndpointRole::Primary, submit);
        env.submit(&format!("h{i}"), submit).await;
    }
    for (_, receipt) in pairs {
        assert_eq!(
            r.handle(
                facts(receipt, "DELIVRD"),
                EndpointRole::Primary,
                Instant::now()
            )
            .await,
            ReceiptAnswer::Ok
        );
    }
    // Not attributed while learning (the first three are kept); their settled matches are
    // evidence, and the fourth is attributed once the form is learnt.
    assert_eq!(
        forms.locked(Some(EndpointRole::Primary)),
        Some(IdForm::HexToDecimal)
    );
    assert_eq!(env.stored().await.len(), 1);
    assert_eq!(r.sweep_pending(100).await.unwrap(), 3);
    let mut got: Vec<(String, String)> = env
        .stored()
        .await
        .into_iter()
        .map(|e| (e.message_id.unwrap_or_default(), e.event_id))
        .collect();
    got.sort();
    let want: Vec<(String, String)> = pairs
        .iter()
        .enumerate()
        .map(|(i, (submit, _))| (format!("h{i}"), format!("{}:{submit}:DELIVRD", env.op)))
        .collect();
    assert_eq!(
        got, want,
        "each on its own message, named by the row's SMSC id"
    );
    env.finish().await;
}

#[tokio::test]
async fn unsettled_converted_matches_teach_nothing() {
    let env = Env::new().await;
    let forms = Arc::new(IdForms::new(ReceiptIdForm::Auto, ReceiptIdScope::Endpoint));
    let (r, _) = env.events_with(
        Duration::from_secs(300),
        forms.clone(),
        Duration::from_secs(3600),
    );
    for (i, (submit, receipt)) in [("16", "10"), ("17", "11"), ("18", "12"), ("19", "13")]
        .into_iter()
        .enumerate()
    {
        env.submit(&format!("d{i}"), submit).await;
        r.handle(
            facts(receipt, "DELIVRD"),
            EndpointRole::Primary,
            Instant::now(),
        )
        .await;
    }
    r.sweep_pending(100).await.unwrap();
    assert_eq!(forms.locked(Some(EndpointRole::Primary)), None);
    assert!(env.stored().await.is_empty());
    env.finish().await;
}

#[tokio::test]
async fn a_contradicting_receipt_is_counted_and_published_uncorrelated() {
    let env = Env::new().await;
    let (r, metrics) = env.events(Duration::from_secs(300));
    env.submit("m16", "16").await;
    assert_eq!(
        r.handle(
            facts("16", "DELIVRD"),
            EndpointRole::Primary,
            Instant::now()
        )
        .await,
        ReceiptAnswer::Ok
    );
    // Another final status for the same segment.
    assert_eq!(
        r.handle(
            facts("16", "UNDELIV"),
            EndpointRole::Primary,
            Instant::now()
        )
        .await,
        ReceiptAnswer::Ok
    );
    // A receipt of another id that a (here fixed) decimal-to-hex form puts on the segment.
    let (fixed, fixed_metrics) = env.events_with(
        Duration::from_secs(300),
        Arc::new(IdForms::new(
            ReceiptIdForm::DecimalToHex,
            ReceiptIdScope::Endpoint,
        )),
        Duration::ZERO,
    );
    assert_eq!(
        fixed
            .handle(
                facts("10", "DELIVRD"),
                EndpointRole::Primary,
                Instant::now()
            )
            .await,
        ReceiptAnswer::Ok
    );
    let events = env.stored().await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].message_id.as_deref(), Some("m16"));
    for e in &events[1..] {
        assert_eq!(e.message_id, None, "{e:?}");
        assert_eq!(e.segment, None);
    }
    assert_eq!(
        env.held("m16").await,
        (Some("16".into()), Some("DELIVRD".into())),
        "the first final receipt stays"
    );
    assert!(metrics
        .encode()
        .contains("smpp_correlation_conflicts_total 1"));
    assert!(fixed_metrics
        .encode()
        .contains("smpp_correlation_conflicts_total 1"));
    env.finish().await;
}

mod model;

#[tokio::test]
async fn kept_receipts_are_bounded_and_past_the_bound_published_at_once() {
    let env = Env::new().await;
    let (r, metrics) = env.events(Duration::from_secs(300));
    let r = r.with_max_pending(2);
    for id in ["K1", "K2"] {
        assert_eq!(
            r.handle(facts(id, "DELIVRD"), EndpointRole::Primary, Instant::now())
                .await,
            ReceiptAnswer::Ok
        );
    }
    assert!(env.stored().await.is_empty(), "two kept");
    // The bound is reached: the third and fourth are published uncorrelated at once.
    for id in ["K3", "K4"] {
        assert_eq!(
            r.handle(facts(id, "DELIVRD"), EndpointRole::Primary, Instant::now())
                .await,
            ReceiptAnswer::Ok
        );
    }
    let events = env.stored().await;
    let published: Vec<_> = events
        .iter()
        .map(|e| (e.smsc_message_id.as_deref(), e.message_id.as_deref()))
        .collect();
    assert_eq!(published, [(Some("K3"), None), (Some("K4"), None)]);
    let text = metrics.encode();
    assert!(
        text.contains("smpp_pending_receipts_overflow_total 2"),
        "{text}"
    );
    // A sweep counts what is kept; once one is settled there is room again.
    env.submit("m-k1", "K1").await;
    assert_eq!(r.sweep_pending(100).await.unwrap(), 1);
    assert!(metrics.encode().contains("smpp_pending_receipts 1"));
    assert_eq!(
        r.handle(
            facts("K5", "DELIVRD"),
            EndpointRole::Primary,
            Instant::now()
        )
        .await,
        ReceiptAnswer::Ok
    );
    assert_eq!(env.stored().await.len(), 3, "K5 kept, not published");
    env.finish().await;
}

#[tokio::test]
async fn an_undecodable_kept_row_is_published_from_its_key_and_fails_nothing() {
    let env = Env::new().await;
    let (r, metrics) = env.events(Duration::from_secs(300));
    for id in ["G1", "G2"] {
        r.handle(facts(id, "DELIVRD"), EndpointRole::Primary, Instant::now())
            .await;
    }
    // A row written by something else, or by an older version: its receipt is not one.
    sqlx::query(
        r#"INSERT INTO smpp.pending_receipts (operator_id, smsc_id_key, stat, smsc_message_id,
             candidate_keys, receipt, received_at, expires_at)
           VALUES ($1, 's:BAD', 'UNDELIV', 'BAD', '{s:BAD}', '{"nonsense": true}', now(),
                   now() + interval '1 hour')"#,
    )
    .bind(&env.op)
    .execute(&env.db.pool)
    .await
    .unwrap();
    env.submit("m-g1", "G1").await;
    env.submit("m-g2", "G2").await;
    assert_eq!(r.sweep_pending(100).await.unwrap(), 3, "all three settled");
    let events = env.stored().await;
    assert_eq!(events.len(), 3);
    let bad = events
        .iter()
        .find(|e| e.smsc_message_id.as_deref() == Some("BAD"))
        .unwrap();
    assert_eq!(bad.message_id, None);
    assert_eq!(bad.status, DeliveryStatus::Undelivered);
    for mid in ["m-g1", "m-g2"] {
        assert!(events.iter().any(|e| e.message_id.as_deref() == Some(mid)));
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM smpp.pending_receipts")
        .fetch_one(&env.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "all forgotten");
    assert!(metrics
        .encode()
        .contains("smpp_pending_receipts_unreadable_total 1"));
    env.finish().await;
}

#[test]
fn each_endpoint_learns_its_own_id_form_unless_the_id_space_is_shared() {
    let forms = IdForms::new(ReceiptIdForm::Auto, ReceiptIdScope::Endpoint);
    assert_eq!(
        forms.id_space(EndpointRole::Backup),
        Some(EndpointRole::Backup)
    );
    // The primary writes hex submit ids and decimal receipt ids.
    for (submit, receipt) in [("0A1B", "2587"), ("0A1C", "2588"), ("0A1D", "2589")] {
        forms.observe_submit(EndpointRole::Primary, submit);
        forms.record_unconfirmed_match(
            Some(EndpointRole::Primary),
            receipt,
            &[IdForm::HexToDecimal],
        );
    }
    assert_eq!(
        forms.locked(Some(EndpointRole::Primary)),
        Some(IdForm::HexToDecimal)
    );
    // The backup has learnt nothing: its receipt "16" is still looked up as-is (the
    // primary's form would have turned it into submit "10", another message).
    assert_eq!(forms.locked(Some(EndpointRole::Backup)), None);
    assert_eq!(forms.label(EndpointRole::Backup), "learning");
    assert_eq!(
        forms.lookup(Some(EndpointRole::Backup), "16").key.as_str(),
        "s:16"
    );

    let shared = IdForms::new(ReceiptIdForm::Auto, ReceiptIdScope::Shared);
    assert_eq!(shared.id_space(EndpointRole::Backup), None);
    for (submit, receipt) in [("0A1B", "2587"), ("0A1C", "2588"), ("0A1D", "2589")] {
        shared.observe_submit(EndpointRole::Primary, submit);
        shared.record_unconfirmed_match(
            shared.id_space(EndpointRole::Backup),
            receipt,
            &[IdForm::HexToDecimal],
        );
    }
    assert_eq!(
        shared.locked(shared.id_space(EndpointRole::Backup)),
        Some(IdForm::HexToDecimal)
    );
    assert_eq!(
        shared.locked(shared.id_space(EndpointRole::Primary)),
        Some(IdForm::HexToDecimal)
    );
}

#[tokio::test]
async fn receipts_with_one_id_from_two_endpoints_reach_their_own_messages_as_two_events() {
    let env = Env::new().await;
    let (r, _) = env.events(Duration::from_secs(300));
    env.submit_at("m-primary", "1", EndpointRole::Primary).await;
    env.submit_at("m-backup", "1", EndpointRole::Backup).await;
    for endpoint in [EndpointRole::Backup, EndpointRole::Primary] {
        assert_eq!(
            r.handle(facts("1", "DELIVRD"), endpoint, Instant::now())
                .await,
            ReceiptAnswer::Ok
        );
    }
    // A receipt from the backup for an id only the primary issued waits: it is not put on
    // the primary's message.
    env.submit_at("m-primary-2", "2", EndpointRole::Primary)
        .await;
    assert_eq!(
        r.handle(facts("2", "DELIVRD"), EndpointRole::Backup, Instant::now())
            .await,
        ReceiptAnswer::Ok
    );
    let mut got: Vec<(String, Option<String>)> = env
        .stored()
        .await
        .into_iter()
        .map(|e| (e.event_id, e.message_id))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (format!("{}:1:DELIVRD", env.op), Some("m-primary".into())),
            (
                format!("{}:1:DELIVRD:backup", env.op),
                Some("m-backup".into())
            ),
        ]
    );
    assert_eq!(env.held("m-primary-2").await, (None, None));
    let kept = pending_receipts(&env.db.pool, &env.op, 10).await.unwrap();
    assert!(
        matches!(&kept[..], [PendingRow::Kept(p)] if p.endpoint == Some(EndpointRole::Backup)),
        "{kept:?}"
    );
    env.finish().await;
}
