//! GSM 03.38 / 3GPP TS 23.038 7-bit alphabet: the default table, its extension table reached
//! with the escape 0x1B, and the national language locking-shift and single-shift tables.
//!
//! Encoding yields septets, one per octet (the unpacked form SMPP usually carries); see
//! [`pack`] for the packed form.

pub mod pack;
pub mod tables;

use std::sync::LazyLock;

use crds::config::NationalLanguage;

use super::Unencodable;

/// The escape code that selects the single-shift (extension) table for the next septet.
pub const ESCAPE: u8 = 0x1B;

/// A national language with a locking-shift table in TS 23.038 (Spanish has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockingShift {
    /// A.3.1 Turkish.
    Turkish,
    /// A.3.3 Portuguese.
    Portuguese,
}

impl LockingShift {
    /// The language of this table.
    pub fn language(self) -> NationalLanguage {
        match self {
            LockingShift::Turkish => NationalLanguage::Turkish,
            LockingShift::Portuguese => NationalLanguage::Portuguese,
        }
    }

    /// The locking-shift table of a language, if it has one.
    pub fn for_language(language: NationalLanguage) -> Option<Self> {
        match language {
            NationalLanguage::Turkish => Some(LockingShift::Turkish),
            NationalLanguage::Portuguese => Some(LockingShift::Portuguese),
            NationalLanguage::Spanish => None,
        }
    }
}

/// The national language identifier carried in UDH IEs 0x24 / 0x25 (TS 23.038 6.2.1.2.4).
pub fn language_id(language: NationalLanguage) -> u8 {
    match language {
        NationalLanguage::Turkish => 1,
        NationalLanguage::Spanish => 2,
        NationalLanguage::Portuguese => 3,
    }
}

/// The language of a national language identifier, if supported here.
pub fn language_from_id(id: u8) -> Option<NationalLanguage> {
    match id {
        1 => Some(NationalLanguage::Turkish),
        2 => Some(NationalLanguage::Spanish),
        3 => Some(NationalLanguage::Portuguese),
        _ => None,
    }
}

/// Which tables a GSM-7 text uses: the default ones when both are `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GsmTables {
    /// Locking-shift table replacing the default alphabet (UDH IE 0x25).
    pub locking: Option<LockingShift>,
    /// Single-shift table replacing the default extension table (UDH IE 0x24).
    pub single: Option<NationalLanguage>,
}

/// The septets of one character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GsmCode {
    /// One septet of the locking (or default) table.
    Direct(u8),
    /// The escape followed by a septet of the single-shift (or extension) table.
    Escaped(u8),
}

impl GsmCode {
    /// Number of septets (1 or 2).
    pub fn septets(self) -> usize {
        match self {
            GsmCode::Direct(_) => 1,
            GsmCode::Escaped(_) => 2,
        }
    }
}

/// Why septets could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GsmDecodeError {
    /// An octet above 0x7F where a septet was expected.
    #[error("octet {value:#04x} at offset {offset} is not a GSM 7-bit septet")]
    NotASeptet {
        /// Offset of the octet.
        offset: usize,
        /// Its value.
        value: u8,
    },
    /// The text ends with an escape that is not followed by a septet.
    #[error("the text ends with a lone escape (0x1B)")]
    TruncatedEscape,
}

/// Reverse lookup of one table: character → septet.
struct Reverse {
    ascii: [u8; 128],
    other: Vec<(char, u8)>,
}

const ABSENT: u8 = 0xFF;

impl Reverse {
    fn build(cells: impl Iterator<Item = (u8, char)>) -> Self {
        let mut ascii = [ABSENT; 128];
        let mut other = Vec::new();
        for (code, ch) in cells {
            if ch == tables::NONE {
                continue;
            }
            if (ch as u32) < 128 {
                let slot = &mut ascii[ch as usize];
                if *slot == ABSENT {
                    *slot = code;
                }
            } else if !other.iter().any(|(c, _)| *c == ch) {
                other.push((ch, code));
            }
        }
        other.sort_unstable();
        Reverse { ascii, other }
    }

    #[inline]
    fn get(&self, ch: char) -> Option<u8> {
        if (ch as u32) < 128 {
            let code = self.ascii[ch as usize];
            (code != ABSENT).then_some(code)
        } else {
            self.other
                .binary_search_by_key(&ch, |(c, _)| *c)
                .ok()
                .map(|i| self.other[i].1)
        }
    }
}

fn locking_cells(table: &'static [char; 128]) -> impl Iterator<Item = (u8, char)> {
    table.iter().enumerate().map(|(i, c)| (i as u8, *c))
}

struct ReverseTables {
    default: Reverse,
    turkish: Reverse,
    portuguese: Reverse,
    extension: Reverse,
    turkish_single: Reverse,
    spanish_single: Reverse,
    portuguese_single: Reverse,
}

static REVERSE: LazyLock<ReverseTables> = LazyLock::new(|| ReverseTables {
    default: Reverse::build(locking_cells(&tables::DEFAULT)),
    turkish: Reverse::build(locking_cells(&tables::TURKISH_LOCKING)),
    portuguese: Reverse::build(locking_cells(&tables::PORTUGUESE_LOCKING)),
    extension: Reverse::build(tables::DEFAULT_EXTENSION.iter().copied()),
    turkish_single: Reverse::build(tables::TURKISH_SINGLE.iter().copied()),
    spanish_single: Reverse::build(tables::SPANISH_SINGLE.iter().copied()),
    portuguese_single: Reverse::build(tables::PORTUGUESE_SINGLE.iter().copied()),
});

/// Character-to-septet lookup for one choice of tables (see [`GsmTables::encoder`]).
#[derive(Clone, Copy)]
pub struct GsmEncoder {
    locking: &'static Reverse,
    single: &'static Reverse,
}

impl GsmEncoder {
    /// The septets of `ch`, preferring the locking table (one septet) over the single shift.
    #[inline]
    pub fn encode_char(&self, ch: char) -> Option<GsmCode> {
        if let Some(code) = self.locking.get(ch) {
            return Some(GsmCode::Direct(code));
        }
        self.single.get(ch).map(GsmCode::Escaped)
    }
}

impl GsmTables {
    /// The default alphabet and extension table.
    pub const DEFAULT: GsmTables = GsmTables {
        locking: None,
        single: None,
    };

    /// The 128 cells of the locking (or default) table.
    pub fn locking_table(&self) -> &'static [char; 128] {
        match self.locking {
            None => &tables::DEFAULT,
            Some(LockingShift::Turkish) => &tables::TURKISH_LOCKING,
            Some(LockingShift::Portuguese) => &tables::PORTUGUESE_LOCKING,
        }
    }

    /// The defined cells of the single-shift (or extension) table.
    pub fn single_table(&self) -> &'static [(u8, char)] {
        match self.single {
            None => tables::DEFAULT_EXTENSION,
            Some(NationalLanguage::Turkish) => tables::TURKISH_SINGLE,
            Some(NationalLanguage::Spanish) => tables::SPANISH_SINGLE,
            Some(NationalLanguage::Portuguese) => tables::PORTUGUESE_SINGLE,
        }
    }

    fn reverse_locking(&self) -> &'static Reverse {
        let r = &*REVERSE;
        match self.locking {
            None => &r.default,
            Some(LockingShift::Turkish) => &r.turkish,
            Some(LockingShift::Portuguese) => &r.portuguese,
        }
    }

    fn reverse_single(&self) -> &'static Reverse {
        let r = &*REVERSE;
        match self.single {
            None => &r.extension,
            Some(NationalLanguage::Turkish) => &r.turkish_single,
            Some(NationalLanguage::Spanish) => &r.spanish_single,
            Some(NationalLanguage::Portuguese) => &r.portuguese_single,
        }
    }

    /// The septets of `ch`, preferring the locking table (one septet) over the single shift.
    pub fn encode_char(&self, ch: char) -> Option<GsmCode> {
        self.encoder().encode_char(ch)
    }

    /// A character encoder with its lookup tables resolved once.
    pub fn encoder(&self) -> GsmEncoder {
        GsmEncoder {
            locking: self.reverse_locking(),
            single: self.reverse_single(),
        }
    }

    /// Number of UDH octets the shift-table IEs take (3 per table, without the UDHL octet).
    pub fn udh_ie_octets(&self) -> usize {
        3 * (usize::from(self.locking.is_some()) + usize::from(self.single.is_some()))
    }

    /// Appends the septets of `text`; the error names the first character without a code.
    pub fn encode_into(&self, text: &str, out: &mut Vec<u8>) -> Result<(), Unencodable> {
        let encoder = self.encoder();
        for (position, ch) in text.chars().enumerate() {
            match encoder.encode_char(ch) {
                Some(GsmCode::Direct(code)) => out.push(code),
                Some(GsmCode::Escaped(code)) => {
                    out.push(ESCAPE);
                    out.push(code);
                }
                None => {
                    return Err(Unencodable {
                        encoding: "GSM-7",
                        character: ch,
                        position,
                    })
                }
            }
        }
        Ok(())
    }

    /// The septets of `text`, one per octet.
    pub fn encode(&self, text: &str) -> Result<Vec<u8>, Unencodable> {
        let mut out = Vec::with_capacity(text.len());
        self.encode_into(text, &mut out)?;
        Ok(out)
    }

    /// Decodes unpacked septets. An escape followed by a code the single-shift table leaves
    /// undefined reads as the locking table's character for that code, and an escape followed
    /// by another escape as a space (TS 23.038 6.2.1.1).
    pub fn decode(&self, septets: &[u8]) -> Result<String, GsmDecodeError> {
        let locking = self.locking_table();
        let single = self.single_table();
        let mut out = String::with_capacity(septets.len());
        let mut i = 0;
        while i < septets.len() {
            let value = septets[i];
            if value > 0x7F {
                return Err(GsmDecodeError::NotASeptet { offset: i, value });
            }
            if value == ESCAPE {
                let Some(&next) = septets.get(i + 1) else {
                    return Err(GsmDecodeError::TruncatedEscape);
                };
                if next > 0x7F {
                    return Err(GsmDecodeError::NotASeptet {
                        offset: i + 1,
                        value: next,
                    });
                }
                let ch = if next == ESCAPE {
                    ' '
                } else {
                    single
                        .iter()
                        .find(|(code, _)| *code == next)
                        .map(|(_, c)| *c)
                        .unwrap_or(locking[next as usize])
                };
                out.push(ch);
                i += 2;
            } else {
                out.push(locking[value as usize]);
                i += 1;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
