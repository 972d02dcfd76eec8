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
    let expected = ["r3-007", "k1-050", "r2-050", "r1-100", "k2-100", "r4-100", "k3-999"];
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
