//! The jute primitives: a checked slice cursor ([`Reader`]) and a writer over `BytesMut`
//! ([`Writer`]).
//!
//! Jute (PROTOCOL.md §1): big-endian, no tags, no padding. `int` 4 bytes, `long` 8,
//! `boolean` 1 (0 or 1); `buffer` and `ustring` are an `int` length (−1 = null) and the
//! bytes; `vector<T>` is an `int` count (−1 = null) and the elements.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{DecodeError, EncodeError};

/// Saturating `usize -> u32` for error context (frames are far below 4 GiB anyway).
fn small(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A checked cursor over one frame body.
///
/// Invariant: `pos <= buf.len()`. Every read checks the bytes left first and fails with a
/// [`DecodeError`] naming the record and field; nothing here panics or allocates more than
/// the bytes present allow.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `buf`.
    pub(crate) fn new(buf: &'a Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Takes exactly `N` bytes if that many are left; otherwise reads nothing.
    pub(crate) fn take_array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let bytes = *self.buf.get(self.pos..)?.first_chunk::<N>()?;
        self.pos += N;
        Some(bytes)
    }

    /// Takes exactly `N` bytes.
    fn take<const N: usize>(
        &mut self,
        record: &'static str,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        match self.take_array::<N>() {
            Some(bytes) => Ok(bytes),
            None => Err(DecodeError::UnexpectedEnd {
                record,
                field,
                need: small(N),
                left: small(self.remaining()),
            }),
        }
    }

    /// Reads a jute `int`.
    pub(crate) fn read_i32(
        &mut self,
        record: &'static str,
        field: &'static str,
    ) -> Result<i32, DecodeError> {
        self.take::<4>(record, field).map(i32::from_be_bytes)
    }

    /// Reads a jute `long`.
    pub(crate) fn read_i64(
        &mut self,
        record: &'static str,
        field: &'static str,
    ) -> Result<i64, DecodeError> {
        self.take::<8>(record, field).map(i64::from_be_bytes)
    }

    /// Reads a jute `boolean`: exactly 0 or 1.
    pub(crate) fn read_bool(
        &mut self,
        record: &'static str,
        field: &'static str,
    ) -> Result<bool, DecodeError> {
        match self.take::<1>(record, field)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(DecodeError::InvalidBool {
                record,
                field,
                value,
            }),
        }
    }

    /// Reads a length or count: `None` for −1 (null), an error for other negatives and for
    /// anything that `min_elem` bytes per element could not fit in the bytes left.
    fn read_len(
        &mut self,
        record: &'static str,
        field: &'static str,
        min_elem: usize,
    ) -> Result<Option<usize>, DecodeError> {
        let len = self.read_i32(record, field)?;
        if len == -1 {
            return Ok(None);
        }
        let left = self.remaining();
        match usize::try_from(len) {
            Ok(n) if n.saturating_mul(min_elem) <= left => Ok(Some(n)),
            _ => Err(DecodeError::InvalidLength {
                record,
                field,
                len,
                left: small(left),
            }),
        }
    }

    /// Takes `n` bytes (checked by the caller) as a zero-copy slice of the frame.
    fn slice(&mut self, n: usize) -> Bytes {
        let out = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        out
    }

    /// Reads a jute `buffer`; `None` is null (length −1). Zero-copy: a slice of the frame.
    pub(crate) fn read_buffer(
        &mut self,
        record: &'static str,
        field: &'static str,
    ) -> Result<Option<Bytes>, DecodeError> {
        Ok(self.read_len(record, field, 1)?.map(|n| self.slice(n)))
    }

    /// Reads a jute `ustring` that may be null (`None`).
    pub(crate) fn read_opt_ustring(
        &mut self,
        record: &'static str,
        field: &'static str,
    ) -> Result<Option<String>, DecodeError> {
        let Some(n) = self.read_len(record, field, 1)? else {
            return Ok(None);
        };
        let bytes = &self.buf[self.pos..self.pos + n];
        let s =
            std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { record, field })?;
        self.pos += n;
        Ok(Some(s.to_owned()))
    }

    /// Reads a jute `ustring`; null decodes as `""` (PROTOCOL.md §10: kazoo writes empty
    /// strings as null, Java as length 0).
    pub(crate) fn read_ustring(
        &mut self,
        record: &'static str,
        field: &'static str,
    ) -> Result<String, DecodeError> {
        Ok(self.read_opt_ustring(record, field)?.unwrap_or_default())
    }

    /// Reads a jute `vector`; null decodes as empty. `min_elem` is the smallest encoded size
    /// of one element, so that a huge count is refused before anything is allocated.
    pub(crate) fn read_vec<T>(
        &mut self,
        record: &'static str,
        field: &'static str,
        min_elem: usize,
        mut elem: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let n = self.read_len(record, field, min_elem.max(1))?.unwrap_or(0);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(elem(self)?);
        }
        Ok(out)
    }

    /// Reads a `vector<ustring>`.
    pub(crate) fn read_string_vec(
        &mut self,
        record: &'static str,
        field: &'static str,
    ) -> Result<Vec<String>, DecodeError> {
        self.read_vec(record, field, 4, |r| r.read_ustring(record, field))
    }

    /// Fails with `TrailingBytes` unless every byte was consumed (PROTOCOL.md §11).
    pub(crate) fn finish(&self, record: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes {
                record,
                count: small(n),
            }),
        }
    }
}

/// Appends jute primitives to a `BytesMut`.
///
/// Fixed-size writes cannot fail; lengths that do not fit a jute `int` fail with
/// [`EncodeError::TooLong`].
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    buf: &'a mut BytesMut,
}

/// A jute length for `len` items, or `TooLong`.
fn jute_len(record: &'static str, field: &'static str, len: usize) -> Result<i32, EncodeError> {
    i32::try_from(len).map_err(|_| EncodeError::TooLong { record, field, len })
}

impl<'a> Writer<'a> {
    /// A writer appending to `buf`.
    pub(crate) fn new(buf: &'a mut BytesMut) -> Self {
        Writer { buf }
    }

    /// Writes a jute `int`.
    pub(crate) fn put_i32(&mut self, v: i32) {
        self.buf.put_i32(v);
    }

    /// Writes a jute `long`.
    pub(crate) fn put_i64(&mut self, v: i64) {
        self.buf.put_i64(v);
    }

    /// Writes a jute `boolean`.
    pub(crate) fn put_bool(&mut self, v: bool) {
        self.buf.put_u8(u8::from(v));
    }

    /// Writes a jute `buffer`; `None` as null (−1).
    pub(crate) fn put_buffer(
        &mut self,
        record: &'static str,
        field: &'static str,
        v: Option<&[u8]>,
    ) -> Result<(), EncodeError> {
        match v {
            None => self.put_i32(-1),
            Some(b) => {
                self.put_i32(jute_len(record, field, b.len())?);
                self.buf.extend_from_slice(b);
            }
        }
        Ok(())
    }

    /// Writes a jute `ustring` (the empty string as length 0, as Java does).
    pub(crate) fn put_ustring(
        &mut self,
        record: &'static str,
        field: &'static str,
        v: &str,
    ) -> Result<(), EncodeError> {
        self.put_buffer(record, field, Some(v.as_bytes()))
    }

    /// Writes a jute `ustring` that may be null.
    pub(crate) fn put_opt_ustring(
        &mut self,
        record: &'static str,
        field: &'static str,
        v: Option<&str>,
    ) -> Result<(), EncodeError> {
        self.put_buffer(record, field, v.map(str::as_bytes))
    }

    /// Writes a jute `vector` (never null).
    pub(crate) fn put_vec<T>(
        &mut self,
        record: &'static str,
        field: &'static str,
        items: &[T],
        mut elem: impl FnMut(&mut Self, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        self.put_i32(jute_len(record, field, items.len())?);
        for item in items {
            elem(self, item)?;
        }
        Ok(())
    }

    /// Writes a `vector<ustring>`.
    pub(crate) fn put_string_vec(
        &mut self,
        record: &'static str,
        field: &'static str,
        items: &[String],
    ) -> Result<(), EncodeError> {
        self.put_vec(record, field, items, |w, s| w.put_ustring(record, field, s))
    }
}

/// Writes one length-prefixed frame whose body `body` appends, and returns the body length.
///
/// On error `out` is truncated back to its original length (nothing written). The length
/// prefix is patched in after the body; a body over `i32::MAX` bytes is `TooLong`.
pub(crate) fn write_frame(
    out: &mut BytesMut,
    body: impl FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>,
) -> Result<usize, EncodeError> {
    let start = out.len();
    out.put_i32(0);
    let result = body(&mut Writer::new(out)).and_then(|()| {
        let len = out.len() - start - 4;
        let prefix = jute_len("frame", "length", len)?;
        out[start..start + 4].copy_from_slice(&prefix.to_be_bytes());
        Ok(len)
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader_of(bytes: &'static [u8]) -> Bytes {
        Bytes::from_static(bytes)
    }

    #[test]
    fn reads_fixed_width_big_endian() {
        let b = reader_of(&[0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 7, 1, 0]);
        let mut r = Reader::new(&b);
        assert_eq!(r.read_i32("R", "a"), Ok(0x102));
        assert_eq!(r.read_i64("R", "b"), Ok(7));
        assert_eq!(r.read_bool("R", "c"), Ok(true));
        assert_eq!(r.read_bool("R", "d"), Ok(false));
        assert!(r.is_empty());
        assert_eq!(
            r.read_i32("R", "e"),
            Err(DecodeError::UnexpectedEnd {
                record: "R",
                field: "e",
                need: 4,
                left: 0
            })
        );
    }

    #[test]
    fn bool_must_be_zero_or_one() {
        let b = reader_of(&[2]);
        assert_eq!(
            Reader::new(&b).read_bool("R", "f"),
            Err(DecodeError::InvalidBool {
                record: "R",
                field: "f",
                value: 2
            })
        );
    }

    #[test]
    fn buffer_is_a_zero_copy_slice() {
        let b = Bytes::from(vec![0, 0, 0, 3, b'a', b'b', b'c']);
        let mut r = Reader::new(&b);
        let got = r.read_buffer("R", "data").unwrap().unwrap();
        assert_eq!(&got[..], b"abc");
        assert_eq!(got.as_ptr(), b[4..].as_ptr());
    }

    #[test]
    fn null_and_empty_strings_both_decode_as_empty() {
        let b = reader_of(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        let mut r = Reader::new(&b);
        assert_eq!(r.read_ustring("R", "p").unwrap(), "");
        assert_eq!(r.read_ustring("R", "p").unwrap(), "");
        let b = reader_of(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(Reader::new(&b).read_opt_ustring("R", "p").unwrap(), None);
    }

    #[test]
    fn bad_lengths_are_refused() {
        for (bytes, len) in [
            (&[0xff, 0xff, 0xff, 0xfe][..], -2),
            (&[0, 0, 0, 5, 1, 2, 3, 4][..], 5),
            (&[0x80, 0, 0, 0][..], i32::MIN),
        ] {
            let b = Bytes::copy_from_slice(bytes);
            let err = Reader::new(&b).read_buffer("R", "data").unwrap_err();
            assert_eq!(
                err,
                DecodeError::InvalidLength {
                    record: "R",
                    field: "data",
                    len,
                    left: (bytes.len() - 4) as u32
                }
            );
        }
    }

    #[test]
    fn huge_vector_count_fails_before_allocating() {
        // 10^9 strings claimed, 16 bytes present.
        let mut v = 1_000_000_000i32.to_be_bytes().to_vec();
        v.extend_from_slice(&[0; 16]);
        let b = Bytes::from(v);
        let err = Reader::new(&b)
            .read_string_vec("R", "children")
            .unwrap_err();
        assert!(matches!(
            err,
            DecodeError::InvalidLength {
                len: 1_000_000_000,
                left: 16,
                ..
            }
        ));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let b = reader_of(&[0, 0, 0, 2, 0xc3, 0x28]);
        assert_eq!(
            Reader::new(&b).read_ustring("R", "path"),
            Err(DecodeError::InvalidUtf8 {
                record: "R",
                field: "path"
            })
        );
    }

    #[test]
    fn lengths_beyond_i32_are_refused_not_truncated() {
        assert_eq!(jute_len("R", "f", i32::MAX as usize), Ok(i32::MAX));
        assert_eq!(
            jute_len("R", "f", i32::MAX as usize + 1),
            Err(EncodeError::TooLong {
                record: "R",
                field: "f",
                len: i32::MAX as usize + 1
            })
        );
    }

    #[test]
    fn write_frame_patches_the_prefix_and_rolls_back_on_error() {
        let mut out = BytesMut::from(&b"xy"[..]);
        let n = write_frame(&mut out, |w| {
            w.put_i32(7);
            w.put_ustring("R", "s", "ab")
        })
        .unwrap();
        assert_eq!(n, 10);
        assert_eq!(&out[..], b"xy\0\0\0\x0a\0\0\0\x07\0\0\0\x02ab");
        let err = write_frame(&mut out, |w| {
            w.put_i32(1);
            Err(EncodeError::TooLong {
                record: "R",
                field: "s",
                len: 0,
            })
        });
        assert!(err.is_err());
        assert_eq!(&out[..], b"xy\0\0\0\x0a\0\0\0\x07\0\0\0\x02ab");
    }
}
