//! RecursiveCache against a real server: the initial load (nested, empty root, missing
//! root, 20 000 nodes), the events of changes, queries, close and start/close cycles, and
//! the three driving modes (blocking, `poll_once`, embedded in a host's `mio::Poll`).

#[path = "cache_support/mod.rs"]
mod cache_support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use cache_support::*;
use mio::{Events, Poll};
use mio_zookeeper::recipe::{CacheEvent, RecursiveCache};
use mio_zookeeper::{
    Client, CreateMode, CreateOptions, EmbeddedHost, Error, LoopError, MioHandler, WatcherType,
    WhenOffline,
};

/// A cache of `path`, recorded, started (blocking).
fn started(c: &Client, path: &str) -> (RecursiveCache, Log) {
    start_cache(c, path)
}

#[test]
fn initial_load_of_a_nested_tree_reports_each_node_then_initialized() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&c, "/app", "root");
    make(&c, "/app/a", "1");
    make(&c, "/app/a/x", "deep");
    make(&c, "/app/a/x/y", "");
    make(&c, "/app/b", "2");
    make(&c, "/app-sibling", "not mine");
    let (cache, log) = started(&c, "/app");
    assert!(cache.is_initialized());
    let events = described(&log, 0);
    assert_eq!(events.last().unwrap(), "initialized");
    let mut added = events[..events.len() - 1].to_vec();
    // Parents come before their children.
    assert_eq!(added[0], "added /app=root");
    added.sort();
    assert_eq!(
        added,
        [
            "added /app/a/x/y=",
            "added /app/a/x=deep",
            "added /app/a=1",
            "added /app/b=2",
            "added /app=root"
        ]
    );
    assert_eq!(cache.len(), 5);
    assert_eq!(cache.get_children("/app").unwrap(), ["a", "b"]);
    assert_eq!(
        cache.get_children("/app/a/x/y").unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(cache.get_children("/app-sibling"), None);
    let x = cache.get_data("/app/a/x").unwrap();
    assert_eq!(x.data, "deep");
    assert_eq!(x.stat, c.get("/app/a/x", None).unwrap().1);
    assert_eq!(cache.get_data("/nope"), None);
    assert_eq!(cache_tree(&cache), server_tree(&c, "/app"));
    cache.close();
}

#[test]
fn an_empty_root_and_a_missing_root_that_appears_later() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&c, "/empty", "e");
    let (empty, elog) = started(&c, "/empty");
    assert_eq!(described(&elog, 0), ["added /empty=e", "initialized"]);
    assert_eq!(empty.get_children("/empty").unwrap(), Vec::<String>::new());

    let (cache, log) = started(&c, "/later");
    assert_eq!(described(&log, 0), ["initialized"]);
    assert!(cache.is_empty() && cache.get_children("/later").is_none());
    c.create("/later/x/y", "z", CreateOptions::default().with_makepath())
        .unwrap();
    wait_for(&c, "the new tree", || cache.len() == 3);
    assert_eq!(
        described(&log, 1),
        ["added /later=", "added /later/x=", "added /later/x/y=z"]
    );
    c.delete_recursive("/later").unwrap();
    wait_for(&c, "the tree gone", || cache.is_empty());
    assert_eq!(
        described(&log, 4),
        ["removed /later/x/y", "removed /later/x", "removed /later"]
    );
    empty.close();
    cache.close();
}

#[test]
fn a_tree_of_20000_nodes_loads_without_queue_full_and_equals_the_server() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    let mut nodes = vec![("/big".to_string(), b"r".to_vec())];
    for d in 0..20 {
        nodes.push((format!("/big/d{d}"), Vec::new()));
        for n in 0..1000 {
            nodes.push((format!("/big/d{d}/n{n}"), format!("v{n}").into_bytes()));
        }
    }
    create_all(&c, &nodes);
    let (cache, log) = started(&c, "/big");
    assert_eq!(cache.len(), nodes.len());
    assert_eq!(log.borrow().len(), nodes.len() + 1);
    assert_eq!(cache_tree(&cache), server_tree(&c, "/big"));
    assert_eq!(cache.get_children("/big/d7").unwrap().len(), 1000);
    cache.close();
}

#[test]
fn changes_are_reported_as_added_updated_removed() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&c, "/r", "");
    make(&c, "/r/a", "1");
    let (cache, log) = started(&c, "/r");
    let mark = log.borrow().len();
    make(&c, "/r/b", "new");
    c.set("/r/a", "2", None).unwrap();
    c.set("/r/a", "2", None).unwrap(); // same data, new mzxid: still a change
    c.delete("/r/b", None).unwrap();
    wait_for(&c, "four events", || log.borrow().len() == mark + 4);
    assert_eq!(
        described(&log, mark),
        [
            "added /r/b=new",
            "updated /r/a=2",
            "updated /r/a=2",
            "removed /r/b"
        ]
    );
    assert_eq!(cache.get_data("/r/a").unwrap().data, "2");
    assert_eq!(cache.get_children("/r").unwrap(), ["a"]);
    replay(&log);
    cache.close();
}

#[test]
fn a_child_change_does_not_update_its_parent() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&c, "/p", "parent");
    let (cache, log) = started(&c, "/p");
    let mark = log.borrow().len();
    make(&c, "/p/kid", "k");
    c.delete("/p/kid", None).unwrap();
    make(&c, "/p/kid2", "k2");
    wait_for(&c, "the second child", || {
        cache.get_data("/p/kid2").is_some()
    });
    assert_eq!(
        described(&log, mark),
        ["added /p/kid=k", "removed /p/kid", "added /p/kid2=k2"]
    );
    // No read of the parent either: its stat is as of its last data change (a recursive
    // watch reports no child changes), while its children are current.
    assert_eq!(cache.get_data("/p").unwrap().stat.num_children, 0);
    assert_eq!(cache.get_children("/p").unwrap(), ["kid2"]);
    cache.close();
}

#[test]
fn deleting_a_subtree_removes_it_deepest_first() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    for p in ["/s", "/s/a", "/s/a/b", "/s/a/b/c", "/s/a/d", "/s/keep"] {
        make(&c, p, "x");
    }
    let (cache, log) = started(&c, "/s");
    let mark = log.borrow().len();
    c.delete_recursive("/s/a").unwrap();
    wait_for(&c, "the subtree gone", || cache.len() == 2);
    let removed = described(&log, mark);
    assert_eq!(removed.len(), 4, "{removed:?}");
    let pos = |p: &str| removed.iter().position(|e| e == p).unwrap();
    assert!(pos("removed /s/a/b/c") < pos("removed /s/a/b"));
    assert!(pos("removed /s/a/b") < pos("removed /s/a"));
    assert!(pos("removed /s/a/d") < pos("removed /s/a"));
    assert_eq!(cache.get_children("/s").unwrap(), ["keep"]);
    assert!(cache.get_data("/s/a/b").is_none());
    cache.close();
}

#[test]
fn many_quick_changes_come_in_server_order() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    let writer = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&c, "/q", "");
    let (cache, log) = started(&c, "/q");
    let mark = log.borrow().len();
    // Pipelined from another session: 300 creations, then updates in reverse order.
    for i in 0..300 {
        drop(writer.create_async(&format!("/q/n{i:03}"), "c", CreateOptions::default()));
    }
    for i in (0..300).rev() {
        drop(writer.set_async(&format!("/q/n{i:03}"), "u", None));
    }
    let last = writer.set_async("/q", "done", None);
    wait_for(&c, "the writes", || last.ready());
    wait_for(&c, "the last event", || {
        node_events(&log, mark).last().map(String::as_str) == Some("updated /q=done")
    });
    let events = node_events(&log, mark);
    // A read made after later changes shows the later data (once); the order holds.
    let updated: Vec<&String> = events
        .iter()
        .filter(|e| e.starts_with("updated /q/"))
        .collect();
    assert!(updated.iter().all(|e| e.ends_with("=u")), "{updated:?}");
    let mut order = updated.clone();
    order.sort();
    order.reverse();
    assert_eq!(updated, order, "updates in the order they were made");
    let added: Vec<&str> = events
        .iter()
        .filter_map(|e| e.strip_prefix("added "))
        .map(|e| e.split('=').next().unwrap())
        .collect();
    let expected: Vec<String> = (0..300).map(|i| format!("/q/n{i:03}")).collect();
    assert_eq!(added, expected, "every creation, in the order made");
    // Creations and deletions racing: the result equals the server's tree, each event once.
    for i in 0..300 {
        drop(writer.create_async(&format!("/q/x{i:03}"), "c", CreateOptions::default()));
        if i % 3 == 2 {
            drop(writer.delete_async(&format!("/q/x{:03}", i - 2), None));
            drop(writer.delete_async(&format!("/q/n{i:03}"), None));
        }
    }
    let last = writer.set_async("/q", "again", None);
    wait_for(&c, "the writes", || last.ready());
    wait_mirror(&c, &cache);
    assert_eq!(replay(&log), server_tree(&c, "/q"));
    cache.close();
}

#[test]
fn close_removes_the_watch_the_listener_and_the_server_watch() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&c, "/w", "");
    make(&c, "/w/a", "");
    let watches = c.watch_count();
    let listeners = c.listener_count();
    let wchs = zk.four_letter("wchs").unwrap();
    let (cache, log) = started(&c, "/w");
    assert_eq!(c.watch_count(), watches + 1);
    assert_eq!(c.listener_count(), listeners + 1);
    cache.close();
    cache.close(); // idempotent
    assert_eq!(c.listener_count(), listeners);
    wait_for(&c, "the watch removed", || c.watch_count() == watches);
    let watched = || watch_totals(&zk.four_letter("wchs").unwrap());
    assert_eq!(watch_totals(&wchs), (0, 0));
    let give_up = Instant::now() + LONG;
    while watched() != (0, 0) {
        assert!(Instant::now() < give_up, "the server kept the watch");
        c.sleep(Duration::from_millis(50)).unwrap();
    }
    // No more events, but the cached nodes stay readable.
    let mark = log.borrow().len();
    c.set("/w/a", "changed", None).unwrap();
    c.sleep(Duration::from_millis(200)).unwrap();
    assert_eq!(log.borrow().len(), mark);
    assert_eq!(cache.get_data("/w/a").unwrap().data, "");
    assert!(
        cache.start(Some(LONG)).is_err(),
        "a closed cache does not start"
    );
}

#[test]
fn a_thousand_start_close_cycles_leave_nothing_behind() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&c, "/cyc", "");
    make(&c, "/cyc/a", "");
    let watches = c.watch_count();
    let listeners = c.listener_count();
    for i in 0..1000 {
        let cache = RecursiveCache::new(&c, "/cyc").unwrap();
        let _r = cache.start_async();
        if i % 2 == 0 {
            // Closed before the addWatch reply; the reply's callback removes the watch.
            cache.close();
        } else {
            wait_for(&c, "loaded", || cache.is_initialized());
            cache.close();
        }
    }
    // Dropped without close: closes as well.
    {
        let cache = RecursiveCache::new(&c, "/cyc").unwrap();
        cache.start(Some(LONG)).unwrap();
    }
    wait_for(&c, "every watch removed", || c.watch_count() == watches);
    assert_eq!(c.listener_count(), listeners);
    let give_up = Instant::now() + LONG;
    while watch_totals(&zk.four_letter("wchs").unwrap()) != (0, 0) {
        assert!(Instant::now() < give_up, "the server kept a watch");
        c.sleep(Duration::from_millis(50)).unwrap();
    }
}

#[test]
fn listeners_may_close_and_query_from_inside_the_callback() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&c, "/in", "");
    let cache = RecursiveCache::new(&c, "/in").unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (s, cc) = (seen.clone(), cache.clone());
    cache.listen(move |ev| {
        if let CacheEvent::NodeAdded(n) = ev {
            // Queries while called.
            s.borrow_mut()
                .push((n.path.clone(), cc.get_data(&n.path).is_some(), cc.len()));
            if n.path == "/in/stop" {
                cc.close();
            }
        }
    });
    let after = Rc::new(Cell::new(0));
    let a = after.clone();
    cache.listen(move |_| a.set(a.get() + 1));
    cache.start(Some(LONG)).unwrap();
    make(&c, "/in/stop", "");
    wait_for(&c, "closed", || c.watch_count() == 0);
    make(&c, "/in/later", "");
    c.sleep(Duration::from_millis(200)).unwrap();
    assert_eq!(
        *seen.borrow(),
        [
            ("/in".to_string(), true, 1),
            ("/in/stop".to_string(), true, 2)
        ]
    );
    // The second listener heard /in, INITIALIZED, and not /in/stop (closed before it).
    assert_eq!(after.get(), 2);
}

#[test]
fn the_cache_ends_silently_when_the_client_is_dropped() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&c, "/gone", "");
    c.create("/mark", "", CreateMode::Ephemeral).unwrap();
    let (cache, log) = started(&c, "/gone");
    drop(c);
    // The session closes (its ephemeral node goes): the cache does not hold it open.
    let other = start_client(&zk.connect_string(), Duration::from_secs(10));
    let give_up = Instant::now() + LONG;
    while other.exists("/mark", None).unwrap().is_some() {
        assert!(Instant::now() < give_up, "the session stayed open");
        other.sleep(Duration::from_millis(50)).unwrap();
    }
    other.set("/gone", "x", None).unwrap();
    other.sleep(Duration::from_millis(200)).unwrap();
    assert_eq!(described(&log, 0), ["added /gone=", "initialized"]);
    cache.close();
    assert_eq!(cache.len(), 1);
}

#[test]
fn driven_by_poll_once() {
    let zk = server();
    let c = Client::builder(&zk.connect_string())
        .handler(MioHandler::new().unwrap())
        .build_with()
        .unwrap();
    let started = c.start_async().unwrap();
    let give_up = Instant::now() + LONG;
    let turn = || {
        assert!(Instant::now() < give_up, "timed out");
        c.poll_once(Some(Duration::from_millis(100))).unwrap();
    };
    while !started.ready() {
        turn();
    }
    let made = c.create_async("/po/a", "1", CreateOptions::default().with_makepath());
    while !made.ready() {
        turn();
    }
    let cache = RecursiveCache::new(&c, "/po").unwrap();
    let log = record(&cache);
    let loaded = cache.start_async();
    while !loaded.ready() {
        turn();
    }
    loaded.get_nowait().unwrap();
    let set = c.set_async("/po/a", "2", None);
    while log.borrow().len() < 4 {
        turn();
    }
    assert!(set.ready());
    assert_eq!(
        described(&log, 0),
        [
            "added /po=",
            "added /po/a=1",
            "initialized",
            "updated /po/a=2"
        ]
    );
    cache.close();
}

/// One turn of a host's loop: I/O (no longer than the reactors' next timer), the
/// reactors' events handed to them, then what they queued.
fn host_turn(poll: &mut Poll, events: &mut Events, host: &EmbeddedHost) {
    let cap = Duration::from_millis(100);
    let bound = host.next_timeout().unwrap_or(cap).min(cap);
    poll.poll(events, Some(bound)).unwrap();
    events.iter().for_each(|ev| {
        host.handle_event(ev);
    });
    host.run_pending().unwrap();
}

#[test]
fn embedded_in_a_hosts_poll() {
    let zk = server();
    let mut poll = Poll::new().unwrap();
    let host = EmbeddedHost::new(poll.registry()).unwrap();
    let mut events = Events::with_capacity(64);
    let handler = MioHandler::embedded_in(&host, 0..100).unwrap();
    let c = Client::builder(&zk.connect_string())
        .handler(handler)
        .build_with()
        .unwrap();
    let give_up = Instant::now() + LONG;
    let mut turn = || {
        assert!(Instant::now() < give_up, "timed out");
        host_turn(&mut poll, &mut events, &host);
    };
    let started = c.start_async().unwrap();
    while !started.ready() {
        turn();
    }
    let made = c.create_async("/em/a", "1", CreateOptions::default().with_makepath());
    while !made.ready() {
        turn();
    }
    let cache = RecursiveCache::new(&c, "/em").unwrap();
    let log = record(&cache);
    assert!(matches!(
        cache.start(Some(LONG)),
        Err(Error::Loop(LoopError::Embedded { .. }))
    ));
    assert!(log.borrow().is_empty(), "a refused start starts nothing");
    let loaded = cache.start_async();
    while !loaded.ready() {
        turn();
    }
    loaded.get_nowait().unwrap();
    drop(c.create_async("/em/b", "2", CreateOptions::default()));
    while log.borrow().len() < 4 {
        turn();
    }
    assert_eq!(
        described(&log, 0),
        [
            "added /em=",
            "added /em/a=1",
            "initialized",
            "added /em/b=2"
        ]
    );
    cache.close();
    while c.watch_count() != 0 {
        turn();
    }
}

#[test]
fn a_bad_path_is_refused() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    assert!(matches!(
        RecursiveCache::new(&c, "no-slash"),
        Err(Error::InvalidPath { .. })
    ));
    assert!(RecursiveCache::new(&c, "/a/").is_err());
}

#[test]
fn a_watch_removed_behind_the_cache_is_added_again() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&c, "/rw/a", "1");
    let (cache, log) = started(&c, "/rw");
    c.remove_watches("/rw", WatcherType::Any, WhenOffline::Wait)
        .unwrap();
    assert_eq!(c.watch_count(), 0);
    c.set("/rw/a", "changed while unwatched", None).unwrap();
    wait_for(&c, "the watch back", || c.watch_count() == 1);
    wait_mirror(&c, &cache);
    c.set("/rw/a", "2", None).unwrap();
    wait_for(&c, "the update", || saw(&log, 0, "updated /rw/a=2"));
    assert_eq!(replay(&log), server_tree(&c, "/rw"));
    cache.close();
}

#[test]
fn started_before_its_client_it_fails_then_follows_once_the_client_connects() {
    let zk = server();
    let w = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&w, "/early/a", "1");
    let c = Client::new(&zk.connect_string()).unwrap();
    let cache = RecursiveCache::new(&c, "/early").unwrap();
    let log = record(&cache);
    assert!(matches!(
        cache.start(Some(LONG)),
        Err(Error::ConnectionClosed)
    ));
    c.start(Some(LONG)).unwrap();
    wait_for(&c, "loaded", || cache.is_initialized());
    assert_eq!(
        described(&log, 0),
        [
            "reconnected",
            "added /early=",
            "added /early/a=1",
            "initialized"
        ]
    );
    cache.close();
}
