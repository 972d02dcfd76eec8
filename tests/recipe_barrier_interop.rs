//! kazoo's `Barrier` and `DoubleBarrier` with ours on one path: a barrier removed by either
//! ends the other's wait; kazoo's and our members enter together and leave together.
#![cfg(feature = "testing")]

#[path = "kazoo_support/mod.rs"]
mod kazoo_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::time::Duration;

use kazoo_support::Kazoo;
use mio_zookeeper::recipe::{Barrier, DoubleBarrier};
use mio_zookeeper::testing::ZkServer;
use recipe_support::{client, idle, wait, LONG};

#[test]
fn a_barrier_removed_by_kazoo_ends_our_wait_and_the_other_way_round() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    // kazoo puts it up and takes it down; we wait.
    kz.exec("kb = zk.Barrier('/kb')\nkb.create()");
    let ours = Barrier::new(&c, "/kb").unwrap();
    let r = ours.wait_async(Some(LONG));
    idle(&c, Duration::from_millis(200));
    assert!(!r.ready(), "kazoo's barrier is up for us");
    kz.exec("kb.remove()");
    wait(&c, "our wait's end", || r.ready());
    assert!(r.take(false, None).unwrap());

    // We put it up; kazoo waits (in its own thread); we take it down.
    ours.create().unwrap();
    kz.exec("spawn(lambda: emit({'waited': kb.wait(timeout=30)}))");
    assert!(
        kz.event(Duration::from_millis(300)).is_none(),
        "kazoo sees it up"
    );
    assert!(ours.remove().unwrap());
    let ev = kz.expect_event("kazoo's wait");
    assert_eq!(ev["waited"], true, "{ev}");
}

#[test]
fn kazoos_double_barrier_and_ours_enter_and_leave_together() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    // Three members: one kazoo, two ours (ours sort on either side of kazoo's or not:
    // names are random, so the lowest may be anyone's).
    for round in 0..3 {
        let path = format!("/kdb{round}");
        kz.exec(&format!(
            "db = zk.DoubleBarrier('{path}', 3, identifier='py')"
        ));
        kz.exec("spawn(lambda: (db.enter(), emit({'in': db.participating})))");
        let ours: Vec<_> = (0..2)
            .map(|i| DoubleBarrier::new(&c, &path, 3, &format!("rs{i}")).unwrap())
            .collect();
        let first = ours[0].enter_async(Some(LONG));
        idle(&c, Duration::from_millis(200));
        assert!(!first.ready(), "two of three");
        assert!(
            kz.event(Duration::from_millis(50)).is_none(),
            "kazoo waits too"
        );
        ours[1].enter(Some(LONG)).unwrap();
        wait(&c, "ours in", || first.ready());
        first.take(false, None).unwrap();
        let ev = kz.expect_event("kazoo in");
        assert_eq!(ev["in"], true, "{ev}");
        // kazoo reads our members' identifiers.
        let datas = kz.eval(&format!(
            "sorted(zk.get('{path}/' + n)[0].decode() for n in zk.get_children('{path}') if n != 'ready')"
        ));
        assert_eq!(datas, serde_json::json!(["py", "rs0", "rs1"]));

        // Leave: kazoo and one of ours first; nobody is out until the last leaves.
        kz.exec("spawn(lambda: (db.leave(), emit({'out': True})))");
        let leaving = ours[0].leave_async(Some(LONG));
        idle(&c, Duration::from_millis(300));
        assert!(!leaving.ready(), "round {round}: two of three left");
        assert!(
            kz.event(Duration::from_millis(50)).is_none(),
            "round {round}"
        );
        ours[1].leave(Some(LONG)).unwrap();
        wait(&c, "ours out", || leaving.ready());
        leaving.take(false, None).unwrap();
        kz.expect_event("kazoo out");
        assert!(c.get_children(&path, None).unwrap().is_empty());
    }
}
