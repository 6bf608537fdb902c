//! The controller's HTTP endpoints, its settings, and the Lease decision.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use controller::http::{router, HttpState};
use controller::leader::{decide, Decision};
use controller::metrics::Metrics;
use controller::settings::{LogFormat, Settings};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("reads");
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (code, body)
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let metrics = Arc::new(Metrics::default());
    metrics.observe(std::time::Duration::from_millis(12));
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("address");
    let app = router(HttpState {
        metrics,
        ready: ready.clone(),
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    assert_eq!(get(addr, "/health").await.0, 200);
    assert_eq!(get(addr, "/ready").await.0, 503);
    ready.store(true, Ordering::Relaxed);
    assert_eq!(get(addr, "/ready").await.0, 200);
    let (code, body) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("mno_controller_reconciles_total 1"), "{body}");
    assert!(
        body.contains("mno_controller_reconcile_duration_seconds_count 1"),
        "{body}"
    );
}

#[test]
fn settings_come_from_flags_with_documented_defaults() {
    let s = Settings::try_parse_from(["mno-controller"]).expect("defaults");
    assert_eq!(s.connector_image, "ghcr.io/ghasi/smpp-connector:0.1.0");
    assert_eq!(s.http_address.to_string(), "0.0.0.0:8080");
    assert!(!s.leader_election);
    assert_eq!(s.watch_namespace, "");
    assert_eq!(s.log_format, LogFormat::Json);
    let s = Settings::try_parse_from([
        "mno-controller",
        "--leader-election",
        "true",
        "--log-format",
        "text",
        "--watch-namespace",
        "sms",
    ])
    .expect("flags");
    assert!(s.leader_election);
    assert_eq!(s.log_format, LogFormat::Text);
    assert_eq!(s.watch_namespace, "sms");
    assert!(Settings::try_parse_from(["mno-controller", "--log-format", "xml"]).is_err());
}

fn lease(holder: &str, renewed: i64) -> Lease {
    Lease {
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).expect("time"))),
            ..LeaseSpec::default()
        }),
        ..Lease::default()
    }
}

#[test]
fn lease_decisions() {
    let now = Timestamp::from_second(1_000).expect("time");
    assert_eq!(decide(None, "me", now), Decision::Acquire);
    assert_eq!(decide(Some(&lease("me", 990)), "me", now), Decision::Renew);
    assert_eq!(
        decide(Some(&lease("other", 990)), "me", now),
        Decision::Wait
    );
    assert_eq!(
        decide(Some(&lease("other", 980)), "me", now),
        Decision::Acquire,
        "expired"
    );
    assert_eq!(
        decide(Some(&lease("", 999)), "me", now),
        Decision::Acquire,
        "released"
    );
}
