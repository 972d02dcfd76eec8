//! AsyncResult semantics, porting the intent of kazoo's `test_threading_handler.py`
//! (`TestThreadingAsync`) and `test_gevent_handler.py`, with DESIGN.md's contract where they
//! differ (set once, links one-shot and always deferred).

use mio_zookeeper::{AsyncResult, Error, LoopError};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio_zookeeper::handler::{Handler, MioHandler};

const LONG: Option<Duration> = Some(Duration::from_secs(10));

fn setup() -> (MioHandler, AsyncResult<u32>) {
    let h = MioHandler::new().unwrap();
    let r = h.async_result();
    (h, r)
}

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(l: &Log, s: impl Into<String>) {
    l.borrow_mut().push(s.into());
}

fn drain(h: &MioHandler) {
    while h.poll_once(Some(Duration::ZERO)).unwrap() {}
}

#[test]
fn fresh_result_is_pending() {
    let (_h, r) = setup();
    assert!(!r.ready());
    assert!(!r.successful());
    assert_eq!(r.value(), None);
    assert!(r.exception().is_none());
}

#[test]
fn set_value_state() {
    let (_h, r) = setup();
    r.set(5).unwrap();
    assert!(r.ready());
    assert!(r.successful());
    assert_eq!(r.value(), Some(5));
    assert!(r.exception().is_none());
    assert_eq!(r.get(true, None).unwrap(), 5);
    assert_eq!(r.get(false, None).unwrap(), 5);
}

#[test]
fn set_exception_state_and_get_returns_it_every_time() {
    let (_h, r) = setup();
    r.set_exception(Error::Loop(LoopError::NotLocked)).unwrap();
    assert!(r.ready());
    assert!(!r.successful());
    assert_eq!(r.value(), None);
    assert!(matches!(
        r.exception(),
        Some(Error::Loop(LoopError::NotLocked))
    ));
    for _ in 0..2 {
        assert!(matches!(
            r.get(true, LONG),
            Err(Error::Loop(LoopError::NotLocked))
        ));
    }
    assert!(matches!(
        r.get_nowait(),
        Err(Error::Loop(LoopError::NotLocked))
    ));
}

#[test]
fn get_nowait_before_and_after_set() {
    let (_h, r) = setup();
    assert!(matches!(r.get_nowait(), Err(Error::Timeout)));
    assert!(matches!(r.get(false, LONG), Err(Error::Timeout)));
    r.set(1).unwrap();
    assert_eq!(r.get_nowait().unwrap(), 1);
}

#[test]
fn get_with_timeout_times_out_with_the_handlers_timeout_error() {
    let (h, r) = setup();
    let start = Instant::now();
    let err = r.get(true, Some(Duration::from_millis(50))).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout));
    assert!(matches!(h.timeout_error(), Error::Timeout));
    assert!(took >= Duration::from_millis(50), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn get_without_timeout_runs_the_loop_until_set() {
    let (h, r) = setup();
    let r2 = r.clone();
    h.reactor()
        .set_timeout(Duration::from_millis(20), move || r2.set(9).unwrap());
    let start = Instant::now();
    assert_eq!(r.get(true, None).unwrap(), 9);
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
fn wait_returns_bool_and_never_the_stored_error() {
    let (h, r) = setup();
    assert!(!r.wait(Some(Duration::from_millis(10))).unwrap());
    let r2 = r.clone();
    h.spawn(move || r2.set_exception(Error::Timeout).unwrap());
    assert!(r.wait(LONG).unwrap());
    assert!(r.wait(Some(Duration::ZERO)).unwrap());
}

#[test]
fn set_twice_is_refused_and_keeps_the_first_value() {
    let (_h, r) = setup();
    r.set(1).unwrap();
    assert!(matches!(r.set(2), Err(Error::Loop(LoopError::AlreadySet))));
    assert!(matches!(
        r.set_exception(Error::Timeout),
        Err(Error::Loop(LoopError::AlreadySet))
    ));
    assert_eq!(r.get_nowait().unwrap(), 1);
}

#[test]
fn rawlink_before_set_fires_once_and_deferred() {
    let (h, r) = setup();
    let hits = Rc::new(Cell::new(0));
    let got = Rc::new(Cell::new(0));
    let (hc, g) = (hits.clone(), got.clone());
    r.rawlink(move |res| {
        hc.set(hc.get() + 1);
        g.set(res.get_nowait().unwrap());
    });
    drain(&h);
    assert_eq!(hits.get(), 0, "must not fire before set");
    r.set(3).unwrap();
    assert_eq!(hits.get(), 0, "must not fire inside set()");
    drain(&h);
    assert_eq!((hits.get(), got.get()), (1, 3));
    drain(&h);
    assert_eq!(hits.get(), 1, "one-shot");
}

#[test]
fn rawlink_after_set_is_deferred_and_does_not_refire_earlier_links() {
    // kazoo's threading AsyncResult re-dispatches *all* callbacks on a late rawlink; the
    // contract here (gevent's) fires each link exactly once.
    let (h, r) = setup();
    let l = log();
    let l1 = l.clone();
    r.rawlink(move |_| push(&l1, "first"));
    r.set(1).unwrap();
    drain(&h);
    let l2 = l.clone();
    r.rawlink(move |_| push(&l2, "late"));
    assert_eq!(
        *l.borrow(),
        ["first"],
        "late link must not run inside rawlink()"
    );
    drain(&h);
    assert_eq!(*l.borrow(), ["first", "late"]);
}

#[test]
fn unlink_before_set_prevents_the_callback_and_is_a_noop_after() {
    let (h, r) = setup();
    let l = log();
    let (la, lb) = (l.clone(), l.clone());
    let a = r.rawlink(move |_| push(&la, "a"));
    let b = r.rawlink(move |_| push(&lb, "b"));
    assert!(r.unlink(a));
    assert!(!r.unlink(a), "already unlinked");
    r.set(0).unwrap();
    assert!(!r.unlink(b), "unlink is a no-op once set");
    drain(&h);
    assert_eq!(*l.borrow(), ["b"]);
}

#[test]
fn multiple_callbacks_run_in_link_order() {
    let (h, r) = setup();
    let l = log();
    for i in 0..5 {
        let l = l.clone();
        r.rawlink(move |_| push(&l, i.to_string()));
    }
    r.set(0).unwrap();
    drain(&h);
    assert_eq!(*l.borrow(), ["0", "1", "2", "3", "4"]);
}

#[test]
fn callbacks_of_different_results_run_in_set_order() {
    let h = MioHandler::new().unwrap();
    let l = log();
    let results: Vec<AsyncResult<u32>> = (0..4).map(|_| h.async_result()).collect();
    for (i, r) in results.iter().enumerate() {
        let l = l.clone();
        r.rawlink(move |_| push(&l, format!("r{i}")));
    }
    for i in [2, 0, 3, 1] {
        results[i].set(0).unwrap();
    }
    drain(&h);
    assert_eq!(*l.borrow(), ["r2", "r0", "r3", "r1"]);
}

#[test]
fn callbacks_interleave_with_other_queued_work_in_arrival_order() {
    let h = MioHandler::new().unwrap();
    let l = log();
    let r: AsyncResult<u32> = h.async_result();
    let l1 = l.clone();
    r.rawlink(move |_| push(&l1, "link"));
    let l2 = l.clone();
    h.spawn(move || push(&l2, "task before"));
    r.set(0).unwrap();
    let l3 = l.clone();
    h.spawn(move || push(&l3, "task after"));
    drain(&h);
    assert_eq!(*l.borrow(), ["task before", "link", "task after"]);
}

#[test]
fn rawlink_inside_a_callback_is_deferred_too() {
    let (h, r) = setup();
    let l = log();
    let l1 = l.clone();
    r.rawlink(move |res| {
        let l2 = l1.clone();
        res.rawlink(move |_| push(&l2, "inner"));
        push(&l1, "outer done");
    });
    r.set(0).unwrap();
    assert!(h.reactor().run_pending().unwrap());
    assert_eq!(*l.borrow(), ["outer done"]);
    drain(&h);
    assert_eq!(*l.borrow(), ["outer done", "inner"]);
}

#[test]
fn blocking_get_inside_a_callback_is_allowed() {
    let h = MioHandler::new().unwrap();
    let first: AsyncResult<u32> = h.async_result();
    let second: AsyncResult<u32> = h.async_result();
    let got = Rc::new(Cell::new(0));
    let (s, g) = (second.clone(), got.clone());
    first.rawlink(move |_| g.set(s.get(true, LONG).unwrap()));
    let s2 = second.clone();
    h.reactor()
        .set_timeout(Duration::from_millis(10), move || s2.set(7).unwrap());
    first.set(1).unwrap();
    h.run_for(Duration::from_millis(50)).unwrap();
    assert_eq!(got.get(), 7);
}

#[test]
fn capture_exceptions_routes_only_errors() {
    let (_h, r) = setup();
    assert_eq!(r.capture_exceptions(|| Ok::<_, Error>("x")), Some("x"));
    assert!(!r.ready());
    assert_eq!(r.capture_exceptions(|| Err::<(), _>(Error::Timeout)), None);
    assert!(matches!(r.exception(), Some(Error::Timeout)));
}

#[test]
fn wrap_sets_value_error_or_leaves_pending() {
    let h = MioHandler::new().unwrap();
    let a: AsyncResult<u32> = h.async_result();
    a.wrap(|| Ok(Some(1)));
    assert_eq!(a.get_nowait().unwrap(), 1);
    let b: AsyncResult<u32> = h.async_result();
    b.wrap(|| Err(Error::Loop(LoopError::NotLocked)));
    assert!(matches!(
        b.get_nowait(),
        Err(Error::Loop(LoopError::NotLocked))
    ));
    let c: AsyncResult<u32> = h.async_result();
    c.wrap(|| Ok(None));
    assert!(!c.ready());
    // wrap on an already set result keeps the first outcome
    a.wrap(|| Ok(Some(2)));
    assert_eq!(a.get_nowait().unwrap(), 1);
}

#[test]
fn take_moves_the_value_out_once() {
    let h = MioHandler::new().unwrap();
    let r: AsyncResult<String> = h.async_result();
    assert!(matches!(r.take(false, None), Err(Error::Timeout)));
    let r2 = r.clone();
    h.spawn(move || r2.set("big".to_string()).unwrap());
    assert_eq!(r.take(true, LONG).unwrap(), "big");
    assert!(r.ready() && r.successful());
    assert!(matches!(
        r.take(false, None),
        Err(Error::Loop(LoopError::Taken))
    ));
    assert!(matches!(r.get_nowait(), Err(Error::Loop(LoopError::Taken))));
}

#[test]
fn await_in_a_task_and_callbacks_resume_before_tasks() {
    let h = MioHandler::new().unwrap();
    let r: AsyncResult<u32> = h.async_result();
    let l = log();
    let (r1, l1) = (r.clone(), l.clone());
    let task = h.spawn_future(async move {
        let v = r1.await.unwrap();
        push(&l1, format!("task {v}"));
        v + 1
    });
    let r2 = r.clone();
    let (r3, l3) = (r.clone(), l.clone());
    let second = h.spawn_future(async move {
        let v = r3.await.unwrap();
        push(&l3, format!("task2 {v}"));
    });
    drain(&h);
    let l2 = l.clone();
    r.rawlink(move |_| push(&l2, "link"));
    assert!(l.borrow().is_empty());
    r2.set(4).unwrap();
    assert_eq!(task.get(true, LONG).unwrap(), 5);
    second.get(true, LONG).unwrap();
    assert_eq!(*l.borrow(), ["link", "task 4", "task2 4"]);
}

#[test]
fn await_an_error() {
    let h = MioHandler::new().unwrap();
    let r: AsyncResult<u32> = h.async_result();
    let r1 = r.clone();
    let task = h.spawn_future(r1); // an AsyncResult is itself a future
    h.spawn({
        let r = r.clone();
        move || r.set_exception(Error::Loop(LoopError::NotLocked)).unwrap()
    });
    assert!(matches!(
        task.get(true, LONG).unwrap(),
        Err(Error::Loop(LoopError::NotLocked))
    ));
}

#[test]
fn blocking_get_is_refused_on_an_embedded_reactor() {
    let poll = mio::Poll::new().unwrap();
    let handler = MioHandler::embedded(poll.registry(), 10..20).unwrap();
    let reactor = handler.reactor().clone();
    let r: AsyncResult<u32> = handler.async_result();
    assert!(matches!(
        r.get(true, Some(Duration::from_millis(1))),
        Err(Error::Loop(LoopError::Embedded { .. }))
    ));
    assert!(matches!(
        r.wait(None),
        Err(Error::Loop(LoopError::Embedded { .. }))
    ));
    assert!(matches!(r.get_nowait(), Err(Error::Timeout)));
    // callbacks still work: they run in run_pending
    let hit = Rc::new(Cell::new(false));
    let h2 = hit.clone();
    r.rawlink(move |_| h2.set(true));
    r.set(1).unwrap();
    reactor.run_pending().unwrap();
    assert!(hit.get());
    assert_eq!(
        r.get(true, None).unwrap(),
        1,
        "a set result needs no waiting"
    );
}

#[test]
fn a_result_outliving_its_reactor_fails_clearly() {
    let handler = MioHandler::new().unwrap();
    let r: AsyncResult<u32> = handler.async_result();
    drop(handler);
    assert!(matches!(
        r.get(true, LONG),
        Err(Error::Loop(LoopError::Gone))
    ));
    r.rawlink(|_| panic!("cannot run: no loop"));
    r.set(1).unwrap();
    assert_eq!(r.get_nowait().unwrap(), 1);
}

#[test]
fn stop_while_get_is_in_progress_returns_stopped() {
    let (h, r) = setup();
    let h2 = h.clone();
    h.reactor()
        .set_timeout(Duration::from_millis(10), move || h2.stop().unwrap());
    assert!(matches!(
        r.get(true, LONG),
        Err(Error::Loop(LoopError::Stopped))
    ));
    assert!(
        matches!(r.get(true, LONG), Err(Error::Loop(LoopError::Stopped))),
        "refused while stopped"
    );
    h.start().unwrap();
    let r2 = r.clone();
    h.spawn(move || r2.set(1).unwrap());
    assert_eq!(r.get(true, LONG).unwrap(), 1);
}
