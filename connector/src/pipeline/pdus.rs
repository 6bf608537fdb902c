//! From a validated dispatch command to its submit_sm PDUs: encoding plan and split
//! (`connector::protocol::text`), addresses, esm_class, SAR / message_payload TLVs, validity and
//! schedule times. A command that cannot be built (a character its forced encoding cannot
//! carry, too many segments, ...) is a permanent rejection whose `reason` is the error text.
//!
//! `dataCoding` beside `text` is not used: the encoding plan decides the data_coding.

use bytes::Bytes;
use chrono::{DateTime, Datelike, Timelike, Utc};
use crds::config::EncodingConfig;

use crate::pipeline::command::{Content, ValidCommand};
use crate::pipeline::events::Segment;
use crate::protocol::codec::{
    esm_class, registered_delivery, Address, COctetString, SubmitSm, Tlv, Tlvs,
};
use crate::protocol::text::{plan, split_binary, SplitPolicy};

/// Why a command cannot become PDUs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The text cannot be encoded or split as asked.
    #[error("{0}")]
    Text(String),
    /// An address does not fit its PDU field.
    #[error("\"{field}\" does not fit the PDU: {message}")]
    Address {
        /// `from` or `to`.
        field: &'static str,
        /// Why.
        message: String,
    },
}

/// One PDU of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundSegment {
    /// Its position.
    pub segment: Segment,
    /// The PDU body.
    pub pdu: SubmitSm,
}

/// Every PDU of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundMessage {
    /// The concatenation reference used (kept with each row, reused on resend).
    pub concat_ref: Option<u16>,
    /// The segments in order.
    pub segments: Vec<OutboundSegment>,
}

pub use crate::protocol::codec::relative_time;

/// SMPP absolute time (`YYMMDDhhmmsstnnp`) of an instant, in UTC.
pub fn absolute_time(at: DateTime<Utc>) -> String {
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}{}00+",
        at.year().rem_euclid(100),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.nanosecond() / 100_000_000 % 10
    )
}

fn address(
    field: &'static str,
    a: &crate::pipeline::command::Address,
) -> Result<Address<21>, BuildError> {
    let addr = COctetString::try_from(a.addr.as_str()).map_err(|e| BuildError::Address {
        field,
        message: e.to_string(),
    })?;
    Ok(Address::new(a.ton, a.npi, addr))
}

fn time_field(value: Option<String>) -> COctetString<17> {
    value
        .and_then(|v| COctetString::try_from(v.as_str()).ok())
        .unwrap_or_default()
}

/// Builds the PDUs of `command` under the operator's encoding policy. `reference` is the
/// concatenation reference for a long message.
pub fn build(
    command: &ValidCommand,
    encoding: &EncodingConfig,
    reference: u16,
) -> Result<OutboundMessage, BuildError> {
    let segments = match &command.content {
        Content::Text {
            text,
            encoding: forced,
            ..
        } => {
            plan(text, encoding, *forced, reference)
                .map_err(|e| BuildError::Text(e.to_string()))?
                .segments
        }
        Content::Binary { bytes, data_coding } => {
            let policy =
                SplitPolicy::from_config(encoding).map_err(|e| BuildError::Text(e.to_string()))?;
            split_binary(bytes, *data_coding, &policy, reference)
                .map_err(|e| BuildError::Text(e.to_string()))?
        }
    };
    let source = address("from", &command.source)?;
    let dest = address("to", &command.destination)?;
    let schedule = time_field(command.schedule_at.map(absolute_time));
    let validity = time_field(command.validity_period_seconds.map(relative_time));
    let receipt = if command.registered_delivery {
        registered_delivery::RECEIPT_ALWAYS
    } else {
        registered_delivery::RECEIPT_NONE
    };
    let multi = segments.len() > 1;
    let out = segments
        .into_iter()
        .map(|s| {
            let mut tlvs = Tlvs::default();
            if let Some(sar) = s.sar {
                tlvs.push(Tlv::SarMsgRefNum(sar.reference));
                tlvs.push(Tlv::SarTotalSegments(sar.total));
                tlvs.push(Tlv::SarSegmentSeqnum(sar.seq));
            }
            if let Some(payload) = s.message_payload() {
                tlvs.push(Tlv::MessagePayload(Bytes::copy_from_slice(payload)));
            }
            OutboundSegment {
                segment: Segment {
                    index: u16::from(s.index),
                    count: u16::from(s.count),
                },
                pdu: SubmitSm {
                    service_type: COctetString::default(),
                    source: source.clone(),
                    dest: dest.clone(),
                    esm_class: if s.esm_udhi { esm_class::UDHI } else { 0 },
                    protocol_id: 0,
                    priority_flag: command.priority,
                    schedule_delivery_time: schedule.clone(),
                    validity_period: validity.clone(),
                    registered_delivery: receipt,
                    replace_if_present_flag: 0,
                    data_coding: s.data_coding,
                    sm_default_msg_id: 0,
                    short_message: Bytes::copy_from_slice(s.short_message()),
                    tlvs,
                },
            }
        })
        .collect();
    Ok(OutboundMessage {
        concat_ref: multi.then_some(reference),
        segments: out,
    })
}

#[cfg(test)]
mod tests;
