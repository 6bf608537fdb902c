//! Optional parameters (TLVs) of SMPP 3.4 section 5.3.2.
//!
//! Every parameter the specification defines is decoded into a typed [`Tlv`] variant.
//! Unknown and vendor-specific tags, and known tags whose value does not have the
//! specified length or form, are kept as [`Tlv::Other`] and re-encoded byte for byte, so
//! nothing a peer sends is lost. Order and duplicates are preserved.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use super::cstring::COctetString;
use super::error::CodecError;
use super::message_state::MessageState;
use super::wire::Reader;

/// A parameter the codec does not interpret: the tag and the value octets as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTlv {
    /// Parameter tag.
    pub tag: u16,
    /// Value octets (the length is implied).
    pub value: Bytes,
}

/// The value of the network_error_code parameter (0x0423).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkErrorCode {
    /// Network type: 1 ANSI-136, 2 IS-95, 3 GSM, 4 ANSI-41, ...
    pub network_type: u8,
    /// Network-specific error code.
    pub error_code: u16,
}

impl From<[u8; 3]> for NetworkErrorCode {
    /// From its value octets: the network type, then the error code (big-endian).
    fn from([network_type, hi, lo]: [u8; 3]) -> Self {
        NetworkErrorCode {
            network_type,
            error_code: u16::from_be_bytes([hi, lo]),
        }
    }
}

impl From<NetworkErrorCode> for [u8; 3] {
    /// Its value octets.
    fn from(n: NetworkErrorCode) -> Self {
        let [hi, lo] = n.error_code.to_be_bytes();
        [n.network_type, hi, lo]
    }
}

impl std::fmt::Display for NetworkErrorCode {
    /// `type:code` in decimal, e.g. `3:27` (the event's `networkErrorCode`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.network_type, self.error_code)
    }
}

/// How a typed parameter value is read from and written to its value octets.
trait TlvValue: Sized {
    /// Parses the value held in `buf[range]`; `None` if the octets do not have the
    /// specified form. Only octet-string values take a (reference-counted) slice of `buf`.
    fn from_value(buf: &Bytes, range: Range<usize>) -> Option<Self>;
    /// Length of the encoded value.
    fn value_len(&self) -> usize;
    /// Writes the value octets.
    fn put_value(&self, dst: &mut BytesMut);
}

impl TlvValue for u8 {
    fn from_value(buf: &Bytes, range: Range<usize>) -> Option<Self> {
        match buf[range] {
            [b] => Some(b),
            _ => None,
        }
    }
    fn value_len(&self) -> usize {
        1
    }
    fn put_value(&self, dst: &mut BytesMut) {
        dst.put_u8(*self);
    }
}

impl TlvValue for u16 {
    fn from_value(buf: &Bytes, range: Range<usize>) -> Option<Self> {
        Some(u16::from_be_bytes(buf[range].try_into().ok()?))
    }
    fn value_len(&self) -> usize {
        2
    }
    fn put_value(&self, dst: &mut BytesMut) {
        dst.put_u16(*self);
    }
}

impl TlvValue for u32 {
    fn from_value(buf: &Bytes, range: Range<usize>) -> Option<Self> {
        Some(u32::from_be_bytes(buf[range].try_into().ok()?))
    }
    fn value_len(&self) -> usize {
        4
    }
    fn put_value(&self, dst: &mut BytesMut) {
        dst.put_u32(*self);
    }
}

impl TlvValue for MessageState {
    fn from_value(buf: &Bytes, range: Range<usize>) -> Option<Self> {
        u8::from_value(buf, range).map(MessageState)
    }
    fn value_len(&self) -> usize {
        1
    }
    fn put_value(&self, dst: &mut BytesMut) {
        dst.put_u8(self.0);
    }
}

impl TlvValue for Bytes {
    fn from_value(buf: &Bytes, range: Range<usize>) -> Option<Self> {
        Some(if range.is_empty() {
            Bytes::new()
        } else {
            buf.slice(range)
        })
    }
    fn value_len(&self) -> usize {
        self.len()
    }
    fn put_value(&self, dst: &mut BytesMut) {
        dst.put_slice(self);
    }
}

impl TlvValue for () {
    fn from_value(_buf: &Bytes, range: Range<usize>) -> Option<Self> {
        range.is_empty().then_some(())
    }
    fn value_len(&self) -> usize {
        0
    }
    fn put_value(&self, _dst: &mut BytesMut) {}
}

impl TlvValue for NetworkErrorCode {
    fn from_value(buf: &Bytes, range: Range<usize>) -> Option<Self> {
        <[u8; 3]>::try_from(&buf[range])
            .ok()
            .map(NetworkErrorCode::from)
    }
    fn value_len(&self) -> usize {
        3
    }
    fn put_value(&self, dst: &mut BytesMut) {
        dst.put_slice(&<[u8; 3]>::from(*self));
    }
}

impl<const N: usize> TlvValue for COctetString<N> {
    fn from_value(buf: &Bytes, range: Range<usize>) -> Option<Self> {
        let value = &buf[range.clone()];
        let (&last, content) = value.split_last()?;
        if last != 0 || value.len() > N || content.contains(&0) {
            return None;
        }
        Some(COctetString::from_checked(
            buf,
            range.start,
            range.start + content.len(),
        ))
    }
    fn value_len(&self) -> usize {
        self.wire_len()
    }
    fn put_value(&self, dst: &mut BytesMut) {
        super::wire::put_cstr(dst, self);
    }
}

/// The specified lengths of the variable-length octet parameters (SMPP 3.4 §5.3.2):
/// subaddresses 2 to 23 octets, callback_num 4 to 19, callback_num_atag at most 65. A value
/// outside them is kept raw, like any malformed value. Other tags are checked by their type.
fn octets_in_bounds(tag: u16, len: usize) -> bool {
    match tag {
        0x0202 | 0x0203 => (2..=23).contains(&len),
        0x0381 => (4..=19).contains(&len),
        0x0303 => len <= 65,
        _ => true,
    }
}

macro_rules! define_tlvs {
    ($(
        $(#[$doc:meta])*
        $variant:ident($ty:ty) = $tag:literal, $konst:ident, $getter:ident, $name:literal;
    )*) => {
        /// Tags of the SMPP 3.4 optional parameters.
        pub mod tag {
            $( #[doc = concat!("`", $name, "`")] pub const $konst: u16 = $tag; )*
        }

        /// One optional parameter.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Tlv {
            $( $(#[$doc])* $variant($ty), )*
            /// An unknown or vendor-specific tag, or a known tag whose value is malformed.
            Other(RawTlv),
        }

        impl Tlv {
            /// The parameter tag.
            pub fn tag(&self) -> u16 {
                match self {
                    $( Tlv::$variant(_) => $tag, )*
                    Tlv::Other(raw) => raw.tag,
                }
            }

            /// Builds the typed parameter for `tag`, or keeps it raw.
            pub fn from_raw(tag: u16, value: Bytes) -> Tlv {
                let len = value.len();
                Tlv::from_buf(tag, &value, 0..len)
            }

            /// Builds the parameter for `tag` whose value is `buf[range]`.
            pub(crate) fn from_buf(tag: u16, buf: &Bytes, range: Range<usize>) -> Tlv {
                match tag {
                    $( $tag if octets_in_bounds(tag, range.len()) => {
                        if let Some(v) = <$ty as TlvValue>::from_value(buf, range.clone()) {
                            return Tlv::$variant(v);
                        }
                    } )*
                    _ => {}
                }
                let value = if range.is_empty() { Bytes::new() } else { buf.slice(range) };
                Tlv::Other(RawTlv { tag, value })
            }

            /// Length of the value octets.
            pub fn value_len(&self) -> usize {
                match self {
                    $( Tlv::$variant(v) => TlvValue::value_len(v), )*
                    Tlv::Other(raw) => raw.value.len(),
                }
            }

            fn put_value(&self, dst: &mut BytesMut) {
                match self {
                    $( Tlv::$variant(v) => TlvValue::put_value(v, dst), )*
                    Tlv::Other(raw) => dst.put_slice(&raw.value),
                }
            }
        }

        /// The specification's name of a parameter tag, e.g. `receipted_message_id`.
        pub fn tag_name(tag: u16) -> Option<&'static str> {
            match tag {
                $( $tag => Some($name), )*
                _ => None,
            }
        }

        impl Tlvs {
            $(
                #[doc = concat!("The first `", $name, "` parameter, if present.")]
                pub fn $getter(&self) -> Option<&$ty> {
                    self.0.iter().find_map(|t| match t {
                        Tlv::$variant(v) => Some(v),
                        _ => None,
                    })
                }
            )*
        }
    };
}

define_tlvs! {
    /// Subunit of the destination (0 unknown, 1 MS display, 2 mobile equipment, 3 SIM, 4 external unit).
    DestAddrSubunit(u8) = 0x0005, DEST_ADDR_SUBUNIT, dest_addr_subunit, "dest_addr_subunit";
    /// Network type of the destination.
    DestNetworkType(u8) = 0x0006, DEST_NETWORK_TYPE, dest_network_type, "dest_network_type";
    /// Bearer type of the destination.
    DestBearerType(u8) = 0x0007, DEST_BEARER_TYPE, dest_bearer_type, "dest_bearer_type";
    /// Telematics id of the destination.
    DestTelematicsId(u16) = 0x0008, DEST_TELEMATICS_ID, dest_telematics_id, "dest_telematics_id";
    /// Subunit of the source.
    SourceAddrSubunit(u8) = 0x000D, SOURCE_ADDR_SUBUNIT, source_addr_subunit, "source_addr_subunit";
    /// Network type of the source.
    SourceNetworkType(u8) = 0x000E, SOURCE_NETWORK_TYPE, source_network_type, "source_network_type";
    /// Bearer type of the source.
    SourceBearerType(u8) = 0x000F, SOURCE_BEARER_TYPE, source_bearer_type, "source_bearer_type";
    /// Telematics id of the source.
    SourceTelematicsId(u8) = 0x0010, SOURCE_TELEMATICS_ID, source_telematics_id, "source_telematics_id";
    /// Time to live in seconds.
    QosTimeToLive(u32) = 0x0017, QOS_TIME_TO_LIVE, qos_time_to_live, "qos_time_to_live";
    /// Payload type (0 WDP, 1 WCMP).
    PayloadType(u8) = 0x0019, PAYLOAD_TYPE, payload_type, "payload_type";
    /// Free text explaining a command_status (at most 256 octets with NUL).
    AdditionalStatusInfoText(COctetString<256>) = 0x001D, ADDITIONAL_STATUS_INFO_TEXT, additional_status_info_text, "additional_status_info_text";
    /// Message id of the message a receipt refers to (at most 65 octets with NUL).
    ReceiptedMessageId(COctetString<65>) = 0x001E, RECEIPTED_MESSAGE_ID, receipted_message_id, "receipted_message_id";
    /// Message waiting indication.
    MsMsgWaitFacilities(u8) = 0x0030, MS_MSG_WAIT_FACILITIES, ms_msg_wait_facilities, "ms_msg_wait_facilities";
    /// Privacy level (0 not restricted .. 3 secret).
    PrivacyIndicator(u8) = 0x0201, PRIVACY_INDICATOR, privacy_indicator, "privacy_indicator";
    /// Source subaddress (2..=23 octets in the specification).
    SourceSubaddress(Bytes) = 0x0202, SOURCE_SUBADDRESS, source_subaddress, "source_subaddress";
    /// Destination subaddress (2..=23 octets in the specification).
    DestSubaddress(Bytes) = 0x0203, DEST_SUBADDRESS, dest_subaddress, "dest_subaddress";
    /// ESME-assigned message reference.
    UserMessageReference(u16) = 0x0204, USER_MESSAGE_REFERENCE, user_message_reference, "user_message_reference";
    /// Application response code.
    UserResponseCode(u8) = 0x0205, USER_RESPONSE_CODE, user_response_code, "user_response_code";
    /// Application port of the source.
    SourcePort(u16) = 0x020A, SOURCE_PORT, source_port, "source_port";
    /// Application port of the destination.
    DestinationPort(u16) = 0x020B, DESTINATION_PORT, destination_port, "destination_port";
    /// Reference number of a concatenated (SAR) message.
    SarMsgRefNum(u16) = 0x020C, SAR_MSG_REF_NUM, sar_msg_ref_num, "sar_msg_ref_num";
    /// Language of the short message.
    LanguageIndicator(u8) = 0x020D, LANGUAGE_INDICATOR, language_indicator, "language_indicator";
    /// Number of segments of a concatenated (SAR) message.
    SarTotalSegments(u8) = 0x020E, SAR_TOTAL_SEGMENTS, sar_total_segments, "sar_total_segments";
    /// Sequence number (from 1) of this segment of a concatenated (SAR) message.
    SarSegmentSeqnum(u8) = 0x020F, SAR_SEGMENT_SEQNUM, sar_segment_seqnum, "sar_segment_seqnum";
    /// SMPP version supported by the SMSC (bind responses).
    ScInterfaceVersion(u8) = 0x0210, SC_INTERFACE_VERSION, sc_interface_version, "sc_interface_version";
    /// Callback number presentation and screening.
    CallbackNumPresInd(u8) = 0x0302, CALLBACK_NUM_PRES_IND, callback_num_pres_ind, "callback_num_pres_ind";
    /// Alphanumeric tag of the callback number (at most 65 octets in the specification).
    CallbackNumAtag(Bytes) = 0x0303, CALLBACK_NUM_ATAG, callback_num_atag, "callback_num_atag";
    /// Number of messages waiting in the mailbox.
    NumberOfMessages(u8) = 0x0304, NUMBER_OF_MESSAGES, number_of_messages, "number_of_messages";
    /// Callback number (4..=19 octets in the specification).
    CallbackNum(Bytes) = 0x0381, CALLBACK_NUM, callback_num, "callback_num";
    /// Whether a delivery pending flag was set.
    DpfResult(u8) = 0x0420, DPF_RESULT, dpf_result, "dpf_result";
    /// Request to set the delivery pending flag.
    SetDpf(u8) = 0x0421, SET_DPF, set_dpf, "set_dpf";
    /// Mobile station availability (alert_notification).
    MsAvailabilityStatus(u8) = 0x0422, MS_AVAILABILITY_STATUS, ms_availability_status, "ms_availability_status";
    /// Network-specific error (network type and code).
    NetworkErrorCode(NetworkErrorCode) = 0x0423, NETWORK_ERROR_CODE, network_error_code, "network_error_code";
    /// The message text, instead of short_message (up to 64 KiB).
    MessagePayload(Bytes) = 0x0424, MESSAGE_PAYLOAD, message_payload, "message_payload";
    /// Reason for a data_sm delivery failure.
    DeliveryFailureReason(u8) = 0x0425, DELIVERY_FAILURE_REASON, delivery_failure_reason, "delivery_failure_reason";
    /// More messages follow for the same destination.
    MoreMessagesToSend(u8) = 0x0426, MORE_MESSAGES_TO_SEND, more_messages_to_send, "more_messages_to_send";
    /// Final state of the message a receipt refers to.
    MessageState(MessageState) = 0x0427, MESSAGE_STATE, message_state, "message_state";
    /// USSD service operation.
    UssdServiceOp(u8) = 0x0501, USSD_SERVICE_OP, ussd_service_op, "ussd_service_op";
    /// Display time indication.
    DisplayTime(u8) = 0x1201, DISPLAY_TIME, display_time, "display_time";
    /// Alerting tone (sms_signal).
    SmsSignal(u16) = 0x1203, SMS_SIGNAL, sms_signal, "sms_signal";
    /// Validity information for the message on the mobile station.
    MsValidity(u8) = 0x1204, MS_VALIDITY, ms_validity, "ms_validity";
    /// Request to alert the user on delivery (no value).
    AlertOnMessageDelivery(()) = 0x130C, ALERT_ON_MESSAGE_DELIVERY, alert_on_message_delivery, "alert_on_message_delivery";
    /// Reply method for interactive teleservice.
    ItsReplyType(u8) = 0x1380, ITS_REPLY_TYPE, its_reply_type, "its_reply_type";
    /// Interactive teleservice session: session number (high octet) and sequence (low octet).
    ItsSessionInfo(u16) = 0x1383, ITS_SESSION_INFO, its_session_info, "its_session_info";
}

impl Tlv {
    /// Octets this parameter occupies on the wire (tag, length and value).
    pub fn wire_len(&self) -> usize {
        4 + self.value_len()
    }
}

/// The optional parameters of one PDU, in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tlvs(pub Vec<Tlv>);

impl Tlvs {
    /// No parameters.
    pub const fn new() -> Self {
        Tlvs(Vec::new())
    }

    /// Appends a parameter.
    pub fn push(&mut self, tlv: Tlv) {
        self.0.push(tlv);
    }

    /// Appends a parameter (builder style).
    pub fn with(mut self, tlv: Tlv) -> Self {
        self.0.push(tlv);
        self
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The parameters in wire order.
    pub fn iter(&self) -> std::slice::Iter<'_, Tlv> {
        self.0.iter()
    }

    /// The first parameter with `tag`, typed or raw.
    pub fn get(&self, tag: u16) -> Option<&Tlv> {
        self.0.iter().find(|t| t.tag() == tag)
    }

    /// Octets all parameters occupy on the wire; errors if a value exceeds 65535 octets.
    pub(crate) fn wire_len(&self) -> Result<usize, CodecError> {
        let mut total = 0;
        for tlv in &self.0 {
            let len = tlv.value_len();
            if len > usize::from(u16::MAX) {
                return Err(CodecError::TlvTooLong {
                    tag: tlv.tag(),
                    len,
                });
            }
            total += 4 + len;
        }
        Ok(total)
    }

    /// Writes all parameters; lengths must have been checked by [`Tlvs::wire_len`].
    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        for tlv in &self.0 {
            dst.put_u16(tlv.tag());
            // Checked by `wire_len` before any octet of the PDU is written.
            dst.put_u16(tlv.value_len() as u16);
            tlv.put_value(dst);
        }
    }

    /// Reads parameters until the end of the body.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Tlvs, CodecError> {
        if r.is_empty() {
            return Ok(Tlvs::new());
        }
        let mut tlvs = Vec::with_capacity(4);
        while !r.is_empty() {
            let tag = r.u16("optional parameter tag")?;
            let len = r.u16("optional parameter length")?;
            let (buf, range) = r.range(usize::from(len), "optional parameter value")?;
            tlvs.push(Tlv::from_buf(tag, buf, range));
        }
        Ok(Tlvs(tlvs))
    }
}

impl From<Vec<Tlv>> for Tlvs {
    fn from(value: Vec<Tlv>) -> Self {
        Tlvs(value)
    }
}

impl FromIterator<Tlv> for Tlvs {
    fn from_iter<I: IntoIterator<Item = Tlv>>(iter: I) -> Self {
        Tlvs(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Tlvs {
    type Item = &'a Tlv;
    type IntoIter = std::slice::Iter<'a, Tlv>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_TAGS: [u16; 44] = [
        0x0005, 0x0006, 0x0007, 0x0008, 0x000D, 0x000E, 0x000F, 0x0010, 0x0017, 0x0019, 0x001D,
        0x001E, 0x0030, 0x0201, 0x0202, 0x0203, 0x0204, 0x0205, 0x020A, 0x020B, 0x020C, 0x020D,
        0x020E, 0x020F, 0x0210, 0x0302, 0x0303, 0x0304, 0x0381, 0x0420, 0x0421, 0x0422, 0x0423,
        0x0424, 0x0425, 0x0426, 0x0427, 0x0501, 0x1201, 0x1203, 0x1204, 0x130C, 0x1380, 0x1383,
    ];

    /// A value of the specified length for each tag (octet strings: three octets).
    fn valid_value(tag: u16) -> Bytes {
        match tag {
            0x0008 | 0x0204 | 0x020A | 0x020B | 0x020C | 0x1203 | 0x1383 => {
                Bytes::from_static(&[1, 2])
            }
            0x0017 => Bytes::from_static(&[1, 2, 3, 4]),
            0x001D | 0x001E => Bytes::from_static(b"ab\0"),
            0x0202 | 0x0203 | 0x0303 | 0x0424 => Bytes::from_static(b"xyz"),
            0x0381 => Bytes::from_static(b"0244"),
            0x0423 => Bytes::from_static(&[3, 0, 1]),
            0x130C => Bytes::new(),
            _ => Bytes::from_static(&[7]),
        }
    }

    #[test]
    fn every_specified_tag_is_typed_and_named() {
        for tag in ALL_TAGS {
            let tlv = Tlv::from_raw(tag, valid_value(tag));
            assert!(!matches!(tlv, Tlv::Other(_)), "0x{tag:04X} not typed");
            assert_eq!(tlv.tag(), tag);
            assert_eq!(tlv.value_len(), valid_value(tag).len());
            assert!(tag_name(tag).is_some());
        }
        assert_eq!(tag_name(0x1400), None);
    }

    #[test]
    fn wrong_lengths_stay_raw() {
        for tag in ALL_TAGS {
            let mut bad = valid_value(tag).to_vec();
            bad.extend_from_slice(&[0, 0, 0, 0, 0]);
            let variable = matches!(tag, 0x0202 | 0x0203 | 0x0303 | 0x0381 | 0x0424);
            let tlv = Tlv::from_raw(tag, Bytes::from(bad));
            assert_eq!(
                matches!(tlv, Tlv::Other(_)),
                !variable,
                "0x{tag:04X}: {tlv:?}"
            );
        }
    }

    #[test]
    fn octet_parameters_outside_their_specified_lengths_stay_raw() {
        let raw = |tag: u16, len: usize| {
            matches!(
                Tlv::from_raw(tag, Bytes::from(vec![b'1'; len])),
                Tlv::Other(_)
            )
        };
        for (tag, min, max) in [
            (tag::SOURCE_SUBADDRESS, 2, 23),
            (tag::DEST_SUBADDRESS, 2, 23),
            (tag::CALLBACK_NUM, 4, 19),
            (tag::CALLBACK_NUM_ATAG, 0, 65),
        ] {
            assert!(!raw(tag, min) && !raw(tag, max), "0x{tag:04X} in bounds");
            assert!(raw(tag, max + 1), "0x{tag:04X} too long");
            if min > 0 {
                assert!(raw(tag, min - 1), "0x{tag:04X} too short");
            }
        }
        assert!(!raw(tag::MESSAGE_PAYLOAD, 1000));
    }

    #[test]
    fn c_string_parameters_need_one_trailing_nul() {
        let id = |v: &'static [u8]| Tlv::from_raw(tag::RECEIPTED_MESSAGE_ID, Bytes::from_static(v));
        assert!(matches!(id(b"abc\0"), Tlv::ReceiptedMessageId(s) if s == "abc"));
        assert!(matches!(id(b"abc"), Tlv::Other(_)));
        assert!(matches!(id(b"a\0c\0"), Tlv::Other(_)));
        assert!(matches!(id(b""), Tlv::Other(_)));
        let long = Bytes::from([&[b'9'; 64][..], b"\0"].concat());
        assert!(matches!(
            Tlv::from_raw(tag::RECEIPTED_MESSAGE_ID, long.clone()),
            Tlv::ReceiptedMessageId(_)
        ));
        let too_long = Bytes::from([&[b'9'; 65][..], b"\0"].concat());
        assert!(matches!(
            Tlv::from_raw(tag::RECEIPTED_MESSAGE_ID, too_long),
            Tlv::Other(_)
        ));
    }

    #[test]
    fn getters_find_the_first_occurrence() {
        let tlvs = Tlvs::new()
            .with(Tlv::SarMsgRefNum(9))
            .with(Tlv::SarTotalSegments(3))
            .with(Tlv::SarSegmentSeqnum(2))
            .with(Tlv::SarSegmentSeqnum(5));
        assert_eq!(tlvs.sar_msg_ref_num(), Some(&9));
        assert_eq!(tlvs.sar_total_segments(), Some(&3));
        assert_eq!(tlvs.sar_segment_seqnum(), Some(&2));
        assert_eq!(tlvs.message_payload(), None);
        assert_eq!(
            tlvs.get(tag::SAR_SEGMENT_SEQNUM),
            Some(&Tlv::SarSegmentSeqnum(2))
        );
    }
}
