//! Framing (PROTOCOL.md §1): a 4-byte big-endian signed length, then that many bytes.

use bytes::{Buf, Bytes, BytesMut};

use super::error::FrameError;

/// Default limit for incoming frames (4 MiB): above the server's default `jute.maxbuffer`
/// with room for large `getChildren` replies.
pub const DEFAULT_MAX_INCOMING_FRAME: usize = 4 * 1024 * 1024;

/// Default limit for outgoing frames: the server's default `jute.maxbuffer`, 0xfffff =
/// 1,048,575 bytes. The server closes the connection on a larger frame.
pub const DEFAULT_MAX_OUTGOING_FRAME: usize = 1_048_575;

/// Checks a 4-byte length prefix: its value as a `usize`, or an error if it is negative or
/// above `max_frame`.
///
/// # Examples
///
/// ```
/// use mio_zookeeper::proto::{check_prefix, FrameError};
///
/// assert_eq!(check_prefix(45i32.to_be_bytes(), 100), Ok(45));
/// assert_eq!(
///     check_prefix(101i32.to_be_bytes(), 100),
///     Err(FrameError::TooLarge { len: 101, limit: 100 })
/// );
/// ```
pub fn check_prefix(prefix: [u8; 4], max_frame: usize) -> Result<usize, FrameError> {
    let len = i32::from_be_bytes(prefix);
    let n = usize::try_from(len).map_err(|_| FrameError::NegativeLength { len })?;
    if n > max_frame {
        return Err(FrameError::TooLarge {
            len: n,
            limit: max_frame,
        });
    }
    Ok(n)
}

/// Splits length-prefixed frames off the front of a receive buffer.
///
/// A push parser in the style of httparse: "need more bytes" is `Ok(None)`, not an error
/// (STYLE.md habit 3). A bad length prefix is refused from the 4 prefix bytes alone, before
/// the rest of the frame is buffered. Frames come out as zero-copy `Bytes` (the body
/// without its prefix), so decoded data payloads can be slices of them.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use mio_zookeeper::proto::FrameDecoder;
///
/// let dec = FrameDecoder::new(1024);
/// let mut buf = BytesMut::from(&[0, 0, 0, 3, b'a', b'b'][..]);
/// assert_eq!(dec.decode(&mut buf).unwrap(), None); // partial: wait for more
/// buf.extend_from_slice(b"c\0\0\0\0");
/// assert_eq!(&dec.decode(&mut buf).unwrap().unwrap()[..], b"abc");
/// assert_eq!(&dec.decode(&mut buf).unwrap().unwrap()[..], b""); // an empty frame
/// assert_eq!(dec.decode(&mut buf).unwrap(), None);
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    max_frame: usize,
}

impl Default for FrameDecoder {
    /// A decoder with [`DEFAULT_MAX_INCOMING_FRAME`].
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_INCOMING_FRAME)
    }
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max_frame` bytes (prefix not counted).
    pub fn new(max_frame: usize) -> Self {
        FrameDecoder { max_frame }
    }

    /// The configured limit.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Splits one frame off the front of `buf`.
    ///
    /// - `Ok(Some(frame))`: one whole frame, without its prefix; `buf` now starts at the
    ///   next frame. Call again: several frames may be buffered.
    /// - `Ok(None)`: the frame is not complete yet; `buf` is unchanged except that its
    ///   capacity may have been grown to hold the whole frame. Read more and call again.
    /// - `Err(_)`: the prefix is negative or above the limit. The stream cannot be
    ///   resynchronised: close the connection.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(prefix) = buf.get(..4).and_then(|p| <[u8; 4]>::try_from(p).ok()) else {
            return Ok(None);
        };
        let len = check_prefix(prefix, self.max_frame)?;
        let total = len + 4;
        if buf.len() < total {
            // `len <= max_frame`, so this reservation is bounded by the configuration. The
            // whole frame at once: a large reply grows the buffer once, not once per read.
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        Ok(Some(buf.split_to(len).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_and_oversized_prefixes_are_refused_from_the_prefix_alone() {
        let dec = FrameDecoder::new(100);
        let mut neg = BytesMut::from(&[0xff, 0xff, 0xff, 0xfe][..]);
        assert_eq!(
            dec.decode(&mut neg),
            Err(FrameError::NegativeLength { len: -2 })
        );
        let mut big = BytesMut::from(&101i32.to_be_bytes()[..]);
        assert_eq!(
            dec.decode(&mut big),
            Err(FrameError::TooLarge {
                len: 101,
                limit: 100
            })
        );
        let mut max = BytesMut::from(&100i32.to_be_bytes()[..]);
        assert_eq!(dec.decode(&mut max), Ok(None));
        assert!(max.capacity() >= 104);
    }

    #[test]
    fn partial_prefix_and_partial_body_need_more_bytes() {
        let dec = FrameDecoder::default();
        let stream = [0u8, 0, 0, 2, 7, 8, 0, 0, 0, 1, 9];
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for b in stream {
            buf.extend_from_slice(&[b]);
            while let Some(f) = dec.decode(&mut buf).unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(
            frames,
            vec![Bytes::from_static(&[7, 8]), Bytes::from_static(&[9])]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn frames_are_zero_copy_slices_of_the_buffer() {
        let dec = FrameDecoder::default();
        let mut buf = BytesMut::from(&[0u8, 0, 0, 2, 7, 8, 0, 0, 0, 1, 9][..]);
        let base = buf.as_ptr();
        let f1 = dec.decode(&mut buf).unwrap().unwrap();
        let f2 = dec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(f1.as_ptr(), base.wrapping_add(4));
        assert_eq!(f2.as_ptr(), base.wrapping_add(10));
    }
}
