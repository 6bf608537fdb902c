//! C-Octet strings: NUL-terminated ASCII fields with a per-field maximum length.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;

/// A C-Octet String whose wire form (including the NUL terminator) is at most `N` octets.
///
/// The content is held without its terminator. Short content (up to 23 octets, which
/// covers every address and most ids) is stored inline; longer content is a cheap,
/// reference-counted [`Bytes`] slice of the received buffer, so decoding never allocates.
/// Construction rejects interior NULs and content that would not fit in `N` octets, so
/// every value of this type can be encoded.
#[derive(Clone)]
pub struct COctetString<const N: usize>(Repr);

/// Longest content stored inline.
const INLINE_CAP: usize = 23;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    Shared(Bytes),
}

impl Repr {
    const EMPTY: Repr = Repr::Inline {
        len: 0,
        buf: [0; INLINE_CAP],
    };

    /// Copies `value` inline if it is short enough.
    fn inline(value: &[u8]) -> Option<Repr> {
        let mut buf = [0; INLINE_CAP];
        buf.get_mut(..value.len())?.copy_from_slice(value);
        Some(Repr::Inline {
            // At most INLINE_CAP (23).
            len: value.len() as u8,
            buf,
        })
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Shared(b) => b,
        }
    }
}

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
        Self(Repr::EMPTY)
    }

    /// Validates `value` (without terminator) and wraps it.
    pub fn new(value: impl Into<Bytes>) -> Result<Self, COctetStringError> {
        let value = value.into();
        Self::check(&value)?;
        Ok(Self(Repr::Shared(value)))
    }

    /// Validates `value` (without terminator) and copies it.
    pub fn from_slice(value: &[u8]) -> Result<Self, COctetStringError> {
        Self::check(value)?;
        Ok(Self(Repr::inline(value).unwrap_or_else(|| {
            Repr::Shared(Bytes::copy_from_slice(value))
        })))
    }

    fn check(value: &[u8]) -> Result<(), COctetStringError> {
        if value.len() + 1 > N {
            return Err(COctetStringError::TooLong {
                len: value.len() + 1,
                max: N,
            });
        }
        if let Some(position) = value.iter().position(|&b| b == 0) {
            return Err(COctetStringError::InteriorNul { position });
        }
        Ok(())
    }

    /// Wraps `buf[start..end]`, already checked to have no NUL and to fit in `N` octets:
    /// copied inline when short, otherwise sliced.
    pub(crate) fn from_checked(buf: &Bytes, start: usize, end: usize) -> Self {
        debug_assert!(end - start < N && !buf[start..end].contains(&0));
        Self(Repr::inline(&buf[start..end]).unwrap_or_else(|| Repr::Shared(buf.slice(start..end))))
    }

    /// The content octets, without the terminator.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The content as UTF-8 text (SMPP specifies ASCII).
    pub fn as_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(self.as_bytes())
    }

    /// The content as text, replacing invalid UTF-8 sequences.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }

    /// The content as [`Bytes`], without the terminator.
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Inline { .. } => Bytes::copy_from_slice(self.as_bytes()),
            Repr::Shared(b) => b,
        }
    }

    /// Length of the content in octets, without the terminator.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the content is empty (the field is NULL).
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// Octets this string occupies on the wire, including the terminator.
    pub fn wire_len(&self) -> usize {
        self.len() + 1
    }
}

impl<const N: usize> TryFrom<&str> for COctetString<N> {
    type Error = COctetStringError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::from_slice(value.as_bytes())
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
        Self::from_slice(value)
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
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> PartialEq<&str> for COctetString<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> Default for COctetString<N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const N: usize> PartialEq for COctetString<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> Eq for COctetString<N> {}

impl<const N: usize> std::hash::Hash for COctetString<N> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl<const N: usize> PartialOrd for COctetString<N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<const N: usize> Ord for COctetString<N> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
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

    #[test]
    fn inline_and_shared_forms_compare_by_content() {
        let long = "0123456789abcdef0123456789abcdef";
        let shared = COctetString::<65>::new(Bytes::from_static(long.as_bytes())).unwrap();
        let copied = COctetString::<65>::try_from(long).unwrap();
        assert_eq!(shared, copied);
        let short_shared = COctetString::<65>::new(Bytes::from_static(b"abc")).unwrap();
        let short_inline = COctetString::<65>::try_from("abc").unwrap();
        assert_eq!(short_shared, short_inline);
        assert_eq!(
            short_inline.clone().into_bytes(),
            Bytes::from_static(b"abc")
        );
        assert_eq!(
            COctetString::<65>::default(),
            COctetString::<65>::try_from("").unwrap()
        );
        assert!(shared < short_inline, "lexicographic by content");
    }
}
