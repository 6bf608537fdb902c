//! Renders `charts/smpp-connector` with `helm template` and checks what the controller relies
//! on: least-privilege RBAC with exactly the verbs it uses, the restricted Pod Security profile,
//! probes, the environment of the agreed configuration, labels and selectors, and a values
//! schema that refuses unknown keys at every level.
//!
//! helm comes from `$HELM`, `PATH` or `$HOME/.local/bin` (where `.ci/tools.sh` installs it).
//! Without helm the tests say so and pass, except under CI (`CI` set), where they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chart() -> PathBuf {
    repo().join("charts/smpp-connector")
}

/// The helm binary, or None (with a printed reason) when it is missing outside CI.
fn helm() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(h) = std::env::var_os("HELM") {
        candidates.push(PathBuf::from(h));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("helm")));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".local/bin/helm"));
    }
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(found);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "helm not found (HELM, PATH, ~/.local/bin) and CI is set: run .ci/tools.sh"
    );
    eprintln!("SKIPPED: helm not found (set HELM or run .ci/tools.sh); chart not rendered");
    None
}

/// `helm template` output, or helm's error text.
fn template(helm: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new(helm)
        .arg("template")
        .arg("smpp")
        .arg(chart())
        .args(["--namespace", "smpp-system"])
        .args(args)
        .output()
        .map_err(|e| format!("running helm: {e}"))?;
    if output.status.success() {
        String::from_utf8(output.stdout).map_err(|e| format!("helm output: {e}"))
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("rendered YAML parses"))
        .filter(|v| !v.is_null())
        .collect()
}

fn render(helm: &Path, args: &[&str]) -> Vec<Value> {
    let text = template(helm, args).unwrap_or_else(|e| panic!("helm template {args:?}: {e}"));
    documents(&text)
}

fn all_options() -> String {
    chart()
        .join("ci/all-options-values.yaml")
        .to_string_lossy()
        .into_owned()
}

fn kinds(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .map(|d| d["kind"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = find(docs, kind);
    assert_eq!(found.len(), 1, "expected one {kind}, found {}", found.len());
    found[0]
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// (apiGroup, resource) -> verbs, over all rules of a Role or ClusterRole.
fn permissions(role: &Value) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for rule in role["rules"].as_array().expect("rules") {
        assert!(
            rule["resourceNames"].is_null() && rule["nonResourceURLs"].is_null(),
            "unexpected rule shape: {rule}"
        );
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                out.entry((group.clone(), resource))
                    .or_default()
                    .extend(strings(&rule["verbs"]));
            }
        }
    }
    out
}

fn verbs(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Exactly what the controller does with each resource (see the comment in rbac.yaml):
/// a verb added to the chart without a use in the controller fails here.
fn expected_controller_permissions() -> BTreeMap<(String, String), BTreeSet<String>> {
    let apply = ["get", "list", "watch", "create", "patch"];
    [
        (
            "smpp.ghasi.io",
            "mnoconnections",
            &["get", "list", "watch"][..],
        ),
        (
            "smpp.ghasi.io",
            "mnoconnections/status",
            &["get", "patch"][..],
        ),
        (
            "smpp.ghasi.io",
            "mnoconnections/finalizers",
            &["update"][..],
        ),
        ("", "configmaps", &apply[..]),
        ("", "serviceaccounts", &apply[..]),
        ("", "services", &apply[..]),
        ("apps", "deployments", &apply[..]),
        ("rbac.authorization.k8s.io", "roles", &apply[..]),
        ("rbac.authorization.k8s.io", "rolebindings", &apply[..]),
        ("", "secrets", &["get"][..]),
        ("events.k8s.io", "events", &["create", "patch"][..]),
        (
            "coordination.k8s.io",
            "leases",
            &["get", "update", "patch", "create"][..],
        ),
    ]
    .into_iter()
    .map(|(g, r, v)| ((g.to_string(), r.to_string()), verbs(v)))
    .collect()
}

fn assert_no_dangerous_verbs(role: &Value) {
    for ((group, resource), verbs) in permissions(role) {
        for bad in ["*", "escalate", "bind", "impersonate", "deletecollection"] {
            assert!(
                !verbs.contains(bad),
                "{group}/{resource} grants {bad} in {}",
                role["metadata"]["name"]
            );
        }
        assert_ne!(resource, "*", "wildcard resource in {group}");
        assert_ne!(group, "*", "wildcard apiGroup");
    }
}

fn labels(obj: &Value) -> BTreeMap<String, String> {
    obj["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn env_of(container: &Value) -> BTreeMap<String, Value> {
    container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().expect("env name").to_string(), e.clone()))
        .collect()
}

fn env_value(env: &BTreeMap<String, Value>, name: &str) -> String {
    env.get(name)
        .and_then(|e| e["value"].as_str())
        .unwrap_or_else(|| panic!("env {name} missing or not a plain value"))
        .to_string()
}

#[test]
fn default_render_has_the_controller_and_nothing_optional() {
    let Some(helm) = helm() else { return };
    let docs = render(&helm, &[]);
    assert_eq!(
        kinds(&docs),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Service",
            "ServiceAccount"
        ]
        .into_iter()
        .map(String::from)
        .collect::<BTreeSet<_>>()
    );
    for obj in &docs {
        let l = labels(obj);
        for key in [
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by",
            "app.kubernetes.io/part-of",
            "app.kubernetes.io/component",
            "helm.sh/chart",
        ] {
            assert!(
                l.get(key).is_some_and(|v| !v.is_empty()),
                "{} {} lacks label {key}",
                obj["kind"],
                obj["metadata"]["name"]
            );
        }
        assert_eq!(l["app.kubernetes.io/instance"], "smpp");
        assert_eq!(l["app.kubernetes.io/managed-by"], "Helm");
    }
}

#[test]
fn cluster_role_grants_exactly_the_verbs_the_controller_uses() {
    let Some(helm) = helm() else { return };
    let docs = render(&helm, &[]);
    let role = one(&docs, "ClusterRole");
    assert_eq!(permissions(role), expected_controller_permissions());
    assert_no_dangerous_verbs(role);
    // Children are garbage-collected through owner references: the controller never deletes.
    for ((group, resource), v) in permissions(role) {
        assert!(!v.contains("delete"), "{group}/{resource} grants delete");
    }

    let binding = one(&docs, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let sa = one(&docs, "ServiceAccount");
    let subjects = binding["subjects"].as_array().expect("subjects");
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects[0]["kind"], "ServiceAccount");
    assert_eq!(subjects[0]["name"], sa["metadata"]["name"]);
    assert_eq!(subjects[0]["namespace"], "smpp-system");
    // No Lease permissions without leader election.
    assert!(find(&docs, "Role").is_empty());
}

#[test]
fn controller_grants_what_the_connector_roles_it_creates_contain() {
    // RBAC refuses to let a subject grant permissions it does not hold. The Role the
    // controller creates for each connector reads its MnoConnection and patches its status.
    let Some(helm) = helm() else { return };
    let docs = render(&helm, &[]);
    let held = permissions(one(&docs, "ClusterRole"));
    for (group, resource, verb) in [
        ("smpp.ghasi.io", "mnoconnections", "get"),
        ("smpp.ghasi.io", "mnoconnections/status", "get"),
        ("smpp.ghasi.io", "mnoconnections/status", "patch"),
        ("coordination.k8s.io", "leases", "get"),
        ("coordination.k8s.io", "leases", "update"),
        ("coordination.k8s.io", "leases", "patch"),
        ("coordination.k8s.io", "leases", "create"),
    ] {
        assert!(
            held.get(&(group.to_string(), resource.to_string()))
                .is_some_and(|v| v.contains(verb)),
            "controller lacks {verb} on {group}/{resource}"
        );
    }
}

#[test]
fn deployment_follows_the_restricted_pod_security_profile() {
    let Some(helm) = helm() else { return };
    for args in [vec![], vec!["-f".to_string(), all_options()]] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let docs = render(&helm, &args);
        let deploy = one(&docs, "Deployment");
        let pod = &deploy["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert!(
            pod["securityContext"]["runAsUser"]
                .as_i64()
                .is_some_and(|u| u > 0),
            "runAsUser must be a non-root uid"
        );
        for field in ["hostNetwork", "hostPID", "hostIPC"] {
            assert!(pod[field].is_null() || pod[field] == false, "{field} set");
        }
        let containers = pod["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 1);
        for c in containers {
            let sc = &c["securityContext"];
            assert_eq!(sc["allowPrivilegeEscalation"], false);
            assert_eq!(sc["readOnlyRootFilesystem"], true);
            assert_eq!(sc["runAsNonRoot"], true);
            assert_eq!(sc["privileged"], false);
            assert_eq!(strings(&sc["capabilities"]["drop"]), verbs(&["ALL"]));
            assert!(sc["capabilities"]["add"].is_null(), "capabilities added");
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
            assert!(c["resources"]["requests"]["cpu"].is_string());
            assert!(c["resources"]["requests"]["memory"].is_string());
            assert!(c["resources"]["limits"]["memory"].is_string());
        }
    }
}

#[test]
fn probes_and_environment_match_the_controller() {
    let Some(helm) = helm() else { return };
    let docs = render(&helm, &[]);
    let deploy = one(&docs, "Deployment");
    let c = &deploy["spec"]["template"]["spec"]["containers"][0];
    let ports = c["ports"].as_array().expect("ports");
    let http = ports
        .iter()
        .find(|p| p["name"] == "http")
        .expect("a port named http");
    assert_eq!(http["containerPort"], 8080);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "http");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "http");

    let env = env_of(c);
    assert_eq!(env_value(&env, "HTTP_ADDRESS"), "0.0.0.0:8080");
    assert_eq!(env_value(&env, "LEADER_ELECTION"), "false");
    assert_eq!(env_value(&env, "WATCH_NAMESPACE"), "");
    assert_eq!(env_value(&env, "LEASE_NAMESPACE"), "smpp-system");
    assert_eq!(env_value(&env, "LEASE_NAME"), "smpp-smpp-connector");
    assert_eq!(env_value(&env, "LOG_FORMAT"), "json");
    assert_eq!(env_value(&env, "RUST_LOG"), "info");
    let connector = env_value(&env, "CONNECTOR_IMAGE");
    assert!(
        connector.starts_with("ghcr.io/ghasi/smpp-connector:"),
        "CONNECTOR_IMAGE is {connector}"
    );
    assert_eq!(
        env_value(&env, "ALLOWED_IMAGES"),
        "ghcr.io/ghasi/smpp-connector",
        "by default only the chart's connector repository"
    );
    assert!(
        !env.contains_key("CONNECTOR_NETWORK_POLICY"),
        "no connector NetworkPolicies by default"
    );
    // One controller without leader election: never two at once during a rollout.
    assert_eq!(deploy["spec"]["replicas"], 1);
    assert_eq!(deploy["spec"]["strategy"]["type"], "Recreate");

    // Selectors: the Deployment selects its pods, the metrics Service selects the same pods.
    let selector = deploy["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("selector");
    let pod_labels = &deploy["spec"]["template"]["metadata"]["labels"];
    for (k, v) in selector {
        assert_eq!(&pod_labels[k], v, "pod template lacks selector label {k}");
    }
    let service = one(&docs, "Service");
    assert_eq!(
        &service["spec"]["selector"].as_object().expect("selector"),
        &selector
    );
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    assert_eq!(
        deploy["spec"]["template"]["spec"]["serviceAccountName"],
        one(&docs, "ServiceAccount")["metadata"]["name"]
    );
}

#[test]
fn all_options_render_scopes_rbac_and_adds_the_optional_objects() {
    let Some(helm) = helm() else { return };
    let docs = render(&helm, &["-f", &all_options()]);
    for kind in [
        "NetworkPolicy",
        "PodDisruptionBudget",
        "ServiceMonitor",
        "PodMonitor",
    ] {
        one(&docs, kind);
    }
    assert!(
        find(&docs, "ClusterRole").is_empty(),
        "watchNamespace must not need a ClusterRole"
    );
    assert!(find(&docs, "ClusterRoleBinding").is_empty());

    let roles = find(&docs, "Role");
    assert_eq!(roles.len(), 2);
    let main = roles
        .iter()
        .find(|r| r["metadata"]["namespace"] == "sms")
        .expect("Role in the watched namespace");
    let mut expected = expected_controller_permissions();
    expected.insert(
        ("networking.k8s.io".into(), "networkpolicies".into()),
        verbs(&["get", "list", "watch", "create", "patch"]),
    );
    assert_eq!(
        permissions(main),
        expected,
        "connector.networkPolicy.enabled adds networkpolicies"
    );
    assert_no_dangerous_verbs(main);
    let lease = roles
        .iter()
        .find(|r| r["metadata"]["namespace"] == "smpp-system")
        .expect("leader-election Role in the lease namespace");
    let expected_lease: BTreeMap<(String, String), BTreeSet<String>> = [(
        ("coordination.k8s.io".to_string(), "leases".to_string()),
        verbs(&["get", "create", "update"]),
    )]
    .into_iter()
    .collect();
    assert_eq!(permissions(lease), expected_lease);

    let bindings = find(&docs, "RoleBinding");
    assert_eq!(bindings.len(), 2);
    for b in &bindings {
        assert_eq!(b["roleRef"]["kind"], "Role");
        assert_eq!(b["subjects"][0]["name"], "smpp-operator");
        assert_eq!(b["subjects"][0]["namespace"], "smpp-system");
        let role = roles
            .iter()
            .find(|r| r["metadata"]["name"] == b["roleRef"]["name"])
            .expect("binding refers to a rendered Role");
        assert_eq!(role["metadata"]["namespace"], b["metadata"]["namespace"]);
    }

    let deploy = one(&docs, "Deployment");
    let c = &deploy["spec"]["template"]["spec"]["containers"][0];
    let env = env_of(c);
    assert_eq!(env_value(&env, "LEADER_ELECTION"), "true");
    assert_eq!(env_value(&env, "WATCH_NAMESPACE"), "sms");
    assert_eq!(env_value(&env, "HTTP_ADDRESS"), "0.0.0.0:9090");
    assert_eq!(env_value(&env, "LEASE_NAMESPACE"), "smpp-system");
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(deploy["spec"]["strategy"]["type"], "RollingUpdate");
    assert!(
        c["image"].as_str().is_some_and(|i| i.contains("@sha256:")),
        "a digest must pin the image"
    );
    assert_eq!(labels(deploy)["team"], "platform");

    let np = one(&docs, "NetworkPolicy");
    assert_eq!(
        strings(&np["spec"]["policyTypes"]),
        verbs(&["Egress", "Ingress"])
    );
    // One peer: scrapes only from Prometheus pods in the monitoring namespace (both selectors).
    let peers = np["spec"]["ingress"][0]["from"]
        .as_array()
        .expect("ingress peers");
    assert_eq!(peers.len(), 1);
    assert_eq!(
        peers[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "monitoring"
    );
    assert_eq!(
        peers[0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "prometheus"
    );
    let egress_ports: BTreeSet<i64> = np["spec"]["egress"]
        .as_array()
        .expect("egress")
        .iter()
        .flat_map(|rule| rule["ports"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["port"].as_i64())
        .collect();
    assert_eq!(egress_ports, [53, 443, 6443].into_iter().collect());
}

#[test]
fn values_that_break_the_rules_are_refused() {
    let Some(helm) = helm() else { return };
    for set in [
        "unknownKey=1",
        "controller.unknownKey=1",
        "controller.image.unknownKey=1",
        "controller.resources.requests.gpu=1",
        "metrics.serviceMonitor.unknownKey=1",
        "controller.logFormat=xml",
        "controller.replicas=2",
        "serviceAccount.create=false",
    ] {
        let result = template(&helm, &["--set", set]);
        assert!(result.is_err(), "helm accepted --set {set}");
    }
}

/// Every object in the values schema closes its properties (`additionalProperties: false`),
/// except string maps (labels, annotations, node selectors), whose values must be strings.
#[test]
fn values_schema_closes_every_object() {
    let text = std::fs::read_to_string(chart().join("values.schema.json")).expect("schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    let mut problems = Vec::new();
    walk_schema(&schema, "$", &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Every key of values.yaml is described by the schema.
    let values: Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart().join("values.yaml")).expect("values.yaml"),
    )
    .expect("values.yaml parses");
    let mut missing = Vec::new();
    covered(&values, &schema, "", &mut missing);
    assert!(missing.is_empty(), "not in the schema: {missing:?}");
}

fn walk_schema(node: &Value, at: &str, problems: &mut Vec<String>) {
    let Some(map) = node.as_object() else { return };
    if map.get("type") == Some(&Value::from("object")) {
        match map.get("additionalProperties") {
            Some(Value::Bool(false)) => {}
            Some(Value::Object(inner)) if inner.get("type") == Some(&Value::from("string")) => {}
            other => problems.push(format!("{at}: additionalProperties is {other:?}")),
        }
    }
    for (key, child) in map {
        match child {
            Value::Object(_) => walk_schema(child, &format!("{at}.{key}"), problems),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk_schema(item, &format!("{at}.{key}[{i}]"), problems);
                }
            }
            _ => {}
        }
    }
}

fn covered(values: &Value, schema: &Value, at: &str, missing: &mut Vec<String>) {
    let Some(map) = values.as_object() else {
        return;
    };
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    for (key, value) in map {
        let path = format!("{at}.{key}");
        match props.get(key) {
            Some(child) => covered(value, child, &path, missing),
            None => missing.push(path),
        }
    }
}

/// The Role the controller creates for each connector grants only what the chart's role lets
/// the controller hold (RBAC refuses to create it otherwise), and every kind of child it
/// applies can be created and patched. Built from `examples/mno-full.yaml` by the controller's
/// own code.
#[test]
fn chart_rbac_covers_what_the_controller_creates() {
    let Some(helm) = helm() else { return };
    let held = permissions(one(&render(&helm, &[]), "ClusterRole"));

    let text = std::fs::read_to_string(repo().join("examples/mno-full.yaml")).expect("example");
    let mut mno: crds::MnoConnection = serde_yaml::from_str(&text).expect("example parses");
    // Two replicas: the connector Role also grants its Lease.
    mno.spec.replicas = 2;
    // As read from the API server: owner references need the uid.
    mno.metadata.uid = Some("6f1c2a52-0c3e-4c8e-9a53-0d7f4b1e2a10".into());
    let config = crds::render_config(&mno).expect("example renders");
    let children =
        controller::children::build(&mno, &config, "smpp-connector:test").expect("children build");

    let role = serde_json::to_value(&children.role).expect("role serialises");
    let rules = role["rules"].as_array().expect("connector role rules");
    assert!(!rules.is_empty());
    for rule in rules {
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                let have = held
                    .get(&(group.clone(), resource.clone()))
                    .cloned()
                    .unwrap_or_default();
                let want = strings(&rule["verbs"]);
                assert!(
                    want.is_subset(&have),
                    "connector Role grants {want:?} on {group}/{resource}; the controller holds {have:?}"
                );
            }
        }
    }

    let applied = [
        ("", "configmaps", serde_json::to_value(&children.config_map)),
        (
            "",
            "serviceaccounts",
            serde_json::to_value(&children.service_account),
        ),
        (
            "rbac.authorization.k8s.io",
            "roles",
            serde_json::to_value(&children.role),
        ),
        (
            "rbac.authorization.k8s.io",
            "rolebindings",
            serde_json::to_value(&children.role_binding),
        ),
        (
            "apps",
            "deployments",
            serde_json::to_value(&children.deployment),
        ),
        ("", "services", serde_json::to_value(&children.service)),
    ];
    for (group, resource, object) in applied {
        let object = object.expect("child serialises");
        let owner = &object["metadata"]["ownerReferences"][0];
        assert_eq!(
            owner["kind"], "MnoConnection",
            "{resource} is owned by the resource"
        );
        let have = held
            .get(&(group.to_string(), resource.to_string()))
            .cloned()
            .unwrap_or_default();
        assert!(
            verbs(&["get", "list", "watch", "create", "patch"]).is_subset(&have),
            "{group}/{resource}: the controller applies and watches it but holds {have:?}"
        );
        if owner["blockOwnerDeletion"] == true {
            assert!(
                held.get(&("smpp.ghasi.io".into(), "mnoconnections/finalizers".into()))
                    .is_some_and(|v| v.contains("update")),
                "blockOwnerDeletion needs update on mnoconnections/finalizers"
            );
        }
    }

    // The connector pods that the optional PodMonitor selects by default.
    let pod_labels = &serde_json::to_value(&children.deployment).expect("deployment")["spec"]
        ["template"]["metadata"]["labels"];
    let values: Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart().join("values.yaml")).expect("values.yaml"),
    )
    .expect("values.yaml parses");
    let selector = values["metrics"]["connectorPodMonitor"]["selector"]
        .as_object()
        .expect("connectorPodMonitor.selector");
    for (k, v) in selector {
        assert_eq!(
            &pod_labels[k], v,
            "connector pods lack PodMonitor label {k}"
        );
    }
    let port_name = values["metrics"]["connectorPodMonitor"]["portName"].clone();
    let container_ports = &serde_json::to_value(&children.deployment).expect("deployment")["spec"]
        ["template"]["spec"]["containers"][0]["ports"];
    assert!(
        container_ports
            .as_array()
            .is_some_and(|ports| ports.iter().any(|p| p["name"] == port_name)),
        "connector container has no port named {port_name}"
    );
}

/// Every environment variable the chart gives the controller is a setting of `mno-controller`
/// (or one it reads directly: POD_NAMESPACE, and RUST_LOG through tracing's filter), and its
/// rendered value parses.
#[test]
fn controller_accepts_the_environment_the_chart_renders() {
    use clap::{CommandFactory, Parser};

    let Some(helm) = helm() else { return };
    let command = controller::settings::Settings::command();
    let flags: BTreeMap<String, String> = command
        .get_arguments()
        .filter_map(|a| {
            let env = a.get_env()?.to_str()?.to_string();
            let long = a.get_long()?.to_string();
            Some((env, long))
        })
        .collect();

    for args in [vec![], vec!["-f".to_string(), all_options()]] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let docs = render(&helm, &args);
        let container = &one(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
        let mut cli = vec!["mno-controller".to_string()];
        for (name, var) in env_of(container) {
            if ["POD_NAMESPACE", "RUST_LOG", "EXTRA_SETTING"].contains(&name.as_str()) {
                continue;
            }
            let flag = flags
                .get(&name)
                .unwrap_or_else(|| panic!("the chart sets {name}, which mno-controller ignores"));
            if let Some(value) = var["value"].as_str() {
                cli.push(format!("--{flag}={value}"));
            }
        }
        let parsed = controller::settings::Settings::try_parse_from(&cli);
        assert!(parsed.is_ok(), "mno-controller refuses {cli:?}: {parsed:?}");
    }
}

/// The allow-list the chart renders is the one the controller enforces: the default connector
/// image passes it, look-alike repositories do not.
#[test]
fn image_allow_list_reaches_the_controller() {
    use controller::image_policy::ImagePolicy;

    let Some(helm) = helm() else { return };
    let policy_of = |docs: &[Value]| {
        let env = env_of(&one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]);
        let entries: Vec<String> = env_value(&env, "ALLOWED_IMAGES")
            .split(',')
            .map(str::to_string)
            .collect();
        let image = env_value(&env, "CONNECTOR_IMAGE");
        let policy = ImagePolicy::or_default_image(&entries, &image).expect("valid allow-list");
        (policy, image)
    };

    let (policy, image) = policy_of(&render(&helm, &[]));
    assert_eq!(policy.check(&image), Ok(()), "the default image is allowed");
    assert!(policy.check("ghcr.io/ghasi/smpp-connector-evil:1").is_err());
    assert!(policy.check("docker.io/library/busybox").is_err());

    let (policy, image) = policy_of(&render(&helm, &["-f", &all_options()]));
    assert_eq!(policy.check(&image), Ok(()));
    assert_eq!(policy.check("registry.example.com/sms-team/conn:2"), Ok(()));
    assert!(policy.check("ghcr.io/ghasi/smpp-connector:0.1.0").is_err());

    let docs = render(&helm, &["--set-json", r#"connector.allowedImages=["*"]"#]);
    let (policy, _) = policy_of(&docs);
    assert_eq!(policy.check("anything.example/x:1"), Ok(()));

    for bad in [
        r#"connector.allowedImages=["ghcr.io/x@sha256:00"]"#,
        r#"connector.allowedImages=["a,b"]"#,
        r#"connector.allowedImages=[""]"#,
    ] {
        assert!(
            template(&helm, &["--set-json", bad]).is_err(),
            "helm accepted {bad}"
        );
    }
}

/// connector.networkPolicy reaches the controller as settings it parses, with the RBAC the
/// controller then needs; off by default.
#[test]
fn connector_network_policy_reaches_the_controller_with_its_rbac() {
    use controller::network_policy::Settings;

    let Some(helm) = helm() else { return };
    let networkpolicies = (
        "networking.k8s.io".to_string(),
        "networkpolicies".to_string(),
    );
    let docs = render(&helm, &[]);
    assert!(!permissions(one(&docs, "ClusterRole")).contains_key(&networkpolicies));

    let docs = render(
        &helm,
        &[
            "--set",
            "connector.networkPolicy.enabled=true",
            "--set-json",
            r#"connector.networkPolicy.platformPeers=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"platform"}}}]"#,
            "--set-json",
            r#"networkPolicy.apiServerCIDRs=["10.96.0.1/32"]"#,
        ],
    );
    let held = permissions(one(&docs, "ClusterRole"));
    assert_eq!(
        held.get(&networkpolicies),
        Some(&verbs(&["get", "list", "watch", "create", "patch"]))
    );
    let env = env_of(&one(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]);
    let settings = Settings::parse(&env_value(&env, "CONNECTOR_NETWORK_POLICY"))
        .expect("the controller parses the rendered settings");
    assert_eq!(settings.api_server_cidrs, ["10.96.0.1/32"]);
    assert_eq!(settings.api_server_port, 6443);
    assert_eq!(settings.platform_peers.len(), 1);
    assert!(settings.metrics_peers.is_empty());
    assert!(
        find(&docs, "NetworkPolicy").is_empty(),
        "the connectors' policies are made by the controller, not the chart"
    );

    assert!(
        template(
            &helm,
            &[
                "--set-json",
                r#"connector.networkPolicy.platformPeers=[{"service":"nats"}]"#
            ]
        )
        .is_err(),
        "a peer is a NetworkPolicyPeer"
    );
}
