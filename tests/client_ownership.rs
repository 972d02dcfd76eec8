//! Who keeps a session open: the user's `Client` handles only. Dropping the last one closes
//! the session promptly, whatever the library has in flight internally, and every pending
//! result completes; a watcher or listener that captures a `WeakClient` keeps nothing
//! alive, one that captures a `Client` clone does (until it is dropped). Also: the clients
//! of a thread share its default loop, so any wait on the thread drives them all; and
//! `client.stop()` after `handler.stop()` closes the session and returns `Ok`.
//!
//! Every test has a server of its own; waits are on conditions with generous deadlines.

use mio_zookeeper::{
    AsyncResult, Client, ClientState, CreateMode, CreateOptions, Error, EventType, Handler,
    MioHandler, NullData, WatchedEvent, Watcher, WatcherType, WhenOffline,
};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio_zookeeper::testing::{Proxy, ZkServer};

/// The longest any wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(30);

/// The victims' session timeout: the longest the harness's servers grant. A session that is
/// not closed keeps its ephemerals this long.
const T: Duration = Duration::from_secs(10);

/// "Promptly": a closed session's ephemeral must be gone well before `T`.
const PROMPTLY: Duration = Duration::from_secs(5);

fn server() -> ZkServer {
    ZkServer::start().expect("start a ZooKeeper server (scripts/install-zookeeper)")
}

/// A started client on `handler`.
fn client_on(hosts: &str, handler: &MioHandler, timeout: Duration) -> Client {
    let c = Client::builder(hosts)
        .session_timeout(timeout)
        .request_timeout(Some(WAIT))
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(200))
        .handler(handler.clone())
        .build()
        .expect("build a client");
    c.start(Some(WAIT)).expect("connect to the server");
    c
}

fn ephemeral(c: &Client, path: &str) {
    c.create(path, b"", CreateOptions::mode(CreateMode::Ephemeral))
        .expect("create the ephemeral");
}

/// Arms a watch on `path` (which exists) with `observer`; the flag is set when it is
/// deleted.
fn watch_deleted(observer: &Client, path: &str) -> Rc<Cell<bool>> {
    let deleted = Rc::new(Cell::new(false));
    let d = deleted.clone();
    let stat = observer
        .exists(
            path,
            Watcher::new(move |e: WatchedEvent| {
                if e.event_type == EventType::NodeDeleted {
                    d.set(true);
                }
            }),
        )
        .expect("watch the ephemeral");
    assert!(stat.is_some(), "{path} exists before the drop");
    deleted
}

/// Runs `observer`'s loop until `deleted`; fails unless that took less than [`PROMPTLY`].
#[track_caller]
fn assert_deleted_promptly(
    observer: &Client,
    deleted: &Rc<Cell<bool>>,
    since: Instant,
    what: &str,
) {
    let res = observer
        .handler()
        .reactor()
        .run_until(&|| deleted.get(), Some(PROMPTLY));
    assert!(
        res.is_ok() && deleted.get(),
        "{what}: the dropped client's ephemeral still exists {:?} after the drop ({res:?}): \
         its session was not closed",
        since.elapsed()
    );
}

/// Drops the last handle of a client while `start_op` (which holds the client internally)
/// is in flight, with a `get` submitted before it, and checks that the session closes
/// promptly and both results complete.
///
/// The dropped client runs on a loop of its own that nothing drives while the observer
/// waits for the ephemeral to go: the closeSession must leave with the drop itself, not
/// whenever the internal operation happens to finish. The held results are then waited on
/// (which drives that loop).
fn closes_when_dropped_during(
    what: &str,
    prepare: impl Fn(&Client),
    start_op: impl Fn(&Client) -> AsyncResult<()>,
) {
    let zk = server();
    let hosts = zk.connect_string();
    let observer = client_on(&hosts, &MioHandler::new().expect("a loop"), T);
    prepare(&observer);
    let victim = client_on(&hosts, &MioHandler::new().expect("a loop"), T);
    ephemeral(&victim, "/owned");
    let deleted = watch_deleted(&observer, "/owned");

    let held = victim.get_async("/", None);
    let op = start_op(&victim);
    let dropped = Instant::now();
    drop(victim);

    // Completed by the drop itself, with "sent, outcome unknown".
    assert!(
        matches!(held.get_nowait(), Err(Error::ConnectionLoss)),
        "{what}: the held get after the drop: {:?}",
        held.get_nowait()
    );
    assert_deleted_promptly(&observer, &deleted, dropped, what);
    for (r, name) in [
        (&held.wait(Some(WAIT)), "the held get"),
        (&op.wait(Some(WAIT)), "the operation in flight"),
    ] {
        assert!(
            matches!(r, Ok(true)),
            "{what}: {name} never completed after the drop ({r:?})"
        );
    }
    // Its internal request failed with the drop; the operation (a task, or a completion
    // callback here) reports the failure once the loop has run.
    assert!(op.get_nowait().is_err(), "{what}: {:?}", op.get_nowait());
}

#[test]
fn dropping_the_client_during_a_makepath_create_closes_the_session() {
    closes_when_dropped_during(
        "create(makepath)",
        |_| {},
        |c| {
            let opts = CreateOptions {
                makepath: true,
                ..CreateOptions::default()
            };
            let r = c.create_async("/m/a/b/c", NullData, &opts);
            unit(c, r)
        },
    );
}

#[test]
fn dropping_the_client_during_ensure_path_closes_the_session() {
    closes_when_dropped_during(
        "ensure_path",
        |_| {},
        |c| c.ensure_path_async("/e/a/b/c", None),
    );
}

#[test]
fn dropping_the_client_during_a_transaction_closes_the_session() {
    closes_when_dropped_during(
        "transaction",
        |_| {},
        |c| {
            let r = c
                .transaction()
                .create("/t1", b"", CreateMode::Persistent)
                .create("/t2", b"", CreateMode::Persistent)
                .commit_async();
            unit(c, r)
        },
    );
}

#[test]
fn dropping_the_client_during_delete_recursive_closes_the_session() {
    closes_when_dropped_during(
        "delete_recursive",
        |o| {
            for p in ["/d/a/1", "/d/a/2", "/d/b/1"] {
                o.ensure_path(p, None).expect("make the tree");
            }
        },
        |c| c.delete_recursive_async("/d"),
    );
}

#[test]
fn dropping_the_client_during_get_ephemerals_closes_the_session() {
    closes_when_dropped_during(
        "get_ephemerals",
        |_| {},
        |c| {
            let r = c.get_ephemerals_async("/");
            unit(c, r)
        },
    );
}

#[test]
fn dropping_the_client_during_remove_watches_closes_the_session() {
    closes_when_dropped_during(
        "remove_watches",
        |o| {
            o.create("/w", b"", CreateMode::Persistent)
                .expect("create /w");
        },
        |c| {
            // Not a blocking call: it would run the loop and answer the held get.
            drop(c.get_async("/w", Watcher::new(|_| {})));
            c.remove_watches_async("/w", WatcherType::Any, WhenOffline::Wait)
        },
    );
}

#[test]
fn dropping_the_client_during_sync_closes_the_session() {
    closes_when_dropped_during(
        "sync",
        |_| {},
        |c| {
            let r = c.sync_async("/");
            unit(c, r)
        },
    );
}

/// `r` mapped to `()` (its value does not matter here, only that it completes).
fn unit<T: 'static>(c: &Client, r: AsyncResult<T>) -> AsyncResult<()> {
    let out = c.handler().async_result::<()>();
    let o = out.clone();
    r.rawlink(move |r| {
        let _ = o.set_result(r.take(false, None).map(|_| ()));
    });
    out
}

/// With no connection, the closeSession cannot be sent: dropping the last handle ends the
/// session at once and every pending result (also those of operations that hold the client
/// internally) fails, instead of waiting for the client-side expiry.
#[test]
fn dropping_a_disconnected_client_fails_its_pending_results_at_once() {
    let zk = server();
    let proxy = Proxy::start(zk.addr()).expect("a proxy");
    let handler = MioHandler::new().expect("a loop");
    let victim = client_on(&proxy.connect_string(), &handler, T);
    let states = Rc::new(RefCell::new(Vec::new()));
    let s = states.clone();
    victim.add_listener(move |st| s.borrow_mut().push(st));
    proxy.set_refusing(true);
    proxy.drop_connections();
    handler
        .reactor()
        .run_until(
            &|| states.borrow().contains(&ClientState::Suspended),
            Some(WAIT),
        )
        .expect("the client sees the connection drop");

    let held = victim.get_async("/", None);
    let op = victim.sync_async("/");
    let dropped = Instant::now();
    drop(victim);
    handler
        .reactor()
        .run_until(&|| held.ready() && op.ready(), Some(PROMPTLY))
        .unwrap_or_else(|e| {
            panic!(
                "results held after the drop still pending {:?} later ({e})",
                dropped.elapsed()
            )
        });
    assert!(
        matches!(held.get_nowait(), Err(Error::ConnectionClosed)),
        "{:?}",
        held.get_nowait()
    );
    assert!(op.get_nowait().is_err());
}

/// A watcher and a listener that capture a `WeakClient` do not keep the session open, and
/// the weak handle no longer upgrades once the client is gone.
#[test]
fn a_watcher_capturing_a_weak_client_does_not_keep_the_session_alive() {
    let zk = server();
    let hosts = zk.connect_string();
    let handler = MioHandler::new().expect("a loop");
    let observer = client_on(&hosts, &handler, T);
    let victim = client_on(&hosts, &handler, T);
    ephemeral(&victim, "/weak");
    let deleted = watch_deleted(&observer, "/weak");

    let weak = victim.downgrade();
    let w = weak.clone();
    victim
        .get(
            "/weak",
            Watcher::new(move |_| {
                if let Some(zk) = w.upgrade() {
                    drop(zk.get_async("/weak", Watcher::new(|_| {})));
                }
            }),
        )
        .expect("watch with a weak handle");
    let w = weak.clone();
    victim.add_listener(move |_| {
        let _ = w.upgrade().map(|zk| zk.state());
    });
    assert!(weak.upgrade().is_some(), "upgrades while the client lives");

    let dropped = Instant::now();
    drop(victim);
    assert_deleted_promptly(&observer, &deleted, dropped, "weak watcher");
    assert!(
        weak.upgrade().is_none(),
        "upgrades after the client is gone"
    );
}

/// A watcher that captures a `Client` clone is a user handle stored in the client: a
/// cycle, so dropping the program's handle does not close the session (the documented rule:
/// capture a `WeakClient`). The cycle lasts as long as the watcher: once the one-shot watch
/// fired and its closure is dropped, so is the last handle, and the session closes.
#[test]
fn a_watcher_capturing_a_client_clone_keeps_the_session_until_it_is_dropped() {
    let zk = server();
    let hosts = zk.connect_string();
    let handler = MioHandler::new().expect("a loop");
    let observer = client_on(&hosts, &handler, T);
    let victim = client_on(&hosts, &handler, T);
    ephemeral(&victim, "/strong");
    observer
        .create("/trigger", b"", CreateMode::Persistent)
        .expect("create /trigger");
    let deleted = watch_deleted(&observer, "/strong");

    let fired = Rc::new(Cell::new(false));
    let (f, captured) = (fired.clone(), victim.clone());
    victim
        .get(
            "/trigger",
            Watcher::new(move |_| {
                let _ = captured.state();
                f.set(true);
            }),
        )
        .expect("watch with a strong handle");
    let weak = victim.downgrade();
    drop(victim);

    // Long enough for a close to be seen (it takes milliseconds), well short of T.
    handler.sleep(Duration::from_secs(2)).expect("run the loop");
    assert!(!deleted.get(), "the captured clone keeps the session open");
    assert!(weak.upgrade().is_some());

    let since = Instant::now();
    observer
        .set("/trigger", b"go", None)
        .expect("fire the watch");
    handler
        .reactor()
        .run_until(&|| fired.get(), Some(WAIT))
        .expect("the watch fires");
    assert_deleted_promptly(&observer, &deleted, since, "strong watcher, after it ran");
    assert!(weak.upgrade().is_none());
}

/// Two clients built without a handler share the thread's default loop: an 8 s sleep on
/// one (T = 4 s) keeps the other's session alive (same session id, its ephemeral still
/// there).
#[test]
fn clients_of_a_thread_share_its_default_loop() {
    let zk = server();
    let hosts = zk.connect_string();
    let build = || {
        let c = Client::builder(&hosts)
            .session_timeout(Duration::from_secs(4))
            .request_timeout(Some(WAIT))
            .build()
            .expect("build a client");
        c.start(Some(WAIT)).expect("connect");
        c
    };
    let a = build();
    let b = build();
    assert!(a.handler().reactor().ptr_eq(b.handler().reactor()));
    ephemeral(&b, "/b-lives");
    let id = b.client_id().expect("a session").0;

    a.handler()
        .sleep(Duration::from_secs(8))
        .expect("sleep on a");

    assert!(
        b.connected(),
        "b is still connected: {:?}",
        b.session_state()
    );
    assert_eq!(
        b.client_id().map(|(i, _)| i),
        Some(id),
        "b kept its session"
    );
    assert!(
        a.exists("/b-lives", None).expect("exists").is_some(),
        "b's ephemeral survived the sleep"
    );
}

/// `MioHandler::new` still gives an isolated loop; `Client::new` and `build()` use the
/// thread's default, which is per thread.
#[test]
fn an_explicit_handler_gives_an_isolated_loop() {
    let a = Client::new("127.0.0.1:2181").expect("a client");
    let b = Client::new("127.0.0.1:2181").expect("a client");
    let current = MioHandler::current().expect("the default loop");
    assert!(a.handler().reactor().ptr_eq(current.reactor()));
    assert!(b.handler().reactor().ptr_eq(current.reactor()));
    let isolated = MioHandler::new().expect("a loop");
    let c = Client::builder("127.0.0.1:2181")
        .handler(isolated.clone())
        .build()
        .expect("a client");
    assert!(c.handler().reactor().ptr_eq(isolated.reactor()));
    assert!(!c.handler().reactor().ptr_eq(current.reactor()));
    let elsewhere = std::thread::spawn(|| {
        let h = MioHandler::current().expect("the default loop");
        let c = Client::new("127.0.0.1:2181").expect("a client");
        c.handler().reactor().ptr_eq(h.reactor())
    })
    .join()
    .expect("the thread");
    assert!(elsewhere);
}

/// kazoo's own shutdown order, handler first, then client: `stop` returns `Ok` and the
/// session is really closed (another client sees its ephemeral go at once).
#[test]
fn stop_after_the_handler_was_stopped_closes_the_session() {
    let zk = server();
    let hosts = zk.connect_string();
    let observer = client_on(&hosts, &MioHandler::new().expect("a loop"), T);
    let handler = MioHandler::new().expect("a loop");
    let victim = client_on(&hosts, &handler, T);
    ephemeral(&victim, "/stopped");
    let deleted = watch_deleted(&observer, "/stopped");

    handler.stop().expect("stop the handler");
    let since = Instant::now();
    victim.stop().expect("stop the client after its handler");
    assert_eq!(victim.state(), ClientState::Lost);
    assert_deleted_promptly(&observer, &deleted, since, "stop after handler.stop");
}
