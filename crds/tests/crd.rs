//! The committed CRD, the examples against its schema, and the CEL rules client-side.

mod schema_check;

use crds::config::{CredentialsSource, LeaseBackend};
use crds::MnoConnection;
use kube::core::cel::{apply_defaults, Validator};
use kube::CustomResourceExt;
use serde_json::{json, Value};

fn schema() -> Value {
    let crd = MnoConnection::crd();
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .map(serde_json::to_value);
    match schema {
        Some(Ok(v)) => v,
        other => panic!("the CRD has no usable openAPIV3Schema: {other:?}"),
    }
}

fn example(name: &str) -> Value {
    let path = crds::crdgen::workspace_root().join("examples").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cel_errors(object: &Value, old: Option<&Value>) -> Vec<String> {
    match Validator::new().validate(&schema(), object, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_vec().into_iter().map(|e| e.message).collect(),
    }
}

#[test]
fn committed_crd_matches_the_generated_one() {
    let path = crds::crdgen::workspace_root().join(crds::crdgen::CRD_PATH);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = crds::crdgen::crd_yaml().expect("CRD serialises");
    assert!(
        committed == generated,
        "{} is stale: run `cargo run -p crds --bin crdgen`",
        path.display()
    );
}

#[test]
fn crd_names_and_columns() {
    let crd = MnoConnection::crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("mnoconnections.smpp.ghasi.io")
    );
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(crd.spec.names.short_names, Some(vec!["mno".to_string()]));
    assert_eq!(crd.spec.names.categories, Some(vec!["sms".to_string()]));
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(version
        .subresources
        .as_ref()
        .and_then(|s| s.status.as_ref())
        .is_some());
    let columns: Vec<(String, i32)> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.to_uppercase(), c.priority.unwrap_or(0)))
        .collect();
    let expected = [
        ("OPERATOR", 0),
        ("READY", 0),
        ("STATE", 0),
        ("BINDS", 0),
        ("ENDPOINT", 0),
        ("TPS", 0),
        ("AGE", 0),
        ("PRIMARY", 1),
        ("BACKUP", 1),
        ("ACTIVE", 1),
        ("MESSAGE", 1),
    ];
    let expected: Vec<(String, i32)> = expected.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    assert_eq!(columns, expected);
}

#[test]
fn every_spec_field_is_documented() {
    let missing = schema_check::undocumented(&schema()["properties"]["spec"], "spec");
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
}

#[test]
fn examples_follow_the_schema_and_the_cel_rules() {
    for name in ["mno-minimal.yaml", "mno-full.yaml", "mno-standby.yaml"] {
        let object = example(name);
        let problems = schema_check::check(&schema(), &object, "");
        assert!(problems.is_empty(), "{name}: {problems:?}");
        assert_eq!(cel_errors(&object, None), Vec::<String>::new(), "{name}");
        let typed: MnoConnection = serde_json::from_value(object.clone())
            .unwrap_or_else(|e| panic!("{name} does not deserialise: {e}"));
        let typed_problems = typed.validate_cel();
        assert!(typed_problems.is_ok(), "{name}: {typed_problems:?}");
        let config = crds::render_config(&typed).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(config.operator_id, typed.spec.operator_id);
    }
}

#[test]
fn schema_defaults_match_the_connector_defaults() {
    let object = apply_defaults(&schema(), &example("mno-minimal.yaml"));
    let defaulted: MnoConnection = serde_json::from_value(object).expect("defaulted object");
    let typed: MnoConnection =
        serde_json::from_value(example("mno-minimal.yaml")).expect("minimal example");
    assert_eq!(defaulted.spec, typed.spec);
    assert_eq!(defaulted.spec.session.window, 64);
    assert_eq!(defaulted.spec.throttle.tps, 100);
    assert!(!defaulted.spec.suspend);
    assert_eq!((defaulted.spec.binds, defaulted.spec.replicas), (1, 1));
    assert!(defaulted.spec.credentials.operator_management.is_some());
}

#[test]
fn the_schema_check_rejects_broken_objects() {
    let cases = [
        ("/spec/primary/port", json!("2775")),
        ("/spec/session/window", json!(-1)),
        ("/spec/bind/mode", json!("sideways")),
        ("/spec/unknownField", json!(1)),
        ("/spec/operatorId", json!("x".repeat(64))),
        ("/spec/binds", json!(0)),
        ("/spec/binds", json!(17)),
        ("/spec/replicas", json!(3)),
    ];
    for (pointer, value) in cases {
        let mut object = example("mno-full.yaml");
        set(&mut object, pointer, value);
        assert!(
            !schema_check::check(&schema(), &object, "").is_empty(),
            "{pointer} should be rejected"
        );
    }
    let mut object = example("mno-minimal.yaml");
    if let Some(primary) = object["spec"].as_object_mut() {
        primary.remove("primary");
    }
    assert!(!schema_check::check(&schema(), &object, "").is_empty());
}

fn set(object: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    let parent = object.pointer_mut(parent).expect("parent exists");
    parent
        .as_object_mut()
        .expect("parent is an object")
        .insert(key.to_string(), value);
}

#[test]
fn cel_rejects_invalid_objects() {
    let cases: [(&str, Value, &str); 12] = [
        (
            "/spec/tracing/samplingRatio",
            json!(1.5),
            "samplingRatio must be between 0 and 1",
        ),
        (
            "/spec/tracing/samplingRatio",
            json!(-0.1),
            "samplingRatio must be between 0 and 1",
        ),
        ("/spec/binds", json!(0), "binds must be between 1 and 16"),
        ("/spec/binds", json!(17), "binds must be between 1 and 16"),
        ("/spec/replicas", json!(0), "replicas must be 1 or 2"),
        ("/spec/replicas", json!(3), "replicas must be 1 or 2"),
        (
            "/spec/backup",
            json!({"host": "smsc1.vodafone.example", "port": 3550}),
            "backup must differ",
        ),
        ("/spec/session/window", json!(0), "window"),
        ("/spec/session/window", json!(1025), "window"),
        ("/spec/throttle/tps", json!(100_001), "tps"),
        (
            "/spec/session/reconnectMaxSeconds",
            json!(1),
            "reconnectMaxSeconds",
        ),
        (
            "/spec/credentials/operatorManagement",
            json!({"baseUrl": "http://oms:8080"}),
            "either operatorManagement or secretRef",
        ),
    ];
    for (pointer, value, expected) in cases {
        let mut object = example("mno-full.yaml");
        set(&mut object, pointer, value);
        let errors = cel_errors(&object, None);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{pointer}: expected {expected:?} in {errors:?}"
        );
    }
}

#[test]
fn cel_accepts_a_backup_on_the_same_host_with_another_port() {
    let mut object = example("mno-full.yaml");
    set(
        &mut object,
        "/spec/backup/host",
        json!("smsc1.vodafone.example"),
    );
    set(&mut object, "/spec/backup/port", json!(3551));
    assert_eq!(cel_errors(&object, None), Vec::<String>::new());
}

#[test]
fn operator_id_is_immutable() {
    let old = example("mno-minimal.yaml");
    let mut new = old.clone();
    set(&mut new, "/spec/operatorId", json!("mtn-gh2"));
    let errors = cel_errors(&new, Some(&old));
    assert!(errors.iter().any(|e| e.contains("immutable")), "{errors:?}");
    let mut same = old.clone();
    set(&mut same, "/spec/throttle", json!({"tps": 50}));
    assert_eq!(cel_errors(&same, Some(&old)), Vec::<String>::new());

    let old_typed: MnoConnection = serde_json::from_value(old).expect("typed");
    let new_typed: MnoConnection = serde_json::from_value(new).expect("typed");
    assert!(new_typed.validate_cel_update(&old_typed).is_err());
}

#[test]
fn render_maps_secrets_and_tls_to_mounted_files() {
    let full: MnoConnection = serde_json::from_value(example("mno-full.yaml")).expect("full");
    let config = crds::render_config(&full).expect("renders");
    assert_eq!(
        config.credentials,
        CredentialsSource::File {
            path: "/etc/smpp-connector/credentials/credentials.json".into()
        }
    );
    let tls = config.primary.tls.as_ref().expect("primary TLS");
    assert_eq!(
        tls.ca_file.as_deref(),
        Some("/etc/smpp-connector/tls/primary/ca.crt")
    );
    assert_eq!(
        tls.cert_file.as_deref(),
        Some("/etc/smpp-connector/tls/primary/tls.crt")
    );
    let backup_tls = config
        .backup
        .as_ref()
        .and_then(|b| b.tls.as_ref())
        .expect("backup TLS");
    assert_eq!(backup_tls.cert_file, None);
    assert!(config.status_writer.enabled);
    assert_eq!(config.status_writer.namespace, "sms");
    assert_eq!(config.status_writer.name, "vodafone-gh");
    assert_eq!(config.http.address, "0.0.0.0:8080");

    let minimal: MnoConnection =
        serde_json::from_value(example("mno-minimal.yaml")).expect("minimal");
    let config = crds::render_config(&minimal).expect("renders");
    assert!(matches!(
        config.credentials,
        CredentialsSource::OperatorManagement { ref token_file, .. }
            if *token_file == crds::config::defaults::token_file()
    ));
    let yaml = serde_yaml::to_string(&config).expect("yaml");
    let back = crds::ConnectorConfig::from_yaml(&yaml).expect("the connector reads it back");
    assert_eq!(back, config);
}

#[test]
fn render_reports_what_the_connector_would_refuse() {
    let mut mno: MnoConnection =
        serde_json::from_value(example("mno-minimal.yaml")).expect("minimal");
    mno.spec.encoding.accepted = vec![crds::config::Charset::Latin1];
    let err = crds::render_config(&mno).expect_err("latin1 only cannot send text");
    assert!(err.to_string().contains("encoding.accepted"), "{err}");
    mno.metadata.namespace = None;
    assert_eq!(
        crds::render_config(&mno),
        Err(crds::RenderError::MissingNamespace)
    );
}

#[test]
fn docs_describe_every_field() {
    let path = crds::crdgen::workspace_root().join("docs/crd.md");
    let docs = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let stop = [
        "spec.connector.resources",
        "spec.connector.tolerations",
        "spec.connector.env",
        "status.conditions",
    ];
    let schema = schema();
    let mut fields = schema_check::paths(&schema["properties"]["spec"], "spec", &stop);
    fields.extend(schema_check::paths(
        &schema["properties"]["status"],
        "status",
        &stop,
    ));
    let missing: Vec<&String> = fields
        .iter()
        .filter(|f| !docs.contains(&format!("`{f}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/crd.md does not describe {missing:?}"
    );
}

#[test]
fn cel_accepts_every_bind_count_and_both_replica_counts() {
    for binds in [1, 4, 16] {
        for replicas in [1, 2] {
            let mut object = example("mno-minimal.yaml");
            set(&mut object, "/spec/binds", json!(binds));
            set(&mut object, "/spec/replicas", json!(replicas));
            assert_eq!(
                cel_errors(&object, None),
                Vec::<String>::new(),
                "binds {binds}, replicas {replicas}"
            );
            assert!(schema_check::check(&schema(), &object, "").is_empty());
        }
    }
}

#[test]
fn session_binds_is_spelt_spec_binds_in_the_resource() {
    let session = &schema()["properties"]["spec"]["properties"]["session"];
    assert!(session["properties"].get("window").is_some());
    assert!(
        session["properties"].get("binds").is_none(),
        "the resource spells it spec.binds"
    );
    assert!(session["default"].get("binds").is_none());
    let mut object = example("mno-minimal.yaml");
    set(&mut object, "/spec/session", json!({"binds": 3}));
    assert!(
        !schema_check::check(&schema(), &object, "").is_empty(),
        "session.binds is an unknown field of the resource"
    );
}

#[test]
fn render_takes_binds_and_the_lease_from_the_spec() {
    let standby: MnoConnection =
        serde_json::from_value(example("mno-standby.yaml")).expect("standby");
    let config = crds::render_config(&standby).expect("renders");
    assert_eq!(config.session.binds, 4);
    assert_eq!(config.lease.backend, LeaseBackend::Kubernetes);
    assert_eq!(config.lease.name, "mtn-gh-standby-connector");
    assert_eq!(config.lease.name, crds::render::lease_name(&standby));
    assert_eq!(config.lease.namespace, "sms");
    assert_eq!(config.lease.identity, "", "each pod is its POD_NAME");

    let mut one = standby.clone();
    one.spec.replicas = 1;
    one.spec.session.binds = 9;
    let config = crds::render_config(&one).expect("renders");
    // One replica holds the Lease too: a later change to two finds it the holder.
    assert_eq!(config.lease.backend, LeaseBackend::Kubernetes);
    assert_eq!(config.lease.name, "mtn-gh-standby-connector");
    assert_eq!(
        config.session.binds, 4,
        "spec.binds wins over session.binds"
    );
}
