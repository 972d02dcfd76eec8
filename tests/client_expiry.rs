//! Failure semantics against a real server (continued from `client_faults.rs`): forced and
//! client-side session expiry, auth replay and auth failure, `stop()`, and `start()` timeouts.
//!
//! Every test has a server of its own. Waits are on events (`run_until`), never fixed
//! sleeps, except where a test asserts that something does *not* happen for a while.

mod faults_support;

use mio_zookeeper::{
    Acl, AddWatchMode, Client, ClientState, CreateMode, CreateOptions, Error, ErrorCode, Id,
    KeeperState, NullData, Perms, SessionState, WatchedEvent, Watcher, ZkError,
};
use std::cell::RefCell;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio_zookeeper::testing::{digest_id, Proxy, ZkServer};

use faults_support::*;

// ---------------------------------------------------------------- session expiry

#[test]
fn forced_expiry_is_lost_then_a_new_session_and_every_watcher_hears_it_once() {
    let zk = ZkServer::start().unwrap();
    let c = start_client(&zk.connect_string(), Duration::from_secs(4));
    let states = record_states(&c);
    let (old, _) = c.client_id().unwrap();
    for p in ["/d", "/p", "/r"] {
        c.create(p, b"", CreateMode::Persistent).unwrap();
    }
    let (eph, _) = c
        .create("/eph", b"", CreateOptions::mode(CreateMode::Ephemeral))
        .unwrap();
    let watchers: Vec<Events> = (0..5).map(|_| Events::default()).collect();
    let rec = |i: usize| {
        let e = watchers[i].clone();
        move |ev: WatchedEvent| e.borrow_mut().push(ev)
    };
    c.get("/d", Watcher::from(rec(0))).unwrap();
    c.exists("/missing", Watcher::from(rec(1))).unwrap();
    c.get_children("/", Watcher::from(rec(2))).unwrap();
    c.add_watch("/p", AddWatchMode::Persistent, rec(3)).unwrap();
    c.add_watch("/r", AddWatchMode::PersistentRecursive, rec(4))
        .unwrap();
    assert_eq!(c.watch_count(), 5);

    // In flight when the server closes the connection (they are written after it did).
    let in_flight: Vec<_> = (0..3).map(|_| c.get_async("/d", None)).collect();
    expire_session(zk.addr(), &c);
    for r in &in_flight {
        match r.get(true, Some(LONG)) {
            Err(Error::ConnectionLoss) => {}
            other => panic!("in flight when the socket dropped: ConnectionLoss, got {other:?}"),
        }
    }
    wait_for(&c, "a new session", || {
        states.borrow().last() == Some(&ClientState::Connected)
    });
    // The connection dropped first (SUSPENDED), then the reconnect was told the session is
    // gone (LOST), then a new session was made (CONNECTED).
    assert_eq!(
        *states.borrow(),
        vec![
            ClientState::Suspended,
            ClientState::Lost,
            ClientState::Connected
        ]
    );
    let (new, _) = c.client_id().unwrap();
    assert_ne!(new, old, "a new session");
    c.handler().run_for(Duration::from_millis(20)).unwrap();
    for (i, w) in watchers.iter().enumerate() {
        assert_eq!(
            *w.borrow(),
            vec![session_lost(KeeperState::Expired)],
            "watcher {i} is told once"
        );
    }
    assert_eq!(c.watch_count(), 0);
    assert!(
        c.exists(&eph, None).unwrap().is_none(),
        "the ephemeral went with it"
    );
    // Nothing is left registered: changes fire no old watcher.
    c.set("/d", b"x", None).unwrap();
    c.set("/p", b"x", None).unwrap();
    c.create("/r/x", b"", CreateMode::Persistent).unwrap();
    c.create("/missing", b"", CreateMode::Persistent).unwrap();
    c.exists("/d", None).unwrap();
    c.handler().run_for(Duration::from_millis(20)).unwrap();
    for w in &watchers {
        assert_eq!(w.borrow().len(), 1);
    }
    // The new session works normally, ephemerals included.
    c.create("/eph", b"", CreateOptions::mode(CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(
        c.exists("/eph", None).unwrap().unwrap().ephemeral_owner,
        new
    );
    c.stop().unwrap();
}

#[test]
fn credentials_are_sent_again_for_the_new_session_after_expiry() {
    let zk = ZkServer::start().unwrap();
    let c = start_client(&zk.connect_string(), Duration::from_secs(4));
    c.add_auth("digest", b"alice:secret").unwrap();
    c.create(
        "/secret",
        b"s3",
        &CreateOptions {
            acl: Some(vec![Acl {
                perms: Perms::ALL,
                id: Id {
                    scheme: "digest".into(),
                    id: digest_id("alice", "secret"),
                },
            }]),
            ..CreateOptions::default()
        },
    )
    .unwrap();
    let (old, _) = c.client_id().unwrap();
    expire_session(zk.addr(), &c);
    wait_for(&c, "a new session", || {
        c.state() == ClientState::Connected && c.client_id().is_some_and(|(id, _)| id != old)
    });
    assert_eq!(
        c.get("/secret", None).unwrap().0.as_deref(),
        Some(&b"s3"[..])
    );
    let who = c.whoami().unwrap();
    assert!(
        who.iter()
            .any(|i| i.auth_scheme == "digest" && i.user == "alice"),
        "{who:?}"
    );
    c.stop().unwrap();
}

#[test]
fn requests_waiting_while_suspended_fail_with_session_expired() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let states = record_states(&c);
    c.create("/n", b"", CreateMode::Persistent).unwrap();
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    let waiting: Vec<_> = (0..4).map(|_| c.get_async("/n", None)).collect();
    let waiting_create = c.create_async("/never", NullData, CreateOptions::default());
    // The session ends on the server while the client is away.
    expire_session(zk.addr(), &c);
    proxy.set_refusing(false);
    for r in &waiting {
        match r.get(true, Some(LONG)) {
            Err(Error::SessionExpired) => {}
            other => panic!("queued while suspended, then expired: got {other:?}"),
        }
    }
    assert!(matches!(
        waiting_create.get(true, Some(LONG)),
        Err(Error::SessionExpired)
    ));
    wait_for(&c, "a new session", || c.state() == ClientState::Connected);
    assert_eq!(
        *states.borrow(),
        vec![
            ClientState::Suspended,
            ClientState::Lost,
            ClientState::Connected
        ]
    );
    assert!(c.exists("/never", None).unwrap().is_none(), "never sent");
    c.stop().unwrap();
}

#[test]
fn expiry_without_reconnect_ends_lost() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = Client::builder(&proxy.connect_string())
        .session_timeout(Duration::from_secs(4))
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .reconnect_after_expiry(false)
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    let states = record_states(&c);
    let (watched, on_watch) = recorder();
    c.exists("/x", Watcher::new(on_watch)).unwrap();
    expire_session(zk.addr(), &c);
    wait_for(&c, "LOST", || c.state() == ClientState::Lost);
    let accepted = proxy.accepted();
    // Nothing more happens: no new session.
    c.handler().run_for(Duration::from_millis(500)).unwrap();
    assert_eq!(
        *states.borrow(),
        vec![ClientState::Suspended, ClientState::Lost]
    );
    assert_eq!(c.session_state(), SessionState::Closed);
    assert_eq!(c.client_id(), None);
    assert_eq!(proxy.accepted(), accepted, "no reconnect attempt");
    assert_eq!(*watched.borrow(), vec![session_lost(KeeperState::Expired)]);
    match c.get("/x", None) {
        Err(Error::SessionExpired) => {}
        other => panic!("calls after an expiry without reconnect: {other:?}"),
    }
    // The client can be started again, with a new session.
    c.start(Some(LONG)).unwrap();
    assert_eq!(c.state(), ClientState::Connected);
    assert!(c.client_id().is_some());
    c.stop().unwrap();
}

#[test]
fn client_side_expiry_when_the_server_is_frozen_longer_than_the_session_timeout() {
    let mut zk = ZkServer::start().unwrap();
    let timeout = Duration::from_secs(2);
    let c = start_client(&zk.connect_string(), timeout);
    let states = record_states(&c);
    let (old, _) = c.client_id().unwrap();
    let (watched, on_watch) = recorder();
    c.exists("/x", Watcher::new(on_watch)).unwrap();

    zk.pause().unwrap();
    let paused = Instant::now();
    // Sent to the frozen server: in flight when the read timeout drops the connection.
    let in_flight = c.exists_async("/x", None);
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    assert!(matches!(
        in_flight.get(false, None),
        Err(Error::ConnectionLoss)
    ));
    // Made while SUSPENDED: waits, then fails when the client gives the session up.
    let waiting = c.exists_async("/x", None);
    wait_for(&c, "LOST", || c.state() == ClientState::Lost);
    let took = paused.elapsed();
    // The server is still frozen: the client decided on its own. The last byte came at most
    // T/3 (a ping interval) before the pause, so LOST comes between 2T/3 and T after it.
    assert!(zk.is_paused());
    assert!(
        took >= timeout / 2 && took <= timeout + Duration::from_secs(3),
        "LOST after {took:?} for a session timeout of {timeout:?}"
    );
    assert_eq!(
        *states.borrow(),
        vec![ClientState::Suspended, ClientState::Lost]
    );
    assert!(matches!(
        waiting.get(false, None),
        Err(Error::SessionExpired)
    ));
    assert_eq!(*watched.borrow(), vec![session_lost(KeeperState::Expired)]);
    assert_eq!(c.client_id(), None, "no session now");
    // A request made now waits for the new session.
    let later = c.exists_async("/x", None);

    zk.resume().unwrap();
    wait_for(&c, "a new session", || c.state() == ClientState::Connected);
    let (new, _) = c.client_id().unwrap();
    assert_ne!(new, old);
    assert_eq!(later.get(true, Some(LONG)).unwrap(), None);
    assert_eq!(
        *states.borrow(),
        vec![
            ClientState::Suspended,
            ClientState::Lost,
            ClientState::Connected
        ]
    );
    c.stop().unwrap();
}

#[test]
fn client_side_expiry_without_reconnect_stays_lost() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let timeout = Duration::from_secs(2);
    let c = Client::builder(&proxy.connect_string())
        .session_timeout(timeout)
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .reconnect_after_expiry(false)
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    let states = record_states(&c);
    // Unreachable for longer than the session timeout: every reconnect is refused, and
    // between attempts the client backs off.
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "LOST", || c.state() == ClientState::Lost);
    assert!(proxy.refused() > 0, "it did try to reconnect");
    assert_eq!(c.session_state(), SessionState::Closed);
    // The network is back, but the client gave up: no attempt, old or new.
    proxy.set_refusing(false);
    let (accepted, refused) = (proxy.accepted(), proxy.refused());
    c.handler().run_for(Duration::from_secs(1)).unwrap();
    assert_eq!((proxy.accepted(), proxy.refused()), (accepted, refused));
    assert_eq!(c.state(), ClientState::Lost);
    assert_eq!(
        *states.borrow(),
        vec![ClientState::Suspended, ClientState::Lost]
    );
    assert!(matches!(c.exists("/", None), Err(Error::SessionExpired)));
    c.stop().unwrap();
}

// ---------------------------------------------------------------- auth

#[test]
fn auth_is_replayed_after_a_reconnect() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    c.add_auth("digest", b"alice:secret").unwrap();
    let only_alice = vec![Acl {
        perms: Perms::ALL,
        id: Id {
            scheme: "digest".into(),
            id: digest_id("alice", "secret"),
        },
    }];
    c.create(
        "/secret",
        b"s3",
        &CreateOptions {
            acl: Some(only_alice),
            ..CreateOptions::default()
        },
    )
    .unwrap();
    // The ACL is enforced: someone else cannot read it.
    let stranger = start_client(&zk.connect_string(), Duration::from_secs(6));
    match stranger.get("/secret", None) {
        Err(Error::ZooKeeper(ZkError {
            code: ErrorCode::NoAuth,
            ..
        })) => {}
        other => panic!("a client without auth must get NoAuth, got {other:?}"),
    }
    stranger.stop().unwrap();

    // Reconnect; a read queued while away goes out right after the replayed auth.
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    let queued = c.get_async("/secret", None);
    proxy.set_refusing(false);
    assert_eq!(
        queued.get(true, Some(LONG)).unwrap().0.as_deref(),
        Some(&b"s3"[..])
    );
    // Another drop, a read issued the moment CONNECTED is reported.
    let first_after: Rc<RefCell<Option<mio_zookeeper::AsyncResult<_>>>> = Default::default();
    let (f, c2) = (first_after.clone(), c.clone());
    let id = c.add_listener(move |s| {
        if s == ClientState::Connected {
            *f.borrow_mut() = Some(c2.get_async("/secret", None));
        }
    });
    proxy.drop_connections();
    wait_for(&c, "the read after reconnecting", || {
        first_after.borrow().is_some()
    });
    c.remove_listener(id);
    let r = first_after.borrow_mut().take().unwrap();
    assert_eq!(
        r.get(true, Some(LONG)).unwrap().0.as_deref(),
        Some(&b"s3"[..])
    );
    assert_eq!(
        c.get("/secret", None).unwrap().0.as_deref(),
        Some(&b"s3"[..])
    );
    c.stop().unwrap();
}

#[test]
fn credentials_added_at_run_time_outlive_a_restart() {
    // kazoo's add_auth adds to the client's auth_data, which every later connection replays,
    // restarts included.
    let zk = ZkServer::start().unwrap();
    let c = start_client(&zk.connect_string(), Duration::from_secs(6));
    c.add_auth("digest", b"alice:secret").unwrap();
    c.create(
        "/secret",
        b"s3",
        &CreateOptions {
            acl: Some(vec![Acl {
                perms: Perms::ALL,
                id: Id {
                    scheme: "digest".into(),
                    id: digest_id("alice", "secret"),
                },
            }]),
            ..CreateOptions::default()
        },
    )
    .unwrap();
    c.restart().unwrap();
    assert_eq!(
        c.get("/secret", None).unwrap().0.as_deref(),
        Some(&b"s3"[..])
    );
    c.stop().unwrap();
    c.start(Some(LONG)).unwrap();
    assert_eq!(
        c.get("/secret", None).unwrap().0.as_deref(),
        Some(&b"s3"[..])
    );
    c.stop().unwrap();
}

#[test]
fn auth_failure_is_terminal() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let states = record_states(&c);
    let (watched, on_watch) = recorder();
    c.exists("/x", Watcher::new(on_watch)).unwrap();
    match c.add_auth("no-such-scheme", b"whatever") {
        Err(Error::AuthFailed) => {}
        other => panic!("an unknown auth scheme must fail with AuthFailed, got {other:?}"),
    }
    wait_for(&c, "LOST", || c.state() == ClientState::Lost);
    assert_eq!(c.session_state(), SessionState::AuthFailed);
    let accepted = proxy.accepted();
    c.handler().run_for(Duration::from_millis(500)).unwrap();
    assert_eq!(proxy.accepted(), accepted, "no reconnect after AuthFailed");
    assert_eq!(*states.borrow(), vec![ClientState::Lost]);
    assert_eq!(
        *watched.borrow(),
        vec![session_lost(KeeperState::AuthFailed)]
    );
    assert!(matches!(c.get("/x", None), Err(Error::AuthFailed)));
    assert!(matches!(
        c.create("/y", b"", CreateMode::Persistent),
        Err(Error::AuthFailed)
    ));
    // A refused credential is not kept (only accepted ones are, as kazoo's auth_data):
    // starting again opens a session that works.
    c.start(Some(LONG)).unwrap();
    assert_eq!(c.session_state(), SessionState::Connected);
    assert!(c.exists("/", None).unwrap().is_some());
    c.stop().unwrap();

    // Bad credentials given at start: start() fails with AuthFailed.
    let bad = Client::builder(&zk.connect_string())
        .auth("no-such-scheme", b"whatever")
        .build()
        .unwrap();
    match bad.start(Some(LONG)) {
        Err(Error::AuthFailed) => {}
        other => panic!("start with bad credentials: {other:?}"),
    }
}

// ---------------------------------------------------------------- stop, restart, start

#[test]
fn stop_completes_everything_pending() {
    let zk = ZkServer::start().unwrap();
    let c = start_client(&zk.connect_string(), Duration::from_secs(6));
    let (old, _) = c.client_id().unwrap();
    let (watched, on_watch) = recorder();
    assert_eq!(
        c.exists("/untouched", Watcher::new(on_watch)).unwrap(),
        None
    );
    let creates: Vec<_> = (0..50)
        .map(|i| c.create_async(&format!("/n{i}"), NullData, CreateOptions::default()))
        .collect();
    let reads: Vec<_> = (0..50).map(|_| c.exists_async("/n0", None)).collect();
    c.stop().unwrap();
    assert!(creates.iter().all(|r| r.ready()) && reads.iter().all(|r| r.ready()));
    // Submitted before stop, so sent before closeSession: they succeeded.
    for (i, r) in creates.iter().enumerate() {
        assert_eq!(r.get(false, None).unwrap().0, format!("/n{i}"));
    }
    assert!(reads.iter().all(|r| r.get(false, None).unwrap().is_some()));
    assert_eq!(c.state(), ClientState::Lost);
    assert_eq!(c.client_id(), None);
    // As in kazoo, stopping tells every watcher once that its session is gone.
    c.handler().run_for(Duration::from_millis(20)).unwrap();
    assert_eq!(*watched.borrow(), vec![session_lost(KeeperState::Closed)]);
    assert!(matches!(c.get("/n0", None), Err(Error::ConnectionClosed)));
    assert!(matches!(
        c.exists_async("/n0", None).get(false, None),
        Err(Error::ConnectionClosed)
    ));
    c.stop().unwrap(); // idempotent

    c.restart().unwrap();
    assert_eq!(c.state(), ClientState::Connected);
    let (new, _) = c.client_id().unwrap();
    assert_ne!(new, old, "stop closed the old session");
    assert!(c.exists("/n49", None).unwrap().is_some());
    c.restart().unwrap();
    assert!(c.exists("/n0", None).unwrap().is_some());
    c.stop().unwrap();
}

#[test]
fn stop_while_suspended_fails_what_waits_with_connection_closed() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let states = record_states(&c);
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    let waiting: Vec<_> = (0..10).map(|_| c.exists_async("/", None)).collect();
    let t0 = Instant::now();
    c.stop().unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "no server to wait for"
    );
    for r in &waiting {
        assert!(r.ready());
        assert!(matches!(r.get(false, None), Err(Error::ConnectionClosed)));
    }
    c.handler().run_for(Duration::from_millis(20)).unwrap();
    assert_eq!(
        *states.borrow(),
        vec![ClientState::Suspended, ClientState::Lost]
    );
    proxy.set_refusing(false);
    c.start(Some(LONG)).unwrap();
    assert!(c.exists("/", None).unwrap().is_some());
    c.stop().unwrap();
}

#[test]
fn stop_gives_up_on_an_unanswered_close_and_still_completes_everything() {
    // A session timeout long enough that the session's own wait for the closeSession reply
    // (2T/3) outlasts stop()'s wait.
    let mut zk = ZkServer::builder()
        .cfg("maxSessionTimeout", "60000")
        .start()
        .unwrap();
    let c = start_client(&zk.connect_string(), Duration::from_secs(30));
    let states = record_states(&c);
    let (watched, on_watch) = recorder();
    c.exists("/x", Watcher::new(on_watch)).unwrap();
    zk.pause().unwrap();
    let in_flight: Vec<_> = (0..5).map(|_| c.exists_async("/x", None)).collect();
    let t0 = Instant::now();
    c.stop().unwrap();
    let took = t0.elapsed();
    zk.resume().unwrap();
    assert!(took < Duration::from_secs(15), "stop() took {took:?}");
    for r in &in_flight {
        assert!(r.ready(), "every request is complete when stop() returns");
        // Written to the (paused) server and never answered: the outcome is unknown.
        assert!(matches!(r.get(false, None), Err(Error::ConnectionLoss)));
    }
    c.handler().run_for(Duration::from_millis(20)).unwrap();
    assert_eq!(*states.borrow(), vec![ClientState::Lost]);
    assert_eq!(*watched.borrow(), vec![session_lost(KeeperState::Closed)]);
    assert!(matches!(c.get("/", None), Err(Error::ConnectionClosed)));
    c.start(Some(LONG)).unwrap();
    assert!(c.exists("/", None).unwrap().is_some());
    c.stop().unwrap();
}

#[test]
fn dropping_the_client_completes_its_requests_and_closes_the_session() {
    let zk = ZkServer::start().unwrap();
    let other = start_client(&zk.connect_string(), Duration::from_secs(10));

    // Requests in flight when the last handle goes complete: ConnectionClosed if never
    // written, ConnectionLoss if written and unanswered.
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    let pending: Vec<_> = (0..5).map(|_| c.exists_async("/", None)).collect();
    let handler = c.handler().clone();
    drop(c);
    let p = &pending;
    handler
        .reactor()
        .run_until(
            &|| p.iter().all(|r| r.ready()),
            Some(Duration::from_secs(5)),
        )
        .expect("every request completes when the last handle goes");
    assert!(pending.iter().all(|r| matches!(
        r.get(false, None),
        Err(Error::ConnectionClosed | Error::ConnectionLoss)
    )));

    // closeSession reaches the server: the ephemeral goes long before the 10 s session
    // timeout (tests/client_ownership.rs does the same with requests in flight).
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    let (eph, _) = c
        .create("/eph", b"", CreateOptions::mode(CreateMode::Ephemeral))
        .unwrap();
    drop(c);
    let t0 = Instant::now();
    while other.exists(&eph, None).unwrap().is_some() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the session was not closed"
        );
        other.handler().run_for(Duration::from_millis(20)).unwrap();
    }
    other.stop().unwrap();
}

#[test]
fn start_against_a_dead_port_times_out_in_about_the_timeout() {
    let addr = dead_port();
    let c = Client::new(&addr.to_string()).unwrap();
    let timeout = Duration::from_millis(800);
    let t0 = Instant::now();
    match c.start(Some(timeout)) {
        Err(Error::Timeout) => {}
        other => panic!("start against a dead port: {other:?}"),
    }
    let took = t0.elapsed();
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(2),
        "start({timeout:?}) returned after {took:?}"
    );
    assert_eq!(c.state(), ClientState::Lost);
    assert!(matches!(c.get("/", None), Err(Error::ConnectionClosed)));

    // A server that accepts TCP connections but never answers: the same.
    let black_hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = Client::new(&black_hole.local_addr().unwrap().to_string()).unwrap();
    let t0 = Instant::now();
    assert!(matches!(c.start(Some(timeout)), Err(Error::Timeout)));
    assert!(t0.elapsed() < timeout + Duration::from_secs(2));
}
