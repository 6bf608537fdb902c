//! Binds against the simulator: every outcome.

use std::time::Duration;

use connector::protocol::codec::{Body, CommandStatus};
use e2e::sim::client::{submit_sm, RawClient};
use e2e::sim::{
    BindFailure, BindMode, Faults, SimConfig, SimHandle, Simulator, TransceiverRefusal, Trigger,
};

async fn sim(config: SimConfig) -> SimHandle {
    Simulator::start(config).await.expect("start simulator")
}

async fn client(sim: &SimHandle) -> RawClient {
    RawClient::connect(sim.addr()).await.expect("connect")
}

#[tokio::test]
async fn all_three_binds_succeed_with_the_right_credentials() {
    let sim = sim(SimConfig::with_account("alice", "secret")).await;
    let mut clients = Vec::new();
    for mode in [
        BindMode::Transmitter,
        BindMode::Receiver,
        BindMode::Transceiver,
    ] {
        let mut c = client(&sim).await;
        let resp = c.bind(mode, "alice", "secret").await.unwrap();
        assert_eq!(resp.status, CommandStatus::ESME_ROK, "{mode:?}");
        let body = match (&resp.body, mode) {
            (Body::BindTransmitterResp(b), BindMode::Transmitter)
            | (Body::BindReceiverResp(b), BindMode::Receiver)
            | (Body::BindTransceiverResp(b), BindMode::Transceiver) => b,
            other => panic!("unexpected response {other:?}"),
        };
        assert_eq!(body.system_id, "smsc-sim");
        assert_eq!(body.tlvs.sc_interface_version(), Some(&0x34));
        clients.push(c);
    }
    assert!(sim.wait_bound(3, Duration::from_secs(5)).await);
    assert_eq!(sim.stats().event("binds"), 3);
}

#[tokio::test]
async fn wrong_password_and_unknown_system_id_are_refused() {
    let sim = sim(SimConfig::with_account("alice", "secret")).await;
    let mut c = client(&sim).await;
    let resp = c
        .bind(BindMode::Transceiver, "alice", "nope")
        .await
        .unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_RINVPASWD);
    let resp = c
        .bind(BindMode::Transceiver, "mallory", "secret")
        .await
        .unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_RINVSYSID);
    // Still open: the right credentials bind on the same connection.
    let resp = c
        .bind(BindMode::Transceiver, "alice", "secret")
        .await
        .unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);
    assert_eq!(sim.stats().event("bind_failures"), 2);
}

#[tokio::test]
async fn second_bind_on_a_bound_session_is_already_bound() {
    let sim = sim(SimConfig::with_account("alice", "secret")).await;
    let mut c = client(&sim).await;
    c.bind(BindMode::Transmitter, "alice", "secret")
        .await
        .unwrap();
    let resp = c.bind(BindMode::Receiver, "alice", "secret").await.unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_RALYBND);
}

#[tokio::test]
async fn requests_in_the_wrong_state_get_invalid_bind_status() {
    let sim = sim(SimConfig::with_account("alice", "secret")).await;
    let mut open = client(&sim).await;
    let sm = submit_sm("1000", "2000", "hi", false).unwrap();
    let resp = open.submit(sm.clone()).await.unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_RINVBNDSTS);
    let resp = open.unbind().await.unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_RINVBNDSTS);
    // enquire_link is answered in any state.
    let resp = open.request(Body::EnquireLink).await.unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);

    let mut rx = client(&sim).await;
    rx.bind(BindMode::Receiver, "alice", "secret")
        .await
        .unwrap();
    let resp = rx.submit(sm).await.unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_RINVBNDSTS);
}

#[tokio::test]
async fn refused_transceiver_binds_force_a_transmitter_receiver_pair() {
    let mut config = SimConfig::with_account("alice", "secret");
    config.faults.refuse_transceiver = Some(TransceiverRefusal::GenericNack);
    let sim = sim(config).await;
    let mut c = client(&sim).await;
    let resp = c
        .bind(BindMode::Transceiver, "alice", "secret")
        .await
        .unwrap();
    assert_eq!(resp.body, Body::GenericNack);
    assert_eq!(resp.status, CommandStatus::ESME_RINVCMDID);

    sim.update_faults(|f| {
        f.refuse_transceiver = Some(TransceiverRefusal::Response(e2e::sim::Status(
            CommandStatus::ESME_RINVCMDID,
        )))
    });
    let resp = c
        .bind(BindMode::Transceiver, "alice", "secret")
        .await
        .unwrap();
    assert!(matches!(resp.body, Body::BindTransceiverResp(_)));
    assert_eq!(resp.status, CommandStatus::ESME_RINVCMDID);

    let mut tx = client(&sim).await;
    let mut rx = client(&sim).await;
    let t = tx
        .bind(BindMode::Transmitter, "alice", "secret")
        .await
        .unwrap();
    let r = rx
        .bind(BindMode::Receiver, "alice", "secret")
        .await
        .unwrap();
    assert_eq!(
        (t.status, r.status),
        (CommandStatus::ESME_ROK, CommandStatus::ESME_ROK)
    );
}

#[tokio::test]
async fn bind_failures_on_demand() {
    let mut config = SimConfig::with_account("alice", "secret");
    config.faults.bind_failure = Some(BindFailure {
        status: "ESME_RBINDFAIL".parse().unwrap(),
        when: Trigger::Next(2),
    });
    let sim = sim(config).await;
    let mut c = client(&sim).await;
    for _ in 0..2 {
        let resp = c
            .bind(BindMode::Transceiver, "alice", "secret")
            .await
            .unwrap();
        assert_eq!(resp.status, CommandStatus::ESME_RBINDFAIL);
    }
    let resp = c
        .bind(BindMode::Transceiver, "alice", "secret")
        .await
        .unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);
    sim.set_faults(Faults::default());
}

#[tokio::test]
async fn unbind_is_answered_and_the_connection_closed() {
    let sim = sim(SimConfig::with_account("alice", "secret")).await;
    let mut c = client(&sim).await;
    c.bind(BindMode::Transceiver, "alice", "secret")
        .await
        .unwrap();
    assert!(sim.wait_bound(1, Duration::from_secs(5)).await);
    let resp = c.unbind().await.unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);
    assert!(c.wait_closed().await);
    assert!(sim.wait_bound_at_most(0, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn the_simulator_sends_enquire_link_on_its_timer() {
    let mut config = SimConfig::with_account("alice", "secret");
    config.enquire_link_secs = 1;
    let sim = sim(config).await;
    let mut c = client(&sim).await;
    c.bind(BindMode::Transceiver, "alice", "secret")
        .await
        .unwrap();
    let pdu = c.recv().await.unwrap();
    assert_eq!(pdu.body, Body::EnquireLink);
    c.send(&connector::protocol::codec::Pdu::new(
        pdu.sequence,
        Body::EnquireLinkResp,
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn unknown_commands_and_malformed_pdus_get_generic_nack() {
    let sim = sim(SimConfig::with_account("alice", "secret")).await;
    let mut c = client(&sim).await;
    // command_id 0x00000099 does not exist.
    c.send_raw(&[0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 42])
        .await
        .unwrap();
    let pdu = c.recv().await.unwrap();
    assert_eq!(
        (pdu.body, pdu.status, pdu.sequence),
        (Body::GenericNack, CommandStatus::ESME_RINVCMDID, 42)
    );
    // An enquire_link with a body is malformed.
    c.send_raw(&[0, 0, 0, 17, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 43, 1])
        .await
        .unwrap();
    let pdu = c.recv().await.unwrap();
    assert_eq!((pdu.body, pdu.sequence), (Body::GenericNack, 43));
    assert!(!pdu.status.is_ok());
}

#[tokio::test]
async fn binds_over_the_per_system_id_limit_are_refused_until_one_is_released() {
    let mut config = SimConfig::with_account("alice", "secret");
    config.accounts.push(e2e::sim::Account::new("bob", "pw"));
    config.bind_limit = Some("2:ESME_RALYBND".parse().expect("bind limit"));
    let sim = sim(config).await;
    let mut first = client(&sim).await;
    let mut second = client(&sim).await;
    let mut third = client(&sim).await;
    for c in [&mut first, &mut second] {
        let resp = c
            .bind(BindMode::Transmitter, "alice", "secret")
            .await
            .unwrap();
        assert_eq!(resp.status, CommandStatus::ESME_ROK);
    }
    let resp = third
        .bind(BindMode::Receiver, "alice", "secret")
        .await
        .unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_RALYBND);
    // The limit is per system_id: another account still binds.
    let mut other = client(&sim).await;
    let resp = other
        .bind(BindMode::Transceiver, "bob", "pw")
        .await
        .unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);
    assert_eq!(sim.bound_for("alice"), 2);
    assert_eq!(sim.stats().event("binds_over_limit"), 1);
    // Releasing one bind makes room on the same refused connection.
    first.unbind().await.unwrap();
    assert!(sim.wait_bound_at_most(2, Duration::from_secs(5)).await);
    let resp = third
        .bind(BindMode::Receiver, "alice", "secret")
        .await
        .unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);
    assert_eq!(sim.bound_for("alice"), 2);
    assert_eq!(sim.peak_bound_sessions(), 3);
}

#[test]
fn the_bind_limit_defaults_to_bind_failed() {
    let limit: e2e::sim::BindLimit = "4".parse().expect("bind limit");
    assert_eq!(limit.max, 4);
    assert_eq!(limit.status.0, CommandStatus::ESME_RBINDFAIL);
    assert!("x".parse::<e2e::sim::BindLimit>().is_err());
    assert!("2:ESME_NOPE".parse::<e2e::sim::BindLimit>().is_err());
}
