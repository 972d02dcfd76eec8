//! One-shot timers: a slab of entries plus a binary heap keyed by `(deadline, seq)`.
//!
//! Cancellation is lazy: a cancelled entry leaves its heap node behind, and the node is
//! skipped when it reaches the top. Pushing a deadline *later* re-uses the old heap node
//! (it is re-pushed with the new deadline when it surfaces), so the common "push the ping
//! timer out on every send" costs no heap growth. Stale nodes are compacted away when they
//! outnumber live entries.
//!
//! Invariants: every live slab entry has at least one heap node whose deadline is `<=` the
//! entry's deadline; a heap node is *current* iff its slab slot holds the same `seq` and
//! the same deadline.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use slab::Slab;

/// Identifies a timer set with [`Reactor::set_timer`](super::Reactor::set_timer), to cancel
/// or reschedule it. Stays valid across reschedules; a fired or cancelled id is inert.
///
/// ```
/// use std::time::Duration;
/// let reactor = mio_zookeeper::handler::Reactor::new()?;
/// let id = reactor.set_timeout(Duration::from_secs(60), || unreachable!());
/// assert!(reactor.cancel_timer(id));
/// assert!(!reactor.cancel_timer(id)); // already gone
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    key: usize,
    seq: u64,
}

impl TimerId {
    /// An id made of two numbers, for a loop other than [`Reactor`](super::Reactor) that
    /// implements the handler's timers (a `Reactor` makes its own).
    pub const fn from_raw(key: usize, seq: u64) -> TimerId {
        TimerId { key, seq }
    }

    /// The two numbers of [`from_raw`](TimerId::from_raw).
    pub const fn into_raw(self) -> (usize, u64) {
        (self.key, self.seq)
    }
}

#[derive(Debug)]
struct Entry<T> {
    deadline: Instant,
    seq: u64,
    value: T,
}

/// The timer table. `seq` increases with every insert, so ties on the deadline fire in
/// creation order.
#[derive(Debug)]
pub(crate) struct Timers<T> {
    entries: Slab<Entry<T>>,
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    seq: u64,
}

impl<T> Timers<T> {
    pub(crate) fn new() -> Timers<T> {
        Timers {
            entries: Slab::new(),
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// The seq of the newest timer: a fire pass bounded by this value leaves timers created
    /// during the pass for the next one.
    pub(crate) fn last_seq(&self) -> u64 {
        self.seq
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn insert(&mut self, deadline: Instant, value: T) -> TimerId {
        self.seq += 1;
        let seq = self.seq;
        let key = self.entries.insert(Entry {
            deadline,
            seq,
            value,
        });
        self.heap.push(Reverse((deadline, seq, key)));
        TimerId { key, seq }
    }

    fn live(&self, id: TimerId) -> bool {
        matches!(self.entries.get(id.key), Some(e) if e.seq == id.seq)
    }

    /// Removes a timer; returns its value if it was still pending.
    pub(crate) fn cancel(&mut self, id: TimerId) -> Option<T> {
        if !self.live(id) {
            return None;
        }
        let e = self.entries.remove(id.key);
        self.maybe_compact();
        Some(e.value)
    }

    /// Moves a pending timer to a new deadline; `false` if it already fired or was cancelled.
    pub(crate) fn reschedule(&mut self, id: TimerId, deadline: Instant) -> bool {
        let Some(e) = self.entries.get_mut(id.key).filter(|e| e.seq == id.seq) else {
            return false;
        };
        let old = e.deadline;
        e.deadline = deadline;
        if deadline < old {
            // The existing node would surface too late: add one for the earlier deadline.
            self.heap.push(Reverse((deadline, id.seq, id.key)));
            self.maybe_compact();
        }
        true
    }

    /// Mutable access to a pending timer's value.
    pub(crate) fn get_mut(&mut self, id: TimerId) -> Option<&mut T> {
        self.entries
            .get_mut(id.key)
            .filter(|e| e.seq == id.seq)
            .map(|e| &mut e.value)
    }

    /// The earliest pending deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.settle_top();
        self.heap.peek().map(|Reverse((d, _, _))| *d)
    }

    /// Removes and returns the earliest timer if it is due at `now` and not newer than
    /// `max_seq`.
    pub(crate) fn pop_due(&mut self, now: Instant, max_seq: u64) -> Option<(TimerId, T)> {
        self.settle_top();
        let &Reverse((deadline, seq, key)) = self.heap.peek()?;
        if deadline > now || seq > max_seq {
            return None;
        }
        self.heap.pop();
        let e = self.entries.remove(key);
        Some((TimerId { key, seq }, e.value))
    }

    /// Drops stale nodes from the top of the heap and re-pushes nodes whose timer was moved
    /// later, until the top node is current (or the heap is empty).
    fn settle_top(&mut self) {
        while let Some(&Reverse((deadline, seq, key))) = self.heap.peek() {
            match self.entries.get(key) {
                Some(e) if e.seq == seq => {
                    if e.deadline == deadline {
                        return;
                    }
                    let later = e.deadline;
                    self.heap.pop();
                    if later > deadline {
                        self.heap.push(Reverse((later, seq, key)));
                    }
                    // later < deadline: an earlier node for this timer exists; drop this one.
                }
                _ => {
                    self.heap.pop();
                }
            }
        }
    }

    fn maybe_compact(&mut self) {
        if self.heap.len() > 64 && self.heap.len() > 2 * self.entries.len() {
            let entries = &self.entries;
            let mut nodes = std::mem::take(&mut self.heap).into_vec();
            nodes.clear();
            nodes.extend(
                entries
                    .iter()
                    .map(|(key, e)| Reverse((e.deadline, e.seq, key))),
            );
            self.heap = BinaryHeap::from(nodes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn drain(t: &mut Timers<u32>, now: Instant) -> Vec<u32> {
        let max = t.last_seq();
        std::iter::from_fn(|| t.pop_due(now, max).map(|(_, v)| v)).collect()
    }

    #[test]
    fn deadline_order_then_creation_order() {
        let base = Instant::now();
        let mut t = Timers::new();
        t.insert(base + Duration::from_millis(30), 3);
        t.insert(base + Duration::from_millis(10), 1);
        t.insert(base + Duration::from_millis(20), 2);
        t.insert(base + Duration::from_millis(10), 11);
        assert_eq!(drain(&mut t, base), Vec::<u32>::new());
        assert_eq!(
            drain(&mut t, base + Duration::from_millis(20)),
            vec![1, 11, 2]
        );
        assert_eq!(t.next_deadline(), Some(base + Duration::from_millis(30)));
        assert_eq!(drain(&mut t, base + Duration::from_secs(1)), vec![3]);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn cancel_and_reschedule() {
        let base = Instant::now();
        let mut t = Timers::new();
        let a = t.insert(base + Duration::from_millis(10), 1);
        let b = t.insert(base + Duration::from_millis(20), 2);
        let c = t.insert(base + Duration::from_millis(30), 3);
        assert_eq!(t.cancel(a), Some(1));
        assert_eq!(t.cancel(a), None);
        assert!(t.reschedule(b, base + Duration::from_millis(40))); // later
        assert!(t.reschedule(c, base + Duration::from_millis(5))); // earlier
        assert_eq!(t.next_deadline(), Some(base + Duration::from_millis(5)));
        assert_eq!(drain(&mut t, base + Duration::from_millis(35)), vec![3]);
        assert_eq!(t.next_deadline(), Some(base + Duration::from_millis(40)));
        assert_eq!(drain(&mut t, base + Duration::from_millis(40)), vec![2]);
        assert!(!t.reschedule(b, base));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn max_seq_holds_back_new_timers() {
        let base = Instant::now();
        let mut t = Timers::new();
        t.insert(base, 1);
        let max = t.last_seq();
        t.insert(base, 2);
        assert_eq!(t.pop_due(base, max).map(|x| x.1), Some(1));
        assert!(t.pop_due(base, max).is_none());
        assert_eq!(drain(&mut t, base), vec![2]);
    }

    #[test]
    fn heap_stays_bounded_under_churn() {
        let base = Instant::now();
        let mut t = Timers::new();
        let id = t.insert(base + Duration::from_secs(10), 0);
        for i in 0..10_000u64 {
            // alternately pull in and push out
            let d = if i % 2 == 0 { 5 } else { 20 };
            assert!(t.reschedule(id, base + Duration::from_secs(d)));
            let x = t.insert(base + Duration::from_secs(1), 1);
            t.cancel(x);
        }
        assert!(t.heap.len() <= 200, "heap grew to {}", t.heap.len());
        assert_eq!(drain(&mut t, base + Duration::from_secs(20)), vec![0]);
    }
}
