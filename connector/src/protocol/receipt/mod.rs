//! Delivery receipts carried by deliver_sm and data_sm: which PDUs are receipts, the receipt
//! text, the TLVs that take precedence over it, the platform statuses, and message id
//! normalisation for correlation.

pub mod facts;
pub mod fields;
pub mod merge;
pub mod msgid;
pub mod names;
pub mod status;

use chrono::{DateTime, Utc};

use crate::protocol::codec::{DataSm, DeliverSm, Tlvs};

/// The network_error_code TLV: the codec's type, one from the PDU to the event.
pub use crate::protocol::codec::NetworkErrorCode;
pub use facts::{ReceiptFacts, Segment};
pub use fields::{parse_date, parse_fields, ReceiptFields};
pub use merge::{merge, HeldReceipt, Merge, NewReceipt};
pub use msgid::{receipt_key, submit_key, IdForm, IdFormLearner, IdKey, IdSide, ReceiptLookup};
pub use names::{aggregate_status, parse_status, status_of_stat};
pub use status::{message_status, DeliveryStatus, MessageStatus, SegmentState};

/// esm_class message type of an SMSC delivery receipt (the codec's constant).
pub use crate::protocol::codec::esm_class::TYPE_DELIVERY_RECEIPT as ESM_DELIVERY_RECEIPT;
/// esm_class message type of an intermediate delivery notification (the codec's constant).
pub use crate::protocol::codec::esm_class::TYPE_INTERMEDIATE_NOTIFICATION as ESM_INTERMEDIATE_NOTIFICATION;
/// Bits of esm_class that hold the message type (bits 2 to 5; the codec's constant).
pub use crate::protocol::codec::esm_class::TYPE_MASK as ESM_MESSAGE_TYPE_MASK;

/// What a deliver_sm or data_sm carries, by its esm_class message type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// An SMSC delivery receipt (type 0x04).
    DeliveryReceipt,
    /// An intermediate delivery notification (type 0x20).
    IntermediateNotification,
    /// Anything else: a mobile-originated message or an SME acknowledgement.
    Other,
}

/// The kind of a PDU with this esm_class.
pub fn message_kind(esm_class: u8) -> MessageKind {
    match esm_class & ESM_MESSAGE_TYPE_MASK {
        ESM_DELIVERY_RECEIPT => MessageKind::DeliveryReceipt,
        ESM_INTERMEDIATE_NOTIFICATION => MessageKind::IntermediateNotification,
        _ => MessageKind::Other,
    }
}

/// The receipt-related fields of a deliver_sm or data_sm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiptInput<'a> {
    /// esm_class.
    pub esm_class: u8,
    /// data_coding (0x08: the text is UTF-16BE; otherwise UTF-8, or Latin-1 when not UTF-8).
    pub data_coding: u8,
    /// short_message, or message_payload when short_message is empty.
    pub short_message: &'a [u8],
    /// receipted_message_id TLV.
    pub receipted_message_id: Option<&'a str>,
    /// message_state TLV.
    pub message_state: Option<u8>,
    /// network_error_code TLV (network type, error code).
    pub network_error_code: Option<[u8; 3]>,
}

impl<'a> From<&'a DeliverSm> for ReceiptInput<'a> {
    /// The receipt fields of a deliver_sm: short_message, or message_payload when it is empty.
    fn from(sm: &'a DeliverSm) -> Self {
        let short_message: &[u8] = if sm.short_message.is_empty() {
            sm.tlvs.message_payload().map(|b| &b[..]).unwrap_or(&[])
        } else {
            &sm.short_message
        };
        Self::with_tlvs(sm.esm_class, sm.data_coding, short_message, &sm.tlvs)
    }
}

impl<'a> From<&'a DataSm> for ReceiptInput<'a> {
    /// The receipt fields of a data_sm (the text is its message_payload).
    fn from(sm: &'a DataSm) -> Self {
        let payload = sm.tlvs.message_payload().map(|b| &b[..]).unwrap_or(&[]);
        Self::with_tlvs(sm.esm_class, sm.data_coding, payload, &sm.tlvs)
    }
}

impl<'a> ReceiptInput<'a> {
    fn with_tlvs(esm_class: u8, data_coding: u8, short_message: &'a [u8], tlvs: &'a Tlvs) -> Self {
        Self {
            esm_class,
            data_coding,
            short_message,
            receipted_message_id: tlvs.receipted_message_id().and_then(|s| s.as_str().ok()),
            message_state: tlvs.message_state().map(|m| m.0),
            network_error_code: tlvs.network_error_code().map(|n| <[u8; 3]>::from(*n)),
        }
    }
}

/// Where a receipt value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueSource {
    /// A TLV.
    Tlv,
    /// The receipt text.
    Text,
}

/// A parsed receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Delivery receipt or intermediate notification.
    pub kind: MessageKind,
    /// The operator's message id (receipted_message_id, else the text's `id`), trimmed.
    pub message_id: String,
    /// Where `message_id` came from.
    pub message_id_source: ValueSource,
    /// The platform status.
    pub status: DeliveryStatus,
    /// Where `status` came from.
    pub status_source: ValueSource,
    /// `stat` as written in the text, else the SMPP short form of `status`.
    pub stat: String,
    /// `err` of the text.
    pub err: Option<String>,
    /// The network_error_code TLV.
    pub network_error: Option<NetworkErrorCode>,
    /// `submit date`, read as UTC (`None` when absent or not a date; the raw text is in
    /// `fields`).
    pub submit_date: Option<DateTime<Utc>>,
    /// `done date`, read as UTC.
    pub done_date: Option<DateTime<Utc>>,
    /// All fields of the text.
    pub fields: ReceiptFields,
}

impl Receipt {
    /// Whether this status is final for the segment: never for an intermediate notification,
    /// otherwise all statuses but ACCEPTED and ENROUTE.
    pub fn is_final(&self) -> bool {
        segment_is_final(self.kind, self.status)
    }
}

/// Whether a receipt of `kind` with `status` is final for its segment: never an intermediate
/// notification, otherwise all statuses but ACCEPTED and ENROUTE.
pub fn segment_is_final(kind: MessageKind, status: DeliveryStatus) -> bool {
    kind == MessageKind::DeliveryReceipt && status.is_final()
}

/// Why a PDU is not a usable receipt.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The esm_class message type is not a receipt.
    #[error("esm_class {0:#04x} is not a delivery receipt")]
    NotAReceipt(u8),
    /// Neither receipted_message_id nor an `id` field.
    #[error("the receipt carries no message id")]
    MissingMessageId,
    /// Neither a valid message_state nor a `stat` field.
    #[error("the receipt of {message_id:?} carries no status")]
    MissingStatus {
        /// The receipt's message id.
        message_id: String,
    },
    /// message_state outside 1..=8 and no `stat` field.
    #[error("message_state {state} is not an SMPP 3.4 state and the text has no stat")]
    InvalidMessageState {
        /// The message_state value.
        state: u8,
        /// The receipt's message id.
        message_id: String,
    },
}

impl ReceiptError {
    /// The message id the unreadable receipt carries, if it carries one.
    pub fn message_id(&self) -> Option<&str> {
        match self {
            Self::MissingStatus { message_id } | Self::InvalidMessageState { message_id, .. } => {
                Some(message_id)
            }
            Self::NotAReceipt(_) | Self::MissingMessageId => None,
        }
    }
}

/// The text of the receipt PDU.
fn receipt_text(input: &ReceiptInput) -> String {
    let bytes = input.short_message;
    if input.data_coding == crate::protocol::text::data_coding::UCS2 {
        if let Ok(t) = crate::protocol::text::ucs2::decode(bytes) {
            return t;
        }
    }
    match std::str::from_utf8(bytes) {
        Ok(t) => t.to_string(),
        Err(_) => crate::protocol::text::latin1::decode(bytes),
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(|v| v.trim_matches(|c: char| c == '\0' || c.is_whitespace()))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Parses a receipt, preferring the receipted_message_id and message_state TLVs to the text.
/// A stat that is not recognised maps to UNKNOWN (the raw value stays in `stat`).
pub fn parse_receipt(input: &ReceiptInput) -> Result<Receipt, ReceiptError> {
    let kind = message_kind(input.esm_class);
    if kind == MessageKind::Other {
        return Err(ReceiptError::NotAReceipt(input.esm_class));
    }
    let fields = parse_fields(&receipt_text(input));
    let (message_id, message_id_source) = match non_empty(input.receipted_message_id) {
        Some(id) => (id, ValueSource::Tlv),
        None => (
            non_empty(fields.id.as_deref()).ok_or(ReceiptError::MissingMessageId)?,
            ValueSource::Text,
        ),
    };
    let text_stat = non_empty(fields.stat.as_deref());
    let tlv_status = input
        .message_state
        .and_then(DeliveryStatus::from_message_state);
    let (status, status_source) = match (tlv_status, &text_stat) {
        (Some(s), _) => (s, ValueSource::Tlv),
        (None, Some(stat)) => (
            DeliveryStatus::from_stat(stat).unwrap_or(DeliveryStatus::Unknown),
            ValueSource::Text,
        ),
        (None, None) => {
            return Err(match input.message_state {
                Some(state) => ReceiptError::InvalidMessageState { state, message_id },
                None => ReceiptError::MissingStatus { message_id },
            })
        }
    };
    let stat = text_stat.unwrap_or_else(|| status.smpp_stat().to_string());
    Ok(Receipt {
        kind,
        message_id,
        message_id_source,
        status,
        status_source,
        stat,
        err: non_empty(fields.err.as_deref()),
        network_error: input.network_error_code.map(NetworkErrorCode::from),
        submit_date: fields.submit_date.as_deref().and_then(parse_date),
        done_date: fields.done_date.as_deref().and_then(parse_date),
        fields,
    })
}

#[cfg(test)]
mod tests;
