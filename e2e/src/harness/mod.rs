//! Test harness for the end-to-end tests of the connector (`e2e/tests/connector_*.rs`).
//!
//! Every test gets its own operator id ([`unique_operator`]), its own in-process simulators,
//! its own connector ([`Connector`], run in-process on a private runtime so that it can be
//! stopped gracefully or "crashed" by dropping that runtime), and sees only its own events
//! ([`Bus`]). The machine's shared NATS, Redis and PostgreSQL are used as they are; outages are
//! simulated with a [`TcpProxy`] or a private [`NatsServer`], never by stopping shared servers.

mod bus;
mod commands;
mod config;
mod connector;
mod credentials_api;
mod db;
mod env;
mod nats_server;
mod private_db;
mod process;
mod proxy;
mod setup;
mod sim;
mod temp_dir;

pub use bus::{is_final_event, wait_acked, Bus};
pub use commands::{command, id_commands, message_ids, no_receipts};
pub use config::{file_credentials, sim_credentials, test_config, with_backup};
pub use connector::{metric_sum, Connector};
pub use credentials_api::{
    credentials_error, credentials_ok, CredentialsAnswer, CredentialsServer,
};
pub use db::{CorrelationRow, Db};
pub use env::{
    eventually, free_port, init_logging, nats_url, postgres_url, redis_url, unique_operator,
};
pub use nats_server::NatsServer;
pub use private_db::PrivateDb;
pub use process::ConnectorProcess;
pub use proxy::{ProxyMode, TcpProxy};
pub use setup::{setup, Setup};
pub use sim::{receipt_pdu, received_by_text, start_sim};
pub use temp_dir::TempDir;
