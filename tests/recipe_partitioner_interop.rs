//! SetPartitioner next to kazoo's own on one path: a kazoo SetPartitioner (in a thread of
//! the kazoo agent, reporting its acquired set) and ours split a set disjointly and
//! completely, and ours takes the whole set once kazoo's finishes.

#[path = "kazoo_support/mod.rs"]
mod kazoo_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::time::{Duration, Instant};

use kazoo_support::{Kazoo, KAZOO_WAIT};
use mio_zookeeper::recipe::{PartitionState, SetPartitioner};
use mio_zookeeper::testing::ZkServer;
use recipe_support::client;
use serde_json::Value;

const ITEMS: [&str; 5] = ["a", "b", "c", "d", "e"];

/// kazoo's usual loop over its partitioner, emitting its acquired set on each change.
const KAZOO_LOOP: &str = r#"
stop = threading.Event()
def run():
    p = zk.SetPartitioner('/mixed/sp', set=('a', 'b', 'c', 'd', 'e'), identifier='py',
                          time_boundary=1)
    last = None
    while not stop.is_set():
        if p.failed:
            emit({'failed': True})
            return
        elif p.release:
            p.release_set()
        elif p.acquired:
            now = sorted(p)
            if now != last:
                last = now
                emit({'acquired': now})
            stop.wait(0.05)
        elif p.allocating:
            p.wait_for_acquire(timeout=0.2)
    p.finish()
    emit({'finished': True})
spawn(run)
"#;

#[test]
fn a_kazoo_set_partitioner_and_ours_share_the_set() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    let ours = SetPartitioner::new(&c, "/mixed/sp", ITEMS, Some("rs"))
        .unwrap()
        .time_boundary(Duration::from_secs(1));
    ours.on_state_change(move |me, s| {
        if s == PartitionState::Release {
            drop(me.release_set_async());
        }
    });
    ours.start();
    kz.exec(KAZOO_LOOP);

    // Sorted identifiers: "py" is 0 and takes sorted(items)[0::2], "rs" takes [1::2].
    let mut kazoo_set: Option<Value> = None;
    let give_up = Instant::now() + KAZOO_WAIT;
    loop {
        assert!(
            Instant::now() < give_up,
            "no shared split: kazoo {kazoo_set:?}, ours {ours:?}"
        );
        c.sleep(Duration::from_millis(50)).unwrap();
        while let Some(ev) = kz.event(Duration::from_millis(1)) {
            assert!(
                ev.get("thread_error").is_none() && ev.get("failed").is_none(),
                "{ev}"
            );
            if let Some(set) = ev.get("acquired") {
                kazoo_set = Some(set.clone());
            }
        }
        if ours.acquired()
            && ours.acquired_set() == ["b", "d"]
            && kazoo_set == Some(serde_json::json!(["a", "c", "e"]))
        {
            break;
        }
    }
    // Each item's lock has one contender, the one whose share it is.
    for (item, who) in [
        ("a", "py"),
        ("b", "rs"),
        ("c", "py"),
        ("d", "rs"),
        ("e", "py"),
    ] {
        let lock =
            mio_zookeeper::recipe::Lock::new(&c, &format!("/mixed/sp/locks/{item}"), "x").unwrap();
        let contenders = lock.contenders().unwrap();
        assert_eq!(contenders.len(), 1, "{item}: {contenders:?}");
        // kazoo's Lock writes no identifier; ours writes its own.
        assert_eq!(contenders[0], if who == "py" { "" } else { "rs" }, "{item}");
    }

    // kazoo's leaves: ours sees the party change, releases, and takes everything.
    kz.exec("stop.set()");
    let ev = kz.expect_event("kazoo's finish");
    assert_eq!(ev["finished"], true, "{ev}");
    ours.wait_for_acquire(Some(Duration::from_secs(30)))
        .unwrap();
    let give_up = Instant::now() + KAZOO_WAIT;
    while ours.acquired_set() != ITEMS {
        assert!(
            Instant::now() < give_up,
            "ours never took the whole set: {ours:?}"
        );
        c.sleep(Duration::from_millis(50)).unwrap();
    }
}
