//! The single-threaded mio reactor: tokens, timers, the task and callback queue.
//!
//! A [`Reactor`] is a cheap-to-clone, `!Send` handle to one event loop. It is the loop under
//! the default handler ([`MioHandler`](crate::MioHandler)), which is the only user of it in
//! the crate: the client reaches the loop through its [`Handler`](crate::handler::Handler)
//! only. It owns a `mio::Poll` (see [`Reactor::new`]) or lives inside a host application's
//! `mio::Registry` (see [`Reactor::embedded`]).
//!
//! **What lives here, and what it may use:** mio, the clock, `std`; nothing of ZooKeeper and
//! nothing of the layers above (no policy about which callbacks may overlap: the handler's
//! `dispatch_callback` keeps watch callbacks serialized on top of this plain FIFO).
//!
//! This module is private: the handler layer re-exports [`Reactor`] and its types from
//! [`crate::handler`], since [`MioHandler::reactor`](crate::MioHandler::reactor) hands it
//! out for embedding. One iteration, the queue, nesting and embedding are documented on
//! [`Reactor`].

mod driving;
mod embed;
mod error;
mod io;
mod remote;
mod sleep;
mod sources;
mod task;
mod timers;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Registry, Token};
use slab::Slab;

use crate::Error;

pub use embed::EmbeddedHost;
pub use error::LoopError;
pub use io::{IoStats, Readiness, TcpSocket};
pub use remote::LoopWaker;
pub use sleep::Sleep;
pub use timers::TimerId;

use remote::Remote;
use timers::Timers;

/// The token of the owned `Poll`'s `mio::Waker`.
const WAKER_TOKEN: usize = usize::MAX;

/// How many times `stop()` empties the queue (callbacks queued by callbacks) before giving up.
const STOP_DRAIN_PASSES: usize = 64;

/// Something an `AsyncResult` (or another `Rc`-held object) queues to be run by the loop,
/// without a new allocation: the queue holds a clone of the `Rc`.
pub trait Deferred {
    /// Runs the deferred work. Called by the loop, with no borrow of the loop held.
    fn run_deferred(self: Rc<Self>);
}

enum Entry {
    Call(Box<dyn FnOnce()>),
    Notify(Rc<dyn Deferred>),
    Poll(usize),
}

#[derive(Default)]
struct RunQueue {
    main: VecDeque<Entry>,
}

enum TimerAction {
    Call(Box<dyn FnOnce()>),
    Wake(Waker),
}

struct SourceSlot {
    /// Distinguishes registrations that reuse a slab key.
    generation: u64,
    /// Union of readiness seen since the owner cleared it.
    ready: Readiness,
    /// Whether a readiness callback is installed (it may be taken out while it runs).
    has_callback: bool,
    on_ready: Option<Box<dyn FnMut(Readiness)>>,
    /// Readiness that arrived while the callback was running; it is run again with it.
    missed: Readiness,
}

enum Backend {
    Owned(Poll),
    Embedded(Registry),
}

struct Io {
    backend: Backend,
    events: Events,
    sources: Slab<SourceSlot>,
    /// Token of slab key 0.
    base: usize,
    /// One past the last usable token.
    limit: usize,
    generation: u64,
}

impl Io {
    fn registry(&self) -> &Registry {
        match &self.backend {
            Backend::Owned(p) => p.registry(),
            Backend::Embedded(r) => r,
        }
    }

    fn key(&self, token: Token) -> Option<usize> {
        if token.0 >= self.limit {
            return None;
        }
        token.0.checked_sub(self.base)
    }
}

struct TaskSlot {
    future: Option<Pin<Box<dyn Future<Output = ()>>>>,
    queued: bool,
    running: bool,
    /// Woken while it was being polled: poll it again afterwards.
    rewake: bool,
    cancelled: bool,
    /// The task's context id (see `Reactor::current_context`); also its generation.
    context: u64,
}

struct Inner {
    id: usize,
    embedded: bool,
    io: RefCell<Io>,
    /// Events copied out of `io` so callbacks can run without its borrow (capacity kept).
    scratch: RefCell<Vec<(usize, Readiness)>>,
    /// The last turn found work queued and did not poll: the next one polls whatever the
    /// queue holds, so IO is never starved.
    skipped_poll: Cell<bool>,
    timers: RefCell<Timers<TimerAction>>,
    queue: RefCell<RunQueue>,
    tasks: RefCell<Slab<TaskSlot>>,
    remote: Arc<Remote>,
    /// Task keys woken from other threads, taken out of `remote` (capacity kept, as
    /// `scratch`: draining allocates nothing once warm).
    remote_scratch: RefCell<Vec<usize>>,
    running: Cell<bool>,
    depth: Cell<u32>,
    context: Cell<u64>,
    next_context: Cell<u64>,
    /// Socket reads and writes and polls (see `Reactor::io_stats`).
    io_counters: Rc<io::IoCounters>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        task::unregister_loop(self.id);
    }
}

/// A handle to a single-threaded event loop on `mio`. Cloning it is cheap (an `Rc`); it is
/// `!Send`.
///
/// # One iteration
///
/// [`poll_once`](Reactor::poll_once) runs exactly one iteration:
///
/// 1. wait for I/O no longer than the nearest timer and the given timeout, and not at all
///    when work is queued (then, every other iteration, I/O is not polled at all: the
///    queued work runs first and the readiness is picked up by the next iteration, which
///    saves a system call that mostly finds nothing);
/// 2. record the readiness of every event (see [`Readiness`]) and run the readiness
///    callbacks of the sources that have one;
/// 3. fire the timers that are due, in deadline order (ties in creation order);
/// 4. run the callbacks and tasks that were queued when the phase started, in FIFO order.
///
/// It returns whether anything happened, so a manual loop can tell idle from busy.
///
/// # The queue
///
/// One FIFO holds all work: tasks ([`spawn`](Reactor::spawn), polls of
/// [futures](Reactor::spawn_future)), callbacks ([`call_soon`](Reactor::call_soon)) and
/// deferred notifications ([`defer`](Reactor::defer), `AsyncResult` links). They run in the
/// order they were queued, whatever runs them (an iteration or a nested wait).
///
/// # Blocking waits and nesting
///
/// A blocking wait ([`run_until`](Reactor::run_until), [`run_for`](Reactor::run_for), and
/// everything above built on them: `AsyncResult::get`, the handler's `sleep`, `select`, ...)
/// drives the loop itself until its condition holds. It may be called from inside a
/// callback or task the loop is running; such nesting is bounded by
/// [`Reactor::MAX_DEPTH`] ([`LoopError::NestingTooDeep`] past
/// it). A wait returns
/// [`LoopError::Stopped`] when the reactor is stopped, and on an
/// embedded reactor it is refused
/// with [`LoopError::Embedded`].
///
/// # Embedding
///
/// An embedded reactor registers its sources in the host's registry under tokens from a
/// range the host hands over. The host polls, passes each event to
/// [`handle_event`](Reactor::handle_event) (which says whether it was ours), waits no longer
/// than [`next_timeout`](Reactor::next_timeout), and calls
/// [`run_pending`](Reactor::run_pending) after each poll. With several reactors in one
/// `Poll`, an [`EmbeddedHost`] hands out their token ranges (refusing overlaps with
/// [`LoopError::TokenCollision`]) and offers the same three
/// calls for all of them at once.
///
/// ```
/// use std::time::Duration;
/// use mio::{Events, Poll};
/// use mio_zookeeper::handler::Reactor;
///
/// let mut poll = Poll::new().unwrap();
/// let reactor = Reactor::embedded(poll.registry(), 1000..2000)?;
/// let fired = std::rc::Rc::new(std::cell::Cell::new(false));
/// let f = fired.clone();
/// reactor.set_timeout(Duration::from_millis(5), move || f.set(true));
/// let mut events = Events::with_capacity(64);
/// while !fired.get() {
///     poll.poll(&mut events, reactor.next_timeout()).unwrap();
///     for event in events.iter() {
///         if !reactor.handle_event(event) {
///             // the host's own event
///         }
///     }
///     reactor.run_pending()?;
/// }
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
///
///
/// # Examples
///
/// A manual loop:
///
/// ```
/// use std::time::Duration;
/// use mio_zookeeper::handler::Reactor;
///
/// let reactor = Reactor::new()?;
/// reactor.spawn(|| println!("task"));
/// reactor.set_timeout(Duration::from_millis(1), || println!("timer"));
/// let mut busy = 0;
/// while reactor.poll_once(Some(Duration::from_millis(50)))? {
///     busy += 1;
/// }
/// assert!(busy >= 2);
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
#[derive(Clone)]
pub struct Reactor {
    inner: Rc<Inner>,
}

/// A non-owning handle, held by objects (results, sockets) that must not keep the loop alive.
#[derive(Clone)]
pub(crate) struct WeakReactor {
    inner: Weak<Inner>,
}

impl WeakReactor {
    pub(crate) fn upgrade(&self) -> Option<Reactor> {
        self.inner.upgrade().map(|inner| Reactor { inner })
    }
}

impl fmt::Debug for WeakReactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.upgrade() {
            Some(r) => write!(f, "WeakReactor({})", r.inner.id),
            None => f.write_str("WeakReactor(gone)"),
        }
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &*self.inner;
        let mut d = f.debug_struct("Reactor");
        d.field("id", &i.id)
            .field("embedded", &i.embedded)
            .field("running", &i.running.get())
            .field("depth", &i.depth.get());
        if let Ok(q) = i.queue.try_borrow() {
            d.field("queued", &q.main.len());
        }
        if let Ok(t) = i.timers.try_borrow() {
            d.field("timers", &t.len());
        }
        if let Ok(t) = i.tasks.try_borrow() {
            d.field("tasks", &t.len());
        }
        d.finish_non_exhaustive()
    }
}

/// Identifies a future spawned with [`Reactor::spawn_future`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskId {
    key: usize,
    context: u64,
}

impl TaskId {
    /// An id made of two numbers, for a loop other than [`Reactor`] that implements the
    /// handler's tasks (a `Reactor` makes its own).
    pub const fn from_raw(key: usize, context: u64) -> TaskId {
        TaskId { key, context }
    }

    /// The two numbers of [`from_raw`](TaskId::from_raw).
    pub const fn into_raw(self) -> (usize, u64) {
        (self.key, self.context)
    }
}

/// A condition a blocking wait runs the loop for: a closure returning `bool`, or an
/// [`AsyncResult`](crate::AsyncResult) (complete once set).
///
/// ```
/// use std::{cell::Cell, rc::Rc, time::Duration};
/// use mio_zookeeper::handler::Reactor;
///
/// let reactor = Reactor::new()?;
/// let done = Rc::new(Cell::new(false));
/// let d = done.clone();
/// reactor.call_soon(move || d.set(true));
/// reactor.run_until(&|| done.get(), Some(Duration::from_secs(1)))?;
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
pub trait Completion {
    /// Whether the wait is over.
    fn is_complete(&self) -> bool;
}

impl<F: Fn() -> bool> Completion for F {
    fn is_complete(&self) -> bool {
        self()
    }
}

/// Restores the running context when a callback returns (or unwinds).
struct ContextGuard<'a> {
    inner: &'a Inner,
    context: u64,
}

impl Drop for ContextGuard<'_> {
    fn drop(&mut self) {
        self.inner.context.set(self.context);
    }
}

/// One loop-driving frame on the stack (see `Reactor::MAX_DEPTH`).
struct Frame<'a>(&'a Inner);

impl Drop for Frame<'_> {
    fn drop(&mut self) {
        self.0.depth.set(self.0.depth.get() - 1);
    }
}

impl Reactor {
    /// How deeply loop-driving calls may nest: a blocking wait inside a callback run by a
    /// blocking wait inside a callback ... Past it, waits fail with
    /// [`LoopError::NestingTooDeep`] instead of overflowing the
    /// stack.
    pub const MAX_DEPTH: u32 = 32;

    /// A reactor with its own `mio::Poll` (and a `mio::Waker` on token `usize::MAX`).
    /// It is running: blocking waits work straight away.
    pub fn new() -> Result<Reactor, Error> {
        let poll = Poll::new().map_err(|e| Error::io("creating a mio::Poll", e))?;
        let waker = mio::Waker::new(poll.registry(), Token(WAKER_TOKEN))
            .map_err(|e| Error::io("creating a mio::Waker", e))?;
        Ok(Reactor::build(
            Backend::Owned(poll),
            Some(waker),
            0..WAKER_TOKEN,
        ))
    }

    /// A reactor inside a host application's `mio::Poll`: it registers its sources in
    /// `registry` (a clone of it is kept) under tokens from `tokens`, which the host must not
    /// use itself. The host drives it with [`handle_event`](Reactor::handle_event),
    /// [`next_timeout`](Reactor::next_timeout) and [`run_pending`](Reactor::run_pending);
    /// blocking waits are refused with [`LoopError::Embedded`].
    ///
    /// Nothing here checks that `tokens` is disjoint from the ranges of other reactors in
    /// the same `Poll`; [`EmbeddedHost::reactor`] does (and drives all of them at once).
    ///
    /// # Notable errors
    ///
    /// [`LoopError::TokenRange`] when `tokens` is empty or reaches
    /// `usize::MAX` (mio's waker
    /// token here); later, [`LoopError::TokenRange`] again from
    /// `register` when the range is
    /// used up.
    pub fn embedded(registry: &Registry, tokens: Range<usize>) -> Result<Reactor, Error> {
        if tokens.is_empty() || tokens.end == usize::MAX {
            return Err(Error::Loop(LoopError::TokenRange {
                start: tokens.start,
                end: tokens.end,
            }));
        }
        let registry = registry
            .try_clone()
            .map_err(|e| Error::io("cloning the host's mio::Registry", e))?;
        Ok(Reactor::build(Backend::Embedded(registry), None, tokens))
    }

    fn build(backend: Backend, waker: Option<mio::Waker>, tokens: Range<usize>) -> Reactor {
        let id = task::next_loop_id();
        let embedded = matches!(backend, Backend::Embedded(_));
        let remote = Arc::new(Remote::new(waker));
        let inner = Rc::new(Inner {
            id,
            embedded,
            io: RefCell::new(Io {
                backend,
                events: Events::with_capacity(256),
                sources: Slab::new(),
                base: tokens.start,
                limit: tokens.end,
                generation: 0,
            }),
            scratch: RefCell::new(Vec::with_capacity(64)),
            skipped_poll: Cell::new(false),
            timers: RefCell::new(Timers::new()),
            queue: RefCell::new(RunQueue {
                main: VecDeque::with_capacity(64),
            }),
            tasks: RefCell::new(Slab::new()),
            remote: remote.clone(),
            remote_scratch: RefCell::new(Vec::new()),
            running: Cell::new(true),
            depth: Cell::new(0),
            context: Cell::new(0),
            next_context: Cell::new(1),
            io_counters: Rc::default(),
        });
        task::register_loop(id, Rc::downgrade(&inner), Arc::downgrade(&remote));
        Reactor { inner }
    }

    pub(crate) fn downgrade(&self) -> WeakReactor {
        WeakReactor {
            inner: Rc::downgrade(&self.inner),
        }
    }

    /// Whether two handles point at the same loop.
    pub fn ptr_eq(&self, other: &Reactor) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether this reactor lives in a host's `mio::Poll`.
    pub fn is_embedded(&self) -> bool {
        self.inner.embedded
    }

    /// The tokens this reactor registers its sources under: the range given to
    /// [`embedded`](Reactor::embedded), or `0..usize::MAX` for an owned `Poll`.
    pub fn token_range(&self) -> Range<usize> {
        let io = self.inner.io.borrow();
        io.base..io.limit
    }

    // ----- state -----

    /// Whether blocking waits are allowed (true from creation until [`stop`](Reactor::stop)).
    pub fn is_running(&self) -> bool {
        self.inner.running.get()
    }

    /// Allows blocking waits again after a [`stop`](Reactor::stop). Idempotent.
    pub fn start(&self) {
        self.inner.running.set(true);
    }

    /// Stops the loop: every blocking wait in progress (nested on the stack below this call,
    /// or in another frame) returns [`LoopError::Stopped`] as soon as
    /// control comes back to it,
    /// and new ones are refused until [`start`](Reactor::start). Before returning, `stop`
    /// runs the callbacks and tasks already queued (and those they queue, up to a bound), so
    /// completion callbacks of results set before the stop are not lost. Work queued later stays
    /// queued until
    /// the loop is driven again (`poll_once`, `run_pending`, another `stop`).
    /// Idempotent. Timers and registrations are kept.
    pub fn stop(&self) {
        self.inner.running.set(false);
        let Ok(_frame) = self.enter_frame() else {
            return;
        };
        for _ in 0..STOP_DRAIN_PASSES {
            if !self.run_queue() {
                return;
            }
        }
        log::warn!("reactor stop: callbacks kept queueing callbacks; some stay queued");
    }

    /// A `Send + Sync` handle to wake this loop or request a stop from another thread.
    pub fn loop_waker(&self) -> LoopWaker {
        LoopWaker {
            remote: self.inner.remote.clone(),
        }
    }

    /// The current time (the reactor is the crate's only reader of the clock).
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// How many loop-driving frames are on the stack (0 outside the loop).
    pub fn depth(&self) -> u32 {
        self.inner.depth.get()
    }

    /// An id of the code that is running: 0 outside any callback, a fresh id for each
    /// callback run, and a stable id per spawned future (across its polls). Re-entrant locks
    /// use it as their notion of owner.
    pub fn current_context(&self) -> u64 {
        self.inner.context.get()
    }

    // ----- timers -----

    /// Runs `f` on the loop at `deadline` (in the timer phase of the first iteration at or
    /// after it). Timers fire in deadline order, ties in creation order.
    pub fn set_timer<F: FnOnce() + 'static>(&self, deadline: Instant, f: F) -> TimerId {
        self.inner
            .timers
            .borrow_mut()
            .insert(deadline, TimerAction::Call(Box::new(f)))
    }

    /// Runs `f` on the loop after `delay`.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc, time::Duration};
    /// use mio_zookeeper::handler::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let order = Rc::new(RefCell::new(Vec::new()));
    /// for (name, ms) in [("b", 20), ("a", 10)] {
    ///     let o = order.clone();
    ///     reactor.set_timeout(Duration::from_millis(ms), move || o.borrow_mut().push(name));
    /// }
    /// reactor.run_for(Duration::from_millis(60))?;
    /// assert_eq!(*order.borrow(), ["a", "b"]);
    /// # Ok::<(), mio_zookeeper::Error>(())
    /// ```
    pub fn set_timeout<F: FnOnce() + 'static>(&self, delay: Duration, f: F) -> TimerId {
        self.set_timer(deadline_after(Instant::now(), delay), f)
    }

    /// Cancels a pending timer; `false` if it already fired or was cancelled.
    pub fn cancel_timer(&self, id: TimerId) -> bool {
        let action = self.inner.timers.borrow_mut().cancel(id);
        action.is_some()
    }

    /// Moves a pending timer to a new deadline; `false` if it already fired or was cancelled.
    pub fn reschedule_timer(&self, id: TimerId, deadline: Instant) -> bool {
        self.inner.timers.borrow_mut().reschedule(id, deadline)
    }

    /// A future that completes at `deadline` (for tasks spawned with
    /// [`spawn_future`](Reactor::spawn_future); it works under other executors too, as long
    /// as this loop is driven).
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep {
            reactor: self.downgrade(),
            deadline,
            timer: None,
        }
    }

    /// A future that completes after `delay`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use mio_zookeeper::handler::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let r = reactor.clone();
    /// let start = Instant::now();
    /// let task = reactor.spawn_future(async move {
    ///     r.sleep_async(Duration::from_millis(10)).await;
    /// });
    /// reactor.run_until(&|| !reactor.task_alive(task), Some(Duration::from_secs(5)))?;
    /// assert!(start.elapsed() >= Duration::from_millis(10));
    /// # Ok::<(), mio_zookeeper::Error>(())
    /// ```
    pub fn sleep_async(&self, delay: Duration) -> Sleep {
        self.sleep_until(deadline_after(Instant::now(), delay))
    }

    // ----- the queue -----

    /// Queues a task (kazoo's `handler.spawn`): `f` runs on the loop, after the work queued
    /// before it.
    pub fn spawn<F: FnOnce() + 'static>(&self, f: F) {
        self.push(Entry::Call(Box::new(f)));
    }

    /// Queues a callback (the same FIFO as [`spawn`](Reactor::spawn)).
    pub fn call_soon<F: FnOnce() + 'static>(&self, f: F) {
        self.push(Entry::Call(Box::new(f)));
    }

    /// Queues an already boxed callback.
    pub fn call_soon_boxed(&self, f: Box<dyn FnOnce()>) {
        self.push(Entry::Call(f));
    }

    /// Queues `d.run_deferred()` without a new allocation (the queue holds the `Rc`).
    pub fn defer(&self, d: Rc<dyn Deferred>) {
        self.push(Entry::Notify(d));
    }

    fn push(&self, e: Entry) {
        self.inner.queue.borrow_mut().main.push_back(e);
    }

    /// Spawns a future: a cooperative task run on the loop (gevent's greenlet, without a
    /// stack of its own). It is polled first in FIFO order like any task, and again whenever
    /// it is woken (by an `AsyncResult` it awaits being set, a [`Sleep`] firing, or any
    /// waker, even from another thread). One allocation (the boxed future).
    ///
    /// Dropping the reactor drops unfinished tasks. A task that holds a [`Reactor`] (or
    /// handler) clone and never finishes keeps the loop alive; cancel it with
    /// [`cancel_task`](Reactor::cancel_task).
    pub fn spawn_future<F: Future<Output = ()> + 'static>(&self, f: F) -> TaskId {
        let context = self.new_context();
        let key = self.inner.tasks.borrow_mut().insert(TaskSlot {
            future: Some(Box::pin(f)),
            queued: true,
            running: false,
            rewake: false,
            cancelled: false,
            context,
        });
        self.push(Entry::Poll(key));
        TaskId { key, context }
    }

    /// Whether a spawned future has not finished (nor been cancelled) yet.
    pub fn task_alive(&self, id: TaskId) -> bool {
        matches!(self.inner.tasks.borrow().get(id.key), Some(t) if t.context == id.context && !t.cancelled)
    }

    /// Drops an unfinished task's future (after its current poll, if it is being polled).
    /// `false` if it already finished.
    pub fn cancel_task(&self, id: TaskId) -> bool {
        let fut = {
            let mut tasks = self.inner.tasks.borrow_mut();
            match tasks.get_mut(id.key) {
                Some(t) if t.context == id.context && !t.cancelled => {
                    if t.running {
                        t.cancelled = true;
                        None
                    } else {
                        Some(tasks.remove(id.key).future)
                    }
                }
                _ => return false,
            }
        };
        drop(fut);
        true
    }
}

fn deadline_after(now: Instant, d: Duration) -> Instant {
    // Far enough to never fire, and still representable.
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn nesting_is_bounded() {
        let r = Reactor::new().unwrap();
        let deepest = Rc::new(Cell::new(0u32));
        let err = Rc::new(RefCell::new(None));
        fn nest(r: &Reactor, deepest: &Rc<Cell<u32>>, err: &Rc<RefCell<Option<Error>>>) {
            let (r2, d, e) = (r.clone(), deepest.clone(), err.clone());
            r.call_soon(move || {
                d.set(d.get().max(r2.depth()));
                nest(&r2, &d, &e);
                if let Err(x) = r2.run_for(Duration::from_millis(1)) {
                    e.borrow_mut().get_or_insert(x);
                }
            });
        }
        nest(&r, &deepest, &err);
        r.run_for(Duration::from_millis(5)).unwrap();
        assert_eq!(deepest.get(), Reactor::MAX_DEPTH);
        assert!(matches!(
            *err.borrow(),
            Some(Error::Loop(LoopError::NestingTooDeep {
                limit: Reactor::MAX_DEPTH
            }))
        ));
    }
}
