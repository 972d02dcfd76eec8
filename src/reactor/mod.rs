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
//! # One iteration
//!
//! [`poll_once`](Reactor::poll_once) runs exactly one iteration:
//!
//! 1. wait for I/O no longer than the nearest timer and the given timeout, and not at all
//!    when work is queued (then, every other iteration, I/O is not polled at all: the
//!    queued work runs first and the readiness is picked up by the next iteration, which
//!    saves a system call that mostly finds nothing);
//! 2. record the readiness of every event (see [`Readiness`]) and run the readiness
//!    callbacks of the sources that have one;
//! 3. fire the timers that are due, in deadline order (ties in creation order);
//! 4. run the callbacks and tasks that were queued when the phase started, in FIFO order.
//!
//! It returns whether anything happened, so a manual loop can tell idle from busy.
//!
//! # The queue
//!
//! One FIFO holds all work: tasks ([`spawn`](Reactor::spawn), polls of
//! [futures](Reactor::spawn_future)), callbacks ([`call_soon`](Reactor::call_soon)) and
//! deferred notifications ([`defer`](Reactor::defer), `AsyncResult` links). They run in the
//! order they were queued, whatever runs them (an iteration or a nested wait).
//!
//! # Blocking waits and nesting
//!
//! A blocking wait ([`run_until`](Reactor::run_until), [`run_for`](Reactor::run_for), and
//! everything above built on them: `AsyncResult::get`, the handler's `sleep`, `select`, ...)
//! drives the loop itself until its condition holds. It may be called from inside a
//! callback or task the loop is running; such nesting is bounded by
//! [`Reactor::MAX_DEPTH`] ([`LoopError::NestingTooDeep`](crate::LoopError::NestingTooDeep) past it). A wait returns
//! [`LoopError::Stopped`](crate::LoopError::Stopped) when the reactor is stopped, and on an embedded reactor it is refused
//! with [`LoopError::Embedded`](crate::LoopError::Embedded).
//!
//! # Embedding
//!
//! An embedded reactor registers its sources in the host's registry under tokens from a
//! range the host hands over. The host polls, passes each event to
//! [`handle_event`](Reactor::handle_event) (which says whether it was ours), waits no longer
//! than [`next_timeout`](Reactor::next_timeout), and calls
//! [`run_pending`](Reactor::run_pending) after each poll. With several reactors in one
//! `Poll`, an [`EmbeddedHost`] hands out their token ranges (refusing overlaps with
//! [`LoopError::TokenCollision`](crate::LoopError::TokenCollision)) and offers the same three calls for all of them at once.
//!
//! ```
//! use std::time::Duration;
//! use mio::{Events, Poll};
//! use mio_zookeeper::reactor::Reactor;
//!
//! let mut poll = Poll::new().unwrap();
//! let reactor = Reactor::embedded(poll.registry(), 1000..2000)?;
//! let fired = std::rc::Rc::new(std::cell::Cell::new(false));
//! let f = fired.clone();
//! reactor.set_timeout(Duration::from_millis(5), move || f.set(true));
//! let mut events = Events::with_capacity(64);
//! while !fired.get() {
//!     poll.poll(&mut events, reactor.next_timeout()).unwrap();
//!     for event in events.iter() {
//!         if !reactor.handle_event(event) {
//!             // the host's own event
//!         }
//!     }
//!     reactor.run_pending()?;
//! }
//! # Ok::<(), mio_zookeeper::Error>(())
//! ```

mod embed;
mod error;
mod io;
mod remote;
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
use std::task::{Context, Poll as TaskPoll, Waker};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

use crate::Error;

pub use embed::EmbeddedHost;
pub use error::LoopError;
pub use io::{IoStats, Readiness, TcpSocket};
pub use remote::LoopWaker;
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
/// `!Send`. See the [module docs](self) for what one iteration does.
///
/// # Examples
///
/// A manual loop:
///
/// ```
/// use std::time::Duration;
/// use mio_zookeeper::reactor::Reactor;
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
/// use mio_zookeeper::reactor::Reactor;
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
    /// [`LoopError::NestingTooDeep`](crate::LoopError::NestingTooDeep) instead of overflowing the stack.
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
    /// blocking waits are refused with [`LoopError::Embedded`](crate::LoopError::Embedded).
    ///
    /// Nothing here checks that `tokens` is disjoint from the ranges of other reactors in
    /// the same `Poll`; [`EmbeddedHost::reactor`] does (and drives all of them at once).
    ///
    /// # Notable errors
    ///
    /// [`LoopError::TokenRange`](crate::LoopError::TokenRange) when `tokens` is empty or reaches `usize::MAX` (mio's waker
    /// token here); later, [`LoopError::TokenRange`](crate::LoopError::TokenRange) again from `register` when the range is
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
    /// or in another frame) returns [`LoopError::Stopped`](crate::LoopError::Stopped) as soon as control comes back to it,
    /// and new ones are refused until [`start`](Reactor::start). Before returning, `stop`
    /// runs the callbacks and tasks already queued (and those they queue, up to a bound), so
    /// completion callbacks of results set before the stop are not lost. Work queued later stays queued until
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

    // ----- sources -----

    /// Registers `source` for `interest` and returns its token. Readiness is recorded (see
    /// [`readiness`](Reactor::readiness)); install a callback with
    /// [`set_on_ready`](Reactor::set_on_ready) or use [`register_with`](Reactor::register_with).
    /// The caller keeps the source and must [`deregister`](Reactor::deregister) it.
    pub fn register<S: Source + ?Sized>(
        &self,
        source: &mut S,
        interest: Interest,
    ) -> Result<Token, Error> {
        let mut io = self.inner.io.borrow_mut();
        io.generation += 1;
        let generation = io.generation;
        let key = io.sources.insert(SourceSlot {
            generation,
            ready: Readiness::EMPTY,
            has_callback: false,
            on_ready: None,
            missed: Readiness::EMPTY,
        });
        let token = io.base.checked_add(key).filter(|t| *t < io.limit);
        let Some(token) = token.map(Token) else {
            io.sources.remove(key);
            return Err(Error::Loop(LoopError::TokenRange {
                start: io.base,
                end: io.limit,
            }));
        };
        if let Err(e) = io.registry().register(source, token, interest) {
            io.sources.remove(key);
            return Err(Error::io("registering a source with mio", e));
        }
        Ok(token)
    }

    /// [`register`](Reactor::register) with a readiness callback.
    ///
    /// The callback runs in the dispatch phase of whichever loop iteration sees the event
    /// (possibly a nested one); it should not block. If the source reports readiness while
    /// its callback is running (it blocked), the callback is run again with that readiness
    /// once it returns.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc, time::Duration};
    /// use mio::{net::TcpListener, Interest};
    /// use mio_zookeeper::reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let seen = Rc::new(Cell::new(false));
    /// let s = seen.clone();
    /// let token = reactor.register_with(&mut listener, Interest::READABLE, move |r| {
    ///     s.set(r.is_readable())
    /// })?;
    /// let _client = std::net::TcpStream::connect(addr).unwrap();
    /// reactor.run_until(&|| seen.get(), Some(Duration::from_secs(5)))?;
    /// reactor.deregister(&mut listener, token)?;
    /// # Ok::<(), mio_zookeeper::Error>(())
    /// ```
    pub fn register_with<S, F>(
        &self,
        source: &mut S,
        interest: Interest,
        on_ready: F,
    ) -> Result<Token, Error>
    where
        S: Source + ?Sized,
        F: FnMut(Readiness) + 'static,
    {
        let token = self.register(source, interest)?;
        self.set_on_ready(token, on_ready)?;
        Ok(token)
    }

    /// Installs (or replaces) the readiness callback of a registered token.
    pub fn set_on_ready<F: FnMut(Readiness) + 'static>(
        &self,
        token: Token,
        on_ready: F,
    ) -> Result<(), Error> {
        let old = {
            let mut io = self.inner.io.borrow_mut();
            let key = io.key(token);
            let slot = key
                .and_then(|k| io.sources.get_mut(k))
                .ok_or(Error::Loop(LoopError::UnknownToken { token: token.0 }))?;
            slot.has_callback = true;
            slot.on_ready.replace(Box::new(on_ready))
        };
        drop(old);
        Ok(())
    }

    /// Changes the interest of a registered source (e.g. add `WRITABLE` while output is
    /// queued).
    pub fn reregister<S: Source + ?Sized>(
        &self,
        source: &mut S,
        token: Token,
        interest: Interest,
    ) -> Result<(), Error> {
        let io = self.inner.io.borrow();
        if !io.key(token).is_some_and(|k| io.sources.contains(k)) {
            return Err(Error::Loop(LoopError::UnknownToken { token: token.0 }));
        }
        io.registry()
            .reregister(source, token, interest)
            .map_err(|e| Error::io("reregistering a source with mio", e))
    }

    /// Deregisters a source and frees its token (and its readiness callback).
    pub fn deregister<S: Source + ?Sized>(
        &self,
        source: &mut S,
        token: Token,
    ) -> Result<(), Error> {
        let (slot, res) = {
            let mut io = self.inner.io.borrow_mut();
            let Some(key) = io.key(token).filter(|k| io.sources.contains(*k)) else {
                return Err(Error::Loop(LoopError::UnknownToken { token: token.0 }));
            };
            let res = io.registry().deregister(source);
            (io.sources.remove(key), res)
        };
        drop(slot);
        res.map_err(|e| Error::io("deregistering a source from mio", e))
    }

    /// The readiness a token has seen since its owner last cleared it (empty for an unknown
    /// token).
    pub fn readiness(&self, token: Token) -> Readiness {
        let io = self.inner.io.borrow();
        io.key(token)
            .and_then(|k| io.sources.get(k))
            .map_or(Readiness::EMPTY, |s| s.ready)
    }

    /// Clears readiness flags of a token; call it when an operation returns `WouldBlock`
    /// ([`TcpSocket`] does this itself).
    pub fn clear_readiness(&self, token: Token, which: Readiness) {
        let mut io = self.inner.io.borrow_mut();
        if let Some(k) = io.key(token) {
            if let Some(s) = io.sources.get_mut(k) {
                s.ready = s.ready.remove(which);
            }
        }
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
    /// use mio_zookeeper::reactor::Reactor;
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
    /// use mio_zookeeper::reactor::Reactor;
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

    // ----- driving -----

    /// Runs exactly one iteration (see the [module docs](self#one-iteration)), waiting for
    /// I/O no longer than `timeout` (`None`: until something happens) and the nearest timer,
    /// and not at all when work is queued. Returns whether anything happened: an event, a
    /// timer, a callback or task run, or a wake-up from another thread.
    ///
    /// It works on a stopped reactor too (it is the caller driving the loop).
    ///
    /// # Notable errors
    ///
    /// [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded reactor (the host polls; use
    /// [`run_pending`](Reactor::run_pending)); [`LoopError::NestingTooDeep`](crate::LoopError::NestingTooDeep); [`Error::Io`] if
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
    /// [`Error::Timeout`], [`LoopError::Stopped`](crate::LoopError::Stopped), [`LoopError::NestingTooDeep`](crate::LoopError::NestingTooDeep),
    /// [`LoopError::Embedded`](crate::LoopError::Embedded).
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
    /// [`LoopError::Stopped`](crate::LoopError::Stopped) (also when stopped during the sleep), [`LoopError::NestingTooDeep`](crate::LoopError::NestingTooDeep),
    /// [`LoopError::Embedded`](crate::LoopError::Embedded).
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
    /// [`LoopError::NestingTooDeep`](crate::LoopError::NestingTooDeep) when called from too deep inside callbacks.
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
    /// [`LoopError::NestingTooDeep`](crate::LoopError::NestingTooDeep) when called from too deep inside callbacks.
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
    /// [`LoopError::NestingTooDeep`](crate::LoopError::NestingTooDeep) when called from too deep inside callbacks.
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

    fn enter_frame(&self) -> Result<Frame<'_>, Error> {
        let d = self.inner.depth.get();
        if d >= Self::MAX_DEPTH {
            return Err(Error::Loop(LoopError::NestingTooDeep {
                limit: Self::MAX_DEPTH,
            }));
        }
        self.inner.depth.set(d + 1);
        Ok(Frame(&self.inner))
    }

    fn new_context(&self) -> u64 {
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
    fn run_queue(&self) -> bool {
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
    fn schedule_task(&self, key: usize) {
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

fn deadline_after(now: Instant, d: Duration) -> Instant {
    // Far enough to never fire, and still representable.
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// A future completing at a deadline, driven by a reactor's timers; see
/// [`Reactor::sleep_async`].
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    reactor: WeakReactor,
    deadline: Instant,
    timer: Option<TimerId>,
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Sleep {
    /// When it completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> TaskPoll<()> {
        let Some(reactor) = self.reactor.upgrade() else {
            return TaskPoll::Ready(()); // nothing could ever fire it
        };
        if Instant::now() >= self.deadline {
            if let Some(id) = self.timer.take() {
                reactor.cancel_timer(id);
            }
            return TaskPoll::Ready(());
        }
        let mut timers = reactor.inner.timers.borrow_mut();
        let old = match self.timer.and_then(|id| timers.get_mut(id)) {
            Some(TimerAction::Wake(w)) if w.will_wake(cx.waker()) => None,
            Some(action) => Some(std::mem::replace(
                action,
                TimerAction::Wake(cx.waker().clone()),
            )),
            None => {
                let id = timers.insert(self.deadline, TimerAction::Wake(cx.waker().clone()));
                self.timer = Some(id);
                None
            }
        };
        drop(timers);
        drop(old);
        TaskPoll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(id), Some(r)) = (self.timer, self.reactor.upgrade()) {
            r.cancel_timer(id);
        }
    }
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
