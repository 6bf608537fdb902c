//! The connector's Prometheus metrics (prometheus-client), served as text on `/metrics`.
//!
//! Names (the dashboards use them): `smpp_submit_total{command_status}`,
//! `smpp_receipts_total{status}`, `smpp_window_in_use`, `smpp_tps_used`,
//! `smpp_response_latency_seconds`, `smpp_receipt_latency_seconds`,
//! `smpp_publish_to_submit_seconds`,
//! `smpp_session_state{state,endpoint}`, `smpp_reconnects_total`,
//! `smpp_correlation_misses_total`, `smpp_correlation_conflicts_total`,
//! `smpp_rejected_commands_total{reason}`,
//! `smpp_duplicate_window_total`, `smpp_mo_messages_total`,
//! `smpp_idempotent_skips_total`, `smpp_duplicate_commands_total`, `smpp_pending_receipts`,
//! `smpp_pending_receipts_overflow_total`, `smpp_pending_receipts_unreadable_total`,
//! `smpp_unreadable_receipts_total`, `smpp_slowdown_paused_seconds_total`,
//! `smpp_slowdown_rate_factor`, `smpp_binds_bound`, `smpp_binds_configured`, `smpp_lease_active`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::pipeline::receipt_flow::IdForms;
use crate::pipeline::throttle::Throttle;
use crate::session::{EndpointRole, SessionHandle};
use crate::store::WriterStats;

/// `command_status` label: the ESME_ name (`ESME_ROK`, `ESME_RTHROTTLED`, ...); a status the
/// specification does not name is bucketed (`vendor` for 0x400..=0x4FF, `reserved` otherwise)
/// so that the label stays bounded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandStatusLabel {
    /// The submit_sm_resp command_status.
    pub command_status: String,
}

/// `status` label of receipts (DELIVERED, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// The event status.
    pub status: String,
}

/// `reason` label of rejected commands (a bounded kind, see `RejectReason::kind`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The rejection kind.
    pub reason: String,
}

/// `form` and `endpoint` labels of the receipt id form gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FormLabel {
    /// `learning`, `asIs`, `hexToDecimal` or `decimalToHex`.
    pub form: String,
    /// `primary` or `backup`: the endpoint whose receipts use it (the same form for both when
    /// `receipts.idScope` is shared).
    pub endpoint: String,
}

/// Values of the `form` label: `learning` while `auto` has not locked a form.
pub const RECEIPT_ID_FORMS: [&str; 4] = ["learning", "asIs", "hexToDecimal", "decimalToHex"];

/// `state` and `endpoint` of the session.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SessionLabels {
    /// BOUND, FAILBACK or UNBOUND.
    pub state: String,
    /// primary, backup or none.
    pub endpoint: String,
}

/// Latency bucket bounds in seconds: 0.25 ms to 10 s, fine around the 10 ms objectives of
/// publish → submit_sm and receipt → event.
pub const LATENCY_BUCKETS: [f64; 22] = [
    0.000_25, 0.000_5, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.010, 0.012, 0.015, 0.020,
    0.030, 0.050, 0.100, 0.250, 0.500, 1.0, 2.5, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every metric of the connector, and their registry.
pub struct Metrics {
    registry: Registry,
    /// Submit responses by command_status.
    pub submit_total: Family<CommandStatusLabel, Counter>,
    /// Receipts by status.
    pub receipts_total: Family<StatusLabel, Counter>,
    /// Outstanding requests in the session window.
    pub window_in_use: Gauge,
    /// Submits in the last second (TPS permits used).
    pub tps_used: Gauge,
    /// Binds of the pool that are up now.
    pub binds_bound: Gauge,
    /// Binds the pool keeps (`session.binds`).
    pub binds_configured: Gauge,
    /// 1 while this replica is active (holds the lease, or runs without one), 0 on standby.
    pub lease_active: Gauge,
    /// submit_sm to submit_sm_resp, seconds.
    pub response_latency_seconds: Histogram,
    /// deliver_sm received to event published, seconds.
    pub receipt_latency_seconds: Histogram,
    /// JetStream publish time of the dispatch command to the first write of its submit_sm,
    /// seconds (per segment sent).
    pub publish_to_submit_seconds: Histogram,
    /// 1 for the current state and endpoint, 0 for the others.
    pub session_state: Family<SessionLabels, Gauge>,
    /// Session reconnects.
    pub reconnects_total: Counter,
    /// Receipts published without a correlated message.
    pub correlation_misses_total: Counter,
    /// Receipts that contradicted the receipt their segment holds (published uncorrelated).
    pub correlation_conflicts_total: Counter,
    /// Commands rejected by validation, by reason.
    pub rejected_commands_total: Family<ReasonLabel, Counter>,
    /// Submits whose response was lost (session died or crash window): possibly duplicated.
    pub duplicate_window_total: Counter,
    /// deliver_sm that were not receipts (MO), answered and not processed.
    pub mo_messages_total: Counter,
    /// Commands acknowledged without sending (every segment already settled).
    pub idempotent_skips_total: Counter,
    /// Commands that came while a command of the same messageId was being sent.
    pub duplicate_commands_total: Counter,
    /// Receipts kept until their submit is known (as of the last sweep).
    pub pending_receipts: Gauge,
    /// Receipts published uncorrelated at once because `receipts.maxPending` were kept.
    pub pending_receipts_overflow_total: Counter,
    /// Kept receipts whose row could not be decoded (published from its key columns).
    pub pending_receipts_unreadable_total: Counter,
    /// Receipts without an id or a status, published as uncorrelated UNKNOWN events.
    pub unreadable_receipts_total: Counter,
    /// Pull requests made to the dispatch consumer.
    pub dispatch_pulls_total: Counter,
    /// Dispatch commands received from those pulls.
    pub dispatch_pulled_total: Counter,
    /// Correlation rows deleted past `postgres.retentionDays`.
    pub correlations_purged_total: Counter,
    /// Group-commit transactions committed (`store::WriterStats`).
    pub correlation_commits_total: Counter,
    /// Group-commit transactions that failed.
    pub correlation_commit_failures_total: Counter,
    /// 1 for the receipt id form in use, 0 for the others.
    pub receipt_id_form: Family<FormLabel, Gauge>,
    /// Seconds the session paused sending after ESME_RMSGQFUL.
    pub slowdown_paused_seconds_total: Counter<f64, AtomicU64>,
    /// The send rate limit after ESME_RTHROTTLED relative to the rate before (1 unlimited).
    pub slowdown_rate_factor: Gauge<f64, AtomicU64>,
    /// The paused time already counted, to add only the difference.
    paused_counted: Mutex<std::time::Duration>,
    current_session: Mutex<Option<SessionLabels>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Self {
            submit_total: Family::default(),
            receipts_total: Family::default(),
            window_in_use: Gauge::default(),
            tps_used: Gauge::default(),
            binds_bound: Gauge::default(),
            binds_configured: Gauge::default(),
            lease_active: Gauge::default(),
            response_latency_seconds: latency_histogram(),
            receipt_latency_seconds: latency_histogram(),
            publish_to_submit_seconds: latency_histogram(),
            session_state: Family::default(),
            reconnects_total: Counter::default(),
            correlation_misses_total: Counter::default(),
            correlation_conflicts_total: Counter::default(),
            rejected_commands_total: Family::default(),
            duplicate_window_total: Counter::default(),
            mo_messages_total: Counter::default(),
            idempotent_skips_total: Counter::default(),
            duplicate_commands_total: Counter::default(),
            pending_receipts: Gauge::default(),
            pending_receipts_overflow_total: Counter::default(),
            pending_receipts_unreadable_total: Counter::default(),
            unreadable_receipts_total: Counter::default(),
            dispatch_pulls_total: Counter::default(),
            dispatch_pulled_total: Counter::default(),
            correlations_purged_total: Counter::default(),
            correlation_commits_total: Counter::default(),
            correlation_commit_failures_total: Counter::default(),
            receipt_id_form: Family::default(),
            slowdown_paused_seconds_total: Counter::default(),
            slowdown_rate_factor: Gauge::default(),
            paused_counted: Mutex::new(std::time::Duration::ZERO),
            current_session: Mutex::new(None),
            registry: Registry::default(),
        };
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "smpp_submit",
            "submit_sm responses by command_status",
            m.submit_total.clone(),
        );
        registry.register(
            "smpp_receipts",
            "Delivery receipts by status",
            m.receipts_total.clone(),
        );
        registry.register(
            "smpp_window_in_use",
            "Outstanding requests in the session window",
            m.window_in_use.clone(),
        );
        registry.register(
            "smpp_binds_bound",
            "Binds of the pool that are up now",
            m.binds_bound.clone(),
        );
        registry.register(
            "smpp_binds_configured",
            "Binds the pool keeps (session.binds)",
            m.binds_configured.clone(),
        );
        registry.register(
            "smpp_lease_active",
            "1 while this replica is active (holds the lease or runs without one), 0 on standby",
            m.lease_active.clone(),
        );
        registry.register(
            "smpp_tps_used",
            "Submits in the last second",
            m.tps_used.clone(),
        );
        registry.register(
            "smpp_response_latency_seconds",
            "submit_sm to submit_sm_resp",
            m.response_latency_seconds.clone(),
        );
        registry.register(
            "smpp_receipt_latency_seconds",
            "deliver_sm received to event published",
            m.receipt_latency_seconds.clone(),
        );
        registry.register(
            "smpp_publish_to_submit_seconds",
            "JetStream publish of the dispatch command to the first write of its submit_sm",
            m.publish_to_submit_seconds.clone(),
        );
        registry.register(
            "smpp_session_state",
            "1 for the current session state and endpoint",
            m.session_state.clone(),
        );
        registry.register(
            "smpp_reconnects",
            "Session reconnects",
            m.reconnects_total.clone(),
        );
        registry.register(
            "smpp_correlation_misses",
            "Receipts published without a correlated message",
            m.correlation_misses_total.clone(),
        );
        registry.register(
            "smpp_correlation_conflicts",
            "Receipts that contradicted the receipt their segment holds (another SMSC id or a second final status), published uncorrelated",
            m.correlation_conflicts_total.clone(),
        );
        registry.register(
            "smpp_rejected_commands",
            "Dispatch commands rejected by validation, by reason",
            m.rejected_commands_total.clone(),
        );
        registry.register(
            "smpp_duplicate_window",
            "Submits whose response was lost (possible duplicates at the operator)",
            m.duplicate_window_total.clone(),
        );
        registry.register(
            "smpp_mo_messages",
            "deliver_sm that were not receipts",
            m.mo_messages_total.clone(),
        );
        registry.register(
            "smpp_idempotent_skips",
            "Commands acknowledged without sending: every segment was already settled",
            m.idempotent_skips_total.clone(),
        );
        registry.register(
            "smpp_duplicate_commands",
            "Commands that came while one of the same messageId was being sent (delayed, then skipped)",
            m.duplicate_commands_total.clone(),
        );
        registry.register(
            "smpp_pending_receipts",
            "Receipts kept until their submit is known",
            m.pending_receipts.clone(),
        );
        registry.register(
            "smpp_pending_receipts_overflow",
            "Receipts published uncorrelated at once because receipts.maxPending were kept",
            m.pending_receipts_overflow_total.clone(),
        );
        registry.register(
            "smpp_pending_receipts_unreadable",
            "Kept receipts whose row could not be decoded, published from its key columns",
            m.pending_receipts_unreadable_total.clone(),
        );
        registry.register(
            "smpp_unreadable_receipts",
            "Receipts without an id or a status, published as uncorrelated UNKNOWN events",
            m.unreadable_receipts_total.clone(),
        );
        registry.register(
            "smpp_dispatch_pulls",
            "Pull requests made to the dispatch consumer",
            m.dispatch_pulls_total.clone(),
        );
        registry.register(
            "smpp_dispatch_pulled",
            "Dispatch commands received from pull requests",
            m.dispatch_pulled_total.clone(),
        );
        registry.register(
            "smpp_correlations_purged",
            "Correlation rows deleted past postgres.retentionDays",
            m.correlations_purged_total.clone(),
        );
        registry.register(
            "smpp_correlation_commits",
            "Group commits of submit outcomes and receipts to PostgreSQL",
            m.correlation_commits_total.clone(),
        );
        registry.register(
            "smpp_correlation_commit_failures",
            "Group commits that failed (rolled back; their callers retry or answer a temporary error)",
            m.correlation_commit_failures_total.clone(),
        );
        registry.register(
            "smpp_receipt_id_form",
            "1 for the receipt id form in use (learning while auto has not locked one)",
            m.receipt_id_form.clone(),
        );
        registry.register(
            "smpp_slowdown_paused_seconds",
            "Seconds the session paused sending after ESME_RMSGQFUL",
            m.slowdown_paused_seconds_total.clone(),
        );
        registry.register(
            "smpp_slowdown_rate_factor",
            "Send rate limit after ESME_RTHROTTLED relative to the rate before it (1 when not limited)",
            m.slowdown_rate_factor.clone(),
        );
        m.slowdown_rate_factor.set(1.0);
        Self { registry, ..m }
    }

    /// Copies the session's slow-down figures (`paused_total` since the engine started).
    pub fn set_slow_down(&self, paused_total: std::time::Duration, rate_factor: f64) {
        let mut counted = self
            .paused_counted
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if paused_total > *counted {
            self.slowdown_paused_seconds_total
                .inc_by((paused_total - *counted).as_secs_f64());
            *counted = paused_total;
        }
        self.slowdown_rate_factor.set(rate_factor);
    }

    /// Counts a submit response.
    pub fn submit(&self, command_status: u32) {
        self.submit_total
            .get_or_create(&CommandStatusLabel {
                command_status: crate::protocol::codec::CommandStatus(command_status)
                    .name()
                    .map_or_else(
                        || {
                            if (0x400..=0x4FF).contains(&command_status) {
                                "vendor".to_string()
                            } else {
                                "reserved".to_string()
                            }
                        },
                        str::to_string,
                    ),
            })
            .inc();
    }

    /// Counts a receipt by its event status (`DELIVERED`, ...).
    pub fn receipt(&self, status: &str) {
        self.receipts_total
            .get_or_create(&StatusLabel {
                status: status.to_string(),
            })
            .inc();
    }

    /// Counts a rejected command by its reason kind.
    pub fn rejected(&self, reason_kind: &str) {
        self.rejected_commands_total
            .get_or_create(&ReasonLabel {
                reason: reason_kind.to_string(),
            })
            .inc();
    }

    /// Sets the session state gauge: 1 for `(state, endpoint)`, 0 for the previous one.
    pub fn set_session_state(&self, state: &str, endpoint: &str) {
        let now = SessionLabels {
            state: state.to_string(),
            endpoint: endpoint.to_string(),
        };
        if let Ok(mut cur) = self.current_session.lock() {
            if let Some(prev) = cur.take() {
                self.session_state.get_or_create(&prev).set(0);
            }
            self.session_state.get_or_create(&now).set(1);
            *cur = Some(now);
        }
    }

    /// Sets the receipt id form gauge of `endpoint`: 1 for `current`, 0 for the other forms.
    pub fn set_receipt_id_form(&self, endpoint: &str, current: &str) {
        for form in RECEIPT_ID_FORMS {
            self.receipt_id_form
                .get_or_create(&FormLabel {
                    form: form.to_string(),
                    endpoint: endpoint.to_string(),
                })
                .set(i64::from(form == current));
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Samples what is not counted as it happens, every second: the window in use, the TPS used,
/// the receipt id form and the slow-down; also has the throttle check Redis when idle.
pub struct Gauges {
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The session engine.
    pub session: SessionHandle,
    /// The TPS limiter.
    pub throttle: Arc<Throttle>,
    /// The receipt id form.
    pub id_forms: Arc<IdForms>,
    /// The correlation writer's counters.
    pub writer: Arc<WriterStats>,
}

impl Gauges {
    /// Samples until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let (mut commits, mut failures) = (0, 0);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let m = &self.metrics;
            let in_use = self.session.window_size() - self.session.free_window();
            m.window_in_use
                .set(i64::try_from(in_use).unwrap_or(i64::MAX));
            m.tps_used
                .set(i64::from(self.throttle.used_last_window().await));
            let binds = self.session.binds();
            let bound = binds
                .iter()
                .filter(|b| b.state == crate::session::BindSlotState::Bound)
                .count();
            m.binds_bound.set(i64::try_from(bound).unwrap_or(i64::MAX));
            m.binds_configured
                .set(i64::try_from(binds.len()).unwrap_or(i64::MAX));
            for endpoint in [EndpointRole::Primary, EndpointRole::Backup] {
                m.set_receipt_id_form(endpoint.as_str(), self.id_forms.label(endpoint));
            }
            let slow = self.session.slow_down();
            m.set_slow_down(slow.paused_total, slow.rate_factor);
            let now = self.writer.batches.load(Ordering::Relaxed);
            m.correlation_commits_total
                .inc_by(now.saturating_sub(commits));
            commits = commits.max(now);
            let now = self.writer.failures.load(Ordering::Relaxed);
            m.correlation_commit_failures_total
                .inc_by(now.saturating_sub(failures));
            failures = failures.max(now);
            self.throttle.probe().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dashboard_name_is_exposed() {
        let m = Metrics::new();
        m.submit(0);
        m.submit(0x0B);
        m.receipt("DELIVERED");
        m.rejected("pattern");
        m.window_in_use.set(5);
        m.tps_used.set(42);
        m.binds_bound.set(3);
        m.binds_configured.set(4);
        m.response_latency_seconds.observe(0.002);
        m.receipt_latency_seconds.observe(0.001);
        m.set_session_state("BOUND", "primary");
        m.set_session_state("FAILBACK", "backup");
        m.reconnects_total.inc();
        m.correlation_misses_total.inc();
        m.duplicate_window_total.inc();
        m.set_receipt_id_form("primary", "learning");
        m.set_receipt_id_form("primary", "hexToDecimal");
        m.set_receipt_id_form("backup", "asIs");
        let text = m.encode();
        for line in [
            "smpp_submit_total{command_status=\"ESME_ROK\"} 1",
            "smpp_submit_total{command_status=\"ESME_RINVDSTADR\"} 1",
            "smpp_receipts_total{status=\"DELIVERED\"} 1",
            "smpp_window_in_use 5",
            "smpp_tps_used 42",
            "smpp_binds_bound 3",
            "smpp_binds_configured 4",
            "smpp_response_latency_seconds_count 1",
            "smpp_receipt_latency_seconds_bucket{le=\"0.001\"} 1",
            "smpp_session_state{state=\"BOUND\",endpoint=\"primary\"} 0",
            "smpp_session_state{state=\"FAILBACK\",endpoint=\"backup\"} 1",
            "smpp_reconnects_total 1",
            "smpp_correlation_misses_total 1",
            "smpp_rejected_commands_total{reason=\"pattern\"} 1",
            "smpp_duplicate_window_total 1",
            "smpp_mo_messages_total 0",
            "smpp_idempotent_skips_total 0",
            "smpp_receipt_id_form{form=\"learning\",endpoint=\"primary\"} 0",
            "smpp_receipt_id_form{form=\"hexToDecimal\",endpoint=\"primary\"} 1",
            "smpp_receipt_id_form{form=\"decimalToHex\",endpoint=\"primary\"} 0",
            "smpp_receipt_id_form{form=\"asIs\",endpoint=\"backup\"} 1",
            "smpp_receipt_id_form{form=\"hexToDecimal\",endpoint=\"backup\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn operations_doc_lists_every_metric() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md");
        let doc = std::fs::read_to_string(&path).expect("docs/operations.md");
        let m = Metrics::new();
        // Families appear once they have a label set.
        m.submit(0);
        m.receipt("DELIVERED");
        m.rejected("schema");
        m.set_session_state("BOUND", "primary");
        m.set_receipt_id_form("primary", "asIs");
        let text = m.encode();
        let names: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| {
                let (name, kind) = l.split_once(' ')?;
                Some(if kind == "counter" {
                    format!("{name}_total")
                } else {
                    name.to_string()
                })
            })
            .collect();
        assert!(names.len() >= 16, "{names:?}");
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !doc.contains(&format!("| `{n}` |")))
            .collect();
        assert!(missing.is_empty(), "docs/operations.md lacks {missing:?}");
    }

    #[test]
    fn unnamed_command_statuses_share_bounded_labels() {
        let m = Metrics::new();
        for status in [0x400u32, 0x401, 0x4FF, 0x1234, 0xFFFF_FFFF] {
            m.submit(status);
        }
        let text = m.encode();
        assert!(
            text.contains("smpp_submit_total{command_status=\"vendor\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("smpp_submit_total{command_status=\"reserved\"} 2"),
            "{text}"
        );
        assert!(!text.contains("command_status=\"0x"), "{text}");
    }
}
