//! Test helpers shared by the modules' tests: unique names and connections to the machine's
//! real NATS, Redis and PostgreSQL.

/// A name unique to this test run: `{prefix}-{random hex}` (lowercase, valid as operator id).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// NATS of this machine.
pub const NATS_URL: &str = "nats://127.0.0.1:4222";
/// Redis of this machine.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
/// PostgreSQL of this machine (trust authentication).
pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A JetStream context on the local NATS.
pub async fn jetstream() -> async_nats::jetstream::Context {
    let client = async_nats::connect(NATS_URL).await.expect("local NATS");
    async_nats::jetstream::new(client)
}

/// A minimal valid configuration for `operator_id` (everything else defaulted).
pub fn config(operator_id: &str) -> crds::ConnectorConfig {
    let yaml = format!(
        "operatorId: {operator_id}\nprimary: {{host: 127.0.0.1, port: 2775}}\ncredentials: {{source: file, path: /dev/null}}\n"
    );
    crds::ConnectorConfig::from_yaml(&yaml).expect("test config")
}
