//! A whole PDU: header fields plus body, and its encoding.

use bytes::{BufMut, Bytes, BytesMut};

use super::body::Body;
use super::command_id::CommandId;
use super::error::{CodecError, InvalidPdu};
use super::status::CommandStatus;

/// Length of the PDU header in octets.
pub const HEADER_LEN: usize = 16;

/// The four header fields exactly as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Total PDU length including the header.
    pub command_length: u32,
    /// Raw command_id (may be unknown).
    pub command_id: u32,
    /// command_status.
    pub command_status: CommandStatus,
    /// sequence_number.
    pub sequence: u32,
}

impl Header {
    /// Parses the first 16 octets of `buf`; `None` if fewer are available.
    pub fn parse(buf: &[u8]) -> Option<Header> {
        buf.get(..HEADER_LEN)
            .and_then(|head| head.try_into().ok())
            .map(Header::from_array)
    }

    /// Parses a 16-octet header.
    pub fn from_array(head: &[u8; HEADER_LEN]) -> Header {
        let word = |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        Header {
            command_length: word(0),
            command_id: word(4),
            command_status: CommandStatus(word(8)),
            sequence: word(12),
        }
    }
}

/// One SMPP PDU. The command_id follows from the [`Body`] variant and command_length is
/// computed when encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// sequence_number (1..=0x7FFFFFFF per the specification; not enforced).
    pub sequence: u32,
    /// command_status (`ESME_ROK` for requests).
    pub status: CommandStatus,
    /// Command and fields.
    pub body: Body,
}

impl Pdu {
    /// A PDU with status `ESME_ROK`.
    pub fn new(sequence: u32, body: impl Into<Body>) -> Pdu {
        Pdu {
            sequence,
            status: CommandStatus::ESME_ROK,
            body: body.into(),
        }
    }

    /// A PDU with the given status.
    pub fn with_status(sequence: u32, status: CommandStatus, body: impl Into<Body>) -> Pdu {
        Pdu {
            sequence,
            status,
            body: body.into(),
        }
    }

    /// A generic_nack for `sequence` with `status` (e.g. `ESME_RINVCMDID`).
    pub fn generic_nack(sequence: u32, status: CommandStatus) -> Pdu {
        Pdu::with_status(sequence, status, Body::GenericNack)
    }

    /// The response to this request with `status` and default fields, same sequence.
    ///
    /// `None` if this PDU is a response or is not answered (outbind, alert_notification).
    pub fn response(&self, status: CommandStatus) -> Option<Pdu> {
        Body::response_for(self.command_id())
            .map(|body| Pdu::with_status(self.sequence, status, body))
    }

    /// The command_id.
    pub fn command_id(&self) -> CommandId {
        self.body.command_id()
    }

    /// Whether this is a response (including generic_nack).
    pub fn is_response(&self) -> bool {
        self.body.is_response()
    }

    /// The encoded length in octets (the command_length); fails if a field cannot be encoded.
    pub fn encoded_len(&self) -> Result<usize, CodecError> {
        let len = HEADER_LEN + self.body.wire_len(self.status)?;
        if u32::try_from(len).is_err() {
            return Err(CodecError::PduTooLong { len, max: u32::MAX });
        }
        Ok(len)
    }

    /// Appends the encoded PDU to `dst` with a single reservation.
    ///
    /// Nothing is written if the PDU cannot be encoded.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), CodecError> {
        let len = self.encoded_len()?;
        self.encode_checked(len, dst);
        Ok(())
    }

    /// Writes the PDU whose length `len` was computed by [`Pdu::encoded_len`].
    pub(crate) fn encode_checked(&self, len: usize, dst: &mut BytesMut) {
        dst.reserve(len);
        // `encoded_len` checked that `len` fits in u32.
        dst.put_u32(len as u32);
        dst.put_u32(self.command_id().as_u32());
        dst.put_u32(self.status.0);
        dst.put_u32(self.sequence);
        self.body.encode(self.status, dst);
    }

    /// The encoded PDU as [`Bytes`].
    pub fn to_bytes(&self) -> Result<Bytes, CodecError> {
        let mut buf = BytesMut::new();
        self.encode(&mut buf)?;
        Ok(buf.freeze())
    }

    /// Decodes exactly one PDU from `frame`, whose command_length must equal its length.
    pub fn decode(frame: Bytes) -> Result<Pdu, CodecError> {
        let header = Header::parse(&frame).ok_or(CodecError::Truncated { field: "header" })?;
        if usize::try_from(header.command_length).ok() != Some(frame.len()) {
            return Err(CodecError::FrameLengthMismatch {
                command_length: header.command_length,
                frame_len: frame.len(),
            });
        }
        decode_frame(header, frame).map_err(|invalid| invalid.error)
    }
}

/// Decodes the body of a PDU whose header has been parsed and whose length is in range.
pub(crate) fn decode_frame(header: Header, frame: Bytes) -> Result<Pdu, InvalidPdu> {
    let invalid = |error| InvalidPdu { header, error };
    let command_id = CommandId::from_u32(header.command_id).ok_or_else(|| {
        invalid(CodecError::UnknownCommandId {
            command_id: header.command_id,
            sequence: header.sequence,
        })
    })?;
    let body =
        Body::decode(command_id, header.command_status, &frame, HEADER_LEN).map_err(invalid)?;
    Ok(Pdu {
        sequence: header.sequence,
        status: header.command_status,
        body,
    })
}

macro_rules! body_from {
    ($($ty:ident => $variant:ident),* $(,)?) => {
        $(
            impl From<super::body::$ty> for Body {
                fn from(value: super::body::$ty) -> Body {
                    Body::$variant(value)
                }
            }
        )*
    };
}

// Only body types with a single PDU use; binds, submit_sm/deliver_sm and the
// message_id responses share types, so build their `Body` variant explicitly.
body_from! {
    Outbind => Outbind,
    SubmitMulti => SubmitMulti,
    SubmitMultiResp => SubmitMultiResp,
    DataSm => DataSm,
    QuerySm => QuerySm,
    QuerySmResp => QuerySmResp,
    CancelSm => CancelSm,
    ReplaceSm => ReplaceSm,
    AlertNotification => AlertNotification,
}
