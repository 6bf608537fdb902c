//! ISO-8859-1 (data_coding 0x03): one octet per character U+0000 to U+00FF.

use super::Unencodable;

/// Appends the Latin-1 form of `text`; the error names the first character above U+00FF.
pub fn encode_into(text: &str, out: &mut Vec<u8>) -> Result<(), Unencodable> {
    for (position, ch) in text.chars().enumerate() {
        encode_char(ch, position, out)?;
    }
    Ok(())
}

/// Appends the Latin-1 octet of `ch`, the character at `position` of its text.
pub fn encode_char(ch: char, position: usize, out: &mut Vec<u8>) -> Result<(), Unencodable> {
    let code = u32::from(ch);
    if code > 0xFF {
        return Err(Unencodable {
            encoding: "Latin-1",
            character: ch,
            position,
        });
    }
    out.push(code as u8);
    Ok(())
}

/// The Latin-1 form of `text`.
pub fn encode(text: &str) -> Result<Vec<u8>, Unencodable> {
    let mut out = Vec::with_capacity(text.len());
    encode_into(text, &mut out)?;
    Ok(out)
}

/// Decodes Latin-1 (every octet is a character).
pub fn decode(octets: &[u8]) -> String {
    octets.iter().map(|&b| char::from(b)).collect()
}
