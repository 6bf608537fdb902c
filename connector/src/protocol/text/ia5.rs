//! IA5 / ASCII (data_coding 0x01): one octet per character U+0000 to U+007F.

use super::Unencodable;

/// An octet above 0x7F in IA5 text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("octet {value:#04x} at offset {offset} is not IA5 (7-bit ASCII)")]
pub struct Ia5DecodeError {
    /// Offset of the octet.
    pub offset: usize,
    /// Its value.
    pub value: u8,
}

/// The IA5 form of `text`; the error names the first non-ASCII character.
pub fn encode(text: &str) -> Result<Vec<u8>, Unencodable> {
    let mut out = Vec::with_capacity(text.len());
    for (position, ch) in text.chars().enumerate() {
        if !ch.is_ascii() {
            return Err(Unencodable {
                encoding: "IA5",
                character: ch,
                position,
            });
        }
        out.push(ch as u8);
    }
    Ok(out)
}

/// Decodes IA5 octets.
pub fn decode(octets: &[u8]) -> Result<String, Ia5DecodeError> {
    match octets.iter().position(|b| !b.is_ascii()) {
        Some(offset) => Err(Ia5DecodeError {
            offset,
            value: octets[offset],
        }),
        None => Ok(octets.iter().map(|&b| char::from(b)).collect()),
    }
}
