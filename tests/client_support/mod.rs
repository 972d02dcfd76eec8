//! Helpers shared by the `client_*` test files of the ops work (operations, watches, chroot,
//! auth): a server per test, a started client, event recorders and error assertions.
#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use std::cell::RefCell;
use std::fmt::Debug;
use std::rc::Rc;
use std::time::Duration;

use mio_zookeeper::proto::{ConnectRequest, EventType};
use mio_zookeeper::testing::{RawConnection, ZkServer};
use mio_zookeeper::{Client, ClientState, Error, ErrorCode, WatchedEvent, Watcher, ZkError};

/// How long any wait for the server may take: generous, the machine is small and shared.
pub const WAIT: Duration = Duration::from_secs(20);

/// The session timeout of test clients (the harness's servers grant 1 s to 10 s).
pub const SESSION: Duration = Duration::from_secs(4);

/// A throwaway standalone server.
pub fn server() -> ZkServer {
    ZkServer::start().expect("start a ZooKeeper server (scripts/install-zookeeper)")
}

/// A started client on `hosts` (which may carry a chroot).
pub fn client(hosts: &str) -> Client {
    let c = Client::builder(hosts)
        .session_timeout(SESSION)
        .request_timeout(Some(WAIT))
        .build()
        .expect("build a client");
    c.start(Some(WAIT)).expect("connect to the server");
    c
}

/// Runs `c`'s loop until `cond` holds; panics with `what` after [`WAIT`].
pub fn wait_for(c: &Client, what: &str, cond: impl Fn() -> bool) {
    c.handler()
        .reactor()
        .run_until(&cond, Some(WAIT))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
}

/// Runs `c`'s loop for `d`: lets events that should NOT come have a chance to arrive.
pub fn settle(c: &Client, d: Duration) {
    c.handler().run_for(d).expect("run the loop");
}

/// Asserts `r` is the server error `code` reported for `path`.
#[track_caller]
pub fn assert_zk<T: Debug>(r: Result<T, Error>, code: ErrorCode, path: &str) {
    match r {
        Err(Error::ZooKeeper(ZkError { code: c, path: p })) if c == code && p == path => {}
        other => panic!("expected ZooKeeper error {code:?} for {path:?}, got {other:?}"),
    }
}

/// A shared, ordered log of what callbacks saw.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn new() -> Log {
        Log::default()
    }
    pub fn push(&self, s: impl Into<String>) {
        self.0.borrow_mut().push(s.into());
    }
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }
    pub fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
    pub fn clear(&self) {
        self.0.borrow_mut().clear();
    }
    /// A new watcher that logs `"{name} {type} {path}"`; usable as one-shot and persistent.
    pub fn watcher(&self, name: &str) -> Watcher {
        let log = self.clone();
        let name = name.to_string();
        Watcher::new(move |ev: WatchedEvent| log.push(fmt_event(&name, &ev)))
    }
}

/// `"{name} {type} {path}"`, e.g. `"w NodeDataChanged /a"`; `-` for no path.
pub fn fmt_event(name: &str, ev: &WatchedEvent) -> String {
    format!(
        "{name} {} {}",
        ev.event_type.name(),
        ev.path.as_deref().unwrap_or("-")
    )
}

/// A shared list of watch events.
#[derive(Clone, Default)]
pub struct Events(Rc<RefCell<Vec<WatchedEvent>>>);

impl Events {
    pub fn new() -> Events {
        Events::default()
    }
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }
    pub fn get(&self) -> Vec<WatchedEvent> {
        self.0.borrow().clone()
    }
    /// `(type, path)` of every event, in order.
    pub fn kinds(&self) -> Vec<(EventType, String)> {
        self.0
            .borrow()
            .iter()
            .map(|e| (e.event_type, e.path.clone().unwrap_or_default()))
            .collect()
    }
    /// A new watcher that records every event it hears.
    pub fn watcher(&self) -> Watcher {
        let me = self.clone();
        Watcher::new(move |ev| me.0.borrow_mut().push(ev))
    }
}

/// Records every state a listener is told.
pub fn record_states(c: &Client) -> Rc<RefCell<Vec<ClientState>>> {
    let states = Rc::new(RefCell::new(Vec::new()));
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push(st));
    states
}

/// Expires `c`'s session the way kazoo's and ZooKeeper's own tests do: a second connection
/// attaches with the same session id and password (the server closes `c`'s connection) and
/// then closes the session.
pub fn expire_session(zk: &ZkServer, c: &Client) {
    let (id, pw) = c.client_id().expect("the client has a session");
    let raw = RawConnection::connect_with(
        zk.addr(),
        &ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: SESSION.as_millis() as i32,
            session_id: id,
            passwd: bytes::Bytes::copy_from_slice(&pw),
            read_only: Some(false),
        },
    )
    .expect("attach to the client's session");
    assert_eq!(raw.session_id(), id, "attached to the same session");
    raw.close().expect("close the session");
}
