//! Durations from the user never panic: `Duration::MAX` is accepted wherever a duration is
//! taken (it means "about forever"), and settings that make no sense are refused by
//! `build()` with a clear `Error::BadArgument`.

use mio_zookeeper::{Client, CreateMode, Error};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use mio_zookeeper::testing::{Proxy, ZkServer};
use mio_zookeeper::Handler;

/// The longest any single wait may take before the test fails.
const LONG: Duration = Duration::from_secs(30);

fn bad_argument(r: Result<Client, Error>) -> String {
    match r {
        Err(Error::BadArgument(why)) => why,
        other => panic!("expected BadArgument, got {other:?}"),
    }
}

#[test]
fn builder_refuses_nonsense_durations_with_a_clear_error() {
    let why = bad_argument(
        Client::builder("127.0.0.1:2181")
            .session_timeout(Duration::ZERO)
            .build(),
    );
    assert!(why.contains("session timeout"), "{why}");
    let why = bad_argument(
        Client::builder("127.0.0.1:2181")
            .connection_backoff(Duration::ZERO, Duration::from_secs(1))
            .build(),
    );
    assert!(why.contains("first delay must be positive"), "{why}");
    let why = bad_argument(
        Client::builder("127.0.0.1:2181")
            .connection_backoff(Duration::from_secs(5), Duration::from_secs(1))
            .build(),
    );
    assert!(why.contains("above the cap"), "{why}");
}

#[test]
fn builder_refuses_a_zero_bound_on_requests_in_flight() {
    let why = bad_argument(Client::builder("127.0.0.1:2181").max_in_flight(0).build());
    assert!(why.contains("max_in_flight"), "{why}");
}

#[test]
fn a_session_timeout_of_duration_max_connects_with_the_servers_maximum() {
    let zk = ZkServer::start().unwrap();
    let c = Client::builder(&zk.connect_string())
        .session_timeout(Duration::MAX)
        .request_timeout(Some(Duration::MAX))
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    c.create("/d", b"x", CreateMode::Persistent).unwrap();
    assert!(c
        .with_timeout(Some(Duration::MAX))
        .exists("/d", None)
        .unwrap()
        .is_some());
    let r = c.get_async("/d", None);
    assert_eq!(
        r.get(true, Some(Duration::MAX)).unwrap().0.as_deref(),
        Some(&b"x"[..])
    );
    c.stop().unwrap();
}

#[test]
fn a_backoff_of_duration_max_waits_instead_of_panicking() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    proxy.set_refusing(true);
    let c = Client::builder(&proxy.connect_string())
        .connection_backoff(Duration::MAX, Duration::MAX)
        .build()
        .unwrap();
    let started = c.start_async().unwrap();
    // The first pass is refused; the next one is "never" away, not a panic.
    c.handler()
        .reactor()
        .run_until(&|| proxy.refused() >= 1, Some(LONG))
        .unwrap();
    c.handler().run_for(Duration::from_millis(200)).unwrap();
    assert!(!started.ready());
    assert_eq!(proxy.refused(), 1, "no second pass");
    c.stop().unwrap();
}

#[test]
fn loop_waits_of_duration_max_never_panic() {
    let c = Client::new("127.0.0.1:2181").unwrap();
    let h = c.handler().clone();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let _never = h.reactor().set_timeout(Duration::MAX, move || f.set(true));
    let _sleep = h.reactor().sleep_async(Duration::MAX);
    h.reactor()
        .run_until(&|| true, Some(Duration::MAX))
        .unwrap();
    h.run_for(Duration::from_millis(5)).unwrap();
    assert!(!fired.get());
    let r = h.async_result::<u8>();
    r.set(7).unwrap();
    assert_eq!(r.get(true, Some(Duration::MAX)).unwrap(), 7);
}
