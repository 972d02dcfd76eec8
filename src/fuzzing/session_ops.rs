//! The session operation-sequence fuzzer: [`session_ops`] reads a [`Config`] and a sequence
//! of [`Op`]s from the input and drives the sans-IO [`Session`] with them against a small
//! model server ([`Server`]), checking invariants after every step (STYLE.md habit 5;
//! quinn-proto's `streams` target).
//!
//! # Input format
//!
//! Three config bytes ([`Config::decode`]), then ops, each a tag byte and fixed-size fields
//! ([`Op::decode`]; big-endian integers; missing bytes read as zero). At most [`MAX_OPS`]
//! ops are run. [`Op::encode`] writes the same format; the seed corpus
//! (`fuzz/corpus/session_ops/`) is written from op lists with it.
//!
//! # Invariants (checked after every op)
//!
//! - nothing panics, whatever the ops and bytes;
//! - every request [`Session::submit`] accepted completes exactly once: an [`Event::Reply`]
//!   names only a request that is still pending, and [`Session::pending_requests`] equals the
//!   number the harness still waits for; in a terminal state nothing is pending, and at the
//!   end, after `close` and driving the session to a terminal state, nothing is;
//! - the deadline is honest: after `handle_timeout(now)`, [`Session::poll_timeout`] is
//!   `None` or strictly after `now` (a deadline at or before `now` left after the call that
//!   was meant to fire it would make a driver spin), and a second `handle_timeout(now)` does
//!   nothing (no event, no action, no byte to write); a terminal session asks for no timer;
//! - the session writes only to a live connection, asks to connect only with no connection
//!   up, names only hosts below `host_count`, sends nothing before its handshake is answered,
//!   and every frame it writes decodes;
//! - [`Session::state`] is the last [`Event::State`] reported;
//! - watch bookkeeping: the session's [`WatchRegistry`] matches a model built from the
//!   replies and notifications the application saw (PROTOCOL.md §6), and the SetWatches /
//!   SetWatches2 sent on a resumed connection name exactly the watches the model held when
//!   the handshake was answered.
//!
//! [`WatchRegistry`]: crate::session::WatchRegistry

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::{gen_request, gen_response, Gen, XorShift};

use crate::proto::{
    decode_request, encode_connect_response, encode_notification, encode_reply, xid,
    AddWatchRequest, AuthPacket, CheckVersionRequest, ConnectRequest, ConnectResponse,
    CreateRequest, CreateTtlRequest, DeleteRequest, ErrorCode, EventType, FrameDecoder,
    KeeperState, MultiOp, OpCode, PathOnly, PathWatch, ReconfigRequest, ReplyHeader, Request,
    RequestHeader, Response, SaslRequest, SetAclRequest, SetDataRequest, SetWatches, SetWatches2,
    WatcherEvent, WatcherType, WatchesRequest,
};
use crate::session::{
    Action, Event, RequestError, RequestId, Session, SessionConfig, SessionState, WatchKind,
};

/// The most ops one input runs.
pub(super) const MAX_OPS: usize = 512;

/// Paths the ops use: few, so that watches, replies and notifications meet.
const PATHS: &[&str] = &["/", "/a", "/a/b", "/c", "/a/b/c", "", "/zk\u{e9}"];

const ALL_KINDS: [WatchKind; 5] = [
    WatchKind::Data,
    WatchKind::Exist,
    WatchKind::Child,
    WatchKind::Persistent,
    WatchKind::PersistentRecursive,
];

/// Runs the ops in `data` against a session and a model server; panics when an invariant
/// breaks (see the [module docs](self)).
pub fn session_ops(data: &[u8]) {
    let mut g = Gen::new(data);
    let config = Config::decode(&mut g);
    let mut h = Harness::new(&config);
    h.pump();
    let mut n = 0;
    while !g.exhausted() && n < MAX_OPS {
        n += 1;
        let op = Op::decode(&mut g);
        h.run(&op);
    }
    h.finish();
}

// ------------------------------------------------------------------ the input

/// The session's settings, from the first three bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Config {
    /// Bits 0-1: host count - 1 (0..=2, 3 reads as 2); bit 2: read-only allowed; bit 3: no
    /// reconnect after expiry; bit 4: resume a session; bit 5: one credential configured.
    pub(super) flags: u8,
    /// The requested session timeout, an index into [`SESSION_TIMEOUTS`].
    pub(super) timeout: u8,
    /// Bits 0-1: `max_queued_requests` index; bits 2-3: backoff_initial; bits 4-5:
    /// backoff_max.
    pub(super) limits: u8,
}

const SESSION_TIMEOUTS: [Duration; 8] = [
    Duration::from_secs(10),
    Duration::from_secs(4),
    Duration::from_secs(30),
    Duration::from_millis(1),
    Duration::from_millis(100),
    Duration::ZERO,
    Duration::from_secs(40 * 24 * 3600),
    Duration::from_millis(2_500),
];

impl Config {
    pub(super) fn decode(g: &mut Gen<'_>) -> Config {
        Config {
            flags: g.u8(),
            timeout: g.u8(),
            limits: g.u8(),
        }
    }

    #[cfg(test)]
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.flags, self.timeout, self.limits]);
    }

    fn session_config(&self) -> SessionConfig {
        let mut c = SessionConfig::new(1 + usize::from(self.flags & 3).min(2));
        c.read_only = self.flags & 4 != 0;
        c.reconnect_after_expiry = self.flags & 8 == 0;
        if self.flags & 16 != 0 {
            c.resume = Some((RESUMED_SESSION, [7; 16]));
        }
        if self.flags & 32 != 0 {
            c.auth.push(("digest".into(), Bytes::from_static(b"u:p")));
        }
        c.session_timeout = SESSION_TIMEOUTS[usize::from(self.timeout) % SESSION_TIMEOUTS.len()];
        c.max_queued_requests = [10_000, 0, 1, 3][usize::from(self.limits & 3)];
        c.backoff_initial = [
            Duration::from_millis(100),
            Duration::ZERO,
            Duration::from_millis(1),
            Duration::from_secs(10),
        ][usize::from(self.limits >> 2 & 3)];
        c.backoff_max = [
            Duration::from_secs(10),
            Duration::ZERO,
            Duration::from_millis(100),
            Duration::from_secs(3600),
        ][usize::from(self.limits >> 4 & 3)];
        c.seed = 0x5eed_0000 + u64::from(self.flags) * 7 + u64::from(self.limits);
        c
    }
}

/// The session id a `resume` config starts with; the model server knows it.
const RESUMED_SESSION: i64 = 0x77;

/// One step of a fuzz input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// Submit a request: `kind` picks the request ([`request_of`]), `path` an entry of
    /// [`PATHS`], `arg` the rest (version, mode, watcher type, ...).
    Submit {
        kind: u8,
        path: u8,
        watch: bool,
        arg: u8,
    },
    /// The TCP connection the session asked for is up (`handle_connected`; also called when
    /// nothing was asked, which must be harmless).
    Connect,
    /// The connection (or the attempt) failed or the peer closed it (`handle_disconnected`).
    Disconnect,
    /// The server answers up to `count` of the frames it read, in order; `choice` is the
    /// first answer's choice and seeds the later ones' (0: every answer a plain success;
    /// see [`Server::connect_response`] and [`Harness::answer`]); then, if `deliver`,
    /// everything it wrote reaches the session.
    Serve {
        count: u8,
        choice: u8,
        deliver: bool,
    },
    /// Up to `len` bytes of what the server wrote reach the session (0: all of it).
    Deliver { len: u16 },
    /// The server writes a watch notification.
    Notify { event: u8, path: u8 },
    /// The server writes something wrong ([`Server::garbage`]).
    Garbage { kind: u8, arg: u32 },
    /// Up to `len` bytes of what the server wrote reach the session, then the connection is
    /// cut (a frame cut in the middle).
    Cut { len: u16 },
    /// The clock moves `amount` units of [`UNITS`]`[unit]`, then `handle_timeout`.
    Advance { unit: u8, amount: u16 },
    /// The clock moves to the session's next deadline plus `extra_ms`, then `handle_timeout`.
    ToDeadline { extra_ms: u8 },
    /// `close`.
    Close,
    /// `close_now`.
    CloseNow,
    /// `add_auth` with one of two credentials.
    AddAuth { which: u8 },
    /// `handle_probe_result`.
    Probe { host: u8, read_write: bool },
    /// `remove_watches_locally`.
    RemoveLocal { path: u8, watcher_type: u8 },
    /// The server expires the session; `cut` also closes the connection.
    ServerExpire { cut: bool },
    /// `start` again (harmless once started).
    Start,
}

/// Clock units of [`Op::Advance`]: up to about two million years in one step.
const UNITS: [Duration; 6] = [
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_secs(1),
    Duration::from_secs(60),
    Duration::from_secs(3600),
    Duration::from_secs(365 * 24 * 3600),
];

/// Number of op tags.
const OP_TAGS: u8 = 17;

impl Op {
    pub(super) fn decode(g: &mut Gen<'_>) -> Op {
        let u16 = |g: &mut Gen<'_>| u16::from_be_bytes([g.u8(), g.u8()]);
        match g.u8() % OP_TAGS {
            0 => Op::Submit {
                kind: g.u8(),
                path: g.u8(),
                watch: g.bool(),
                arg: g.u8(),
            },
            1 => Op::Connect,
            2 => Op::Disconnect,
            3 => Op::Serve {
                count: g.u8(),
                choice: g.u8(),
                deliver: g.bool(),
            },
            4 => Op::Deliver { len: u16(g) },
            5 => Op::Notify {
                event: g.u8(),
                path: g.u8(),
            },
            6 => Op::Garbage {
                kind: g.u8(),
                arg: g.i32() as u32,
            },
            7 => Op::Cut { len: u16(g) },
            8 => Op::Advance {
                unit: g.u8(),
                amount: u16(g),
            },
            9 => Op::ToDeadline { extra_ms: g.u8() },
            10 => Op::Close,
            11 => Op::CloseNow,
            12 => Op::AddAuth { which: g.u8() },
            13 => Op::Probe {
                host: g.u8(),
                read_write: g.bool(),
            },
            14 => Op::RemoveLocal {
                path: g.u8(),
                watcher_type: g.u8(),
            },
            15 => Op::ServerExpire { cut: g.bool() },
            _ => Op::Start,
        }
    }

    #[cfg(test)]
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Op::Submit {
                kind,
                path,
                watch,
                arg,
            } => out.extend_from_slice(&[0, kind, path, u8::from(watch), arg]),
            Op::Connect => out.push(1),
            Op::Disconnect => out.push(2),
            Op::Serve {
                count,
                choice,
                deliver,
            } => out.extend_from_slice(&[3, count, choice, u8::from(deliver)]),
            Op::Deliver { len } => {
                out.push(4);
                out.extend_from_slice(&len.to_be_bytes());
            }
            Op::Notify { event, path } => out.extend_from_slice(&[5, event, path]),
            Op::Garbage { kind, arg } => {
                out.extend_from_slice(&[6, kind]);
                out.extend_from_slice(&arg.to_be_bytes());
            }
            Op::Cut { len } => {
                out.push(7);
                out.extend_from_slice(&len.to_be_bytes());
            }
            Op::Advance { unit, amount } => {
                out.extend_from_slice(&[8, unit]);
                out.extend_from_slice(&amount.to_be_bytes());
            }
            Op::ToDeadline { extra_ms } => out.extend_from_slice(&[9, extra_ms]),
            Op::Close => out.push(10),
            Op::CloseNow => out.push(11),
            Op::AddAuth { which } => out.extend_from_slice(&[12, which]),
            Op::Probe { host, read_write } => {
                out.extend_from_slice(&[13, host, u8::from(read_write)])
            }
            Op::RemoveLocal { path, watcher_type } => {
                out.extend_from_slice(&[14, path, watcher_type])
            }
            Op::ServerExpire { cut } => out.extend_from_slice(&[15, u8::from(cut)]),
            Op::Start => out.push(16),
        }
    }
}

fn path_of(i: u8) -> &'static str {
    PATHS[usize::from(i) % PATHS.len()]
}

/// Number of request kinds [`request_of`] builds.
pub(super) const REQUEST_KINDS: u8 = 31;

/// The request an [`Op::Submit`] sends.
fn request_of(kind: u8, path: u8, watch: bool, arg: u8) -> Request {
    let path = path_of(path).to_string();
    let data = Some(Bytes::from(vec![arg; usize::from(arg % 8)]));
    let version = i32::from(arg) - 2;
    let create = CreateRequest {
        path: path.clone(),
        data: data.clone(),
        acl: Vec::new(),
        flags: i32::from(arg % 4),
    };
    match kind % REQUEST_KINDS {
        0 => Request::Create(create),
        1 => Request::Create2(create),
        2 => Request::CreateContainer(create),
        3 => Request::CreateTtl(CreateTtlRequest {
            path,
            data,
            acl: Vec::new(),
            flags: 5,
            ttl: i64::from(arg),
        }),
        4 => Request::Delete(DeleteRequest { path, version }),
        5 => Request::Exists(PathWatch { path, watch }),
        6 => Request::GetData(PathWatch { path, watch }),
        7 => Request::SetData(SetDataRequest {
            path,
            data,
            version,
        }),
        8 => Request::GetAcl(PathOnly { path }),
        9 => Request::SetAcl(SetAclRequest {
            path,
            acl: Vec::new(),
            version,
        }),
        10 => Request::GetChildren(PathWatch { path, watch }),
        11 => Request::GetChildren2(PathWatch { path, watch }),
        12 => Request::Sync(PathOnly { path }),
        13 => Request::Check(CheckVersionRequest { path, version }),
        14 => Request::Multi(vec![
            MultiOp::Create(create),
            MultiOp::Delete(DeleteRequest { path, version }),
        ]),
        15 => Request::MultiRead(vec![
            MultiOp::GetData(path.clone()),
            MultiOp::GetChildren(path),
        ]),
        16 => Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: Some("3".into()),
            new_members: None,
            cur_config_id: -1,
        }),
        17 => Request::CheckWatches(WatchesRequest {
            path,
            watcher_type: i32::from(arg % 6),
        }),
        18 => Request::RemoveWatches(WatchesRequest {
            path,
            // Mostly valid types (1..=5), sometimes 0 or another byte.
            watcher_type: if arg < 200 {
                1 + i32::from(arg % 5)
            } else {
                i32::from(arg)
            },
        }),
        19 => Request::AddWatch(AddWatchRequest {
            path,
            mode: i32::from(arg % 2),
        }),
        20 => Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: data,
        }),
        21 => Request::Sasl(SaslRequest { token: data }),
        22 => Request::GetEphemerals(PathOnly { path }),
        23 => Request::GetAllChildrenNumber(PathOnly { path }),
        24 => Request::WhoAmI,
        25 => Request::Ping,
        26 => Request::CloseSession,
        27 => Request::SetWatches(SetWatches {
            relative_zxid: USER_SET_WATCHES_ZXID,
            data_watches: vec![path],
            ..SetWatches::default()
        }),
        28 => Request::SetWatches2(SetWatches2 {
            relative_zxid: USER_SET_WATCHES_ZXID,
            persistent_watches: vec![path],
            ..SetWatches2::default()
        }),
        // Larger than the server accepts: refused at submit.
        29 => Request::SetData(SetDataRequest {
            path,
            data: Some(Bytes::from(vec![0; 1_100_000])),
            version,
        }),
        // Anything the codec's generator makes from the op's bytes.
        // (A SetWatches from there would pass for the session's own: sent as WhoAmI.)
        _ => match gen_request(&mut Gen::new(&[arg, path.len() as u8, arg, 1, 2, 3, 4, 5])) {
            Request::SetWatches(_) | Request::SetWatches2(_) => Request::WhoAmI,
            r => r,
        },
    }
}

/// The `relative_zxid` of a SetWatches the *user* submits, to tell it from the session's
/// own (which carries the last zxid seen, never negative).
const USER_SET_WATCHES_ZXID: i64 = -77;

// ------------------------------------------------------------------ the watch model

/// What the application should believe is registered, from what it saw. `None` for an
/// entry the model cannot decide (the spec leaves it open), which the check skips.
#[derive(Debug, Clone, Default)]
struct WatchModel {
    entries: BTreeMap<(WatchKind, String), Option<bool>>,
}

impl WatchModel {
    fn set(&mut self, kind: WatchKind, path: &str, v: Option<bool>) {
        self.entries.insert((kind, path.to_string()), v);
    }

    fn certain(&self) -> impl Iterator<Item = &(WatchKind, String)> {
        self.entries
            .iter()
            .filter(|(_, v)| **v == Some(true))
            .map(|(k, _)| k)
    }

    fn remove_type(&mut self, path: &str, t: WatcherType, v: Option<bool>) {
        for k in kinds_of(t) {
            self.set(*k, path, v);
        }
    }

    fn on_event(&mut self, event_type: EventType, path: &str) {
        // PROTOCOL.md §6: the one-shot watches a notification triggers.
        let gone: &[WatchKind] = match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                &[WatchKind::Data, WatchKind::Exist]
            }
            EventType::NodeDeleted => &[WatchKind::Data, WatchKind::Exist, WatchKind::Child],
            EventType::NodeChildrenChanged => &[WatchKind::Child],
            _ => &[],
        };
        for k in gone {
            self.set(*k, path, Some(false));
        }
    }
}

fn kinds_of(t: WatcherType) -> &'static [WatchKind] {
    match t {
        WatcherType::Children => &[WatchKind::Child],
        WatcherType::Data => &[WatchKind::Data, WatchKind::Exist],
        WatcherType::Any => &ALL_KINDS,
        WatcherType::Persistent => &[WatchKind::Persistent],
        WatcherType::PersistentRecursive => &[WatchKind::PersistentRecursive],
    }
}

fn watcher_type(v: i32) -> Option<WatcherType> {
    Some(match v {
        1 => WatcherType::Children,
        2 => WatcherType::Data,
        3 => WatcherType::Any,
        4 => WatcherType::Persistent,
        5 => WatcherType::PersistentRecursive,
        _ => return None,
    })
}

/// What a pending request means for the watch model once it completes.
#[derive(Debug, Clone)]
enum WatchEffect {
    None,
    Exists(String),
    Data(String),
    Child(String),
    Add(String, WatchKind),
    Remove(String, WatcherType),
}

impl WatchEffect {
    fn of(req: &Request) -> WatchEffect {
        match req {
            Request::Exists(r) if r.watch => WatchEffect::Exists(r.path.clone()),
            Request::GetData(r) if r.watch => WatchEffect::Data(r.path.clone()),
            Request::GetChildren(r) | Request::GetChildren2(r) if r.watch => {
                WatchEffect::Child(r.path.clone())
            }
            Request::AddWatch(r) => WatchEffect::Add(
                r.path.clone(),
                if r.mode == 1 {
                    WatchKind::PersistentRecursive
                } else {
                    WatchKind::Persistent
                },
            ),
            Request::RemoveWatches(r) => match watcher_type(r.watcher_type) {
                Some(t) => WatchEffect::Remove(r.path.clone(), t),
                None => WatchEffect::None,
            },
            _ => WatchEffect::None,
        }
    }

    /// Applies a completed request's result to the model (PROTOCOL.md §6).
    fn apply(&self, model: &mut WatchModel, result: &Result<Response, RequestError>) {
        let ok = result.is_ok();
        let code = match result {
            Err(RequestError::Server(c)) => Some(*c),
            _ => None,
        };
        match self {
            WatchEffect::None => {}
            WatchEffect::Exists(p) if ok => model.set(WatchKind::Data, p, Some(true)),
            WatchEffect::Exists(p) if code == Some(ErrorCode::NoNode) => {
                model.set(WatchKind::Exist, p, Some(true))
            }
            WatchEffect::Data(p) if ok => model.set(WatchKind::Data, p, Some(true)),
            WatchEffect::Child(p) if ok => model.set(WatchKind::Child, p, Some(true)),
            WatchEffect::Add(p, k) if ok => model.set(*k, p, Some(true)),
            WatchEffect::Remove(p, t) if ok => model.remove_type(p, *t, Some(false)),
            // The server has none of these: whether the client forgets its own is a
            // documented choice of the session, left open here.
            WatchEffect::Remove(p, t) if code == Some(ErrorCode::NoWatcher) => {
                model.remove_type(p, *t, None)
            }
            _ => {}
        }
    }
}

// ------------------------------------------------------------------ the model server

/// A frame the server read from the client.
#[derive(Debug)]
enum ClientFrame {
    Connect(ConnectRequest),
    Request(RequestHeader, Request),
}

/// The server side of one connection.
#[derive(Debug)]
struct ServerConn {
    /// Bytes from the client not yet split into frames.
    from_client: BytesMut,
    connect_read: bool,
    /// Frames read and not yet answered.
    unanswered: VecDeque<ClientFrame>,
    /// Bytes written to the client and not yet delivered.
    to_client: BytesMut,
    /// Stream offsets: bytes delivered so far, and the end of the connect response.
    delivered: u64,
    written: u64,
    handshake_end: Option<u64>,
    /// The watch model when the session read the connect response (`None` before).
    snapshot: Option<WatchModel>,
    /// Whether the session resumed an existing session on this connection.
    resumed: bool,
    /// Paths re-registered by SetWatches / SetWatches2 on this connection, until the first
    /// other request closes the set and it is checked.
    set_watches: Option<BTreeSet<(WatchKind, String)>>,
}

impl ServerConn {
    fn new() -> ServerConn {
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
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.to_client.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
    }
}

/// A small ZooKeeper server: one session, answers in order, and writes faults on demand.
#[derive(Debug)]
struct Server {
    conn: Option<ServerConn>,
    /// The session it knows: id and whether it expired.
    session: Option<(i64, bool)>,
    next_session: i64,
    zxid: i64,
}

impl Server {
    fn reply(&mut self, xid: i32, err: ErrorCode, resp: &Response) -> BytesMut {
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
    fn connect_response(&mut self, req: &ConnectRequest, choice: u8) -> (BytesMut, bool) {
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
    fn garbage(&mut self, kind: u8, arg: u32, head: i32) -> BytesMut {
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
fn negotiate(asked: i32, choice: u8) -> i32 {
    match choice / 16 % 8 {
        1 => 1,
        2 => 10,
        3 => 4_000,
        4 => i32::MAX,
        _ => asked.max(1),
    }
}

// ------------------------------------------------------------------ the harness

#[derive(Debug)]
struct Harness {
    s: Session,
    host_count: usize,
    now: Instant,
    server: Server,
    /// The host of a Connect action not yet answered.
    connecting: Option<usize>,
    /// Requests accepted and not completed, with their watch effect.
    pending: BTreeMap<RequestId, WatchEffect>,
    /// Every id ever accepted (to tell "twice" from "unknown").
    accepted: BTreeSet<RequestId>,
    state: SessionState,
    model: WatchModel,
    /// Every path a watch was asked on or a notification named.
    paths: BTreeSet<String>,
}

impl Harness {
    fn new(config: &Config) -> Harness {
        let sc = config.session_config();
        let host_count = sc.host_count;
        let resume = sc.resume.is_some();
        let mut s = Session::new(sc);
        let now = Instant::now();
        s.start(now);
        Harness {
            s,
            host_count,
            now,
            server: Server {
                conn: None,
                session: resume.then_some((RESUMED_SESSION, false)),
                next_session: 0x1000,
                zxid: 0,
            },
            connecting: None,
            pending: BTreeMap::new(),
            accepted: BTreeSet::new(),
            state: SessionState::Idle,
            model: WatchModel::default(),
            paths: PATHS.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn run(&mut self, op: &Op) {
        match *op {
            Op::Submit {
                kind,
                path,
                watch,
                arg,
            } => {
                let req = request_of(kind, path, watch, arg);
                self.submit(req);
            }
            Op::Connect => {
                if let Some(_host) = self.connecting.take() {
                    self.server.conn = Some(ServerConn::new());
                }
                self.s.handle_connected(self.now);
            }
            Op::Disconnect => {
                self.connecting = None;
                self.server.conn = None;
                self.s.handle_disconnected(self.now);
            }
            Op::Serve {
                count,
                choice,
                deliver,
            } => {
                self.serve(count, choice);
                if deliver {
                    self.deliver(usize::MAX);
                }
            }
            Op::Deliver { len } => self.deliver(if len == 0 {
                usize::MAX
            } else {
                usize::from(len)
            }),
            Op::Notify { event, path } => {
                let types = EventType::ALL;
                let event = WatcherEvent {
                    event_type: types[usize::from(event) % types.len()],
                    state: KeeperState::SyncConnected,
                    path: path_of(path).to_string(),
                };
                if let Some(c) = &mut self.server.conn {
                    let mut out = BytesMut::new();
                    encode_notification(-1, &event, &mut out);
                    c.write(&out);
                }
            }
            Op::Garbage { kind, arg } => {
                let head = self.head_xid();
                let bytes = self.server.garbage(kind, arg, head);
                if let Some(c) = &mut self.server.conn {
                    c.write(&bytes);
                }
            }
            Op::Cut { len } => {
                let has = self.server.conn.as_ref().map_or(0, |c| c.to_client.len());
                if has > 1 {
                    self.deliver(usize::from(len) % has);
                }
                self.run(&Op::Disconnect);
                return;
            }
            Op::Advance { unit, amount } => {
                let d = UNITS[usize::from(unit) % UNITS.len()] * u32::from(amount);
                self.now += d;
                self.timeout();
                return;
            }
            Op::ToDeadline { extra_ms } => {
                if let Some(t) = self.s.poll_timeout() {
                    self.now = self.now.max(t);
                }
                self.now += Duration::from_millis(u64::from(extra_ms));
                self.timeout();
                return;
            }
            Op::Close => self.s.close(self.now),
            Op::CloseNow => {
                self.s.close_now();
                self.pump();
                assert!(
                    self.pending.is_empty(),
                    "requests still pending after close_now: {:?}",
                    self.pending.keys()
                );
                return;
            }
            Op::AddAuth { which } => {
                let cred: &'static [u8] = if which % 2 == 0 { b"u:p" } else { b"x:y" };
                self.s.add_auth("digest".into(), Bytes::from_static(cred));
            }
            Op::Probe { host, read_write } => {
                self.s
                    .handle_probe_result(self.now, usize::from(host) % 4, read_write);
            }
            Op::RemoveLocal {
                path,
                watcher_type: t,
            } => {
                let Some(t) = watcher_type(1 + i32::from(t % 5)) else {
                    return;
                };
                let p = path_of(path);
                self.s.remove_watches_locally(p, t);
                self.model.remove_type(p, t, Some(false));
            }
            Op::ServerExpire { cut } => {
                if let Some((_, expired)) = &mut self.server.session {
                    *expired = true;
                }
                if cut && self.server.conn.is_some() {
                    self.run(&Op::Disconnect);
                    return;
                }
            }
            Op::Start => self.s.start(self.now),
        }
        self.pump();
    }

    fn submit(&mut self, req: Request) {
        let effect = WatchEffect::of(&req);
        if let WatchEffect::Add(p, _)
        | WatchEffect::Remove(p, _)
        | WatchEffect::Exists(p)
        | WatchEffect::Data(p)
        | WatchEffect::Child(p) = &effect
        {
            self.paths.insert(p.clone());
        }
        let terminal = self.s.state().is_terminal();
        match self.s.submit(self.now, req) {
            Ok(id) => {
                assert!(!terminal, "a {:?} session accepted a request", self.state);
                assert!(self.accepted.insert(id), "request id {id:?} given twice");
                self.pending.insert(id, effect);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
        self.pump();
    }

    /// `handle_timeout(now)`, then the deadline checks.
    fn timeout(&mut self) {
        let now = self.now;
        self.s.handle_timeout(now);
        self.pump();
        if let Some(t) = self.s.poll_timeout() {
            assert!(
                t > now,
                "after handle_timeout(now) the next deadline is {:?} at or before now (state {:?})",
                now - t,
                self.s.state()
            );
        }
        // Twice is harmless: nothing more happens.
        self.s.handle_timeout(now);
        assert_eq!(self.s.poll_action(), None, "a second handle_timeout acted");
        assert_eq!(
            self.s.poll_event(),
            None,
            "a second handle_timeout made an event"
        );
        assert!(
            self.s.pending_output().is_empty() || self.server.conn.is_some(),
            "a second handle_timeout wrote with no connection"
        );
        self.pump();
    }

    fn head_xid(&self) -> i32 {
        self.server
            .conn
            .as_ref()
            .and_then(|c| c.unanswered.front())
            .map_or(0, |f| match f {
                ClientFrame::Request(h, _) => h.xid,
                ClientFrame::Connect(_) => 0,
            })
    }

    /// Answers up to `count` frames the server read.
    fn serve(&mut self, count: u8, choice: u8) {
        let mut rng = XorShift::new(u64::from(choice) * 0x9e37_79b9 + 1);
        for i in 0..count {
            let Some(frame) = self
                .server
                .conn
                .as_mut()
                .and_then(|c| c.unanswered.pop_front())
            else {
                return;
            };
            // The first answer takes `choice` itself (seeds can aim), later ones a stream.
            let pick = if i == 0 || choice == 0 {
                choice
            } else {
                rng.next() as u8
            };
            let out = match frame {
                ClientFrame::Connect(req) => {
                    let (out, resumed) = self.server.connect_response(&req, pick);
                    if let Some(c) = &mut self.server.conn {
                        c.resumed = resumed;
                        c.handshake_end = Some(c.written + out.len() as u64);
                    }
                    out
                }
                ClientFrame::Request(header, req) => self.answer(&header, &req, pick, &mut rng),
            };
            if let Some(c) = &mut self.server.conn {
                c.write(&out);
            }
        }
    }

    fn answer(
        &mut self,
        header: &RequestHeader,
        req: &Request,
        pick: u8,
        rng: &mut XorShift,
    ) -> BytesMut {
        let op = req.op_code();
        // Mostly successes; some errors (NoNode often: it is the one exists turns into a
        // watch).
        let err = match pick % 8 {
            0..=4 => ErrorCode::Ok,
            5 => ErrorCode::NoNode,
            6 => ErrorCode::NoWatcher,
            _ => ErrorCode::ALL[usize::from(pick >> 3) % ErrorCode::ALL.len()],
        };
        match header.xid {
            xid::PING => self
                .server
                .reply(xid::PING, ErrorCode::Ok, &Response::Empty),
            xid::AUTH => {
                let err = if pick % 8 == 7 {
                    ErrorCode::AuthFailed
                } else {
                    ErrorCode::Ok
                };
                self.server.reply(xid::AUTH, err, &Response::Empty)
            }
            x => {
                if err != ErrorCode::Ok && !matches!(op, OpCode::Multi | OpCode::MultiRead) {
                    return self.server.reply(x, err, &Response::Empty);
                }
                let resp = match op {
                    OpCode::CloseSession | OpCode::SetWatches | OpCode::SetWatches2 => {
                        Response::Empty
                    }
                    OpCode::AddWatch => Response::AddWatch { err: ErrorCode::Ok },
                    _ => {
                        let bytes: Vec<u8> = (0..64).map(|_| rng.next() as u8).collect();
                        gen_response(&mut Gen::new(&bytes), op)
                    }
                };
                self.server.reply(x, ErrorCode::Ok, &resp)
            }
        }
    }

    /// Hands up to `len` bytes the server wrote to the session.
    fn deliver(&mut self, len: usize) {
        let Some(c) = &mut self.server.conn else {
            return;
        };
        let n = len.min(c.to_client.len());
        if n == 0 {
            return;
        }
        let chunk = c.to_client.split_to(n);
        let before = c.delivered;
        c.delivered += n as u64;
        if let Some(end) = c.handshake_end {
            if before < end && end <= c.delivered {
                c.snapshot = Some(self.model.clone());
            }
        }
        self.s.handle_data(self.now, &chunk);
        self.pump();
    }

    /// Drains the session's outputs as a driver would, and checks the invariants.
    fn pump(&mut self) {
        while let Some(a) = self.s.poll_action() {
            match a {
                Action::Connect { host } => {
                    assert!(
                        host < self.host_count,
                        "connect to host {host} of {}",
                        self.host_count
                    );
                    assert!(
                        self.server.conn.is_none() && self.connecting.is_none(),
                        "Connect while a connection is up or being made"
                    );
                    self.connecting = Some(host);
                }
                Action::Disconnect => {
                    self.server.conn = None;
                    self.connecting = None;
                }
                Action::ProbeReadWrite { host } => {
                    assert!(
                        host < self.host_count,
                        "probe host {host} of {}",
                        self.host_count
                    );
                }
            }
        }
        let out = self.s.pending_output().to_vec();
        if !out.is_empty() {
            let Some(c) = &mut self.server.conn else {
                panic!("{} bytes to write with no connection", out.len());
            };
            c.from_client.extend_from_slice(&out);
            self.s.advance_output(out.len());
            self.read_client();
        }
        while let Some(e) = self.s.poll_event() {
            self.on_event(e);
        }
        self.check();
    }

    /// Splits what the client wrote into frames; every one must decode.
    fn read_client(&mut self) {
        let Some(c) = &mut self.server.conn else {
            return;
        };
        let decoder = FrameDecoder::new(usize::MAX);
        loop {
            let frame = match decoder.decode(&mut c.from_client) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => panic!("the session wrote a bad frame: {e}"),
            };
            if !c.connect_read {
                let req = match ConnectRequest::decode(&frame) {
                    Ok(r) => r,
                    Err(e) => panic!("the session's first frame is no ConnectRequest: {e}"),
                };
                c.connect_read = true;
                c.unanswered.push_back(ClientFrame::Connect(req));
                continue;
            }
            let (header, req) = match decode_request(&frame) {
                Ok(r) => r,
                Err(e) => panic!("the session wrote a request that does not decode: {e}"),
            };
            let Some(snapshot) = &c.snapshot else {
                panic!(
                    "the session sent {} before its handshake was answered",
                    req.op_code().name()
                );
            };
            match (&req, header.xid) {
                (_, xid::AUTH) => {}
                (
                    Request::SetWatches(SetWatches {
                        relative_zxid: z, ..
                    }),
                    _,
                )
                | (
                    Request::SetWatches2(SetWatches2 {
                        relative_zxid: z, ..
                    }),
                    _,
                ) if c.set_watches.is_some() && *z != USER_SET_WATCHES_ZXID => {
                    let set = c.set_watches.get_or_insert_with(BTreeSet::new);
                    let lists: Vec<(WatchKind, &Vec<String>)> = match &req {
                        Request::SetWatches(w) => vec![
                            (WatchKind::Data, &w.data_watches),
                            (WatchKind::Exist, &w.exist_watches),
                            (WatchKind::Child, &w.child_watches),
                        ],
                        Request::SetWatches2(w) => vec![
                            (WatchKind::Data, &w.data_watches),
                            (WatchKind::Exist, &w.exist_watches),
                            (WatchKind::Child, &w.child_watches),
                            (WatchKind::Persistent, &w.persistent_watches),
                            (
                                WatchKind::PersistentRecursive,
                                &w.persistent_recursive_watches,
                            ),
                        ],
                        _ => Vec::new(),
                    };
                    for (k, paths) in lists {
                        for p in paths {
                            set.insert((k, p.clone()));
                        }
                    }
                }
                _ => {
                    if let Some(sent) = c.set_watches.take() {
                        check_set_watches(snapshot, &sent, c.resumed);
                    }
                }
            }
            c.unanswered.push_back(ClientFrame::Request(header, req));
        }
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Reply { id, reply } => {
                let Some(effect) = self.pending.remove(&id) else {
                    if self.accepted.contains(&id) {
                        panic!("request {id:?} completed twice: {reply:?}");
                    }
                    panic!("a reply for request {id:?}, never submitted: {reply:?}");
                };
                effect.apply(&mut self.model, &reply.result);
            }
            Event::Watch { event, .. } => {
                self.paths.insert(event.path.clone());
                self.model.on_event(event.event_type, &event.path);
            }
            Event::State(s) => {
                if s == SessionState::Expired {
                    self.model = WatchModel::default();
                }
                self.state = s;
            }
        }
    }

    fn check(&mut self) {
        assert_eq!(
            self.s.state(),
            self.state,
            "state() is not the last State event"
        );
        assert_eq!(
            self.s.pending_requests(),
            self.pending.len(),
            "pending_requests() disagrees with the requests not yet answered"
        );
        if self.state.is_terminal() {
            assert!(
                self.pending.is_empty(),
                "{:?} with requests pending: {:?}",
                self.state,
                self.pending.keys()
            );
            assert_eq!(
                self.s.poll_timeout(),
                None,
                "a {:?} session wants a timer",
                self.state
            );
        }
        self.check_watches();
    }

    fn check_watches(&self) {
        let reg = self.s.watches();
        let mut unsure_present = 0;
        for kind in ALL_KINDS {
            for p in &self.paths {
                let has = reg.contains(kind, p);
                match self.model.entries.get(&(kind, p.clone())) {
                    Some(None) => unsure_present += usize::from(has),
                    Some(Some(want)) => assert_eq!(
                        has, *want,
                        "watch {kind:?} on {p:?}: the session says {has}, the model {want}"
                    ),
                    None => assert!(!has, "watch {kind:?} on {p:?} that nothing registered"),
                }
            }
        }
        let certain = self.model.certain().count();
        assert_eq!(
            reg.len(),
            certain + unsure_present,
            "the session holds watches the model does not know"
        );
    }

    /// Ends the run: close, drive to a terminal state, and check nothing is left pending.
    fn finish(&mut self) {
        self.s.close(self.now);
        self.pump();
        let mut rounds = 0;
        while !self.s.state().is_terminal() {
            rounds += 1;
            assert!(
                rounds < 10_000,
                "close never finished: state {:?}, deadline {:?}",
                self.s.state(),
                self.s
                    .poll_timeout()
                    .map(|t| t.saturating_duration_since(self.now))
            );
            if self.connecting.is_some() {
                self.run(&Op::Connect);
            }
            let unanswered = self.server.conn.as_ref().map_or(0, |c| c.unanswered.len());
            if unanswered > 0 {
                self.serve(u8::try_from(unanswered).unwrap_or(u8::MAX), 0);
            }
            if self
                .server
                .conn
                .as_ref()
                .is_some_and(|c| !c.to_client.is_empty())
            {
                self.deliver(usize::MAX);
                continue;
            }
            if self.connecting.is_none() && self.s.poll_timeout().is_some() {
                self.run(&Op::ToDeadline { extra_ms: 0 });
            } else if self.connecting.is_none() {
                panic!("close stalled: {:?} with no deadline", self.s.state());
            }
        }
        self.pump();
        assert!(
            self.pending.is_empty(),
            "requests never completed: {:?}",
            self.pending.keys()
        );
    }
}

/// The watches a resumed connection re-registered are exactly what the application was
/// told it holds when the handshake was answered (entries the model leaves open may go
/// either way).
fn check_set_watches(snapshot: &WatchModel, sent: &BTreeSet<(WatchKind, String)>, resumed: bool) {
    if !resumed {
        assert!(sent.is_empty(), "SetWatches on a new session: {sent:?}");
    }
    for k in snapshot.certain() {
        if resumed {
            assert!(
                sent.contains(k),
                "watch {k:?} not re-registered: sent {sent:?}"
            );
        }
    }
    for k in sent {
        assert!(
            snapshot.entries.get(k).is_some_and(|v| *v != Some(false)),
            "re-registered {k:?}, which the application does not hold"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    fn corpus_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/session_ops")
    }

    fn script(config: Config, ops: &[Op]) -> Vec<u8> {
        let mut out = Vec::new();
        config.encode(&mut out);
        for op in ops {
            op.encode(&mut out);
        }
        out
    }

    /// Connect, answer the handshake, deliver it.
    const HANDSHAKE: [Op; 2] = [
        Op::Connect,
        Op::Serve {
            count: 1,
            choice: 0,
            deliver: true,
        },
    ];

    fn serve(count: u8, choice: u8) -> Op {
        Op::Serve {
            count,
            choice,
            deliver: true,
        }
    }

    fn submit(kind: u8, path: u8, watch: bool) -> Op {
        Op::Submit {
            kind,
            path,
            watch,
            arg: 3,
        }
    }

    const EXISTS: u8 = 5;
    const GET_DATA: u8 = 6;
    const GET_CHILDREN: u8 = 10;
    const REMOVE_WATCHES: u8 = 18;
    const ADD_WATCH: u8 = 19;
    const AUTH: u8 = 20;

    /// The handwritten seeds: (name, config, ops).
    fn seeds() -> Vec<(String, Config, Vec<Op>)> {
        let plain = Config::default();
        let mut seeds = Vec::new();
        let mut add = |name: &str, config: Config, ops: Vec<Op>| {
            seeds.push((name.to_string(), config, ops));
        };
        // Every request kind, with and without a watch, answered well and with an error.
        for kind in 0..REQUEST_KINDS {
            let mut ops = HANDSHAKE.to_vec();
            ops.extend([
                submit(kind, 1, true),
                serve(1, 0),
                submit(kind, 2, false),
                serve(1, 5),
                Op::Submit {
                    kind,
                    path: 3,
                    watch: true,
                    arg: 201,
                },
                serve(1, 7),
            ]);
            add(&format!("submit-kind-{kind:02}"), plain, ops);
        }
        let watches = [
            submit(EXISTS, 1, true),
            submit(EXISTS, 3, true),
            submit(GET_DATA, 2, true),
            submit(GET_CHILDREN, 1, true),
            Op::Submit {
                kind: ADD_WATCH,
                path: 4,
                watch: false,
                arg: 0,
            },
            Op::Submit {
                kind: ADD_WATCH,
                path: 0,
                watch: false,
                arg: 1,
            },
            serve(1, 0),
            serve(1, 5),
            serve(4, 0),
        ];
        let reconnect = [
            Op::Disconnect,
            Op::ToDeadline { extra_ms: 0 },
            Op::Connect,
            serve(1, 0),
            submit(GET_DATA, 1, false),
            serve(8, 0),
        ];
        let mut ops = HANDSHAKE.to_vec();
        ops.extend(watches);
        ops.extend([
            Op::Notify { event: 1, path: 3 },
            Op::Notify { event: 3, path: 1 },
            Op::Notify { event: 4, path: 1 },
            Op::Notify { event: 2, path: 4 },
            Op::Deliver { len: 0 },
        ]);
        add("watches-then-notifications", plain, ops);
        let mut ops = HANDSHAKE.to_vec();
        ops.extend(watches);
        ops.extend(reconnect);
        add("watches-survive-reconnect", plain, ops);
        let mut ops = HANDSHAKE.to_vec();
        ops.extend(watches);
        ops.extend([
            Op::RemoveLocal {
                path: 1,
                watcher_type: 1,
            },
            Op::RemoveLocal {
                path: 0,
                watcher_type: 4,
            },
        ]);
        ops.extend(reconnect);
        add("remove-locally-then-reconnect", plain, ops);
        let mut ops = HANDSHAKE.to_vec();
        ops.extend(watches);
        ops.extend([
            Op::Submit {
                kind: REMOVE_WATCHES,
                path: 4,
                watch: false,
                arg: 3,
            },
            serve(1, 6),
            Op::Submit {
                kind: REMOVE_WATCHES,
                path: 1,
                watch: false,
                arg: 2,
            },
            serve(1, 0),
        ]);
        ops.extend(reconnect);
        add("remove-watches-ok-and-nowatcher", plain, ops);
        let mut ops = HANDSHAKE.to_vec();
        ops.extend(watches);
        ops.extend([
            Op::ServerExpire { cut: true },
            Op::ToDeadline { extra_ms: 0 },
            Op::Connect,
            serve(1, 0),
            submit(GET_DATA, 1, true),
            serve(4, 0),
        ]);
        add("server-expires-session", plain, ops);
        add(
            "server-expires-no-reconnect",
            Config { flags: 8, ..plain },
            [
                HANDSHAKE.as_slice(),
                &[
                    submit(GET_DATA, 1, true),
                    Op::ServerExpire { cut: true },
                    Op::Connect,
                    serve(1, 0),
                    submit(GET_DATA, 1, true),
                ],
            ]
            .concat(),
        );
        let mut ops = HANDSHAKE.to_vec();
        ops.extend(watches);
        ops.extend([
            submit(GET_DATA, 2, false),
            Op::Disconnect,
            Op::Advance { unit: 2, amount: 4 },
            Op::Disconnect,
            Op::Advance {
                unit: 2,
                amount: 20,
            },
            Op::ToDeadline { extra_ms: 1 },
            Op::Connect,
            serve(1, 0),
            serve(4, 0),
        ]);
        add("client-side-expiry", plain, ops);
        let mut ops = HANDSHAKE.to_vec();
        for _ in 0..4 {
            ops.extend([Op::ToDeadline { extra_ms: 0 }, serve(1, 0)]);
        }
        ops.extend([
            Op::ToDeadline { extra_ms: 0 },
            Op::ToDeadline { extra_ms: 0 },
            Op::ToDeadline { extra_ms: 0 },
        ]);
        add("pings-then-read-timeout", plain, ops);
        for kind in 0..10u8 {
            let mut ops = HANDSHAKE.to_vec();
            ops.extend([
                submit(GET_DATA, 1, true),
                submit(EXISTS, 2, true),
                Op::Garbage {
                    kind,
                    arg: 0x0102_0304,
                },
                Op::Deliver { len: 0 },
                serve(2, 0),
                Op::ToDeadline { extra_ms: 0 },
                Op::Connect,
                serve(3, 0),
            ]);
            add(&format!("garbage-{kind}"), plain, ops);
        }
        let mut ops = HANDSHAKE.to_vec();
        ops.extend([
            submit(GET_DATA, 1, true),
            submit(GET_CHILDREN, 2, true),
            Op::Serve {
                count: 2,
                choice: 0,
                deliver: false,
            },
            Op::Deliver { len: 3 },
            Op::Deliver { len: 20 },
            Op::Cut { len: 7 },
            Op::ToDeadline { extra_ms: 0 },
        ]);
        add("cut-mid-frame", plain, ops);
        let mut ops = HANDSHAKE.to_vec();
        ops.extend([
            submit(GET_DATA, 1, true),
            Op::Advance {
                unit: 5,
                amount: u16::MAX,
            },
            Op::Advance {
                unit: 4,
                amount: u16::MAX,
            },
            Op::ToDeadline { extra_ms: 255 },
            Op::Connect,
            serve(2, 0),
        ]);
        add("huge-clock-jumps", plain, ops);
        let mut ops = HANDSHAKE.to_vec();
        ops.extend([
            submit(GET_DATA, 1, true),
            submit(0, 2, false),
            submit(AUTH, 0, false),
            Op::CloseNow,
            submit(GET_DATA, 1, true),
        ]);
        add("close-now-with-pending", plain, ops);
        add(
            "close-while-connecting",
            plain,
            vec![
                submit(GET_DATA, 1, true),
                Op::Close,
                Op::Connect,
                submit(GET_DATA, 1, true),
            ],
        );
        let mut ops = HANDSHAKE.to_vec();
        ops.extend([
            submit(GET_DATA, 1, true),
            Op::Close,
            submit(GET_DATA, 1, true),
            Op::ToDeadline { extra_ms: 0 },
        ]);
        add("close-unanswered", plain, ops);
        add(
            "auth-replayed-and-failed",
            Config { flags: 32, ..plain },
            [
                HANDSHAKE.as_slice(),
                &[
                    serve(1, 0),
                    Op::AddAuth { which: 1 },
                    submit(AUTH, 1, false),
                    serve(1, 0),
                    Op::Disconnect,
                    Op::ToDeadline { extra_ms: 0 },
                    Op::Connect,
                    serve(1, 0),
                    serve(2, 0),
                    submit(AUTH, 2, false),
                    submit(GET_DATA, 1, false),
                    serve(2, 7),
                ],
            ]
            .concat(),
        );
        add(
            "read-only-then-probe",
            Config {
                flags: 2 | 4,
                ..plain
            },
            vec![
                Op::Connect,
                serve(1, 2),
                submit(GET_DATA, 1, true),
                serve(1, 0),
                Op::ToDeadline { extra_ms: 0 },
                Op::Probe {
                    host: 1,
                    read_write: true,
                },
                Op::Connect,
                serve(1, 0),
                serve(2, 0),
            ],
        );
        add(
            "refused-by-read-only-server",
            Config { flags: 1, ..plain },
            vec![Op::Connect, serve(1, 1), Op::Connect, serve(1, 0)],
        );
        for (i, choice) in [0x10u8, 0x20, 0x30, 0x40].into_iter().enumerate() {
            let mut ops = vec![Op::Connect, serve(1, choice)];
            ops.extend([
                submit(GET_DATA, 1, true),
                Op::ToDeadline { extra_ms: 0 },
                serve(2, 0),
                Op::ToDeadline { extra_ms: 0 },
                Op::ToDeadline { extra_ms: 0 },
            ]);
            add(&format!("negotiated-timeout-{i}"), plain, ops);
        }
        add(
            "queue-while-connecting",
            Config { limits: 3, ..plain },
            vec![
                submit(GET_DATA, 1, true),
                submit(EXISTS, 1, true),
                submit(0, 2, false),
                submit(GET_DATA, 3, false),
                Op::Connect,
                serve(1, 0),
                serve(4, 0),
            ],
        );
        add(
            "backoff-over-hosts",
            Config {
                flags: 2,
                limits: 0b11_0100,
                ..plain
            },
            vec![
                Op::Disconnect,
                Op::Disconnect,
                Op::Disconnect,
                Op::ToDeadline { extra_ms: 0 },
                Op::Disconnect,
                Op::Start,
                Op::ToDeadline { extra_ms: 0 },
                Op::Connect,
                serve(1, 0),
            ],
        );
        add(
            "resume-a-session",
            Config { flags: 16, ..plain },
            vec![
                Op::Connect,
                serve(1, 0),
                submit(GET_DATA, 1, true),
                serve(1, 0),
                Op::ServerExpire { cut: false },
                Op::Disconnect,
                Op::Connect,
                serve(1, 0),
            ],
        );
        for (i, timeout) in [3u8, 5, 6].into_iter().enumerate() {
            add(
                &format!("odd-session-timeout-{i}"),
                Config { timeout, ..plain },
                vec![
                    Op::Connect,
                    serve(1, 0),
                    submit(GET_DATA, 1, true),
                    Op::ToDeadline { extra_ms: 0 },
                    Op::ToDeadline { extra_ms: 0 },
                    Op::Advance { unit: 3, amount: 1 },
                ],
            );
        }
        seeds
    }

    /// Writes the seeds into `fuzz/corpus/session_ops/`:
    /// `cargo test --lib fuzzing::session_ops::tests::write_seed_corpus -- --ignored`.
    #[test]
    #[ignore = "writes files: run by hand to regenerate the seed corpus"]
    fn write_seed_corpus() {
        let dir = corpus_dir();
        fs::create_dir_all(&dir).expect("create corpus dir");
        for (name, config, ops) in seeds() {
            fs::write(dir.join(format!("seed-{name}")), script(config, &ops)).expect("write");
        }
    }

    #[test]
    fn seed_corpus_is_up_to_date() {
        for (name, config, ops) in seeds() {
            let path = corpus_dir().join(format!("seed-{name}"));
            let on_disk = fs::read(&path).unwrap_or_default();
            assert_eq!(
                on_disk,
                script(config, &ops),
                "{} is stale or missing",
                path.display()
            );
        }
    }

    #[test]
    fn ops_decode_as_encoded() {
        for (name, config, ops) in seeds() {
            let bytes = script(config, &ops);
            let mut g = Gen::new(&bytes);
            assert_eq!(Config::decode(&mut g), config, "{name}");
            let mut decoded = Vec::new();
            while !g.exhausted() {
                decoded.push(Op::decode(&mut g));
            }
            assert_eq!(decoded, ops, "{name}");
        }
    }

    #[test]
    fn every_seed_passes() {
        let mut failed = Vec::new();
        for (name, config, ops) in seeds() {
            let bytes = script(config, &ops);
            if std::panic::catch_unwind(|| session_ops(&bytes)).is_err() {
                failed.push(name);
            }
        }
        assert!(failed.is_empty(), "seeds failed: {failed:?}");
    }
}

#[cfg(test)]
mod trace {
    use super::*;

    /// Prints the config and ops of the input in `SESSION_OPS_INPUT` (a file, or hex bytes
    /// with `0x`), then runs it: `SESSION_OPS_INPUT=crash-... cargo test --lib
    /// fuzzing::session_ops::trace -- --ignored --nocapture`.
    #[test]
    #[ignore = "a debugging aid: run by hand"]
    fn show_input() {
        let Ok(arg) = std::env::var("SESSION_OPS_INPUT") else {
            return;
        };
        let bytes = match arg.strip_prefix("0x") {
            Some(hex) => (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
                .collect(),
            None => std::fs::read(&arg).expect("read input"),
        };
        let mut g = Gen::new(&bytes);
        let config = Config::decode(&mut g);
        eprintln!("{config:?} -> {:?}", config.session_config());
        let mut n = 0;
        while !g.exhausted() && n < MAX_OPS {
            n += 1;
            eprintln!("{:?}", Op::decode(&mut g));
        }
        session_ops(&bytes);
    }
}
