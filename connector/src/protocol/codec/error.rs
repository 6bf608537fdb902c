//! Codec errors.

use super::body::Body;
use super::command_id::CommandId;
use super::pdu::{Header, Pdu};
use super::status::CommandStatus;

/// Everything that can go wrong while framing, decoding or encoding a PDU.
///
/// Only [`CodecError::InvalidCommandLength`] and [`CodecError::Io`] leave the byte stream
/// unusable; every other decode error is reported inside an [`InvalidPdu`] after the whole
/// PDU has been consumed, so the session can answer it and carry on.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The header's command_length is below 16 or above the configured maximum.
    /// The stream cannot be re-synchronised.
    #[error("command_length {len} is outside the accepted range {min}..={max}")]
    InvalidCommandLength {
        /// The command_length found in the header.
        len: u32,
        /// Smallest accepted length (the 16-octet header).
        min: u32,
        /// Configured maximum PDU length.
        max: u32,
    },
    /// The command_id is not an SMPP 3.4 command (answer with generic_nack ESME_RINVCMDID).
    #[error("unknown command_id 0x{command_id:08X} (sequence {sequence})")]
    UnknownCommandId {
        /// The command_id found in the header.
        command_id: u32,
        /// The sequence_number found in the header.
        sequence: u32,
    },
    /// The body ended inside a mandatory field or an optional parameter.
    #[error("PDU body ends inside field `{field}`")]
    Truncated {
        /// Specification name of the field.
        field: &'static str,
    },
    /// A field is longer than the specification allows.
    #[error("field `{field}` is longer than its maximum of {max} octets")]
    FieldTooLong {
        /// Specification name of the field.
        field: &'static str,
        /// Maximum length in octets (C-Octet strings: including the NUL terminator).
        max: usize,
    },
    /// A C-Octet string runs to the end of the body without its NUL terminator.
    #[error("C-Octet string field `{field}` has no NUL terminator")]
    MissingNul {
        /// Specification name of the field.
        field: &'static str,
    },
    /// Octets follow the last field of a PDU that carries no optional parameters.
    #[error("{len} unexpected octets after the last field of {command}")]
    TrailingBytes {
        /// The PDU type.
        command: CommandId,
        /// Number of unexpected octets.
        len: usize,
    },
    /// A submit_multi destination has a dest_flag other than 1 (SME) or 2 (distribution list).
    #[error("invalid dest_flag {flag} in submit_multi")]
    InvalidDestFlag {
        /// The dest_flag found.
        flag: u8,
    },
    /// A list has more entries than its one-octet counter can express (encoding only).
    #[error("`{field}` has {count} entries, more than the maximum of {max}")]
    TooManyEntries {
        /// Specification name of the counter field.
        field: &'static str,
        /// Entries present.
        count: usize,
        /// Maximum allowed.
        max: usize,
    },
    /// An optional parameter value does not fit its 16-bit length (encoding only).
    #[error("optional parameter 0x{tag:04X} value of {len} octets exceeds 65535")]
    TlvTooLong {
        /// The parameter tag.
        tag: u16,
        /// Value length in octets.
        len: usize,
    },
    /// The encoded PDU would be longer than the configured maximum (encoding only).
    #[error("encoded PDU of {len} octets exceeds the maximum of {max}")]
    PduTooLong {
        /// Encoded length in octets.
        len: usize,
        /// Configured maximum PDU length.
        max: u32,
    },
    /// A frame given to [`Pdu::decode`](super::Pdu::decode) is not exactly one PDU long.
    #[error("command_length {command_length} does not match the frame length {frame_len}")]
    FrameLengthMismatch {
        /// The command_length found in the header.
        command_length: u32,
        /// The length of the frame given.
        frame_len: usize,
    },
    /// Reading from or writing to the transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl CodecError {
    /// Whether the byte stream is unusable after this error (the connection must close).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            CodecError::InvalidCommandLength { .. } | CodecError::Io(_)
        )
    }
}

/// A complete PDU that was consumed from the stream but could not be decoded.
///
/// The header is trustworthy (its length was in range), so the session can reply with the
/// right sequence number: see [`InvalidPdu::reply`].
#[derive(Debug, thiserror::Error)]
#[error("invalid PDU (command_id 0x{:08X}, sequence {}): {error}", .header.command_id, .header.sequence)]
pub struct InvalidPdu {
    /// The PDU header as received.
    pub header: Header,
    /// What was wrong with the PDU.
    #[source]
    pub error: CodecError,
}

impl InvalidPdu {
    /// The sequence number of the offending PDU.
    pub fn sequence(&self) -> u32 {
        self.header.sequence
    }

    /// The command id of the offending PDU, if it is a known one.
    pub fn command_id(&self) -> Option<CommandId> {
        CommandId::from_u32(self.header.command_id)
    }

    /// The PDU to send back, if any.
    ///
    /// An unknown command_id gets generic_nack `ESME_RINVCMDID`; a malformed request gets
    /// its own response type with [`InvalidPdu::reply_status`]; a malformed response, outbind
    /// or alert_notification gets nothing (the specification defines no answer).
    pub fn reply(&self) -> Option<Pdu> {
        match self.command_id() {
            None => Some(Pdu::generic_nack(self.sequence(), self.reply_status())),
            Some(id) => Body::response_for(id)
                .map(|body| Pdu::with_status(self.sequence(), self.reply_status(), body)),
        }
    }

    /// The command_status a reply to this PDU should carry.
    pub fn reply_status(&self) -> CommandStatus {
        match &self.error {
            CodecError::UnknownCommandId { .. } => CommandStatus::ESME_RINVCMDID,
            CodecError::InvalidDestFlag { .. } => CommandStatus::ESME_RINVDESTFLAG,
            CodecError::FieldTooLong { field, .. } | CodecError::MissingNul { field } => {
                status_for_field(field)
            }
            CodecError::Truncated { field } if field.starts_with("optional") => {
                CommandStatus::ESME_RINVOPTPARSTREAM
            }
            CodecError::Truncated { .. } | CodecError::TrailingBytes { .. } => {
                CommandStatus::ESME_RINVCMDLEN
            }
            _ => CommandStatus::ESME_RSYSERR,
        }
    }
}

/// The most specific status for a bad mandatory field.
fn status_for_field(field: &str) -> CommandStatus {
    match field {
        "source_addr" | "esme_addr" => CommandStatus::ESME_RINVSRCADR,
        "destination_addr" => CommandStatus::ESME_RINVDSTADR,
        "short_message" | "sm_length" => CommandStatus::ESME_RINVMSGLEN,
        "system_id" => CommandStatus::ESME_RINVSYSID,
        "password" => CommandStatus::ESME_RINVPASWD,
        "system_type" => CommandStatus::ESME_RINVSYSTYP,
        "service_type" => CommandStatus::ESME_RINVSERTYP,
        "message_id" => CommandStatus::ESME_RINVMSGID,
        "schedule_delivery_time" => CommandStatus::ESME_RINVSCHED,
        "validity_period" => CommandStatus::ESME_RINVEXPIRY,
        "dl_name" => CommandStatus::ESME_RINVDLNAME,
        _ => CommandStatus::ESME_RSYSERR,
    }
}
