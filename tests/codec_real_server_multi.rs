//! The codec against a real ZooKeeper (issue #2 §6), continued from `codec_real_server.rs`:
//! multi and multiRead, ACLs, auth and whoAmI, watches, their notifications, SetWatches and
//! their removal.

mod codec_support;

use codec_support::*;

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
