//! `recipe::Retry` against a real server: retries through connection cuts, session expiry
//! (not retried unless asked), giving up on tries, deadline and interrupt, the backoff
//! schedule on the loop's clock, and the non-blocking form under `poll_once` and embedded.

#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use faults_support::{expire_session, start_client, LONG};
use mio_zookeeper::recipe::{Retry, RetryStop};
use mio_zookeeper::testing::{Direction, Proxy, ZkServer};
use mio_zookeeper::{Client, ClientState, CreateMode, Error, Handler, LoopError, Stat};
use recipe_support::{poll_until, Host};

/// A client through `proxy`.
fn client_via(proxy: &Proxy) -> Client {
    start_client(&proxy.connect_string(), Duration::from_secs(6))
}

/// Waits until `c` is connected, then arms a cut of the live connection at the next byte
/// from the server: a request sent now reaches the server, and its reply is lost.
fn connected_then_cut_reply(c: &Client, proxy: &Proxy) {
    c.run_until(&|| c.state() == ClientState::Connected, Some(LONG))
        .expect("connected");
    proxy.cut_after(Direction::ServerToClient, 0);
}

/// `exists("/")` whose reply is cut: fails with ConnectionLoss.
fn lost_exists(c: &Client, proxy: &Proxy) -> Result<Option<Stat>, Error> {
    connected_then_cut_reply(c, proxy);
    c.exists("/", None)
}

fn now(c: &Client) -> Instant {
    c.handler().event_loop().now()
}

#[test]
fn a_create_retried_through_a_lost_reply_succeeds() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client_via(&proxy);
    let errors = RefCell::new(Vec::new());
    let made = Retry::new()
        .max_tries(Some(5))
        .run(&c, || {
            if errors.borrow().is_empty() {
                connected_then_cut_reply(&c, &proxy);
            }
            match c.create("/made", b"x".as_slice(), CreateMode::Persistent) {
                Ok(_) => Ok("created"),
                // The lost reply's create was applied: the retry finds the node.
                Err(e) if e.is_node_exists() => Ok("already there"),
                Err(e) => {
                    errors.borrow_mut().push(e.clone());
                    Err(e)
                }
            }
        })
        .unwrap();
    let errors = errors.into_inner();
    assert!(
        matches!(errors.first(), Some(Error::ConnectionLoss)),
        "{errors:?}"
    );
    assert_eq!(made, "already there", "the first try was applied");
    assert_eq!(c.get("/made", None).unwrap().0.as_deref(), Some(&b"x"[..]));
    assert!(proxy.cuts() >= 1);
    c.stop().unwrap();
}

/// `exists("/")` sent while the client is away, then the session is expired on the server
/// and the client let back in: fails with SessionExpired.
fn expired_exists(zk: &ZkServer, c: &Client, proxy: &Proxy) -> Result<Option<Stat>, Error> {
    proxy.set_refusing(true);
    proxy.drop_connections();
    c.run_until(&|| c.state() == ClientState::Suspended, Some(LONG))
        .expect("suspended");
    let r = c.exists_async("/", None);
    expire_session(zk.addr(), c);
    proxy.set_refusing(false);
    r.get(true, Some(LONG))
}

#[test]
fn session_expired_is_retried_only_when_asked() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client_via(&proxy);

    let tries = Cell::new(0);
    let out = Retry::new().max_tries(Some(3)).run(&c, || {
        tries.set(tries.get() + 1);
        expired_exists(&zk, &c, &proxy)
    });
    assert!(matches!(out, Err(Error::SessionExpired)), "{out:?}");
    assert_eq!(tries.get(), 1, "not retried by default");

    c.run_until(&|| c.state() == ClientState::Connected, Some(LONG))
        .unwrap();
    let (old, _) = c.client_id().unwrap();
    let tries = Cell::new(0);
    let out = Retry::new().retry_session_expired(true).run(&c, || {
        tries.set(tries.get() + 1);
        if tries.get() == 1 {
            expired_exists(&zk, &c, &proxy)
        } else {
            c.exists("/", None)
        }
    });
    assert!(out.unwrap().is_some());
    assert_eq!(tries.get(), 2, "retried once, on the new session");
    assert_ne!(c.client_id().unwrap().0, old);
    c.stop().unwrap();
}

#[test]
fn max_tries_exhausted_says_so_with_the_count_and_the_last_error() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client_via(&proxy);
    let tries = Cell::new(0);
    let out = Retry::new()
        .max_tries(Some(3))
        .delay(Duration::from_millis(20))
        .run(&c, || {
            tries.set(tries.get() + 1);
            lost_exists(&c, &proxy)
        });
    match out {
        Err(Error::RetryFailed {
            reason: RetryStop::TooManyTries,
            tries: 3,
            last,
        }) => assert!(matches!(*last, Error::ConnectionLoss), "{last}"),
        other => panic!("expected RetryFailed after 3 tries: {other:?}"),
    }
    assert_eq!(tries.get(), 3);
    let msg = Error::RetryFailed {
        reason: RetryStop::TooManyTries,
        tries: 3,
        last: Box::new(Error::ConnectionLoss),
    }
    .to_string();
    assert!(
        msg.contains("out of tries") && msg.contains("3 tries"),
        "{msg}"
    );
    c.stop().unwrap();
}

#[test]
fn the_deadline_stops_the_retries_before_a_wait_would_pass_it() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client_via(&proxy);
    let deadline = Duration::from_millis(1500);
    let tries = Cell::new(0);
    let start = now(&c);
    let out = Retry::new()
        .delay(Duration::from_millis(200))
        .max_delay(Duration::from_millis(400))
        .max_jitter(0.0)
        .max_tries(Some(12))
        .deadline(Some(deadline))
        .run(&c, || {
            tries.set(tries.get() + 1);
            lost_exists(&c, &proxy)
        });
    let took = now(&c) - start;
    match out {
        Err(Error::RetryFailed {
            reason: RetryStop::Deadline,
            tries: n,
            last,
        }) => {
            assert!(matches!(*last, Error::ConnectionLoss), "{last}");
            assert_eq!(n, tries.get());
            // The waits 200 + 400 ms fit; at most 200 + 400 + 400 + 400 do (plus the calls).
            assert!((2..=5).contains(&n), "{n} tries");
        }
        other => panic!("expected the deadline: {other:?}"),
    }
    // It never waited past the deadline (calls aside: each ends by itself, quickly here).
    assert!(took < deadline + LONG, "{took:?}");
    c.stop().unwrap();
}

#[test]
fn the_interrupt_stops_a_long_wait() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client_via(&proxy);
    let stop = Rc::new(Cell::new(false));
    let s = stop.clone();
    let lp = c.handler().event_loop();
    let start = lp.now();
    lp.set_timer(
        start + Duration::from_millis(300),
        Box::new(move || s.set(true)),
    );
    let s = stop.clone();
    let out = Retry::new()
        // Longer than LONG: without the interrupt the test fails below.
        .delay(LONG * 2)
        .max_tries(Some(2))
        .interrupt(move || s.get())
        .run(&c, || lost_exists(&c, &proxy));
    match out {
        Err(Error::RetryFailed {
            reason: RetryStop::Interrupted,
            tries: 1,
            last,
        }) => assert!(matches!(*last, Error::ConnectionLoss), "{last}"),
        other => panic!("expected the interrupt: {other:?}"),
    }
    assert!(stop.get());
    assert!(now(&c) - start < LONG, "the hour's wait was cut short");
    c.stop().unwrap();
}

#[test]
fn the_waits_follow_the_schedule_on_the_loop_clock() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client_via(&proxy);
    for retry in [
        // Growing waits, no jitter: each wait is not shorter than the one before.
        Retry::new()
            .delay(Duration::from_millis(150))
            .backoff(4.0)
            .max_jitter(0.0)
            .max_tries(Some(3)),
        // With jitter: the waits are the ones `delays()` announced.
        Retry::new()
            .delay(Duration::from_millis(100))
            .max_jitter(0.4)
            .max_tries(Some(4)),
    ] {
        let planned: Vec<Duration> = retry.delays().collect();
        // (start, end) of every call, on the loop's clock.
        let calls = RefCell::new(Vec::<(Instant, Instant)>::new());
        let out = retry.run(&c, || {
            let start = now(&c);
            let r = lost_exists(&c, &proxy);
            calls.borrow_mut().push((start, now(&c)));
            r
        });
        assert!(matches!(out, Err(Error::RetryFailed { .. })), "{out:?}");
        let calls = calls.into_inner();
        let waits: Vec<Duration> = calls.windows(2).map(|w| w[1].0 - w[0].1).collect();
        assert_eq!(waits.len(), planned.len());
        for (w, p) in waits.iter().zip(&planned) {
            assert!(w >= p, "waited {w:?}, planned {p:?}: {waits:?}");
        }
        if planned.windows(2).all(|p| p[1] >= p[0] * 2) {
            assert!(waits.windows(2).all(|w| w[1] >= w[0]), "{waits:?}");
        }
    }
    c.stop().unwrap();
}

/// The first call's reply is cut; later calls just run: the op `run_async` retries.
fn first_reply_cut(
    c: &Client,
    proxy: &Rc<Proxy>,
    tries: &Rc<Cell<u32>>,
) -> impl FnMut() -> mio_zookeeper::AsyncResult<Option<Stat>> {
    let (c, proxy, tries) = (c.clone(), proxy.clone(), tries.clone());
    move || {
        tries.set(tries.get() + 1);
        if tries.get() == 1 {
            proxy.cut_after(Direction::ServerToClient, 0);
        }
        c.exists_async("/", None)
    }
}

#[test]
fn run_async_retries_under_poll_once() {
    let zk = ZkServer::start().unwrap();
    let proxy = Rc::new(Proxy::start(zk.addr()).unwrap());
    let c = Client::new(&proxy.connect_string()).unwrap();
    let started = c.start_async().unwrap();
    poll_until(&c, "connected", || started.ready());
    let tries = Rc::new(Cell::new(0));
    let r = Retry::new()
        .max_tries(Some(5))
        .run_async(&c, first_reply_cut(&c, &proxy, &tries));
    poll_until(&c, "the retried exists", || r.ready());
    assert!(r.get_nowait().unwrap().is_some());
    assert_eq!(tries.get(), 2, "one retry after the lost reply");
    assert_eq!(proxy.cuts(), 1);

    // Giving up, under poll_once too: every call fails at once (a server's refusal is not
    // retried, so a retried error comes from the op itself here).
    let handler = c.handler().clone();
    let n = Rc::new(Cell::new(0));
    let m = n.clone();
    let r = Retry::new()
        .max_tries(Some(3))
        .delay(Duration::from_millis(10))
        .run_async(&c, move || {
            m.set(m.get() + 1);
            let r = handler.async_result::<()>();
            r.set_exception(Error::ConnectionLoss).unwrap();
            r
        });
    poll_until(&c, "giving up", || r.ready());
    assert!(matches!(
        r.exception(),
        Some(Error::RetryFailed {
            reason: RetryStop::TooManyTries,
            tries: 3,
            ..
        })
    ));
    assert_eq!(n.get(), 3);
}

#[test]
fn run_async_retries_embedded_and_run_is_refused_there() {
    let zk = ZkServer::start().unwrap();
    let proxy = Rc::new(Proxy::start(zk.addr()).unwrap());
    let mut host = Host::new();
    let c = host.client(&proxy.connect_string());
    let started = c.start_async().unwrap();
    host.run_until("connected", || started.ready());
    let tries = Rc::new(Cell::new(0));
    let r = Retry::new()
        .max_tries(Some(5))
        .run_async(&c, first_reply_cut(&c, &proxy, &tries));
    host.run_until("the retried exists", || r.ready());
    assert!(r.get_nowait().unwrap().is_some());
    assert_eq!(tries.get(), 2);

    // The blocking form cannot wait on a host's loop: it says so instead of spinning.
    let out = Retry::new().run(&c, || Err::<(), _>(Error::ConnectionLoss));
    assert!(
        matches!(out, Err(Error::Loop(LoopError::Embedded { .. }))),
        "{out:?}"
    );
}
