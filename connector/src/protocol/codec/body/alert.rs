//! alert_notification.

use bytes::BytesMut;

use super::address::{Address, SOURCE};
use super::fields::Fields;
use crate::protocol::codec::error::CodecError;
use crate::protocol::codec::tlv::Tlvs;
use crate::protocol::codec::wire::Reader;

/// Body of alert_notification (SMPP 3.4 section 4.12.1): a mobile station became available.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertNotification {
    /// The mobile station's address (at most 65 octets with NUL).
    pub source: Address<65>,
    /// The ESME address the alert is for (at most 65 octets with NUL).
    pub esme: Address<65>,
    /// Optional parameters (ms_availability_status).
    pub tlvs: Tlvs,
}

impl Fields for AlertNotification {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(AlertNotification {
            source: Address::decode(r, SOURCE)?,
            esme: Address::decode(r, ["esme_addr_ton", "esme_addr_npi", "esme_addr"])?,
            tlvs: Tlvs::decode(r)?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        Ok(self.source.wire_len() + self.esme.wire_len() + self.tlvs.wire_len()?)
    }

    fn encode(&self, dst: &mut BytesMut) {
        self.source.encode(dst);
        self.esme.encode(dst);
        self.tlvs.encode(dst);
    }
}
