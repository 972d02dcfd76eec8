//! Barrier and DoubleBarrier against a real server: waits that time out leave nothing
//! behind, a wait that survives a dropped connection and an expired session, members that
//! enter together and leave together, a timed-out enter that removes its member node, and
//! the non-blocking forms embedded in a host's `mio::Poll`.
#![cfg(feature = "testing")]

#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::time::Duration;

use mio_zookeeper::recipe::{Barrier, DoubleBarrier, RecipeError};
use mio_zookeeper::testing::{Proxy, ZkServer};
use mio_zookeeper::{Client, Error};
use recipe_support::{assert_embedded_refusal, client, embedded, idle, wait, LONG};

fn counts(c: &Client) -> (usize, usize) {
    (c.watch_count(), c.listener_count())
}

#[test]
fn a_barrier_wait_returns_once_removed_and_false_at_its_deadline_leaving_nothing() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let b = Barrier::new(&c, "/app/gate").unwrap();
    assert!(
        b.wait(Some(Duration::from_millis(50))).unwrap(),
        "no node: down"
    );
    b.create().unwrap();
    b.create().unwrap(); // already up: fine
    assert!(c.exists("/app/gate", None).unwrap().is_some());
    let before = counts(&c);
    for _ in 0..200 {
        assert!(!b.wait(Some(Duration::from_millis(2))).unwrap());
    }
    // Let the watch removals finish.
    wait(&c, "the watchers removed and nothing in flight", || {
        counts(&c) == before && c.pending_requests() == 0
    });
    let other = client(&zk.connect_string());
    let r = b.wait_async(Some(LONG));
    idle(&c, Duration::from_millis(200));
    assert!(!r.ready());
    assert!(Barrier::new(&other, "/app/gate").unwrap().remove().unwrap());
    wait(&c, "the wait's end", || r.ready());
    assert!(r.take(false, None).unwrap());
    wait(&c, "nothing left", || counts(&c) == before);
    assert!(!b.remove().unwrap(), "already gone");
}

#[test]
fn a_barrier_wait_survives_a_dropped_connection_and_an_expired_session() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client(&proxy.connect_string());
    let other = client(&zk.connect_string());
    let b = Barrier::new(&c, "/gate").unwrap();
    b.create().unwrap();
    for expire in [false, true] {
        Barrier::new(&other, "/gate").unwrap().create().unwrap();
        let r = b.wait_async(Some(LONG));
        idle(&c, Duration::from_millis(100));
        // Disconnected, the barrier is removed; then the client comes back.
        proxy.set_refusing(true);
        proxy.drop_connections();
        if expire {
            faults_support::expire_session(zk.addr(), &c);
        }
        other.delete("/gate", None).unwrap();
        idle(&c, Duration::from_millis(300));
        assert!(!r.ready(), "expire={expire}: it cannot know yet");
        proxy.set_refusing(false);
        wait(&c, "the wait's end", || r.ready());
        assert!(r.take(false, None).unwrap(), "expire={expire}");
    }
}

#[test]
fn members_enter_together_and_leave_together() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let before = counts(&c);
    let members: Vec<_> = (0..3)
        .map(|i| DoubleBarrier::new(&c, "/db", 3, &format!("m{i}")).unwrap())
        .collect();
    let first: Vec<_> = members[..2]
        .iter()
        .map(|m| m.enter_async(Some(LONG)))
        .collect();
    idle(&c, Duration::from_millis(300));
    assert!(
        first.iter().all(|r| !r.ready()),
        "two of three: nobody is in"
    );
    members[2].enter(Some(LONG)).unwrap();
    wait(&c, "all in", || first.iter().all(|r| r.ready()));
    for r in &first {
        r.take(false, None).unwrap();
    }
    for m in &members {
        assert!(m.participating(), "{m:?}");
    }
    // Each member node is ephemeral, named by a uuid hex, holding the identifier.
    let mut kids = c.get_children("/db", None).unwrap();
    kids.sort();
    assert_eq!(kids.len(), 4, "{kids:?}");
    assert_eq!(kids[3], "ready");
    for m in &members {
        let name = m.node_path()["/db/".len()..].to_string();
        assert!(
            name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
        let (data, stat) = c.get(&m.node_path(), None).unwrap();
        assert!(data.unwrap().starts_with(b"m"));
        assert_eq!(stat.ephemeral_owner, c.client_id().unwrap().0);
    }
    assert!(matches!(
        members[0].enter(Some(LONG)).unwrap_err(),
        Error::Recipe(RecipeError::AlreadyAcquired { .. })
    ));
    // Leaving: nobody is out before the last leaves.
    let leaving: Vec<_> = members[..2]
        .iter()
        .map(|m| m.leave_async(Some(LONG)))
        .collect();
    idle(&c, Duration::from_millis(300));
    assert!(leaving.iter().all(|r| !r.ready()), "two of three left");
    members[2].leave(Some(LONG)).unwrap();
    wait(&c, "all out", || leaving.iter().all(|r| r.ready()));
    for r in &leaving {
        r.take(false, None).unwrap();
    }
    assert!(c.get_children("/db", None).unwrap().is_empty());
    wait(&c, "nothing left registered", || counts(&c) == before);
}

#[test]
fn a_timed_out_enter_removes_its_member_node_and_leaves_no_watcher() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let before = counts(&c);
    let m = DoubleBarrier::new(&c, "/lonely", 2, "me").unwrap();
    for _ in 0..20 {
        let err = m.enter(Some(Duration::from_millis(30))).unwrap_err();
        assert!(matches!(err, Error::Timeout), "{err}");
    }
    assert!(!m.participating());
    wait(&c, "the member nodes deleted", || {
        c.get_children("/lonely", None).unwrap().is_empty()
    });
    wait(&c, "the watchers removed", || counts(&c) == before);
    // The count is right for the next pair.
    let other = client(&zk.connect_string());
    let r = m.enter_async(Some(LONG));
    DoubleBarrier::new(&other, "/lonely", 2, "you")
        .unwrap()
        .enter(Some(LONG))
        .unwrap();
    wait(&c, "entered", || r.ready());
    r.take(false, None).unwrap();
    assert!(matches!(
        DoubleBarrier::new(&c, "/x", 0, "").unwrap_err(),
        Error::BadArgument(_)
    ));
}

#[test]
fn the_async_forms_work_embedded_where_blocking_is_refused() {
    let zk = ZkServer::start().unwrap();
    let (mut host, e) = embedded(&zk);
    let other = client(&zk.connect_string());
    let b = Barrier::new(&e, "/emb").unwrap();
    let r = b.create_async();
    host.run_until("created", || r.ready());
    r.take(false, None).unwrap();
    assert_embedded_refusal(b.wait(None).unwrap_err(), "Barrier::wait");
    let w = b.wait_async(None);
    other.delete("/emb", None).unwrap();
    host.run_until("the wait's end", || w.ready());
    assert!(w.take(false, None).unwrap());

    let m = DoubleBarrier::new(&e, "/emb-db", 2, "e").unwrap();
    assert_embedded_refusal(m.enter(None).unwrap_err(), "DoubleBarrier::enter");
    let r = m.enter_async(Some(LONG));
    let theirs = DoubleBarrier::new(&other, "/emb-db", 2, "o").unwrap();
    let t = theirs.enter_async(Some(LONG));
    let both = |r: &mio_zookeeper::AsyncResult<()>, t: &mio_zookeeper::AsyncResult<()>| {
        other.poll_once(Some(Duration::ZERO)).unwrap();
        r.ready() && t.ready()
    };
    host.run_until("both in", || both(&r, &t));
    r.take(false, None).unwrap();
    t.take(false, None).unwrap();
    let r = m.leave_async(Some(LONG));
    let t = theirs.leave_async(Some(LONG));
    host.run_until("both out", || both(&r, &t));
    r.take(false, None).unwrap();
    t.take(false, None).unwrap();
    assert!(other.get_children("/emb-db", None).unwrap().is_empty());
}

#[test]
fn an_enter_waiting_across_a_session_expiry_makes_its_member_again() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client(&proxy.connect_string());
    let other = client(&zk.connect_string());
    let m = DoubleBarrier::new(&c, "/exp", 2, "ours").unwrap();
    let r = m.enter_async(Some(LONG));
    wait(&c, "our member", || {
        other.get_children("/exp", None).map(|k| k.len()).ok() == Some(1)
    });
    let old = c.client_id().unwrap().0;
    proxy.set_refusing(true);
    proxy.drop_connections();
    faults_support::expire_session(zk.addr(), &c);
    wait(&c, "the ephemeral gone", || {
        other.get_children("/exp", None).map(|k| k.len()).ok() == Some(0)
    });
    proxy.set_refusing(false);
    wait(&c, "a new session", || {
        c.client_id().is_some_and(|(id, _)| id != 0 && id != old)
    });
    wait(&c, "our member again", || {
        other.get_children("/exp", None).map(|k| k.len()).ok() == Some(1)
    });
    let (_, stat) = other.get(&m.node_path(), None).unwrap();
    assert_eq!(stat.ephemeral_owner, c.client_id().unwrap().0);
    let theirs = DoubleBarrier::new(&other, "/exp", 2, "theirs").unwrap();
    let t = theirs.enter_async(Some(LONG));
    while !(r.ready() && t.ready()) {
        c.poll_once(Some(Duration::from_millis(5))).unwrap();
        other.poll_once(Some(Duration::from_millis(5))).unwrap();
    }
    r.take(false, None).unwrap();
    t.take(false, None).unwrap();
}
