//! Addresses: TON, NPI and a C-Octet string address of at most `N` octets.

use bytes::{BufMut, BytesMut};

use crate::protocol::codec::cstring::COctetString;
use crate::protocol::codec::error::CodecError;
use crate::protocol::codec::status::CommandStatus;
use crate::protocol::codec::wire::{put_cstr, Reader};

/// Type of number (TON) values of SMPP 3.4 section 5.2.5.
pub mod ton {
    /// Unknown.
    pub const UNKNOWN: u8 = 0;
    /// International.
    pub const INTERNATIONAL: u8 = 1;
    /// National.
    pub const NATIONAL: u8 = 2;
    /// Network specific.
    pub const NETWORK_SPECIFIC: u8 = 3;
    /// Subscriber number.
    pub const SUBSCRIBER_NUMBER: u8 = 4;
    /// Alphanumeric.
    pub const ALPHANUMERIC: u8 = 5;
    /// Abbreviated.
    pub const ABBREVIATED: u8 = 6;
}

/// Numbering plan indicator (NPI) values of SMPP 3.4 section 5.2.6.
pub mod npi {
    /// Unknown.
    pub const UNKNOWN: u8 = 0;
    /// ISDN (E.163/E.164).
    pub const ISDN: u8 = 1;
    /// Data (X.121).
    pub const DATA: u8 = 3;
    /// Telex (F.69).
    pub const TELEX: u8 = 4;
    /// Land mobile (E.212).
    pub const LAND_MOBILE: u8 = 6;
    /// National.
    pub const NATIONAL: u8 = 8;
    /// Private.
    pub const PRIVATE: u8 = 9;
    /// ERMES.
    pub const ERMES: u8 = 10;
    /// Internet (IP).
    pub const INTERNET: u8 = 14;
    /// WAP client id.
    pub const WAP_CLIENT_ID: u8 = 18;
}

/// An address with its TON and NPI; the address is at most `N` octets with its NUL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Address<const N: usize> {
    /// Type of number (see [`ton`]).
    pub ton: u8,
    /// Numbering plan indicator (see [`npi`]).
    pub npi: u8,
    /// The address digits or alphanumeric text.
    pub addr: COctetString<N>,
}

impl<const N: usize> Address<N> {
    /// Builds an address.
    pub fn new(ton: u8, npi: u8, addr: COctetString<N>) -> Self {
        Address { ton, npi, addr }
    }

    pub(crate) fn decode(r: &mut Reader<'_>, names: [&'static str; 3]) -> Result<Self, CodecError> {
        Ok(Address {
            ton: r.u8(names[0])?,
            npi: r.u8(names[1])?,
            addr: r.cstr(names[2])?,
        })
    }

    pub(crate) fn wire_len(&self) -> usize {
        2 + self.addr.wire_len()
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        dst.put_u8(self.ton);
        dst.put_u8(self.npi);
        put_cstr(dst, &self.addr);
    }
}

pub(crate) const SOURCE: [&str; 3] = ["source_addr_ton", "source_addr_npi", "source_addr"];
pub(crate) const DEST: [&str; 3] = ["dest_addr_ton", "dest_addr_npi", "destination_addr"];

/// One destination of a submit_multi.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DestAddress {
    /// dest_flag 1: an SME address.
    Sme(Address<21>),
    /// dest_flag 2: a distribution list name.
    DistributionList(COctetString<21>),
}

impl DestAddress {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        match r.u8("dest_flag")? {
            1 => Ok(DestAddress::Sme(Address::decode(r, DEST)?)),
            2 => Ok(DestAddress::DistributionList(r.cstr("dl_name")?)),
            flag => Err(CodecError::InvalidDestFlag { flag }),
        }
    }

    pub(crate) fn wire_len(&self) -> usize {
        1 + match self {
            DestAddress::Sme(a) => a.wire_len(),
            DestAddress::DistributionList(name) => name.wire_len(),
        }
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        match self {
            DestAddress::Sme(a) => {
                dst.put_u8(1);
                a.encode(dst);
            }
            DestAddress::DistributionList(name) => {
                dst.put_u8(2);
                put_cstr(dst, name);
            }
        }
    }
}

/// A destination a submit_multi could not be delivered to, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnsuccessSme {
    /// The destination address.
    pub dest: Address<21>,
    /// Why submission to it failed.
    pub error_status_code: CommandStatus,
}

impl UnsuccessSme {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(UnsuccessSme {
            dest: Address::decode(r, DEST)?,
            error_status_code: CommandStatus(r.u32("error_status_code")?),
        })
    }

    pub(crate) fn wire_len(&self) -> usize {
        self.dest.wire_len() + 4
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        self.dest.encode(dst);
        dst.put_u32(self.error_status_code.0);
    }
}
