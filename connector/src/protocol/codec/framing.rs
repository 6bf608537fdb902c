//! [`SmppCodec`]: framing of PDUs on a byte stream for `tokio_util::codec`.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::error::{CodecError, InvalidPdu};
use super::pdu::{decode_frame, Header, Pdu, HEADER_LEN};

/// Smallest valid command_length: a header-only PDU.
pub const MIN_PDU_LEN: u32 = HEADER_LEN as u32;

/// Default maximum command_length: room for a full 64 KiB message_payload plus the
/// mandatory fields of any PDU.
pub const DEFAULT_MAX_PDU_LEN: u32 = 70_000;

/// What the decoder yields for each PDU on the stream.
///
/// `Err(InvalidPdu)` means the PDU was consumed but could not be decoded; the stream
/// stays in sync and the session should answer it (see [`InvalidPdu::reply_status`]).
/// Fatal problems ([`CodecError::InvalidCommandLength`], I/O) are the decoder's error.
pub type Decoded = Result<Pdu, InvalidPdu>;

/// SMPP framing codec: decodes [`Decoded`] items and encodes [`Pdu`]s.
///
/// The decoder rejects a command_length outside `16..=max_pdu_len` from the first four
/// octets, before buffering any of the body, and never reserves more than `max_pdu_len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmppCodec {
    max_pdu_len: u32,
}

impl SmppCodec {
    /// A codec accepting PDUs of at most `max_pdu_len` octets (at least 16 is enforced).
    pub fn new(max_pdu_len: u32) -> Self {
        SmppCodec {
            max_pdu_len: max_pdu_len.max(MIN_PDU_LEN),
        }
    }

    /// The maximum PDU length in octets.
    pub fn max_pdu_len(&self) -> u32 {
        self.max_pdu_len
    }
}

impl Default for SmppCodec {
    fn default() -> Self {
        SmppCodec::new(DEFAULT_MAX_PDU_LEN)
    }
}

impl Decoder for SmppCodec {
    type Item = Decoded;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, CodecError> {
        let Some(len_octets) = src.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([len_octets[0], len_octets[1], len_octets[2], len_octets[3]]);
        if !(MIN_PDU_LEN..=self.max_pdu_len).contains(&len) {
            return Err(CodecError::InvalidCommandLength {
                len,
                min: MIN_PDU_LEN,
                max: self.max_pdu_len,
            });
        }
        // In range, so at most `max_pdu_len` (a u32) octets.
        let len = len as usize;
        if src.len() < len {
            src.reserve(len - src.len());
            return Ok(None);
        }
        let frame = src.split_to(len).freeze();
        let mut head = [0u8; HEADER_LEN];
        head.copy_from_slice(&frame[..HEADER_LEN]);
        Ok(Some(decode_frame(Header::from_array(&head), frame)))
    }
}

impl Encoder<&Pdu> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, pdu: &Pdu, dst: &mut BytesMut) -> Result<(), CodecError> {
        let len = pdu.encoded_len()?;
        if len > self.max_pdu_len as usize {
            return Err(CodecError::PduTooLong {
                len,
                max: self.max_pdu_len,
            });
        }
        pdu.encode_checked(len, dst);
        Ok(())
    }
}

impl Encoder<Pdu> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, pdu: Pdu, dst: &mut BytesMut) -> Result<(), CodecError> {
        <Self as Encoder<&Pdu>>::encode(self, &pdu, dst)
    }
}
