//! DataWatch against a real server: the kazoo call sequence, one call per change, the
//! ways it ends (Flow::Stop, stop() inside the callback, a read that fails for good), and
//! the three driving modes (blocking, poll_once, embedded in a host's mio::Poll).

#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use mio_zookeeper::recipe::{DataWatch, Flow, WatchEnd};
use mio_zookeeper::testing::{digest_id, ZkServer};
use mio_zookeeper::{
    Acl, CreateMode, CreateOptions, Error, EventType, Handler, Id, NullData, Perms,
};
use recipe_support::*;

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn kazoo_sequence_missing_created_deleted_recreated_one_call_per_change() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let (calls, f) = data_recorder();
    let w = DataWatch::start(&c, "/dw", Some(LONG), f).unwrap();
    assert!(w.initialized());
    assert_eq!(
        values(&calls),
        [None],
        "called at once with the missing node"
    );
    assert_eq!(calls.borrow()[0].1, None, "no event on the first call");

    c.create("/dw", b"blah", CreateMode::Persistent).unwrap();
    wait(&c, "created", || calls.borrow().len() == 2);
    c.delete("/dw", None).unwrap();
    wait(&c, "deleted", || calls.borrow().len() == 3);
    c.create("/dw", b"blah", CreateMode::Persistent).unwrap();
    wait(&c, "re-created", || calls.borrow().len() == 4);
    c.set("/dw", b"two", None).unwrap();
    wait(&c, "changed", || calls.borrow().len() == 5);
    c.set("/dw", NullData, None).unwrap();
    wait(&c, "null data", || calls.borrow().len() == 6);
    assert_eq!(
        values(&calls),
        [
            None,
            some("blah"),
            None,
            some("blah"),
            some("two"),
            some("<null>")
        ]
    );
    let types: Vec<_> = calls.borrow().iter().map(|(_, t)| *t).collect();
    assert_eq!(
        types,
        [
            None,
            Some(EventType::NodeCreated),
            Some(EventType::NodeDeleted),
            Some(EventType::NodeCreated),
            Some(EventType::NodeDataChanged),
            Some(EventType::NodeDataChanged),
        ]
    );
    // A write that changes nothing the watch sees (a child) gives no call.
    c.create("/dw/child", b"", CreateMode::Persistent).unwrap();
    idle(&c, Duration::from_millis(300));
    assert_eq!(calls.borrow().len(), 6);
    assert_eq!(c.watch_count(), 1, "one watcher for the watch's whole life");
    w.stop();
    w.stop(); // idempotent
    assert!(w.is_stopped());
    assert!(matches!(w.ended().get_nowait(), Ok(WatchEnd::Stopped)));
    wait(&c, "the watcher removed", || c.watch_count() == 0);
    c.set("/dw", b"after", None).unwrap();
    idle(&c, Duration::from_millis(300));
    assert_eq!(calls.borrow().len(), 6, "no call after stop");
    assert_eq!(c.pending_requests(), 0);
}

#[test]
fn flow_stop_from_the_callback_removes_the_watcher_and_the_listener() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let listeners = c.listener_count();
    c.create("/fs", b"1", CreateMode::Persistent).unwrap();
    let n = Rc::new(Cell::new(0));
    let n2 = n.clone();
    let w = DataWatch::start(&c, "/fs", Some(LONG), move |_, _| {
        n2.set(n2.get() + 1);
        if n2.get() == 2 {
            Flow::Stop
        } else {
            Flow::Continue
        }
    })
    .unwrap();
    assert_eq!(c.listener_count(), listeners + 1);
    c.set("/fs", b"2", None).unwrap();
    wait(&c, "stopped", || w.is_stopped());
    wait(&c, "the watcher removed", || c.watch_count() == 0);
    assert_eq!(c.listener_count(), listeners);
    c.set("/fs", b"3", None).unwrap();
    idle(&c, Duration::from_millis(300));
    assert_eq!(n.get(), 2);
}

#[test]
fn stop_and_blocking_calls_inside_the_callback() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    c.create("/sc", b"1", CreateMode::Persistent).unwrap();
    let slot: Rc<RefCell<Option<DataWatch>>> = Rc::default();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (s, cl, sl) = (seen.clone(), c.clone(), slot.clone());
    let w = DataWatch::start(&c, "/sc", Some(LONG), move |v, _| {
        // A blocking read inside the callback nests the loop: allowed.
        let (now, _) = cl.get("/sc", None).unwrap();
        s.borrow_mut().push((v.unwrap().data.clone(), now));
        if s.borrow().len() == 2 {
            sl.borrow().as_ref().unwrap().stop();
        }
        Flow::Continue
    })
    .unwrap();
    *slot.borrow_mut() = Some(w.clone());
    c.set("/sc", b"2", None).unwrap();
    wait(&c, "stopped from inside", || w.is_stopped());
    wait(&c, "the watcher removed", || c.watch_count() == 0);
    c.set("/sc", b"3", None).unwrap();
    idle(&c, Duration::from_millis(300));
    assert_eq!(seen.borrow().len(), 2);
    assert_eq!(seen.borrow()[1].0.as_deref(), Some(&b"2"[..]));
    slot.borrow_mut().take();
}

#[test]
fn an_invalid_path_fails_at_once_and_registers_nothing() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let listeners = c.listener_count();
    let err = DataWatch::start_async(&c, "no-slash", |_, _| Flow::Continue).unwrap_err();
    assert!(matches!(err, Error::InvalidPath { .. }), "{err}");
    let err = DataWatch::start(&c, "/a/../b", Some(LONG), |_, _| Flow::Continue).unwrap_err();
    assert!(matches!(err, Error::InvalidPath { .. }), "{err}");
    assert_eq!(c.listener_count(), listeners);
    assert_eq!(c.watch_count(), 0);
}

#[test]
fn a_read_refused_for_good_ends_the_watch_and_says_why() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let listeners = c.listener_count();
    let acl = vec![Acl {
        perms: Perms::ALL,
        id: Id {
            scheme: "digest".into(),
            id: digest_id("alice", "secret"),
        },
    }];
    c.create(
        "/locked",
        b"x",
        CreateOptions::mode(CreateMode::Persistent).with_acl(acl),
    )
    .unwrap();
    let (calls, f) = data_recorder();
    let err = DataWatch::start(&c, "/locked", Some(LONG), f).unwrap_err();
    assert!(err.is_no_auth(), "{err:?}");
    assert!(calls.borrow().is_empty());
    let (calls, f) = data_recorder();
    let w = DataWatch::start_async(&c, "/locked", f).unwrap();
    wait(&c, "the end", || w.ended().ready());
    match w.ended().get_nowait() {
        Ok(WatchEnd::Failed(e)) => assert!(e.is_no_auth(), "{e:?}"),
        other => panic!("{other:?}"),
    }
    assert!(calls.borrow().is_empty());
    assert_eq!(c.listener_count(), listeners);
    assert_eq!(c.watch_count(), 0);
}

#[test]
fn a_running_watch_does_not_keep_the_client_alive() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    c.create("/alive", b"1", CreateMode::Persistent).unwrap();
    let (calls, f) = data_recorder();
    let w = DataWatch::start(&c, "/alive", Some(LONG), f).unwrap();
    let weak = c.downgrade();
    let handler = c.handler().clone();
    drop(c);
    assert!(
        weak.upgrade().is_none(),
        "the watch holds the client weakly"
    );
    // The watch ends silently: nothing is called, nothing panics.
    handler.sleep(Duration::from_millis(100)).unwrap();
    assert_eq!(calls.borrow().len(), 1);
    assert!(!w.ended().ready());
    w.stop();
}

#[test]
fn driven_by_poll_once_alone() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let (calls, f) = data_recorder();
    let w = DataWatch::start_async(&c, "/po", f).unwrap();
    assert!(
        calls.borrow().is_empty(),
        "the first call comes from the loop"
    );
    poll_until(&c, "the first call", || calls.borrow().len() == 1);
    let created = c.create_async("/po", b"v", CreateOptions::default());
    poll_until(&c, "created", || {
        created.ready() && calls.borrow().len() == 2
    });
    let set = c.set_async("/po", b"w", None);
    poll_until(&c, "changed", || set.ready() && calls.borrow().len() == 3);
    assert_eq!(values(&calls), [None, some("v"), some("w")]);
    w.stop();
    poll_until(&c, "the watcher removed", || c.watch_count() == 0);
}

#[test]
fn embedded_in_a_host_poll_and_the_blocking_start_is_refused() {
    let zk = ZkServer::start().unwrap();
    let (mut host, c) = embedded(&zk);
    let listeners = c.listener_count();
    let err = DataWatch::start(&c, "/em", Some(LONG), |_, _| Flow::Continue).unwrap_err();
    assert_embedded_refusal(err, "DataWatch::start");
    assert_eq!(
        c.listener_count(),
        listeners,
        "a refused start started nothing"
    );
    let (calls, f) = data_recorder();
    let w = DataWatch::start_async(&c, "/em", f).unwrap();
    host.run_until("the first call", || calls.borrow().len() == 1);
    let created = c.create_async("/em", b"v", CreateOptions::default());
    host.run_until("created", || created.ready() && calls.borrow().len() == 2);
    let deleted = c.delete_async("/em", None);
    host.run_until("deleted", || deleted.ready() && calls.borrow().len() == 3);
    assert_eq!(values(&calls), [None, some("v"), None]);
    w.stop();
    host.run_until("the watcher removed", || c.watch_count() == 0);
    assert_eq!(c.listener_count(), listeners);
}

#[test]
fn a_watch_started_before_its_client_begins_once_the_client_connects() {
    let zk = ZkServer::start().unwrap();
    let c = mio_zookeeper::Client::new(&zk.connect_string()).unwrap();
    let (calls, f) = data_recorder();
    let w = DataWatch::start_async(&c, "/early", f).unwrap();
    idle(&c, Duration::from_millis(200));
    assert!(calls.borrow().is_empty() && !w.is_stopped());
    c.start(Some(LONG)).unwrap();
    wait(&c, "the first call", || calls.borrow().len() == 1);
    c.create("/early", b"x", CreateMode::Persistent).unwrap();
    wait(&c, "created", || calls.borrow().len() == 2);
    // Stopped and started again (a new session): the watch goes on, one call per change.
    c.stop().unwrap();
    c.start(Some(LONG)).unwrap();
    c.set("/early", b"y", None).unwrap();
    wait(&c, "changed after the restart", || {
        values(&calls).last() == Some(&some("y"))
    });
    idle(&c, Duration::from_millis(300));
    assert_eq!(values(&calls), [None, some("x"), some("y")]);
    w.stop();
}
