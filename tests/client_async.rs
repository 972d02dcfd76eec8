//! The `*_async` forms of every client operation against a real server: results waited
//! on, completion callbacks linked with `rawlink` and driven by a manual `poll_once` loop,
//! and results awaited in a task spawned with `handler.spawn_future` (issue #4 §2), plus
//! kazoo's `test_async_result_callbacks_are_always_called` (KAZOO.md §6.3 item 19).

mod client_support;

use mio_zookeeper::{
    make_digest_acl, Acl, AddWatchMode, AsyncResult, CreateMode, CreateOptions, Error, ErrorCode,
    EventType, Handler, NullData, OpResult, Perms, ReadOp, ReadResult, WatcherType, WhenOffline,
    ZkError,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use client_support::*;

/// Waits for an async result (the value or the error).
fn get<T: 'static>(r: AsyncResult<T>) -> Result<T, Error> {
    r.take(true, Some(WAIT))
}

#[test]
fn every_operation_async() {
    let zk = server();
    let c = client(&zk.connect_string());
    let o = CreateOptions::default;

    // create, in several modes, and its errors.
    let (p, st) = get(c.create_async("/a", Bytes::from_static(b"1"), o())).unwrap();
    assert_eq!((p.as_str(), st.version), ("/a", 0));
    assert_zk(
        get(c.create_async("/a", NullData, o())),
        ErrorCode::NodeExists,
        "/a",
    );
    assert_zk(
        get(c.create_async("/x/y", NullData, o())),
        ErrorCode::NoNode,
        "/x/y",
    );
    let mk = CreateOptions {
        makepath: true,
        ..CreateOptions::default()
    };
    let (p, _) = get(c.create_async("/x/y/z", NullData, &mk)).unwrap();
    assert_eq!(p, "/x/y/z");
    let (p, _) = get(c.create_async(
        "/a/seq-",
        NullData,
        CreateOptions::mode(CreateMode::PersistentSequential),
    ))
    .unwrap();
    assert_eq!(p, "/a/seq-0000000000");
    get(c.create_async("/eph", NullData, CreateOptions::mode(CreateMode::Ephemeral))).unwrap();
    assert_zk(
        get(c.create_async("/eph/c", NullData, o())),
        ErrorCode::NoChildrenForEphemerals,
        "/eph/c",
    );
    let creator_only = CreateOptions {
        acl: Some(Acl::creator_all()),
        ..CreateOptions::default()
    };
    assert_zk(
        get(c.create_async("/creator", NullData, &creator_only)),
        ErrorCode::InvalidAcl,
        "/creator",
    );
    // A bad path fails the result at once, without a round trip.
    let bad = c.create_async("nope", NullData, o());
    assert!(bad.ready());
    assert!(matches!(get(bad), Err(Error::InvalidPath { .. })));

    // ensure_path.
    get(c.ensure_path_async("/e/f/g", None)).unwrap();
    get(c.ensure_path_async("/e/f/g", None)).unwrap();
    assert!(c.exists("/e/f/g", None).unwrap().is_some());

    // get / exists / get_children.
    let (d, st) = get(c.get_async("/a", None)).unwrap();
    assert_eq!(d.as_deref(), Some(&b"1"[..]));
    assert_eq!(st.num_children, 1);
    assert_zk(
        get(c.get_async("/missing", None)),
        ErrorCode::NoNode,
        "/missing",
    );
    assert_eq!(get(c.exists_async("/missing", None)).unwrap(), None);
    assert_eq!(get(c.exists_async("/a", None)).unwrap(), Some(st));
    let (children, st2) = get(c.get_children_with_stat_async("/a", None)).unwrap();
    assert_eq!(children, ["seq-0000000000"]);
    assert_eq!(st2, st);
    assert_zk(
        get(c.get_children_with_stat_async("/missing", None)),
        ErrorCode::NoNode,
        "/missing",
    );

    // set, with versions; null data.
    let st = get(c.set_async("/a", Bytes::from_static(b"2"), Some(0))).unwrap();
    assert_eq!(st.version, 1);
    assert_zk(
        get(c.set_async("/a", NullData, Some(0))),
        ErrorCode::BadVersion,
        "/a",
    );
    get(c.set_async("/a", NullData, Some(1))).unwrap();
    assert_eq!(c.get("/a", None).unwrap().0, None);

    // delete: NotEmpty, BadVersion, NoNode.
    assert_zk(get(c.delete_async("/a", None)), ErrorCode::NotEmpty, "/a");
    assert_zk(
        get(c.delete_async("/x/y/z", Some(3))),
        ErrorCode::BadVersion,
        "/x/y/z",
    );
    get(c.delete_async("/x/y/z", Some(0))).unwrap();
    assert_zk(
        get(c.delete_async("/x/y/z", None)),
        ErrorCode::NoNode,
        "/x/y/z",
    );
    get(c.delete_recursive_async("/a")).unwrap();
    assert!(c.exists("/a", None).unwrap().is_none());
    get(c.delete_recursive_async("/a")).unwrap();

    // ACLs, and NoAuth.
    let ro = Acl::read_unsafe();
    let st = get(c.set_acls_async("/x", ro.clone(), Some(0))).unwrap();
    assert_eq!(st.aversion, 1);
    let (acl, st) = get(c.get_acls_async("/x")).unwrap();
    assert_eq!((acl, st.aversion), (ro, 1));
    assert_zk(
        get(c.set_async("/x", NullData, None)),
        ErrorCode::NoAuth,
        "/x",
    );
    assert_zk(
        get(c.set_acls_async("/e", vec![], None)),
        ErrorCode::InvalidAcl,
        "/e",
    );
    assert_zk(
        get(c.get_acls_async("/missing")),
        ErrorCode::NoNode,
        "/missing",
    );

    // sync.
    assert_eq!(get(c.sync_async("/nowhere")).unwrap(), "/nowhere");

    // transaction.
    let res = get(c
        .transaction()
        .create("/t", b"", CreateMode::Persistent)
        .check("/t", Some(0))
        .commit_async())
    .unwrap();
    assert!(
        matches!(&res[0], OpResult::Create(p) if p == "/t"),
        "{res:?}"
    );
    assert!(matches!(res[1], OpResult::Check), "{res:?}");

    // multi_read.
    let res = get(c.multi_read_async(&[
        ReadOp::GetChildren("/t".into()),
        ReadOp::GetData("/gone".into()),
    ]))
    .unwrap();
    assert!(matches!(&res[0], Ok(ReadResult::Children(ch)) if ch.is_empty()));
    assert_zk(res[1].clone(), ErrorCode::NoNode, "/gone");

    // add_auth: the digest ACL is then usable.
    get(c.add_auth_async("digest", b"alice:pw")).unwrap();
    let mine = CreateOptions {
        acl: Some(vec![make_digest_acl("alice", "pw", Perms::ALL)]),
        ..CreateOptions::default()
    };
    get(c.create_async("/alice", Bytes::from_static(b"s"), &mine)).unwrap();
    assert_eq!(c.get("/alice", None).unwrap().0.as_deref(), Some(&b"s"[..]));

    // Watches: one-shot, persistent; removal.
    let events = Events::new();
    get(c.get_async("/t", events.watcher())).unwrap();
    get(c.exists_async("/new", events.watcher())).unwrap();
    get(c.get_children_with_stat_async("/t", events.watcher())).unwrap();
    get(c.add_watch_async("/e", AddWatchMode::PersistentRecursive, events.watcher())).unwrap();
    assert_eq!(c.watch_count(), 4);
    c.create("/new", b"", CreateMode::Persistent).unwrap();
    c.create("/t/kid", b"", CreateMode::Persistent).unwrap();
    c.set("/t", b"", None).unwrap();
    c.create("/e/f/g/h", b"", CreateMode::Persistent).unwrap();
    wait_for(&c, "four events", || events.len() == 4);
    let mut kinds = events.kinds();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            (EventType::NodeCreated, "/e/f/g/h".to_string()),
            (EventType::NodeCreated, "/new".to_string()),
            (EventType::NodeDataChanged, "/t".to_string()),
            (EventType::NodeChildrenChanged, "/t".to_string()),
        ]
    );
    get(c.remove_watches_async("/e", WatcherType::Any, WhenOffline::Wait)).unwrap();
    wait_for(&c, "the removal event", || events.len() == 5);
    assert_eq!(
        events.kinds()[4],
        (EventType::PersistentWatchRemoved, "/e".to_string())
    );
    assert_zk(
        get(c.remove_watches_async("/e", WatcherType::Any, WhenOffline::Wait)),
        ErrorCode::NoWatcher,
        "/e",
    );
    assert_eq!(c.watch_count(), 0);

    // The 3.5+ reads: ephemerals, descendants, who am I, config; reconfig.
    assert_eq!(get(c.get_ephemerals_async("/")).unwrap(), ["/eph"]);
    assert_eq!(get(c.get_all_children_number_async("/e")).unwrap(), 3);
    assert_zk(
        get(c.get_all_children_number_async("/missing")),
        ErrorCode::NoNode,
        "/missing",
    );
    let who = get(c.whoami_async()).unwrap();
    assert!(who
        .iter()
        .any(|i| i.auth_scheme == "digest" && i.user == "alice"));
    let (_, st) = get(c.get_config_async()).unwrap();
    assert_eq!(Some(st), c.exists("/zookeeper/config", None).unwrap());
    assert_zk(
        get(c.reconfig_async(None, None, Some("server.1=127.0.0.1:2888:3888;2181"), None)),
        ErrorCode::ReconfigDisabled,
        "reconfig",
    );

    // stop_async / start_async.
    get(c.stop_async()).unwrap();
    assert!(matches!(
        get(c.get_async("/t", None)),
        Err(Error::ConnectionClosed)
    ));
    // Stopped: close is allowed, and the client can start again (a new session).
    c.close().unwrap();
    get(c.start_async().unwrap()).unwrap();
    assert!(c.exists("/t", None).unwrap().is_some());
}

/// Completion callbacks linked with `rawlink`, driven by a manual loop: they run in the
/// order the requests were sent (ZooKeeper answers in order), never inside the call that
/// linked them, each exactly once, with values and errors alike.
#[test]
fn async_callbacks_via_rawlink() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/cb", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    for i in 0..20 {
        let path = format!("/cb/n{i}");
        let l = log.clone();
        c.create_async(&path, NullData, CreateOptions::default())
            .rawlink(move |r| {
                l.push(match r.get_nowait() {
                    Ok((p, _)) => format!("created {p}"),
                    Err(e) => format!("error {e}"),
                })
            });
        if i % 5 == 0 {
            // An error in the middle of the pipeline.
            let l = log.clone();
            c.delete_async("/cb/missing", None).rawlink(move |r| {
                l.push(match r.exception() {
                    Some(Error::ZooKeeper(ZkError { code, path })) => format!("{code:?} {path}"),
                    other => format!("unexpected {other:?}"),
                })
            });
        }
    }
    let l = log.clone();
    c.get_children_with_stat_async("/cb", None)
        .rawlink(move |r| l.push(format!("children {}", r.value().map_or(0, |v| v.0.len()))));
    assert!(log.is_empty(), "callbacks never run inside the call");
    // A manual loop, as an application that owns the loop would run.
    let deadline = std::time::Instant::now() + WAIT;
    while log.len() < 25 && std::time::Instant::now() < deadline {
        c.poll_once(Some(Duration::from_millis(100))).unwrap();
    }
    let mut expected = Vec::new();
    for i in 0..20 {
        expected.push(format!("created /cb/n{i}"));
        if i % 5 == 0 {
            expected.push("NoNode /cb/missing".to_string());
        }
    }
    expected.push("children 20".to_string());
    assert_eq!(log.get(), expected);
    // Linking to a result that is already set still defers the callback, and runs it once.
    let r = c.exists_async("/cb", None);
    assert!(r.wait(Some(WAIT)).unwrap());
    let l = log.clone();
    r.rawlink(move |r| l.push(format!("late {}", r.value().flatten().is_some())));
    assert_eq!(log.len(), 25);
    settle(&c, Duration::from_millis(50));
    assert_eq!(log.get()[25], "late true");
    assert_eq!(log.len(), 26);
}

/// Results awaited in a cooperative task (`handler.spawn_future`): a sequence of dependent
/// calls, errors included, without blocking the loop.
#[test]
fn awaited_in_a_spawned_task() {
    let zk = server();
    let c = client(&zk.connect_string());
    let c2 = c.clone();
    let steps = Rc::new(RefCell::new(Vec::new()));
    let s = steps.clone();
    let task = c.handler().spawn_future(async move {
        let (p, _) = c2
            .create_async("/task", Bytes::from_static(b"v1"), CreateOptions::default())
            .await?;
        s.borrow_mut().push(format!("created {p}"));
        let (d, st) = c2.get_async(&p, None).await?;
        s.borrow_mut().push(format!(
            "read {:?} v{}",
            d.as_deref().map(|b| b.to_vec()),
            st.version
        ));
        let st = c2
            .set_async(&p, Bytes::from_static(b"v2"), Some(st.version))
            .await?;
        s.borrow_mut().push(format!("set v{}", st.version));
        // An error comes back as a value of the await, not a panic.
        match c2.set_async(&p, NullData, Some(0)).await {
            Err(Error::ZooKeeper(ZkError { code, path })) => {
                s.borrow_mut().push(format!("{code:?} {path}"))
            }
            other => s.borrow_mut().push(format!("unexpected {other:?}")),
        }
        // Several requests in flight at once, awaited together.
        let rs: Vec<_> = (0..10)
            .map(|i| c2.create_async(&format!("/task/c{i}"), NullData, CreateOptions::default()))
            .collect();
        for r in rs {
            r.await?;
        }
        let (children, _) = c2.get_children_with_stat_async(&p, None).await?;
        s.borrow_mut().push(format!("{} children", children.len()));
        c2.delete_recursive_async(&p).await?;
        let gone = c2.exists_async(&p, None).await?;
        s.borrow_mut().push(format!("gone {}", gone.is_none()));
        Ok::<_, Error>(children.len())
    });
    // The loop is free while the task waits: another call completes meanwhile.
    assert!(c.exists("/", None).unwrap().is_some());
    let n = task.take(true, Some(WAIT)).unwrap().unwrap();
    assert_eq!(n, 10);
    assert_eq!(
        *steps.borrow(),
        [
            "created /task",
            "read Some([118, 49]) v0",
            "set v1",
            "BadVersion /task",
            "10 children",
            "gone true",
        ]
    );
}

/// kazoo `test_async_result_callbacks_are_always_called`: a callback linked to a result
/// still runs when the result is set after the client (and its handler) were stopped.
#[test]
fn test_async_result_callbacks_are_always_called() {
    let zk = server();
    let c = client(&zk.connect_string());
    let called = Rc::new(RefCell::new(Vec::new()));

    // kazoo's form: a bare result of the client's handler, set during/after the stop.
    let bare = c.handler().async_result::<()>();
    let k = called.clone();
    bare.rawlink(move |r| k.borrow_mut().push(format!("bare {:?}", r.exception())));
    // And a real request pending at the time of the stop.
    let pending = c.get_async("/", None);
    let k = called.clone();
    pending.rawlink(move |r| k.borrow_mut().push(format!("get ok={}", r.successful())));

    c.stop().unwrap();
    c.handler().stop().unwrap();
    bare.set_exception(Error::BadArgument("anything".into()))
        .unwrap();
    // The handler's stop runs what is queued; a second stop runs what was queued since.
    c.handler().stop().unwrap();
    let got = called.borrow().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.contains(&"get ok=true".to_string()), "{got:?}");
    assert!(
        got.iter().any(|s| s.starts_with("bare Some(BadArgument")),
        "{got:?}"
    );
    c.handler().start().unwrap();
}

/// Many requests submitted in one go, far more than one early write (64 KiB) and than the
/// socket buffers hold: they leave in large writes while the caller is still submitting,
/// and every one completes, in submission order, with the right answer.
#[test]
fn a_large_burst_of_requests_completes_in_order() {
    let zk = server();
    let n = 30_000;
    // Past max_in_flight (1,000) the burst waits in the queue: room for all of it.
    let c = mio_zookeeper::Client::builder(&zk.connect_string())
        .request_timeout(Some(WAIT))
        .max_queued_requests(n)
        .build()
        .unwrap();
    c.start(Some(WAIT)).unwrap();
    c.create("/burst", b"x", CreateMode::Persistent).unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    let results: Vec<_> = (0..n)
        .map(|i| {
            // Every third asks for a node that does not exist.
            let path = if i % 3 == 2 { "/burst-none" } else { "/burst" };
            let r = c.exists_async(path, None);
            let o = order.clone();
            r.rawlink(move |_| o.borrow_mut().push(i));
            r
        })
        .collect();
    for (i, r) in results.into_iter().enumerate() {
        let stat = r.take(true, Some(WAIT)).unwrap();
        assert_eq!(stat.is_some(), i % 3 != 2, "request {i}");
    }
    // The callbacks ran in submission order.
    c.handler()
        .reactor()
        .run_until(&|| order.borrow().len() == n, Some(WAIT))
        .unwrap();
    assert!(order.borrow().iter().copied().eq(0..n));
    let io = c.handler().reactor().io_stats();
    assert!(
        io.writes < n as u64 / 10,
        "{n} requests took {} writes",
        io.writes
    );
}
