//! submit_sm / deliver_sm, data_sm and replace_sm.

use bytes::{BufMut, Bytes, BytesMut};

use super::address::{Address, DEST, SOURCE};
use super::fields::{sm_length, Fields, MAX_SHORT_MESSAGE_LEN};
use crate::protocol::codec::cstring::COctetString;
use crate::protocol::codec::error::CodecError;
use crate::protocol::codec::tlv::Tlvs;
use crate::protocol::codec::wire::{put_cstr, Reader};

/// Body of submit_sm and deliver_sm (SMPP 3.4 sections 4.4.1 and 4.6.1; same layout).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitSm {
    /// service_type (at most 6 octets with NUL).
    pub service_type: COctetString<6>,
    /// Source address (source_addr at most 21 octets with NUL).
    pub source: Address<21>,
    /// Destination address (destination_addr at most 21 octets with NUL).
    pub dest: Address<21>,
    /// esm_class (see [`esm_class`](crate::protocol::codec::esm_class)).
    pub esm_class: u8,
    /// protocol_id.
    pub protocol_id: u8,
    /// priority_flag (0..=3).
    pub priority_flag: u8,
    /// schedule_delivery_time: empty or 16 characters (at most 17 octets with NUL).
    pub schedule_delivery_time: COctetString<17>,
    /// validity_period: empty or 16 characters (at most 17 octets with NUL).
    pub validity_period: COctetString<17>,
    /// registered_delivery (see [`registered_delivery`](crate::protocol::codec::registered_delivery)).
    pub registered_delivery: u8,
    /// replace_if_present_flag.
    pub replace_if_present_flag: u8,
    /// data_coding.
    pub data_coding: u8,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// short_message, at most 254 octets (sm_length is implied).
    pub short_message: Bytes,
    /// Optional parameters.
    pub tlvs: Tlvs,
}

/// Body of deliver_sm: the same fields as submit_sm.
pub type DeliverSm = SubmitSm;

/// Reads sm_length and the short_message it announces.
fn decode_short_message(r: &mut Reader<'_>) -> Result<Bytes, CodecError> {
    let len = usize::from(r.u8("sm_length")?);
    if len > MAX_SHORT_MESSAGE_LEN {
        return Err(CodecError::FieldTooLong {
            field: "short_message",
            max: MAX_SHORT_MESSAGE_LEN,
        });
    }
    r.octets(len, "short_message")
}

impl Fields for SubmitSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(SubmitSm {
            service_type: r.cstr("service_type")?,
            source: Address::decode(r, SOURCE)?,
            dest: Address::decode(r, DEST)?,
            esm_class: r.u8("esm_class")?,
            protocol_id: r.u8("protocol_id")?,
            priority_flag: r.u8("priority_flag")?,
            schedule_delivery_time: r.cstr("schedule_delivery_time")?,
            validity_period: r.cstr("validity_period")?,
            registered_delivery: r.u8("registered_delivery")?,
            replace_if_present_flag: r.u8("replace_if_present_flag")?,
            data_coding: r.u8("data_coding")?,
            sm_default_msg_id: r.u8("sm_default_msg_id")?,
            short_message: decode_short_message(r)?,
            tlvs: Tlvs::decode(r)?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        sm_length(self.short_message.len())?;
        Ok(self.service_type.wire_len()
            + self.source.wire_len()
            + self.dest.wire_len()
            + 3
            + self.schedule_delivery_time.wire_len()
            + self.validity_period.wire_len()
            + 5
            + self.short_message.len()
            + self.tlvs.wire_len()?)
    }

    fn encode(&self, dst: &mut BytesMut) {
        put_cstr(dst, &self.service_type);
        self.source.encode(dst);
        self.dest.encode(dst);
        dst.put_u8(self.esm_class);
        dst.put_u8(self.protocol_id);
        dst.put_u8(self.priority_flag);
        put_cstr(dst, &self.schedule_delivery_time);
        put_cstr(dst, &self.validity_period);
        dst.put_u8(self.registered_delivery);
        dst.put_u8(self.replace_if_present_flag);
        dst.put_u8(self.data_coding);
        dst.put_u8(self.sm_default_msg_id);
        // Length checked by `wire_len` (at most 254).
        dst.put_u8(self.short_message.len() as u8);
        dst.put_slice(&self.short_message);
        self.tlvs.encode(dst);
    }
}

/// Body of data_sm (SMPP 3.4 section 4.7.1). Addresses may be up to 65 octets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataSm {
    /// service_type (at most 6 octets with NUL).
    pub service_type: COctetString<6>,
    /// Source address (at most 65 octets with NUL).
    pub source: Address<65>,
    /// Destination address (at most 65 octets with NUL).
    pub dest: Address<65>,
    /// esm_class.
    pub esm_class: u8,
    /// registered_delivery.
    pub registered_delivery: u8,
    /// data_coding.
    pub data_coding: u8,
    /// Optional parameters (the text travels in message_payload).
    pub tlvs: Tlvs,
}

impl Fields for DataSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(DataSm {
            service_type: r.cstr("service_type")?,
            source: Address::decode(r, SOURCE)?,
            dest: Address::decode(r, DEST)?,
            esm_class: r.u8("esm_class")?,
            registered_delivery: r.u8("registered_delivery")?,
            data_coding: r.u8("data_coding")?,
            tlvs: Tlvs::decode(r)?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        Ok(self.service_type.wire_len()
            + self.source.wire_len()
            + self.dest.wire_len()
            + 3
            + self.tlvs.wire_len()?)
    }

    fn encode(&self, dst: &mut BytesMut) {
        put_cstr(dst, &self.service_type);
        self.source.encode(dst);
        self.dest.encode(dst);
        dst.put_u8(self.esm_class);
        dst.put_u8(self.registered_delivery);
        dst.put_u8(self.data_coding);
        self.tlvs.encode(dst);
    }
}

/// Body of replace_sm (SMPP 3.4 section 4.10.1).
///
/// SMPP 3.4 defines no optional parameters for replace_sm; any present (SMPP 5.0 allows
/// message_payload) are kept in `tlvs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaceSm {
    /// Id of the message to replace (at most 65 octets with NUL).
    pub message_id: COctetString<65>,
    /// Source address of the original message.
    pub source: Address<21>,
    /// New schedule_delivery_time.
    pub schedule_delivery_time: COctetString<17>,
    /// New validity_period.
    pub validity_period: COctetString<17>,
    /// registered_delivery.
    pub registered_delivery: u8,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// New short_message, at most 254 octets.
    pub short_message: Bytes,
    /// Optional parameters (not defined by SMPP 3.4; kept if present).
    pub tlvs: Tlvs,
}

impl Fields for ReplaceSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(ReplaceSm {
            message_id: r.cstr("message_id")?,
            source: Address::decode(r, SOURCE)?,
            schedule_delivery_time: r.cstr("schedule_delivery_time")?,
            validity_period: r.cstr("validity_period")?,
            registered_delivery: r.u8("registered_delivery")?,
            sm_default_msg_id: r.u8("sm_default_msg_id")?,
            short_message: decode_short_message(r)?,
            tlvs: Tlvs::decode(r)?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        sm_length(self.short_message.len())?;
        Ok(self.message_id.wire_len()
            + self.source.wire_len()
            + self.schedule_delivery_time.wire_len()
            + self.validity_period.wire_len()
            + 3
            + self.short_message.len()
            + self.tlvs.wire_len()?)
    }

    fn encode(&self, dst: &mut BytesMut) {
        put_cstr(dst, &self.message_id);
        self.source.encode(dst);
        put_cstr(dst, &self.schedule_delivery_time);
        put_cstr(dst, &self.validity_period);
        dst.put_u8(self.registered_delivery);
        dst.put_u8(self.sm_default_msg_id);
        // Length checked by `wire_len` (at most 254).
        dst.put_u8(self.short_message.len() as u8);
        dst.put_slice(&self.short_message);
        self.tlvs.encode(dst);
    }
}
