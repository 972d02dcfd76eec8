//! Queue (and LockingQueue) next to kazoo's own recipes on one path.

#[path = "kazoo_support/mod.rs"]
mod kazoo_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use kazoo_support::Kazoo;
use mio_zookeeper::recipe::Queue;
use mio_zookeeper::testing::ZkServer;
use recipe_support::*;
use serde_json::{json, Value};

#[test]
fn kazoo_queue_and_ours_agree_on_order() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    let q = Queue::new(&c, "/shared/q").unwrap();
    kz.exec("q = zk.Queue('/shared/q')");
    // Puts from both sides, mixed priorities.
    q.put(b"r1-100", 100).unwrap();
    kz.exec("q.put(b'k1-050', 50)");
    q.put(b"r2-050", 50).unwrap();
    kz.exec("q.put(b'k2-100')");
    q.put(b"r3-007", 7).unwrap();
    kz.exec("q.put(b'k3-999', 999)");
    q.put(b"r4-100", 100).unwrap();
    assert_eq!(kz.eval("len(q)"), 7);
    assert_eq!(q.len().unwrap(), 7);
    let expected = [
        "r3-007", "k1-050", "r2-050", "r1-100", "k2-100", "r4-100", "k3-999",
    ];
    // Gets alternate between kazoo and us.
    let mut got = Vec::new();
    for i in 0..8 {
        let v = if i % 2 == 0 {
            kz.eval("q.get()")
        } else {
            q.get()
                .unwrap()
                .map_or(Value::Null, |b| json!(String::from_utf8_lossy(&b)))
        };
        got.push(v);
    }
    let want: Vec<Value> = expected
        .iter()
        .map(|s| json!(s))
        .chain([Value::Null])
        .collect();
    assert_eq!(got, want);
}

use mio_zookeeper::recipe::LockingQueue;
use std::time::Duration;

#[test]
fn kazoo_locking_queue_and_ours_share_items_each_consumed_once() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    let q = LockingQueue::new(&c, "/shared/lq").unwrap();
    kz.exec("lq = zk.LockingQueue('/shared/lq')");

    // A kazoo-held item is not handed to us until kazoo releases it.
    q.put(b"only", 100).unwrap();
    assert_eq!(kz.eval("lq.get(5)"), "only");
    let ours = q.get_async(Some(LONG));
    idle(&c, Duration::from_millis(300));
    assert!(!ours.ready(), "taken by kazoo");
    assert_eq!(kz.eval("lq.release()"), true);
    wait(&c, "our get", || ours.ready());
    assert_eq!(&ours.get_nowait().unwrap()[..], b"only");
    // And ours is not handed to kazoo: its get times out (kazoo returns None).
    assert_eq!(kz.eval("lq.get(0.5)"), Value::Null);
    assert_eq!(kz.eval("len(lq)"), 1);
    assert!(q.consume().unwrap());
    assert_eq!(kz.eval("len(lq)"), 0);

    // Puts from both, then consumers alternating: every item exactly once, in order.
    q.put_all(&[b"r1".as_slice(), b"r2"], 100).unwrap();
    kz.exec("lq.put_all([b'k1', b'k2'], 100)");
    kz.exec("lq.put(b'k0', 5)");
    q.put(b"r0", 1).unwrap();
    let mut got = Vec::new();
    for i in 0..6 {
        if i % 2 == 0 {
            let v = kz.eval("lq.get(5)");
            assert_eq!(kz.eval("lq.consume()"), true);
            got.push(v.as_str().unwrap().to_string());
        } else {
            let v = q.get(Some(LONG)).unwrap();
            assert!(q.consume().unwrap());
            got.push(String::from_utf8(v.to_vec()).unwrap());
        }
    }
    assert_eq!(got, ["r0", "k0", "r1", "r2", "k1", "k2"]);
    assert_eq!(q.len().unwrap(), 0);
    assert!(matches!(
        q.get(Some(Duration::from_millis(200))),
        Err(mio_zookeeper::Error::Timeout)
    ));
    assert_eq!(
        json!(kz.eval("zk.get_children('/shared/lq/taken')")),
        json!([])
    );
}
