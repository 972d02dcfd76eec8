//! Client operations against a real server (continued from `client_ops.rs`):
//! transactions, the 3.6+ reads, the per-call timeout, frame limits and the default ACL.

mod client_support;

use std::time::{Duration, Instant};

use client_support::*;
use mio_zookeeper::{
    Acl, Client, CreateMode, CreateOptions, Error, ErrorCode, Id, MioHandler, OpResult, Perms,
    ReadOp, ReadResult, Transaction, ZkError,
};

fn opts(mode: CreateMode) -> CreateOptions {
    CreateOptions::mode(mode)
}

// ------------------------------------------------------------------ transactions

#[test]
fn transaction_all_ok() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/t", b"0", CreateMode::Persistent).unwrap();
    c.create("/gone", b"", CreateMode::Persistent).unwrap();
    let res = c
        .transaction()
        .create("/t/new", b"n", CreateMode::Persistent)
        .create("/t/seq-", b"", CreateMode::PersistentSequential)
        .create("/t/eph", b"", CreateMode::Ephemeral)
        .set_data("/t", b"1", Some(0))
        .check("/t", Some(1))
        .delete("/gone", None)
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
    assert_eq!(c.get("/t", None).unwrap().0.as_deref(), Some(&b"1"[..]));
    assert!(c.exists("/t/eph", None).unwrap().unwrap().is_ephemeral());
    assert!(c.exists("/gone", None).unwrap().is_none());
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
        .create("/fred", b"", CreateMode::Persistent)
        .delete("/smith", None)
        .create("/after", b"", CreateMode::Persistent)
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
    assert!(c.exists("/fred", None).unwrap().is_none(), "rolled back");
    assert!(c.exists("/after", None).unwrap().is_none());

    // Failures of each kind in the first slot.
    c.create("/v", b"", CreateMode::Persistent).unwrap();
    let one = |t: Transaction<MioHandler>| -> Error {
        match t.commit().unwrap().remove(0) {
            OpResult::Error(e) => e,
            other => panic!("{other:?}"),
        }
    };
    assert_zk::<()>(
        Err(one(c.transaction().create(
            "/v",
            b"",
            CreateMode::Persistent,
        ))),
        ErrorCode::NodeExists,
        "/v",
    );
    assert_zk::<()>(
        Err(one(c.transaction().set_data("/v", b"", Some(7)))),
        ErrorCode::BadVersion,
        "/v",
    );
    assert_zk::<()>(
        Err(one(c.transaction().create(
            "/no/parent",
            b"",
            CreateMode::Persistent,
        ))),
        ErrorCode::NoNode,
        "/no/parent",
    );
    c.create("/v/c", b"", CreateMode::Persistent).unwrap();
    assert_zk::<()>(
        Err(one(c.transaction().delete("/v", None))),
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
    c.create("/c", b"", CreateMode::Persistent).unwrap();
    let res = c
        .transaction()
        .check("/c", Some(0))
        .create("/c/a", b"", CreateMode::Persistent)
        .commit()
        .unwrap();
    assert!(matches!(res[0], OpResult::Check), "{res:?}");
    assert!(matches!(&res[1], OpResult::Create(p) if p == "/c/a"));

    let res = c
        .transaction()
        .check("/c", Some(5))
        .create("/c/b", b"", CreateMode::Persistent)
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
    assert!(c.exists("/c/b", None).unwrap().is_none());
    // A check on a missing node.
    let res = c.transaction().check("/missing", Some(0)).commit().unwrap();
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
        .create("/ok", b"", CreateMode::Persistent)
        .create("/c", b"", CreateMode::Container)
        .commit()
    {
        Err(Error::BadArgument(m)) => assert!(m.contains("/c"), "{m}"),
        other => panic!("{other:?}"),
    }
    match c
        .transaction()
        .create("/ok", b"", CreateMode::Persistent)
        .delete("relative", None)
        .commit()
    {
        Err(Error::InvalidPath { path, .. }) => assert_eq!(path, "relative"),
        other => panic!("{other:?}"),
    }
    assert!(c.exists("/ok", None).unwrap().is_none());
    // A transaction can only be committed once: `commit` consumes it (a second commit does
    // not compile; see the compile_fail example on `Transaction::commit`).
}

// ------------------------------------------------------------------ 3.6+ reads

#[test]
fn multi_read_reports_each_read_on_its_own() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/m", b"md", CreateMode::Persistent).unwrap();
    c.create("/m/a", b"", CreateMode::Persistent).unwrap();
    c.create("/m/b", b"", CreateMode::Persistent).unwrap();
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
        .create("/theirs", b"", opts(CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(c.get_ephemerals("/").unwrap(), Vec::<String>::new());
    c.ensure_path("/app/sub", None).unwrap();
    for p in ["/e1", "/app/e2", "/app/sub/e3"] {
        c.create(p, b"", opts(CreateMode::Ephemeral)).unwrap();
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
    assert_eq!(st, c.exists("/zookeeper/config", None).unwrap().unwrap());

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
    let r = c.reconfig(None, None, Some("server.1=127.0.0.1:2888:3888;2181"), None);
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
    let r = quick.create("/late", b"v", CreateMode::Persistent);
    let took = t0.elapsed();
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(c.pending_requests(), 1, "the request is still in flight");
    // An async call made meanwhile sees the same outcome later.
    let r2 = c.exists_async("/late", None);

    zk.resume().unwrap();
    wait_for(&c, "the requests to complete", || c.pending_requests() == 0);
    assert!(
        r2.get(false, None).unwrap().is_some(),
        "the timed-out create was applied before the exists"
    );
    assert_eq!(c.get("/late", None).unwrap().0.as_deref(), Some(&b"v"[..]));
    assert_eq!(c.client_id().unwrap().0, session, "the same session");
    // with_timeout does not change the original handle.
    assert!(c.create("/next", b"", CreateMode::Persistent).is_ok());
}

/// A request larger than the server accepts (jute.maxbuffer, 1 MiB - 1) is refused locally
/// with a clear error instead of making the server drop the connection; the session is
/// unaffected. Data just under the limit goes through.
#[test]
fn oversized_requests_are_refused_locally() {
    let zk = server();
    let c = client(&zk.connect_string());
    let states = record_states(&c);
    let big = vec![b'x'; 1024 * 1024];
    match c.create("/big", &big, CreateMode::Persistent) {
        Err(e @ Error::Encode(_)) => {
            assert_eq!(e.code(), Some(ErrorCode::MarshallingError));
            assert!(!e.to_string().is_empty());
        }
        other => panic!("{other:?}"),
    }
    c.create("/ok", b"", CreateMode::Persistent).unwrap();
    match c.set("/ok", &big, None) {
        Err(Error::Encode(_)) => {}
        other => panic!("{other:?}"),
    }
    let fits = vec![b'y'; 1_000_000];
    c.set("/ok", &fits, None).unwrap();
    assert_eq!(
        c.get("/ok", None).unwrap().0.map(|d| d.len()),
        Some(1_000_000)
    );
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
    c.create("/plain", b"", CreateMode::Persistent).unwrap();
    c.create(
        "/empty-acl",
        b"",
        &CreateOptions {
            acl: Some(vec![]),
            ..CreateOptions::default()
        },
    )
    .unwrap();
    c.ensure_path("/ens/sub", None).unwrap();
    c.create(
        "/mk/leaf",
        b"",
        &CreateOptions {
            makepath: true,
            ..CreateOptions::default()
        },
    )
    .unwrap();
    c.transaction()
        .create("/txn", b"", CreateMode::Persistent)
        .commit()
        .unwrap();
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
    c.create(
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
