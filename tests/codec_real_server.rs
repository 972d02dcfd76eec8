//! The codec against a real ZooKeeper (issue #2 §6): a plain socket, the codec and nothing
//! else. Every reply must decode to what was expected. This file: the handshake and session
//! records, every create mode and the node operations, error replies, TTL nodes;
//! `codec_real_server_multi.rs`: transactions, ACLs and auth, watches.

mod codec_support;

use codec_support::*;

#[test]
fn handshake_and_session_records() {
    let zk = server();
    let conn = connect(&zk);
    let s = conn.session();
    assert_eq!(s.protocol_version, 0);
    assert!(s.timeout_ms > 0, "negotiated timeout {}", s.timeout_ms);
    assert_ne!(s.session_id, 0);
    assert_eq!(s.passwd.len(), 16);
    // We sent the read-only byte, so the server sends it back (PROTOCOL.md §3).
    assert_eq!(s.read_only, Some(false));

    // Resuming with a bogus session id: timeout 0, session 0, zero password (§10).
    let bogus = mio_zookeeper::proto::ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 10_000,
        session_id: 0x1234_5678,
        passwd: Bytes::from_static(&[7; 16]),
        read_only: Some(false),
    };
    let expired = RawConnection::connect_with(zk.addr(), &bogus).expect("expired handshake");
    assert_eq!(expired.session().timeout_ms, 0);
    assert_eq!(expired.session().session_id, 0);

    // Resuming the live session with its real password works.
    let resume = mio_zookeeper::proto::ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 10_000,
        session_id: s.session_id,
        passwd: s.passwd.clone(),
        read_only: Some(false),
    };
    let again = RawConnection::connect_with(zk.addr(), &resume).expect("resume");
    assert_eq!(again.session_id(), s.session_id);
}

#[test]
fn create_every_mode_and_crud() {
    let zk = server();
    let mut c = connect(&zk);

    // create (opcode 1): the reply is the path.
    let r = ok(c
        .call(&Request::Create(create_req(
            "/a",
            b"hello",
            CreateMode::Persistent,
        )))
        .unwrap());
    assert_eq!(r, Response::Create { path: "/a".into() });

    // create2 (opcode 15) for each plain mode: path and stat.
    for (path, mode) in [
        ("/a/p", CreateMode::Persistent),
        ("/a/e", CreateMode::Ephemeral),
        ("/a/ps-", CreateMode::PersistentSequential),
        ("/a/es-", CreateMode::EphemeralSequential),
    ] {
        match ok(c
            .call(&Request::Create2(create_req(path, b"x", mode)))
            .unwrap())
        {
            Response::Create2 { path: got, stat } => {
                if mode.is_sequential() {
                    assert_eq!(got.len(), path.len() + 10, "10-digit suffix on {got}");
                    assert!(got.starts_with(path));
                } else {
                    assert_eq!(got, path);
                }
                assert_eq!(stat.data_length, 1);
                assert_eq!(stat.ephemeral_owner != 0, mode.is_ephemeral());
            }
            other => panic!("create2 {path}: {other:?}"),
        }
    }

    // createContainer (opcode 19).
    match ok(c
        .call(&Request::CreateContainer(create_req(
            "/a/container",
            b"",
            CreateMode::Container,
        )))
        .unwrap())
    {
        Response::Create2 { path, stat } => {
            assert_eq!(path, "/a/container");
            // Seen on 3.8.0: the server hides the container marker (ephemeralOwner
            // 0x8000000000000000, PROTOCOL.md §6) from clients and reports 0.
            assert!(stat.ephemeral_owner == 0 || stat.is_container(), "{stat:?}");
            assert_eq!(stat.version, 0);
        }
        other => panic!("createContainer: {other:?}"),
    }

    // createTTL (opcode 21), both TTL modes (extendedTypesEnabled is on).
    for (path, mode) in [
        ("/a/ttl", CreateMode::PersistentWithTtl),
        ("/a/ttls-", CreateMode::PersistentSequentialWithTtl),
    ] {
        let req = CreateTtlRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"t")),
            acl: Acl::open_unsafe(),
            flags: mode.flags(),
            ttl: 60_000,
        };
        match ok(c.call(&Request::CreateTtl(req)).unwrap()) {
            Response::Create2 { path: got, stat } => {
                assert!(got.starts_with(path));
                // As for containers, 3.8.0 reports ephemeralOwner 0 rather than the TTL
                // marker; a server that shows it must show our TTL.
                assert!(
                    stat.ephemeral_owner == 0 || stat.ttl() == Some(60_000),
                    "{stat:?}"
                );
                assert_eq!(stat.data_length, 1);
            }
            other => panic!("createTTL: {other:?}"),
        }
    }

    // get / set / exists / delete, with and without versions.
    let (data, stat) = get_data(&mut c, "/a", false);
    assert_eq!(data.as_deref(), Some(&b"hello"[..]));
    assert_eq!(stat.version, 0);
    let st = stat_of(ok(c
        .call(&Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"v1")),
            version: 0,
        }))
        .unwrap()));
    assert_eq!(st.version, 1);
    assert_eq!(
        err(c
            .call(&Request::SetData(SetDataRequest {
                path: "/a".into(),
                data: None,
                version: 0,
            }))
            .unwrap()),
        ErrorCode::BadVersion
    );
    let st = stat_of(ok(c
        .call(&Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: None,
            version: -1,
        }))
        .unwrap()));
    assert_eq!(st.version, 2);
    assert_eq!(st.data_length, 0);
    // Null data reads back as null.
    assert_eq!(get_data(&mut c, "/a", false).0, None);

    let st = stat_of(ok(c
        .call(&Request::Exists(PathWatch {
            path: "/a/p".into(),
            watch: false,
        }))
        .unwrap()));
    assert_eq!(st.data_length, 1);
    assert_eq!(
        err(c
            .call(&Request::Exists(PathWatch {
                path: "/nope".into(),
                watch: false,
            }))
            .unwrap()),
        ErrorCode::NoNode
    );

    assert_eq!(
        err(c
            .call(&Request::Delete(DeleteRequest {
                path: "/a/p".into(),
                version: 5,
            }))
            .unwrap()),
        ErrorCode::BadVersion
    );
    assert_eq!(
        ok(c.call(&Request::Delete(DeleteRequest {
            path: "/a/p".into(),
            version: 0,
        }))
        .unwrap()),
        Response::Empty
    );
    assert_eq!(
        ok(c.call(&Request::Delete(DeleteRequest {
            path: "/a/e".into(),
            version: -1,
        }))
        .unwrap()),
        Response::Empty
    );

    // getChildren and getChildren2.
    let mut children = match ok(c
        .call(&Request::GetChildren2(PathWatch {
            path: "/a".into(),
            watch: false,
        }))
        .unwrap())
    {
        Response::GetChildren2 { children, stat } => {
            assert_eq!(stat.num_children as usize, children.len());
            children
        }
        other => panic!("getChildren2: {other:?}"),
    };
    children.sort();
    assert_eq!(children.len(), 5, "{children:?}");
    assert!(children.contains(&"container".to_string()));
    assert!(children.iter().any(|c| c.starts_with("ps-")));
    match ok(c
        .call(&Request::GetChildren(PathWatch {
            path: "/a".into(),
            watch: false,
        }))
        .unwrap())
    {
        Response::GetChildren { children: mut c2 } => {
            c2.sort();
            assert_eq!(c2, children);
        }
        other => panic!("getChildren: {other:?}"),
    }

    // getAllChildrenNumber and getEphemerals.
    assert_eq!(
        ok(c.call(&Request::GetAllChildrenNumber(PathOnly {
            path: "/a".into()
        }))
        .unwrap()),
        Response::GetAllChildrenNumber { total: 5 }
    );
    match ok(c
        .call(&Request::GetEphemerals(PathOnly { path: "/".into() }))
        .unwrap())
    {
        Response::GetEphemerals { ephemerals } => {
            assert_eq!(ephemerals.len(), 1, "{ephemerals:?}");
            assert!(ephemerals[0].starts_with("/a/es-"));
        }
        other => panic!("getEphemerals: {other:?}"),
    }

    // sync returns the path; ping; closeSession.
    assert_eq!(
        ok(c.call(&Request::Sync(PathOnly { path: "/a".into() }))
            .unwrap()),
        Response::Sync { path: "/a".into() }
    );
    let ping = c.call(&Request::Ping).unwrap();
    assert_eq!(ping.header.xid, -2);
    assert_eq!(ping.response, Response::Empty);
    let closed = c.close().unwrap();
    assert_eq!(closed.header.err, ErrorCode::Ok);
}

#[test]
fn common_error_replies() {
    let zk = server();
    let mut c = connect(&zk);
    ok(c.call(&Request::Create(create_req(
        "/e",
        b"",
        CreateMode::Persistent,
    )))
    .unwrap());
    ok(c.call(&Request::Create(create_req(
        "/e/child",
        b"",
        CreateMode::Persistent,
    )))
    .unwrap());
    ok(c.call(&Request::Create(create_req(
        "/eph",
        b"",
        CreateMode::Ephemeral,
    )))
    .unwrap());

    let cases: Vec<(Request, ErrorCode)> = vec![
        (
            Request::Create(create_req("/e", b"", CreateMode::Persistent)),
            ErrorCode::NodeExists,
        ),
        (
            Request::Create(create_req("/missing/x", b"", CreateMode::Persistent)),
            ErrorCode::NoNode,
        ),
        (
            Request::Delete(DeleteRequest {
                path: "/e".into(),
                version: -1,
            }),
            ErrorCode::NotEmpty,
        ),
        (
            Request::Create(create_req("/eph/x", b"", CreateMode::Persistent)),
            ErrorCode::NoChildrenForEphemerals,
        ),
        (
            Request::GetData(PathWatch {
                path: "/missing".into(),
                watch: false,
            }),
            ErrorCode::NoNode,
        ),
        (
            Request::SetAcl(SetAclRequest {
                path: "/e".into(),
                acl: vec![],
                version: -1,
            }),
            ErrorCode::InvalidAcl,
        ),
        (
            Request::Create(CreateRequest {
                path: "/badacl".into(),
                data: None,
                acl: vec![Acl {
                    perms: Perms::ALL,
                    id: Id {
                        scheme: "auth".into(),
                        id: String::new(),
                    },
                }],
                flags: 0,
            }),
            ErrorCode::InvalidAcl,
        ),
        (
            Request::RemoveWatches(WatchesRequest {
                path: "/e".into(),
                watcher_type: WatcherType::Data as i32,
            }),
            ErrorCode::NoWatcher,
        ),
        (
            Request::Create(create_req("/bad\u{0}path", b"", CreateMode::Persistent)),
            ErrorCode::BadArguments,
        ),
    ];
    for (req, want) in cases {
        let got = err(c.call(&req).unwrap());
        assert_eq!(got, want, "request {req:?}");
    }
}

#[test]
fn ttl_is_unimplemented_without_extended_types() {
    let zk = ZkServer::start().expect("start ZooKeeper");
    let mut c = connect(&zk);
    let req = CreateTtlRequest {
        path: "/ttl".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: CreateMode::PersistentWithTtl.flags(),
        ttl: 1000,
    };
    assert_eq!(
        err(c.call(&Request::CreateTtl(req)).unwrap()),
        ErrorCode::Unimplemented
    );
}
