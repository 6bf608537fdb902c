//! Primitive field reading and writing over [`Bytes`] without copying.

use bytes::{BufMut, Bytes, BytesMut};

use super::cstring::COctetString;
use super::error::CodecError;

/// A cursor over a PDU body that hands out zero-copy slices.
pub(crate) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf` starting at offset `pos` (at most `buf.len()`).
    pub(crate) fn new(buf: &'a Bytes, pos: usize) -> Self {
        Reader {
            buf,
            pos: pos.min(buf.len()),
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, CodecError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(CodecError::Truncated { field })?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, CodecError> {
        let s = self.array::<2>(field)?;
        Ok(u16::from_be_bytes(s))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, CodecError> {
        let s = self.array::<4>(field)?;
        Ok(u32::from_be_bytes(s))
    }

    fn array<const L: usize>(&mut self, field: &'static str) -> Result<[u8; L], CodecError> {
        let end = self.pos + L;
        let s: [u8; L] = self
            .buf
            .get(self.pos..end)
            .and_then(|s| s.try_into().ok())
            .ok_or(CodecError::Truncated { field })?;
        self.pos = end;
        Ok(s)
    }

    /// The buffer and the range of the next `len` octets, without slicing.
    pub(crate) fn range(
        &mut self,
        len: usize,
        field: &'static str,
    ) -> Result<(&'a Bytes, std::ops::Range<usize>), CodecError> {
        if len > self.remaining() {
            return Err(CodecError::Truncated { field });
        }
        let start = self.pos;
        self.pos += len;
        Ok((self.buf, start..self.pos))
    }

    /// Exactly `len` octets.
    pub(crate) fn octets(&mut self, len: usize, field: &'static str) -> Result<Bytes, CodecError> {
        if len > self.remaining() {
            return Err(CodecError::Truncated { field });
        }
        let s = self.buf.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(s)
    }

    /// A C-Octet string of at most `N` octets including its terminator.
    pub(crate) fn cstr<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<COctetString<N>, CodecError> {
        let rest = &self.buf[self.pos..];
        let window = &rest[..rest.len().min(N)];
        match window.iter().position(|&b| b == 0) {
            Some(len) => {
                let s = COctetString::from_checked(self.buf, self.pos, self.pos + len);
                self.pos += len + 1;
                Ok(s)
            }
            None if rest.len() >= N => Err(CodecError::FieldTooLong { field, max: N }),
            None => Err(CodecError::MissingNul { field }),
        }
    }
}

/// Writes a C-Octet string with its terminator.
pub(crate) fn put_cstr<const N: usize>(dst: &mut BytesMut, s: &COctetString<N>) {
    dst.put_slice(s.as_bytes());
    dst.put_u8(0);
}
