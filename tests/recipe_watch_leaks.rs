//! Stopping a watch removes everything it registered: 1 000 start/stop cycles of each
//! watch recipe (stopped once running, and stopped while its first read is in flight)
//! leave the client's watchers, listeners and pending requests as they were, and the
//! server's watches too.

#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::time::Duration;

use mio_zookeeper::recipe::{ChildrenWatch, DataWatch, Flow, PatientChildrenWatch};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::Client;
use recipe_support::*;

const CYCLES: usize = 1000;

/// The server's count of this session's watches (`wchs`: "Total watches:N").
fn server_watches(zk: &ZkServer) -> usize {
    let out = zk.four_letter("wchs").unwrap();
    out.lines()
        .find_map(|l| l.strip_prefix("Total watches:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("wchs said: {out}"))
}

/// What a stopped watch must leave as it found: (watchers, listeners).
fn counts(c: &Client) -> (usize, usize) {
    (c.watch_count(), c.listener_count())
}

/// Runs `cycle` CYCLES times, then checks that the client and the server are back where
/// they were once the removals are answered.
fn cycles(zk: &ZkServer, c: &Client, what: &str, cycle: impl Fn(usize)) {
    let before = counts(c);
    for i in 0..CYCLES {
        cycle(i);
    }
    wait(c, &format!("{what}: settled"), || c.pending_requests() == 0);
    assert_eq!(
        counts(c),
        before,
        "{what}: watchers and listeners left behind"
    );
    let deadline = std::time::Instant::now() + LONG;
    while server_watches(zk) != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: the server still holds {} watches",
            server_watches(zk)
        );
        idle(c, Duration::from_millis(50));
    }
}

#[test]
fn data_watch_start_stop_cycles_leave_nothing_behind() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    c.ensure_path("/leak/d", None).unwrap();
    // On an existing node (a data watch) and on a missing one (an exist watch).
    for path in ["/leak/d", "/leak/missing"] {
        cycles(&zk, &c, &format!("running, {path}"), |_| {
            let w = DataWatch::start(&c, path, Some(LONG), |_, _| Flow::Continue).unwrap();
            assert_eq!(c.watch_count(), 1);
            w.stop();
        });
        cycles(&zk, &c, &format!("in flight, {path}"), |_| {
            DataWatch::start_async(&c, path, |_, _| Flow::Continue)
                .unwrap()
                .stop();
        });
    }
    // Stopped in flight, many at once, then settled.
    cycles(&zk, &c, "a crowd in flight", |i| {
        let w = DataWatch::start_async(&c, "/leak/d", |_, _| Flow::Continue).unwrap();
        if i % 10 == 9 {
            c.poll_once(Some(Duration::ZERO)).unwrap();
        }
        w.stop();
    });
}

#[test]
fn children_watch_start_stop_cycles_leave_nothing_behind() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    c.ensure_path("/leak/c/x", None).unwrap();
    cycles(&zk, &c, "running", |_| {
        let w = ChildrenWatch::start(&c, "/leak/c", Some(LONG), |_, _| Flow::Continue).unwrap();
        assert_eq!(c.watch_count(), 1);
        w.stop();
    });
    cycles(&zk, &c, "in flight", |_| {
        ChildrenWatch::start_async(&c, "/leak/c", |_, _| Flow::Continue)
            .unwrap()
            .stop();
    });
}

#[test]
fn patient_watch_start_stop_cycles_leave_nothing_behind() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    c.ensure_path("/leak/p/x", None).unwrap();
    cycles(&zk, &c, "in flight", |_| {
        let w = PatientChildrenWatch::new(&c, "/leak/p", Duration::from_millis(1)).unwrap();
        let result = w.start_async();
        w.stop();
        assert!(result.get_nowait().is_err(), "stopped before it settled");
    });
    cycles(&zk, &c, "settled", |_| {
        let w = PatientChildrenWatch::new(&c, "/leak/p", Duration::from_millis(1)).unwrap();
        w.start(Some(LONG)).unwrap();
        w.stop();
    });
}
