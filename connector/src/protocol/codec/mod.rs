//! SMPP 3.4 PDU codec on [`bytes`], with [`SmppCodec`] framing for `tokio_util::codec`.
//!
//! - [`Pdu`] = sequence number + [`CommandStatus`] + [`Body`] (one variant per command).
//! - C-Octet string fields are [`COctetString<N>`], whose maximum wire length `N` (with
//!   NUL) is the specification's; short ones are stored inline, long ones are slices of
//!   the received buffer, so decoding allocates nothing per field.
//! - Optional parameters are [`Tlvs`], a list of typed [`Tlv`]s; unknown tags are kept raw.
//! - Decoding errors are typed ([`CodecError`]); a bad PDU whose length was in range is
//!   consumed and reported as [`InvalidPdu`] so the session can answer it and continue.
//!
//! See `docs/protocol.md` for the supported PDUs, parameters and limits.

mod body;
mod command_id;
mod constants;
mod cstring;
mod error;
mod framing;
mod message_state;
mod pdu;
mod status;
mod time;
mod tlv;
mod wire;

pub use body::{
    npi, ton, Address, AlertNotification, Bind, BindResp, Body, CancelSm, DataSm, DataSmResp,
    DeliverSm, DeliverSmResp, DestAddress, MessageIdResp, Outbind, QuerySm, QuerySmResp, ReplaceSm,
    SubmitMulti, SubmitMultiResp, SubmitSm, SubmitSmResp, UnsuccessSme, INTERFACE_VERSION_34,
    MAX_SHORT_MESSAGE_LEN,
};
pub use command_id::CommandId;
pub use constants::{esm_class, registered_delivery};
pub use cstring::{COctetString, COctetStringError};
pub use error::{CodecError, InvalidPdu};
pub use framing::{Decoded, SmppCodec, DEFAULT_MAX_PDU_LEN, MIN_PDU_LEN};
pub use message_state::MessageState;
pub use pdu::{Header, Pdu, HEADER_LEN};
pub use status::CommandStatus;
pub use time::{relative_time, SmppTime, TimeError};
pub use tlv::{tag, tag_name, NetworkErrorCode, RawTlv, Tlv, Tlvs};
