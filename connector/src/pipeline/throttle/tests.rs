use super::*;
use crate::test_support::{unique, REDIS_URL};
use redis::AsyncCommands;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};

/// Largest number of grants in any window `[t, t + window)` of the sorted instants.
fn max_in_any_window(times: &[Instant], window: Duration) -> usize {
    let mut best = 0;
    let mut j = 0;
    for i in 0..times.len() {
        while times[i].duration_since(times[j]) >= window {
            j += 1;
        }
        best = best.max(i - j + 1);
    }
    best
}

async fn redis_total(prefix: &str) -> u64 {
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = con.keys(format!("{prefix}*")).await.unwrap();
    let mut total = 0;
    for k in keys {
        let v: u64 = con.get(&k).await.unwrap();
        let ttl: i64 = con.pttl(&k).await.unwrap();
        assert!(
            ttl > 0 && ttl <= 3 * 1020,
            "bucket {k} has a TTL of a few windows: {ttl}"
        );
        total += v;
    }
    total
}

#[test]
fn local_log_is_a_sliding_window() {
    let mut log = GrantLog::default();
    let t0 = Instant::now();
    let lookback = Duration::from_millis(1000);
    assert_eq!(log.take(t0, 10, 6, lookback), Ok(6));
    assert_eq!(
        log.take(t0 + Duration::from_millis(500), 10, 6, lookback),
        Ok(4)
    );
    let wait = log
        .take(t0 + Duration::from_millis(600), 10, 1, lookback)
        .unwrap_err();
    assert_eq!(wait, Duration::from_millis(401));
    assert_eq!(
        log.take(t0 + Duration::from_millis(1001), 10, 10, lookback),
        Ok(6)
    );
}

#[tokio::test]
async fn unlimited_grants_at_once() {
    let t = Throttle::new(
        redis::Client::open(REDIS_URL).unwrap(),
        "x",
        ThrottleSettings::new(0, 10),
    );
    assert_eq!(t.acquire(50).await.count, 10);
    assert_eq!(t.state(), ThrottleState::Unlimited);
}

/// Three replicas compete for 200 TPS for 2.5 s: no 1-second window sees more than 200
/// submits, the window is used nearly fully, and Redis counted every grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_never_exceed_the_limit_in_any_second() {
    let op = unique("tps");
    let limit = 200;
    let stop = Instant::now() + Duration::from_millis(2500);
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let t = Throttle::new(
            redis::Client::open(REDIS_URL).unwrap(),
            &op,
            ThrottleSettings::new(limit, 10),
        );
        tasks.push(tokio::spawn(async move {
            let mut used = Vec::new();
            while Instant::now() < stop {
                let p = t.acquire(7).await;
                let now = Instant::now();
                assert!(now <= p.valid_until, "permits arrive usable");
                used.extend(std::iter::repeat_n(now, p.count as usize));
                assert_eq!(t.state(), ThrottleState::Shared);
            }
            used
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let worst = max_in_any_window(&all, Duration::from_secs(1));
    assert!(
        worst <= limit as usize,
        "{worst} submits in one second, limit {limit}"
    );
    // 2.5 s at ~97% of 200/s, minus the last acquire that may end past `stop`.
    assert!(all.len() >= 400, "only {} grants in 2.5 s", all.len());
    let in_redis = redis_total(&format!("tps:{op}:")).await;
    assert!(
        in_redis <= all.len() as u64 && in_redis >= 150,
        "{in_redis} of {}",
        all.len()
    );
}

/// A TCP proxy to the local Redis that can be cut (connections dropped, new ones closed).
struct Proxy {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect("127.0.0.1:6379").await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

#[tokio::test]
async fn redis_outage_degrades_to_the_local_window_and_recovers() {
    let proxy = Proxy::start().await;
    let op = unique("tpsdown");
    let mut settings = ThrottleSettings::new(50, 10);
    settings.probe_interval = Duration::from_millis(100);
    let t = Throttle::new(
        redis::Client::open(format!("redis://{}", proxy.addr)).unwrap(),
        &op,
        settings,
    );

    assert_eq!(t.acquire(10).await.count, 10);
    assert_eq!(t.state(), ThrottleState::Shared);

    proxy.set_up(false);
    let mut used = vec![Instant::now(); 10];
    let p = t.acquire(10).await;
    assert_eq!(t.state(), ThrottleState::Degraded);
    used.extend(std::iter::repeat_n(Instant::now(), p.count as usize));
    // While degraded the local window still holds the limit.
    let until = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < until {
        let p = t.acquire(10).await;
        used.extend(std::iter::repeat_n(Instant::now(), p.count as usize));
    }
    assert_eq!(t.state(), ThrottleState::Degraded);
    let worst = max_in_any_window(&used, Duration::from_secs(1));
    assert!(worst <= 50, "{worst} in one second while degraded");

    proxy.set_up(true);
    let deadline = Instant::now() + Duration::from_secs(5);
    while t.state() != ThrottleState::Shared {
        assert!(Instant::now() < deadline, "did not recover");
        let p = t.acquire(1).await;
        used.extend(std::iter::repeat_n(Instant::now(), p.count as usize));
    }
    // The grants made while degraded were carried into Redis, so the shared window still holds
    // the limit across the switch back.
    let until = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < until {
        let p = t.acquire(10).await;
        used.extend(std::iter::repeat_n(Instant::now(), p.count as usize));
    }
    assert_eq!(t.state(), ThrottleState::Shared);
    let worst = max_in_any_window(&used, Duration::from_secs(1));
    assert!(worst <= 50, "{worst} in one second across the recovery");
}

#[tokio::test(start_paused = true)]
async fn unreachable_redis_at_start_is_degraded_not_fatal() {
    // Port 1 on loopback: connection refused.
    let t = Throttle::new(
        redis::Client::open("redis://127.0.0.1:1").unwrap(),
        &unique("tpsnone"),
        ThrottleSettings::new(5, 5),
    );
    let p = t.acquire(5).await;
    assert_eq!(p.count, 5);
    assert_eq!(t.state(), ThrottleState::Degraded);
    let start = Instant::now();
    let p = t.acquire(5).await;
    assert!(p.count >= 1);
    assert!(
        Instant::now().duration_since(start) >= Duration::from_millis(1000),
        "the local window waited"
    );
}

/// The gate takes one permit per submit from batches sized by the submits waiting: 40 waiting
/// submits against 100 TPS cost few Redis grants, each gets exactly one permit, and a submit
/// that gives up while waiting leaves no one counted as waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_batches_permits_for_waiting_submits_and_forgets_the_ones_given_up() {
    let op = unique("gate");
    let throttle = Arc::new(Throttle::new(
        redis::Client::open(REDIS_URL).unwrap(),
        &op,
        ThrottleSettings::new(100, 50),
    ));
    let gate = Arc::new(TpsGate::new(throttle));
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let g = gate.clone();
        tasks.push(tokio::spawn(async move { g.permit().await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let in_redis = redis_total(&format!("tps:{op}:")).await;
    assert!(
        (40..=40 + 50).contains(&in_redis),
        "40 permits used, {in_redis} granted in Redis (batches of at most 50)"
    );
    assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);

    // The budget of this second is nearly used: a permit now waits, and giving up on it
    // leaves nothing behind.
    let given_up = tokio::time::timeout(Duration::from_millis(200), async {
        for _ in 0..200 {
            gate.permit().await;
        }
    })
    .await;
    assert!(
        given_up.is_err(),
        "200 permits within 200 ms against 100 TPS"
    );
    assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);
}
