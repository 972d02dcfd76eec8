//! Every client operation against a real ZooKeeper server, in blocking form, with the
//! common errors each can give (issue #4 §2 and §5), plus the ports of kazoo's
//! `TestClient` / `TestClientTransactions` acceptance tests (KAZOO.md §6.3 items 8–15, 17).
//! The `*_async` forms are in `client_async.rs`.

mod client_support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use client_support::*;
use mio_zookeeper::client::{CreateOptions, OpResult, ReadOp, ReadResult, Transaction};
use mio_zookeeper::proto::Id;
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::ZkError;
use mio_zookeeper::{Acl, CreateMode, Error, ErrorCode, MioHandler, Perms};

fn opts(mode: CreateMode) -> CreateOptions {
    CreateOptions::mode(mode)
}

// ------------------------------------------------------------------ create

#[test]
fn create_in_every_classic_mode() {
    let zk = server();
    let c = client(&zk.connect_string());
    let (session, _) = c.client_id().unwrap();

    // Persistent: the returned stat is the node's.
    let (p, st) = c
        .create_with("/persistent", b"p", &CreateOptions::default())
        .unwrap();
    assert_eq!(p, "/persistent");
    assert_eq!(st.ephemeral_owner, 0);
    assert_eq!(st.data_length, 1);
    assert_eq!(st.version, 0);

    // Ephemeral: owned by this session.
    let (p, st) = c
        .create_with("/ephemeral", b"e", &opts(CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(p, "/ephemeral");
    assert_eq!(st.ephemeral_owner, session);
    assert!(st.is_ephemeral());
    assert_eq!(
        c.exists("/ephemeral").unwrap().unwrap().ephemeral_owner,
        session
    );

    // Ephemeral sequential.
    let (p, st) = c
        .create_with("/eseq-", b"", &opts(CreateMode::EphemeralSequential))
        .unwrap();
    let suffix = p.strip_prefix("/eseq-").expect(&p);
    assert!(
        suffix.len() == 10 && suffix.bytes().all(|b| b.is_ascii_digit()),
        "{p}"
    );
    assert_eq!(st.ephemeral_owner, session);

    // Container. The server reports ephemeralOwner 0 for containers (and TTL nodes): the
    // marker value is kept server-side only (DataNode.getClientEphemeralOwner), so a
    // client cannot tell a container from its stat; `container_nodes_are_removed_when_empty`
    // checks the behaviour instead.
    let (p, st) = c
        .create_with("/container", b"", &opts(CreateMode::Container))
        .unwrap();
    assert_eq!(p, "/container");
    assert_eq!(st.ephemeral_owner, 0, "{st:?}");
    assert!(!st.is_container() && !st.is_ephemeral());

    // Existing node.
    assert_zk(
        c.create("/persistent", b""),
        ErrorCode::NodeExists,
        "/persistent",
    );
    assert_zk(
        c.create_with("/container", b"", &opts(CreateMode::Container)),
        ErrorCode::NodeExists,
        "/container",
    );

    // A ttl for a mode that takes none is refused locally.
    let bad = CreateOptions {
        ttl: Some(Duration::from_secs(1)),
        ..CreateOptions::default()
    };
    match c.create_with("/ttl-on-persistent", b"", &bad) {
        Err(Error::BadArgument(m)) => assert!(m.contains("ttl"), "{m}"),
        other => panic!("{other:?}"),
    }

    // The ephemerals go with the session.
    c.stop().unwrap();
    let other = client(&zk.connect_string());
    assert!(other.exists("/ephemeral").unwrap().is_none());
    assert!(other.exists("/eseq-0000000002").unwrap().is_none());
    assert!(other.exists("/persistent").unwrap().is_some());
}

/// kazoo `test_create_sequence`: a 10-digit zero-padded suffix; a trailing `/` gives a bare
/// sequence number as the node's name.
#[test]
fn test_create_sequence() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/folder", b"").unwrap();
    let (p1, _) = c
        .create_with("/folder/a", b"", &opts(CreateMode::PersistentSequential))
        .unwrap();
    let (p2, _) = c
        .create_with("/folder/a", b"", &opts(CreateMode::PersistentSequential))
        .unwrap();
    assert_eq!(p1, "/folder/a0000000000");
    assert_eq!(p2, "/folder/a0000000001");
    // A trailing '/': the name is the sequence number alone.
    let (p3, _) = c
        .create_with("/folder/", b"", &opts(CreateMode::PersistentSequential))
        .unwrap();
    assert_eq!(p3, "/folder/0000000002");
    let mut children = c.get_children("/folder").unwrap();
    children.sort();
    assert_eq!(children, ["0000000002", "a0000000000", "a0000000001"]);
    // Ephemeral sequential below the same parent continues the same counter.
    let (p4, st) = c
        .create_with("/folder/e", b"", &opts(CreateMode::EphemeralSequential))
        .unwrap();
    assert_eq!(p4, "/folder/e0000000003");
    assert!(st.is_ephemeral());
    // A trailing '/' is refused for non-sequential creates, locally.
    match c.create("/folder/", b"") {
        Err(Error::InvalidPath { path, reason }) => {
            assert_eq!(path, "/folder/");
            assert!(reason.contains("end with '/'"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn create_ttl_nodes_with_extended_types() {
    let zk = ZkServer::builder().extended_types(true).start().unwrap();
    let c = client(&zk.connect_string());
    let ttl = Duration::from_secs(3600);
    let o = CreateOptions {
        ttl: Some(ttl),
        ..opts(CreateMode::PersistentWithTtl)
    };
    let (p, st) = c.create_with("/ttl", b"t", &o).unwrap();
    assert_eq!(p, "/ttl");
    // As for containers, the server reports ephemeralOwner 0 for TTL nodes.
    assert_eq!(st.ephemeral_owner, 0, "{st:?}");
    assert!(!st.is_ephemeral());
    let (d, _) = c.get("/ttl").unwrap();
    assert_eq!(d.as_deref(), Some(&b"t"[..]));

    let o = CreateOptions {
        ttl: Some(Duration::from_millis(1500)),
        ..opts(CreateMode::PersistentSequentialWithTtl)
    };
    c.create("/q", b"").unwrap();
    let (p, _) = c.create_with("/q/ttlseq-", b"", &o).unwrap();
    assert_eq!(p, "/q/ttlseq-0000000000");
    assert_zk(
        c.create_with(
            "/ttl",
            b"",
            &CreateOptions {
                ttl: Some(ttl),
                ..opts(CreateMode::PersistentWithTtl)
            },
        ),
        ErrorCode::NodeExists,
        "/ttl",
    );

    // Out-of-range TTLs are refused before sending.
    for bad in [
        None,
        Some(Duration::ZERO),
        Some(Duration::from_millis(1 << 40)),
    ] {
        let o = CreateOptions {
            ttl: bad,
            ..opts(CreateMode::PersistentWithTtl)
        };
        match c.create_with("/ttl-bad", b"", &o) {
            Err(Error::BadArgument(m)) => assert!(m.contains("TTL"), "{m}"),
            other => panic!("ttl {bad:?}: {other:?}"),
        }
    }
    assert!(c.exists("/ttl-bad").unwrap().is_none());
}

/// The server's container manager, checking every 100 ms instead of every minute.
fn fast_reaper(extended_types: bool) -> ZkServer {
    ZkServer::builder()
        .extended_types(extended_types)
        .system_property("znode.container.checkIntervalMs", "100")
        .start()
        .unwrap()
}

#[test]
fn container_nodes_are_removed_when_empty() {
    let zk = fast_reaper(false);
    let c = client(&zk.connect_string());
    c.create_with("/container", b"", &opts(CreateMode::Container))
        .unwrap();
    c.create("/plain", b"").unwrap();
    for parent in ["/container", "/plain"] {
        c.create(&format!("{parent}/child"), b"").unwrap();
    }
    let events = Events::new();
    c.exists_watch("/container", events.watcher()).unwrap();
    for parent in ["/container", "/plain"] {
        c.delete(&format!("{parent}/child")).unwrap();
    }
    wait_for(&c, "the empty container to be removed", || {
        events.len() == 1
    });
    assert_eq!(
        events.kinds(),
        [(
            mio_zookeeper::proto::EventType::NodeDeleted,
            "/container".to_string()
        )]
    );
    assert!(c.exists("/container").unwrap().is_none());
    assert!(c.exists("/plain").unwrap().is_some(), "a plain node stays");
}

#[test]
fn ttl_nodes_are_removed_after_their_ttl() {
    let zk = fast_reaper(true);
    let c = client(&zk.connect_string());
    let o = CreateOptions {
        ttl: Some(Duration::from_millis(300)),
        ..opts(CreateMode::PersistentWithTtl)
    };
    c.create_with("/short", b"", &o).unwrap();
    let long = CreateOptions {
        ttl: Some(Duration::from_secs(3600)),
        ..opts(CreateMode::PersistentWithTtl)
    };
    c.create_with("/long", b"", &long).unwrap();
    let events = Events::new();
    c.exists_watch("/short", events.watcher()).unwrap();
    wait_for(&c, "the TTL node to expire", || events.len() == 1);
    assert_eq!(
        events.kinds(),
        [(
            mio_zookeeper::proto::EventType::NodeDeleted,
            "/short".to_string()
        )]
    );
    assert!(c.exists("/long").unwrap().is_some());
}

#[test]
fn create_ttl_without_extended_types_is_unimplemented() {
    let zk = server();
    let c = client(&zk.connect_string());
    let o = CreateOptions {
        ttl: Some(Duration::from_secs(10)),
        ..opts(CreateMode::PersistentWithTtl)
    };
    assert_zk(
        c.create_with("/ttl", b"", &o),
        ErrorCode::Unimplemented,
        "/ttl",
    );
    assert!(c.exists("/ttl").unwrap().is_none());
    // The session is fine afterwards.
    c.create("/after", b"").unwrap();
}

/// kazoo `test_create_no_makepath`: without makepath a missing parent is NoNode and
/// nothing is created; an existing leaf is NodeExists.
#[test]
fn test_create_no_makepath() {
    let zk = server();
    let c = client(&zk.connect_string());
    assert_zk(c.create("/1/2", b""), ErrorCode::NoNode, "/1/2");
    assert_zk(c.create("/1/2/3", b""), ErrorCode::NoNode, "/1/2/3");
    assert!(c.exists("/1").unwrap().is_none());
    c.create("/1", b"").unwrap();
    c.create("/1/2", b"").unwrap();
    assert_zk(c.create("/1/2", b""), ErrorCode::NodeExists, "/1/2");
}

/// kazoo `test_create_makepath`: missing parents are created; NodeExists on an existing
/// leaf all the same.
#[test]
fn test_create_makepath() {
    let zk = server();
    let c = client(&zk.connect_string());
    let mk = CreateOptions {
        makepath: true,
        ..CreateOptions::default()
    };
    let (p, _) = c.create_with("/1/2", b"val", &mk).unwrap();
    assert_eq!(p, "/1/2");
    let (d, _) = c.get("/1/2").unwrap();
    assert_eq!(d.as_deref(), Some(&b"val"[..]));
    // Parents are plain persistent nodes with null data.
    let (d, st) = c.get("/1").unwrap();
    assert_eq!(d, None);
    assert_eq!(st.ephemeral_owner, 0);

    // Deeper, with an ephemeral sequential leaf.
    let (p, st) = c
        .create_with(
            "/a/b/c/d-",
            b"",
            &CreateOptions {
                makepath: true,
                ..opts(CreateMode::EphemeralSequential)
            },
        )
        .unwrap();
    assert_eq!(p, "/a/b/c/d-0000000000");
    assert!(st.is_ephemeral());
    assert!(!c.exists("/a/b/c").unwrap().unwrap().is_ephemeral());

    // A bare sequence number (trailing '/') below missing parents: the parent is the path
    // without its '/' (kazoo's `path.rstrip('/')`).
    let (p, _) = c
        .create_with(
            "/q/r/",
            b"",
            &CreateOptions {
                makepath: true,
                ..opts(CreateMode::PersistentSequential)
            },
        )
        .unwrap();
    assert_eq!(p, "/q/r/0000000000");

    // makepath does not hide NodeExists on the leaf.
    assert_zk(
        c.create_with("/1/2", b"", &mk),
        ErrorCode::NodeExists,
        "/1/2",
    );
    assert_zk(c.create("/1/2", b""), ErrorCode::NodeExists, "/1/2");

    // makepath with an ACL: the parents get it too.
    let acl = vec![Acl::new(Perms::READ | Perms::CREATE, Id::anyone())];
    c.create_with(
        "/acl/x/y",
        b"",
        &CreateOptions {
            acl: Some(acl.clone()),
            makepath: true,
            ..CreateOptions::default()
        },
    )
    .unwrap();
    assert_eq!(c.get_acls("/acl/x").unwrap().0, acl);
    assert_eq!(c.get_acls("/acl/x/y").unwrap().0, acl);
}

/// kazoo `test_create_ephemeral_no_children`.
#[test]
fn test_create_ephemeral_no_children() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create_with("/eph", b"", &opts(CreateMode::Ephemeral))
        .unwrap();
    assert_zk(
        c.create("/eph/child", b""),
        ErrorCode::NoChildrenForEphemerals,
        "/eph/child",
    );
    assert_zk(
        c.create_with("/eph/seq-", b"", &opts(CreateMode::EphemeralSequential)),
        ErrorCode::NoChildrenForEphemerals,
        "/eph/seq-",
    );
    assert_eq!(c.get_children("/eph").unwrap(), Vec::<String>::new());
}

/// kazoo `test_create_null_data`: null data round-trips as `None`.
#[test]
fn test_create_null_data() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.done(c.create_async("/null", None, &CreateOptions::default()));
    let (d, st) = c.get("/null").unwrap();
    assert_eq!(d, None);
    assert_eq!(st.data_length, 0);
    // Binary data survives untouched.
    let blob: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    c.create("/blob", &blob).unwrap();
    assert_eq!(c.get("/blob").unwrap().0, Some(Bytes::from(blob)));
}

/// kazoo `test_create_empty_string`: empty data round-trips as empty, not as null.
#[test]
fn test_create_empty_string() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/empty", b"").unwrap();
    let (d, st) = c.get("/empty").unwrap();
    assert_eq!(d.as_deref(), Some(&b""[..]));
    assert_eq!(st.data_length, 0);
}

/// kazoo `test_set_null_data`: set to null, to empty and back to data.
#[test]
fn test_set_null_data() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/s", b"x").unwrap();
    let st = c.done(c.set_async("/s", None, -1));
    assert_eq!(st.version, 1);
    assert_eq!(st.data_length, 0);
    assert_eq!(c.get("/s").unwrap().0, None);
    c.set("/s", b"").unwrap();
    assert_eq!(c.get("/s").unwrap().0.as_deref(), Some(&b""[..]));
    c.set("/s", b"back").unwrap();
    assert_eq!(c.get("/s").unwrap().0.as_deref(), Some(&b"back"[..]));
}

/// Waits on an async result for tests (the client's helper is private).
trait WaitExt {
    fn done<T: 'static>(&self, r: mio_zookeeper::AsyncResult<T>) -> T;
}

impl WaitExt for mio_zookeeper::Client {
    fn done<T: 'static>(&self, r: mio_zookeeper::AsyncResult<T>) -> T {
        r.take(true, Some(WAIT)).expect("the async call succeeds")
    }
}

// ------------------------------------------------------------------ paths

/// kazoo `test_create_invalid_path` (and issue #4 §2): bad paths are refused locally, for
/// every operation, with a message that names the path and the rule; nothing is sent.
/// (kazoo sends `\x00` and `\x1e` and gets BadArguments from the server; here they are
/// refused before sending, with the same error code.)
#[test]
fn test_create_invalid_path() {
    let zk = server();
    let c = client(&zk.connect_string());
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("a", "start with '/'"),
        ("a/b", "start with '/'"),
        ("/a/", "end with '/'"),
        ("/a//b", "empty component"),
        ("/.", "'.' and '..'"),
        ("/a/./b", "'.' and '..'"),
        ("/a/..", "'.' and '..'"),
        ("/a\u{0}b", "NUL"),
        ("/a\u{1e}b", "control characters"),
        ("/a\u{7f}", "control characters"),
        ("/a\u{fff0}", "control characters"),
    ];
    for (path, rule) in cases {
        let check = |op: &str, r: Result<(), Error>| match r {
            Err(e @ Error::InvalidPath { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&format!("{path:?}")), "{op} {path:?}: {msg}");
                assert!(msg.contains(rule), "{op} {path:?}: {msg} lacks {rule:?}");
                assert_eq!(e.code(), Some(ErrorCode::BadArguments));
            }
            other => panic!("{op} {path:?}: expected InvalidPath, got {other:?}"),
        };
        check("create", c.create(path, b"").map(drop));
        check("get", c.get(path).map(drop));
        check("set", c.set(path, b"").map(drop));
        check("exists", c.exists(path).map(drop));
        check("delete", c.delete(path));
        check("get_children", c.get_children(path).map(drop));
        check("get_acls", c.get_acls(path).map(drop));
        check(
            "set_acls",
            c.set_acls(path, Acl::open_unsafe(), -1).map(drop),
        );
        check("sync", c.sync(path).map(drop));
        check("ensure_path", c.ensure_path(path));
        check("delete_recursive", c.delete_recursive(path));
        check("get_watch", c.get_watch(path, |_| {}).map(drop));
        check("exists_watch", c.exists_watch(path, |_| {}).map(drop));
        check(
            "get_children_watch",
            c.get_children_watch(path, |_| {}).map(drop),
        );
        check("add_watch", c.add_watch(path, false, |_| {}));
        check("get_ephemerals", c.get_ephemerals(path).map(drop));
        check(
            "get_all_children_number",
            c.get_all_children_number(path).map(drop),
        );
        check(
            "multi_read",
            c.multi_read(&[ReadOp::GetData(path.to_string())]).map(drop),
        );
        check(
            "transaction",
            c.transaction().create(path, b"").commit().map(drop),
        );
        check(
            "create makepath",
            c.create_with(
                path,
                b"",
                &CreateOptions {
                    makepath: true,
                    ..CreateOptions::default()
                },
            )
            .map(drop),
        );
    }
    assert_eq!(c.watch_count(), 0);
    assert_eq!(c.pending_requests(), 0);
    // Sequential creates may end with '/', but not with '//'.
    match c.create_with("/a//", b"", &opts(CreateMode::PersistentSequential)) {
        Err(Error::InvalidPath { path, .. }) => assert_eq!(path, "/a//"),
        other => panic!("{other:?}"),
    }
    // Names that only look like '.' and '..' are fine (kazoo allows "/a./b..").
    c.create_with(
        "/a./b..",
        b"",
        &CreateOptions {
            makepath: true,
            ..CreateOptions::default()
        },
    )
    .unwrap();
    assert!(c.exists("/a./b..").unwrap().is_some());
    // Unicode is fine.
    c.create("/ünïcødé €", b"").unwrap();
    assert!(c
        .get_children("/")
        .unwrap()
        .contains(&"ünïcødé €".to_string()));
    // The client still works.
    assert!(c.exists("/").unwrap().is_some());
}

/// Bad connect strings are refused when the client is built, naming the string and why.
#[test]
fn bad_hosts_strings_are_refused() {
    for (hosts, why) in [
        ("", "no host"),
        ("/chroot", "no host"),
        ("a,,b", "empty entry"),
        ("a:0", "not a port"),
        ("a:65536", "not a port"),
        ("a:http", "not a port"),
        ("[::1", "without closing"),
        ("::1:2181", "brackets"),
        ("[::1]x", "unexpected"),
        (":2181", "no host name"),
        ("a/b//c", "bad chroot"),
        ("a/b/../c", "bad chroot"),
    ] {
        match mio_zookeeper::Client::new(hosts) {
            Err(Error::BadArgument(m)) => {
                assert!(m.contains(&format!("{hosts:?}")), "{hosts:?}: {m}");
                assert!(m.contains(why), "{hosts:?}: {m} lacks {why:?}");
            }
            other => panic!("{hosts:?}: expected BadArgument, got {other:?}"),
        }
    }
}

// ------------------------------------------------------------------ read, write, delete

/// kazoo `test_exists`: `None` for a missing node, the stat otherwise. (The watch half,
/// `test_exists_watch`, is in client_watches.rs.)
#[test]
fn test_exists() {
    let zk = server();
    let c = client(&zk.connect_string());
    assert_eq!(c.exists("/missing").unwrap(), None);
    assert_eq!(c.exists("/missing/deeper").unwrap(), None);
    let (_, created) = c
        .create_with("/here", b"abc", &CreateOptions::default())
        .unwrap();
    let st = c.exists("/here").unwrap().expect("exists");
    assert_eq!(st, created);
    assert_eq!(st.data_length, 3);
    assert!(c.exists("/").unwrap().is_some());
    assert!(c.exists("/zookeeper").unwrap().is_some());
    assert_eq!(c.watch_count(), 0, "plain exists leaves no watch");
}

/// kazoo `test_create_stat`: the stat a create returns is the node's.
#[test]
fn test_create_stat() {
    let zk = server();
    let c = client(&zk.connect_string());
    let (p, created) = c
        .create_with("/s", b"data", &CreateOptions::default())
        .unwrap();
    assert_eq!(p, "/s");
    let (_, got) = c.get("/s").unwrap();
    assert_eq!(created, got);
    assert_eq!(created.czxid, created.mzxid);
    assert!(created.czxid > 0);
    assert_eq!(created.data_length, 4);
}

/// kazoo `test_get_children2`: the children with the parent's stat, as `get` sees it.
#[test]
fn test_get_children2() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/s", b"data").unwrap();
    c.create("/s/a", b"").unwrap();
    c.create("/s/b", b"").unwrap();
    let (mut children, st) = c.get_children_with_stat("/s").unwrap();
    children.sort();
    assert_eq!(children, ["a", "b"]);
    assert_eq!(st, c.get("/s").unwrap().1);
    assert_eq!(st.num_children, 2);
    assert_eq!(st.cversion, 2);
    let mut plain = c.get_children("/s").unwrap();
    plain.sort();
    assert_eq!(plain, children);
    assert_zk(c.get_children("/nope"), ErrorCode::NoNode, "/nope");
    assert_zk(
        c.get_children_with_stat("/nope"),
        ErrorCode::NoNode,
        "/nope",
    );
    assert_eq!(c.get_children("/s/a").unwrap(), Vec::<String>::new());
}

#[test]
fn get_set_and_versions() {
    let zk = server();
    let c = client(&zk.connect_string());
    assert_zk(c.get("/nope"), ErrorCode::NoNode, "/nope");
    assert_zk(c.set("/nope", b"x"), ErrorCode::NoNode, "/nope");
    c.create("/v", b"0").unwrap();
    let st1 = c.set("/v", b"1").unwrap();
    assert_eq!(st1.version, 1);
    let st2 = c.set_version("/v", b"2", 1).unwrap();
    assert_eq!(st2.version, 2);
    assert!(st2.mzxid > st1.mzxid);
    assert_zk(c.set_version("/v", b"3", 1), ErrorCode::BadVersion, "/v");
    let (d, st) = c.get("/v").unwrap();
    assert_eq!(d.as_deref(), Some(&b"2"[..]));
    assert_eq!(st, st2);
}

#[test]
fn delete_with_version_and_not_empty() {
    let zk = server();
    let c = client(&zk.connect_string());
    assert_zk(c.delete("/nope"), ErrorCode::NoNode, "/nope");
    c.create("/d", b"").unwrap();
    c.set("/d", b"x").unwrap();
    assert_zk(c.delete_version("/d", 0), ErrorCode::BadVersion, "/d");
    assert!(c.exists("/d").unwrap().is_some());
    c.create("/d/child", b"").unwrap();
    assert_zk(c.delete("/d"), ErrorCode::NotEmpty, "/d");
    assert_zk(c.delete_version("/d", 1), ErrorCode::NotEmpty, "/d");
    c.delete_version("/d/child", 0).unwrap();
    c.delete_version("/d", 1).unwrap();
    assert!(c.exists("/d").unwrap().is_none());
    assert_zk(c.delete("/d"), ErrorCode::NoNode, "/d");
    // The server's own nodes cannot be deleted.
    assert!(c.delete("/zookeeper").is_err());
}

#[test]
fn ensure_path_creates_every_missing_parent() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.ensure_path("/e/f/g").unwrap();
    for p in ["/e", "/e/f", "/e/f/g"] {
        let (d, st) = c.get(p).unwrap();
        assert_eq!(d, None, "{p} is created with null data");
        assert_eq!(st.ephemeral_owner, 0);
    }
    // Idempotent, and fine when only part of it exists.
    c.ensure_path("/e/f/g").unwrap();
    c.ensure_path("/e/f/h/i").unwrap();
    assert!(c.exists("/e/f/h/i").unwrap().is_some());
    c.ensure_path("/").unwrap();
    // Only missing nodes are created: an existing ancestor whose parent forbids CREATE is
    // not in the way (kazoo walks up with exists first, too).
    c.create("/locked", b"").unwrap();
    c.create("/locked/open", b"").unwrap();
    c.set_acls("/locked", Acl::read_unsafe(), -1).unwrap();
    c.ensure_path("/locked/open/x/y").unwrap();
    assert!(c.exists("/locked/open/x/y").unwrap().is_some());
    assert_zk(c.ensure_path("/locked/z"), ErrorCode::NoAuth, "/locked/z");
    // Below an ephemeral node it cannot.
    c.create_with("/eph", b"", &opts(CreateMode::Ephemeral))
        .unwrap();
    assert_zk(
        c.ensure_path("/eph/x"),
        ErrorCode::NoChildrenForEphemerals,
        "/eph/x",
    );
}

/// kazoo `test_sync` / `test_delete_recursive`.
#[test]
fn test_sync() {
    let zk = server();
    let c = client(&zk.connect_string());
    // Sync works on a path that does not exist, and returns it.
    assert_eq!(c.sync("/not-there").unwrap(), "/not-there");
    assert_eq!(c.sync("/").unwrap(), "/");
    c.create("/x", b"").unwrap();
    assert_eq!(c.sync("/x").unwrap(), "/x");
}

#[test]
fn test_delete_recursive() {
    let zk = server();
    let c = client(&zk.connect_string());
    for p in ["/r/a/b/c", "/r/a/d", "/r/e", "/keep/x"] {
        c.ensure_path(p).unwrap();
    }
    c.create_with("/r/a/eph", b"", &opts(CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(c.get_all_children_number("/r").unwrap(), 6);
    c.delete_recursive("/r").unwrap();
    assert!(c.exists("/r").unwrap().is_none());
    assert!(c.exists("/keep/x").unwrap().is_some(), "siblings are kept");
    // Already gone: not an error.
    c.delete_recursive("/r").unwrap();
    // A leaf.
    c.delete_recursive("/keep/x").unwrap();
    assert!(c.exists("/keep/x").unwrap().is_none());
    assert!(c.exists("/keep").unwrap().is_some());
}

// ------------------------------------------------------------------ ACLs

#[test]
fn acls_get_set_and_errors() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/acl", b"").unwrap();
    let (acl, st) = c.get_acls("/acl").unwrap();
    assert_eq!(acl, Acl::open_unsafe());
    assert_eq!(st.aversion, 0);
    assert_zk(c.get_acls("/nope"), ErrorCode::NoNode, "/nope");
    assert_zk(
        c.set_acls("/nope", Acl::open_unsafe(), -1),
        ErrorCode::NoNode,
        "/nope",
    );

    let read_create = vec![
        Acl::new(Perms::READ | Perms::CREATE, Id::anyone()),
        Acl::new(Perms::ALL, Id::new("ip", "10.0.0.1")),
    ];
    let st = c.set_acls("/acl", read_create.clone(), 0).unwrap();
    assert_eq!(st.aversion, 1);
    let (got, st2) = c.get_acls("/acl").unwrap();
    assert_eq!(got, read_create);
    assert_eq!(st2.aversion, 1);
    // Without ADMIN, set_acls is refused (the ACL check comes before the version check).
    assert_zk(
        c.set_acls("/acl", Acl::open_unsafe(), 1),
        ErrorCode::NoAuth,
        "/acl",
    );

    // NoAuth: no WRITE for set, no ADMIN for set_acls, CREATE allowed, no DELETE below it.
    assert_zk(c.set("/acl", b"x"), ErrorCode::NoAuth, "/acl");
    c.create("/acl/child", b"").unwrap();
    assert_zk(c.delete("/acl/child"), ErrorCode::NoAuth, "/acl/child");
    assert_eq!(c.get("/acl").unwrap().1.num_children, 1);

    // InvalidACL: an empty ACL, the `auth` id without credentials, a malformed digest id.
    c.create("/b", b"").unwrap();
    assert_zk(c.set_acls("/b", vec![], -1), ErrorCode::InvalidAcl, "/b");
    assert_zk(
        c.create_with(
            "/creator",
            b"",
            &CreateOptions {
                acl: Some(Acl::creator_all()),
                ..CreateOptions::default()
            },
        ),
        ErrorCode::InvalidAcl,
        "/creator",
    );
    assert_zk(
        c.set_acls(
            "/b",
            vec![Acl::new(Perms::ALL, Id::new("digest", "nocolon"))],
            -1,
        ),
        ErrorCode::InvalidAcl,
        "/b",
    );
    assert_zk(
        c.set_acls(
            "/b",
            vec![Acl::new(Perms::ALL, Id::new("nosuchscheme", "x"))],
            -1,
        ),
        ErrorCode::InvalidAcl,
        "/b",
    );
    // A version check on the ACL.
    let st = c.set_acls("/b", Acl::read_unsafe(), 0).unwrap();
    assert_eq!(st.aversion, 1);
    // Read-only now: set_acls itself needs ADMIN.
    assert_zk(
        c.set_acls("/b", Acl::open_unsafe(), 1),
        ErrorCode::NoAuth,
        "/b",
    );
    assert_eq!(c.get_acls("/b").unwrap().0, Acl::read_unsafe());
}

#[test]
fn acl_version_mismatch_is_bad_version() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/a", b"").unwrap();
    assert_zk(
        c.set_acls("/a", Acl::read_unsafe(), 5),
        ErrorCode::BadVersion,
        "/a",
    );
    assert_eq!(c.get_acls("/a").unwrap().0, Acl::open_unsafe());
}

// ------------------------------------------------------------------ transactions

#[test]
fn transaction_all_ok() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/t", b"0").unwrap();
    c.create("/gone", b"").unwrap();
    let res = c
        .transaction()
        .create("/t/new", b"n")
        .create_mode("/t/seq-", b"", CreateMode::PersistentSequential)
        .create_mode("/t/eph", b"", CreateMode::Ephemeral)
        .set_data("/t", b"1", 0)
        .check("/t", 1)
        .delete("/gone", -1)
        .commit()
        .unwrap();
    assert_eq!(res.len(), 6);
    assert!(res.iter().all(OpResult::is_ok), "{res:?}");
    assert!(
        matches!(&res[0], OpResult::Create(p) if p == "/t/new"),
        "{res:?}"
    );
    assert!(
        matches!(&res[1], OpResult::Create(p) if p == "/t/seq-0000000001"),
        "{res:?}"
    );
    assert!(
        matches!(&res[2], OpResult::Create(p) if p == "/t/eph"),
        "{res:?}"
    );
    match &res[3] {
        OpResult::SetData(st) => assert_eq!(st.version, 1),
        other => panic!("{other:?}"),
    }
    assert!(matches!(res[4], OpResult::Check), "{res:?}");
    assert!(matches!(res[5], OpResult::Delete), "{res:?}");
    assert_eq!(c.get("/t").unwrap().0.as_deref(), Some(&b"1"[..]));
    assert!(c.exists("/t/eph").unwrap().unwrap().is_ephemeral());
    assert!(c.exists("/gone").unwrap().is_none());
    // An empty transaction is fine too.
    assert!(c.transaction().commit().unwrap().is_empty());
}

/// kazoo `test_bad_transaction`: a failed op is reported in its slot, ops before it as
/// rolled back, ops after it as RuntimeInconsistency; nothing is applied and nothing is
/// raised.
#[test]
fn test_bad_transaction() {
    let zk = server();
    let c = client(&zk.connect_string());
    let res = c
        .transaction()
        .create("/fred", b"")
        .delete("/smith", -1)
        .create("/after", b"")
        .commit()
        .expect("a failed transaction is not an error of commit");
    assert_eq!(res.len(), 3, "{res:?}");
    assert!(matches!(res[0], OpResult::RolledBack), "{res:?}");
    match &res[1] {
        OpResult::Error(Error::ZooKeeper(ZkError { code, path })) => {
            assert_eq!(*code, ErrorCode::NoNode);
            assert_eq!(path, "/smith");
        }
        other => panic!("{other:?}"),
    }
    match &res[2] {
        OpResult::Error(Error::ZooKeeper(ZkError { code, path })) => {
            assert_eq!(*code, ErrorCode::RuntimeInconsistency);
            assert_eq!(path, "/after");
        }
        other => panic!("{other:?}"),
    }
    assert!(res.iter().all(|r| !r.is_ok()));
    assert!(c.exists("/fred").unwrap().is_none(), "rolled back");
    assert!(c.exists("/after").unwrap().is_none());

    // Failures of each kind in the first slot.
    c.create("/v", b"").unwrap();
    let one = |t: Transaction<MioHandler>| -> Error {
        match t.commit().unwrap().remove(0) {
            OpResult::Error(e) => e,
            other => panic!("{other:?}"),
        }
    };
    assert_zk::<()>(
        Err(one(c.transaction().create("/v", b""))),
        ErrorCode::NodeExists,
        "/v",
    );
    assert_zk::<()>(
        Err(one(c.transaction().set_data("/v", b"", 7))),
        ErrorCode::BadVersion,
        "/v",
    );
    assert_zk::<()>(
        Err(one(c.transaction().create("/no/parent", b""))),
        ErrorCode::NoNode,
        "/no/parent",
    );
    c.create("/v/c", b"").unwrap();
    assert_zk::<()>(
        Err(one(c.transaction().delete("/v", -1))),
        ErrorCode::NotEmpty,
        "/v",
    );
}

/// kazoo `test_check`: a passing check reports success; a failing one fails the
/// transaction with BadVersion in its slot.
#[test]
fn test_check() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/c", b"").unwrap();
    let res = c
        .transaction()
        .check("/c", 0)
        .create("/c/a", b"")
        .commit()
        .unwrap();
    assert!(matches!(res[0], OpResult::Check), "{res:?}");
    assert!(matches!(&res[1], OpResult::Create(p) if p == "/c/a"));

    let res = c
        .transaction()
        .check("/c", 5)
        .create("/c/b", b"")
        .commit()
        .unwrap();
    match &res[0] {
        OpResult::Error(Error::ZooKeeper(ZkError { code, path })) => {
            assert_eq!(*code, ErrorCode::BadVersion);
            assert_eq!(path, "/c");
        }
        other => panic!("{other:?}"),
    }
    assert!(!res[1].is_ok());
    assert!(c.exists("/c/b").unwrap().is_none());
    // A check on a missing node.
    let res = c.transaction().check("/missing", 0).commit().unwrap();
    assert!(
        matches!(&res[0], OpResult::Error(Error::ZooKeeper(ZkError { code: ErrorCode::NoNode, path })) if path == "/missing"),
        "{res:?}"
    );
}

#[test]
fn transaction_refuses_bad_ops_locally() {
    let zk = server();
    let c = client(&zk.connect_string());
    // A TTL or container create is refused before sending; so is a bad path; nothing of the
    // transaction is applied.
    match c
        .transaction()
        .create("/ok", b"")
        .create_mode("/c", b"", CreateMode::Container)
        .commit()
    {
        Err(Error::BadArgument(m)) => assert!(m.contains("/c"), "{m}"),
        other => panic!("{other:?}"),
    }
    match c
        .transaction()
        .create("/ok", b"")
        .delete("relative", -1)
        .commit()
    {
        Err(Error::InvalidPath { path, .. }) => assert_eq!(path, "relative"),
        other => panic!("{other:?}"),
    }
    assert!(c.exists("/ok").unwrap().is_none());
    // A transaction can only be committed once: `commit` consumes it (a second commit does
    // not compile; see the compile_fail example on `Transaction::commit`).
}

// ------------------------------------------------------------------ 3.6+ reads

#[test]
fn multi_read_reports_each_read_on_its_own() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/m", b"md").unwrap();
    c.create("/m/a", b"").unwrap();
    c.create("/m/b", b"").unwrap();
    let res = c
        .multi_read(&[
            ReadOp::GetData("/m".into()),
            ReadOp::GetChildren("/m".into()),
            ReadOp::GetData("/missing".into()),
            ReadOp::GetChildren("/missing2".into()),
            ReadOp::GetData("/m/a".into()),
        ])
        .unwrap();
    assert_eq!(res.len(), 5);
    match &res[0] {
        Ok(ReadResult::Data(d, st)) => {
            assert_eq!(d.as_deref(), Some(&b"md"[..]));
            assert_eq!(st.num_children, 2);
        }
        other => panic!("{other:?}"),
    }
    match &res[1] {
        Ok(ReadResult::Children(ch)) => {
            let mut ch = ch.clone();
            ch.sort();
            assert_eq!(ch, ["a", "b"]);
        }
        other => panic!("{other:?}"),
    }
    assert_zk(res[2].clone(), ErrorCode::NoNode, "/missing");
    assert_zk(res[3].clone(), ErrorCode::NoNode, "/missing2");
    assert!(
        matches!(&res[4], Ok(ReadResult::Data(d, _)) if d.as_deref() == Some(&b""[..])),
        "{res:?}"
    );
    assert!(c.multi_read(&[]).unwrap().is_empty());
}

#[test]
fn whoami_ephemerals_and_children_number() {
    let zk = server();
    let c = client(&zk.connect_string());
    let who = c.whoami().unwrap();
    assert_eq!(who.len(), 1, "{who:?}");
    assert_eq!(who[0].auth_scheme, "ip");
    assert_eq!(who[0].user, "127.0.0.1");

    // Ephemerals: only this session's, filtered by a string prefix.
    let other = client(&zk.connect_string());
    other
        .create_with("/theirs", b"", &opts(CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(c.get_ephemerals("/").unwrap(), Vec::<String>::new());
    c.ensure_path("/app/sub").unwrap();
    for p in ["/e1", "/app/e2", "/app/sub/e3"] {
        c.create_with(p, b"", &opts(CreateMode::Ephemeral)).unwrap();
    }
    let mut all = c.get_ephemerals("/").unwrap();
    all.sort();
    assert_eq!(all, ["/app/e2", "/app/sub/e3", "/e1"]);
    let mut app = c.get_ephemerals("/app").unwrap();
    app.sort();
    assert_eq!(app, ["/app/e2", "/app/sub/e3"]);
    assert_eq!(c.get_ephemerals("/nothing").unwrap(), Vec::<String>::new());

    // All descendants, not counting the node itself.
    assert_eq!(c.get_all_children_number("/app").unwrap(), 3);
    assert_eq!(c.get_all_children_number("/app/sub/e3").unwrap(), 0);
    assert_zk(
        c.get_all_children_number("/missing"),
        ErrorCode::NoNode,
        "/missing",
    );
}

#[test]
fn config_version_and_four_letter_words() {
    let zk = server();
    let c = client(&zk.connect_string());
    // A standalone server has an (empty) /zookeeper/config.
    let (_, st) = c.get_config().unwrap();
    assert_eq!(st, c.exists("/zookeeper/config").unwrap().unwrap());

    assert_eq!(c.command("ruok").unwrap(), "imok");
    assert!(c.command("srvr").unwrap().contains("Mode: standalone"));
    let srvr = zk.four_letter("srvr").unwrap();
    let (major, minor, patch) = c.server_version().unwrap();
    assert!(
        srvr.contains(&format!("Zookeeper version: {major}.{minor}.{patch}")),
        "{srvr}"
    );
    assert!((major, minor) >= (3, 6), "the harness runs a 3.6+ server");

    // reconfig is refused on a standalone server without reconfigEnabled.
    let r = c.reconfig(None, None, Some("server.1=127.0.0.1:2888:3888;2181"), -1);
    assert_zk(r, ErrorCode::ReconfigDisabled, "reconfig");

    // Four-letter words need a connection.
    c.stop().unwrap();
    assert!(matches!(c.command("ruok"), Err(Error::ConnectionLoss)));
}

// ------------------------------------------------------------------ per-call timeout

/// `with_timeout` bounds a blocking call: on a frozen server the call returns
/// [`Error::Timeout`] quickly, and the request itself still completes after the server
/// resumes.
#[test]
fn per_call_timeout_on_a_paused_server() {
    let mut zk = server();
    let c = Client::builder(&zk.connect_string())
        .session_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    c.start(Some(WAIT)).unwrap();
    let session = c.client_id().unwrap().0;
    zk.pause().unwrap();

    let quick = c.with_timeout(Some(Duration::from_millis(300)));
    let t0 = Instant::now();
    let r = quick.create("/late", b"v");
    let took = t0.elapsed();
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(c.pending_requests(), 1, "the request is still in flight");
    // An async call made meanwhile sees the same outcome later.
    let r2 = c.exists_async("/late");

    zk.resume().unwrap();
    wait_for(&c, "the requests to complete", || c.pending_requests() == 0);
    assert!(
        r2.get(false, None).unwrap().is_some(),
        "the timed-out create was applied before the exists"
    );
    assert_eq!(c.get("/late").unwrap().0.as_deref(), Some(&b"v"[..]));
    assert_eq!(c.client_id().unwrap().0, session, "the same session");
    // with_timeout does not change the original handle.
    assert!(c.create("/next", b"").is_ok());
}

use mio_zookeeper::Client;

/// A request larger than the server accepts (jute.maxbuffer, 1 MiB - 1) is refused locally
/// with a clear error instead of making the server drop the connection; the session is
/// unaffected. Data just under the limit goes through.
#[test]
fn oversized_requests_are_refused_locally() {
    let zk = server();
    let c = client(&zk.connect_string());
    let states = record_states(&c);
    let big = vec![b'x'; 1024 * 1024];
    match c.create("/big", &big) {
        Err(e @ Error::Encode(_)) => {
            assert_eq!(e.code(), Some(ErrorCode::MarshallingError));
            assert!(!e.to_string().is_empty());
        }
        other => panic!("{other:?}"),
    }
    c.create("/ok", b"").unwrap();
    match c.set("/ok", &big) {
        Err(Error::Encode(_)) => {}
        other => panic!("{other:?}"),
    }
    let fits = vec![b'y'; 1_000_000];
    c.set("/ok", &fits).unwrap();
    assert_eq!(c.get("/ok").unwrap().0.map(|d| d.len()), Some(1_000_000));
    assert!(
        states.borrow().is_empty(),
        "no reconnect: {:?}",
        states.borrow()
    );
}

/// The builder's default ACL is what create, ensure_path, makepath parents and transaction
/// creates use when no ACL is given (an empty ACL counts as none, as in kazoo).
#[test]
fn default_acl_is_used_when_none_is_given() {
    let zk = server();
    let acl = vec![
        Acl::new(Perms::ALL, Id::new("ip", "127.0.0.1")),
        Acl::new(Perms::READ, Id::anyone()),
    ];
    let c = mio_zookeeper::Client::builder(&zk.connect_string())
        .default_acl(acl.clone())
        .build()
        .unwrap();
    c.start(Some(WAIT)).unwrap();
    c.create("/plain", b"").unwrap();
    c.create_with(
        "/empty-acl",
        b"",
        &CreateOptions {
            acl: Some(vec![]),
            ..CreateOptions::default()
        },
    )
    .unwrap();
    c.ensure_path("/ens/sub").unwrap();
    c.create_with(
        "/mk/leaf",
        b"",
        &CreateOptions {
            makepath: true,
            ..CreateOptions::default()
        },
    )
    .unwrap();
    c.transaction().create("/txn", b"").commit().unwrap();
    for p in [
        "/plain",
        "/empty-acl",
        "/ens",
        "/ens/sub",
        "/mk",
        "/mk/leaf",
        "/txn",
    ] {
        assert_eq!(c.get_acls(p).unwrap().0, acl, "{p}");
    }
    // An explicit ACL wins.
    c.create_with(
        "/open",
        b"",
        &CreateOptions {
            acl: Some(Acl::open_unsafe()),
            ..CreateOptions::default()
        },
    )
    .unwrap();
    assert_eq!(c.get_acls("/open").unwrap().0, Acl::open_unsafe());
}
