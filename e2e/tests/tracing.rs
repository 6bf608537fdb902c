//! Distributed tracing (issue 15): a connector process exports with the real OTLP/HTTP
//! exporter (JSON encoding) to a collector stand-in in the test. One command published with a
//! `traceparent` gives one trace: its dispatch span is the child of the publisher's span, the
//! intake, TPS wait, submit_sm and commit spans hang below it with their attributes, the
//! receipt's span joins the same trace (through the row's stored traceparent) with a link to
//! its deliver_sm span, and the events on `sms.dlr.inbound` carry `traceparent`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use crds::config::{LogFormat, OtlpProtocol};
use e2e::harness::{self, Bus, ConnectorProcess, Db, TempDir};
use futures::StreamExt;
use serde_json::Value;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// Every span the stand-in received.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Value>>>);

impl Collector {
    fn spans(&self) -> Vec<Value> {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn named(&self, name: &str) -> Vec<Value> {
        self.spans()
            .into_iter()
            .filter(|s| s["name"] == name)
            .collect()
    }
}

async fn start_collector() -> (String, Collector) {
    let collector = Collector::default();
    let store = collector.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let mut got = Vec::new();
                for rs in v["resourceSpans"].as_array().into_iter().flatten() {
                    for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                        got.extend(ss["spans"].as_array().into_iter().flatten().cloned());
                    }
                }
                if let Ok(mut s) = store.0.lock() {
                    s.extend(got);
                }
                ([("content-type", "application/json")], "{}")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("collector: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("collector: {e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), collector)
}

/// The value of attribute `key` of a span, as a string.
fn attr(span: &Value, key: &str) -> Option<String> {
    let a = span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?;
    let v = &a["value"];
    v["stringValue"]
        .as_str()
        .map(str::to_string)
        .or_else(|| v["intValue"].as_str().map(str::to_string))
        .or_else(|| v["intValue"].as_i64().map(|i| i.to_string()))
}

fn one(c: &Collector, name: &str) -> Value {
    let spans = c.named(name);
    assert_eq!(spans.len(), 1, "one {name} span: {spans:#?}");
    spans[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_is_one_trace_from_dispatch_to_its_receipt() {
    harness::init_logging();
    let (endpoint, collector) = start_collector().await;
    let op = harness::unique_operator("trace");
    let sim = harness::start_sim("ghasi01", "s3cret", |_| {}).await;
    let dir = TempDir::new().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let mut config = harness::test_config(&op, sim.addr(), harness::sim_credentials(&dir));
    config.tracing.endpoint = endpoint;
    config.tracing.protocol = OtlpProtocol::Json;
    config.tracing.sampling_ratio = 1.0;
    config.logging.format = LogFormat::Text;
    let mut connector = ConnectorProcess::start(
        env!("CARGO_BIN_EXE_e2e-connector"),
        "traced",
        &config,
        &dir,
        &[("OTEL_BSP_SCHEDULE_DELAY", "100")],
    );
    let ready = harness::eventually(Duration::from_secs(20), || async {
        (connector.role().await.as_deref() == Some("single+bound")).then_some(())
    })
    .await;
    assert!(ready.is_some(), "connector ready:\n{}", connector.tail());

    let nats = async_nats::connect(harness::nats_url())
        .await
        .unwrap_or_else(|e| panic!("NATS: {e}"));
    let mut dlr = nats
        .subscribe(config.nats.dlr_subject.clone())
        .await
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    let bus = Bus::connect(&harness::nats_url(), &op).await;
    let message_id = format!("trace-{op}");
    let command = harness::command(&op, &message_id, "traced hello");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", message_id.as_str());
    headers.insert(
        "traceparent",
        format!("00-{TRACE_ID}-{PARENT_ID}-01").as_str(),
    );
    bus.js
        .publish_with_headers(
            bus.subject(),
            headers,
            serde_json::to_vec(&command).unwrap_or_default().into(),
        )
        .await
        .unwrap_or_else(|e| panic!("publish: {e}"))
        .await
        .unwrap_or_else(|e| panic!("publish ack: {e}"));

    // The events: ACCEPTED (when published) and the receipt, each with the trace.
    let mut traced_events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(500), dlr.next()).await else {
            if traced_events
                .iter()
                .any(|(s, _): &(String, _)| s == "DELIVERED")
            {
                break;
            }
            continue;
        };
        let v: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
        if v["messageId"] != message_id.as_str() {
            continue;
        }
        let tp = m
            .headers
            .as_ref()
            .and_then(|h| h.get("traceparent"))
            .map(|t| t.as_str().to_string());
        traced_events.push((v["status"].as_str().unwrap_or("").to_string(), tp));
        if v["status"] == "DELIVERED" {
            break;
        }
    }
    assert!(
        traced_events.iter().any(|(s, _)| s == "DELIVERED"),
        "a DELIVERED event: {traced_events:?}"
    );
    for (status, tp) in &traced_events {
        let tp = tp.as_deref().unwrap_or_default();
        assert!(
            tp.starts_with(&format!("00-{TRACE_ID}-")) && tp.ends_with("-01"),
            "the {status} event carries the trace: {tp:?}"
        );
    }

    let names = [
        "smpp.dispatch",
        "smpp.intake",
        "smpp.tps_wait",
        "smpp.submit_sm",
        "smpp.correlation_commit",
        "smpp.deliver_sm",
        "smpp.correlation_lookup",
        "smpp.receipt",
    ];
    let all = harness::eventually(Duration::from_secs(10), || async {
        names
            .iter()
            .all(|n| !collector.named(n).is_empty())
            .then_some(())
    })
    .await;
    assert!(
        all.is_some(),
        "spans received: {:?}\n{}",
        collector
            .spans()
            .iter()
            .map(|s| s["name"].clone())
            .collect::<Vec<_>>(),
        connector.tail()
    );
    let dispatch = one(&collector, "smpp.dispatch");
    assert_eq!(
        dispatch["traceId"], TRACE_ID,
        "continues the command's trace"
    );
    assert_eq!(
        dispatch["parentSpanId"], PARENT_ID,
        "child of the publisher's span"
    );
    assert_eq!(
        attr(&dispatch, "smpp.message_id").as_deref(),
        Some(message_id.as_str())
    );
    let dispatch_id = dispatch["spanId"].clone();
    for name in ["smpp.intake", "smpp.submit_sm", "smpp.correlation_commit"] {
        let s = one(&collector, name);
        assert_eq!(s["traceId"], TRACE_ID, "{name} in the trace");
        assert_eq!(s["parentSpanId"], dispatch_id, "{name} under smpp.dispatch");
    }
    let submit = one(&collector, "smpp.submit_sm");
    assert_eq!(
        attr(&submit, "smpp.command_status").as_deref(),
        Some("ESME_ROK")
    );
    assert_eq!(attr(&submit, "smpp.segment_index").as_deref(), Some("1"));
    let smsc_id = attr(&submit, "smpp.smsc_message_id").unwrap_or_default();
    assert!(!smsc_id.is_empty(), "the SMSC's message id: {submit:#}");
    assert!(
        attr(&submit, "smpp.sequence_number").is_some(),
        "{submit:#}"
    );
    let tps = one(&collector, "smpp.tps_wait");
    assert_eq!(
        tps["parentSpanId"], submit["spanId"],
        "the TPS wait is the submit's"
    );

    let deliver = one(&collector, "smpp.deliver_sm");
    assert_ne!(
        deliver["traceId"], TRACE_ID,
        "a deliver_sm starts a trace of its own"
    );
    assert_eq!(
        attr(&deliver, "smpp.receipt_id").as_deref(),
        Some(smsc_id.as_str())
    );
    let lookup = one(&collector, "smpp.correlation_lookup");
    assert_eq!(lookup["parentSpanId"], deliver["spanId"]);
    let receipt = one(&collector, "smpp.receipt");
    assert_eq!(
        receipt["traceId"], TRACE_ID,
        "the receipt joins the message's trace"
    );
    assert_eq!(
        receipt["parentSpanId"], dispatch_id,
        "under the command's span"
    );
    assert_eq!(attr(&receipt, "smpp.status").as_deref(), Some("DELIVERED"));
    let linked = receipt["links"]
        .as_array()
        .is_some_and(|l| l.iter().any(|l| l["spanId"] == deliver["spanId"]));
    assert!(linked, "linked to its deliver_sm: {receipt:#}");

    // A command without a trace context starts a trace of its own.
    let untraced = format!("untraced-{op}");
    bus.publish(&harness::command(&op, &untraced, "no context"))
        .await;
    let root = harness::eventually(Duration::from_secs(10), || async {
        collector
            .named("smpp.dispatch")
            .into_iter()
            .find(|s| attr(s, "smpp.message_id").as_deref() == Some(untraced.as_str()))
    })
    .await
    .unwrap_or_else(|| panic!("a dispatch span for {untraced}"));
    assert_ne!(root["traceId"], TRACE_ID);
    assert!(
        root["parentSpanId"].as_str().is_none_or(str::is_empty),
        "a root span: {root:#}"
    );

    // The row keeps the trace for receipts that come hours later.
    let db = Db::connect().await;
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT trace_parent FROM smpp.message_correlations WHERE operator_id = $1 \
         AND message_id = $2",
    )
    .bind(&op)
    .bind(&message_id)
    .fetch_one(&db.0)
    .await
    .unwrap_or_else(|e| panic!("row: {e}"));
    assert!(
        stored
            .as_deref()
            .is_some_and(|t| t.starts_with(&format!("00-{TRACE_ID}-"))),
        "stored traceparent {stored:?}"
    );

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &connector.pid().to_string()])
        .status();
    let exited = tokio::time::timeout(Duration::from_secs(20), connector.child.wait()).await;
    assert!(
        exited.is_ok_and(|s| s.is_ok_and(|s| s.success())),
        "graceful stop"
    );
    bus.cleanup().await;
}
