//! C-Octet strings: NUL-terminated ASCII fields with a per-field maximum length.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;

/// A C-Octet String whose wire form (including the NUL terminator) is at most `N` octets.
///
/// The content is held without its terminator as a cheap, reference-counted [`Bytes`]
/// slice, so decoding does not copy. Construction rejects interior NULs and content that
/// would not fit in `N` octets, so every value of this type can be encoded.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct COctetString<const N: usize>(Bytes);

/// Why a value cannot become a [`COctetString`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum COctetStringError {
    /// The content plus its NUL terminator is longer than the field allows.
    #[error(
        "C-Octet string needs {len} octets with its NUL terminator, more than the maximum of {max}"
    )]
    TooLong {
        /// Octets needed, including the terminator.
        len: usize,
        /// Maximum octets allowed, including the terminator.
        max: usize,
    },
    /// The content contains a NUL octet.
    #[error("C-Octet string contains a NUL octet at position {position}")]
    InteriorNul {
        /// Zero-based position of the NUL octet.
        position: usize,
    },
}

impl<const N: usize> COctetString<N> {
    /// Maximum wire length in octets, including the NUL terminator.
    pub const MAX_LEN: usize = N;

    /// The empty string (encoded as a single NUL octet).
    pub const fn empty() -> Self {
        Self(Bytes::new())
    }

    /// Validates `value` (without terminator) and wraps it.
    pub fn new(value: impl Into<Bytes>) -> Result<Self, COctetStringError> {
        let value = value.into();
        if value.len() + 1 > N {
            return Err(COctetStringError::TooLong {
                len: value.len() + 1,
                max: N,
            });
        }
        if let Some(position) = value.iter().position(|&b| b == 0) {
            return Err(COctetStringError::InteriorNul { position });
        }
        Ok(Self(value))
    }

    /// Wraps content already checked to have no NUL and to fit in `N` octets.
    pub(crate) fn from_checked(value: Bytes) -> Self {
        debug_assert!(value.len() < N && !value.contains(&0));
        Self(value)
    }

    /// The content octets, without the terminator.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The content as UTF-8 text (SMPP specifies ASCII).
    pub fn as_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.0)
    }

    /// The content as text, replacing invalid UTF-8 sequences.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// The content as [`Bytes`], without the terminator.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length of the content in octets, without the terminator.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the content is empty (the field is NULL).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Octets this string occupies on the wire, including the terminator.
    pub fn wire_len(&self) -> usize {
        self.0.len() + 1
    }
}

impl<const N: usize> TryFrom<&str> for COctetString<N> {
    type Error = COctetStringError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(Bytes::copy_from_slice(value.as_bytes()))
    }
}

impl<const N: usize> TryFrom<String> for COctetString<N> {
    type Error = COctetStringError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl<const N: usize> TryFrom<&[u8]> for COctetString<N> {
    type Error = COctetStringError;
    fn try_from(value: &[u8]) -> Result<Self, Self::Error> {
        Self::new(Bytes::copy_from_slice(value))
    }
}

impl<const N: usize> TryFrom<Bytes> for COctetString<N> {
    type Error = COctetStringError;
    fn try_from(value: Bytes) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl<const N: usize> PartialEq<str> for COctetString<N> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl<const N: usize> PartialEq<&str> for COctetString<N> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl<const N: usize> fmt::Display for COctetString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl<const N: usize> fmt::Debug for COctetString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.to_string_lossy(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_maximum_including_terminator() {
        assert!(COctetString::<6>::try_from("CMT12").is_ok());
        assert_eq!(
            COctetString::<6>::try_from("CMT123"),
            Err(COctetStringError::TooLong { len: 7, max: 6 })
        );
    }

    #[test]
    fn rejects_interior_nul() {
        assert_eq!(
            COctetString::<16>::try_from(&b"ab\0c"[..]),
            Err(COctetStringError::InteriorNul { position: 2 })
        );
    }

    #[test]
    fn views_content() {
        let s = COctetString::<21>::try_from("447700900123").unwrap();
        assert_eq!(s.as_str().unwrap(), "447700900123");
        assert_eq!(s.wire_len(), 13);
        assert_eq!(s, "447700900123");
        assert_eq!(format!("{s:?}"), "\"447700900123\"");
    }
}
