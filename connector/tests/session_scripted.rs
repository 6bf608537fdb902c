//! The session engine against a scripted SMSC peer over loopback TCP: each test drives the
//! peer step by step, so the order of events is explicit (no sleeps as synchronisation).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_util::codec::Framed;

use connector::pipeline::events::{BindMode, EndpointRole, HealthState};
use connector::protocol::codec::{
    Address, BindResp, Body, COctetString, CommandId, CommandStatus, DeliverSm, Pdu, SmppCodec,
    SubmitSm, SubmitSmResp,
};
use connector::session::{
    CredentialsError, CredentialsProvider, EngineConfig, Inbound, Permit, SessionEngine,
    SessionEvent, SessionHandle, SessionState, SessionStreams, SmppCredentials, StaticCredentials,
    SubmitError, SubmitGate, UnboundCause,
};
use crds::config::{Endpoint, SessionConfig};

const WAIT: Duration = Duration::from_secs(10);

/// A scripted SMSC: accepts connections and lets the test read and write PDUs.
struct Peer {
    listener: TcpListener,
}

struct Conn {
    io: Framed<TcpStream, SmppCodec>,
}

impl Peer {
    async fn new() -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        Peer { listener }
    }

    fn endpoint(&self) -> Endpoint {
        let addr = self.listener.local_addr().expect("local addr");
        Endpoint {
            host: "127.0.0.1".into(),
            port: addr.port(),
            tls: None,
            local_address: None,
        }
    }

    async fn accept(&self) -> Conn {
        let (stream, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .expect("a connection in time")
            .expect("accept");
        Conn {
            io: Framed::new(stream, SmppCodec::default()),
        }
    }

    /// Accepts a connection and answers its bind with ESME_ROK.
    async fn accept_bound(&self) -> (Conn, CommandId) {
        let mut conn = self.accept().await;
        let id = conn.answer_bind(CommandStatus::ESME_ROK).await;
        (conn, id)
    }
}

impl Conn {
    async fn recv(&mut self) -> Pdu {
        tokio::time::timeout(WAIT, self.io.next())
            .await
            .expect("a PDU in time")
            .expect("connection open")
            .expect("no framing error")
            .expect("a valid PDU")
    }

    /// The next PDU that is not an enquire_link (those are answered).
    async fn recv_skip_heartbeat(&mut self) -> Pdu {
        loop {
            let pdu = self.recv().await;
            if pdu.command_id() == CommandId::EnquireLink {
                self.send(Pdu::new(pdu.sequence, Body::EnquireLinkResp))
                    .await;
                continue;
            }
            return pdu;
        }
    }

    async fn send(&mut self, pdu: Pdu) {
        self.io.send(&pdu).await.expect("send");
    }

    /// Reads a bind and answers it with `status`; returns the bind's command id.
    async fn answer_bind(&mut self, status: CommandStatus) -> CommandId {
        let bind = self.recv().await;
        let resp = bind.response(status).expect("a bind has a response");
        let resp = match resp.body {
            Body::BindTransceiverResp(_) if status.is_ok() => Pdu::with_status(
                bind.sequence,
                status,
                Body::BindTransceiverResp(BindResp {
                    system_id: COctetString::new(&b"SCRIPTED"[..]).expect("short"),
                    tlvs: Default::default(),
                }),
            ),
            _ => resp,
        };
        self.send(resp).await;
        bind.command_id()
    }

    async fn answer_submit(&mut self, pdu: &Pdu, status: CommandStatus, id: &str) {
        assert_eq!(pdu.command_id(), CommandId::SubmitSm);
        let body = SubmitSmResp::new(COctetString::new(id.as_bytes().to_vec()).expect("short id"));
        self.send(Pdu::with_status(
            pdu.sequence,
            status,
            Body::SubmitSmResp(body),
        ))
        .await;
    }

    /// Asserts that nothing arrives within `d`.
    async fn assert_silent(&mut self, d: Duration) {
        if let Ok(Some(pdu)) = tokio::time::timeout(d, self.io.next()).await {
            panic!("unexpected PDU {pdu:?}");
        }
    }
}

fn creds() -> Arc<StaticCredentials> {
    StaticCredentials::new(SmppCredentials {
        system_id: "esme".into(),
        password: "secret".into(),
        system_type: None,
    })
}

fn fast_session() -> SessionConfig {
    SessionConfig {
        window: 16,
        binds: 1,
        response_timeout_ms: 5_000,
        enquire_link_interval_seconds: 30,
        enquire_link_timeout_seconds: 10,
        read_idle_timeout_seconds: 90,
        bind_timeout_seconds: 5,
        reconnect_initial_seconds: 1,
        reconnect_max_seconds: 2,
        credentials_backoff_seconds: 3,
        max_pdu_bytes: 65_536,
        drain_timeout_seconds: 5,
    }
}

fn config(peer: &Peer) -> EngineConfig {
    let mut cfg = EngineConfig::new(peer.endpoint());
    cfg.session = fast_session();
    cfg
}

fn sm(text: &str) -> SubmitSm {
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

async fn next_inbound(streams: &mut SessionStreams) -> Inbound {
    tokio::time::timeout(WAIT, streams.inbound.recv())
        .await
        .expect("inbound in time")
        .expect("inbound open")
}

#[tokio::test]
async fn bind_resp_and_the_next_pdus_in_one_tcp_write() {
    let peer = Peer::new().await;
    let (handle, mut streams) = SessionEngine::start(config(&peer), creds());
    let mut conn = peer.accept().await;
    let bind = conn.recv().await;
    assert_eq!(bind.command_id(), CommandId::BindTransceiver);
    match &bind.body {
        Body::BindTransceiver(b) => {
            assert_eq!(b.interface_version, 0x34);
            assert_eq!(b.system_id.as_bytes(), b"esme");
        }
        other => panic!("unexpected {other:?}"),
    }
    // bind_resp, enquire_link and deliver_sm in a single write.
    let mut bytes = bytes::BytesMut::new();
    Pdu::with_status(
        bind.sequence,
        CommandStatus::ESME_ROK,
        Body::BindTransceiverResp(BindResp::default()),
    )
    .encode(&mut bytes)
    .expect("encode");
    Pdu::new(77, Body::EnquireLink)
        .encode(&mut bytes)
        .expect("encode");
    let receipt = DeliverSm {
        esm_class: 0x04,
        short_message: Bytes::from_static(b"id:1 stat:DELIVRD"),
        ..DeliverSm::default()
    };
    Pdu::new(78, Body::DeliverSm(receipt))
        .encode(&mut bytes)
        .expect("encode");
    conn.io.get_mut().write_all(&bytes).await.expect("write");

    let resp = conn.recv().await;
    assert_eq!(resp.command_id(), CommandId::EnquireLinkResp);
    assert_eq!(resp.sequence, 77);
    match next_inbound(&mut streams).await {
        Inbound::DeliverSm {
            sm,
            responder,
            endpoint,
        } => {
            assert_eq!(endpoint, EndpointRole::Primary);
            assert_eq!(&sm.short_message[..], b"id:1 stat:DELIVRD");
            assert!(responder.ack());
        }
        other => panic!("unexpected {other:?}"),
    }
    let resp = conn.recv().await;
    assert_eq!(resp.command_id(), CommandId::DeliverSmResp);
    assert_eq!((resp.sequence, resp.status), (78, CommandStatus::ESME_ROK));
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn falls_back_to_transmitter_and_receiver_with_receipts_on_the_receiver() {
    let peer = Peer::new().await;
    let (handle, mut streams) = SessionEngine::start(config(&peer), creds());
    let mut events = handle.events();
    let mut trx = peer.accept().await;
    let bind = trx.recv().await;
    assert_eq!(bind.command_id(), CommandId::BindTransceiver);
    trx.send(Pdu::generic_nack(
        bind.sequence,
        CommandStatus::ESME_RINVCMDID,
    ))
    .await;
    let (mut tx, id) = peer.accept_bound().await;
    assert_eq!(id, CommandId::BindTransmitter);
    let (mut rx, id) = peer.accept_bound().await;
    assert_eq!(id, CommandId::BindReceiver);
    let ev = next_event(&mut events).await;
    assert_eq!(ev.state, HealthState::Bound);
    assert_eq!(ev.bind_mode, Some(BindMode::TransmitterReceiver));
    assert!(matches!(
        handle.state(),
        SessionState::Bound {
            mode: BindMode::TransmitterReceiver,
            ..
        }
    ));

    let submit = tokio::spawn({
        let h = handle.clone();
        async move { h.submit(sm("hello")).await }
    });
    let pdu = tx.recv_skip_heartbeat().await;
    tx.answer_submit(&pdu, CommandStatus::ESME_ROK, "abc123")
        .await;
    let outcome = submit.await.expect("join").expect("accepted");
    assert_eq!(outcome.message_id, "abc123");

    let receipt = DeliverSm {
        esm_class: 0x04,
        short_message: Bytes::from_static(b"id:abc123 stat:DELIVRD"),
        ..DeliverSm::default()
    };
    rx.send(Pdu::new(5, Body::DeliverSm(receipt))).await;
    match next_inbound(&mut streams).await {
        Inbound::DeliverSm { responder, .. } => assert!(responder.ack()),
        other => panic!("unexpected {other:?}"),
    }
    let resp = rx.recv_skip_heartbeat().await;
    assert_eq!(
        (resp.command_id(), resp.sequence),
        (CommandId::DeliverSmResp, 5)
    );
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_full_window_makes_submits_wait() {
    let peer = Peer::new().await;
    let mut cfg = config(&peer);
    cfg.session.window = 2;
    let (handle, _streams) = SessionEngine::start(cfg, creds());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let mut tasks = Vec::new();
    for i in 0..3 {
        let h = handle.clone();
        tasks.push(tokio::spawn(
            async move { h.submit(sm(&format!("m{i}"))).await },
        ));
    }
    let a = conn.recv_skip_heartbeat().await;
    let b = conn.recv_skip_heartbeat().await;
    assert_eq!(handle.free_window(), 0);
    conn.assert_silent(Duration::from_millis(300)).await;
    conn.answer_submit(&a, CommandStatus::ESME_ROK, "1").await;
    let c = conn.recv_skip_heartbeat().await;
    assert_eq!(c.command_id(), CommandId::SubmitSm);
    conn.answer_submit(&b, CommandStatus::ESME_ROK, "2").await;
    conn.answer_submit(&c, CommandStatus::ESME_ROK, "3").await;
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.expect("join").expect("accepted").message_id);
    }
    ids.sort();
    assert_eq!(ids, vec!["1", "2", "3"]);
    assert_eq!(handle.free_window(), 2);
    handle.shutdown(Duration::from_secs(1)).await;
}

/// A gate that hands out permits only when the test adds them.
#[derive(Debug)]
struct TestGate {
    permits: tokio::sync::Semaphore,
    asked: AtomicU32,
}

impl SubmitGate for TestGate {
    fn permit(&self) -> BoxFuture<'_, Permit> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {
            if let Ok(p) = self.permits.acquire().await {
                p.forget();
            }
            Permit::Open
        })
    }
}

#[tokio::test]
async fn a_submit_is_written_only_with_its_gate_permit_and_a_cancel_while_waiting_writes_nothing() {
    let peer = Peer::new().await;
    let mut cfg = config(&peer);
    cfg.session.window = 4;
    let gate = Arc::new(TestGate {
        permits: tokio::sync::Semaphore::new(0),
        asked: AtomicU32::new(0),
    });
    let (handle, _streams) = SessionEngine::start_gated(cfg, creds(), gate.clone());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let cancel = tokio_util::sync::CancellationToken::new();
    let waiting = tokio::spawn({
        let (h, cancel) = (handle.clone(), cancel.clone());
        async move { h.submit_before(sm("gated"), None, &cancel).await }
    });
    // It holds its window place while it waits for the permit; nothing is written.
    conn.assert_silent(Duration::from_millis(300)).await;
    assert_eq!(gate.asked.load(Ordering::SeqCst), 1);
    assert_eq!(handle.free_window(), 3);
    cancel.cancel();
    let err = waiting.await.expect("join").expect_err("cancelled");
    assert!(matches!(err, SubmitError::ShuttingDown), "{err:?}");
    assert_eq!(handle.free_window(), 4, "the window place is given back");
    conn.assert_silent(Duration::from_millis(200)).await;

    let sent = tokio::spawn({
        let h = handle.clone();
        async move { h.submit(sm("permitted")).await }
    });
    conn.assert_silent(Duration::from_millis(200)).await;
    gate.permits.add_permits(1);
    let pdu = conn.recv_skip_heartbeat().await;
    conn.answer_submit(&pdu, CommandStatus::ESME_ROK, "7").await;
    let outcome = sent.await.expect("join").expect("accepted");
    assert_eq!(outcome.message_id, "7");
    assert_eq!(gate.asked.load(Ordering::SeqCst), 2);
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Every submit_sm written takes a gate permit of its own: a resend after ESME_RTHROTTLED or
/// after a temporary error waits for a new one (so the operator's TPS budget counts what the
/// SMSC really receives), while the link keeps reading and other submits keep flowing.
#[tokio::test]
async fn a_resend_waits_for_a_gate_permit_of_its_own() {
    let peer = Peer::new().await;
    let mut cfg = config(&peer);
    cfg.session.window = 4;
    cfg.retry.initial_delay_ms = 10;
    let gate = Arc::new(TestGate {
        permits: tokio::sync::Semaphore::new(2),
        asked: AtomicU32::new(0),
    });
    let (handle, _streams) = SessionEngine::start_gated(cfg, creds(), gate.clone());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let throttled = tokio::spawn({
        let h = handle.clone();
        async move { h.submit(sm("throttled")).await }
    });
    let first = conn.recv_skip_heartbeat().await;
    conn.answer_submit(&first, CommandStatus::ESME_RTHROTTLED, "")
        .await;
    let transient = tokio::spawn({
        let h = handle.clone();
        async move { h.submit(sm("transient")).await }
    });
    let second = conn.recv_skip_heartbeat().await;
    assert_eq!(second.body, sm_body("transient"));
    conn.answer_submit(&second, CommandStatus::ESME_RSYSERR, "")
        .await;
    // Both are due again, and both wait for permits: nothing is written.
    conn.assert_silent(Duration::from_millis(400)).await;
    // The link still reads and answers while they wait.
    conn.send(Pdu::new(77, Body::EnquireLink)).await;
    let resp = conn.recv().await;
    assert_eq!(
        (resp.command_id(), resp.sequence),
        (CommandId::EnquireLinkResp, 77)
    );
    gate.permits.add_permits(1);
    let resent = conn.recv_skip_heartbeat().await;
    conn.assert_silent(Duration::from_millis(200)).await;
    gate.permits.add_permits(1);
    let resent2 = conn.recv_skip_heartbeat().await;
    let mut bodies = [resent.body.clone(), resent2.body.clone()];
    bodies.sort_by_key(|b| format!("{b:?}"));
    let mut want = [sm_body("throttled"), sm_body("transient")];
    want.sort_by_key(|b| format!("{b:?}"));
    assert_eq!(bodies, want);
    conn.answer_submit(&resent, CommandStatus::ESME_ROK, "a")
        .await;
    conn.answer_submit(&resent2, CommandStatus::ESME_ROK, "b")
        .await;
    assert_eq!(
        throttled.await.expect("join").expect("accepted").attempts,
        2
    );
    assert_eq!(
        transient.await.expect("join").expect("accepted").attempts,
        2
    );
    assert_eq!(
        gate.permits.available_permits(),
        0,
        "four submit_sm written, four permits taken"
    );
    handle.shutdown(Duration::from_secs(1)).await;
}

/// A gate whose first permit is already stale when granted (as after a pause of the link).
#[derive(Debug, Default)]
struct StaleFirstGate {
    asked: AtomicU32,
}

impl SubmitGate for StaleFirstGate {
    fn permit(&self) -> BoxFuture<'_, Permit> {
        let n = self.asked.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n == 0 {
                Permit::Until(tokio::time::Instant::now())
            } else {
                Permit::Open
            }
        })
    }
}

#[tokio::test]
async fn a_submit_whose_permit_went_stale_takes_a_new_one_before_it_is_written() {
    let peer = Peer::new().await;
    let gate = Arc::new(StaleFirstGate::default());
    let (handle, _streams) = SessionEngine::start_gated(config(&peer), creds(), gate.clone());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let sent = tokio::spawn({
        let h = handle.clone();
        async move { h.submit(sm("stale")).await }
    });
    let pdu = conn.recv_skip_heartbeat().await;
    conn.answer_submit(&pdu, CommandStatus::ESME_ROK, "9").await;
    let outcome = sent.await.expect("join").expect("accepted");
    assert_eq!(outcome.attempts, 1, "written once");
    assert_eq!(
        gate.asked.load(Ordering::SeqCst),
        2,
        "a second permit taken"
    );
    conn.assert_silent(Duration::from_millis(200)).await;
    handle.shutdown(Duration::from_secs(1)).await;
}

fn sm_body(text: &str) -> Body {
    Body::SubmitSm(sm(text))
}

#[tokio::test]
async fn a_late_response_is_reported_with_its_message_id() {
    let peer = Peer::new().await;
    let mut cfg = config(&peer);
    cfg.session.response_timeout_ms = 200;
    let (handle, mut streams) = SessionEngine::start(cfg, creds());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let submit = tokio::spawn({
        let h = handle.clone();
        async move { h.submit(sm("slow")).await }
    });
    let pdu = conn.recv_skip_heartbeat().await;
    let err = submit.await.expect("join").expect_err("timed out");
    assert!(matches!(err, SubmitError::ResponseTimeout { sequence } if sequence == pdu.sequence));
    assert!(err.is_retryable());
    conn.answer_submit(&pdu, CommandStatus::ESME_ROK, "late-id")
        .await;
    let late = tokio::time::timeout(WAIT, streams.late.recv())
        .await
        .expect("late in time")
        .expect("open");
    assert_eq!(late.message_id.as_str(), "late-id");
    assert_eq!(late.sequence, pdu.sequence);
    let c = handle.counters();
    assert_eq!((c.response_timeouts, c.late_responses), (1, 1));
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_unanswered_enquire_link_kills_the_session() {
    let peer = Peer::new().await;
    let mut cfg = config(&peer);
    cfg.session.enquire_link_interval_seconds = 1;
    cfg.session.enquire_link_timeout_seconds = 1;
    let (handle, _streams) = SessionEngine::start(cfg, creds());
    let mut events = handle.events();
    let (mut conn, _) = peer.accept_bound().await;
    assert_eq!(next_event(&mut events).await.state, HealthState::Bound);
    let el = conn.recv().await;
    assert_eq!(el.command_id(), CommandId::EnquireLink);
    // Silent peer: no enquire_link_resp.
    let ev = next_event(&mut events).await;
    assert_eq!(ev.state, HealthState::Unbound);
    assert!(ev.reason.contains("enquire_link"), "{}", ev.reason);
    // And it reconnects.
    let (_conn2, _) = peer.accept_bound().await;
    assert_eq!(next_event(&mut events).await.state, HealthState::Bound);
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_disconnect_hands_back_every_outstanding_submit() {
    let peer = Peer::new().await;
    let (handle, _streams) = SessionEngine::start(config(&peer), creds());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let h = handle.clone();
            tokio::spawn(async move { h.submit(sm(&format!("m{i}"))).await })
        })
        .collect();
    for _ in 0..5 {
        conn.recv_skip_heartbeat().await;
    }
    drop(conn);
    for t in tasks {
        let r = t.await.expect("join");
        assert_eq!(
            r,
            Err(SubmitError::Disconnected {
                maybe_accepted: true
            })
        );
    }
    assert_eq!(handle.free_window(), 16);
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn graceful_stop_waits_for_a_full_window_then_unbinds() {
    let peer = Peer::new().await;
    let mut cfg = config(&peer);
    cfg.session.window = 4;
    let (handle, _streams) = SessionEngine::start(cfg, creds());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let h = handle.clone();
            tokio::spawn(async move { h.submit(sm(&format!("m{i}"))).await })
        })
        .collect();
    let mut pdus = Vec::new();
    for _ in 0..4 {
        pdus.push(conn.recv_skip_heartbeat().await);
    }
    assert_eq!(handle.free_window(), 0);
    let stopper = tokio::spawn({
        let h = handle.clone();
        async move { h.shutdown(Duration::from_secs(5)).await }
    });
    let mut state = handle.watch_state();
    tokio::time::timeout(WAIT, state.wait_for(|s| *s == SessionState::Stopping))
        .await
        .expect("stopping in time")
        .expect("open");
    assert_eq!(
        handle.submit(sm("late")).await,
        Err(SubmitError::ShuttingDown)
    );
    for (i, p) in pdus.iter().enumerate() {
        conn.answer_submit(p, CommandStatus::ESME_ROK, &format!("id{i}"))
            .await;
    }
    let unbind = conn.recv_skip_heartbeat().await;
    assert_eq!(unbind.command_id(), CommandId::Unbind);
    conn.send(Pdu::new(unbind.sequence, Body::UnbindResp)).await;
    for t in tasks {
        assert!(t.await.expect("join").is_ok());
    }
    tokio::time::timeout(WAIT, stopper)
        .await
        .expect("stopped in time")
        .expect("join");
    assert_eq!(handle.state(), SessionState::Stopped);
}

struct CountingCredentials {
    refreshes: AtomicU32,
}

impl CredentialsProvider for CountingCredentials {
    fn credentials(
        &self,
        _endpoint: EndpointRole,
    ) -> BoxFuture<'_, Result<SmppCredentials, CredentialsError>> {
        Box::pin(async {
            Ok(SmppCredentials {
                system_id: "esme".into(),
                password: "wrong".into(),
                system_type: None,
            })
        })
    }

    fn refresh(&self, _endpoint: EndpointRole) -> BoxFuture<'_, Result<(), CredentialsError>> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn refused_credentials_are_reported_apart_and_refetched() {
    let peer = Peer::new().await;
    let provider = Arc::new(CountingCredentials {
        refreshes: AtomicU32::new(0),
    });
    let (handle, _streams) = SessionEngine::start(config(&peer), provider.clone());
    let mut events = handle.events();
    let mut conn = peer.accept().await;
    conn.answer_bind(CommandStatus::ESME_RINVPASWD).await;
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
    match s {
        SessionState::Unbound { cause, retry_in } => {
            assert_eq!(
                cause,
                UnboundCause::CredentialsRefused {
                    status: CommandStatus::ESME_RINVPASWD
                }
            );
            // The credentials backoff (3 s here) is slower than the network one (1 s).
            assert!(retry_in >= Duration::from_millis(2_400), "{retry_in:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(provider.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(handle.submit(sm("x")).await, Err(SubmitError::NotBound));
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn throttling_retries_the_message_after_a_delay() {
    let peer = Peer::new().await;
    let mut cfg = config(&peer);
    cfg.retry.initial_delay_ms = 50;
    let (handle, _streams) = SessionEngine::start(cfg, creds());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let submit = tokio::spawn({
        let h = handle.clone();
        async move { h.submit(sm("busy")).await }
    });
    let first = conn.recv_skip_heartbeat().await;
    conn.answer_submit(&first, CommandStatus::ESME_RTHROTTLED, "")
        .await;
    let second = conn.recv_skip_heartbeat().await;
    assert_ne!(first.sequence, second.sequence);
    assert_eq!(
        first.body,
        Pdu {
            sequence: 0,
            ..second.clone()
        }
        .body
    );
    conn.answer_submit(&second, CommandStatus::ESME_ROK, "ok-2")
        .await;
    let outcome = submit.await.expect("join").expect("accepted");
    assert_eq!((outcome.attempts, outcome.message_id.as_str()), (2, "ok-2"));
    let c = handle.counters();
    assert_eq!((c.throttled, c.retries), (1, 1));
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let peer = Peer::new().await;
    let (handle, _streams) = SessionEngine::start(config(&peer), creds());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let submit = tokio::spawn({
        let h = handle.clone();
        async move { h.submit(sm("bad")).await }
    });
    let pdu = conn.recv_skip_heartbeat().await;
    conn.answer_submit(&pdu, CommandStatus::ESME_RINVDSTADR, "")
        .await;
    let err = submit.await.expect("join").expect_err("refused");
    assert_eq!(err.status(), Some(CommandStatus::ESME_RINVDSTADR));
    assert!(!err.is_retryable());
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn unknown_and_malformed_requests_get_generic_nack() {
    let peer = Peer::new().await;
    let (handle, _streams) = SessionEngine::start(config(&peer), creds());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let mut raw = Vec::new();
    // Unknown command_id 0x00000777, sequence 9.
    raw.extend_from_slice(&[0, 0, 0, 16, 0, 0, 0x07, 0x77, 0, 0, 0, 0, 0, 0, 0, 9]);
    // enquire_link with a 1-octet body (it must have none), sequence 10.
    raw.extend_from_slice(&[0, 0, 0, 17, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 10, 0]);
    conn.io.get_mut().write_all(&raw).await.expect("write");
    let a = conn.recv_skip_heartbeat().await;
    assert_eq!(
        (a.command_id(), a.sequence, a.status),
        (CommandId::GenericNack, 9, CommandStatus::ESME_RINVCMDID)
    );
    let b = conn.recv_skip_heartbeat().await;
    assert_eq!(
        (b.command_id(), b.sequence, b.status),
        (CommandId::GenericNack, 10, CommandStatus::ESME_RINVCMDLEN)
    );
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn unbind_from_the_smsc_is_answered_and_the_session_comes_back() {
    let peer = Peer::new().await;
    let (handle, _streams) = SessionEngine::start(config(&peer), creds());
    let mut events = handle.events();
    let (mut conn, _) = peer.accept_bound().await;
    assert_eq!(next_event(&mut events).await.state, HealthState::Bound);
    conn.send(Pdu::new(3, Body::Unbind)).await;
    let resp = conn.recv().await;
    assert_eq!(
        (resp.command_id(), resp.sequence),
        (CommandId::UnbindResp, 3)
    );
    assert_eq!(next_event(&mut events).await.state, HealthState::Unbound);
    let (_conn2, _) = peer.accept_bound().await;
    assert_eq!(next_event(&mut events).await.state, HealthState::Bound);
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn fails_over_to_the_backup_and_back_after_the_hold_time() {
    // The primary's port is reserved but closed: connections are refused.
    let primary = Peer::new().await;
    let primary_ep = primary.endpoint();
    drop(primary);
    let backup = Peer::new().await;
    let mut cfg = EngineConfig::new(primary_ep.clone());
    cfg.backup = Some(backup.endpoint());
    cfg.session = fast_session();
    cfg.failover.after_failures = 2;
    cfg.failover.probe_interval_seconds = 1;
    cfg.failover.failback_hold_seconds = 1;
    cfg.bind.mode = BindMode::Transceiver;
    let (handle, _streams) = SessionEngine::start(cfg, creds());
    let mut events = handle.events();
    let ev = next_event(&mut events).await;
    assert_eq!(ev.state, HealthState::Unbound);
    let (mut bconn, _) = backup.accept_bound().await;
    let ev = next_event(&mut events).await;
    assert_eq!(ev.state, HealthState::Failback);
    assert_eq!(ev.endpoint, Some(EndpointRole::Backup));
    assert_eq!(ev.address, Some(backup.endpoint().address()));
    // The primary comes back.
    let listener = TcpListener::bind(("127.0.0.1", primary_ep.port))
        .await
        .expect("rebind primary port");
    let primary = Peer { listener };
    // The probe binds and holds, then unbinds.
    let (mut probe, _) = primary.accept_bound().await;
    let unbind = probe.recv_skip_heartbeat().await;
    assert_eq!(unbind.command_id(), CommandId::Unbind);
    probe
        .send(Pdu::new(unbind.sequence, Body::UnbindResp))
        .await;
    // The backup is drained and unbound.
    let unbind = bconn.recv_skip_heartbeat().await;
    assert_eq!(unbind.command_id(), CommandId::Unbind);
    bconn
        .send(Pdu::new(unbind.sequence, Body::UnbindResp))
        .await;
    let ev = next_event(&mut events).await;
    assert_eq!(ev.state, HealthState::Unbound);
    assert!(ev.reason.contains("failing back"), "{}", ev.reason);
    let (_pconn, _) = primary.accept_bound().await;
    let ev = next_event(&mut events).await;
    assert_eq!(ev.state, HealthState::Bound);
    assert_eq!(ev.endpoint, Some(EndpointRole::Primary));
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn temporary_submit_errors_are_retried() {
    let peer = Peer::new().await;
    let mut cfg = config(&peer);
    cfg.retry.initial_delay_ms = 50;
    let (handle, _streams) = SessionEngine::start(cfg, creds());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let submit = tokio::spawn({
        let h = handle.clone();
        async move { h.submit(sm("transient")).await }
    });
    let first = conn.recv_skip_heartbeat().await;
    conn.answer_submit(&first, CommandStatus::ESME_RSYSERR, "")
        .await;
    let second = conn.recv_skip_heartbeat().await;
    conn.answer_submit(&second, CommandStatus(0x0400), "").await;
    let third = conn.recv_skip_heartbeat().await;
    assert_eq!(third.command_id(), CommandId::SubmitSm);
    conn.answer_submit(&third, CommandStatus::ESME_ROK, "ok-3")
        .await;
    let outcome = submit.await.expect("join").expect("accepted");
    assert_eq!((outcome.attempts, outcome.message_id.as_str()), (3, "ok-3"));
    assert_eq!(handle.counters().retries, 2);
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_accepting_response_with_a_malformed_body_is_accepted_with_an_unknown_id() {
    let peer = Peer::new().await;
    let (handle, _streams) = SessionEngine::start(config(&peer), creds());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let submit = tokio::spawn({
        let h = handle.clone();
        async move { h.submit(sm("odd resp")).await }
    });
    let pdu = conn.recv_skip_heartbeat().await;
    // submit_sm_resp, status 0, a message_id without its terminating NUL.
    let mut raw = Vec::new();
    raw.extend_from_slice(&19u32.to_be_bytes());
    raw.extend_from_slice(&0x8000_0004u32.to_be_bytes());
    raw.extend_from_slice(&0u32.to_be_bytes());
    raw.extend_from_slice(&pdu.sequence.to_be_bytes());
    raw.extend_from_slice(b"abc");
    conn.io.get_mut().write_all(&raw).await.expect("write");
    let outcome = submit.await.expect("join").expect("accepted");
    assert_eq!(outcome.status, CommandStatus::ESME_ROK);
    assert_eq!((outcome.attempts, outcome.message_id.as_str()), (1, ""));
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_generic_nack_with_status_zero_does_not_accept_a_submit() {
    let peer = Peer::new().await;
    let mut cfg = config(&peer);
    cfg.retry.initial_delay_ms = 50;
    let (handle, _streams) = SessionEngine::start(cfg, creds());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let submit = tokio::spawn({
        let h = handle.clone();
        async move { h.submit(sm("nacked")).await }
    });
    let first = conn.recv_skip_heartbeat().await;
    conn.send(Pdu::generic_nack(first.sequence, CommandStatus::ESME_ROK))
        .await;
    let second = conn.recv_skip_heartbeat().await;
    assert_eq!(second.command_id(), CommandId::SubmitSm);
    assert_ne!(first.sequence, second.sequence);
    conn.answer_submit(&second, CommandStatus::ESME_ROK, "ok-2")
        .await;
    let outcome = submit.await.expect("join").expect("accepted");
    assert_eq!((outcome.attempts, outcome.message_id.as_str()), (2, "ok-2"));
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_full_receipt_queue_never_freezes_the_link() {
    let peer = Peer::new().await;
    // Nobody reads the inbound stream: the queue fills up.
    let (handle, _streams) = SessionEngine::start(config(&peer), creds());
    let (mut conn, _) = peer.accept_bound().await;
    wait_bound(&handle).await;
    let receipts = 200u32;
    let mut bytes = bytes::BytesMut::new();
    for seq in 1..=receipts {
        let receipt = DeliverSm {
            esm_class: 0x04,
            short_message: Bytes::from_static(b"id:1 stat:DELIVRD"),
            ..DeliverSm::default()
        };
        Pdu::new(seq, Body::DeliverSm(receipt))
            .encode(&mut bytes)
            .expect("encode");
    }
    Pdu::new(receipts + 1, Body::EnquireLink)
        .encode(&mut bytes)
        .expect("encode");
    conn.io.get_mut().write_all(&bytes).await.expect("write");
    // The queue holds 64: the rest is refused at once, and enquire_link is still answered.
    let (mut refused, mut answered) = (0, false);
    while !answered || refused < receipts - 64 {
        let resp = conn.recv().await;
        match resp.command_id() {
            CommandId::DeliverSmResp => {
                assert_eq!(resp.status, CommandStatus::ESME_RX_T_APPN);
                refused += 1;
            }
            CommandId::EnquireLinkResp => {
                assert_eq!(resp.sequence, receipts + 1);
                answered = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_link_that_binds_and_drops_at_once_backs_off_further_each_time() {
    let peer = Peer::new().await;
    let mut cfg = config(&peer);
    cfg.session.reconnect_initial_seconds = 1;
    cfg.session.reconnect_max_seconds = 8;
    let (handle, _streams) = SessionEngine::start(cfg, creds());
    let mut binds = Vec::new();
    for _ in 0..4 {
        let (conn, _) = peer.accept_bound().await;
        binds.push(tokio::time::Instant::now());
        drop(conn);
    }
    let gaps: Vec<Duration> = binds.windows(2).map(|w| w[1] - w[0]).collect();
    // 1 s, 2 s, 4 s, each ±20 % (session::backoff): the successful binds did not reset the
    // backoff, which would keep every gap near 1 s (at most 1.2 s).
    assert!(gaps[2] >= Duration::from_millis(3_000), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(1_500), "{gaps:?}");
    assert!(gaps[2] > gaps[0], "{gaps:?}");
    handle.shutdown(Duration::from_secs(1)).await;
}
