//! The Handler members on MioHandler, porting the intent of kazoo's handler tests
//! (`test_threading_handler.py`, `test_gevent_handler.py`) to a single-threaded loop, with
//! real loopback sockets.

use mio_zookeeper::{AsyncResult, Error, LoopError};
use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio_zookeeper::handler::Reactor;
use mio_zookeeper::handler::{
    Callback, EventLoop, EventObject, Handler, LockObject, MioHandler, Selected,
};

const LONG: Option<Duration> = Some(Duration::from_secs(10));

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(l: &Log, s: impl Into<String>) {
    l.borrow_mut().push(s.into());
}

fn handler() -> MioHandler {
    MioHandler::new().unwrap()
}

fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// A loopback port nobody listens on: bind, note the port, close.
fn closed_port() -> SocketAddr {
    let (l, a) = listener();
    drop(l);
    a
}

/// A listener whose accept queue is full (listen backlog 0, one unaccepted connection), so
/// the kernel drops further SYNs and a connect to it hangs until its timeout. This is how a
/// connect timeout is produced on loopback, where nothing blackholes.
fn full_backlog_listener() -> (TcpListener, SocketAddr, Vec<TcpStream>) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket syscalls on a descriptor we create and immediately hand to an
    // owning TcpListener; the sockaddr_in is fully initialised and its size passed.
    let listener = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let listener = TcpListener::from_raw_fd(fd);
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(
                fd,
                &sa as *const libc::sockaddr_in as *const libc::sockaddr,
                len
            ),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        listener
    };
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return (listener, addr, held),
            Err(e) => panic!("filling the backlog: {e}"),
        }
    }
    panic!("the accept queue never filled up");
}

#[test]
fn name_running_start_stop() {
    let h = handler();
    assert_eq!(h.name(), "sequential_mio_handler");
    assert!(h.running());
    h.start().unwrap();
    h.stop().unwrap();
    h.stop().unwrap();
    assert!(!h.running());
    assert!(matches!(
        h.sleep(Duration::ZERO),
        Err(Error::Loop(LoopError::Stopped))
    ));
    h.start().unwrap();
    h.start().unwrap();
    assert!(h.running());
    h.sleep(Duration::ZERO).unwrap();
    assert!(matches!(h.timeout_error(), Error::Timeout));
}

#[test]
fn spawn_runs_tasks_in_order_on_the_loop() {
    let h = handler();
    let l = log();
    for i in 0..5 {
        let l = l.clone();
        h.spawn(move || push(&l, i.to_string()));
    }
    assert!(l.borrow().is_empty(), "spawn only queues");
    h.sleep(Duration::ZERO).unwrap();
    assert_eq!(*l.borrow(), ["0", "1", "2", "3", "4"]);
}

#[test]
fn dispatch_callback_keeps_arrival_order_across_kinds() {
    let h = handler();
    let l = log();
    let (a, b, c) = (l.clone(), l.clone(), l.clone());
    h.dispatch_callback(Callback::watch(move || push(&a, "watch")));
    h.dispatch_callback(Callback::completion(move || push(&b, "completion")));
    h.spawn(move || push(&c, "task"));
    h.sleep(Duration::ZERO).unwrap();
    assert_eq!(*l.borrow(), ["watch", "completion", "task"]);
}

#[test]
fn spawn_future_returns_its_output_as_a_result() {
    let h = handler();
    let h2 = h.clone();
    let r = h.spawn_future(async move {
        h2.reactor().sleep_async(Duration::from_millis(5)).await;
        "done"
    });
    assert!(!r.ready());
    assert_eq!(r.get(true, LONG).unwrap(), "done");
}

#[test]
fn sleep_keeps_other_work_running_and_lasts_as_asked() {
    let h = handler();
    let ticks = Rc::new(Cell::new(0));
    fn tick(h: &MioHandler, ticks: &Rc<Cell<u32>>) {
        let (h2, t) = (h.clone(), ticks.clone());
        h.reactor().set_timeout(Duration::from_millis(5), move || {
            t.set(t.get() + 1);
            tick(&h2, &t);
        });
    }
    tick(&h, &ticks);
    let task_ran = Rc::new(Cell::new(false));
    let t = task_ran.clone();
    h.spawn(move || t.set(true));
    let start = Instant::now();
    h.sleep(Duration::from_millis(60)).unwrap();
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(60), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(task_ran.get());
    assert!(ticks.get() >= 3, "timers kept firing: {}", ticks.get());
}

#[test]
fn socket_is_non_blocking_with_nodelay_and_registered() {
    let h = handler();
    let (l, addr) = listener();
    let sock = h.socket(addr).unwrap();
    let (_peer, _) = l.accept().unwrap();
    assert!(sock.get_ref().nodelay().unwrap());
    let mut buf = [0u8; 4];
    let start = Instant::now();
    let err = (&sock).read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "non-blocking");
    assert!(start.elapsed() < Duration::from_secs(1));
    // registered: select sees it turn writable once connected
    let sel = h.select(&[], &[&sock], LONG).unwrap();
    assert_eq!(sel.writable, [0]);
}

#[test]
fn select_on_loopback_sockets() {
    let h = handler();
    let (l, addr) = listener();
    let a = h.create_connection(addr, LONG).unwrap();
    let (mut pa, _) = l.accept().unwrap();
    let b = h.create_connection(addr, LONG).unwrap();
    let (mut pb, _) = l.accept().unwrap();

    // nothing to read yet: times out with empty lists, after about the timeout
    let start = Instant::now();
    let sel = h
        .select(&[&a, &b], &[], Some(Duration::from_millis(30)))
        .unwrap();
    assert_eq!(sel, Selected::default());
    assert!(start.elapsed() >= Duration::from_millis(30));

    // b's peer writes: only b is readable
    pb.write_all(b"hello").unwrap();
    let sel = h.select(&[&a, &b], &[], LONG).unwrap();
    assert_eq!(sel.readable, [1]);
    let mut buf = [0u8; 16];
    assert_eq!((&b).read(&mut buf).unwrap(), 5);
    assert_eq!(
        (&b).read(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    // drained: b no longer readable (level semantics over edge-triggered mio)
    let sel = h
        .select(&[&a, &b], &[], Some(Duration::from_millis(10)))
        .unwrap();
    assert!(sel.is_empty());

    // both writable; a's peer closes: a readable (end of stream)
    let sel = h.select(&[], &[&a, &b], LONG).unwrap();
    assert_eq!(sel.writable, [0, 1]);
    pa.write_all(b"x").unwrap();
    drop(pa);
    let sel = h.select(&[&a, &b], &[], LONG).unwrap();
    assert_eq!(sel.readable, [0]);
    assert_eq!((&a).read(&mut buf).unwrap(), 1);
    let _ = (&a).read(&mut buf); // 0 = end of stream (or would block until FIN arrives)
    drop(pb);
}

#[test]
fn select_runs_the_loop_while_waiting() {
    let h = handler();
    let (l, addr) = listener();
    let a = h.create_connection(addr, LONG).unwrap();
    let (pa, _) = l.accept().unwrap();
    let pa = Rc::new(RefCell::new(pa));
    let p = pa.clone();
    // the data is written by a timer callback, which only runs if select drives the loop
    h.reactor().set_timeout(Duration::from_millis(10), move || {
        p.borrow_mut().write_all(b"late").unwrap();
    });
    let sel = h.select(&[&a], &[], LONG).unwrap();
    assert_eq!(sel.readable, [0]);
}

#[test]
fn create_connection_succeeds() {
    let h = handler();
    let (l, addr) = listener();
    let mut s = h.create_connection(addr, LONG).unwrap();
    let (mut peer, _) = l.accept().unwrap();
    assert_eq!(s.peer_addr().unwrap(), addr);
    s.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    peer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

#[test]
fn create_connection_refused_is_its_own_error() {
    let h = handler();
    let addr = closed_port();
    let err = h.create_connection(addr, LONG).unwrap_err();
    assert!(
        matches!(err, Error::ConnectionRefused { addr: a } if a == addr),
        "{err:?}"
    );
    assert!(!err.is_timeout());
}

#[test]
fn create_connection_timed_out_is_its_own_error() {
    let h = handler();
    let (_listener, addr, _held) = full_backlog_listener();
    let start = Instant::now();
    let err = h
        .create_connection(addr, Some(Duration::from_millis(200)))
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, Error::ConnectTimedOut { addr: a, timeout } if a == addr && timeout == Duration::from_millis(200)),
        "{err:?}"
    );
    assert!(err.is_timeout());
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn create_connection_keeps_the_loop_running() {
    let h = handler();
    let (_listener, addr, _held) = full_backlog_listener();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    h.reactor()
        .set_timeout(Duration::from_millis(10), move || r.set(true));
    let _ = h.create_connection(addr, Some(Duration::from_millis(100)));
    assert!(ran.get());
}

#[test]
fn event_object_set_clear_wait() {
    let h = handler();
    let e = h.event_object();
    assert!(!e.is_set());
    let start = Instant::now();
    assert!(!e.wait(Some(Duration::from_millis(20))).unwrap());
    assert!(start.elapsed() >= Duration::from_millis(20));
    let e2 = e.clone();
    h.reactor()
        .set_timeout(Duration::from_millis(10), move || e2.set());
    assert!(e.wait(None).unwrap());
    assert!(e.is_set());
    assert!(e.wait(Some(Duration::ZERO)).unwrap());
    e.clear();
    assert!(!e.is_set());
}

#[test]
fn lock_object_acquire_release() {
    let h = handler();
    let lock = h.lock_object();
    assert!(!lock.locked());
    assert!(lock.acquire(false, None).unwrap());
    assert!(lock.locked());
    assert!(!lock.acquire(false, None).unwrap());
    let start = Instant::now();
    assert!(!lock.acquire(true, Some(Duration::from_millis(20))).unwrap());
    assert!(start.elapsed() >= Duration::from_millis(20));
    // released by a task while we wait
    let l2 = lock.clone();
    h.reactor()
        .set_timeout(Duration::from_millis(10), move || l2.release().unwrap());
    assert!(lock.acquire(true, LONG).unwrap());
    lock.release().unwrap();
    assert!(matches!(
        lock.release(),
        Err(Error::Loop(LoopError::NotLocked))
    ));
}

#[test]
fn lock_waiters_are_served_innermost_first_and_never_together() {
    // Each waiting task blocks in a nested loop, which runs the next task, which blocks
    // deeper; when the lock is freed the innermost wait sees it first. (Async tasks would
    // not nest; see MioLock's docs.)
    let h = handler();
    let lock = h.lock_object();
    assert!(lock.acquire(false, None).unwrap());
    let l = log();
    for i in 0..3 {
        let (lock, l) = (lock.clone(), l.clone());
        h.spawn(move || {
            assert!(lock.acquire(true, LONG).unwrap());
            push(&l, format!("{i} in"));
            push(&l, format!("{i} out"));
            lock.release().unwrap();
        });
    }
    let l2 = lock.clone();
    h.reactor()
        .set_timeout(Duration::from_millis(10), move || l2.release().unwrap());
    h.sleep(Duration::from_millis(50)).unwrap();
    assert_eq!(
        *l.borrow(),
        ["2 in", "2 out", "1 in", "1 out", "0 in", "0 out"]
    );
    assert!(!lock.locked());
}

#[test]
fn a_lock_held_across_a_blocking_wait_times_out_nested_waiters() {
    // The documented limit of nested (stackless) waits: the holder, further down the
    // stack, cannot run until the nested waiter above it returns.
    let h = handler();
    let lock = h.lock_object();
    let got = Rc::new(RefCell::new(None));
    let (h2, lk, g) = (h.clone(), lock.clone(), got.clone());
    h.spawn(move || {
        assert!(lk.acquire(true, LONG).unwrap());
        let (lk2, g2) = (lk.clone(), g.clone());
        h2.spawn(move || {
            *g2.borrow_mut() = Some(lk2.acquire(true, Some(Duration::from_millis(20))))
        });
        h2.sleep(Duration::from_millis(5)).unwrap();
        lk.release().unwrap();
    });
    h.sleep(Duration::from_millis(60)).unwrap();
    assert!(matches!(*got.borrow(), Some(Ok(false))));
    assert!(!lock.locked());
}

#[test]
fn rlock_is_reentrant_per_context() {
    let h = handler();
    let rl = h.rlock_object();
    assert!(rl.acquire(true, None).unwrap());
    assert!(rl.acquire(true, None).unwrap());
    // another context (a callback) cannot take it, nor release it
    let seen = Rc::new(RefCell::new(None));
    let (rl2, s) = (rl.clone(), seen.clone());
    h.spawn(move || {
        let got = rl2.acquire(false, None).unwrap();
        let rel = rl2.release();
        *s.borrow_mut() = Some((got, rel.is_err()));
    });
    h.sleep(Duration::ZERO).unwrap();
    assert_eq!(*seen.borrow(), Some((false, true)));
    rl.release().unwrap();
    assert!(rl.locked());
    rl.release().unwrap();
    assert!(!rl.locked());
    assert!(matches!(
        rl.release(),
        Err(Error::Loop(LoopError::NotLocked))
    ));
}

#[test]
fn rlock_waits_for_another_context() {
    let h = handler();
    let rl = h.rlock_object();
    let (rl2, h2) = (rl.clone(), h.clone());
    // a future task holds it across an await, then releases
    let task = h.spawn_future(async move {
        assert!(rl2.acquire(false, None).unwrap());
        h2.reactor().sleep_async(Duration::from_millis(10)).await;
        assert!(rl2.acquire(false, None).unwrap(), "same task: re-entrant");
        rl2.release().unwrap();
        rl2.release().unwrap();
    });
    h.sleep(Duration::ZERO).unwrap();
    assert!(rl.locked());
    assert!(!rl.acquire(false, None).unwrap());
    assert!(rl.acquire(true, LONG).unwrap());
    task.get(true, LONG).unwrap();
    rl.release().unwrap();
}

#[test]
fn nested_blocking_in_a_callback_is_allowed_and_bounded() {
    let h = handler();
    // allowed: a completion callback sleeps and then gets a result
    let r: AsyncResult<u32> = h.async_result();
    let got = Rc::new(Cell::new(0));
    let (h2, r2, g) = (h.clone(), r.clone(), got.clone());
    h.dispatch_callback(Callback::completion(move || {
        h2.sleep(Duration::from_millis(5)).unwrap();
        g.set(r2.get(true, LONG).unwrap());
    }));
    let r3 = r.clone();
    h.spawn(move || r3.set(11).unwrap());
    h.sleep(Duration::from_millis(30)).unwrap();
    assert_eq!(got.get(), 11);

    // bounded: every level sleeps inside a callback queued by the level below
    let depth_err = Rc::new(RefCell::new(None::<Error>));
    fn nest(h: &MioHandler, out: &Rc<RefCell<Option<Error>>>) {
        let (h2, o) = (h.clone(), out.clone());
        h.spawn(move || {
            nest(&h2, &o);
            if let Err(e) = h2.sleep(Duration::from_millis(1)) {
                o.borrow_mut().get_or_insert(e);
            }
        });
    }
    nest(&h, &depth_err);
    let e = depth_err.clone();
    h.reactor()
        .run_until(&|| e.borrow().is_some(), LONG)
        .unwrap();
    assert!(matches!(
        *depth_err.borrow(),
        Some(Error::Loop(LoopError::NestingTooDeep {
            limit: Reactor::MAX_DEPTH
        }))
    ));
}

#[test]
fn stop_while_a_wait_is_in_progress() {
    let h = handler();
    let l = log();
    let (h2, l2) = (h.clone(), l.clone());
    h.spawn(move || {
        // a task blocked in select, and the top level blocked in sleep
        let (listener, addr) = listener();
        let s = h2.create_connection(addr, LONG).unwrap();
        let h3 = h2.clone();
        h2.reactor()
            .set_timeout(Duration::from_millis(10), move || h3.stop().unwrap());
        let res = h2.select(&[&s], &[], LONG);
        push(&l2, format!("select: {res:?}"));
        drop(listener);
    });
    let res = h.sleep(Duration::from_secs(30));
    assert!(matches!(res, Err(Error::Loop(LoopError::Stopped))));
    assert_eq!(*l.borrow(), ["select: Err(Loop(Stopped))"]);
    let e = h.event_object();
    assert!(matches!(e.wait(None), Err(Error::Loop(LoopError::Stopped))));
    assert!(matches!(
        h.lock_object().acquire(true, None),
        Ok(true) // free: no wait needed
    ));
}

#[test]
fn blocking_members_are_refused_when_embedded() {
    let poll = mio::Poll::new().unwrap();
    let h = MioHandler::embedded(poll.registry(), 0..100).unwrap();
    let (_l, addr) = listener();
    for (what, err) in [
        ("sleep", h.sleep(Duration::from_millis(1)).unwrap_err()),
        (
            "create_connection",
            h.create_connection(addr, LONG).unwrap_err(),
        ),
        ("select", h.select(&[], &[], LONG).unwrap_err()),
        ("Event::wait", h.event_object().wait(None).unwrap_err()),
    ] {
        match err {
            Error::Loop(LoopError::Embedded { what: w }) => {
                assert!(w.contains(what), "{w} vs {what}")
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // non-blocking members work
    let lock = h.lock_object();
    assert!(lock.acquire(false, None).unwrap());
    assert!(lock.acquire(true, None).is_err(), "would block");
    let s = h.socket(addr).unwrap();
    assert!(s.token().0 < 100);
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    h.spawn(move || r.set(true));
    h.reactor().run_pending().unwrap();
    assert!(ran.get());
}
