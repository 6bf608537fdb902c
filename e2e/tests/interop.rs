//! Interoperability with SMPP implementations this project did not write
//! (`e2e::interop`): the connector against an SMSC built on node-smpp, and an ESME built on
//! Python's smpplib against smsc-sim. The connector runs against the machine's NATS, Redis
//! and PostgreSQL as in the other end-to-end tests.

use std::collections::BTreeMap;
use std::time::Duration;

use connector::protocol::text::{decode_message, Content};
use e2e::harness::{self, Bus, Connector, TempDir};
use e2e::interop::{self, NodeSmsc};
use e2e::sim::SegmentMark;
use serde_json::{json, Value};

const READY: Duration = Duration::from_secs(20);
const EVENTS: Duration = Duration::from_secs(30);

/// GSM-7 with characters of the extension table (sent as escape sequences).
const GSM_TEXT: &str = "Akwaaba @£$¥èé ÄÖÑÜ§¿ {[~]}\\^|€ 100%";
/// Not in GSM-7: UCS-2, with a character outside the BMP (a surrogate pair).
const UCS2_TEXT: &str = "Ɛte sɛn? ₵5 👋";

fn long_gsm_text() -> String {
    (1..=40).map(|i| format!("part{i:02} ")).collect()
}

fn long_ucs2_text() -> String {
    "ɔkwan tenten ".repeat(8)
}

/// The texts of the interop run, by message id suffix.
fn texts() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("gsm", GSM_TEXT.to_string()),
        ("ucs2", UCS2_TEXT.to_string()),
        ("long-gsm", long_gsm_text()),
        ("long-ucs2", long_ucs2_text()),
    ])
}

/// A submit as node-smpp decoded it, and its place in a long message.
struct NodeSubmit {
    data_coding: u64,
    text: String,
    /// (reference, total, sequence) from the UDH or the SAR TLVs.
    part: Option<(u64, u64, u64)>,
}

fn node_submits(events: &[Value]) -> Vec<NodeSubmit> {
    events
        .iter()
        .filter(|e| e["event"] == "submit")
        .map(|e| {
            let udh_part = e["udh"].as_array().and_then(|ies| {
                ies.iter().filter_map(Value::as_str).find_map(|ie| {
                    let b: Vec<u64> = (0..ie.len() / 2)
                        .filter_map(|i| u64::from_str_radix(&ie[2 * i..2 * i + 2], 16).ok())
                        .collect();
                    match b.as_slice() {
                        [0x00, 3, r, t, s] => Some((*r, *t, *s)),
                        [0x08, 4, hi, lo, t, s] => Some((hi << 8 | lo, *t, *s)),
                        _ => None,
                    }
                })
            });
            let sar_part = e["sar"].as_array().and_then(|v| match v.as_slice() {
                [r, t, s] => Some((r.as_u64()?, t.as_u64()?, s.as_u64()?)),
                _ => None,
            });
            NodeSubmit {
                data_coding: e["data_coding"].as_u64().unwrap_or(255),
                text: e["payload"]
                    .as_str()
                    .or(e["text"].as_str())
                    .unwrap_or_default()
                    .to_string(),
                part: udh_part.or(sar_part),
            }
        })
        .collect()
}

/// The whole texts node-smpp received (long messages joined in segment order), with their
/// data_coding.
fn reassembled(submits: &[NodeSubmit]) -> Vec<(String, u64)> {
    let mut whole = Vec::new();
    let mut long: BTreeMap<u64, Vec<&NodeSubmit>> = BTreeMap::new();
    for s in submits {
        match s.part {
            None => whole.push((s.text.clone(), s.data_coding)),
            Some((reference, _, _)) => long.entry(reference).or_default().push(s),
        }
    }
    for mut parts in long.into_values() {
        parts.sort_by_key(|s| s.part.map(|p| p.2));
        let total = parts[0].part.map_or(0, |p| p.1) as usize;
        assert_eq!(
            parts.len(),
            total,
            "every segment of a long message arrived"
        );
        whole.push((
            parts.iter().map(|s| s.text.as_str()).collect(),
            parts[0].data_coding,
        ));
    }
    whole.sort();
    whole
}

/// A test configuration of operator `op` bound to `node` with the account it accepts
/// (credentials file in `dir`).
fn node_config(dir: &TempDir, op: &str, node: &NodeSmsc) -> crds::ConnectorConfig {
    let creds = harness::sim_credentials(dir);
    harness::test_config(op, node.addr, creds)
}

/// Sends the interop texts through a connector bound to a node-smpp SMSC started with
/// `node_flags`; checks the events, then returns what node-smpp printed.
async fn through_node_smpp(
    tag: &str,
    node_flags: &[&str],
    tweak: impl FnOnce(&mut crds::ConnectorConfig),
) -> Vec<Value> {
    harness::init_logging();
    let node = NodeSmsc::start("ghasi01", "s3cret", node_flags).await;
    let op = harness::unique_operator(tag);
    let dir = TempDir::new().expect("temp dir");
    let mut config = node_config(&dir, &op, &node);
    tweak(&mut config);
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(
        connector.wait_ready(READY).await,
        "connector not ready against node-smpp: {:?}",
        node.events.all()
    );
    let run = format!("{:08x}", rand::random::<u32>());
    let mut ids = Vec::new();
    for (name, text) in texts() {
        let id = format!("interop-{run}-{name}");
        bus.publish(&harness::command(&op, &id, &text)).await;
        ids.push(id);
    }
    assert!(
        bus.wait_final(&ids, EVENTS).await,
        "every message reaches a final status; node-smpp saw {:?}; events {:?}",
        node.events.all(),
        bus.dlr_events
    );
    for id in &ids {
        let finals: Vec<&Value> = bus
            .events_of(id)
            .into_iter()
            .filter(|e| harness::is_final_event(e))
            .collect();
        assert!(
            finals.iter().all(|e| e["messageStatus"] == "DELIVERED"),
            "{id}: {finals:?}"
        );
    }
    let stopped = connector.stop().await;
    assert_eq!(stopped, Ok(()), "graceful stop");
    bus.cleanup().await;
    let events = node.events.all();
    // Every receipt was answered ESME_ROK, and the connector unbound at the stop.
    let resps: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "deliver_sm_resp")
        .collect();
    assert!(!resps.is_empty());
    assert!(resps.iter().all(|e| e["command_status"] == 0), "{resps:?}");
    assert!(events.iter().any(|e| e["event"] == "unbind"), "{events:?}");
    assert!(
        !events.iter().any(|e| e["event"] == "error"),
        "node-smpp reported errors: {events:?}"
    );
    events
}

fn expected_texts() -> Vec<(String, u64)> {
    let mut want: Vec<(String, u64)> = texts()
        .into_values()
        .map(|t| {
            let coding = if t == GSM_TEXT || t == long_gsm_text() {
                0
            } else {
                8
            };
            (t, coding)
        })
        .collect();
    want.sort();
    want
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_binds_sends_and_gets_receipts_from_a_node_smpp_smsc() {
    if !interop::node_smpp_available() {
        return;
    }
    let events = through_node_smpp("node-trx", &[], |_| {}).await;
    let binds: Vec<&Value> = events.iter().filter(|e| e["event"] == "bind").collect();
    assert!(
        binds
            .iter()
            .all(|b| b["command"] == "bind_transceiver" && b["ok"] == true),
        "{binds:?}"
    );
    assert_eq!(binds[0]["interface_version"], 0x34);
    let submits = node_submits(&events);
    assert!(
        submits.iter().filter(|s| s.part.is_some()).count() >= 4,
        "long messages went as UDH segments"
    );
    assert_eq!(reassembled(&submits), expected_texts());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_falls_back_to_transmitter_and_receiver_and_sends_sar_segments() {
    if !interop::node_smpp_available() {
        return;
    }
    let events = through_node_smpp("node-txrx", &["--refuse-transceiver"], |c| {
        c.encoding.split = crds::config::SplitMethod::Sar;
    })
    .await;
    let ok_binds: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "bind" && e["ok"] == true)
        .filter_map(|e| e["command"].as_str())
        .collect();
    assert!(ok_binds.contains(&"bind_transmitter"), "{ok_binds:?}");
    assert!(ok_binds.contains(&"bind_receiver"), "{ok_binds:?}");
    assert!(!ok_binds.contains(&"bind_transceiver"));
    let submits = node_submits(&events);
    assert!(submits.iter().filter(|s| s.part.is_some()).count() >= 4);
    assert_eq!(reassembled(&submits), expected_texts());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_sends_long_texts_in_message_payload_to_a_node_smpp_smsc() {
    if !interop::node_smpp_available() {
        return;
    }
    let events = through_node_smpp("node-payload", &[], |c| {
        c.encoding.split = crds::config::SplitMethod::Payload;
    })
    .await;
    let submits = node_submits(&events);
    assert_eq!(submits.len(), texts().len(), "one submit_sm per message");
    assert!(submits.iter().all(|s| s.part.is_none()));
    assert_eq!(reassembled(&submits), expected_texts());
}

#[tokio::test]
async fn an_smpplib_esme_binds_submits_queries_and_gets_receipts_from_smsc_sim() {
    if !interop::smpplib_available() {
        return;
    }
    let sim = harness::start_sim("esme01", "pw4esme", |_| {}).await;
    let long = long_gsm_text();
    let args = [
        "--system-id",
        "esme01",
        "--password",
        "pw4esme",
        GSM_TEXT,
        UCS2_TEXT,
        long.as_str(),
    ];
    let summary = interop::run_smpplib_esme(sim.addr(), &args, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary["bind"]["status"], 0, "{summary}");
    // What smpplib sent: its own choice of data_coding and UDH parts per text.
    let sent = summary["sequences"].as_array().cloned().unwrap_or_default();
    let parts = sent.iter().filter(|s| s["esm_class"] == 0x40).count();
    assert!(parts >= 2, "the long text went as UDH parts: {summary}");
    let submits = summary["submits"].as_array().cloned().unwrap_or_default();
    assert_eq!(submits.len(), sent.len(), "{summary}");
    assert!(submits.iter().all(|s| s["status"] == 0), "{summary}");
    let ids: Vec<&str> = submits
        .iter()
        .filter_map(|s| s["message_id"].as_str())
        .collect();
    let receipts = summary["receipts"].as_array().cloned().unwrap_or_default();
    assert_eq!(receipts.len(), sent.len(), "{summary}");
    for r in &receipts {
        assert_eq!(r["esm_class"], 4, "{r}");
        assert_eq!(r["message_state"], 2, "{r}");
        let id = r["receipted_message_id"].as_str().unwrap_or_default();
        assert!(ids.contains(&id), "{r}");
        let text = r["short_message"].as_str().unwrap_or_default();
        assert!(
            text.starts_with(&format!("id:{id} ")) && text.contains(" stat:DELIVRD "),
            "{r}"
        );
    }
    assert_eq!(summary["query"]["status"], 0, "{summary}");
    assert_eq!(summary["query"]["message_id"], ids[0], "{summary}");
    assert_eq!(summary["enquire_link"], 0, "{summary}");
    assert_eq!(summary["unbind"], 0, "{summary}");

    // What the simulator decoded from smpplib's octets.
    let got = sim.submits();
    assert_eq!(got.len(), sent.len());
    let mut whole: Vec<String> = Vec::new();
    let mut long_parts = Vec::new();
    for (s, sent) in got.iter().zip(&sent) {
        assert_eq!(u64::from(s.data_coding), sent["data_coding"], "{sent}");
        let decoded = decode_message(
            s.data_coding,
            s.esm_class & 0x40 != 0,
            &s.short_message,
            false,
        )
        .unwrap_or_else(|e| panic!("smpplib's submit does not decode: {e}"));
        let Content::Text(text) = decoded.content else {
            panic!("not a text: {:?}", s.data_coding);
        };
        match s.segment {
            Some(seg) => {
                assert_eq!(seg.mark, SegmentMark::Udh);
                long_parts.push((seg.seq, seg.total, text));
            }
            None => whole.push(text),
        }
    }
    long_parts.sort();
    assert_eq!(long_parts.len(), parts);
    assert!(long_parts
        .iter()
        .all(|(_, total, _)| usize::from(*total) == parts));
    whole.push(long_parts.into_iter().map(|(_, _, t)| t).collect());
    whole.sort();
    let mut want = vec![GSM_TEXT.to_string(), UCS2_TEXT.to_string(), long];
    want.sort();
    assert_eq!(whole, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_answers_a_node_smpp_smscs_enquire_link_mo_and_unbind_then_binds_again() {
    if !interop::node_smpp_available() {
        return;
    }
    harness::init_logging();
    let flags = [
        "--enquire-link-ms",
        "300",
        "--mo",
        "Hello from a handset",
        "--unbind-after-ms",
        "1500",
    ];
    let node = NodeSmsc::start("ghasi01", "s3cret", &flags).await;
    let op = harness::unique_operator("node-smsc-req");
    let dir = TempDir::new().expect("temp dir");
    let config = node_config(&dir, &op, &node);
    let mut bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start(config);
    assert!(connector.wait_ready(READY).await, "{:?}", node.events.all());
    // The SMSC unbinds after 1.5 s; the connector answers and binds again.
    let rebound = node
        .events
        .wait(Duration::from_secs(20), |e| {
            e.iter().any(|e| e["event"] == "unbind_resp")
                && e.iter().filter(|e| e["event"] == "bind").count() >= 2
                && e.iter()
                    .filter(|e| e["event"] == "enquire_link_resp")
                    .count()
                    >= 3
        })
        .await;
    let events = node.events.all();
    assert!(rebound, "{events:?}");
    let status_of = |kind: &str| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["event"] == kind)
            .map(|e| e["command_status"].clone())
            .collect()
    };
    assert!(status_of("enquire_link_resp").iter().all(|s| *s == 0));
    assert_eq!(status_of("unbind_resp"), [json!(0)]);
    // The MO is answered ESME_ROK (once per bind), counted and not published as a receipt.
    let mo = status_of("mo_resp");
    assert!(!mo.is_empty() && mo.iter().all(|s| *s == 0), "{events:?}");
    let counted = harness::eventually(Duration::from_secs(5), || async {
        (connector.metric("smpp_mo_messages_total", "").await >= 1.0).then_some(())
    })
    .await;
    assert!(counted.is_some());
    assert!(
        connector.wait_ready(READY).await,
        "ready again after the rebind"
    );
    bus.settle(Duration::from_millis(500)).await;
    assert!(bus.dlr_events.is_empty(), "{:?}", bus.dlr_events);
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test]
async fn a_node_smpp_esme_uses_every_transmitter_operation_of_smsc_sim() {
    if !interop::node_smpp_available() {
        return;
    }
    // Receipts after 1 s: the messages are still pending for query_sm and cancel_sm.
    let sim = harness::start_sim("esme02", "pw4node", |c| {
        c.receipts.delay = e2e::sim::Delay::from_millis(1_000);
    })
    .await;
    let summary = interop::run_node_esme(sim.addr(), "esme02", "pw4node", Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = &summary["responses"];
    for (command, count) in [
        ("bind_transceiver", 1),
        ("submit_sm", 3),
        ("data_sm", 1),
        ("submit_multi", 1),
        ("query_sm", 1),
        ("cancel_sm", 1),
        ("enquire_link", 1),
        ("unbind", 1),
    ] {
        let got = r[command].as_array().cloned().unwrap_or_default();
        assert_eq!(got.len(), count, "{command}: {summary}");
        assert!(
            got.iter().all(|x| x["command_status"] == 0),
            "{command}: {summary}"
        );
    }
    let first = &r["submit_sm"][0]["message_id"];
    assert_eq!(r["query_sm"][0]["message_id"], *first, "{summary}");
    assert_eq!(r["query_sm"][0]["message_state"], 1, "ENROUTE: {summary}");
    // Receipts for the first two submit_sm and the data_sm (the others asked for none), with the
    // text's first characters decoded from node-smpp's encodings.
    let receipts = summary["receipts"].as_array().cloned().unwrap_or_default();
    assert_eq!(receipts.len(), 3, "{summary}");
    let texts: Vec<&str> = receipts.iter().filter_map(|x| x["text"].as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.ends_with(" text:Hello from node-smpp")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.ends_with(" text:A datasm with its t")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.ends_with(" text:te sn? 5")),
        "{texts:?}"
    );
    let captured = sim.submits();
    // The simulator captures submit_sm and data_sm (submit_multi is answered, not captured).
    assert_eq!(captured.len(), 4);
    let codings: Vec<u8> = captured.iter().map(|s| s.data_coding).collect();
    assert!(
        codings.contains(&8),
        "node-smpp sent the UCS-2 text as UCS-2: {codings:?}"
    );
}

fn tls(dir: &TempDir, ca: &str, client_cert: bool) -> crds::config::TlsConfig {
    let path = |name: &str| Some(dir.path().join(name).display().to_string());
    crds::config::TlsConfig {
        enabled: true,
        ca_file: path(ca),
        cert_file: if client_cert {
            path("client.pem")
        } else {
            None
        },
        key_file: if client_cert {
            path("client.key")
        } else {
            None
        },
        server_name: Some("localhost".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_speaks_smpp_over_tls_with_a_client_certificate_and_16_bit_references_to_node_smpp(
) {
    if !interop::node_smpp_available() {
        return;
    }
    let certs = TempDir::new().expect("temp dir");
    interop::make_certs(certs.path());
    let dir = certs.path().display().to_string();
    let flags = ["--tls-dir", dir.as_str(), "--require-client-cert"];
    let events = through_node_smpp("node-tls", &flags, |c| {
        c.primary.tls = Some(tls(&certs, "ca.pem", true));
        // And long messages with 16-bit concatenation references (UDH IEI 0x08).
        c.encoding.reference_bits = 16;
    })
    .await;
    let handshakes: Vec<&Value> = events.iter().filter(|e| e["event"] == "tls").collect();
    assert!(!handshakes.is_empty(), "{events:?}");
    assert!(
        handshakes.iter().all(|e| e["client_cn"] == "client"
            && e["protocol"]
                .as_str()
                .is_some_and(|p| p.starts_with("TLSv1."))),
        "{handshakes:?}"
    );
    let submits = node_submits(&events);
    let udh16 = events
        .iter()
        .filter(|e| e["event"] == "submit")
        .filter(|e| {
            e["udh"].as_array().is_some_and(|ies| {
                ies.iter()
                    .any(|ie| ie.as_str().is_some_and(|h| h.starts_with("0804")))
            })
        })
        .count();
    assert_eq!(udh16, submits.iter().filter(|s| s.part.is_some()).count());
    assert!(udh16 >= 4, "{events:?}");
    assert_eq!(reassembled(&submits), expected_texts());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_does_not_bind_to_an_smsc_whose_certificate_its_ca_did_not_sign() {
    if !interop::node_smpp_available() {
        return;
    }
    harness::init_logging();
    let certs = TempDir::new().expect("temp dir");
    interop::make_certs(certs.path());
    let dir = certs.path().display().to_string();
    let node = NodeSmsc::start("ghasi01", "s3cret", &["--tls-dir", dir.as_str()]).await;
    let op = harness::unique_operator("node-tls-bad-ca");
    let mut config = node_config(&certs, &op, &node);
    config.primary.tls = Some(tls(&certs, "other-ca.pem", false));
    let connector = Connector::start(config);
    // The handshake fails at every attempt: no bind reaches the SMSC, never ready.
    let failed = node
        .events
        .wait(Duration::from_secs(10), |e| {
            e.iter().filter(|e| e["event"] == "tls_error").count() >= 2
        })
        .await;
    let events = node.events.all();
    assert!(failed, "{events:?}");
    assert!(!events.iter().any(|e| e["event"] == "bind"), "{events:?}");
    assert!(!connector.wait_ready(Duration::from_secs(1)).await);
    assert_eq!(connector.stop().await, Ok(()));
}
