use super::*;
use crate::pipeline::events::MessageStatus;
use crate::protocol::receipt::{submit_key, IdForm, ReceiptFacts, ReceiptLookup, Segment};
use crate::session::EndpointRole;
use crate::test_support::{unique, TestDb};
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::sync::atomic::Ordering::Relaxed;

fn submit(op: &str, mid: &str, index: u16, count: u16, smsc: &str) -> SegmentSubmit {
    SegmentSubmit {
        trace_parent: None,
        operator_id: op.into(),
        message_id: mid.into(),
        segment: Segment { index, count },
        outcome: SubmitOutcome::Submitted {
            smsc_message_id: smsc.into(),
            endpoint: Some(EndpointRole::Primary),
        },
        attempts: 1,
        concat_ref: (count > 1).then_some(42),
        submitted_at: Utc::now(),
        metadata: BTreeMap::from([("tenantId".to_string(), "t-42".to_string())]),
    }
}

fn receipt(op: &str, id: &str, stat: &str) -> ReceiptUpdate {
    ReceiptUpdate {
        operator_id: op.into(),
        lookup: ReceiptLookup::new(id, None),
        endpoint: Some(EndpointRole::Primary),
        facts: ReceiptFacts {
            smsc_message_id: id.into(),
            status: crate::pipeline::events::status_of_stat(stat),
            stat: stat.into(),
            err: Some("000".into()),
            network_error_code: None,
            submit_date: None,
            done_date: Some(Utc::now()),
            intermediate: false,
        },
        received_at: Utc::now(),
    }
}

fn correlated(m: ReceiptMatch) -> CorrelatedMessage {
    match m {
        ReceiptMatch::Correlated { message, .. } => message,
        other => panic!("expected a correlation, got {other:?}"),
    }
}

#[tokio::test]
async fn rows_are_committed_when_the_caller_is_told() {
    let db = TestDb::new().await;
    migrate(&db.pool).await.unwrap();
    let (w, _h) = CorrelationWriter::spawn(db.pool.clone(), 64, Duration::from_millis(5));
    let op = unique("op");
    w.record_submit(submit(&op, "m1", 1, 1, "0A1B"))
        .await
        .await
        .unwrap();
    // A different connection sees it: it was committed.
    let other = sqlx::PgPool::connect(&db.url()).await.unwrap();
    let (status, key, meta): (String, String, String) = sqlx::query_as(
        "SELECT submit_status, smsc_id_key, metadata::text FROM smpp.message_correlations WHERE operator_id = $1 AND message_id = 'm1'",
    )
    .bind(&op)
    .fetch_one(&other)
    .await
    .unwrap();
    assert_eq!(status, "SUBMITTED");
    assert_eq!(key, "s:a1b");
    assert_eq!(meta, r#"{"tenantId": "t-42"}"#);
    other.close().await;
    drop(w);
    db.drop_db().await;
}

#[tokio::test]
async fn concurrent_callers_share_group_commits() {
    let db = TestDb::new().await;
    let (w, handle) = CorrelationWriter::spawn(db.pool.clone(), 100, Duration::from_millis(20));
    let op = unique("op");
    let mut waits = Vec::new();
    for i in 0..300 {
        waits.push(
            w.record_submit(submit(&op, &format!("m{i}"), 1, 1, &format!("{i:x}")))
                .await,
        );
    }
    for f in waits {
        f.await.unwrap();
    }
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM smpp.message_correlations WHERE operator_id = $1")
            .bind(&op)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(n, 300);
    assert_eq!(w.stats().rows.load(Relaxed), 300);
    let batches = w.stats().batches.load(Relaxed);
    assert!(
        (3..=30).contains(&batches),
        "{batches} transactions for 300 rows"
    );
    drop(w);
    handle.await.unwrap();
    db.drop_db().await;
}

#[tokio::test]
async fn dropping_the_writer_flushes_queued_rows() {
    let db = TestDb::new().await;
    let (w, handle) = CorrelationWriter::spawn(db.pool.clone(), 1000, Duration::from_secs(60));
    let op = unique("op");
    let pending = w.record_submit(submit(&op, "last", 1, 1, "FF")).await;
    drop(w);
    handle.await.unwrap();
    pending.await.unwrap();
    assert!(already_settled(&db.pool, &op, "last").await.unwrap());
    db.drop_db().await;
}

#[tokio::test]
async fn a_refused_row_fails_only_its_caller_and_the_rest_of_its_batch_commits() {
    let db = TestDb::new().await;
    let (w, _h) = CorrelationWriter::spawn(db.pool.clone(), 10, Duration::from_millis(50));
    let op = unique("op");
    let good = w.record_submit(submit(&op, "ok", 1, 1, "A1")).await;
    // segment_index 0 breaks a CHECK, a NUL is refused in jsonb: PostgreSQL refuses the rows.
    let bad = w.record_submit(submit(&op, "bad", 0, 1, "A2")).await;
    let mut nul = submit(&op, "nul", 1, 1, "A3");
    nul.metadata.insert("k".into(), "a\0b".into());
    let nul = w.record_submit(nul).await;
    let receipt = w.apply_receipt(receipt(&op, "A1", "DELIVRD")).await;
    good.await.unwrap();
    let bad = bad.await.unwrap_err();
    assert!(bad.is_permanent(), "{bad}");
    let nul = nul.await.unwrap_err();
    assert!(nul.is_permanent(), "{nul}");
    assert!(matches!(
        receipt.await.unwrap(),
        ReceiptMatch::Correlated { .. }
    ));
    assert!(already_settled(&db.pool, &op, "ok").await.unwrap());
    assert!(!already_settled(&db.pool, &op, "nul").await.unwrap());
    assert_eq!(w.stats().failures.load(Relaxed), 3);
    db.drop_db().await;
}

#[tokio::test]
async fn a_batch_that_fails_for_want_of_the_database_fails_every_caller_and_is_not_permanent() {
    let db = TestDb::new().await;
    let (w, _h) = CorrelationWriter::spawn(db.pool.clone(), 10, Duration::from_millis(50));
    let op = unique("op");
    sqlx::query("ALTER TABLE smpp.message_correlations RENAME TO mc_away")
        .execute(&db.pool)
        .await
        .unwrap();
    let a = w.record_submit(submit(&op, "a", 1, 1, "A1")).await;
    let b = w.record_submit(submit(&op, "b", 1, 1, "B1")).await;
    let (a, b) = (a.await.unwrap_err(), b.await.unwrap_err());
    assert!(!a.is_permanent() && !b.is_permanent(), "{a} / {b}");
    sqlx::query("ALTER TABLE smpp.mc_away RENAME TO message_correlations")
        .execute(&db.pool)
        .await
        .unwrap();
    w.record_submit(submit(&op, "a", 1, 1, "A1"))
        .await
        .await
        .unwrap();
    assert!(already_settled(&db.pool, &op, "a").await.unwrap());
    db.drop_db().await;
}

#[tokio::test]
async fn a_commands_segments_commit_together_and_can_be_queued_again() {
    let db = TestDb::new().await;
    let (w, _h) = CorrelationWriter::spawn(db.pool.clone(), 10, Duration::ZERO);
    let op = unique("op");
    let rows: Arc<[SegmentSubmit]> = vec![
        submit(&op, "long", 1, 2, "B1"),
        submit(&op, "long", 2, 2, "B2"),
    ]
    .into();
    w.record_submits(rows.clone()).await.await.unwrap();
    let committed: Vec<(i16, Option<String>)> = sqlx::query_as(
        "SELECT segment_index, smsc_message_id FROM smpp.message_correlations
         WHERE operator_id = $1 AND message_id = 'long' ORDER BY 1",
    )
    .bind(&op)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        committed,
        [(1, Some("B1".to_string())), (2, Some("B2".to_string()))]
    );
    // The same shared rows queued again (a retry after a failed commit) change nothing.
    w.record_submits(rows).await.await.unwrap();
    assert!(already_settled(&db.pool, &op, "long").await.unwrap());
    // One bad segment: neither of the command's rows is committed.
    let bad: Arc<[SegmentSubmit]> = vec![
        submit(&op, "half-bad", 1, 2, "C1"),
        submit(&op, "half-bad", 0, 2, "C0"),
    ]
    .into();
    assert!(w.record_submits(bad).await.await.is_err());
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM smpp.message_correlations WHERE operator_id = $1 AND message_id = 'half-bad'",
    )
    .bind(&op)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
    assert_eq!(w.stats().rows.load(Relaxed), 4);
    db.drop_db().await;
}

#[tokio::test]
async fn receipts_correlate_and_aggregate_over_segments() {
    let db = TestDb::new().await;
    let (w, _h) = CorrelationWriter::spawn(db.pool.clone(), 64, Duration::from_millis(2));
    let op = unique("op");
    w.record_submit(submit(&op, "long", 1, 2, "0A"))
        .await
        .await
        .unwrap();
    w.record_submit(submit(&op, "long", 2, 2, "0B"))
        .await
        .await
        .unwrap();

    let first = correlated(
        w.apply_receipt(receipt(&op, "0a", "DELIVRD"))
            .await
            .await
            .unwrap(),
    );
    assert_eq!(first.message_id, "long");
    assert_eq!(first.segment, Segment { index: 1, count: 2 });
    assert_eq!(first.message_status, MessageStatus::Pending);
    assert_eq!(
        first.metadata.get("tenantId").map(String::as_str),
        Some("t-42")
    );

    // The alternate (decimal) form of 0B is 11: while the form is learnt, that match is only
    // reported as evidence, and nothing is attributed or stored.
    let learning = w
        .apply_receipt(receipt(&op, "11", "UNDELIV"))
        .await
        .await
        .unwrap();
    assert_eq!(
        learning,
        ReceiptMatch::Unmatched {
            unconfirmed: vec![IdForm::HexToDecimal]
        }
    );
    // Once the form is established, it attributes.
    let mut established = receipt(&op, "11", "UNDELIV");
    established.lookup = ReceiptLookup::new("11", Some(IdForm::HexToDecimal));
    let second = correlated(w.apply_receipt(established).await.await.unwrap());
    assert_eq!(second.segment.index, 2);
    assert_eq!(second.smsc_message_id.as_deref(), Some("0B"));
    assert_eq!(second.message_status, MessageStatus::Undelivered);

    // A late ENROUTE does not replace the final status.
    let late = correlated(
        w.apply_receipt(receipt(&op, "0a", "ENROUTE"))
            .await
            .await
            .unwrap(),
    );
    assert_eq!(late.message_status, MessageStatus::Undelivered);
    let (status, stat, received): (String, String, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT receipt_status, receipt_stat, receipt_received_at FROM smpp.message_correlations WHERE operator_id = $1 AND message_id = 'long' AND segment_index = 1",
    )
    .bind(&op)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), stat.as_str()), ("DELIVERED", "DELIVRD"));
    assert!(received.is_some());

    let unmatched = ReceiptMatch::Unmatched {
        unconfirmed: vec![],
    };
    assert_eq!(
        w.apply_receipt(receipt(&op, "nope", "DELIVRD"))
            .await
            .await
            .unwrap(),
        unmatched
    );
    // Another operator's id space is separate.
    assert_eq!(
        w.apply_receipt(receipt("other-op", "0a", "DELIVRD"))
            .await
            .await
            .unwrap(),
        unmatched
    );
    db.drop_db().await;
}

#[tokio::test]
async fn receipts_of_one_batch_see_each_other() {
    let db = TestDb::new().await;
    let (w, _h) = CorrelationWriter::spawn(db.pool.clone(), 64, Duration::from_millis(50));
    let op = unique("op");
    let s1 = w.record_submit(submit(&op, "pair", 1, 2, "C1")).await;
    let s2 = w.record_submit(submit(&op, "pair", 2, 2, "C2")).await;
    // Receipts queued in the same batch as their submits (a receipt before the commit).
    let r1 = w.apply_receipt(receipt(&op, "c1", "DELIVRD")).await;
    let r2 = w.apply_receipt(receipt(&op, "c2", "DELIVRD")).await;
    s1.await.unwrap();
    s2.await.unwrap();
    assert_eq!(
        correlated(r1.await.unwrap()).message_status,
        MessageStatus::Pending
    );
    assert_eq!(
        correlated(r2.await.unwrap()).message_status,
        MessageStatus::Delivered
    );
    db.drop_db().await;
}

#[tokio::test]
async fn idempotency_records() {
    let db = TestDb::new().await;
    let (w, _h) = CorrelationWriter::spawn(db.pool.clone(), 64, Duration::from_millis(1));
    let op = unique("op");
    w.record_submit(submit(&op, "half", 1, 2, "D1"))
        .await
        .await
        .unwrap();
    w.record_submit(submit(&op, "full", 1, 1, "D2"))
        .await
        .await
        .unwrap();
    let mut failed = submit(&op, "failed", 1, 1, "D3");
    failed.outcome = SubmitOutcome::Failed {
        command_status: 0x0B,
    };
    w.record_submit(failed.clone()).await.await.unwrap();

    assert!(already_settled(&db.pool, &op, "full").await.unwrap());
    assert!(!already_settled(&db.pool, &op, "half").await.unwrap());
    // A permanent refusal settles its segment too: it is not sent again.
    assert!(already_settled(&db.pool, &op, "failed").await.unwrap());
    assert!(!already_settled(&db.pool, &op, "never").await.unwrap());
    let prior = prior_submissions(&db.pool, &op, &["half", "full", "failed", "never"])
        .await
        .unwrap();
    assert_eq!(prior.len(), 3);
    let half = &prior["half"];
    assert!(!half.is_complete() && half.has(1) && !half.has(2));
    assert_eq!(half.concat_ref(), Some(42));
    assert_eq!(
        half.settled[0].outcome,
        SubmitOutcome::Submitted {
            smsc_message_id: "D1".into(),
            endpoint: Some(EndpointRole::Primary)
        }
    );
    assert_eq!(
        prior["failed"].settled[0].outcome,
        SubmitOutcome::Failed {
            command_status: 0x0B
        }
    );

    // A success after a failure replaces it; a failure never replaces a success.
    let mut ok = failed.clone();
    ok.outcome = submit(&op, "failed", 1, 1, "D4").outcome;
    w.record_submit(ok).await.await.unwrap();
    w.record_submit(failed).await.await.unwrap();
    assert!(already_settled(&db.pool, &op, "failed").await.unwrap());
    let attempts: i32 = sqlx::query_scalar(
        "SELECT attempts FROM smpp.message_correlations WHERE operator_id = $1 AND message_id = 'failed'",
    )
    .bind(&op)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(attempts, 2);
    db.drop_db().await;
}

#[tokio::test]
async fn pending_receipts_are_kept_once_listed_and_deleted() {
    let db = TestDb::new().await;
    let op = unique("op");
    let r = receipt(&op, "e1", "DELIVRD");
    let p = PendingReceipt {
        operator_id: op.clone(),
        key: "e1".into(),
        endpoint: Some(EndpointRole::Primary),
        candidate_keys: vec!["e1".into(), "225".into()],
        facts: r.facts.clone(),
        received_at: r.received_at,
        expires_at: r.received_at + chrono::Duration::seconds(300),
    };
    store_pending(&db.pool, &p).await.unwrap();
    store_pending(&db.pool, &p).await.unwrap();
    let listed = pending_receipts(&db.pool, &op, 10).await.unwrap();
    let [PendingRow::Kept(kept)] = &listed[..] else {
        panic!("{listed:?}");
    };
    assert_eq!(
        (&kept.facts, &kept.candidate_keys),
        (&p.facts, &p.candidate_keys)
    );
    let mut other = p.clone();
    other.key = "e2".into();
    store_pending(&db.pool, &other).await.unwrap();
    let listed = pending_receipts(&db.pool, &op, 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    let all: Vec<&PendingRow> = listed.iter().collect();
    delete_pending(&db.pool, &op, &all).await.unwrap();
    assert!(pending_receipts(&db.pool, &op, 10)
        .await
        .unwrap()
        .is_empty());
    db.drop_db().await;
}

#[tokio::test]
async fn pool_sessions_never_plan_parallel_queries_and_reuse_generic_plans() {
    let db = TestDb::new().await;
    let config = crds::config::PostgresConfig {
        url: db.url(),
        ..Default::default()
    };
    let pool = connect(&config).await.expect("pool");
    let mut settings = Vec::new();
    // Every session of the pool, not only the first one.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut conn = pool.acquire().await.expect("connection");
        let row = sqlx::query(
            "SELECT current_setting('max_parallel_workers_per_gather'), current_setting('plan_cache_mode')",
        )
        .fetch_one(&mut *conn)
        .await
        .expect("show");
        settings.push((row.get::<String, _>(0), row.get::<String, _>(1)));
        held.push(conn);
    }
    let want = ("0".to_string(), "force_generic_plan".to_string());
    assert_eq!(settings, [want.clone(), want]);
    drop(held);
    pool.close().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_connection_that_died_fails_one_batch_and_the_next_one_commits() {
    // Connections are not pinged before use: a killed backend costs one failed batch.
    let db = TestDb::new().await;
    let config = crds::config::PostgresConfig {
        url: db.url(),
        max_connections: 2,
        ..Default::default()
    };
    let pool = connect(&config).await.expect("pool");
    let (w, _h) = CorrelationWriter::spawn(pool.clone(), 10, Duration::ZERO);
    let op = unique("op");
    w.record_submit(submit(&op, "before", 1, 1, "E1"))
        .await
        .await
        .unwrap();
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(killed >= 1);
    let mut committed = false;
    for _ in 0..3 {
        if w.record_submit(submit(&op, "after", 1, 1, "E2"))
            .await
            .await
            .is_ok()
        {
            committed = true;
            break;
        }
    }
    assert!(committed, "a fresh connection took over");
    assert!(already_settled(&db.pool, &op, "after").await.unwrap());
    drop(w);
    pool.close().await;
    db.drop_db().await;
}

#[tokio::test]
async fn single_key_migration_rewrites_rows_of_fixed_forms_and_kept_receipts() {
    use sqlx::Executor;
    let admin = sqlx::PgPool::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .expect("local PostgreSQL");
    let name = unique("smpp_mig").replace('-', "_");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let pool = sqlx::PgPool::connect(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
        .await
        .unwrap();
    // The schema as the first migration left it, with rows of each form.
    pool.execute(include_str!(
        "../../../migrations/20261126000100_smpp_correlation.sql"
    ))
    .await
    .unwrap();
    pool.execute(
        r#"INSERT INTO smpp.message_correlations (operator_id, message_id, segment_index,
               segment_count, smsc_message_id, smsc_id_key, smsc_id_key2, smsc_id_key3,
               submit_status, command_status, submitted_at)
           VALUES ('op', 'auto', 1, 1, '0A1B', 's:a1b', 'hd:2587', NULL, 'SUBMITTED', 0, now()),
                  ('op', 'hd', 1, 1, '000A1C', 'hd:2588', NULL, NULL, 'SUBMITTED', 0, now()),
                  ('op', 'dh', 1, 1, ' 00123 ', 'dh:123', NULL, NULL, 'SUBMITTED', 0, now()),
                  ('op', 'uuid', 1, 1, 'F1EC-8CE7', 's:f1ec-8ce7', NULL, NULL, 'SUBMITTED', 0, now()),
                  ('op', 'failed', 1, 1, NULL, NULL, NULL, NULL, 'FAILED', 88, now());
           INSERT INTO smpp.pending_receipts (operator_id, smsc_id_key, stat, smsc_message_id,
               candidate_keys, receipt, received_at, expires_at)
           VALUES ('op', 's:2587', 'DELIVRD', '2587', '{s:2587,hd:2587,dh:9607}', '{}', now(), now())"#,
    )
    .await
    .unwrap();
    pool.execute(include_str!(
        "../../../migrations/20261126000200_smpp_single_smsc_key.sql"
    ))
    .await
    .unwrap();
    let keys: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT message_id, smsc_id_key FROM smpp.message_correlations ORDER BY message_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected = [
        ("auto", Some("s:a1b")),
        ("dh", Some("s:123")),
        ("failed", None),
        ("hd", Some("s:a1c")),
        ("uuid", Some("s:f1ec-8ce7")),
    ];
    assert_eq!(
        keys.iter()
            .map(|(m, k)| (m.as_str(), k.as_deref()))
            .collect::<Vec<_>>(),
        expected
    );
    // Each agrees with what the connector now writes for the same id.
    for (id, key) in [("0A1B", "s:a1b"), ("000A1C", "s:a1c"), (" 00123 ", "s:123")] {
        assert_eq!(submit_key(id).as_str(), key);
    }
    let pending: Vec<String> =
        sqlx::query_scalar("SELECT unnest(candidate_keys) FROM smpp.pending_receipts")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(pending, ["s:2587", "s:a1b", "s:9607"]);
    let columns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'smpp' AND column_name LIKE 'smsc_id_key_'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(columns, 0);
    pool.close().await;
    admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
    admin.close().await;
}

#[tokio::test]
async fn rows_past_their_retention_are_purged_for_the_operator_only() {
    let db = TestDb::new().await;
    let (w, _h) = CorrelationWriter::spawn(db.pool.clone(), 64, Duration::ZERO);
    let (a, b) = (unique("op-a"), unique("op-b"));
    for (op, mid) in [(&a, "old1"), (&a, "old2"), (&a, "new"), (&b, "old")] {
        w.record_submit(submit(op, mid, 1, 1, &format!("{mid}-id")))
            .await
            .await
            .unwrap();
    }
    sqlx::query(
        "UPDATE smpp.message_correlations SET created_at = now() - interval '40 days' WHERE message_id LIKE 'old%'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    // A batch of one row: the loop runs until nothing is left.
    assert_eq!(purge_older_than(&db.pool, &a, 30, 1).await.unwrap(), 2);
    assert_eq!(purge_older_than(&db.pool, &a, 30, 1).await.unwrap(), 0);
    let left: Vec<(String, String)> = sqlx::query_as(
        "SELECT operator_id, message_id FROM smpp.message_correlations ORDER BY operator_id, message_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        left,
        [
            (a.clone(), "new".to_string()),
            (b.clone(), "old".to_string())
        ]
    );
    // A longer retention keeps B's 40-day-old row.
    assert_eq!(purge_older_than(&db.pool, &b, 60, 100).await.unwrap(), 0);
    drop(w);
    db.drop_db().await;
}

#[tokio::test]
async fn the_correlation_table_leaves_room_for_receipt_updates_and_is_vacuumed_often() {
    let db = TestDb::new().await;
    let options: Vec<String> = sqlx::query_scalar(
        "SELECT unnest(reloptions) FROM pg_class WHERE oid = 'smpp.message_correlations'::regclass ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        options,
        [
            "autovacuum_analyze_scale_factor=0.01",
            "autovacuum_vacuum_scale_factor=0.02",
            "fillfactor=70"
        ]
    );
    db.drop_db().await;
}

#[tokio::test]
async fn identifier_columns_compare_as_bytes() {
    let db = TestDb::new().await;
    let columns: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, collation_name::text
         FROM information_schema.columns
         WHERE table_schema = 'smpp'
           AND column_name IN ('operator_id', 'message_id', 'smsc_id_key', 'stat')
         ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let c = |t: &str, col: &str| (t.to_string(), col.to_string(), Some("C".to_string()));
    assert_eq!(
        columns,
        [
            c("connector_heartbeats", "operator_id"),
            c("message_correlations", "message_id"),
            c("message_correlations", "operator_id"),
            c("message_correlations", "smsc_id_key"),
            c("pending_receipts", "operator_id"),
            c("pending_receipts", "smsc_id_key"),
            c("pending_receipts", "stat"),
        ]
    );
    // The receipt lookup (parameters of the default collation against "C" columns) still
    // uses the lookup index.
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT c.message_id
         FROM UNNEST($1::text[], $2::text[]) AS u(op, k)
         JOIN smpp.message_correlations c ON c.operator_id = u.op AND c.smsc_id_key = u.k",
    )
    .bind(vec!["op"])
    .bind(vec!["s:1"])
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(
        plan.iter()
            .any(|l| l.contains("message_correlations_smsc_id_key")),
        "{plan:#?}"
    );
    drop(conn);
    db.drop_db().await;
}

#[tokio::test]
async fn an_accepted_submit_without_an_id_is_named_by_no_receipt() {
    let db = TestDb::new().await;
    let (w, _h) = CorrelationWriter::spawn(db.pool.clone(), 8, Duration::from_millis(1));
    let op = unique("op");
    w.record_submit(submit(&op, "noid-1", 1, 1, ""))
        .await
        .await
        .unwrap();
    w.record_submit(submit(&op, "noid-2", 1, 1, ""))
        .await
        .await
        .unwrap();
    assert_eq!(
        w.apply_receipt(receipt(&op, "", "DELIVRD"))
            .await
            .await
            .unwrap(),
        ReceiptMatch::Unmatched {
            unconfirmed: vec![]
        }
    );
    let keys: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT smsc_id_key FROM smpp.message_correlations WHERE operator_id = $1",
    )
    .bind(&op)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(keys, [None, None]);
    db.drop_db().await;
}

#[tokio::test]
async fn a_commit_blocked_by_a_lock_fails_in_seconds_and_is_retried_after() {
    use sqlx::Connection;
    let db = TestDb::new().await;
    let config: crds::config::PostgresConfig =
        serde_json::from_value(serde_json::json!({"url": db.url()})).unwrap();
    let pool = connect(&config).await.unwrap();
    let timeouts: (String, String) = sqlx::query_as(
        "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(timeouts, ("15s".to_string(), "5s".to_string()));
    let (w, _h) = CorrelationWriter::spawn(pool.clone(), 10, Duration::from_millis(1));
    let op = unique("op");
    // Another session holds the table (a migration, a stuck transaction).
    let mut blocker = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    let mut tx = blocker.begin().await.unwrap();
    sqlx::query("LOCK TABLE smpp.message_correlations IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let e = w
        .record_submit(submit(&op, "m", 1, 1, "A1"))
        .await
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(!e.is_permanent(), "{e}");
    assert!(
        waited < Duration::from_secs(12),
        "gave up after {waited:?}, not stuck"
    );
    tx.rollback().await.unwrap();
    w.record_submit(submit(&op, "m", 1, 1, "A1"))
        .await
        .await
        .unwrap();
    assert!(already_settled(&pool, &op, "m").await.unwrap());
    pool.close().await;
    db.drop_db().await;
}

/// Whether every segment of the message was already settled.
async fn already_settled(
    pool: &PgPool,
    operator_id: &str,
    message_id: &str,
) -> Result<bool, CorrelationError> {
    Ok(prior_submissions(pool, operator_id, &[message_id])
        .await?
        .get(message_id)
        .is_some_and(PriorSubmission::is_complete))
}

fn at_endpoint(mut s: SegmentSubmit, endpoint: Option<EndpointRole>) -> SegmentSubmit {
    if let SubmitOutcome::Submitted { endpoint: e, .. } = &mut s.outcome {
        *e = endpoint;
    }
    s
}

#[tokio::test]
async fn a_receipt_names_only_submits_of_its_endpoints_id_space() {
    let db = TestDb::new().await;
    let (w, _h) = CorrelationWriter::spawn(db.pool.clone(), 64, Duration::from_millis(2));
    let op = unique("op");
    // Two SMSC systems that both number from 1: id 5 names a message at each, and the
    // backup's is the newer submit.
    let mut on_primary = submit(&op, "on-primary", 1, 1, "5");
    on_primary.submitted_at = Utc::now() - chrono::Duration::seconds(60);
    w.record_submit(on_primary).await.await.unwrap();
    w.record_submit(at_endpoint(
        submit(&op, "on-backup", 1, 1, "5"),
        Some(EndpointRole::Backup),
    ))
    .await
    .await
    .unwrap();
    let from = |endpoint, stat: &str| ReceiptUpdate {
        endpoint,
        ..receipt(&op, "5", stat)
    };
    let m = correlated(
        w.apply_receipt(from(Some(EndpointRole::Primary), "DELIVRD"))
            .await
            .await
            .unwrap(),
    );
    assert_eq!(m.message_id, "on-primary");
    let m = correlated(
        w.apply_receipt(from(Some(EndpointRole::Backup), "UNDELIV"))
            .await
            .await
            .unwrap(),
    );
    assert_eq!(m.message_id, "on-backup");
    let stored: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT message_id, smsc_endpoint, receipt_stat FROM smpp.message_correlations
         WHERE operator_id = $1 ORDER BY message_id",
    )
    .bind(&op)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        [
            (
                "on-backup".into(),
                Some("backup".into()),
                Some("UNDELIV".into())
            ),
            (
                "on-primary".into(),
                Some("primary".into()),
                Some("DELIVRD".into())
            ),
        ]
    );
    // A receipt from an endpoint that has no submit with the id matches nothing there.
    let op2 = unique("op");
    w.record_submit(submit(&op2, "only-primary", 1, 1, "9"))
        .await
        .await
        .unwrap();
    let miss = w
        .apply_receipt(ReceiptUpdate {
            endpoint: Some(EndpointRole::Backup),
            ..receipt(&op2, "9", "DELIVRD")
        })
        .await
        .await
        .unwrap();
    assert!(matches!(miss, ReceiptMatch::Unmatched { .. }), "{miss:?}");
    // The shared id space names the newest submit of either endpoint, and a row stored
    // before endpoints were recorded is named from either endpoint.
    let shared = correlated(
        w.apply_receipt(ReceiptUpdate {
            endpoint: None,
            ..receipt(&op2, "9", "DELIVRD")
        })
        .await
        .await
        .unwrap(),
    );
    assert_eq!(shared.message_id, "only-primary");
    w.record_submit(at_endpoint(submit(&op2, "legacy", 1, 1, "10"), None))
        .await
        .await
        .unwrap();
    let legacy = correlated(
        w.apply_receipt(ReceiptUpdate {
            endpoint: Some(EndpointRole::Backup),
            ..receipt(&op2, "10", "DELIVRD")
        })
        .await
        .await
        .unwrap(),
    );
    assert_eq!(legacy.message_id, "legacy");
    drop(w);
    db.drop_db().await;
}

#[tokio::test]
async fn kept_receipts_of_two_id_spaces_and_of_both_kinds_are_all_kept() {
    let db = TestDb::new().await;
    let op = unique("op");
    let r = receipt(&op, "7", "UNDELIV");
    let base = PendingReceipt {
        operator_id: op.clone(),
        key: "s:7".into(),
        endpoint: Some(EndpointRole::Primary),
        candidate_keys: vec!["s:7".into()],
        facts: r.facts.clone(),
        received_at: r.received_at,
        expires_at: r.received_at + chrono::Duration::seconds(300),
    };
    let backup = PendingReceipt {
        endpoint: Some(EndpointRole::Backup),
        ..base.clone()
    };
    let mut intermediate = base.clone();
    intermediate.facts.intermediate = true;
    let shared = PendingReceipt {
        endpoint: None,
        ..base.clone()
    };
    for p in [&base, &backup, &intermediate, &shared, &base] {
        store_pending(&db.pool, p).await.unwrap();
    }
    let listed = pending_receipts(&db.pool, &op, 10).await.unwrap();
    let mut kept: Vec<(Option<EndpointRole>, bool)> = listed
        .iter()
        .map(|row| match row {
            PendingRow::Kept(p) => (p.endpoint, p.facts.intermediate),
            other => panic!("{other:?}"),
        })
        .collect();
    kept.sort_by_key(|(e, i)| (e.map(EndpointRole::as_str), *i));
    assert_eq!(
        kept,
        [
            (None, false),
            (Some(EndpointRole::Backup), false),
            (Some(EndpointRole::Primary), false),
            (Some(EndpointRole::Primary), true),
        ]
    );
    // Deleting one removes exactly that one.
    let one: Vec<&PendingRow> = listed
        .iter()
        .filter(
            |row| matches!(row, PendingRow::Kept(p) if p.endpoint == Some(EndpointRole::Backup)),
        )
        .collect();
    delete_pending(&db.pool, &op, &one).await.unwrap();
    let left = pending_receipts(&db.pool, &op, 10).await.unwrap();
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(
        |row| !matches!(row, PendingRow::Kept(p) if p.endpoint == Some(EndpointRole::Backup))
    ));
    db.drop_db().await;
}
