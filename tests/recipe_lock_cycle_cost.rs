//! What an uncontended Lock cycle costs on the wire (issue #13 §5: no more round trips
//! than kazoo's, whose cycle is create, getChildren twice and delete): create, getChildren,
//! the hold's getData watch on our own node, delete; no removeWatches (the delete clears
//! the watch), and no watcher left once the release completed.
#![cfg(feature = "testing")]

#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::collections::BTreeMap;

use mio_zookeeper::recipe::Lock;
use mio_zookeeper::testing::{Proxy, ZkServer};
use recipe_support::client;

/// The opcodes of the requests in the client→server bytes, in order: the connect, pings
/// and closeSession left out.
fn request_ops(c2s: &[u8]) -> Vec<i32> {
    let mut ops = Vec::new();
    let mut rest = c2s;
    let mut first = true;
    while rest.len() >= 4 {
        let len = i32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let frame = &rest[4..4 + len];
        rest = &rest[4 + len..];
        if std::mem::take(&mut first) {
            continue;
        }
        let xid = i32::from_be_bytes(frame[..4].try_into().unwrap());
        let op = i32::from_be_bytes(frame[4..8].try_into().unwrap());
        if xid != -2 && op != -11 {
            ops.push(op);
        }
    }
    ops
}

/// Requests by opcode in the client→server bytes (as [`request_ops`]).
fn requests(c2s: &[u8]) -> BTreeMap<i32, usize> {
    let mut by_op = BTreeMap::new();
    for op in request_ops(c2s) {
        *by_op.entry(op).or_default() += 1;
    }
    by_op
}

#[test]
fn an_uncontended_cycle_is_four_requests_and_leaves_no_watcher() {
    const CYCLES: usize = 50;
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client(&proxy.connect_string());
    let lock = Lock::new(&c, "/cost", "me").unwrap();
    // The first cycle also makes the parent.
    lock.acquire(None).unwrap();
    lock.release().unwrap();
    let before = proxy.accepted();
    for _ in 0..CYCLES {
        lock.acquire(None).unwrap();
        // Released at once: the hold's getData watch may still be on its way.
        lock.release().unwrap();
        assert_eq!(c.watch_count(), 0, "no watcher left by a release");
    }
    assert_eq!(c.listener_count(), 0);
    c.stop().unwrap();
    assert_eq!(proxy.accepted(), before, "one connection throughout");
    let conns = proxy.finish();
    let by_op = requests(&conns[0].c2s);
    // ensure_path's requests of the first cycle aside (exists, the parent's create2): per
    // cycle one create2 (15), getChildren2 (12), getData (4), delete (2).
    let per = |op| by_op.get(&op).copied().unwrap_or(0);
    assert_eq!(per(15), CYCLES + 2, "{by_op:?}");
    assert_eq!(per(12), CYCLES + 1, "{by_op:?}");
    assert_eq!(per(4), CYCLES + 1, "{by_op:?}");
    assert_eq!(per(2), CYCLES + 1, "{by_op:?}");
    assert_eq!(per(18), 0, "no removeWatches: {by_op:?}");
}

/// The hand-off on the wire (issue #13 §5: within one notification and one round trip):
/// once the holder's release deletes its node, the waiter sends exactly one request
/// (getChildren2) before its acquire completes; the hold's own-node watch (getData) goes
/// out after.
#[test]
fn a_hand_off_is_the_notification_and_one_request() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let a = client(&zk.connect_string());
    let b = client(&proxy.connect_string());
    let holder = Lock::new(&a, "/handoff", "a").unwrap();
    holder.acquire(None).unwrap();
    let waiter = Lock::new(&b, "/handoff", "b").unwrap();
    let got = waiter.acquire_async(None);
    b.run_until(&|| b.watch_count() > 0, Some(recipe_support::LONG))
        .unwrap();
    holder.release().unwrap();
    b.run_until(&|| got.ready(), Some(recipe_support::LONG))
        .unwrap();
    got.get_nowait().unwrap();
    waiter.release().unwrap();
    b.stop().unwrap();
    let conns = proxy.finish();
    let ops = request_ops(&conns[0].c2s);
    // ... create2 (15), getChildren2 (12), getData on the predecessor (4) | release |
    // getChildren2 (12) -> acquired | getData on our own node (4), delete (2).
    let at = ops.iter().position(|&op| op == 15).expect("the create");
    assert_eq!(&ops[at..], &[15, 12, 4, 12, 4, 2], "{ops:?}");
}
