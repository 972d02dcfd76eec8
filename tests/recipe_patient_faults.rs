//! PatientChildrenWatch across faults, against real servers: connection cuts (chaos proxy)
//! while the children change, before and after it settled; a server restart in both
//! phases; a 3-node ensemble losing the server the client is on. (Session expiry is in
//! `recipe_watch_faults.rs`.)
//!
//! The client's loop only runs inside this test's calls (a blocking harness call such as
//! `ZkServer::stop` does not run it), and the proxy's refusal keeps the client away while
//! a second client (on the server directly) changes the children: so each test decides
//! whether a change is made before the watched client is back.

#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::time::{Duration, Instant};

use mio_zookeeper::recipe::{PatientChildrenWatch, Settled};
use mio_zookeeper::testing::{Proxy, ZkEnsemble, ZkServer};
use mio_zookeeper::{AsyncResult, Client, ClientState, CreateMode, EventType};
use recipe_support::*;

/// The time boundary of these tests: long enough for a cut and a few writes in it.
const BOUNDARY: Duration = Duration::from_millis(1500);
/// How much earlier than the boundary the loop's timer may be seen to fire.
const SLACK: Duration = Duration::from_millis(50);

/// The boundary of the restart test: longer than a server's stop takes, during which
/// the client's loop does not run.
const RESTART_BOUNDARY: Duration = Duration::from_secs(4);

/// A server, a proxy to it, a client through the proxy (the watched one) and one on the
/// server directly (the writer).
fn proxied() -> (ZkServer, Proxy, Client, Client) {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client(&proxy.connect_string());
    let other = client(&zk.connect_string());
    (zk, proxy, c, other)
}

/// A watch on `path` started on `c`, its first read done (its watcher registered).
fn start_watch(
    c: &Client,
    path: &str,
    boundary: Duration,
) -> (PatientChildrenWatch, AsyncResult<Settled>) {
    let w = PatientChildrenWatch::new(c, path, boundary).unwrap();
    let result = w.start_async();
    wait(c, "the first read", || c.watch_count() == 1);
    (w, result)
}

/// Cuts `c` from the server behind `proxy` (new connections refused) and waits until
/// `c` knows it.
fn cut(c: &Client, proxy: &Proxy) {
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait(c, "suspended", || c.state() == ClientState::Suspended);
}

/// Lets `c` back through `proxy`, and returns when it is connected again.
fn back(c: &Client, proxy: &Proxy) -> Instant {
    proxy.set_refusing(false);
    wait(c, "back", || c.state() == ClientState::Connected);
    Instant::now()
}

/// Waits for `result` and checks it settled on `children`, not before the boundary after
/// `since` (the last change the watch could see).
fn assert_settles(
    c: &Client,
    result: &AsyncResult<Settled>,
    since: Instant,
    boundary: Duration,
    children: &[&str],
) {
    wait(c, "settled", || result.ready());
    let took = since.elapsed();
    assert!(
        took + SLACK >= boundary,
        "settled {took:?} after the last change it saw"
    );
    assert_eq!(result.get_nowait().unwrap().children, children);
}

/// Checks `next_change` did not fire with nothing changed (the client is back and
/// re-watching before the check), then that a deliberate change by
/// `other` fires it once, and the watch is over with nothing left registered.
fn assert_fires_only_on_change(c: &Client, other: &Client, settled: &Settled, made: &str) {
    wait(c, "re-watched", || c.watch_count() == 1);
    idle(c, Duration::from_millis(300));
    assert!(
        !settled.next_change.ready(),
        "fired with the children unchanged: {:?}",
        settled.next_change.get_nowait()
    );
    other.create(made, b"", CreateMode::Persistent).unwrap();
    assert_next_change(c, settled);
}

/// `next_change` fires with a `NodeChildrenChanged` event, and the watch is over.
fn assert_next_change(c: &Client, settled: &Settled) {
    wait(c, "the next change", || settled.next_change.ready());
    let ev = settled.next_change.get_nowait().unwrap();
    assert_eq!(ev.event_type, EventType::NodeChildrenChanged);
    wait(c, "the watcher removed", || c.watch_count() == 0);
}

#[test]
fn a_cut_while_the_children_change_settles_on_the_final_children_once_back() {
    let (_zk, proxy, c, other) = proxied();
    let listeners = c.listener_count();
    other.ensure_path("/p/a", None).unwrap();
    let (w, result) = start_watch(&c, "/p", BOUNDARY);

    // A short cut (well under the boundary) with a change in it: the wait restarts once
    // the client is back and sees it.
    cut(&c, &proxy);
    other.create("/p/b", b"", CreateMode::Persistent).unwrap();
    let since = back(&c, &proxy);
    idle(&c, BOUNDARY / 2);
    assert!(!result.ready(), "settled while a change was still fresh");

    // A cut longer than the boundary with changes in it: no settling while away (the
    // children it knows are stale), and the wait restarts once back.
    cut(&c, &proxy);
    other.create("/p/c", b"", CreateMode::Persistent).unwrap();
    other.delete("/p/a", None).unwrap();
    idle(&c, BOUNDARY * 2);
    assert!(
        !result.ready(),
        "settled while disconnected, on {:?}",
        result.get_nowait().map(|s| s.children)
    );
    let since = since.max(back(&c, &proxy));
    assert_settles(&c, &result, since, BOUNDARY, &["b", "c"]);
    assert_eq!(c.watch_count(), 1);
    w.stop();
    wait(&c, "the watcher removed", || c.watch_count() == 0);
    assert_eq!(c.listener_count(), listeners);
}

#[test]
fn a_long_cut_with_nothing_changed_settles_once_back_on_the_same_children() {
    let (_zk, proxy, c, other) = proxied();
    other.ensure_path("/q/a", None).unwrap();
    let (_w, result) = start_watch(&c, "/q", BOUNDARY);
    let began = Instant::now();
    cut(&c, &proxy);
    idle(&c, BOUNDARY * 2);
    assert!(!result.ready(), "settled while disconnected");
    back(&c, &proxy);
    // The boundary passed already: the read after the reconnect finds nothing changed.
    wait(&c, "settled", || result.ready());
    assert!(began.elapsed() >= BOUNDARY);
    let settled = result.get_nowait().unwrap();
    assert_eq!(settled.children, ["a"]);
    assert_fires_only_on_change(&c, &other, &settled, "/q/z");
}

#[test]
fn a_cut_after_settling_fires_next_change_once_back_only_if_the_children_changed() {
    let (_zk, proxy, c, other) = proxied();
    let listeners = c.listener_count();
    other.ensure_path("/s/a", None).unwrap();
    let (w, result) = start_watch(&c, "/s", BOUNDARY);
    wait(&c, "settled", || result.ready());
    let settled = result.get_nowait().unwrap();

    // Cuts with nothing changed (short ones, and one longer than the boundary): no fire.
    for _ in 0..3 {
        proxy.drop_connections();
        wait(&c, "suspended", || c.state() == ClientState::Suspended);
        wait(&c, "back", || c.state() == ClientState::Connected);
    }
    cut(&c, &proxy);
    idle(&c, BOUNDARY + BOUNDARY / 2);
    back(&c, &proxy);
    wait(&c, "re-watched", || c.watch_count() == 1);
    idle(&c, Duration::from_millis(300));
    assert!(!settled.next_change.ready(), "fired with nothing changed");
    assert!(!w.is_stopped());

    // A cut with a change in it: fired once back, not before.
    cut(&c, &proxy);
    other.create("/s/b", b"", CreateMode::Persistent).unwrap();
    idle(&c, Duration::from_millis(300));
    assert!(!settled.next_change.ready(), "fired while disconnected");
    back(&c, &proxy);
    assert_next_change(&c, &settled);
    assert!(w.is_stopped(), "over after the next change");
    assert_eq!(c.listener_count(), listeners);
    // Later changes change nothing.
    other.create("/s/c", b"", CreateMode::Persistent).unwrap();
    idle(&c, Duration::from_millis(300));
    assert_eq!(c.watch_count(), 0);
}

#[test]
fn a_server_restart_before_and_after_settling() {
    let mut zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client(&proxy.connect_string());
    c.ensure_path("/r/a", None).unwrap();

    // Before it settled: restarted, and a change made before the client is back (the
    // proxy refuses it until then). It settles on the final children, once back.
    let (_w, result) = start_watch(&c, "/r", RESTART_BOUNDARY);
    zk.stop().unwrap();
    wait(&c, "suspended", || c.state() != ClientState::Connected);
    proxy.set_refusing(true);
    zk.start_again().unwrap();
    let other = client(&zk.connect_string());
    other.create("/r/b", b"", CreateMode::Persistent).unwrap();
    idle(&c, RESTART_BOUNDARY);
    assert!(!result.ready(), "settled while the server was away");
    let since = back(&c, &proxy);
    assert_settles(&c, &result, since, RESTART_BOUNDARY, &["a", "b"]);
    let settled = result.get_nowait().unwrap();

    // After it settled: a restart with nothing changed does not fire `next_change`...
    zk.restart().unwrap();
    wait(&c, "back", || c.state() == ClientState::Connected);
    wait(&c, "other back", || other.state() == ClientState::Connected);
    wait(&c, "re-watched", || c.watch_count() == 1);
    idle(&c, Duration::from_millis(300));
    assert!(!settled.next_change.ready(), "fired with nothing changed");

    // ...and a restart with a change made before the client is back fires it, once back.
    zk.stop().unwrap();
    wait(&c, "suspended", || c.state() != ClientState::Connected);
    proxy.set_refusing(true);
    zk.start_again().unwrap();
    wait(&other, "other back", || {
        other.state() == ClientState::Connected
    });
    other.delete("/r/a", None).unwrap();
    idle(&c, Duration::from_millis(300));
    assert!(!settled.next_change.ready(), "fired while away");
    back(&c, &proxy);
    assert_next_change(&c, &settled);
}

/// The index in `ens` of the member `c` is connected to.
fn member_of(ens: &ZkEnsemble, c: &Client) -> usize {
    let on = c.current_server().unwrap();
    ens.servers()
        .iter()
        .position(|s| s.connect_string() == on)
        .unwrap()
}

/// Runs `op` through `other` until it succeeds (the quorum may be electing a leader).
fn retried(other: &Client, what: &str, op: impl Fn() -> Result<(), mio_zookeeper::Error>) {
    let deadline = Instant::now() + LONG;
    while let Err(e) = op() {
        assert!(
            Instant::now() < deadline,
            "{what}: the survivors never served: {e}"
        );
        idle(other, Duration::from_millis(100));
    }
}

#[test]
fn an_ensemble_losing_the_clients_server_still_settles_and_fires() {
    let mut ens = ZkEnsemble::start(3).unwrap();
    let c = client(&ens.connect_string());
    c.ensure_path("/en/a", None).unwrap();

    // Before it settled: the client's server stops; it settles on the children, on
    // another member, and its watch is there.
    let (_w, result) = start_watch(&c, "/en", BOUNDARY);
    let first = member_of(&ens, &c);
    ens.stop(first).unwrap();
    assert!(!result.ready(), "the loop did not run: not settled yet");
    wait(&c, "settled", || result.ready());
    let settled = result.get_nowait().unwrap();
    assert_eq!(settled.children, ["a"]);
    wait(&c, "on another member", || c.connected());
    let second = member_of(&ens, &c);
    assert_ne!(second, first);
    assert_eq!(c.watch_count(), 1);

    // After it settled: its server stops again (the first is back for the quorum), and a
    // change made through the survivor fires `next_change`.
    ens.start_again(first).unwrap();
    let survivor = (0..3).find(|&i| i != first && i != second).unwrap();
    let other = client(&ens.server(survivor).unwrap().connect_string());
    ens.stop(second).unwrap();
    retried(&other, "a change", || {
        other.create("/en/b", b"", CreateMode::Persistent).map(drop)
    });
    assert_next_change(&c, &settled);
    assert_ne!(c.current_server(), None);
}
