//! Chroot against a real server (issue #4 §2, §5): a client on `host/app` works inside
//! `/app`; every path it gets back (create results, sync, errors, watch events, transaction
//! results, ephemerals) is without the chroot; a client without chroot sees the nodes under
//! `/app`. Plus kazoo's `test_chroot` / `test_hosts` (KAZOO.md §6.3 item 7).

mod client_support;

use client_support::*;
use mio_zookeeper::{
    AddWatchMode, Client, CreateMode, CreateOptions, Error, ErrorCode, EventType, OpResult, ReadOp,
    ReadResult, WhenOffline, ZkError,
};

fn ev(t: EventType, p: &str) -> (EventType, String) {
    (t, p.to_string())
}

#[test]
fn chroot_client_works_inside_its_root() {
    let zk = server();
    let root = client(&zk.connect_string());
    root.create("/app", b"", CreateMode::Persistent).unwrap();
    let c = client(&format!("{}/app", zk.connect_string()));
    assert_eq!(c.chroot().as_deref(), Some("/app"));

    // Creates return paths without the chroot.
    assert_eq!(
        c.create("/x", b"x", CreateMode::Persistent).unwrap().0,
        "/x"
    );
    let (p, _) = c
        .create(
            "/s-",
            b"",
            CreateOptions::mode(CreateMode::PersistentSequential),
        )
        .unwrap();
    assert_eq!(p, "/s-0000000001");
    let (p, _) = c
        .create(
            "/deep/er/node",
            b"",
            &CreateOptions {
                makepath: true,
                ..CreateOptions::default()
            },
        )
        .unwrap();
    assert_eq!(p, "/deep/er/node");
    // A bare sequence number right under the chroot (trailing '/') stays inside it.
    let (p, _) = c
        .create(
            "/",
            b"",
            CreateOptions::mode(CreateMode::EphemeralSequential),
        )
        .unwrap();
    assert_eq!(p, "/0000000003");
    let res = c
        .transaction()
        .create("/", b"", CreateMode::PersistentSequential)
        .commit()
        .unwrap();
    assert!(
        matches!(&res[0], OpResult::Create(p) if p == "/0000000004"),
        "{res:?}"
    );
    assert!(root.exists("/app/0000000003", None).unwrap().is_some());
    assert!(root.exists("/app/0000000004", None).unwrap().is_some());
    c.delete("/0000000003", None).unwrap();
    c.delete("/0000000004", None).unwrap();
    c.ensure_path("/e/f", None).unwrap();
    let (p, _) = c
        .create("/eph", b"", CreateOptions::mode(CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(p, "/eph");

    // Reads and writes.
    assert_eq!(c.get("/x", None).unwrap().0.as_deref(), Some(&b"x"[..]));
    c.set("/x", b"y", None).unwrap();
    let mut kids = c.get_children("/", None).unwrap();
    kids.sort();
    assert_eq!(kids, ["deep", "e", "eph", "s-0000000001", "x"]);
    assert_eq!(c.get_all_children_number("/").unwrap(), 8);
    assert!(c.exists("/", None).unwrap().is_some());

    // Paths that come back.
    assert_eq!(c.sync("/x").unwrap(), "/x");
    assert_eq!(c.sync("/").unwrap(), "/");
    assert_eq!(c.get_ephemerals("/").unwrap(), ["/eph"]);
    assert_eq!(c.get_ephemerals("/e").unwrap(), ["/eph"]);
    assert_zk(c.get("/missing", None), ErrorCode::NoNode, "/missing");
    assert_zk(
        c.create("/x", b"", CreateMode::Persistent),
        ErrorCode::NodeExists,
        "/x",
    );
    let res = c
        .multi_read(&[
            ReadOp::GetData("/x".into()),
            ReadOp::GetData("/nope".into()),
        ])
        .unwrap();
    assert!(matches!(&res[0], Ok(ReadResult::Data(Some(d), _)) if &d[..] == b"y"));
    assert_zk(res[1].clone(), ErrorCode::NoNode, "/nope");

    // Transactions.
    let res = c
        .transaction()
        .create("/t", b"", CreateMode::Persistent)
        .create("/t-", b"", CreateMode::PersistentSequential)
        .set_data("/x", b"z", None)
        .commit()
        .unwrap();
    assert!(
        matches!(&res[0], OpResult::Create(p) if p == "/t"),
        "{res:?}"
    );
    assert!(
        matches!(&res[1], OpResult::Create(p) if p.starts_with("/t-") && p.len() == 13),
        "{res:?}"
    );
    let res = c
        .transaction()
        .create("/t2", b"", CreateMode::Persistent)
        .delete("/nope", None)
        .commit()
        .unwrap();
    assert!(matches!(res[0], OpResult::RolledBack));
    assert!(
        matches!(&res[1], OpResult::Error(Error::ZooKeeper(ZkError { code: ErrorCode::NoNode, path })) if path == "/nope"),
        "{res:?}"
    );

    // The client without chroot sees everything under /app.
    let mut under = root.get_children("/app", None).unwrap();
    under.sort();
    assert_eq!(under.len(), 7, "{under:?}");
    assert_eq!(
        root.get("/app/x", None).unwrap().0.as_deref(),
        Some(&b"z"[..])
    );
    assert!(root.exists("/app/deep/er/node", None).unwrap().is_some());
    assert!(root.exists("/app/s-0000000001", None).unwrap().is_some());
    assert!(root.exists("/x", None).unwrap().is_none());
    assert!(root
        .exists("/app/eph", None)
        .unwrap()
        .unwrap()
        .is_ephemeral());

    // Deletes, recursive too.
    c.delete_recursive("/deep").unwrap();
    assert!(root.exists("/app/deep", None).unwrap().is_none());
    c.delete("/x", None).unwrap();
    assert!(root.exists("/app/x", None).unwrap().is_none());
    assert!(root.exists("/app", None).unwrap().is_some());

    // Everything under the chroot, a node named "zookeeper" included (it is not the
    // server's own tree there).
    c.ensure_path("/zookeeper/quota", None).unwrap();
    c.delete_recursive("/").unwrap();
    assert!(root.get_children("/app", None).unwrap().is_empty());
    assert!(
        root.exists("/app", None).unwrap().is_some(),
        "the chroot's node stays"
    );
    assert!(root.exists("/zookeeper/quota", None).unwrap().is_some());
}

#[test]
fn chroot_watch_events_have_unchrooted_paths() {
    let zk = server();
    let root = client(&zk.connect_string());
    root.ensure_path("/app/sub", None).unwrap();
    let c = client(&format!("{}/app", zk.connect_string()));
    let events = Events::new();
    c.create("/x", b"", CreateMode::Persistent).unwrap();
    c.get("/x", events.watcher()).unwrap();
    c.exists("/new", events.watcher()).unwrap();
    c.get_children("/", events.watcher()).unwrap();
    root.set("/app/x", b"1", None).unwrap();
    root.create("/app/new", b"", CreateMode::Persistent)
        .unwrap();
    wait_for(&c, "three events", || events.len() == 3);
    let mut kinds = events.kinds();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ev(EventType::NodeCreated, "/new"),
            ev(EventType::NodeDataChanged, "/x"),
            ev(EventType::NodeChildrenChanged, "/"),
        ]
    );

    // Persistent and recursive watches, on the chroot itself and below it.
    let rec = Events::new();
    let per = Events::new();
    c.add_watch("/", AddWatchMode::PersistentRecursive, rec.watcher())
        .unwrap();
    c.add_watch("/sub", AddWatchMode::Persistent, per.watcher())
        .unwrap();
    root.create("/app/sub/a", b"", CreateMode::Persistent)
        .unwrap();
    root.set("/app/sub", b"d", None).unwrap();
    root.create("/outside", b"", CreateMode::Persistent)
        .unwrap(); // not under the chroot: not seen
    root.delete("/app/sub/a", None).unwrap();
    wait_for(&c, "the recursive events", || rec.len() == 3);
    wait_for(&c, "the persistent events", || per.len() == 3);
    assert_eq!(
        rec.kinds(),
        [
            ev(EventType::NodeCreated, "/sub/a"),
            ev(EventType::NodeDataChanged, "/sub"),
            ev(EventType::NodeDeleted, "/sub/a"),
        ]
    );
    assert_eq!(
        per.kinds(),
        [
            ev(EventType::NodeChildrenChanged, "/sub"),
            ev(EventType::NodeDataChanged, "/sub"),
            ev(EventType::NodeChildrenChanged, "/sub"),
        ]
    );
    // Removal events name the path without chroot too.
    let log = Log::new();
    c.get("/sub", log.watcher("w")).unwrap();
    c.remove_watches("/sub", mio_zookeeper::WatcherType::Data, WhenOffline::Wait)
        .unwrap();
    wait_for(&c, "the removal event", || log.len() == 1);
    assert_eq!(log.get(), ["w DataWatchRemoved /sub"]);
}

/// A chroot of several levels, and one whose node does not exist (kazoo warns at start;
/// requests fail with NoNode).
#[test]
fn nested_and_missing_chroots() {
    let zk = server();
    let root = client(&zk.connect_string());
    root.ensure_path("/a/b", None).unwrap();
    let c = client(&format!("{}/a/b", zk.connect_string()));
    assert_eq!(c.create("/n", b"", CreateMode::Persistent).unwrap().0, "/n");
    assert!(root.exists("/a/b/n", None).unwrap().is_some());

    let missing = client(&format!("{}/nope", zk.connect_string()));
    assert_zk(
        missing.create("/n", b"", CreateMode::Persistent),
        ErrorCode::NoNode,
        "/n",
    );
    assert_eq!(missing.exists("/", None).unwrap(), None);
    // ensure_path creates the chroot's own node.
    missing.ensure_path("/n", None).unwrap();
    assert!(root.exists("/nope/n", None).unwrap().is_some());
    // So does a create with makepath.
    let missing2 = client(&format!("{}/nope2", zk.connect_string()));
    let mk = CreateOptions {
        makepath: true,
        ..CreateOptions::default()
    };
    assert_eq!(missing2.create("/m", b"", &mk).unwrap().0, "/m");
    assert!(root.exists("/nope2/m", None).unwrap().is_some());
}

/// kazoo `test_chroot`, through the client (the parser's own cases, kazoo's `test_chroot`
/// and `test_hosts`, are unit tests in `src/client/hosts.rs`).
#[test]
fn test_chroot() {
    assert_eq!(
        Client::new("127.0.0.1:2181/x").unwrap().chroot().as_deref(),
        Some("/x")
    );
    assert_eq!(Client::new("127.0.0.1:2181").unwrap().chroot(), None);
}
