//! Which in-flight requests have fully left: "sent, outcome unknown" versus "not sent,
//! certainly not applied".
//!
//! A request's in-flight record is made when it is encoded into the output buffer, before
//! the driver writes it. To tell, when the session ends, which requests the server may have
//! applied, the session counts the bytes reported by `advance_output` and keeps the end
//! offsets of the frames not yet fully written: only those, so a request that left costs
//! nothing here, and one still waiting costs 8 bytes beside its frame in the buffer.

use std::collections::VecDeque;

/// The high bit of an end offset marks an auth frame (auth has its own FIFO).
const AUTH: u64 = 1 << 63;

/// The frames of the current connection not yet fully written, as end offsets.
#[derive(Debug, Default)]
pub(super) struct Unsent {
    /// Bytes reported written on the current connection.
    written: u64,
    /// End offsets (counted from the start of the connection's output) of the frames of the
    /// youngest in-flight records, oldest first, that are not fully written; [`AUTH`] marks
    /// an auth frame.
    ends: VecDeque<u64>,
}

impl Unsent {
    /// A frame for an in-flight record (an auth one if `auth`) was appended to the output
    /// buffer, which now holds `buffered` bytes.
    pub(super) fn encoded(&mut self, buffered: usize, auth: bool) {
        let end = self.written.saturating_add(buffered as u64) & !AUTH;
        self.ends.push_back(if auth { end | AUTH } else { end });
    }

    /// `n` more bytes were written.
    pub(super) fn advance(&mut self, n: usize) {
        self.written = self.written.saturating_add(n as u64);
        while let Some(&e) = self.ends.front() {
            if e & !AUTH > self.written {
                break;
            }
            self.ends.pop_front();
        }
    }

    /// How many of the youngest in-flight records, and of the youngest auth records, have not
    /// fully left: `(in_flight, auth)`.
    pub(super) fn counts(&self) -> (usize, usize) {
        let auth = self.ends.iter().filter(|e| **e & AUTH != 0).count();
        (self.ends.len() - auth, auth)
    }

    /// The connection is gone (its output buffer was dropped): start over.
    pub(super) fn reset(&mut self) {
        self.written = 0;
        self.ends.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_leave_when_their_last_byte_is_written() {
        let mut u = Unsent::default();
        u.encoded(10, false);
        u.encoded(25, true);
        u.encoded(40, false);
        assert_eq!(u.counts(), (2, 1));
        u.advance(9);
        assert_eq!(u.counts(), (2, 1), "a frame written in part has not left");
        u.advance(1);
        assert_eq!(u.counts(), (1, 1));
        u.advance(20);
        assert_eq!(u.counts(), (1, 0));
        u.encoded(20, false); // 10 bytes left of the third frame, then 10 of a fourth
        assert_eq!(u.counts(), (2, 0));
        u.advance(10);
        assert_eq!(u.counts(), (1, 0));
        u.advance(10);
        assert_eq!(u.counts(), (0, 0));
        u.reset();
        assert_eq!(u.counts(), (0, 0));
    }
}
