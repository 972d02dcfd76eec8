//! The table of requests awaiting their reply.

use std::collections::VecDeque;

use crate::client::watchers::PendingWatcher;
use crate::client::Watcher;
use crate::error::Error;
use crate::proto::{Response, WatcherType};
use crate::session::RequestId;

/// What to do with a reply: the typed completion, and the watcher to register on success.
pub(crate) struct Pending {
    pub(crate) complete: Box<dyn FnOnce(Result<Response, Error>)>,
    /// Boxed: most requests have none, and this keeps the pending table small (a `Pending`
    /// is at most 40 bytes, pinned by `per_request_records_stay_small`; the README's issue
    /// #6 memory table counts 48 B per outstanding request for this table's slot).
    pub(crate) watcher: Option<Box<PendingWatcher>>,
    /// Names the request in a server error when the session gives back no path for it.
    pub(crate) label: &'static str,
}

/// The pending requests by id. Ids are handed out in increasing order and replies come back
/// in the same order (ZooKeeper answers a session's requests in order), so this is a FIFO:
/// insertion at the back, removal almost always at the front, lookup by binary search for the
/// rest (auth replies and failures can complete out of order). No hashing, and the requests
/// still pending at a teardown are failed in submission order.
#[derive(Default)]
pub(crate) struct PendingTable {
    slots: VecDeque<(RequestId, Option<Pending>)>,
    live: usize,
}

impl PendingTable {
    pub(crate) fn insert(&mut self, id: RequestId, p: Pending) {
        match self.slots.back() {
            Some((last, _)) if *last >= id => {
                // Never happens with the session's ids; kept correct anyway.
                let at = self.slots.partition_point(|(i, _)| *i < id);
                if self.slots.get(at).is_some_and(|(i, _)| *i == id) {
                    self.slots[at].1 = Some(p);
                    return;
                }
                self.slots.insert(at, (id, Some(p)));
            }
            _ => self.slots.push_back((id, Some(p))),
        }
        self.live += 1;
    }

    pub(crate) fn remove(&mut self, id: RequestId) -> Option<Pending> {
        let at = match self.slots.front() {
            Some((first, _)) if *first == id => 0,
            _ => self.slots.binary_search_by_key(&id, |(i, _)| *i).ok()?,
        };
        let p = self.slots.get_mut(at)?.1.take();
        if p.is_some() {
            self.live -= 1;
        }
        while self.slots.front().is_some_and(|(_, p)| p.is_none()) {
            self.slots.pop_front();
        }
        p
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Whether a request still awaiting its reply will register a watcher other than
    /// `except` for a watch of single kind `k` on server path `path` (a read with a watcher,
    /// an `addWatch`): the server sets that watch when it answers, so a removal planned now
    /// must not take the server's watch away from under it. (A registration of `except`
    /// itself does not count: its removal goes after it, and takes it away too.) A scan, as
    /// removals are rare and the table is a FIFO without an index.
    pub(crate) fn registers(&self, path: &str, k: WatcherType, except: &Watcher) -> bool {
        self.slots.iter().any(|(_, p)| {
            p.as_ref()
                .and_then(|p| p.watcher.as_ref())
                .is_some_and(|w| {
                    w.path == path && w.kind.watcher_type() == k && !w.watcher.same(except)
                })
        })
    }

    /// Takes every pending request, oldest first.
    pub(crate) fn drain(&mut self) -> Vec<Pending> {
        self.live = 0;
        self.slots.drain(..).filter_map(|(_, p)| p).collect()
    }
}

#[cfg(test)]
mod tests {
    /// The per-request bookkeeping stays small (issue #6 measures heap bytes per outstanding
    /// request; these are the fixed parts of it, on 64-bit targets).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn per_request_records_stay_small() {
        use std::mem::size_of;
        assert!(
            size_of::<super::Pending>() <= 40,
            "{}",
            size_of::<super::Pending>()
        );
        assert!(
            crate::session::inflight_size() <= 48,
            "{}",
            crate::session::inflight_size()
        );
        assert!(crate::async_result::state_size::<()>() <= 144);
        assert!(crate::async_result::state_size::<Option<crate::proto::Stat>>() <= 168);
    }
}
