//! Lock: exclusion and hand-off, one deadline, no re-entry, no leaks over a thousand
//! timed-out acquires, cleanup of a contender node whose delete first fails (kazoo #732),
//! waits that survive a server restart (#282), loss noticed while held (#565), and the
//! three driving modes.

#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio_zookeeper::recipe::{Lock, RecipeError};
use mio_zookeeper::testing::{Proxy, ZkServer};
use mio_zookeeper::{Client, Error};
use recipe_support::{client, embedded, poll_until, polled, wait, LONG};

fn lock_children(c: &Client, path: &str) -> Vec<String> {
    let mut v = c.get_children(path, None).unwrap_or_default();
    v.sort();
    v
}

#[test]
fn on_the_wire_a_lock_is_an_ephemeral_sequential_uuid_node_holding_the_identifier() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let lock = Lock::new(&c, "/app/locks/a", "me").unwrap();
    lock.acquire(Some(LONG)).unwrap();
    let node = lock.node().unwrap();
    let name = node.rsplit('/').next().unwrap();
    let (hex, seq) = name.split_once("__lock__").unwrap();
    assert_eq!(hex.len(), 32, "{name}");
    assert!(hex
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(seq, "0000000000");
    let (data, stat) = c.get(&node, None).unwrap();
    assert_eq!(data.as_deref(), Some(&b"me"[..]));
    assert_eq!(stat.ephemeral_owner, c.client_id().unwrap().0);
    // The parent as kazoo's ensure_path: persistent, empty.
    let (pdata, pstat) = c.get("/app/locks", None).unwrap();
    assert_eq!(pdata.as_deref().unwrap_or_default(), b"");
    assert_eq!(pstat.ephemeral_owner, 0);
    lock.release().unwrap();
    assert!(lock_children(&c, "/app/locks/a").is_empty());
    // The same uuid on the next acquire (as kazoo).
    lock.acquire(Some(LONG)).unwrap();
    assert!(lock.node().unwrap().contains(hex));
    lock.release().unwrap();
    assert!(matches!(
        Lock::new(&c, "no-slash", "x"),
        Err(Error::InvalidPath { .. })
    ));
}

#[test]
fn two_contenders_exclude_each_other_and_hand_over_on_release() {
    let zk = ZkServer::start().unwrap();
    let a = client(&zk.connect_string());
    let b = client(&zk.connect_string());
    let la = Lock::new(&a, "/l", "a").unwrap();
    let lb = Lock::new(&b, "/l", "b").unwrap();
    la.acquire(Some(LONG)).unwrap();

    // One deadline: a blocked acquire fails with Timeout in about its timeout.
    let t0 = Instant::now();
    let err = lb.acquire(Some(Duration::from_millis(300))).unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert!(!lb.is_held());
    wait(&a, "the timed-out contender's node to go", || {
        lock_children(&a, "/l").len() == 1
    });
    assert!(!lb.try_acquire().unwrap());
    wait(&a, "the try's node to go", || {
        lock_children(&a, "/l").len() == 1
    });

    let got = lb.acquire_async(Some(LONG));
    wait(&a, "b's node", || lb.node().is_some());
    assert_eq!(la.contenders().unwrap(), ["a", "b"]);
    assert!(!got.ready());
    la.release().unwrap();
    wait(&b, "b to get the lock", || got.ready());
    got.get_nowait().unwrap();
    assert!(lb.is_held() && !la.is_held());
    assert_eq!(lb.contenders().unwrap(), ["b"]);
    lb.release().unwrap();
}

#[test]
fn a_second_acquire_on_the_same_object_is_refused_at_once_and_cancel_ends_a_wait() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let lock = Lock::new(&c, "/l", "x").unwrap();
    lock.acquire(Some(LONG)).unwrap();
    let t0 = Instant::now();
    let err = lock.acquire(Some(LONG)).unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(err, Error::Recipe(RecipeError::AlreadyAcquired { .. })),
        "{err}"
    );
    assert!(lock.is_held(), "the refusal leaves the hold alone");

    let other = Lock::new(&c, "/l", "y").unwrap();
    let pending = other.acquire_async(None);
    wait(&c, "the waiter's node", || other.node().is_some());
    let again = other.acquire_async(None);
    assert!(matches!(
        again.get_nowait(),
        Err(Error::Recipe(RecipeError::AlreadyAcquired { .. }))
    ));
    other.cancel();
    wait(&c, "the cancel", || pending.ready());
    assert!(matches!(
        pending.get_nowait(),
        Err(Error::Recipe(RecipeError::Cancelled { .. }))
    ));
    wait(&c, "the cancelled node to go", || {
        lock_children(&c, "/l").len() == 1
    });
    lock.release().unwrap();
    lock.release().unwrap(); // not held: Ok
}

#[test]
fn a_thousand_timed_out_acquires_leave_no_watcher_listener_or_node() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let before = c.listener_count();
    let holder = Lock::new(&c, "/l", "holder").unwrap();
    holder.acquire(Some(LONG)).unwrap();
    // The holder watches its own node (to learn of its loss).
    wait(&c, "the holder's watch", || c.watch_count() == 1);
    let (watches, listeners) = (c.watch_count(), c.listener_count());
    let waiter = Lock::new(&c, "/l", "waiter").unwrap();
    let mut timeouts = 0;
    for i in 0..1000u64 {
        // Deadlines from 1 to 8 ms cut the acquire at every step (create, list, watch).
        match waiter.acquire(Some(Duration::from_millis(1 + i % 8))) {
            Err(Error::Timeout) => timeouts += 1,
            other => panic!("acquire {i}: {other:?}"),
        }
    }
    assert_eq!(timeouts, 1000);
    wait(&c, "every timed-out node deleted", || {
        lock_children(&c, "/l").len() == 1
    });
    wait(&c, "the watchers removed", || c.watch_count() == watches);
    assert_eq!(c.listener_count(), listeners);
    // And the waiter still works.
    holder.release().unwrap();
    waiter.acquire(Some(LONG)).unwrap();
    waiter.release().unwrap();
    wait(&c, "the last watchers removed", || c.watch_count() == 0);
    assert_eq!(c.listener_count(), before);
}

#[test]
fn a_contender_node_whose_delete_first_fails_is_deleted_once_the_connection_is_back() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let a = client(&zk.connect_string());
    let b = client(&proxy.connect_string());
    let la = Lock::new(&a, "/l", "a").unwrap();
    la.acquire(Some(LONG)).unwrap();
    let lb = Lock::new(&b, "/l", "b").unwrap();
    let got = lb.acquire_async(Some(Duration::from_millis(800)));
    wait(&b, "b waiting", || lb.node().is_some());
    let node = lb.node().unwrap();
    let session = b.client_id().unwrap().0;
    proxy.set_frozen(true); // the delete at the deadline goes nowhere...
    wait(&b, "the deadline", || got.ready());
    assert!(matches!(got.get_nowait(), Err(Error::Timeout)));
    b.sleep(Duration::from_millis(200)).unwrap();
    assert!(a.exists(&node, None).unwrap().is_some(), "not deleted yet");
    proxy.drop_connections(); // ...and fails with ConnectionLoss
    proxy.set_frozen(false);
    wait(&b, "the node deleted after the reconnect", || {
        a.exists(&node, None).unwrap().is_none()
    });
    assert_eq!(
        b.client_id().unwrap().0,
        session,
        "deleted, not expired with the session"
    );
    la.release().unwrap();
}

#[test]
fn a_waiter_gets_the_lock_across_a_server_restart() {
    let mut zk = ZkServer::start().unwrap();
    let a = client(&zk.connect_string());
    let b = client(&zk.connect_string());
    let la = Lock::new(&a, "/l", "a").unwrap();
    la.acquire(Some(LONG)).unwrap();
    let lb = Lock::new(&b, "/l", "b").unwrap();
    let got = lb.acquire_async(Some(LONG));
    wait(&b, "b waiting", || lb.node().is_some());
    zk.stop().unwrap();
    zk.start_again().unwrap();
    // The holder releases around the restart; the waiter's watch may be gone with the
    // connection: it must re-check when back.
    let released = la.release_async();
    wait(&a, "the release", || released.ready());
    released.get_nowait().unwrap();
    wait(&b, "b to get the lock after the restart", || got.ready());
    got.get_nowait().unwrap();
    assert!(lb.is_held());
    lb.release().unwrap();
}

#[test]
fn a_holder_learns_when_its_session_expires_or_its_node_is_deleted() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let lock = Lock::new(&c, "/l", "x").unwrap();
    let lost = Rc::new(Cell::new(0));
    let l = lost.clone();
    lock.on_lost(move |e| {
        assert!(matches!(e, RecipeError::Lost { .. }), "{e}");
        l.set(l.get() + 1);
    });
    lock.acquire(Some(LONG)).unwrap();
    faults_support::expire_session(zk.addr(), &c);
    wait(&c, "the loss noticed", || lost.get() == 1);
    assert!(!lock.is_held());
    lock.release().unwrap(); // lost: nothing to delete, Ok
    wait(&c, "a new session", || c.connected());

    // Our node deleted by someone else.
    lock.acquire(Some(LONG)).unwrap();
    let other = client(&zk.connect_string());
    other.delete(&lock.node().unwrap(), None).unwrap();
    wait(&c, "the deletion noticed", || lost.get() == 2);
    assert!(!lock.is_held());
    c.sleep(Duration::from_millis(200)).unwrap();
    assert_eq!(lost.get(), 2, "once per loss");
    assert_eq!(c.watch_count(), 0);
    lock.release().unwrap();
}

#[test]
fn a_waiting_node_deleted_by_someone_else_is_created_again() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let holder = Lock::new(&c, "/l", "h").unwrap();
    holder.acquire(Some(LONG)).unwrap();
    let waiter = Lock::new(&c, "/l", "w").unwrap();
    let got = waiter.acquire_async(Some(LONG));
    wait(&c, "the waiter's node", || waiter.node().is_some());
    let first = waiter.node().unwrap();
    // A node before ours that is not the holder's: deleting it wakes us; ours is kept.
    c.delete(&first, None).unwrap();
    holder.release().unwrap();
    wait(&c, "the waiter to get the lock", || got.ready());
    got.get_nowait().unwrap();
    assert_ne!(waiter.node().unwrap(), first, "a new node");
    waiter.release().unwrap();
}

#[test]
fn embedded_a_service_takes_a_lock_and_learns_of_its_loss_by_callback() {
    let zk = ZkServer::start().unwrap();
    let (mut host, c) = embedded(&zk);
    let lock = Lock::new(&c, "/svc", "service").unwrap();
    let err = lock.acquire(Some(LONG)).unwrap_err();
    recipe_support::assert_embedded_refusal(err, "Lock::acquire");
    let lost = Rc::new(Cell::new(false));
    let l = lost.clone();
    lock.on_lost(move |_| l.set(true));
    let got = lock.acquire_async(Some(LONG));
    host.run_until("the lock", || got.ready());
    got.get_nowait().unwrap();
    assert!(lock.is_held());
    faults_support::expire_session(zk.addr(), &c);
    host.run_until("the loss callback", || lost.get());
    assert!(!lock.is_held());
}

#[test]
fn under_poll_once_an_acquire_and_release_complete() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let lock = Lock::new(&c, "/p", "polled").unwrap();
    let got = lock.acquire_async(Some(LONG));
    poll_until(&c, "the lock", || got.ready());
    got.get_nowait().unwrap();
    assert!(lock.is_held());
    let rel = lock.release_async();
    poll_until(&c, "the release", || rel.ready());
    rel.get_nowait().unwrap();
    assert!(lock_children(&c, "/p").is_empty());
}

/// kazoo #282's cause, without the client's help: a waiter whose session expires loses its
/// node, and its predecessor does not change (so no watch fires). Only the re-check on the
/// new session puts the waiter back in line, while the holder still holds.
#[test]
fn a_waiter_whose_session_expired_gets_back_in_line_on_the_new_session() {
    let zk = ZkServer::start().unwrap();
    let a = client(&zk.connect_string());
    let b = client(&zk.connect_string());
    let holder = Lock::new(&a, "/l", "a").unwrap();
    holder.acquire(Some(LONG)).unwrap();
    let waiter = Lock::new(&b, "/l", "b").unwrap();
    let got = waiter.acquire_async(Some(LONG));
    wait(&b, "b waiting", || lock_children(&a, "/l").len() == 2);
    let old = lock_children(&a, "/l");
    faults_support::expire_session(zk.addr(), &b);
    // Back in line: a node of b's new session, the holder untouched.
    let b_session = || b.client_id().map(|(id, _)| id);
    wait(&b, "b's node on its new session", || {
        let kids = lock_children(&a, "/l");
        kids.len() == 2
            && kids != old
            && kids.iter().any(|k| {
                a.exists(&format!("/l/{k}"), None)
                    .ok()
                    .flatten()
                    .is_some_and(|s| Some(s.ephemeral_owner) == b_session())
            })
    });
    assert!(holder.is_held());
    assert!(!got.ready(), "still waiting");
    holder.release().unwrap();
    wait(&b, "b gets the lock", || got.ready());
    got.get_nowait().unwrap();
    assert!(waiter.is_held());
    waiter.release().unwrap();
    assert!(lock_children(&a, "/l").is_empty());
}

/// The reconnect and the retry of a create that failed with a connection loss both went on
/// to create: the node of the first was forgotten (the second overwrote it), left for good
/// with our live session, and the acquire then waited behind its own orphan (issue #13:
/// the Semaphore's internal lock under fast cuts).
#[test]
fn a_reconnect_while_a_failed_create_waits_for_its_retry_makes_one_node_not_two() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let a = client(&zk.connect_string());
    let b = client(&proxy.connect_string());
    for round in 0..5 {
        let path = format!("/reconnect-retry/l{round}");
        let la = Lock::new(&a, &path, "a").unwrap();
        la.acquire(Some(LONG)).unwrap();
        let lb = Lock::new(&b, &path, "b").unwrap();
        proxy.set_frozen(true);
        let got = lb.acquire_async(Some(Duration::from_secs(5)));
        // The first request (ensure_path) goes onto the frozen wire...
        b.sleep(Duration::from_millis(50)).unwrap();
        // ...and fails with ConnectionLoss, a retry waiting, while the client reconnects.
        proxy.drop_connections();
        proxy.set_frozen(false);
        wait(&b, "b waiting behind a", || lb.node().is_some());
        // Past the retry's backoff (50 ms), still waiting.
        b.sleep(Duration::from_millis(300)).unwrap();
        assert_eq!(
            lock_children(&a, &path).len(),
            2,
            "round {round}: a's node and b's"
        );
        la.release().unwrap();
        wait(&b, "the acquire", || got.ready());
        assert!(
            got.get_nowait().is_ok(),
            "round {round}: {:?}; nodes {:?}",
            got.get_nowait(),
            lock_children(&a, &path)
        );
        let node = lb.node().unwrap();
        assert_eq!(
            lock_children(&a, &path),
            vec![node.rsplit('/').next().unwrap().to_string()],
            "round {round}: one node, ours"
        );
        lb.release().unwrap();
        assert!(lock_children(&a, &path).is_empty(), "round {round}");
    }
}
