//! The session operation-sequence fuzzer: [`session_ops`] reads a [`Config`] and a sequence
//! of [`Op`]s from the input and drives the sans-IO [`Session`] with them against a small
//! model server ([`Server`]), checking invariants after every step (STYLE.md habit 5;
//! quinn-proto's `streams` target).
//!
//! Here: the harness that runs the ops and checks the invariants (`mod.rs`), the input
//! format (`input.rs`), the model server (`server.rs`), the watch model (`model.rs`) and
//! their tests (`tests.rs`). It uses the session and the codec only, and no IO; the clock
//! is read once, for the starting instant, and then moved by the ops.
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
//!   nothing (no event, no action, no byte to write); a terminal session asks for no timer,
//!   and a live one always has a deadline (without one it could wait for ever);
//! - the session writes only to a live connection, asks to connect only with no connection
//!   up, names only hosts below `host_count`, sends nothing before its handshake is answered,
//!   every frame it writes decodes, xids increase on a connection, and at most one ping is
//!   in flight;
//! - [`Session::state`] is the last [`Event::State`] reported, and a reply that names a
//!   path names its own request's;
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

mod input;
mod model;
mod server;
#[cfg(test)]
mod tests;

use input::*;
use model::*;
use server::*;

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

#[derive(Debug)]
struct Harness {
    s: Session,
    host_count: usize,
    now: Instant,
    server: Server,
    /// The host of a Connect action not yet answered.
    connecting: Option<usize>,
    /// The most bytes one turn writes ([`Op::WriteLimit`]).
    write_limit: usize,
    /// Requests accepted and not completed, with their watch effect.
    pending: BTreeMap<RequestId, (WatchEffect, Option<String>)>,
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
            write_limit: usize::MAX,
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
                // Any frame with the ping xid is a ping reply to the session (a wrong xid or
                // a truncated reply can land on -2).
                let xid = bytes
                    .get(4..8)
                    .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                if xid == Some(xid::PING) {
                    self.wrote_ping_reply(bytes.len());
                }
                if let Some(c) = &mut self.server.conn {
                    // Raw bytes shift the framing of all that follows: the session may read
                    // anything as a ping reply from there on.
                    c.misframed |= kind % 10 == 2;
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
            Op::WriteLimit { bytes } => {
                self.write_limit = if bytes == 0 {
                    usize::MAX
                } else {
                    usize::from(bytes)
                };
            }
        }
        self.pump();
    }

    fn submit(&mut self, req: Request) {
        let effect = WatchEffect::of(&req);
        let path = req.clone().into_path();
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
                self.pending.insert(id, (effect, path));
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
                ClientFrame::Request(header, req) => {
                    let out = self.answer(&header, &req, pick, &mut rng);
                    if header.xid == xid::PING {
                        self.wrote_ping_reply(out.len());
                    }
                    out
                }
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
        while c
            .ping_reply_ends
            .front()
            .is_some_and(|&end| end <= c.delivered)
        {
            c.ping_reply_ends.pop_front();
            c.ping_replies_read += 1;
        }
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
        let waiting = self.s.pending_output().len();
        if waiting > 0 {
            let Some(c) = &mut self.server.conn else {
                panic!("{waiting} bytes to write with no connection");
            };
            let n = waiting.min(self.write_limit);
            c.from_client
                .extend_from_slice(&self.s.pending_output()[..n]);
            self.s.advance_output(n);
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
            if header.xid == xid::PING {
                c.pings += 1;
                assert!(
                    c.misframed || c.pings <= 1 + c.ping_replies_read,
                    "a second ping before a ping reply was read ({} pings, {} replies read)",
                    c.pings,
                    c.ping_replies_read
                );
            } else if header.xid > 0 {
                assert!(
                    header.xid > c.last_xid,
                    "xid {} after {} on one connection",
                    header.xid,
                    c.last_xid
                );
                c.last_xid = header.xid;
            }
            c.unanswered.push_back(ClientFrame::Request(header, req));
        }
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Reply { id, reply } => {
                let Some((effect, path)) = self.pending.remove(&id) else {
                    if self.accepted.contains(&id) {
                        panic!("request {id:?} completed twice: {reply:?}");
                    }
                    panic!("a reply for request {id:?}, never submitted: {reply:?}");
                };
                if let Some(p) = &reply.path {
                    assert_eq!(
                        Some(p),
                        path.as_ref(),
                        "the reply to {id:?} names another request's path"
                    );
                }
                effect.apply(&mut self.model, &reply.result);
            }
            Event::Watch { event, .. } => {
                self.paths.insert(event.path.clone());
                self.model.on_event(event.event_type, &event.path);
            }
            Event::WatchReset { kind, path, kept } => {
                // A refused re-registration: the session keeps only re-added persistent
                // watches.
                self.model.set(kind, &path, Some(kept));
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
        if !self.state.is_terminal() {
            assert!(
                self.s.poll_timeout().is_some(),
                "a live session ({:?}) with no deadline could stall for ever",
                self.state
            );
        }
        self.check_watches();
    }

    /// A ping reply (an answer or a stray one) of `len` bytes is about to be written.
    fn wrote_ping_reply(&mut self, len: usize) {
        if let Some(c) = &mut self.server.conn {
            c.ping_reply_ends.push_back(c.written + len as u64);
        }
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
        self.write_limit = usize::MAX;
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
