//! The watch-callback rule, kept at the handler layer on top of a plain FIFO: watch
//! callbacks never overlap, and keep their order.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use super::Deferred;

/// Serializes watch callbacks over a loop whose queue knows nothing of them (any
/// [`EventLoop`](super::EventLoop) implementation can use one).
///
/// [`admit`](WatchGate::admit) takes a watch callback and returns the turn to queue in its
/// place, at its position in the FIFO (a clone of the gate's `Rc`: no allocation per
/// callback beyond the callback's own box). When that closure runs and no watch callback is
/// running, it runs the oldest admitted callback. When one is running (it blocks, driving a
/// nested loop that reaches the next one's turn), the turn is *owed*: the callback stays
/// held, and runs right after the running one returns, before anything else the outer
/// iteration has queued. So watch callbacks run one at a time, in the order they were
/// dispatched, and in FIFO order with completions except while one blocks.
///
/// If a watch callback panics, the callbacks held behind it run at the next watch turn.
#[derive(Clone, Default)]
pub struct WatchGate {
    inner: Rc<Gate>,
}

#[derive(Default)]
struct Gate {
    waiting: RefCell<VecDeque<Box<dyn FnOnce()>>>,
    running: Cell<bool>,
    /// Turns that came up while a watch callback was running.
    owed: Cell<usize>,
}

impl fmt::Debug for WatchGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchGate")
            .field("running", &self.inner.running.get())
            .field("waiting", &self.inner.waiting.borrow().len())
            .finish()
    }
}

/// Clears `running` when the callback returns or unwinds.
struct Running<'a>(&'a Gate);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.set(false);
    }
}

impl WatchGate {
    /// A gate with nothing admitted.
    pub fn new() -> WatchGate {
        WatchGate::default()
    }

    /// Takes a watch callback; returns the turn to queue on the loop's FIFO in its place
    /// (run it with [`Deferred::run_deferred`]).
    pub fn admit(&self, f: Box<dyn FnOnce()>) -> Rc<dyn Deferred> {
        self.inner.waiting.borrow_mut().push_back(f);
        self.inner.clone()
    }

    /// Whether a watch callback is running.
    pub fn in_watch_callback(&self) -> bool {
        self.inner.running.get()
    }
}

impl Deferred for Gate {
    fn run_deferred(self: Rc<Self>) {
        self.turn();
    }
}

impl Gate {
    fn turn(&self) {
        if self.running.get() {
            self.owed.set(self.owed.get() + 1);
            return;
        }
        let mut turns = 1 + self.owed.replace(0); // the owed ones of an earlier panic
        while turns > 0 {
            turns -= 1;
            let Some(f) = self.waiting.borrow_mut().pop_front() else {
                return;
            };
            self.running.set(true);
            let guard = Running(self);
            f();
            drop(guard);
            turns += self.owed.replace(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A turn that comes up while a watch callback runs (a nested loop reached it) is owed:
    /// its callback runs right after the running one returns, never inside it.
    #[test]
    fn a_turn_reached_inside_a_watch_runs_after_it() {
        let gate = WatchGate::new();
        let log = Rc::new(RefCell::new(Vec::new()));
        // w2's turn, reached by w1's nested loop
        let nested: Rc<RefCell<Option<Rc<dyn Deferred>>>> = Rc::default();
        let (l1, g, n) = (log.clone(), gate.clone(), nested.clone());
        let first = gate.admit(Box::new(move || {
            l1.borrow_mut().push("w1 start");
            assert!(g.in_watch_callback());
            let turn = n.borrow_mut().take();
            if let Some(turn) = turn {
                turn.run_deferred();
            }
            l1.borrow_mut().push("w1 end");
        }));
        let l2 = log.clone();
        *nested.borrow_mut() = Some(gate.admit(Box::new(move || l2.borrow_mut().push("w2"))));
        first.run_deferred();
        assert_eq!(*log.borrow(), ["w1 start", "w1 end", "w2"]);
        assert!(!gate.in_watch_callback());
    }
}
