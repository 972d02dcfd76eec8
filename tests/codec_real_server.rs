//! The codec against a real ZooKeeper (issue #2 §6): a plain socket, the codec and nothing
//! else. Every reply must decode to what was expected.

use std::time::Duration;

use bytes::Bytes;
use mio_zookeeper::proto::{
    Acl, AddWatchRequest, AuthPacket, CheckVersionRequest, CreateMode, CreateRequest,
    CreateTtlRequest, DeleteRequest, ErrorCode, EventType, Id, KeeperState, MultiOp, MultiResult,
    PathOnly, PathWatch, Perms, Request, Response, SetAclRequest, SetDataRequest, SetWatches, Stat,
    WatcherType, WatchesRequest,
};
use mio_zookeeper::testing::{RawConnection, RawReply, ZkServer};

const WAIT: Duration = Duration::from_secs(10);

fn server() -> ZkServer {
    ZkServer::builder()
        .extended_types(true)
        .start()
        .expect("start a throwaway ZooKeeper (scripts/install-zookeeper installs one)")
}

fn connect(zk: &ZkServer) -> RawConnection {
    RawConnection::connect(zk.addr(), 10_000).expect("handshake")
}

fn create_req(path: &str, data: &[u8], mode: CreateMode) -> CreateRequest {
    CreateRequest {
        path: path.to_string(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        flags: mode.flags(),
    }
}

fn ok(reply: RawReply) -> Response {
    assert_eq!(
        reply.header.err,
        ErrorCode::Ok,
        "unexpected error reply: {reply:?}"
    );
    reply.response
}

fn err(reply: RawReply) -> ErrorCode {
    assert_eq!(
        reply.response,
        Response::Empty,
        "error replies are header-only: {reply:?}"
    );
    reply.header.err
}

fn stat_of(resp: Response) -> Stat {
    match resp {
        Response::Stat(s) => s,
        other => panic!("expected a Stat reply, got {other:?}"),
    }
}

fn get_data(conn: &mut RawConnection, path: &str, watch: bool) -> (Option<Bytes>, Stat) {
    match ok(conn
        .call(&Request::GetData(PathWatch {
            path: path.into(),
            watch,
        }))
        .unwrap())
    {
        Response::GetData { data, stat } => (data, stat),
        other => panic!("expected GetData, got {other:?}"),
    }
}

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

#[test]
fn multi_and_multi_read() {
    let zk = server();
    let mut c = connect(&zk);
    ok(c.call(&Request::Create(create_req(
        "/m",
        b"m",
        CreateMode::Persistent,
    )))
    .unwrap());

    // All succeed: one result per op, in order.
    let ops = vec![
        MultiOp::Create(create_req("/m/a", b"1", CreateMode::Persistent)),
        MultiOp::Create2(create_req("/m/b", b"2", CreateMode::Persistent)),
        MultiOp::SetData(SetDataRequest {
            path: "/m".into(),
            data: Some(Bytes::from_static(b"mm")),
            version: 0,
        }),
        MultiOp::Check(CheckVersionRequest {
            path: "/m".into(),
            version: 1,
        }),
        MultiOp::Delete(DeleteRequest {
            path: "/m/a".into(),
            version: -1,
        }),
    ];
    let results = match ok(c.call(&Request::Multi(ops)).unwrap()) {
        Response::Multi(r) => r,
        other => panic!("multi: {other:?}"),
    };
    assert_eq!(results.len(), 5);
    assert_eq!(
        results[0],
        MultiResult::Create {
            path: "/m/a".into()
        }
    );
    // Seen on 3.8.0: a create2 inside multi is answered with a plain create result (path
    // only, no stat); both shapes are accepted.
    assert!(
        matches!(&results[1], MultiResult::Create2 { path, .. } | MultiResult::Create { path } if path == "/m/b"),
        "{results:?}"
    );
    assert!(matches!(&results[2], MultiResult::SetData(s) if s.version == 1));
    assert_eq!(results[3], MultiResult::Check);
    assert_eq!(results[4], MultiResult::Delete);

    // One fails: header err 0; ok ops before report 0, the failing one its code, later -2.
    let ops = vec![
        MultiOp::Create(create_req("/m/c", b"", CreateMode::Persistent)),
        MultiOp::Delete(DeleteRequest {
            path: "/m/none".into(),
            version: -1,
        }),
        MultiOp::SetData(SetDataRequest {
            path: "/m".into(),
            data: None,
            version: -1,
        }),
    ];
    let reply = c.call(&Request::Multi(ops)).unwrap();
    assert_eq!(reply.header.err, ErrorCode::Ok);
    assert_eq!(
        reply.response,
        Response::Multi(vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::NoNode),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ])
    );
    // Nothing of the failed multi was applied.
    assert_eq!(
        err(c
            .call(&Request::Exists(PathWatch {
                path: "/m/c".into(),
                watch: false,
            }))
            .unwrap()),
        ErrorCode::NoNode
    );

    // multiRead: not atomic, each op on its own.
    let reply = c
        .call(&Request::MultiRead(vec![
            MultiOp::GetData("/m".into()),
            MultiOp::GetChildren("/m".into()),
            MultiOp::GetData("/m/none".into()),
        ]))
        .unwrap();
    assert_eq!(reply.header.err, ErrorCode::Ok);
    match reply.response {
        Response::Multi(r) => {
            assert_eq!(r.len(), 3);
            assert!(
                matches!(&r[0], MultiResult::GetData { data: Some(d), stat } if &d[..] == b"mm" && stat.version == 1)
            );
            assert_eq!(
                r[1],
                MultiResult::GetChildren {
                    children: vec!["b".into()]
                }
            );
            assert_eq!(r[2], MultiResult::Error(ErrorCode::NoNode));
        }
        other => panic!("multiRead: {other:?}"),
    }
}

#[test]
fn acls_auth_and_whoami() {
    let zk = server();
    let mut owner = connect(&zk);
    let mut other = connect(&zk);

    // whoAmI before auth: the ip scheme only.
    match ok(owner.call(&Request::WhoAmI).unwrap()) {
        Response::WhoAmI(infos) => {
            assert!(infos.iter().any(|i| i.auth_scheme == "ip"), "{infos:?}")
        }
        other => panic!("whoAmI: {other:?}"),
    }

    let auth = |user: &str| {
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Some(Bytes::from(format!("{user}:secret"))),
        })
    };
    let r = owner.call(&auth("alice")).unwrap();
    assert_eq!(r.header.xid, -4);
    assert_eq!(ok(r), Response::Empty);
    match ok(owner.call(&Request::WhoAmI).unwrap()) {
        Response::WhoAmI(infos) => assert!(
            infos
                .iter()
                .any(|i| i.auth_scheme == "digest" && i.user.starts_with("alice")),
            "{infos:?}"
        ),
        other => panic!("whoAmI: {other:?}"),
    }

    // A node only its creator may touch (the `auth` id expands to the digest identity).
    let creator_all = vec![Acl {
        perms: Perms::ALL,
        id: Id::auth_ids(),
    }];
    ok(owner
        .call(&Request::Create(CreateRequest {
            path: "/secret".into(),
            data: Some(Bytes::from_static(b"s")),
            acl: creator_all,
            flags: 0,
        }))
        .unwrap());
    let acl = match ok(owner
        .call(&Request::GetAcl(PathOnly {
            path: "/secret".into(),
        }))
        .unwrap())
    {
        Response::GetAcl { acl, stat } => {
            assert_eq!(stat.aversion, 0);
            acl
        }
        other => panic!("getACL: {other:?}"),
    };
    assert_eq!(acl.len(), 1);
    assert_eq!(acl[0].perms, Perms::ALL);
    assert_eq!(acl[0].id.scheme, "digest");
    assert!(acl[0].id.id.starts_with("alice:"), "{acl:?}");

    // Another client without the credentials: NoAuth.
    assert_eq!(
        err(other
            .call(&Request::GetData(PathWatch {
                path: "/secret".into(),
                watch: false,
            }))
            .unwrap()),
        ErrorCode::NoAuth
    );
    // With the wrong user: still NoAuth; with the right one: readable.
    ok(other.call(&auth("bob")).unwrap());
    assert_eq!(
        err(other
            .call(&Request::GetData(PathWatch {
                path: "/secret".into(),
                watch: false,
            }))
            .unwrap()),
        ErrorCode::NoAuth
    );
    ok(other.call(&auth("alice")).unwrap());
    assert_eq!(
        get_data(&mut other, "/secret", false).0.as_deref(),
        Some(&b"s"[..])
    );

    // setACL: open it up for reading, version-checked.
    let mut new_acl = acl.clone();
    new_acl.push(Acl {
        perms: Perms::READ,
        id: Id::anyone(),
    });
    assert_eq!(
        err(owner
            .call(&Request::SetAcl(SetAclRequest {
                path: "/secret".into(),
                acl: new_acl.clone(),
                version: 3,
            }))
            .unwrap()),
        ErrorCode::BadVersion
    );
    let st = stat_of(ok(owner
        .call(&Request::SetAcl(SetAclRequest {
            path: "/secret".into(),
            acl: new_acl,
            version: 0,
        }))
        .unwrap()));
    assert_eq!(st.aversion, 1);
    let mut third = connect(&zk);
    assert_eq!(
        get_data(&mut third, "/secret", false).0.as_deref(),
        Some(&b"s"[..])
    );

    // An unknown auth scheme is AuthFailed; the server then closes the session.
    let r = third
        .call(&Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "nosuchscheme".into(),
            auth: Some(Bytes::from_static(b"x")),
        }))
        .unwrap();
    assert_eq!(r.header.err, ErrorCode::AuthFailed);
}

#[test]
fn watches_notifications_set_and_remove() {
    let zk = server();
    let mut w = connect(&zk);
    let mut writer = connect(&zk);
    ok(writer
        .call(&Request::Create(create_req(
            "/w",
            b"",
            CreateMode::Persistent,
        )))
        .unwrap());

    // A one-shot data watch through getData, fired by a set.
    get_data(&mut w, "/w", true);
    ok(writer
        .call(&Request::SetData(SetDataRequest {
            path: "/w".into(),
            data: Some(Bytes::from_static(b"1")),
            version: -1,
        }))
        .unwrap());
    let ev = w
        .next_notification(WAIT)
        .unwrap()
        .expect("data watch fired");
    assert_eq!(ev.event_type, EventType::NodeDataChanged);
    assert_eq!(ev.state, KeeperState::SyncConnected);
    assert_eq!(ev.path, "/w");

    // An exist watch on a missing node (NoNode leaves the watch), fired by create.
    assert_eq!(
        err(w
            .call(&Request::Exists(PathWatch {
                path: "/w/new".into(),
                watch: true,
            }))
            .unwrap()),
        ErrorCode::NoNode
    );
    ok(writer
        .call(&Request::Create(create_req(
            "/w/new",
            b"",
            CreateMode::Persistent,
        )))
        .unwrap());
    let ev = w
        .next_notification(WAIT)
        .unwrap()
        .expect("exist watch fired");
    assert_eq!(ev.event_type, EventType::NodeCreated);
    assert_eq!(ev.path, "/w/new");

    // addWatch persistent-recursive: the reply body is a 4-byte ErrorResponse(0).
    assert_eq!(
        ok(w.call(&Request::AddWatch(AddWatchRequest {
            path: "/w".into(),
            mode: 1,
        }))
        .unwrap()),
        Response::AddWatch { err: ErrorCode::Ok }
    );
    ok(writer
        .call(&Request::Create(create_req(
            "/w/new/deep",
            b"",
            CreateMode::Persistent,
        )))
        .unwrap());
    let ev = w
        .next_notification(WAIT)
        .unwrap()
        .expect("recursive watch fired");
    assert_eq!(ev.event_type, EventType::NodeCreated);
    assert_eq!(ev.path, "/w/new/deep");
    // Persistent: fires again without re-registering.
    ok(writer
        .call(&Request::SetData(SetDataRequest {
            path: "/w/new/deep".into(),
            data: None,
            version: -1,
        }))
        .unwrap());
    let ev = w.next_notification(WAIT).unwrap().expect("fires again");
    assert_eq!(ev.event_type, EventType::NodeDataChanged);

    // removeWatches(Any) removes it: nothing more arrives.
    assert_eq!(
        ok(w.call(&Request::RemoveWatches(WatchesRequest {
            path: "/w".into(),
            watcher_type: WatcherType::Any as i32,
        }))
        .unwrap()),
        Response::Empty
    );
    ok(writer
        .call(&Request::SetData(SetDataRequest {
            path: "/w/new/deep".into(),
            data: None,
            version: -1,
        }))
        .unwrap());
    assert_eq!(
        w.next_notification(Duration::from_millis(500)).unwrap(),
        None
    );

    // setWatches on a fresh connection: a change since relativeZxid fires at once.
    // The zxid the server was at when this read was answered: everything after it is news.
    let seen = writer
        .call(&Request::GetData(PathWatch {
            path: "/w".into(),
            watch: false,
        }))
        .unwrap()
        .header
        .zxid;
    ok(writer
        .call(&Request::SetData(SetDataRequest {
            path: "/w".into(),
            data: Some(Bytes::from_static(b"2")),
            version: -1,
        }))
        .unwrap());
    let mut fresh = connect(&zk);
    let r = fresh
        .call(&Request::SetWatches(SetWatches {
            relative_zxid: seen,
            data_watches: vec!["/w".into()],
            exist_watches: vec!["/w/absent".into()],
            child_watches: vec!["/w".into()],
        }))
        .unwrap();
    assert_eq!(ok(r), Response::Empty);
    let ev = fresh
        .next_notification(WAIT)
        .unwrap()
        .expect("setWatches fires for the change since relativeZxid");
    assert_eq!(ev.event_type, EventType::NodeDataChanged);
    assert_eq!(ev.path, "/w");
    // The child watch was registered too: a new child fires it.
    ok(writer
        .call(&Request::Create(create_req(
            "/w/kid",
            b"",
            CreateMode::Persistent,
        )))
        .unwrap());
    let ev = fresh.next_notification(WAIT).unwrap().expect("child watch");
    assert_eq!(ev.event_type, EventType::NodeChildrenChanged);
    assert_eq!(ev.path, "/w");
}
