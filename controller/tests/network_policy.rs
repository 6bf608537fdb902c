//! The optional NetworkPolicy of a connector pod.

use std::collections::BTreeSet;

use controller::network_policy::{build, platform_ports, Settings, NEEDS_CIDRS};
use crds::MnoConnection;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{json, Value};

fn mno(spec: Value) -> MnoConnection {
    let mut base = json!({
        "operatorId": "mtn-gh",
        "primary": {"host": "10.1.2.3", "port": 2775},
        "backup": {"host": "smsc2.mtn.example", "port": 3550, "egressCIDRs": ["192.0.2.0/28"]},
        "nats": {"url": "nats://nats.platform:4222"},
        "redis": {"url": "redis://redis.platform:6380"},
        "postgres": {"url": "postgres://smpp@pg.platform:5433/smpp"}
    });
    if let (Some(b), Some(s)) = (base.as_object_mut(), spec.as_object()) {
        for (k, v) in s {
            b.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "smpp.ghasi.io/v1alpha1",
        "kind": "MnoConnection",
        "metadata": {"name": "mtn-gh", "namespace": "sms", "uid": "uid-1"},
        "spec": base
    }))
    .expect("valid MnoConnection")
}

fn settings() -> Settings {
    Settings::parse(
        r#"{"platformPeers": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "platform"}}}],
            "metricsPeers": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}],
            "apiServerCIDRs": ["10.96.0.1/32"], "apiServerPort": 6443}"#,
    )
    .expect("valid settings")
}

fn policy(m: &MnoConnection, s: &Settings) -> Value {
    let config = controller::spec_check::check_spec(m).expect("valid spec");
    let p: NetworkPolicy = build(m, &config, s).expect("builds");
    serde_json::to_value(p).expect("serialises")
}

fn ports(rule: &Value) -> BTreeSet<(i64, String)> {
    rule["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["port"].as_i64().unwrap_or(-1),
                p["protocol"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn tcp(list: &[i64]) -> BTreeSet<(i64, String)> {
    list.iter().map(|p| (*p, "TCP".to_string())).collect()
}

fn cidrs(rule: &Value) -> Vec<String> {
    rule["to"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["ipBlock"]["cidr"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn egress_allows_only_dns_the_smscs_the_platform_and_the_api_server() {
    let m = mno(json!({}));
    let p = policy(&m, &settings());
    assert_eq!(p["metadata"]["name"], "mtn-gh-connector");
    assert_eq!(p["metadata"]["namespace"], "sms");
    assert_eq!(p["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    assert_eq!(p["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    let egress = p["spec"]["egress"].as_array().expect("egress");
    assert_eq!(egress.len(), 5, "{egress:?}");

    let dns = &egress[0];
    assert_eq!(
        ports(dns),
        [(53, "TCP".to_string()), (53, "UDP".to_string())]
            .into_iter()
            .collect()
    );
    assert!(dns["to"].is_null(), "DNS to any resolver");

    assert_eq!(ports(&egress[1]), tcp(&[2775]));
    assert_eq!(
        cidrs(&egress[1]),
        ["10.1.2.3/32"],
        "an IP host is its own CIDR"
    );
    assert_eq!(ports(&egress[2]), tcp(&[3550]));
    assert_eq!(cidrs(&egress[2]), ["192.0.2.0/28"]);

    // NATS, Redis, PostgreSQL from the spec's URLs; operator-management-service's default URL.
    assert_eq!(ports(&egress[3]), tcp(&[4222, 5433, 6380, 8080]));
    assert_eq!(
        egress[3]["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "platform"
    );
    assert_eq!(ports(&egress[4]), tcp(&[443, 6443]));
    assert_eq!(cidrs(&egress[4]), ["10.96.0.1/32"]);

    let ingress = p["spec"]["ingress"].as_array().expect("ingress");
    assert_eq!(ingress.len(), 1);
    assert_eq!(ports(&ingress[0]), tcp(&[8080]));
    assert_eq!(
        ingress[0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "prometheus"
    );
}

#[test]
fn the_policy_selects_exactly_the_connector_pod() {
    let m = mno(json!({}));
    let p = policy(&m, &settings());
    let config = controller::spec_check::check_spec(&m).expect("valid");
    let children = controller::children::build(&m, &config, "ghcr.io/ghasi/smpp-connector:0.1.0")
        .expect("children");
    let deployment = serde_json::to_value(&children.deployment).expect("deployment");
    assert_eq!(
        p["spec"]["podSelector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let container_port = &deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0];
    assert_eq!(
        p["spec"]["ingress"][0]["ports"][0]["port"],
        container_port["containerPort"]
    );
}

#[test]
fn empty_peer_lists_allow_any_address_on_those_ports() {
    let m = mno(json!({"backup": null}));
    let p = policy(&m, &Settings::parse("{}").expect("empty settings"));
    let egress = p["spec"]["egress"].as_array().expect("egress");
    assert_eq!(egress.len(), 4, "no backup rule without a backup");
    assert!(egress[2]["to"].is_null(), "platform: any address");
    assert!(egress[3]["to"].is_null(), "API server: any address");
    assert_eq!(ports(&egress[3]), tcp(&[443, 6443]));
    assert!(p["spec"]["ingress"][0]["from"].is_null());
}

#[test]
fn an_smsc_host_name_without_cidrs_stalls() {
    let m = mno(json!({"backup": {"host": "smsc2.mtn.example", "port": 3550}}));
    let config = controller::spec_check::check_spec(&m).expect("valid spec");
    let stall = build(&m, &config, &settings()).expect_err("a name needs CIDRs");
    assert_eq!(stall.reason, NEEDS_CIDRS);
    assert!(
        stall
            .message
            .contains("spec.backup.host \"smsc2.mtn.example\"")
            && stall.message.contains("spec.backup.egressCIDRs"),
        "{}",
        stall.message
    );
}

#[test]
fn malformed_cidrs_are_an_invalid_spec() {
    for bad in ["10.0.0.0/33", "10.0.0.0", "smsc/32", "::1/129"] {
        let m = mno(json!({"primary": {"host": "smsc1", "port": 2775, "egressCIDRs": [bad]}}));
        let config = controller::spec_check::check_spec(&m).expect("valid spec");
        let stall = build(&m, &config, &settings()).expect_err(bad);
        assert_eq!(stall.reason, "InvalidSpec", "{bad}");
        assert!(
            stall.message.contains("spec.primary.egressCIDRs"),
            "{}",
            stall.message
        );
    }
    let m = mno(json!({"primary": {"host": "2001:db8::7", "port": 2775}}));
    let p = policy(&m, &settings());
    assert_eq!(cidrs(&p["spec"]["egress"][1]), ["2001:db8::7/128"]);
}

#[test]
fn platform_ports_follow_the_urls() {
    let m = mno(json!({
        "nats": {"url": "nats://n1.platform:4222,nats://n2.platform:4223"},
        "redis": {"url": "rediss://:secret@redis.platform"},
        "postgres": {"url": "postgres://u:p@pg1.platform:5432,pg2.platform:5434/db?sslmode=require"},
        "credentials": {"operatorManagement": {"baseUrl": "https://oms.platform"}}
    }));
    let config = controller::spec_check::check_spec(&m).expect("valid spec");
    assert_eq!(
        platform_ports(&config),
        [443, 4222, 4223, 5432, 5434, 6379].into_iter().collect()
    );
    let m = mno(json!({"credentials": {"secretRef": {"name": "creds"}}}));
    let config = controller::spec_check::check_spec(&m).expect("valid spec");
    assert_eq!(
        platform_ports(&config),
        [4222, 5433, 6380].into_iter().collect(),
        "no credentials API with a Secret"
    );
}

#[test]
fn settings_refuse_unknown_keys_and_bad_cidrs() {
    assert!(Settings::parse(r#"{"platformPeer": []}"#).is_err());
    assert!(Settings::parse(r#"{"apiServerCIDRs": ["10.96.0.1"]}"#).is_err());
    assert!(Settings::parse("not json").is_err());
    assert_eq!(
        Settings::parse("{}").expect("defaults").api_server_port,
        6443
    );
}
