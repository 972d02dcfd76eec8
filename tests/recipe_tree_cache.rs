//! TreeCache (issue #12 §1) against a real server: the initial load (nested, empty root,
//! missing root), add/update/remove events, no update on a child-only change, events in
//! server order, the queries, close and 1 000 start/close cycles leaving nothing behind
//! (client and server side), listeners that close the cache or call the client, and the
//! cache's ownership (weak client; the last handle closes it).

#[path = "cache_support/mod.rs"]
mod cache_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cache_support::*;
use mio_zookeeper::recipe::{CacheEvent, TreeCache};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{Client, CreateMode, Error};
use recipe_support::{poll_until, Host};

fn client(zk: &ZkServer) -> Client {
    let c = Client::new(&zk.connect_string()).unwrap();
    c.start(Some(LONG)).unwrap();
    c
}

fn started(zk: &Client, path: &str) -> (TreeCache, Log) {
    start_cache(zk, path)
}

#[test]
fn initial_load_of_a_nested_tree_reports_every_node_then_initialized() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    mk(&zk, "/app", "root");
    mk(&zk, "/app/a", "A");
    mk(&zk, "/app/a/x", "AX");
    mk(&zk, "/app/a/x/deep", "");
    mk(&zk, "/app/b", "B");
    zk.create("/app/null", mio_zookeeper::NullData, CreateMode::Persistent)
        .unwrap();
    mk(&zk, "/app-sibling", "not in the tree");

    let (cache, events) = started(&zk, "/app");
    assert!(cache.is_initialized());
    let log = drain(&events);
    assert_eq!(
        log.last().map(String::as_str),
        Some("initialized"),
        "{log:?}"
    );
    let mut added: Vec<&str> = log[..log.len() - 1].iter().map(String::as_str).collect();
    // A parent is always reported before its children.
    let pos = |p: &str| added.iter().position(|e| *e == p).unwrap();
    assert!(pos("+/app") < pos("+/app/a") && pos("+/app/a") < pos("+/app/a/x/deep"));
    added.sort();
    assert_eq!(
        added,
        [
            "+/app",
            "+/app/a",
            "+/app/a/x",
            "+/app/a/x/deep",
            "+/app/b",
            "+/app/null"
        ]
    );
    assert_eq!(cache.len(), 6);
    assert!(!cache.is_empty());
    assert_eq!(cache.path(), "/app");
    assert!(mirrors(&cache, &zk));

    // The queries.
    let a = cache.get_data("/app/a").unwrap();
    assert_eq!((a.path.as_str(), &a.data[..]), ("/app/a", &b"A"[..]));
    assert_eq!(a.stat, zk.exists("/app/a", None).unwrap().unwrap());
    assert_eq!(&cache.get_data("/app/null").unwrap().data[..], b"");
    assert_eq!(cache.get_children("/app").unwrap(), ["a", "b", "null"]);
    assert_eq!(
        cache.get_children("/app/a/x/deep").unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(cache.get_data("/app-sibling"), None, "outside the tree");
    assert_eq!(cache.get_children("/app-sibling"), None);
    assert_eq!(cache.get_data("/nope"), None);
    assert!(format!("{cache:?}").contains("nodes: 6"));
}

#[test]
fn an_empty_root_and_the_server_root() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    mk(&zk, "/empty", "");
    let (cache, events) = started(&zk, "/empty");
    assert_eq!(drain(&events), ["+/empty", "initialized"]);
    assert_eq!(cache.get_children("/empty").unwrap(), Vec::<String>::new());

    // "/" works too (with /zookeeper and its children).
    let (root, _) = started(&zk, "/");
    assert!(root
        .get_children("/")
        .unwrap()
        .contains(&"zookeeper".to_string()));
    assert!(mirrors(&root, &zk));
}

#[test]
fn a_missing_root_is_not_created_and_is_followed_once_it_appears() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    let (cache, events) = started(&zk, "/later");
    assert_eq!(drain(&events), ["initialized"], "initialized with nothing");
    assert!(cache.is_empty());
    assert_eq!(
        zk.exists("/later", None).unwrap(),
        None,
        "the cache wrote nothing"
    );

    mk(&zk, "/later", "v");
    mk(&zk, "/later/child", "c");
    wait_for(&zk, "the new tree", || cache.len() == 2);
    assert_eq!(drain(&events), ["+/later", "+/later/child"]);

    // The root goes (its subtree first) and comes back.
    zk.delete("/later/child", None).unwrap();
    zk.delete("/later", None).unwrap();
    wait_for(&zk, "the removal", || cache.is_empty());
    assert_eq!(drain(&events), ["-/later/child", "-/later"]);
    mk(&zk, "/later", "again");
    wait_for(&zk, "the root again", || cache.len() == 1);
    assert_eq!(drain(&events), ["+/later"]);
    wait_mirror(&zk, &cache);
}

#[test]
fn add_update_remove_events_and_no_update_on_a_child_only_change() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    mk(&zk, "/r", "r");
    let (cache, events) = started(&zk, "/r");
    drain(&events);

    mk(&zk, "/r/a", "1");
    wait_for(&zk, "the add", || cache.len() == 2);
    assert_eq!(
        drain(&events),
        ["+/r/a"],
        "no NODE_UPDATED for /r: only its children changed"
    );
    // The parent's stat still follows its children (from the children read).
    wait_for(&zk, "the parent's stat", || {
        cache.get_data("/r").unwrap().stat == zk.exists("/r", None).unwrap().unwrap()
    });

    zk.set("/r/a", b"2", None).unwrap();
    wait_for(&zk, "the update", || {
        &cache.get_data("/r/a").unwrap().data[..] == b"2"
    });
    assert_eq!(drain(&events), ["~/r/a=2"]);

    // The same data again is a change too (mzxid moves); a child of /r/a is not.
    zk.set("/r/a", b"2", None).unwrap();
    mk(&zk, "/r/a/b", "3");
    mk(&zk, "/r/a/b/c", "4");
    wait_for(&zk, "the subtree", || cache.len() == 4);
    assert_eq!(drain(&events), ["~/r/a=2", "+/r/a/b", "+/r/a/b/c"]);

    zk.delete("/r/a/b/c", None).unwrap();
    zk.delete("/r/a/b", None).unwrap();
    wait_for(&zk, "the removals", || cache.len() == 2);
    assert_eq!(drain(&events), ["-/r/a/b/c", "-/r/a/b"]);
    wait_mirror(&zk, &cache);
    assert!(drain(&events).is_empty());
}

#[test]
fn events_come_in_server_order_under_many_quick_changes() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    mk(&zk, "/q", "");
    mk(&zk, "/q/counter", "0");
    let (cache, events) = started(&zk, "/q");
    drain(&events);

    // A node created before its parent's update is reported first, though its data
    // comes after the parent's (kazoo #645).
    mk(&zk, "/q/first", "");
    zk.set("/q", b"then", None).unwrap();
    wait_for(&zk, "both", || events.borrow().len() == 2);
    assert_eq!(drain(&events), ["+/q/first", "~/q=then"]);

    // One writer, pipelined: nothing waits between the changes.
    const N: usize = 300;
    let done = Rc::new(Cell::new(0));
    let track = |r: mio_zookeeper::AsyncResult<_>| {
        let d = done.clone();
        r.rawlink(move |r: &mio_zookeeper::AsyncResult<_>| {
            assert!(r.successful(), "{:?}", r.exception());
            d.set(d.get() + 1)
        });
    };
    for i in 1..=N {
        let child = format!("/q/n{i:04}");
        track(zk.set_async("/q/counter", i.to_string(), None));
        zk.create_async(&child, i.to_string(), CreateMode::Persistent)
            .rawlink(|r| assert!(r.successful()));
        track(zk.set_async(&child, format!("{i}!"), None));
        if i % 2 == 0 {
            zk.delete_async(&child, None)
                .rawlink(|r| assert!(r.successful()));
        }
    }
    wait_for(&zk, "the writes", || done.get() == 2 * N);
    wait_mirror(&zk, &cache);
    let log: Vec<CacheEvent> = events.borrow_mut().drain(..).collect();
    assert_no_duplicates(&log, &["/q", "/q/counter", "/q/first"]);

    // The counter's values rise (some may be skipped: a one-shot watch coalesces), and
    // the last one is seen.
    let counter: Vec<usize> = log
        .iter()
        .filter_map(|e| match e {
            CacheEvent::NodeUpdated(n) if n.path == "/q/counter" => {
                Some(String::from_utf8_lossy(&n.data).parse().unwrap())
            }
            _ => None,
        })
        .collect();
    assert!(counter.windows(2).all(|w| w[0] < w[1]), "{counter:?}");
    assert_eq!(counter.last(), Some(&N));
}

#[test]
fn close_removes_every_watch_client_and_server_side_and_the_listener() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    mk(&zk, "/c", "");
    for i in 0..20 {
        mk(&zk, &format!("/c/{i}"), "x");
        mk(&zk, &format!("/c/{i}/leaf"), "y");
    }
    let before = (
        zk.watch_count(),
        zk.listener_count(),
        server_watches(&server),
    );
    let (cache, events) = started(&zk, "/c");
    assert!(zk.watch_count() > before.0);
    assert_eq!(zk.listener_count(), before.1 + 1);
    // `wchs` totals the data watches (the child watches are kept apart): one per node.
    assert_eq!(
        server_watches(&server),
        before.2 + 41,
        "a data watch per node"
    );

    cache.close();
    cache.close(); // idempotent
    wait_for(&zk, "the removals", || {
        zk.watch_count() == before.0 && zk.pending_requests() == 0
    });
    assert_eq!(zk.listener_count(), before.1);
    assert_eq!(
        server_watches(&server),
        before.2,
        "the server's watches are gone too"
    );
    assert!(cache.is_empty(), "a closed cache is empty");
    drain(&events);
    zk.set("/c/0", b"changed", None).unwrap();
    zk.sync("/c").unwrap();
    assert!(drain(&events).is_empty(), "no event after close");
    let err = cache.start(Some(LONG)).unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed), "{err}");
}

#[test]
fn a_thousand_start_close_cycles_leave_nothing_behind() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    mk(&zk, "/cyc", "");
    mk(&zk, "/cyc/a", "1");
    mk(&zk, "/cyc/a/b", "2");
    let before = (
        zk.watch_count(),
        zk.listener_count(),
        server_watches(&server),
    );
    for i in 0..1000 {
        let cache = TreeCache::new(&zk, "/cyc").unwrap();
        if i % 2 == 0 {
            cache.start(Some(LONG)).unwrap();
            assert_eq!(cache.len(), 3);
        } else {
            // Closed while its reads are in flight: their replies register watches
            // after the removal, which must be taken off too.
            drop(cache.start_async());
        }
        cache.close();
    }
    wait_for(&zk, "every removal", || {
        zk.watch_count() == before.0 && zk.pending_requests() == 0
    });
    assert_eq!(zk.listener_count(), before.1);
    assert_eq!(server_watches(&server), before.2);
}

#[test]
fn dropping_the_last_handle_closes_the_cache() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    mk(&zk, "/d", "");
    let before = (zk.watch_count(), zk.listener_count());
    let (cache, _) = started(&zk, "/d");
    let clone = cache.clone();
    drop(cache);
    assert_eq!(clone.len(), 1, "a clone keeps it running");
    assert_eq!(zk.listener_count(), before.1 + 1);
    drop(clone);
    wait_for(&zk, "the removals", || zk.watch_count() == before.0);
    assert_eq!(zk.listener_count(), before.1);
}

#[test]
fn the_cache_does_not_keep_the_session_open() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    mk(&zk, "/own", "");
    zk.create("/own/eph", b"", CreateMode::Ephemeral).unwrap();
    let (cache, _) = started(&zk, "/own");
    assert_eq!(cache.len(), 2);
    drop(zk); // the cache still exists, but holds the client weakly

    let other = client(&server);
    wait_for(&other, "the session's end", || {
        other.exists("/own/eph", None).unwrap().is_none()
    });
    cache.close(); // the client is gone: nothing to remove, no panic
    assert!(cache.is_empty());
}

#[test]
fn listeners_may_read_the_cache_call_the_client_and_close_it() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    mk(&zk, "/l", "");
    let cache = TreeCache::new(&zk, "/l").unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (c, z, s) = (cache.clone(), zk.downgrade(), seen.clone());
    cache.listen(move |ev| {
        if let CacheEvent::NodeAdded(n) = ev {
            // A read of the cache and a blocking call of the client (nested loop).
            let data = c.get_data(&n.path).map(|d| d.data);
            let exists = z
                .upgrade()
                .unwrap()
                .exists(&n.path, None)
                .unwrap()
                .is_some();
            s.borrow_mut()
                .push((n.path.clone(), data.is_some(), exists));
            if n.path == "/l/stop" {
                c.close();
            }
        }
    });
    let second = Rc::new(Cell::new(0));
    let s2 = second.clone();
    cache.listen(move |_| s2.set(s2.get() + 1));
    cache.start(Some(LONG)).unwrap();
    mk(&zk, "/l/a", "");
    mk(&zk, "/l/stop", "");
    wait_for(&zk, "the close from the listener", || cache.is_empty());
    mk(&zk, "/l/after", "");
    zk.sync("/l").unwrap();
    assert_eq!(
        *seen.borrow(),
        [
            ("/l".to_string(), true, true),
            ("/l/a".to_string(), true, true),
            ("/l/stop".to_string(), true, true)
        ]
    );
    // The second listener heard the events up to the close: /l, initialized, /l/a, /l/stop.
    assert_eq!(second.get(), 4);
    wait_for(&zk, "the removals", || zk.watch_count() == 0);
}

#[test]
fn an_invalid_path_is_refused() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    for bad in ["", "no-slash", "/trailing/", "/a//b"] {
        let err = TreeCache::new(&zk, bad).unwrap_err();
        assert!(matches!(err, Error::InvalidPath { .. }), "{bad:?}: {err}");
    }
}

#[test]
fn driven_by_poll_once_with_async_calls_only() {
    let server = ZkServer::start().unwrap();
    let zk = Client::new(&server.connect_string()).unwrap();
    let up = zk.start_async().unwrap();
    poll_until(&zk, "connected", || up.ready());
    let made = zk.create_async("/p", b"1", CreateMode::Persistent);
    poll_until(&zk, "/p", || made.ready());

    let cache = TreeCache::new(&zk, "/p").unwrap();
    let events = record(&cache);
    let started = cache.start_async();
    poll_until(&zk, "initialized", || started.ready());
    started.get_nowait().unwrap();
    assert_eq!(drain(&events), ["+/p", "initialized"]);

    drop(zk.create_async("/p/c", b"2", CreateMode::Persistent));
    drop(zk.set_async("/p", b"3", None));
    poll_until(&zk, "the changes", || events.borrow().len() == 2);
    assert_eq!(drain(&events), ["+/p/c", "~/p=3"]);
    cache.close();
    poll_until(&zk, "the removals", || zk.watch_count() == 0);
}

#[test]
fn embedded_in_a_hosts_poll_start_async_works_and_blocking_start_is_refused() {
    let server = ZkServer::start().unwrap();
    let mut host = Host::new();
    let handler = mio_zookeeper::MioHandler::embedded_in(&host.zk, 0..100).unwrap();
    let zk = Client::builder(&server.connect_string())
        .handler(handler)
        .build_with()
        .unwrap();
    let up = zk.start_async().unwrap();
    host.run_until("connected", || up.ready());
    let made = zk.create_async("/e", b"1", CreateMode::Persistent);
    host.run_until("/e", || made.ready());

    let cache = TreeCache::new(&zk, "/e").unwrap();
    let events = record(&cache);
    let err = cache.start(Some(LONG)).unwrap_err();
    assert!(
        matches!(err, Error::Loop(mio_zookeeper::LoopError::Embedded { .. })),
        "{err}"
    );
    // The refused wait left the load going: its result resolves from the host's loop.
    let started = cache.start_async();
    host.run_until("initialized", || started.ready());
    assert_eq!(drain(&events), ["+/e", "initialized"]);
    drop(zk.create_async("/e/c", b"2", CreateMode::Persistent));
    host.run_until("the add", || cache.len() == 2);
    assert_eq!(drain(&events), ["+/e/c"]);
    cache.close();
    host.run_until("the removals", || zk.watch_count() == 0);
}

/// Creates `/big` with `parents` children of `kids` children each, pipelined in batches.
fn make_big_tree(zk: &Client, parents: usize, kids: usize) {
    mk(zk, "/big", "");
    let mut batch = Vec::new();
    for i in 0..parents {
        let p = format!("/big/n{i}");
        batch.push(zk.create_async(&p, b"p", CreateMode::Persistent));
        for j in 0..kids {
            batch.push(zk.create_async(&format!("{p}/m{j}"), b"k", CreateMode::Persistent));
        }
        if batch.len() >= 1000 || i + 1 == parents {
            for r in batch.drain(..) {
                r.get(true, Some(LONG)).unwrap();
            }
        }
    }
}

#[test]
fn a_large_tree_loads_with_at_most_a_thousand_reads_in_flight() {
    let server = ZkServer::start().unwrap();
    let zk = client(&server);
    // 12 101 nodes, 24 202 reads: unbounded, they would pass the client's queue limit.
    make_big_tree(&zk, 100, 120);
    let cache = TreeCache::new(&zk, "/big").unwrap();
    let most = Rc::new(Cell::new(0));
    let (m, z) = (most.clone(), zk.downgrade());
    cache.listen(move |_| {
        let pending = z.upgrade().unwrap().pending_requests();
        m.set(m.get().max(pending));
    });
    cache.start(Some(LONG)).unwrap();
    assert_eq!(cache.len(), 1 + 100 * 121);
    assert!(
        most.get() > 100,
        "pipelined: {} reads in flight at most",
        most.get()
    );
    assert!(
        most.get() <= 1000,
        "bounded: {} reads in flight",
        most.get()
    );
    assert_eq!(zk.watch_count(), 2 * cache.len());
    assert!(mirrors(&cache, &zk));
}

#[test]
fn a_cache_started_before_its_client_loads_once_the_client_connects() {
    let server = ZkServer::start().unwrap();
    let writer = client(&server);
    mk(&writer, "/early", "e");
    let zk = Client::new(&server.connect_string()).unwrap();
    let cache = TreeCache::new(&zk, "/early").unwrap();
    let events = record(&cache);
    let started = cache.start_async();
    zk.start(Some(LONG)).unwrap();
    started.get(true, Some(LONG)).unwrap();
    let log = drain(&events);
    assert_eq!(log.iter().filter(|e| *e == "+/early").count(), 1, "{log:?}");
    assert_eq!(
        log.last().map(String::as_str),
        Some("initialized"),
        "{log:?}"
    );
    assert!(mirrors(&cache, &zk));
}

#[test]
fn under_a_chroot_paths_are_the_clients() {
    let server = ZkServer::start().unwrap();
    let admin = client(&server);
    mk(&admin, "/jail", "");
    mk(&admin, "/jail/app", "a");
    let zk = Client::new(&format!("{}/jail", server.connect_string())).unwrap();
    zk.start(Some(LONG)).unwrap();
    let (cache, events) = started(&zk, "/app");
    assert_eq!(drain(&events), ["+/app", "initialized"]);
    mk(&zk, "/app/x", "1");
    zk.set("/app", b"b", None).unwrap();
    wait_for(&zk, "the changes", || events.borrow().len() == 2);
    assert_eq!(drain(&events), ["+/app/x", "~/app=b"]);
    assert_eq!(cache.get_children("/app").unwrap(), ["x"]);
    wait_mirror(&zk, &cache);
}
