use super::*;
use crate::test_support::{config, jetstream as js_context, unique};
use futures::StreamExt;

async fn setup(
    max_ack_pending: i64,
) -> (
    jetstream::Context,
    stream::Stream,
    PullConsumer,
    ConnectorConfig,
) {
    let js = js_context().await;
    let mut cfg = config(&unique("js"));
    cfg.nats.max_ack_pending = max_ack_pending;
    cfg.nats.ack_wait_seconds = 30;
    let stream = ensure_dispatch_stream(&js, &cfg.nats.dispatch_stream)
        .await
        .unwrap();
    let consumer = dispatch_consumer(&stream, &cfg).await.unwrap();
    (js, stream, consumer, cfg)
}

async fn publish(js: &jetstream::Context, cfg: &ConnectorConfig, n: usize) {
    for i in 0..n {
        js.publish(cfg.dispatch_subject(), format!("{{\"n\":{i}}}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

async fn cleanup(stream: &stream::Stream, cfg: &ConnectorConfig) {
    stream.delete_consumer(&cfg.durable_name()).await.unwrap();
    stream.purge().filter(cfg.dispatch_subject()).await.unwrap();
}

async fn collect(batch: pull::Batch) -> Vec<Message> {
    batch.map(|m| m.unwrap()).collect().await
}

#[tokio::test]
async fn dispatch_stream_has_the_contract_settings() {
    let js = js_context().await;
    let mut stream = ensure_dispatch_stream(&js, "SMPP_DISPATCH").await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.config.retention, stream::RetentionPolicy::WorkQueue);
    assert_eq!(info.config.storage, stream::StorageType::File);
    assert!(info
        .config
        .subjects
        .contains(&DISPATCH_SUBJECTS.to_string()));
}

#[test]
fn a_created_dispatch_stream_keeps_ids_for_ten_minutes() {
    let c = dispatch_stream_config("SMPP_DISPATCH");
    assert_eq!(c.duplicate_window, Duration::from_secs(600));
}

#[tokio::test]
async fn progress_keeps_a_message_from_being_redelivered_while_work_waits() {
    let (js, stream, _consumer, mut cfg) = setup(10).await;
    // A consumer that redelivers after one second without an acknowledgement.
    stream.delete_consumer(&cfg.durable_name()).await.unwrap();
    cfg.nats.ack_wait_seconds = 1;
    let consumer = dispatch_consumer(&stream, &cfg).await.unwrap();
    publish(&js, &cfg, 2).await;
    let (_bound, rx) = watch::channel(true);
    let mut puller = DispatchPuller::new(consumer, rx, Duration::from_millis(300));
    let pulled = collect(puller.pull(2).await.unwrap().unwrap()).await;
    assert_eq!(pulled.len(), 2);
    let (kept, left) = (&pulled[0], &pulled[1]);
    let out = with_progress(kept, Duration::from_millis(300), async {
        tokio::time::sleep(Duration::from_millis(3500)).await;
        7
    })
    .await;
    assert_eq!(out, 7);
    ack_confirmed(kept).await.unwrap();
    // The message left alone was redelivered meanwhile, the one in progress never.
    let again = collect(puller.pull(10).await.unwrap().unwrap()).await;
    assert_eq!(
        again.len(),
        1,
        "only the message without progress came back"
    );
    assert_eq!(again[0].payload, left.payload);
    assert!(delivery_count(&again[0]) > 1);
    ack_confirmed(&again[0]).await.unwrap();
    cleanup(&stream, &cfg).await;
}

#[tokio::test]
async fn consumer_is_durable_filtered_and_bounded() {
    let (_js, stream, mut consumer, cfg) = setup(7).await;
    let info = consumer.info().await.unwrap().clone();
    assert_eq!(info.name, format!("smpp-connector-{}", cfg.operator_id));
    assert_eq!(
        info.config.filter_subject,
        format!("smpp.operator.{}", cfg.operator_id)
    );
    assert_eq!(info.config.ack_policy, AckPolicy::Explicit);
    assert_eq!(info.config.max_ack_pending, 7);
    assert_eq!(info.config.ack_wait, Duration::from_secs(30));
    // Creating again is idempotent (a restart).
    dispatch_consumer(&stream, &cfg).await.unwrap();
    cleanup(&stream, &cfg).await;
}

#[tokio::test]
async fn pulls_nothing_while_unbound_and_only_the_credit_when_bound() {
    let (js, stream, consumer, cfg) = setup(100).await;
    publish(&js, &cfg, 5).await;
    let (bound_tx, bound_rx) = watch::channel(false);
    let mut puller = DispatchPuller::new(consumer, bound_rx, Duration::from_millis(500));

    // Unbound: the pull does not even start, so nothing is delivered.
    let waiting = tokio::time::timeout(Duration::from_millis(200), puller.pull(3)).await;
    assert!(waiting.is_err(), "must not pull while unbound");
    let mut c = puller.consumer().clone();
    let info = c.info().await.unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending), (5, 0));

    bound_tx.send(true).unwrap();
    let got = collect(puller.pull(3).await.unwrap().unwrap()).await;
    assert_eq!(got.len(), 3, "exactly the credit");
    for m in &got {
        assert_eq!(delivery_count(m), 1);
        assert!(stream_sequence(m) > 0);
    }
    let info = c.info().await.unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending), (2, 3));

    ack(&got[0]).await.unwrap();
    in_progress(&got[1]).await.unwrap();
    terminate(&got[2]).await.unwrap();
    ack_confirmed(&got[1]).await.unwrap();

    // The rest, then a nak: the same message comes back with delivery count 2.
    let rest = collect(puller.pull(10).await.unwrap().unwrap()).await;
    assert_eq!(rest.len(), 2);
    nak_after(&rest[0], Duration::ZERO).await.unwrap();
    ack_confirmed(&rest[1]).await.unwrap();
    let again = collect(puller.pull(10).await.unwrap().unwrap()).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].payload, rest[0].payload);
    assert_eq!(delivery_count(&again[0]), 2);
    ack_confirmed(&again[0]).await.unwrap();

    let info = c.info().await.unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0));
    assert_eq!(puller.pull(0).await.unwrap().map(|_| ()), None);
    drop(bound_tx);
    assert!(
        puller.pull(1).await.unwrap().is_none(),
        "no pull after shutdown"
    );
    cleanup(&stream, &cfg).await;
}

#[tokio::test]
async fn max_ack_pending_bounds_what_is_delivered() {
    let (js, stream, consumer, cfg) = setup(2).await;
    publish(&js, &cfg, 4).await;
    let (_tx, rx) = watch::channel(true);
    let mut puller = DispatchPuller::new(consumer, rx, Duration::from_millis(300));
    let got = collect(puller.pull(4).await.unwrap().unwrap()).await;
    assert_eq!(got.len(), 2, "never more unacknowledged than maxAckPending");
    for m in &got {
        ack_confirmed(m).await.unwrap();
    }
    cleanup(&stream, &cfg).await;
}

#[tokio::test]
async fn event_stream_is_created_once_and_found_by_subject() {
    let js = js_context().await;
    let subject = format!("{}.sms.dlr.inbound", unique("t"));
    let name = unique("DLR").to_uppercase().replace('-', "_");
    let created = ensure_event_stream(&js, &subject, &name, DLR_DUPLICATE_WINDOW)
        .await
        .unwrap();
    assert_eq!(created, name);
    let found = ensure_event_stream(&js, &subject, "OTHER_NAME", DLR_DUPLICATE_WINDOW)
        .await
        .unwrap();
    assert_eq!(
        found, name,
        "an existing stream capturing the subject is used"
    );
    let mut s = js.get_stream(&name).await.unwrap();
    let info = s.info().await.unwrap();
    assert_eq!(info.config.duplicate_window, DLR_DUPLICATE_WINDOW);
    assert_eq!(info.config.storage, stream::StorageType::File);
    js.delete_stream(&name).await.unwrap();
}
