//! What the simulator delivers to ESMEs: receipts and MO messages, as deliver_sm bodies.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use chrono::{DateTime, Utc};
use connector::protocol::codec::{
    esm_class, Address, COctetString, DeliverSm, NetworkErrorCode, Tlv, Tlvs,
};
use connector::protocol::text::{decode_message, Content, DecodedMessage};

use super::config::{ReceiptFormat, ReceiptTextId};
use super::message_id::MessageId;
use super::outcome::Outcome;

/// Network type of the network_error_code TLV: GSM.
const NETWORK_GSM: u8 = 3;

/// A delivery receipt waiting to be sent.
#[derive(Debug, Clone)]
pub struct ReceiptJob {
    /// The id given in the submit response.
    pub message_id: MessageId,
    /// Form of the id in the text.
    pub text_id: ReceiptTextId,
    /// The final state reported.
    pub outcome: Outcome,
    /// The receipt's source: the original destination.
    pub source: Address<21>,
    /// The receipt's destination: the original source.
    pub dest: Address<21>,
    /// When the message was submitted.
    pub submitted_at: DateTime<Utc>,
    /// The first (at most 20) characters of the message.
    pub text: Bytes,
    /// Text, TLVs or both.
    pub format: ReceiptFormat,
}

/// A mobile-originated message to inject (a deliver_sm that is not a receipt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoMessage {
    /// The ESME account (system_id) whose receiver gets it.
    pub system_id: String,
    /// Sender (the subscriber).
    pub source: Address<21>,
    /// Recipient (the ESME's short code).
    pub dest: Address<21>,
    /// data_coding of the text.
    pub data_coding: u8,
    /// esm_class (0 for a plain MO; set UDHI 0x40 for a UDH in the text).
    pub esm_class: u8,
    /// The message (at most 254 octets; use `tlvs` with message_payload for more).
    pub short_message: Bytes,
    /// Extra optional parameters.
    pub tlvs: Tlvs,
}

impl MoMessage {
    /// A plain GSM-default text MO from `from` to `to` for the ESME `system_id`.
    pub fn text(system_id: &str, from: &str, to: &str, text: &str) -> Result<Self, String> {
        let addr = |a: &str| {
            COctetString::try_from(a)
                .map(|s| Address::new(1, 1, s))
                .map_err(|e| format!("address `{a}`: {e}"))
        };
        if text.len() > connector::protocol::codec::MAX_SHORT_MESSAGE_LEN {
            return Err(format!("text of {} octets is longer than 254", text.len()));
        }
        Ok(MoMessage {
            system_id: system_id.to_owned(),
            source: addr(from)?,
            dest: addr(to)?,
            data_coding: 0,
            esm_class: 0,
            short_message: Bytes::copy_from_slice(text.as_bytes()),
            tlvs: Tlvs::new(),
        })
    }
}

/// What one delivery carries.
#[derive(Debug, Clone)]
pub enum DeliveryKind {
    /// A delivery receipt.
    Receipt(ReceiptJob),
    /// An MO message.
    Mo(MoMessage),
}

/// A deliver_sm to send to a receiver of `system_id`, with its attempt count.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The ESME account it goes to.
    pub system_id: Arc<str>,
    /// Receipt or MO.
    pub kind: DeliveryKind,
    /// Attempts made so far.
    pub attempts: u32,
}

impl Delivery {
    /// Whether this is a receipt.
    pub fn is_receipt(&self) -> bool {
        matches!(self.kind, DeliveryKind::Receipt(_))
    }

    /// The SMSC message id a receipt reports (`None` for MO).
    pub fn receipt_id(&self) -> Option<&str> {
        match &self.kind {
            DeliveryKind::Receipt(r) => Some(r.message_id.as_str()),
            DeliveryKind::Mo(_) => None,
        }
    }

    /// The deliver_sm body, with the done date `now` for receipts.
    pub fn to_deliver_sm(&self, now: DateTime<Utc>) -> DeliverSm {
        match &self.kind {
            DeliveryKind::Receipt(r) => r.to_deliver_sm(now),
            DeliveryKind::Mo(m) => DeliverSm {
                source: m.source.clone(),
                dest: m.dest.clone(),
                esm_class: m.esm_class,
                data_coding: m.data_coding,
                short_message: m.short_message.clone(),
                tlvs: m.tlvs.clone(),
                ..DeliverSm::default()
            },
        }
    }
}

impl ReceiptJob {
    /// The id as written in the text.
    pub fn text_id(&self) -> String {
        match self.text_id {
            ReceiptTextId::Same => self.message_id.as_str().to_owned(),
            ReceiptTextId::Decimal => self.message_id.decimal(),
        }
    }

    /// The standard receipt text (SMPP 3.4 appendix B).
    pub fn text(&self, done: DateTime<Utc>) -> Bytes {
        let dlvrd = u8::from(self.outcome.is_delivered());
        let mut out = BytesMut::with_capacity(160);
        out.put_slice(
            format!(
                "id:{} sub:001 dlvrd:{:03} submit date:{} done date:{} stat:{} err:{:03} text:",
                self.text_id(),
                dlvrd,
                self.submitted_at.format("%y%m%d%H%M"),
                done.format("%y%m%d%H%M"),
                self.outcome.stat(),
                self.outcome.error_code(),
            )
            .as_bytes(),
        );
        out.put_slice(&self.text);
        out.freeze()
    }

    /// The deliver_sm body.
    pub fn to_deliver_sm(&self, done: DateTime<Utc>) -> DeliverSm {
        let mut tlvs = Tlvs::new();
        if self.format != ReceiptFormat::Text {
            if let Ok(id) = COctetString::try_from(self.message_id.as_bytes()) {
                tlvs.push(Tlv::ReceiptedMessageId(id));
            }
            tlvs.push(Tlv::MessageState(self.outcome.message_state()));
            if self.outcome.error_code() != 0 {
                tlvs.push(Tlv::NetworkErrorCode(NetworkErrorCode {
                    network_type: NETWORK_GSM,
                    error_code: self.outcome.error_code(),
                }));
            }
        }
        let short_message = match self.format {
            ReceiptFormat::Tlv => Bytes::new(),
            _ => self.text(done),
        };
        DeliverSm {
            source: self.source.clone(),
            dest: self.dest.clone(),
            esm_class: esm_class::TYPE_DELIVERY_RECEIPT,
            short_message,
            tlvs,
            ..DeliverSm::default()
        }
    }
}

/// The first 20 characters of a message for the receipt's `text:` field (SMPP 3.4 appendix
/// B): the message decoded by its data_coding (GSM-7 unpacked, IA5, Latin-1 or UCS-2; UDH
/// skipped), keeping the characters whose code is the same in GSM-7 and ASCII, so that the
/// receipt reads the same whichever way the ESME decodes it. Nothing for binary messages.
pub fn receipt_text(data_coding: u8, udhi: bool, message: &[u8]) -> Bytes {
    let text = match decode_message(data_coding, udhi, message, false) {
        Ok(DecodedMessage {
            content: Content::Text(text),
            ..
        }) => text,
        _ => return Bytes::new(),
    };
    text.chars()
        .take(20)
        .filter(|c| c.is_ascii_alphanumeric() || " !\"#%&'()*+,-./:;<=>?".contains(*c))
        .map(|c| c as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// Copies an address so that it does not keep the read buffer alive.
pub fn owned_address<const N: usize, const M: usize>(a: &Address<N>) -> Address<M> {
    let addr = COctetString::try_from(a.addr.as_bytes()).unwrap_or_default();
    Address::new(a.ton, a.npi, addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::message_id::IdForm;
    use chrono::TimeZone;

    fn job(format: ReceiptFormat, outcome: Outcome) -> ReceiptJob {
        ReceiptJob {
            message_id: IdForm::Hex.format(0xabc),
            text_id: ReceiptTextId::Decimal,
            outcome,
            source: Address::default(),
            dest: Address::default(),
            submitted_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            text: Bytes::from_static(b"hello"),
            format,
        }
    }

    #[test]
    fn text_has_the_standard_form() {
        let done = Utc.with_ymd_and_hms(2026, 1, 2, 3, 5, 0).unwrap();
        let text = job(ReceiptFormat::Both, Outcome::Undeliv).text(done);
        assert_eq!(
            &text[..],
            b"id:2748 sub:001 dlvrd:000 submit date:2601020304 done date:2601020305 stat:UNDELIV err:001 text:hello"
        );
    }

    #[test]
    fn tlv_form_has_no_text() {
        let sm = job(ReceiptFormat::Tlv, Outcome::Expired).to_deliver_sm(Utc::now());
        assert!(sm.short_message.is_empty());
        assert_eq!(sm.tlvs.receipted_message_id().unwrap(), "abc");
        assert_eq!(
            sm.tlvs.message_state(),
            Some(&connector::protocol::codec::MessageState::EXPIRED)
        );
        assert_eq!(sm.esm_class, esm_class::TYPE_DELIVERY_RECEIPT);
    }

    #[test]
    fn receipt_text_decodes_the_message_and_skips_udh_and_binary() {
        assert_eq!(
            &receipt_text(0, true, b"\x05\x00\x03\x01\x02\x01abc")[..],
            b"abc"
        );
        // GSM-7: '_' is 0x11 and '@' 0x00 (not ASCII); letters count as characters.
        assert_eq!(
            &receipt_text(0, false, b"data\x11sm \x00 12345678901234567890")[..],
            b"datasm  1234567890"
        );
        // UCS-2 is decoded: "Ɛte sɛn? 5".
        let ucs2: Vec<u8> = "Ɛte sɛn? 5"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert_eq!(&receipt_text(8, false, &ucs2)[..], b"te sn? 5");
        assert!(receipt_text(4, false, b"\x00a").is_empty());
        // Not decodable (odd UCS-2 length): no text rather than garbage.
        assert!(receipt_text(8, false, b"\x00a\x00").is_empty());
    }
}
