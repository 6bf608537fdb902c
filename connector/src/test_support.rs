//! Test helpers shared by the modules' tests: unique names and connections to the machine's
//! real NATS, Redis and PostgreSQL.

/// A name unique to this test run: `{prefix}-{random hex}` (lowercase, valid as operator id).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// Owned (key, value) pairs of an environment, as `std::env::vars()` gives them.
pub fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
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

/// A fresh, migrated PostgreSQL database for one test; dropped by [`TestDb::drop_db`].
pub struct TestDb {
    /// Pool on the test database.
    pub pool: sqlx::PgPool,
    name: String,
}

impl TestDb {
    /// Creates `smpp_test_{random}` and runs the migrations in it.
    pub async fn new() -> Self {
        use sqlx::Executor;
        let name = unique("smpp_test").replace('-', "_");
        let admin = sqlx::PgPool::connect(POSTGRES_URL)
            .await
            .expect("local PostgreSQL");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        admin.close().await;
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .expect("test database");
        crate::store::migrate(&pool).await.expect("migrations");
        Self { pool, name }
    }

    /// URL of the test database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    /// Closes the pool and drops the database.
    pub async fn drop_db(self) {
        use sqlx::Executor;
        self.pool.close().await;
        let admin = sqlx::PgPool::connect(POSTGRES_URL)
            .await
            .expect("local PostgreSQL");
        admin
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await
            .expect("drop test database");
        admin.close().await;
    }
}

/// A private in-memory stream capturing `{prefix}.>` for one test's events: its name and the
/// prefix. Delete it with `js.delete_stream(name)` at the end of the test.
pub async fn event_stream(js: &async_nats::jetstream::Context, tag: &str) -> (String, String) {
    let name = unique(tag).to_uppercase().replace('-', "_");
    let prefix = unique(&tag.to_lowercase());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![format!("{prefix}.>")],
        storage: async_nats::jetstream::stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .expect("test event stream");
    (name, prefix)
}

/// A publisher of events to `{prefix}.dlr` and `{prefix}.health`.
pub fn event_publisher(
    js: &async_nats::jetstream::Context,
    prefix: &str,
) -> crate::pipeline::events::EventPublisher {
    crate::pipeline::events::EventPublisher::new(
        js.clone(),
        &format!("{prefix}.dlr"),
        &format!("{prefix}.health"),
    )
}
