//! The session engine (`connector::session`) against `e2e::sim` over loopback TCP.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast;
use tokio::time::Instant;

use connector::pipeline::events::{BindMode, EndpointRole, HealthState};
use connector::protocol::codec::{
    esm_class, registered_delivery, Address, COctetString, CommandStatus, SubmitSm,
};
use connector::session::{
    EndpointPin, EngineConfig, Inbound, SessionEngine, SessionEvent, SessionHandle, SessionState,
    SmppCredentials, StaticCredentials, SubmitError, UnboundCause,
};
use crds::config::{Endpoint, SessionConfig};
use e2e::sim::{
    BreakAction, ConnectionFault, Delay, RefuseMode, SimConfig, SimHandle, Simulator, Status,
    TransceiverRefusal, Trigger,
};

const WAIT: Duration = Duration::from_secs(15);

async fn sim(config: SimConfig) -> SimHandle {
    Simulator::start(config).await.expect("simulator starts")
}

fn endpoint(sim: &SimHandle) -> Endpoint {
    Endpoint {
        host: "127.0.0.1".into(),
        port: sim.addr().port(),
        tls: None,
        local_address: None,
    }
}

fn session() -> SessionConfig {
    SessionConfig {
        window: 16,
        binds: 1,
        response_timeout_ms: 5_000,
        enquire_link_interval_seconds: 30,
        enquire_link_timeout_seconds: 10,
        read_idle_timeout_seconds: 90,
        bind_timeout_seconds: 5,
        reconnect_initial_seconds: 1,
        reconnect_max_seconds: 4,
        credentials_backoff_seconds: 3,
        max_pdu_bytes: 65_536,
        drain_timeout_seconds: 5,
    }
}

fn config(ep: Endpoint) -> EngineConfig {
    let mut cfg = EngineConfig::new(ep);
    cfg.session = session();
    cfg
}

fn creds(system_id: &str, password: &str) -> Arc<StaticCredentials> {
    StaticCredentials::new(SmppCredentials {
        system_id: system_id.into(),
        password: password.into(),
        system_type: None,
    })
}

fn sm(text: &str, receipt: bool) -> SubmitSm {
    SubmitSm {
        source: Address {
            ton: 5,
            npi: 0,
            addr: COctetString::new(&b"Test"[..]).expect("short"),
        },
        dest: Address {
            ton: 1,
            npi: 1,
            addr: COctetString::new(&b"31612345678"[..]).expect("short"),
        },
        registered_delivery: if receipt {
            registered_delivery::RECEIPT_ALWAYS
        } else {
            0
        },
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..SubmitSm::default()
    }
}

async fn wait_bound(handle: &SessionHandle) {
    let mut bound = handle.watch_bound();
    tokio::time::timeout(WAIT, bound.wait_for(|b| *b))
        .await
        .expect("bound in time")
        .expect("engine running");
}

async fn next_event(events: &mut broadcast::Receiver<SessionEvent>) -> SessionEvent {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("an event in time")
        .expect("event stream open")
}

/// The failback's events (UNBOUND "failing back" no sooner than `hold` after `since`, then
/// BOUND on the primary) and a submit accepted by the primary.
async fn fails_back_after_the_hold(
    handle: &SessionHandle,
    events: &mut broadcast::Receiver<SessionEvent>,
    since: Instant,
    hold: Duration,
) {
    let ev = next_event(events).await;
    assert_eq!(ev.state, HealthState::Unbound);
    assert!(ev.reason.contains("failing back"), "{}", ev.reason);
    assert!(since.elapsed() >= hold, "{:?}", since.elapsed());
    let ev = next_event(events).await;
    assert_eq!(ev.state, HealthState::Bound);
    assert_eq!(ev.endpoint, Some(EndpointRole::Primary));
    let outcome = handle
        .submit(sm("via primary", false))
        .await
        .expect("accepted");
    assert_eq!(outcome.endpoint, EndpointRole::Primary);
}

fn spawn_submits(
    handle: &SessionHandle,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Result<connector::session::SubmitOutcome, SubmitError>>> {
    (0..n)
        .map(|i| {
            let h = handle.clone();
            tokio::spawn(async move { h.submit(sm(&format!("message {i}"), false)).await })
        })
        .collect()
}

#[tokio::test]
async fn transceiver_refusals_fall_back_to_tx_rx_with_receipts_on_the_receiver() {
    let refusals = [
        TransceiverRefusal::GenericNack,
        TransceiverRefusal::Response(Status(CommandStatus::ESME_RINVCMDID)),
        TransceiverRefusal::Response(Status(CommandStatus::ESME_RINVBNDSTS)),
    ];
    for refusal in refusals {
        let mut sc = SimConfig::default();
        sc.receipts.delay = Delay::from_millis(10);
        sc.faults.refuse_transceiver = Some(refusal);
        let sim = sim(sc).await;
        let (handle, mut streams) =
            SessionEngine::start(config(endpoint(&sim)), creds("esme", "pw"));
        wait_bound(&handle).await;
        assert!(
            matches!(
                handle.state(),
                SessionState::Bound {
                    mode: BindMode::TransmitterReceiver,
                    ..
                }
            ),
            "{refusal}: {:?}",
            handle.state()
        );
        assert!(
            sim.wait_bound(2, WAIT).await,
            "{refusal}: two binds at the simulator"
        );
        let outcome = handle
            .submit(sm("with receipt", true))
            .await
            .expect("accepted");
        let inbound = tokio::time::timeout(WAIT, streams.inbound.recv())
            .await
            .expect("receipt in time")
            .expect("open");
        match inbound {
            Inbound::DeliverSm {
                sm,
                responder,
                endpoint,
            } => {
                assert_eq!(endpoint, EndpointRole::Primary);
                assert_eq!(
                    sm.esm_class & esm_class::TYPE_MASK,
                    esm_class::TYPE_DELIVERY_RECEIPT
                );
                let text = String::from_utf8_lossy(&sm.short_message).into_owned();
                assert!(
                    text.contains(&format!("id:{}", outcome.message_id)),
                    "{text}"
                );
                assert!(responder.ack());
            }
            other => panic!("unexpected {other:?}"),
        }
        handle.shutdown(Duration::from_secs(2)).await;
    }
}

#[tokio::test]
async fn submits_wait_for_window_space() {
    let mut sc = SimConfig::default();
    sc.faults.response_delay = Some(Delay::from_millis(200));
    let sim = sim(sc).await;
    let mut cfg = config(endpoint(&sim));
    cfg.session.window = 4;
    let (handle, _streams) = SessionEngine::start(cfg, creds("esme", "pw"));
    wait_bound(&handle).await;
    let started = Instant::now();
    let tasks = spawn_submits(&handle, 12);
    for t in tasks {
        t.await.expect("join").expect("accepted");
    }
    // Twelve submits through a window of four, 200 ms each: at least three rounds.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(590), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(sim.accepted_submits(), 12);
    assert_eq!(handle.free_window(), 4);
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_late_response_keeps_its_message_id() {
    let mut sc = SimConfig::default();
    sc.faults.response_delay = Some(Delay::from_millis(500));
    let sim = sim(sc).await;
    let mut cfg = config(endpoint(&sim));
    cfg.session.response_timeout_ms = 100;
    let (handle, mut streams) = SessionEngine::start(cfg, creds("esme", "pw"));
    wait_bound(&handle).await;
    let err = handle
        .submit(sm("slow", false))
        .await
        .expect_err("times out");
    let SubmitError::ResponseTimeout { sequence } = err else {
        panic!("unexpected {err:?}");
    };
    let late = tokio::time::timeout(WAIT, streams.late.recv())
        .await
        .expect("late response in time")
        .expect("open");
    assert_eq!(late.sequence, sequence);
    assert!(
        late.latency >= Duration::from_millis(450),
        "{:?}",
        late.latency
    );
    let captured = sim.submits();
    assert_eq!(captured.len(), 1);
    assert_eq!(late.message_id, captured[0].message_id);
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_silent_smsc_is_detected_by_enquire_link_and_the_session_comes_back() {
    let mut sc = SimConfig {
        enquire_link_secs: 0,
        ..SimConfig::default()
    };
    sc.faults.connection = Some(ConnectionFault {
        after_pdus: 1,
        action: BreakAction::Silent,
        connections: Some(1),
    });
    let sim = sim(sc).await;
    let mut cfg = config(endpoint(&sim));
    cfg.session.enquire_link_interval_seconds = 1;
    cfg.session.enquire_link_timeout_seconds = 1;
    cfg.bind.mode = BindMode::Transceiver;
    let (handle, _streams) = SessionEngine::start(cfg, creds("esme", "pw"));
    let mut events = handle.events();
    assert_eq!(next_event(&mut events).await.state, HealthState::Bound);
    let t0 = Instant::now();
    let ev = next_event(&mut events).await;
    assert_eq!(ev.state, HealthState::Unbound);
    assert!(ev.reason.contains("enquire_link"), "{}", ev.reason);
    // One interval of silence plus the enquire_link timeout (with tick granularity).
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    assert_eq!(next_event(&mut events).await.state, HealthState::Bound);
    handle
        .submit(sm("after reconnect", false))
        .await
        .expect("accepted");
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn refused_credentials_are_classed_apart() {
    for (system_id, password, status) in [
        ("esme", "wrong", CommandStatus::ESME_RINVPASWD),
        ("nobody", "pw", CommandStatus::ESME_RINVSYSID),
    ] {
        let sim = sim(SimConfig::with_account("esme", "pw")).await;
        let (handle, _streams) =
            SessionEngine::start(config(endpoint(&sim)), creds(system_id, password));
        let mut events = handle.events();
        let ev = next_event(&mut events).await;
        assert_eq!(ev.state, HealthState::Unbound);
        assert!(ev.reason.contains("credentials refused"), "{}", ev.reason);
        let mut state = handle.watch_state();
        let s = tokio::time::timeout(
            WAIT,
            state.wait_for(|s| {
                matches!(
                    s,
                    SessionState::Unbound {
                        cause: UnboundCause::CredentialsRefused { .. },
                        ..
                    }
                )
            }),
        )
        .await
        .expect("state in time")
        .expect("open")
        .clone();
        assert!(
            matches!(s, SessionState::Unbound { cause: UnboundCause::CredentialsRefused { status: st }, .. } if st == status),
            "{s:?}"
        );
        assert_eq!(
            handle.submit(sm("x", false)).await,
            Err(SubmitError::NotBound)
        );
        handle.shutdown(Duration::from_secs(1)).await;
    }
}

#[tokio::test]
async fn graceful_stop_drains_a_full_window() {
    let mut sc = SimConfig::default();
    sc.faults.response_delay = Some(Delay::from_millis(300));
    let sim = sim(sc).await;
    let mut cfg = config(endpoint(&sim));
    cfg.session.window = 8;
    let (handle, _streams) = SessionEngine::start(cfg, creds("esme", "pw"));
    wait_bound(&handle).await;
    let mut captured = sim.subscribe_submits().expect("capture on");
    let tasks = spawn_submits(&handle, 8);
    for _ in 0..8 {
        tokio::time::timeout(WAIT, captured.recv())
            .await
            .expect("in time")
            .expect("open");
    }
    assert_eq!(handle.free_window(), 0);
    handle.shutdown(Duration::from_secs(5)).await;
    for t in tasks {
        t.await.expect("join").expect("accepted before the unbind");
    }
    assert_eq!(handle.state(), SessionState::Stopped);
    assert!(sim.wait_bound_at_most(0, WAIT).await);
    assert_eq!(
        handle.submit(sm("late", false)).await,
        Err(SubmitError::ShuttingDown)
    );
}

#[tokio::test]
async fn a_dropped_connection_hands_back_every_outstanding_submit() {
    let mut sc = SimConfig::default();
    sc.faults.no_response = Some(Trigger::Always);
    let sim = sim(sc).await;
    let mut cfg = config(endpoint(&sim));
    cfg.session.window = 8;
    cfg.bind.mode = BindMode::Transceiver;
    let (handle, _streams) = SessionEngine::start(cfg, creds("esme", "pw"));
    wait_bound(&handle).await;
    let tasks = spawn_submits(&handle, 8);
    let sent = async {
        loop {
            let c = handle.counters();
            if c.count(
                connector::session::Direction::Sent,
                connector::protocol::codec::CommandId::SubmitSm,
                CommandStatus::ESME_ROK,
            ) >= 8
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(WAIT, sent)
        .await
        .expect("eight submits written");
    assert_eq!(sim.break_connections(BreakAction::Close), 1);
    for t in tasks {
        assert_eq!(
            t.await.expect("join"),
            Err(SubmitError::Disconnected {
                maybe_accepted: true
            })
        );
    }
    assert_eq!(handle.free_window(), 8);
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn fails_over_after_n_failures_and_fails_back_after_the_hold_time() {
    let mut pc = SimConfig::default();
    pc.faults.refuse_connections = Some(RefuseMode::Refuse);
    let primary = sim(pc).await;
    let backup = sim(SimConfig::default()).await;
    let mut cfg = config(endpoint(&primary));
    cfg.backup = Some(endpoint(&backup));
    cfg.failover.after_failures = 2;
    cfg.failover.probe_interval_seconds = 1;
    cfg.failover.failback_hold_seconds = 2;
    cfg.bind.mode = BindMode::Transceiver;
    let (handle, _streams) = SessionEngine::start(cfg, creds("esme", "pw"));
    let mut events = handle.events();
    let ev = next_event(&mut events).await;
    assert_eq!(ev.state, HealthState::Unbound);
    let ev = next_event(&mut events).await;
    assert_eq!(ev.state, HealthState::Failback, "{ev:?}");
    assert_eq!(ev.endpoint, Some(EndpointRole::Backup));
    assert_eq!(ev.address, Some(endpoint(&backup).address()));
    assert_eq!(ev.bind_mode, Some(BindMode::Transceiver));
    let outcome = handle
        .submit(sm("via backup", false))
        .await
        .expect("accepted");
    assert_eq!(outcome.endpoint, EndpointRole::Backup);
    // The primary recovers; the engine fails back only after the hold time.
    let recovered = Instant::now();
    primary.clear_faults();
    fails_back_after_the_hold(&handle, &mut events, recovered, Duration::from_secs(2)).await;
    // One bind stays on the backup for the receipts it holds (failover.receiptLingerSeconds),
    // sending nothing; the stop unbinds it.
    let lingering = async {
        while backup.bound_sessions() != 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    assert!(tokio::time::timeout(WAIT, lingering).await.is_ok());
    assert_eq!(
        backup.accepted_submits(),
        1,
        "nothing more sent to the backup"
    );
    handle.shutdown(Duration::from_secs(2)).await;
    assert!(backup.wait_bound_at_most(0, WAIT).await);
}

#[tokio::test]
async fn a_manual_failover_moves_to_the_backup_and_unpinning_fails_back_after_the_hold() {
    e2e::harness::init_logging();
    let primary = sim(SimConfig::default()).await;
    let backup = sim(SimConfig::default()).await;
    let mut cfg = config(endpoint(&primary));
    cfg.backup = Some(endpoint(&backup));
    cfg.failover.probe_interval_seconds = 1;
    cfg.failover.failback_hold_seconds = 2;
    cfg.bind.mode = BindMode::Transceiver;
    let (handle, _streams) = SessionEngine::start(cfg, creds("esme", "pw"));
    let mut events = handle.events();
    let ev = next_event(&mut events).await;
    assert_eq!(ev.state, HealthState::Bound);
    assert_eq!(ev.endpoint, Some(EndpointRole::Primary));

    // Pinned to the backup: it moves at once, without an UNBOUND in between.
    handle.pin_endpoint(EndpointPin::Backup);
    let ev = next_event(&mut events).await;
    assert_eq!(ev.state, HealthState::Failback, "{ev:?}");
    assert_eq!(ev.endpoint, Some(EndpointRole::Backup));
    let outcome = handle
        .submit(sm("via backup", false))
        .await
        .expect("accepted");
    assert_eq!(outcome.endpoint, EndpointRole::Backup);
    // The primary is healthy, yet no failback while pinned (well past probe + hold).
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        events.try_recv().is_err(),
        "still on the backup while pinned"
    );
    assert!(
        primary.wait_bound_at_most(0, WAIT).await,
        "no bind left on the primary"
    );

    // Unpinned: the usual probe and hold bring it back.
    let unpinned = Instant::now();
    handle.pin_endpoint(EndpointPin::Auto);
    fails_back_after_the_hold(&handle, &mut events, unpinned, Duration::from_secs(2)).await;
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn throttling_lowers_the_send_rate() {
    let sc = SimConfig {
        tps_limit: Some(200),
        capture_submits: false,
        ..SimConfig::default()
    };
    let sim = sim(sc).await;
    let mut cfg = config(endpoint(&sim));
    cfg.session.window = 64;
    cfg.retry.max_attempts = 50;
    cfg.retry.initial_delay_ms = 100;
    cfg.retry.max_delay_ms = 400;
    let (handle, _streams) = SessionEngine::start(cfg, creds("esme", "pw"));
    wait_bound(&handle).await;
    let tasks = spawn_submits(&handle, 800);
    for t in tasks {
        t.await.expect("join").expect("accepted eventually");
    }
    assert_eq!(sim.accepted_submits(), 800);
    let c = handle.counters();
    let sent = c.count(
        connector::session::Direction::Sent,
        connector::protocol::codec::CommandId::SubmitSm,
        CommandStatus::ESME_ROK,
    );
    println!("sent {sent}, throttled {}, accepted 800", c.throttled);
    assert!(c.throttled > 0);
    // Without slowing down, 64 outstanding submits retried every 100-400 ms would draw
    // several refusals per accepted message; the AIMD pacer keeps them a minority.
    assert!(c.throttled < 800, "throttled {}", c.throttled);
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(start_paused = true)]
async fn reconnect_backoff_doubles_up_to_the_cap() {
    // A port with nothing listening: every connect is refused at once.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let cfg = config(Endpoint {
        host: "127.0.0.1".into(),
        port,
        tls: None,
        local_address: None,
    });
    let (handle, _streams) = SessionEngine::start(cfg, creds("esme", "pw"));
    let mut state = handle.watch_state();
    let mut delays = Vec::new();
    let mut last_connect: Option<Instant> = None;
    let mut gaps = Vec::new();
    while delays.len() < 5 {
        state.changed().await.expect("engine running");
        match state.borrow_and_update().clone() {
            SessionState::Unbound { retry_in, .. } => delays.push(retry_in),
            SessionState::Connecting { .. } => {
                let now = Instant::now();
                if let Some(prev) = last_connect {
                    gaps.push(now - prev);
                }
                last_connect = Some(now);
            }
            _ => {}
        }
    }
    // 1, 2, 4, 4, 4 seconds, each within ±20 % jitter.
    for (d, base) in delays.iter().zip([1.0, 2.0, 4.0, 4.0, 4.0]) {
        let s = d.as_secs_f64();
        assert!(s >= base * 0.79 && s <= base * 1.21, "{delays:?}");
    }
    // The engine really waits that long between attempts.
    for (gap, d) in gaps.iter().zip(&delays) {
        assert!(*gap >= *d, "{gaps:?} vs {delays:?}");
    }
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Waits until `pred` holds for the pool's binds.
async fn wait_binds(
    handle: &SessionHandle,
    pred: impl FnMut(&Vec<connector::session::BindInfo>) -> bool,
) -> Vec<connector::session::BindInfo> {
    let mut binds = handle.watch_binds();
    let seen = tokio::time::timeout(WAIT, binds.wait_for(pred))
        .await
        .unwrap_or_else(|_| panic!("binds in time: {:?}", handle.binds()))
        .expect("engine running")
        .clone();
    seen
}

fn bound_count(binds: &[connector::session::BindInfo]) -> usize {
    binds
        .iter()
        .filter(|b| b.state == connector::session::BindSlotState::Bound)
        .count()
}

/// Accepted submits per simulator connection.
fn per_session(sim: &SimHandle) -> std::collections::BTreeMap<u64, usize> {
    let mut by = std::collections::BTreeMap::new();
    for s in sim.submits() {
        *by.entry(s.session).or_default() += 1;
    }
    by
}

fn pool_config(sim: &SimHandle, binds: u32) -> EngineConfig {
    let mut cfg = config(endpoint(sim));
    cfg.session.binds = binds;
    cfg.bind.mode = BindMode::Transceiver;
    cfg
}

#[tokio::test]
async fn four_binds_share_the_submits_each_within_its_own_window() {
    let mut sc = SimConfig::default();
    sc.faults.response_delay = Some(Delay::from_millis(20));
    let sim = sim(sc).await;
    let (handle, _streams) = SessionEngine::start(pool_config(&sim, 4), creds("esme", "pw"));
    let mut events = handle.events();
    let binds = wait_binds(&handle, |b| bound_count(b) == 4).await;
    assert_eq!(binds.len(), 4);
    assert!(binds.iter().all(|b| b.mode == Some(BindMode::Transceiver)));
    // BOUND from the first bind on; the reason counts the binds up.
    let first = next_event(&mut events).await;
    assert_eq!(first.state, HealthState::Bound);
    assert!(first.reason.contains("1/4 binds"), "{}", first.reason);
    loop {
        let ev = next_event(&mut events).await;
        assert_eq!(ev.state, HealthState::Bound, "{ev:?}");
        if ev.reason.contains("4/4 binds") {
            break;
        }
    }
    // More submits at once than one bind's window: the handle takes window x binds.
    assert_eq!(handle.free_window(), 64);
    let tasks = spawn_submits(&handle, 640);
    for t in tasks {
        t.await.expect("join").expect("accepted");
    }
    assert_eq!(sim.accepted_submits(), 640);
    let by = per_session(&sim);
    assert_eq!(by.len(), 4, "every bind sent: {by:?}");
    assert!(by.values().all(|n| *n >= 640 / 8), "spread: {by:?}");
    assert_eq!(sim.peak_bound_sessions(), 4);
    let binds = handle.binds();
    assert!(binds.iter().all(|b| b.window_in_use == 0), "{binds:?}");
    handle.shutdown(Duration::from_secs(2)).await;
    assert!(sim.wait_bound_at_most(0, WAIT).await);
}

#[tokio::test]
async fn one_bind_lost_mid_load_leaves_the_pool_bound_and_the_others_sending() {
    for action in [BreakAction::Close, BreakAction::Reset, BreakAction::Silent] {
        let mut sc = SimConfig {
            enquire_link_secs: 0,
            ..SimConfig::default()
        };
        sc.faults.response_delay = Some(Delay::from_millis(5));
        // The first connection to reach 60 PDUs breaks; the other three do not.
        sc.faults.connection = Some(ConnectionFault {
            after_pdus: 60,
            action,
            connections: Some(1),
        });
        let sim = sim(sc).await;
        let mut cfg = pool_config(&sim, 4);
        cfg.session.response_timeout_ms = 1_000;
        cfg.session.enquire_link_interval_seconds = 1;
        cfg.session.enquire_link_timeout_seconds = 1;
        let (handle, _streams) = SessionEngine::start(cfg, creds("esme", "pw"));
        wait_binds(&handle, |b| bound_count(b) == 4).await;
        let mut events = handle.events();
        let tasks = spawn_submits(&handle, 800);
        let mut failed = 0;
        for t in tasks {
            match t.await.expect("join") {
                Ok(_) => {}
                Err(e) => {
                    assert!(e.is_retryable(), "{action:?}: {e:?}");
                    failed += 1;
                }
            }
        }
        // The lost bind's outstanding submits came back as retryable (at most its window);
        // the pipeline resends those. Everything else was accepted by the other binds.
        assert!(failed <= 16, "{action:?}: {failed} failed");
        assert!(sim.accepted_submits() >= 800 - 16, "{action:?}");
        // The pool never went down: no UNBOUND health event.
        while let Ok(ev) = events.try_recv() {
            assert_ne!(ev.state, HealthState::Unbound, "{action:?}: {ev:?}");
        }
        assert!(
            matches!(handle.state(), SessionState::Bound { .. }),
            "{action:?}"
        );
        // The lost bind comes back on its own (a silent one once enquire_link finds it).
        wait_binds(&handle, |b| {
            bound_count(b) == 4 && b.iter().all(|s| s.since.elapsed().is_ok_and(|e| e < WAIT))
        })
        .await;
        let mut after = handle.submit(sm("after", false)).await;
        for _ in 0..3 {
            match after {
                Err(e) if e.is_retryable() => after = handle.submit(sm("after", false)).await,
                _ => break,
            }
        }
        after.unwrap_or_else(|e| panic!("{action:?}: {e:?}"));
        handle.shutdown(Duration::from_secs(2)).await;
    }
}

#[tokio::test]
async fn an_smsc_that_allows_two_binds_keeps_two_and_the_rest_are_retried_and_reported() {
    let sc = SimConfig {
        bind_limit: Some("2".parse().expect("bind limit")),
        ..SimConfig::default()
    };
    let sim = sim(sc).await;
    let mut cfg = pool_config(&sim, 4);
    cfg.session.reconnect_initial_seconds = 1;
    cfg.session.reconnect_max_seconds = 2;
    let (handle, _streams) = SessionEngine::start(cfg, creds("esme", "pw"));
    // Two bound; the other two report the refusal (between retries they show Refused, and
    // Binding while they try again).
    let refused = |b: &connector::session::BindInfo| {
        b.state != connector::session::BindSlotState::Bound
            && b.last_error
                .as_deref()
                .is_some_and(|e| e.to_ascii_uppercase().contains("ESME_RBINDFAIL"))
    };
    let binds = wait_binds(&handle, |b| {
        bound_count(b) == 2 && b.iter().filter(|s| refused(s)).count() == 2
    })
    .await;
    assert!(
        binds
            .iter()
            .any(|s| s.state == connector::session::BindSlotState::Refused),
        "{binds:?}"
    );
    assert!(
        matches!(handle.state(), SessionState::Bound { .. }),
        "{:?}",
        handle.state()
    );
    let refused_first = sim.stats().event("binds_over_limit");
    // The refused binds are retried with backoff (1 s, then 2 s): a few more refusals,
    // not a storm, and never more than two binds at the simulator.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let refused = sim.stats().event("binds_over_limit") - refused_first;
    assert!((2..=10).contains(&refused), "{refused} retries in 4 s");
    assert_eq!(sim.peak_bound_sessions(), 2);
    let tasks = spawn_submits(&handle, 100);
    for t in tasks {
        t.await.expect("join").expect("accepted");
    }
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn the_per_bind_tps_cap_holds_on_every_bind() {
    let sc = SimConfig::default();
    let sim = sim(sc).await;
    let mut cfg = pool_config(&sim, 2);
    cfg.per_bind_tps = 25;
    let (handle, _streams) = SessionEngine::start(cfg, creds("esme", "pw"));
    wait_binds(&handle, |b| bound_count(b) == 2).await;
    let started = Instant::now();
    let tasks = spawn_submits(&handle, 150);
    for t in tasks {
        t.await.expect("join").expect("accepted");
    }
    // 150 at 2 x 25/s: three seconds at least (less one second's burst).
    assert!(
        started.elapsed() >= Duration::from_millis(1_900),
        "{:?}",
        started.elapsed()
    );
    let mut per_second: std::collections::BTreeMap<(u64, u64), u32> = Default::default();
    for s in sim.submits() {
        let at = s
            .received_at
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        *per_second.entry((s.session, at.as_secs())).or_default() += 1;
    }
    assert!(
        per_second.values().all(|n| *n <= 25),
        "per bind and second: {per_second:?}"
    );
    assert_eq!(per_session(&sim).len(), 2);
    handle.shutdown(Duration::from_secs(2)).await;
}
