//! End-to-end: credentials from operator-management-service (errors and rotation), and the
//! dependencies failing: Redis down, PostgreSQL down, NATS restarted. Shared servers are never
//! stopped: outages go through a proxy, a port where nothing listens, or private servers.

use std::net::SocketAddr;
use std::time::Duration;

use e2e::harness::{
    self, credentials_error, credentials_ok, Bus, Connector, CredentialsServer, Db, NatsServer,
    ProxyMode, TcpProxy, TempDir,
};
use serde_json::Value;

const READY: Duration = Duration::from_secs(15);

async fn readiness(c: &Connector) -> Option<(u16, Value)> {
    let (status, body) = c.get("/ready").await?;
    Some((status, serde_json::from_str(&body).ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_come_from_the_api_through_401_404_500_and_a_refused_password() {
    harness::init_logging();
    let op = harness::unique_operator("creds");
    let sim = harness::start_sim("ghasi01", "s3cret", |_| {}).await;
    let server = CredentialsServer::start(
        vec![
            credentials_error(500),
            credentials_error(401),
            credentials_error(404),
        ],
        // An old password first: the bind is refused with ESME_RINVPASWD.
        credentials_ok("ghasi01", "oldpass"),
    )
    .await;
    let dir = TempDir::new().expect("temp dir");
    let token = dir.write("token", "sa-token").expect("token");
    let config = harness::test_config(
        &op,
        sim.addr(),
        crds::config::CredentialsSource::OperatorManagement {
            base_url: server.base_url(),
            token_file: token.display().to_string(),
            timeout_ms: 1_000,
        },
    );
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    let refused = harness::eventually(Duration::from_secs(20), || async {
        (sim.stats().event("bind_failures") >= 1).then_some(())
    })
    .await;
    assert!(
        refused.is_some(),
        "the stale password was refused: {}",
        sim.stats()
    );
    let (status, _) = connector.get("/ready").await.expect("/ready");
    assert_eq!(status, 503, "not ready without a session");
    let before_rotation = server.requests().len();
    assert!(
        before_rotation >= 4,
        "500, 401, 404, stale: {before_rotation}"
    );
    // The password is rotated: the refusal makes the connector fetch it again.
    server.set_fallback(credentials_ok("ghasi01", "s3cret"));
    assert!(
        connector.wait_ready(Duration::from_secs(20)).await,
        "bound with the rotated password"
    );
    assert!(server.requests().len() > before_rotation);
    let reqs = server.requests();
    assert!(reqs
        .iter()
        .all(|(o, a)| o == &op && a.as_deref() == Some("Bearer sa-token")));
    // It works with the fresh credentials.
    let ids = harness::message_ids("creds", 1);
    bus.publish(&harness::command(&op, &ids[0], "hello")).await;
    assert!(bus.wait_final(&ids, Duration::from_secs(10)).await);
    // The secret never shows in the metrics or the readiness body.
    let (_, metrics) = connector.get("/metrics").await.expect("metrics");
    assert!(!metrics.contains("s3cret") && !metrics.contains("oldpass"));
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_degrades_to_the_local_limiter_and_recovers() {
    harness::init_logging();
    let op = harness::unique_operator("redis");
    let sim = harness::start_sim("ghasi01", "s3cret", |_| {}).await;
    let dir = TempDir::new().expect("temp dir");
    let port = harness::free_port();
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    config.redis.url = format!("redis://127.0.0.1:{port}");
    config.throttle.tps = 200;
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    let degraded = harness::eventually(READY, || async {
        let (status, body) = readiness(&connector).await?;
        (status == 503 && body["bound"] == true && body["throttle"] == "degraded").then_some(())
    })
    .await;
    assert!(degraded.is_some(), "{:?}", readiness(&connector).await);

    // Traffic goes on, within the limit, from the local limiter.
    let ids = harness::message_ids("redis", 300);
    let cmds: Vec<Value> = ids
        .iter()
        .map(|id| harness::command(&op, id, "degraded"))
        .collect();
    bus.publish_many(&cmds).await;
    assert!(bus.wait_final(&ids, Duration::from_secs(20)).await);
    let max = sim.max_accepted_in(Duration::from_secs(1));
    assert!(max <= 202, "local limit kept: {max}");

    // Redis comes back (a private server on that port): shared again, ready.
    let mut redis = tokio::process::Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server");
    let shared = harness::eventually(Duration::from_secs(20), || async {
        let (status, body) = readiness(&connector).await?;
        (status == 200 && body["throttle"] == "shared").then_some(())
    })
    .await;
    assert!(shared.is_some(), "{:?}", readiness(&connector).await);
    assert_eq!(connector.stop().await, Ok(()));
    let _ = redis.kill().await;
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_stops_the_pulling_and_loses_nothing() {
    harness::init_logging();
    let op = harness::unique_operator("pgdown");
    let sim = harness::start_sim("ghasi01", "s3cret", |_| {}).await;
    let dir = TempDir::new().expect("temp dir");
    let pg: SocketAddr = "127.0.0.1:5432".parse().expect("address");
    let proxy = TcpProxy::start(pg).await;
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    config.postgres.url = format!("postgres://postgres@{}/postgres", proxy.addr());
    config.nats.ack_wait_seconds = 2;
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);
    let ids = harness::message_ids("pg", 40);
    let cmds: Vec<Value> = ids.iter().map(|id| harness::command(&op, id, id)).collect();
    bus.publish_many(&cmds[..20]).await;
    assert!(bus.wait_final(&ids[..20], Duration::from_secs(10)).await);

    proxy.set(ProxyMode::Down);
    let not_ready = harness::eventually(Duration::from_secs(10), || async {
        let (status, _) = readiness(&connector).await?;
        (status == 503).then_some(())
    })
    .await;
    assert!(not_ready.is_some(), "not ready while PostgreSQL is down");
    let before = sim.submits().len();
    bus.publish_many(&cmds[20..]).await;
    // While PostgreSQL is down, commands stay in JetStream.
    let held = harness::eventually(Duration::from_secs(5), || async {
        let (pending, ack_pending) = bus.consumer_backlog().await?;
        (pending + ack_pending as u64 > 0).then_some(())
    })
    .await;
    assert!(held.is_some());
    tokio::time::sleep(Duration::from_secs(2)).await; // an outage of a few seconds
    let sent_while_down = sim.submits().len() - before;
    assert!(
        sent_while_down <= 64,
        "at most a window's worth sent while down: {sent_while_down}"
    );

    proxy.set(ProxyMode::Up);
    assert!(connector.wait_ready(Duration::from_secs(20)).await);
    assert!(
        bus.wait_final(&ids, Duration::from_secs(30)).await,
        "every message finished"
    );
    let acked = harness::eventually(Duration::from_secs(15), || async {
        (bus.consumer_backlog().await == Some((0, 0))).then_some(())
    })
    .await;
    assert!(acked.is_some());
    let rows = Db::connect().await.rows(&op).await;
    assert_eq!(rows.len(), 40, "a correlation for each message");
    assert!(rows.iter().all(|r| r.submit_status == "SUBMITTED"));
    for id in &ids {
        let delivered = bus
            .events_of(id)
            .iter()
            .any(|e| e["messageStatus"] == "DELIVERED");
        assert!(delivered, "{id} delivered");
    }
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_restart_is_survived() {
    harness::init_logging();
    let op = harness::unique_operator("natsrestart");
    let mut nats = NatsServer::start().await;
    let sim = harness::start_sim("ghasi01", "s3cret", |_| {}).await;
    let dir = TempDir::new().expect("temp dir");
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    config.nats.url = nats.url();
    let mut bus = Bus::connect(&nats.url(), &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await);
    let ids = harness::message_ids("nats", 20);
    let cmds: Vec<Value> = ids.iter().map(|id| harness::command(&op, id, id)).collect();
    bus.publish_many(&cmds[..10]).await;
    assert!(bus.wait_final(&ids[..10], Duration::from_secs(10)).await);

    nats.restart().await;
    assert!(
        connector.wait_ready(Duration::from_secs(20)).await,
        "ready again after the restart"
    );
    // A fresh bus: the old ordered consumer does not survive a restart of the server.
    let mut bus2 = Bus::connect(&nats.url(), &op).await;
    bus2.publish_many(&cmds[10..]).await;
    assert!(
        bus2.wait_final(&ids[10..], Duration::from_secs(20)).await,
        "{:?}",
        bus2.dlr_events
    );
    let counts = sim.submits().len();
    assert_eq!(counts, 20, "each sent once");
    assert_eq!(connector.stop().await, Ok(()));
    drop(bus);
    nats.kill().await;
}
