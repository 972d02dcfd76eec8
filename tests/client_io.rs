//! Nothing blocks the loop (issue #10 §4, §5): name lookups run off the loop and every
//! address of a name is tried; four-letter words run on the loop (and work embedded); a
//! firehose of notifications does not starve the loop's timers.

use mio_zookeeper::{Client, ClientState, EmbeddedHost, Error, LoopError, MioHandler, Resolver};
use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mio::{Events, Poll};
use mio_zookeeper::handler::Reactor;
use mio_zookeeper::proto::{
    encode_connect_response, encode_notification, ConnectResponse, EventType, KeeperState,
    WatcherEvent,
};
use mio_zookeeper::testing::ZkServer;

/// Generous bound for anything that waits on a server (2 shared cores, many tests).
const PATIENCE: Duration = Duration::from_secs(60);

/// A port on 127.0.0.1 that refuses connections (bound, then closed).
fn refusing_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Counts the ticks of a repeating timer on `reactor` (every `every`), so a test can see
/// whether the loop kept running.
fn ticker(reactor: &Reactor, every: Duration) -> Rc<Cell<u32>> {
    fn arm(reactor: &Reactor, every: Duration, count: Rc<Cell<u32>>) {
        let r = reactor.clone();
        let weak = Rc::downgrade(&count);
        reactor.set_timeout(every, move || {
            if let Some(c) = weak.upgrade() {
                c.set(c.get() + 1);
                arm(&r, every, c);
            }
        });
    }
    let count = Rc::new(Cell::new(0));
    arm(reactor, every, count.clone());
    count
}

// ----------------------------------------------------------------------------- DNS

#[test]
fn a_name_whose_first_addresses_refuse_connects_to_a_later_one() {
    let zk = ZkServer::start().expect("a server");
    let server = zk.addr();
    // As a `localhost` that resolves to ::1 first while the server listens on 127.0.0.1
    // only, plus a dead address, before the server's own.
    let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, server.port()));
    let addrs = vec![v6, refusing_addr(), server];
    let asked = Arc::new(Mutex::new(Vec::new()));
    let a = asked.clone();
    let resolver = Resolver::new(move |host, port| {
        a.lock().unwrap().push((host.to_string(), port));
        Ok(addrs.clone())
    });
    let client = Client::builder(&format!("zk.example:{}", server.port()))
        .resolver(resolver)
        .build()
        .unwrap();
    client.start(Some(PATIENCE)).unwrap();
    assert_eq!(client.state(), ClientState::Connected);
    client.exists("/", None).unwrap().expect("the root exists");
    assert_eq!(
        asked.lock().unwrap().first(),
        Some(&("zk.example".to_string(), server.port()))
    );
    client.stop().unwrap();
}

/// An address that neither accepts nor refuses: a listener with a backlog of 0 whose one
/// slot is taken, so further connection attempts hang (their SYNs are dropped). Keep the
/// returned values alive as long as the address must stay a black hole.
#[cfg(target_os = "linux")]
fn black_hole() -> (SocketAddr, TcpListener, TcpStream) {
    use std::os::fd::AsRawFd;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: `l` is a valid listening socket for the duration of the call; listen() on it
    // again only changes its backlog.
    assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 0) }, 0);
    let addr = l.local_addr().unwrap();
    let taken = TcpStream::connect(addr).unwrap();
    (addr, l, taken)
}

#[cfg(target_os = "linux")]
#[test]
fn an_address_that_never_answers_does_not_use_up_the_hosts_connect_timeout() {
    let zk = ZkServer::start().expect("a server");
    let server = zk.addr();
    let (hole, _l, _taken) = black_hole();
    // A name whose first address is a black hole: with one host, the session gives the host
    // its whole connect timeout (T); the black hole must get only its share of it, so the
    // second address is reached within the first pass, every pass.
    let resolver = Resolver::new(move |_, _| Ok(vec![hole, server]));
    let client = Client::builder(&format!("zk.example:{}", server.port()))
        .session_timeout(Duration::from_secs(4))
        .resolver(resolver)
        .build()
        .unwrap();
    let start = Instant::now();
    client.start(Some(PATIENCE)).unwrap();
    assert!(start.elapsed() < PATIENCE);
    client.stop().unwrap();
}

#[test]
fn a_name_is_resolved_again_on_every_pass_over_the_host_list() {
    let zk = ZkServer::start().expect("a server");
    let server = zk.addr();
    // The name points nowhere at first (a headless service whose pod is not up yet), then
    // at the server: the client must ask again rather than keep the first answer.
    let asked = Arc::new(AtomicU64::new(0));
    let a = asked.clone();
    let resolver = Resolver::new(move |_, _| {
        let n = a.fetch_add(1, Ordering::SeqCst);
        Ok(vec![if n < 2 { refusing_addr() } else { server }])
    });
    let client = Client::builder(&format!("zk.example:{}", server.port()))
        .connection_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .resolver(resolver)
        .build()
        .unwrap();
    client.start(Some(PATIENCE)).unwrap();
    assert!(asked.load(Ordering::SeqCst) >= 3);
    client.stop().unwrap();
}

#[test]
fn a_slow_name_lookup_does_not_block_the_loop() {
    let zk = ZkServer::start().expect("a server");
    let server = zk.addr();
    let lookup = Duration::from_secs(4);
    let resolver = Resolver::new(move |_, _| {
        thread::sleep(lookup);
        Ok(vec![server])
    });
    // Another client on the same loop, already connected, must keep its session going.
    let handler = MioHandler::new().unwrap();
    let other = Client::builder(&zk.connect_string())
        .handler(handler.clone())
        .build_with()
        .unwrap();
    other.start(Some(PATIENCE)).unwrap();
    let slow = Client::builder(&format!("zk.example:{}", server.port()))
        .resolver(resolver)
        .handler(handler.clone())
        .build_with()
        .unwrap();
    let ticks = ticker(handler.reactor(), Duration::from_millis(20));
    let start = Instant::now();
    let started = slow.start_async().unwrap();
    // While the lookup sleeps, the loop runs: the timer ticks and the other client works.
    let reply = other.exists_async("/", None);
    handler
        .reactor()
        .run_until(&|| reply.ready(), Some(PATIENCE))
        .unwrap();
    assert!(
        start.elapsed() < lookup,
        "a request on another client waited for the lookup ({:?})",
        start.elapsed()
    );
    assert!(reply.get_nowait().unwrap().is_some());
    handler
        .reactor()
        .run_until(&|| started.ready(), Some(PATIENCE))
        .unwrap();
    started.get_nowait().unwrap();
    let elapsed = start.elapsed();
    // A 20 ms timer over a 4 s lookup: far more than a handful of ticks even under load,
    // and exactly none if the lookup ran on the loop.
    assert!(
        ticks.get() >= 10,
        "{} ticks in {elapsed:?}: the loop was blocked",
        ticks.get()
    );
    slow.stop().unwrap();
    other.stop().unwrap();
}

// ----------------------------------------------------------------------------- a fake server

/// What the fake server does after the handshake of its first connection.
#[derive(Clone, Copy, PartialEq)]
enum After {
    /// Nothing (it reads and drops what the client sends).
    Idle,
    /// Sends data-changed notifications as fast as it can, until stopped or `FLOOD_FOR`.
    Flood,
}

/// The most a flood lasts, whatever happens to the test.
const FLOOD_FOR: Duration = Duration::from_secs(20);

/// A ZooKeeper server that answers one handshake, then idles or floods; every later
/// connection is accepted and left without a word (a server that never answers a
/// four-letter word). Stopped on drop.
struct FakeServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    /// The flood is on (it began and has not ended).
    flooding: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeServer {
    fn start(after: After) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let flooding = Arc::new(AtomicBool::new(false));
        let (st, se, fl) = (stop.clone(), sent.clone(), flooding.clone());
        let thread = thread::spawn(move || {
            let mut silent = Vec::new();
            let mut first = true;
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                if !first {
                    silent.push(conn);
                    continue;
                }
                first = false;
                let (st, se, fl) = (st.clone(), se.clone(), fl.clone());
                thread::spawn(move || serve(conn, after, &st, &se, &fl));
            }
        });
        FakeServer {
            addr,
            stop,
            sent,
            flooding,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_frame(conn: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    conn.read_exact(&mut len)?;
    let len = i32::from_be_bytes(len);
    let mut body = vec![0u8; usize::try_from(len).unwrap_or(0)];
    conn.read_exact(&mut body)?;
    Ok(body)
}

fn serve(
    mut conn: TcpStream,
    after: After,
    stop: &AtomicBool,
    sent: &AtomicU64,
    flooding: &AtomicBool,
) {
    if read_frame(&mut conn).is_err() {
        return;
    }
    let mut out = BytesMut::new();
    encode_connect_response(
        &ConnectResponse {
            protocol_version: 0,
            timeout_ms: 30_000,
            session_id: 0x1234,
            passwd: Bytes::from_static(&[7; 16]),
            read_only: Some(false),
        },
        &mut out,
    );
    if conn.write_all(&out).is_err() {
        return;
    }
    // Drain what the client sends (pings, closeSession), so it never blocks writing.
    if let Ok(mut r) = conn.try_clone() {
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while matches!(r.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
    if after == After::Idle {
        while !stop.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(20));
        }
        return;
    }
    let mut chunk = BytesMut::new();
    let event = WatcherEvent {
        event_type: EventType::NodeDataChanged,
        state: KeeperState::SyncConnected,
        path: format!("/flood/{}", "x".repeat(200)),
    };
    while chunk.len() < 1 << 20 {
        encode_notification(-1, &event, &mut chunk);
    }
    let until = Instant::now() + FLOOD_FOR;
    flooding.store(true, Ordering::SeqCst);
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        if conn.write_all(&chunk).is_err() {
            break;
        }
        sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    flooding.store(false, Ordering::SeqCst);
}

// ----------------------------------------------------------------------------- read budget

#[test]
fn a_flood_of_notifications_does_not_starve_the_loops_timers() {
    let fake = FakeServer::start(After::Flood);
    let handler = MioHandler::new().unwrap();
    let client = Client::builder(&fake.addr.to_string())
        .handler(handler.clone())
        .build_with()
        .unwrap();
    let reactor = handler.reactor().clone();
    let start = Instant::now();
    let started = client.start_async().unwrap();
    reactor
        .run_until(&|| started.ready(), Some(PATIENCE))
        .unwrap();
    started.get_nowait().unwrap();
    // The flood is on: the client reads notifications as fast as it can. A timer on the
    // same loop must still fire, many times, long before the flood ends.
    // (Without a read budget: 3 ticks in 32 s, the whole flood.)
    let ticks = ticker(&reactor, Duration::from_millis(10));
    let since = Instant::now();
    let res = reactor.run_until(&|| ticks.get() >= 10, Some(Duration::from_secs(15)));
    let waited = since.elapsed();
    let flooded = fake.sent.load(Ordering::Relaxed);
    assert!(
        res.is_ok() && waited < Duration::from_secs(15),
        "{} of 10 ticks of a 10 ms timer in {waited:?} ({flooded} bytes flooded since \
         {:?}): the reads starved the timers",
        ticks.get(),
        start.elapsed()
    );
    assert!(flooded > 0, "the fake server never flooded");
    // ... while the flood was on (not after it ended, which a starved loop would see too).
    assert!(
        fake.flooding.load(Ordering::SeqCst),
        "the flood ended ({:?} after the start) before the timer could fire",
        start.elapsed()
    );
    // The client stays responsive: its state is still connected, the loop takes new work.
    assert_eq!(client.state(), ClientState::Connected);
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    reactor.call_soon(move || d.set(true));
    reactor
        .run_until(&|| done.get(), Some(Duration::from_secs(10)))
        .unwrap();
    drop(fake);
    drop(client);
}

// ----------------------------------------------------------------------------- four-letter words

#[test]
fn a_four_letter_word_nobody_answers_times_out_without_blocking_the_loop() {
    let fake = FakeServer::start(After::Idle);
    let handler = MioHandler::new().unwrap();
    let client = Client::builder(&fake.addr.to_string())
        .handler(handler.clone())
        .build_with()
        .unwrap();
    client.start(Some(PATIENCE)).unwrap();
    let reactor = handler.reactor().clone();
    let ticks = ticker(&reactor, Duration::from_millis(20));
    let start = Instant::now();
    let answer = client
        .with_timeout(Some(Duration::from_secs(1)))
        .command_async("ruok");
    reactor
        .run_until(&|| answer.ready(), Some(PATIENCE))
        .unwrap();
    let elapsed = start.elapsed();
    let err = answer.get_nowait().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(
        ticks.get() >= 10,
        "{} ticks of a 20 ms timer while the word waited {elapsed:?}",
        ticks.get()
    );
    // The blocking form is the same wait, and fails the same way.
    let err = client
        .with_timeout(Some(Duration::from_millis(300)))
        .command("ruok")
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    drop(client);
}

/// A host application's own poll with one embedded client.
fn embedded(zk: &ZkServer) -> (Poll, EmbeddedHost, Client) {
    let poll = Poll::new().unwrap();
    let host = EmbeddedHost::new(poll.registry()).unwrap();
    let handler = MioHandler::embedded_in(&host, 100..200).unwrap();
    let client = Client::builder(&zk.connect_string())
        .handler(handler)
        .build_with()
        .unwrap();
    (poll, host, client)
}

fn host_run_until(poll: &mut Poll, host: &EmbeddedHost, what: &str, done: impl Fn() -> bool) {
    let mut events = Events::with_capacity(64);
    let give_up = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < give_up, "the host loop never saw: {what}");
        let wait = host.next_timeout().map_or(Duration::from_millis(100), |t| {
            t.min(Duration::from_millis(100))
        });
        poll.poll(&mut events, Some(wait)).unwrap();
        for ev in events.iter() {
            host.handle_event(ev);
        }
        host.run_pending().unwrap();
    }
}

#[test]
fn four_letter_words_work_embedded_and_the_blocking_form_is_refused() {
    let zk = ZkServer::start().expect("a server");
    let (mut poll, host, client) = embedded(&zk);
    let started = client.start_async().unwrap();
    host_run_until(&mut poll, &host, "connected", || started.ready());
    started.get_nowait().unwrap();

    let ruok = client.command_async("ruok");
    let version = client.server_version_async();
    host_run_until(&mut poll, &host, "the answers", || {
        ruok.ready() && version.ready()
    });
    assert_eq!(ruok.get_nowait().unwrap(), "imok");
    let (major, minor, _) = version.get_nowait().unwrap();
    assert!((major, minor) >= (3, 5), "{major}.{minor}");

    // The blocking forms would have to drive a loop only the host drives.
    assert!(matches!(
        client.command("ruok"),
        Err(Error::Loop(LoopError::Embedded {
            what: "Client::command"
        }))
    ));
    assert!(matches!(
        client.server_version(),
        Err(Error::Loop(LoopError::Embedded { .. }))
    ));
    let stopped = client.stop_async();
    host_run_until(&mut poll, &host, "stopped", || stopped.ready());
}

#[test]
fn a_name_is_resolved_off_an_embedded_loop() {
    let zk = ZkServer::start().expect("a server");
    let server = zk.addr();
    let poll = Poll::new().unwrap();
    let host = EmbeddedHost::new(poll.registry()).unwrap();
    let handler = MioHandler::embedded_in(&host, 100..200).unwrap();
    let resolver = Resolver::new(move |_, _| {
        thread::sleep(Duration::from_millis(300));
        Ok(vec![refusing_addr(), server])
    });
    let client = Client::builder(&format!("zk.example:{}", server.port()))
        .resolver(resolver)
        .handler(handler)
        .build_with()
        .unwrap();
    let mut poll = poll;
    let started = client.start_async().unwrap();
    host_run_until(&mut poll, &host, "connected", || started.ready());
    started.get_nowait().unwrap();
    let stopped = client.stop_async();
    host_run_until(&mut poll, &host, "stopped", || stopped.ready());
}
