//! Reconcile scenarios against an in-memory API server (tower-test mock service).

#[path = "support/session.rs"]
mod session_fixture;
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use controller::apply::CONFLICT_ATTEMPTS;
use controller::context::Context;
use controller::metrics::Metrics;
use controller::reconcile::{error_policy, reconcile, RESYNC, STALLED_RETRY};
use crds::status::BindState;
use crds::{MnoConnection, SessionStatus};
use http::Method;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::{json, Value};
use session_fixture::session;
use support::FakeApi;

const NS: &str = "sms";
const MNO_PATH: &str = "/apis/smpp.ghasi.io/v1alpha1/namespaces/sms/mnoconnections/mtn-gh";
const CM: &str = "/api/v1/namespaces/sms/configmaps/mtn-gh-connector";
const SA: &str = "/api/v1/namespaces/sms/serviceaccounts/mtn-gh-connector";
const ROLE: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/sms/roles/mtn-gh-connector";
const RB: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/sms/rolebindings/mtn-gh-connector";
const SVC: &str = "/api/v1/namespaces/sms/services/mtn-gh-connector";
const DEPLOY: &str = "/apis/apps/v1/namespaces/sms/deployments/mtn-gh-connector";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/sms/events";
const CHILDREN: [&str; 6] = [CM, SA, ROLE, RB, SVC, DEPLOY];

fn mno(generation: i64) -> MnoConnection {
    let mut m: MnoConnection = serde_json::from_value(json!({
        "apiVersion": "smpp.ghasi.io/v1alpha1",
        "kind": "MnoConnection",
        "metadata": {"name": "mtn-gh", "namespace": NS, "uid": "uid-1", "generation": generation},
        "spec": {"operatorId": "mtn-gh", "primary": {"host": "smsc1", "port": 2775}, "backup": {"host": "smsc2", "port": 2775}}
    }))
    .expect("valid MnoConnection");
    m.metadata.generation = Some(generation);
    m
}

struct Harness {
    fake: FakeApi,
    ctx: Arc<Context>,
    /// Feeds the controller's MnoConnection store, as the reflector would.
    peers: Mutex<Writer<MnoConnection>>,
}

fn path_of(m: &MnoConnection) -> String {
    format!(
        "/apis/smpp.ghasi.io/v1alpha1/namespaces/{}/mnoconnections/{}",
        m.namespace().unwrap_or_default(),
        m.name_any()
    )
}

impl Harness {
    fn new() -> Self {
        Self::with(|ctx| ctx)
    }

    /// A harness whose context is changed by `configure`.
    fn with(configure: impl FnOnce(Context) -> Context) -> Self {
        let fake = FakeApi::default();
        let client = fake.client();
        let (store, writer) = reflector::store::<MnoConnection>();
        let ctx = Context::with_clock(
            client,
            "ghcr.io/ghasi/smpp-connector:0.1.0",
            Reporter {
                controller: "mno-controller".into(),
                instance: None,
            },
            Arc::new(Metrics::default()),
            Arc::new(|| Timestamp::from_second(1_764_000_000).expect("valid time")),
        );
        Self {
            fake,
            ctx: Arc::new(configure(ctx.with_peers(store))),
            peers: Mutex::new(writer),
        }
    }

    /// Stores `m` as the API server's copy (and in the controller's store) and reconciles it.
    async fn reconcile(&self, m: &MnoConnection) -> Result<Action, controller::error::Error> {
        let path = path_of(m);
        let mut stored = serde_json::to_value(m).expect("serialises");
        if let Some(live) = self.fake.get(&path) {
            if let Some(status) = live.get("status") {
                stored["status"] = status.clone();
            }
        }
        self.fake.put(&path, stored.clone());
        let current: MnoConnection = serde_json::from_value(stored).expect("deserialises");
        self.watched(watcher::Event::Apply(current.clone()));
        reconcile(Arc::new(current), self.ctx.clone()).await
    }

    /// Passes a watch event to the controller's MnoConnection store.
    fn watched(&self, event: watcher::Event<MnoConnection>) {
        self.peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .apply_watcher_event(&event);
    }

    /// The MnoConnection as stored, with the status the controller wrote.
    fn live(&self) -> MnoConnection {
        self.live_at(MNO_PATH)
    }

    fn live_at(&self, path: &str) -> MnoConnection {
        serde_json::from_value(self.fake.get(path).expect("stored")).expect("deserialises")
    }

    fn writes_to(&self, path: &str) -> Vec<Value> {
        self.fake
            .writes()
            .into_iter()
            .filter(|s| s.path == path)
            .filter_map(|s| s.body)
            .collect()
    }

    fn event_reasons(&self) -> Vec<String> {
        self.writes_to(EVENTS)
            .iter()
            .filter_map(|e| e["reason"].as_str().map(str::to_string))
            .collect()
    }

    fn message(&self, type_: &str) -> String {
        self.message_of(MNO_PATH, type_)
    }

    fn message_of(&self, path: &str, type_: &str) -> String {
        self.live_at(path)
            .status
            .and_then(|s| s.condition(type_).map(|c| c.message.clone()))
            .unwrap_or_default()
    }

    fn condition(&self, type_: &str) -> (String, String) {
        self.condition_of(MNO_PATH, type_)
    }

    fn condition_of(&self, path: &str, type_: &str) -> (String, String) {
        let live = self.live_at(path);
        let c = live
            .status
            .as_ref()
            .and_then(|s| s.condition(type_))
            .unwrap_or_else(|| panic!("no {type_} condition"));
        (c.status.clone(), c.reason.clone())
    }

    /// Marks the stored Deployment as rolled out.
    fn roll_out(&self) {
        let mut d = self.fake.get(DEPLOY).expect("deployment stored");
        d["metadata"]["generation"] = json!(1);
        let replicas = d["spec"]["replicas"].clone();
        d["status"] =
            json!({"observedGeneration": 1, "updatedReplicas": replicas, "replicas": replicas});
        self.fake.put(DEPLOY, d);
    }

    /// Sets how many connector pods of the stored Deployment are ready.
    fn set_ready_pods(&self, ready: i32) {
        let mut d = self.fake.get(DEPLOY).expect("deployment stored");
        d["status"]["readyReplicas"] = json!(ready);
        self.fake.put(DEPLOY, d);
    }

    fn has_condition(&self, type_: &str) -> bool {
        self.live()
            .status
            .is_some_and(|s| s.condition(type_).is_some())
    }

    /// Writes the connector's session part into the stored status.
    fn set_session(&self, session: &SessionStatus) {
        let mut m = self.fake.get(MNO_PATH).expect("stored");
        m["status"]["session"] = serde_json::to_value(session).expect("serialises");
        self.fake.put(MNO_PATH, m);
    }
}

#[tokio::test]
async fn create_applies_every_child_and_reports_the_rollout() {
    let h = Harness::new();
    let action = h.reconcile(&mno(1)).await.expect("reconciles");
    assert_eq!(action, Action::requeue(RESYNC));
    for path in CHILDREN {
        let writes = h
            .fake
            .writes()
            .into_iter()
            .filter(|s| s.path == path)
            .collect::<Vec<_>>();
        assert_eq!(writes.len(), 1, "{path} applied once");
        assert_eq!(writes[0].method, Method::PATCH);
        assert!(
            writes[0].query.contains("fieldManager=mno-controller"),
            "{}",
            writes[0].query
        );
        assert!(
            writes[0].query.contains("force=true"),
            "{}",
            writes[0].query
        );
    }
    let deployment = h.fake.get(DEPLOY).expect("deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    let status_writes = h.writes_to(&format!("{MNO_PATH}/status"));
    assert_eq!(status_writes.len(), 1);
    assert_eq!(status_writes[0]["status"]["observedGeneration"], 1);
    assert!(
        status_writes[0]["status"].get("session").is_none(),
        "the controller never writes the session"
    );
    assert_eq!(
        h.condition("Ready"),
        ("False".into(), "RolloutInProgress".into())
    );
    assert_eq!(
        h.condition("Reconciling"),
        ("True".into(), "RolloutInProgress".into())
    );
    let reasons = h.event_reasons();
    assert_eq!(
        reasons.iter().filter(|r| *r == "Created").count(),
        6,
        "{reasons:?}"
    );
}

fn standby_mno(generation: i64) -> MnoConnection {
    let mut m = mno(generation);
    m.spec.replicas = 2;
    m.spec.binds = 4;
    m
}

#[tokio::test]
async fn two_replicas_report_a_missing_standby_until_both_pods_are_ready() {
    let h = Harness::new();
    h.reconcile(&standby_mno(1)).await.expect("create");
    let deployment = h.fake.get(DEPLOY).expect("deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"],
        json!({"maxSurge": 1, "maxUnavailable": 0})
    );
    let config = h.fake.get(CM).expect("config map")["data"]["config.yaml"].clone();
    let config = config.as_str().expect("config text");
    assert!(config.contains("backend: kubernetes"), "{config}");
    assert!(config.contains("name: mtn-gh-connector"), "{config}");
    assert!(config.contains("binds: 4"), "{config}");
    let role = h.fake.get(ROLE).expect("role");
    assert_eq!(
        role["rules"][2]["resourceNames"],
        json!(["mtn-gh-connector"])
    );
    assert_eq!(role["rules"][3]["verbs"], json!(["create"]));
    assert!(
        !h.has_condition("StandbyReady"),
        "the rollout says more while it runs"
    );

    h.roll_out();
    h.set_ready_pods(1);
    h.set_session(&session(BindState::Bound));
    h.reconcile(&standby_mno(1)).await.expect("one pod ready");
    assert_eq!(h.condition("Ready"), ("True".into(), "Bound".into()));
    assert_eq!(
        h.condition("StandbyReady"),
        ("False".into(), "StandbyMissing".into())
    );
    assert_eq!(
        h.message("StandbyReady"),
        "1/2 connector pods ready: no standby to take over"
    );

    h.set_ready_pods(2);
    h.reconcile(&standby_mno(1)).await.expect("both pods ready");
    assert_eq!(
        h.condition("StandbyReady"),
        ("True".into(), "StandbyRunning".into())
    );
    assert_eq!(h.condition("Degraded").0, "False");

    let mut one = standby_mno(2);
    one.spec.replicas = 1;
    h.reconcile(&one).await.expect("back to one replica");
    let deployment = h.fake.get(DEPLOY).expect("deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let role = h.fake.get(ROLE).expect("role");
    assert_eq!(
        role["rules"].as_array().map(Vec::len),
        Some(4),
        "one replica keeps its Lease rules (it holds the Lease too)"
    );
    h.roll_out();
    h.reconcile(&one).await.expect("rolled out");
    assert!(
        !h.has_condition("StandbyReady"),
        "one replica has no standby condition"
    );
}

#[tokio::test]
async fn nothing_changed_means_nothing_written() {
    let h = Harness::new();
    h.reconcile(&mno(1)).await.expect("first reconcile");
    h.fake.clear_seen();
    h.reconcile(&mno(1)).await.expect("second reconcile");
    assert_eq!(h.fake.writes().len(), 0, "{:?}", h.fake.writes());
    assert!(h.fake.seen().iter().all(|s| s.method == Method::GET));
}

#[tokio::test]
async fn drifted_replicas_are_applied_back_despite_a_matching_hash() {
    let h = Harness::new();
    h.reconcile(&mno(1)).await.expect("create");
    let mut scaled = h.fake.get(DEPLOY).expect("deployment");
    assert!(scaled["metadata"]["annotations"]["smpp.ghasi.io/applied-hash"].is_string());
    scaled["spec"]["replicas"] = json!(2);
    h.fake.put(DEPLOY, scaled);
    h.fake.clear_seen();
    h.reconcile(&mno(1)).await.expect("reconciles");
    let written: Vec<String> = h
        .fake
        .writes()
        .into_iter()
        .map(|s| s.path)
        .filter(|p| p != EVENTS)
        .collect();
    assert_eq!(written, [DEPLOY.to_string()]);
    assert_eq!(
        h.fake.get(DEPLOY).expect("deployment")["spec"]["replicas"],
        1
    );
}

#[tokio::test]
async fn drifted_config_map_data_is_applied_back() {
    let h = Harness::new();
    h.reconcile(&mno(1)).await.expect("create");
    let mut edited = h.fake.get(CM).expect("config map");
    edited["data"]["config.yaml"] = json!("edited: by hand\n");
    h.fake.put(CM, edited);
    h.fake.clear_seen();
    h.reconcile(&mno(1)).await.expect("reconciles");
    assert_eq!(h.writes_to(CM).len(), 1);
    let data = h.fake.get(CM).expect("config map")["data"]["config.yaml"].clone();
    assert_ne!(data, json!("edited: by hand\n"));
    assert!(
        data.as_str().is_some_and(|c| c.contains("mtn-gh")),
        "{data}"
    );
}

#[tokio::test]
async fn spec_update_rewrites_config_and_deployment_only() {
    let h = Harness::new();
    h.reconcile(&mno(1)).await.expect("create");
    let before = h.fake.get(DEPLOY).expect("deployment");
    h.fake.clear_seen();
    let mut updated = mno(2);
    updated.spec.throttle.tps = 250;
    h.reconcile(&updated).await.expect("update");
    let written: Vec<String> = h
        .fake
        .writes()
        .into_iter()
        .map(|s| s.path)
        .filter(|p| p != EVENTS)
        .collect();
    assert_eq!(
        written,
        [
            CM.to_string(),
            DEPLOY.to_string(),
            format!("{MNO_PATH}/status")
        ]
    );
    let config = h.fake.get(CM).expect("config map");
    assert!(config["data"]["config.yaml"]
        .as_str()
        .is_some_and(|c| c.contains("tps: 250")));
    let checksum = |d: &Value| {
        d["spec"]["template"]["metadata"]["annotations"]["smpp.ghasi.io/config-checksum"].clone()
    };
    assert_ne!(
        checksum(&before),
        checksum(&h.fake.get(DEPLOY).expect("deployment"))
    );
    assert_eq!(h.live().status.and_then(|s| s.observed_generation), Some(2));
    assert_eq!(h.event_reasons(), ["Updated", "Updated"]);
}

#[tokio::test]
async fn suspend_scales_to_zero_and_says_so() {
    let h = Harness::new();
    h.reconcile(&mno(1)).await.expect("create");
    let mut suspended = mno(2);
    suspended.spec.suspend = true;
    h.reconcile(&suspended).await.expect("suspend");
    assert_eq!(
        h.fake.get(DEPLOY).expect("deployment")["spec"]["replicas"],
        0
    );
    assert_eq!(h.condition("Ready"), ("False".into(), "Suspended".into()));
    assert_eq!(h.condition("Reconciling").0, "False");
    let message = h
        .live()
        .status
        .and_then(|s| s.condition("Ready").map(|c| c.message.clone()));
    assert_eq!(
        message.as_deref(),
        Some("suspended: the connector is scaled to zero")
    );
}

#[tokio::test]
async fn deleted_resource_is_left_to_garbage_collection() {
    let h = Harness::new();
    let mut deleted = mno(1);
    deleted.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            Timestamp::from_second(1_764_000_000).expect("time"),
        ));
    let action = h.reconcile(&deleted).await.expect("reconciles");
    assert_eq!(action, Action::await_change());
    assert!(
        h.fake.seen().is_empty(),
        "no request at all: {:?}",
        h.fake.seen()
    );
    assert!(
        mno(1).metadata.finalizers.is_none(),
        "no finalizer is needed"
    );
}

#[tokio::test]
async fn conflicts_are_retried() {
    let h = Harness::new();
    h.fake.fail_next(Method::PATCH, "/configmaps/", 409);
    h.fake.fail_next(Method::PATCH, "/status", 409);
    h.reconcile(&mno(1))
        .await
        .expect("reconciles despite conflicts");
    let cm_patches = h
        .fake
        .seen()
        .into_iter()
        .filter(|s| s.path == CM && s.method == Method::PATCH)
        .count();
    assert_eq!(cm_patches, 2);
    assert_eq!(h.writes_to(&format!("{MNO_PATH}/status")).len(), 2);
    assert!(h.fake.get(CM).is_some());
}

#[tokio::test]
async fn conflicts_on_every_attempt_fail_the_reconcile_as_a_conflict() {
    for (path_part, path) in [
        ("/configmaps/", CM.to_string()),
        ("/status", format!("{MNO_PATH}/status")),
    ] {
        let h = Harness::new();
        for _ in 0..CONFLICT_ATTEMPTS {
            h.fake.fail_next(Method::PATCH, path_part, 409);
        }
        let err = h
            .reconcile(&mno(1))
            .await
            .expect_err("a conflict on every attempt fails the reconcile");
        assert_eq!(err.metric_label(), "conflict", "{path_part}");
        let patches = h
            .fake
            .seen()
            .into_iter()
            .filter(|s| s.path == path && s.method == Method::PATCH)
            .count();
        assert_eq!(patches, CONFLICT_ATTEMPTS, "attempts at {path}");
    }
}

#[tokio::test]
async fn transient_errors_fail_the_reconcile_with_growing_backoff() {
    let h = Harness::new();
    h.fake.fail_next(Method::GET, "/deployments/", 500);
    let m = mno(1);
    let err = h.reconcile(&m).await.expect_err("500 fails the reconcile");
    assert_eq!(err.metric_label(), "api");
    let delays: Vec<Action> = (0..3)
        .map(|_| error_policy(Arc::new(m.clone()), &err, h.ctx.clone()))
        .collect();
    assert_eq!(
        delays,
        [
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(4)
        ]
        .map(Action::requeue)
    );
    h.reconcile(&m).await.expect("recovers");
    assert_eq!(
        error_policy(Arc::new(m), &err, h.ctx.clone()),
        Action::requeue(Duration::from_secs(1)),
        "a success resets the backoff"
    );
    let metrics = h.ctx.metrics.encode().expect("metrics");
    assert!(
        metrics.contains("mno_controller_reconcile_failures_total{error=\"api\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mno_controller_reconciles_total 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn missing_credentials_secret_stalls_without_children() {
    let h = Harness::new();
    let mut m = mno(1);
    m.spec.credentials =
        serde_json::from_value(json!({"secretRef": {"name": "mtn-gh-smpp"}})).expect("credentials");
    let action = h.reconcile(&m).await.expect("reconciles");
    assert_eq!(action, Action::requeue(STALLED_RETRY));
    assert!(
        CHILDREN.iter().all(|p| h.fake.get(p).is_none()),
        "no child without its Secret"
    );
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "CredentialsSecretNotFound".into())
    );
    assert_eq!(h.condition("Ready").0, "False");
    assert_eq!(h.event_reasons(), ["CredentialsError"]);

    h.fake.put(
        "/api/v1/namespaces/sms/secrets/mtn-gh-smpp",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "mtn-gh-smpp", "namespace": NS}, "data": {"other": "e30="}}),
    );
    h.reconcile(&m).await.expect("reconciles");
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "CredentialsKeyMissing".into())
    );

    h.fake.put(
        "/api/v1/namespaces/sms/secrets/mtn-gh-smpp",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "mtn-gh-smpp", "namespace": NS}, "data": {"credentials.json": "e30="}}),
    );
    h.reconcile(&m).await.expect("reconciles");
    assert_eq!(h.condition("Stalled").0, "False");
    let deployment = h
        .fake
        .get(DEPLOY)
        .expect("deployment once the Secret exists");
    let volumes = deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(volumes
        .iter()
        .any(|v| v["secret"]["secretName"] == "mtn-gh-smpp"));
}

#[tokio::test]
async fn invalid_spec_stalls_with_what_to_fix() {
    let h = Harness::new();
    let mut m = mno(1);
    m.spec.encoding.accepted = vec![crds::config::Charset::Latin1];
    h.reconcile(&m).await.expect("reconciles");
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "InvalidSpec".into())
    );
    let message = h
        .live()
        .status
        .and_then(|s| s.condition("Stalled").map(|c| c.message.clone()))
        .unwrap_or_default();
    assert!(message.contains("encoding.accepted"), "{message}");
    assert!(h.fake.get(CM).is_none());
}

#[tokio::test]
async fn session_drives_ready_degraded_and_failover_events() {
    let h = Harness::new();
    h.reconcile(&mno(1)).await.expect("create");
    h.roll_out();
    h.reconcile(&mno(1)).await.expect("rolled out");
    assert_eq!(
        h.condition("Ready"),
        ("False".into(), "AwaitingSession".into())
    );

    h.set_session(&session(BindState::Bound));
    h.reconcile(&mno(1)).await.expect("bound");
    assert_eq!(h.condition("Ready"), ("True".into(), "Bound".into()));
    assert_eq!(h.condition("Degraded").0, "False");
    assert_eq!(
        h.live()
            .status
            .and_then(|s| s.session)
            .map(|s| s.bind_state),
        Some(BindState::Bound),
        "session kept"
    );

    h.fake.clear_seen();
    h.set_session(&session(BindState::Failback));
    h.reconcile(&mno(1)).await.expect("failover");
    assert_eq!(
        h.condition("Ready"),
        ("True".into(), "BoundOnBackup".into())
    );
    assert_eq!(
        h.condition("Degraded"),
        ("True".into(), "FailedOver".into())
    );
    assert_eq!(h.event_reasons(), ["FailedOver"]);

    h.fake.clear_seen();
    h.set_session(&session(BindState::Bound));
    h.reconcile(&mno(1)).await.expect("failback");
    assert_eq!(h.condition("Degraded").0, "False");
    assert_eq!(h.event_reasons(), ["FailedBack"]);

    h.fake.clear_seen();
    h.set_session(&session(BindState::Unbound));
    h.reconcile(&mno(1)).await.expect("unbound");
    assert_eq!(h.condition("Ready"), ("False".into(), "Unbound".into()));
    assert_eq!(h.event_reasons(), ["Unbound"]);
}

#[tokio::test]
async fn an_image_outside_the_allow_list_stalls_without_children() {
    let h = Harness::new();
    let mut m = mno(1);
    m.spec.connector.image = Some("ghcr.io/ghasi/smpp-connector-evil:0.1.0".into());
    let action = h.reconcile(&m).await.expect("reconciles");
    assert_eq!(action, Action::requeue(STALLED_RETRY));
    let child_writes: Vec<String> = h
        .fake
        .writes()
        .into_iter()
        .map(|s| s.path)
        .filter(|p| CHILDREN.contains(&p.as_str()))
        .collect();
    assert!(child_writes.is_empty(), "{child_writes:?}");
    assert!(CHILDREN.iter().all(|p| h.fake.get(p).is_none()));
    let status_writes = h.writes_to(&format!("{MNO_PATH}/status"));
    assert_eq!(status_writes.len(), 1);
    let stalled = status_writes[0]["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Stalled").cloned())
        .expect("Stalled condition patched");
    assert_eq!(stalled["status"], "True");
    assert_eq!(stalled["reason"], "ImageNotAllowed");
    let message = h.message("Stalled");
    assert!(
        message.contains("ghcr.io/ghasi/smpp-connector-evil:0.1.0")
            && message.contains("allowed: ghcr.io/ghasi/smpp-connector ")
            && message.contains("connector.allowedImages"),
        "{message}"
    );
    assert_eq!(
        h.condition("Ready"),
        ("False".into(), "ImageNotAllowed".into())
    );
    assert_eq!(h.event_reasons(), ["Stalled"]);
}

#[tokio::test]
async fn a_refused_image_change_leaves_the_running_connector_as_it_is() {
    let h = Harness::new();
    h.reconcile(&mno(1)).await.expect("create");
    let before = h.fake.get(DEPLOY).expect("deployment");
    h.fake.clear_seen();
    let mut m = mno(2);
    m.spec.connector.image = Some("docker.io/attacker/connector:latest".into());
    h.reconcile(&m).await.expect("reconciles");
    let written: Vec<String> = h.fake.writes().into_iter().map(|s| s.path).collect();
    assert_eq!(
        written,
        [format!("{MNO_PATH}/status"), EVENTS.to_string()],
        "only the status and the Stalled event"
    );
    assert_eq!(h.fake.get(DEPLOY), Some(before));
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "ImageNotAllowed".into())
    );

    // Back to an allowed image: reconciled normally again.
    let mut m = mno(3);
    m.spec.connector.image = Some("ghcr.io/ghasi/smpp-connector:0.2.0".into());
    h.reconcile(&m).await.expect("reconciles");
    assert_eq!(h.condition("Stalled").0, "False");
    assert_eq!(
        h.fake.get(DEPLOY).expect("deployment")["spec"]["template"]["spec"]["containers"][0]
            ["image"],
        "ghcr.io/ghasi/smpp-connector:0.2.0"
    );
}

#[tokio::test]
async fn a_configured_allow_list_replaces_the_default_repository() {
    let policy = controller::image_policy::ImagePolicy::new(&["registry.example.com/sms/*"])
        .expect("valid policy");
    let h = Harness::with(|ctx| ctx.with_image_policy(policy));
    h.reconcile(&mno(1)).await.expect("reconciles");
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "ImageNotAllowed".into()),
        "the default image is outside the configured list"
    );
    assert!(h.fake.get(DEPLOY).is_none());

    let mut m = mno(2);
    m.spec.connector.image = Some("registry.example.com/sms/connector:1.0".into());
    h.reconcile(&m).await.expect("reconciles");
    assert_eq!(h.condition("Stalled").0, "False");
    assert!(h.fake.get(DEPLOY).is_some());
}

/// `mtn-gh`'s operator under another name, created at `created`.
fn named(name: &str, created: &str) -> MnoConnection {
    let mut m = mno(1);
    m.metadata.name = Some(name.into());
    m.metadata.uid = Some(format!("uid-{name}"));
    m.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        created.parse().expect("timestamp"),
    ));
    m
}

const OLDER: &str = "2025-01-01T00:00:00Z";
const NEWER: &str = "2025-02-01T00:00:00Z";
const NEW_PATH: &str = "/apis/smpp.ghasi.io/v1alpha1/namespaces/sms/mnoconnections/mtn-gh-new";
const NEW_DEPLOY: &str = "/apis/apps/v1/namespaces/sms/deployments/mtn-gh-new-connector";

#[tokio::test]
async fn a_newer_resource_with_the_same_operator_id_stalls_without_children() {
    let h = Harness::new();
    let older = named("mtn-gh", OLDER);
    h.reconcile(&older).await.expect("older reconciles");
    assert!(h.fake.get(DEPLOY).is_some());
    h.fake.clear_seen();

    let newer = named("mtn-gh-new", NEWER);
    let action = h.reconcile(&newer).await.expect("newer reconciles");
    assert_eq!(action, Action::requeue(STALLED_RETRY));
    let written: Vec<String> = h.fake.writes().into_iter().map(|s| s.path).collect();
    assert_eq!(
        written,
        [format!("{NEW_PATH}/status"), EVENTS.to_string()],
        "no child of the newer resource"
    );
    assert!(h.fake.get(NEW_DEPLOY).is_none());
    assert_eq!(
        h.condition_of(NEW_PATH, "Stalled"),
        ("True".into(), "DuplicateOperatorId".into())
    );
    let message = h.message_of(NEW_PATH, "Stalled");
    assert!(message.contains("sms/mtn-gh "), "{message}");

    // The older one keeps reconciling normally.
    h.fake.clear_seen();
    h.reconcile(&older).await.expect("older reconciles");
    assert_eq!(h.condition("Stalled").0, "False");
    assert_eq!(
        h.fake.get(DEPLOY).expect("deployment")["spec"]["replicas"],
        1
    );
}

#[tokio::test]
async fn a_running_duplicate_is_scaled_to_zero_and_resumes_when_the_older_goes() {
    let h = Harness::new();
    let newer = named("mtn-gh-new", NEWER);
    h.reconcile(&newer).await.expect("alone, it runs");
    assert_eq!(
        h.fake.get(NEW_DEPLOY).expect("deployment")["spec"]["replicas"],
        1
    );

    // An older resource with the same operator appears in the store (for example after an
    // upgrade of the controller, or a restore): the newer connector must stop consuming.
    let older = named("mtn-gh", OLDER);
    h.watched(watcher::Event::Apply(older.clone()));
    h.fake.clear_seen();
    h.reconcile(&newer).await.expect("reconciles");
    let written: Vec<String> = h
        .fake
        .writes()
        .into_iter()
        .map(|s| s.path)
        .filter(|p| p != EVENTS)
        .collect();
    assert_eq!(
        written,
        [NEW_DEPLOY.to_string(), format!("{NEW_PATH}/status")]
    );
    assert_eq!(
        h.fake.get(NEW_DEPLOY).expect("deployment")["spec"]["replicas"],
        0
    );
    assert_eq!(
        h.condition_of(NEW_PATH, "Stalled"),
        ("True".into(), "DuplicateOperatorId".into())
    );

    h.watched(watcher::Event::Delete(older));
    h.reconcile(&newer).await.expect("reconciles");
    assert_eq!(h.condition_of(NEW_PATH, "Stalled").0, "False");
    assert_eq!(
        h.fake.get(NEW_DEPLOY).expect("deployment")["spec"]["replicas"],
        1
    );
}

const NETPOL: &str = "/apis/networking.k8s.io/v1/namespaces/sms/networkpolicies/mtn-gh-connector";

#[tokio::test]
async fn network_policies_are_applied_before_the_deployment_when_enabled() {
    let settings = controller::network_policy::Settings::parse("{}").expect("settings");
    let h = Harness::with(|ctx| ctx.with_network_policy(settings));
    // smsc1 and smsc2 are names: the policy cannot allow them without CIDRs.
    h.reconcile(&mno(1)).await.expect("reconciles");
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "NetworkPolicyNeedsCIDRs".into())
    );
    assert!(CHILDREN.iter().all(|p| h.fake.get(p).is_none()));
    assert!(h.fake.get(NETPOL).is_none());

    let mut m = mno(2);
    m.spec.primary.egress_cidrs = vec!["192.0.2.1/32".into()];
    if let Some(b) = m.spec.backup.as_mut() {
        b.egress_cidrs = vec!["192.0.2.2/32".into()];
    }
    h.fake.clear_seen();
    h.reconcile(&m).await.expect("reconciles");
    assert_eq!(h.condition("Stalled").0, "False");
    let order: Vec<String> = h
        .fake
        .writes()
        .into_iter()
        .map(|s| s.path)
        .filter(|p| p == NETPOL || p == DEPLOY)
        .collect();
    assert_eq!(order, [NETPOL.to_string(), DEPLOY.to_string()]);
    let policy = h.fake.get(NETPOL).expect("network policy");
    assert_eq!(
        policy["spec"]["egress"][1]["to"][0]["ipBlock"]["cidr"],
        "192.0.2.1/32"
    );
    assert_eq!(policy["metadata"]["ownerReferences"][0]["uid"], "uid-1");
}

#[tokio::test]
async fn no_network_policy_without_the_setting() {
    let h = Harness::new();
    h.reconcile(&mno(1)).await.expect("reconciles");
    assert!(h.fake.get(DEPLOY).is_some());
    assert!(h
        .fake
        .seen()
        .iter()
        .all(|s| !s.path.contains("networkpolicies")));
}
