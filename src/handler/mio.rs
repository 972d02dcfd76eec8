//! [`MioHandler`]: the default [`Handler`], on one [`Reactor`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::{Interest, Registry};

use super::{
    Callback, CallbackKind, EventLoop, Handler, LocalTask, LoopSocket, MioEvent, MioLock, MioRLock,
    Readiness, Scheduler, SchedulerRef, Selected, TaskId, TimerId, WatchGate,
};
use crate::reactor::{Completion, Deferred, EmbeddedHost, LoopWaker, Reactor, TcpSocket};
use crate::{AsyncResult, Error, LoopError};

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
    /// What its results are bound to (the reactor, behind a thin pointer).
    scheduler: SchedulerRef,
    /// Keeps watch callbacks from overlapping (the reactor's queue is a plain FIFO).
    watches: WatchGate,
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
        Ok(MioHandler::from_reactor(Reactor::new()?))
    }

    /// A handler embedded in a host's `mio::Poll` (see
    /// [`Reactor::embedded`](crate::handler::Reactor::embedded)): blocking members are
    /// refused with [`LoopError::Embedded`]. Nothing checks that
    /// `tokens` is disjoint from other
    /// reactors' ranges: prefer [`embedded_in`](MioHandler::embedded_in) with an
    /// [`EmbeddedHost`], which does.
    pub fn embedded(
        registry: &Registry,
        tokens: std::ops::Range<usize>,
    ) -> Result<MioHandler, Error> {
        Ok(MioHandler::from_reactor(Reactor::embedded(
            registry, tokens,
        )?))
    }

    /// A handler on a new reactor of `host` (see [`EmbeddedHost::reactor`]), registering
    /// its sources under `tokens`, which no other reactor of that host (nor the host's own
    /// reserved tokens) may overlap. Blocking members are refused with
    /// [`LoopError::Embedded`].
    ///
    /// # Notable errors
    ///
    /// [`LoopError::TokenCollision`] for an overlap;
    /// [`LoopError::TokenRange`] for an empty range.
    ///
    /// ```
    /// use mio::Poll;
    /// use mio_zookeeper::{EmbeddedHost, Error, LoopError, MioHandler};
    ///
    /// let poll = Poll::new().unwrap();
    /// let host = EmbeddedHost::new(poll.registry())?;
    /// let first = MioHandler::embedded_in(&host, 1000..1100)?;
    /// let err = MioHandler::embedded_in(&host, 1099..1200).unwrap_err();
    /// assert!(matches!(err, Error::Loop(LoopError::TokenCollision { .. })), "{err}");
    /// assert!(err.to_string().contains("1000..1100"));
    /// drop(first); // its range is free again
    /// MioHandler::embedded_in(&host, 1099..1200)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn embedded_in(
        host: &EmbeddedHost,
        tokens: std::ops::Range<usize>,
    ) -> Result<MioHandler, Error> {
        Ok(MioHandler::from_reactor(host.reactor(tokens)?))
    }

    /// A handler over an existing reactor. Watch callbacks are serialized per handler
    /// (and its clones): two handlers made over one reactor do not hold each other's back.
    pub fn from_reactor(reactor: Reactor) -> MioHandler {
        MioHandler {
            scheduler: SchedulerRef::new(reactor.clone()),
            reactor,
            watches: WatchGate::new(),
        }
    }

    /// Whether a watch callback of this handler is running.
    pub fn in_watch_callback(&self) -> bool {
        self.watches.in_watch_callback()
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
    pub fn run_until_set<T: 'static>(
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
            return Err(Error::Loop(LoopError::Embedded {
                what: "create_connection",
            }));
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

    fn scheduler(&self) -> &SchedulerRef {
        &self.scheduler
    }
}

impl Scheduler for Reactor {
    fn defer(&self, d: Rc<dyn Deferred>) {
        Reactor::defer(self, d);
    }

    fn wait_until(
        &self,
        done: &dyn Fn() -> bool,
        timeout: Option<Duration>,
        what: &'static str,
    ) -> Result<(), Error> {
        Reactor::wait_until(self, done, timeout, what)
    }
}

impl Scheduler for MioHandler {
    fn defer(&self, d: Rc<dyn Deferred>) {
        self.reactor.defer(d);
    }

    fn wait_until(
        &self,
        done: &dyn Fn() -> bool,
        timeout: Option<Duration>,
        what: &'static str,
    ) -> Result<(), Error> {
        self.reactor.wait_until(done, timeout, what)
    }
}

impl EventLoop for MioHandler {
    fn now(&self) -> Instant {
        self.reactor.now()
    }

    fn set_timer(&self, deadline: Instant, f: Box<dyn FnOnce()>) -> TimerId {
        self.reactor.set_timer(deadline, f)
    }

    fn cancel_timer(&self, id: TimerId) -> bool {
        self.reactor.cancel_timer(id)
    }

    fn reschedule_timer(&self, id: TimerId, deadline: Instant) -> bool {
        self.reactor.reschedule_timer(id, deadline)
    }

    fn connect(&self, addr: SocketAddr) -> Result<Box<dyn LoopSocket>, Error> {
        Ok(Box::new(TcpSocket::connect(&self.reactor, addr)?))
    }

    fn call_soon(&self, f: Box<dyn FnOnce()>) {
        self.reactor.call_soon_boxed(f);
    }

    fn dispatch_callback(&self, callback: Callback) {
        match callback.into_parts() {
            (CallbackKind::Watch, f) => self.reactor.defer(self.watches.admit(f)),
            (_, f) => self.reactor.call_soon_boxed(f),
        }
    }

    fn spawn_task(&self, task: LocalTask) -> TaskId {
        self.reactor.spawn_future(task)
    }

    fn cancel_task(&self, id: TaskId) -> bool {
        self.reactor.cancel_task(id)
    }

    fn poll_once(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        self.reactor.poll_once(timeout)
    }

    fn is_embedded(&self) -> bool {
        self.reactor.is_embedded()
    }
}

impl LoopSocket for TcpSocket {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &*self, buf)
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &*self, buf)
    }

    fn readiness(&self) -> Readiness {
        TcpSocket::readiness(self)
    }

    fn connect_result(&self) -> Result<bool, Error> {
        TcpSocket::connect_result(self)
    }

    fn set_on_ready(&self, on_ready: Box<dyn FnMut(Readiness)>) -> Result<(), Error> {
        TcpSocket::set_on_ready(self, on_ready)
    }

    fn set_write_interest(&mut self, writable: bool) -> Result<(), Error> {
        self.set_interest(if writable {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        })
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        TcpSocket::peer_addr(self)
    }
}

impl<T: 'static> Completion for AsyncResult<T> {
    fn is_complete(&self) -> bool {
        self.ready()
    }
}
