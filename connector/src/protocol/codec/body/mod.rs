//! PDU bodies: one [`Body`] variant per SMPP 3.4 command, and their wire layouts.

mod address;
mod alert;
mod bind;
mod fields;
mod message;
mod multi;
mod query;
mod resp;

use bytes::{Bytes, BytesMut};

pub use address::{npi, ton, Address, DestAddress, UnsuccessSme};
pub use alert::AlertNotification;
pub use bind::{Bind, BindResp, Outbind, INTERFACE_VERSION_34};
pub use fields::MAX_SHORT_MESSAGE_LEN;
pub use message::{DataSm, DeliverSm, ReplaceSm, SubmitSm};
pub use multi::{SubmitMulti, SubmitMultiResp};
pub use query::{CancelSm, QuerySm, QuerySmResp};
pub use resp::{DataSmResp, DeliverSmResp, MessageIdResp, SubmitSmResp};

use super::command_id::CommandId;
use super::error::CodecError;
use super::status::CommandStatus;
use super::wire::Reader;
use fields::Fields;

macro_rules! define_body {
    (
        with_fields { $( $(#[$doc:meta])* $variant:ident($ty:ty), )* }
        header_only { $( $(#[$edoc:meta])* $evariant:ident, )* }
    ) => {
        /// The body of a PDU: which command it is and its fields.
        ///
        /// Variant names match [`CommandId`] variants.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[allow(clippy::large_enum_variant)] // Boxing would cost an allocation per decoded PDU.
        pub enum Body {
            $( $(#[$doc])* $variant($ty), )*
            $( $(#[$edoc])* $evariant, )*
        }

        impl Body {
            /// The command_id of this body.
            pub fn command_id(&self) -> CommandId {
                match self {
                    $( Body::$variant(_) => CommandId::$variant, )*
                    $( Body::$evariant => CommandId::$evariant, )*
                }
            }

            /// Encoded body length for a PDU with `status`.
            ///
            /// A response with a non-zero status and all-default fields is encoded
            /// header-only, as the specification prescribes.
            pub(crate) fn wire_len(&self, status: CommandStatus) -> Result<usize, CodecError> {
                match self {
                    $( Body::$variant(v) => {
                        if omit_response_body(CommandId::$variant, status, v) {
                            Ok(0)
                        } else {
                            v.wire_len()
                        }
                    } )*
                    $( Body::$evariant => Ok(0), )*
                }
            }

            /// Writes the body; `wire_len` must have succeeded for the same `status`.
            pub(crate) fn encode(&self, status: CommandStatus, dst: &mut BytesMut) {
                match self {
                    $( Body::$variant(v) => {
                        if !omit_response_body(CommandId::$variant, status, v) {
                            v.encode(dst);
                        }
                    } )*
                    $( Body::$evariant => {} )*
                }
            }

            /// Decodes the body of a `command_id` PDU: the octets of `frame` from `start`.
            pub(crate) fn decode(
                command_id: CommandId,
                status: CommandStatus,
                frame: &Bytes,
                start: usize,
            ) -> Result<Body, CodecError> {
                let mut r = Reader::new(frame, start);
                match command_id {
                    $( CommandId::$variant => {
                        if r.is_empty() && command_id.is_response() && !status.is_ok() {
                            return Ok(Body::$variant(<$ty>::default()));
                        }
                        let v = <$ty as Fields>::decode(&mut r)?;
                        if !r.is_empty() {
                            return Err(CodecError::TrailingBytes {
                                command: command_id,
                                len: r.remaining(),
                            });
                        }
                        Ok(Body::$variant(v))
                    } )*
                    $( CommandId::$evariant => {
                        if r.is_empty() {
                            Ok(Body::$evariant)
                        } else {
                            Err(CodecError::TrailingBytes {
                                command: command_id,
                                len: r.remaining(),
                            })
                        }
                    } )*
                }
            }
        }
    };
}

define_body! {
    with_fields {
        /// bind_transmitter.
        BindTransmitter(Bind),
        /// bind_transmitter_resp.
        BindTransmitterResp(BindResp),
        /// bind_receiver.
        BindReceiver(Bind),
        /// bind_receiver_resp.
        BindReceiverResp(BindResp),
        /// bind_transceiver.
        BindTransceiver(Bind),
        /// bind_transceiver_resp.
        BindTransceiverResp(BindResp),
        /// outbind.
        Outbind(Outbind),
        /// submit_sm.
        SubmitSm(SubmitSm),
        /// submit_sm_resp.
        SubmitSmResp(SubmitSmResp),
        /// submit_multi.
        SubmitMulti(SubmitMulti),
        /// submit_multi_resp.
        SubmitMultiResp(SubmitMultiResp),
        /// deliver_sm.
        DeliverSm(DeliverSm),
        /// deliver_sm_resp.
        DeliverSmResp(DeliverSmResp),
        /// data_sm.
        DataSm(DataSm),
        /// data_sm_resp.
        DataSmResp(DataSmResp),
        /// query_sm.
        QuerySm(QuerySm),
        /// query_sm_resp.
        QuerySmResp(QuerySmResp),
        /// cancel_sm.
        CancelSm(CancelSm),
        /// replace_sm.
        ReplaceSm(ReplaceSm),
        /// alert_notification.
        AlertNotification(AlertNotification),
    }
    header_only {
        /// unbind.
        Unbind,
        /// unbind_resp.
        UnbindResp,
        /// generic_nack (the command_status says why).
        GenericNack,
        /// cancel_sm_resp.
        CancelSmResp,
        /// replace_sm_resp.
        ReplaceSmResp,
        /// enquire_link.
        EnquireLink,
        /// enquire_link_resp.
        EnquireLinkResp,
    }
}

/// Whether a response body is left out: non-zero status and nothing but defaults.
fn omit_response_body<T: Default + PartialEq>(id: CommandId, status: CommandStatus, v: &T) -> bool {
    id.is_response() && !status.is_ok() && *v == T::default()
}

impl Body {
    /// Whether this is a response (including generic_nack).
    pub fn is_response(&self) -> bool {
        self.command_id().is_response()
    }

    /// The response body, with default fields, that answers a `request`.
    ///
    /// `None` if `request` is a response or is not answered (outbind, alert_notification).
    pub fn response_for(request: CommandId) -> Option<Body> {
        Some(match request.response()? {
            CommandId::BindTransmitterResp => Body::BindTransmitterResp(BindResp::default()),
            CommandId::BindReceiverResp => Body::BindReceiverResp(BindResp::default()),
            CommandId::BindTransceiverResp => Body::BindTransceiverResp(BindResp::default()),
            CommandId::SubmitSmResp => Body::SubmitSmResp(SubmitSmResp::default()),
            CommandId::SubmitMultiResp => Body::SubmitMultiResp(SubmitMultiResp::default()),
            CommandId::DeliverSmResp => Body::DeliverSmResp(DeliverSmResp::default()),
            CommandId::DataSmResp => Body::DataSmResp(DataSmResp::default()),
            CommandId::QuerySmResp => Body::QuerySmResp(QuerySmResp::default()),
            CommandId::UnbindResp => Body::UnbindResp,
            CommandId::CancelSmResp => Body::CancelSmResp,
            CommandId::ReplaceSmResp => Body::ReplaceSmResp,
            CommandId::EnquireLinkResp => Body::EnquireLinkResp,
            _ => return None,
        })
    }
}
