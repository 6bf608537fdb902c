//! The contract between a PDU body type and the dispatcher in [`super`].

use bytes::BytesMut;

use crate::protocol::codec::error::CodecError;
use crate::protocol::codec::wire::Reader;

/// A PDU body with mandatory fields (and possibly optional parameters).
pub(crate) trait Fields: Sized {
    /// Reads the fields; optional parameters consume the rest of the body.
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError>;
    /// Encoded length in octets; fails if a field cannot be encoded.
    fn wire_len(&self) -> Result<usize, CodecError>;
    /// Writes the fields; only called after [`Fields::wire_len`] succeeded.
    fn encode(&self, dst: &mut BytesMut);
}

/// Checks a counted list fits its one-octet counter.
pub(crate) fn count_u8(field: &'static str, count: usize) -> Result<u8, CodecError> {
    u8::try_from(count).map_err(|_| CodecError::TooManyEntries {
        field,
        count,
        max: 255,
    })
}

/// Maximum length of short_message (sm_length is one octet; the specification allows 254).
pub const MAX_SHORT_MESSAGE_LEN: usize = 254;

/// Checks short_message fits sm_length.
pub(crate) fn sm_length(len: usize) -> Result<u8, CodecError> {
    if len > MAX_SHORT_MESSAGE_LEN {
        return Err(CodecError::FieldTooLong {
            field: "short_message",
            max: MAX_SHORT_MESSAGE_LEN,
        });
    }
    // Bounded by 254 just above.
    Ok(len as u8)
}
