//! The model server: one ZooKeeper session, answers in order, faults on demand.

use super::*;

/// A frame the server read from the client.
#[derive(Debug)]
pub(super) enum ClientFrame {
    Connect(ConnectRequest),
    Request(RequestHeader, Request),
}

/// The server side of one connection.
#[derive(Debug)]
pub(super) struct ServerConn {
    /// Bytes from the client not yet split into frames.
    pub(super) from_client: BytesMut,
    pub(super) connect_read: bool,
    /// Frames read and not yet answered.
    pub(super) unanswered: VecDeque<ClientFrame>,
    /// Bytes written to the client and not yet delivered.
    pub(super) to_client: BytesMut,
    /// Stream offsets: bytes delivered so far, and the end of the connect response.
    pub(super) delivered: u64,
    pub(super) written: u64,
    pub(super) handshake_end: Option<u64>,
    /// The watch model when the session read the connect response (`None` before).
    pub(super) snapshot: Option<WatchModel>,
    /// Whether the session resumed an existing session on this connection.
    pub(super) resumed: bool,
    /// Paths re-registered by SetWatches / SetWatches2 on this connection, until the first
    /// other request closes the set and it is checked.
    pub(super) set_watches: Option<BTreeSet<(WatchKind, String)>>,
    /// The xid of the last normal request read (they must increase).
    pub(super) last_xid: i32,
    /// Pings read on this connection.
    pub(super) pings: u64,
    /// Ping replies (answers or stray ones) delivered to the session on this connection,
    /// and the stream offsets where those written but not yet delivered end. The session
    /// keeps one ping in flight: it sends another only after it read a ping reply, so
    /// `pings <= 1 + ping_replies_read` whenever the server reads a ping.
    pub(super) ping_replies_read: u64,
    pub(super) ping_reply_ends: VecDeque<u64>,
    /// Raw bytes were written: the session's framing no longer matches the server's.
    pub(super) misframed: bool,
}

impl ServerConn {
    pub(super) fn new() -> ServerConn {
        ServerConn {
            from_client: BytesMut::new(),
            connect_read: false,
            unanswered: VecDeque::new(),
            to_client: BytesMut::new(),
            delivered: 0,
            written: 0,
            handshake_end: None,
            snapshot: None,
            resumed: false,
            set_watches: Some(BTreeSet::new()),
            last_xid: 0,
            pings: 0,
            ping_replies_read: 0,
            ping_reply_ends: VecDeque::new(),
            misframed: false,
        }
    }

    pub(super) fn write(&mut self, bytes: &[u8]) {
        self.to_client.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
    }
}

/// A small ZooKeeper server: one session, answers in order, and writes faults on demand.
#[derive(Debug)]
pub(super) struct Server {
    pub(super) conn: Option<ServerConn>,
    /// The session it knows: id and whether it expired.
    pub(super) session: Option<(i64, bool)>,
    pub(super) next_session: i64,
    pub(super) zxid: i64,
}

impl Server {
    pub(super) fn reply(&mut self, xid: i32, err: ErrorCode, resp: &Response) -> BytesMut {
        self.zxid += 1;
        let mut out = BytesMut::new();
        encode_reply(
            &ReplyHeader {
                xid,
                zxid: self.zxid,
                err,
            },
            resp,
            &mut out,
        );
        out
    }

    /// The answer to a ConnectRequest; `choice` picks a fault now and then.
    pub(super) fn connect_response(
        &mut self,
        req: &ConnectRequest,
        choice: u8,
    ) -> (BytesMut, bool) {
        let mut out = BytesMut::new();
        if choice % 16 == 1 {
            // A read-only server refusing a client that does not accept read-only.
            let mut body = BytesMut::new();
            ReplyHeader {
                xid: 0,
                zxid: 0,
                err: ErrorCode::NotReadOnly,
            }
            .encode(&mut body);
            out.extend_from_slice(&(body.len() as u32).to_be_bytes());
            out.extend_from_slice(&body);
            return (out, false);
        }
        let (session_id, timeout_ms, resumed) = if req.session_id == 0 {
            self.next_session += 1;
            let id = self.next_session;
            self.session = Some((id, false));
            (id, negotiate(req.timeout_ms, choice), false)
        } else if self.session == Some((req.session_id, false)) {
            (req.session_id, negotiate(req.timeout_ms, choice), true)
        } else {
            (req.session_id, 0, false)
        };
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id,
            passwd: Bytes::from(vec![session_id as u8; 16]),
            read_only: req.read_only.map(|ro| ro && choice % 16 == 2),
        };
        encode_connect_response(&resp, &mut out);
        (out, resumed && timeout_ms > 0)
    }

    /// Something a correct server would not write; `kind` picks what, `head` is the xid of
    /// the oldest unanswered request (0 if none).
    pub(super) fn garbage(&mut self, kind: u8, arg: u32, head: i32) -> BytesMut {
        let mut out = BytesMut::new();
        match kind % 10 {
            // A reply for an xid that is not next.
            0 => {
                out = self.reply(
                    head.wrapping_add(1 + (arg % 5) as i32),
                    ErrorCode::Ok,
                    &Response::Empty,
                )
            }
            // A reply for any xid, with an error code from the arg.
            1 => {
                out = self.reply(
                    arg as i32,
                    ErrorCode::from_i32(-(((arg >> 8) % 130) as i32)),
                    &Response::Empty,
                )
            }
            // Random bytes.
            2 => out.extend_from_slice(&arg.to_be_bytes()[..1 + (arg % 4) as usize]),
            // A negative length.
            3 => out.extend_from_slice(&(-(1 + (arg % 100) as i32)).to_be_bytes()),
            // A 2 GiB length.
            4 => out.extend_from_slice(&0x7fff_fff0u32.to_be_bytes()),
            // The next reply with a truncated Stat.
            5 => {
                let mut body = BytesMut::new();
                ReplyHeader {
                    xid: head,
                    zxid: self.zxid,
                    err: ErrorCode::Ok,
                }
                .encode(&mut body);
                body.extend_from_slice(&[0; 20][..(arg % 20) as usize]);
                out.extend_from_slice(&(body.len() as u32).to_be_bytes());
                out.extend_from_slice(&body);
            }
            // A notification of an event type this version does not know.
            6 => {
                let mut body = BytesMut::new();
                ReplyHeader {
                    xid: xid::NOTIFICATION,
                    zxid: -1,
                    err: ErrorCode::Ok,
                }
                .encode(&mut body);
                body.extend_from_slice(&(10 + (arg % 50) as i32).to_be_bytes());
                body.extend_from_slice(&3i32.to_be_bytes());
                body.extend_from_slice(&1i32.to_be_bytes());
                body.extend_from_slice(b"/");
                out.extend_from_slice(&(body.len() as u32).to_be_bytes());
                out.extend_from_slice(&body);
            }
            // An auth reply nobody asked for, or a failed one.
            7 => {
                let err = if arg % 2 == 0 {
                    ErrorCode::Ok
                } else {
                    ErrorCode::AuthFailed
                };
                out = self.reply(xid::AUTH, err, &Response::Empty);
            }
            // A ping reply nobody asked for.
            8 => out = self.reply(xid::PING, ErrorCode::Ok, &Response::Empty),
            // An error reply with a body.
            _ => {
                out = self.reply(
                    head,
                    ErrorCode::NoNode,
                    &Response::Sync { path: "/x".into() },
                )
            }
        }
        out
    }
}

/// The negotiated timeout: what was asked (clamped to a positive i32), or a surprise.
pub(super) fn negotiate(asked: i32, choice: u8) -> i32 {
    match choice / 16 % 8 {
        1 => 1,
        2 => 10,
        3 => 4_000,
        4 => i32::MAX,
        _ => asked.max(1),
    }
}
