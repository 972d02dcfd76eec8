//! Watches against a real server (issue #4 §3, §5): one-shot data, exist and child watches,
//! each fired exactly once with the right path and registered only on success; persistent
//! and persistent-recursive watches; removal of each watcher type; the ordering of watch
//! events and replies; and kazoo's `test_exists_watch` (KAZOO.md §6.3 item 13).

mod client_support;

use mio_zookeeper::{
    AddWatchMode, ClientState, CreateMode, Error, ErrorCode, EventType, KeeperState, NullData,
    Watcher, WatcherType, WhenOffline,
};
use std::time::Duration;

use client_support::*;

/// Long enough for a notification that should NOT come to have arrived (the server sends
/// them before the reply of the change that causes them, so after a round trip on the
/// watching client they would be in).
fn no_more(c: &mio_zookeeper::Client) {
    c.sync("/").unwrap();
    settle(c, Duration::from_millis(100));
}

fn ev(t: EventType, p: &str) -> (EventType, String) {
    (t, p.to_string())
}

#[test]
fn data_watch_fires_once() {
    let zk = server();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    c.create("/a", b"0", CreateMode::Persistent).unwrap();
    let events = Events::new();
    let (d, _) = c.get("/a", events.watcher()).unwrap();
    assert_eq!(d.as_deref(), Some(&b"0"[..]));
    assert_eq!(c.watch_count(), 1);
    other.set("/a", b"1", None).unwrap();
    other.set("/a", b"2", None).unwrap();
    wait_for(&c, "the data watch", || events.len() == 1);
    no_more(&c);
    assert_eq!(events.kinds(), [ev(EventType::NodeDataChanged, "/a")]);
    let e = &events.get()[0];
    assert_eq!(e.state, KeeperState::SyncConnected);
    assert_eq!(c.watch_count(), 0, "one-shot");

    // A data watch fires on delete too.
    c.get("/a", events.watcher()).unwrap();
    other.delete("/a", None).unwrap();
    wait_for(&c, "the delete", || events.len() == 2);
    no_more(&c);
    assert_eq!(events.kinds()[1], ev(EventType::NodeDeleted, "/a"));
    // Children of the node do not trigger a data watch.
    c.create("/b", b"", CreateMode::Persistent).unwrap();
    c.get("/b", events.watcher()).unwrap();
    other.create("/b/kid", b"", CreateMode::Persistent).unwrap();
    no_more(&c);
    assert_eq!(events.len(), 2);
    assert_eq!(c.watch_count(), 1);
}

/// kazoo `test_exists_watch`: a watch set by exists on a missing node fires when the node is
/// created, with the node's path.
#[test]
fn test_exists_watch() {
    let zk = server();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    let events = Events::new();
    assert_eq!(c.exists("/w", events.watcher()).unwrap(), None);
    assert_eq!(
        c.watch_count(),
        1,
        "exists on a missing node leaves a watch"
    );
    other.create("/w", b"", CreateMode::Persistent).unwrap();
    wait_for(&c, "the exist watch", || events.len() == 1);
    assert_eq!(events.kinds(), [ev(EventType::NodeCreated, "/w")]);
    other.set("/w", b"x", None).unwrap();
    no_more(&c);
    assert_eq!(events.len(), 1, "fired once");

    // On an existing node exists leaves a data watch: change, then delete.
    assert!(c.exists("/w", events.watcher()).unwrap().is_some());
    other.set("/w", b"y", None).unwrap();
    wait_for(&c, "the change", || events.len() == 2);
    assert!(c.exists("/w", events.watcher()).unwrap().is_some());
    other.delete("/w", None).unwrap();
    wait_for(&c, "the delete", || events.len() == 3);
    no_more(&c);
    assert_eq!(
        events.kinds(),
        [
            ev(EventType::NodeCreated, "/w"),
            ev(EventType::NodeDataChanged, "/w"),
            ev(EventType::NodeDeleted, "/w"),
        ]
    );
}

#[test]
fn child_watch_fires_once() {
    let zk = server();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    c.create("/p", b"", CreateMode::Persistent).unwrap();
    let events = Events::new();
    assert!(c.get_children("/p", events.watcher()).unwrap().is_empty());
    // Data changes of the node do not fire a child watch.
    other.set("/p", b"data", None).unwrap();
    other.create("/p/a", b"", CreateMode::Persistent).unwrap();
    other.create("/p/b", b"", CreateMode::Persistent).unwrap();
    wait_for(&c, "the child watch", || events.len() == 1);
    no_more(&c);
    assert_eq!(events.kinds(), [ev(EventType::NodeChildrenChanged, "/p")]);

    // Removing a child fires a new child watch; so does deleting the node itself.
    let mut kids = c.get_children("/p", events.watcher()).unwrap();
    kids.sort();
    assert_eq!(kids, ["a", "b"]);
    other.delete("/p/a", None).unwrap();
    wait_for(&c, "the child removal", || events.len() == 2);
    c.get_children("/p", events.watcher()).unwrap();
    other.delete("/p/b", None).unwrap();
    wait_for(&c, "the child removal", || events.len() == 3);
    c.get_children("/p", events.watcher()).unwrap();
    other.delete("/p", None).unwrap();
    wait_for(&c, "the node's removal", || events.len() == 4);
    no_more(&c);
    assert_eq!(
        events.kinds()[1..],
        [
            ev(EventType::NodeChildrenChanged, "/p"),
            ev(EventType::NodeChildrenChanged, "/p"),
            ev(EventType::NodeDeleted, "/p"),
        ]
    );
    assert_eq!(c.watch_count(), 0);
}

#[test]
fn every_kind_of_one_shot_watch_on_one_node_fires_on_delete() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/n", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    c.get("/n", log.watcher("get")).unwrap();
    c.exists("/n", log.watcher("exists")).unwrap();
    c.get_children("/n", log.watcher("children")).unwrap();
    assert_eq!(c.watch_count(), 3);
    c.delete("/n", None).unwrap();
    wait_for(&c, "three events", || log.len() == 3);
    let mut got = log.get();
    got.sort();
    assert_eq!(
        got,
        [
            "children NodeDeleted /n",
            "exists NodeDeleted /n",
            "get NodeDeleted /n",
        ]
    );
    assert_eq!(c.watch_count(), 0);
}

/// A watch is registered only when its request succeeds (exists on a missing node is a
/// success): a get or get_children on a missing node leaves none.
#[test]
fn watches_are_registered_only_on_success() {
    let zk = server();
    let c = client(&zk.connect_string());
    let log = Log::new();
    assert_zk(c.get("/m", log.watcher("get")), ErrorCode::NoNode, "/m");
    assert_zk(
        c.get_children("/m", log.watcher("children")),
        ErrorCode::NoNode,
        "/m",
    );
    // A request refused locally leaves none either.
    assert!(matches!(
        c.get("m", log.watcher("bad")),
        Err(Error::InvalidPath { .. })
    ));
    assert_eq!(c.watch_count(), 0);
    c.create("/m", b"", CreateMode::Persistent).unwrap();
    c.set("/m", b"x", None).unwrap();
    c.create("/m/kid", b"", CreateMode::Persistent).unwrap();
    c.delete("/m/kid", None).unwrap();
    c.delete("/m", None).unwrap();
    no_more(&c);
    assert!(log.is_empty(), "{:?}", log.get());
}

#[test]
fn persistent_watch_fires_repeatedly() {
    let zk = server();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    let events = Events::new();
    // On a node that does not exist yet.
    c.add_watch("/p", AddWatchMode::Persistent, events.watcher())
        .unwrap();
    assert_eq!(c.watch_count(), 1);
    other.create("/p", b"", CreateMode::Persistent).unwrap();
    other.set("/p", b"1", None).unwrap();
    other.set("/p", b"2", None).unwrap();
    other.create("/p/kid", b"", CreateMode::Persistent).unwrap();
    other.set("/p/kid", b"not seen", None).unwrap();
    other
        .create("/p/kid/grandkid", b"", CreateMode::Persistent)
        .unwrap();
    other.delete("/p/kid/grandkid", None).unwrap();
    other.delete("/p/kid", None).unwrap();
    other.delete("/p", None).unwrap();
    other.create("/p", b"", CreateMode::Persistent).unwrap();
    wait_for(&c, "seven events", || events.len() == 7);
    no_more(&c);
    assert_eq!(
        events.kinds(),
        [
            ev(EventType::NodeCreated, "/p"),
            ev(EventType::NodeDataChanged, "/p"),
            ev(EventType::NodeDataChanged, "/p"),
            ev(EventType::NodeChildrenChanged, "/p"),
            ev(EventType::NodeChildrenChanged, "/p"),
            ev(EventType::NodeDeleted, "/p"),
            ev(EventType::NodeCreated, "/p"),
        ]
    );
    assert_eq!(c.watch_count(), 1, "still registered");
}

#[test]
fn persistent_recursive_watch_sees_descendants_but_no_child_events() {
    let zk = server();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    let events = Events::new();
    c.add_watch("/r", AddWatchMode::PersistentRecursive, events.watcher())
        .unwrap();
    other.create("/r", b"", CreateMode::Persistent).unwrap();
    other.create("/r/a", b"", CreateMode::Persistent).unwrap();
    other.create("/r/a/b", b"", CreateMode::Persistent).unwrap();
    other.set("/r/a/b", b"x", None).unwrap();
    other.create("/rx", b"", CreateMode::Persistent).unwrap(); // a sibling whose name starts the same: not seen
    other.create("/other", b"", CreateMode::Persistent).unwrap();
    other.delete("/r/a/b", None).unwrap();
    other.set("/r", b"y", None).unwrap();
    wait_for(&c, "six events", || events.len() == 6);
    no_more(&c);
    assert_eq!(
        events.kinds(),
        [
            ev(EventType::NodeCreated, "/r"),
            ev(EventType::NodeCreated, "/r/a"),
            ev(EventType::NodeCreated, "/r/a/b"),
            ev(EventType::NodeDataChanged, "/r/a/b"),
            ev(EventType::NodeDeleted, "/r/a/b"),
            ev(EventType::NodeDataChanged, "/r"),
        ]
    );
    assert!(
        events
            .kinds()
            .iter()
            .all(|(t, _)| *t != EventType::NodeChildrenChanged),
        "a recursive watch never sees NodeChildrenChanged"
    );
    // A persistent watch and a one-shot watch on the same node both fire.
    let log = Log::new();
    c.get("/r/a", log.watcher("once")).unwrap();
    other.set("/r/a", b"z", None).unwrap();
    wait_for(&c, "both", || log.len() == 1 && events.len() == 7);
    assert_eq!(events.kinds()[6], ev(EventType::NodeDataChanged, "/r/a"));
    assert_eq!(log.get(), ["once NodeDataChanged /r/a"]);
}

#[test]
fn remove_data_and_child_watches() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/a", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();

    // Data: the get watch and an exists watch on a missing node are removed; each watcher
    // hears its removal once and nothing after.
    c.get("/a", log.watcher("data")).unwrap();
    c.get_children("/a", log.watcher("child")).unwrap();
    c.exists("/missing", log.watcher("exist")).unwrap();
    c.remove_watches("/a", WatcherType::Data, WhenOffline::Wait)
        .unwrap();
    c.remove_watches("/missing", WatcherType::Data, WhenOffline::Wait)
        .unwrap();
    wait_for(&c, "two removal events", || log.len() == 2);
    assert_eq!(
        log.get(),
        [
            "data DataWatchRemoved /a",
            "exist DataWatchRemoved /missing"
        ]
    );
    c.set("/a", b"x", None).unwrap();
    c.create("/missing", b"", CreateMode::Persistent).unwrap();
    no_more(&c);
    assert_eq!(log.len(), 2);
    // The child watch on /a was left alone.
    c.create("/a/kid", b"", CreateMode::Persistent).unwrap();
    wait_for(&c, "the child watch", || log.len() == 3);
    assert_eq!(log.get()[2], "child NodeChildrenChanged /a");

    // Children.
    log.clear();
    c.get("/a", log.watcher("data")).unwrap();
    c.get_children("/a", log.watcher("child")).unwrap();
    c.remove_watches("/a", WatcherType::Children, WhenOffline::Wait)
        .unwrap();
    wait_for(&c, "the removal event", || log.len() == 1);
    assert_eq!(log.get(), ["child ChildWatchRemoved /a"]);
    c.create("/a/kid2", b"", CreateMode::Persistent).unwrap();
    c.set("/a", b"y", None).unwrap();
    wait_for(&c, "the data watch", || log.len() == 2);
    no_more(&c);
    assert_eq!(log.get()[1], "data NodeDataChanged /a");

    // Any.
    log.clear();
    c.get("/a", log.watcher("data")).unwrap();
    c.get_children("/a", log.watcher("child")).unwrap();
    c.remove_watches("/a", WatcherType::Any, WhenOffline::Wait)
        .unwrap();
    wait_for(&c, "two removal events", || log.len() == 2);
    let mut got = log.get();
    got.sort();
    assert_eq!(
        got,
        ["child ChildWatchRemoved /a", "data DataWatchRemoved /a"]
    );
    c.delete("/a/kid", None).unwrap();
    c.set("/a", b"z", None).unwrap();
    no_more(&c);
    assert_eq!(log.len(), 2);
    assert_eq!(c.watch_count(), 0);

    // Nothing to remove: NoWatcher, naming the path.
    for t in [WatcherType::Data, WatcherType::Children, WatcherType::Any] {
        assert_zk(
            c.remove_watches("/a", t, WhenOffline::Wait),
            ErrorCode::NoWatcher,
            "/a",
        );
    }
    assert!(matches!(
        c.remove_watches("a", WatcherType::Any, WhenOffline::Wait),
        Err(Error::InvalidPath { .. })
    ));
}

#[test]
fn remove_persistent_watches() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/p", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    c.add_watch("/p", AddWatchMode::Persistent, log.watcher("persistent"))
        .unwrap();
    c.add_watch(
        "/p",
        AddWatchMode::PersistentRecursive,
        log.watcher("recursive"),
    )
    .unwrap();
    c.remove_watches("/p", WatcherType::Any, WhenOffline::Wait)
        .unwrap();
    wait_for(&c, "two removal events", || log.len() == 2);
    let mut got = log.get();
    got.sort();
    assert_eq!(
        got,
        [
            "persistent PersistentWatchRemoved /p",
            "recursive PersistentWatchRemoved /p"
        ]
    );
    c.set("/p", b"x", None).unwrap();
    c.create("/p/kid", b"", CreateMode::Persistent).unwrap();
    no_more(&c);
    assert_eq!(log.len(), 2);
    assert_eq!(c.watch_count(), 0);
}

#[test]
fn remove_watches_locally_while_disconnected() {
    let mut zk = server();
    let c = client(&zk.connect_string());
    let other_conn = zk.connect_string();
    c.create("/a", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    c.get("/a", log.watcher("data")).unwrap();
    c.add_watch("/a", AddWatchMode::Persistent, log.watcher("persistent"))
        .unwrap();
    let states = record_states(&c);
    zk.stop().unwrap();
    wait_for(&c, "SUSPENDED", || {
        states.borrow().contains(&ClientState::Suspended)
    });
    // Not reachable: without `local` the request waits for the server; with it the watches
    // go at once, on this side.
    c.remove_watches("/a", WatcherType::Any, WhenOffline::RemoveLocally)
        .unwrap();
    let mut got = log.get();
    got.sort();
    assert!(got.is_empty(), "removal events are queued, not run inline");
    wait_for(&c, "two removal events", || log.len() == 2);
    let mut got = log.get();
    got.sort();
    assert_eq!(
        got,
        [
            "data DataWatchRemoved /a",
            "persistent PersistentWatchRemoved /a"
        ]
    );
    assert_eq!(c.watch_count(), 0);
    zk.start_again().unwrap();
    wait_for(&c, "CONNECTED again", || {
        c.state() == ClientState::Connected
    });
    // They were not re-registered: a change fires nothing.
    let other = client(&other_conn);
    other.set("/a", b"x", None).unwrap();
    no_more(&c);
    assert_eq!(log.len(), 2, "{:?}", log.get());
}

/// A watch event is seen before the reply that reflects the change (ZooKeeper's ordering
/// guarantee, issue #4 §3): the watcher on /a has run by the time a get of /a made after
/// another client's change returns, for a blocking call and for a linked callback alike.
#[test]
fn watch_event_comes_before_the_reply_that_reflects_it() {
    let zk = server();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    c.create("/a", b"0", CreateMode::Persistent).unwrap();
    let log = Log::new();
    for round in 1..=5 {
        let value = round.to_string();
        let l = log.clone();
        c.get("/a", Watcher::new(move |e| l.push(fmt_event("watch", &e))))
            .unwrap();
        other.set("/a", value.as_bytes(), None).unwrap();
        let (d, _) = c.get("/a", None).unwrap();
        assert_eq!(d.as_deref(), Some(value.as_bytes()));
        log.push(format!("get returned {value}"));
    }
    let expected: Vec<String> = (1..=5)
        .flat_map(|i| {
            [
                "watch NodeDataChanged /a".to_string(),
                format!("get returned {i}"),
            ]
        })
        .collect();
    assert_eq!(log.get(), expected);

    // The same with callbacks: the watcher runs before the reply's completion callback.
    log.clear();
    c.get("/a", log.watcher("watch")).unwrap();
    c.add_watch("/a", AddWatchMode::Persistent, log.watcher("persistent"))
        .unwrap();
    other.set("/a", b"async", None).unwrap();
    let l = log.clone();
    c.get_async("/a", None).rawlink(move |r| {
        let data = r.value().and_then(|(d, _)| d).unwrap_or_default();
        l.push(format!("reply {}", String::from_utf8_lossy(&data)));
    });
    wait_for(&c, "three callbacks", || log.len() == 3);
    assert_eq!(
        log.get(),
        [
            "watch NodeDataChanged /a",
            "persistent NodeDataChanged /a",
            "reply async"
        ]
    );
}

/// Watchers hear once that the session is gone when the client stops (kazoo's NONE event),
/// then are dropped.
#[test]
fn watchers_hear_the_session_end_on_stop() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/a", b"", CreateMode::Persistent).unwrap();
    let events = Events::new();
    c.get("/a", events.watcher()).unwrap();
    c.exists("/none", events.watcher()).unwrap();
    c.get_children("/a", events.watcher()).unwrap();
    c.add_watch("/a", AddWatchMode::PersistentRecursive, events.watcher())
        .unwrap();
    c.stop().unwrap();
    wait_for(&c, "four session events", || events.len() == 4);
    for e in events.get() {
        assert_eq!(e.event_type, EventType::None);
        assert_eq!(e.state, KeeperState::Closed);
        assert_eq!(e.path, None);
    }
    assert_eq!(c.watch_count(), 0);
    c.start(Some(WAIT)).unwrap();
    c.set("/a", b"x", None).unwrap();
    no_more(&c);
    assert_eq!(events.len(), 4);
}

/// A watcher may call the client, blocking, from inside its callback (kazoo's recipes do).
#[test]
fn a_watcher_can_rearm_itself_with_a_blocking_call() {
    let zk = server();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    c.create("/a", b"0", CreateMode::Persistent).unwrap();
    let seen = Log::new();

    fn arm(c: &mio_zookeeper::Client, seen: &Log) {
        let (c2, s2) = (c.clone(), seen.clone());
        let (d, _) = c
            .get("/a", Watcher::new(move |_| arm(&c2, &s2)))
            .expect("get from inside a watcher");
        seen.push(String::from_utf8_lossy(&d.unwrap_or_default()).into_owned());
    }
    arm(&c, &seen);
    for v in ["1", "2", "3"] {
        other.set("/a", v.as_bytes(), None).unwrap();
        wait_for(&c, "the watcher to re-arm", || {
            seen.get().last().map(String::as_str) == Some(v)
        });
    }
    assert_eq!(seen.get(), ["0", "1", "2", "3"]);
    assert_eq!(c.watch_count(), 1);
}

/// `WatcherType::Persistent` and `PersistentRecursive` (types 4 and 5) need a 3.9+ server
/// (ZOOKEEPER-4466); a 3.8 server cannot decode them and answers MarshallingError. Either
/// way the client stays consistent with the server: removed watchers hear their removal,
/// refused ones stay registered and keep firing.
#[test]
fn remove_persistent_watches_by_type() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/p", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    c.add_watch("/p", AddWatchMode::Persistent, log.watcher("persistent"))
        .unwrap();
    c.add_watch(
        "/q",
        AddWatchMode::PersistentRecursive,
        log.watcher("recursive"),
    )
    .unwrap();
    let p = c.remove_watches("/p", WatcherType::Persistent, WhenOffline::Wait);
    let q = c.remove_watches("/q", WatcherType::PersistentRecursive, WhenOffline::Wait);
    if c.server_version().unwrap() >= (3, 9, 0) {
        p.unwrap();
        q.unwrap();
        wait_for(&c, "two removal events", || log.len() == 2);
        assert_eq!(
            log.get(),
            [
                "persistent PersistentWatchRemoved /p",
                "recursive PersistentWatchRemoved /q"
            ]
        );
        assert_eq!(c.watch_count(), 0);
        c.set("/p", b"x", None).unwrap();
        c.create("/q", b"", CreateMode::Persistent).unwrap();
        no_more(&c);
        assert_eq!(log.len(), 2);
    } else {
        assert_zk(p, ErrorCode::MarshallingError, "/p");
        assert_zk(q, ErrorCode::MarshallingError, "/q");
        assert_eq!(c.watch_count(), 2, "refused: still registered");
        c.set("/p", b"x", None).unwrap();
        c.create("/q", b"", CreateMode::Persistent).unwrap();
        wait_for(&c, "both watches", || log.len() == 2);
        assert_eq!(
            log.get(),
            ["persistent NodeDataChanged /p", "recursive NodeCreated /q"]
        );
        // Before 3.9 persistent watches are removed with Any.
        c.remove_watches("/p", WatcherType::Any, WhenOffline::Wait)
            .unwrap();
        c.remove_watches("/q", WatcherType::Any, WhenOffline::Wait)
            .unwrap();
        wait_for(&c, "two removal events", || log.len() == 4);
        assert_eq!(c.watch_count(), 0);
    }
}

/// Completions and watch callbacks run in the order the server sent their triggers: with
/// requests pipelined, a notification sent between two replies runs between their
/// callbacks.
#[test]
fn callbacks_run_in_wire_order() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/x", b"", CreateMode::Persistent).unwrap();
    c.create("/w", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    c.get("/w", log.watcher("watch")).unwrap();
    c.add_watch("/w", AddWatchMode::Persistent, log.watcher("persistent"))
        .unwrap();
    let l = log.clone();
    c.get_async("/x", None).rawlink(move |_| l.push("reply 1"));
    let l = log.clone();
    // The server sends the notification of this set before the set's own reply.
    c.set_async("/w", NullData, None)
        .rawlink(move |_| l.push("reply 2 (set)"));
    let l = log.clone();
    c.get_async("/x", None).rawlink(move |_| l.push("reply 3"));
    wait_for(&c, "five callbacks", || log.len() == 5);
    assert_eq!(
        log.get(),
        [
            "reply 1",
            "watch NodeDataChanged /w",
            "persistent NodeDataChanged /w",
            "reply 2 (set)",
            "reply 3"
        ]
    );
}
