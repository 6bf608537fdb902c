//! Packing septets seven bits each into octets (TS 23.038 6.1.2.1.1), starting after the
//! fill bits that align the first septet on a septet boundary after a UDH (TS 23.040 9.2.3.24).
//!
//! SMPP gives the length in octets, not septets, so the last octet's spare bits are ambiguous.
//! As in TS 23.038 6.1.2.3.1: seven spare bits are filled with CR, which the reader drops; a
//! text whose own last character is a CR ending exactly on an octet boundary gets a second CR
//! (read back as CR CR, which the specification defines as equivalent).

const CR: u8 = 0x0D;

/// Fill bits needed after a UDH of `udh_octets` octets (UDHL included); 0 without a UDH.
pub fn fill_bits(udh_octets: usize) -> u8 {
    ((7 - udh_octets % 7) % 7) as u8
}

/// Whether the last septet is a CR ending exactly on an octet boundary (read as padding).
pub fn ends_with_boundary_cr(septets: &[u8], fill: u8) -> bool {
    septets.last() == Some(&CR) && (usize::from(fill) + 7 * septets.len()) % 8 == 0
}

/// Septets actually packed for `septets` (one more when a second CR must be added).
pub fn packed_septets(septets: &[u8], fill: u8) -> usize {
    septets.len() + usize::from(ends_with_boundary_cr(septets, fill))
}

/// Octets taken by `septets` septets after `fill` fill bits.
pub fn packed_len(septets: usize, fill: u8) -> usize {
    (usize::from(fill) + 7 * septets).div_ceil(8)
}

/// Appends the packed form of `septets` (bits above the seventh are ignored).
pub fn pack_into(septets: &[u8], fill: u8, out: &mut Vec<u8>) {
    if septets.is_empty() {
        return;
    }
    let extra_cr = ends_with_boundary_cr(septets, fill);
    let mut acc: u32 = 0;
    let mut bits: u32 = u32::from(fill % 8);
    let mut push = |septet: u8, acc: &mut u32, bits: &mut u32| {
        *acc |= u32::from(septet & 0x7F) << *bits;
        *bits += 7;
        while *bits >= 8 {
            out.push(*acc as u8);
            *acc >>= 8;
            *bits -= 8;
        }
    };
    for &s in septets {
        push(s, &mut acc, &mut bits);
    }
    if extra_cr {
        push(CR, &mut acc, &mut bits);
    }
    if bits == 1 {
        push(CR, &mut acc, &mut bits);
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

/// The packed form of `septets`.
pub fn pack(septets: &[u8], fill: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(packed_len(septets.len() + 1, fill));
    pack_into(septets, fill, &mut out);
    out
}

/// Unpacks every whole septet after `fill` fill bits, dropping a CR that pads the last octet.
pub fn unpack(octets: &[u8], fill: u8) -> Vec<u8> {
    let total_bits = octets.len() * 8;
    let fill = usize::from(fill % 8);
    if total_bits <= fill {
        return Vec::new();
    }
    let count = (total_bits - fill) / 7;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let bit = fill + 7 * i;
        let byte = bit / 8;
        let shift = bit % 8;
        let mut v = u16::from(octets[byte]) >> shift;
        if shift > 1 {
            if let Some(&next) = octets.get(byte + 1) {
                v |= u16::from(next) << (8 - shift);
            }
        }
        out.push((v & 0x7F) as u8);
    }
    if (total_bits - fill) % 7 == 0 && out.last() == Some(&CR) {
        out.pop();
    }
    out
}
