//! A minimal, blocking, codec-only ZooKeeper connection over `std::net::TcpStream`.
//!
//! [`RawConnection`] speaks the wire protocol with nothing but [`crate::proto`]: no session
//! state machine, no reactor, no reconnects. Tests use it to check the codec against a real
//! server, the capture tool uses it to produce real traffic, and benchmarks use it as the
//! raw-socket baseline. It is not a client: use the crate's `Client` for real work.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::proto::{
    decode_connect_reply, decode_notification, decode_reply_header, decode_response,
    encode_connect_request, encode_request, xid, ConnectReply, ConnectRequest, ConnectResponse,
    FrameDecoder, OpCode, ReplyHeader, Request, Response, WatcherEvent, DEFAULT_MAX_INCOMING_FRAME,
    DEFAULT_MAX_OUTGOING_FRAME,
};

/// One reply as [`RawConnection::call`] returns it: the header and the decoded body.
#[derive(Debug, Clone, PartialEq)]
pub struct RawReply {
    /// The reply header (xid, zxid, error code).
    pub header: ReplyHeader,
    /// The decoded body; [`Response::Empty`] for header-only replies.
    pub response: Response,
}

/// A blocking connection that sends encoded requests and decodes replies, one at a time or
/// pipelined. It is a test tool, not a client: use the crate's `Client` for real work.
#[derive(Debug)]
pub struct RawConnection {
    stream: TcpStream,
    inbuf: BytesMut,
    outbuf: BytesMut,
    decoder: FrameDecoder,
    next_xid: i32,
    /// Requests written and not yet answered, oldest first: (xid, opcode).
    pending: VecDeque<(i32, OpCode)>,
    /// Notifications read while waiting for a reply.
    notifications: VecDeque<(ReplyHeader, WatcherEvent)>,
    session: ConnectResponse,
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl RawConnection {
    /// Connects to `addr` and opens a new session asking for `timeout_ms`, with the read-only
    /// byte sent (false).
    pub fn connect(addr: SocketAddr, timeout_ms: i32) -> io::Result<RawConnection> {
        Self::connect_with(
            addr,
            &ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                timeout_ms,
                session_id: 0,
                passwd: Bytes::from_static(&[0; 16]),
                read_only: Some(false),
            },
        )
    }

    /// Connects to `addr` with the given ConnectRequest (to resume a session, or to test the
    /// handshake). Fails with `ConnectionRefused` when the server answers with an error header
    /// instead of a ConnectResponse (PROTOCOL.md §10).
    pub fn connect_with(addr: SocketAddr, req: &ConnectRequest) -> io::Result<RawConnection> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut conn = RawConnection {
            stream,
            inbuf: BytesMut::with_capacity(64 * 1024),
            outbuf: BytesMut::with_capacity(64 * 1024),
            decoder: FrameDecoder::new(DEFAULT_MAX_INCOMING_FRAME),
            next_xid: 1,
            pending: VecDeque::new(),
            notifications: VecDeque::new(),
            session: ConnectResponse {
                protocol_version: 0,
                timeout_ms: 0,
                session_id: 0,
                passwd: Bytes::new(),
                read_only: None,
            },
        };
        let mut out = BytesMut::new();
        encode_connect_request(req, &mut out);
        conn.stream.write_all(&out)?;
        let frame = conn.read_frame()?;
        match decode_connect_reply(&frame).map_err(invalid)? {
            ConnectReply::Response(resp) => conn.session = resp,
            ConnectReply::Refused(code) => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!("server refused the session: {code}"),
                ))
            }
        }
        Ok(conn)
    }

    /// The server's ConnectResponse.
    pub fn session(&self) -> &ConnectResponse {
        &self.session
    }

    /// The session id the server gave.
    pub fn session_id(&self) -> i64 {
        self.session.session_id
    }

    /// The underlying stream (for shutting it down, or for timeouts).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Reads one whole frame (without its length prefix).
    pub fn read_frame(&mut self) -> io::Result<Bytes> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.inbuf).map_err(invalid)? {
                return Ok(frame);
            }
            self.inbuf.reserve(64 * 1024);
            let mut chunk = [0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
            self.inbuf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The xid the next [`send`](Self::send) uses for a normal request.
    pub fn next_xid(&self) -> i32 {
        self.next_xid
    }

    /// Encodes `req` into the output buffer without writing it; pings, auth and closeSession
    /// get their special xids. Returns the xid used. Call [`flush`](Self::flush) to write.
    pub fn queue(&mut self, req: &Request) -> io::Result<i32> {
        let xid = match req {
            Request::Ping => xid::PING,
            Request::Auth(_) => xid::AUTH,
            _ => {
                let x = self.next_xid;
                self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
                x
            }
        };
        encode_request(xid, req, &mut self.outbuf, DEFAULT_MAX_OUTGOING_FRAME)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        self.pending.push_back((xid, req.op_code()));
        Ok(xid)
    }

    /// Writes everything queued.
    pub fn flush(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.outbuf)?;
        self.outbuf.clear();
        Ok(())
    }

    /// Queues and writes one request; returns its xid.
    pub fn send(&mut self, req: &Request) -> io::Result<i32> {
        let xid = self.queue(req)?;
        self.flush()?;
        Ok(xid)
    }

    /// Reads frames until the reply to the oldest pending request arrives, and decodes it.
    /// Notifications read on the way are kept for [`next_notification`](Self::next_notification).
    pub fn recv(&mut self) -> io::Result<RawReply> {
        loop {
            let frame = self.read_frame()?;
            let (header, body) = decode_reply_header(&frame).map_err(invalid)?;
            if header.xid == xid::NOTIFICATION {
                let event = decode_notification(&body).map_err(invalid)?;
                self.notifications.push_back((header, event));
                continue;
            }
            let Some((want, op)) = self.pending.pop_front() else {
                return Err(invalid(format!(
                    "reply with xid {} but nothing is pending",
                    header.xid
                )));
            };
            if header.xid != want {
                return Err(invalid(format!(
                    "reply xid {} does not match the oldest request's xid {want}",
                    header.xid
                )));
            }
            let response = decode_response(op, &header, &body).map_err(invalid)?;
            return Ok(RawReply { header, response });
        }
    }

    /// Sends one request and waits for its reply.
    pub fn call(&mut self, req: &Request) -> io::Result<RawReply> {
        self.send(req)?;
        self.recv()
    }

    /// Returns the next watch notification, reading from the socket for up to `timeout`.
    /// `Ok(None)` when none arrived in time.
    pub fn next_notification(&mut self, timeout: Duration) -> io::Result<Option<WatcherEvent>> {
        if let Some((_, ev)) = self.notifications.pop_front() {
            return Ok(Some(ev));
        }
        let deadline = Instant::now() + timeout;
        let saved = self.stream.read_timeout()?;
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.read_frame() {
                Ok(frame) => {
                    let (header, body) = decode_reply_header(&frame).map_err(invalid)?;
                    if header.xid == xid::NOTIFICATION {
                        break Ok(Some(decode_notification(&body).map_err(invalid)?));
                    }
                    break Err(invalid(format!(
                        "unexpected reply xid {} while waiting for a notification",
                        header.xid
                    )));
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    continue
                }
                Err(e) => break Err(e),
            }
        };
        self.stream.set_read_timeout(saved)?;
        result
    }

    /// Sends closeSession and waits for its reply.
    pub fn close(mut self) -> io::Result<RawReply> {
        self.call(&Request::CloseSession)
    }
}
