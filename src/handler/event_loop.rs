//! The loop a handler runs on, as the client sees it: [`EventLoop`] (dyn-safe: timers,
//! sockets and readiness, queued callbacks, tasks, the blocking wait), [`LoopSocket`] (a
//! connecting non-blocking TCP socket), and [`Scheduler`] (the two things an
//! [`AsyncResult`](crate::AsyncResult) needs of a loop).

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::Error;

pub use crate::reactor::{Deferred, Readiness, TaskId, TimerId};

/// What an [`AsyncResult`](crate::AsyncResult) needs of a loop: a way to queue its
/// notification (callbacks are never run inside `set`), and the blocking wait its `get`
/// runs. Dyn-safe, so any handler can make results (see [`SchedulerRef`]).
pub trait Scheduler {
    /// Queues `d.run_deferred()` on the loop's FIFO, after the work queued before it.
    fn defer(&self, d: Rc<dyn Deferred>);

    /// Runs the loop until `done()` holds or `timeout` passes (`None`: no limit).
    ///
    /// # Notable errors
    ///
    /// [`Error::Timeout`]; the loop's refusals ([`LoopError::Stopped`],
    /// [`LoopError::Embedded`], [`LoopError::NestingTooDeep`]), as
    /// [`Error::Loop`].
    ///
    /// [`LoopError::Stopped`]: crate::LoopError::Stopped
    /// [`LoopError::Embedded`]: crate::LoopError::Embedded
    /// [`LoopError::NestingTooDeep`]: crate::LoopError::NestingTooDeep
    fn wait_until(
        &self,
        done: &dyn Fn() -> bool,
        timeout: Option<Duration>,
        what: &'static str,
    ) -> Result<(), Error>;
}

/// A shared handle to a [`Scheduler`], kept by a handler; the results it makes hold it
/// weakly (a thin pointer: a result stays as small as it was when it was bound to the
/// reactor), so a result does not keep its loop alive.
#[derive(Clone)]
pub struct SchedulerRef(Rc<Box<dyn Scheduler>>);

impl fmt::Debug for SchedulerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SchedulerRef")
            .field(&Rc::as_ptr(&self.0))
            .finish()
    }
}

impl SchedulerRef {
    /// Wraps a scheduler; keep the returned handle (and its clones) for as long as the
    /// results it makes should work.
    pub fn new<S: Scheduler + 'static>(scheduler: S) -> SchedulerRef {
        SchedulerRef(Rc::new(Box::new(scheduler)))
    }

    pub(crate) fn downgrade(&self) -> Weak<Box<dyn Scheduler>> {
        Rc::downgrade(&self.0)
    }
}

/// A connecting or connected non-blocking TCP socket registered with a loop
/// ([`EventLoop::connect`]). Reading and writing report `WouldBlock` as usual; the loop
/// then calls the readiness callback when there is more to do.
pub trait LoopSocket: fmt::Debug {
    /// Reads (non-blocking).
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes (non-blocking).
    fn write(&self, buf: &[u8]) -> io::Result<usize>;

    /// The readiness seen since the last `WouldBlock`.
    fn readiness(&self) -> Readiness;

    /// Whether the connect has finished: `Ok(true)` connected, `Ok(false)` still in
    /// progress, or the connect's error ([`Error::ConnectionRefused`] or [`Error::Io`]).
    fn connect_result(&self) -> Result<bool, Error>;

    /// Installs the callback the loop runs whenever the socket reports readiness
    /// (replacing any earlier one). It runs on the loop, never inside this call.
    fn set_on_ready(&self, on_ready: Box<dyn FnMut(Readiness)>) -> Result<(), Error>;

    /// Whether the loop should report writability (readability is always reported). A
    /// stream with nothing to write turns it off so acknowledgements do not wake the loop.
    fn set_write_interest(&mut self, writable: bool) -> Result<(), Error>;

    /// The peer's address.
    fn peer_addr(&self) -> io::Result<SocketAddr>;
}

impl io::Read for &dyn LoopSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        LoopSocket::read(*self, buf)
    }
}

impl io::Write for &dyn LoopSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        LoopSocket::write(*self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The kind of a [`Callback`]: it decides only whether the callback may overlap another
/// (watch callbacks never do; see [How callbacks are called](super#how-callbacks-are-called)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackKind {
    /// A spawned task (kazoo's `handler.spawn`).
    Task,
    /// A completion callback (an `AsyncResult` link, a reply callback).
    Completion,
    /// A watch callback: never started while another watch callback is running.
    Watch,
}

/// A callback for [`EventLoop::dispatch_callback`] (kazoo's `Callback` tuple): a closure and
/// its kind.
pub struct Callback {
    kind: CallbackKind,
    func: Box<dyn FnOnce()>,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Callback {
    /// A callback of the given kind.
    pub fn new<F: FnOnce() + 'static>(kind: CallbackKind, f: F) -> Callback {
        Callback {
            kind,
            func: Box::new(f),
        }
    }

    /// A watch callback: watch callbacks never overlap (see the [module docs](super)).
    pub fn watch<F: FnOnce() + 'static>(f: F) -> Callback {
        Callback::new(CallbackKind::Watch, f)
    }

    /// A completion callback.
    pub fn completion<F: FnOnce() + 'static>(f: F) -> Callback {
        Callback::new(CallbackKind::Completion, f)
    }

    /// Its kind.
    pub fn kind(&self) -> CallbackKind {
        self.kind
    }

    /// Splits it into its kind and closure.
    pub fn into_parts(self) -> (CallbackKind, Box<dyn FnOnce()>) {
        (self.kind, self.func)
    }
}

/// A spawned task's future (boxed: [`EventLoop`] is dyn-safe).
pub type LocalTask = Pin<Box<dyn Future<Output = ()>>>;

/// The loop under a [`Handler`](super::Handler), as the client uses it: everything the
/// client does on its loop goes through these members (it holds the handler as an
/// `Rc<dyn EventLoop>`). Dyn-safe: every type here is a handler-layer type, a boxed
/// closure or a boxed future, so a loop other than [`Reactor`](crate::handler::Reactor)
/// can implement it (tests/handler_second.rs does, directly on `mio::Poll`).
///
/// All callbacks run on the loop's thread, never inside the call that installs or queues
/// them. The one thing that crosses threads is the [`Waker`](std::task::Waker) a task
/// spawned with [`spawn_task`](EventLoop::spawn_task) is polled with: it is `Send + Sync`
/// and must wake the loop from any thread (the client's DNS lookups hand their answer back
/// through it).
pub trait EventLoop: Scheduler {
    /// The current time, as the loop's timers see it.
    fn now(&self) -> Instant;

    /// Runs `f` on the loop once `deadline` has passed (timers due together fire in the
    /// order they were set).
    fn set_timer(&self, deadline: Instant, f: Box<dyn FnOnce()>) -> TimerId;

    /// Cancels a pending timer; `false` if it already fired or was cancelled.
    fn cancel_timer(&self, id: TimerId) -> bool;

    /// Moves a pending timer; `false` if it already fired or was cancelled.
    fn reschedule_timer(&self, id: TimerId, deadline: Instant) -> bool;

    /// Starts a non-blocking connect to `addr` with `TCP_NODELAY`, registered for readable
    /// and writable readiness. The connect is done when the socket's
    /// [`connect_result`](LoopSocket::connect_result) says so.
    ///
    /// # Notable errors
    ///
    /// [`Error::ConnectionRefused`] or [`Error::Io`] if it fails at once.
    fn connect(&self, addr: SocketAddr) -> Result<Box<dyn LoopSocket>, Error>;

    /// Queues `f` on the loop's FIFO (a task or a completion callback).
    fn call_soon(&self, f: Box<dyn FnOnce()>);

    /// Queues a completion or watch callback (kazoo's `dispatch_callback`); watch callbacks
    /// never overlap (see the [module docs](super#how-callbacks-are-called)).
    fn dispatch_callback(&self, callback: Callback);

    /// Spawns a cooperative task, polled on the loop and again whenever its waker is woken
    /// (from any thread).
    fn spawn_task(&self, task: LocalTask) -> TaskId;

    /// Drops an unfinished task; `false` if it already finished.
    fn cancel_task(&self, id: TaskId) -> bool;

    /// One iteration of the loop, waiting for I/O no longer than `timeout` (`None`: no
    /// limit); whether anything happened.
    ///
    /// # Notable errors
    ///
    /// [`LoopError::Embedded`](crate::LoopError::Embedded) when the loop is driven by a host.
    fn poll_once(&self, timeout: Option<Duration>) -> Result<bool, Error>;

    /// Whether a host drives the loop (then every blocking wait is refused).
    fn is_embedded(&self) -> bool;
}

impl dyn EventLoop {
    /// Queues a watch callback.
    pub(crate) fn dispatch_watch<F: FnOnce() + 'static>(&self, f: F) {
        self.dispatch_callback(Callback::watch(f));
    }

    /// Queues a callback.
    pub(crate) fn call_soon_fn<F: FnOnce() + 'static>(&self, f: F) {
        self.call_soon(Box::new(f));
    }

    /// Sets a timer running `f`.
    pub(crate) fn set_timer_fn<F: FnOnce() + 'static>(&self, deadline: Instant, f: F) -> TimerId {
        self.set_timer(deadline, Box::new(f))
    }
}
