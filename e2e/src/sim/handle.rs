//! [`Simulator`]: start an instance and control it through its [`SimHandle`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::capture::ReceivedSubmit;
use super::config::SimConfig;
use super::delivery::{Delivery, DeliveryKind, MoMessage};
use super::faults::{BreakAction, Faults};
use super::router::SessionCmd;
use super::server;
use super::shared::Shared;
use super::stats::StatsSnapshot;

/// Why a simulator cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The PDU log cannot be opened.
    #[error("cannot open the PDU log: {0}")]
    PduLog(std::io::Error),
}

/// Starts simulator instances.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds `config.listen` and starts serving; the returned handle controls the instance.
    /// Needs a Tokio runtime. Dropping the handle stops the instance.
    pub async fn start(config: SimConfig) -> Result<SimHandle, StartError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let shared = Shared::new(config).map_err(StartError::PduLog)?;
        let server = tokio::spawn(server::serve(shared.clone(), listener, addr));
        Ok(SimHandle {
            shared,
            addr,
            server: Some(server),
        })
    }
}

/// Controls and inspects one running simulator.
#[derive(Debug)]
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// The address it listens on (with the actual port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The start configuration.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// A copy of every counter.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.shared;
        StatsSnapshot {
            uptime: s.start.elapsed(),
            pdus: s.stats.pdu_counts(),
            events: s.stats.events.to_map(),
            accepted_per_second: s.tps.per_second(),
            max_accepted_in_one_second: s.tps.max_in_window(Duration::from_secs(1)),
            pending_deliveries: s.router.pending(None),
            bound_sessions: s.router.bound_sessions(),
            peak_bound_sessions: s.router.peak_bound(),
        }
    }

    /// Accepted submits (submit_sm + data_sm) so far.
    pub fn accepted_submits(&self) -> u64 {
        self.shared
            .stats
            .events
            .accepted_submits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Accepted submits in each second since the start.
    pub fn accepted_per_second(&self) -> Vec<u64> {
        self.shared.tps.per_second()
    }

    /// The most accepted submits in any window of this length (10 ms resolution).
    pub fn max_accepted_in(&self, window: Duration) -> u64 {
        self.shared.tps.max_in_window(window)
    }

    /// The captured submits, oldest first (empty if capture is off).
    pub fn submits(&self) -> Vec<ReceivedSubmit> {
        self.shared
            .capture
            .as_ref()
            .map(|c| c.list())
            .unwrap_or_default()
    }

    /// What happened to the receipt of SMSC message `id` (`None`: capture is off, the
    /// receipt was never written, or it is older than the capture limit).
    pub fn receipt_fate(&self, id: &str) -> Option<super::ReceiptFate> {
        self.shared.receipt_log.as_ref().and_then(|l| l.fate(id))
    }

    /// Every submit accepted from now on; `None` if capture is off.
    pub fn subscribe_submits(
        &self,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<ReceivedSubmit>> {
        self.shared.capture.as_ref().map(|c| c.subscribe())
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults.current().faults().clone()
    }

    /// Replaces the faults (counters of triggers restart).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.set(faults);
    }

    /// Changes the faults in place.
    pub fn update_faults(&self, f: impl FnOnce(&mut Faults)) {
        self.shared.faults.update(f);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.set(Faults::default());
    }

    /// Sends an MO deliver_sm to a receiver of `mo.system_id` (kept until one binds).
    pub fn inject_mo(&self, mo: MoMessage) {
        let delivery = Delivery {
            system_id: Arc::from(mo.system_id.as_str()),
            kind: DeliveryKind::Mo(mo),
            attempts: 0,
        };
        self.shared.router.route(delivery);
    }

    /// Breaks every live connection now; returns how many.
    pub fn break_connections(&self, action: BreakAction) -> usize {
        self.shared.router.broadcast(|| SessionCmd::Break(action))
    }

    /// Sends unbind on every bound session (each closes once answered); returns how many
    /// sessions were told.
    pub fn unbind_all(&self) -> usize {
        self.shared.router.broadcast(|| SessionCmd::Unbind)
    }

    /// Receipts and MO waiting for a receiver of `system_id` (all if `None`).
    pub fn pending_deliveries(&self, system_id: Option<&str>) -> usize {
        self.shared.router.pending(system_id)
    }

    /// Sessions bound now.
    pub fn bound_sessions(&self) -> usize {
        self.shared.router.bound_sessions()
    }

    /// Live connections now.
    pub fn connections(&self) -> usize {
        self.shared.router.sessions()
    }

    /// The most sessions bound at the same time since the start.
    pub fn peak_bound_sessions(&self) -> usize {
        self.shared.router.peak_bound()
    }

    /// Sessions bound now with `system_id`.
    pub fn bound_for(&self, system_id: &str) -> usize {
        self.shared.router.bound_for(system_id)
    }

    /// Waits until at least `n` sessions are bound; `false` on timeout.
    pub async fn wait_bound(&self, n: usize, timeout: Duration) -> bool {
        let mut rx = self.shared.router.watch_bound();
        tokio::time::timeout(timeout, rx.wait_for(|&b| b >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits until at most `n` sessions are bound; `false` on timeout.
    pub async fn wait_bound_at_most(&self, n: usize, timeout: Duration) -> bool {
        let mut rx = self.shared.router.watch_bound();
        tokio::time::timeout(timeout, rx.wait_for(|&b| b <= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stops listening, closes every session, waits for them to end and for the PDU log
    /// to be written out.
    pub async fn shutdown(mut self) {
        self.shared.cancel.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(log) = &self.shared.pdu_log {
            let _ = tokio::time::timeout(Duration::from_secs(5), log.flush()).await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}
