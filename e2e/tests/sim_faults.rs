//! Faults on demand: statuses, delays, silence, broken and refused connections.

use std::time::{Duration, Instant};

use connector::protocol::codec::{Body, CommandStatus};
use e2e::sim::client::{submit_sm, ClientError, RawClient};
use e2e::sim::{
    BindMode, BreakAction, ConnectionFault, Delay, Faults, RefuseMode, SimConfig, SimHandle,
    Simulator, StatusRule, Trigger,
};

async fn start(faults: Faults) -> SimHandle {
    let mut config = SimConfig::with_account("alice", "secret");
    config.enquire_link_secs = 0;
    config.faults = faults;
    Simulator::start(config).await.expect("start simulator")
}

async fn bind(sim: &SimHandle) -> RawClient {
    let mut c = RawClient::connect(sim.addr()).await.expect("connect");
    let resp = c
        .bind(BindMode::Transceiver, "alice", "secret")
        .await
        .unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);
    c
}

async fn statuses(c: &mut RawClient, n: usize) -> Vec<CommandStatus> {
    let mut out = Vec::new();
    for i in 0..n {
        let sm = submit_sm("1", "2", &format!("n{i}"), false).unwrap();
        out.push(c.submit(sm).await.unwrap().status);
    }
    out
}

#[tokio::test]
async fn throttled_every_nth_queue_full_and_any_status() {
    let rule = |s: &str| s.parse::<StatusRule>().unwrap();
    let sim = start(Faults {
        submit_status: vec![rule("ESME_RTHROTTLED:every=3")],
        ..Faults::default()
    })
    .await;
    let mut c = bind(&sim).await;
    let got = statuses(&mut c, 6).await;
    let t = CommandStatus::ESME_RTHROTTLED;
    let ok = CommandStatus::ESME_ROK;
    assert_eq!(got, [ok, ok, t, ok, ok, t]);

    sim.set_faults(Faults {
        submit_status: vec![rule("ESME_RMSGQFUL:next=2"), rule("0x00000401:always")],
        ..Faults::default()
    });
    let got = statuses(&mut c, 3).await;
    let q = CommandStatus::ESME_RMSGQFUL;
    assert_eq!(got, [q, q, CommandStatus(0x401)]);

    sim.set_faults(Faults {
        submit_status: vec![rule("ESME_RTHROTTLED:rate=1.0")],
        ..Faults::default()
    });
    assert_eq!(statuses(&mut c, 2).await, [t, t]);
    sim.clear_faults();
    assert_eq!(statuses(&mut c, 1).await, [ok]);
    assert_eq!(sim.accepted_submits(), 5);
}

#[tokio::test]
async fn responses_can_be_delayed_without_blocking_the_window() {
    let sim = start(Faults {
        response_delay: Some(Delay::from_millis(200)),
        ..Faults::default()
    })
    .await;
    let mut c = bind(&sim).await;
    let started = Instant::now();
    let mut seqs = Vec::new();
    for i in 0..20 {
        let sm = submit_sm("1", "2", &format!("d{i}"), false).unwrap();
        seqs.push(c.send_request(Body::SubmitSm(sm)).await.unwrap());
    }
    for seq in seqs {
        assert!(c.response_to(seq).await.unwrap().status.is_ok());
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    // Twenty delayed responses overlap: far less than 20 x 200 ms.
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

#[tokio::test]
async fn some_submits_are_never_answered() {
    let sim = start(Faults {
        no_response: Some(Trigger::Every(2)),
        ..Faults::default()
    })
    .await;
    let mut c = bind(&sim).await;
    let sm = submit_sm("1", "2", "x", false).unwrap();
    let s1 = c.send_request(Body::SubmitSm(sm.clone())).await.unwrap();
    let _s2 = c.send_request(Body::SubmitSm(sm.clone())).await.unwrap();
    let s3 = c.send_request(Body::SubmitSm(sm)).await.unwrap();
    assert_eq!(c.recv().await.unwrap().sequence, s1);
    assert_eq!(c.recv().await.unwrap().sequence, s3);
    assert!(c
        .recv_within(Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());
    assert_eq!(sim.stats().event("ignored_submits"), 1);
}

#[tokio::test]
async fn connections_close_after_n_pdus() {
    let sim = start(Faults {
        connection: Some(ConnectionFault {
            after_pdus: 3,
            action: BreakAction::Close,
            connections: Some(1),
        }),
        ..Faults::default()
    })
    .await;
    let mut c = bind(&sim).await; // PDU 1
    assert_eq!(statuses(&mut c, 2).await.len(), 2); // PDUs 2 and 3 are still answered
    assert!(c.wait_closed().await);
    // Only the first connection was affected.
    let mut c = bind(&sim).await;
    assert_eq!(statuses(&mut c, 5).await.len(), 5);
    assert_eq!(sim.stats().event("connections_broken"), 1);
}

#[tokio::test]
async fn connections_reset_after_n_pdus() {
    let sim = start(Faults {
        connection: Some(ConnectionFault {
            after_pdus: 2,
            action: BreakAction::Reset,
            connections: None,
        }),
        ..Faults::default()
    })
    .await;
    let mut c = bind(&sim).await;
    let sm = submit_sm("1", "2", "x", false).unwrap();
    let _ = c.send_request(Body::SubmitSm(sm)).await.unwrap();
    let err = loop {
        match c.recv().await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    match err {
        ClientError::Io(e) | ClientError::Codec(connector::protocol::codec::CodecError::Io(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset)
        }
        other => panic!("expected a reset, got {other}"),
    }
}

#[tokio::test]
async fn silent_connections_stay_open_but_answer_nothing() {
    let sim = start(Faults {
        connection: Some(ConnectionFault {
            after_pdus: 1,
            action: BreakAction::Silent,
            connections: None,
        }),
        ..Faults::default()
    })
    .await;
    let mut c = bind(&sim).await;
    c.send_request(Body::EnquireLink).await.unwrap();
    // Neither an answer nor a close: half-open.
    assert!(c
        .recv_within(Duration::from_millis(300))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn connections_can_be_refused_and_accepted_again() {
    let sim = start(Faults::default()).await;
    sim.update_faults(|f| f.refuse_connections = Some(RefuseMode::Refuse));
    let addr = sim.addr();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            // The listener closes asynchronously after the change; a connect that raced
            // with the close may succeed or be reset.
            _ => {
                assert!(Instant::now() < deadline, "still accepting");
                tokio::task::yield_now().await;
            }
        }
    }
    sim.update_faults(|f| f.refuse_connections = Some(RefuseMode::AcceptAndClose));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut c = loop {
        if let Ok(c) = RawClient::connect(addr).await {
            break c;
        }
        assert!(Instant::now() < deadline, "not listening again");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(c.wait_closed().await);
    sim.clear_faults();
    let mut c = bind(&sim).await;
    assert_eq!(statuses(&mut c, 1).await, [CommandStatus::ESME_ROK]);
}

#[tokio::test]
async fn live_connections_can_be_broken_or_unbound_on_demand() {
    let sim = start(Faults::default()).await;
    let mut a = bind(&sim).await;
    assert!(sim.wait_bound(1, Duration::from_secs(5)).await);
    assert_eq!(sim.unbind_all(), 1);
    let unbind = a.recv().await.unwrap();
    assert_eq!(unbind.body, Body::Unbind);
    a.send(&connector::protocol::codec::Pdu::new(
        unbind.sequence,
        Body::UnbindResp,
    ))
    .await
    .unwrap();
    assert!(a.wait_closed().await);

    let mut b = bind(&sim).await;
    assert!(sim.wait_bound(1, Duration::from_secs(5)).await);
    assert_eq!(sim.break_connections(BreakAction::Close), 1);
    assert!(b.wait_closed().await);
}

#[tokio::test]
async fn a_status_for_some_seconds_then_recovery() {
    let rule: StatusRule = "ESME_RMSGQFUL:for=1".parse().unwrap();
    let sim = start(Faults {
        submit_status: vec![rule],
        ..Faults::default()
    })
    .await;
    let mut c = bind(&sim).await;
    let q = CommandStatus::ESME_RMSGQFUL;
    let ok = CommandStatus::ESME_ROK;
    assert_eq!(statuses(&mut c, 3).await, [q, q, q]);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(statuses(&mut c, 2).await, [ok, ok]);

    // Installed again at run time (YAML / JSON form): the clock restarts.
    let faults: Faults = serde_json::from_str(
        r#"{"submit_status":[{"status":"ESME_RMSGQFUL","when":{"for":0.5}}]}"#,
    )
    .unwrap();
    sim.set_faults(faults);
    assert_eq!(statuses(&mut c, 1).await, [q]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(statuses(&mut c, 1).await, [ok]);
    assert_eq!(sim.accepted_submits(), 3);
}
