//! Responses that carry a message_id: submit_sm_resp, deliver_sm_resp and data_sm_resp.

use bytes::BytesMut;

use super::fields::Fields;
use crate::protocol::codec::cstring::COctetString;
use crate::protocol::codec::error::CodecError;
use crate::protocol::codec::tlv::Tlvs;
use crate::protocol::codec::wire::{put_cstr, Reader};

/// A message_id (at most 65 octets with NUL) and optional parameters.
///
/// SMPP 3.4 defines optional parameters only for data_sm_resp (delivery_failure_reason,
/// network_error_code, additional_status_info_text, dpf_result); those sent on
/// submit_sm_resp or deliver_sm_resp (as SMPP 5.0 allows) are kept too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageIdResp {
    /// The SMSC's message id (unused and empty in deliver_sm_resp).
    pub message_id: COctetString<65>,
    /// Optional parameters.
    pub tlvs: Tlvs,
}

/// Body of submit_sm_resp.
pub type SubmitSmResp = MessageIdResp;
/// Body of deliver_sm_resp.
pub type DeliverSmResp = MessageIdResp;
/// Body of data_sm_resp.
pub type DataSmResp = MessageIdResp;

impl MessageIdResp {
    /// A response carrying `message_id` and no optional parameters.
    pub fn new(message_id: COctetString<65>) -> Self {
        MessageIdResp {
            message_id,
            tlvs: Tlvs::new(),
        }
    }
}

impl Fields for MessageIdResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(MessageIdResp {
            message_id: r.cstr("message_id")?,
            tlvs: Tlvs::decode(r)?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        Ok(self.message_id.wire_len() + self.tlvs.wire_len()?)
    }

    fn encode(&self, dst: &mut BytesMut) {
        put_cstr(dst, &self.message_id);
        self.tlvs.encode(dst);
    }
}
