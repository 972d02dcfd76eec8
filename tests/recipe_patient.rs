//! PatientChildrenWatch against a real server: it settles only once the children stayed
//! unchanged for the time boundary, gives the next change, fails on a missing node, stops
//! cleanly, and runs on the loop's timers in the three driving modes.

#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::time::{Duration, Instant};

use mio_zookeeper::recipe::PatientChildrenWatch;
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{CreateMode, CreateOptions, Error, EventType};
use recipe_support::*;

const BOUNDARY: Duration = Duration::from_millis(400);
/// The boundary of the test that changes the children under it (a margin for a slow machine).
const SLOW_BOUNDARY: Duration = Duration::from_millis(1200);

#[test]
fn settles_only_after_the_children_stayed_unchanged_then_gives_the_next_change() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let listeners = c.listener_count();
    c.ensure_path("/party", None).unwrap();
    let w = PatientChildrenWatch::new(&c, "/party", SLOW_BOUNDARY).unwrap();
    let result = w.start_async();
    // Changes every 150 ms (well under the boundary) keep it from settling.
    let began = Instant::now();
    for i in 0..5 {
        c.create(&format!("/party/m{i}"), b"", CreateMode::Persistent)
            .unwrap();
        idle(&c, Duration::from_millis(150));
        assert!(!result.ready(), "settled while the children still changed");
    }
    let last_change = Instant::now();
    wait(&c, "settled", || result.ready());
    assert!(last_change.elapsed() >= SLOW_BOUNDARY - Duration::from_millis(160));
    assert!(
        began.elapsed() >= Duration::from_millis(750) + SLOW_BOUNDARY - Duration::from_millis(160)
    );
    let settled = result.get_nowait().unwrap();
    assert_eq!(settled.children, ["m0", "m1", "m2", "m3", "m4"]);
    assert!(!settled.next_change.ready());
    assert_eq!(c.watch_count(), 1);
    c.delete("/party/m2", None).unwrap();
    wait(&c, "the next change", || settled.next_change.ready());
    let ev = settled.next_change.get_nowait().unwrap();
    assert_eq!(ev.event_type, EventType::NodeChildrenChanged);
    assert_eq!(ev.path.as_deref(), Some("/party"));
    assert!(w.is_stopped(), "over after the next change");
    assert_eq!(c.watch_count(), 0);
    assert_eq!(c.listener_count(), listeners);
}

#[test]
fn blocking_start_returns_the_settled_children() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    c.ensure_path("/b/x", None).unwrap();
    let w = PatientChildrenWatch::new(&c, "/b", BOUNDARY).unwrap();
    assert_eq!(w.time_boundary(), BOUNDARY);
    let settled = w.start(Some(LONG)).unwrap();
    assert_eq!(settled.children, ["x"]);
    // start again: the same result.
    assert_eq!(w.start_async().get_nowait().unwrap().children, ["x"]);
    w.stop();
    assert!(matches!(
        settled.next_change.get_nowait(),
        Err(Error::ConnectionClosed)
    ));
    wait(&c, "the watcher removed", || c.watch_count() == 0);
}

#[test]
fn a_missing_node_fails_the_result() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let listeners = c.listener_count();
    let w = PatientChildrenWatch::new(&c, "/none", BOUNDARY).unwrap();
    let err = w.start(Some(LONG)).unwrap_err();
    assert!(err.is_no_node(), "{err:?}");
    assert!(w.is_stopped());
    assert_eq!(c.listener_count(), listeners);
    assert_eq!(c.watch_count(), 0);
    let err = PatientChildrenWatch::new(&c, "bad", BOUNDARY).unwrap_err();
    assert!(matches!(err, Error::InvalidPath { .. }));
}

#[test]
fn stop_before_settling_fails_the_result_and_removes_everything() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let listeners = c.listener_count();
    c.ensure_path("/s", None).unwrap();
    let w = PatientChildrenWatch::new(&c, "/s", Duration::from_secs(60)).unwrap();
    let result = w.start_async();
    wait(&c, "the watch registered", || c.watch_count() == 1);
    w.stop();
    w.stop();
    assert!(matches!(result.get_nowait(), Err(Error::ConnectionClosed)));
    wait(&c, "the watcher removed", || c.watch_count() == 0);
    assert_eq!(c.listener_count(), listeners);
    assert_eq!(c.pending_requests(), 0);
}

#[test]
fn driven_by_poll_once_alone() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let made = c.create_async("/pp", b"", CreateOptions::default());
    poll_until(&c, "created", || made.ready());
    let w = PatientChildrenWatch::new(&c, "/pp", BOUNDARY).unwrap();
    let result = w.start_async();
    let child = c.create_async("/pp/a", b"", CreateOptions::default());
    poll_until(&c, "settled", || child.ready() && result.ready());
    let settled = result.get_nowait().unwrap();
    assert_eq!(settled.children, ["a"]);
    let child = c.create_async("/pp/b", b"", CreateOptions::default());
    poll_until(&c, "next", || child.ready() && settled.next_change.ready());
    poll_until(&c, "nothing left", || c.watch_count() == 0);
}

#[test]
fn embedded_in_a_host_poll_and_the_blocking_start_is_refused() {
    let zk = ZkServer::start().unwrap();
    let (mut host, c) = embedded(&zk);
    let made = c.create_async("/pe", b"", CreateOptions::default());
    host.run_until("created", || made.ready());
    let w = PatientChildrenWatch::new(&c, "/pe", BOUNDARY).unwrap();
    let err = w.start(Some(LONG)).unwrap_err();
    assert_embedded_refusal(err, "PatientChildrenWatch::start");
    assert_eq!(c.watch_count(), 0, "a refused start started nothing");
    let result = w.start_async();
    host.run_until("settled", || result.ready());
    assert!(result.get_nowait().unwrap().children.is_empty());
    w.stop();
    host.run_until("the watcher removed", || c.watch_count() == 0);
}
