//! A second [`Handler`], written here without `MioHandler` or `Reactor`: a tiny loop of its
//! own directly on `mio::Poll` (a `VecDeque` queue, a timer list, sockets, tasks woken from
//! any thread) that records every trait call it receives. It drives a real client against
//! a real server through connect, a request (create + get) and a watch firing: proof that
//! the client reaches its loop only through the handler traits.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use mio_zookeeper::handler::{
    Callback, CallbackKind, Deferred, EventLoop, EventObject, Handler, LocalTask, LockObject,
    LoopSocket, Readiness, Scheduler, SchedulerRef, Selected, TaskId, TimerId, WatchGate,
};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{Client, CreateMode, Error, EventType, LoopError, WatchedEvent, Watcher};

const WAKE: Token = Token(0);
const WAIT: Duration = Duration::from_secs(20);

enum Job {
    Call(Box<dyn FnOnce()>),
    Notify(Rc<dyn Deferred>),
    Poll(usize),
}

/// A timer: deadline, sequence number (its id, and the order of ties), callback.
type Timer = (Instant, u64, Box<dyn FnOnce()>);

struct Slot {
    ready: Readiness,
    on_ready: Option<Box<dyn FnMut(Readiness)>>,
}

/// Task keys woken from any thread, and the mio waker that interrupts the poll.
struct Remote {
    woken: Mutex<Vec<usize>>,
    waker: mio::Waker,
}

struct TaskWaker(usize, Arc<Remote>);

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.1.woken.lock().unwrap().push(self.0);
        let _ = self.1.waker.wake();
    }
}

struct Inner {
    poll: RefCell<Poll>,
    queue: RefCell<VecDeque<Job>>,
    timers: RefCell<Vec<Timer>>,
    next_seq: Cell<u64>,
    sockets: RefCell<HashMap<usize, Slot>>,
    next_token: Cell<usize>,
    tasks: RefCell<HashMap<usize, LocalTask>>,
    remote: Arc<Remote>,
    running: Cell<bool>,
    /// Every trait call, by name.
    calls: RefCell<Vec<&'static str>>,
}

impl Inner {
    fn record(&self, call: &'static str) {
        self.calls.borrow_mut().push(call);
    }

    /// One iteration: I/O (with readiness callbacks), woken tasks, due timers, the queue.
    fn turn(&self, timeout: Option<Duration>) -> io::Result<()> {
        let next_timer = self.timers.borrow().iter().map(|t| t.0).min();
        let to_timer = next_timer.map(|d| d.saturating_duration_since(Instant::now()));
        let wait = if self.queue.borrow().is_empty() {
            [timeout, to_timer].into_iter().flatten().min()
        } else {
            Some(Duration::ZERO)
        };
        let mut events = Events::with_capacity(64);
        self.poll.borrow_mut().poll(&mut events, wait)?;
        for ev in events.iter().filter(|e| e.token() != WAKE) {
            let r = Readiness::from_event(ev);
            let cb = self
                .sockets
                .borrow_mut()
                .get_mut(&ev.token().0)
                .and_then(|s| {
                    s.ready |= r;
                    s.on_ready.take()
                });
            if let Some(mut cb) = cb {
                cb(r);
                if let Some(s) = self.sockets.borrow_mut().get_mut(&ev.token().0) {
                    s.on_ready.get_or_insert(cb);
                }
            }
        }
        let woken = std::mem::take(&mut *self.remote.woken.lock().unwrap());
        for key in woken {
            self.queue.borrow_mut().push_back(Job::Poll(key));
        }
        let now = Instant::now();
        let mut due = Vec::new();
        self.timers.borrow_mut().retain_mut(|t| {
            if t.0 > now {
                return true;
            }
            due.push((t.0, t.1, std::mem::replace(&mut t.2, Box::new(|| {}))));
            false
        });
        due.sort_by_key(|t| (t.0, t.1));
        for (_, _, f) in due {
            f();
        }
        let n = self.queue.borrow().len();
        for _ in 0..n {
            let Some(job) = self.queue.borrow_mut().pop_front() else {
                break;
            };
            match job {
                Job::Call(f) => f(),
                Job::Notify(d) => d.run_deferred(),
                Job::Poll(key) => self.poll_task(key),
            }
        }
        Ok(())
    }

    fn poll_task(&self, key: usize) {
        let Some(mut fut) = self.tasks.borrow_mut().remove(&key) else {
            return;
        };
        let waker = Waker::from(Arc::new(TaskWaker(key, self.remote.clone())));
        if fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
        {
            self.tasks.borrow_mut().insert(key, fut);
        }
    }
}

/// The recording handler (cheap to clone).
#[derive(Clone)]
struct Recorder {
    inner: Rc<Inner>,
    scheduler: SchedulerRef,
    watches: WatchGate,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

/// What results are bound to: the loop, weakly (a result must not keep it alive).
struct Sched(Weak<Inner>);

impl Scheduler for Sched {
    fn defer(&self, d: Rc<dyn Deferred>) {
        if let Some(i) = self.0.upgrade() {
            i.record("defer");
            i.queue.borrow_mut().push_back(Job::Notify(d));
        }
    }

    fn wait_until(
        &self,
        done: &dyn Fn() -> bool,
        timeout: Option<Duration>,
        what: &'static str,
    ) -> Result<(), Error> {
        let inner = self.0.upgrade().ok_or(LoopError::Gone)?;
        inner.record("wait_until");
        let deadline = timeout.map(|t| Instant::now() + t);
        while !done() {
            if !inner.running.get() {
                return Err(LoopError::Stopped.into());
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Err(Error::Timeout);
            }
            inner.turn(left).map_err(|e| Error::Io {
                op: what,
                source: Arc::new(e),
            })?;
        }
        Ok(())
    }
}

impl Recorder {
    fn new() -> Recorder {
        let poll = Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), WAKE).unwrap();
        let inner = Rc::new(Inner {
            poll: RefCell::new(poll),
            queue: RefCell::default(),
            timers: RefCell::default(),
            next_seq: Cell::new(0),
            sockets: RefCell::default(),
            next_token: Cell::new(1),
            tasks: RefCell::default(),
            remote: Arc::new(Remote {
                woken: Mutex::default(),
                waker,
            }),
            running: Cell::new(true),
            calls: RefCell::default(),
        });
        Recorder {
            scheduler: SchedulerRef::new(Sched(Rc::downgrade(&inner))),
            inner,
            watches: WatchGate::new(),
        }
    }

    fn calls(&self) -> Vec<&'static str> {
        self.inner.calls.borrow().clone()
    }
}

/// A socket of the recording loop.
#[derive(Debug)]
struct Sock {
    stream: TcpStream,
    token: usize,
    addr: SocketAddr,
    inner: Weak<Inner>,
}

impl Sock {
    fn clear_on_would_block<T>(&self, res: io::Result<T>, which: Readiness) -> io::Result<T> {
        if matches!(&res, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            if let Some(i) = self.inner.upgrade() {
                if let Some(s) = i.sockets.borrow_mut().get_mut(&self.token) {
                    s.ready = s.ready.remove(which);
                }
            }
        }
        res
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        if let Some(i) = self.inner.upgrade() {
            let _ = i.poll.borrow().registry().deregister(&mut self.stream);
            i.sockets.borrow_mut().remove(&self.token);
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        LoopSocket::read(self, buf)
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        LoopSocket::write(self, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LoopSocket for Sock {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let res = (&self.stream).read(buf);
        self.clear_on_would_block(res, Readiness::READABLE)
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let res = (&self.stream).write(buf);
        self.clear_on_would_block(res, Readiness::WRITABLE)
    }

    fn readiness(&self) -> Readiness {
        let i = self.inner.upgrade();
        i.and_then(|i| i.sockets.borrow().get(&self.token).map(|s| s.ready))
            .unwrap_or(Readiness::EMPTY)
    }

    fn connect_result(&self) -> Result<bool, Error> {
        if let Ok(Some(e)) | Err(e) = self.stream.take_error() {
            return Err(match e.kind() {
                io::ErrorKind::ConnectionRefused => Error::ConnectionRefused { addr: self.addr },
                _ => Error::Io {
                    op: "connect",
                    source: Arc::new(e),
                },
            });
        }
        Ok(self.stream.peer_addr().is_ok())
    }

    fn set_on_ready(&self, on_ready: Box<dyn FnMut(Readiness)>) -> Result<(), Error> {
        let i = self.inner.upgrade().ok_or(LoopError::Gone)?;
        i.record("set_on_ready");
        if let Some(s) = i.sockets.borrow_mut().get_mut(&self.token) {
            s.on_ready = Some(on_ready);
        }
        Ok(())
    }

    fn set_write_interest(&mut self, writable: bool) -> Result<(), Error> {
        let i = self.inner.upgrade().ok_or(LoopError::Gone)?;
        i.record("set_write_interest");
        let interest = if writable {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let res =
            i.poll
                .borrow()
                .registry()
                .reregister(&mut self.stream, Token(self.token), interest);
        res.map_err(|e| Error::Io {
            op: "reregister",
            source: Arc::new(e),
        })
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }
}

impl Scheduler for Recorder {
    fn defer(&self, d: Rc<dyn Deferred>) {
        Sched(Rc::downgrade(&self.inner)).defer(d);
    }

    fn wait_until(
        &self,
        done: &dyn Fn() -> bool,
        timeout: Option<Duration>,
        what: &'static str,
    ) -> Result<(), Error> {
        Sched(Rc::downgrade(&self.inner)).wait_until(done, timeout, what)
    }
}

impl EventLoop for Recorder {
    fn now(&self) -> Instant {
        self.inner.record("now");
        Instant::now()
    }

    fn set_timer(&self, deadline: Instant, f: Box<dyn FnOnce()>) -> TimerId {
        self.inner.record("set_timer");
        let seq = self.inner.next_seq.get() + 1;
        self.inner.next_seq.set(seq);
        self.inner.timers.borrow_mut().push((deadline, seq, f));
        TimerId::from_raw(0, seq)
    }

    fn cancel_timer(&self, id: TimerId) -> bool {
        self.inner.record("cancel_timer");
        let mut timers = self.inner.timers.borrow_mut();
        let before = timers.len();
        timers.retain(|t| t.1 != id.into_raw().1);
        timers.len() != before
    }

    fn reschedule_timer(&self, id: TimerId, deadline: Instant) -> bool {
        self.inner.record("reschedule_timer");
        let mut timers = self.inner.timers.borrow_mut();
        let t = timers.iter_mut().find(|t| t.1 == id.into_raw().1);
        t.map(|t| t.0 = deadline).is_some()
    }

    fn connect(&self, addr: SocketAddr) -> Result<Box<dyn LoopSocket>, Error> {
        self.inner.record("connect");
        let mut stream = TcpStream::connect(addr).map_err(|e| Error::Io {
            op: "connect",
            source: Arc::new(e),
        })?;
        let _ = stream.set_nodelay(true);
        let token = self.inner.next_token.get();
        self.inner.next_token.set(token + 1);
        let both = Interest::READABLE | Interest::WRITABLE;
        let res = self
            .inner
            .poll
            .borrow()
            .registry()
            .register(&mut stream, Token(token), both);
        res.map_err(|e| Error::Io {
            op: "register",
            source: Arc::new(e),
        })?;
        let slot = Slot {
            ready: Readiness::EMPTY,
            on_ready: None,
        };
        self.inner.sockets.borrow_mut().insert(token, slot);
        Ok(Box::new(Sock {
            stream,
            token,
            addr,
            inner: Rc::downgrade(&self.inner),
        }))
    }

    fn call_soon(&self, f: Box<dyn FnOnce()>) {
        self.inner.record("call_soon");
        self.inner.queue.borrow_mut().push_back(Job::Call(f));
    }

    fn dispatch_callback(&self, callback: Callback) {
        let job = match callback.into_parts() {
            (CallbackKind::Watch, f) => {
                self.inner.record("dispatch_callback(watch)");
                Job::Notify(self.watches.admit(f))
            }
            (_, f) => {
                self.inner.record("dispatch_callback");
                Job::Call(f)
            }
        };
        self.inner.queue.borrow_mut().push_back(job);
    }

    fn spawn_task(&self, task: LocalTask) -> TaskId {
        self.inner.record("spawn_task");
        let key = self.inner.next_token.get();
        self.inner.next_token.set(key + 1);
        self.inner.tasks.borrow_mut().insert(key, task);
        self.inner.queue.borrow_mut().push_back(Job::Poll(key));
        TaskId::from_raw(key, 0)
    }

    fn cancel_task(&self, id: TaskId) -> bool {
        self.inner.record("cancel_task");
        self.inner
            .tasks
            .borrow_mut()
            .remove(&id.into_raw().0)
            .is_some()
    }

    fn poll_once(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        self.inner.record("poll_once");
        self.inner.turn(timeout).map_err(|e| Error::Io {
            op: "poll",
            source: Arc::new(e),
        })?;
        Ok(true)
    }

    fn is_embedded(&self) -> bool {
        false
    }
}

/// Event and lock objects of the recording loop (one flag; the lock is not re-entrant).
#[derive(Clone, Debug)]
struct Flag(Rc<Cell<bool>>, Recorder);

impl EventObject for Flag {
    fn is_set(&self) -> bool {
        self.0.get()
    }
    fn set(&self) {
        self.0.set(true);
    }
    fn clear(&self) {
        self.0.set(false);
    }
    fn wait(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        match self.1.wait_until(&|| self.0.get(), timeout, "Flag::wait") {
            Ok(()) => Ok(true),
            Err(Error::Timeout) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl LockObject for Flag {
    fn acquire(&self, blocking: bool, timeout: Option<Duration>) -> Result<bool, Error> {
        if blocking && self.0.get() {
            match self
                .1
                .wait_until(&|| !self.0.get(), timeout, "Flag::acquire")
            {
                Err(Error::Timeout) => return Ok(false),
                other => other?,
            }
        }
        Ok(!self.0.replace(true))
    }
    fn release(&self) -> Result<(), Error> {
        match self.0.replace(false) {
            true => Ok(()),
            false => Err(LoopError::NotLocked.into()),
        }
    }
    fn locked(&self) -> bool {
        self.0.get()
    }
}

impl Handler for Recorder {
    type Socket = Sock;
    type Event = Flag;
    type Lock = Flag;
    type RLock = Flag;

    fn name(&self) -> &'static str {
        "recording_mio_poll_handler"
    }

    fn running(&self) -> bool {
        self.inner.running.get()
    }

    fn start(&self) -> Result<(), Error> {
        self.inner.record("start");
        self.inner.running.set(true);
        Ok(())
    }

    fn stop(&self) -> Result<(), Error> {
        self.inner.record("stop");
        self.inner.running.set(false);
        Ok(())
    }

    fn select(
        &self,
        read: &[&Sock],
        write: &[&Sock],
        timeout: Option<Duration>,
    ) -> Result<Selected, Error> {
        let pick = |socks: &[&Sock], f: fn(Readiness) -> bool| -> Vec<usize> {
            (0..socks.len())
                .filter(|&i| f(socks[i].readiness()))
                .collect()
        };
        let any = || {
            !pick(read, Readiness::select_readable).is_empty()
                || !pick(write, Readiness::select_writable).is_empty()
        };
        match self.wait_until(&any, timeout, "select") {
            Ok(()) | Err(Error::Timeout) => {}
            Err(e) => return Err(e),
        }
        Ok(Selected {
            readable: pick(read, Readiness::select_readable),
            writable: pick(write, Readiness::select_writable),
        })
    }

    fn socket(&self, _addr: SocketAddr) -> Result<Sock, Error> {
        Err(Error::BadArgument(
            "the recording handler makes no bare sockets".into(),
        ))
    }

    fn create_connection(&self, addr: SocketAddr, _t: Option<Duration>) -> Result<Sock, Error> {
        self.socket(addr)
    }

    fn event_object(&self) -> Flag {
        Flag(Rc::default(), self.clone())
    }

    fn lock_object(&self) -> Flag {
        Flag(Rc::default(), self.clone())
    }

    fn rlock_object(&self) -> Flag {
        Flag(Rc::default(), self.clone())
    }

    fn scheduler(&self) -> &SchedulerRef {
        self.inner.record("scheduler");
        &self.scheduler
    }
}

#[test]
fn a_handler_of_our_own_drives_a_real_client() {
    let server = ZkServer::start().expect("a ZooKeeper server");
    let h = Recorder::new();
    let zk = Client::builder(&server.connect_string())
        .request_timeout(Some(WAIT))
        .handler(h.clone())
        .build_with()
        .unwrap();
    zk.start(Some(WAIT)).unwrap();
    assert!(zk.connected());

    assert_eq!(
        zk.create("/second", b"v1", CreateMode::Persistent)
            .unwrap()
            .0,
        "/second"
    );
    let seen: Rc<RefCell<Vec<WatchedEvent>>> = Rc::default();
    let s = seen.clone();
    let (data, _stat) = zk
        .get(
            "/second",
            Watcher::new(move |e: WatchedEvent| s.borrow_mut().push(e)),
        )
        .unwrap();
    assert_eq!(data.as_deref(), Some(&b"v1"[..]));
    zk.set("/second", b"v2", None).unwrap();
    zk.run_until(&|| !seen.borrow().is_empty(), Some(WAIT))
        .unwrap();
    assert_eq!(seen.borrow()[0].event_type, EventType::NodeDataChanged);
    assert_eq!(seen.borrow()[0].path.as_deref(), Some("/second"));
    zk.sleep(Duration::from_millis(20)).unwrap();
    zk.stop().unwrap();

    let calls = h.calls();
    for call in [
        "connect",
        "set_on_ready",
        "set_timer",
        "now",
        "defer",
        "wait_until",
        "dispatch_callback(watch)",
    ] {
        assert!(calls.contains(&call), "{call} never called: {calls:?}");
    }
    assert!(calls.contains(&"set_write_interest") || calls.contains(&"reschedule_timer"));
}
