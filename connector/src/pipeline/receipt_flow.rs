//! From a parsed receipt to its committed correlation and its published `sms.dlr.inbound`
//! event, which decides the deliver_sm_resp: ESME_ROK only after both; a temporary error
//! (ESME_RX_T_APPN) when PostgreSQL or NATS fails, so that the SMSC retries.
//!
//! A receipt that matches no submitted segment yet (it came before the submit_sm_resp) is kept
//! in `smpp.pending_receipts` and answered ESME_ROK; [`ReceiptEvents::sweep_pending`] retries
//! the kept ones and, after `receipts.correlationWaitSeconds`, publishes them uncorrelated
//! (`messageId: null`). A duplicate receipt publishes the same `eventId`, which JetStream drops.
//! A receipt that contradicts the one its segment holds (another SMSC id, a second final
//! status) is counted in `smpp_correlation_conflicts_total` and published uncorrelated.
//!
//! The kept receipts are bounded (`receipts.maxPending`): once that many are kept, a receipt
//! that matches nothing is published uncorrelated at once (`smpp_pending_receipts_overflow_total`).
//! The sweep applies all the kept receipts it reads in the same group commits and deletes the
//! settled ones in one statement; a kept row that cannot be decoded is published from its key
//! columns (`smpp_pending_receipts_unreadable_total`) instead of failing the sweep.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::pipeline::events::{DlrEvent, EventPublisher, PublishEventError, ReceiptFacts};
use crate::pipeline::metrics::Metrics;
use crate::pipeline::trace::{self, TRACE_TARGET};
use crate::protocol::receipt::{IdForm, IdFormLearner, ReceiptLookup};
use crate::session::EndpointRole;
use crate::store::{
    delete_pending, pending_count, pending_receipts, store_pending, CorrelationError,
    CorrelationWriter, PendingReceipt, PendingRow, ReceiptMatch, ReceiptUpdate,
};
use crds::config::{ReceiptIdForm, ReceiptIdScope};

/// The receipt id forms of one operator (`receipts.idForm`), learnt when it is `auto`: which
/// keys a receipt is looked up with. With `receipts.idScope: endpoint` each endpoint is its own
/// id space with its own form (two SMSC systems may write ids differently); with `shared` one
/// form serves both. Shared by the submit side (it notes the submit ids) and the receipt side.
pub struct IdForms {
    scope: ReceiptIdScope,
    /// The primary's (or the shared) learner, then the backup's.
    learners: [std::sync::Mutex<IdFormLearner>; 2],
}

impl IdForms {
    /// The forms for the configured `receipts.idForm` and `receipts.idScope`.
    pub fn new(configured: ReceiptIdForm, scope: ReceiptIdScope) -> Self {
        Self {
            scope,
            learners: [
                std::sync::Mutex::new(IdFormLearner::new(configured)),
                std::sync::Mutex::new(IdFormLearner::new(configured)),
            ],
        }
    }

    /// The id space of the ids `endpoint` sends: the endpoint itself, or `None` when the
    /// endpoints share one.
    pub fn id_space(&self, endpoint: EndpointRole) -> Option<EndpointRole> {
        match self.scope {
            ReceiptIdScope::Endpoint => Some(endpoint),
            ReceiptIdScope::Shared => None,
        }
    }

    /// The learner of id space `space` (see [`IdForms::id_space`]; `None`, the shared one, is
    /// the primary's).
    fn learner(&self, space: Option<EndpointRole>) -> std::sync::MutexGuard<'_, IdFormLearner> {
        let i = usize::from(space == Some(EndpointRole::Backup));
        // The learner holds no invariant a panic elsewhere could break.
        self.learners[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The form in use in id space `space` once known (configured, or learnt from `auto`).
    pub fn locked(&self, space: Option<EndpointRole>) -> Option<IdForm> {
        self.learner(space).locked()
    }

    /// The name of the form of `endpoint`'s receipts for the `smpp_receipt_id_form` gauge
    /// (`learning` until locked).
    pub fn label(&self, endpoint: EndpointRole) -> &'static str {
        match self.locked(self.id_space(endpoint)) {
            None => "learning",
            Some(IdForm::AsIs) => "asIs",
            Some(IdForm::HexToDecimal) => "hexToDecimal",
            Some(IdForm::DecimalToHex) => "decimalToHex",
        }
    }

    /// Notes a submit_sm_resp id from `endpoint`.
    pub fn observe_submit(&self, endpoint: EndpointRole, id: &str) {
        self.note(self.id_space(endpoint), |l| l.observe_submit(id));
    }

    /// The lookup of receipt id `id` of id space `space` (noting the id): the locked form's
    /// key, or, while the form is learnt, the as-is key with the other forms' keys as
    /// unconfirmed evidence.
    pub fn lookup(&self, space: Option<EndpointRole>, id: &str) -> ReceiptLookup {
        let locked = {
            let mut l = self.learner(space);
            l.observe_receipt(id);
            l.locked()
        };
        ReceiptLookup::new(id, locked)
    }

    /// Notes that `lookup` matched a submit by its attributing key: while learning, evidence
    /// for the as-is form when another form would have named a different submit.
    pub fn record_as_is_match(&self, space: Option<EndpointRole>, lookup: &ReceiptLookup) {
        if lookup.as_is_match_is_evidence() {
            self.note(space, |l| l.record_match(IdForm::AsIs));
        }
    }

    /// Notes that receipt id `id` still matches no submit as it is, long after every submit
    /// that could have carried it was answered, while exactly one other form's key names a
    /// submit: evidence for that form, counted once per receipt id.
    pub fn record_unconfirmed_match(
        &self,
        space: Option<EndpointRole>,
        id: &str,
        unconfirmed: &[IdForm],
    ) {
        if let [form] = unconfirmed {
            self.note(space, |l| l.record_settled_match(id, *form));
        }
    }

    fn note(&self, space: Option<EndpointRole>, f: impl FnOnce(&mut IdFormLearner)) {
        let mut l = self.learner(space);
        let before = l.locked();
        f(&mut l);
        if before.is_none() {
            if let Some(form) = l.locked() {
                let space = space.map_or("shared", EndpointRole::as_str);
                tracing::info!(form = ?form, id_space = space, "receipt id form learnt; receipts are looked up with its key only");
            }
        }
    }
}

/// How to answer the deliver_sm of a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptAnswer {
    /// ESME_ROK: the event is published (or the receipt is kept for later).
    Ok,
    /// ESME_RX_T_APPN: something failed; the SMSC will send it again.
    TemporaryError,
}

/// Why a receipt could not be handled now.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// PostgreSQL.
    #[error(transparent)]
    Correlation(#[from] CorrelationError),
    /// NATS.
    #[error(transparent)]
    Publish(#[from] PublishEventError),
}

/// Handles receipts for one operator.
pub struct ReceiptEvents {
    operator_id: String,
    writer: CorrelationWriter,
    pool: PgPool,
    publisher: EventPublisher,
    metrics: Arc<Metrics>,
    wait: Duration,
    settle: Duration,
    id_forms: Arc<IdForms>,
    max_pending: u64,
    /// Receipts kept, as of the last sweep plus those kept since.
    pending: std::sync::atomic::AtomicU64,
    /// The bound was reached (logged once until the count is below it again).
    overflowing: std::sync::atomic::AtomicBool,
}

/// How long after its arrival a kept receipt's unconfirmed match counts as evidence, unless
/// [`ReceiptEvents::with_settle`] says otherwise.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(15);

impl ReceiptEvents {
    /// Receipts of `operator_id`; uncorrelated receipts are kept for `wait`
    /// (`receipts.correlationWaitSeconds`); ids are looked up as `id_forms` says.
    pub fn new(
        operator_id: &str,
        writer: CorrelationWriter,
        pool: PgPool,
        publisher: EventPublisher,
        metrics: Arc<Metrics>,
        wait: Duration,
        id_forms: Arc<IdForms>,
    ) -> Self {
        Self {
            operator_id: operator_id.to_string(),
            writer,
            pool,
            publisher,
            metrics,
            wait,
            settle: DEFAULT_SETTLE,
            id_forms,
            max_pending: crds::config::ReceiptConfig::default().max_pending,
            pending: std::sync::atomic::AtomicU64::new(0),
            overflowing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The receipt flow of the configuration: `receipts.correlationWaitSeconds` and
    /// `receipts.maxPending`, and a settle time past the response timeout and the batch delay.
    pub fn from_config(
        c: &crds::ConnectorConfig,
        writer: CorrelationWriter,
        pool: PgPool,
        publisher: EventPublisher,
        metrics: Arc<Metrics>,
        id_forms: Arc<IdForms>,
    ) -> Self {
        Self::new(
            &c.operator_id,
            writer,
            pool,
            publisher,
            metrics,
            Duration::from_secs(c.receipts.correlation_wait_seconds),
            id_forms,
        )
        .with_settle(
            Duration::from_millis(c.session.response_timeout_ms)
                + Duration::from_millis(c.postgres.batch_delay_ms)
                + Duration::from_secs(5),
        )
        .with_max_pending(c.receipts.max_pending)
    }

    /// The operator whose receipts these are.
    pub fn operator_id(&self) -> &str {
        &self.operator_id
    }

    /// Sets how many receipts are kept at most (`receipts.maxPending`).
    pub fn with_max_pending(mut self, max: u64) -> Self {
        self.max_pending = max;
        self
    }

    /// Sets how long a kept receipt must have waited before a match of another id form than
    /// as-is counts as evidence for that form: longer than any submit_sm_resp carrying its id
    /// as-is can take to be answered and committed (the response timeout and the batch delay).
    pub fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// The id space of receipts from `endpoint` (see [`IdForms::id_space`]).
    pub fn id_space(&self, endpoint: EndpointRole) -> Option<EndpointRole> {
        self.id_forms.id_space(endpoint)
    }

    /// Handles one receipt from `endpoint`; `received` is when its deliver_sm arrived.
    pub async fn handle(
        &self,
        facts: ReceiptFacts,
        endpoint: EndpointRole,
        received: Instant,
    ) -> ReceiptAnswer {
        let space = self.id_forms.id_space(endpoint);
        let span = tracing::info_span!(
            target: TRACE_TARGET,
            "smpp.deliver_sm",
            otel.kind = "server",
            smpp.operator_id = %self.operator_id,
            smpp.receipt_id = %facts.smsc_message_id,
            smpp.stat = %facts.stat,
            smpp.endpoint = endpoint.as_str(),
        );
        match self
            .try_handle(facts, space, Utc::now())
            .instrument(span)
            .await
        {
            Ok(()) => {
                self.metrics
                    .receipt_latency_seconds
                    .observe(received.elapsed().as_secs_f64());
                ReceiptAnswer::Ok
            }
            Err(e) => {
                tracing::warn!(error = %e, "receipt not handled; answering ESME_RX_T_APPN");
                ReceiptAnswer::TemporaryError
            }
        }
    }

    async fn try_handle(
        &self,
        facts: ReceiptFacts,
        space: Option<EndpointRole>,
        received_at: DateTime<Utc>,
    ) -> Result<(), ReceiptError> {
        let lookup = self.id_forms.lookup(space, &facts.smsc_message_id);
        let update = ReceiptUpdate {
            operator_id: self.operator_id.clone(),
            lookup: lookup.clone(),
            endpoint: space,
            facts: facts.clone(),
            received_at,
        };
        let found = async { self.writer.apply_receipt(update).await.await }
            .instrument(tracing::info_span!(
                target: TRACE_TARGET,
                "smpp.correlation_lookup"
            ))
            .await?;
        if self
            .settled(found, &lookup, &facts, space, received_at)
            .await?
        {
            return Ok(());
        }
        if self.wait.is_zero() {
            return self.publish_uncorrelated(&facts, space, received_at).await;
        }
        use std::sync::atomic::Ordering::Relaxed;
        if self.pending.load(Relaxed) >= self.max_pending {
            self.metrics.pending_receipts_overflow_total.inc();
            if !self.overflowing.swap(true, Relaxed) {
                tracing::warn!(max = self.max_pending, "kept receipts reached receipts.maxPending; receipts that match no submit are published uncorrelated at once");
            }
            return self.publish_uncorrelated(&facts, space, received_at).await;
        }
        let wait = chrono::Duration::from_std(self.wait).unwrap_or(chrono::Duration::MAX);
        let kept = PendingReceipt {
            operator_id: self.operator_id.clone(),
            key: lookup.key.as_str().to_string(),
            endpoint: space,
            candidate_keys: lookup.all_keys().map(|k| k.as_str().to_string()).collect(),
            facts,
            received_at,
            expires_at: received_at + wait,
        };
        match store_pending(&self.pool, &kept).await {
            Ok(()) => {
                self.pending.fetch_add(1, Relaxed);
                Ok(())
            }
            Err(e) if e.is_permanent() => {
                tracing::warn!(error = %e, "a receipt cannot be kept; published uncorrelated");
                self.publish_uncorrelated(&kept.facts, space, received_at)
                    .await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Publishes a deliver_sm that is a receipt but cannot be read (no id, no status) as an
    /// uncorrelated UNKNOWN event, so that it is seen rather than dropped.
    pub async fn publish_unreadable(&self, event: &DlrEvent) -> Result<(), PublishEventError> {
        self.publisher.publish_dlr(event).await?;
        self.metrics.unreadable_receipts_total.inc();
        self.metrics.receipt(event.status.as_str());
        Ok(())
    }

    /// Publishes what a correlation attempt settled: the correlated event, or, on a conflict,
    /// the receipt uncorrelated. Returns false when the receipt matched no segment (it is to
    /// be kept, or published uncorrelated when its wait is over).
    async fn settled(
        &self,
        found: ReceiptMatch,
        lookup: &ReceiptLookup,
        facts: &ReceiptFacts,
        space: Option<EndpointRole>,
        received_at: DateTime<Utc>,
    ) -> Result<bool, ReceiptError> {
        match found {
            ReceiptMatch::Correlated { message } => {
                self.id_forms.record_as_is_match(space, lookup);
                let event =
                    DlrEvent::receipt(&self.operator_id, facts, Some(&message), space, received_at);
                // In the trace of the command that sent the segment, linked to the deliver_sm.
                let span = tracing::info_span!(
                    target: TRACE_TARGET,
                    "smpp.receipt",
                    otel.kind = "producer",
                    smpp.message_id = %message.message_id,
                    smpp.segment_index = message.segment.index,
                    smpp.status = event.status.as_str(),
                );
                trace::continue_from(&span, message.trace_parent.as_deref());
                trace::link(&span, &tracing::Span::current());
                self.publisher.publish_dlr(&event).instrument(span).await?;
                self.metrics.receipt(event.status.as_str());
                Ok(true)
            }
            ReceiptMatch::Conflict {
                message_id,
                segment,
                smsc_message_id,
                held_receipt_id,
                held_stat,
            } => {
                self.metrics.correlation_conflicts_total.inc();
                tracing::warn!(
                    receipt_id = %facts.smsc_message_id,
                    stat = %facts.stat,
                    message_id = %message_id,
                    segment = segment.index,
                    segment_smsc_id = smsc_message_id.as_deref().unwrap_or(""),
                    held_receipt_id = held_receipt_id.as_deref().unwrap_or(""),
                    held_stat = held_stat.as_deref().unwrap_or(""),
                    "receipt contradicts the one its segment holds; published uncorrelated"
                );
                self.publish_uncorrelated(facts, space, received_at).await?;
                Ok(true)
            }
            ReceiptMatch::Unmatched { unconfirmed } => {
                let waited = (Utc::now() - received_at).to_std().unwrap_or_default();
                if waited >= self.settle {
                    self.id_forms.record_unconfirmed_match(
                        space,
                        &facts.smsc_message_id,
                        &unconfirmed,
                    );
                }
                Ok(false)
            }
        }
    }

    async fn publish_uncorrelated(
        &self,
        facts: &ReceiptFacts,
        space: Option<EndpointRole>,
        received_at: DateTime<Utc>,
    ) -> Result<(), ReceiptError> {
        let event = DlrEvent::receipt(&self.operator_id, facts, None, space, received_at);
        self.publisher.publish_dlr(&event).await?;
        self.metrics.receipt(event.status.as_str());
        self.metrics.correlation_misses_total.inc();
        tracing::info!(smsc_message_id = %facts.smsc_message_id, stat = %facts.stat, "receipt published uncorrelated");
        Ok(())
    }

    /// One pass over the kept receipts (at most `limit`): each one now correlated, or past its
    /// waiting time, is published and forgotten. Each is looked up as the id form now says, so
    /// a form learnt meanwhile applies. All are applied in the same group commits and the
    /// settled ones deleted in one statement; a failure leaves the others' progress intact and
    /// is returned after. Returns how many were published.
    pub async fn sweep_pending(&self, limit: i64) -> Result<usize, ReceiptError> {
        let now = Utc::now();
        let rows = pending_receipts(&self.pool, &self.operator_id, limit).await?;
        let mut applies = Vec::new();
        for row in &rows {
            if let PendingRow::Kept(p) = row {
                let lookup = self.id_forms.lookup(p.endpoint, &p.facts.smsc_message_id);
                let update = ReceiptUpdate {
                    operator_id: self.operator_id.clone(),
                    lookup: lookup.clone(),
                    endpoint: p.endpoint,
                    facts: p.facts.clone(),
                    received_at: p.received_at,
                };
                applies.push((row, p, lookup, self.writer.apply_receipt(update).await));
            }
        }
        let mut done: Vec<&PendingRow> = Vec::new();
        let mut failure: Option<ReceiptError> = None;
        for row in &rows {
            if let PendingRow::Unreadable {
                key,
                stat,
                smsc_message_id,
                endpoint,
                error,
                ..
            } = row
            {
                let space = EndpointRole::from_name(endpoint);
                self.metrics.pending_receipts_unreadable_total.inc();
                tracing::warn!(key = %key, stat = %stat, error = %error, "a kept receipt cannot be decoded; published from its key");
                let facts = ReceiptFacts::from_stat(smsc_message_id, stat);
                match self.publish_uncorrelated(&facts, space, now).await {
                    Ok(()) => done.push(row),
                    Err(e) => failure = failure.or(Some(e)),
                }
            }
        }
        for (row, p, lookup, applied) in applies {
            let settled = match applied.await {
                Ok(found) => {
                    self.settled(found, &lookup, &p.facts, p.endpoint, p.received_at)
                        .await
                }
                Err(e) if e.is_permanent() => {
                    tracing::warn!(error = %e, "a kept receipt cannot be applied; published uncorrelated");
                    self.publish_uncorrelated(&p.facts, p.endpoint, p.received_at)
                        .await
                        .map(|()| true)
                }
                Err(e) => Err(e.into()),
            };
            let published = match settled {
                Ok(true) => Ok(true),
                Ok(false) if p.expires_at <= now => self
                    .publish_uncorrelated(&p.facts, p.endpoint, p.received_at)
                    .await
                    .map(|()| true),
                Ok(false) => Ok(false),
                Err(e) => Err(e),
            };
            match published {
                Ok(true) => done.push(row),
                Ok(false) => {}
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        delete_pending(&self.pool, &self.operator_id, &done).await?;
        let kept = pending_count(&self.pool, &self.operator_id).await?;
        self.pending
            .store(kept, std::sync::atomic::Ordering::Relaxed);
        self.metrics
            .pending_receipts
            .set(i64::try_from(kept).unwrap_or(i64::MAX));
        if kept < self.max_pending
            && self
                .overflowing
                .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::info!(kept, "kept receipts are below receipts.maxPending again");
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(done.len()),
        }
    }

    /// Sweeps every `interval` until `shutdown` resolves.
    pub async fn run_sweeper(self: Arc<Self>, interval: Duration, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(e) = self.sweep_pending(1000).await {
                        tracing::warn!(error = %e, "sweep of kept receipts failed; retrying later");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
