//! The reactor: iterations, timers, the queue, futures, cross-thread wakes, embedding.

use mio_zookeeper::{AsyncResult, Error, LoopError};
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Token};
use mio_zookeeper::handler::{Callback, EventLoop, Handler, MioHandler};
use mio_zookeeper::handler::{Reactor, Readiness};

const LONG: Option<Duration> = Some(Duration::from_secs(10));

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(l: &Log, s: impl Into<String>) {
    l.borrow_mut().push(s.into());
}

/// A watch callback, queued through the handler (the reactor's FIFO knows no kinds; the
/// handler keeps watch callbacks serialized).
fn watch(h: &MioHandler, f: impl FnOnce() + 'static) {
    h.dispatch_callback(Callback::watch(f));
}

fn drain(r: &Reactor) {
    while r.poll_once(Some(Duration::ZERO)).unwrap() {}
}

#[test]
fn idle_poll_once_reports_idle_and_honours_the_timeout() {
    let r = Reactor::new().unwrap();
    assert!(!r.poll_once(Some(Duration::ZERO)).unwrap());
    let start = Instant::now();
    assert!(!r.poll_once(Some(Duration::from_millis(30))).unwrap());
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(25), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn poll_once_does_not_wait_when_work_is_queued() {
    let r = Reactor::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let x = ran.clone();
    r.spawn(move || x.set(true));
    let start = Instant::now();
    assert!(r.poll_once(Some(Duration::from_secs(30))).unwrap());
    assert!(ran.get());
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn poll_once_waits_no_longer_than_the_nearest_timer() {
    let r = Reactor::new().unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    r.set_timeout(Duration::from_millis(20), move || f.set(true));
    let start = Instant::now();
    // one or two iterations (the poll may wake a hair early); never the full timeout
    while !fired.get() {
        r.poll_once(None).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
fn one_iteration_runs_only_what_was_queued_when_it_started() {
    let r = Reactor::new().unwrap();
    let l = log();
    let (r2, l2) = (r.clone(), l.clone());
    r.spawn(move || {
        push(&l2, "a");
        let l3 = l2.clone();
        r2.spawn(move || push(&l3, "c"));
    });
    let l4 = l.clone();
    r.spawn(move || push(&l4, "b"));
    assert!(r.poll_once(Some(Duration::ZERO)).unwrap());
    assert_eq!(*l.borrow(), ["a", "b"]);
    assert!(r.poll_once(Some(Duration::ZERO)).unwrap());
    assert_eq!(*l.borrow(), ["a", "b", "c"]);
    assert!(!r.poll_once(Some(Duration::ZERO)).unwrap());
}

#[test]
fn spawn_order_is_fifo_across_kinds() {
    let r = Reactor::new().unwrap();
    let h = MioHandler::from_reactor(r.clone());
    let l = log();
    for i in 0..3 {
        let (a, b, c) = (l.clone(), l.clone(), l.clone());
        r.spawn(move || push(&a, format!("task{i}")));
        r.call_soon(move || push(&b, format!("completion{i}")));
        watch(&h, move || push(&c, format!("watch{i}")));
    }
    drain(&r);
    let expect: Vec<String> = (0..3)
        .flat_map(|i| {
            [
                format!("task{i}"),
                format!("completion{i}"),
                format!("watch{i}"),
            ]
        })
        .collect();
    assert_eq!(*l.borrow(), expect);
}

#[test]
fn timers_fire_in_deadline_order_ties_in_creation_order() {
    let r = Reactor::new().unwrap();
    let l = log();
    let base = Instant::now() + Duration::from_millis(5);
    for (name, ms) in [("c", 30), ("a", 10), ("b1", 20), ("b2", 20), ("a2", 10)] {
        let l = l.clone();
        r.set_timer(base + Duration::from_millis(ms), move || push(&l, name));
    }
    r.run_for(Duration::from_millis(80)).unwrap();
    assert_eq!(*l.borrow(), ["a", "a2", "b1", "b2", "c"]);
}

#[test]
fn timers_cancel_and_reschedule() {
    let r = Reactor::new().unwrap();
    let l = log();
    let now = Instant::now();
    let mk = |name: &'static str, ms| {
        let l = l.clone();
        r.set_timer(now + Duration::from_millis(ms), move || push(&l, name))
    };
    let a = mk("a", 10);
    let b = mk("b", 20);
    let _c = mk("c", 30);
    assert!(r.cancel_timer(a));
    assert!(!r.cancel_timer(a));
    assert!(r.reschedule_timer(b, now + Duration::from_millis(40)));
    r.run_for(Duration::from_millis(80)).unwrap();
    assert_eq!(*l.borrow(), ["c", "b"]);
    assert!(
        !r.reschedule_timer(b, now),
        "fired timers cannot be rescheduled"
    );
}

#[test]
fn a_timer_set_by_a_timer_for_now_fires_in_the_next_iteration() {
    let r = Reactor::new().unwrap();
    let l = log();
    let (r2, l2) = (r.clone(), l.clone());
    r.set_timer(Instant::now(), move || {
        push(&l2, "first");
        let l3 = l2.clone();
        r2.set_timer(Instant::now(), move || push(&l3, "second"));
    });
    assert!(r.poll_once(Some(Duration::ZERO)).unwrap());
    assert_eq!(*l.borrow(), ["first"]);
    assert!(r.poll_once(Some(Duration::ZERO)).unwrap());
    assert_eq!(*l.borrow(), ["first", "second"]);
}

#[test]
fn run_until_and_run_for() {
    let r = Reactor::new().unwrap();
    let h = MioHandler::from_reactor(r.clone());
    let result: AsyncResult<u8> = h.async_result();
    let r2 = result.clone();
    r.set_timeout(Duration::from_millis(10), move || r2.set(1).unwrap());
    r.run_until(&result, LONG).unwrap();
    assert!(result.ready());
    assert!(matches!(
        r.run_until(&|| false, Some(Duration::from_millis(10))),
        Err(Error::Timeout)
    ));
    let start = Instant::now();
    r.run_for(Duration::from_millis(30)).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[test]
fn loop_waker_interrupts_a_blocked_poll_from_another_thread() {
    let r = Reactor::new().unwrap();
    let waker = r.loop_waker();
    let go = Arc::new(AtomicBool::new(false));
    let go2 = go.clone();
    let t = std::thread::spawn(move || {
        while !go2.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(20));
        waker.wake();
    });
    go.store(true, Ordering::Release);
    let start = Instant::now();
    assert!(r.poll_once(Some(Duration::from_secs(30))).unwrap());
    assert!(start.elapsed() < Duration::from_secs(10));
    t.join().unwrap();
}

#[test]
fn stop_requested_from_another_thread_ends_a_wait() {
    let r = Reactor::new().unwrap();
    let waker = r.loop_waker();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        waker.request_stop();
    });
    let start = Instant::now();
    assert!(matches!(
        r.run_until(&|| false, None),
        Err(Error::Loop(LoopError::Stopped))
    ));
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(!r.is_running());
    t.join().unwrap();
}

#[test]
fn stop_from_a_callback_ends_every_nested_wait_and_drains_the_queue() {
    let r = Reactor::new().unwrap();
    let l = log();
    let (r2, l2) = (r.clone(), l.clone());
    r.spawn(move || {
        // a nested wait, stopped from a timer below it
        let r3 = r2.clone();
        let l3 = l2.clone();
        r2.set_timeout(Duration::from_millis(5), move || {
            let l4 = l3.clone();
            r3.call_soon(move || push(&l4, "queued before stop"));
            r3.stop();
            push(&l3, "stopped");
        });
        let res = r2.run_until(&|| false, LONG);
        push(&l2, format!("nested: {res:?}"));
    });
    let res = r.run_until(&|| false, LONG);
    assert!(matches!(res, Err(Error::Loop(LoopError::Stopped))));
    assert_eq!(
        *l.borrow(),
        [
            "queued before stop",
            "stopped",
            "nested: Err(Loop(Stopped))"
        ]
    );
    assert!(matches!(
        r.run_for(Duration::ZERO),
        Err(Error::Loop(LoopError::Stopped))
    ));
    // the loop can still be driven by hand, and started again
    let l5 = l.clone();
    r.spawn(move || push(&l5, "after"));
    assert!(r.poll_once(Some(Duration::ZERO)).unwrap());
    r.start();
    r.run_for(Duration::ZERO).unwrap();
    assert_eq!(l.borrow().last().unwrap(), "after");
}

#[test]
fn nested_waits_are_bounded() {
    let r = Reactor::new().unwrap();
    let errors = log();
    fn nest(r: &Reactor, errors: &Log) {
        let (r2, e) = (r.clone(), errors.clone());
        r.spawn(move || {
            nest(&r2, &e);
            if let Err(err) = r2.run_until(&|| false, Some(Duration::from_millis(1))) {
                if !matches!(err, Error::Timeout) {
                    push(&e, format!("{} at depth {}", err, r2.depth()));
                }
            }
        });
    }
    nest(&r, &errors);
    let _ = r.run_until(&|| !errors.borrow().is_empty(), LONG);
    let first = errors.borrow()[0].clone();
    assert!(
        first.contains("nested more than 32 deep") && first.ends_with("at depth 32"),
        "{first}"
    );
    assert_eq!(r.depth(), 0);
}

#[test]
fn watch_callbacks_are_serialized_when_one_blocks() {
    let r = Reactor::new().unwrap();
    let h = MioHandler::from_reactor(r.clone());
    let l = log();
    let (r2, h2, l2) = (r.clone(), h.clone(), l.clone());
    watch(&h, move || {
        push(&l2, "w1 start");
        // the reply this watch waits for arrives after another watch event
        let reply: AsyncResult<()> = h2.async_result();
        let (rep, h3, l3) = (reply.clone(), h2.clone(), l2.clone());
        r2.set_timeout(Duration::from_millis(5), move || {
            let l4 = l3.clone();
            watch(&h3, move || push(&l4, "w3"));
            rep.set(()).unwrap();
        });
        reply.get(true, LONG).unwrap();
        push(&l2, "w1 end");
    });
    let l5 = l.clone();
    watch(&h, move || push(&l5, "w2"));
    let l6 = l.clone();
    r.spawn(move || push(&l6, "task"));
    r.run_for(Duration::from_millis(40)).unwrap();
    assert_eq!(*l.borrow(), ["w1 start", "task", "w1 end", "w2", "w3"]);
}

#[test]
fn futures_await_timers_and_results_in_order() {
    let r = Reactor::new().unwrap();
    let h = MioHandler::from_reactor(r.clone());
    let l = log();
    let result: AsyncResult<u32> = h.async_result();
    let (r1, l1) = (r.clone(), l.clone());
    let a = r.spawn_future(async move {
        push(&l1, "a start");
        r1.sleep_async(Duration::from_millis(20)).await;
        push(&l1, "a slept");
    });
    let (res, l2) = (result.clone(), l.clone());
    let b = r.spawn_future(async move {
        push(&l2, "b start");
        let v = res.await.unwrap();
        push(&l2, format!("b got {v}"));
    });
    let res = result.clone();
    r.set_timeout(Duration::from_millis(5), move || res.set(3).unwrap());
    assert!(r.task_alive(a) && r.task_alive(b));
    r.run_until(&|| !r.task_alive(a) && !r.task_alive(b), LONG)
        .unwrap();
    assert_eq!(*l.borrow(), ["a start", "b start", "b got 3", "a slept"]);
}

#[test]
fn cancel_task_drops_the_future() {
    let r = Reactor::new().unwrap();
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let flag = Flag(dropped.clone());
    let r1 = r.clone();
    let id = r.spawn_future(async move {
        let _flag = flag;
        r1.sleep_async(Duration::from_secs(3600)).await;
    });
    drain(&r);
    assert!(r.task_alive(id));
    assert!(r.cancel_task(id));
    assert!(dropped.get());
    assert!(!r.task_alive(id));
    assert!(!r.cancel_task(id));
    assert_eq!(r.next_timeout(), None, "the Sleep's timer went with it");
}

/// A future that hands its waker to another thread, which wakes it.
struct CrossThread {
    sent: bool,
    done: Arc<AtomicBool>,
}

impl std::future::Future for CrossThread {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if !self.sent {
            self.sent = true;
            let (w, done): (Waker, _) = (cx.waker().clone(), self.done.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                done.store(true, Ordering::Release);
                w.wake();
            });
        }
        Poll::Pending
    }
}

#[test]
fn a_waker_woken_from_another_thread_wakes_the_task() {
    let r = Reactor::new().unwrap();
    let id = r.spawn_future(CrossThread {
        sent: false,
        done: Arc::new(AtomicBool::new(false)),
    });
    let start = Instant::now();
    // blocks in the poll with no timers: only the cross-thread wake can end it
    r.run_until(&|| !r.task_alive(id), Some(Duration::from_secs(20)))
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn readiness_callbacks_and_registration() {
    let r = Reactor::new().unwrap();
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Rc::new(Cell::new(Readiness::EMPTY));
    let s = seen.clone();
    let token = r
        .register_with(&mut listener, Interest::READABLE, move |rd| s.set(rd))
        .unwrap();
    assert_eq!(r.readiness(token), Readiness::EMPTY);
    let _c1 = std::net::TcpStream::connect(addr).unwrap();
    r.run_until(&|| seen.get().is_readable(), LONG).unwrap();
    assert!(r.readiness(token).is_readable());
    r.clear_readiness(token, Readiness::READABLE);
    assert!(!r.readiness(token).is_readable());
    r.reregister(&mut listener, token, Interest::READABLE)
        .unwrap();
    r.deregister(&mut listener, token).unwrap();
    assert!(matches!(
        r.deregister(&mut listener, token),
        Err(Error::Loop(LoopError::UnknownToken { .. }))
    ));
    assert!(matches!(
        r.set_on_ready(token, |_| ()),
        Err(Error::Loop(LoopError::UnknownToken { .. }))
    ));
    assert!(matches!(
        r.reregister(&mut listener, Token(12345), Interest::READABLE),
        Err(Error::Loop(LoopError::UnknownToken { token: 12345 }))
    ));
}

#[test]
fn a_readiness_callback_that_blocks_is_rerun_with_what_it_missed() {
    let r = Reactor::new().unwrap();
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Rc::new(Cell::new(0));
    let (c, r2) = (calls.clone(), r.clone());
    let clients = Rc::new(RefCell::new(Vec::new()));
    let cl = clients.clone();
    let token = r
        .register_with(&mut listener, Interest::READABLE, move |_| {
            c.set(c.get() + 1);
            if c.get() == 1 {
                // a second connection arrives while this callback blocks
                cl.borrow_mut()
                    .push(std::net::TcpStream::connect(addr).unwrap());
                r2.run_for(Duration::from_millis(30)).unwrap();
            }
        })
        .unwrap();
    // accept nothing: the listener stays readable, each new connection is a new edge
    let _c1 = std::net::TcpStream::connect(addr).unwrap();
    r.run_until(&|| calls.get() >= 2, LONG).unwrap();
    r.deregister(&mut listener, token).unwrap();
}

#[test]
fn embedded_reactor_in_a_host_poll() {
    let mut poll = mio::Poll::new().unwrap();
    let reactor = Reactor::embedded(poll.registry(), 100..102).unwrap();
    assert!(reactor.is_embedded());

    // the host's own source, under its own token
    let mut host_listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry()
        .register(&mut host_listener, Token(1), Interest::READABLE)
        .unwrap();
    // ours, through the reactor
    let mut ours = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let hits = Rc::new(Cell::new(0));
    let h = hits.clone();
    let token = reactor
        .register_with(&mut ours, Interest::READABLE, move |_| h.set(h.get() + 1))
        .unwrap();
    assert_eq!(token, Token(100));

    assert_eq!(reactor.next_timeout(), None);
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    reactor.set_timeout(Duration::from_millis(10), move || f.set(true));
    assert!(reactor.next_timeout().unwrap() <= Duration::from_millis(10));

    let _a = std::net::TcpStream::connect(host_listener.local_addr().unwrap()).unwrap();
    let _b = std::net::TcpStream::connect(ours.local_addr().unwrap()).unwrap();
    let mut events = Events::with_capacity(16);
    let (mut host_events, mut our_events) = (0, 0);
    let start = Instant::now();
    while !(fired.get() && host_events > 0 && our_events > 0) {
        assert!(start.elapsed() < Duration::from_secs(10));
        poll.poll(&mut events, reactor.next_timeout()).unwrap();
        for ev in events.iter() {
            if reactor.handle_event(ev) {
                our_events += 1;
            } else {
                assert_eq!(ev.token(), Token(1));
                host_events += 1;
            }
        }
        reactor.run_pending().unwrap();
    }
    assert!(hits.get() >= 1);

    // queued work makes next_timeout zero; run_pending runs it
    let ran = Rc::new(Cell::new(false));
    let x = ran.clone();
    reactor.spawn(move || x.set(true));
    assert_eq!(reactor.next_timeout(), Some(Duration::ZERO));
    assert!(reactor.run_pending().unwrap());
    assert!(ran.get());

    // blocking calls are refused, with the call named
    for err in [
        reactor.poll_once(None).unwrap_err(),
        reactor.run_for(Duration::from_millis(1)).unwrap_err(),
        reactor.run_until(&|| false, None).unwrap_err(),
    ] {
        assert!(
            matches!(err, Error::Loop(LoopError::Embedded { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("embedded"));
    }

    // the token range is bounded
    let mut second = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let t2 = reactor.register(&mut second, Interest::READABLE).unwrap();
    assert_eq!(t2, Token(101));
    let mut third = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    assert!(matches!(
        reactor.register(&mut third, Interest::READABLE),
        Err(Error::Loop(LoopError::TokenRange {
            start: 100,
            end: 102
        }))
    ));
    reactor.deregister(&mut ours, token).unwrap();
    reactor.deregister(&mut second, t2).unwrap();
}

#[test]
fn embedded_rejects_unusable_token_ranges() {
    let poll = mio::Poll::new().unwrap();
    assert!(matches!(
        Reactor::embedded(poll.registry(), 5..5),
        Err(Error::Loop(LoopError::TokenRange { start: 5, end: 5 }))
    ));
    assert!(matches!(
        Reactor::embedded(poll.registry(), 5..usize::MAX),
        Err(Error::Loop(LoopError::TokenRange { .. }))
    ));
}

#[test]
fn embedded_stop_request_is_seen_by_the_host() {
    let poll = mio::Poll::new().unwrap();
    let reactor = Reactor::embedded(poll.registry(), 0..10).unwrap();
    let waker = reactor.loop_waker();
    std::thread::spawn(move || waker.request_stop())
        .join()
        .unwrap();
    assert_eq!(reactor.next_timeout(), Some(Duration::ZERO));
    assert!(reactor.run_pending().unwrap());
    assert!(!reactor.is_running());
}

#[test]
fn sockets_report_readiness_through_the_reactor() {
    let r = Reactor::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sock =
        mio_zookeeper::handler::TcpSocket::connect(&r, listener.local_addr().unwrap()).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    r.run_until(&|| sock.readiness().is_writable(), LONG)
        .unwrap();
    assert!(sock.connect_result().unwrap());
    assert!(sock.get_ref().nodelay().unwrap());
    assert!(!sock.readiness().is_readable());
    peer.write_all(b"x").unwrap();
    r.run_until(&|| sock.readiness().is_readable(), LONG)
        .unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(std::io::Read::read(&mut &sock, &mut buf).unwrap(), 1);
    assert_eq!(
        std::io::Read::read(&mut &sock, &mut buf)
            .unwrap_err()
            .kind(),
        std::io::ErrorKind::WouldBlock
    );
    assert!(!sock.readiness().is_readable(), "WouldBlock clears it");
}

#[test]
fn a_panicking_callback_leaves_the_reactor_usable() {
    let r = Reactor::new().unwrap();
    let h = MioHandler::from_reactor(r.clone());
    let r2 = r.clone();
    watch(&h, move || {
        r2.call_soon(|| panic!("boom"));
        let _ = r2.run_for(Duration::from_millis(1)); // the panic unwinds through here
    });
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        r.run_for(Duration::from_millis(5))
    }));
    assert!(res.is_err());
    assert_eq!(r.depth(), 0);
    assert!(!h.in_watch_callback());
    assert_eq!(r.current_context(), 0);
    let l = log();
    let (a, b) = (l.clone(), l.clone());
    watch(&h, move || push(&a, "watch"));
    r.spawn(move || push(&b, "task"));
    r.run_for(Duration::from_millis(1)).unwrap();
    assert_eq!(*l.borrow(), ["watch", "task"]);
}

/// Work that keeps re-queueing itself does not starve I/O: with work queued an iteration
/// may skip the poll, but never two in a row, so a readiness is seen within two iterations.
#[test]
fn io_is_polled_at_least_every_other_iteration_while_work_stays_queued() {
    let r = Reactor::new().unwrap();
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Rc::new(Cell::new(false));
    let s = seen.clone();
    r.register_with(&mut listener, Interest::READABLE, move |rd| {
        if rd.is_readable() {
            s.set(true)
        }
    })
    .unwrap();
    // A callback that queues itself again every time it runs.
    fn spin(r: Reactor, runs: Rc<Cell<u32>>) {
        runs.set(runs.get() + 1);
        let r2 = r.clone();
        r.call_soon(move || spin(r2, runs));
    }
    let runs = Rc::new(Cell::new(0));
    spin(r.clone(), runs.clone());
    let _c = std::net::TcpStream::connect(addr).unwrap();
    // Let the connection reach the listener's queue (the kernel does this at once on
    // loopback; a poll that found nothing yet is retried below).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut iterations = 0;
    while !seen.get() && Instant::now() < deadline {
        assert!(r.poll_once(Some(Duration::ZERO)).unwrap(), "work is queued");
        iterations += 1;
    }
    assert!(seen.get(), "the listener's readiness was never seen");
    assert!(runs.get() > 0, "the queued work ran too");
    // Once the connection is pending, the next two iterations include a poll.
    seen.set(false);
    let _c2 = std::net::TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    r.poll_once(Some(Duration::ZERO)).unwrap();
    r.poll_once(Some(Duration::ZERO)).unwrap();
    assert!(
        seen.get(),
        "a readiness waited more than two iterations ({iterations} before)"
    );
}
