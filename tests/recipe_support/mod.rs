//! Helpers shared by the watch recipes' tests: clients, recorders of what a watch's
//! callback was told, waits with a deadline, and a minimal host `mio::Poll` to embed in.
#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::{Events, Poll};
use mio_zookeeper::recipe::{Flow, NodeValue};
use mio_zookeeper::{Client, EmbeddedHost, EventType, MioHandler, WatchedEvent};

/// The longest any single wait may take before the test fails.
pub const LONG: Duration = Duration::from_secs(30);

/// A started client on `hosts` with a short reconnect backoff.
pub fn client(hosts: &str) -> Client {
    let c = Client::builder(hosts)
        .session_timeout(Duration::from_secs(6))
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    c
}

/// Runs `c`'s loop until `cond` holds, failing the test with `what` after [`LONG`].
pub fn wait(c: &Client, what: &str, cond: impl Fn() -> bool) {
    c.run_until(&cond, Some(LONG))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
}

/// Runs `c`'s loop for `d` (to see that nothing more happens).
pub fn idle(c: &Client, d: Duration) {
    c.sleep(d).unwrap();
}

/// One call of a data watch: the data (`None`: node missing; `Some(None)`: null data),
/// and the event type that led to it.
pub type DataCall = (Option<Option<Vec<u8>>>, Option<EventType>);
pub type DataCalls = Rc<RefCell<Vec<DataCall>>>;

/// A DataWatch callback that records every call and continues.
pub fn data_recorder() -> (
    DataCalls,
    impl FnMut(Option<&NodeValue>, Option<&WatchedEvent>) -> Flow + 'static,
) {
    let calls = DataCalls::default();
    let c = calls.clone();
    (
        calls,
        move |v: Option<&NodeValue>, ev: Option<&WatchedEvent>| {
            let data = v.map(|v| v.data.as_ref().map(|d| d.to_vec()));
            c.borrow_mut().push((data, ev.map(|e| e.event_type)));
            Flow::Continue
        },
    )
}

/// The data values of `calls` (`None`: missing), as strings.
pub fn values(calls: &DataCalls) -> Vec<Option<String>> {
    calls
        .borrow()
        .iter()
        .map(|(d, _)| {
            d.as_ref()
                .map(|d| String::from_utf8_lossy(d.as_deref().unwrap_or(b"<null>")).into_owned())
        })
        .collect()
}

pub type ChildCalls = Rc<RefCell<Vec<(Vec<String>, Option<EventType>)>>>;

/// A ChildrenWatch callback that records every call and continues.
pub fn children_recorder() -> (
    ChildCalls,
    impl FnMut(&[String], Option<&WatchedEvent>) -> Flow + 'static,
) {
    let calls = ChildCalls::default();
    let c = calls.clone();
    (calls, move |ch: &[String], ev: Option<&WatchedEvent>| {
        c.borrow_mut().push((ch.to_vec(), ev.map(|e| e.event_type)));
        Flow::Continue
    })
}

/// The lists of `calls`, joined with commas.
pub fn lists(calls: &ChildCalls) -> Vec<String> {
    calls.borrow().iter().map(|(c, _)| c.join(",")).collect()
}

/// A host application's `mio::Poll` with an embedded reactor, and nothing else.
pub struct Host {
    poll: Poll,
    events: Events,
    pub zk: EmbeddedHost,
}

impl Host {
    pub fn new() -> Host {
        let poll = Poll::new().unwrap();
        let zk = EmbeddedHost::new(poll.registry()).unwrap();
        Host {
            poll,
            events: Events::with_capacity(64),
            zk,
        }
    }

    /// A client embedded in this host's Poll (not started).
    pub fn client(&self, hosts: &str) -> Client {
        let handler = MioHandler::embedded_in(&self.zk, 100..200).unwrap();
        Client::builder(hosts)
            .session_timeout(Duration::from_secs(10))
            .handler(handler)
            .build_with()
            .unwrap()
    }

    /// Runs the host's loop until `done`, failing the test with `what` after [`LONG`].
    pub fn run_until(&mut self, what: &str, done: impl Fn() -> bool) {
        let give_up = Instant::now() + LONG;
        while !done() {
            assert!(Instant::now() < give_up, "the host loop never saw: {what}");
            let wait = self
                .zk
                .next_timeout()
                .map_or(Duration::from_millis(100), |t| {
                    t.min(Duration::from_millis(100))
                });
            self.poll.poll(&mut self.events, Some(wait)).unwrap();
            for ev in self.events.iter() {
                assert!(
                    self.zk.handle_event(ev),
                    "only the reactor's sources are here"
                );
            }
            self.zk.run_pending().unwrap();
        }
    }
}

/// Drives `c` by `poll_once` alone (no blocking call) until `done`.
pub fn poll_until(c: &Client, what: &str, done: impl Fn() -> bool) {
    let give_up = Instant::now() + LONG;
    while !done() {
        assert!(Instant::now() < give_up, "poll_once never saw: {what}");
        c.poll_once(Some(Duration::from_millis(50))).unwrap();
    }
}

/// `err` is the refusal of the blocking `what` on an embedded loop.
pub fn assert_embedded_refusal(err: mio_zookeeper::Error, what: &str) {
    match err {
        mio_zookeeper::Error::Loop(mio_zookeeper::LoopError::Embedded { what: w }) => {
            assert_eq!(w, what)
        }
        other => panic!("{what}: expected the embedded refusal, got {other}"),
    }
}

/// A host and a client embedded in it, connected (the host's loop ran for it).
pub fn embedded(zk: &mio_zookeeper::testing::ZkServer) -> (Host, Client) {
    let mut host = Host::new();
    let c = host.client(&zk.connect_string());
    let started = c.start_async().unwrap();
    host.run_until("connected", || started.ready());
    (host, c)
}

/// A client connected by `poll_once` alone.
pub fn polled(zk: &mio_zookeeper::testing::ZkServer) -> Client {
    let c = Client::new(&zk.connect_string()).unwrap();
    let started = c.start_async().unwrap();
    poll_until(&c, "connected", || started.ready());
    c
}
