//! query_sm, query_sm_resp and cancel_sm.

use bytes::{BufMut, BytesMut};

use super::address::{Address, DEST, SOURCE};
use super::fields::Fields;
use crate::protocol::codec::cstring::COctetString;
use crate::protocol::codec::error::CodecError;
use crate::protocol::codec::message_state::MessageState;
use crate::protocol::codec::wire::{put_cstr, Reader};

/// Body of query_sm (SMPP 3.4 section 4.8.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuerySm {
    /// Id of the message to query (at most 65 octets with NUL).
    pub message_id: COctetString<65>,
    /// Source address of the original message.
    pub source: Address<21>,
}

impl Fields for QuerySm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(QuerySm {
            message_id: r.cstr("message_id")?,
            source: Address::decode(r, SOURCE)?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        Ok(self.message_id.wire_len() + self.source.wire_len())
    }

    fn encode(&self, dst: &mut BytesMut) {
        put_cstr(dst, &self.message_id);
        self.source.encode(dst);
    }
}

/// Body of query_sm_resp (SMPP 3.4 section 4.8.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuerySmResp {
    /// Id of the queried message.
    pub message_id: COctetString<65>,
    /// When the message reached its final state (empty if not final).
    pub final_date: COctetString<17>,
    /// The message's state.
    pub message_state: MessageState,
    /// Network error code (GSM-specific).
    pub error_code: u8,
}

impl Fields for QuerySmResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(QuerySmResp {
            message_id: r.cstr("message_id")?,
            final_date: r.cstr("final_date")?,
            message_state: MessageState(r.u8("message_state")?),
            error_code: r.u8("error_code")?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        Ok(self.message_id.wire_len() + self.final_date.wire_len() + 2)
    }

    fn encode(&self, dst: &mut BytesMut) {
        put_cstr(dst, &self.message_id);
        put_cstr(dst, &self.final_date);
        dst.put_u8(self.message_state.0);
        dst.put_u8(self.error_code);
    }
}

/// Body of cancel_sm (SMPP 3.4 section 4.9.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancelSm {
    /// service_type (at most 6 octets with NUL).
    pub service_type: COctetString<6>,
    /// Id of the message to cancel (empty: cancel by addresses and service type).
    pub message_id: COctetString<65>,
    /// Source address of the original message.
    pub source: Address<21>,
    /// Destination address of the original message.
    pub dest: Address<21>,
}

impl Fields for CancelSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(CancelSm {
            service_type: r.cstr("service_type")?,
            message_id: r.cstr("message_id")?,
            source: Address::decode(r, SOURCE)?,
            dest: Address::decode(r, DEST)?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        Ok(self.service_type.wire_len()
            + self.message_id.wire_len()
            + self.source.wire_len()
            + self.dest.wire_len())
    }

    fn encode(&self, dst: &mut BytesMut) {
        put_cstr(dst, &self.service_type);
        put_cstr(dst, &self.message_id);
        self.source.encode(dst);
        self.dest.encode(dst);
    }
}
