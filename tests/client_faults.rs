//! Failure semantics against a real server: dropped connections (through a
//! `testing::Proxy`), server restarts, forced session expiry (kazoo's way: a second
//! connection attaches to the session and closes it), client-side expiry (a paused server),
//! auth replay and auth failure, `stop()`, and `start()` timeouts.
//!
//! Every test has a server of its own. Waits are on events (`run_until`), never fixed
//! sleeps, except where a test asserts that something does *not* happen for a while.

mod faults_support;

use mio_zookeeper::{
    AddWatchMode, Client, ClientState, CreateMode, CreateOptions, Error, EventType, NullData,
    SessionState, Watcher,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio_zookeeper::testing::{Proxy, ZkServer};

use faults_support::*;

// ---------------------------------------------------------------- connection drops

#[test]
fn dropped_connection_fails_in_flight_requests_holds_new_ones_and_resumes_the_session() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let states = record_states(&c);
    let (id, pw) = c.client_id().unwrap();
    c.create("/n", b"v0", CreateMode::Persistent).unwrap();

    // Submitted on a live connection (so in flight), answered never: the connection goes
    // before the loop runs again.
    proxy.set_refusing(true);
    let in_flight: Vec<_> = (0..5).map(|_| c.get_async("/n", None)).collect();
    let write = c.set_async("/n", Bytes::from_static(b"lost?"), None);
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
    let held_set = c.set_async("/n", Bytes::from_static(b"v1"), None);
    let held_get = c.get_async("/n", None);
    let held_create = c.create_async("/m", NullData, CreateOptions::default());
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
        other.create(p, b"", CreateMode::Persistent).unwrap();
    }
    let (data, on_data) = recorder();
    let (exist, on_exist) = recorder();
    let (child, on_child) = recorder();
    let (pers, on_pers) = recorder();
    let (rec, on_rec) = recorder();
    c.get("/w/data", Watcher::new(on_data)).unwrap();
    assert_eq!(c.exists("/w/new", Watcher::new(on_exist)).unwrap(), None);
    c.get_children("/w/kids", Watcher::new(on_child)).unwrap();
    c.add_watch("/w/p", AddWatchMode::Persistent, on_pers)
        .unwrap();
    c.add_watch("/w/r", AddWatchMode::PersistentRecursive, on_rec)
        .unwrap();
    assert_eq!(c.watch_count(), 5);
    let id = c.client_id();

    // Cut the client off and change everything while it is away.
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    other.set("/w/data", b"changed", None).unwrap();
    other.create("/w/new", b"", CreateMode::Persistent).unwrap();
    other
        .create("/w/kids/k", b"", CreateMode::Persistent)
        .unwrap();
    other.set("/w/p", b"missed", None).unwrap();
    other
        .create("/w/r/missed", b"", CreateMode::Persistent)
        .unwrap();
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
    other.set("/w/p", b"after", None).unwrap();
    other
        .create("/w/r/after", b"", CreateMode::Persistent)
        .unwrap();
    wait_for(&c, "the persistent watches", || {
        pers.borrow().len() >= 2 && rec.borrow().len() >= 2
    });
    // One-shot watches fired once and are gone: changing the nodes again tells nobody.
    other.set("/w/data", b"again", None).unwrap();
    other.delete("/w/new", None).unwrap();
    other
        .create("/w/kids/k2", b"", CreateMode::Persistent)
        .unwrap();
    other.set("/w/p", b"after2", None).unwrap();
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
    other.create("/app", b"", CreateMode::Persistent).unwrap();
    other
        .create("/app/gone", b"", CreateMode::Persistent)
        .unwrap();
    other
        .create("/app/gone/kid", b"", CreateMode::Persistent)
        .unwrap();
    other
        .create("/app/stays", b"", CreateMode::Persistent)
        .unwrap();
    let c = start_client(
        &format!("{}/app", proxy.connect_string()),
        Duration::from_secs(6),
    );
    let (data, on_data) = recorder();
    let (child, on_child) = recorder();
    let (exists, on_exists) = recorder();
    let (stays, on_stays) = recorder();
    c.get("/gone", Watcher::new(on_data)).unwrap();
    c.get_children("/gone", Watcher::new(on_child)).unwrap();
    assert!(c
        .exists("/gone", Watcher::new(on_exists))
        .unwrap()
        .is_some());
    c.get("/stays", Watcher::new(on_stays)).unwrap();

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
    c.exists("/stays", None).unwrap();
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
    other.set("/app/stays", b"now", None).unwrap();
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
    c.create("/n", b"", CreateMode::Persistent).unwrap();
    let results: Vec<_> = (0..3000).map(|_| c.exists_async("/n", None)).collect();
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
    assert!(c.exists("/n", None).unwrap().is_some());
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
    c.create("/n", b"before", CreateMode::Persistent).unwrap();
    zk.pause().unwrap();
    let paused = Instant::now();
    let in_flight = c.get_async("/n", None);
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
    let waiting = c.get_async("/n", None);
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
    c.create("/d", b"old", CreateMode::Persistent).unwrap();
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let l = log.clone();
    c.get(
        "/d",
        Watcher::new(move |ev: mio_zookeeper::WatchedEvent| {
            l.borrow_mut().push(format!("watch {:?}", ev.event_type))
        }),
    )
    .unwrap();
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    other.set("/d", b"new", None).unwrap();
    // Queued while away: it goes out after the SetWatches that re-arms the watch.
    let read = c.get_async("/d", None);
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
    c.create("/p", b"", CreateMode::Persistent).unwrap();
    let (pers, on_pers) = recorder();
    c.add_watch("/p", AddWatchMode::Persistent, on_pers)
        .unwrap();
    let rounds = 10;
    for i in 0..rounds {
        let (d, on_d) = recorder();
        c.get("/p", Watcher::new(on_d)).unwrap();
        proxy.drop_connections();
        wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
        wait_for(&c, "CONNECTED", || c.state() == ClientState::Connected);
        c.set("/p", format!("{i}").as_bytes(), None).unwrap();
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
    c.create("/n", b"", CreateMode::Persistent).unwrap();
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
    assert!(c.exists("/n", None).unwrap().is_some());
    c.set("/n", b"still works", None).unwrap();
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
    c.create("/q", b"", CreateMode::Persistent).unwrap();
    // Connected: more than 3 requests at once is fine (they go out, not into the queue).
    let burst: Vec<_> = (0..20).map(|_| c.exists_async("/q", None)).collect();
    for r in &burst {
        assert!(r.get(true, Some(LONG)).unwrap().is_some());
    }

    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    let held: Vec<_> = (0..3).map(|_| c.exists_async("/q", None)).collect();
    let refused = c.exists_async("/q", None);
    assert!(refused.ready(), "refused at once, not queued");
    match refused.get(false, None) {
        Err(Error::QueueFull { limit: 3 }) => {}
        other => panic!("the 4th queued request must fail with QueueFull, got {other:?}"),
    }
    assert!(matches!(
        c.with_timeout(Some(LONG)).get("/q", None),
        Err(Error::QueueFull { limit: 3 })
    ));
    assert!(held.iter().all(|r| !r.ready()));

    proxy.set_refusing(false);
    for r in &held {
        assert!(r.get(true, Some(LONG)).unwrap().is_some());
    }
    assert!(
        c.exists("/q", None).unwrap().is_some(),
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
    c.create("/d", b"v0", CreateMode::Persistent).unwrap();
    c.create("/p", b"", CreateMode::Persistent).unwrap();
    c.create("/kids", b"", CreateMode::Persistent).unwrap();
    let (eph, _) = c
        .create("/eph", b"", CreateOptions::mode(CreateMode::Ephemeral))
        .unwrap();
    let (data, on_data) = recorder();
    let (child, on_child) = recorder();
    let (pers, on_pers) = recorder();
    c.get("/d", Watcher::new(on_data)).unwrap();
    c.get_children("/kids", Watcher::new(on_child)).unwrap();
    c.add_watch("/p", AddWatchMode::Persistent, on_pers)
        .unwrap();

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
    other.set("/d", b"while away", None).unwrap();
    other
        .create("/kids/k", b"", CreateMode::Persistent)
        .unwrap();
    other.set("/p", b"while away", None).unwrap();

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
    let st = c
        .exists(&eph, None)
        .unwrap()
        .expect("the ephemeral survived");
    assert_eq!(st.ephemeral_owner, id);
    assert_eq!(
        other.exists(&eph, None).unwrap().map(|s| s.ephemeral_owner),
        Some(id)
    );
    // The persistent watch is back on the server; ZooKeeper does not replay what it
    // missed, so its watcher was told of the reconnect (see
    // every_watch_kind_survives_a_dropped_connection), then sees the change after it.
    other.set("/p", b"after", None).unwrap();
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
        other.exists(&eph, None).unwrap().is_none(),
        "gone with the session"
    );
    other.stop().unwrap();
}
