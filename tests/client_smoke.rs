use mio_zookeeper::{
    Client, ClientState, CreateMode, CreateOptions, Error, ErrorCode, EventType, Watcher, ZkError,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use mio_zookeeper::testing::ZkServer;

#[test]
fn smoke() {
    let zk = ZkServer::start().unwrap();
    let c = Client::new(&zk.connect_string()).unwrap();
    let states = Rc::new(RefCell::new(Vec::new()));
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push(st));
    c.start(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(c.state(), ClientState::Connected);
    assert_eq!(
        c.create("/a", b"hello", CreateMode::Persistent).unwrap().0,
        "/a"
    );
    let (d, st) = c.get("/a", None).unwrap();
    assert_eq!(d.as_deref(), Some(&b"hello"[..]));
    assert_eq!(st.version, 0);
    let fired = Rc::new(RefCell::new(None));
    let f = fired.clone();
    c.get("/a", Watcher::new(move |ev| *f.borrow_mut() = Some(ev)))
        .unwrap();
    c.set("/a", b"x", None).unwrap();
    c.handler()
        .reactor()
        .run_until(&|| fired.borrow().is_some(), Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        fired.borrow().as_ref().unwrap().event_type,
        EventType::NodeDataChanged
    );
    match c.create("/a", b"", CreateMode::Persistent) {
        Err(Error::ZooKeeper(ZkError {
            code: ErrorCode::NodeExists,
            path,
        })) => assert_eq!(path, "/a"),
        other => panic!("{other:?}"),
    }
    let (p, _) = c
        .create(
            "/x/y/z",
            b"",
            &CreateOptions {
                makepath: true,
                ..CreateOptions::mode(CreateMode::EphemeralSequential)
            },
        )
        .unwrap();
    assert!(p.starts_with("/x/y/z"), "{p}");
    c.ensure_path("/q/r/s", None).unwrap();
    assert!(c.exists("/q/r/s", None).unwrap().is_some());
    c.delete_recursive("/q").unwrap();
    assert!(c.exists("/q", None).unwrap().is_none());
    let res = c
        .transaction()
        .create("/t1", b"", CreateMode::Persistent)
        .delete("/nope", None)
        .commit()
        .unwrap();
    assert!(!res[0].is_ok() && !res[1].is_ok(), "{res:?}");
    // Many async ops pipelined.
    let rs: Vec<_> = (0..200).map(|_| c.exists_async("/a", None)).collect();
    for r in rs {
        assert!(r
            .get(true, Some(Duration::from_secs(10)))
            .unwrap()
            .is_some());
    }
    c.stop().unwrap();
    assert_eq!(c.state(), ClientState::Lost);
    c.handler().run_for(Duration::from_millis(50)).unwrap();
    assert_eq!(
        *states.borrow(),
        vec![ClientState::Connected, ClientState::Lost]
    );
    assert!(matches!(c.get("/a", None), Err(Error::ConnectionClosed)));
}

#[test]
fn results_complete_when_the_last_handle_is_dropped() {
    let zk = ZkServer::start().unwrap();
    let c = Client::new(&zk.connect_string()).unwrap();
    c.start(Some(Duration::from_secs(10))).unwrap();
    let handler = c.handler().clone();
    let pending = c.exists_async("/a", None);
    drop(c);
    // Nobody runs the client any more; the result must still be complete.
    assert!(pending.ready());
    let _ = handler;
    // ConnectionClosed if it never left, ConnectionLoss if it was written and not answered.
    assert!(matches!(
        pending.get(false, None),
        Err(Error::ConnectionClosed | Error::ConnectionLoss) | Ok(_)
    ));
}
