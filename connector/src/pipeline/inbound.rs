//! What the SMSC sends: each deliver_sm and data_sm read as a receipt
//! ([`crate::protocol::receipt`]) and handed to the receipt flow
//! ([`crate::pipeline::receipt_flow`]), whose answer decides the response; an unreadable
//! receipt is published as an uncorrelated UNKNOWN event; a mobile-originated message is
//! answered and counted; an alert_notification is ignored.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::pipeline::events::{DlrEvent, ReceiptFacts};
use crate::pipeline::metrics::Metrics;
use crate::pipeline::receipt_flow::{ReceiptAnswer, ReceiptEvents};
use crate::protocol::codec::CommandStatus;
use crate::protocol::receipt::{parse_receipt, ReceiptError, ReceiptInput};
use crate::session::Inbound;

/// At most this many requests of the SMSC are handled at once.
const CONCURRENT: usize = 1024;

/// Handles the SMSC's requests, each in a task of its own.
pub struct InboundWorker {
    /// The receipt flow.
    pub receipts: Arc<ReceiptEvents>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

impl InboundWorker {
    /// Runs until `inbound` closes or `shutdown`. Receipts keep being answered while the
    /// service drains, so its shutdown comes after the unbind.
    pub async fn run(self, mut inbound: mpsc::Receiver<Inbound>, shutdown: CancellationToken) {
        let limit = Arc::new(Semaphore::new(CONCURRENT));
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                next = inbound.recv() => next,
            };
            let Some(request) = next else { return };
            let Ok(permit) = limit.clone().acquire_owned().await else {
                return;
            };
            let (receipts, metrics) = (self.receipts.clone(), self.metrics.clone());
            tokio::spawn(async move {
                handle(request, &receipts, &metrics).await;
                drop(permit);
            });
        }
    }
}

async fn handle(inbound: Inbound, receipts: &ReceiptEvents, metrics: &Metrics) {
    let received = Instant::now();
    let (input, endpoint) = match &inbound {
        Inbound::DeliverSm { sm, endpoint, .. } => (ReceiptInput::from(sm), *endpoint),
        Inbound::DataSm { sm, endpoint, .. } => (ReceiptInput::from(sm), *endpoint),
        Inbound::AlertNotification { .. } => {
            tracing::debug!("alert_notification ignored");
            return;
        }
    };
    let answer = match parse_receipt(&input) {
        Err(ReceiptError::NotAReceipt(esm)) => {
            metrics.mo_messages_total.inc();
            tracing::debug!(
                esm_class = esm,
                "mobile-originated message answered and not processed"
            );
            ReceiptAnswer::Ok
        }
        Err(e) => {
            tracing::warn!(error = %e, "unreadable receipt; published as an uncorrelated UNKNOWN event");
            let state = input.message_state.map(|m| [m]);
            let fields: [&[u8]; 5] = [
                &[input.esm_class, input.data_coding],
                input.short_message,
                input.receipted_message_id.map_or(&[], str::as_bytes),
                state.as_ref().map_or(&[], |s| &s[..]),
                input.network_error_code.as_ref().map_or(&[], |n| &n[..]),
            ];
            let event = DlrEvent::unreadable_receipt(
                receipts.operator_id(),
                e.message_id(),
                &fields,
                receipts.id_space(endpoint),
                format!("unreadable receipt: {e}"),
                Utc::now(),
            );
            match receipts.publish_unreadable(&event).await {
                Ok(()) => ReceiptAnswer::Ok,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot publish an unreadable receipt; answering ESME_RX_T_APPN");
                    ReceiptAnswer::TemporaryError
                }
            }
        }
        Ok(r) => {
            receipts
                .handle(ReceiptFacts::from_receipt(&r), endpoint, received)
                .await
        }
    };
    let responder = match inbound {
        Inbound::DeliverSm { responder, .. } | Inbound::DataSm { responder, .. } => responder,
        Inbound::AlertNotification { .. } => return,
    };
    match answer {
        ReceiptAnswer::Ok => responder.ack(),
        ReceiptAnswer::TemporaryError => responder.respond(CommandStatus::ESME_RX_T_APPN),
    };
}
