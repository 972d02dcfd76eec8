//! Frame splitting: a byte stream fed to the [`FrameDecoder`] in chunks, and the
//! deterministic pseudo-randomness that picks the chunks.

use bytes::{Bytes, BytesMut};

use crate::proto::{FrameDecoder, FrameError};

use super::FUZZ_MAX_FRAME;

/// What a byte stream splits into.
#[derive(Debug, PartialEq)]
pub(super) struct Split {
    pub(super) frames: Vec<Bytes>,
    /// The error that ended the stream, if any.
    pub(super) error: Option<FrameError>,
    /// Bytes left over (a partial frame) when there was no error.
    pub(super) leftover: usize,
}

/// Splits `data` fed in chunks of `chunk(i)` bytes.
pub(super) fn split_stream(data: &[u8], chunk: &mut dyn FnMut(usize) -> usize) -> Split {
    let dec = FrameDecoder::new(FUZZ_MAX_FRAME);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < data.len() {
        let n = chunk(i).clamp(1, data.len() - pos);
        i += 1;
        buf.extend_from_slice(&data[pos..pos + n]);
        pos += n;
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    let _ = e.to_string();
                    return Split {
                        frames,
                        error: Some(e),
                        leftover: 0,
                    };
                }
            }
        }
    }
    Split {
        frames,
        error: None,
        leftover: buf.len(),
    }
}

/// xorshift64: a fixed-seed generator for chunkings and test mutations.
#[derive(Debug, Clone)]
pub(super) struct XorShift(u64);

impl XorShift {
    pub(super) fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// FNV-1a, to derive a chunking from the input itself.
pub(super) fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
