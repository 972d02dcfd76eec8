//! Batching a [`RecursiveCache`](super::RecursiveCache)'s reads into `multiRead` requests
//! (ZooKeeper 3.6+): which queued reads go together, and what a batch's failure means.
//!
//! **What it buys.** With one read per request a load is bound by the server: ~55-60 µs of
//! its CPU per node (a request through its pipeline and a response written per read). One
//! `multiRead` of up to [`BATCH_OPS`] reads goes through the pipeline once and is answered
//! in one write. Measured with `benches/caches` (`--sizes 1000,10000,100000 --impls
//! raw,recursive_cache --kazoo off --repeat 3`, the build before this change and the one
//! with it run alternately, twice each, on one 2-core machine): a load of 10 000 nodes went
//! from 0.39-0.70 s to 0.030-0.035 s, of 100 000 from 4.5-4.6 s to 0.26-0.30 s (15-20x);
//! the server's CPU per node from 55-75 µs to 5-6 µs (10 000) and 54-62 µs to 2.0-2.2 µs
//! (100 000); the client's from ~11 µs to ~2 µs; requests per node from 1.05 to 0.01.
//! Batches of 32, 128 and 256 reads (same bench, alternated, twice each): 10 000 nodes in
//! 0.064-0.065 s, 0.049-0.055 s and 0.044-0.046 s; 100 000 in 0.35-0.44 s, 0.29-0.34 s and
//! 0.25-0.34 s (server CPU 3.3-3.8, 2.4-2.5 and 1.7-2.0 µs per node). 128 is kept: within
//! the noise of 256 on large trees, with half the reply size.
//!
//! **Limits.** A batch takes at most [`BATCH_OPS`] reads (and never more than the room under
//! the cache's in-flight bound, counted in reads), and stops growing once its reply's
//! estimated size reaches [`BATCH_BYTES`] (an eighth of the client's default largest incoming
//! frame): a node's data counts with its known `data_length` (a node read before), else as
//! large as the largest data the cache has seen; a child list with its known
//! `num_children`. A reply larger than the client's frame limit drops the connection: every
//! read of a batch that was in flight then is read singly once (a single read always fits),
//! which makes its size known for the next batches. A server that refuses `multiRead`
//! (`Unimplemented`, ZooKeeper 3.5) gets single reads for the rest of the session.

use std::collections::{HashSet, VecDeque};

use crate::{Error, ErrorCode};

/// The most reads in one `multiRead`.
pub(super) const BATCH_OPS: usize = 128;

/// The estimated reply size at which a batch stops growing (the client's default largest
/// incoming frame is 4 MiB).
pub(super) const BATCH_BYTES: usize = 512 * 1024;

/// The estimated bytes of one read's reply beyond its data: the result header, the stat, the
/// path's share of the request.
const OP_OVERHEAD: usize = 100;

/// The estimated bytes of one child's name in a child list.
const CHILD_NAME: usize = 64;

/// What the cache knows of a read's reply size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Size {
    /// Node data, its length known from an earlier read.
    Data(usize),
    /// Node data never read: as large as the largest the cache has seen.
    UnknownData,
    /// A child list of so many children (as of the node's last read).
    Children(usize),
    /// Must be read on its own (a batch holding it was lost with the connection).
    Alone,
}

/// How a batch's reads are chosen: the cache's memory of what failed and how large data is.
#[derive(Debug, Default)]
pub(super) struct Batcher {
    /// `multiRead` was refused this session: single reads only.
    refused: bool,
    /// The largest data read so far (the estimate for a node never read).
    max_data: usize,
    /// Paths in a batch that was in flight when the connection dropped: read singly once.
    alone: HashSet<Box<str>>,
}

impl Batcher {
    /// Whether batching is on (the server did not refuse `multiRead` this session).
    pub(super) fn enabled(&self) -> bool {
        !self.refused
    }

    /// A new session: try `multiRead` again.
    pub(super) fn new_session(&mut self) {
        self.refused = false;
    }

    /// A read of `path` came back with data of `len` bytes.
    pub(super) fn saw_data(&mut self, path: &str, len: usize) {
        self.max_data = self.max_data.max(len);
        self.read_done(path);
    }

    /// A read of `path` came back (any answer but a lost connection).
    pub(super) fn read_done(&mut self, path: &str) {
        if !self.alone.is_empty() {
            self.alone.remove(path);
        }
    }

    /// A pass over the tree finished with nothing missed: paths still marked to be read
    /// alone are no longer in the tree.
    pub(super) fn settled(&mut self) {
        if !self.alone.is_empty() {
            self.alone = HashSet::new();
        }
    }

    /// Whether `path` must be read on its own.
    pub(super) fn is_alone(&self, path: &str) -> bool {
        !self.alone.is_empty() && self.alone.contains(path)
    }

    /// A whole `multiRead` of `paths` failed with `e`. Returns true when the failure means
    /// the server refuses `multiRead` (the reads are then to be sent again, singly).
    pub(super) fn batch_failed<'a>(
        &mut self,
        e: &Error,
        paths: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        if refuses_multi_read(e) {
            self.refused = true;
            return true;
        }
        if matches!(e, Error::ConnectionLoss) {
            // Perhaps the reply was over the frame limit: read these alone once.
            self.alone.extend(paths.into_iter().map(Box::from));
        }
        false
    }

    /// The estimated reply bytes of a read whose size is `size`.
    fn estimate(&self, size: Size) -> usize {
        OP_OVERHEAD
            + match size {
                Size::Data(n) => n,
                Size::UnknownData => self.max_data,
                Size::Children(n) => n.saturating_mul(CHILD_NAME),
                Size::Alone => BATCH_BYTES,
            }
    }

    /// Takes the next batch from the front of `todo`: at most `room` reads (never more
    /// than [`BATCH_OPS`]; one when batching is off), stopping before a read marked
    /// [`Size::Alone`] and once the estimate reaches [`BATCH_BYTES`]. At least one read when
    /// `room > 0` and `todo` is not empty; the order is kept.
    pub(super) fn take<T>(
        &self,
        todo: &mut VecDeque<T>,
        room: usize,
        size: impl Fn(&T) -> Size,
    ) -> Vec<T> {
        let cap = if self.refused { 1 } else { BATCH_OPS };
        let cap = cap.min(room);
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        while batch.len() < cap && bytes < BATCH_BYTES {
            let Some(next) = todo.front() else { break };
            let s = size(next);
            if s == Size::Alone && !batch.is_empty() {
                break;
            }
            bytes = bytes.saturating_add(self.estimate(s));
            batch.extend(todo.pop_front());
            if s == Size::Alone {
                break;
            }
        }
        batch
    }
}

/// Whether a `multiRead` failing as a whole with `e` means the server does not support it
/// (ZooKeeper before 3.6 answers an unknown request type with `Unimplemented`).
pub(super) fn refuses_multi_read(e: &Error) -> bool {
    e.code() == Some(ErrorCode::Unimplemented)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ZkError;

    fn sizes(v: &[Size]) -> VecDeque<Size> {
        v.iter().copied().collect()
    }

    #[test]
    fn a_batch_is_capped_by_count_room_and_estimated_bytes() {
        let b = Batcher::default();
        let mut todo = sizes(&[Size::Data(10); 300]);
        assert_eq!(b.take(&mut todo, 1000, |s| *s).len(), BATCH_OPS);
        assert_eq!(b.take(&mut todo, 5, |s| *s).len(), 5);
        assert_eq!(b.take(&mut todo, 0, |s| *s).len(), 0);
        // Large known data: the batch stops once the estimate reaches the budget.
        let mut big = sizes(&[Size::Data(200 * 1024); 10]);
        assert_eq!(b.take(&mut big, 1000, |s| *s).len(), 3);
        // One read over the budget still goes (alone).
        let mut huge = sizes(&[Size::Data(4 << 20); 2]);
        assert_eq!(b.take(&mut huge, 1000, |s| *s).len(), 1);
        // Long child lists count too.
        let mut kids = sizes(&[Size::Children(5000); 4]);
        assert_eq!(b.take(&mut kids, 1000, |s| *s).len(), 2);
    }

    #[test]
    fn unknown_data_is_estimated_as_the_largest_seen() {
        let mut b = Batcher::default();
        let mut todo = sizes(&[Size::UnknownData; 200]);
        assert_eq!(b.take(&mut todo, 1000, |s| *s).len(), BATCH_OPS);
        b.saw_data("/a", 300 * 1024);
        assert_eq!(b.take(&mut todo, 1000, |s| *s).len(), 2);
    }

    #[test]
    fn reads_of_a_batch_lost_with_the_connection_go_alone_once() {
        let mut b = Batcher::default();
        assert!(!b.batch_failed(&Error::ConnectionLoss, ["/a", "/b"]));
        assert!(b.enabled());
        assert!(b.is_alone("/a") && b.is_alone("/b") && !b.is_alone("/c"));
        let size = |p: &&str| {
            if b.is_alone(p) {
                Size::Alone
            } else {
                Size::Data(1)
            }
        };
        let mut todo: VecDeque<&str> = ["/c", "/d", "/a", "/b", "/e"].into();
        assert_eq!(b.take(&mut todo, 1000, size), ["/c", "/d"]);
        assert_eq!(b.take(&mut todo, 1000, size), ["/a"]);
        assert_eq!(b.take(&mut todo, 1000, size), ["/b"]);
        assert_eq!(b.take(&mut todo, 1000, size), ["/e"]);
        b.saw_data("/a", 5);
        b.read_done("/b");
        assert!(!b.is_alone("/a") && !b.is_alone("/b"));
        // One never read again (deleted meanwhile) is forgotten once a pass settled.
        b.batch_failed(&Error::ConnectionLoss, ["/gone"]);
        b.settled();
        assert!(!b.is_alone("/gone"));
    }

    #[test]
    fn unimplemented_turns_batching_off_until_a_new_session() {
        let mut b = Batcher::default();
        let refused = Error::ZooKeeper(ZkError {
            code: ErrorCode::Unimplemented,
            path: String::new(),
        });
        assert!(refuses_multi_read(&refused));
        assert!(!refuses_multi_read(&Error::ConnectionLoss));
        assert!(b.batch_failed(&refused, ["/a"]));
        assert!(!b.enabled());
        assert!(!b.is_alone("/a"));
        let mut todo = sizes(&[Size::Data(1); 10]);
        assert_eq!(b.take(&mut todo, 1000, |s| *s).len(), 1);
        b.new_session();
        assert!(b.enabled());
        assert_eq!(b.take(&mut todo, 1000, |s| *s).len(), 9);
        // Other failures of a whole batch change nothing.
        assert!(!b.batch_failed(&Error::Timeout, ["/x"]));
        assert!(b.enabled() && !b.is_alone("/x"));
    }
}
