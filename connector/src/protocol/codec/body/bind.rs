//! bind_transmitter / bind_receiver / bind_transceiver, their responses, and outbind.

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::address::Address;
use super::fields::Fields;
use crate::protocol::codec::cstring::COctetString;
use crate::protocol::codec::error::CodecError;
use crate::protocol::codec::tlv::Tlvs;
use crate::protocol::codec::wire::{put_cstr, Reader};

/// The interface_version of SMPP 3.4.
pub const INTERFACE_VERSION_34: u8 = 0x34;

/// Body of the three bind requests (SMPP 3.4 section 4.1).
#[derive(Clone, PartialEq, Eq)]
pub struct Bind {
    /// The ESME's system_id (at most 16 octets with NUL).
    pub system_id: COctetString<16>,
    /// The password (at most 9 octets with NUL). Redacted in `Debug`.
    pub password: COctetString<9>,
    /// The system_type (at most 13 octets with NUL).
    pub system_type: COctetString<13>,
    /// The SMPP version the ESME speaks (0x34).
    pub interface_version: u8,
    /// addr_ton, addr_npi and address_range (at most 41 octets with NUL).
    pub address_range: Address<41>,
}

impl Default for Bind {
    fn default() -> Self {
        Bind {
            system_id: COctetString::empty(),
            password: COctetString::empty(),
            system_type: COctetString::empty(),
            interface_version: INTERFACE_VERSION_34,
            address_range: Address::default(),
        }
    }
}

impl fmt::Debug for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bind")
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .field("system_type", &self.system_type)
            .field("interface_version", &self.interface_version)
            .field("address_range", &self.address_range)
            .finish()
    }
}

impl Fields for Bind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Bind {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
            system_type: r.cstr("system_type")?,
            interface_version: r.u8("interface_version")?,
            address_range: Address::decode(r, ["addr_ton", "addr_npi", "address_range"])?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        Ok(self.system_id.wire_len()
            + self.password.wire_len()
            + self.system_type.wire_len()
            + 1
            + self.address_range.wire_len())
    }

    fn encode(&self, dst: &mut BytesMut) {
        put_cstr(dst, &self.system_id);
        put_cstr(dst, &self.password);
        put_cstr(dst, &self.system_type);
        dst.put_u8(self.interface_version);
        self.address_range.encode(dst);
    }
}

/// Body of the three bind responses: the SMSC's system_id and optionally
/// the sc_interface_version parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindResp {
    /// The SMSC's system_id (at most 16 octets with NUL).
    pub system_id: COctetString<16>,
    /// Optional parameters (sc_interface_version).
    pub tlvs: Tlvs,
}

impl Fields for BindResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(BindResp {
            system_id: r.cstr("system_id")?,
            tlvs: Tlvs::decode(r)?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        Ok(self.system_id.wire_len() + self.tlvs.wire_len()?)
    }

    fn encode(&self, dst: &mut BytesMut) {
        put_cstr(dst, &self.system_id);
        self.tlvs.encode(dst);
    }
}

/// Body of outbind (SMSC asks the ESME to bind as a receiver).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Outbind {
    /// The SMSC's system_id (at most 16 octets with NUL).
    pub system_id: COctetString<16>,
    /// The password (at most 9 octets with NUL). Redacted in `Debug`.
    pub password: COctetString<9>,
}

impl fmt::Debug for Outbind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbind")
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Fields for Outbind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Outbind {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
        })
    }

    fn wire_len(&self) -> Result<usize, CodecError> {
        Ok(self.system_id.wire_len() + self.password.wire_len())
    }

    fn encode(&self, dst: &mut BytesMut) {
        put_cstr(dst, &self.system_id);
        put_cstr(dst, &self.password);
    }
}
