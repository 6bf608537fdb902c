//! The binary's answer to its configuration: exit code 2 and a message naming the key for a
//! bad file, 0 for `--check-config` on a good one.

use std::process::Command;

fn run(yaml: Option<&str>, env: &[(&str, &str)]) -> (i32, String, String) {
    let path = std::env::temp_dir().join(format!("smpp-cli-{:x}.yaml", rand::random::<u64>()));
    if let Some(y) = yaml {
        std::fs::write(&path, y).unwrap();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smpp-connector"));
    cmd.arg("--config").arg(&path).arg("--check-config");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_file(&path);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = "operatorId: mtn-gh\nprimary: {host: smsc1, port: 2775}\ncredentials: {source: file, path: /etc/creds.json}\n";

#[test]
fn good_file_checks_ok() {
    let (code, out, _) = run(Some(GOOD), &[]);
    assert_eq!(code, 0);
    assert!(out.contains("configuration OK: operator mtn-gh"), "{out}");
}

#[test]
fn bad_files_exit_2_naming_the_key() {
    let (code, _, err) = run(Some(&format!("{GOOD}session:\n  window: lots\n")), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("`session.window` (line 5)"), "{err}");

    let (code, _, err) = run(Some(&format!("{GOOD}session:\n  window: 0\n")), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("session.window: 0 is out of range"), "{err}");

    let (code, _, err) = run(Some(GOOD), &[("SMPP_CONNECTOR__THROTTLE__TPS", "fast")]);
    assert_eq!(code, 2);
    assert!(err.contains("SMPP_CONNECTOR__THROTTLE__TPS"), "{err}");

    let (code, _, err) = run(Some(GOOD), &[("SMPP_LOG_LEVEL", "connector=loud")]);
    assert_eq!(code, 2);
    assert!(err.contains("logging.level"), "{err}");

    let (code, _, err) = run(None, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read configuration file"), "{err}");
}

#[test]
fn migrate_applies_the_migrations_and_exits() {
    let db = format!("smpp_cli_{:x}", rand::random::<u32>());
    let psql = |sql: &str| {
        Command::new("psql")
            .args(["-U", "postgres", "-h", "127.0.0.1", "-qAtc", sql])
            .output()
            .expect("psql")
    };
    assert!(psql(&format!("CREATE DATABASE {db}")).status.success());
    let path = std::env::temp_dir().join(format!("{db}.yaml"));
    std::fs::write(
        &path,
        format!(
            "{GOOD}postgres: {{url: \"postgres://postgres@127.0.0.1:5432/{db}\", migrate: false}}\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_smpp-connector"))
        .arg("--config")
        .arg(&path)
        .arg("--migrate")
        .env("SMPP_LOG_FORMAT", "text")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let tables = Command::new("psql")
        .args(["-U", "postgres", "-h", "127.0.0.1", "-d", &db, "-qAtc"])
        .arg("SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'smpp'")
        .output()
        .expect("psql");
    psql(&format!("DROP DATABASE {db} WITH (FORCE)"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&tables.stdout).trim(),
        "connector_heartbeats,leases,message_correlations,pending_receipts"
    );
    // Unreachable PostgreSQL: a clear error and a failing exit code.
    let path = std::env::temp_dir().join(format!("{db}-down.yaml"));
    std::fs::write(
        &path,
        format!("{GOOD}postgres: {{url: \"postgres://postgres@127.0.0.1:1/x\"}}\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_smpp-connector"))
        .arg("--config")
        .arg(&path)
        .arg("--migrate")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("smpp-connector: migrations:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
