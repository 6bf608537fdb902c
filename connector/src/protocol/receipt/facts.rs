//! What a receipt says, as the store and the events carry it, and a segment's position.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{status_of_stat, DeliveryStatus, MessageKind, Receipt};

/// Segment position, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// 1-based index.
    pub index: u16,
    /// Number of segments (1 to 255).
    pub count: u16,
}

/// What a receipt says, as parsed from a deliver_sm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptFacts {
    /// Operator's message id as written in the receipt.
    pub smsc_message_id: String,
    /// The status (from the message_state TLV, else from `stat`).
    pub status: DeliveryStatus,
    /// `stat` as written (DELIVRD, ...), else the SMPP short form of `status`.
    pub stat: String,
    /// `err`.
    pub err: Option<String>,
    /// network_error_code TLV.
    pub network_error_code: Option<String>,
    /// `submit date`.
    pub submit_date: Option<DateTime<Utc>>,
    /// `done date`.
    pub done_date: Option<DateTime<Utc>>,
    /// An intermediate delivery notification (esm_class type 0x20): never final.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub intermediate: bool,
}

/// `s` with its NUL characters removed.
fn without_nul(s: &str) -> String {
    s.replace('\0', "")
}

impl ReceiptFacts {
    /// The facts of a receipt parsed by `connector::protocol::receipt`, without NUL characters (an SMSC
    /// may pad or embed them; PostgreSQL cannot store them).
    pub fn from_receipt(r: &Receipt) -> Self {
        Self {
            smsc_message_id: without_nul(&r.message_id),
            status: r.status,
            stat: without_nul(&r.stat),
            err: r.err.as_deref().map(without_nul),
            network_error_code: r.network_error.map(|n| n.to_string()),
            submit_date: r.submit_date,
            done_date: r.done_date,
            intermediate: r.kind == MessageKind::IntermediateNotification,
        }
    }

    /// Whether this receipt is final for its segment ([`super::segment_is_final`]).
    pub fn is_final(&self) -> bool {
        let kind = if self.intermediate {
            MessageKind::IntermediateNotification
        } else {
            MessageKind::DeliveryReceipt
        };
        super::segment_is_final(kind, self.status)
    }

    /// Facts with the status read from `stat` (UNKNOWN when not recognised).
    pub fn from_stat(smsc_message_id: &str, stat: &str) -> Self {
        Self {
            smsc_message_id: without_nul(smsc_message_id),
            status: status_of_stat(stat),
            stat: without_nul(stat),
            err: None,
            network_error_code: None,
            submit_date: None,
            done_date: None,
            intermediate: false,
        }
    }
}
