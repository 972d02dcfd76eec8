//! A network blip shorter than the session timeout does not cost the session: with every
//! connection refused (through a `testing::Proxy`) for 0.5 T, 0.8 T and 0.95 T after a cut,
//! the client still reconnects inside T and resumes the same session; its ephemeral node
//! survives and a watch set before the cut still fires.
//!
//! The reconnect backoff is the default one (100 ms doubling to 10 s): the point is that the
//! client bounds every wait by the time left before its own expiry deadline.

use mio_zookeeper::{
    Client, ClientState, CreateMode, CreateOptions, EventType, NullData, WatchedEvent, Watcher,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio_zookeeper::testing::{Proxy, ZkServer};

/// The longest any single wait may take before the test fails.
const LONG: Duration = Duration::from_secs(30);

/// The session timeout: the harness's server (tickTime 500 ms) grants 1 s to 10 s.
const T: Duration = Duration::from_secs(4);

#[test]
fn a_blip_shorter_than_the_session_timeout_resumes_the_same_session() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = Client::builder(&proxy.connect_string())
        .session_timeout(T)
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    let observer = Client::builder(&zk.connect_string()).build().unwrap();
    observer.start(Some(LONG)).unwrap();

    let states = Rc::new(RefCell::new(Vec::new()));
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push(st));
    let id = c.client_id().unwrap();
    let eph = CreateOptions {
        mode: CreateMode::Ephemeral,
        ..CreateOptions::default()
    };
    c.create_async("/eph", NullData, &eph)
        .get(true, Some(LONG))
        .unwrap();

    for (i, frac) in [0.5, 0.8, 0.95].into_iter().enumerate() {
        let events: Rc<RefCell<Vec<WatchedEvent>>> = Rc::default();
        let e = events.clone();
        let path = format!("/w{i}");
        assert!(c
            .exists(&path, Watcher::new(move |ev| e.borrow_mut().push(ev)))
            .unwrap()
            .is_none());
        // A request right before the cut: the server last heard from us now.
        assert!(c.exists("/eph", None).unwrap().is_some());
        let cut = Instant::now();
        proxy.set_refusing(true);
        proxy.drop_connections();
        let refused = proxy.refused();
        let until = cut + T.mul_f64(frac);
        while Instant::now() < until {
            c.handler()
                .run_for(until.saturating_duration_since(Instant::now()))
                .unwrap();
        }
        assert!(
            proxy.refused() > refused,
            "{frac} T: the client tried during the blip"
        );
        assert_ne!(c.state(), ClientState::Connected, "{frac} T: still cut off");
        proxy.set_refusing(false);
        c.handler()
            .reactor()
            .run_until(
                &|| c.state() == ClientState::Connected || c.state() == ClientState::Lost,
                Some(LONG),
            )
            .unwrap();
        let back = cut.elapsed();
        assert_eq!(
            c.client_id(),
            Some(id),
            "{frac} T: the same session (back {back:?} after the cut; states {:?})",
            states.borrow()
        );
        assert!(
            !states.borrow().contains(&ClientState::Lost),
            "{frac} T: {:?}",
            states.borrow()
        );
        assert!(
            observer.exists("/eph", None).unwrap().is_some(),
            "{frac} T: the ephemeral survived"
        );
        observer.create(&path, b"", CreateMode::Persistent).unwrap();
        c.handler()
            .reactor()
            .run_until(&|| !events.borrow().is_empty(), Some(LONG))
            .unwrap_or_else(|e| panic!("{frac} T: the watch set before the cut fired: {e}"));
        assert_eq!(events.borrow()[0].event_type, EventType::NodeCreated);
        assert_eq!(events.borrow()[0].path.as_deref(), Some(path.as_str()));
    }
    c.stop().unwrap();
    observer.stop().unwrap();
}
