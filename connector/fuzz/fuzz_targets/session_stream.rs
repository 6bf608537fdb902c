//! A whole session fed by an adversarial SMSC: the connector's session engine
//! (`SessionEngine`: bind, link, window, heartbeat, inbound, reconnect) connects over loopback
//! to a peer that writes the fuzz bytes as its side of the conversation. The engine must never
//! panic (libFuzzer's panic hook aborts on a panic in any thread, the engine's tasks included)
//! and must shut down within a bound whatever it was sent (a hang fails the run).
//!
//! Input: byte 0 is a set of flags, byte 1 the size of the chunks the rest is written in
//! (1..=256), the rest is what the SMSC sends.
//! - flag 0x01: the peer answers the bind with a valid `bind_transceiver_resp` first (so that
//!   the bytes reach a bound link); without it the bytes are the bind's answer;
//! - flag 0x02: the application submits three messages while the bytes arrive (responses in
//!   the bytes can match them: sequence numbers 2, 3, 4);
//! - flag 0x04: the peer closes the connection after the bytes (otherwise it stays and answers
//!   enquire_link and unbind, the graceful shutdown's path).
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use libfuzzer_sys::fuzz_target;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::codec::Framed;

use connector::protocol::codec::{
    Address, BindResp, Body, COctetString, CommandId, CommandStatus, Pdu, SmppCodec, SubmitSm,
};
use connector::session::{
    EngineConfig, Inbound, SessionEngine, SmppCredentials, StaticCredentials,
};
use crds::config::{Endpoint, SessionConfig};

/// The longest an iteration may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(10);

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("runtime: {e}"),
        }
    })
}

fn session() -> SessionConfig {
    SessionConfig {
        window: 8,
        binds: 1,
        response_timeout_ms: 300,
        enquire_link_interval_seconds: 1,
        enquire_link_timeout_seconds: 1,
        read_idle_timeout_seconds: 2,
        bind_timeout_seconds: 1,
        reconnect_initial_seconds: 1,
        reconnect_max_seconds: 1,
        credentials_backoff_seconds: 1,
        max_pdu_bytes: 4096,
        drain_timeout_seconds: 1,
    }
}

fn submit(i: u8) -> SubmitSm {
    let addr = |s: &'static [u8]| COctetString::new(s).unwrap_or_default();
    SubmitSm {
        source: Address {
            ton: 5,
            npi: 0,
            addr: addr(b"Test"),
        },
        dest: Address {
            ton: 1,
            npi: 1,
            addr: addr(b"31612345678"),
        },
        short_message: Bytes::from(vec![b'a' + i % 26]),
        registered_delivery: 1,
        ..SubmitSm::default()
    }
}

async fn one_session(flags: u8, chunk: usize, bytes: &[u8]) {
    let Ok(listener) = TcpListener::bind("127.0.0.1:0").await else {
        return;
    };
    let Ok(addr) = listener.local_addr() else {
        return;
    };
    let mut cfg = EngineConfig::new(Endpoint {
        host: "127.0.0.1".into(),
        port: addr.port(),
        tls: None,
        local_address: None,
    });
    cfg.session = session();
    let creds = StaticCredentials::new(SmppCredentials {
        system_id: "esme".into(),
        password: "secret".into(),
        system_type: None,
    });
    let (handle, mut streams) = SessionEngine::start(cfg, creds);

    // The application: answers half of what comes in, drops the other half (a dropped
    // responder answers ESME_RX_T_APPN).
    let app = tokio::spawn(async move {
        let mut n = 0u32;
        while let Some(i) = streams.inbound.recv().await {
            n += 1;
            match i {
                Inbound::DeliverSm { responder, .. } | Inbound::DataSm { responder, .. } => {
                    if n % 2 == 0 {
                        let _ = responder.ack();
                    }
                }
                Inbound::AlertNotification { .. } => {}
            }
        }
    });
    let submits: Vec<_> = if flags & 0x02 != 0 {
        (0..3u8)
            .map(|i| {
                let h = handle.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(3), h.submit(submit(i))).await;
                })
            })
            .collect()
    } else {
        Vec::new()
    };

    // The SMSC: writes the bytes, then closes or behaves while the engine shuts down.
    let (written_tx, written_rx) = tokio::sync::oneshot::channel::<()>();
    let owned = bytes.to_vec();
    let peer = tokio::spawn(async move {
        let accepted = tokio::time::timeout(Duration::from_secs(2), listener.accept()).await;
        let Ok(Ok((stream, _))) = accepted else {
            let _ = written_tx.send(());
            return;
        };
        let mut io = Framed::new(stream, SmppCodec::new(4096));
        let bind = tokio::time::timeout(Duration::from_secs(2), io.next()).await;
        if flags & 0x01 != 0 {
            if let Ok(Some(Ok(Ok(b)))) = bind {
                let resp = Pdu::with_status(
                    b.sequence,
                    CommandStatus::ESME_ROK,
                    Body::BindTransceiverResp(BindResp::default()),
                );
                let _ = io.send(&resp).await;
            }
        }
        for part in owned.chunks(chunk) {
            if io.get_mut().write_all(part).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
        let _ = written_tx.send(());
        if flags & 0x04 != 0 {
            let _ = io.get_mut().shutdown().await;
        } else {
            behave(&mut io).await;
        }
    });
    let _ = written_rx.await;
    handle.shutdown(Duration::from_millis(200)).await;
    let _ = peer.await;
    for s in submits {
        let _ = s.await;
    }
    drop(handle);
    let _ = app.await;
}

/// Answers enquire_link and unbind until the engine unbinds or closes (at most 3 s).
async fn behave(io: &mut Framed<tokio::net::TcpStream, SmppCodec>) {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(3), io.next()).await;
        let pdu = match next {
            Err(_) | Ok(None) | Ok(Some(Err(_))) => return,
            Ok(Some(Ok(Err(_)))) => continue,
            Ok(Some(Ok(Ok(p)))) => p,
        };
        match pdu.command_id() {
            CommandId::EnquireLink | CommandId::Unbind => {
                if let Some(r) = pdu.response(CommandStatus::ESME_ROK) {
                    let _ = io.send(&r).await;
                }
                if pdu.command_id() == CommandId::Unbind {
                    return;
                }
            }
            _ => {}
        }
    }
}

fuzz_target!(
    init: {
        // A Rust binary ignores SIGPIPE before `main` (so the connector gets EPIPE from a
        // write to a closed socket); libFuzzer's `main` is not Rust's, so do it here.
        // SAFETY: setting a signal disposition to SIG_IGN at start, before any thread.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
    },
    |data: &[u8]| {
    let (flags, chunk, bytes) = match data {
        [f, c, rest @ ..] => (*f, usize::from(*c) + 1, rest),
        _ => return,
    };
    if bytes.len() > 8192 {
        return;
    }
    let rt = runtime();
    let done = rt.block_on(async {
        tokio::time::timeout(HANG, one_session(flags, chunk, bytes)).await
    });
    if done.is_err() {
        panic!("the session did not end within {HANG:?} (flags {flags:#04x}, chunk {chunk})");
    }
}
);
