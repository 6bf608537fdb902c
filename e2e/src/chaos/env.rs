//! The environment of one fault run: a fresh operator, smsc-sim primary and backup with
//! receipts, proxies in front of PostgreSQL and Redis (or private servers the fault really
//! stops), optionally a private NATS server, a credentials API and a delaying proxy before the
//! primary, and the in-process connector (restartable).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use crds::ConnectorConfig;

use super::delay_proxy::DelayProxy;
use super::redis_keys::KeyScheme;
use super::servers::{PgServer, RedisServer};
use crate::harness::Connector;
use crate::harness::{
    self, credentials_ok, CredentialsServer, NatsServer, PrivateDb, TcpProxy, TempDir,
};
use crate::sim::{Delay, IdStart, SimConfig, SimHandle, Simulator};

const SYSTEM_ID: &str = "ghasi01";
const PASSWORD: &str = "s3cret";
/// How long the connector may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// What a fault needs besides the common parts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    /// A private NATS server (the fault restarts it).
    pub private_nats: bool,
    /// Credentials from an API (the fault makes it fail).
    pub credentials_api: bool,
    /// A private PostgreSQL server the connector uses directly (the fault stops it).
    pub private_pg: bool,
    /// A private Redis server the connector uses directly (the fault kills it).
    pub private_redis: bool,
    /// A delaying proxy between the connector and the primary SMSC.
    pub latency_proxy: bool,
}

impl Needs {
    /// Everything but the delaying proxy: the soak's one environment, where every fault but
    /// `smsc-latency` can be injected.
    pub fn soak() -> Self {
        Self {
            private_nats: true,
            credentials_api: true,
            private_pg: true,
            private_redis: true,
            latency_proxy: false,
        }
    }
}

/// Settings of a run shared by every fault.
#[derive(Debug, Clone)]
pub struct Options {
    /// Commands published per second.
    pub rate: u32,
    /// Commands per fault.
    pub messages: usize,
    /// How long the lasting faults (throttling, outages) last.
    pub outage: Duration,
    /// How long to wait, after the last publish, for every message to settle.
    pub settle_timeout: Duration,
    /// The connector's window.
    pub window: u32,
    /// Submits each simulator keeps for the reconciliation (`None`: the simulator's default,
    /// 200,000). The soak bounds it so that the suite's own memory levels off.
    pub capture_limit: Option<usize>,
}

/// One fault's world.
pub struct Env {
    /// The operator id of this run.
    pub op: String,
    /// Primary SMSC.
    pub primary: SimHandle,
    /// Backup SMSC.
    pub backup: SimHandle,
    /// The run's database on the machine's server (absent with a private server).
    pub db: Option<PrivateDb>,
    /// The run's database, reached directly (for the reconciliation).
    pub db_url: String,
    /// Between the connector and the machine's PostgreSQL (unused with a private server).
    pub pg: TcpProxy,
    /// Between the connector and the machine's Redis (unused with a private server).
    pub redis: TcpProxy,
    /// The Redis the connector uses, reached directly (for the key reconciliation).
    pub redis_url: String,
    /// The private PostgreSQL server, if the fault needs one.
    pub pg_server: Option<PgServer>,
    /// The private Redis server, if the fault needs one.
    pub redis_server: Option<RedisServer>,
    /// The delaying proxy before the primary, if the fault needs one.
    pub delay: Option<DelayProxy>,
    /// The throttle's Redis keys of this operator and their bounds.
    pub keys: KeyScheme,
    /// The runtime of the connector running now (for the soak's task count).
    pub runtime: Arc<Mutex<Option<tokio::runtime::Handle>>>,
    /// The private NATS server, if the fault needs one.
    pub nats: Option<NatsServer>,
    /// The credentials API, if the fault needs one.
    pub creds: Option<CredentialsServer>,
    /// The connector's configuration.
    pub config: ConnectorConfig,
    /// NATS client of the suite (publishing, events).
    pub client: async_nats::Client,
    /// JetStream context of `client`.
    pub js: jetstream::Context,
    /// Name of the stream holding `sms.dlr.inbound`.
    pub dlr_stream: String,
    /// Last sequence of that stream before the run (events after it are this run's).
    pub dlr_start_seq: u64,
    /// `smpp_duplicate_window_total` of the connectors already stopped.
    pub counted_before: f64,
    connector: Option<Connector>,
    _dir: TempDir,
}

/// `host:port` of a URL such as `redis://127.0.0.1:6379` or `postgres://u@h:5432/db`.
pub fn authority(url: &str) -> Option<(String, SocketAddr)> {
    let rest = url.split_once("://")?.1;
    let auth = rest.split('/').next()?;
    let host_port = auth.rsplit('@').next()?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host_port)
        .ok()?
        .next()?;
    Some((host_port.to_string(), addr))
}

async fn start_sim(capture_limit: Option<usize>) -> Result<SimHandle, String> {
    let mut c = SimConfig::with_account(SYSTEM_ID, PASSWORD);
    c.receipts.delay = Delay::from_millis(20);
    // Both simulators count from 1, as two SMSC systems of one operator do: the backup hands
    // out the primary's ids again (receipts.idScope: endpoint keeps them apart).
    c.id_start = IdStart::At(1);
    if let Some(n) = capture_limit {
        c.capture_limit = n;
    }
    Simulator::start(c)
        .await
        .map_err(|e| format!("smsc-sim: {e}"))
}

impl Env {
    /// Builds everything but the connector.
    pub async fn start(opts: &Options, needs: Needs, tag: &str) -> Result<Self, String> {
        let op = harness::unique_operator(tag);
        let primary = start_sim(opts.capture_limit).await?;
        let backup = start_sim(opts.capture_limit).await?;
        // A database of its own: the shared one may carry other branches' migrations.
        let (db, pg_server) = match needs.private_pg {
            true => (None, Some(PgServer::start().await?)),
            false => (Some(PrivateDb::create().await), None),
        };
        let pg_url = match (&db, &pg_server) {
            (Some(d), _) => d.url.clone(),
            (None, Some(s)) => s.chaos_url(),
            (None, None) => return Err("no database".into()),
        };
        let redis_server = match needs.private_redis {
            true => Some(RedisServer::start().await?),
            false => None,
        };
        let redis_url = redis_server
            .as_ref()
            .map_or_else(harness::redis_url, RedisServer::url);
        let (pg_auth, pg_addr) =
            authority(&pg_url).ok_or_else(|| format!("cannot read {pg_url}"))?;
        let (redis_auth, redis_addr) =
            authority(&redis_url).ok_or_else(|| format!("cannot read {redis_url}"))?;
        let pg = TcpProxy::start(pg_addr).await;
        let redis = TcpProxy::start(redis_addr).await;
        let delay = match needs.latency_proxy {
            true => Some(DelayProxy::start(primary.addr()).await?),
            false => None,
        };
        let nats = match needs.private_nats {
            true => Some(NatsServer::start().await),
            false => None,
        };
        let nats_url = nats
            .as_ref()
            .map_or_else(harness::nats_url, NatsServer::url);
        let dir = TempDir::new().map_err(|e| format!("temp dir: {e}"))?;
        let (creds, source) = if needs.credentials_api {
            let server =
                CredentialsServer::start(vec![], credentials_ok(SYSTEM_ID, PASSWORD)).await;
            let token = dir
                .write("token", "chaos-token")
                .map_err(|e| format!("token file: {e}"))?;
            let source = crds::config::CredentialsSource::OperatorManagement {
                base_url: server.base_url(),
                token_file: token.display().to_string(),
                timeout_ms: 1_000,
            };
            (Some(server), source)
        } else {
            let body =
                serde_json::json!({"systemId": SYSTEM_ID, "password": PASSWORD, "systemType": ""});
            let path = dir
                .write("credentials.json", &body.to_string())
                .map_err(|e| format!("credentials file: {e}"))?;
            let source = crds::config::CredentialsSource::File {
                path: path.display().to_string(),
            };
            (None, source)
        };
        let primary_addr = delay.as_ref().map_or(primary.addr(), DelayProxy::addr);
        let mut config = harness::test_config(&op, primary_addr, source);
        harness::with_backup(&mut config, backup.addr());
        config.session.window = opts.window;
        config.throttle.tps = opts.rate.saturating_mul(2);
        config.retry.initial_delay_ms = 200;
        config.retry.max_delay_ms = 2_000;
        config.nats.url = nats_url.clone();
        // Private servers are used directly: a stopped one refuses connections as a real
        // outage does (a proxy would accept and close).
        config.postgres.url = match pg_server {
            Some(_) => pg_url.clone(),
            None => pg_url.replacen(&pg_auth, &pg.addr().to_string(), 1),
        };
        config.postgres.max_connections = 8;
        config.redis.url = match redis_server {
            Some(_) => redis_url.clone(),
            None => redis_url.replacen(&redis_auth, &redis.addr().to_string(), 1),
        };
        let keys = KeyScheme::new(&op, config.throttle.tps, config.throttle.permit_batch);
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(&nats_url)
            .await
            .map_err(|e| format!("NATS {nats_url}: {e}"))?;
        let js = jetstream::new(client.clone());
        connector::pipeline::jetstream::ensure_dispatch_stream(&js, &config.nats.dispatch_stream)
            .await
            .map_err(|e| format!("dispatch stream: {e}"))?;
        let dlr_stream = connector::pipeline::jetstream::ensure_event_stream(
            &js,
            &config.nats.dlr_subject,
            connector::pipeline::jetstream::DLR_STREAM,
            connector::pipeline::jetstream::DLR_DUPLICATE_WINDOW,
        )
        .await
        .map_err(|e| format!("events stream: {e}"))?;
        let dlr_start_seq = last_sequence(&js, &dlr_stream).await?;
        Ok(Self {
            op,
            primary,
            backup,
            db,
            db_url: pg_url,
            pg,
            redis,
            redis_url,
            pg_server,
            redis_server,
            delay,
            keys,
            runtime: Arc::new(Mutex::new(None)),
            nats,
            creds,
            config,
            client,
            js,
            dlr_stream,
            dlr_start_seq,
            counted_before: 0.0,
            connector: None,
            _dir: dir,
        })
    }

    /// The subject of this operator's commands.
    pub fn subject(&self) -> String {
        format!("smpp.operator.{}", self.op)
    }

    /// Starts the connector and waits until it is ready.
    pub async fn start_connector(&mut self) -> Result<(), String> {
        self.config.http.address = format!("127.0.0.1:{}", harness::free_port());
        let c = Connector::try_start(self.config.clone())?;
        if let Ok(mut r) = self.runtime.lock() {
            *r = c.runtime_handle();
        }
        let ready = c.wait_ready(READY_TIMEOUT).await;
        if !ready && c.finished() {
            let r = c.stop().await;
            return Err(format!("the connector ended at start: {r:?}"));
        }
        let why = match ready {
            true => None,
            false => Some(c.get("/ready").await),
        };
        self.connector = Some(c);
        match why {
            None => Ok(()),
            Some(body) => Err(format!("the connector did not become ready: {body:?}")),
        }
    }

    /// Crashes (`crash`) or stops the connector, then starts a new one.
    pub async fn restart_connector(&mut self, crash: bool) -> Result<(), String> {
        if let Some(c) = self.connector.take() {
            self.counted_before += counted(&c).await;
            if let Ok(mut r) = self.runtime.lock() {
                *r = None;
            }
            if crash {
                c.crash();
            } else {
                c.stop().await.map_err(|e| format!("graceful stop: {e}"))?;
            }
        }
        self.start_connector().await
    }

    /// `smpp_duplicate_window_total` over every connector of the run so far.
    pub async fn duplicates_counted(&self) -> f64 {
        let now = match &self.connector {
            Some(c) => counted(c).await,
            None => 0.0,
        };
        self.counted_before + now
    }

    /// Whether the connector answers `/ready` 200 now.
    pub async fn ready(&self) -> bool {
        match &self.connector {
            Some(c) => matches!(c.get("/ready").await, Some((200, _))),
            None => false,
        }
    }

    /// The (pending, ack pending) counts of the connector's durable consumer.
    pub async fn backlog(&self) -> Option<(u64, usize)> {
        let stream = self
            .js
            .get_stream(&self.config.nats.dispatch_stream)
            .await
            .ok()?;
        let mut c = stream
            .get_consumer::<jetstream::consumer::pull::Config>(
                &self.config.nats.durable_name(&self.op),
            )
            .await
            .ok()?;
        let info = c.info().await.ok()?;
        Some((info.num_pending, info.num_ack_pending))
    }

    /// Whether a connector runs.
    pub fn has_connector(&self) -> bool {
        self.connector.is_some()
    }

    /// Tasks alive on the connector's runtime now.
    pub fn connector_tasks(&self) -> Option<usize> {
        self.connector.as_ref().and_then(Connector::alive_tasks)
    }

    /// Stops the connector and removes this operator's consumer and commands.
    pub async fn shutdown(&mut self) {
        if let Ok(mut r) = self.runtime.lock() {
            *r = None;
        }
        if let Some(c) = self.connector.take() {
            let _ = c.stop().await;
        }
        if let Ok(stream) = self.js.get_stream(&self.config.nats.dispatch_stream).await {
            let _ = stream
                .delete_consumer(&self.config.nats.durable_name(&self.op))
                .await;
            let _ = stream.purge().filter(self.subject()).await;
        }
        if let Some(db) = self.db.take() {
            db.drop_db().await;
        }
        if let Some(mut n) = self.nats.take() {
            n.kill().await;
        }
        if let Some(mut r) = self.redis_server.take() {
            r.kill().await;
        }
        if let Some(mut p) = self.pg_server.take() {
            let _ = p.stop(super::servers::PgStop::Immediate).await;
        }
    }
}

async fn counted(c: &Connector) -> f64 {
    let v = c.metric("smpp_duplicate_window_total", "").await;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// The last sequence of `stream`.
pub async fn last_sequence(js: &jetstream::Context, stream: &str) -> Result<u64, String> {
    let mut s = js
        .get_stream(stream)
        .await
        .map_err(|e| format!("stream {stream}: {e}"))?;
    let info = s
        .info()
        .await
        .map_err(|e| format!("stream {stream}: {e}"))?;
    Ok(info.state.last_sequence)
}
