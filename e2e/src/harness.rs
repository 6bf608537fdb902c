//! Test harness for the end-to-end tests of the connector (`e2e/tests/connector_*.rs`).
//!
//! Every test gets its own operator id ([`unique_operator`]), its own in-process simulators,
//! its own connector ([`Connector`], run in-process on a private runtime so that it can be
//! stopped gracefully or "crashed" by dropping that runtime), and sees only its own events
//! ([`Bus`]). The machine's shared NATS, Redis and PostgreSQL are used as they are; outages are
//! simulated with a [`TcpProxy`] or a private [`NatsServer`], never by stopping shared servers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::sim::{SimConfig, SimHandle, Simulator};
use crds::config::{CredentialsSource, Endpoint};
use crds::ConnectorConfig;

/// NATS URL of the machine (`E2E_NATS_URL` overrides).
pub fn nats_url() -> String {
    std::env::var("E2E_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Redis URL of the machine (`E2E_REDIS_URL` overrides).
pub fn redis_url() -> String {
    std::env::var("E2E_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// PostgreSQL URL of the machine (`E2E_POSTGRES_URL` overrides).
pub fn postgres_url() -> String {
    std::env::var("E2E_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh operator id: `e2e-{tag}-{random}` (valid per the configuration's rules).
pub fn unique_operator(tag: &str) -> String {
    format!("e2e-{tag}-{:08x}", rand::random::<u32>())
}

/// Logs of the connector on the test's output when `RUST_LOG` is set.
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Polls `check` every 20 ms until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A private temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `$TMPDIR/smpp-e2e-{random}`.
    pub fn new() -> std::io::Result<Self> {
        let p = std::env::temp_dir().join(format!("smpp-e2e-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&p)?;
        Ok(Self(p))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `name` in the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> std::io::Result<PathBuf> {
        let p = self.0.join(name);
        std::fs::write(&p, text)?;
        Ok(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A simulator with one account that captures submits; `tweak` adjusts its configuration.
pub async fn start_sim(
    system_id: &str,
    password: &str,
    tweak: impl FnOnce(&mut SimConfig),
) -> SimHandle {
    let mut config = SimConfig::with_account(system_id, password);
    config.receipts.delay = crate::sim::Delay::from_millis(20);
    tweak(&mut config);
    match Simulator::start(config).await {
        Ok(h) => h,
        Err(e) => panic!("simulator did not start: {e}"),
    }
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Writes a credentials file in the API's response format and returns the source naming it.
pub fn file_credentials(dir: &TempDir, body: &Value) -> CredentialsSource {
    let path = dir
        .write("credentials.json", &body.to_string())
        .unwrap_or_else(|e| panic!("cannot write the credentials file: {e}"));
    CredentialsSource::File {
        path: path.display().to_string(),
    }
}

fn endpoint(addr: SocketAddr) -> Endpoint {
    Endpoint {
        host: addr.ip().to_string(),
        port: addr.port(),
        tls: None,
        local_address: None,
    }
}

/// A connector configuration for a test: short timers, the machine's services, HTTP on a
/// free port. Adjust the returned value freely.
pub fn test_config(
    operator_id: &str,
    primary: SocketAddr,
    credentials: CredentialsSource,
) -> ConnectorConfig {
    let yaml = serde_json::json!({
        "operatorId": operator_id,
        "primary": {"host": primary.ip().to_string(), "port": primary.port()},
        "credentials": {"source": "file", "path": "/nonexistent"},
    });
    let mut c: ConnectorConfig = match serde_json::from_value(yaml) {
        Ok(c) => c,
        Err(e) => panic!("base configuration: {e}"),
    };
    c.primary = endpoint(primary);
    c.credentials = credentials;
    c.session.window = 64;
    c.session.response_timeout_ms = 2_000;
    c.session.enquire_link_interval_seconds = 5;
    c.session.enquire_link_timeout_seconds = 2;
    c.session.read_idle_timeout_seconds = 15;
    c.session.bind_timeout_seconds = 2;
    c.session.reconnect_initial_seconds = 1;
    c.session.reconnect_max_seconds = 1;
    c.session.credentials_backoff_seconds = 1;
    c.session.drain_timeout_seconds = 3;
    c.failover.after_failures = 1;
    c.failover.after_seconds = 1;
    c.failover.probe_interval_seconds = 1;
    c.failover.failback_hold_seconds = 1;
    c.throttle.tps = 0;
    c.retry.initial_delay_ms = 50;
    c.retry.max_delay_ms = 200;
    c.receipts.correlation_wait_seconds = 5;
    c.nats.url = nats_url();
    c.nats.ack_wait_seconds = 5;
    c.redis.url = redis_url();
    c.postgres.url = postgres_url();
    c.postgres.max_connections = 4;
    c.postgres.batch_delay_ms = 5;
    c.http.address = format!("127.0.0.1:{}", free_port());
    c
}

/// Sets the backup endpoint of `config`.
pub fn with_backup(config: &mut ConnectorConfig, backup: SocketAddr) {
    config.backup = Some(endpoint(backup));
}

/// A connector run in-process on a runtime of its own.
pub struct Connector {
    runtime: Option<tokio::runtime::Runtime>,
    join: Option<tokio::task::JoinHandle<Result<(), connector::service::ServiceError>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    http: String,
    http_client: reqwest::Client,
}

impl Connector {
    /// Starts `connector::service::run(config)`.
    pub fn start(config: ConnectorConfig) -> Self {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("connector-under-test")
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => panic!("connector runtime: {e}"),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let http = format!("http://{}", config.http.address);
        let join = runtime.spawn(connector::service::run(config, async move {
            let _ = rx.await;
        }));
        Self {
            runtime: Some(runtime),
            join: Some(join),
            stop: Some(tx),
            http,
            http_client: reqwest::Client::new(),
        }
    }

    /// Base URL of its HTTP endpoints.
    pub fn http(&self) -> &str {
        &self.http
    }

    /// Whether `run` already returned (an error at start, for example).
    pub fn finished(&self) -> bool {
        self.join.as_ref().is_none_or(|j| j.is_finished())
    }

    /// Waits until `/ready` answers 200.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let url = format!("{}/ready", self.http);
        eventually(timeout, || async {
            match self.http_client.get(&url).send().await {
                Ok(r) if r.status().is_success() => Some(()),
                _ => None,
            }
        })
        .await
        .is_some()
    }

    /// GET a path of its HTTP server: status and body.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let r = self
            .http_client
            .get(format!("{}{path}", self.http))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    }

    /// Sum of the samples of a metric family whose labels contain `label_filter` (all when
    /// empty).
    pub async fn metric(&self, name: &str, label_filter: &str) -> f64 {
        let Some((_, body)) = self.get("/metrics").await else {
            return f64::NAN;
        };
        metric_sum(&body, name, label_filter)
    }

    /// Graceful stop (the SIGTERM path); returns what `run` returned.
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let r = match self.join.take() {
            Some(j) => match tokio::time::timeout(Duration::from_secs(20), j).await {
                Ok(Ok(r)) => r.map_err(|e| e.to_string()),
                Ok(Err(e)) => Err(format!("connector task: {e}")),
                Err(_) => Err("connector did not stop within 20 s".into()),
            },
            None => Ok(()),
        };
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        r
    }

    /// A crash: every task of the connector is dropped at once, nothing is flushed,
    /// acknowledged or unbound; its sockets close.
    pub fn crash(mut self) {
        self.stop.take();
        self.join.take();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Sum of the samples of `name` (exact family name or `name` plus `_total`/`_count`
/// suffix-free match) in Prometheus text whose label set contains `label_filter`.
pub fn metric_sum(body: &str, name: &str, label_filter: &str) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, labels) = match series.split_once('{') {
                Some((m, rest)) => (m, rest),
                None => (series, ""),
            };
            (metric == name && labels.contains(label_filter))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// NATS access for one test's operator: publishing commands, collecting its events.
pub struct Bus {
    /// The operator.
    pub operator: String,
    /// Core client.
    pub client: async_nats::Client,
    /// JetStream context.
    pub js: jetstream::Context,
    dlr: std::pin::Pin<Box<dyn futures::Stream<Item = bytes::Bytes> + Send>>,
    health: async_nats::Subscriber,
    /// Delivery events of this operator seen so far.
    pub dlr_events: Vec<Value>,
    /// Health events of this operator seen so far.
    pub health_events: Vec<Value>,
    dispatch_stream: String,
}

impl Bus {
    /// Connects to `nats_url`, makes sure the streams exist and subscribes to the events.
    pub async fn connect(nats_url: &str, operator: &str) -> Self {
        let client = match async_nats::connect(nats_url).await {
            Ok(c) => c,
            Err(e) => panic!("NATS at {nats_url}: {e}"),
        };
        let js = jetstream::new(client.clone());
        let stream =
            connector::pipeline::jetstream::ensure_dispatch_stream(&js, "SMPP_DISPATCH").await;
        if let Err(e) = stream {
            panic!("dispatch stream: {e}");
        }
        // What dlr-processor sees: the events stream (de-duplicated by `Nats-Msg-Id`).
        let stream_name = connector::pipeline::jetstream::ensure_event_stream(
            &js,
            "sms.dlr.inbound",
            connector::pipeline::jetstream::DLR_STREAM,
            connector::pipeline::jetstream::DLR_DUPLICATE_WINDOW,
        )
        .await
        .unwrap_or_else(|e| panic!("events stream: {e}"));
        let consumer = js
            .get_stream(&stream_name)
            .await
            .unwrap_or_else(|e| panic!("events stream: {e}"))
            .create_consumer(jetstream::consumer::pull::OrderedConfig {
                filter_subject: "sms.dlr.inbound".into(),
                deliver_policy: jetstream::consumer::DeliverPolicy::New,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("events consumer: {e}"));
        let messages = consumer
            .messages()
            .await
            .unwrap_or_else(|e| panic!("events consumer: {e}"));
        let dlr =
            Box::pin(messages.filter_map(|m| async move { m.ok().map(|m| m.payload.clone()) }));
        let health = match client.subscribe("operator.health").await {
            Ok(s) => s,
            Err(e) => panic!("subscribe: {e}"),
        };
        let _ = client.flush().await;
        Self {
            operator: operator.to_string(),
            client,
            js,
            dlr,
            health,
            dlr_events: Vec::new(),
            health_events: Vec::new(),
            dispatch_stream: "SMPP_DISPATCH".into(),
        }
    }

    /// The subject of this operator's commands.
    pub fn subject(&self) -> String {
        format!("smpp.operator.{}", self.operator)
    }

    /// Publishes raw bytes to `subject` in JetStream with `Nats-Msg-Id`, awaiting the ack.
    pub async fn publish_raw(&self, subject: &str, msg_id: &str, body: Vec<u8>) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        let ack = self
            .js
            .publish_with_headers(subject.to_string(), headers, body.into())
            .await;
        match ack {
            Ok(f) => {
                if let Err(e) = f.await {
                    panic!("publish ack: {e}");
                }
            }
            Err(e) => panic!("publish: {e}"),
        }
    }

    /// Publishes a command (its `messageId` as `Nats-Msg-Id`) to this operator's subject.
    pub async fn publish(&self, command: &Value) {
        let id = command["messageId"]
            .as_str()
            .map_or_else(|| format!("x-{}", rand::random::<u64>()), str::to_string);
        let body = serde_json::to_vec(command).unwrap_or_default();
        self.publish_raw(&self.subject(), &id, body).await;
    }

    /// Publishes many commands with at most 256 acknowledgements outstanding.
    pub async fn publish_many(&self, commands: &[Value]) {
        let mut publisher = crate::loadgen::PipelinedPublisher::new(self.js.clone(), 256);
        for c in commands {
            let id = c["messageId"].as_str().unwrap_or_default();
            let body = serde_json::to_vec(c).unwrap_or_default();
            if let Err(e) = publisher.publish(self.subject(), id, body).await {
                panic!("publish: {e}");
            }
        }
        if let Err(e) = publisher.finish().await {
            panic!("publish ack: {e}");
        }
    }

    fn drain(&mut self) {
        use futures::FutureExt;
        while let Some(Some(m)) = self.dlr.next().now_or_never() {
            self.push_dlr(&m);
        }
        while let Some(Some(m)) = self.health.next().now_or_never() {
            self.push_health(&m.payload);
        }
    }

    fn push_dlr(&mut self, payload: &[u8]) {
        if let Ok(v) = serde_json::from_slice::<Value>(payload) {
            if v["operatorId"] == self.operator.as_str() {
                self.dlr_events.push(v);
            }
        }
    }

    fn push_health(&mut self, payload: &[u8]) {
        if let Ok(v) = serde_json::from_slice::<Value>(payload) {
            if v["operatorId"] == self.operator.as_str() {
                self.health_events.push(v);
            }
        }
    }

    /// Collects events until `done(dlr_events, health_events)` holds or `timeout` passes;
    /// returns whether it held.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&[Value], &[Value]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.drain();
            if done(&self.dlr_events, &self.health_events) {
                return true;
            }
            let next = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    m = self.dlr.next() => m.map(|m| (true, m)),
                    m = self.health.next() => m.map(|m| (false, m.payload)),
                }
            })
            .await;
            match next {
                Ok(Some((true, m))) => self.push_dlr(&m),
                Ok(Some((false, m))) => self.push_health(&m),
                Ok(None) | Err(_) => {
                    self.drain();
                    return done(&self.dlr_events, &self.health_events);
                }
            }
        }
    }

    /// Collects events for `quiet` more (to see that nothing else arrives).
    pub async fn settle(&mut self, quiet: Duration) {
        let _ = self.wait_for(quiet, |_, _| false).await;
    }

    /// The delivery events of one message.
    pub fn events_of(&self, message_id: &str) -> Vec<&Value> {
        self.dlr_events
            .iter()
            .filter(|e| e["messageId"] == message_id)
            .collect()
    }

    /// Waits until every id has an event whose `messageStatus` is final (not PENDING) or
    /// a connector REJECTED event.
    pub async fn wait_final(&mut self, ids: &[String], timeout: Duration) -> bool {
        let ids: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        self.wait_for(timeout, |dlr, _| {
            let done: std::collections::HashSet<&str> = dlr
                .iter()
                .filter(|e| is_final_event(e))
                .filter_map(|e| e["messageId"].as_str())
                .filter(|id| ids.contains(id))
                .collect();
            done.len() == ids.len()
        })
        .await
    }

    /// The durable consumer's (pending, ack pending) counts, if it exists.
    pub async fn consumer_backlog(&self) -> Option<(u64, usize)> {
        let stream = self.js.get_stream(&self.dispatch_stream).await.ok()?;
        let mut c = stream
            .get_consumer::<jetstream::consumer::pull::Config>(&format!(
                "smpp-connector-{}",
                self.operator
            ))
            .await
            .ok()?;
        let info = c.info().await.ok()?;
        Some((info.num_pending, info.num_ack_pending))
    }

    /// Removes this operator's commands from the dispatch stream and its durable consumer.
    pub async fn cleanup(&self) {
        if let Ok(stream) = self.js.get_stream(&self.dispatch_stream).await {
            let _ = stream
                .delete_consumer(&format!("smpp-connector-{}", self.operator))
                .await;
            let _ = stream.purge().filter(self.subject()).await;
        }
    }
}

/// Whether an event settles its message: a final `messageStatus`, or a connector rejection.
pub fn is_final_event(e: &Value) -> bool {
    let ms = e["messageStatus"].as_str().unwrap_or("PENDING");
    ms != "PENDING" || (e["status"] == "REJECTED" && e["source"] == "connector")
}

/// A dispatch command like the contract example, for `operator`, with `message_id`.
pub fn command(operator: &str, message_id: &str, text: &str) -> Value {
    serde_json::json!({
        "messageId": message_id,
        "operatorId": operator,
        "from": "GHASI",
        "to": "233241234567",
        "text": text,
        "registeredDelivery": true,
        "metadata": {"test": "e2e"},
    })
}

/// Unique message ids `{prefix}-{run}-{i}`.
pub fn message_ids(prefix: &str, n: usize) -> Vec<String> {
    let run = format!("{:08x}", rand::random::<u32>());
    (0..n).map(|i| format!("{prefix}-{run}-{i}")).collect()
}

/// Validation errors of `instance` against a contract schema of docs/contracts (empty =
/// valid), with the reference validator (Python `jsonschema`, draft 2020-12).
pub fn schema_errors(schema: &str, instance: &Value) -> Vec<String> {
    use std::io::Write;
    const SCRIPT: &str = r#"
import json, sys
import jsonschema
req = json.load(sys.stdin)
with open(req["schema"]) as f:
    schema = json.load(f)
v = jsonschema.Draft202012Validator(schema)
json.dump([e.message for e in v.iter_errors(req["instance"])], sys.stdout)
"#;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/contracts")
        .join(schema);
    let req = serde_json::json!({"schema": path, "instance": instance});
    let child = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return vec![format!("python3: {e}")],
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(req.to_string().as_bytes());
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| vec![format!("validator output: {e}")]),
        Ok(out) => vec![format!(
            "validator failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )],
        Err(e) => vec![format!("validator: {e}")],
    }
}

/// One row of `smpp.message_correlations`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CorrelationRow {
    /// Platform message id.
    pub message_id: String,
    /// Segment number from 1.
    pub segment_index: i16,
    /// Segments of the message.
    pub segment_count: i16,
    /// Operator's id.
    pub smsc_message_id: Option<String>,
    /// SUBMITTED or FAILED.
    pub submit_status: String,
    /// Last command_status.
    pub command_status: i32,
    /// Latest receipt status.
    pub receipt_status: Option<String>,
}

/// PostgreSQL access for assertions.
pub struct Db(pub sqlx::PgPool);

impl Db {
    /// Connects to the machine's PostgreSQL.
    pub async fn connect() -> Self {
        match sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&postgres_url())
            .await
        {
            Ok(p) => Self(p),
            Err(e) => panic!("PostgreSQL: {e}"),
        }
    }

    /// The rows of an operator, ordered by message and segment.
    pub async fn rows(&self, operator: &str) -> Vec<CorrelationRow> {
        sqlx::query_as::<_, CorrelationRow>(
            "SELECT message_id, segment_index, segment_count, smsc_message_id, submit_status, \
             command_status, receipt_status FROM smpp.message_correlations \
             WHERE operator_id = $1 ORDER BY message_id, segment_index",
        )
        .bind(operator)
        .fetch_all(&self.0)
        .await
        .unwrap_or_default()
    }
}

/// How many times the simulator received each text (tests whose text is the message id).
pub fn received_by_text(sim: &crate::sim::SimHandle) -> std::collections::HashMap<String, usize> {
    let mut m = std::collections::HashMap::new();
    for s in sim.submits() {
        *m.entry(String::from_utf8_lossy(s.message()).into_owned())
            .or_default() += 1;
    }
    m
}

/// Waits until the operator's durable consumer has nothing pending or unacknowledged.
pub async fn wait_acked(bus: &Bus, timeout: Duration) -> bool {
    eventually(timeout, || async {
        (bus.consumer_backlog().await == Some((0, 0))).then_some(())
    })
    .await
    .is_some()
}

/// A receipt-typed deliver_sm (`esm_class`, e.g. 0x04 or 0x20) for the account `ghasi01`
/// with `text`, to inject with `SimHandle::inject_mo`.
pub fn receipt_pdu(esm_class: u8, text: &[u8]) -> crate::sim::MoMessage {
    match crate::sim::MoMessage::text("ghasi01", "233241234567", "GHASI", "x") {
        Ok(mut m) => {
            m.esm_class = esm_class;
            m.short_message = bytes::Bytes::copy_from_slice(text);
            m
        }
        Err(e) => panic!("receipt: {e}"),
    }
}

/// A database of its own for one test (migrated by the connector at start), dropped by
/// [`PrivateDb::drop_db`].
pub struct PrivateDb {
    /// Its URL.
    pub url: String,
    name: String,
    admin: sqlx::PgPool,
}

impl PrivateDb {
    /// Creates `smpp_e2e_{random}` on the machine's PostgreSQL.
    pub async fn create() -> Self {
        use sqlx::Executor;
        let admin = Db::connect().await.0;
        let name = format!("smpp_e2e_{:08x}", rand::random::<u32>());
        if let Err(e) = admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
        {
            panic!("create database {name}: {e}");
        }
        let base = postgres_url();
        let url = match base.rfind('/') {
            Some(i) => format!("{}/{name}", &base[..i]),
            None => panic!("no database in {base}"),
        };
        Self { url, name, admin }
    }

    /// Makes the database refuse writes while it still answers reads (a read-only failover):
    /// new sessions are read-only, and the existing ones are ended.
    pub async fn set_read_only(&self, read_only: bool) {
        use sqlx::Executor;
        let setting = if read_only { "on" } else { "off" };
        for sql in [
            format!(
                "ALTER DATABASE {} SET default_transaction_read_only = {setting}",
                self.name
            ),
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                self.name
            ),
        ] {
            if let Err(e) = self.admin.execute(sql.as_str()).await {
                panic!("{sql}: {e}");
            }
        }
    }

    /// Drops the database.
    pub async fn drop_db(self) {
        use sqlx::Executor;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = self.admin.execute(sql.as_str()).await {
            panic!("{sql}: {e}");
        }
    }
}

/// What a [`TcpProxy`] does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forwards both ways.
    Up,
    /// Closes every connection and accepts new ones only to close them.
    Down,
    /// Keeps connections open but holds back what the client sends.
    Frozen,
}

/// A TCP proxy on 127.0.0.1 to a target, to simulate a dependency outage for one connector.
pub struct TcpProxy {
    addr: SocketAddr,
    mode: watch::Sender<ProxyMode>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Starts forwarding to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("proxy listen: {e}"),
        };
        let addr = listener.local_addr().unwrap_or(target);
        let (mode, rx) = watch::channel(ProxyMode::Up);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if *rx.borrow() == ProxyMode::Down {
                    drop(client);
                    continue;
                }
                let rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        _ = pump(cr, sw, rx.clone(), true) => {}
                        _ = pump(sr, cw, rx.clone(), false) => {}
                    }
                });
            }
        });
        Self { addr, mode, task }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes what it does.
    pub fn set(&self, mode: ProxyMode) {
        let _ = self.mode.send(mode);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        let _ = self.mode.send(ProxyMode::Down);
        self.task.abort();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<ProxyMode>,
    client_side: bool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
            _ = mode.wait_for(|m| *m == ProxyMode::Down) => return,
        };
        loop {
            let m = *mode.borrow_and_update();
            match m {
                ProxyMode::Down => return,
                ProxyMode::Frozen if client_side => {
                    if mode.changed().await.is_err() {
                        return;
                    }
                }
                _ => break,
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A private `nats-server -js` on a random port with its own store, restartable.
pub struct NatsServer {
    port: u16,
    dir: TempDir,
    child: Option<tokio::process::Child>,
}

impl NatsServer {
    /// Starts it and waits until it accepts connections.
    pub async fn start() -> Self {
        let dir = TempDir::new().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let mut s = Self {
            port: free_port(),
            dir,
            child: None,
        };
        s.spawn().await;
        s
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = tokio::process::Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        match child {
            Ok(c) => self.child = Some(c),
            Err(e) => panic!("nats-server: {e}"),
        }
        let url = self.url();
        let up = eventually(Duration::from_secs(10), || async {
            async_nats::connect(&url).await.ok().map(|_| ())
        })
        .await;
        assert!(up.is_some(), "private nats-server did not come up");
    }

    /// Kills it (SIGKILL) and waits for the exit.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// Starts it again on the same port and store.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}

/// What the test credentials server answers.
#[derive(Clone, Debug)]
pub struct CredentialsAnswer {
    /// HTTP status.
    pub status: u16,
    /// Body (JSON for 200).
    pub body: String,
}

/// A small HTTP server playing operator-management-service's credentials API.
pub struct CredentialsServer {
    addr: SocketAddr,
    state: Arc<CredentialsState>,
    task: tokio::task::JoinHandle<()>,
}

struct CredentialsState {
    script: Mutex<VecDeque<CredentialsAnswer>>,
    fallback: Mutex<CredentialsAnswer>,
    requests: Mutex<Vec<(String, Option<String>)>>,
}

impl CredentialsServer {
    /// Starts it; answers from `script` in order, then `fallback` forever.
    pub async fn start(script: Vec<CredentialsAnswer>, fallback: CredentialsAnswer) -> Self {
        use axum::extract::{Path as UrlPath, State};
        use axum::http::{HeaderMap, StatusCode};
        let state = Arc::new(CredentialsState {
            script: Mutex::new(script.into()),
            fallback: Mutex::new(fallback),
            requests: Mutex::new(Vec::new()),
        });
        async fn answer(
            State(s): State<Arc<CredentialsState>>,
            UrlPath(op): UrlPath<String>,
            headers: HeaderMap,
        ) -> (StatusCode, String) {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if let Ok(mut r) = s.requests.lock() {
                r.push((op, auth));
            }
            let next = s.script.lock().ok().and_then(|mut q| q.pop_front());
            let a = match next {
                Some(a) => a,
                None => match s.fallback.lock() {
                    Ok(f) => f.clone(),
                    Err(_) => CredentialsAnswer {
                        status: 500,
                        body: String::new(),
                    },
                },
            };
            (
                StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                a.body,
            )
        }
        let app = axum::Router::new()
            .route(
                "/internal/v1/operators/{operator}/smpp-credentials",
                axum::routing::get(answer),
            )
            .with_state(state.clone());
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("credentials server: {e}"),
        };
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("credentials server: {e}"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    /// Its base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests so far: (operator in the path, Authorization header).
    pub fn requests(&self) -> Vec<(String, Option<String>)> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Replaces the answer given once the script is used up.
    pub fn set_fallback(&self, a: CredentialsAnswer) {
        if let Ok(mut f) = self.state.fallback.lock() {
            *f = a;
        }
    }
}

impl Drop for CredentialsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A 200 answer with these credentials.
pub fn credentials_ok(system_id: &str, password: &str) -> CredentialsAnswer {
    CredentialsAnswer {
        status: 200,
        body: serde_json::json!({"systemId": system_id, "password": password, "systemType": ""})
            .to_string(),
    }
}

/// An error answer.
pub fn credentials_error(status: u16) -> CredentialsAnswer {
    CredentialsAnswer {
        status,
        body: r#"{"error":"test"}"#.into(),
    }
}
