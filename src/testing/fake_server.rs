//! A scripted fake ZooKeeper server that answers the handshake correctly, then misbehaves.
//!
//! [`FakeServer`] listens on a free loopback port. On every connection it reads the
//! ConnectRequest and answers a correct ConnectResponse (a new session, or the one the client
//! asked to resume, with the timeout the client asked for). Then it answers pings and
//! closeSession as a server would, and on the *first* other request of each connection it
//! sends the configured [`Garbage`] instead of a reply. Every later request on that
//! connection (and the triggering one, where the garbage was not a reply to it) is answered
//! with a header-only `NoNode` error, so a client that survives the garbage sees every request
//! complete, with an error. [`FakeServer::start_eager`] sends the garbage right after the
//! handshake instead, without waiting for a request: a server that does that on every
//! connection tests the client's reconnect loop.
//!
//! It is a test tool for "no panic, no hang, no spin" on hostile or broken peers; it keeps
//! no data.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use bytes::{BufMut, Bytes, BytesMut};

use super::chaos::SeededRng;
use super::util::spawn_acceptor;
use crate::proto::{
    encode_connect_response, encode_reply, ConnectRequest, ConnectResponse, ErrorCode, MultiResult,
    ReplyHeader, Response,
};

/// The session id the fake server gives a new session.
pub const FAKE_SESSION_ID: i64 = 0x00fa_ce00_0000_0001;

/// The opcode of closeSession (PROTOCOL.md §1).
const CLOSE_SESSION: i32 = -11;
/// The xid of pings, and of auth packets.
const PING_XID: i32 = -2;
const AUTH_XID: i32 = -4;
/// The largest frame the fake server reads from a client.
const MAX_REQUEST: usize = 1 << 20;

/// What [`FakeServer`] sends instead of the reply to the first request of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Garbage {
    /// A frame length prefix of −1.
    NegativeLength,
    /// A frame length prefix of `i32::MAX` (2 GiB − 1), and no body.
    HugeLength,
    /// A well-formed reply (error `Ok`, empty body) to an xid the client never used.
    UnknownXid,
    /// A reply to the request, error `Ok`, whose body is the first 20 bytes of a 68-byte
    /// `Stat` (the whole body of an `exists` reply): a truncated Stat.
    TruncatedStat,
    /// A watch notification with event type 99, which no ZooKeeper version defines (state
    /// SyncConnected, path `/unknown-event`).
    UnknownEventType,
    /// `len` seeded random bytes.
    RandomBytes {
        /// Fixes the bytes.
        seed: u64,
        /// How many.
        len: usize,
    },
    /// A well-formed reply to the request (its xid, error `Ok`) whose body is a multi result
    /// holding one `delete` result: it decodes, but it is no reply a multi-read (or any
    /// single request) can get. The client reports it as
    /// [`Error::Protocol`](crate::Error::Protocol) on that request.
    WrongMultiResult,
    /// A well-framed reply to the request (its xid, error `Ok`) whose body is `len` seeded
    /// random bytes: random input for the body decoders rather than the framing.
    RandomReply {
        /// Fixes the bytes.
        seed: u64,
        /// How many.
        len: usize,
    },
}

impl Garbage {
    /// The bytes to send, given the xid of the request they answer (or not).
    fn bytes(&self, xid: i32) -> (Vec<u8>, bool) {
        let mut out = BytesMut::new();
        // Whether the garbage stands for the reply to `xid` (else it gets one after).
        let replied = match self {
            Garbage::NegativeLength => {
                out.put_i32(-1);
                true
            }
            Garbage::HugeLength => {
                out.put_i32(i32::MAX);
                true
            }
            Garbage::UnknownXid => {
                let header = ReplyHeader {
                    xid: xid.wrapping_add(1_000_000),
                    zxid: 1,
                    err: ErrorCode::Ok,
                };
                encode_reply(&header, &Response::Empty, &mut out);
                false
            }
            Garbage::TruncatedStat => {
                let mut body = BytesMut::new();
                body.put_i32(xid);
                body.put_i64(1);
                body.put_i32(0); // Ok
                body.put_bytes(0, 20);
                out.put_i32(body.len() as i32);
                out.extend_from_slice(&body);
                true
            }
            Garbage::UnknownEventType => {
                let path = b"/unknown-event";
                let mut body = BytesMut::new();
                body.put_i32(-1); // notification xid
                body.put_i64(-1);
                body.put_i32(0);
                body.put_i32(99); // event type
                body.put_i32(3); // SyncConnected
                body.put_i32(path.len() as i32);
                body.extend_from_slice(path);
                out.put_i32(body.len() as i32);
                out.extend_from_slice(&body);
                false
            }
            Garbage::WrongMultiResult => {
                let header = ReplyHeader {
                    xid,
                    zxid: 1,
                    err: ErrorCode::Ok,
                };
                encode_reply(
                    &header,
                    &Response::Multi(vec![MultiResult::Delete]),
                    &mut out,
                );
                true
            }
            Garbage::RandomBytes { seed, len } => {
                let mut bytes = vec![0u8; *len];
                SeededRng::new(*seed).fill(&mut bytes);
                out.extend_from_slice(&bytes);
                true
            }
            Garbage::RandomReply { seed, len } => {
                let mut bytes = vec![0u8; *len];
                SeededRng::new(*seed).fill(&mut bytes);
                out.put_i32((16 + bytes.len()) as i32);
                out.put_i32(xid);
                out.put_i64(1);
                out.put_i32(0);
                out.extend_from_slice(&bytes);
                true
            }
        };
        (out.to_vec(), replied)
    }
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    /// Send the garbage right after the handshake.
    eager: bool,
    accepted: AtomicUsize,
    handshakes: AtomicUsize,
    garbage_sent: AtomicUsize,
    requests: AtomicUsize,
    closes: AtomicUsize,
    live: Mutex<Vec<TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// A fake ZooKeeper server on loopback that answers the handshake, then sends [`Garbage`].
///
/// On every connection: a correct ConnectResponse (a new session with id
/// [`FAKE_SESSION_ID`], or the one the client asks to resume, with the timeout it asks for);
/// pings, auth and closeSession answered `Ok`; the garbage in place of the reply to the
/// first other request ([`start`](Self::start)) or right after the handshake
/// ([`start_eager`](Self::start_eager)); every other request answered with a header-only
/// `NoNode`. Stopped when dropped.
///
/// # Examples
///
/// ```
/// use mio_zookeeper::testing::{FakeServer, Garbage, RawConnection};
///
/// let fake = FakeServer::start(Garbage::UnknownXid)?;
/// let raw = RawConnection::connect(fake.addr(), 4000)?;
/// assert_eq!(raw.session().timeout_ms, 4000);
/// assert_eq!(fake.handshakes(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Listens on a free `127.0.0.1` port and serves every connection with `garbage`, sent
    /// in place of the reply to the first request of each connection.
    pub fn start(garbage: Garbage) -> io::Result<FakeServer> {
        Self::start_inner(garbage, false)
    }

    /// Like [`start`](Self::start), but the garbage goes out right after the handshake on
    /// every connection, before any request (where it stands for a reply, it answers xid 1).
    pub fn start_eager(garbage: Garbage) -> io::Result<FakeServer> {
        Self::start_inner(garbage, true)
    }

    fn start_inner(garbage: Garbage, eager: bool) -> io::Result<FakeServer> {
        let shared = Arc::new(Shared {
            eager,
            ..Shared::default()
        });
        let (addr, acceptor) = spawn_acceptor(
            "zk-fake-server",
            shared.clone(),
            |s| s.stop.load(Ordering::SeqCst),
            |s| &s.workers,
            move |s, stream| {
                s.accepted.fetch_add(1, Ordering::SeqCst);
                if let Ok(c) = stream.try_clone() {
                    s.live.lock().unwrap_or_else(|e| e.into_inner()).push(c);
                }
                let s2 = s.clone();
                let g = garbage.clone();
                Some(thread::spawn(move || {
                    if let Err(e) = serve(stream, &g, &s2) {
                        log::debug!("fake server connection: {e}");
                    }
                }))
            },
        )?;
        Ok(FakeServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The connect string (`127.0.0.1:PORT`).
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Handshakes answered so far (one per connection that sent a ConnectRequest).
    pub fn handshakes(&self) -> usize {
        self.shared.handshakes.load(Ordering::SeqCst)
    }

    /// How many times the garbage was sent (at most once per connection).
    pub fn garbage_sent(&self) -> usize {
        self.shared.garbage_sent.load(Ordering::SeqCst)
    }

    /// Requests received other than pings, auth and closeSession.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// closeSession requests received (each answered `Ok`).
    pub fn closes(&self) -> usize {
        self.shared.closes.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        for s in self
            .shared
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = s.shutdown(Shutdown::Both);
        }
        let workers = std::mem::take(
            &mut *self
                .shared
                .workers
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for w in workers {
            let _ = w.join();
        }
    }
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

/// Reads one length-prefixed frame (without its prefix); `None` at the end of the stream.
fn read_frame(stream: &mut TcpStream) -> io::Result<Option<Bytes>> {
    let mut prefix = [0u8; 4];
    match stream.read_exact(&mut prefix) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = i32::from_be_bytes(prefix);
    let len = usize::try_from(len)
        .ok()
        .filter(|l| *l <= MAX_REQUEST)
        .ok_or_else(|| invalid(format!("a client frame of length {len}")))?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(Some(Bytes::from(body)))
}

fn header_only(xid: i32, err: ErrorCode) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_reply(
        &ReplyHeader { xid, zxid: 1, err },
        &Response::Empty,
        &mut out,
    );
    out.to_vec()
}

/// Serves one connection: the handshake, then the script.
fn serve(mut stream: TcpStream, garbage: &Garbage, s: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let Some(frame) = read_frame(&mut stream)? else {
        return Ok(());
    };
    let req = ConnectRequest::decode(&frame)
        .map_err(|e| invalid(format!("a bad ConnectRequest: {e}")))?;
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout_ms: req.timeout_ms,
        session_id: if req.session_id != 0 {
            req.session_id
        } else {
            FAKE_SESSION_ID
        },
        passwd: if req.session_id != 0 {
            req.passwd.clone()
        } else {
            Bytes::from_static(&[7; 16])
        },
        read_only: req.read_only.map(|_| false),
    };
    let mut out = BytesMut::new();
    encode_connect_response(&resp, &mut out);
    s.handshakes.fetch_add(1, Ordering::SeqCst);
    stream.write_all(&out)?;
    let mut garbage_done = false;
    if s.eager {
        garbage_done = true;
        s.garbage_sent.fetch_add(1, Ordering::SeqCst);
        stream.write_all(&garbage.bytes(1).0)?;
    }
    while let Some(frame) = read_frame(&mut stream)? {
        if s.stop.load(Ordering::SeqCst) {
            break;
        }
        let (Some(xid), Some(op)) = (
            frame.get(0..4).and_then(|b| <[u8; 4]>::try_from(b).ok()),
            frame.get(4..8).and_then(|b| <[u8; 4]>::try_from(b).ok()),
        ) else {
            return Err(invalid("a request shorter than its header"));
        };
        let (xid, op) = (i32::from_be_bytes(xid), i32::from_be_bytes(op));
        if xid == PING_XID || xid == AUTH_XID {
            stream.write_all(&header_only(xid, ErrorCode::Ok))?;
        } else if op == CLOSE_SESSION {
            s.closes.fetch_add(1, Ordering::SeqCst);
            stream.write_all(&header_only(xid, ErrorCode::Ok))?;
            break;
        } else if !garbage_done {
            garbage_done = true;
            s.requests.fetch_add(1, Ordering::SeqCst);
            let (bytes, replied) = garbage.bytes(xid);
            // Counted first: the client may act on the bytes before this thread runs again.
            s.garbage_sent.fetch_add(1, Ordering::SeqCst);
            stream.write_all(&bytes)?;
            if !replied {
                stream.write_all(&header_only(xid, ErrorCode::NoNode))?;
            }
        } else {
            s.requests.fetch_add(1, Ordering::SeqCst);
            stream.write_all(&header_only(xid, ErrorCode::NoNode))?;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RawConnection;

    #[test]
    fn the_garbage_is_what_it_says() {
        let (neg, r) = Garbage::NegativeLength.bytes(5);
        assert_eq!((neg, r), (vec![0xff; 4], true));
        let (huge, _) = Garbage::HugeLength.bytes(5);
        assert_eq!(huge, vec![0x7f, 0xff, 0xff, 0xff]);
        let (stat, _) = Garbage::TruncatedStat.bytes(5);
        assert_eq!(stat.len(), 4 + 16 + 20);
        assert_eq!(&stat[4..8], &5i32.to_be_bytes());
        let (ev, replied) = Garbage::UnknownEventType.bytes(5);
        assert!(!replied);
        assert_eq!(&ev[4..8], &(-1i32).to_be_bytes());
        assert_eq!(&ev[20..24], &99i32.to_be_bytes());
        let a = Garbage::RandomBytes { seed: 1, len: 33 }.bytes(1).0;
        let b = Garbage::RandomBytes { seed: 1, len: 33 }.bytes(9).0;
        assert_eq!((a.len(), &a), (33, &b));
    }

    #[test]
    fn it_answers_the_handshake_pings_and_close_then_no_node() {
        let fake = FakeServer::start(Garbage::UnknownXid).unwrap();
        let mut raw = RawConnection::connect(fake.addr(), 3000).unwrap();
        assert_eq!(raw.session_id(), FAKE_SESSION_ID);
        let xid = raw
            .queue(&crate::proto::Request::Exists(crate::proto::PathWatch {
                path: "/a".into(),
                watch: false,
            }))
            .unwrap();
        raw.flush().unwrap();
        let frame = raw.read_frame().unwrap();
        let (h, _) = crate::proto::decode_reply_header(&frame).unwrap();
        assert_eq!(h.xid, xid + 1_000_000, "the garbage: an xid never used");
        let frame = raw.read_frame().unwrap();
        let (h, _) = crate::proto::decode_reply_header(&frame).unwrap();
        assert_eq!((h.xid, h.err), (xid, ErrorCode::NoNode));
        assert_eq!(fake.garbage_sent(), 1);
        // closeSession by hand (the raw connection still counts the garbage's xid pending).
        let mut close = Vec::new();
        for v in [8, xid + 1, CLOSE_SESSION] {
            close.extend_from_slice(&i32::to_be_bytes(v));
        }
        raw.stream().write_all(&close).unwrap();
        let frame = raw.read_frame().unwrap();
        let (h, _) = crate::proto::decode_reply_header(&frame).unwrap();
        assert_eq!((h.xid, h.err), (xid + 1, ErrorCode::Ok));
        assert_eq!(fake.closes(), 1);
    }
}
