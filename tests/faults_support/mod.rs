//! Helpers shared by `client_faults.rs` and `client_expiry.rs`: started clients, state and
//! event recorders, forced expiry, a dead port.
#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use std::cell::RefCell;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use mio_zookeeper::proto::{ConnectRequest, EventType, KeeperState};
use mio_zookeeper::testing::RawConnection;
use mio_zookeeper::{Client, ClientState, ErrorCode, WatchedEvent};

/// The longest any single wait may take before the test fails.
pub const LONG: Duration = Duration::from_secs(30);

pub type States = Rc<RefCell<Vec<ClientState>>>;
pub type Events = Rc<RefCell<Vec<WatchedEvent>>>;

/// A started client on `hosts` with session timeout `timeout` and a short reconnect backoff.
pub fn start_client(hosts: &str, timeout: Duration) -> Client {
    let c = Client::builder(hosts)
        .session_timeout(timeout)
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    c
}

/// Records every state change the client's listeners hear, from now on.
pub fn record_states(c: &Client) -> States {
    let states = States::default();
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push(st));
    states
}

/// A watcher that records what it is told, and its log.
pub fn recorder() -> (Events, impl Fn(WatchedEvent) + Clone + 'static) {
    let events = Events::default();
    let e = events.clone();
    (events, move |ev| e.borrow_mut().push(ev))
}

/// Runs `c`'s loop until `cond` holds (at most [`LONG`]).
pub fn wait_for(c: &Client, what: &str, cond: impl Fn() -> bool) {
    c.handler()
        .reactor()
        .run_until(&cond, Some(LONG))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
}

pub fn event(t: EventType, path: &str) -> WatchedEvent {
    WatchedEvent {
        event_type: t,
        state: KeeperState::SyncConnected,
        path: Some(path.to_string()),
    }
}

pub fn session_lost(state: KeeperState) -> WatchedEvent {
    WatchedEvent {
        event_type: EventType::None,
        state,
        path: None,
    }
}

/// Expires `c`'s session the way kazoo's tests do: a second connection attaches to the
/// session with its id and password (the server closes `c`'s connection), then closes it.
/// `c`'s loop does not run meanwhile, so it cannot interfere.
pub fn expire_session(server: SocketAddr, c: &Client) {
    let (id, pw) = c.client_id().expect("a session to expire");
    let raw = RawConnection::connect_with(
        server,
        &ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 4000,
            session_id: id,
            passwd: Bytes::copy_from_slice(&pw),
            read_only: Some(false),
        },
    )
    .unwrap();
    assert_eq!(raw.session_id(), id, "attached to the client's session");
    let reply = raw.close().unwrap();
    assert_eq!(reply.header.err, ErrorCode::Ok, "closeSession accepted");
}

/// A loopback port nobody listens on.
pub fn dead_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}
