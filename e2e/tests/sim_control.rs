//! The HTTP control API of the binary, over in-process instances.

use std::sync::Arc;
use std::time::Duration;

use connector::protocol::codec::CommandStatus;
use e2e::sim::client::{submit_sm, RawClient};
use e2e::sim::{BindMode, SimConfig, Simulator};

#[tokio::test]
async fn faults_stats_mo_and_breaks_over_http() {
    let a = Arc::new(
        Simulator::start(SimConfig::with_account("alice", "pw"))
            .await
            .unwrap(),
    );
    let b = Arc::new(
        Simulator::start(SimConfig::with_account("alice", "pw"))
            .await
            .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = e2e::sim::control::router(vec![a.clone(), b.clone()]);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();

    let mut c = RawClient::connect(b.addr()).await.unwrap();
    assert!(c
        .bind(BindMode::Transceiver, "alice", "pw")
        .await
        .unwrap()
        .status
        .is_ok());

    let resp = http
        .put(format!("{base}/faults?instance=1"))
        .json(
            &serde_json::json!({"submit_status": [{"status": "ESME_RMSGQFUL", "when": "always"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::NO_CONTENT);
    let status = c
        .submit(submit_sm("1", "2", "x", false).unwrap())
        .await
        .unwrap()
        .status;
    assert_eq!(status, CommandStatus::ESME_RMSGQFUL);
    assert!(a.faults().submit_status.is_empty(), "instance 0 untouched");

    let faults: serde_json::Value = http
        .get(format!("{base}/faults?instance=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["submit_status"][0]["status"], "ESME_RMSGQFUL");
    assert_eq!(faults["submit_status"][0]["when"], "always");

    let resp = http
        .post(format!("{base}/mo?instance=1"))
        .json(&serde_json::json!({"system_id": "alice", "from": "4477", "to": "555", "text": "HI"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::ACCEPTED);
    let mo = c.receive_deliver_sm().await.unwrap();
    assert_eq!(&mo.short_message[..], b"HI");

    let stats: serde_json::Value = http
        .get(format!("{base}/stats?instance=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["events"]["binds"], 1);
    assert_eq!(stats["events"]["mo_sent"], 1);

    let missing = http
        .get(format!("{base}/stats?instance=7"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), reqwest::StatusCode::NOT_FOUND);
    let bad = http
        .post(format!("{base}/break/explode?instance=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);

    let broken: usize = http
        .post(format!("{base}/break/close?instance=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(broken, 1);
    c.set_timeout(Duration::from_secs(5));
    assert!(c.wait_closed().await);
}
