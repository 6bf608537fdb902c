//! From a parsed receipt to its committed correlation and its published `sms.dlr.inbound`
//! event, which decides the deliver_sm_resp: ESME_ROK only after both; a temporary error
//! (ESME_RX_T_APPN) when PostgreSQL or NATS fails, so that the SMSC retries.
//!
//! A receipt that matches no submitted segment yet (it came before the submit_sm_resp) is kept
//! in `smpp.pending_receipts` and answered ESME_ROK; [`ReceiptEvents::sweep_pending`] retries
//! the kept ones and, after `receipts.correlationWaitSeconds`, publishes them uncorrelated
//! (`messageId: null`). A duplicate receipt publishes the same `eventId`, which JetStream drops.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::time::Instant;

use crate::correlation::{
    delete_pending, pending_receipts, store_pending, CorrelationError, CorrelationWriter,
    PendingReceipt, ReceiptMatch, ReceiptUpdate,
};
use crate::events::{DlrEvent, EventPublisher, PublishEventError, ReceiptFacts};
use crate::metrics::Metrics;
use crate::receipt::{receipt_key, receipt_keys, IdForm, IdFormLearner};
use crds::config::ReceiptIdForm;

/// The receipt id form of one operator (`receipts.idForm`), learnt when it is `auto`: which
/// keys a receipt is looked up with. Shared by the submit side (it notes the submit ids) and
/// the receipt side.
pub struct IdForms {
    configured: ReceiptIdForm,
    learner: std::sync::Mutex<IdFormLearner>,
}

impl IdForms {
    /// The forms for the configured `receipts.idForm`.
    pub fn new(configured: ReceiptIdForm) -> Self {
        Self {
            configured,
            learner: std::sync::Mutex::new(IdFormLearner::new(configured)),
        }
    }

    fn learner(&self) -> std::sync::MutexGuard<'_, IdFormLearner> {
        // The learner holds no invariant a panic elsewhere could break.
        self.learner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The form in use once known (configured, or learnt from `auto`).
    pub fn locked(&self) -> Option<IdForm> {
        self.learner().locked()
    }

    /// The form's name for the `smpp_receipt_id_form` gauge (`learning` until locked).
    pub fn label(&self) -> &'static str {
        match self.locked() {
            None => "learning",
            Some(IdForm::AsIs) => "asIs",
            Some(IdForm::HexToDecimal) => "hexToDecimal",
            Some(IdForm::DecimalToHex) => "decimalToHex",
        }
    }

    /// Notes a submit_sm_resp id.
    pub fn observe_submit(&self, id: &str) {
        self.note(|l| l.observe_submit(id));
    }

    /// The keys to look the receipt id `id` up with: the locked form's key, or every form's.
    pub fn lookup_keys(&self, id: &str) -> Vec<String> {
        let locked = {
            let mut l = self.learner();
            l.observe_receipt(id);
            l.locked()
        };
        match locked {
            Some(form) => vec![receipt_key(id, form).into_string()],
            None => receipt_keys(id, self.configured)
                .into_iter()
                .map(|(_, k)| k.into_string())
                .collect(),
        }
    }

    /// Notes that receipt id `id` matched a submit under `matched_key`: evidence for the form
    /// that gives that key, when exactly one does.
    pub fn record_match(&self, id: &str, matched_key: &str) {
        if self.locked().is_some() {
            return;
        }
        let forms: Vec<IdForm> = IdForm::ALL
            .into_iter()
            .filter(|f| receipt_key(id, *f).as_str() == matched_key)
            .collect();
        if let [form] = forms[..] {
            self.note(|l| l.record_match(form));
        }
    }

    fn note(&self, f: impl FnOnce(&mut IdFormLearner)) {
        let mut l = self.learner();
        let before = l.locked();
        f(&mut l);
        if before.is_none() {
            if let Some(form) = l.locked() {
                tracing::info!(form = ?form, "receipt id form learnt; receipts are looked up with its key only");
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
    id_forms: Arc<IdForms>,
}

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
            id_forms,
        }
    }

    /// Handles one receipt; `received` is when its deliver_sm arrived.
    pub async fn handle(&self, facts: ReceiptFacts, received: Instant) -> ReceiptAnswer {
        let candidate_keys = self.id_forms.lookup_keys(&facts.smsc_message_id);
        match self.try_handle(facts, candidate_keys, Utc::now()).await {
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
        candidate_keys: Vec<String>,
        received_at: DateTime<Utc>,
    ) -> Result<(), ReceiptError> {
        let update = ReceiptUpdate {
            operator_id: self.operator_id.clone(),
            candidate_keys: candidate_keys.clone(),
            facts: facts.clone(),
            received_at,
        };
        match self.writer.apply_receipt(update).await.await? {
            ReceiptMatch::Correlated {
                message,
                matched_key,
            } => {
                self.id_forms
                    .record_match(&facts.smsc_message_id, &matched_key);
                let event =
                    DlrEvent::receipt(&self.operator_id, &facts, Some(&message), received_at);
                self.publisher.publish_dlr(&event).await?;
                self.metrics.receipt(event.status.as_str());
            }
            ReceiptMatch::Unmatched if self.wait.is_zero() => {
                self.publish_uncorrelated(&facts, received_at).await?;
            }
            ReceiptMatch::Unmatched => {
                let key = candidate_keys
                    .first()
                    .cloned()
                    .unwrap_or_else(|| facts.smsc_message_id.clone());
                let wait = chrono::Duration::from_std(self.wait).unwrap_or(chrono::Duration::MAX);
                store_pending(
                    &self.pool,
                    &PendingReceipt {
                        operator_id: self.operator_id.clone(),
                        key,
                        candidate_keys,
                        facts,
                        received_at,
                        expires_at: received_at + wait,
                    },
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn publish_uncorrelated(
        &self,
        facts: &ReceiptFacts,
        received_at: DateTime<Utc>,
    ) -> Result<(), ReceiptError> {
        let event = DlrEvent::receipt(&self.operator_id, facts, None, received_at);
        self.publisher.publish_dlr(&event).await?;
        self.metrics.receipt(event.status.as_str());
        self.metrics.correlation_misses_total.inc();
        tracing::info!(smsc_message_id = %facts.smsc_message_id, stat = %facts.stat, "receipt published uncorrelated");
        Ok(())
    }

    /// One pass over the kept receipts (at most `limit`): each one now correlated, or past its
    /// waiting time, is published and forgotten. Returns how many were published.
    pub async fn sweep_pending(&self, limit: i64) -> Result<usize, ReceiptError> {
        let now = Utc::now();
        let mut published = 0;
        for p in pending_receipts(&self.pool, &self.operator_id, limit).await? {
            let update = ReceiptUpdate {
                operator_id: self.operator_id.clone(),
                candidate_keys: p.candidate_keys.clone(),
                facts: p.facts.clone(),
                received_at: p.received_at,
            };
            match self.writer.apply_receipt(update).await.await? {
                ReceiptMatch::Correlated { message, .. } => {
                    let event = DlrEvent::receipt(
                        &self.operator_id,
                        &p.facts,
                        Some(&message),
                        p.received_at,
                    );
                    self.publisher.publish_dlr(&event).await?;
                    self.metrics.receipt(event.status.as_str());
                }
                ReceiptMatch::Unmatched if p.expires_at <= now => {
                    self.publish_uncorrelated(&p.facts, p.received_at).await?;
                }
                ReceiptMatch::Unmatched => continue,
            }
            delete_pending(&self.pool, &p).await?;
            published += 1;
        }
        Ok(published)
    }

    /// Sweeps every `interval` until `shutdown` resolves.
    pub async fn run_sweeper(
        self: Arc<Self>,
        interval: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
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
