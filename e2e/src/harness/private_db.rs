//! A private database for one test.

use sqlx::Executor;

use super::db::Db;
use super::env::postgres_url;

/// A database of its own for one test (migrated by the connector at start), dropped by
/// [`PrivateDb::drop_db`].
pub struct PrivateDb {
    /// Its URL.
    pub url: String,
    name: String,
    admin: sqlx::PgPool,
}

impl PrivateDb {
    /// Creates `smpp_e2e_{random}` on the machine's PostgreSQL.
    pub async fn create() -> Self {
        let admin = Db::connect().await.0;
        let name = format!("smpp_e2e_{:08x}", rand::random::<u32>());
        if let Err(e) = admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
        {
            panic!("create database {name}: {e}");
        }
        let base = postgres_url();
        let url = match base.rfind('/') {
            Some(i) => format!("{}/{name}", &base[..i]),
            None => panic!("no database in {base}"),
        };
        Self { url, name, admin }
    }

    /// Makes the database refuse writes while it still answers reads (a read-only failover):
    /// new sessions are read-only, and the existing ones are ended.
    pub async fn set_read_only(&self, read_only: bool) {
        let setting = if read_only { "on" } else { "off" };
        for sql in [
            format!(
                "ALTER DATABASE {} SET default_transaction_read_only = {setting}",
                self.name
            ),
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                self.name
            ),
        ] {
            if let Err(e) = self.admin.execute(sql.as_str()).await {
                panic!("{sql}: {e}");
            }
        }
    }

    /// Drops the database.
    pub async fn drop_db(self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = self.admin.execute(sql.as_str()).await {
            panic!("{sql}: {e}");
        }
    }
}
