//! Failure semantics against a real server: dropped connections (through a
//! `testing::Proxy`), server restarts, forced session expiry (kazoo's way: a second
//! connection attaches to the session and closes it), client-side expiry (a paused server),
//! auth replay and auth failure, `stop()`, and `start()` timeouts.
//!
//! Every test has a server of its own. Waits are on events (`run_until`), never fixed
//! sleeps, except where a test asserts that something does *not* happen for a while.

use std::cell::RefCell;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio_zookeeper::client::{Client, ClientState, CreateOptions, WatchedEvent};
use mio_zookeeper::proto::{ConnectRequest, EventType, KeeperState};
use mio_zookeeper::session::SessionState;
use mio_zookeeper::testing::{digest_id, Proxy, RawConnection, ZkServer};
use mio_zookeeper::ZkError;
use mio_zookeeper::{Acl, CreateMode, Error, ErrorCode, Id, Perms};

/// The longest any single wait may take before the test fails.
const LONG: Duration = Duration::from_secs(30);

type States = Rc<RefCell<Vec<ClientState>>>;
type Events = Rc<RefCell<Vec<WatchedEvent>>>;

/// A started client on `hosts` with session timeout `timeout` and a short reconnect backoff.
fn start_client(hosts: &str, timeout: Duration) -> Client {
    let c = Client::builder(hosts)
        .session_timeout(timeout)
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    c
}

/// Records every state change the client's listeners hear, from now on.
fn record_states(c: &Client) -> States {
    let states = States::default();
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push(st));
    states
}

/// A watcher that records what it is told, and its log.
fn recorder() -> (Events, impl Fn(WatchedEvent) + Clone + 'static) {
    let events = Events::default();
    let e = events.clone();
    (events, move |ev| e.borrow_mut().push(ev))
}

/// Runs `c`'s loop until `cond` holds (at most [`LONG`]).
fn wait_for(c: &Client, what: &str, cond: impl Fn() -> bool) {
    c.handler()
        .reactor()
        .run_until(&cond, Some(LONG))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
}

fn event(t: EventType, path: &str) -> WatchedEvent {
    WatchedEvent {
        event_type: t,
        state: KeeperState::SyncConnected,
        path: Some(path.to_string()),
    }
}

fn session_lost(state: KeeperState) -> WatchedEvent {
    WatchedEvent {
        event_type: EventType::None,
        state,
        path: None,
    }
}

/// Expires `c`'s session the way kazoo's tests do: a second connection attaches to the
/// session with its id and password (the server closes `c`'s connection), then closes it.
/// `c`'s loop does not run meanwhile, so it cannot interfere.
fn expire_session(server: SocketAddr, c: &Client) {
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
fn dead_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

// ---------------------------------------------------------------- connection drops

#[test]
fn dropped_connection_fails_in_flight_requests_holds_new_ones_and_resumes_the_session() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let states = record_states(&c);
    let (id, pw) = c.client_id().unwrap();
    c.create("/n", b"v0").unwrap();

    // Submitted on a live connection (so in flight), answered never: the connection goes
    // before the loop runs again.
    proxy.set_refusing(true);
    let in_flight: Vec<_> = (0..5).map(|_| c.get_async("/n")).collect();
    let write = c.set_async("/n", Some(Bytes::from_static(b"lost?")), -1);
    proxy.drop_connections();
    for r in &in_flight {
        match r.get(true, Some(LONG)) {
            Err(Error::ConnectionLoss) => {}
            other => panic!("an in-flight read must fail with ConnectionLoss, got {other:?}"),
        }
    }
    assert!(matches!(
        write.get(true, Some(LONG)),
        Err(Error::ConnectionLoss)
    ));
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    assert_eq!(c.session_state(), SessionState::Connecting);
    assert_eq!(c.current_server(), None);

    // Requests made while SUSPENDED wait, through at least one refused reconnect.
    let held_set = c.set_async("/n", Some(Bytes::from_static(b"v1")), -1);
    let held_get = c.get_async("/n");
    let held_create = c.create_async("/m", None, &CreateOptions::default());
    let refused = proxy.refused();
    wait_for(&c, "a refused reconnect", || proxy.refused() > refused);
    assert!(!held_set.ready() && !held_get.ready() && !held_create.ready());
    assert_eq!(c.state(), ClientState::Suspended);

    proxy.set_refusing(false);
    let stat = held_set.get(true, Some(LONG)).unwrap();
    assert_eq!(stat.version, 1, "the lost write was never applied");
    let (data, _) = held_get.get(true, Some(LONG)).unwrap();
    assert_eq!(
        data.as_deref(),
        Some(&b"v1"[..]),
        "sent after the set, in order"
    );
    assert_eq!(held_create.get(true, Some(LONG)).unwrap().0, "/m");

    assert_eq!(c.state(), ClientState::Connected);
    assert_eq!(c.client_id(), Some((id, pw)), "the same session");
    assert_eq!(
        c.current_server().as_deref(),
        Some(proxy.connect_string().as_str())
    );
    c.handler().run_for(Duration::from_millis(20)).unwrap();
    assert_eq!(
        *states.borrow(),
        vec![ClientState::Suspended, ClientState::Connected]
    );
    c.stop().unwrap();
}

#[test]
fn every_watch_kind_survives_a_dropped_connection() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let other = start_client(&zk.connect_string(), Duration::from_secs(6));
    for p in ["/w", "/w/data", "/w/kids", "/w/p", "/w/r"] {
        other.create(p, b"").unwrap();
    }
    let (data, on_data) = recorder();
    let (exist, on_exist) = recorder();
    let (child, on_child) = recorder();
    let (pers, on_pers) = recorder();
    let (rec, on_rec) = recorder();
    c.get_watch("/w/data", on_data).unwrap();
    assert_eq!(c.exists_watch("/w/new", on_exist).unwrap(), None);
    c.get_children_watch("/w/kids", on_child).unwrap();
    c.add_watch("/w/p", false, on_pers).unwrap();
    c.add_watch("/w/r", true, on_rec).unwrap();
    assert_eq!(c.watch_count(), 5);
    let id = c.client_id();

    // Cut the client off and change everything while it is away.
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    other.set("/w/data", b"changed").unwrap();
    other.create("/w/new", b"").unwrap();
    other.create("/w/kids/k", b"").unwrap();
    other.set("/w/p", b"missed").unwrap();
    other.create("/w/r/missed", b"").unwrap();
    assert!(data.borrow().is_empty() && exist.borrow().is_empty());
    proxy.set_refusing(false);

    // The one-shot watches were re-registered with SetWatches; the server fires them for
    // what changed since the client's last zxid.
    wait_for(&c, "the one-shot watches", || {
        !data.borrow().is_empty() && !exist.borrow().is_empty() && !child.borrow().is_empty()
    });
    assert_eq!(c.client_id(), id, "the same session");
    assert_eq!(
        *data.borrow(),
        vec![event(EventType::NodeDataChanged, "/w/data")]
    );
    assert_eq!(
        *exist.borrow(),
        vec![event(EventType::NodeCreated, "/w/new")]
    );
    assert_eq!(
        *child.borrow(),
        vec![event(EventType::NodeChildrenChanged, "/w/kids")]
    );

    // Persistent watches were re-registered too (SetWatches2), and fire for changes after
    // the reconnect. ZooKeeper (3.6 to 3.9, `DataTree.setWatches`) re-adds persistent watches
    // without replaying what they missed, so the client tells each persistent watcher that
    // it reconnected (an EventType::None event with the watch's path: re-read), then the
    // changes below reach them.
    other.set("/w/p", b"after").unwrap();
    other.create("/w/r/after", b"").unwrap();
    wait_for(&c, "the persistent watches", || {
        pers.borrow().len() >= 2 && rec.borrow().len() >= 2
    });
    // One-shot watches fired once and are gone: changing the nodes again tells nobody.
    other.set("/w/data", b"again").unwrap();
    other.delete("/w/new").unwrap();
    other.create("/w/kids/k2", b"").unwrap();
    other.set("/w/p", b"after2").unwrap();
    wait_for(&c, "the second persistent event", || {
        pers.borrow().len() >= 3
    });
    assert_eq!(
        *pers.borrow(),
        vec![
            event(EventType::None, "/w/p"),
            event(EventType::NodeDataChanged, "/w/p"),
            event(EventType::NodeDataChanged, "/w/p")
        ]
    );
    assert_eq!(
        *rec.borrow(),
        vec![
            event(EventType::None, "/w/r"),
            event(EventType::NodeCreated, "/w/r/after")
        ]
    );
    assert_eq!(data.borrow().len(), 1);
    assert_eq!(exist.borrow().len(), 1);
    assert_eq!(child.borrow().len(), 1);
    assert_eq!(c.watch_count(), 2, "only the persistent watches remain");
    c.stop().unwrap();
    other.stop().unwrap();
}

#[test]
fn watches_on_a_node_deleted_while_away_fire_once_each_under_a_chroot() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let other = start_client(&zk.connect_string(), Duration::from_secs(6));
    other.create("/app", b"").unwrap();
    other.create("/app/gone", b"").unwrap();
    other.create("/app/gone/kid", b"").unwrap();
    other.create("/app/stays", b"").unwrap();
    let c = start_client(
        &format!("{}/app", proxy.connect_string()),
        Duration::from_secs(6),
    );
    let (data, on_data) = recorder();
    let (child, on_child) = recorder();
    let (exists, on_exists) = recorder();
    let (stays, on_stays) = recorder();
    c.get_watch("/gone", on_data).unwrap();
    c.get_children_watch("/gone", on_child).unwrap();
    assert!(c.exists_watch("/gone", on_exists).unwrap().is_some());
    c.get_watch("/stays", on_stays).unwrap();

    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    other.delete_recursive("/app/gone").unwrap();
    proxy.set_refusing(false);

    // The server answers SetWatches with a NodeDeleted for the data watches and another
    // for the child watch of the same path; each watcher hears of it once, chroot stripped.
    wait_for(&c, "the deletion", || {
        !data.borrow().is_empty() && !child.borrow().is_empty() && !exists.borrow().is_empty()
    });
    c.exists("/stays").unwrap();
    c.handler().run_for(Duration::from_millis(20)).unwrap();
    assert_eq!(*data.borrow(), vec![event(EventType::NodeDeleted, "/gone")]);
    assert_eq!(
        *child.borrow(),
        vec![event(EventType::NodeDeleted, "/gone")]
    );
    assert_eq!(
        *exists.borrow(),
        vec![event(EventType::NodeDeleted, "/gone")]
    );
    assert!(stays.borrow().is_empty(), "an unchanged node fires nothing");
    assert_eq!(c.watch_count(), 1);
    other.set("/app/stays", b"now").unwrap();
    wait_for(&c, "the surviving watch", || !stays.borrow().is_empty());
    assert_eq!(
        *stays.borrow(),
        vec![event(EventType::NodeDataChanged, "/stays")]
    );
    c.stop().unwrap();
    other.stop().unwrap();
}

#[test]
fn a_drop_in_the_middle_of_a_pipeline_completes_every_request_in_order() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    c.create("/n", b"").unwrap();
    let results: Vec<_> = (0..3000).map(|_| c.exists_async("/n")).collect();
    // Cut the connection once some replies are in and many are not.
    let r = &results;
    wait_for(&c, "the first replies", || {
        r.iter().filter(|x| x.ready()).count() >= 100
    });
    proxy.drop_connections();
    wait_for(&c, "every request", || r.iter().all(|x| x.ready()));
    // Replies come in request order, so the answered ones come first, then ConnectionLoss.
    let ok = results
        .iter()
        .take_while(|x| matches!(x.get(false, None), Ok(Some(_))))
        .count();
    assert!(ok >= 100, "{ok} answered before the drop");
    assert!(ok < results.len(), "the drop came before the last reply");
    // Then those in flight at the drop fail (at most max_in_flight, 1,000 by default); those
    // still queued behind them were never sent: they go out after the reconnect.
    let lost = results[ok..]
        .iter()
        .take_while(|x| matches!(x.get(false, None), Err(Error::ConnectionLoss)))
        .count();
    assert!((1..=1000).contains(&lost), "{lost} lost in flight");
    wait_for(&c, "the reconnect", || c.state() == ClientState::Connected);
    for (i, x) in results.iter().enumerate().skip(ok + lost) {
        match x.get(true, Some(LONG)) {
            Ok(Some(_)) => {}
            other => panic!("request {i}, queued at the drop: {other:?}"),
        }
    }
    assert!(c.exists("/n").unwrap().is_some());
    eprintln!("{ok} of {} answered before the drop", results.len());
    c.stop().unwrap();
}

#[test]
fn a_frozen_server_times_out_reads_and_the_session_resumes_when_it_thaws() {
    let mut zk = ZkServer::start().unwrap();
    let timeout = Duration::from_secs(6);
    let c = start_client(&zk.connect_string(), timeout);
    let states = record_states(&c);
    let (id, _) = c.client_id().unwrap();
    c.create("/n", b"before").unwrap();
    zk.pause().unwrap();
    let paused = Instant::now();
    let in_flight = c.get_async("/n");
    // Nothing comes back: the read timeout (2T/3 after the last byte) drops the connection.
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    let took = paused.elapsed();
    assert!(
        took <= timeout * 2 / 3 + Duration::from_secs(2),
        "SUSPENDED after {took:?}"
    );
    assert!(matches!(
        in_flight.get(false, None),
        Err(Error::ConnectionLoss)
    ));
    let waiting = c.get_async("/n");
    zk.resume().unwrap();
    // Back well within the session timeout: the same session, the data intact.
    let (data, _) = waiting.get(true, Some(LONG)).unwrap();
    assert_eq!(data.as_deref(), Some(&b"before"[..]));
    assert_eq!(c.client_id().map(|(i, _)| i), Some(id));
    assert_eq!(
        *states.borrow(),
        vec![ClientState::Suspended, ClientState::Connected]
    );
    c.stop().unwrap();
}

#[test]
fn after_a_reconnect_a_watch_event_is_seen_before_the_reply_that_reflects_it() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let other = start_client(&zk.connect_string(), Duration::from_secs(6));
    c.create("/d", b"old").unwrap();
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let l = log.clone();
    c.get_watch("/d", move |ev: mio_zookeeper::WatchedEvent| {
        l.borrow_mut().push(format!("watch {:?}", ev.event_type))
    })
    .unwrap();
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    other.set("/d", b"new").unwrap();
    // Queued while away: it goes out after the SetWatches that re-arms the watch.
    let read = c.get_async("/d");
    let l = log.clone();
    read.rawlink(move |r| {
        let data = r.value().and_then(|(d, _)| d);
        l.borrow_mut().push(format!("reply {:?}", data.as_deref()));
    });
    proxy.set_refusing(false);
    wait_for(&c, "both callbacks", || log.borrow().len() == 2);
    assert_eq!(
        *log.borrow(),
        vec![
            "watch NodeDataChanged".to_string(),
            format!("reply {:?}", Some(&b"new"[..]))
        ]
    );
    c.stop().unwrap();
    other.stop().unwrap();
}

#[test]
fn repeated_drops_keep_the_session_and_its_watches() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let states = record_states(&c);
    let id = c.client_id();
    c.create("/p", b"").unwrap();
    let (pers, on_pers) = recorder();
    c.add_watch("/p", false, on_pers).unwrap();
    let rounds = 10;
    for i in 0..rounds {
        let (d, on_d) = recorder();
        c.get_watch("/p", on_d).unwrap();
        proxy.drop_connections();
        wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
        wait_for(&c, "CONNECTED", || c.state() == ClientState::Connected);
        c.set("/p", format!("{i}").as_bytes()).unwrap();
        // Each round the persistent watcher hears of the reconnect, then of the change.
        wait_for(&c, "the events", || {
            pers.borrow().len() >= 2 * (i + 1) && d.borrow().len() == 1
        });
        assert_eq!(*d.borrow(), vec![event(EventType::NodeDataChanged, "/p")]);
    }
    assert_eq!(c.client_id(), id);
    let expected_pers: Vec<_> = (0..rounds)
        .flat_map(|_| {
            [
                event(EventType::None, "/p"),
                event(EventType::NodeDataChanged, "/p"),
            ]
        })
        .collect();
    assert_eq!(*pers.borrow(), expected_pers);
    let expected: Vec<_> = (0..rounds)
        .flat_map(|_| [ClientState::Suspended, ClientState::Connected])
        .collect();
    assert_eq!(*states.borrow(), expected);
    assert_eq!(c.watch_count(), 1);
    c.stop().unwrap();
}

#[test]
fn a_panicking_listener_does_not_break_the_client() {
    // kazoo's test_bad_session_expire: a listener that raises. In Rust the panic unwinds
    // out of the call driving the loop; the client must carry on when the loop runs again.
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let id = c.client_id();
    c.add_listener(|s| {
        if s == ClientState::Suspended {
            panic!("a listener that fails on SUSPENDED");
        }
    });
    let states = record_states(&c);
    c.create("/n", b"").unwrap();
    proxy.drop_connections();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        c.handler().reactor().run_until(
            &|| c.state() == ClientState::Connected && !states.borrow().is_empty(),
            Some(LONG),
        )
    }));
    assert!(unwound.is_err(), "the listener's panic reaches the caller");
    wait_for(&c, "CONNECTED", || c.state() == ClientState::Connected);
    assert_eq!(c.client_id(), id);
    assert!(c.exists("/n").unwrap().is_some());
    c.set("/n", b"still works").unwrap();
    c.stop().unwrap();
}

#[test]
fn the_wait_queue_is_bounded_while_disconnected() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = Client::builder(&proxy.connect_string())
        .session_timeout(Duration::from_secs(6))
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .max_queued_requests(3)
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    c.create("/q", b"").unwrap();
    // Connected: more than 3 requests at once is fine (they go out, not into the queue).
    let burst: Vec<_> = (0..20).map(|_| c.exists_async("/q")).collect();
    for r in &burst {
        assert!(r.get(true, Some(LONG)).unwrap().is_some());
    }

    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    let held: Vec<_> = (0..3).map(|_| c.exists_async("/q")).collect();
    let refused = c.exists_async("/q");
    assert!(refused.ready(), "refused at once, not queued");
    match refused.get(false, None) {
        Err(Error::QueueFull { limit: 3 }) => {}
        other => panic!("the 4th queued request must fail with QueueFull, got {other:?}"),
    }
    assert!(matches!(
        c.with_timeout(Some(LONG)).get("/q"),
        Err(Error::QueueFull { limit: 3 })
    ));
    assert!(held.iter().all(|r| !r.ready()));

    proxy.set_refusing(false);
    for r in &held {
        assert!(r.get(true, Some(LONG)).unwrap().is_some());
    }
    assert!(
        c.exists("/q").unwrap().is_some(),
        "the queue has room again"
    );
    c.stop().unwrap();
}

// ---------------------------------------------------------------- server restart

#[test]
fn server_restart_resumes_the_session_with_its_ephemerals_and_watches() {
    let mut zk = ZkServer::start().unwrap();
    let c = start_client(&zk.connect_string(), Duration::from_secs(8));
    let states = record_states(&c);
    let (id, _) = c.client_id().unwrap();
    c.create("/d", b"v0").unwrap();
    c.create("/p", b"").unwrap();
    c.create("/kids", b"").unwrap();
    let (eph, _) = c
        .create_with("/eph", b"", &CreateOptions::mode(CreateMode::Ephemeral))
        .unwrap();
    let (data, on_data) = recorder();
    let (child, on_child) = recorder();
    let (pers, on_pers) = recorder();
    c.get_watch("/d", on_data).unwrap();
    c.get_children_watch("/kids", on_child).unwrap();
    c.add_watch("/p", false, on_pers).unwrap();

    // The client's loop does not run from here until the changes are made, so it cannot
    // reconnect in between: the changes are certainly made while it is away.
    zk.restart().unwrap();
    // On a loop of its own: a client on the thread's default loop would drive c's too.
    let other = Client::builder(&zk.connect_string())
        .session_timeout(Duration::from_secs(8))
        .handler(mio_zookeeper::MioHandler::new().unwrap())
        .build()
        .unwrap();
    other.start(Some(LONG)).unwrap();
    other.set("/d", b"while away").unwrap();
    other.create("/kids/k", b"").unwrap();
    other.set("/p", b"while away").unwrap();

    wait_for(&c, "the one-shot watches", || {
        !data.borrow().is_empty() && !child.borrow().is_empty()
    });
    assert_eq!(c.state(), ClientState::Connected);
    assert_eq!(
        c.client_id().map(|(i, _)| i),
        Some(id),
        "the session resumed"
    );
    assert_eq!(
        *data.borrow(),
        vec![event(EventType::NodeDataChanged, "/d")]
    );
    assert_eq!(
        *child.borrow(),
        vec![event(EventType::NodeChildrenChanged, "/kids")]
    );
    let st = c.exists(&eph).unwrap().expect("the ephemeral survived");
    assert_eq!(st.ephemeral_owner, id);
    assert_eq!(
        other.exists(&eph).unwrap().map(|s| s.ephemeral_owner),
        Some(id)
    );
    // The persistent watch is back on the server; ZooKeeper does not replay what it
    // missed, so its watcher was told of the reconnect (see
    // every_watch_kind_survives_a_dropped_connection), then sees the change after it.
    other.set("/p", b"after").unwrap();
    wait_for(&c, "the persistent watch", || pers.borrow().len() >= 2);
    assert_eq!(
        *pers.borrow(),
        vec![
            event(EventType::None, "/p"),
            event(EventType::NodeDataChanged, "/p")
        ]
    );
    assert_eq!(
        *states.borrow(),
        vec![ClientState::Suspended, ClientState::Connected]
    );
    c.stop().unwrap();
    assert!(
        other.exists(&eph).unwrap().is_none(),
        "gone with the session"
    );
    other.stop().unwrap();
}

// ---------------------------------------------------------------- session expiry

#[test]
fn forced_expiry_is_lost_then_a_new_session_and_every_watcher_hears_it_once() {
    let zk = ZkServer::start().unwrap();
    let c = start_client(&zk.connect_string(), Duration::from_secs(4));
    let states = record_states(&c);
    let (old, _) = c.client_id().unwrap();
    for p in ["/d", "/p", "/r"] {
        c.create(p, b"").unwrap();
    }
    let (eph, _) = c
        .create_with("/eph", b"", &CreateOptions::mode(CreateMode::Ephemeral))
        .unwrap();
    let watchers: Vec<Events> = (0..5).map(|_| Events::default()).collect();
    let rec = |i: usize| {
        let e = watchers[i].clone();
        move |ev: WatchedEvent| e.borrow_mut().push(ev)
    };
    c.get_watch("/d", rec(0)).unwrap();
    c.exists_watch("/missing", rec(1)).unwrap();
    c.get_children_watch("/", rec(2)).unwrap();
    c.add_watch("/p", false, rec(3)).unwrap();
    c.add_watch("/r", true, rec(4)).unwrap();
    assert_eq!(c.watch_count(), 5);

    // In flight when the server closes the connection (they are written after it did).
    let in_flight: Vec<_> = (0..3).map(|_| c.get_async("/d")).collect();
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
        c.exists(&eph).unwrap().is_none(),
        "the ephemeral went with it"
    );
    // Nothing is left registered: changes fire no old watcher.
    c.set("/d", b"x").unwrap();
    c.set("/p", b"x").unwrap();
    c.create("/r/x", b"").unwrap();
    c.create("/missing", b"").unwrap();
    c.exists("/d").unwrap();
    c.handler().run_for(Duration::from_millis(20)).unwrap();
    for w in &watchers {
        assert_eq!(w.borrow().len(), 1);
    }
    // The new session works normally, ephemerals included.
    c.create_with("/eph", b"", &CreateOptions::mode(CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(c.exists("/eph").unwrap().unwrap().ephemeral_owner, new);
    c.stop().unwrap();
}

#[test]
fn credentials_are_sent_again_for_the_new_session_after_expiry() {
    let zk = ZkServer::start().unwrap();
    let c = start_client(&zk.connect_string(), Duration::from_secs(4));
    c.add_auth("digest", b"alice:secret").unwrap();
    c.create_with(
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
    assert_eq!(c.get("/secret").unwrap().0.as_deref(), Some(&b"s3"[..]));
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
    c.create("/n", b"").unwrap();
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    let waiting: Vec<_> = (0..4).map(|_| c.get_async("/n")).collect();
    let waiting_create = c.create_async("/never", None, &CreateOptions::default());
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
    assert!(c.exists("/never").unwrap().is_none(), "never sent");
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
    c.exists_watch("/x", on_watch).unwrap();
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
    match c.get("/x") {
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
    c.exists_watch("/x", on_watch).unwrap();

    zk.pause().unwrap();
    let paused = Instant::now();
    // Sent to the frozen server: in flight when the read timeout drops the connection.
    let in_flight = c.exists_async("/x");
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    assert!(matches!(
        in_flight.get(false, None),
        Err(Error::ConnectionLoss)
    ));
    // Made while SUSPENDED: waits, then fails when the client gives the session up.
    let waiting = c.exists_async("/x");
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
    let later = c.exists_async("/x");

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
    assert!(matches!(c.exists("/"), Err(Error::SessionExpired)));
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
    c.create_with(
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
    match stranger.get("/secret") {
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
    let queued = c.get_async("/secret");
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
            *f.borrow_mut() = Some(c2.get_async("/secret"));
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
    assert_eq!(c.get("/secret").unwrap().0.as_deref(), Some(&b"s3"[..]));
    c.stop().unwrap();
}

#[test]
fn credentials_added_at_run_time_outlive_a_restart() {
    // kazoo's add_auth adds to the client's auth_data, which every later connection replays,
    // restarts included.
    let zk = ZkServer::start().unwrap();
    let c = start_client(&zk.connect_string(), Duration::from_secs(6));
    c.add_auth("digest", b"alice:secret").unwrap();
    c.create_with(
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
    assert_eq!(c.get("/secret").unwrap().0.as_deref(), Some(&b"s3"[..]));
    c.stop().unwrap();
    c.start(Some(LONG)).unwrap();
    assert_eq!(c.get("/secret").unwrap().0.as_deref(), Some(&b"s3"[..]));
    c.stop().unwrap();
}

#[test]
fn auth_failure_is_terminal() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let states = record_states(&c);
    let (watched, on_watch) = recorder();
    c.exists_watch("/x", on_watch).unwrap();
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
    assert!(matches!(c.get("/x"), Err(Error::AuthFailed)));
    assert!(matches!(c.create("/y", b""), Err(Error::AuthFailed)));
    // A refused credential is not kept (only accepted ones are, as kazoo's auth_data):
    // starting again opens a session that works.
    c.start(Some(LONG)).unwrap();
    assert_eq!(c.session_state(), SessionState::Connected);
    assert!(c.exists("/").unwrap().is_some());
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
    assert_eq!(c.exists_watch("/untouched", on_watch).unwrap(), None);
    let creates: Vec<_> = (0..50)
        .map(|i| c.create_async(&format!("/n{i}"), None, &CreateOptions::default()))
        .collect();
    let reads: Vec<_> = (0..50).map(|_| c.exists_async("/n0")).collect();
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
    assert!(matches!(c.get("/n0"), Err(Error::ConnectionClosed)));
    assert!(matches!(
        c.exists_async("/n0").get(false, None),
        Err(Error::ConnectionClosed)
    ));
    c.stop().unwrap(); // idempotent

    c.restart().unwrap();
    assert_eq!(c.state(), ClientState::Connected);
    let (new, _) = c.client_id().unwrap();
    assert_ne!(new, old, "stop closed the old session");
    assert!(c.exists("/n49").unwrap().is_some());
    c.restart().unwrap();
    assert!(c.exists("/n0").unwrap().is_some());
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
    let waiting: Vec<_> = (0..10).map(|_| c.exists_async("/")).collect();
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
    assert!(c.exists("/").unwrap().is_some());
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
    c.exists_watch("/x", on_watch).unwrap();
    zk.pause().unwrap();
    let in_flight: Vec<_> = (0..5).map(|_| c.exists_async("/x")).collect();
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
    assert!(matches!(c.get("/"), Err(Error::ConnectionClosed)));
    c.start(Some(LONG)).unwrap();
    assert!(c.exists("/").unwrap().is_some());
    c.stop().unwrap();
}

#[test]
fn dropping_the_client_completes_its_requests_and_closes_the_session() {
    let zk = ZkServer::start().unwrap();
    let other = start_client(&zk.connect_string(), Duration::from_secs(10));

    // Requests in flight when the last handle goes complete: ConnectionClosed if never
    // written, ConnectionLoss if written and unanswered.
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    let pending: Vec<_> = (0..5).map(|_| c.exists_async("/")).collect();
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
        .create_with("/eph", b"", &CreateOptions::mode(CreateMode::Ephemeral))
        .unwrap();
    drop(c);
    let t0 = Instant::now();
    while other.exists(&eph).unwrap().is_some() {
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
    assert!(matches!(c.get("/"), Err(Error::ConnectionClosed)));

    // A server that accepts TCP connections but never answers: the same.
    let black_hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = Client::new(&black_hole.local_addr().unwrap().to_string()).unwrap();
    let t0 = Instant::now();
    assert!(matches!(c.start(Some(timeout)), Err(Error::Timeout)));
    assert!(t0.elapsed() < timeout + Duration::from_secs(2));
}
