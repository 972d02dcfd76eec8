//! A second [`Handler`], written here without `MioHandler` or `Reactor`: a tiny loop of its
//! own directly on `mio::Poll` (a `VecDeque` queue, a timer list, sockets, tasks woken from
//! any thread) that records every trait call it receives. It drives a real client against
//! a real server through connect, a request (create + get) and a watch firing: proof that
//! the client reaches its loop only through the handler traits.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
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
use mio_zookeeper::{Client, CreateMode, Error, EventType, LoopError, WatchedEvent};

const WAKE: Token = Token(0);
const WAIT: Duration = Duration::from_secs(20);

enum Job {
    Call(Box<dyn FnOnce()>),
    Notify(Rc<dyn Deferred>),
    Poll(usize),
}

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
    timers: RefCell<Vec<(Instant, u64, Box<dyn FnOnce()>)>>,
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
            let cb = self.sockets.borrow_mut().get_mut(&ev.token().0).and_then(|s| {
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
            let Some(job) = self.queue.borrow_mut().pop_front() else { break };
            match job {
                Job::Call(f) => f(),
                Job::Notify(d) => d.run_deferred(),
                Job::Poll(key) => self.poll_task(key),
            }
        }
        Ok(())
    }

    fn poll_task(&self, key: usize) {
        let Some(mut fut) = self.tasks.borrow_mut().remove(&key) else { return };
        let waker = Waker::from(Arc::new(TaskWaker(key, self.remote.clone())));
        if fut.as_mut().poll(&mut Context::from_waker(&waker)).is_pending() {
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
        let res = i.poll.borrow().registry().reregister(&mut self.stream, Token(self.token), interest);
        res.map_err(|e| Error::Io {
            op: "reregister",
            source: Arc::new(e),
        })
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }
}
