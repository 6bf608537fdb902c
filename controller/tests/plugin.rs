//! `kubectl mno` against the tower-test mock API: recorded MnoConnections (the examples with a
//! status) and connector `/status` answers behind the service proxy; the text output against
//! a golden file, JSON that reads back, colours, and the suspend patch.
//!
//! Regenerate the golden file after an intended change:
//! `UPDATE_GOLDEN=1 cargo test -p controller --test plugin`.

use controller::plugin::render::{render, Format};
use controller::plugin::{gather, set_endpoint, set_suspended, MnoView};
use crds::MnoConnection;
use http::{Method, Request, Response};
use kube::client::Body;
use kube::{Api, Client};
use serde_json::{json, Value};
use tower_test::mock::Handle;

type MockHandle = Handle<Request<Body>, Response<Body>>;

fn example(name: &str) -> Value {
    let path = crds::crdgen::workspace_root().join("examples").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The standby example, bound on the primary with 3 of 4 binds, and the full example
/// suspended.
fn recorded() -> Value {
    let mut standby = example("mno-standby.yaml");
    standby["status"] = json!({
        "observedGeneration": 3,
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Bound", "message": "bound to the primary (3/4 binds)",
             "lastTransitionTime": "2026-12-04T10:00:00Z", "observedGeneration": 3},
            {"type": "StandbyReady", "status": "False", "reason": "StandbyMissing", "message": "1 of 2 connector pods ready",
             "lastTransitionTime": "2026-12-04T10:01:00Z", "observedGeneration": 3}
        ],
        "session": {
            "bindState": "BOUND", "activeEndpoint": "primary",
            "primary": {"address": "smsc1.mtn.example:2775", "state": "bound", "consecutiveFailures": 0},
            "backup": {"address": "smsc2.mtn.example:2775", "state": "idle", "consecutiveFailures": 0},
            "connectorPod": "mtn-gh-standby-connector-7f9c-a", "connectorReady": true
        },
        "binds": [
            {"index": 0, "pod": "mtn-gh-standby-connector-7f9c-a", "endpoint": "primary", "state": "bound", "mode": "transceiver", "since": "2026-12-04T10:00:00Z", "windowInUse": 12},
            {"index": 1, "pod": "mtn-gh-standby-connector-7f9c-a", "endpoint": "primary", "state": "bound", "mode": "transceiver", "since": "2026-12-04T10:00:01Z", "windowInUse": 9},
            {"index": 2, "pod": "mtn-gh-standby-connector-7f9c-a", "endpoint": "primary", "state": "bound", "mode": "transceiver", "since": "2026-12-04T10:00:01Z", "windowInUse": 14},
            {"index": 3, "pod": "mtn-gh-standby-connector-7f9c-a", "endpoint": "primary", "state": "refused", "since": "2026-12-04T10:00:02Z", "windowInUse": 0,
             "lastError": "bind refused: 0x0000000D ESME_RBINDFAIL"}
        ],
        "bindsReady": "3/4",
        "activePod": "mtn-gh-standby-connector-7f9c-a"
    });
    let mut full = example("mno-full.yaml");
    full["spec"]["suspend"] = json!(true);
    json!({"apiVersion": "smpp.ghasi.io/v1alpha1", "kind": "MnoConnectionList",
           "metadata": {"resourceVersion": "100"}, "items": [full, standby]})
}

fn connector_report() -> Value {
    json!({
        "operatorId": "mtn-gh", "pod": "mtn-gh-standby-connector-7f9c-a", "role": "active", "bound": true,
        "binds": [], "windowInUse": 35, "windowSize": 64, "tpsLimit": 200, "rateLastMinute": 187.4,
        "receiptsPending": 3,
        "transitions": [
            {"at": "2026-12-04T10:00:01Z", "state": "BOUND", "endpoint": "primary", "reason": "bound to the primary (3/4 binds)"},
            {"at": "2026-12-04T10:00:00Z", "state": "UNBOUND", "endpoint": "none", "reason": "starting"}
        ],
        "lastErrors": [
            {"at": "2026-12-04T10:05:12Z", "commandStatus": "0x00000058", "name": "ESME_RTHROTTLED"}
        ],
        "submitsLastMinute": 11244, "reconnectsLastHour": 1
    })
}

fn reply(code: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .body(Body::from(serde_json::to_vec(body).unwrap_or_default()))
        .unwrap_or_else(|e| panic!("response: {e}"))
}

/// Answers like an API server that has the recorded objects; returns the requests it saw.
async fn serve(
    mut handle: MockHandle,
    patched: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
) {
    while let Some((request, send)) = handle.next_request().await {
        let path = request.uri().path().to_string();
        let method = request.method().clone();
        let content_type = request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = request
            .into_body()
            .collect_bytes()
            .await
            .unwrap_or_default();
        let response = match (method, path.as_str()) {
            (Method::GET, "/apis/smpp.ghasi.io/v1alpha1/namespaces/sms/mnoconnections") => {
                reply(200, &recorded())
            }
            (
                Method::GET,
                "/api/v1/namespaces/sms/services/mtn-gh-standby-connector:http/proxy/status",
            ) => reply(200, &connector_report()),
            (
                Method::PATCH,
                "/apis/smpp.ghasi.io/v1alpha1/namespaces/sms/mnoconnections/vodafone-gh",
            ) => {
                if let Ok(mut p) = patched.lock() {
                    p.push((content_type, String::from_utf8_lossy(&body).into_owned()));
                }
                let mut full = example("mno-full.yaml");
                full["spec"]["suspend"] = json!(true);
                reply(200, &full)
            }
            (_, p) => reply(
                404,
                &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                        "reason": "NotFound", "message": format!("{p} not found")}),
            ),
        };
        send.send_response(response);
    }
}

async fn client() -> (
    Client,
    std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let patched = std::sync::Arc::default();
    tokio::spawn(serve(handle, std::sync::Arc::clone(&patched)));
    (Client::new(service, "sms"), patched)
}

async fn views() -> Vec<MnoView> {
    let (client, _) = client().await;
    let api: Api<MnoConnection> = Api::namespaced(client.clone(), "sms");
    gather(&client, &api, None, "sms")
        .await
        .unwrap_or_else(|e| panic!("gather: {e}"))
}

#[tokio::test]
async fn status_shows_one_screen_per_connection_as_the_golden_file() {
    let views = views().await;
    assert_eq!(views.len(), 2);
    let text = render(&views, Format::Text { colour: false }).unwrap_or_default();
    let path =
        crds::crdgen::workspace_root().join("controller/tests/golden/kubectl-mno-status.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == text,
        "{} differs; if intended, run UPDATE_GOLDEN=1 cargo test -p controller --test plugin\n--- built:\n{text}",
        path.display()
    );
    // What the on-call engineer asks first is on the screen.
    for needle in [
        "binds 3/4",
        "ESME_RBINDFAIL",
        "ESME_RTHROTTLED (0x00000058)",
        "rate 187.4/s",
        "3 pending correlation",
        "StandbyReady=False (StandbyMissing)",
        "SUSPENDED",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
}

#[tokio::test]
async fn json_reads_back_and_colours_mark_the_states() {
    let views = views().await;
    let json = render(&views, Format::Json).unwrap_or_default();
    let back: Vec<MnoView> = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(back, views);
    // Sorted by namespace and name.
    assert_eq!(views[0].name, "mtn-gh-standby");
    assert_eq!(
        views[0].connector.as_ref().map(|c| c.receipts_pending),
        Some(3)
    );
    assert_eq!(views[1].connector_error.as_deref(), Some("suspended"));
    let yaml = render(&views, Format::Yaml).unwrap_or_default();
    assert!(yaml.contains("bindsReady: 3/4"), "{yaml}");
    let coloured = render(&views, Format::Text { colour: true }).unwrap_or_default();
    assert!(coloured.contains("\u{1b}[32mBOUND\u{1b}[0m"), "{coloured}");
    assert!(
        coloured.contains("\u{1b}[31mrefused\u{1b}[0m"),
        "{coloured}"
    );
}

#[tokio::test]
async fn a_missing_connection_and_an_unreachable_connector_are_said() {
    let (client, _) = client().await;
    let api: Api<MnoConnection> = Api::namespaced(client.clone(), "sms");
    let e = gather(&client, &api, Some("nope"), "sms").await.err();
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some("no MnoConnection nope in namespace sms")
    );
    // Resumed, the full example's connector does not answer (404 from the proxy).
    let mut full: MnoConnection =
        serde_json::from_value(example("mno-full.yaml")).unwrap_or_else(|e| panic!("{e}"));
    full.spec.suspend = false;
    let report = controller::plugin::connector_status(&client, &full).await;
    assert!(
        report
            .as_ref()
            .is_err_and(|e| e.starts_with("connector /status")),
        "{report:?}"
    );
}

#[tokio::test]
async fn suspend_patches_spec_suspend() {
    let (client, patched) = client().await;
    let api: Api<MnoConnection> = Api::namespaced(client, "sms");
    set_suspended(&api, "vodafone-gh", true)
        .await
        .unwrap_or_else(|e| panic!("suspend: {e}"));
    let p = patched.lock().map(|p| p.clone()).unwrap_or_default();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "application/merge-patch+json");
    let body: Value = serde_json::from_str(&p[0].1).unwrap_or(Value::Null);
    assert_eq!(body, json!({"spec": {"suspend": true}}));
}

#[tokio::test]
async fn failover_sets_and_failback_removes_the_endpoint_annotation() {
    let (client, patched) = client().await;
    let api: Api<MnoConnection> = Api::namespaced(client, "sms");
    set_endpoint(&api, "vodafone-gh", Some("backup"))
        .await
        .unwrap_or_else(|e| panic!("failover: {e}"));
    set_endpoint(&api, "vodafone-gh", None)
        .await
        .unwrap_or_else(|e| panic!("failback: {e}"));
    let p = patched.lock().map(|p| p.clone()).unwrap_or_default();
    let bodies: Vec<Value> = p
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        bodies,
        vec![
            json!({"metadata": {"annotations": {"smpp.ghasi.io/endpoint": "backup"}}}),
            json!({"metadata": {"annotations": {"smpp.ghasi.io/endpoint": null}}}),
        ],
        "a merge patch; null removes the annotation"
    );
}
