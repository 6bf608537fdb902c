//! The wired connector (`connector::service::run`) against the simulator and the machine's real
//! NATS, Redis and PostgreSQL: the contract example end to end, rejected commands, long
//! messages with per-segment receipts and the aggregate status, the TPS limit at the
//! simulator, and the graceful stop with its health event.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use connector::events::{DeliveryStatus, DlrEvent, HealthState, MessageStatus, OperatorHealth};
use e2e::sim::{SimConfig, SimHandle, Simulator};
use futures::StreamExt;
use serde_json::json;
use sqlx::Executor;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const NATS: &str = "nats://127.0.0.1:4222";
const PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:010x}", rand::random::<u64>() & 0xff_ffff_ffff)
}

/// One connector, its simulator, its database and a stream of its events.
struct Harness {
    op: String,
    js: jetstream::Context,
    sim: SimHandle,
    events_stream: String,
    dlr_subject: String,
    health_subject: String,
    db: String,
    creds: std::path::PathBuf,
    stop: Option<oneshot::Sender<()>>,
    service: Option<JoinHandle<Result<(), connector::service::ServiceError>>>,
}

impl Harness {
    async fn start(sim_config: SimConfig, extra_yaml: &str) -> Self {
        Self::start_with_pg(sim_config, extra_yaml, "127.0.0.1:5432").await
    }

    async fn start_with_pg(sim_config: SimConfig, extra_yaml: &str, pg_addr: &str) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,connector=info"))
            .with_test_writer()
            .try_init();
        let op = unique("svc");
        let client = async_nats::connect(NATS).await.unwrap();
        let js = jetstream::new(client);
        let events_stream = unique("SVC").to_uppercase().replace('-', "_");
        let (dlr_subject, health_subject) = (format!("t.{op}.dlr"), format!("t.{op}.health"));
        js.create_stream(stream::Config {
            name: events_stream.clone(),
            subjects: vec![dlr_subject.clone(), health_subject.clone()],
            storage: stream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
        let db = unique("svc_db").replace('-', "_");
        let admin = sqlx::PgPool::connect(PG).await.unwrap();
        admin
            .execute(format!("CREATE DATABASE {db}").as_str())
            .await
            .unwrap();
        admin.close().await;
        let sim = Simulator::start(sim_config).await.unwrap();
        let creds = std::env::temp_dir().join(unique("svc-creds"));
        std::fs::write(&creds, r#"{"systemId": "alice", "password": "secret"}"#).unwrap();
        let yaml = format!(
            "operatorId: {op}\nprimary: {{host: 127.0.0.1, port: {port}}}\n\
             credentials: {{source: file, path: {creds}}}\n\
             nats: {{dlrSubject: {dlr_subject}, healthSubject: {health_subject}, ackWaitSeconds: 10}}\n\
             postgres: {{url: 'postgres://postgres@{pg_addr}/{db}'}}\n\
             http: {{address: '127.0.0.1:0'}}\n\
             session: {{reconnectInitialSeconds: 1, reconnectMaxSeconds: 2, drainTimeoutSeconds: 5}}\n{extra_yaml}",
            port = sim.addr().port(),
            creds = creds.display(),
        );
        let config = connector::settings::load_str(&yaml, Vec::new()).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let service = tokio::spawn(connector::service::run(config, async move {
            let _ = stopped.await;
        }));
        Self {
            op,
            js,
            sim,
            events_stream,
            dlr_subject,
            health_subject,
            db,
            creds,
            stop: Some(stop),
            service: Some(service),
        }
    }

    async fn publish(&self, command: serde_json::Value) {
        let mut headers = async_nats::HeaderMap::new();
        if let Some(id) = command["messageId"].as_str() {
            headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
        }
        self.js
            .publish_with_headers(
                format!("smpp.operator.{}", self.op),
                headers,
                command.to_string().into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Waits until `n` DLR events were stored (or fails after `timeout`).
    async fn dlr_events(&self, n: usize, timeout: Duration) -> Vec<DlrEvent> {
        self.read(&self.dlr_subject, n, timeout).await
    }

    async fn health_events(&self, n: usize, timeout: Duration) -> Vec<OperatorHealth> {
        self.read(&self.health_subject, n, timeout).await
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        subject: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<T> {
        let stream = self.js.get_stream(&self.events_stream).await.unwrap();
        let c = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: subject.to_string(),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = c.messages().await.unwrap();
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while out.len() < n {
            match tokio::time::timeout_at(deadline, messages.next()).await {
                Ok(Some(Ok(m))) => out.push(serde_json::from_slice(&m.payload).unwrap()),
                Ok(other) => panic!("event stream ended: {other:?}"),
                Err(_) => panic!("only {} of {n} events on {subject} in time", out.len()),
            }
        }
        out
    }

    async fn stop(mut self) -> Vec<OperatorHealth> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(service) = self.service.take() {
            service.await.unwrap().unwrap();
        }
        let health = self.read_all_health().await;
        self.js.delete_stream(&self.events_stream).await.unwrap();
        let dispatch = self.js.get_stream("SMPP_DISPATCH").await.unwrap();
        let _ = dispatch
            .delete_consumer(&format!("smpp-connector-{}", self.op))
            .await;
        let admin = sqlx::PgPool::connect(PG).await.unwrap();
        admin
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db).as_str())
            .await
            .unwrap();
        admin.close().await;
        let _ = std::fs::remove_file(&self.creds);
        self.sim.shutdown().await;
        health
    }

    async fn read_all_health(&self) -> Vec<OperatorHealth> {
        let mut s = self.js.get_stream(&self.events_stream).await.unwrap();
        let total = s.info().await.unwrap().state.messages as usize;
        let all: Vec<serde_json::Value> = self.read(">", total, Duration::from_secs(5)).await;
        all.into_iter()
            .filter(|v| v.get("state").is_some())
            .map(|v| serde_json::from_value(v).unwrap())
            .collect()
    }
}

fn example(op: &str, id: &str) -> serde_json::Value {
    json!({
        "messageId": id,
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
async fn contract_example_end_to_end_with_health_events() {
    let h = Harness::start(SimConfig::with_account("alice", "secret"), "").await;
    let health = h.health_events(2, Duration::from_secs(10)).await;
    assert_eq!(health[0].state, HealthState::Unbound, "one event at start");
    assert_eq!(health[0].reason.as_deref(), Some("starting"));
    assert_eq!(health[1].state, HealthState::Bound);
    assert_eq!(
        health[1].address,
        Some(format!("127.0.0.1:{}", h.sim.addr().port()))
    );

    let id = unique("msg");
    h.publish(example(&h.op, &id)).await;
    let events = h.dlr_events(1, Duration::from_secs(15)).await;
    let e = &events[0];
    assert_eq!(e.message_id.as_deref(), Some(id.as_str()));
    assert_eq!(e.operator_id, h.op);
    assert_eq!((e.status, e.is_final), (DeliveryStatus::Delivered, true));
    assert_eq!(e.message_status, Some(MessageStatus::Delivered));
    assert_eq!(
        e.metadata.get("campaignId").map(String::as_str),
        Some("c-7")
    );
    let smsc_id = e.smsc_message_id.clone().unwrap();
    assert_eq!(
        e.event_id,
        format!("{}:{smsc_id}:{}", h.op, e.stat.clone().unwrap())
    );
    let submits = h.sim.submits();
    assert_eq!(submits.len(), 1);
    assert_eq!(
        (submits[0].source.as_str(), submits[0].dest.as_str()),
        ("GHASI", "233241234567")
    );

    let health = h.stop().await;
    let last = health.last().unwrap();
    assert_eq!(
        (last.state, last.reason.as_deref()),
        (HealthState::Unbound, Some("shutdown"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_commands_are_rejected_not_sent() {
    let h = Harness::start(SimConfig::with_account("alice", "secret"), "").await;
    // Message ids are unique per run: SMPP_DISPATCH de-duplicates on Nats-Msg-Id.
    let id = |n: u32| format!("{}-bad-{n}", h.op);
    let mut bad = example(&h.op, &id(1));
    bad["priority"] = json!(7);
    h.publish(bad).await;
    let mut other = example("someone-else", &id(2));
    other["text"] = json!("x");
    h.publish(other).await;
    let mut unsendable = example(&h.op, &id(3));
    unsendable["text"] = json!("Привет");
    unsendable["encoding"] = json!("gsm7");
    h.publish(unsendable).await;
    let events = h.dlr_events(3, Duration::from_secs(15)).await;
    let reason = |id: &str| {
        events
            .iter()
            .find(|e| e.message_id.as_deref() == Some(id))
            .and_then(|e| e.reason.clone())
            .unwrap_or_default()
    };
    assert_eq!(reason(&id(1)), "\"priority\" is 7, out of range 0..=3");
    assert!(reason(&id(2)).contains("differs from the subject's operator"));
    assert!(
        reason(&id(3)).contains("cannot be encoded"),
        "{}",
        reason(&id(3))
    );
    for e in &events {
        assert_eq!(
            (e.status, e.source),
            (
                DeliveryStatus::Rejected,
                connector::events::EventSource::Connector
            )
        );
    }
    assert!(
        h.sim.submits().is_empty(),
        "nothing invalid reaches the SMSC"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_message_gets_a_receipt_per_segment_and_the_aggregate() {
    let h = Harness::start(SimConfig::with_account("alice", "secret"), "").await;
    let mut long = example(&h.op, &unique("long"));
    long["text"] = json!("0123456789".repeat(40));
    h.publish(long).await;
    let events = h.dlr_events(3, Duration::from_secs(15)).await;
    let mut indexes: Vec<u16> = events.iter().map(|e| e.segment.unwrap().index).collect();
    indexes.sort();
    assert_eq!(indexes, vec![1, 2, 3]);
    assert!(events.iter().all(|e| e.segment.unwrap().count == 3));
    let delivered = events
        .iter()
        .filter(|e| e.message_status == Some(MessageStatus::Delivered))
        .count();
    let pending = events
        .iter()
        .filter(|e| e.message_status == Some(MessageStatus::Pending))
        .count();
    assert_eq!(
        (delivered, pending),
        (1, 2),
        "only the last receipt completes the message"
    );
    assert_eq!(h.sim.submits().len(), 3);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tps_limit_holds_at_the_simulator() {
    let h = Harness::start(
        SimConfig::with_account("alice", "secret"),
        "throttle: {tps: 100, permitBatch: 10}\n",
    )
    .await;
    h.health_events(2, Duration::from_secs(10)).await;
    for i in 0..250 {
        let mut c = example(&h.op, &format!("{}-tps-{i}", h.op));
        c["registeredDelivery"] = json!(false);
        h.publish(c).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.sim.accepted_submits() < 250 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} sent",
            h.sim.accepted_submits()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let worst = h.sim.max_accepted_in(Duration::from_secs(1));
    assert!(worst <= 101, "{worst} submits in one second at 100 TPS");
    h.stop().await;
}

/// A TCP proxy to the local PostgreSQL that can be cut (connections dropped, new ones closed).
struct PgProxy {
    addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl PgProxy {
    async fn start() -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(SeqCst) {
                    continue;
                }
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

/// PostgreSQL goes away while commands flow: what was sent stays held (not acknowledged, not
/// resent), pulling stops, and after recovery every command is delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_loses_nothing_and_duplicates_nothing() {
    let proxy = PgProxy::start().await;
    let h = Harness::start_with_pg(
        SimConfig::with_account("alice", "secret"),
        "",
        &proxy.addr.to_string(),
    )
    .await;
    h.health_events(2, Duration::from_secs(10)).await;
    proxy.set_up(false);
    for i in 0..20 {
        h.publish(example(&h.op, &format!("{}-pg-{i}", h.op))).await;
    }
    // Let the outage last a little while the commands arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent_during_outage = h.sim.accepted_submits();
    assert!(sent_during_outage <= 20);
    proxy.set_up(true);
    let events = h.dlr_events(20, Duration::from_secs(40)).await;
    let mut ids: Vec<String> = events.iter().filter_map(|e| e.message_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "every command delivered");
    assert_eq!(h.sim.accepted_submits(), 20, "nothing sent twice");
    h.stop().await;
}
