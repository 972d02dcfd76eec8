//! Removing exactly one watcher (issue #11 §2), against a real server: the
//! [`WatchRegistration`] of `add_watch` and `remove_watcher` for one-shot watches remove
//! the watcher they name and nothing else; other watchers on the same path keep firing; the
//! server is told (removeWatches) only when the last watcher of a kind on the path goes.
//! Also the kazoo names that came with the reshape: `ensure_path` with an ACL, ACLs on
//! transaction creates, `last_zxid`.

mod client_support;

use std::time::Duration;

use client_support::*;
use mio_zookeeper::{
    make_digest_acl, AddWatchMode, CreateMode, CreateOptions, ErrorCode, Perms, WatcherType,
    WhenOffline,
};

/// How long a test lets an event that must not come arrive.
const QUIET: Duration = Duration::from_millis(500);

/// Whether the server holds a watch on `path` (the `wchp` four-letter word: each watched
/// path on a line of its own, then the watching sessions).
fn server_watches(c: &mio_zookeeper::Client, path: &str) -> bool {
    let report = c.command("wchp").expect("wchp");
    report.lines().any(|l| l.trim_end() == path)
}

#[test]
fn removing_one_of_two_persistent_watchers_leaves_the_other_firing() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/p", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    let a = c
        .add_watch("/p", AddWatchMode::Persistent, log.watcher("a"))
        .unwrap();
    let b = c
        .add_watch("/p", AddWatchMode::Persistent, log.watcher("b"))
        .unwrap();
    assert_eq!(c.watch_count(), 2);
    assert_eq!((a.path(), a.kind()), ("/p", WatcherType::Persistent));

    // Not the last one: removed here, at once, without a round trip.
    let r = a.remove_async();
    assert!(r.ready(), "a local removal needs no reply from the server");
    r.take(false, None).unwrap();
    wait_for(&c, "a's removal event", || log.len() == 1);
    assert_eq!(log.get(), ["a PersistentWatchRemoved /p"]);
    assert_eq!(c.watch_count(), 1);

    assert!(server_watches(&c, "/p"), "b still needs the server's watch");
    c.set("/p", b"1", None).unwrap();
    wait_for(&c, "b still hears changes", || log.len() == 2);
    settle(&c, QUIET);
    assert_eq!(
        log.get(),
        ["a PersistentWatchRemoved /p", "b NodeDataChanged /p"]
    );

    // The last one: the server's watch goes too (on 3.8, which cannot decode the
    // persistent type, with `Any`: nothing else watches /p).
    b.remove().unwrap();
    wait_for(&c, "b's removal event", || log.len() == 3);
    assert_eq!(log.get()[2], "b PersistentWatchRemoved /p");
    assert_eq!(c.watch_count(), 0);
    assert!(!server_watches(&c, "/p"), "the server's watch is gone too");
    c.set("/p", b"2", None).unwrap();
    settle(&c, QUIET);
    assert_eq!(log.len(), 3, "nobody hears /p any more");

    // Removed already: NoWatcher, nothing sent.
    assert_zk(b.remove(), ErrorCode::NoWatcher, "/p");
}

#[test]
fn removing_one_of_two_one_shot_watchers_leaves_the_other_armed() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/o", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    let (a, b) = (log.watcher("a"), log.watcher("b"));
    c.get("/o", &a).unwrap();
    c.exists("/o", &b).unwrap();
    let kids = log.watcher("kids");
    c.get_children("/o", &kids).unwrap();
    assert_eq!(c.watch_count(), 3);

    // `a` goes; `b` (an exists watch: a data watch on the server too) still needs the
    // server's data watch, so nothing is sent.
    let r = c.remove_watcher_async("/o", WatcherType::Data, &a, WhenOffline::Wait);
    assert!(r.ready(), "a local removal needs no reply from the server");
    r.take(false, None).unwrap();
    wait_for(&c, "a's removal event", || log.len() == 1);
    assert_eq!(log.get(), ["a DataWatchRemoved /o"]);
    // A watcher that is not (or no longer) there: NoWatcher, and the others stay.
    assert_zk(
        c.remove_watcher("/o", WatcherType::Data, &a, WhenOffline::Wait),
        ErrorCode::NoWatcher,
        "/o",
    );
    assert_zk(
        c.remove_watcher("/o", WatcherType::Children, &b, WhenOffline::Wait),
        ErrorCode::NoWatcher,
        "/o",
    );
    assert_eq!(c.watch_count(), 2);

    c.set("/o", b"x", None).unwrap();
    wait_for(&c, "b fires", || log.len() == 2);
    settle(&c, QUIET);
    assert_eq!(log.get(), ["a DataWatchRemoved /o", "b NodeDataChanged /o"]);

    // The child watcher is the last of its kind: removed on the server too.
    c.remove_watcher("/o", WatcherType::Children, &kids, WhenOffline::Wait)
        .unwrap();
    wait_for(&c, "kids' removal event", || log.len() == 3);
    assert_eq!(log.get()[2], "kids ChildWatchRemoved /o");
    assert_eq!(c.watch_count(), 0);
    assert!(
        !server_watches(&c, "/o"),
        "the server's child watch is gone"
    );
    c.create("/o/child", b"", CreateMode::Persistent).unwrap();
    settle(&c, QUIET);
    assert_eq!(log.len(), 3);
}

#[test]
fn the_last_persistent_watcher_removed_beside_a_one_shot_one_keeps_the_one_shot_watch() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/m", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    let p = c
        .add_watch("/m", AddWatchMode::Persistent, log.watcher("p"))
        .unwrap();
    c.get("/m", log.watcher("once")).unwrap();
    p.remove().unwrap();
    wait_for(&c, "p's removal event", || log.len() == 1);
    assert_eq!(log.get(), ["p PersistentWatchRemoved /m"]);
    c.set("/m", b"x", None).unwrap();
    wait_for(&c, "the one-shot watcher fires", || log.len() == 2);
    settle(&c, QUIET);
    assert_eq!(
        log.get(),
        ["p PersistentWatchRemoved /m", "once NodeDataChanged /m"]
    );
}

#[test]
fn a_registration_removes_only_its_own_watcher_of_a_recursive_watch() {
    let zk = server();
    let c = client(&zk.connect_string());
    let log = Log::new();
    let shared = log.watcher("shared");
    let r1 = c
        .add_watch("/t", AddWatchMode::PersistentRecursive, &shared)
        .unwrap();
    let _r2 = c
        .add_watch(
            "/t",
            AddWatchMode::PersistentRecursive,
            log.watcher("other"),
        )
        .unwrap();
    assert!(r1.watcher().same(&shared));
    r1.remove().unwrap();
    c.create("/t", b"", CreateMode::Persistent).unwrap();
    c.create("/t/deep", b"", CreateMode::Persistent).unwrap();
    wait_for(&c, "two events for the other watcher", || log.len() == 3);
    settle(&c, QUIET);
    assert_eq!(
        log.get(),
        [
            "shared PersistentWatchRemoved /t",
            "other NodeCreated /t",
            "other NodeCreated /t/deep"
        ]
    );
}

#[test]
fn ensure_path_and_transaction_creates_take_an_acl() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.add_auth("digest", b"alice:pw").unwrap();
    let alice = vec![make_digest_acl("alice", "pw", Perms::ALL)];
    c.ensure_path("/secure/deep", Some(alice.clone())).unwrap();
    assert_eq!(c.get_acls("/secure").unwrap().0, alice);
    assert_eq!(c.get_acls("/secure/deep").unwrap().0, alice);
    let results = c
        .transaction()
        .create(
            "/secure/tx",
            b"",
            CreateOptions::mode(CreateMode::Persistent).with_acl(alice.clone()),
        )
        .create("/open", b"", CreateMode::Persistent)
        .commit()
        .unwrap();
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(c.get_acls("/secure/tx").unwrap().0, alice);
    assert_eq!(
        c.get_acls("/open").unwrap().0,
        mio_zookeeper::Acl::open_unsafe()
    );
}

#[test]
fn last_zxid_is_the_highest_zxid_seen() {
    let zk = server();
    let c = client(&zk.connect_string());
    let before = c.last_zxid();
    let (_, stat) = c.create("/z", b"", CreateMode::Persistent).unwrap();
    assert!(c.last_zxid() >= stat.czxid && stat.czxid > before);
    let stat = c.set("/z", b"1", None).unwrap();
    assert!(c.last_zxid() >= stat.mzxid);
    c.stop().unwrap();
    assert_eq!(c.last_zxid(), 0, "no session");
}

/// Removing the last registered watcher of a kind while another watcher's read of the same
/// kind is still in flight on that path: the server sets the read's watch when it answers,
/// so a removeWatches sent now would take that watch away and leave the other watcher
/// registered here but deaf. The removal stays local instead (found by the watch recipes,
/// which stop and restart on one path).
#[test]
fn removing_a_watcher_while_another_registration_is_in_flight_keeps_the_server_watch() {
    let zk = server();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    c.create("/x", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    let w1 = log.watcher("w1");
    let w2 = log.watcher("w2");
    c.get_children("/x", &w1).unwrap();
    // w2's read goes out first; w1's removal is planned before its reply is in.
    let read = c.get_children_async("/x", &w2);
    let removed = c.remove_watcher_async("/x", WatcherType::Children, &w1, WhenOffline::Wait);
    read.get(true, Some(WAIT)).unwrap();
    removed.get(true, Some(WAIT)).unwrap();
    assert_eq!(c.watch_count(), 1, "w2 is registered in the client");
    // (`wchp` lists data watches only: the child watch shows by firing.)

    other.create("/x/kid", b"", CreateMode::Persistent).unwrap();
    wait_for(&c, "w2 hears the new child", || {
        log.get()
            .iter()
            .any(|l| l.starts_with("w2 NodeChildrenChanged"))
    });
}
