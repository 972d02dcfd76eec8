//! The `Handler` trait (kazoo's `IHandler`): the client's loop layer, and its default
//! implementation on the reactor.
//!
//! A [`Handler`] is what the client runs on, and the only way it reaches its loop: timers,
//! sockets and their readiness, queued callbacks, tasks, results and the blocking wait are
//! the members of its dyn-safe supertrait [`EventLoop`] (with [`Scheduler`], what an
//! [`AsyncResult`] needs); kazoo's members (`spawn`, `select`, `create_connection`, `sleep`,
//! `event_object`, `lock_object`, `async_result`, ...) sit on top. [`MioHandler`], the
//! default, maps every member onto one single-threaded [`Reactor`]: nothing blocks the
//! thread except the reactor's own poll, and every wait (`sleep`, `select`,
//! `create_connection`, `Event::wait`, `Lock::acquire`, `AsyncResult::get`) *runs the loop*
//! until it is over, as gevent's handler does. Another loop implements the traits without
//! wrapping ours (tests/handler_second.rs has one directly on `mio::Poll`).
//!
//! **What lives here, and what it may use:** the traits, [`MioHandler`] (the one user of
//! the private `reactor` module), its event and lock objects, and the watch-callback rule
//! ([`WatchGate`]); below it only the reactor, nothing of ZooKeeper.
//!
//! **What is public here:** what an implementor of the traits needs (the traits' helper
//! types: [`Readiness`], [`TimerId`], [`TaskId`], [`Callback`], [`Deferred`], ...; kazoo's
//! event and lock objects), and the loop under [`MioHandler`], re-exported from the
//! reactor: [`Reactor`] (one iteration, the queue, nesting and embedding are documented
//! there), [`EmbeddedHost`] for several embedded clients in one `mio::Poll`, [`TcpSocket`],
//! [`LoopWaker`] (wakes the loop from another thread), [`IoStats`] and [`Sleep`].
//!
//! **A handler on its own thread, later.** Nothing in the traits ties a loop to the
//! caller's thread except where a member must: the client calls them on the loop's thread,
//! and the one object that crosses threads is the `Send + Sync` [`Waker`](std::task::Waker)
//! of a task spawned with [`EventLoop::spawn_task`]. A threaded handler runs the loop (and
//! the client's callbacks) on its thread and gives other threads a `Send + Sync` handle
//! that sends closures over and wakes the loop, the way those wakers (and
//! [`LoopWaker`]) already do; its blocking wait
//! ([`Scheduler::wait_until`]) waits on the loop thread's progress instead of driving it.
//!
//! # How callbacks are called
//!
//! Everything runs on the loop's thread, in the iteration of whichever call is driving the
//! loop (`poll_once`, a blocking wait, `run_pending`, `stop`):
//!
//! | kind | queued by | runs |
//! |---|---|---|
//! | completion callbacks | `AsyncResult::rawlink` ([`Scheduler::defer`]), [`Callback::completion`] | from the FIFO queue, never inside the `set`/`rawlink` call that triggered them |
//! | watch callbacks | [`Callback::watch`] via `dispatch_callback` | from the same FIFO, **one at a time** |
//! | tasks | [`Handler::spawn`], [`Handler::spawn_future`] (each poll of a future) | from the same FIFO |
//! | timer and readiness callbacks | [`EventLoop::set_timer`], [`LoopSocket::set_on_ready`] | in the timer and I/O phases of an iteration |
//!
//! **Order.** One FIFO for all kinds: callbacks run in the order their triggers happened
//! (a watch event read before a reply is dispatched before that reply's completion
//! callbacks). Each iteration runs what was queued when its queue phase started. The one
//! exception is the watch rule below: while a watch callback blocks, completion callbacks
//! and tasks queued after a held watch callback run before it.
//!
//! **Panics.** A callback that panics unwinds out of the call that is driving the loop; the
//! loop's own state (nesting depth, the running watch) is restored on the way, so the
//! loop can be driven again, but the panicking callback (or a readiness callback's
//! registration, or a task) is lost.
//!
//! **Blocking.** Any callback or task may block (call `get()`, `sleep`, ...): the wait runs
//! a nested loop. The nested loop does I/O, timers, completion callbacks and tasks, but while
//! a *watch* callback is running it does not start another watch callback: those stay
//! queued, in order, and run after it returns (kazoo's recipes block inside watch callbacks;
//! watch callbacks stay serialized: the handler keeps this rule, with a [`WatchGate`], not
//! the reactor, whose queue is a plain FIFO). Nesting is bounded by
//! [`Reactor::MAX_DEPTH`]
//! ([`LoopError::NestingTooDeep`](crate::LoopError::NestingTooDeep)).
//! Blocking in a callback holds up the callbacks queued behind it, so prefer `rawlink`,
//! `spawn` or an `async` task; readiness and timer callbacks (the connection's own) should
//! never block. On an embedded reactor every blocking call is refused with
//! [`LoopError::Embedded`](crate::LoopError::Embedded).
//!
//! **Stopping.** [`Handler::stop`] makes every wait in progress return
//! [`LoopError::Stopped`](crate::LoopError::Stopped),
//! refuses new ones until `start`, and runs the callbacks already queued before it returns.
//! Unlike kazoo's threading handler after PR #549, a stopped handler does *not* run
//! callbacks inline (DESIGN.md: callbacks are always deferred, so no caller is re-entered):
//! callbacks queued after the stop run when the loop is next driven, by `poll_once`,
//! `run_pending`, another `stop`, or waits after `start`.
//!
//! # Why the trait is not object-safe
//!
//! `spawn`, `spawn_future` and `async_result` are generic (a closure, a future, a value
//! type), which keeps them allocation-free where possible, and `select`/`socket` use the
//! handler's own socket type. The client is therefore generic,
//! `Client<H: Handler = MioHandler>`: it hands out the handler (`Client::handler`) with its
//! own types and makes its results with it; its connection machinery holds the handler's
//! dyn-safe part, [`EventLoop`].

mod event_loop;
mod mio;
mod sync;
mod watch_gate;

use std::fmt;
use std::future::Future;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use crate::{AsyncResult, Error};

pub use event_loop::{
    Callback, CallbackKind, Deferred, EventLoop, LocalTask, LoopSocket, Readiness, Scheduler,
    SchedulerRef, TaskId, TimerId,
};
pub use mio::MioHandler;
// MioHandler's loop and its embedded API: `MioHandler::reactor()` hands out the `Reactor`,
// a host drives it (or several, with an `EmbeddedHost`) from its own `mio::Poll`.
pub use crate::reactor::{EmbeddedHost, IoStats, LoopWaker, Reactor, Sleep, TcpSocket};
pub use sync::{EventObject, LockObject, MioEvent, MioLock, MioRLock};
pub use watch_gate::WatchGate;

/// What [`Handler::select`] found: indices into the lists it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selected {
    /// Indices of the sockets of the read list that are readable (data, end of stream or an
    /// error to read).
    pub readable: Vec<usize>,
    /// Indices of the sockets of the write list that are writable (or have an error).
    pub writable: Vec<usize>,
}

impl Selected {
    /// Neither list has anything (the select timed out).
    pub fn is_empty(&self) -> bool {
        self.readable.is_empty() && self.writable.is_empty()
    }
}

/// The Rust form of kazoo's `IHandler`: every member, with the same meaning.
///
/// The loop itself is the supertrait [`EventLoop`] (dyn-safe; the client holds its handler
/// as an `Rc<dyn EventLoop>`); this trait adds kazoo's members, generic where that saves an
/// allocation, with the same meaning. Users may implement their own, wrapping
/// [`MioHandler`] (to add logging or metrics) or over a loop of their own. The results a
/// handler makes are bound to its [`scheduler`](Handler::scheduler). See the
/// [module docs](self) for how callbacks are called.
///
/// # Examples
///
/// Code written against the trait, as the client and recipes are:
///
/// ```
/// use std::time::Duration;
/// use mio_zookeeper::handler::EventObject;
/// use mio_zookeeper::{Error, Handler, MioHandler};
///
/// /// Sets an event from a task after a delay, and waits for it.
/// fn ping<H: Handler>(handler: &H) -> Result<bool, Error> {
///     let event = handler.event_object();
///     let (h, e) = (handler.clone(), event.clone());
///     handler.spawn(move || {
///         if h.sleep(Duration::from_millis(5)).is_ok() {
///             e.set();
///         }
///     });
///     event.wait(Some(Duration::from_secs(5)))
/// }
///
/// assert!(ping(&MioHandler::new()?)?);
/// # Ok::<(), Error>(())
/// ```
pub trait Handler: EventLoop + Clone + fmt::Debug + 'static {
    /// The socket type of `socket` and `create_connection`.
    type Socket: Read + Write + fmt::Debug;
    /// kazoo's `event_object()` type.
    type Event: EventObject + Clone + fmt::Debug;
    /// kazoo's `lock_object()` type.
    type Lock: LockObject + Clone + fmt::Debug;
    /// kazoo's `rlock_object()` type.
    type RLock: LockObject + Clone + fmt::Debug;

    /// The handler's name (kazoo: `"sequential_gevent_handler"` and friends).
    fn name(&self) -> &'static str;

    /// Whether it is running (kazoo's `running`).
    fn running(&self) -> bool;

    /// Starts (or restarts) the handler. Idempotent.
    fn start(&self) -> Result<(), Error>;

    /// Stops the handler; returns once it is safely stopped: waits in progress return
    /// [`LoopError::Stopped`](crate::LoopError::Stopped) and the already queued callbacks have
    /// run. Idempotent.
    fn stop(&self) -> Result<(), Error>;

    /// Queues a task: `f` runs on the loop after the work queued before it.
    fn spawn<F: FnOnce() + 'static>(&self, f: F) {
        self.call_soon(Box::new(f));
    }

    /// Spawns a future as a cooperative task (the Rust form of a greenlet); the returned
    /// result is set to its output when it finishes.
    fn spawn_future<F>(&self, f: F) -> AsyncResult<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let result = self.async_result();
        let r = result.clone();
        self.spawn_task(Box::pin(async move {
            let out = f.await;
            if let Err(e) = r.set(out) {
                log::debug!("spawn_future: {e}");
            }
        }));
        result
    }

    /// Waits, running the loop, until a socket of `read` is readable or one of `write` is
    /// writable, or `timeout` passes (then both lists are empty). `None` waits forever.
    fn select(
        &self,
        read: &[&Self::Socket],
        write: &[&Self::Socket],
        timeout: Option<Duration>,
    ) -> Result<Selected, Error>;

    /// A non-blocking TCP socket with `TCP_NODELAY`, registered with the loop. mio has no
    /// unconnected sockets, so this starts a non-blocking connect to `addr`; the connect is
    /// complete when the socket is writable (see `create_connection`).
    fn socket(&self, addr: SocketAddr) -> Result<Self::Socket, Error>;

    /// Connects to `addr`, running the loop until the connect completes or `timeout` passes.
    ///
    /// # Notable errors
    ///
    /// [`Error::ConnectionRefused`] and [`Error::ConnectTimedOut`] (distinct), [`Error::Io`]
    /// for other failures, plus the errors of any wait.
    fn create_connection(
        &self,
        addr: SocketAddr,
        timeout: Option<Duration>,
    ) -> Result<Self::Socket, Error>;

    /// kazoo's `sleep_func`: runs the loop for `duration` (other work keeps running); never
    /// blocks the thread beyond that.
    fn sleep(&self, duration: Duration) -> Result<(), Error> {
        match self.wait_until(&|| false, Some(duration), "sleep") {
            Err(Error::Timeout) => Ok(()),
            other => other,
        }
    }

    /// A new event object.
    fn event_object(&self) -> Self::Event;

    /// A new lock.
    fn lock_object(&self) -> Self::Lock;

    /// A new re-entrant lock.
    fn rlock_object(&self) -> Self::RLock;

    /// The scheduler the results of this handler are bound to (kept by the handler: a
    /// result whose handler is gone refuses to block, with
    /// [`LoopError::Gone`](crate::LoopError::Gone)).
    fn scheduler(&self) -> &SchedulerRef;

    /// A new pending result whose callbacks run on this handler's loop.
    fn async_result<T: 'static>(&self) -> AsyncResult<T> {
        AsyncResult::new(self.scheduler())
    }

    /// Runs the loop until `done()` holds or `timeout` passes (`None`: no limit); the
    /// blocking primitive ([`Scheduler::wait_until`]) under a name for callers.
    ///
    /// # Notable errors
    ///
    /// [`Error::Timeout`], and the refusals of [`Scheduler::wait_until`].
    fn run_until(&self, done: &dyn Fn() -> bool, timeout: Option<Duration>) -> Result<(), Error> {
        self.wait_until(done, timeout, "run_until")
    }

    /// The handler as the client holds it: its loop, dyn.
    fn event_loop(&self) -> Rc<dyn EventLoop> {
        Rc::new(self.clone())
    }

    /// The error a wait returns when it times out (kazoo's `timeout_exception`).
    fn timeout_error(&self) -> Error {
        Error::Timeout
    }
}
