//! The character tables of 3GPP TS 23.038: the GSM 7-bit default alphabet (6.2.1), its
//! extension table (6.2.1.1), and the Turkish, Spanish and Portuguese national language
//! locking-shift (A.3) and single-shift (A.2) tables.
//!
//! A locking table has 128 cells; [`NONE`] marks the escape cell 0x1B. A single-shift table
//! lists only its defined cells as `(code, character)`.

/// Marks a cell without a character (the escape code 0x1B).
pub const NONE: char = '\u{FFFF}';

/// 6.2.1: the GSM 7-bit default alphabet.
pub const DEFAULT: [char; 128] = [
    // 0x00
    '@', '\u{A3}', '$', '\u{A5}', '\u{E8}', '\u{E9}', '\u{F9}', '\u{EC}', '\u{F2}', '\u{C7}', '\n',
    '\u{D8}', '\u{F8}', '\r', '\u{C5}', '\u{E5}', // 0x10
    '\u{394}', '_', '\u{3A6}', '\u{393}', '\u{39B}', '\u{3A9}', '\u{3A0}', '\u{3A8}', '\u{3A3}',
    '\u{398}', '\u{39E}', NONE, '\u{C6}', '\u{E6}', '\u{DF}', '\u{C9}', // 0x20
    ' ', '!', '"', '#', '\u{A4}', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    '\u{A1}', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', '\u{C4}', '\u{D6}', '\u{D1}', '\u{DC}',
    '\u{A7}', // 0x60
    '\u{BF}', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '\u{E4}', '\u{F6}', '\u{F1}', '\u{FC}',
    '\u{E0}',
];

/// A.3.1: the Turkish locking-shift table.
pub const TURKISH_LOCKING: [char; 128] = [
    // 0x00
    '@', '\u{A3}', '$', '\u{A5}', '\u{20AC}', '\u{E9}', '\u{F9}', '\u{131}', '\u{F2}', '\u{C7}',
    '\n', '\u{11E}', '\u{11F}', '\r', '\u{C5}', '\u{E5}', // 0x10
    '\u{394}', '_', '\u{3A6}', '\u{393}', '\u{39B}', '\u{3A9}', '\u{3A0}', '\u{3A8}', '\u{3A3}',
    '\u{398}', '\u{39E}', NONE, '\u{15E}', '\u{15F}', '\u{DF}', '\u{C9}', // 0x20
    ' ', '!', '"', '#', '\u{A4}', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    '\u{130}', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', '\u{C4}', '\u{D6}', '\u{D1}', '\u{DC}',
    '\u{A7}', // 0x60
    '\u{E7}', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '\u{E4}', '\u{F6}', '\u{F1}', '\u{FC}',
    '\u{E0}',
];

/// A.3.3: the Portuguese locking-shift table.
pub const PORTUGUESE_LOCKING: [char; 128] = [
    // 0x00
    '@', '\u{A3}', '$', '\u{A5}', '\u{EA}', '\u{E9}', '\u{FA}', '\u{ED}', '\u{F3}', '\u{E7}', '\n',
    '\u{D4}', '\u{F4}', '\r', '\u{C1}', '\u{E1}', // 0x10
    '\u{394}', '_', '\u{AA}', '\u{C7}', '\u{C0}', '\u{221E}', '^', '\\', '\u{20AC}', '\u{D3}', '|',
    NONE, '\u{C2}', '\u{E2}', '\u{CA}', '\u{C9}', // 0x20
    ' ', '!', '"', '#', '\u{BA}', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    '\u{CD}', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', '\u{C3}', '\u{D5}', '\u{DA}', '\u{DC}',
    '\u{A7}', // 0x60
    '~', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '\u{E3}', '\u{F5}', '`', '\u{FC}',
    '\u{E0}',
];

/// 6.2.1.1: the default extension table (reached with the escape 0x1B).
pub const DEFAULT_EXTENSION: &[(u8, char)] = &[
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '\u{20AC}'),
];

/// A.2.1: the Turkish single-shift table.
pub const TURKISH_SINGLE: &[(u8, char)] = &[
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x47, '\u{11E}'),
    (0x49, '\u{130}'),
    (0x53, '\u{15E}'),
    (0x63, '\u{E7}'),
    (0x65, '\u{20AC}'),
    (0x67, '\u{11F}'),
    (0x69, '\u{131}'),
    (0x73, '\u{15F}'),
];

/// A.2.2: the Spanish single-shift table.
pub const SPANISH_SINGLE: &[(u8, char)] = &[
    (0x09, '\u{E7}'),
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, '\u{C1}'),
    (0x49, '\u{CD}'),
    (0x4F, '\u{D3}'),
    (0x55, '\u{DA}'),
    (0x61, '\u{E1}'),
    (0x65, '\u{20AC}'),
    (0x69, '\u{ED}'),
    (0x6F, '\u{F3}'),
    (0x75, '\u{FA}'),
];

/// A.2.3: the Portuguese single-shift table.
pub const PORTUGUESE_SINGLE: &[(u8, char)] = &[
    (0x05, '\u{EA}'),
    (0x09, '\u{E7}'),
    (0x0A, '\u{0C}'),
    (0x0B, '\u{D4}'),
    (0x0C, '\u{F4}'),
    (0x0E, '\u{C1}'),
    (0x0F, '\u{E1}'),
    (0x12, '\u{3A6}'),
    (0x13, '\u{393}'),
    (0x14, '^'),
    (0x15, '\u{3A9}'),
    (0x16, '\u{3A0}'),
    (0x17, '\u{3A8}'),
    (0x18, '\u{3A3}'),
    (0x19, '\u{398}'),
    (0x1F, '\u{CA}'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, '\u{C0}'),
    (0x49, '\u{CD}'),
    (0x4F, '\u{D3}'),
    (0x55, '\u{DA}'),
    (0x5B, '\u{C3}'),
    (0x5C, '\u{D5}'),
    (0x61, '\u{C2}'),
    (0x65, '\u{20AC}'),
    (0x69, '\u{ED}'),
    (0x6F, '\u{F3}'),
    (0x75, '\u{FA}'),
    (0x7B, '\u{E3}'),
    (0x7C, '\u{F5}'),
    (0x7F, '\u{E2}'),
];
