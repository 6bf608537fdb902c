//! Which MnoConnections would share a JetStream consumer, and which of them may run.

use controller::duplicates::{
    check, clashing, nats_servers, DUPLICATE_CONSUMER, DUPLICATE_OPERATOR_ID,
};
use crds::MnoConnection;
use serde_json::json;

fn mno(namespace: &str, name: &str, operator: &str, created: &str) -> MnoConnection {
    serde_json::from_value(json!({
        "apiVersion": "smpp.ghasi.io/v1alpha1",
        "kind": "MnoConnection",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": {"operatorId": operator, "primary": {"host": "smsc1", "port": 2775}}
    }))
    .expect("valid MnoConnection")
}

const T1: &str = "2025-01-01T00:00:00Z";
const T2: &str = "2025-02-01T00:00:00Z";

#[test]
fn nats_urls_name_servers_comparable_across_namespaces() {
    let one = |url: &str, ns: &str| nats_servers(url, ns).into_iter().collect::<Vec<_>>();
    assert_eq!(one("nats://nats:4222", "sms"), ["nats.sms:4222"]);
    assert_eq!(one("nats://nats", "sms"), ["nats.sms:4222"]);
    assert_eq!(
        one("nats://nats.platform:4222", "sms"),
        ["nats.platform:4222"]
    );
    assert_eq!(
        one(
            "tls://user:secret@NATS.platform.svc.cluster.local:4222",
            "sms"
        ),
        ["nats.platform:4222"]
    );
    assert_eq!(
        one("nats://nats.platform.svc:4333", "a"),
        ["nats.platform:4333"]
    );
    assert_eq!(one("nats://10.0.0.5:4222", "sms"), ["10.0.0.5:4222"]);
    assert_eq!(
        one("nats://n1.platform:4222, nats://n2.platform:4222", "sms"),
        ["n1.platform:4222", "n2.platform:4222"]
    );
    assert!(nats_servers("nats://127.0.0.1:4222,nats://localhost", "sms").is_empty());
    assert_ne!(
        nats_servers("nats://nats:4222", "sms"),
        nats_servers("nats://nats:4222", "other"),
        "a short name is the Service of each resource's own namespace"
    );
}

#[test]
fn the_newer_of_two_with_one_operator_id_stalls_and_the_older_runs() {
    let older = mno("sms", "mtn-gh", "mtn-gh", T1);
    let newer = mno("sms", "mtn-gh-new", "mtn-gh", T2);
    let all = [older.clone(), newer.clone()];
    assert_eq!(check(&older, &all), None);
    let stall = check(&newer, &all).expect("newer is stalled");
    assert_eq!(stall.reason, DUPLICATE_OPERATOR_ID);
    assert!(
        stall.message.contains("operatorId \"mtn-gh\"")
            && stall.message.contains("sms/mtn-gh ")
            && stall.message.contains("scaled to zero"),
        "{}",
        stall.message
    );
}

#[test]
fn equal_creation_times_are_broken_by_namespace_then_name() {
    let a = mno("sms", "a-mtn", "mtn-gh", T1);
    let b = mno("sms", "b-mtn", "mtn-gh", T1);
    let all = [b.clone(), a.clone()];
    assert_eq!(check(&a, &all), None);
    assert_eq!(
        check(&b, &all).map(|s| s.reason),
        Some(DUPLICATE_OPERATOR_ID)
    );
}

#[test]
fn a_resource_without_creation_time_counts_as_the_newest() {
    let stored = mno("sms", "z-mtn", "mtn-gh", T2);
    let mut fresh = mno("sms", "a-mtn", "mtn-gh", T1);
    fresh.metadata.creation_timestamp = None;
    let all = [stored.clone(), fresh.clone()];
    assert_eq!(check(&stored, &all), None);
    assert!(check(&fresh, &all).is_some());
}

#[test]
fn in_one_namespace_one_operator_id_clashes_whatever_the_urls() {
    let base = mno("sms", "mtn-gh", "mtn-gh", T1);
    let other_operator = mno("sms", "vodafone-gh", "vodafone-gh", T2);
    assert_eq!(check(&other_operator, [&base]), None);

    let mut other_stream = mno("sms", "mtn-gh-2", "mtn-gh", T2);
    other_stream.spec.nats.dispatch_stream = "SMPP_DISPATCH_STAGING".into();
    other_stream.spec.nats.url = "nats://nats.staging:4222".into();
    assert_eq!(
        check(&other_stream, [&base]).map(|s| s.reason),
        Some(DUPLICATE_OPERATOR_ID)
    );
}

#[test]
fn across_namespaces_other_streams_or_servers_do_not_clash() {
    let mut base = mno("sms", "mtn-gh", "mtn-gh", T1);
    base.spec.nats.url = "nats://nats.platform:4222".into();
    let mut same = mno("sms-b", "mtn-gh", "mtn-gh", T2);
    same.spec.nats.url = "nats://nats.platform:4222".into();
    assert!(check(&same, [&base]).is_some());

    let mut other_stream = same.clone();
    other_stream.spec.nats.dispatch_stream = "SMPP_DISPATCH_STAGING".into();
    assert_eq!(check(&other_stream, [&base]), None);

    let mut other_server = same.clone();
    other_server.spec.nats.url = "nats://nats.staging:4222".into();
    assert_eq!(check(&other_server, [&base]), None);
}

#[test]
fn across_namespaces_only_a_shared_server_clashes() {
    let mut a = mno("sms", "mtn-gh", "mtn-gh", T1);
    let mut b = mno("sms-staging", "mtn-gh", "mtn-gh", T2);
    // The default URL (loopback) names each pod's own server.
    assert_eq!(check(&b, [&a, &b]), None);
    // A short name is each namespace's own nats Service.
    a.spec.nats.url = "nats://nats:4222".into();
    b.spec.nats.url = "nats://nats:4222".into();
    assert_eq!(check(&b, [&a, &b]), None);

    a.spec.nats.url = "nats://nats.platform:4222".into();
    b.spec.nats.url = "nats://nats.platform.svc.cluster.local:4222".into();
    let stall = check(&b, [&a, &b]).expect("same server: clash");
    assert_eq!(stall.reason, DUPLICATE_OPERATOR_ID);
    assert!(stall.message.contains("sms/mtn-gh "), "{}", stall.message);
}

#[test]
fn one_durable_name_for_two_operators_clashes() {
    let mut a = mno("sms", "mtn-gh", "mtn-gh", T1);
    let mut b = mno("sms", "vodafone-gh", "vodafone-gh", T2);
    a.spec.nats.url = "nats://nats:4222".into();
    b.spec.nats.url = "nats://nats.sms.svc:4222".into();
    b.spec.nats.durable = "smpp-connector-mtn-gh".into();
    let stall = check(&b, [&a]).expect("b takes a's default durable name");
    assert_eq!(stall.reason, DUPLICATE_CONSUMER);
    assert!(
        stall.message.contains("\"smpp-connector-mtn-gh\""),
        "{}",
        stall.message
    );
    a.spec.nats.durable = "custom".into();
    b.spec.nats.durable = "custom".into();
    assert_eq!(check(&b, [&a]).map(|s| s.reason), Some(DUPLICATE_CONSUMER));
    b.spec.nats.durable = "other".into();
    assert_eq!(check(&b, [&a]), None);
}

#[test]
fn an_older_resource_being_deleted_does_not_block_the_newer() {
    let mut older = mno("sms", "mtn-gh", "mtn-gh", T1);
    let newer = mno("sms", "mtn-gh-new", "mtn-gh", T2);
    older.metadata.deletion_timestamp = newer.metadata.creation_timestamp.clone();
    assert_eq!(check(&newer, [&older, &newer]), None);
}

#[test]
fn the_oldest_clashing_resource_is_named() {
    let first = mno("sms", "first", "mtn-gh", "2024-01-01T00:00:00Z");
    let second = mno("sms", "second", "mtn-gh", T1);
    let third = mno("sms", "third", "mtn-gh", T2);
    let stall = check(&third, [&second, &first, &third]).expect("stalled");
    assert!(stall.message.contains("sms/first "), "{}", stall.message);
    assert!(check(&second, [&first, &second, &third]).is_some());
}

#[test]
fn a_change_reconciles_the_resources_it_clashes_with_in_both_directions() {
    let older = mno("sms", "mtn-gh", "mtn-gh", T1);
    let newer = mno("sms", "mtn-gh-new", "mtn-gh", T2);
    let unrelated = mno("sms", "vodafone-gh", "vodafone-gh", T1);
    let all = [older.clone(), newer.clone(), unrelated.clone()];
    let names = |list: Vec<&MnoConnection>| {
        list.into_iter()
            .map(|m| m.metadata.name.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(clashing(&older, &all)), ["mtn-gh-new"]);
    assert_eq!(names(clashing(&newer, &all)), ["mtn-gh"]);
    assert!(clashing(&unrelated, &all).is_empty());
}
