//! ChildrenWatch against a real server: the children at once then on every change (sorted,
//! with the event), a missing node at the start (kazoo's NoNodeError), the node's deletion
//! that ends the watch and says so, stop from inside the callback, and the three driving
//! modes.

#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use mio_zookeeper::recipe::{ChildrenWatch, Flow, WatchEnd};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{CreateMode, CreateOptions, EventType};
use recipe_support::*;

#[test]
fn children_at_once_then_each_change_sorted_with_its_event() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    c.ensure_path("/cw/b", None).unwrap();
    let (calls, f) = children_recorder();
    let w = ChildrenWatch::start(&c, "/cw", Some(LONG), f).unwrap();
    assert!(w.initialized());
    assert_eq!(lists(&calls), ["b"]);
    c.create("/cw/a", b"", CreateMode::Persistent).unwrap();
    wait(&c, "a added", || calls.borrow().len() == 2);
    c.delete("/cw/b", None).unwrap();
    wait(&c, "b removed", || calls.borrow().len() == 3);
    // Data changes of the node or a child are no change of the list.
    c.set("/cw", b"x", None).unwrap();
    c.set("/cw/a", b"x", None).unwrap();
    c.create("/cw/c", b"", CreateMode::Persistent).unwrap();
    wait(&c, "c added", || calls.borrow().len() == 4);
    assert_eq!(lists(&calls), ["b", "a,b", "a", "a,c"]);
    let types: Vec<_> = calls.borrow().iter().map(|(_, t)| *t).collect();
    assert_eq!(
        types,
        [
            None,
            Some(EventType::NodeChildrenChanged),
            Some(EventType::NodeChildrenChanged),
            Some(EventType::NodeChildrenChanged),
        ]
    );
    assert_eq!(c.watch_count(), 1);
    w.stop();
    wait(&c, "the watcher removed", || c.watch_count() == 0);
    c.create("/cw/d", b"", CreateMode::Persistent).unwrap();
    idle(&c, Duration::from_millis(300));
    assert_eq!(calls.borrow().len(), 4);
    assert!(matches!(w.ended().get_nowait(), Ok(WatchEnd::Stopped)));
}

#[test]
fn a_missing_node_at_the_start_is_an_error_like_kazoos() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let listeners = c.listener_count();
    let (calls, f) = children_recorder();
    let err = ChildrenWatch::start(&c, "/nothing", Some(LONG), f).unwrap_err();
    assert!(err.is_no_node(), "{err:?}");
    let (calls2, f) = children_recorder();
    let w = ChildrenWatch::start_async(&c, "/nothing", f).unwrap();
    wait(&c, "the end", || w.ended().ready());
    match w.ended().get_nowait() {
        Ok(WatchEnd::Failed(e)) => assert!(e.is_no_node(), "{e:?}"),
        other => panic!("{other:?}"),
    }
    assert!(!w.node_deleted(), "never seen, so not deleted");
    assert!(calls.borrow().is_empty() && calls2.borrow().is_empty());
    assert_eq!(c.listener_count(), listeners);
    assert_eq!(c.watch_count(), 0);
}

#[test]
fn the_nodes_deletion_ends_the_watch_and_says_so() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let listeners = c.listener_count();
    c.ensure_path("/gone/x", None).unwrap();
    let (calls, f) = children_recorder();
    let w = ChildrenWatch::start(&c, "/gone", Some(LONG), f).unwrap();
    let told = Rc::new(RefCell::new(None));
    let t = told.clone();
    w.ended()
        .rawlink(move |r| *t.borrow_mut() = Some(format!("{:?}", r.get_nowait())));
    c.delete_recursive("/gone").unwrap();
    wait(&c, "told of the deletion", || told.borrow().is_some());
    assert!(w.node_deleted());
    assert!(w.is_stopped());
    assert_eq!(told.borrow().as_deref(), Some("Ok(NodeDeleted)"));
    // The removal of the last child may or may not be seen before the deletion.
    assert!(calls.borrow().len() <= 2, "{:?}", lists(&calls));
    assert_eq!(c.watch_count(), 0);
    assert_eq!(c.listener_count(), listeners);
    // Re-created: the ended watch stays ended.
    c.ensure_path("/gone/y", None).unwrap();
    idle(&c, Duration::from_millis(300));
    assert!(calls.borrow().len() <= 2);
}

#[test]
fn flow_stop_and_stop_inside_the_callback() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let listeners = c.listener_count();
    c.ensure_path("/st", None).unwrap();
    let n = Rc::new(RefCell::new(0));
    let n2 = n.clone();
    let a = ChildrenWatch::start(&c, "/st", Some(LONG), move |_, _| {
        *n2.borrow_mut() += 1;
        if *n2.borrow() == 2 {
            Flow::Stop
        } else {
            Flow::Continue
        }
    })
    .unwrap();
    let slot: Rc<RefCell<Option<ChildrenWatch>>> = Rc::default();
    let (sl, cl) = (slot.clone(), c.clone());
    let m = Rc::new(RefCell::new(0));
    let m2 = m.clone();
    let b = ChildrenWatch::start(&c, "/st", Some(LONG), move |ch, _| {
        *m2.borrow_mut() += 1;
        if !ch.is_empty() {
            // A blocking call and stop() from inside.
            assert!(cl.exists("/st", None).unwrap().is_some());
            sl.borrow().as_ref().unwrap().stop();
        }
        Flow::Continue
    })
    .unwrap();
    *slot.borrow_mut() = Some(b.clone());
    assert_eq!(c.watch_count(), 2, "two watches, one watcher each");
    c.create("/st/1", b"", CreateMode::Persistent).unwrap();
    wait(&c, "both stopped", || a.is_stopped() && b.is_stopped());
    wait(&c, "the watchers removed", || c.watch_count() == 0);
    c.create("/st/2", b"", CreateMode::Persistent).unwrap();
    idle(&c, Duration::from_millis(300));
    assert_eq!((*n.borrow(), *m.borrow()), (2, 2));
    assert_eq!(c.listener_count(), listeners);
    slot.borrow_mut().take();
}

#[test]
fn driven_by_poll_once_alone() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let made = c.create_async("/pc", b"", CreateOptions::default());
    poll_until(&c, "created", || made.ready());
    let (calls, f) = children_recorder();
    let w = ChildrenWatch::start_async(&c, "/pc", f).unwrap();
    poll_until(&c, "the first call", || calls.borrow().len() == 1);
    let child = c.create_async("/pc/k", b"", CreateOptions::default());
    poll_until(&c, "a child", || child.ready() && calls.borrow().len() == 2);
    let gone = c.delete_async("/pc/k", None);
    poll_until(&c, "gone", || gone.ready() && calls.borrow().len() == 3);
    let gone = c.delete_async("/pc", None);
    poll_until(&c, "deleted", || gone.ready() && w.node_deleted());
    assert_eq!(lists(&calls), ["", "k", ""]);
    poll_until(&c, "nothing left", || c.watch_count() == 0);
}

#[test]
fn embedded_in_a_host_poll_and_the_blocking_start_is_refused() {
    let zk = ZkServer::start().unwrap();
    let (mut host, c) = embedded(&zk);
    let made = c.create_async("/ec", b"", CreateOptions::default());
    host.run_until("created", || made.ready());
    let err = ChildrenWatch::start(&c, "/ec", Some(LONG), |_, _| Flow::Continue).unwrap_err();
    assert_embedded_refusal(err, "ChildrenWatch::start");
    assert_eq!(c.watch_count(), 0, "a refused start started nothing");
    let (calls, f) = children_recorder();
    let w = ChildrenWatch::start_async(&c, "/ec", f).unwrap();
    host.run_until("the first call", || calls.borrow().len() == 1);
    let child = c.create_async("/ec/z", b"", CreateOptions::default());
    host.run_until("a child", || child.ready() && calls.borrow().len() == 2);
    assert_eq!(lists(&calls), ["", "z"]);
    w.stop();
    host.run_until("the watcher removed", || c.watch_count() == 0);
}
