//! No silent loss, against a real server: a request's error says whether it may have been
//! applied, and a refused credential does not poison later sessions (issue #10 §6).

mod client_support;

use bytes::Bytes;
use client_support::*;
use mio_zookeeper::{
    ClientState, CreateMode, CreateOptions, Error, Handler, SessionState, Watcher,
};

/// A credential the server refused (an unknown scheme: AuthFailed) ends that session, but
/// is not sent again: `restart()` opens a session that works.
#[test]
fn a_refused_add_auth_is_not_replayed_into_the_next_session() {
    let zk = server();
    let c = client(&zk.connect_string());
    let r = c.add_auth("no-such-scheme", b"whatever");
    assert!(matches!(r, Err(Error::AuthFailed)), "{r:?}");
    assert_eq!(c.session_state(), SessionState::AuthFailed);
    c.restart()
        .expect("a new session without the refused credential");
    assert_eq!(c.state(), ClientState::Connected);
    c.create("/after", b"x", CreateMode::Persistent)
        .expect("the new session works");
    assert!(c.exists("/after", None).unwrap().is_some());
}

/// `stop()` while creates are in flight (kazoo's shutdown order: the handler first, so
/// nothing more is read): every create reported `ConnectionClosed` ("not sent") is absent
/// from the server, every create reported `Ok` is present, and the others failed with
/// `ConnectionLoss` (outcome unknown).
#[test]
fn stop_reports_written_requests_as_connection_loss_and_unsent_ones_as_closed() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/loss", b"", CreateMode::Persistent).unwrap();
    // Enough bytes that some may still sit in the client's buffer when it stops.
    let payload = Bytes::from(vec![7u8; 16 * 1024]);
    let n = 300;
    let results: Vec<_> = (0..n)
        .map(|i| {
            c.create_async(
                &format!("/loss/n{i}"),
                payload.clone(),
                CreateOptions::default(),
            )
        })
        .collect();
    // Run the loop until the server answered the first create: the batch has been written
    // (as far as the socket took it) and the server is busy applying it.
    results[0].wait(Some(WAIT)).unwrap();
    c.handler().stop().unwrap();
    let _ = c.stop();
    let (mut ok, mut loss, mut closed) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in results.iter().enumerate() {
        assert!(r.ready(), "create {i} completed");
        match r.get_nowait() {
            Ok(_) => ok.push(i),
            Err(Error::ConnectionLoss) => {
                assert!(Error::ConnectionLoss.may_have_been_applied());
                loss.push(i);
            }
            Err(Error::ConnectionClosed) => closed.push(i),
            Err(e) => panic!("create {i}: unexpected {e:?}"),
        }
    }
    eprintln!(
        "{} ok, {} connection loss, {} closed",
        ok.len(),
        loss.len(),
        closed.len()
    );
    assert!(!ok.is_empty(), "the first create succeeded");
    // Check from a second client, once the first session's requests are all processed (its
    // closeSession went out behind them; sync orders our reads after them).
    c.handler().start().unwrap();
    let check = client(&zk.connect_string());
    check.sync("/loss").unwrap();
    for i in &closed {
        assert!(
            check
                .exists(&format!("/loss/n{i}"), None)
                .unwrap()
                .is_none(),
            "create {i} was reported ConnectionClosed (not sent) but exists"
        );
    }
    for i in &ok {
        assert!(
            check
                .exists(&format!("/loss/n{i}"), None)
                .unwrap()
                .is_some(),
            "create {i} was reported Ok but does not exist"
        );
    }
}

/// A fake server on a free port: the first connection answers the handshake and the
/// requests, then drops after the first `getData`; the next ones answer the handshake
/// (same session) and refuse SetWatches with MarshallingError. It serves until the test
/// ends (the thread dies with the listener's last connection).
fn server_refusing_set_watches() -> std::net::SocketAddr {
    use bytes::BytesMut;
    use mio_zookeeper::proto::{
        decode_request, encode_connect_response, encode_reply, ConnectResponse, ErrorCode,
        ReplyHeader, Request, Response, Stat,
    };
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    fn read_frame(s: &mut TcpStream) -> Option<Bytes> {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).ok()?;
        let mut body = vec![0u8; i32::from_be_bytes(len).clamp(0, 1 << 20) as usize];
        s.read_exact(&mut body).ok()?;
        Some(Bytes::from(body))
    }
    fn send(s: &mut TcpStream, b: BytesMut) -> Option<()> {
        s.write_all(&b).ok()
    }

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut s) = conn else { return };
            let mut serve = || -> Option<()> {
                read_frame(&mut s)?; // ConnectRequest
                let mut b = BytesMut::new();
                encode_connect_response(
                    &ConnectResponse {
                        protocol_version: 0,
                        timeout_ms: 4000,
                        session_id: 0x4242,
                        passwd: Bytes::from_static(&[1; 16]),
                        read_only: Some(false),
                    },
                    &mut b,
                );
                send(&mut s, b)?;
                loop {
                    let f = read_frame(&mut s)?;
                    let (h, req) = decode_request(&f).ok()?;
                    let (err, resp) = match req {
                        Request::GetData(_) => (
                            ErrorCode::Ok,
                            Response::GetData {
                                data: Some(Bytes::from_static(b"v")),
                                stat: Stat::default(),
                            },
                        ),
                        Request::SetWatches(_) | Request::SetWatches2(_) => {
                            (ErrorCode::MarshallingError, Response::Empty)
                        }
                        _ => (ErrorCode::Ok, Response::Empty),
                    };
                    let mut b = BytesMut::new();
                    let header = ReplyHeader {
                        xid: h.xid,
                        zxid: 7,
                        err,
                    };
                    encode_reply(&header, &resp, &mut b);
                    send(&mut s, b)?;
                    if n == 0 && matches!(req, Request::GetData(_)) {
                        return None; // drop the first connection: the client reconnects
                    }
                }
            };
            let _ = serve();
        }
    });
    addr
}

/// The server refuses to re-register a one-shot watch after a reconnect (SetWatches fails):
/// its watcher is told to re-read (`None`, `SyncConnected`, its path) instead of waiting
/// for an event that never comes.
#[test]
fn a_refused_set_watches_tells_the_watcher_to_re_read() {
    use mio_zookeeper::{Client, WatchedEvent};
    use mio_zookeeper::{EventType, KeeperState};
    use std::cell::RefCell;
    use std::rc::Rc;

    let addr = server_refusing_set_watches();
    let c = Client::builder(&addr.to_string())
        .session_timeout(SESSION)
        .connection_backoff(
            std::time::Duration::from_millis(20),
            std::time::Duration::from_millis(200),
        )
        .build()
        .unwrap();
    c.start(Some(WAIT)).unwrap();
    let seen: Rc<RefCell<Vec<WatchedEvent>>> = Rc::default();
    let s = seen.clone();
    c.get("/w", Watcher::new(move |ev| s.borrow_mut().push(ev)))
        .unwrap();
    wait_for(&c, "the watcher hears of the refused SetWatches", || {
        !seen.borrow().is_empty()
    });
    assert_eq!(
        seen.borrow()[..],
        [WatchedEvent {
            event_type: EventType::None,
            state: KeeperState::SyncConnected,
            path: Some("/w".into()),
        }]
    );
    assert_eq!(c.state(), ClientState::Connected, "the session goes on");
}

/// The same with a paused server, so that the socket fills up and part of the batch never
/// leaves the client: those creates fail with `ConnectionClosed` and are absent once the
/// server runs again; the written ones fail with `ConnectionLoss`.
#[test]
fn stop_with_a_full_socket_reports_the_unsent_requests_as_closed() {
    let mut zk = server();
    let c = client(&zk.connect_string());
    c.create("/full", b"", CreateMode::Persistent).unwrap();
    zk.pause().unwrap();
    let payload = Bytes::from(vec![7u8; 64 * 1024]);
    let n = 200; // 12.5 MiB: more than loopback socket buffers hold
    let results: Vec<_> = (0..n)
        .map(|i| {
            c.create_async(
                &format!("/full/n{i}"),
                payload.clone(),
                CreateOptions::default(),
            )
        })
        .collect();
    // Let the loop write what the socket takes.
    settle(&c, std::time::Duration::from_millis(300));
    c.handler().stop().unwrap();
    let _ = c.stop();
    zk.resume().unwrap();
    let (mut loss, mut closed) = (0, Vec::new());
    for (i, r) in results.iter().enumerate() {
        match r.get_nowait() {
            Err(Error::ConnectionLoss) => loss += 1,
            Err(Error::ConnectionClosed) => closed.push(i),
            other => panic!("create {i}: unexpected {other:?}"),
        }
    }
    eprintln!("{loss} connection loss, {} closed", closed.len());
    assert!(!closed.is_empty(), "the socket cannot have taken 12.5 MiB");
    assert!(loss > 0, "the socket took some");
    c.handler().start().unwrap();
    let check = client(&zk.connect_string());
    check.sync("/full").unwrap();
    for i in &closed {
        assert!(
            check
                .exists(&format!("/full/n{i}"), None)
                .unwrap()
                .is_none(),
            "create {i} was reported ConnectionClosed (not sent) but exists"
        );
    }
}
