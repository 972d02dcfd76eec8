//! Client operations against a real server (continued from `client_ops.rs`): path
//! checks, reads, writes, deletes and ACLs, with the common errors each can give.

mod client_support;

use client_support::*;
use mio_zookeeper::{
    Acl, AddWatchMode, CreateMode, CreateOptions, Error, ErrorCode, Id, Perms, ReadOp, Watcher,
};

fn opts(mode: CreateMode) -> CreateOptions {
    CreateOptions::mode(mode)
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
        check(
            "create",
            c.create(path, b"", CreateMode::Persistent).map(drop),
        );
        check("get", c.get(path, None).map(drop));
        check("set", c.set(path, b"", None).map(drop));
        check("exists", c.exists(path, None).map(drop));
        check("delete", c.delete(path, None));
        check("get_children", c.get_children(path, None).map(drop));
        check("get_acls", c.get_acls(path).map(drop));
        check(
            "set_acls",
            c.set_acls(path, Acl::open_unsafe(), None).map(drop),
        );
        check("sync", c.sync(path).map(drop));
        check("ensure_path", c.ensure_path(path, None));
        check("delete_recursive", c.delete_recursive(path));
        check("get_watch", c.get(path, Watcher::new(|_| {})).map(drop));
        check(
            "exists_watch",
            c.exists(path, Watcher::new(|_| {})).map(drop),
        );
        check(
            "get_children_watch",
            c.get_children(path, Watcher::new(|_| {})).map(drop),
        );
        check(
            "add_watch",
            c.add_watch(path, AddWatchMode::Persistent, |_| {})
                .map(drop),
        );
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
            c.transaction()
                .create(path, b"", CreateMode::Persistent)
                .commit()
                .map(drop),
        );
        check(
            "create makepath",
            c.create(
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
    match c.create("/a//", b"", opts(CreateMode::PersistentSequential)) {
        Err(Error::InvalidPath { path, .. }) => assert_eq!(path, "/a//"),
        other => panic!("{other:?}"),
    }
    // Names that only look like '.' and '..' are fine (kazoo allows "/a./b..").
    c.create(
        "/a./b..",
        b"",
        &CreateOptions {
            makepath: true,
            ..CreateOptions::default()
        },
    )
    .unwrap();
    assert!(c.exists("/a./b..", None).unwrap().is_some());
    // Unicode is fine.
    c.create("/ünïcødé €", b"", CreateMode::Persistent).unwrap();
    assert!(c
        .get_children("/", None)
        .unwrap()
        .contains(&"ünïcødé €".to_string()));
    // The client still works.
    assert!(c.exists("/", None).unwrap().is_some());
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
    assert_eq!(c.exists("/missing", None).unwrap(), None);
    assert_eq!(c.exists("/missing/deeper", None).unwrap(), None);
    let (_, created) = c.create("/here", b"abc", CreateOptions::default()).unwrap();
    let st = c.exists("/here", None).unwrap().expect("exists");
    assert_eq!(st, created);
    assert_eq!(st.data_length, 3);
    assert!(c.exists("/", None).unwrap().is_some());
    assert!(c.exists("/zookeeper", None).unwrap().is_some());
    assert_eq!(c.watch_count(), 0, "plain exists leaves no watch");
}

/// kazoo `test_create_stat`: the stat a create returns is the node's.
#[test]
fn test_create_stat() {
    let zk = server();
    let c = client(&zk.connect_string());
    let (p, created) = c.create("/s", b"data", CreateOptions::default()).unwrap();
    assert_eq!(p, "/s");
    let (_, got) = c.get("/s", None).unwrap();
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
    c.create("/s", b"data", CreateMode::Persistent).unwrap();
    c.create("/s/a", b"", CreateMode::Persistent).unwrap();
    c.create("/s/b", b"", CreateMode::Persistent).unwrap();
    let (mut children, st) = c.get_children_with_stat("/s", None).unwrap();
    children.sort();
    assert_eq!(children, ["a", "b"]);
    assert_eq!(st, c.get("/s", None).unwrap().1);
    assert_eq!(st.num_children, 2);
    assert_eq!(st.cversion, 2);
    let mut plain = c.get_children("/s", None).unwrap();
    plain.sort();
    assert_eq!(plain, children);
    assert_zk(c.get_children("/nope", None), ErrorCode::NoNode, "/nope");
    assert_zk(
        c.get_children_with_stat("/nope", None),
        ErrorCode::NoNode,
        "/nope",
    );
    assert_eq!(c.get_children("/s/a", None).unwrap(), Vec::<String>::new());
}

#[test]
fn get_set_and_versions() {
    let zk = server();
    let c = client(&zk.connect_string());
    assert_zk(c.get("/nope", None), ErrorCode::NoNode, "/nope");
    assert_zk(c.set("/nope", b"x", None), ErrorCode::NoNode, "/nope");
    c.create("/v", b"0", CreateMode::Persistent).unwrap();
    let st1 = c.set("/v", b"1", None).unwrap();
    assert_eq!(st1.version, 1);
    let st2 = c.set("/v", b"2", Some(1)).unwrap();
    assert_eq!(st2.version, 2);
    assert!(st2.mzxid > st1.mzxid);
    assert_zk(c.set("/v", b"3", Some(1)), ErrorCode::BadVersion, "/v");
    let (d, st) = c.get("/v", None).unwrap();
    assert_eq!(d.as_deref(), Some(&b"2"[..]));
    assert_eq!(st, st2);
}

#[test]
fn delete_with_version_and_not_empty() {
    let zk = server();
    let c = client(&zk.connect_string());
    assert_zk(c.delete("/nope", None), ErrorCode::NoNode, "/nope");
    c.create("/d", b"", CreateMode::Persistent).unwrap();
    c.set("/d", b"x", None).unwrap();
    assert_zk(c.delete("/d", Some(0)), ErrorCode::BadVersion, "/d");
    assert!(c.exists("/d", None).unwrap().is_some());
    c.create("/d/child", b"", CreateMode::Persistent).unwrap();
    assert_zk(c.delete("/d", None), ErrorCode::NotEmpty, "/d");
    assert_zk(c.delete("/d", Some(1)), ErrorCode::NotEmpty, "/d");
    c.delete("/d/child", Some(0)).unwrap();
    c.delete("/d", Some(1)).unwrap();
    assert!(c.exists("/d", None).unwrap().is_none());
    assert_zk(c.delete("/d", None), ErrorCode::NoNode, "/d");
    // The server's own nodes cannot be deleted.
    assert!(c.delete("/zookeeper", None).is_err());
}

#[test]
fn ensure_path_creates_every_missing_parent() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.ensure_path("/e/f/g", None).unwrap();
    for p in ["/e", "/e/f", "/e/f/g"] {
        let (d, st) = c.get(p, None).unwrap();
        assert_eq!(d, None, "{p} is created with null data");
        assert_eq!(st.ephemeral_owner, 0);
    }
    // Idempotent, and fine when only part of it exists.
    c.ensure_path("/e/f/g", None).unwrap();
    c.ensure_path("/e/f/h/i", None).unwrap();
    assert!(c.exists("/e/f/h/i", None).unwrap().is_some());
    c.ensure_path("/", None).unwrap();
    // Only missing nodes are created: an existing ancestor whose parent forbids CREATE is
    // not in the way (kazoo walks up with exists first, too).
    c.create("/locked", b"", CreateMode::Persistent).unwrap();
    c.create("/locked/open", b"", CreateMode::Persistent)
        .unwrap();
    c.set_acls("/locked", Acl::read_unsafe(), None).unwrap();
    c.ensure_path("/locked/open/x/y", None).unwrap();
    assert!(c.exists("/locked/open/x/y", None).unwrap().is_some());
    assert_zk(
        c.ensure_path("/locked/z", None),
        ErrorCode::NoAuth,
        "/locked/z",
    );
    // Below an ephemeral node it cannot.
    c.create("/eph", b"", opts(CreateMode::Ephemeral)).unwrap();
    assert_zk(
        c.ensure_path("/eph/x", None),
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
    c.create("/x", b"", CreateMode::Persistent).unwrap();
    assert_eq!(c.sync("/x").unwrap(), "/x");
}

#[test]
fn test_delete_recursive() {
    let zk = server();
    let c = client(&zk.connect_string());
    for p in ["/r/a/b/c", "/r/a/d", "/r/e", "/keep/x"] {
        c.ensure_path(p, None).unwrap();
    }
    c.create("/r/a/eph", b"", opts(CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(c.get_all_children_number("/r").unwrap(), 6);
    c.delete_recursive("/r").unwrap();
    assert!(c.exists("/r", None).unwrap().is_none());
    assert!(
        c.exists("/keep/x", None).unwrap().is_some(),
        "siblings are kept"
    );
    // Already gone: not an error.
    c.delete_recursive("/r").unwrap();
    // A leaf.
    c.delete_recursive("/keep/x").unwrap();
    assert!(c.exists("/keep/x", None).unwrap().is_none());
    assert!(c.exists("/keep", None).unwrap().is_some());
}

// ------------------------------------------------------------------ ACLs

#[test]
fn acls_get_set_and_errors() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/acl", b"", CreateMode::Persistent).unwrap();
    let (acl, st) = c.get_acls("/acl").unwrap();
    assert_eq!(acl, Acl::open_unsafe());
    assert_eq!(st.aversion, 0);
    assert_zk(c.get_acls("/nope"), ErrorCode::NoNode, "/nope");
    assert_zk(
        c.set_acls("/nope", Acl::open_unsafe(), None),
        ErrorCode::NoNode,
        "/nope",
    );

    let read_create = vec![
        Acl::new(Perms::READ | Perms::CREATE, Id::anyone()),
        Acl::new(Perms::ALL, Id::new("ip", "10.0.0.1")),
    ];
    let st = c.set_acls("/acl", read_create.clone(), Some(0)).unwrap();
    assert_eq!(st.aversion, 1);
    let (got, st2) = c.get_acls("/acl").unwrap();
    assert_eq!(got, read_create);
    assert_eq!(st2.aversion, 1);
    // Without ADMIN, set_acls is refused (the ACL check comes before the version check).
    assert_zk(
        c.set_acls("/acl", Acl::open_unsafe(), Some(1)),
        ErrorCode::NoAuth,
        "/acl",
    );

    // NoAuth: no WRITE for set, no ADMIN for set_acls, CREATE allowed, no DELETE below it.
    assert_zk(c.set("/acl", b"x", None), ErrorCode::NoAuth, "/acl");
    c.create("/acl/child", b"", CreateMode::Persistent).unwrap();
    assert_zk(
        c.delete("/acl/child", None),
        ErrorCode::NoAuth,
        "/acl/child",
    );
    assert_eq!(c.get("/acl", None).unwrap().1.num_children, 1);

    // InvalidACL: an empty ACL, the `auth` id without credentials, a malformed digest id.
    c.create("/b", b"", CreateMode::Persistent).unwrap();
    assert_zk(c.set_acls("/b", vec![], None), ErrorCode::InvalidAcl, "/b");
    assert_zk(
        c.create(
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
            None,
        ),
        ErrorCode::InvalidAcl,
        "/b",
    );
    assert_zk(
        c.set_acls(
            "/b",
            vec![Acl::new(Perms::ALL, Id::new("nosuchscheme", "x"))],
            None,
        ),
        ErrorCode::InvalidAcl,
        "/b",
    );
    // A version check on the ACL.
    let st = c.set_acls("/b", Acl::read_unsafe(), Some(0)).unwrap();
    assert_eq!(st.aversion, 1);
    // Read-only now: set_acls itself needs ADMIN.
    assert_zk(
        c.set_acls("/b", Acl::open_unsafe(), Some(1)),
        ErrorCode::NoAuth,
        "/b",
    );
    assert_eq!(c.get_acls("/b").unwrap().0, Acl::read_unsafe());
}

#[test]
fn acl_version_mismatch_is_bad_version() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/a", b"", CreateMode::Persistent).unwrap();
    assert_zk(
        c.set_acls("/a", Acl::read_unsafe(), Some(5)),
        ErrorCode::BadVersion,
        "/a",
    );
    assert_eq!(c.get_acls("/a").unwrap().0, Acl::open_unsafe());
}
