//! The usual start of a connector test: a simulator, a ready connector, the operator's bus.

use crds::ConnectorConfig;

use super::bus::Bus;
use super::config::{sim_credentials, test_config};
use super::connector::Connector;
use super::env::{init_logging, unique_operator};
use super::sim::start_sim;
use super::temp_dir::TempDir;
use crate::sim::{SimConfig, SimHandle};

/// How long [`setup`] waits for the connector to be ready.
pub const READY: std::time::Duration = std::time::Duration::from_secs(15);

/// One test's operator, simulator, ready connector and bus.
pub struct Setup {
    /// The operator (`e2e-{tag}-{random}`).
    pub op: String,
    /// The simulator (account `ghasi01` / `s3cret`).
    pub sim: SimHandle,
    /// The connector, ready.
    pub connector: Connector,
    /// The operator's bus.
    pub bus: Bus,
    /// Holds the credentials file: keep it as long as the connector runs.
    pub dir: TempDir,
}

/// Starts a simulator adjusted by `tweak_sim`, and a connector of [`test_config`] with
/// [`sim_credentials`] adjusted by `tweak`; panics with the reason if it is not ready within
/// [`READY`].
pub async fn setup(
    tag: &str,
    tweak_sim: impl FnOnce(&mut SimConfig),
    tweak: impl FnOnce(&mut ConnectorConfig),
) -> Setup {
    init_logging();
    let op = unique_operator(tag);
    let sim = start_sim("ghasi01", "s3cret", tweak_sim).await;
    let dir = TempDir::new().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let mut config = test_config(&op, sim.addr(), sim_credentials(&dir));
    tweak(&mut config);
    let bus = Bus::connect(&config.nats.url, &op).await;
    let connector = Connector::start_ready(config, READY).await;
    Setup {
        op,
        sim,
        connector,
        bus,
        dir,
    }
}

impl Setup {
    /// Stops the connector gracefully (asserting it stopped cleanly) and removes the
    /// operator's commands from the stream.
    pub async fn finish(self) {
        let stopped = self.connector.stop().await;
        self.bus.cleanup().await;
        assert_eq!(stopped, Ok(()), "graceful stop");
    }
}
