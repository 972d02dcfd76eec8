//! Queue (and LockingQueue) against a real server: kazoo's names, order by priority then
//! parsed sequence (across the signed wrap), concurrent consumers taking each item once,
//! bad input, the async forms under poll_once and embedded.

#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::collections::BTreeSet;

use mio_zookeeper::recipe::Queue;
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{CreateMode, Error};
use recipe_support::*;

fn text(v: Option<bytes::Bytes>) -> Option<String> {
    v.map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[test]
fn queue_serves_by_priority_then_creation_on_kazoos_names() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let q = Queue::new(&c, "/q/jobs").unwrap();
    assert_eq!(q.get().unwrap(), None, "empty (and missing) queue");
    let p = q.put(b"b100", 100).unwrap();
    assert!(
        p.starts_with("/q/jobs/entry-100-") && p.len() == "/q/jobs/entry-100-".len() + 10,
        "{p}"
    );
    q.put(b"a005", 5).unwrap();
    q.put(b"c100", 100).unwrap();
    q.put(b"d999", 999).unwrap();
    q.put(b"e000", 0).unwrap();
    // A child that is no entry is never served.
    c.create("/q/jobs/other", b"x", CreateMode::Persistent)
        .unwrap();
    assert_eq!(q.len().unwrap(), 6);
    let (data, _) = c.get(&p, None).unwrap();
    assert_eq!(data.as_deref(), Some(&b"b100"[..]));
    let mut got = Vec::new();
    while let Some(v) = q.get().unwrap() {
        got.push(String::from_utf8(v.to_vec()).unwrap());
    }
    assert_eq!(got, ["e000", "a005", "b100", "c100", "d999"]);
    assert_eq!(q.len().unwrap(), 1, "only the foreign child left");

    for bad in [1000, u32::MAX] {
        match q.put(b"x", bad) {
            Err(Error::BadArgument(m)) => assert!(m.contains("priority"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(Queue::new(&c, "/"), Err(Error::BadArgument(_))));
    assert!(matches!(
        Queue::new(&c, "x"),
        Err(Error::InvalidPath { .. })
    ));
}

#[test]
fn queue_order_holds_across_the_signed_wrap() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    c.ensure_path("/wrap", None).unwrap();
    // The names the server writes just before and after the counter wraps (kazoo's string
    // order would serve the wrapped one first).
    for (name, v) in [
        ("entry-100--2147483648", "third"),
        ("entry-100-2147483647", "second"),
        ("entry-100--2147483647", "fourth"),
        ("entry-100-2147483646", "first"),
    ] {
        c.create(&format!("/wrap/{name}"), v, CreateMode::Persistent)
            .unwrap();
    }
    let q = Queue::new(&c, "/wrap").unwrap();
    let got: Vec<_> = (0..5).map(|_| text(q.get().unwrap())).collect();
    assert_eq!(
        got,
        [
            Some("first"),
            Some("second"),
            Some("third"),
            Some("fourth"),
            None
        ]
        .map(|s| s.map(String::from))
    );
}

#[test]
fn concurrent_consumers_take_each_item_once() {
    let zk = ZkServer::start().unwrap();
    let c1 = client(&zk.connect_string());
    let c2 = client(&zk.connect_string());
    let q1 = Queue::new(&c1, "/cc").unwrap();
    let q2 = Queue::new(&c2, "/cc").unwrap();
    for i in 0..40 {
        q1.put(format!("{i}").as_bytes(), 100).unwrap();
    }
    // Both consumers' gets in flight at once, on one loop.
    let mut seen = Vec::new();
    loop {
        let (a, b) = (q1.get_async(), q2.get_async());
        wait(&c1, "both gets", || a.ready() && b.ready());
        let (a, b) = (a.get_nowait().unwrap(), b.get_nowait().unwrap());
        if a.is_none() && b.is_none() {
            break;
        }
        seen.extend([a, b].into_iter().flatten().map(|v| text(Some(v)).unwrap()));
    }
    let set: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 40, "{seen:?}");
    assert_eq!(set.len(), 40);
}

#[test]
fn queue_async_forms_under_poll_once_and_embedded() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let q = Queue::new(&c, "/pq").unwrap();
    let put = q.put_async(b"v", 7);
    poll_until(&c, "put", || put.ready());
    put.get_nowait().unwrap();
    let got = q.get_async();
    poll_until(&c, "get", || got.ready());
    assert_eq!(text(got.get_nowait().unwrap()).as_deref(), Some("v"));

    let (mut host, e) = embedded(&zk);
    let q = Queue::new(&e, "/pq").unwrap();
    assert_embedded_refusal(q.get().unwrap_err(), "Queue::get");
    let put = q.put_async(b"w", 7);
    host.run_until("put", || put.ready());
    let got = q.get_async();
    host.run_until("get", || got.ready());
    assert_eq!(text(got.get_nowait().unwrap()).as_deref(), Some("w"));
}

use mio_zookeeper::recipe::LockingQueue;
use std::time::Duration;

#[test]
fn locking_queue_takes_on_kazoos_layout_and_consumes_or_releases() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    let q = LockingQueue::new(&c, "/lq").unwrap();
    let q2 = LockingQueue::new(&other, "/lq").unwrap();
    let paths = q.put_all(&[b"one".as_slice(), b"two"], 100).unwrap();
    assert_eq!(paths.len(), 2);
    assert!(paths[0].starts_with("/lq/entries/entry-100-"), "{paths:?}");
    q.put(b"zero", 1).unwrap();
    assert_eq!(q.len().unwrap(), 3);

    assert_eq!(&q.get(Some(LONG)).unwrap()[..], b"zero");
    let mut taken = c.get_children("/lq/taken", None).unwrap();
    assert_eq!(taken.len(), 1);
    let name = taken.pop().unwrap();
    assert!(name.starts_with("entry-001-"), "{name}");
    let (data, stat) = c.get(&format!("/lq/taken/{name}"), None).unwrap();
    assert_eq!(data.as_deref(), Some(q.id().as_bytes()));
    assert_eq!(q.id().len(), 32);
    assert_eq!(
        stat.ephemeral_owner,
        c.client_id().unwrap().0,
        "an ephemeral take"
    );
    assert!(q.holds_lock().unwrap());
    assert!(!q2.holds_lock().unwrap());
    // A get while holding returns the held item.
    assert_eq!(&q.get(Some(LONG)).unwrap()[..], b"zero");

    // The other consumer skips the taken item.
    assert_eq!(&q2.get(Some(LONG)).unwrap()[..], b"one");
    assert!(q.release().unwrap());
    assert!(!q.holds_lock().unwrap());
    assert!(!q.release().unwrap(), "nothing held");
    assert!(q2.consume().unwrap());
    assert_eq!(q.len().unwrap(), 2);
    // The released item is served again.
    assert_eq!(&q.get(Some(LONG)).unwrap()[..], b"zero");
    assert!(q.consume().unwrap());
    assert_eq!(&q.get(Some(LONG)).unwrap()[..], b"two");
    // Held by q: q2 times out.
    let t0 = std::time::Instant::now();
    assert!(matches!(
        q2.get(Some(Duration::from_millis(300))),
        Err(mio_zookeeper::Error::Timeout)
    ));
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(q.consume().unwrap());
    assert!(q.is_empty().unwrap());
    assert!(c.get_children("/lq/taken", None).unwrap().is_empty());
    assert!(matches!(
        q.put(b"x", 1000),
        Err(mio_zookeeper::Error::BadArgument(_))
    ));
}

#[test]
fn locking_queue_get_waits_for_a_put_and_for_a_release() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    let q = LockingQueue::new(&c, "/lw").unwrap();
    let producer = LockingQueue::new(&other, "/lw").unwrap();
    let got = q.get_async(Some(LONG));
    idle(&c, Duration::from_millis(200));
    assert!(!got.ready());
    producer.put(b"late", 100).unwrap();
    wait(&c, "the get", || got.ready());
    assert_eq!(&got.get_nowait().unwrap()[..], b"late");
    // A second object waits until the first releases.
    let q3 = LockingQueue::new(&other, "/lw").unwrap();
    let got3 = q3.get_async(Some(LONG));
    idle(&c, Duration::from_millis(200));
    assert!(!got3.ready(), "taken by q");
    assert!(q.release().unwrap());
    wait(&c, "q3's get", || got3.ready());
    assert_eq!(&got3.get_nowait().unwrap()[..], b"late");
    assert!(q3.holds_lock().unwrap());
    // One get at a time per object.
    let q4 = LockingQueue::new(&c, "/lw").unwrap();
    let a = q4.get_async(Some(Duration::from_secs(5)));
    let b = q4.get_async(Some(Duration::from_secs(5)));
    assert!(matches!(
        b.get_nowait(),
        Err(mio_zookeeper::Error::Recipe(
            mio_zookeeper::recipe::RecipeError::AlreadyAcquired { .. }
        ))
    ));
    wait(&c, "a times out", || a.ready());
}

#[test]
fn timed_out_gets_leave_no_watcher_listener_or_node() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let q = LockingQueue::new(&c, "/leak").unwrap();
    q.put(b"x", 1).unwrap();
    assert_eq!(&q.get(Some(LONG)).unwrap()[..], b"x");
    // q's finished get removed its watcher (the removal may still be on its way).
    wait(&c, "q's watcher removed", || c.watch_count() == 0);
    let (watches, listeners) = (c.watch_count(), c.listener_count());
    let q2 = LockingQueue::new(&c, "/leak").unwrap();
    // A waiting get watches `entries` and `taken`.
    let r = q2.get_async(Some(Duration::from_millis(500)));
    wait(&c, "the get's watches", || c.watch_count() == watches + 2);
    wait(&c, "timed out", || r.ready());
    wait(&c, "watchers removed", || c.watch_count() == watches);
    let watched = std::cell::Cell::new(0);
    for i in 0..300 {
        let r = q2.get_async(Some(Duration::from_millis(20)));
        wait(&c, "the get's end", || {
            watched.set(watched.get().max(c.watch_count()));
            r.ready()
        });
        match r.get_nowait() {
            Err(mio_zookeeper::Error::Timeout) => {}
            other => panic!("get {i}: {other:?}"),
        }
    }
    assert_eq!(
        watched.get(),
        watches + 2,
        "each get watched, none piled up"
    );
    wait(&c, "watchers removed", || c.watch_count() == watches);
    assert_eq!(c.listener_count(), listeners);
    assert_eq!(
        c.get_children("/leak/taken", None).unwrap().len(),
        1,
        "only q's take"
    );
    // An async get that times out while its reads are in flight cleans up too.
    for _ in 0..50 {
        let r = q2.get_async(Some(Duration::from_millis(1)));
        wait(&c, "timed out", || r.ready());
    }
    wait(&c, "watchers removed again", || c.watch_count() == watches);
    assert_eq!(c.listener_count(), listeners);
}

#[test]
fn locking_queue_get_async_under_poll_once_and_embedded() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let q = LockingQueue::new(&c, "/lp").unwrap();
    let got = q.get_async(None);
    let put = q.put_async(b"p", 3);
    poll_until(&c, "the get", || got.ready() && put.ready());
    assert_eq!(&got.get_nowait().unwrap()[..], b"p");

    let (mut host, e) = embedded(&zk);
    let q = LockingQueue::new(&e, "/le").unwrap();
    assert_embedded_refusal(q.get(None).unwrap_err(), "LockingQueue::get");
    let got = q.get_async(Some(LONG));
    let put = q.put_async(b"e", 3);
    host.run_until("the get", || got.ready() && put.ready());
    assert_eq!(&got.get_nowait().unwrap()[..], b"e");
    let done = q.consume_async();
    host.run_until("consumed", || done.ready());
    assert!(done.get_nowait().unwrap());
}

#[test]
fn a_take_ends_with_its_session_and_a_waiting_get_wakes_after_reconnect() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    let holder = LockingQueue::new(&c, "/lx").unwrap();
    let waiter = LockingQueue::new(&other, "/lx").unwrap();
    holder.put(b"item", 100).unwrap();
    assert_eq!(&holder.get(Some(LONG)).unwrap()[..], b"item");
    let waiting = waiter.get_async(Some(LONG));
    idle(&other, Duration::from_millis(200));
    assert!(!waiting.ready());
    // The holder's session expires: its take goes, the waiter gets the item.
    faults_support::expire_session(zk.addr(), &c);
    wait(&other, "the waiter's get", || waiting.ready());
    assert_eq!(&waiting.get_nowait().unwrap()[..], b"item");
    wait(&c, "holder reconnected", || {
        c.state() == mio_zookeeper::ClientState::Connected
    });
    assert!(
        !holder.holds_lock().unwrap(),
        "the take is the waiter's now"
    );
    assert!(!holder.consume().unwrap());
    assert!(waiter.consume().unwrap());
    assert!(waiter.is_empty().unwrap());

    // A get waiting while its own client's session expires wakes on the new session.
    let waiting = holder.get_async(Some(LONG));
    idle(&c, Duration::from_millis(200));
    let (old, _) = c.client_id().unwrap();
    faults_support::expire_session(zk.addr(), &c);
    wait(&c, "a new session", || {
        c.state() == mio_zookeeper::ClientState::Connected
            && c.client_id().is_some_and(|(id, _)| id != old)
    });
    waiter.put(b"after", 100).unwrap();
    wait(&c, "the get after the expiry", || waiting.ready());
    assert_eq!(&waiting.get_nowait().unwrap()[..], b"after");
    assert!(holder.holds_lock().unwrap());
}
