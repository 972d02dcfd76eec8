//! NonBlockingLease and MultiNonBlockingLease: exclusion until the end, renewal by the same
//! holder, kazoo's exact bytes, and interop with kazoo's own leases both ways.

#[path = "kazoo_support/mod.rs"]
mod kazoo_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::time::Duration;

use kazoo_support::Kazoo;
use mio_zookeeper::recipe::{MultiNonBlockingLease, NonBlockingLease, RecipeError};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::Error;
use recipe_support::{client, embedded, poll_until, polled};
use serde_json::Value;

const T: Option<Duration> = Some(Duration::from_secs(30));

fn record(c: &mio_zookeeper::Client, path: &str) -> String {
    let raw = c
        .get(&format!("{path}/lease_holder"), None)
        .unwrap()
        .0
        .unwrap();
    String::from_utf8(raw.to_vec()).unwrap()
}

#[test]
fn ours_exclude_each_other_until_the_end_and_the_holder_renews_with_kazoos_bytes() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let d = Duration::from_secs(2);
    assert!(NonBlockingLease::acquire(&c, "/l/job", d, Some("a"), T).unwrap());
    let first = record(&c, "/l/job");
    let v: Value = serde_json::from_str(&first).unwrap();
    // Exactly Python's json.dumps, in key order version, holder, end.
    let end = v["end"].as_str().unwrap().to_string();
    assert_eq!(
        first,
        format!(r#"{{"version": 1, "holder": "a", "end": "{end}"}}"#)
    );
    assert_eq!(end.len(), 19, "{end}");
    // Another holder is refused while the lease runs; the same holder renews.
    assert!(!NonBlockingLease::acquire(&c, "/l/job", d, Some("b"), T).unwrap());
    assert!(NonBlockingLease::acquire(&c, "/l/job", Duration::from_secs(4), Some("a"), T).unwrap());
    let renewed_at = std::time::Instant::now();
    let renewed: Value = serde_json::from_str(&record(&c, "/l/job")).unwrap();
    assert!(renewed["end"].as_str().unwrap() > end.as_str(), "{renewed}");
    assert!(!NonBlockingLease::acquire(&c, "/l/job", d, Some("b"), T).unwrap());
    // After the end, another takes it over.
    let give_up = std::time::Instant::now() + Duration::from_secs(15);
    while !NonBlockingLease::acquire(&c, "/l/job", d, Some("b"), T).unwrap() {
        assert!(std::time::Instant::now() < give_up, "b never took over");
        recipe_support::idle(&c, Duration::from_millis(200));
    }
    // Not before the end the renewal set (4 s from then).
    assert!(
        renewed_at.elapsed() >= Duration::from_secs(3),
        "{:?}",
        renewed_at.elapsed()
    );
    assert_eq!(
        serde_json::from_str::<Value>(&record(&c, "/l/job")).unwrap()["holder"],
        "b"
    );
    // Only the record is left: the lock nodes went.
    assert_eq!(c.get_children("/l/job", None).unwrap(), ["lease_holder"]);
    // A record of another version is not ours; one that is not JSON is an error.
    c.set("/l/job/lease_holder", br#"{"version": 2}"#.to_vec(), None)
        .unwrap();
    assert!(!NonBlockingLease::acquire(&c, "/l/job", d, Some("b"), T).unwrap());
    c.set("/l/job/lease_holder", b"junk".to_vec(), None)
        .unwrap();
    assert!(matches!(
        NonBlockingLease::acquire(&c, "/l/job", d, Some("b"), T),
        Err(Error::Recipe(RecipeError::BadData { .. }))
    ));
    assert_eq!(c.get_children("/l/job", None).unwrap(), ["lease_holder"]);
    // The default identifier is the host name.
    assert!(NonBlockingLease::acquire(&c, "/l/host", d, None, T).unwrap());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&record(&c, "/l/host")).unwrap()["holder"],
        host.trim()
    );
}

#[test]
fn multi_leases_take_the_first_free_slot_in_order_and_work_without_blocking_calls() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let d = Duration::from_secs(600);
    let take = |who: &str| {
        let r = MultiNonBlockingLease::acquire_async(&c, 2, "/m", d, Some(who), T);
        poll_until(&c, "decided", || r.ready());
        r.get_nowait().unwrap()
    };
    assert_eq!(take("a"), Some(0));
    assert_eq!(take("b"), Some(1));
    assert_eq!(take("c"), None);
    assert_eq!(take("b"), Some(1)); // renewed where it holds
    let (mut host, e) = embedded(&zk);
    let r = NonBlockingLease::acquire_async(&e, "/m/0", d, Some("z"), T);
    host.run_until("decided", || r.ready());
    assert!(!r.get_nowait().unwrap());
    let err = NonBlockingLease::acquire(&e, "/m/0", d, Some("z"), T).unwrap_err();
    recipe_support::assert_embedded_refusal(err, "NonBlockingLease::acquire");
}

#[test]
fn the_lease_lock_has_one_deadline() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    // Someone holds the lease's lock (a kazoo-format lock node on the lease path).
    let lock = mio_zookeeper::recipe::Lock::new(&other, "/busy", "x").unwrap();
    lock.acquire(T).unwrap();
    let err = NonBlockingLease::acquire(
        &c,
        "/busy",
        Duration::from_secs(5),
        Some("a"),
        Some(Duration::from_millis(300)),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    lock.release().unwrap();
    assert!(NonBlockingLease::acquire(&c, "/busy", Duration::from_secs(5), Some("a"), T).unwrap());
}

#[test]
fn a_kazoo_lease_and_ours_exclude_each_other_both_ways() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    kz.exec("import datetime");
    let hour = Duration::from_secs(3600);
    // kazoo's first: ours is refused; kazoo renews.
    assert_eq!(
        kz.eval("bool(zk.NonBlockingLease('/k1', datetime.timedelta(hours=1), identifier='py'))"),
        true
    );
    assert!(!NonBlockingLease::acquire(&c, "/k1", hour, Some("rust"), T).unwrap());
    assert_eq!(
        kz.eval("bool(zk.NonBlockingLease('/k1', datetime.timedelta(hours=1), identifier='py'))"),
        true
    );
    // Ours first: kazoo is refused; ours renews; kazoo reads our record as its own format.
    assert!(NonBlockingLease::acquire(&c, "/k2", hour, Some("rust \"ü\""), T).unwrap());
    assert_eq!(
        kz.eval("bool(zk.NonBlockingLease('/k2', datetime.timedelta(hours=1), identifier='py'))"),
        false
    );
    assert!(NonBlockingLease::acquire(&c, "/k2", hour, Some("rust \"ü\""), T).unwrap());
    // The bytes kazoo would write for the same record are ours.
    let ours = record(&c, "/k2");
    let end = serde_json::from_str::<Value>(&ours).unwrap()["end"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = kz.eval(&format!(
        "json.dumps({{'version': 1, 'holder': 'rust \"\\u00fc\"', 'end': '{end}'}})"
    ));
    assert_eq!(Value::String(ours), theirs);
    // An expired kazoo lease is taken over by ours, and the other way round.
    kz.exec("import time");
    assert_eq!(
        kz.eval("bool(zk.NonBlockingLease('/k3', datetime.timedelta(seconds=1), identifier='py'))"),
        true
    );
    assert!(!NonBlockingLease::acquire(&c, "/k3", hour, Some("rust"), T).unwrap());
    kz.exec("time.sleep(2.1)");
    assert!(NonBlockingLease::acquire(&c, "/k3", Duration::from_secs(3), Some("rust"), T).unwrap());
    assert_eq!(
        kz.eval("bool(zk.NonBlockingLease('/k3', datetime.timedelta(hours=1), identifier='py'))"),
        false
    );
    kz.exec("time.sleep(3.1)");
    assert_eq!(
        kz.eval("bool(zk.NonBlockingLease('/k3', datetime.timedelta(hours=1), identifier='py'))"),
        true
    );
    // MultiNonBlockingLease across both: kazoo takes slot 0, ours slot 1, then none is free.
    assert_eq!(
        kz.eval("bool(zk.MultiNonBlockingLease(2, '/multi', datetime.timedelta(hours=1), identifier='py'))"),
        true
    );
    assert_eq!(
        MultiNonBlockingLease::acquire(&c, 2, "/multi", hour, Some("rust"), T).unwrap(),
        Some(1)
    );
    assert_eq!(
        kz.eval("bool(zk.MultiNonBlockingLease(2, '/multi', datetime.timedelta(hours=1), identifier='py2'))"),
        false
    );
    assert_eq!(
        MultiNonBlockingLease::acquire(&c, 2, "/multi", hour, Some("rust2"), T).unwrap(),
        None
    );
    assert_eq!(
        kz.eval("json.loads(zk.get('/multi/1/lease_holder')[0])['holder']"),
        "rust"
    );
}
