//! User data headers (TS 23.040 9.2.3.24): concatenation (IEI 0x00 with an 8-bit reference,
//! 0x08 with a 16-bit one) and the national language shift IEs (0x24 single, 0x25 locking).

use crds::config::NationalLanguage;

use super::gsm::{language_from_id, language_id, GsmTables, LockingShift};

/// IEI of concatenation with an 8-bit reference.
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI of concatenation with a 16-bit reference.
pub const IEI_CONCAT_16: u8 = 0x08;
/// IEI of the national language single shift.
pub const IEI_SINGLE_SHIFT: u8 = 0x24;
/// IEI of the national language locking shift.
pub const IEI_LOCKING_SHIFT: u8 = 0x25;

/// One information element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InformationElement {
    /// Concatenation, 8-bit reference.
    Concat8 {
        /// Reference shared by every segment.
        reference: u8,
        /// Number of segments.
        total: u8,
        /// This segment's number, from 1.
        seq: u8,
    },
    /// Concatenation, 16-bit reference.
    Concat16 {
        /// Reference shared by every segment.
        reference: u16,
        /// Number of segments.
        total: u8,
        /// This segment's number, from 1.
        seq: u8,
    },
    /// National language single shift (language identifier).
    SingleShift(u8),
    /// National language locking shift (language identifier).
    LockingShift(u8),
    /// Any other element, kept as received.
    Other {
        /// Its IEI.
        iei: u8,
        /// Its data.
        data: Vec<u8>,
    },
}

/// A parsed user data header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Udh {
    /// The elements in order.
    pub elements: Vec<InformationElement>,
}

/// Why a UDH could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UdhError {
    /// The user data is empty although UDHI is set.
    #[error("UDHI is set but the user data is empty")]
    Empty,
    /// The UDH length runs past the user data.
    #[error("UDH length {udhl} runs past the {available} octets of user data")]
    Truncated {
        /// The UDHL octet.
        udhl: usize,
        /// Octets after the UDHL.
        available: usize,
    },
    /// An element runs past the header.
    #[error("information element {iei:#04x} runs past the UDH")]
    ElementTruncated {
        /// Its IEI.
        iei: u8,
    },
    /// A known element with a wrong length or values.
    #[error("information element {iei:#04x} is malformed")]
    Malformed {
        /// Its IEI.
        iei: u8,
    },
    /// A shift IE names a language without tables here.
    #[error("national language identifier {0} is not supported")]
    UnsupportedLanguage(u8),
}

/// Concatenation data of a segment, whatever the reference size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Concat {
    /// Reference (8-bit references widened).
    pub reference: u16,
    /// Number of segments.
    pub total: u8,
    /// This segment's number, from 1.
    pub seq: u8,
}

impl Udh {
    /// The header for `tables` plus an optional concatenation element (placed first).
    pub fn new(concat: Option<InformationElement>, tables: GsmTables) -> Self {
        let mut elements = Vec::with_capacity(3);
        elements.extend(concat);
        if let Some(locking) = tables.locking {
            elements.push(InformationElement::LockingShift(language_id(
                locking.language(),
            )));
        }
        if let Some(single) = tables.single {
            elements.push(InformationElement::SingleShift(language_id(single)));
        }
        Udh { elements }
    }

    /// Whether the header has no element (and so is not sent).
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// Octets of the encoded header, UDHL included; 0 when empty.
    pub fn encoded_len(&self) -> usize {
        if self.is_empty() {
            return 0;
        }
        1 + self
            .elements
            .iter()
            .map(|e| 2 + element_data_len(e))
            .sum::<usize>()
    }

    /// Appends the encoded header (nothing when empty).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        if self.is_empty() {
            return;
        }
        out.push((self.encoded_len() - 1) as u8);
        for e in &self.elements {
            match e {
                InformationElement::Concat8 {
                    reference,
                    total,
                    seq,
                } => out.extend_from_slice(&[IEI_CONCAT_8, 3, *reference, *total, *seq]),
                InformationElement::Concat16 {
                    reference,
                    total,
                    seq,
                } => {
                    let [hi, lo] = reference.to_be_bytes();
                    out.extend_from_slice(&[IEI_CONCAT_16, 4, hi, lo, *total, *seq]);
                }
                InformationElement::SingleShift(id) => {
                    out.extend_from_slice(&[IEI_SINGLE_SHIFT, 1, *id])
                }
                InformationElement::LockingShift(id) => {
                    out.extend_from_slice(&[IEI_LOCKING_SHIFT, 1, *id])
                }
                InformationElement::Other { iei, data } => {
                    out.push(*iei);
                    out.push(data.len() as u8);
                    out.extend_from_slice(data);
                }
            }
        }
    }

    /// Reads the header at the start of `user_data`; returns it and the octets after it.
    pub fn parse(user_data: &[u8]) -> Result<(Udh, &[u8]), UdhError> {
        let (&udhl, rest) = user_data.split_first().ok_or(UdhError::Empty)?;
        let udhl = usize::from(udhl);
        if udhl > rest.len() {
            return Err(UdhError::Truncated {
                udhl,
                available: rest.len(),
            });
        }
        let (mut header, body) = rest.split_at(udhl);
        let mut elements = Vec::new();
        while let Some((&iei, after)) = header.split_first() {
            let (&len, after) = after
                .split_first()
                .ok_or(UdhError::ElementTruncated { iei })?;
            let len = usize::from(len);
            if len > after.len() {
                return Err(UdhError::ElementTruncated { iei });
            }
            let (data, after) = after.split_at(len);
            header = after;
            let malformed = UdhError::Malformed { iei };
            let element = match (iei, data) {
                (IEI_CONCAT_8, &[reference, total, seq]) => {
                    if total == 0 || seq == 0 || seq > total {
                        return Err(malformed);
                    }
                    InformationElement::Concat8 {
                        reference,
                        total,
                        seq,
                    }
                }
                (IEI_CONCAT_16, &[hi, lo, total, seq]) => {
                    if total == 0 || seq == 0 || seq > total {
                        return Err(malformed);
                    }
                    InformationElement::Concat16 {
                        reference: u16::from_be_bytes([hi, lo]),
                        total,
                        seq,
                    }
                }
                (IEI_SINGLE_SHIFT, &[id]) => InformationElement::SingleShift(id),
                (IEI_LOCKING_SHIFT, &[id]) => InformationElement::LockingShift(id),
                (IEI_CONCAT_8 | IEI_CONCAT_16 | IEI_SINGLE_SHIFT | IEI_LOCKING_SHIFT, _) => {
                    return Err(malformed)
                }
                (iei, data) => InformationElement::Other {
                    iei,
                    data: data.to_vec(),
                },
            };
            elements.push(element);
        }
        Ok((Udh { elements }, body))
    }

    /// The concatenation element, if any.
    pub fn concat(&self) -> Option<Concat> {
        self.elements.iter().find_map(|e| match *e {
            InformationElement::Concat8 {
                reference,
                total,
                seq,
            } => Some(Concat {
                reference: u16::from(reference),
                total,
                seq,
            }),
            InformationElement::Concat16 {
                reference,
                total,
                seq,
            } => Some(Concat {
                reference,
                total,
                seq,
            }),
            _ => None,
        })
    }

    /// The GSM tables the shift elements select.
    pub fn gsm_tables(&self) -> Result<GsmTables, UdhError> {
        let mut tables = GsmTables::DEFAULT;
        for e in &self.elements {
            match *e {
                InformationElement::SingleShift(id) => {
                    tables.single =
                        Some(language_from_id(id).ok_or(UdhError::UnsupportedLanguage(id))?);
                }
                InformationElement::LockingShift(id) => {
                    let language: NationalLanguage =
                        language_from_id(id).ok_or(UdhError::UnsupportedLanguage(id))?;
                    tables.locking = Some(
                        LockingShift::for_language(language)
                            .ok_or(UdhError::UnsupportedLanguage(id))?,
                    );
                }
                _ => {}
            }
        }
        Ok(tables)
    }
}

fn element_data_len(e: &InformationElement) -> usize {
    match e {
        InformationElement::Concat8 { .. } => 3,
        InformationElement::Concat16 { .. } => 4,
        InformationElement::SingleShift(_) | InformationElement::LockingShift(_) => 1,
        InformationElement::Other { data, .. } => data.len(),
    }
}
