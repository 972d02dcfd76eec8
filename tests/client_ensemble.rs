//! Failover in a 3-node ensemble: the server the client is connected to is killed; the
//! client moves to another one with the same session, its ephemerals and its watches.

use mio_zookeeper::{
    AddWatchMode, Client, ClientState, CreateMode, CreateOptions, Error, ErrorCode, EventType,
    KeeperState, WatchedEvent, Watcher, ZkError,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio_zookeeper::testing::ZkEnsemble;

/// The longest any single wait may take before the test fails.
const LONG: Duration = Duration::from_secs(40);

type Events = Rc<RefCell<Vec<WatchedEvent>>>;

fn recorder() -> (Events, impl Fn(WatchedEvent) + Clone + 'static) {
    let events = Events::default();
    let e = events.clone();
    (events, move |ev| e.borrow_mut().push(ev))
}

fn event(t: EventType, path: &str) -> WatchedEvent {
    WatchedEvent {
        event_type: t,
        state: KeeperState::SyncConnected,
        path: Some(path.to_string()),
    }
}

fn wait_for(c: &Client, what: &str, cond: impl Fn() -> bool) {
    c.handler()
        .reactor()
        .run_until(&cond, Some(LONG))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
}

/// Runs `f` until it does not fail with ConnectionLoss (a request in flight while its
/// server left the quorum, which happens to every server's clients when the leader dies).
fn retry<T>(what: &str, f: impl Fn() -> Result<T, Error>) -> T {
    let deadline = Instant::now() + LONG;
    loop {
        match f() {
            Ok(v) => return v,
            Err(Error::ConnectionLoss) if Instant::now() < deadline => continue,
            Err(e) => panic!("{what}: {e:?}"),
        }
    }
}

#[test]
fn killing_the_connected_follower_fails_over_with_the_session_its_ephemerals_and_watches() {
    failover(false);
}

#[test]
fn killing_the_connected_leader_fails_over_with_the_session_its_ephemerals_and_watches() {
    failover(true);
}

/// The index of the server `c` is connected to.
fn connected_to(ens: &ZkEnsemble, c: &Client) -> usize {
    let server = c.current_server().expect("connected");
    ens.servers()
        .iter()
        .position(|s| s.connect_string() == server)
        .expect("one of the ensemble's servers")
}

fn failover(kill_leader: bool) {
    let mut ens = ZkEnsemble::start(3).unwrap();
    let c = Client::builder(&ens.connect_string())
        .session_timeout(Duration::from_secs(10))
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    // The client picks a server at random: restart until it is on the kind we want to kill
    // (a third of the servers lead, so this takes a few tries at most).
    let leader = ens.leader().expect("a leader");
    for _ in 0..60 {
        if (connected_to(&ens, &c) == leader) == kill_leader {
            break;
        }
        c.restart().unwrap();
    }
    let idx = connected_to(&ens, &c);
    assert_eq!(
        idx == leader,
        kill_leader,
        "could not land on the wanted server"
    );
    let server = c.current_server().unwrap();
    let (id, _) = c.client_id().unwrap();

    // The server's `cons` lists the session too.
    let cons = ens.server(idx).unwrap().four_letter("cons").unwrap();
    assert!(
        cons.contains(&format!("sid=0x{id:x}")),
        "server {idx} lists session 0x{id:x}: {cons}"
    );
    let role = ens.mode(idx);

    for p in ["/f", "/f/away", "/f/after", "/f/kids", "/f/p"] {
        c.create(p, b"", CreateMode::Persistent).unwrap();
    }
    let (eph, _) = c
        .create(
            "/f/eph",
            b"mine",
            CreateOptions::mode(CreateMode::Ephemeral),
        )
        .unwrap();
    let (away, on_away) = recorder();
    let (after, on_after) = recorder();
    let (kids, on_kids) = recorder();
    let (created, on_created) = recorder();
    let (pers, on_pers) = recorder();
    let (rec, on_rec) = recorder();
    c.get("/f/away", Watcher::new(on_away)).unwrap();
    c.get("/f/after", Watcher::new(on_after)).unwrap();
    c.get_children("/f/kids", Watcher::new(on_kids)).unwrap();
    assert_eq!(c.exists("/f/new", Watcher::new(on_created)).unwrap(), None);
    c.add_watch("/f/p", AddWatchMode::Persistent, on_pers)
        .unwrap();
    c.add_watch("/f", AddWatchMode::PersistentRecursive, on_rec)
        .unwrap();
    let states = Rc::new(RefCell::new(Vec::new()));
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push(st));

    ens.kill(idx).unwrap();
    let t0 = Instant::now();

    // While the client is away (its loop does not run), another client on the survivors
    // changes things. When the leader died this waits for the new election.
    let survivors: Vec<String> = (0..ens.len())
        .filter(|&i| i != idx)
        .map(|i| ens.server(i).unwrap().connect_string())
        .collect();
    let other = Client::builder(&survivors.join(","))
        .session_timeout(Duration::from_secs(10))
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .build()
        .unwrap();
    other.start(Some(LONG)).unwrap();
    retry("set /f/away", || other.set("/f/away", b"changed", None));
    retry("create /f/kids/k", || {
        match other
            .create("/f/kids/k", b"", CreateMode::Persistent)
            .map(|(p, _)| p)
        {
            Err(Error::ZooKeeper(ZkError {
                code: ErrorCode::NodeExists,
                ..
            })) => Ok(String::new()),
            r => r,
        }
    });
    retry("create /f/new", || {
        match other
            .create("/f/new", b"", CreateMode::Persistent)
            .map(|(p, _)| p)
        {
            Err(Error::ZooKeeper(ZkError {
                code: ErrorCode::NodeExists,
                ..
            })) => Ok(String::new()),
            r => r,
        }
    });

    // The client fails over to a survivor and resumes its session.
    wait_for(&c, "the failover", || {
        c.state() == ClientState::Connected && states.borrow().len() >= 2
    });
    let failover = t0.elapsed();
    assert_eq!(
        *states.borrow(),
        vec![ClientState::Suspended, ClientState::Connected]
    );
    assert_eq!(c.client_id().map(|(i, _)| i), Some(id), "the same session");
    let now_on = c.current_server().unwrap();
    assert_ne!(now_on, server);
    assert!(survivors.contains(&now_on), "{now_on} is a survivor");
    let st = retry("exists eph", || c.exists(&eph, None)).expect("the ephemeral survived");
    assert_eq!(st.ephemeral_owner, id);
    assert_eq!(
        retry("get eph", || c.get(&eph, None)).0.as_deref(),
        Some(&b"mine"[..])
    );

    // The one-shot watches re-registered on the new server fire for what changed while the
    // client was away ...
    wait_for(&c, "the watches for changes made while away", || {
        !away.borrow().is_empty() && !kids.borrow().is_empty() && !created.borrow().is_empty()
    });
    assert_eq!(
        *away.borrow(),
        vec![event(EventType::NodeDataChanged, "/f/away")]
    );
    assert_eq!(
        *kids.borrow(),
        vec![event(EventType::NodeChildrenChanged, "/f/kids")]
    );
    assert_eq!(
        *created.borrow(),
        vec![event(EventType::NodeCreated, "/f/new")]
    );
    // ... and every watch set before the failover still fires for changes after it.
    retry("set /f/after", || other.set("/f/after", b"x", None));
    retry("set /f/p", || other.set("/f/p", b"x", None));
    wait_for(&c, "the watches for changes after the failover", || {
        !after.borrow().is_empty()
            && pers.borrow().len() >= 2
            && rec
                .borrow()
                .iter()
                .any(|e| e.path.as_deref() == Some("/f/p"))
    });
    assert_eq!(
        *after.borrow(),
        vec![event(EventType::NodeDataChanged, "/f/after")]
    );
    // What changed while the client was away is not replayed to persistent watches by
    // ZooKeeper, so on the reconnect each persistent watcher is told to re-read (an
    // EventType::None event with its path), then sees the changes after the failover.
    assert_eq!(
        *pers.borrow(),
        vec![
            event(EventType::None, "/f/p"),
            event(EventType::NodeDataChanged, "/f/p")
        ]
    );
    assert_eq!(
        rec.borrow().first(),
        Some(&event(EventType::None, "/f")),
        "the recursive watcher hears of the reconnect first"
    );
    // The recursive watch on /f saw the data change of /f/p and of /f/after (both after the
    // failover).
    let rec_paths: Vec<_> = rec.borrow().iter().map(|e| e.path.clone()).collect();
    assert!(
        rec_paths.contains(&Some("/f/after".into())),
        "recursive watch events: {rec_paths:?}"
    );
    eprintln!("failover from server {idx} ({role:?}) took {failover:?}");

    c.stop().unwrap();
    assert!(
        retry("exists eph", || other.exists(&eph, None)).is_none(),
        "gone with the session"
    );
    other.stop().unwrap();
}

#[test]
fn a_frozen_follower_is_left_after_the_read_timeout_with_the_session() {
    // A server that hangs (SIGSTOP: sockets open, nothing answered) is a partition as the
    // client sees it: only the read timeout (2T/3) tells.
    let mut ens = ZkEnsemble::start(3).unwrap();
    let timeout = Duration::from_secs(6);
    let c = Client::builder(&ens.connect_string())
        .session_timeout(timeout)
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    let leader = ens.leader().expect("a leader");
    for _ in 0..60 {
        if connected_to(&ens, &c) != leader {
            break;
        }
        c.restart().unwrap();
    }
    let idx = connected_to(&ens, &c);
    assert_ne!(idx, leader, "could not land on a follower");
    let (id, _) = c.client_id().unwrap();
    let (eph, _) = c
        .create("/eph", b"", CreateOptions::mode(CreateMode::Ephemeral))
        .unwrap();
    let (w, on_w) = recorder();
    c.get(&eph, Watcher::new(on_w)).unwrap();

    ens.pause(idx).unwrap();
    let t0 = Instant::now();
    let in_flight = c.exists_async(&eph, None);
    wait_for(&c, "SUSPENDED", || c.state() == ClientState::Suspended);
    let suspended_after = t0.elapsed();
    assert!(matches!(
        in_flight.get(false, None),
        Err(Error::ConnectionLoss)
    ));
    wait_for(&c, "the failover", || c.state() == ClientState::Connected);
    assert!(
        suspended_after <= timeout * 2 / 3 + Duration::from_secs(2),
        "SUSPENDED after {suspended_after:?}"
    );
    assert_eq!(c.client_id().map(|(i, _)| i), Some(id), "the same session");
    assert_ne!(connected_to(&ens, &c), idx);
    assert_eq!(c.exists(&eph, None).unwrap().unwrap().ephemeral_owner, id);
    c.set(&eph, b"x", None).unwrap();
    wait_for(&c, "the watch", || !w.borrow().is_empty());
    assert_eq!(*w.borrow(), vec![event(EventType::NodeDataChanged, &eph)]);
    c.stop().unwrap();
    ens.resume(idx).unwrap();
}
