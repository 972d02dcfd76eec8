//! The cache's one event queue, in the order the cache learned each fact from the server.
//!
//! A children reply tells of a new node before its data is known: the node's event gets a
//! place in the queue then ([`EventQueue::reserve`]), and is filled in when its data reply
//! comes ([`EventQueue::fill`]). Events behind a place still waiting are held back, so a
//! node created before another node's update is reported before it, even though its data
//! came later. A place whose read fails is given up (the events behind it go on), and the
//! node's event comes when its data does.

use std::collections::{HashMap, VecDeque};

use crate::recipe::CacheEvent;

enum Slot {
    Ready(CacheEvent),
    /// A place reserved for a node whose data read is under way.
    Waiting,
    /// A reserved place filled in (reversed: popped from the end); may be empty.
    Filled(Vec<CacheEvent>),
}

#[derive(Default)]
pub(super) struct EventQueue {
    slots: VecDeque<Slot>,
    /// The sequence number of `slots[0]`.
    first: u64,
    /// The places reserved, by path.
    reserved: HashMap<String, u64>,
}

impl EventQueue {
    pub(super) fn push(&mut self, ev: CacheEvent) {
        self.slots.push_back(Slot::Ready(ev));
    }

    pub(super) fn extend(&mut self, evs: impl IntoIterator<Item = CacheEvent>) {
        self.slots.extend(evs.into_iter().map(Slot::Ready));
    }

    /// Reserves the next place for `path`'s events; false if one is already reserved.
    pub(super) fn reserve(&mut self, path: &str) -> bool {
        if self.reserved.contains_key(path) {
            return false;
        }
        let seq = self.first + self.slots.len() as u64;
        self.slots.push_back(Slot::Waiting);
        self.reserved.insert(path.to_owned(), seq);
        true
    }

    /// `path`'s events: in its reserved place if it has one, else at the end.
    pub(super) fn fill(&mut self, path: &str, mut evs: Vec<CacheEvent>) {
        let slot = self
            .reserved
            .remove(path)
            .and_then(|seq| seq.checked_sub(self.first))
            .and_then(|i| self.slots.get_mut(i as usize));
        match slot {
            Some(s) => {
                evs.reverse();
                *s = Slot::Filled(evs);
            }
            None => self.extend(evs),
        }
    }

    /// Gives up every reserved place (their reads will not be answered in this
    /// generation): the events behind them can go.
    pub(super) fn release_all(&mut self) {
        let paths: Vec<String> = self.reserved.keys().cloned().collect();
        for p in paths {
            self.fill(&p, Vec::new());
        }
    }

    /// Gives back the memory of a peak (after the initial load).
    pub(super) fn shrink_to_fit(&mut self) {
        self.slots.shrink_to_fit();
        self.reserved.shrink_to_fit();
    }

    pub(super) fn clear(&mut self) {
        self.slots.clear();
        self.reserved.clear();
        self.first = 0;
    }

    /// The next event, unless the queue is empty or its head waits for a data reply.
    pub(super) fn pop(&mut self) -> Option<CacheEvent> {
        loop {
            match self.slots.front_mut()? {
                Slot::Waiting => return None,
                Slot::Filled(evs) => {
                    if let Some(ev) = evs.pop() {
                        return Some(ev);
                    }
                }
                Slot::Ready(_) => {}
            }
            let Some(Slot::Ready(ev)) = self.slots.pop_front() else {
                self.first += 1;
                continue;
            };
            self.first += 1;
            return Some(ev);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::CachedNode;

    fn added(p: &str) -> CacheEvent {
        CacheEvent::NodeAdded(CachedNode {
            path: p.into(),
            data: Default::default(),
            stat: Default::default(),
        })
    }

    #[test]
    fn a_reserved_place_holds_back_what_follows_until_filled() {
        let mut q = EventQueue::default();
        q.push(added("/a"));
        assert!(q.reserve("/a/b"));
        assert!(!q.reserve("/a/b"));
        q.push(CacheEvent::ConnectionSuspended);
        assert_eq!(q.pop(), Some(added("/a")));
        assert_eq!(q.pop(), None, "held back");
        q.fill("/a/b", vec![added("/a/b"), added("/a/b2")]);
        assert_eq!(q.pop(), Some(added("/a/b")));
        assert_eq!(q.pop(), Some(added("/a/b2")));
        assert_eq!(q.pop(), Some(CacheEvent::ConnectionSuspended));
        assert_eq!(q.pop(), None);
        q.fill("/x", vec![added("/x")]); // nothing reserved: at the end
        assert!(q.reserve("/y"));
        q.push(CacheEvent::Initialized);
        q.release_all();
        assert_eq!(q.pop(), Some(added("/x")));
        assert_eq!(q.pop(), Some(CacheEvent::Initialized));
        assert_eq!(q.pop(), None);
    }
}
