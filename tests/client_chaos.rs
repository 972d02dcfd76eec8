//! Fault tests against a real server through the chaos proxy (`testing::Proxy`): thousands
//! of pipelined requests through seeded random cuts (some in the middle of a frame),
//! one-shot and persistent watches through cuts, and a frozen server past the session
//! timeout.
//!
//! The fault *sequences* are seeded (the seed is in every failure message); when a fault
//! lands relative to the traffic depends on the scheduler, so the assertions are invariants
//! that hold whatever the timing. Every wait has a generous deadline; nothing sleeps and
//! then asserts.

use mio_zookeeper::{
    AddWatchMode, Client, ClientState, CreateMode, Error, EventType, KeeperState, NullData,
    WatchedEvent, Watcher, ZkError,
};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio_zookeeper::testing::{Direction, Proxy, RandomCuts, SeededRng, ZkServer};

/// The longest any single wait may take before the test fails.
const LONG: Duration = Duration::from_secs(40);

/// The seed of a test: `default`, or `MIO_ZK_CHAOS_SEED` (decimal or 0x-hex) to replay or
/// explore other fault sequences.
fn seed(default: u64) -> u64 {
    let Ok(v) = std::env::var("MIO_ZK_CHAOS_SEED") else {
        return default;
    };
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.unwrap_or_else(|e| panic!("MIO_ZK_CHAOS_SEED={v:?}: {e}"))
}

/// A started client on `hosts` with session timeout `timeout` and a short reconnect backoff.
fn start_client(hosts: &str, timeout: Duration) -> Client {
    let c = Client::builder(hosts)
        .session_timeout(timeout)
        .connection_backoff(Duration::from_millis(10), Duration::from_millis(100))
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    c
}

/// Runs `c`'s loop until `cond` holds (at most [`LONG`]).
fn wait_for(c: &Client, what: &str, cond: impl Fn() -> bool) {
    c.handler()
        .reactor()
        .run_until(&cond, Some(LONG))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
}

/// Retries `f` while it fails with a connection error (the cuts make those).
fn retry<T>(c: &Client, what: &str, f: impl Fn() -> Result<T, Error>) -> T {
    let end = Instant::now() + LONG;
    loop {
        match f() {
            Ok(v) => return v,
            Err(Error::ConnectionLoss | Error::ConnectionClosed | Error::Timeout)
                if Instant::now() < end =>
            {
                // Let the client reconnect before the next try.
                let _ = c.handler().run_for(Duration::from_millis(10));
            }
            Err(e) => panic!("{what}: {e:?}"),
        }
    }
}

// ---------------------------------------------------------------- pipelined requests

/// How a request ended, as its completion callback saw it.
#[derive(Debug, Clone)]
enum Done {
    Ok,
    Err(Error),
}

#[test]
fn pipelined_requests_through_random_cuts_complete_once_and_create_exactly_what_was_acked() {
    let seed = seed(0x5eed_0001);
    const CREATES: usize = 5000;
    const READS: usize = 5000;
    const WINDOW: usize = 400;
    let total = CREATES + READS;

    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let direct = start_client(&zk.connect_string(), Duration::from_secs(10));
    direct
        .create("/chaos", b"", CreateMode::Persistent)
        .unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let first_session = c.client_id();

    proxy
        .start_random_cuts(
            RandomCuts::new(seed)
                .every(Duration::from_millis(10), Duration::from_millis(100))
                .mid_frame(60, 16384),
        )
        .unwrap();

    // Request i < CREATES creates /chaos/n{i}; the others read a node that may exist.
    let completions: Rc<RefCell<Vec<u32>>> = Rc::new(RefCell::new(vec![0; total]));
    let outcomes: Rc<RefCell<Vec<Option<Done>>>> = Rc::new(RefCell::new(vec![None; total]));
    let in_flight = Rc::new(Cell::new(0usize));
    let done = Rc::new(Cell::new(0usize));
    let mut rng = SeededRng::new(seed);
    let mut order: Vec<usize> = (0..total).collect();
    for i in (1..total).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut next = 0;
    let started = Instant::now();
    while done.get() < total {
        assert!(
            started.elapsed() < LONG * 2,
            "seed {seed:#x}: only {} of {total} requests completed ({} in flight)",
            done.get(),
            in_flight.get()
        );
        while next < total && in_flight.get() < WINDOW {
            let i = order[next];
            next += 1;
            in_flight.set(in_flight.get() + 1);
            let (completions, outcomes, in_flight, done) = (
                completions.clone(),
                outcomes.clone(),
                in_flight.clone(),
                done.clone(),
            );
            let record = move |r: Result<(), Error>| {
                completions.borrow_mut()[i] += 1;
                if completions.borrow()[i] == 1 {
                    in_flight.set(in_flight.get() - 1);
                    done.set(done.get() + 1);
                }
                outcomes.borrow_mut()[i] = Some(match r {
                    Ok(()) => Done::Ok,
                    Err(e) => Done::Err(e),
                });
            };
            // Payloads of up to 2 kB, so that many frames span several reads and a cut
            // after a random byte count often lands inside one.
            let size = rng.below(2048) as usize;
            if i < CREATES {
                let data = bytes::Bytes::from(vec![b'x'; size]);
                c.create_async(&format!("/chaos/n{i:05}"), data, CreateMode::Persistent)
                    .rawlink(move |r| record(r.get_nowait().map(|_| ())));
            } else if size % 2 == 0 {
                let target = (i - CREATES) % CREATES;
                c.exists_async(&format!("/chaos/n{target:05}"), None)
                    .rawlink(move |r| record(r.get_nowait().map(|_| ())));
            } else {
                // Reads of nodes that may not exist yet: NoNode is an answer too.
                let target = (i - CREATES) % CREATES;
                c.get_async(&format!("/chaos/n{target:05}"), None)
                    .rawlink(move |r| {
                        record(match r.get_nowait() {
                            Err(Error::ZooKeeper(ZkError {
                                code: mio_zookeeper::ErrorCode::NoNode,
                                ..
                            })) => Ok(()),
                            other => other.map(|_| ()),
                        })
                    });
            }
        }
        c.poll_once(Some(Duration::from_millis(50))).unwrap();
    }
    proxy.stop_random_cuts();
    let cuts = proxy.cuts();
    // A second completion would come late: give it the chance.
    c.handler().run_for(Duration::from_millis(300)).unwrap();

    let completions = completions.borrow();
    let twice: Vec<usize> = (0..total).filter(|&i| completions[i] != 1).collect();
    assert!(
        twice.is_empty(),
        "seed {seed:#x}: requests not completed exactly once: {twice:?}"
    );
    assert_eq!(c.pending_requests(), 0, "nothing left pending");
    assert!(
        cuts >= 3,
        "seed {seed:#x}: only {cuts} cuts: the test did not test much"
    );

    // What the server has, read by a client that was never cut.
    let children: BTreeSet<String> = direct
        .get_children("/chaos", None)
        .unwrap()
        .into_iter()
        .collect();
    let outcomes = outcomes.borrow();
    let mut acked = 0;
    let mut unknown = 0;
    // "Not sent" (ConnectionClosed): such a create must not exist.
    let mut closed = 0;
    let mut reads_ok = 0;
    for (i, o) in outcomes.iter().enumerate() {
        let o = o.as_ref().expect("completed");
        if i >= CREATES {
            match o {
                Done::Ok => reads_ok += 1,
                Done::Err(Error::ConnectionLoss | Error::ConnectionClosed) => {}
                Done::Err(e) => panic!("seed {seed:#x}: read {i} failed with {e:?}"),
            }
            continue;
        }
        let name = format!("n{i:05}");
        match o {
            Done::Ok => {
                acked += 1;
                assert!(
                    children.contains(&name),
                    "seed {seed:#x}: /chaos/{name} was acknowledged but does not exist"
                );
            }
            // Sent and unanswered: may or may not exist.
            Done::Err(Error::ConnectionLoss) => unknown += 1,
            // Never sent: certainly not applied.
            Done::Err(Error::ConnectionClosed) => {
                closed += 1;
                assert!(
                    !children.contains(&name),
                    "seed {seed:#x}: /chaos/{name} was reported ConnectionClosed (never \
                     sent) but exists"
                );
            }
            Done::Err(e) => panic!(
                "seed {seed:#x}: create {name} failed with {e:?} (NodeExists would mean it \
                 was sent twice)"
            ),
        }
    }
    let asked: BTreeSet<String> = (0..CREATES).map(|i| format!("n{i:05}")).collect();
    let extra: Vec<&String> = children.difference(&asked).collect();
    assert!(
        extra.is_empty(),
        "seed {seed:#x}: nodes nobody asked for: {extra:?}"
    );
    assert!(
        acked > 0 && reads_ok > 0,
        "seed {seed:#x}: nothing got through"
    );
    assert_eq!(
        c.client_id(),
        first_session,
        "cuts shorter than the session timeout keep the session"
    );
    eprintln!(
        "seed {seed:#x}: {total} requests in {:?} through {cuts} cuts: {acked} creates \
         acknowledged, {unknown} unknown ({} of those exist), {closed} never sent, \
         {reads_ok} reads answered",
        started.elapsed(),
        children.len() - acked,
    );
    c.stop().unwrap();
}

// ---------------------------------------------------------------- watches

/// Every watch event, with the name of the watcher that got it.
type EventLog = Rc<RefCell<Vec<(usize, WatchedEvent)>>>;

fn reread(path: &str) -> WatchedEvent {
    WatchedEvent {
        event_type: EventType::None,
        state: KeeperState::SyncConnected,
        path: Some(path.to_string()),
    }
}

#[test]
fn one_shot_watches_through_random_cuts_fire_exactly_once_for_their_change() {
    let seed = seed(0x5eed_0002);
    const NODES: usize = 25;
    const ROUNDS: usize = 4;

    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let direct = start_client(&zk.connect_string(), Duration::from_secs(10));
    direct.create("/ow", b"", CreateMode::Persistent).unwrap();
    for i in 0..NODES {
        direct
            .create(&format!("/ow/{i}"), b"0", CreateMode::Persistent)
            .unwrap();
    }
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    proxy
        .start_random_cuts(
            RandomCuts::new(seed)
                .every(Duration::from_millis(60), Duration::from_millis(300))
                .mid_frame(40, 512),
        )
        .unwrap();

    // Watch i is a data watch (i % 3 == 0, fired by a set), an exists watch on a node that
    // does not exist yet (1, fired by its creation) or a child watch (2, fired by a new
    // child): (kind of event, path) it must be told about, once.
    let expected = |i: usize, round: usize| -> (EventType, String) {
        match i % 3 {
            0 => (EventType::NodeDataChanged, format!("/ow/{i}")),
            1 => (EventType::NodeCreated, format!("/ow/{i}/r{round}")),
            _ => (EventType::NodeChildrenChanged, format!("/ow/{i}")),
        }
    };
    for round in 0..ROUNDS {
        let log: EventLog = Rc::default();
        for i in 0..NODES {
            let what = format!("round {round}: watch {i}");
            let log = log.clone();
            let watcher = Watcher::new(move |ev| log.borrow_mut().push((i, ev)));
            match i % 3 {
                0 => drop(retry(&c, &what, || {
                    c.get(&format!("/ow/{i}"), watcher.clone())
                })),
                1 => {
                    let path = expected(i, round).1;
                    assert_eq!(retry(&c, &what, || c.exists(&path, watcher.clone())), None);
                }
                _ => drop(retry(&c, &what, || {
                    c.get_children(&format!("/ow/{i}"), watcher.clone())
                })),
            }
        }
        // Odd rounds change every node while the client is away: the server fires those
        // watches when the reconnect re-registers them (SetWatches with the last zxid seen).
        let away = round % 2 == 1;
        if away {
            proxy.set_refusing(true);
            proxy.drop_connections();
            wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
        }
        for i in 0..NODES {
            match i % 3 {
                0 => drop(
                    direct
                        .set(&format!("/ow/{i}"), round.to_string().as_bytes(), None)
                        .unwrap(),
                ),
                1 => drop(
                    direct
                        .create(&expected(i, round).1, b"", CreateMode::Persistent)
                        .unwrap(),
                ),
                _ => drop(
                    direct
                        .create(&format!("/ow/{i}/k{round}"), b"", CreateMode::Persistent)
                        .unwrap(),
                ),
            }
        }
        if away {
            proxy.set_refusing(false);
        }
        wait_for(
            &c,
            &format!("seed {seed:#x} round {round}: every watch to fire"),
            || {
                let fired: BTreeSet<usize> = log.borrow().iter().map(|(i, _)| *i).collect();
                fired.len() == NODES
            },
        );
        // A duplicate would come late: give it the chance.
        c.handler().run_for(Duration::from_millis(200)).unwrap();
        let log = log.borrow();
        for i in 0..NODES {
            let got: Vec<(EventType, String)> = log
                .iter()
                .filter(|(w, _)| *w == i)
                .map(|(_, e)| (e.event_type, e.path.clone().unwrap_or_default()))
                .collect();
            assert_eq!(
                got,
                vec![expected(i, round)],
                "seed {seed:#x} round {round} (away: {away}): one-shot watch {i} must fire \
                 once for its change"
            );
        }
    }
    proxy.stop_random_cuts();
    assert!(proxy.cuts() >= 2, "only {} cuts", proxy.cuts());
    c.stop().unwrap();
}

#[test]
fn a_persistent_watch_hears_each_change_once_or_is_told_to_reread_after_a_cut() {
    let seed = seed(0x5eed_0003);
    const ROUNDS: usize = 12;

    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let direct = start_client(&zk.connect_string(), Duration::from_secs(10));
    direct.create("/pw", b"0", CreateMode::Persistent).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let log: Rc<RefCell<Vec<WatchedEvent>>> = Rc::default();
    let l = log.clone();
    retry(&c, "add_watch", || {
        let l = l.clone();
        c.add_watch("/pw", AddWatchMode::Persistent, move |ev| {
            l.borrow_mut().push(ev)
        })
    });
    // Random cuts in the background, so a "live" change can be missed too.
    proxy
        .start_random_cuts(
            RandomCuts::new(seed)
                .every(Duration::from_millis(100), Duration::from_millis(500))
                .mid_frame(40, 256),
        )
        .unwrap();
    let mut rng = SeededRng::new(seed);
    let is_reread = |e: &WatchedEvent| *e == reread("/pw");
    let is_change = |e: &WatchedEvent| {
        e.event_type == EventType::NodeDataChanged && e.path.as_deref() == Some("/pw")
    };
    let mut changes = 0;
    let mut missed_rounds = 0;
    for round in 0..ROUNDS {
        let before = log.borrow().len();
        let missed = rng.chance(50);
        if missed {
            // The change happens while the client is away: the server will not replay it
            // for a persistent watch, so the client must say "re-read".
            missed_rounds += 1;
            proxy.set_refusing(true);
            proxy.drop_connections();
            wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
            direct
                .set("/pw", format!("missed {round}").as_bytes(), None)
                .unwrap();
            changes += 1;
            proxy.set_refusing(false);
            wait_for(
                &c,
                &format!("seed {seed:#x} round {round}: a re-read event after a missed change"),
                || log.borrow()[before..].iter().any(is_reread),
            );
        } else {
            direct
                .set("/pw", format!("live {round}").as_bytes(), None)
                .unwrap();
            changes += 1;
            wait_for(
                &c,
                &format!("seed {seed:#x} round {round}: the change or a re-read"),
                || {
                    log.borrow()[before..]
                        .iter()
                        .any(|e| is_change(e) || is_reread(e))
                },
            );
        }
        let log = log.borrow();
        for e in &log[before..] {
            assert!(
                is_change(e) || is_reread(e),
                "seed {seed:#x} round {round}: unexpected event {e:?}"
            );
        }
    }
    proxy.stop_random_cuts();
    c.handler().run_for(Duration::from_millis(300)).unwrap();
    let heard = log.borrow().iter().filter(|e| is_change(e)).count();
    assert!(
        heard <= changes,
        "seed {seed:#x}: {heard} change events for {changes} changes: a change heard twice"
    );
    assert!(
        missed_rounds > 0,
        "seed {seed:#x}: no round missed a change"
    );
    c.stop().unwrap();
}

// ---------------------------------------------------------------- a frozen server

#[test]
fn a_frozen_server_fails_pending_requests_reports_lost_within_t_to_4t_over_3_then_a_new_session() {
    let t = Duration::from_secs(3);
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), t);
    let states: Rc<RefCell<Vec<(ClientState, Instant)>>> = Rc::default();
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push((st, Instant::now())));
    let (old_id, _) = c.client_id().unwrap();

    // Hear from the server just before the freeze, so the session's clock starts now.
    c.exists("/", None).unwrap();
    let io_before = c.handler().reactor().io_stats();
    let frozen_at = Instant::now();
    proxy.set_frozen(true);
    let pending: Vec<_> = (0..10).map(|_| c.get_async("/", None)).collect();
    let write = c.create_async("/frozen", NullData, CreateMode::Persistent);

    wait_for(&c, "every pending request to complete", || {
        pending.iter().all(|r| r.ready()) && write.ready()
    });
    for r in &pending {
        assert!(
            matches!(
                r.get_nowait(),
                Err(Error::ConnectionLoss | Error::ConnectionClosed | Error::SessionExpired)
            ),
            "{:?}",
            r.get_nowait()
        );
    }
    assert!(write.get_nowait().is_err(), "{:?}", write.get_nowait());
    wait_for(&c, "LOST", || {
        states.borrow().iter().any(|(s, _)| *s == ClientState::Lost)
    });
    let lost_after = states
        .borrow()
        .iter()
        .find(|(s, _)| *s == ClientState::Lost)
        .map(|(_, at)| at.duration_since(frozen_at))
        .unwrap();
    // Waiting on a silent server is waiting, not spinning: a few polls per timer.
    let polls = c.handler().reactor().io_stats().since(&io_before).polls;
    assert!(polls <= 500, "{polls} polls while frozen: a busy loop");

    eprintln!(
        "LOST {lost_after:?} after the freeze; states: {:?}",
        states
            .borrow()
            .iter()
            .map(|(s, at)| (*s, at.duration_since(frozen_at)))
            .collect::<Vec<_>>()
    );
    proxy.set_frozen(false);
    wait_for(&c, "a new session", || {
        c.state() == ClientState::Connected && c.client_id().is_some_and(|(id, _)| id != old_id)
    });
    c.stop().unwrap();

    // The server may hold the session until T after it last heard from the client; the
    // client must not give up before, and should not wait much longer (issue: T..4T/3).
    assert!(
        lost_after >= t && lost_after <= t * 4 / 3,
        "LOST came {lost_after:?} after the freeze; want between T = {t:?} and 4T/3 = {:?} \
         (states: {:?})",
        t * 4 / 3,
        states
            .borrow()
            .iter()
            .map(|(s, at)| (*s, at.duration_since(frozen_at)))
            .collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------- held reconnects

#[test]
fn reconnects_held_back_for_half_the_session_timeout_resume_the_same_session() {
    let t = Duration::from_secs(4);
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), t);
    let states: Rc<RefCell<Vec<ClientState>>> = Rc::default();
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push(st));
    let id = c.client_id();
    c.create("/held", b"", CreateMode::Persistent).unwrap();

    // Every reconnect is accepted but neither connected upstream nor answered: the client
    // sees handshakes that never complete, and must keep trying.
    proxy.set_holding(true);
    proxy.drop_connections();
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    let held_since = Instant::now();
    let waiting: Vec<_> = (0..5).map(|_| c.get_async("/held", None)).collect();
    wait_for(&c, "a held reconnect", || proxy.held() >= 1);
    // (run_for, not run_until: nothing wakes the loop to re-check a clock condition.)
    c.handler()
        .run_for((t / 2).saturating_sub(held_since.elapsed()))
        .unwrap();
    assert!(
        waiting.iter().all(|r| !r.ready()),
        "requests wait while SUSPENDED: {:?}, states {:?}",
        waiting.iter().map(|r| r.exception()).collect::<Vec<_>>(),
        states.borrow()
    );

    // Released: the held handshake reaches the server and resumes the session.
    proxy.set_holding(false);
    wait_for(&c, "CONNECTED", || c.state() == ClientState::Connected);
    for r in &waiting {
        r.get(true, Some(LONG))
            .expect("a held request completes once resumed");
    }
    assert_eq!(c.client_id(), id, "the same session");
    c.handler().run_for(Duration::from_millis(300)).unwrap();
    assert!(
        !states.borrow().contains(&ClientState::Lost),
        "{:?}",
        states.borrow()
    );
    assert_eq!(c.state(), ClientState::Connected);
    c.stop().unwrap();
}

#[test]
fn a_handshake_cut_in_the_middle_is_a_connection_loss_and_the_session_resumes() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), Duration::from_secs(6));
    let id = c.client_id();
    c.create("/hs", b"", CreateMode::Persistent).unwrap();
    let states: Rc<RefCell<Vec<ClientState>>> = Rc::default();
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push(st));

    // The ConnectRequest is 48 bytes with its prefix, the ConnectResponse 41: cut each
    // inside the first reconnect's handshake.
    for (dir, after) in [
        (Direction::ClientToServer, 20),
        (Direction::ServerToClient, 9),
    ] {
        let accepted = proxy.accepted();
        proxy.set_holding(true);
        proxy.drop_connections();
        wait_for(&c, "a held reconnect", || proxy.held() >= 1);
        proxy.cut_after(dir, after);
        let cuts = proxy.cuts();
        proxy.set_holding(false);
        let waiting = c.get_async("/hs", None);
        wait_for(&c, &format!("{dir:?}: the handshake cut"), || {
            proxy.cuts() > cuts
        });
        wait_for(&c, &format!("{dir:?}: CONNECTED again"), || {
            c.state() == ClientState::Connected && proxy.accepted() >= accepted + 2
        });
        waiting
            .get(true, Some(LONG))
            .unwrap_or_else(|e| panic!("{dir:?}: a waiting request after the cut: {e:?}"));
        assert_eq!(c.client_id(), id, "{dir:?}: the same session");
    }
    assert!(
        !states.borrow().contains(&ClientState::Lost),
        "{:?}",
        states.borrow()
    );
    c.stop().unwrap();
}

#[test]
fn a_freeze_shorter_than_the_read_timeout_loses_nothing() {
    let t = Duration::from_secs(6);
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), t);
    let states: Rc<RefCell<Vec<ClientState>>> = Rc::default();
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push(st));
    c.exists("/", None).unwrap();

    // Frozen for T/3: a ping may go unanswered meanwhile, but the read timeout is 2T/3.
    let frozen_at = Instant::now();
    proxy.set_frozen(true);
    let during: Vec<_> = (0..20)
        .map(|i| c.create_async(&format!("/f{i}"), NullData, CreateMode::Persistent))
        .collect();
    c.handler()
        .run_for((t / 3).saturating_sub(frozen_at.elapsed()))
        .unwrap();
    assert!(
        during.iter().all(|r| !r.ready()),
        "nothing answered while frozen"
    );
    proxy.set_frozen(false);
    for (i, r) in during.iter().enumerate() {
        let (path, _) = r.get(true, Some(LONG)).unwrap_or_else(|e| {
            panic!("/f{i} after the thaw: {e:?} (states {:?})", states.borrow())
        });
        assert_eq!(path, format!("/f{i}"));
    }
    c.handler().run_for(Duration::from_millis(200)).unwrap();
    assert_eq!(*states.borrow(), vec![], "no state change");
    assert_eq!(proxy.cuts(), 0);
    c.stop().unwrap();
}
