//! The kazoo test peer itself (tests/kazoo_support): statements, expressions, exceptions,
//! events from kazoo's own threads, and a kazoo recipe seeing what we wrote.

#[path = "kazoo_support/mod.rs"]
mod kazoo_support;

use std::time::Duration;

use kazoo_support::Kazoo;
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{Client, CreateMode};

#[test]
fn the_agent_runs_code_reports_errors_and_events_and_sees_our_writes() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    assert_eq!(kz.eval("1 + 2"), 3);
    assert_eq!(kz.exec("x = 5"), serde_json::Value::Null);
    assert_eq!(kz.exec("_ = x * 2"), 10);
    let err = kz.try_eval("zk.get('/missing')").unwrap_err();
    assert!(err.starts_with("NoNodeError"), "{err}");

    let c = Client::new(&zk.connect_string()).unwrap();
    c.start(Some(Duration::from_secs(30))).unwrap();
    c.create("/ours", b"hello", CreateMode::Persistent).unwrap();
    assert_eq!(kz.eval("zk.get('/ours')[0]"), "hello");

    kz.exec("spawn(lambda: emit({'seen': zk.get_children('/')}))");
    let ev = kz.expect_event("the spawned read");
    assert!(
        ev["seen"].as_array().unwrap().iter().any(|n| n == "ours"),
        "{ev}"
    );
    assert!(kz.event(Duration::from_millis(50)).is_none());
    assert_ne!(kz.session_id, 0);
    assert_eq!(kz.client_id().0, kz.session_id);
}
