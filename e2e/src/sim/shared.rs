//! State shared by the listener, the sessions and the handle of one simulator.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::capture::Capture;
use super::config::SimConfig;
use super::delivery::Delivery;
use super::faults::FaultState;
use super::message_id::IdGenerator;
use super::message_store::MessageStore;
use super::outcome::OutcomePicker;
use super::pdu_log::PduLog;
use super::receipt_log::ReceiptLog;
use super::router::Router;
use super::scheduler::Scheduler;
use super::stats::Stats;
use super::tps::TpsMeter;

/// Everything one simulator instance shares between its tasks.
#[derive(Debug)]
pub struct Shared {
    /// The start configuration.
    pub config: SimConfig,
    /// Faults in force.
    pub faults: FaultState,
    /// Message ids.
    pub ids: IdGenerator,
    /// Counters.
    pub stats: Stats,
    /// Accepted-submit rate and limit.
    pub tps: TpsMeter,
    /// Sessions and pending deliveries.
    pub router: Arc<Router>,
    /// Delayed deliveries.
    pub scheduler: Scheduler,
    /// Captured submits, if enabled.
    pub capture: Option<Capture>,
    /// Receipt fates, kept with the capture.
    pub receipt_log: Option<ReceiptLog>,
    /// Messages for query_sm, cancel_sm and replace_sm.
    pub messages: Arc<MessageStore>,
    /// Receipt outcomes.
    pub outcomes: OutcomePicker,
    /// PDU log, if enabled.
    pub pdu_log: Option<PduLog>,
    /// Stops everything.
    pub cancel: CancellationToken,
    /// When the simulator started.
    pub start: Instant,
    /// Session id counter.
    pub next_session: AtomicU64,
}

impl Shared {
    /// Builds the shared state and starts the scheduler (needs a Tokio runtime).
    pub fn new(config: SimConfig) -> std::io::Result<Arc<Shared>> {
        let cancel = CancellationToken::new();
        let router = Arc::new(Router::default());
        let pdu_log = config.pdu_log.as_deref().map(PduLog::open).transpose()?;
        let start = Instant::now();
        let id_start = config.id_start.value();
        let messages = Arc::new(MessageStore::new(config.query_store_limit));
        Ok(Arc::new(Shared {
            faults: FaultState::new(config.faults.clone()),
            ids: IdGenerator::new(config.message_id, id_start),
            stats: Stats::default(),
            tps: TpsMeter::new(start, config.tps_limit),
            scheduler: Scheduler::start(router.clone(), messages.clone(), cancel.clone()),
            router,
            capture: config
                .capture_submits
                .then(|| Capture::new(config.capture_limit)),
            receipt_log: config
                .capture_submits
                .then(|| ReceiptLog::new(config.capture_limit)),
            messages,
            outcomes: OutcomePicker::new(config.receipts.mix),
            pdu_log,
            cancel,
            start,
            next_session: AtomicU64::new(1),
            config,
        }))
    }

    /// Notes in the receipt log (if kept) what happened to `delivery`, if it is a receipt.
    pub fn log_receipt(&self, delivery: &Delivery, note: impl FnOnce(&ReceiptLog, &str)) {
        if let (Some(log), Some(id)) = (&self.receipt_log, delivery.receipt_id()) {
            note(log, id);
        }
    }
}
