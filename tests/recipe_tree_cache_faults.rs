//! TreeCache across faults (issue #12 §3), against real servers: a blip on the same
//! session (only what changed is reported), random connection cuts while a writer
//! changes the tree (the cache ends equal to the server's tree, no change reported
//! twice), a server restart, session expiry (CONNECTION_LOST, then exactly the
//! differences on the new session; nothing when nothing changed), and a 3-node ensemble
//! losing the client's server.

#[path = "cache_support/mod.rs"]
mod cache_support;

use std::time::Duration;

use cache_support::*;
use mio_zookeeper::recipe::{CacheEvent, TreeCache};
use mio_zookeeper::testing::{Proxy, RandomCuts, SeededRng, ZkEnsemble, ZkServer};
use mio_zookeeper::{Client, CreateMode, MioHandler};

/// A started client on `hosts` (10 s sessions, quick reconnects), on `handler` if given.
fn client_on(hosts: &str, handler: Option<&MioHandler>) -> Client {
    let b = Client::builder(hosts)
        .session_timeout(Duration::from_secs(10))
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(400));
    let c = match handler {
        Some(h) => b.handler(h.clone()).build_with().unwrap(),
        None => b.build().unwrap(),
    };
    c.start(Some(LONG)).unwrap();
    c
}

/// A cache of `root` on `zk`, started, with its event log.
fn cache_on(zk: &Client, root: &str) -> (TreeCache, Log) {
    start_cache(zk, root)
}

/// The node events of `log`, sorted (for changes whose order is not fixed).
fn sorted_nodes(log: &[String]) -> Vec<String> {
    let mut v: Vec<String> = log
        .iter()
        .filter(|e| e.starts_with(['+', '-', '~']))
        .cloned()
        .collect();
    v.sort();
    v
}

fn connection_events(log: &[String]) -> Vec<&str> {
    log.iter()
        .map(String::as_str)
        .filter(|e| !e.starts_with(['+', '-', '~']))
        .collect()
}

/// Changes `/f` the same way in every test: one update, one add, one removal (a
/// subtree), one node left alone.
fn change_tree(w: &Client) {
    w.set("/f/a", b"a2", None).unwrap();
    mk(w, "/f/new", "n");
    w.delete("/f/b/deep", None).unwrap();
    w.delete("/f/b", None).unwrap();
}

fn make_tree(w: &Client) {
    mk(w, "/f", "");
    mk(w, "/f/a", "a1");
    mk(w, "/f/b", "b");
    mk(w, "/f/b/deep", "d");
    mk(w, "/f/same", "s");
}

const CHANGES: [&str; 4] = ["+/f/new", "-/f/b", "-/f/b/deep", "~/f/a=a2"];

#[test]
fn a_blip_on_the_same_session_reports_only_what_changed_meanwhile() {
    let server = ZkServer::start().unwrap();
    let proxy = Proxy::start(server.addr()).unwrap();
    let writer = client_on(&server.connect_string(), None);
    make_tree(&writer);
    let zk = client_on(&proxy.connect_string(), None);
    let (cache, events) = cache_on(&zk, "/f");
    let session = zk.client_id().unwrap().0;
    drain(&events);

    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&zk, "suspended", || {
        events.borrow().contains(&CacheEvent::ConnectionSuspended)
    });
    change_tree(&writer);
    proxy.set_refusing(false);
    wait_mirror(&zk, &cache);
    // The removal comes with the parent's child watch: wait for all four.
    wait_for(&zk, "every change", || events.borrow().len() >= 6);
    assert_eq!(zk.client_id().unwrap().0, session, "the same session");
    let log = drain(&events);
    assert_eq!(
        connection_events(&log),
        ["suspended", "reconnected"],
        "{log:?}"
    );
    assert_eq!(
        log[1], "reconnected",
        "the changes come after the reconnect: {log:?}"
    );
    assert_eq!(sorted_nodes(&log), CHANGES, "{log:?}");

    // The watches are in place again: a later change is seen.
    writer.set("/f/same", b"s2", None).unwrap();
    wait_for(&zk, "a later change", || events.borrow().len() == 1);
    assert_eq!(drain(&events), ["~/f/same=s2"]);
}

#[test]
fn random_cuts_while_a_writer_changes_the_tree() {
    let server = ZkServer::start().unwrap();
    let proxy = Proxy::start(server.addr()).unwrap();
    // One loop for both clients: the writer's blocking calls run the cache's client too.
    let handler = MioHandler::new().unwrap();
    let writer = client_on(&server.connect_string(), Some(&handler));
    mk(&writer, "/f", "");
    let zk = client_on(&proxy.connect_string(), Some(&handler));
    let (cache, events) = cache_on(&zk, "/f");
    drain(&events);

    proxy
        .start_random_cuts(
            RandomCuts::new(12).every(Duration::from_millis(30), Duration::from_millis(250)),
        )
        .unwrap();
    let mut rng = SeededRng::new(7);
    for i in 0..400 {
        let a = format!("/f/n{}", rng.below(8));
        let b = format!("{a}/m{}", rng.below(3));
        let path = if rng.chance(60) { a } else { b };
        let _ = match rng.below(3) {
            0 => writer
                .create(&path, i.to_string(), CreateMode::Persistent)
                .map(|_| ()),
            1 => writer.set(&path, i.to_string(), None).map(|_| ()),
            _ => writer.delete(&path, None),
        };
        if i % 50 == 0 {
            writer.sleep(Duration::from_millis(100)).unwrap();
        }
    }
    proxy.stop_random_cuts();
    assert!(proxy.cuts() > 0, "the proxy cut the connection");
    wait_mirror(&zk, &cache);
    let log: Vec<CacheEvent> = events.borrow().clone();
    assert_no_duplicates(&log, &["/f"]);
    assert!(log.contains(&CacheEvent::ConnectionSuspended));
    assert!(
        !log.contains(&CacheEvent::ConnectionLost),
        "the session survived"
    );

    // Replaying the events on the first tree gives the last one.
    let mut replay = std::collections::BTreeMap::new();
    replay.insert("/f".to_string(), ());
    for ev in &log {
        match ev {
            CacheEvent::NodeAdded(n) => assert!(replay.insert(n.path.clone(), ()).is_none()),
            CacheEvent::NodeRemoved(n) => assert!(replay.remove(&n.path).is_some()),
            _ => {}
        }
    }
    let now: Vec<String> = server_tree(&writer, "/f").into_keys().collect();
    assert_eq!(replay.into_keys().collect::<Vec<_>>(), now);
}

#[test]
fn a_server_restart() {
    let mut server = ZkServer::start().unwrap();
    let zk = client_on(&server.connect_string(), None);
    make_tree(&zk);
    let (cache, events) = cache_on(&zk, "/f");
    drain(&events);

    server.stop().unwrap();
    wait_for(&zk, "suspended", || {
        events.borrow().contains(&CacheEvent::ConnectionSuspended)
    });
    server.start_again().unwrap();
    let writer = client_on(&server.connect_string(), None);
    change_tree(&writer);
    wait_mirror(&zk, &cache);
    wait_for(&zk, "every change", || events.borrow().len() >= 6);
    let log = drain(&events);
    assert_eq!(
        connection_events(&log),
        ["suspended", "reconnected"],
        "{log:?}"
    );
    assert_eq!(sorted_nodes(&log), CHANGES, "{log:?}");
}

#[test]
fn session_expiry_reports_lost_then_exactly_the_differences() {
    let server = ZkServer::start().unwrap();
    let writer = client_on(&server.connect_string(), None);
    make_tree(&writer);
    let zk = client_on(&server.connect_string(), None);
    let (cache, events) = cache_on(&zk, "/f");
    assert_eq!(zk.watch_count(), 2 * 5, "a data and a child watch per node");
    drain(&events);

    // The cache's client does not run meanwhile: the changes are made on no session of
    // its own, and no watch tells it.
    expire_session(server.addr(), &zk);
    change_tree(&writer);
    wait_for(&zk, "the new session's load", || {
        events.borrow().contains(&CacheEvent::ConnectionReconnected) && mirrors(&cache, &writer)
    });
    wait_for(&zk, "every change", || {
        sorted_nodes(&drain_peek(&events)).len() == 4
    });
    let log = drain(&events);
    let conn = connection_events(&log);
    assert_eq!(conn.last(), Some(&"reconnected"), "{log:?}");
    assert!(conn.contains(&"lost"), "{log:?}");
    let lost = log.iter().position(|e| e == "lost").unwrap();
    assert!(
        log[..lost].iter().all(|e| !e.starts_with(['+', '-', '~'])),
        "{log:?}"
    );
    assert_eq!(
        sorted_nodes(&log),
        CHANGES,
        "exactly the differences: {log:?}"
    );
    assert!(
        !log.contains(&"initialized".to_string()),
        "initialized once only"
    );

    // Watched again on the new session, with no watcher left over from the old one.
    wait_for(&zk, "the watches", || zk.watch_count() == 2 * cache.len());
    writer.set("/f/same", b"s2", None).unwrap();
    wait_for(&zk, "a later change", || !events.borrow().is_empty());
    assert_eq!(drain(&events), ["~/f/same=s2"]);
}

/// The log, shortened, without emptying it.
fn drain_peek(events: &Log) -> Vec<String> {
    events.borrow().iter().map(short).collect()
}

#[test]
fn a_new_session_with_nothing_changed_reports_no_node_event() {
    let server = ZkServer::start().unwrap();
    let zk = client_on(&server.connect_string(), None);
    make_tree(&zk);
    let (cache, events) = cache_on(&zk, "/f");
    drain(&events);
    expire_session(server.addr(), &zk);
    wait_for(&zk, "the new session's load", || {
        events.borrow().contains(&CacheEvent::ConnectionReconnected) && zk.pending_requests() == 0
    });
    // A write and its event show that the load is over and watches are back.
    zk.set("/f/same", b"s2", None).unwrap();
    wait_for(&zk, "the write's event", || {
        drain_peek(&events).contains(&"~/f/same=s2".to_string())
    });
    let log = drain(&events);
    assert_eq!(
        log.iter()
            .filter(|e| e.starts_with(['+', '-', '~']))
            .collect::<Vec<_>>(),
        ["~/f/same=s2"],
        "{log:?}"
    );
    assert!(mirrors(&cache, &zk));
}

#[test]
fn a_three_node_ensemble_losing_the_clients_server() {
    let mut ens = ZkEnsemble::start(3).unwrap();
    let zk = client_on(&ens.connect_string(), None);
    make_tree(&zk);
    let (cache, events) = cache_on(&zk, "/f");
    drain(&events);
    let on = zk.current_server().unwrap();
    let idx = ens
        .servers()
        .iter()
        .position(|s| s.connect_string() == on)
        .unwrap();
    let others: Vec<String> = ens
        .servers()
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != idx)
        .map(|(_, s)| s.connect_string())
        .collect();
    ens.stop(idx).unwrap();
    let writer = client_on(&others.join(","), None);
    change_tree(&writer);
    wait_for(&zk, "the reconnect elsewhere", || {
        zk.connected() && zk.current_server().as_deref() != Some(on.as_str())
    });
    wait_mirror(&zk, &cache);
    wait_for(&zk, "every change", || {
        sorted_nodes(&drain_peek(&events)).len() == 4
    });
    let log = drain(&events);
    assert_eq!(sorted_nodes(&log), CHANGES, "{log:?}");
    assert!(
        !log.contains(&"lost".to_string()),
        "the session moved: {log:?}"
    );
}

#[test]
fn a_cut_during_the_initial_load_retries_the_failed_reads_promptly() {
    let server = ZkServer::start().unwrap();
    let proxy = std::rc::Rc::new(Proxy::start(server.addr()).unwrap());
    let writer = client_on(&server.connect_string(), None);
    mk(&writer, "/f", "");
    let mut batch = Vec::new();
    for i in 0..40 {
        let p = format!("/f/n{i}");
        batch.push(writer.create_async(&p, b"", CreateMode::Persistent));
        for j in 0..50 {
            batch.push(writer.create_async(&format!("{p}/m{j}"), b"x", CreateMode::Persistent));
        }
    }
    for r in batch {
        r.get(true, Some(LONG)).unwrap();
    }

    let zk = client_on(&proxy.connect_string(), None);
    let cache = TreeCache::new(&zk, "/f").unwrap();
    let events = record(&cache);
    // Cut once, with hundreds of reads in flight.
    let cut_at = std::rc::Rc::new(std::cell::Cell::new(None));
    let (p, c, z) = (proxy.clone(), cut_at.clone(), zk.downgrade());
    cache.listen(move |ev| {
        let busy = z.upgrade().is_some_and(|z| z.pending_requests() > 200);
        if matches!(ev, CacheEvent::NodeAdded(_)) && busy && c.get().is_none() {
            c.set(Some(std::time::Instant::now()));
            p.drop_connections();
        }
    });
    cache.start(Some(LONG)).unwrap();
    let cut = cut_at.get().expect("the load was cut");
    assert!(
        cut.elapsed() < Duration::from_secs(8),
        "the failed reads were retried at once, not after a backoff grown per read: {:?}",
        cut.elapsed()
    );
    let log: Vec<CacheEvent> = events.borrow().clone();
    assert!(log.contains(&CacheEvent::ConnectionSuspended));
    assert_no_duplicates(&log, &[]);
    assert_eq!(cache.len(), 1 + 40 * 51);
    assert!(mirrors(&cache, &writer));
}

#[test]
fn closing_while_disconnected_removes_the_watches_here_and_they_are_not_set_again() {
    let server = ZkServer::start().unwrap();
    let proxy = Proxy::start(server.addr()).unwrap();
    let writer = client_on(&server.connect_string(), None);
    make_tree(&writer);
    let before = server_watches(&server);
    let zk = client_on(&proxy.connect_string(), None);
    let listeners = zk.listener_count();
    let (cache, events) = cache_on(&zk, "/f");
    assert_eq!(server_watches(&server), before + 5);

    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&zk, "suspended", || {
        events.borrow().contains(&CacheEvent::ConnectionSuspended)
    });
    cache.close();
    wait_for(&zk, "the local removals", || zk.watch_count() == 0);
    assert_eq!(zk.listener_count(), listeners);
    proxy.set_refusing(false);
    wait_for(&zk, "the reconnect", || zk.connected());
    zk.sync("/f").unwrap();
    assert_eq!(
        server_watches(&server),
        before,
        "no watch set again on the server"
    );
    assert_eq!(zk.watch_count(), 0);
}
