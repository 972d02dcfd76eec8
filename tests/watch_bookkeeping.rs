//! Watch bookkeeping (issue #10 §5, §6): a blocking watch call that timed out registers
//! nothing when its reply comes late; the same [`Watcher`] registered again on a path is
//! stored once and called once per event; `remove_watches` answered with NoWatcher removes
//! the local watchers too.

mod client_support;

use mio_zookeeper::{AddWatchMode, Client, ClientState, CreateMode, ErrorCode, Stat, WhenOffline};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use client_support::*;
use mio_zookeeper::proto::{
    decode_request, encode_connect_response, encode_reply, ConnectResponse, ReplyHeader, Request,
    Response, WatcherType,
};
use mio_zookeeper::testing::Proxy;

/// Long enough for a notification that should NOT come to have arrived (the server sends
/// them before the reply of the change that causes them).
fn no_more(c: &Client) {
    c.sync("/").unwrap();
    settle(c, Duration::from_millis(100));
}

/// A started client on `hosts` with the longest session the harness grants, so that a
/// short server freeze stays well inside the read timeout (2T/3).
fn patient_client(hosts: &str) -> Client {
    let c = Client::builder(hosts)
        .session_timeout(Duration::from_secs(10))
        .request_timeout(Some(WAIT))
        .connection_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    c.start(Some(WAIT)).unwrap();
    c
}

#[track_caller]
fn timed_out<T: std::fmt::Debug>(what: &str, r: Result<T, mio_zookeeper::Error>) {
    match r {
        Err(e) if e.is_timeout() => {}
        other => panic!("{what}: expected a timeout, got {other:?}"),
    }
}

#[test]
fn a_watch_call_that_timed_out_registers_nothing_when_its_reply_comes_late() {
    let mut zk = server();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = patient_client(&proxy.connect_string());
    let other = client(&zk.connect_string());
    c.create("/n", b"", CreateMode::Persistent).unwrap();
    let states = record_states(&c);
    let log = Log::new();

    // The server is frozen: every call gives up after its per-call timeout, and each kind
    // of watch call is tried.
    zk.pause().unwrap();
    let quick = c.with_timeout(Some(Duration::from_millis(200)));
    timed_out("get_watch", quick.get("/n", log.watcher("get")));
    timed_out("exists_watch", quick.exists("/n", log.watcher("exists")));
    timed_out(
        "get_children_watch",
        quick.get_children("/n", log.watcher("children")),
    );
    timed_out(
        "add_watch",
        quick.add_watch("/n", AddWatchMode::Persistent, log.watcher("persistent")),
    );
    timed_out(
        "add_watch recursive",
        quick.add_watch(
            "/n",
            AddWatchMode::PersistentRecursive,
            log.watcher("recursive"),
        ),
    );
    zk.resume().unwrap();

    // The replies come late, on the same connection, and succeed on the server.
    wait_for(&c, "the late replies", || c.pending_requests() == 0);
    assert!(
        states.borrow().is_empty(),
        "the freeze outlasted the read timeout ({:?}): no late reply to test",
        states.borrow()
    );
    assert_eq!(c.watch_count(), 0, "the callers saw the calls fail");

    // Every kind of watch would fire now: none of the withdrawn watchers is called.
    other.set("/n", b"x", None).unwrap();
    other.create("/n/kid", b"", CreateMode::Persistent).unwrap();
    no_more(&c);
    assert!(log.is_empty(), "{:?}", log.get());

    // The session forgot those watches: after a reconnect it re-registers none of them.
    proxy.drop_connections();
    wait_for(&c, "a reconnect", || {
        states
            .borrow()
            .ends_with(&[ClientState::Suspended, ClientState::Connected])
    });
    // A round trip: whatever the reconnect re-registered (SetWatches goes first) is in.
    c.sync("/").unwrap();
    let watching = || zk.four_letter("wchs").unwrap_or_default();
    wait_for(&c, "no watch left on the server", || {
        watching().contains("Total watches:0")
    });
    other.set("/n", b"y", None).unwrap();
    no_more(&c);
    assert!(log.is_empty(), "{:?}", log.get());
    c.stop().unwrap();
}

#[test]
fn polling_with_the_same_watcher_keeps_one_registration_that_fires_once() {
    let zk = server();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    c.create("/p", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    let w = log.watcher("w");
    for _ in 0..1000 {
        c.get("/p", w.clone()).unwrap();
    }
    assert_eq!(c.watch_count(), 1);
    other.set("/p", b"x", None).unwrap();
    wait_for(&c, "the watch", || log.len() == 1);
    no_more(&c);
    assert_eq!(log.get(), ["w NodeDataChanged /p"]);
    assert_eq!(c.watch_count(), 0);

    // The same for exists, children and persistent watches.
    for _ in 0..10 {
        c.exists("/q", w.clone()).unwrap();
        c.get_children("/p", w.clone()).unwrap();
        c.add_watch("/r", AddWatchMode::Persistent, w.clone())
            .unwrap();
        c.add_watch("/r", AddWatchMode::PersistentRecursive, w.clone())
            .unwrap();
    }
    assert_eq!(c.watch_count(), 4, "one per path and kind");
    c.stop().unwrap();
}

#[test]
fn distinct_watchers_on_one_path_each_fire_and_one_watcher_fires_once_per_event() {
    let zk = server();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    c.create("/d", b"", CreateMode::Persistent).unwrap();
    let log = Log::new();
    let a = log.watcher("a");
    let b = log.watcher("b");
    c.get("/d", a.clone()).unwrap();
    c.get("/d", b.clone()).unwrap();
    // A closure converts into a new watcher each time: two of them.
    c.get("/d", log.watcher("c")).unwrap();
    c.get("/d", log.watcher("c")).unwrap();
    assert_eq!(c.watch_count(), 4);
    other.set("/d", b"x", None).unwrap();
    wait_for(&c, "four watchers", || log.len() == 4);
    let mut got = log.get();
    got.sort();
    assert_eq!(
        got,
        [
            "a NodeDataChanged /d",
            "b NodeDataChanged /d",
            "c NodeDataChanged /d",
            "c NodeDataChanged /d"
        ]
    );

    // One watcher as a data, a child and a recursive watch: a delete triggers all three
    // kinds, and it is called once.
    log.clear();
    c.get("/d", a.clone()).unwrap();
    c.get_children("/d", a.clone()).unwrap();
    c.add_watch("/", AddWatchMode::PersistentRecursive, a.clone())
        .unwrap();
    assert_eq!(c.watch_count(), 3);
    other.delete("/d", None).unwrap();
    wait_for(&c, "the delete", || !log.is_empty());
    no_more(&c);
    assert_eq!(log.get(), ["a NodeDeleted /d"]);
    assert_eq!(c.watch_count(), 1, "the recursive watch stays");
    c.stop().unwrap();
}

// ------------------------------------------------------------------ NoWatcher

/// What a [`FakeServer`] was sent, per connection: the requests' opcodes.
type Seen = Arc<Mutex<Vec<Vec<String>>>>;

/// A scripted stand-in for ZooKeeper that has lost this session's watches: it accepts
/// every connection into session 0x5eed, answers getData and exists with an empty node,
/// removeWatches with NoWatcher (then closes the connection), anything else with an empty
/// success. A real server answers NoWatcher while the client still holds watchers only when
/// their server side was lost (a failed SetWatches, a server that dropped them): this
/// stages that deterministically.
struct FakeServer {
    addr: SocketAddr,
    seen: Seen,
}

impl FakeServer {
    fn start() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Seen::default();
        let s = seen.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let _ = serve(&mut conn, &s);
            }
        });
        FakeServer { addr, seen }
    }

    fn seen(&self) -> Vec<Vec<String>> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_frame(s: &mut TcpStream) -> io::Result<Bytes> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let len = usize::try_from(i32::from_be_bytes(len))
        .ok()
        .filter(|n| *n <= 1 << 20)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad frame length"))?;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok(Bytes::from(body))
}

fn serve(s: &mut TcpStream, seen: &Seen) -> io::Result<()> {
    read_frame(s)?; // the ConnectRequest
    let mut out = BytesMut::new();
    encode_connect_response(
        &ConnectResponse {
            protocol_version: 0,
            timeout_ms: 10_000,
            session_id: 0x5eed,
            passwd: Bytes::from_static(&[7; 16]),
            read_only: Some(false),
        },
        &mut out,
    );
    s.write_all(&out)?;
    seen.lock().unwrap().push(Vec::new());
    loop {
        let frame = read_frame(s)?;
        let Ok((header, req)) = decode_request(&frame) else {
            return Ok(());
        };
        if let Some(conn) = seen.lock().unwrap().last_mut() {
            conn.push(format!("{:?}", req.op_code()));
        }
        let (err, resp, then_close) = match req {
            Request::GetData(_) => (
                ErrorCode::Ok,
                Response::GetData {
                    data: Some(Bytes::from_static(b"x")),
                    stat: Stat::default(),
                },
                false,
            ),
            Request::Exists(_) => (ErrorCode::Ok, Response::Stat(Stat::default()), false),
            Request::RemoveWatches(_) => (ErrorCode::NoWatcher, Response::Empty, true),
            Request::CloseSession => (ErrorCode::Ok, Response::Empty, true),
            _ => (ErrorCode::Ok, Response::Empty, false),
        };
        out.clear();
        let header = ReplyHeader {
            xid: header.xid,
            zxid: 1,
            err,
        };
        encode_reply(&header, &resp, &mut out);
        s.write_all(&out)?;
        if then_close {
            return Ok(());
        }
    }
}

#[test]
fn remove_watches_answered_no_watcher_removes_the_local_watchers() {
    let fake = FakeServer::start();
    let c = patient_client(&fake.addr.to_string());
    let log = Log::new();
    c.get("/a", log.watcher("get")).unwrap();
    c.exists("/a", log.watcher("exists")).unwrap();
    assert_eq!(c.watch_count(), 2);

    // The caller still gets the error...
    assert_zk(
        c.remove_watches("/a", WatcherType::Data, WhenOffline::Wait),
        ErrorCode::NoWatcher,
        "/a",
    );
    // ...and the watchers that waited for events that never come are removed, each told.
    wait_for(&c, "the removal events", || log.len() == 2);
    let mut got = log.get();
    got.sort();
    assert_eq!(
        got,
        ["exists DataWatchRemoved /a", "get DataWatchRemoved /a"]
    );
    assert_eq!(c.watch_count(), 0);

    // The server closed the connection after answering: the session resumes on a new one
    // and re-registers nothing (no SetWatches before the next request).
    wait_for(&c, "the second connection", || {
        fake.seen().len() == 2 && c.connected()
    });
    c.get("/b", None).unwrap();
    let seen = fake.seen();
    assert!(seen[1].contains(&"GetData".to_string()), "{seen:?}");
    assert!(
        !seen[1].iter().any(|op| op.starts_with("SetWatches")),
        "{seen:?}"
    );
    c.stop().unwrap();
}
