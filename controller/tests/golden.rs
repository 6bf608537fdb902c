//! The children of the example resources against golden YAML files.
//!
//! Regenerate after an intended change: `UPDATE_GOLDEN=1 cargo test -p controller --test golden`.

use std::path::PathBuf;

use controller::children::{self, Children};
use crds::MnoConnection;

const IMAGE: &str = "ghcr.io/ghasi/smpp-connector:0.1.0";

fn root() -> PathBuf {
    crds::crdgen::workspace_root()
}

fn example(name: &str) -> MnoConnection {
    let path = root().join("examples").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut mno: MnoConnection =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    mno.metadata.uid = Some("6c8f3d0e-1111-4222-8333-944455556666".into());
    mno
}

fn build(mno: &MnoConnection) -> Children {
    let config = controller::spec_check::check_spec(mno).expect("valid example");
    children::build(mno, &config, IMAGE).expect("children build")
}

fn to_yaml(c: &Children) -> String {
    let docs = [
        serde_yaml::to_string(&c.config_map),
        serde_yaml::to_string(&c.service_account),
        serde_yaml::to_string(&c.role),
        serde_yaml::to_string(&c.role_binding),
        serde_yaml::to_string(&c.deployment),
        serde_yaml::to_string(&c.service),
    ];
    docs.into_iter()
        .map(|d| d.expect("child serialises"))
        .collect::<Vec<_>>()
        .join("---\n")
}

fn check_golden(file: &str, actual: &str) {
    let path = root().join("controller/tests/golden").join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{} differs from the built children; if intended, run UPDATE_GOLDEN=1 cargo test -p controller --test golden\n--- built:\n{actual}",
        path.display()
    );
}

#[test]
fn full_example_network_policy() {
    let mno = example("mno-full.yaml");
    let config = controller::spec_check::check_spec(&mno).expect("valid example");
    let settings = controller::network_policy::Settings::parse(
        r#"{"platformPeers": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "platform"}}}],
            "metricsPeers": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "apiServerCIDRs": ["10.96.0.1/32"], "apiServerPort": 6443}"#,
    )
    .expect("valid settings");
    let policy = controller::network_policy::build(&mno, &config, &settings).expect("builds");
    check_golden(
        "mno-full-networkpolicy.yaml",
        &serde_yaml::to_string(&policy).expect("serialises"),
    );
}

#[test]
fn minimal_example_children() {
    check_golden(
        "mno-minimal.yaml",
        &to_yaml(&build(&example("mno-minimal.yaml"))),
    );
}

#[test]
fn full_example_children() {
    check_golden("mno-full.yaml", &to_yaml(&build(&example("mno-full.yaml"))));
}

#[test]
fn standby_example_children() {
    check_golden(
        "mno-standby.yaml",
        &to_yaml(&build(&example("mno-standby.yaml"))),
    );
}

#[test]
fn two_replicas_roll_one_pod_at_a_time_and_share_a_lease() {
    let mno = example("mno-standby.yaml");
    let c = build(&mno);
    let spec = &c.deployment.spec;
    assert_eq!(spec.replicas, Some(2));
    let strategy = spec.strategy.as_ref().expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.as_ref().expect("rollingUpdate");
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    let pod = spec.template.spec.as_ref().expect("pod spec");
    let grace = pod.termination_grace_period_seconds.expect("grace period");
    assert!(
        grace > i64::try_from(mno.spec.session.drain_timeout_seconds).expect("small"),
        "the drain fits into the grace period"
    );
    let env: Vec<(String, Option<String>)> = pod.containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| {
            let field = e
                .value_from
                .as_ref()
                .and_then(|v| v.field_ref.as_ref())
                .map(|f| f.field_path.clone());
            (e.name.clone(), field)
        })
        .collect();
    assert!(env.contains(&("POD_NAME".into(), Some("metadata.name".into()))));
    assert!(env.contains(&("POD_NAMESPACE".into(), Some("metadata.namespace".into()))));
    let anti = pod
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .expect("preferred anti-affinity");
    assert_eq!(
        anti[0].pod_affinity_term.topology_key,
        "kubernetes.io/hostname"
    );
    assert_eq!(
        anti[0]
            .pod_affinity_term
            .label_selector
            .as_ref()
            .and_then(|s| s.match_labels.clone()),
        Some(children::selector_labels(&mno))
    );

    let config = controller::spec_check::check_spec(&mno).expect("valid");
    assert_eq!(config.lease.backend, crds::config::LeaseBackend::Kubernetes);
    assert_eq!(config.lease.name, "mtn-gh-standby-connector");
    assert_eq!(config.lease.namespace, "sms");
    assert_eq!(config.session.binds, 4);

    let mut one = mno.clone();
    one.spec.replicas = 1;
    let c = build(&one);
    assert_eq!(c.deployment.spec.replicas, Some(1));
    assert_eq!(
        c.deployment
            .spec
            .strategy
            .as_ref()
            .and_then(|s| s.type_.as_deref()),
        Some("Recreate")
    );
    let pod = c.deployment.spec.template.spec.as_ref().expect("pod spec");
    assert!(pod.affinity.is_none());
    let config = controller::spec_check::check_spec(&one).expect("valid");
    // One replica holds the Lease too (Recreate still: the old pod releases it first).
    assert_eq!(config.lease.backend, crds::config::LeaseBackend::Kubernetes);

    let mut suspended = mno.clone();
    suspended.spec.suspend = true;
    assert_eq!(build(&suspended).deployment.spec.replicas, Some(0));
}

#[test]
fn two_replicas_may_hold_exactly_their_lease() {
    let c = build(&example("mno-standby.yaml"));
    let rules = c.role.rules.expect("rules");
    let lease_rules: Vec<_> = rules
        .iter()
        .filter(|r| r.api_groups.as_deref() != Some(&["smpp.ghasi.io".to_string()]))
        .collect();
    assert_eq!(lease_rules.len(), 2, "{rules:?}");
    for rule in &lease_rules {
        assert_eq!(
            rule.api_groups,
            Some(vec!["coordination.k8s.io".to_string()])
        );
        assert_eq!(rule.resources, Some(vec!["leases".to_string()]));
    }
    assert_eq!(
        lease_rules[0].resource_names,
        Some(vec!["mtn-gh-standby-connector".to_string()])
    );
    assert_eq!(lease_rules[0].verbs, ["get", "update", "patch"]);
    assert_eq!(
        lease_rules[1].resource_names, None,
        "create cannot be restricted by name"
    );
    assert_eq!(lease_rules[1].verbs, ["create"]);

    // One replica holds its Lease too, with the same rules.
    let mut one = example("mno-standby.yaml");
    one.spec.replicas = 1;
    let one_rules = build(&one).role.rules.expect("rules");
    assert_eq!(one_rules, rules);
}

#[test]
fn suspended_example_children() {
    let mut mno = example("mno-minimal.yaml");
    mno.spec.suspend = true;
    check_golden("mno-minimal-suspended.yaml", &to_yaml(&build(&mno)));
}

#[test]
fn deployment_runs_one_restricted_connector() {
    let mno = example("mno-minimal.yaml");
    let c = build(&mno);
    let spec = &c.deployment.spec;
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(
        spec.strategy.as_ref().and_then(|s| s.type_.as_deref()),
        Some("Recreate")
    );
    let pod = spec.template.spec.as_ref().expect("pod spec");
    let psc = pod.security_context.as_ref().expect("pod security context");
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(
        psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );
    let container = &pod.containers[0];
    assert_eq!(container.image.as_deref(), Some(IMAGE));
    let sc = container
        .security_context
        .as_ref()
        .expect("container security context");
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_string()])
    );
    let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone())
    };
    assert_eq!(path(&container.liveness_probe).as_deref(), Some("/health"));
    assert_eq!(path(&container.readiness_probe).as_deref(), Some("/ready"));
    let token = pod
        .volumes
        .iter()
        .flatten()
        .find_map(|v| v.projected.as_ref())
        .and_then(|p| p.sources.as_ref())
        .and_then(|s| s[0].service_account_token.as_ref())
        .expect("projected token");
    assert_eq!(
        token.audience.as_deref(),
        Some("operator-management-service")
    );
    let token_mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "operator-management-token")
        .expect("token mount");
    assert_eq!(
        format!("{}/{}", token_mount.mount_path, token.path),
        crds::config::defaults::token_file()
    );
    let owner = c
        .config_map
        .metadata
        .owner_references
        .as_ref()
        .expect("owner");
    assert_eq!(owner[0].kind, "MnoConnection");
    assert_eq!(owner[0].controller, Some(true));
}

#[test]
fn config_change_rolls_the_pod_and_nothing_else_changes_it() {
    let mno = example("mno-minimal.yaml");
    let checksum = |c: &Children| {
        c.deployment
            .spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(children::CONFIG_CHECKSUM_ANNOTATION).cloned())
    };
    let before = checksum(&build(&mno));
    assert_eq!(
        before,
        checksum(&build(&mno)),
        "the checksum is deterministic"
    );
    let mut changed = mno.clone();
    changed.spec.throttle.tps = 250;
    assert_ne!(before, checksum(&build(&changed)));
    let mut suspended = mno.clone();
    suspended.spec.suspend = true;
    assert_eq!(
        before,
        checksum(&build(&suspended)),
        "suspend does not change the config"
    );
    assert_eq!(build(&suspended).deployment.spec.replicas, Some(0));
}

#[test]
fn role_allows_only_its_own_resource_and_status() {
    let c = build(&example("mno-full.yaml"));
    let all = c.role.rules.expect("rules");
    // Besides its Lease (two_replicas_may_hold_exactly_their_lease).
    let rules: Vec<_> = all
        .into_iter()
        .filter(|r| r.api_groups != Some(vec!["coordination.k8s.io".to_string()]))
        .collect();
    assert_eq!(rules.len(), 2);
    for rule in &rules {
        assert_eq!(rule.resource_names, Some(vec!["vodafone-gh".to_string()]));
        assert_eq!(rule.api_groups, Some(vec!["smpp.ghasi.io".to_string()]));
        assert!(rule.verbs.iter().all(|v| v == "get" || v == "patch"));
    }
    let patchable: Vec<_> = rules
        .iter()
        .filter(|r| r.verbs.iter().any(|v| v == "patch"))
        .flat_map(|r| r.resources.clone().unwrap_or_default())
        .collect();
    assert_eq!(patchable, vec!["mnoconnections/status".to_string()]);
}

#[test]
fn full_example_mounts_credentials_and_tls_secrets() {
    let c = build(&example("mno-full.yaml"));
    let pod = c.deployment.spec.template.spec.expect("pod");
    let secrets: Vec<String> = pod
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.secret.as_ref().and_then(|s| s.secret_name.clone()))
        .collect();
    assert_eq!(
        secrets,
        [
            "vodafone-gh-smpp",
            "vodafone-gh-smsc-tls",
            "vodafone-gh-smsc-tls"
        ]
    );
    assert!(
        pod.volumes.iter().flatten().all(|v| v.projected.is_none()),
        "no token with a Secret"
    );
    let container = &pod.containers[0];
    assert!(container
        .env
        .iter()
        .flatten()
        .any(|e| e.name == "PGPASSWORD"));
    assert_eq!(pod.node_selector.map(|n| n.len()), Some(1));
}
