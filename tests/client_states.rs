//! The client's life cycle against a real server: ports of kazoo's `TestClientTransitions`,
//! `TestConnection` and `TestClientConstructor` acceptance tests (KAZOO.md §6.3 items 1, 2,
//! 4 and 6).

mod client_support;

use mio_zookeeper::{
    AddWatchMode, Client, ClientState, CreateMode, CreateOptions, Error, SessionState,
};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use client_support::*;

/// kazoo `test_connection_and_disconnection`: listeners see `[LOST]` on stop, `[CONNECTED]`
/// on start, and the loss of the session then a new one on expiry.
///
/// kazoo expects exactly `[LOST, CONNECTED]` on expiry because its test injects the expiry
/// inside the client. Forced on a real server (a second connection takes the session over
/// and closes it, as ZooKeeper's own tests do), the server first drops this client's
/// connection, so SUSPENDED comes before LOST: the client cannot know the session is gone
/// until it reconnects and the server says so.
#[test]
fn test_connection_and_disconnection() {
    let zk = server();
    let c = client(&zk.connect_string());
    let states = record_states(&c);

    c.stop().unwrap();
    settle(&c, Duration::from_millis(20));
    assert_eq!(*states.borrow(), [ClientState::Lost]);
    states.borrow_mut().clear();

    c.start(Some(WAIT)).unwrap();
    settle(&c, Duration::from_millis(20));
    assert_eq!(*states.borrow(), [ClientState::Connected]);
    states.borrow_mut().clear();

    let (old, _) = c.client_id().unwrap();
    c.create(
        "/eph",
        b"",
        CreateOptions::mode(mio_zookeeper::CreateMode::Ephemeral),
    )
    .unwrap();
    expire_session(&zk, &c);
    wait_for(&c, "a new session", || {
        states.borrow().last() == Some(&ClientState::Connected)
    });
    assert_eq!(
        *states.borrow(),
        [
            ClientState::Suspended,
            ClientState::Lost,
            ClientState::Connected
        ]
    );
    let (new, _) = c.client_id().unwrap();
    assert_ne!(new, old, "a new session");
    assert!(
        c.exists("/eph", None).unwrap().is_none(),
        "the ephemeral went with the old session"
    );
}

/// kazoo `test_listener_only_called_on_real_state_change`: a state is told once, not again
/// while it holds.
#[test]
fn test_listener_only_called_on_real_state_change() {
    let zk = server();
    let c = client(&zk.connect_string());
    let states = record_states(&c);
    // Starting a started client changes nothing.
    c.start(Some(WAIT)).unwrap();
    c.start_async().unwrap().take(true, Some(WAIT)).unwrap();
    settle(&c, Duration::from_millis(50));
    assert!(states.borrow().is_empty(), "{:?}", states.borrow());
    // Stopping twice says LOST once.
    c.stop().unwrap();
    c.stop().unwrap();
    c.stop_async().take(true, Some(WAIT)).unwrap();
    settle(&c, Duration::from_millis(50));
    assert_eq!(*states.borrow(), [ClientState::Lost]);
    c.start(Some(WAIT)).unwrap();
    settle(&c, Duration::from_millis(50));
    assert_eq!(
        *states.borrow(),
        [ClientState::Lost, ClientState::Connected]
    );

    // A removed listener hears nothing more; the others still do.
    let other = record_states(&c);
    let id = c.add_listener(|_| panic!("removed listeners are not called"));
    assert!(c.remove_listener(id));
    assert!(!c.remove_listener(id));
    c.stop().unwrap();
    settle(&c, Duration::from_millis(50));
    assert_eq!(*other.borrow(), [ClientState::Lost]);
}

/// kazoo `test_no_connection`: before start and after stop there is no session; calls fail
/// with ConnectionClosed (kazoo's `ConnectionClosedError`) without waiting.
#[test]
fn test_no_connection() {
    let zk = server();
    let c = Client::new(&zk.connect_string()).unwrap();
    let check = |c: &Client, when: &str| {
        assert!(!c.connected(), "{when}");
        assert_eq!(c.client_id(), None, "{when}");
        assert_eq!(c.state(), ClientState::Lost, "{when}");
        let t0 = Instant::now();
        let closed = |r: Result<(), Error>, op: &str| {
            assert!(
                matches!(r, Err(Error::ConnectionClosed)),
                "{when}: {op}: {r:?}"
            )
        };
        closed(c.get("/", None).map(drop), "get");
        closed(
            c.create("/x", b"", CreateMode::Persistent).map(drop),
            "create",
        );
        closed(c.exists("/", None).map(drop), "exists");
        closed(c.set("/x", b"", None).map(drop), "set");
        closed(c.delete("/x", None), "delete");
        closed(c.get_children("/", None).map(drop), "get_children");
        closed(c.sync("/").map(drop), "sync");
        closed(c.add_auth("digest", b"a:b"), "add_auth");
        closed(
            c.add_watch("/", AddWatchMode::PersistentRecursive, |_| {})
                .map(drop),
            "add_watch",
        );
        closed(
            c.transaction()
                .create("/x", b"", CreateMode::Persistent)
                .commit()
                .map(drop),
            "commit",
        );
        closed(
            c.get_async("/", None).take(false, None).map(drop),
            "get_async",
        );
        closed(c.ensure_path("/a/b", None), "ensure_path");
        assert!(matches!(c.command("ruok"), Err(Error::ConnectionLoss)));
        assert!(t0.elapsed() < Duration::from_secs(2), "{when}: no waiting");
        assert_eq!(c.watch_count(), 0);
    };
    check(&c, "before start");
    c.start(Some(WAIT)).unwrap();
    assert!(c.connected());
    assert!(c.client_id().is_some());
    c.stop().unwrap();
    check(&c, "after stop");
    assert_eq!(c.session_state(), SessionState::Closed);
}

/// kazoo `test_connection_timeout`: `start` with a short timeout against a server that is
/// not there returns the handler's timeout error in about that time, and leaves the client
/// stopped.
#[test]
fn test_connection_timeout() {
    // A port nobody listens on (refused at once: the client keeps retrying with backoff).
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    // A port that accepts but never answers (the handshake never completes).
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();

    for port in [dead_port, silent_port] {
        let c = Client::new(&format!("127.0.0.1:{port}")).unwrap();
        let states = record_states(&c);
        let t0 = Instant::now();
        let r = c.start(Some(Duration::from_millis(100)));
        let took = t0.elapsed();
        assert!(matches!(r, Err(Error::Timeout)), "port {port}: {r:?}");
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert_eq!(c.state(), ClientState::Lost);
        assert_eq!(c.client_id(), None);
        // Stopped: it does not keep trying, and calls fail at once.
        assert!(matches!(c.get("/", None), Err(Error::ConnectionClosed)));
        settle(&c, Duration::from_millis(50));
        assert!(states.borrow().iter().all(|s| *s == ClientState::Lost));
    }
    drop(silent);
}

/// Dropping the last handle of a client closes its session at once, so its ephemeral nodes
/// go without waiting for the session timeout.
#[test]
fn dropping_the_client_closes_its_session() {
    let zk = server();
    let observer = client(&zk.connect_string());
    {
        let c = Client::builder(&zk.connect_string())
            .session_timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        c.start(Some(WAIT)).unwrap();
        c.create(
            "/eph",
            b"",
            CreateOptions::mode(mio_zookeeper::CreateMode::Ephemeral),
        )
        .unwrap();
    }
    let t0 = Instant::now();
    let events = Events::new();
    if observer.exists("/eph", events.watcher()).unwrap().is_some() {
        wait_for(&observer, "the ephemeral's removal", || events.len() == 1);
    }
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "closed at once, not expired after 10 s: {:?}",
        t0.elapsed()
    );
    assert!(observer.exists("/eph", None).unwrap().is_none());
}

/// `stop()` gives up waiting for an unresponsive server after its bound, and still leaves
/// nothing pending: requests fail (ConnectionLoss: written to the paused server, outcome
/// unknown), listeners hear LOST, watchers their session event.
#[test]
fn stop_completes_everything_even_when_the_server_does_not_answer() {
    let mut zk = mio_zookeeper::testing::ZkServer::builder()
        .cfg("maxSessionTimeout", "30000")
        .start()
        .unwrap();
    let c = Client::builder(&zk.connect_string())
        .session_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    c.start(Some(WAIT)).unwrap();
    let states = record_states(&c);
    let events = Events::new();
    c.get("/", events.watcher()).unwrap();
    zk.pause().unwrap();
    let pending = c.get_async("/", None);
    let t0 = Instant::now();
    c.stop().unwrap();
    let took = t0.elapsed();
    zk.resume().unwrap();
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(pending.ready(), "the pending request completed");
    assert!(
        matches!(pending.exception(), Some(Error::ConnectionLoss)),
        "{pending:?}"
    );
    assert_eq!(c.state(), ClientState::Lost);
    settle(&c, Duration::from_millis(20));
    assert_eq!(*states.borrow(), [ClientState::Lost]);
    assert_eq!(events.len(), 1);
    assert_eq!(c.pending_requests(), 0);
}
