//! The `Handler` trait (kazoo's `IHandler`) and its default implementation on the reactor.
//!
//! A [`Handler`] is what the client runs on: it queues callbacks and tasks, waits for
//! sockets, makes connections, sleeps, and makes the event, lock and result objects the
//! client and the recipes use. [`MioHandler`], the default, maps every member onto one
//! single-threaded [`Reactor`]: nothing blocks the thread except the reactor's own poll, and
//! every wait (`sleep`, `select`, `create_connection`, `Event::wait`, `Lock::acquire`,
//! `AsyncResult::get`) *runs the loop* until it is over, as gevent's handler does.
//!
//! # How callbacks are called
//!
//! Everything runs on the loop's thread, in the iteration of whichever call is driving the
//! loop (`poll_once`, a blocking wait, `run_pending`, `stop`):
//!
//! | kind | queued by | runs |
//! |---|---|---|
//! | completion callbacks | `AsyncResult::rawlink`, [`Callback::completion`] | from the FIFO queue, never inside the `set`/`rawlink` call that triggered them |
//! | watch callbacks | [`Callback::watch`] via `dispatch_callback` | from the same FIFO, **one at a time** |
//! | tasks | [`Handler::spawn`], [`Handler::spawn_future`] (each poll of a future) | from the same FIFO |
//! | timer and readiness callbacks | the reactor's `set_timer`, `register_with` | in the timer and I/O phases of an iteration |
//!
//! **Order.** One FIFO for all kinds: callbacks run in the order their triggers happened
//! (a watch event read before a reply is dispatched before that reply's completion
//! callbacks). Each iteration runs what was queued when its queue phase started. The one
//! exception is the watch rule below: while a watch callback blocks, completion callbacks
//! and tasks queued after a held watch callback run before it.
//!
//! **Panics.** A callback that panics unwinds out of the call that is driving the loop; the
//! reactor's own state (nesting depth, the running watch) is restored on the way, so the
//! loop can be driven again, but the panicking callback (or a readiness callback's
//! registration, or a task) is lost.
//!
//! **Blocking.** Any callback or task may block (call `get()`, `sleep`, ...): the wait runs
//! a nested loop. The nested loop does I/O, timers, completion callbacks and tasks, but while
//! a *watch* callback is running it does not start another watch callback: those stay
//! queued, in order, and run after it returns (kazoo's recipes block inside watch callbacks;
//! watch callbacks stay serialized). Nesting is bounded by
//! [`Reactor::MAX_DEPTH`](crate::reactor::Reactor::MAX_DEPTH) ([`Error::NestingTooDeep`]).
//! Blocking in a callback holds up the callbacks queued behind it, so prefer `rawlink`,
//! `spawn` or an `async` task; readiness and timer callbacks (the connection's own) should
//! never block. On an embedded reactor every blocking call is refused with
//! [`Error::Embedded`].
//!
//! **Stopping.** [`Handler::stop`] makes every wait in progress return [`Error::Stopped`],
//! refuses new ones until `start`, and runs the callbacks already queued before it returns.
//! Unlike kazoo's threading handler after PR #549, a stopped handler does *not* run
//! callbacks inline (DESIGN.md: callbacks are always deferred, so no caller is re-entered):
//! callbacks queued after the stop run when the loop is next driven, by `poll_once`,
//! `run_pending`, another `stop`, or waits after `start`.
//!
//! # Why the trait is not object-safe
//!
//! `spawn`, `spawn_future` and `async_result` are generic (a closure, a future, a value
//! type), which keeps them allocation-free where possible. The client is therefore generic,
//! `Client<H: Handler = MioHandler>`, rather than holding a `dyn Handler`.

mod sync;

use std::fmt;
use std::future::Future;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use mio::Registry;

use crate::reactor::{CallbackKind, EmbeddedHost, LoopWaker, Reactor, Readiness, TcpSocket};
use crate::{AsyncResult, Error};

pub use sync::{EventObject, LockObject, MioEvent, MioLock, MioRLock};

/// A callback for [`Handler::dispatch_callback`] (kazoo's `Callback` tuple): a closure and
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

    /// A watch callback: watch callbacks never overlap (see the [module docs](self)).
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
/// Users may implement their own (for instance a handler that wraps [`MioHandler`] to add
/// logging or metrics). [`AsyncResult`]s are bound to a [`Reactor`], so a handler keeps one
/// for the results it makes. See the [module docs](self) for how callbacks are called.
///
/// # Examples
///
/// Code written against the trait, as the client and recipes are:
///
/// ```
/// use std::time::Duration;
/// use mio_zookeeper::handler::{EventObject, Handler, MioHandler};
/// use mio_zookeeper::Error;
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
pub trait Handler: Clone + fmt::Debug + 'static {
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

    /// The loop this handler runs on. The client drives its connection (socket readiness,
    /// timers) through it, and [`AsyncResult`]s are bound to it; a custom handler wraps a
    /// [`MioHandler`] or keeps a [`Reactor`] of its own.
    fn reactor(&self) -> &Reactor;

    /// Whether it is running (kazoo's `running`).
    fn running(&self) -> bool;

    /// Starts (or restarts) the handler. Idempotent.
    fn start(&self) -> Result<(), Error>;

    /// Stops the handler; returns once it is safely stopped: waits in progress return
    /// [`Error::Stopped`] and the already queued callbacks have run. Idempotent.
    fn stop(&self) -> Result<(), Error>;

    /// Queues a task: `f` runs on the loop after the work queued before it.
    fn spawn<F: FnOnce() + 'static>(&self, f: F);

    /// Spawns a future as a cooperative task (the Rust form of a greenlet); the returned
    /// result is set to its output when it finishes.
    fn spawn_future<F>(&self, f: F) -> AsyncResult<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static;

    /// Queues a completion or watch callback.
    fn dispatch_callback(&self, callback: Callback);

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
    fn sleep(&self, duration: Duration) -> Result<(), Error>;

    /// A new event object.
    fn event_object(&self) -> Self::Event;

    /// A new lock.
    fn lock_object(&self) -> Self::Lock;

    /// A new re-entrant lock.
    fn rlock_object(&self) -> Self::RLock;

    /// A new pending result whose callbacks run on this handler's loop.
    fn async_result<T: 'static>(&self) -> AsyncResult<T>;

    /// The error a wait returns when it times out (kazoo's `timeout_exception`).
    fn timeout_error(&self) -> Error {
        Error::Timeout
    }
}

/// The default [`Handler`]: one single-threaded [`Reactor`] (its own `mio::Poll`, or a host's
/// registry). Cheap to clone (an `Rc`), `!Send`.
///
/// # One loop per thread
///
/// Each thread has a default loop, [`MioHandler::current`], made on first use and kept for
/// the thread's life (gevent's hub). Clients built without an explicit handler
/// ([`Client::new`](crate::Client::new), [`ClientBuilder::build`](crate::ClientBuilder::build))
/// all run on it, so **any wait on that thread drives all of them**: a blocking call of one
/// client, `sleep`, `AsyncResult::get`, `poll_once` send the pings and read the replies of
/// every client of the thread. [`MioHandler::new`] makes an isolated loop instead: clients
/// built on it (`.handler(h)`) are driven only by waits on that loop, and waits on it drive
/// no other. Stopping a handler ([`Handler::stop`]) stops its loop, so on the thread's
/// default loop it refuses the waits of every client of the thread until it is started
/// again (a client's `start` does).
///
/// # Examples
///
/// A blocking call inside a callback, a task that sleeps, and a result awaited by a future:
///
/// ```
/// use std::time::Duration;
/// use mio_zookeeper::handler::{Handler, MioHandler};
///
/// let handler = MioHandler::new()?;
/// let result = handler.async_result::<u32>();
///
/// let (h, r) = (handler.clone(), result.clone());
/// handler.spawn(move || {
///     h.sleep(Duration::from_millis(5)).unwrap(); // runs the loop; nothing is blocked
///     r.set(7).unwrap();
/// });
///
/// let r = result.clone();
/// let doubled = handler.spawn_future(async move { r.await.map(|v| v * 2) });
///
/// assert_eq!(result.get(true, Some(Duration::from_secs(5)))?, 7);
/// assert_eq!(doubled.get(true, Some(Duration::from_secs(5)))??, 14);
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
#[derive(Clone)]
pub struct MioHandler {
    reactor: Reactor,
}

impl fmt::Debug for MioHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MioHandler")
            .field("reactor", &self.reactor)
            .finish()
    }
}

impl MioHandler {
    /// kazoo-style name of this handler.
    pub const NAME: &'static str = "sequential_mio_handler";

    /// The calling thread's default loop, made (running) on first use and shared by every
    /// client of the thread built without an explicit handler: a wait on it drives all of
    /// them (see [One loop per thread](MioHandler#one-loop-per-thread)). Every call on the
    /// same thread returns a handle to the same loop.
    ///
    /// ```
    /// use mio_zookeeper::MioHandler;
    ///
    /// let a = MioHandler::current()?;
    /// let b = MioHandler::current()?;
    /// assert!(a.reactor().ptr_eq(b.reactor()));
    /// assert!(!a.reactor().ptr_eq(MioHandler::new()?.reactor())); // new(): a loop of its own
    /// let other = std::thread::spawn(|| MioHandler::current().map(|h| h.reactor().is_running()));
    /// assert!(other.join().unwrap()?); // another thread has a default loop of its own
    /// # Ok::<(), mio_zookeeper::Error>(())
    /// ```
    ///
    /// # Notable errors
    ///
    /// [`Error::Io`] when the loop cannot be made (no `mio::Poll`).
    pub fn current() -> Result<MioHandler, Error> {
        thread_local! {
            static THREAD_DEFAULT: std::cell::RefCell<Option<MioHandler>> =
                const { std::cell::RefCell::new(None) };
        }
        THREAD_DEFAULT
            .try_with(|slot| {
                if let Some(h) = slot.borrow().as_ref() {
                    return Ok(h.clone());
                }
                let h = MioHandler::new()?;
                *slot.borrow_mut() = Some(h.clone());
                Ok(h)
            })
            // The thread is exiting (its locals are being destroyed): a loop of its own.
            .unwrap_or_else(|_| MioHandler::new())
    }

    /// A new, isolated handler over its own `mio::Poll`, running: only waits on this loop
    /// drive the clients built on it, and they drive no other (compare
    /// [`current`](MioHandler::current), the thread's shared default).
    pub fn new() -> Result<MioHandler, Error> {
        Ok(MioHandler {
            reactor: Reactor::new()?,
        })
    }

    /// A handler embedded in a host's `mio::Poll` (see
    /// [`Reactor::embedded`](crate::reactor::Reactor::embedded)): blocking members are
    /// refused with [`Error::Embedded`]. Nothing checks that `tokens` is disjoint from other
    /// reactors' ranges: prefer [`embedded_in`](MioHandler::embedded_in) with an
    /// [`EmbeddedHost`], which does.
    pub fn embedded(
        registry: &Registry,
        tokens: std::ops::Range<usize>,
    ) -> Result<MioHandler, Error> {
        Ok(MioHandler {
            reactor: Reactor::embedded(registry, tokens)?,
        })
    }

    /// A handler on a new reactor of `host` (see [`EmbeddedHost::reactor`]), registering
    /// its sources under `tokens`, which no other reactor of that host (nor the host's own
    /// reserved tokens) may overlap. Blocking members are refused with [`Error::Embedded`].
    ///
    /// # Notable errors
    ///
    /// [`Error::TokenCollision`] for an overlap; [`Error::TokenRange`] for an empty range.
    ///
    /// ```
    /// use mio::Poll;
    /// use mio_zookeeper::{EmbeddedHost, Error, MioHandler};
    ///
    /// let poll = Poll::new().unwrap();
    /// let host = EmbeddedHost::new(poll.registry())?;
    /// let first = MioHandler::embedded_in(&host, 1000..1100)?;
    /// let err = MioHandler::embedded_in(&host, 1099..1200).unwrap_err();
    /// assert!(matches!(err, Error::TokenCollision { .. }), "{err}");
    /// assert!(err.to_string().contains("1000..1100"));
    /// drop(first); // its range is free again
    /// MioHandler::embedded_in(&host, 1099..1200)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn embedded_in(
        host: &EmbeddedHost,
        tokens: std::ops::Range<usize>,
    ) -> Result<MioHandler, Error> {
        Ok(MioHandler {
            reactor: host.reactor(tokens)?,
        })
    }

    /// A handler over an existing reactor.
    pub fn from_reactor(reactor: Reactor) -> MioHandler {
        MioHandler { reactor }
    }

    /// The reactor (registrations, timers, the queue, `poll_once`, embedding calls).
    pub fn reactor(&self) -> &Reactor {
        &self.reactor
    }

    /// One loop iteration; see [`Reactor::poll_once`].
    pub fn poll_once(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        self.reactor.poll_once(timeout)
    }

    /// Runs the loop until `result` is set or `timeout` passes; see [`Reactor::run_until`].
    pub fn run_until<T>(
        &self,
        result: &AsyncResult<T>,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        self.reactor.run_until(result, timeout)
    }

    /// Runs the loop for `duration`; see [`Reactor::run_for`].
    pub fn run_for(&self, duration: Duration) -> Result<(), Error> {
        self.reactor.run_for(duration)
    }

    /// A `Send + Sync` handle to interrupt the loop or request a stop from another thread.
    pub fn loop_waker(&self) -> LoopWaker {
        self.reactor.loop_waker()
    }
}

fn connect_done(r: Readiness) -> bool {
    r.intersects(
        Readiness::WRITABLE | Readiness::ERROR | Readiness::WRITE_CLOSED | Readiness::READ_CLOSED,
    )
}

impl Handler for MioHandler {
    type Socket = TcpSocket;
    type Event = MioEvent;
    type Lock = MioLock;
    type RLock = MioRLock;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn reactor(&self) -> &Reactor {
        &self.reactor
    }

    fn running(&self) -> bool {
        self.reactor.is_running()
    }

    fn start(&self) -> Result<(), Error> {
        self.reactor.start();
        Ok(())
    }

    fn stop(&self) -> Result<(), Error> {
        self.reactor.stop();
        Ok(())
    }

    fn spawn<F: FnOnce() + 'static>(&self, f: F) {
        self.reactor.spawn(f);
    }

    fn spawn_future<F>(&self, f: F) -> AsyncResult<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let result = AsyncResult::new(&self.reactor);
        let r = result.clone();
        self.reactor.spawn_future(async move {
            let out = f.await;
            if let Err(e) = r.set(out) {
                log::debug!("spawn_future: {e}");
            }
        });
        result
    }

    fn dispatch_callback(&self, callback: Callback) {
        let (kind, f) = callback.into_parts();
        self.reactor.dispatch(kind, f);
    }

    fn select(
        &self,
        read: &[&TcpSocket],
        write: &[&TcpSocket],
        timeout: Option<Duration>,
    ) -> Result<Selected, Error> {
        let any = || {
            read.iter().any(|s| s.readiness().select_readable())
                || write.iter().any(|s| s.readiness().select_writable())
        };
        match self.reactor.wait_until(&any, timeout, "select") {
            Ok(()) | Err(Error::Timeout) => {}
            Err(e) => return Err(e),
        }
        Ok(Selected {
            readable: (0..read.len())
                .filter(|&i| read[i].readiness().select_readable())
                .collect(),
            writable: (0..write.len())
                .filter(|&i| write[i].readiness().select_writable())
                .collect(),
        })
    }

    fn socket(&self, addr: SocketAddr) -> Result<TcpSocket, Error> {
        TcpSocket::connect(&self.reactor, addr)
    }

    fn create_connection(
        &self,
        addr: SocketAddr,
        timeout: Option<Duration>,
    ) -> Result<TcpSocket, Error> {
        if self.reactor.is_embedded() {
            return Err(Error::Embedded {
                what: "create_connection",
            });
        }
        let start = self.reactor.now();
        let sock = TcpSocket::connect(&self.reactor, addr)?;
        loop {
            if sock.connect_result()? {
                return Ok(sock);
            }
            let elapsed = self.reactor.now().saturating_duration_since(start);
            let left = timeout.map(|t| t.saturating_sub(elapsed));
            let done = || connect_done(sock.readiness());
            match self.reactor.wait_until(&done, left, "create_connection") {
                Ok(()) => {}
                Err(Error::Timeout) => {
                    return Err(Error::ConnectTimedOut {
                        addr,
                        timeout: timeout.unwrap_or_default(),
                    })
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn sleep(&self, duration: Duration) -> Result<(), Error> {
        self.reactor.run_for(duration)
    }

    fn event_object(&self) -> MioEvent {
        MioEvent::new(self.reactor.downgrade())
    }

    fn lock_object(&self) -> MioLock {
        MioLock::new(self.reactor.downgrade())
    }

    fn rlock_object(&self) -> MioRLock {
        MioRLock::new(self.reactor.downgrade())
    }

    fn async_result<T: 'static>(&self) -> AsyncResult<T> {
        AsyncResult::new(&self.reactor)
    }
}
