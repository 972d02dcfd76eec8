//! Embedding the client in a host application's `mio::Poll` (issue #5 §1), against real
//! servers: a host serving its own TCP clients while ZooKeeper calls complete through a
//! server restart, several clients in one Poll, token collisions, refused blocking calls,
//! and the `embed_mio` example run in-process.

#[allow(dead_code)]
#[path = "../examples/embed_mio.rs"]
mod embed_mio;

#[allow(dead_code)]
#[path = "../examples/poll_once.rs"]
mod poll_once;

use mio_zookeeper::{
    AsyncResult, Client, ClientState, CreateMode, CreateOptions, EmbeddedHost, Error, EventType,
    Handler, LoopError, MioHandler, NullData, Watcher,
};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use mio_zookeeper::testing::ZkServer;

/// Generous bound for anything that waits on a server (2 shared cores).
const PATIENCE: Duration = Duration::from_secs(30);

/// The host's echo service token; its connections get tokens `1..LISTENER_RANGE`.
const LISTENER: Token = Token(0);
const HOST_RANGE: std::ops::Range<usize> = 0..1000;

/// A small mio application: an echo service on its own listener, plus whatever embedded
/// reactors `zk` hands out, all in one Poll on the test's thread.
struct Host {
    poll: Poll,
    events: Events,
    zk: EmbeddedHost,
    listener: TcpListener,
    conns: HashMap<Token, TcpStream>,
    next_token: usize,
    /// Bytes echoed back to the host's own clients.
    echoed: usize,
    /// Tokens of the events the embedded reactors claimed.
    claimed: Vec<Token>,
    /// Events the host handled itself.
    own_events: usize,
}

impl Host {
    fn new() -> Host {
        let poll = Poll::new().unwrap();
        let zk = EmbeddedHost::new(poll.registry()).unwrap();
        zk.reserve(HOST_RANGE).unwrap();
        let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .unwrap();
        Host {
            poll,
            events: Events::with_capacity(256),
            zk,
            listener,
            conns: HashMap::new(),
            next_token: 1,
            echoed: 0,
            claimed: Vec::new(),
            own_events: 0,
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.listener.local_addr().unwrap()
    }

    /// One iteration of the host's loop.
    fn turn(&mut self) {
        // The host's own bound (it has no timers) combined with the reactors' deadline.
        let own = Duration::from_millis(200);
        let wait = self.zk.next_timeout().map_or(own, |t| t.min(own));
        match self.poll.poll(&mut self.events, Some(wait)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("poll: {e}"),
        }
        let mine: Vec<(Token, bool)> = self
            .events
            .iter()
            .filter_map(|ev| {
                if self.zk.handle_event(ev) {
                    self.claimed.push(ev.token());
                    None
                } else {
                    Some((ev.token(), ev.is_readable()))
                }
            })
            .collect();
        for (token, _) in mine {
            self.own_events += 1;
            self.serve(token);
        }
        self.zk.run_pending().unwrap();
    }

    fn serve(&mut self, token: Token) {
        if token == LISTENER {
            loop {
                match self.listener.accept() {
                    Ok((mut s, _)) => {
                        let t = Token(self.next_token);
                        self.next_token += 1;
                        assert!(HOST_RANGE.contains(&t.0), "the host ran out of its tokens");
                        self.poll
                            .registry()
                            .register(&mut s, t, Interest::READABLE)
                            .unwrap();
                        self.conns.insert(t, s);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) => panic!("accept: {e}"),
                }
            }
        }
        let Some(s) = self.conns.get_mut(&token) else {
            panic!("an event for token {token:?}, which neither the host nor a reactor has")
        };
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => {
                    let mut s = self.conns.remove(&token).unwrap();
                    self.poll.registry().deregister(&mut s).unwrap();
                    return;
                }
                Ok(n) => {
                    // Small echoes to a loopback peer that reads them at once.
                    s.write_all(&buf[..n]).unwrap();
                    self.echoed += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => panic!("echo read: {e}"),
            }
        }
    }

    /// Runs the host's loop until `done`, failing the test with `what` after PATIENCE.
    fn run_until(&mut self, what: &str, done: impl Fn(&Host) -> bool) {
        let give_up = Instant::now() + PATIENCE;
        while !done(self) {
            assert!(Instant::now() < give_up, "the host loop never saw: {what}");
            self.turn();
        }
    }
}

/// The host's own clients: a thread doing echo round trips until told to stop.
struct EchoPeer {
    rounds: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EchoPeer {
    fn start(addr: std::net::SocketAddr) -> EchoPeer {
        let rounds = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (rounds.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let mut conn = std::net::TcpStream::connect(addr).unwrap();
            conn.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut i = 0u64;
            while !s.load(Ordering::Acquire) {
                let msg = i.to_be_bytes();
                conn.write_all(&msg).unwrap();
                let mut back = [0u8; 8];
                conn.read_exact(&mut back).unwrap();
                assert_eq!(back, msg);
                r.fetch_add(1, Ordering::AcqRel);
                i += 1;
                // Pacing only (the machine is shared), not synchronisation.
                thread::sleep(Duration::from_millis(2));
            }
        });
        EchoPeer {
            rounds,
            stop,
            thread: Some(thread),
        }
    }

    fn rounds(&self) -> usize {
        self.rounds.load(Ordering::Acquire)
    }

    /// Stops the peer; the host's loop must not need to run for it to end (its last round
    /// trip completed before `rounds` was read).
    fn finish(mut self, host: &mut Host) {
        self.stop.store(true, Ordering::Release);
        let t = self.thread.take().unwrap();
        // The peer may be in the middle of a round trip: serve it until it is gone.
        while !t.is_finished() {
            host.turn();
        }
        t.join().expect("the echo peer failed");
    }
}

fn embedded_client(host: &Host, tokens: std::ops::Range<usize>, zk: &ZkServer) -> Client {
    let handler = MioHandler::embedded_in(&host.zk, tokens).unwrap();
    Client::builder(&zk.connect_string())
        .session_timeout(Duration::from_secs(10))
        .handler(handler)
        .build_with()
        .unwrap()
}

/// Records every outcome of a result as a string once it completes.
fn record<T: std::fmt::Debug + Clone + 'static>(
    log: &Rc<RefCell<Vec<String>>>,
    name: &str,
    r: AsyncResult<T>,
) {
    let (l, name) = (log.clone(), name.to_string());
    r.rawlink(move |r| {
        l.borrow_mut().push(format!(
            "{name}: {:?}",
            r.get_nowait().map_err(|e| e.to_string())
        ))
    });
}

#[test]
fn host_serves_its_clients_while_zookeeper_calls_complete_through_a_server_restart() {
    let mut zk = ZkServer::start().expect("a server");
    let mut host = Host::new();
    // Two tokens: every reconnect attempt must give its token back for this to last.
    let client = embedded_client(&host, 1000..1002, &zk);
    let states = Rc::new(RefCell::new(Vec::new()));
    let s = states.clone();
    client.add_listener(move |st| s.borrow_mut().push(st));

    let started = client.start_async().unwrap();
    host.run_until("the client connected", |_| started.ready());
    started.get_nowait().unwrap();
    let (session, _) = client.client_id().unwrap();
    let peer = EchoPeer::start(host.addr());

    // ZooKeeper calls and echo round trips, interleaved in the one loop.
    let created = client.create_async("/svc", Bytes::from_static(b"v0"), CreateOptions::default());
    let rounds = peer.rounds();
    host.run_until("the create and some echo round trips", |_| {
        created.ready() && peer.rounds() >= rounds + 5
    });
    assert_eq!(created.get_nowait().unwrap().0, "/svc");

    // The outage. (ZkServer::restart is stop + start_again; the two halves are called
    // separately so the host's loop runs, and calls are issued, while the server is down.)
    zk.stop().unwrap();
    host.run_until("the client noticed the outage", |_| {
        client.state() == ClientState::Suspended
    });
    let log = Rc::new(RefCell::new(Vec::new()));
    record(
        &log,
        "create",
        client.create_async("/svc/during", NullData, CreateOptions::default()),
    );
    record(
        &log,
        "set",
        client.set_async("/svc", Bytes::from_static(b"v1"), Some(0)),
    );
    record(
        &log,
        "children",
        client.get_children_with_stat_async("/svc", None),
    );
    let watched = Rc::new(RefCell::new(Vec::new()));
    let w = watched.clone();
    record(
        &log,
        "exists_watch",
        client.exists_async(
            "/svc/later",
            Watcher::new(move |ev: mio_zookeeper::WatchedEvent| {
                w.borrow_mut().push((ev.event_type, ev.path))
            }),
        ),
    );

    // The host keeps serving its own clients while the server is down, the client retrying
    // (on its own timers, through next_timeout) in the same loop.
    let rounds = peer.rounds();
    host.run_until("echo round trips during the outage", |_| {
        peer.rounds() >= rounds + 20
    });
    assert!(
        log.borrow().is_empty(),
        "calls completed while the server was down: {:?}",
        log.borrow()
    );
    assert_eq!(client.state(), ClientState::Suspended);

    zk.start_again().unwrap();
    host.run_until("the calls issued during the outage completed", |_| {
        log.borrow().len() == 4
    });
    // In request order, all successful, seeing each other's effects.
    let log = log.borrow().clone();
    assert!(
        log[0].starts_with("create: Ok((\"/svc/during\", Stat {"),
        "{log:?}"
    );
    assert!(
        log[1].starts_with("set: Ok(Stat {") && log[1].contains("version: 1,"),
        "{log:?}"
    );
    assert!(
        log[2].starts_with("children: Ok(([\"during\"], Stat {"),
        "{log:?}"
    );
    assert_eq!(log[3], "exists_watch: Ok(None)", "{log:?}");
    assert_eq!(client.state(), ClientState::Connected);
    assert_eq!(
        client.client_id().unwrap().0,
        session,
        "the session survived the restart"
    );
    assert_eq!(
        *states.borrow(),
        [
            ClientState::Connected,
            ClientState::Suspended,
            ClientState::Connected
        ]
    );

    // The watch set during the outage works after it; the host still serves.
    let made = client.create_async("/svc/later", NullData, CreateOptions::default());
    let rounds = peer.rounds();
    host.run_until("the watch fired", |_| {
        made.ready() && !watched.borrow().is_empty() && peer.rounds() > rounds
    });
    assert_eq!(
        *watched.borrow(),
        [(EventType::NodeCreated, Some("/svc/later".to_string()))]
    );

    // Every claimed event was under the client's tokens; the host saw its own.
    assert!(
        host.claimed.iter().all(|t| (1000..1002).contains(&t.0)),
        "{:?}",
        host.claimed
    );
    assert!(host.own_events > 0 && host.echoed >= 8 * 30);

    peer.finish(&mut host);
    let stopped = client.stop_async();
    host.run_until("the client stopped", |_| stopped.ready());
    assert_eq!(client.state(), ClientState::Lost);
}

#[test]
fn several_clients_share_one_poll_and_the_hosts_events_are_never_claimed() {
    let zk = ZkServer::start().expect("a server");
    let mut host = Host::new();
    // Two reactors with adjacent ranges; a, a2 share the first reactor.
    let a = embedded_client(&host, 1000..1002, &zk);
    let a2 = Client::builder(&zk.connect_string())
        .handler(a.handler().clone())
        .build_with()
        .unwrap();
    let b = embedded_client(&host, 1002..1004, &zk);
    assert!(a.handler().reactor().ptr_eq(a2.handler().reactor()));
    assert!(!a.handler().reactor().ptr_eq(b.handler().reactor()));
    assert_eq!(b.handler().reactor().token_range(), 1002..1004);

    // The host's own listener right next to the client ranges (tokens 999 and 1004).
    let mut edge = Vec::new();
    for t in [999usize, 1004] {
        if t >= HOST_RANGE.end {
            host.zk.reserve(t..t + 1).unwrap();
        }
        let mut l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        host.poll
            .registry()
            .register(&mut l, Token(t), Interest::READABLE)
            .unwrap();
        let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        edge.push((l, _c));
    }

    let starts: Vec<_> = [&a, &a2, &b]
        .iter()
        .map(|c| c.start_async().unwrap())
        .collect();
    // The edge listeners are readable now: handle events by hand for this part, so the
    // host can see them (its `serve` only knows its echo sockets).
    let give_up = Instant::now() + PATIENCE;
    let mut edge_events = Vec::new();
    while !starts.iter().all(|s| s.ready()) || edge_events.len() < 2 {
        assert!(
            Instant::now() < give_up,
            "clients never connected: {:?}",
            starts
        );
        host.poll
            .poll(
                &mut host.events,
                host.zk.next_timeout().or(Some(Duration::from_millis(200))),
            )
            .unwrap();
        for ev in host.events.iter() {
            if host.zk.handle_event(ev) {
                host.claimed.push(ev.token());
            } else {
                edge_events.push(ev.token().0);
                for (l, _) in &edge {
                    while l.accept().is_ok() {}
                }
            }
        }
        // The two halves of run_pending, called separately.
        host.zk.run_timers().unwrap();
        host.zk.run_callbacks().unwrap();
    }
    edge_events.sort();
    edge_events.dedup();
    assert_eq!(
        edge_events,
        [999, 1004],
        "the host's own events came back to it"
    );
    for s in &starts {
        s.get_nowait().unwrap();
    }
    let ids: Vec<i64> = [&a, &a2, &b]
        .iter()
        .map(|c| c.client_id().unwrap().0)
        .collect();
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );
    // Both reactors' sockets produced events, each under its own range.
    assert!(host.claimed.iter().any(|t| (1000..1002).contains(&t.0)));
    assert!(host.claimed.iter().any(|t| (1002..1004).contains(&t.0)));
    assert!(host.claimed.iter().all(|t| (1000..1004).contains(&t.0)));

    // Clients in one Poll see each other's changes: b watches, a creates, a2 sets.
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let watch = b.exists_async(
        "/shared",
        Watcher::new(move |ev: mio_zookeeper::WatchedEvent| s.borrow_mut().push(ev.event_type)),
    );
    host.run_until("b's watch was set", |_| watch.ready());
    let created = a.create_async("/shared", NullData, CreateOptions::default());
    host.run_until("b's watch fired", |_| {
        created.ready() && !seen.borrow().is_empty()
    });
    let s = seen.clone();
    let watch = b.get_async(
        "/shared",
        Watcher::new(move |ev: mio_zookeeper::WatchedEvent| s.borrow_mut().push(ev.event_type)),
    );
    host.run_until("b's data watch was set", |_| watch.ready());
    let set = a2.set_async("/shared", Bytes::from_static(b"x"), None);
    host.run_until("a2's set is acknowledged", |_| set.ready());
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    let b2 = b.clone();
    // A task on b's reactor awaits a read once a2's write is acknowledged.
    let read = b.handler().spawn_future(async move {
        let (data, _) = b2.get_async("/shared", None).await?;
        d.set(true);
        Ok::<_, Error>(data)
    });
    host.run_until("a2's set, b's watch and b's task", |_| {
        set.ready() && seen.borrow().len() == 2 && done.get()
    });
    assert_eq!(
        *seen.borrow(),
        [EventType::NodeCreated, EventType::NodeDataChanged]
    );
    // The read ran after b's data watch fired, so it sees a2's write.
    assert_eq!(
        read.get_nowait().unwrap().unwrap().as_deref(),
        Some(&b"x"[..])
    );

    let stops: Vec<_> = [&a, &a2, &b].iter().map(|c| c.stop_async()).collect();
    host.run_until("all stopped", |_| stops.iter().all(|s| s.ready()));
    drop(edge);
}

#[test]
fn overlapping_token_ranges_are_refused_with_a_clear_error() {
    let poll = Poll::new().unwrap();
    let host = EmbeddedHost::new(poll.registry()).unwrap();
    host.reserve(0..10).unwrap();
    let first = MioHandler::embedded_in(&host, 1000..1100).unwrap();

    for bad in [1050..1060, 900..1001, 1099..2000, 1000..1100] {
        let err = MioHandler::embedded_in(&host, bad.clone()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Loop(LoopError::TokenCollision {
                    start,
                    end,
                    other_start: 1000,
                    other_end: 1100,
                    holder: "another embedded reactor",
                }) if (start, end) == (bad.start, bad.end)
            ),
            "{bad:?}: {err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{}..{} overlaps 1000..1100", bad.start, bad.end)),
            "{msg}"
        );
        assert!(msg.contains("range of its own"), "{msg}");
    }
    // A range over several: the first one found is named.
    let err = host.reactor(0..5000).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Loop(LoopError::TokenCollision {
                other_start: 0,
                other_end: 10,
                ..
            })
        ),
        "{err}"
    );
    // The host's own reserved tokens are protected too, and named as such.
    let err = host.reactor(5..20).unwrap_err();
    assert!(matches!(
        err,
        Error::Loop(LoopError::TokenCollision {
            other_start: 0,
            other_end: 10,
            ..
        })
    ));
    assert!(
        err.to_string().contains("held by the host's own sources"),
        "{err}"
    );
    let err = host.reserve(1090..1110).unwrap_err();
    assert!(
        err.to_string().contains("held by another embedded reactor"),
        "{err}"
    );
    // Unusable ranges keep their own error.
    assert!(matches!(
        host.reactor(20..20),
        Err(Error::Loop(LoopError::TokenRange { .. }))
    ));

    // Adjacent ranges are fine.
    let below = host.reactor(10..1000).unwrap();
    let above = host.reactor(1100..1200).unwrap();
    assert_eq!(
        host.ranges(),
        [
            (0..10, true),
            (1000..1100, false),
            (10..1000, false),
            (1100..1200, false)
        ]
    );

    // A range is held as long as anything holds its reactor: here a client.
    let client = Client::builder("127.0.0.1:1")
        .handler(first.clone())
        .build_with()
        .unwrap();
    drop(first);
    assert!(matches!(
        host.reactor(1000..1100),
        Err(Error::Loop(LoopError::TokenCollision { .. }))
    ));
    drop(client);
    let again = host
        .reactor(1000..1100)
        .expect("the range is free once its reactor is gone");
    drop((below, above, again));
    assert_eq!(host.ranges(), [(0..10, true)]);
}

#[test]
fn run_timers_and_run_callbacks_are_the_two_halves_of_run_pending() {
    let poll = Poll::new().unwrap();
    let host = EmbeddedHost::new(poll.registry()).unwrap();
    let r = host.reactor(10..20).unwrap();
    assert_eq!(host.next_timeout(), None, "nothing to wait for but I/O");
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    r.call_soon(move || l.borrow_mut().push("callback"));
    let (l, r2) = (log.clone(), r.clone());
    r.set_timeout(Duration::ZERO, move || {
        l.borrow_mut().push("timer");
        let l = l.clone();
        r2.call_soon(move || l.borrow_mut().push("queued by the timer"));
    });
    assert_eq!(host.next_timeout(), Some(Duration::ZERO));
    assert!(host.run_timers().unwrap());
    assert_eq!(*log.borrow(), ["timer"]);
    assert!(host.run_callbacks().unwrap());
    assert_eq!(*log.borrow(), ["timer", "callback", "queued by the timer"]);
    assert!(!host.run_callbacks().unwrap() && !host.run_timers().unwrap());
    assert!(!host.run_pending().unwrap());
    assert_eq!(host.next_timeout(), None);
    // The host's timeout is the nearest of its reactors' deadlines.
    let other = host.reactor(20..30).unwrap();
    other.set_timeout(Duration::from_secs(60), || {});
    r.set_timeout(Duration::from_secs(5), || {});
    let t = host.next_timeout().unwrap();
    assert!(
        t <= Duration::from_secs(5) && t > Duration::from_secs(4),
        "{t:?}"
    );
}

#[test]
fn blocking_calls_are_refused_before_anything_is_sent() {
    let zk = ZkServer::start().expect("a server");
    let mut host = Host::new();
    let client = embedded_client(&host, 1000..1010, &zk);

    // Refused before connecting, too.
    let err = client.start(Some(Duration::from_secs(1))).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Loop(LoopError::Embedded {
                what: "Client::start"
            })
        ),
        "{err}"
    );
    assert_eq!(
        client.state(),
        ClientState::Lost,
        "a refused start started nothing"
    );

    let started = client.start_async().unwrap();
    host.run_until("connected", |_| started.ready());

    let err = client.get("/", None).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            Error::Loop(LoopError::Embedded {
                what: "Client::get"
            })
        ),
        "{msg}"
    );
    for needle in [
        "Client::get",
        "embedded",
        "*_async",
        "handle_event",
        "run_pending",
    ] {
        assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
    }

    // A refused write has no effect on the server.
    assert!(matches!(
        client.create("/refused", b"", CreateMode::Persistent),
        Err(Error::Loop(LoopError::Embedded { .. }))
    ));
    assert!(matches!(
        client
            .transaction()
            .create("/refused-txn", b"", CreateMode::Persistent)
            .commit(),
        Err(Error::Loop(LoopError::Embedded {
            what: "Transaction::commit"
        }))
    ));
    assert!(matches!(
        client.stop(),
        Err(Error::Loop(LoopError::Embedded {
            what: "Client::stop"
        }))
    ));
    assert!(client.connected(), "a refused stop left the session alone");
    assert!(matches!(
        client.handler().sleep(Duration::from_millis(1)),
        Err(Error::Loop(LoopError::Embedded { .. }))
    ));
    let r = client.exists_async("/refused", None);
    assert!(matches!(
        r.get(true, None),
        Err(Error::Loop(LoopError::Embedded { .. }))
    ));
    let r2 = client.exists_async("/refused-txn", None);
    host.run_until("the exists calls", |_| r.ready() && r2.ready());
    assert_eq!(
        r.get_nowait().unwrap(),
        None,
        "the refused create was not sent"
    );
    assert_eq!(
        r2.get_nowait().unwrap(),
        None,
        "the refused transaction was not sent"
    );

    let stopped = client.stop_async();
    host.run_until("stopped", |_| stopped.ready());
}

#[test]
fn embed_mio_example_answers_from_zookeeper_and_cleans_up() {
    let zk = ZkServer::start().expect("a server");
    let lines = embed_mio::run(Some(&zk.connect_string())).expect("the example runs");
    let text = lines.join("\n");
    assert!(text.contains("registered /services/kv/"), "{text}");
    assert!(
        text.contains("GET greeting -> hello from zookeeper"),
        "{text}"
    );
    assert!(text.contains("GET missing -> (none)"), "{text}");
    assert!(text.contains("PUT greeting -> ok"), "{text}");
    assert!(text.contains("GET greeting -> updated"), "{text}");
    assert!(
        text.contains("[watch] NodeDataChanged /values/greeting"),
        "{text}"
    );
    assert!(text.contains("the ephemeral node is gone"), "{text}");
}

#[test]
fn poll_once_example_drives_its_own_work_and_the_client_in_one_loop() {
    let zk = ZkServer::start().expect("a server");
    let lines = poll_once::run(Some(&zk.connect_string())).expect("the example runs");
    let find = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{}", lines.join("\n")))
    };
    // The caller's timers in deadline order, its task, its echo.
    assert!(find("the 10 ms timer") < find("the 20 ms timer"));
    assert!(find("the 20 ms timer") < find("the 30 ms timer"));
    find("[task] a spawned closure ran");
    find("[echo] client read back 22 bytes");
    find("[async] got 42");
    // The client's async calls, its watch (before the set that caused it completed), its task.
    let watch = find("[zk] watch: NodeDataChanged /mio-zookeeper-poll-once-");
    assert!(watch < find("= 1 (version 1)"), "{lines:?}");
    find("[zk] task: read back \"3\"; the parent has [\"counter\"]");
    find("[zk] the task finished, after the watch fired");
    find("[zk] removed /mio-zookeeper-poll-once-");
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("[loop] finished") && last.ends_with("returned Ok(42)"),
        "{last}"
    );
}
