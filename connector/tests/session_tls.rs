//! The session engine over TLS (custom CA, client certificate) and from a local source
//! address, against a TLS SMPP peer on loopback. The certificates in `tests/tls/` are test
//! fixtures (CA-signed server certificate for localhost/127.0.0.1 and a client certificate).

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

use connector::pipeline::events::HealthState;
use connector::protocol::codec::{Body, CommandId, CommandStatus, Pdu, SmppCodec};
use connector::session::{EngineConfig, SessionEngine, SmppCredentials, StaticCredentials};
use crds::config::{BindMode, Endpoint, TlsConfig};

fn fixture(name: &str) -> String {
    format!("{}/tests/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn certs(name: &str) -> Vec<CertificateDer<'static>> {
    let pem = std::fs::read(fixture(name)).expect("fixture");
    rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<_, _>>()
        .expect("PEM certificates")
}

fn key(name: &str) -> PrivateKeyDer<'static> {
    let pem = std::fs::read(fixture(name)).expect("fixture");
    rustls_pemfile::private_key(&mut &pem[..])
        .expect("PEM")
        .expect("a key")
}

fn acceptor() -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    for c in certs("ca.pem") {
        roots.add(c).expect("CA");
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("client verifier");
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs("server.pem"), key("server.key"))
        .expect("server config");
    TlsAcceptor::from(Arc::new(config))
}

fn creds() -> Arc<StaticCredentials> {
    StaticCredentials::new(SmppCredentials {
        system_id: "esme".into(),
        password: "pw".into(),
        system_type: None,
    })
}

fn endpoint(port: u16, ca: &str) -> Endpoint {
    Endpoint {
        host: "127.0.0.1".into(),
        port,
        tls: Some(TlsConfig {
            enabled: true,
            ca_file: Some(fixture(ca)),
            cert_file: Some(fixture("client.pem")),
            key_file: Some(fixture("client.key")),
            server_name: Some("localhost".into()),
        }),
        local_address: Some("127.0.0.1".into()),
    }
}

#[tokio::test]
async fn binds_and_submits_over_mutual_tls_from_a_local_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let mut cfg = EngineConfig::new(endpoint(port, "ca.pem"));
    cfg.bind.mode = BindMode::Transceiver;
    let (handle, _streams) = SessionEngine::start(cfg, creds());
    let (tcp, peer) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("connect in time")
        .expect("accept");
    assert_eq!(peer.ip().to_string(), "127.0.0.1");
    let tls = acceptor().accept(tcp).await.expect("TLS handshake");
    assert!(
        tls.get_ref()
            .1
            .peer_certificates()
            .is_some_and(|c| !c.is_empty()),
        "the client presented its certificate"
    );
    let mut io = Framed::new(tls, SmppCodec::default());
    let bind = io.next().await.expect("open").expect("frame").expect("pdu");
    assert_eq!(bind.command_id(), CommandId::BindTransceiver);
    io.send(&bind.response(CommandStatus::ESME_ROK).expect("resp"))
        .await
        .expect("send");
    let submit = tokio::spawn({
        let h = handle.clone();
        async move {
            let mut bound = h.watch_bound();
            let _ = bound.wait_for(|b| *b).await;
            h.submit(Default::default()).await
        }
    });
    let pdu = loop {
        let pdu = io.next().await.expect("open").expect("frame").expect("pdu");
        if pdu.command_id() == CommandId::SubmitSm {
            break pdu;
        }
    };
    let mut resp = pdu.response(CommandStatus::ESME_ROK).expect("resp");
    if let Body::SubmitSmResp(r) = &mut resp.body {
        r.message_id = connector::protocol::codec::COctetString::new(&b"tls-1"[..]).expect("short");
    }
    io.send(&resp).await.expect("send");
    let outcome = submit.await.expect("join").expect("accepted");
    assert_eq!(outcome.message_id, "tls-1");
    let shutdown = tokio::spawn({
        let h = handle.clone();
        async move { h.shutdown(Duration::from_secs(2)).await }
    });
    let unbind = io.next().await.expect("open").expect("frame").expect("pdu");
    assert_eq!(unbind.command_id(), CommandId::Unbind);
    io.send(&Pdu::new(unbind.sequence, Body::UnbindResp))
        .await
        .expect("send");
    shutdown.await.expect("join");
}

#[tokio::test]
async fn an_untrusted_server_certificate_fails_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let port = listener.local_addr().expect("addr").port();
    // Trusting only the client certificate: the server's chain does not verify.
    let mut cfg = EngineConfig::new(endpoint(port, "client.pem"));
    cfg.bind.mode = BindMode::Transceiver;
    let (handle, _streams) = SessionEngine::start(cfg, creds());
    let mut events = handle.events();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        acceptor().accept(tcp).await.is_err()
    });
    let ev = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("event in time")
        .expect("open");
    assert_eq!(ev.state, HealthState::Unbound);
    assert!(ev.reason.contains("tls"), "{}", ev.reason);
    assert!(
        server.await.expect("join"),
        "the handshake failed on the server too"
    );
    handle.shutdown(Duration::from_secs(1)).await;
}
