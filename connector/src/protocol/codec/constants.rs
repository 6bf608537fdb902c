//! Named values of one-octet mandatory fields.

/// esm_class bits (SMPP 3.4 section 5.2.12).
pub mod esm_class {
    /// Messaging mode mask (bits 1-0).
    pub const MODE_MASK: u8 = 0x03;
    /// Default SMSC mode (store and forward).
    pub const MODE_DEFAULT: u8 = 0x00;
    /// Datagram mode.
    pub const MODE_DATAGRAM: u8 = 0x01;
    /// Forward (transaction) mode.
    pub const MODE_FORWARD: u8 = 0x02;
    /// Store and forward mode.
    pub const MODE_STORE_AND_FORWARD: u8 = 0x03;
    /// Message type mask (bits 5-2).
    pub const TYPE_MASK: u8 = 0x3C;
    /// Short message contains an SMSC delivery receipt (deliver_sm).
    pub const TYPE_DELIVERY_RECEIPT: u8 = 0x04;
    /// Short message contains an SME delivery acknowledgement.
    pub const TYPE_DELIVERY_ACK: u8 = 0x08;
    /// Short message contains an SME manual/user acknowledgement.
    pub const TYPE_USER_ACK: u8 = 0x10;
    /// Short message contains a conversation abort (Korean CDMA).
    pub const TYPE_CONVERSATION_ABORT: u8 = 0x18;
    /// Short message contains an intermediate delivery notification.
    pub const TYPE_INTERMEDIATE_NOTIFICATION: u8 = 0x20;
    /// UDH indicator: short_message starts with a user data header.
    pub const UDHI: u8 = 0x40;
    /// Reply path.
    pub const REPLY_PATH: u8 = 0x80;
}

/// registered_delivery bits (SMPP 3.4 section 5.2.17).
pub mod registered_delivery {
    /// SMSC delivery receipt mask (bits 1-0).
    pub const RECEIPT_MASK: u8 = 0x03;
    /// No SMSC delivery receipt requested.
    pub const RECEIPT_NONE: u8 = 0x00;
    /// Receipt on success or failure.
    pub const RECEIPT_ALWAYS: u8 = 0x01;
    /// Receipt on failure only.
    pub const RECEIPT_ON_FAILURE: u8 = 0x02;
    /// Intermediate notification requested.
    pub const INTERMEDIATE_NOTIFICATION: u8 = 0x10;
}
