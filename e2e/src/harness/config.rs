//! The connector configuration of a test.

use std::net::SocketAddr;

use crds::config::{CredentialsSource, Endpoint};
use crds::ConnectorConfig;
use serde_json::Value;

use super::env::{free_port, nats_url, postgres_url, redis_url};
use super::temp_dir::TempDir;

/// Writes a credentials file in the API's response format and returns the source naming it.
pub fn file_credentials(dir: &TempDir, body: &Value) -> CredentialsSource {
    let path = dir
        .write("credentials.json", &body.to_string())
        .unwrap_or_else(|e| panic!("cannot write the credentials file: {e}"));
    CredentialsSource::File {
        path: path.display().to_string(),
    }
}

fn endpoint(addr: SocketAddr) -> Endpoint {
    Endpoint {
        host: addr.ip().to_string(),
        port: addr.port(),
        tls: None,
        local_address: None,
    }
}

/// A connector configuration for a test: short timers, the machine's services, HTTP on a
/// free port. Adjust the returned value freely.
pub fn test_config(
    operator_id: &str,
    primary: SocketAddr,
    credentials: CredentialsSource,
) -> ConnectorConfig {
    let yaml = serde_json::json!({
        "operatorId": operator_id,
        "primary": {"host": primary.ip().to_string(), "port": primary.port()},
        "credentials": {"source": "file", "path": "/nonexistent"},
    });
    let mut c: ConnectorConfig = match serde_json::from_value(yaml) {
        Ok(c) => c,
        Err(e) => panic!("base configuration: {e}"),
    };
    c.primary = endpoint(primary);
    c.credentials = credentials;
    c.session.window = 64;
    c.session.response_timeout_ms = 2_000;
    c.session.enquire_link_interval_seconds = 5;
    c.session.enquire_link_timeout_seconds = 2;
    c.session.read_idle_timeout_seconds = 15;
    c.session.bind_timeout_seconds = 2;
    c.session.reconnect_initial_seconds = 1;
    c.session.reconnect_max_seconds = 1;
    c.session.credentials_backoff_seconds = 1;
    c.session.drain_timeout_seconds = 3;
    c.failover.after_failures = 1;
    c.failover.after_seconds = 1;
    c.failover.probe_interval_seconds = 1;
    c.failover.failback_hold_seconds = 1;
    c.throttle.tps = 0;
    c.retry.initial_delay_ms = 50;
    c.retry.max_delay_ms = 200;
    c.receipts.correlation_wait_seconds = 5;
    c.nats.url = nats_url();
    c.nats.ack_wait_seconds = 5;
    c.redis.url = redis_url();
    c.postgres.url = postgres_url();
    c.postgres.max_connections = 4;
    c.postgres.batch_delay_ms = 5;
    c.http.address = format!("127.0.0.1:{}", free_port());
    c
}

/// Sets the backup endpoint of `config`.
pub fn with_backup(config: &mut ConnectorConfig, backup: SocketAddr) {
    config.backup = Some(endpoint(backup));
}

/// The credentials file of the account [`start_sim`](super::start_sim) is usually given in
/// the tests (`ghasi01` / `s3cret`).
pub fn sim_credentials(dir: &TempDir) -> CredentialsSource {
    file_credentials(
        dir,
        &serde_json::json!({"systemId": "ghasi01", "password": "s3cret", "systemType": ""}),
    )
}
