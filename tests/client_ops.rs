//! Every client operation against a real ZooKeeper server, in blocking form, with the
//! common errors each can give (issue #4 §2 and §5), plus the ports of kazoo's
//! `TestClient` / `TestClientTransactions` acceptance tests (KAZOO.md §6.3 items 8–15, 17).
//! This file: create in every mode (the paths, reads and writes are in
//! `client_ops_nodes.rs`, transactions and the 3.6+ reads in `client_ops_multi.rs`).
//! The `*_async` forms are in `client_async.rs`.

mod client_support;

use mio_zookeeper::{Acl, CreateMode, CreateOptions, Error, ErrorCode, Id, NullData, Perms};
use std::time::Duration;

use bytes::Bytes;
use client_support::*;
use mio_zookeeper::testing::ZkServer;

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
        .create("/persistent", b"p", CreateOptions::default())
        .unwrap();
    assert_eq!(p, "/persistent");
    assert_eq!(st.ephemeral_owner, 0);
    assert_eq!(st.data_length, 1);
    assert_eq!(st.version, 0);

    // Ephemeral: owned by this session.
    let (p, st) = c
        .create("/ephemeral", b"e", opts(CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(p, "/ephemeral");
    assert_eq!(st.ephemeral_owner, session);
    assert!(st.is_ephemeral());
    assert_eq!(
        c.exists("/ephemeral", None)
            .unwrap()
            .unwrap()
            .ephemeral_owner,
        session
    );

    // Ephemeral sequential.
    let (p, st) = c
        .create("/eseq-", b"", opts(CreateMode::EphemeralSequential))
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
        .create("/container", b"", opts(CreateMode::Container))
        .unwrap();
    assert_eq!(p, "/container");
    assert_eq!(st.ephemeral_owner, 0, "{st:?}");
    assert!(!st.is_container() && !st.is_ephemeral());

    // Existing node.
    assert_zk(
        c.create("/persistent", b"", CreateMode::Persistent),
        ErrorCode::NodeExists,
        "/persistent",
    );
    assert_zk(
        c.create("/container", b"", opts(CreateMode::Container)),
        ErrorCode::NodeExists,
        "/container",
    );

    // A ttl for a mode that takes none is refused locally.
    let bad = CreateOptions {
        ttl: Some(Duration::from_secs(1)),
        ..CreateOptions::default()
    };
    match c.create("/ttl-on-persistent", b"", &bad) {
        Err(Error::BadArgument(m)) => assert!(m.contains("ttl"), "{m}"),
        other => panic!("{other:?}"),
    }

    // The ephemerals go with the session.
    c.stop().unwrap();
    let other = client(&zk.connect_string());
    assert!(other.exists("/ephemeral", None).unwrap().is_none());
    assert!(other.exists("/eseq-0000000002", None).unwrap().is_none());
    assert!(other.exists("/persistent", None).unwrap().is_some());
}

/// kazoo `test_create_sequence`: a 10-digit zero-padded suffix; a trailing `/` gives a bare
/// sequence number as the node's name.
#[test]
fn test_create_sequence() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/folder", b"", CreateMode::Persistent).unwrap();
    let (p1, _) = c
        .create("/folder/a", b"", opts(CreateMode::PersistentSequential))
        .unwrap();
    let (p2, _) = c
        .create("/folder/a", b"", opts(CreateMode::PersistentSequential))
        .unwrap();
    assert_eq!(p1, "/folder/a0000000000");
    assert_eq!(p2, "/folder/a0000000001");
    // A trailing '/': the name is the sequence number alone.
    let (p3, _) = c
        .create("/folder/", b"", opts(CreateMode::PersistentSequential))
        .unwrap();
    assert_eq!(p3, "/folder/0000000002");
    let mut children = c.get_children("/folder", None).unwrap();
    children.sort();
    assert_eq!(children, ["0000000002", "a0000000000", "a0000000001"]);
    // Ephemeral sequential below the same parent continues the same counter.
    let (p4, st) = c
        .create("/folder/e", b"", opts(CreateMode::EphemeralSequential))
        .unwrap();
    assert_eq!(p4, "/folder/e0000000003");
    assert!(st.is_ephemeral());
    // A trailing '/' is refused for non-sequential creates, locally.
    match c.create("/folder/", b"", CreateMode::Persistent) {
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
    let (p, st) = c.create("/ttl", b"t", &o).unwrap();
    assert_eq!(p, "/ttl");
    // As for containers, the server reports ephemeralOwner 0 for TTL nodes.
    assert_eq!(st.ephemeral_owner, 0, "{st:?}");
    assert!(!st.is_ephemeral());
    let (d, _) = c.get("/ttl", None).unwrap();
    assert_eq!(d.as_deref(), Some(&b"t"[..]));

    let o = CreateOptions {
        ttl: Some(Duration::from_millis(1500)),
        ..opts(CreateMode::PersistentSequentialWithTtl)
    };
    c.create("/q", b"", CreateMode::Persistent).unwrap();
    let (p, _) = c.create("/q/ttlseq-", b"", &o).unwrap();
    assert_eq!(p, "/q/ttlseq-0000000000");
    assert_zk(
        c.create(
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
        match c.create("/ttl-bad", b"", &o) {
            Err(Error::BadArgument(m)) => assert!(m.contains("TTL"), "{m}"),
            other => panic!("ttl {bad:?}: {other:?}"),
        }
    }
    assert!(c.exists("/ttl-bad", None).unwrap().is_none());
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
    c.create("/container", b"", opts(CreateMode::Container))
        .unwrap();
    c.create("/plain", b"", CreateMode::Persistent).unwrap();
    for parent in ["/container", "/plain"] {
        c.create(&format!("{parent}/child"), b"", CreateMode::Persistent)
            .unwrap();
    }
    let events = Events::new();
    c.exists("/container", events.watcher()).unwrap();
    for parent in ["/container", "/plain"] {
        c.delete(&format!("{parent}/child"), None).unwrap();
    }
    wait_for(&c, "the empty container to be removed", || {
        events.len() == 1
    });
    assert_eq!(
        events.kinds(),
        [(
            mio_zookeeper::EventType::NodeDeleted,
            "/container".to_string()
        )]
    );
    assert!(c.exists("/container", None).unwrap().is_none());
    assert!(
        c.exists("/plain", None).unwrap().is_some(),
        "a plain node stays"
    );
}

#[test]
fn ttl_nodes_are_removed_after_their_ttl() {
    let zk = fast_reaper(true);
    let c = client(&zk.connect_string());
    let o = CreateOptions {
        ttl: Some(Duration::from_millis(300)),
        ..opts(CreateMode::PersistentWithTtl)
    };
    c.create("/short", b"", &o).unwrap();
    let long = CreateOptions {
        ttl: Some(Duration::from_secs(3600)),
        ..opts(CreateMode::PersistentWithTtl)
    };
    c.create("/long", b"", &long).unwrap();
    let events = Events::new();
    c.exists("/short", events.watcher()).unwrap();
    wait_for(&c, "the TTL node to expire", || events.len() == 1);
    assert_eq!(
        events.kinds(),
        [(mio_zookeeper::EventType::NodeDeleted, "/short".to_string())]
    );
    assert!(c.exists("/long", None).unwrap().is_some());
}

#[test]
fn create_ttl_without_extended_types_is_unimplemented() {
    let zk = server();
    let c = client(&zk.connect_string());
    let o = CreateOptions {
        ttl: Some(Duration::from_secs(10)),
        ..opts(CreateMode::PersistentWithTtl)
    };
    assert_zk(c.create("/ttl", b"", &o), ErrorCode::Unimplemented, "/ttl");
    assert!(c.exists("/ttl", None).unwrap().is_none());
    // The session is fine afterwards.
    c.create("/after", b"", CreateMode::Persistent).unwrap();
}

/// kazoo `test_create_no_makepath`: without makepath a missing parent is NoNode and
/// nothing is created; an existing leaf is NodeExists.
#[test]
fn test_create_no_makepath() {
    let zk = server();
    let c = client(&zk.connect_string());
    assert_zk(
        c.create("/1/2", b"", CreateMode::Persistent),
        ErrorCode::NoNode,
        "/1/2",
    );
    assert_zk(
        c.create("/1/2/3", b"", CreateMode::Persistent),
        ErrorCode::NoNode,
        "/1/2/3",
    );
    assert!(c.exists("/1", None).unwrap().is_none());
    c.create("/1", b"", CreateMode::Persistent).unwrap();
    c.create("/1/2", b"", CreateMode::Persistent).unwrap();
    assert_zk(
        c.create("/1/2", b"", CreateMode::Persistent),
        ErrorCode::NodeExists,
        "/1/2",
    );
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
    let (p, _) = c.create("/1/2", b"val", &mk).unwrap();
    assert_eq!(p, "/1/2");
    let (d, _) = c.get("/1/2", None).unwrap();
    assert_eq!(d.as_deref(), Some(&b"val"[..]));
    // Parents are plain persistent nodes with null data.
    let (d, st) = c.get("/1", None).unwrap();
    assert_eq!(d, None);
    assert_eq!(st.ephemeral_owner, 0);

    // Deeper, with an ephemeral sequential leaf.
    let (p, st) = c
        .create(
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
    assert!(!c.exists("/a/b/c", None).unwrap().unwrap().is_ephemeral());

    // A bare sequence number (trailing '/') below missing parents: the parent is the path
    // without its '/' (kazoo's `path.rstrip('/')`).
    let (p, _) = c
        .create(
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
    assert_zk(c.create("/1/2", b"", &mk), ErrorCode::NodeExists, "/1/2");
    assert_zk(
        c.create("/1/2", b"", CreateMode::Persistent),
        ErrorCode::NodeExists,
        "/1/2",
    );

    // makepath with an ACL: the parents get it too.
    let acl = vec![Acl::new(Perms::READ | Perms::CREATE, Id::anyone())];
    c.create(
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
    c.create("/eph", b"", opts(CreateMode::Ephemeral)).unwrap();
    assert_zk(
        c.create("/eph/child", b"", CreateMode::Persistent),
        ErrorCode::NoChildrenForEphemerals,
        "/eph/child",
    );
    assert_zk(
        c.create("/eph/seq-", b"", opts(CreateMode::EphemeralSequential)),
        ErrorCode::NoChildrenForEphemerals,
        "/eph/seq-",
    );
    assert_eq!(c.get_children("/eph", None).unwrap(), Vec::<String>::new());
}

/// kazoo `test_create_null_data`: null data round-trips as `None`.
#[test]
fn test_create_null_data() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.done(c.create_async("/null", NullData, CreateOptions::default()));
    let (d, st) = c.get("/null", None).unwrap();
    assert_eq!(d, None);
    assert_eq!(st.data_length, 0);
    // Binary data survives untouched.
    let blob: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    c.create("/blob", &blob, CreateMode::Persistent).unwrap();
    assert_eq!(c.get("/blob", None).unwrap().0, Some(Bytes::from(blob)));
}

/// kazoo `test_create_empty_string`: empty data round-trips as empty, not as null.
#[test]
fn test_create_empty_string() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/empty", b"", CreateMode::Persistent).unwrap();
    let (d, st) = c.get("/empty", None).unwrap();
    assert_eq!(d.as_deref(), Some(&b""[..]));
    assert_eq!(st.data_length, 0);
}

/// kazoo `test_set_null_data`: set to null, to empty and back to data.
#[test]
fn test_set_null_data() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/s", b"x", CreateMode::Persistent).unwrap();
    let st = c.done(c.set_async("/s", NullData, None));
    assert_eq!(st.version, 1);
    assert_eq!(st.data_length, 0);
    assert_eq!(c.get("/s", None).unwrap().0, None);
    c.set("/s", b"", None).unwrap();
    assert_eq!(c.get("/s", None).unwrap().0.as_deref(), Some(&b""[..]));
    c.set("/s", b"back", None).unwrap();
    assert_eq!(c.get("/s", None).unwrap().0.as_deref(), Some(&b"back"[..]));
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
