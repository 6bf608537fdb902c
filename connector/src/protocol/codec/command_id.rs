//! SMPP 3.4 command identifiers (section 5.1.2.1).

use std::fmt;

/// The `command_id` of every SMPP 3.4 PDU. Responses have bit 31 set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum CommandId {
    /// generic_nack
    GenericNack = 0x8000_0000,
    /// bind_receiver
    BindReceiver = 0x0000_0001,
    /// bind_receiver_resp
    BindReceiverResp = 0x8000_0001,
    /// bind_transmitter
    BindTransmitter = 0x0000_0002,
    /// bind_transmitter_resp
    BindTransmitterResp = 0x8000_0002,
    /// query_sm
    QuerySm = 0x0000_0003,
    /// query_sm_resp
    QuerySmResp = 0x8000_0003,
    /// submit_sm
    SubmitSm = 0x0000_0004,
    /// submit_sm_resp
    SubmitSmResp = 0x8000_0004,
    /// deliver_sm
    DeliverSm = 0x0000_0005,
    /// deliver_sm_resp
    DeliverSmResp = 0x8000_0005,
    /// unbind
    Unbind = 0x0000_0006,
    /// unbind_resp
    UnbindResp = 0x8000_0006,
    /// replace_sm
    ReplaceSm = 0x0000_0007,
    /// replace_sm_resp
    ReplaceSmResp = 0x8000_0007,
    /// cancel_sm
    CancelSm = 0x0000_0008,
    /// cancel_sm_resp
    CancelSmResp = 0x8000_0008,
    /// bind_transceiver
    BindTransceiver = 0x0000_0009,
    /// bind_transceiver_resp
    BindTransceiverResp = 0x8000_0009,
    /// outbind
    Outbind = 0x0000_000B,
    /// enquire_link
    EnquireLink = 0x0000_0015,
    /// enquire_link_resp
    EnquireLinkResp = 0x8000_0015,
    /// submit_multi
    SubmitMulti = 0x0000_0021,
    /// submit_multi_resp
    SubmitMultiResp = 0x8000_0021,
    /// alert_notification
    AlertNotification = 0x0000_0102,
    /// data_sm
    DataSm = 0x0000_0103,
    /// data_sm_resp
    DataSmResp = 0x8000_0103,
}

impl CommandId {
    /// The bit that marks a response command_id.
    pub const RESPONSE_BIT: u32 = 0x8000_0000;

    /// Every command id, requests and responses.
    pub const ALL: [CommandId; 27] = [
        CommandId::GenericNack,
        CommandId::BindReceiver,
        CommandId::BindReceiverResp,
        CommandId::BindTransmitter,
        CommandId::BindTransmitterResp,
        CommandId::QuerySm,
        CommandId::QuerySmResp,
        CommandId::SubmitSm,
        CommandId::SubmitSmResp,
        CommandId::DeliverSm,
        CommandId::DeliverSmResp,
        CommandId::Unbind,
        CommandId::UnbindResp,
        CommandId::ReplaceSm,
        CommandId::ReplaceSmResp,
        CommandId::CancelSm,
        CommandId::CancelSmResp,
        CommandId::BindTransceiver,
        CommandId::BindTransceiverResp,
        CommandId::Outbind,
        CommandId::EnquireLink,
        CommandId::EnquireLinkResp,
        CommandId::SubmitMulti,
        CommandId::SubmitMultiResp,
        CommandId::AlertNotification,
        CommandId::DataSm,
        CommandId::DataSmResp,
    ];

    /// The command id for a wire value, if SMPP 3.4 defines it.
    pub const fn from_u32(value: u32) -> Option<CommandId> {
        Some(match value {
            0x8000_0000 => CommandId::GenericNack,
            0x0000_0001 => CommandId::BindReceiver,
            0x8000_0001 => CommandId::BindReceiverResp,
            0x0000_0002 => CommandId::BindTransmitter,
            0x8000_0002 => CommandId::BindTransmitterResp,
            0x0000_0003 => CommandId::QuerySm,
            0x8000_0003 => CommandId::QuerySmResp,
            0x0000_0004 => CommandId::SubmitSm,
            0x8000_0004 => CommandId::SubmitSmResp,
            0x0000_0005 => CommandId::DeliverSm,
            0x8000_0005 => CommandId::DeliverSmResp,
            0x0000_0006 => CommandId::Unbind,
            0x8000_0006 => CommandId::UnbindResp,
            0x0000_0007 => CommandId::ReplaceSm,
            0x8000_0007 => CommandId::ReplaceSmResp,
            0x0000_0008 => CommandId::CancelSm,
            0x8000_0008 => CommandId::CancelSmResp,
            0x0000_0009 => CommandId::BindTransceiver,
            0x8000_0009 => CommandId::BindTransceiverResp,
            0x0000_000B => CommandId::Outbind,
            0x0000_0015 => CommandId::EnquireLink,
            0x8000_0015 => CommandId::EnquireLinkResp,
            0x0000_0021 => CommandId::SubmitMulti,
            0x8000_0021 => CommandId::SubmitMultiResp,
            0x0000_0102 => CommandId::AlertNotification,
            0x0000_0103 => CommandId::DataSm,
            0x8000_0103 => CommandId::DataSmResp,
            _ => return None,
        })
    }

    /// The wire value.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// Whether this is a response (bit 31 set; generic_nack counts as a response).
    pub const fn is_response(self) -> bool {
        self.as_u32() & Self::RESPONSE_BIT != 0
    }

    /// The response command id for a request that has one.
    ///
    /// `None` for responses and for outbind and alert_notification, which are not answered.
    pub const fn response(self) -> Option<CommandId> {
        match self {
            CommandId::Outbind | CommandId::AlertNotification => None,
            _ if self.is_response() => None,
            _ => CommandId::from_u32(self.as_u32() | Self::RESPONSE_BIT),
        }
    }

    /// The specification's name, e.g. `submit_sm`.
    pub const fn name(self) -> &'static str {
        match self {
            CommandId::GenericNack => "generic_nack",
            CommandId::BindReceiver => "bind_receiver",
            CommandId::BindReceiverResp => "bind_receiver_resp",
            CommandId::BindTransmitter => "bind_transmitter",
            CommandId::BindTransmitterResp => "bind_transmitter_resp",
            CommandId::QuerySm => "query_sm",
            CommandId::QuerySmResp => "query_sm_resp",
            CommandId::SubmitSm => "submit_sm",
            CommandId::SubmitSmResp => "submit_sm_resp",
            CommandId::DeliverSm => "deliver_sm",
            CommandId::DeliverSmResp => "deliver_sm_resp",
            CommandId::Unbind => "unbind",
            CommandId::UnbindResp => "unbind_resp",
            CommandId::ReplaceSm => "replace_sm",
            CommandId::ReplaceSmResp => "replace_sm_resp",
            CommandId::CancelSm => "cancel_sm",
            CommandId::CancelSmResp => "cancel_sm_resp",
            CommandId::BindTransceiver => "bind_transceiver",
            CommandId::BindTransceiverResp => "bind_transceiver_resp",
            CommandId::Outbind => "outbind",
            CommandId::EnquireLink => "enquire_link",
            CommandId::EnquireLinkResp => "enquire_link_resp",
            CommandId::SubmitMulti => "submit_multi",
            CommandId::SubmitMultiResp => "submit_multi_resp",
            CommandId::AlertNotification => "alert_notification",
            CommandId::DataSm => "data_sm",
            CommandId::DataSmResp => "data_sm_resp",
        }
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<u32> for CommandId {
    type Error = u32;
    fn try_from(value: u32) -> Result<Self, u32> {
        CommandId::from_u32(value).ok_or(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_round_trips() {
        for id in CommandId::ALL {
            assert_eq!(CommandId::from_u32(id.as_u32()), Some(id));
        }
        assert_eq!(CommandId::from_u32(0x0000_000A), None);
    }

    #[test]
    fn requests_map_to_responses() {
        assert_eq!(
            CommandId::SubmitSm.response(),
            Some(CommandId::SubmitSmResp)
        );
        assert_eq!(CommandId::DataSm.response(), Some(CommandId::DataSmResp));
        assert_eq!(CommandId::Outbind.response(), None);
        assert_eq!(CommandId::AlertNotification.response(), None);
        assert_eq!(CommandId::GenericNack.response(), None);
        assert!(CommandId::GenericNack.is_response());
        assert!(!CommandId::EnquireLink.is_response());
    }
}
