//! submit_multi and submit_multi_resp.

use bytes::{BufMut, Bytes, BytesMut};

use super::address::{Address, DestAddress, UnsuccessSme, SOURCE};
use super::fields::{count_u8, sm_length, Fields, MAX_SHORT_MESSAGE_LEN};
use crate::protocol::codec::cstring::COctetString;
use crate::protocol::codec::error::CodecError;
use crate::protocol::codec::tlv::Tlvs;
use crate::protocol::codec::wire::{put_cstr, Reader};

/// Body of submit_multi (SMPP 3.4 section 4.5.1): up to 255 SME addresses and
/// distribution lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitMulti {
    /// service_type (at most 6 octets with NUL).
    pub service_type: COctetString<6>,
    /// Source address.
    pub source: Address<21>,
    /// Destinations (number_of_dests is implied; at most 255).
    pub dests: Vec<DestAddress>,
    /// esm_class.
    pub esm_class: u8,
    /// protocol_id.
    pub protocol_id: u8,
    /// priority_flag.
    pub priority_flag: u8,
    /// schedule_delivery_time.
    pub schedule_delivery_time: COctetString<17>,
    /// validity_period.
    pub validity_period: COctetString<17>,
    /// registered_delivery.
    pub registered_delivery: u8,
    /// replace_if_present_flag.
    pub replace_if_present_flag: u8,
    /// data_coding.
    pub data_coding: u8,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// short_message, at most 254 octets.
    pub short_message: Bytes,
    /// Optional parameters.
    pub tlvs: Tlvs,
}

impl Fields for SubmitMulti {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let service_type = r.cstr("service_type")?;
        let source = Address::decode(r, SOURCE)?;
        let count = r.u8("number_of_dests")?;
        let mut dests = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            dests.push(DestAddress::decode(r)?);
        }
        let esm_class = r.u8("esm_class")?;
        let protocol_id = r.u8("protocol_id")?;
        let priority_flag = r.u8("priority_flag")?;
        let schedule_delivery_time = r.cstr("schedule_delivery_time")?;
        let validity_period = r.cstr("validity_period")?;
        let registered_delivery = r.u8("registered_delivery")?;
        let replace_if_present_flag = r.u8("replace_if_present_flag")?;
        let data_coding = r.u8("data_coding")?;
        let sm_default_msg_id = r.u8("sm_default_msg_id")?;
        let sm_len = usize::from(r.u8("sm_length")?);
        if sm_len > MAX_SHORT_MESSAGE_LEN {
            return Err(CodecError::FieldTooLong {
                field: "short_message",
                max: MAX_SHORT_MESSAGE_LEN,
            });
        }
        let short_message = r.octets(sm_len, "short_message")?;
        Ok(SubmitMulti {
            service_type,
            source,
            dests,
            esm_class,
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present_flag,
            data_coding,
            sm_default_msg_id,
            short_message,
            tlvs: Tlvs::decode(r)?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        count_u8("number_of_dests", self.dests.len())?;
        sm_length(self.short_message.len())?;
        Ok(self.service_type.wire_len()
            + self.source.wire_len()
            + 1
            + self.dests.iter().map(DestAddress::wire_len).sum::<usize>()
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
        // Count checked by `wire_len` (at most 255).
        dst.put_u8(self.dests.len() as u8);
        for d in &self.dests {
            d.encode(dst);
        }
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

/// Body of submit_multi_resp (SMPP 3.4 section 4.5.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitMultiResp {
    /// The SMSC's message id (at most 65 octets with NUL).
    pub message_id: COctetString<65>,
    /// Destinations that failed (no_unsuccess is implied; at most 255).
    pub unsuccess_smes: Vec<UnsuccessSme>,
    /// Optional parameters (none in SMPP 3.4; kept if present).
    pub tlvs: Tlvs,
}

impl Fields for SubmitMultiResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let message_id = r.cstr("message_id")?;
        let count = r.u8("no_unsuccess")?;
        let mut unsuccess_smes = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            unsuccess_smes.push(UnsuccessSme::decode(r)?);
        }
        Ok(SubmitMultiResp {
            message_id,
            unsuccess_smes,
            tlvs: Tlvs::decode(r)?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        count_u8("no_unsuccess", self.unsuccess_smes.len())?;
        Ok(self.message_id.wire_len()
            + 1
            + self
                .unsuccess_smes
                .iter()
                .map(UnsuccessSme::wire_len)
                .sum::<usize>()
            + self.tlvs.wire_len()?)
    }

    fn encode(&self, dst: &mut BytesMut) {
        put_cstr(dst, &self.message_id);
        // Count checked by `wire_len` (at most 255).
        dst.put_u8(self.unsuccess_smes.len() as u8);
        for u in &self.unsuccess_smes {
            u.encode(dst);
        }
        self.tlvs.encode(dst);
    }
}
