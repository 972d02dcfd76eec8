//! Driving the loop: one iteration (I/O, timers, the queue), blocking waits and nesting,
//! and the embedded host's calls.

use std::task::Context;
use std::time::{Duration, Instant};

use super::{
    deadline_after, task, Backend, Completion, ContextGuard, Entry, Frame, Inner, Reactor,
    Readiness, TimerAction, WAKER_TOKEN,
};
use crate::{Error, LoopError};

impl Reactor {
    // ----- driving -----

    /// Runs exactly one iteration (see [one iteration](Reactor#one-iteration)), waiting
    /// for
    /// I/O no longer than `timeout` (`None`: until something happens) and the nearest timer,
    /// and not at all when work is queued. Returns whether anything happened: an event, a
    /// timer, a callback or task run, or a wake-up from another thread.
    ///
    /// It works on a stopped reactor too (it is the caller driving the loop).
    ///
    /// # Notable errors
    ///
    /// [`LoopError::Embedded`] on an embedded reactor (the host polls;
    /// use
    /// [`run_pending`](Reactor::run_pending));
    /// [`LoopError::NestingTooDeep`]; [`Error::Io`] if
    /// the poll itself fails.
    pub fn poll_once(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        if self.inner.embedded {
            return Err(Error::Loop(LoopError::Embedded { what: "poll_once" }));
        }
        let _frame = self.enter_frame()?;
        self.turn(timeout)
    }

    /// Runs the loop until `done` is complete, or `timeout` passes ([`Error::Timeout`]).
    /// Returns at once if it already is. `timeout: None` waits forever (or until stopped).
    ///
    /// # Notable errors
    ///
    /// [`Error::Timeout`], [`LoopError::Stopped`],
    /// [`LoopError::NestingTooDeep`],
    /// [`LoopError::Embedded`].
    pub fn run_until<C: Completion + ?Sized>(
        &self,
        done: &C,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        self.wait_until(&|| done.is_complete(), timeout, "run_until")
    }

    /// Runs the loop for `duration` (at least one iteration), never blocking the thread
    /// longer than the next piece of work. This is the handler's `sleep`.
    ///
    /// # Notable errors
    ///
    /// [`LoopError::Stopped`] (also when stopped during the sleep),
    /// [`LoopError::NestingTooDeep`],
    /// [`LoopError::Embedded`].
    pub fn run_for(&self, duration: Duration) -> Result<(), Error> {
        let what = "sleep/run_for";
        self.check_can_block(what)?;
        let _frame = self.enter_frame()?;
        let deadline = deadline_after(Instant::now(), duration);
        loop {
            self.turn(Some(deadline.saturating_duration_since(Instant::now())))?;
            if !self.inner.running.get() {
                return Err(Error::Loop(LoopError::Stopped));
            }
            if Instant::now() >= deadline {
                return Ok(());
            }
        }
    }

    /// The blocking-wait primitive every cooperative wait is built on.
    pub fn wait_until(
        &self,
        done: &dyn Fn() -> bool,
        timeout: Option<Duration>,
        what: &'static str,
    ) -> Result<(), Error> {
        if done() {
            return Ok(());
        }
        self.check_can_block(what)?;
        let _frame = self.enter_frame()?;
        let deadline = timeout.map(|t| deadline_after(Instant::now(), t));
        loop {
            let wait = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            self.turn(wait)?;
            if done() {
                return Ok(());
            }
            if !self.inner.running.get() {
                return Err(Error::Loop(LoopError::Stopped));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout);
            }
        }
    }

    fn check_can_block(&self, what: &'static str) -> Result<(), Error> {
        if self.inner.embedded {
            return Err(Error::Loop(LoopError::Embedded { what }));
        }
        if !self.inner.running.get() {
            return Err(Error::Loop(LoopError::Stopped));
        }
        Ok(())
    }

    /// Fires due timers and runs queued callbacks and tasks, without polling for I/O:
    /// [`run_timers`](Reactor::run_timers) then [`run_callbacks`](Reactor::run_callbacks).
    /// This is the embedded host's call after each poll; it also works on an owned reactor.
    /// Returns whether anything ran.
    ///
    /// # Notable errors
    ///
    /// [`LoopError::NestingTooDeep`] when called from too deep
    /// inside callbacks.
    pub fn run_pending(&self) -> Result<bool, Error> {
        let _frame = self.enter_frame()?;
        let mut did = self.drain_remote();
        did |= self.fire_timers();
        did |= self.run_queue();
        Ok(did)
    }

    /// Fires the timers that are due (for a client: pings, connect and read timeouts,
    /// reconnect backoff), in deadline order. What they queue runs in
    /// [`run_callbacks`](Reactor::run_callbacks). Returns whether any fired.
    ///
    /// # Notable errors
    ///
    /// [`LoopError::NestingTooDeep`] when called from too deep
    /// inside callbacks.
    pub fn run_timers(&self) -> Result<bool, Error> {
        let _frame = self.enter_frame()?;
        Ok(self.fire_timers())
    }

    /// Runs the callbacks and tasks that are queued (completion callbacks, state
    /// listeners, spawned tasks, futures woken, also from other threads), in FIFO order;
    /// work they queue runs on the next call. Returns whether any ran.
    ///
    /// # Notable errors
    ///
    /// [`LoopError::NestingTooDeep`] when called from too deep
    /// inside callbacks.
    pub fn run_callbacks(&self) -> Result<bool, Error> {
        let _frame = self.enter_frame()?;
        let did = self.drain_remote();
        Ok(self.run_queue() | did)
    }

    /// For an embedded reactor's host: handles `event` if its token is in this reactor's
    /// range (records readiness, runs the source's readiness callback) and returns `true`;
    /// returns `false` for the host's own events. On an owned reactor it does the same for
    /// events the caller got elsewhere.
    pub fn handle_event(&self, event: &mio::event::Event) -> bool {
        let r = Readiness::from_event(event);
        let key = {
            let mut io = self.inner.io.borrow_mut();
            let Some(key) = io.key(event.token()) else {
                return false;
            };
            match io.sources.get_mut(key) {
                Some(slot) => {
                    slot.ready |= r;
                    slot.has_callback.then_some(key)
                }
                None => None, // ours, but already deregistered
            }
        };
        if let Some(key) = key {
            self.dispatch_io(key, r);
        }
        true
    }

    /// How long the host may wait in its poll before this reactor needs
    /// [`run_pending`](Reactor::run_pending): `Some(ZERO)` when work is queued (or another
    /// thread woke the loop), the time to the nearest timer, or `None` when there is nothing
    /// to wait for but I/O.
    pub fn next_timeout(&self) -> Option<Duration> {
        if self.has_runnable() || self.inner.remote.is_pending() {
            return Some(Duration::ZERO);
        }
        let next = self.inner.timers.borrow_mut().next_deadline();
        next.map(|d| d.saturating_duration_since(Instant::now()))
    }

    // ----- internals -----

    pub(super) fn enter_frame(&self) -> Result<Frame<'_>, Error> {
        let d = self.inner.depth.get();
        if d >= Self::MAX_DEPTH {
            return Err(Error::Loop(LoopError::NestingTooDeep {
                limit: Self::MAX_DEPTH,
            }));
        }
        self.inner.depth.set(d + 1);
        Ok(Frame(&self.inner))
    }

    pub(super) fn new_context(&self) -> u64 {
        let c = self.inner.next_context.get();
        self.inner.next_context.set(c + 1);
        c
    }

    /// Runs `f` as a callback (with its context id).
    fn invoke<R>(&self, context: Option<u64>, f: impl FnOnce() -> R) -> R {
        let inner = &*self.inner;
        let _guard = ContextGuard {
            inner,
            context: inner.context.get(),
        };
        let context = context.unwrap_or_else(|| self.new_context());
        inner.context.set(context);
        f()
    }

    /// One iteration (the caller holds a frame).
    fn turn(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        let mut did = false;
        let busy = self.has_runnable() || self.inner.remote.is_pending();
        // With work already queued, a turn either polls without waiting or, every other
        // time, does not poll at all: the zero-timeout poll in front of queued work (a flush
        // of requests just submitted, say) is a syscall that mostly finds nothing, and the
        // socket's readiness is not lost by waiting one turn (it is edge-triggered and
        // stays recorded in the kernel until the next poll).
        let skip = busy && !self.inner.skipped_poll.get();
        self.inner.skipped_poll.set(skip);
        if !self.inner.embedded && !skip {
            let wait = if busy {
                Some(Duration::ZERO)
            } else {
                let next = self.inner.timers.borrow_mut().next_deadline();
                let to_timer = next.map(|d| d.saturating_duration_since(Instant::now()));
                match (timeout, to_timer) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            };
            did |= self.poll_io(wait)?;
        }
        did |= self.drain_remote();
        did |= self.fire_timers();
        did |= self.run_queue();
        Ok(did)
    }

    fn poll_io(&self, wait: Option<Duration>) -> Result<bool, Error> {
        let mut scratch = std::mem::take(&mut *self.inner.scratch.borrow_mut());
        let mut any = false;
        {
            let mut io = self.inner.io.borrow_mut();
            let io = &mut *io;
            if let Backend::Owned(poll) = &mut io.backend {
                self.inner.io_counters.count_poll();
                match poll.poll(&mut io.events, wait) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        drop(scratch);
                        return Err(Error::io("polling mio", e));
                    }
                }
            }
            for ev in io.events.iter() {
                any = true;
                let token = ev.token();
                if token.0 == WAKER_TOKEN {
                    continue; // the remote flags are read in drain_remote
                }
                let Some(key) = io.key(token) else { continue };
                if let Some(slot) = io.sources.get_mut(key) {
                    let r = Readiness::from_event(ev);
                    slot.ready |= r;
                    if slot.has_callback {
                        scratch.push((key, r));
                    }
                }
            }
            io.events.clear();
        }
        for (key, r) in scratch.drain(..) {
            self.dispatch_io(key, r);
        }
        *self.inner.scratch.borrow_mut() = scratch;
        Ok(any)
    }

    fn dispatch_io(&self, key: usize, mut r: Readiness) {
        loop {
            let (mut cb, generation) = {
                let mut io = self.inner.io.borrow_mut();
                let Some(slot) = io.sources.get_mut(key) else {
                    return;
                };
                match slot.on_ready.take() {
                    Some(cb) => (cb, slot.generation),
                    None => {
                        if slot.has_callback {
                            slot.missed |= r; // it is running further down the stack
                        }
                        return;
                    }
                }
            };
            self.invoke(None, || cb(r));
            let (unused, again) = {
                let mut io = self.inner.io.borrow_mut();
                match io.sources.get_mut(key) {
                    Some(slot) if slot.generation == generation && slot.on_ready.is_none() => {
                        slot.on_ready = Some(cb);
                        (None, std::mem::take(&mut slot.missed))
                    }
                    // deregistered, or replaced by set_on_ready while it ran
                    _ => (Some(cb), Readiness::EMPTY),
                }
            };
            drop(unused);
            if again.is_empty() {
                return;
            }
            r = again;
        }
    }

    fn drain_remote(&self) -> bool {
        let mut keys = std::mem::take(&mut *self.inner.remote_scratch.borrow_mut());
        let (any, stop) = self.inner.remote.take(&mut keys);
        for key in keys.drain(..) {
            self.inner.schedule_task(key);
        }
        *self.inner.remote_scratch.borrow_mut() = keys;
        if stop {
            log::debug!(
                "reactor {}: stop requested from another thread",
                self.inner.id
            );
            self.stop();
        }
        any
    }

    fn fire_timers(&self) -> bool {
        let (next, max_seq) = {
            let mut timers = self.inner.timers.borrow_mut();
            (timers.next_deadline(), timers.last_seq())
        };
        let Some(next) = next else { return false };
        let now = Instant::now();
        if next > now {
            return false;
        }
        let mut did = false;
        loop {
            let due = self.inner.timers.borrow_mut().pop_due(now, max_seq);
            let Some((_, action)) = due else { break };
            did = true;
            match action {
                TimerAction::Call(f) => self.invoke(None, f),
                TimerAction::Wake(w) => w.wake(),
            }
        }
        did
    }

    fn has_runnable(&self) -> bool {
        !self.inner.queue.borrow().main.is_empty()
    }

    fn runnable_len(&self) -> usize {
        self.inner.queue.borrow().main.len()
    }

    fn pop_runnable(&self) -> Option<Entry> {
        self.inner.queue.borrow_mut().main.pop_front()
    }

    /// Runs the entries that were runnable when it started; whether it ran any.
    pub(super) fn run_queue(&self) -> bool {
        let n = self.runnable_len();
        let mut did = false;
        for _ in 0..n {
            let Some(e) = self.pop_runnable() else { break };
            did = true;
            match e {
                Entry::Call(f) => self.invoke(None, f),
                Entry::Notify(d) => self.invoke(None, || d.run_deferred()),
                Entry::Poll(key) => self.poll_task(key),
            }
        }
        did
    }

    fn poll_task(&self, key: usize) {
        let (mut fut, context) = {
            let mut tasks = self.inner.tasks.borrow_mut();
            let Some(t) = tasks.get_mut(key) else { return };
            t.queued = false;
            let Some(fut) = t.future.take() else {
                return; // being polled further down the stack; `rewake` handles it
            };
            t.running = true;
            (fut, t.context)
        };
        let waker = task::waker(self.inner.id, key);
        let mut cx = Context::from_waker(&waker);
        let res = self.invoke(Some(context), || fut.as_mut().poll(&mut cx));
        let finished = {
            let mut tasks = self.inner.tasks.borrow_mut();
            match tasks.get_mut(key) {
                Some(t) if t.context == context => {
                    t.running = false;
                    if res.is_ready() || t.cancelled {
                        tasks.remove(key);
                        Some(fut)
                    } else {
                        t.future = Some(fut);
                        if std::mem::take(&mut t.rewake) {
                            t.queued = true;
                            self.push(Entry::Poll(key));
                        }
                        None
                    }
                }
                _ => Some(fut),
            }
        };
        drop(finished);
    }
}

impl Inner {
    /// Queues a poll of task `key` (called by its waker on the loop thread).
    pub(super) fn schedule_task(&self, key: usize) {
        let (Ok(mut tasks), Ok(mut queue)) =
            (self.tasks.try_borrow_mut(), self.queue.try_borrow_mut())
        else {
            // A waker fired while the loop's tables are borrowed (this module never calls
            // out while holding them, but a waker may be woken from any Drop): go through
            // the remote path, drained at the next iteration.
            self.remote.wake_task(key);
            return;
        };
        match tasks.get_mut(key) {
            Some(t) if t.running => t.rewake = true,
            Some(t) if !t.queued && t.future.is_some() => {
                t.queued = true;
                queue.main.push_back(Entry::Poll(key));
            }
            _ => {}
        }
    }
}
