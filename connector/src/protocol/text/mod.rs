//! Text encodings of SMPP `data_coding`: GSM 03.38 7-bit (default, extension and national
//! language tables, unpacked or packed), UCS-2 (UTF-16BE with surrogate pairs), Latin-1, IA5
//! and binary; the encoding planner ([`plan`]) and long-message splitting ([`split`]).
//!
//! Everything here works on plain strings and bytes; the PDU codec carries the results.

pub mod gsm;
pub mod ia5;
pub mod latin1;
pub mod plan;
pub mod split;
pub mod ucs2;
pub mod udh;

pub use gsm::{GsmTables, LockingShift};
pub use plan::{plan, Plan, PlanError, RequestedEncoding, TextEncoding};
pub use split::{
    join, split_binary, ReferenceBits, Sar, Segment, SplitError, SplitPolicy, UserData,
};
pub use udh::Udh;

/// `data_coding` values of SMPP 3.4 §5.2.19 used here.
pub mod data_coding {
    /// SMSC default alphabet, sent as GSM 03.38 7-bit.
    pub const GSM7: u8 = 0x00;
    /// IA5 (CCITT T.50) / ASCII.
    pub const IA5: u8 = 0x01;
    /// 8-bit binary.
    pub const BINARY: u8 = 0x02;
    /// Latin-1 (ISO-8859-1).
    pub const LATIN1: u8 = 0x03;
    /// 8-bit binary (GSM data coding scheme value).
    pub const BINARY_8BIT: u8 = 0x04;
    /// UCS-2 (sent as UTF-16BE).
    pub const UCS2: u8 = 0x08;
}

/// A character that an encoding cannot carry: never replaced, always reported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("character {character:?} (U+{code:04X}) at position {position} cannot be encoded in {encoding}", code = u32::from(*character))]
pub struct Unencodable {
    /// Name of the encoding ("GSM-7", "Latin-1", "IA5").
    pub encoding: &'static str,
    /// The character.
    pub character: char,
    /// Its 0-based position in the text, counted in characters (Unicode scalar values).
    pub position: usize,
}

/// How the octets of a `data_coding` are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alphabet {
    /// GSM 03.38 7-bit.
    Gsm7,
    /// IA5 / ASCII.
    Ia5,
    /// Latin-1.
    Latin1,
    /// UTF-16BE.
    Ucs2,
    /// Octets, not text.
    Binary,
}

impl Alphabet {
    /// The alphabet of a `data_coding` value: the SMPP values 0x00 to 0x08 above, and the GSM
    /// data coding scheme groups (general, automatic deletion, message waiting, class 0xF0-0xFF).
    pub fn from_data_coding(value: u8) -> Result<Self, DecodeError> {
        Ok(match value {
            data_coding::GSM7 => Alphabet::Gsm7,
            data_coding::IA5 => Alphabet::Ia5,
            data_coding::BINARY | data_coding::BINARY_8BIT => Alphabet::Binary,
            data_coding::LATIN1 => Alphabet::Latin1,
            data_coding::UCS2 => Alphabet::Ucs2,
            0x10..=0x7F if value & 0x20 == 0 => match (value >> 2) & 0x03 {
                0 => Alphabet::Gsm7,
                1 => Alphabet::Binary,
                2 => Alphabet::Ucs2,
                _ => return Err(DecodeError::UnsupportedDataCoding(value)),
            },
            0xC0..=0xDF => Alphabet::Gsm7,
            0xE0..=0xEF => Alphabet::Ucs2,
            0xF0..=0xFF if value & 0x04 == 0 => Alphabet::Gsm7,
            0xF0..=0xFF => Alphabet::Binary,
            _ => return Err(DecodeError::UnsupportedDataCoding(value)),
        })
    }
}

/// Content of a decoded short message or payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// Text.
    Text(String),
    /// Octets of a binary data_coding.
    Binary(Vec<u8>),
}

/// A decoded short message or message payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedMessage {
    /// The user data header, when UDHI was set.
    pub udh: Option<Udh>,
    /// The content after the header.
    pub content: Content,
}

/// Why user data could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A data_coding without a decoder here.
    #[error("data_coding {0:#04x} is not supported")]
    UnsupportedDataCoding(u8),
    /// A bad user data header.
    #[error("bad user data header: {0}")]
    Udh(#[from] udh::UdhError),
    /// Bad GSM septets.
    #[error("bad GSM-7 text: {0}")]
    Gsm(#[from] gsm::GsmDecodeError),
    /// Bad UTF-16BE.
    #[error("bad UCS-2 text: {0}")]
    Ucs2(#[from] ucs2::Ucs2DecodeError),
    /// Bad IA5.
    #[error("bad IA5 text: {0}")]
    Ia5(#[from] ia5::Ia5DecodeError),
}

/// Decodes a short message (or message_payload): reads the UDH when `udhi` is set, applies
/// its shift tables, and decodes the rest by `data_coding`. `gsm7_packed` says whether GSM-7
/// arrives packed (the fill bits after the UDH are then skipped).
pub fn decode_message(
    data_coding: u8,
    udhi: bool,
    user_data: &[u8],
    gsm7_packed: bool,
) -> Result<DecodedMessage, DecodeError> {
    let alphabet = Alphabet::from_data_coding(data_coding)?;
    let (udh, body) = if udhi {
        let (udh, body) = Udh::parse(user_data)?;
        (Some(udh), body)
    } else {
        (None, user_data)
    };
    let content = match alphabet {
        Alphabet::Gsm7 => {
            let tables = match &udh {
                Some(udh) => udh.gsm_tables()?,
                None => GsmTables::DEFAULT,
            };
            let text = if gsm7_packed {
                let udh_len = user_data.len() - body.len();
                let septets = gsm::pack::unpack(body, gsm::pack::fill_bits(udh_len));
                tables.decode(&septets)?
            } else {
                tables.decode(body)?
            };
            Content::Text(text)
        }
        Alphabet::Ia5 => Content::Text(ia5::decode(body)?),
        Alphabet::Latin1 => Content::Text(latin1::decode(body)),
        Alphabet::Ucs2 => Content::Text(ucs2::decode(body)?),
        Alphabet::Binary => Content::Binary(body.to_vec()),
    };
    Ok(DecodedMessage { udh, content })
}

#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod split_proptests;
