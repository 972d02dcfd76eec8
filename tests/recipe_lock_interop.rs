//! Lock, ReadLock and WriteLock against kazoo's own recipes on the same paths.

#[path = "kazoo_support/mod.rs"]
mod kazoo_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::time::Duration;

use kazoo_support::Kazoo;
use mio_zookeeper::recipe::{Lock, ReadLock, WriteLock};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::Error;
use recipe_support::{client, wait, LONG};
use serde_json::json;

#[test]
fn a_kazoo_lock_and_ours_exclude_each_other_in_both_orders() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    try_helper(&mut kz);
    let c = client(&zk.connect_string());
    let ours = Lock::new(&c, "/shared", "rust").unwrap();

    // kazoo holds: ours cannot take it, times out, then gets it once kazoo releases.
    kz.exec("lock = zk.Lock('/shared', 'py')");
    assert_eq!(kz.eval("lock.acquire(timeout=5)"), true);
    assert!(!ours.try_acquire().unwrap());
    let err = ours.acquire(Some(Duration::from_millis(300))).unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    let got = ours.acquire_async(Some(LONG));
    wait(&c, "our node", || ours.node().is_some());
    assert_eq!(kz.eval("lock.contenders()"), json!(["py", "rust"]));
    assert!(!got.ready());
    kz.exec("lock.release()");
    wait(&c, "ours after kazoo's release", || got.ready());
    got.get_nowait().unwrap();

    // Ours holds: kazoo's acquire times out, and kazoo lists us first.
    assert_eq!(kz.eval("try_acq(lock, 1)"), false);
    kz.exec("spawn(lambda: emit({'got': lock.acquire(timeout=30)}))");
    wait(&c, "kazoo's node", || ours.contenders().unwrap().len() == 2);
    assert_eq!(ours.contenders().unwrap(), ["rust", "py"]);
    assert_eq!(kz.eval("lock.contenders()"), json!(["rust", "py"]));
    ours.release().unwrap();
    assert_eq!(kz.expect_event("kazoo's acquire")["got"], true);
    kz.exec("lock.release()");
    assert!(c.get_children("/shared", None).unwrap().is_empty());
}

#[test]
fn kazoo_read_and_write_locks_and_ours_share_and_exclude_as_they_should() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    try_helper(&mut kz);
    let c = client(&zk.connect_string());
    kz.exec("r = zk.ReadLock('/rw', 'py-reader'); w = zk.WriteLock('/rw', 'py-writer')");
    assert_eq!(kz.eval("r.acquire(timeout=5)"), true);
    // Two readers share...
    let reader = ReadLock::new(&c, "/rw", "rust-reader").unwrap();
    assert!(reader.try_acquire().unwrap());
    // ...and a writer, ours or kazoo's, waits for both.
    let writer = WriteLock::new(&c, "/rw", "rust-writer").unwrap();
    assert!(!writer.try_acquire().unwrap());
    assert_eq!(kz.eval("try_acq(w, 1)"), false);
    // A plain Lock ignores readers (as kazoo's).
    let plain = Lock::new(&c, "/rw", "rust-plain").unwrap();
    assert!(plain.try_acquire().unwrap());
    plain.release().unwrap();

    let got = writer.acquire_async(Some(LONG));
    wait(&c, "our writer's node", || writer.node().is_some());
    kz.exec("r.release()");
    c.sleep(Duration::from_millis(200)).unwrap();
    assert!(!got.ready(), "our reader still holds");
    assert_eq!(
        kz.eval("r.contenders()"),
        json!(["rust-reader", "rust-writer"])
    );
    reader.release().unwrap();
    wait(&c, "our writer", || got.ready());
    got.get_nowait().unwrap();
    // Our writer excludes kazoo's reader.
    assert_eq!(kz.eval("try_acq(r, 1)"), false);
    writer.release().unwrap();
    assert_eq!(kz.eval("r.acquire(timeout=5)"), true);
    assert!(!writer.try_acquire().unwrap());
    kz.exec("r.release()");
}

/// `try_acq(lock, t)`: kazoo's `acquire(timeout=t)`, with its LockTimeout as False.
fn try_helper(kz: &mut Kazoo) {
    kz.exec(
        "def try_acq(l, t):\n    try:\n        return l.acquire(timeout=t)\n    except kazoo.exceptions.LockTimeout:\n        return False",
    );
}
