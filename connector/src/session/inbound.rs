//! Requests from the SMSC handed to the application (deliver_sm, data_sm,
//! alert_notification), each with a [`Responder`] so that the application decides the
//! response status, for example only after a receipt was published.

use tokio::sync::mpsc;

use crate::protocol::codec::{
    AlertNotification, Body, CommandStatus, DataSm, DataSmResp, DeliverSm, DeliverSmResp, Pdu,
};
use crate::session::state::EndpointRole;

/// A request from the SMSC for the application.
#[derive(Debug)]
pub enum Inbound {
    /// A deliver_sm (delivery receipt or mobile-originated message).
    DeliverSm {
        /// The PDU body.
        sm: DeliverSm,
        /// The endpoint it came from.
        endpoint: EndpointRole,
        /// Answers it.
        responder: Responder,
    },
    /// A data_sm.
    DataSm {
        /// The PDU body.
        sm: DataSm,
        /// The endpoint it came from.
        endpoint: EndpointRole,
        /// Answers it.
        responder: Responder,
    },
    /// An alert_notification (never answered, per SMPP 3.4).
    AlertNotification {
        /// The PDU body.
        alert: AlertNotification,
        /// The endpoint it came from.
        endpoint: EndpointRole,
    },
}

/// Sends the response to one SMSC request on the connection it came from.
///
/// Dropping a responder without answering sends `ESME_RX_T_APPN` (temporary application
/// error), so that the SMSC delivers the request again: nothing is acknowledged by accident.
#[derive(Debug)]
pub struct Responder {
    sequence: u32,
    data_sm: bool,
    out: Option<mpsc::UnboundedSender<Pdu>>,
}

impl Responder {
    pub(crate) fn new(sequence: u32, data_sm: bool, out: mpsc::UnboundedSender<Pdu>) -> Self {
        Self {
            sequence,
            data_sm,
            out: Some(out),
        }
    }

    /// The request's sequence number.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Answers `ESME_ROK`. Returns `false` if the connection is gone (the SMSC will
    /// deliver the request again).
    pub fn ack(self) -> bool {
        self.respond(CommandStatus::ESME_ROK)
    }

    /// Answers `ESME_RX_T_APPN`: the application could not take it now; the SMSC retries.
    pub fn temporary_failure(self) -> bool {
        self.respond(CommandStatus::ESME_RX_T_APPN)
    }

    /// Answers with `status`. Returns `false` if the connection is gone.
    pub fn respond(mut self, status: CommandStatus) -> bool {
        self.send(status)
    }

    fn send(&mut self, status: CommandStatus) -> bool {
        let Some(out) = self.out.take() else {
            return false;
        };
        let body = if self.data_sm {
            Body::DataSmResp(DataSmResp::default())
        } else {
            Body::DeliverSmResp(DeliverSmResp::default())
        };
        out.send(Pdu::with_status(self.sequence, status, body))
            .is_ok()
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if self.out.is_some() {
            self.send(CommandStatus::ESME_RX_T_APPN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_unanswered_sends_a_temporary_error() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        drop(Responder::new(7, false, tx.clone()));
        let pdu = rx.try_recv().ok();
        assert_eq!(
            pdu.as_ref().map(|p| p.status),
            Some(CommandStatus::ESME_RX_T_APPN)
        );
        assert_eq!(pdu.as_ref().map(|p| p.sequence), Some(7));
        assert!(Responder::new(8, true, tx).ack());
        let pdu = rx.try_recv().ok();
        assert_eq!(
            pdu.as_ref().map(|p| p.status),
            Some(CommandStatus::ESME_ROK)
        );
        assert!(matches!(pdu.map(|p| p.body), Some(Body::DataSmResp(_))));
        assert!(rx.try_recv().is_err());
    }
}
