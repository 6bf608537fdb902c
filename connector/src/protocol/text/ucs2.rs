//! UCS-2 as sent today: UTF-16 big-endian, characters outside the BMP as surrogate pairs.

/// Why UTF-16BE octets could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ucs2DecodeError {
    /// An odd number of octets.
    #[error("UCS-2 text has an odd number of octets ({0})")]
    OddLength(usize),
    /// A surrogate without its partner.
    #[error("unpaired UTF-16 surrogate {unit:#06x} at octet offset {offset}")]
    UnpairedSurrogate {
        /// Octet offset of the code unit.
        offset: usize,
        /// The code unit.
        unit: u16,
    },
}

/// Appends the UTF-16BE form of `text`.
pub fn encode_into(text: &str, out: &mut Vec<u8>) {
    for ch in text.chars() {
        encode_char(ch, out);
    }
}

/// Appends the UTF-16BE form of `ch` (a surrogate pair above U+FFFF).
pub fn encode_char(ch: char, out: &mut Vec<u8>) {
    let mut buf = [0u16; 2];
    for unit in ch.encode_utf16(&mut buf) {
        out.extend_from_slice(&unit.to_be_bytes());
    }
}

/// The UTF-16BE form of `text`.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    encode_into(text, &mut out);
    out
}

/// Octets of one character in UTF-16BE (2, or 4 for a surrogate pair).
pub fn char_len(ch: char) -> usize {
    ch.len_utf16() * 2
}

/// Decodes UTF-16BE octets.
pub fn decode(octets: &[u8]) -> Result<String, Ucs2DecodeError> {
    if octets.len() % 2 != 0 {
        return Err(Ucs2DecodeError::OddLength(octets.len()));
    }
    let units: Vec<u16> = octets
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect();
    let mut out = String::with_capacity(units.len());
    let mut i = 0;
    while i < units.len() {
        let unit = units[i];
        let unpaired = Ucs2DecodeError::UnpairedSurrogate {
            offset: i * 2,
            unit,
        };
        match unit {
            0xD800..=0xDBFF => {
                let low = units.get(i + 1).copied().ok_or(unpaired.clone())?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(unpaired);
                }
                let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                out.push(char::from_u32(code).ok_or(unpaired)?);
                i += 2;
            }
            0xDC00..=0xDFFF => return Err(unpaired),
            _ => {
                out.push(char::from_u32(u32::from(unit)).ok_or(unpaired)?);
                i += 1;
            }
        }
    }
    Ok(out)
}
