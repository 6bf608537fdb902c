//! Long messages: one short message when the text fits, otherwise segments joined by a
//! concatenation UDH (8-bit or 16-bit reference) or by the SAR TLVs, or the whole message in
//! one message_payload TLV.
//!
//! Segments are cut only between characters, so a GSM escape pair or a UTF-16 surrogate pair
//! is never split. A short message carries at most 140 octets of user data; every UDH element
//! present (concatenation, shift tables) is taken from that room. SAR segments also leave
//! room for the 7-octet concatenation UDH (16-bit reference, as `sar_msg_ref_num` is 16-bit)
//! that the SMSC builds from the TLVs.

use bytes::Bytes;
use crds::config::{EncodingConfig, SplitMethod};

use super::gsm::pack;
use super::udh::{InformationElement, Udh};
use super::{decode_message, Content, DecodeError, GsmTables};

/// Most segments of one message (the concatenation counters are octets).
pub const MAX_SEGMENTS: usize = 255;
/// Octets of user data in one short message.
pub const SM_OCTETS: usize = 140;
/// Most octets in a message_payload TLV.
pub const MAX_PAYLOAD_OCTETS: usize = 65_535;
/// UDH octets reserved in SAR segments for the SMSC's concatenation header.
const SAR_RESERVED_IE_OCTETS: usize = 6;

/// Size of the concatenation reference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReferenceBits {
    /// IEI 0x00, one octet (the low 8 bits of the caller's reference are used).
    #[default]
    Eight,
    /// IEI 0x08, two octets.
    Sixteen,
}

/// How a message is cut and carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SplitPolicy {
    /// UDH, SAR or message_payload.
    pub method: SplitMethod,
    /// Reference size of UDH concatenation.
    pub reference_bits: ReferenceBits,
    /// GSM-7 sent packed instead of one septet per octet.
    pub gsm7_packed: bool,
}

impl SplitPolicy {
    /// The policy of the connector's encoding configuration.
    pub fn from_config(config: &EncodingConfig) -> Result<Self, SplitError> {
        let reference_bits = match config.reference_bits {
            8 => ReferenceBits::Eight,
            16 => ReferenceBits::Sixteen,
            other => return Err(SplitError::InvalidReferenceBits(other)),
        };
        Ok(SplitPolicy {
            method: config.split,
            reference_bits,
            gsm7_packed: config.gsm7_packed,
        })
    }
}

/// The SAR TLV values of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sar {
    /// sar_msg_ref_num.
    pub reference: u16,
    /// sar_total_segments.
    pub total: u8,
    /// sar_segment_seqnum, from 1.
    pub seq: u8,
}

/// Where the user data goes in the PDU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserData {
    /// The short_message field (at most 140 octets of user data here).
    ShortMessage(Bytes),
    /// The message_payload TLV (short_message empty).
    MessagePayload(Bytes),
}

impl UserData {
    /// The octets, UDH included.
    pub fn bytes(&self) -> &Bytes {
        match self {
            UserData::ShortMessage(b) | UserData::MessagePayload(b) => b,
        }
    }
}

/// One PDU's worth of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Number of this segment, from 1.
    pub index: u8,
    /// Number of segments of the message.
    pub count: u8,
    /// data_coding of the PDU.
    pub data_coding: u8,
    /// Whether esm_class must have UDHI (0x40) set: the user data starts with a UDH.
    pub esm_udhi: bool,
    /// UDH and encoded text.
    pub user_data: UserData,
    /// SAR TLVs to add, for SAR splitting of a message of several segments.
    pub sar: Option<Sar>,
}

impl Segment {
    /// The short_message octets (empty when the data goes in message_payload).
    pub fn short_message(&self) -> &[u8] {
        match &self.user_data {
            UserData::ShortMessage(b) => b,
            UserData::MessagePayload(_) => &[],
        }
    }

    /// Octets of user data once on the air (the SMS TPDU): unpacked GSM-7 septets count
    /// seven bits each after the UDH's fill bits. At most 140 for a short message.
    pub fn air_octets(&self, gsm7_packed: bool) -> usize {
        let bytes = self.user_data.bytes();
        let gsm_unpacked = !gsm7_packed
            && super::Alphabet::from_data_coding(self.data_coding) == Ok(super::Alphabet::Gsm7);
        if !gsm_unpacked {
            return bytes.len();
        }
        let udh_len = if self.esm_udhi {
            bytes
                .first()
                .map_or(0, |&l| (usize::from(l) + 1).min(bytes.len()))
        } else {
            0
        };
        udh_len + pack::packed_len(bytes.len() - udh_len, pack::fill_bits(udh_len))
    }

    /// The message_payload octets, if the data goes there.
    pub fn message_payload(&self) -> Option<&[u8]> {
        match &self.user_data {
            UserData::ShortMessage(_) => None,
            UserData::MessagePayload(b) => Some(b),
        }
    }
}

/// Why a message cannot be cut.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// More than 255 segments.
    #[error("the message needs {needed} segments; at most 255 are allowed")]
    TooManySegments {
        /// Segments it would need.
        needed: usize,
    },
    /// More than 65 535 octets for message_payload.
    #[error("the message takes {octets} octets; message_payload holds at most 65535")]
    PayloadTooLong {
        /// Octets it would take.
        octets: usize,
    },
    /// reference_bits other than 8 or 16.
    #[error("referenceBits {0} must be 8 or 16")]
    InvalidReferenceBits(u8),
}

/// What a unit of encoded text is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnitKind {
    /// GSM septets, one per octet.
    Septet,
    /// UTF-16BE octets.
    Ucs2,
    /// Octets (Latin-1, binary).
    Octet,
}

/// Encoded text with the boundaries of its characters.
pub(crate) struct EncodedText<'a> {
    /// The encoded octets (septets for GSM).
    pub bytes: &'a [u8],
    /// Offsets of character boundaries: `n + 1` values from 0 to `bytes.len()`;
    /// `None` when every octet is a unit.
    pub offsets: Option<&'a [usize]>,
    pub kind: UnitKind,
    pub tables: GsmTables,
    pub data_coding: u8,
}

impl EncodedText<'_> {
    fn units(&self) -> usize {
        match self.offsets {
            Some(o) => o.len().saturating_sub(1),
            None => self.bytes.len(),
        }
    }

    fn offset(&self, unit: usize) -> usize {
        match self.offsets {
            Some(o) => o[unit],
            None => unit,
        }
    }

    fn span(&self, start: usize, end: usize) -> &[u8] {
        &self.bytes[self.offset(start)..self.offset(end)]
    }

    fn packed_fill(&self, policy: &SplitPolicy, udh_len: usize) -> Option<u8> {
        (self.kind == UnitKind::Septet && policy.gsm7_packed).then(|| pack::fill_bits(udh_len))
    }
}

/// How the message is carried, with the unit ranges of each segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    Single,
    Concat(Vec<(usize, usize)>),
    Payload,
}

impl Layout {
    pub(crate) fn count(&self) -> usize {
        match self {
            Layout::Single | Layout::Payload => 1,
            Layout::Concat(chunks) => chunks.len(),
        }
    }
}

fn udh_len(ie_octets: usize) -> usize {
    if ie_octets == 0 {
        0
    } else {
        1 + ie_octets
    }
}

fn capacity(kind: UnitKind, udh_len: usize) -> usize {
    match kind {
        UnitKind::Septet => (SM_OCTETS - udh_len) * 8 / 7,
        UnitKind::Ucs2 => (SM_OCTETS - udh_len) & !1,
        UnitKind::Octet => SM_OCTETS - udh_len,
    }
}

fn concat_ie_octets(bits: ReferenceBits) -> usize {
    match bits {
        ReferenceBits::Eight => 5,
        ReferenceBits::Sixteen => 6,
    }
}

/// Whether units `start..end` fit in `cap`, packed rules included (see [`pack`]).
fn fits(text: &EncodedText, start: usize, end: usize, cap: usize, fill: Option<u8>) -> bool {
    let span = text.span(start, end);
    match fill {
        Some(fill) => pack::packed_septets(span, fill) <= cap,
        None => span.len() <= cap,
    }
}

/// Greedy cut into segments of at most `cap` units' octets.
fn cut(text: &EncodedText, cap: usize, fill: Option<u8>) -> Vec<(usize, usize)> {
    let n = text.units();
    let mut chunks = Vec::with_capacity(n / cap.max(1) + 1);
    let mut start = 0;
    while start < n {
        let base = text.offset(start);
        let mut end = start;
        while end < n && text.offset(end + 1) - base <= cap {
            end += 1;
        }
        if end == start {
            end = start + 1;
        }
        if let Some(fill) = fill {
            // Packed: a non-final segment must not end in a CR on an octet boundary (it would
            // read as padding), and the final one must have room for the second CR.
            while end - start > 1 {
                let span = text.span(start, end);
                let ok = if end == n {
                    pack::packed_septets(span, fill) <= cap
                } else {
                    !pack::ends_with_boundary_cr(span, fill)
                };
                if ok {
                    break;
                }
                end -= 1;
            }
        }
        chunks.push((start, end));
        start = end;
    }
    chunks
}

/// A lower bound on the segments of `chars` characters in units of `kind` (every character
/// takes at least one septet, two UCS-2 octets or one octet).
pub(crate) fn min_segments(
    chars: usize,
    kind: UnitKind,
    tables: GsmTables,
    policy: &SplitPolicy,
) -> usize {
    if policy.method == SplitMethod::Payload {
        return 1;
    }
    let per_char = if kind == UnitKind::Ucs2 { 2 } else { 1 };
    let shift = tables.udh_ie_octets();
    if chars <= capacity(kind, udh_len(shift)) / per_char {
        return 1;
    }
    let cap_udh = match policy.method {
        SplitMethod::Sar => udh_len(shift + SAR_RESERVED_IE_OCTETS),
        _ => udh_len(shift + concat_ie_octets(policy.reference_bits)),
    };
    let per_segment = (capacity(kind, cap_udh) / per_char).max(1);
    chars.div_ceil(per_segment).max(2)
}

/// How `text` is carried under `policy`.
pub(crate) fn layout(text: &EncodedText, policy: &SplitPolicy) -> Result<Layout, SplitError> {
    let shift = text.tables.udh_ie_octets();
    let n = text.units();
    if policy.method == SplitMethod::Payload {
        let header = udh_len(shift);
        let body = match text.packed_fill(policy, header) {
            Some(fill) => pack::packed_len(pack::packed_septets(text.bytes, fill), fill),
            None => text.bytes.len(),
        };
        let octets = header + body;
        if octets > MAX_PAYLOAD_OCTETS {
            return Err(SplitError::PayloadTooLong { octets });
        }
        return Ok(Layout::Payload);
    }
    let single_udh = udh_len(shift);
    let single_fill = text.packed_fill(policy, single_udh);
    if fits(text, 0, n, capacity(text.kind, single_udh), single_fill) {
        return Ok(Layout::Single);
    }
    let (cap_udh, sent_udh) = match policy.method {
        SplitMethod::Sar => (udh_len(shift + SAR_RESERVED_IE_OCTETS), udh_len(shift)),
        _ => {
            let len = udh_len(shift + concat_ie_octets(policy.reference_bits));
            (len, len)
        }
    };
    let chunks = cut(
        text,
        capacity(text.kind, cap_udh),
        text.packed_fill(policy, sent_udh),
    );
    if chunks.len() > MAX_SEGMENTS {
        return Err(SplitError::TooManySegments {
            needed: chunks.len(),
        });
    }
    Ok(Layout::Concat(chunks))
}

fn body_into(text: &EncodedText, policy: &SplitPolicy, udh: &Udh, span: &[u8]) -> Bytes {
    let udh_len = udh.encoded_len();
    let mut out = Vec::with_capacity(udh_len + span.len() + 1);
    udh.encode_into(&mut out);
    match text.packed_fill(policy, udh_len) {
        Some(fill) => pack::pack_into(span, fill, &mut out),
        None => out.extend_from_slice(span),
    }
    Bytes::from(out)
}

/// The segments of `text` laid out as `layout`.
pub(crate) fn build(
    text: &EncodedText,
    policy: &SplitPolicy,
    layout: &Layout,
    reference: u16,
) -> Vec<Segment> {
    let shift_only = Udh::new(None, text.tables);
    let whole = |user_data: fn(Bytes) -> UserData| {
        let bytes = body_into(text, policy, &shift_only, text.bytes);
        vec![Segment {
            index: 1,
            count: 1,
            data_coding: text.data_coding,
            esm_udhi: !shift_only.is_empty(),
            user_data: user_data(bytes),
            sar: None,
        }]
    };
    match layout {
        Layout::Single => whole(UserData::ShortMessage),
        Layout::Payload => whole(UserData::MessagePayload),
        Layout::Concat(chunks) => {
            let total = chunks.len() as u8;
            chunks
                .iter()
                .enumerate()
                .map(|(i, &(start, end))| {
                    let seq = (i + 1) as u8;
                    let (udh, sar) = match policy.method {
                        SplitMethod::Sar => (
                            Udh::new(None, text.tables),
                            Some(Sar {
                                reference,
                                total,
                                seq,
                            }),
                        ),
                        _ => {
                            let ie = match policy.reference_bits {
                                ReferenceBits::Eight => InformationElement::Concat8 {
                                    reference: reference as u8,
                                    total,
                                    seq,
                                },
                                ReferenceBits::Sixteen => InformationElement::Concat16 {
                                    reference,
                                    total,
                                    seq,
                                },
                            };
                            (Udh::new(Some(ie), text.tables), None)
                        }
                    };
                    let bytes = body_into(text, policy, &udh, text.span(start, end));
                    Segment {
                        index: seq,
                        count: total,
                        data_coding: text.data_coding,
                        esm_udhi: !udh.is_empty(),
                        user_data: UserData::ShortMessage(bytes),
                        sar,
                    }
                })
                .collect()
        }
    }
}

/// Cuts binary user data (`data_coding` 0x02, 0x04 or another binary value) into segments.
/// `reference` is the concatenation reference chosen by the caller.
pub fn split_binary(
    data: &[u8],
    data_coding: u8,
    policy: &SplitPolicy,
    reference: u16,
) -> Result<Vec<Segment>, SplitError> {
    let text = EncodedText {
        bytes: data,
        offsets: None,
        kind: UnitKind::Octet,
        tables: GsmTables::DEFAULT,
        data_coding,
    };
    let layout = layout(&text, policy)?;
    Ok(build(&text, policy, &layout, reference))
}

/// Why segments could not be joined back into a text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// No segment.
    #[error("no segment to join")]
    Empty,
    /// Segment numbers or counts do not form 1..=count.
    #[error("segments do not form a complete message: {0}")]
    Incomplete(String),
    /// A segment did not decode.
    #[error("segment {index}: {source}")]
    Decode {
        /// The segment's index.
        index: u8,
        /// Why.
        source: DecodeError,
    },
    /// A segment is binary.
    #[error("segment {0} is binary, not text")]
    NotText(u8),
}

/// Decodes and joins the segments of one message (in any order) back into its text.
pub fn join(segments: &[Segment], gsm7_packed: bool) -> Result<String, JoinError> {
    let first = segments.first().ok_or(JoinError::Empty)?;
    let count = usize::from(first.count);
    if segments.len() != count {
        return Err(JoinError::Incomplete(format!(
            "{} segments for a count of {count}",
            segments.len()
        )));
    }
    let mut ordered: Vec<&Segment> = segments.iter().collect();
    ordered.sort_by_key(|s| s.index);
    let mut text = String::new();
    for (i, segment) in ordered.iter().enumerate() {
        if usize::from(segment.index) != i + 1 || usize::from(segment.count) != count {
            return Err(JoinError::Incomplete(format!(
                "segment {}/{} where {}/{count} was expected",
                segment.index,
                segment.count,
                i + 1
            )));
        }
        let decoded = decode_message(
            segment.data_coding,
            segment.esm_udhi,
            segment.user_data.bytes(),
            gsm7_packed,
        )
        .map_err(|source| JoinError::Decode {
            index: segment.index,
            source,
        })?;
        match decoded.content {
            Content::Text(t) => text.push_str(&t),
            Content::Binary(_) => return Err(JoinError::NotText(segment.index)),
        }
    }
    Ok(text)
}
