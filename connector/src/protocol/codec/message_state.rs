//! The message_state values of SMPP 3.4 section 5.2.28.

use std::fmt;

/// A message_state (query_sm_resp field and TLV 0x0427). Unknown values are kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MessageState(pub u8);

impl MessageState {
    /// The message is in enroute state.
    pub const ENROUTE: MessageState = MessageState(1);
    /// The message was delivered to its destination.
    pub const DELIVERED: MessageState = MessageState(2);
    /// The validity period expired.
    pub const EXPIRED: MessageState = MessageState(3);
    /// The message was deleted.
    pub const DELETED: MessageState = MessageState(4);
    /// The message is undeliverable.
    pub const UNDELIVERABLE: MessageState = MessageState(5);
    /// The message was accepted (read by the user on the SMSC's behalf).
    pub const ACCEPTED: MessageState = MessageState(6);
    /// The message is in an invalid state.
    pub const UNKNOWN: MessageState = MessageState(7);
    /// The message was rejected.
    pub const REJECTED: MessageState = MessageState(8);

    /// The specification's name (`DELIVERED`, ...), if defined.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "ENROUTE",
            2 => "DELIVERED",
            3 => "EXPIRED",
            4 => "DELETED",
            5 => "UNDELIVERABLE",
            6 => "ACCEPTED",
            7 => "UNKNOWN",
            8 => "REJECTED",
            _ => return None,
        })
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} {name}", self.0),
            None => write!(f, "{} (unknown)", self.0),
        }
    }
}

impl fmt::Debug for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageState({self})")
    }
}
