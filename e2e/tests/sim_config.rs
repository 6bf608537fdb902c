//! Configuration: the documented YAML example, and the binary's flags and summary.

use std::path::PathBuf;
use std::time::Duration;

use connector::protocol::codec::CommandStatus;
use e2e::sim::client::{submit_sm, RawClient};
use e2e::sim::{
    BindMode, BreakAction, Delay, IdForm, ReceiptFormat, SimConfig, Simulator, TransceiverRefusal,
    Trigger,
};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/smsc-sim.example.yaml")
}

#[test]
fn the_documented_example_loads_with_every_key() {
    let c = SimConfig::from_yaml_file(&example()).unwrap();
    assert_eq!(c.listen.port(), 2775);
    assert_eq!(c.accounts.len(), 2);
    assert_eq!(c.message_id, IdForm::Hex);
    assert_eq!(c.tps_limit, Some(500));
    assert_eq!(c.receipts.delay.to_string(), "uniform:100-500");
    assert_eq!(c.receipts.mix.undeliv, 5);
    assert_eq!(c.receipts.format, ReceiptFormat::Both);
    assert_eq!(c.faults.submit_status.len(), 3);
    assert_eq!(
        c.faults.submit_status[2].status.0,
        CommandStatus::ESME_RSUBMITFAIL
    );
    assert_eq!(c.faults.no_response, Some(Trigger::Every(1000)));
    assert_eq!(
        c.faults.refuse_transceiver,
        Some(TransceiverRefusal::GenericNack)
    );
    assert_eq!(
        c.faults.connection.map(|f| f.action),
        Some(BreakAction::Reset)
    );
    assert_eq!(c.faults.refuse_connections, None);
}

#[test]
fn bad_files_name_the_problem() {
    let err = SimConfig::from_yaml("receipts: {delay: soon}").unwrap_err();
    assert!(err.to_string().contains("invalid delay"), "{err}");
    let err = SimConfig::from_yaml("message_id: base64").unwrap_err();
    assert!(err.to_string().contains("message id form"), "{err}");
    let err = SimConfig::from_yaml("faults: {submit_status: [{status: ESME_NOPE, when: always}]}")
        .unwrap_err();
    assert!(err.to_string().contains("ESME_NOPE"), "{err}");
    let err = SimConfig::from_yaml_file(&PathBuf::from("/nonexistent/smsc.yaml")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/smsc.yaml"), "{err}");
}

#[tokio::test]
async fn a_yaml_configuration_drives_a_running_instance() {
    let yaml = r#"
listen: 127.0.0.1:0
accounts: [{system_id: yaml, password: pw}]
message_id: decimal
id_start: 500
receipts: {delay: 0, format: text}
faults:
  submit_status: [{status: ESME_RTHROTTLED, when: {every: 2}}]
"#;
    let config = SimConfig::from_yaml(yaml).unwrap();
    assert_eq!(config.receipts.delay, Delay::from_millis(0));
    let sim = Simulator::start(config).await.unwrap();
    let mut c = RawClient::connect(sim.addr()).await.unwrap();
    assert!(c
        .bind(BindMode::Transceiver, "yaml", "pw")
        .await
        .unwrap()
        .status
        .is_ok());
    let first = c
        .submit(submit_sm("1", "2", "a", true).unwrap())
        .await
        .unwrap();
    let second = c
        .submit(submit_sm("1", "2", "b", true).unwrap())
        .await
        .unwrap();
    assert_eq!(second.status, CommandStatus::ESME_RTHROTTLED);
    let connector::protocol::codec::Body::SubmitSmResp(r) = first.body else {
        panic!("{first:?}")
    };
    assert_eq!(r.message_id, "500");
    let receipt = c.receive_deliver_sm().await.unwrap();
    assert!(receipt.tlvs.is_empty());
    assert!(receipt.short_message.starts_with(b"id:500 "));
}

#[tokio::test]
async fn the_binary_serves_and_prints_its_summary_on_sigint() {
    // Find a free port, then hand it to the binary.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::env::temp_dir().join(format!("smsc-sim-{port}.jsonl"));
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_smsc-sim"))
        .args([
            &format!("--listen=127.0.0.1:{port}"),
            "--system-id=bin",
            "--password=pw",
            "--no-receipts",
            &format!("--pdu-log={}", log.display()),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut c = loop {
        match RawClient::connect(addr).await {
            Ok(c) => break c,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("smsc-sim did not start: {e}"),
        }
    };
    assert!(c
        .bind(BindMode::Transmitter, "bin", "pw")
        .await
        .unwrap()
        .status
        .is_ok());
    assert!(c
        .submit(submit_sm("1", "2", "x", false).unwrap())
        .await
        .unwrap()
        .status
        .is_ok());
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("submit_sm"), "{summary}");
    assert!(summary.contains("accepted_submits"), "{summary}");
    let lines = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let parsed: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let commands: Vec<&str> = parsed
        .iter()
        .filter_map(|v| v["command"].as_str())
        .collect();
    assert_eq!(
        commands,
        [
            "bind_transmitter",
            "bind_transmitter_resp",
            "submit_sm",
            "submit_sm_resp"
        ]
    );
    assert!(!lines.contains("\"pw\""), "passwords are not logged");
}

#[tokio::test]
async fn the_pdu_log_has_a_json_line_per_pdu_after_shutdown() {
    let path = std::env::temp_dir().join(format!("smsc-sim-lib-{}.jsonl", rand::random::<u64>()));
    let mut config = SimConfig::with_account("log", "secret9");
    config.pdu_log = Some(path.clone());
    config.receipts.delay = Delay::from_millis(0);
    let sim = Simulator::start(config).await.unwrap();
    let mut c = RawClient::connect(sim.addr()).await.unwrap();
    assert!(c
        .bind(BindMode::Transceiver, "log", "secret9")
        .await
        .unwrap()
        .status
        .is_ok());
    assert!(c
        .submit(submit_sm("1", "2", "x", true).unwrap())
        .await
        .unwrap()
        .status
        .is_ok());
    c.receive_deliver_sm().await.unwrap();
    assert!(c.unbind().await.unwrap().status.is_ok());
    assert!(c.wait_closed().await);
    sim.shutdown().await;
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["dir"].as_str().unwrap(), l["command"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("in", "bind_transceiver"),
            ("out", "bind_transceiver_resp"),
            ("in", "submit_sm"),
            ("out", "submit_sm_resp"),
            ("out", "deliver_sm"),
            ("in", "deliver_sm_resp"),
            ("in", "unbind"),
            ("out", "unbind_resp"),
        ]
    );
    assert!(lines
        .iter()
        .all(|l| l["ts"].is_string() && l["seq"].is_u64()));
    assert!(!text.contains("secret9"), "passwords are redacted");
}
