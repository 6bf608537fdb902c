use super::*;
use crate::test_support::env;

const MINIMAL: &str = "operatorId: mtn-gh\nprimary:\n  host: smsc1.example\n  port: 2775\ncredentials:\n  source: file\n  path: /etc/smpp/creds.json\n";

#[test]
fn minimal_file_gets_the_defaults() {
    let c = load_str(MINIMAL, env(&[])).unwrap();
    assert_eq!(c.operator_id, "mtn-gh");
    assert_eq!(c.session.window, 64);
    assert_eq!(c.nats.url, "nats://127.0.0.1:4222");
    assert_eq!(c.http.address, "0.0.0.0:8080");
}

#[test]
fn generic_and_short_overrides() {
    let c = load_str(
        MINIMAL,
        env(&[
            ("SMPP_CONNECTOR__SESSION__WINDOW", "32"),
            ("SMPP_CONNECTOR__THROTTLE__PERMIT_BATCH", "20"),
            ("SMPP_CONNECTOR__ENCODING__ACCEPTED", "[gsm7, latin1]"),
            ("SMPP_CONNECTOR__BIND__SYSTEM_TYPE", "\"123\""),
            ("SMPP_CONNECTOR__BACKUP__HOST", "smsc2.example"),
            ("SMPP_CONNECTOR__BACKUP__PORT", "2776"),
            ("SMPP_OPERATOR_ID", "vodafone-gh"),
            ("SMPP_NATS_URL", "nats://nats:4222"),
            ("SMPP_REDIS_URL", "redis://redis:6379"),
            ("DATABASE_URL", "postgres://a@db/x"),
            ("SMPP_DATABASE_URL", "postgres://b@db/y"),
            ("SMPP_HTTP_ADDRESS", "127.0.0.1:9090"),
            ("SMPP_LOG_LEVEL", "debug"),
            ("SMPP_LOG_FORMAT", "json"),
            ("UNRELATED", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(c.session.window, 32);
    assert_eq!(c.throttle.permit_batch, 20);
    assert_eq!(
        c.encoding.accepted,
        vec![crds::config::Charset::Gsm7, crds::config::Charset::Latin1]
    );
    assert_eq!(c.bind.system_type, "123");
    assert_eq!(
        c.backup.as_ref().map(|b| b.address()),
        Some("smsc2.example:2776".into())
    );
    assert_eq!(c.operator_id, "vodafone-gh");
    assert_eq!(c.nats.url, "nats://nats:4222");
    assert_eq!(c.redis.url, "redis://redis:6379");
    assert_eq!(
        c.postgres.url, "postgres://b@db/y",
        "SMPP_DATABASE_URL wins over DATABASE_URL"
    );
    assert_eq!(c.http.address, "127.0.0.1:9090");
    assert_eq!(c.logging.level, "debug");
    assert_eq!(c.logging.format, crds::config::LogFormat::Json);
}

#[test]
fn the_operator_id_may_come_only_from_the_environment() {
    let text = MINIMAL.replace("operatorId: mtn-gh\n", "");
    let c = load_str(&text, env(&[("SMPP_OPERATOR_ID", "op-1")])).unwrap();
    assert_eq!(c.operator_id, "op-1");
}

fn err(text: &str, e: &[(&str, &str)]) -> String {
    load_str(text, env(e)).unwrap_err().to_string()
}

#[test]
fn errors_name_the_key_and_line() {
    let e = err(&format!("{MINIMAL}session:\n  window: lots\n"), &[]);
    assert!(
        e.starts_with("configuration key `session.window` (line 9)"),
        "{e}"
    );
    let e = err(&format!("{MINIMAL}sesion:\n  window: 3\n"), &[]);
    assert!(e.contains("unknown field `sesion`"), "{e}");
    let e = err(&MINIMAL.replace("  port: 2775\n", ""), &[]);
    assert!(e.starts_with("configuration key `primary`"), "{e}");
    assert!(e.contains("missing field `port`"), "{e}");
    let e = err(&format!("{MINIMAL}throttle:\n  tps: -5\n"), &[]);
    assert!(e.contains("`throttle.tps`"), "{e}");
    let e = err("operatorId: [unclosed\n", &[]);
    assert!(e.starts_with("configuration is not valid YAML"), "{e}");
    assert!(e.contains("line 1"), "{e}");
}

#[test]
fn errors_from_the_environment_name_the_variable() {
    let e = err(MINIMAL, &[("SMPP_CONNECTOR__SESSION__WINDOW", "many")]);
    assert!(
        e.contains("`session.window` (from environment variable SMPP_CONNECTOR__SESSION__WINDOW)"),
        "{e}"
    );
    let e = err(MINIMAL, &[("SMPP_CONNECTOR__OPERATOR_ID__X", "1")]);
    assert!(
        e.starts_with("environment variable SMPP_CONNECTOR__OPERATOR_ID__X"),
        "{e}"
    );
}

#[test]
fn validation_problems_are_listed_by_key() {
    let e = err(
        &format!("{MINIMAL}session:\n  window: 5000\nthrottle:\n  permitBatch: 0\n"),
        &[("SMPP_HTTP_ADDRESS", "nowhere")],
    );
    assert!(e.starts_with("invalid configuration:"), "{e}");
    assert!(
        e.contains("\n  session.window: 5000 is out of range 1..=1024"),
        "{e}"
    );
    assert!(
        e.contains("\n  throttle.permitBatch: must be at least 1"),
        "{e}"
    );
    assert!(e.contains("\n  http.address:"), "{e}");
}

#[test]
fn lease_timings_that_cannot_fence_in_time_are_refused() {
    let e = err(
        &format!("{MINIMAL}lease:\n  backend: postgres\n  durationSeconds: 5\n  renewSeconds: 0\n"),
        &[],
    );
    assert!(
        e.contains("\n  lease.renewSeconds: must be positive"),
        "{e}"
    );
    assert!(
        e.contains("\n  lease.durationSeconds: 5 is too short: at least 6"),
        "{e}"
    );
    let e = err(
        &format!("{MINIMAL}lease:\n  durationSeconds: 8\n  renewSeconds: 3\n"),
        &[],
    );
    assert!(e.contains("lease.durationSeconds: 8 is too short"), "{e}");
    assert!(load_str(
        &format!("{MINIMAL}lease:\n  durationSeconds: 9\n  renewSeconds: 3\n"),
        env(&[])
    )
    .is_ok());
}

#[test]
fn missing_file() {
    let e = load(Path::new("/nonexistent/connector.yaml"), env(&[])).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains("/nonexistent/connector.yaml"));
}

#[test]
fn camel_case_of_env_segments() {
    assert_eq!(camel_case("PERMIT_BATCH"), "permitBatch");
    assert_eq!(camel_case("OPERATOR_ID"), "operatorId");
    assert_eq!(camel_case("URL"), "url");
    assert_eq!(
        camel_case("ENQUIRE_LINK_INTERVAL_SECONDS"),
        "enquireLinkIntervalSeconds"
    );
}

mod reference;
