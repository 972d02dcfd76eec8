//! Deterministic tests of the session: a scripted server and a fake clock (STYLE.md habit 6).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::*;

mod loss;
mod storm;
use super::watches::PendingWatch;
use crate::proto::{
    decode_request, encode_connect_response, encode_notification, encode_reply, xid,
    AddWatchRequest, AuthPacket, ConnectRequest, ConnectResponse, ErrorCode, EventType,
    KeeperState, PathWatch, ReplyHeader, Request, RequestHeader, Response, SetDataRequest, Stat,
    WatcherEvent,
};

/// The client side of a connection as the scripted server sees it.
struct Harness {
    s: Session,
    now: Instant,
    /// What the client wrote on the current connection, not yet read by the test.
    wire: BytesMut,
    /// Whether the handshake frame of the current connection has been read.
    saw_connect: bool,
    actions: Vec<Action>,
    events: Vec<Event>,
    connected_to: Option<usize>,
}

impl Harness {
    fn new(config: SessionConfig) -> Harness {
        Harness {
            s: Session::new(config),
            now: Instant::now(),
            wire: BytesMut::new(),
            saw_connect: false,
            actions: Vec::new(),
            events: Vec::new(),
            connected_to: None,
        }
    }

    /// Drains the session's outputs, as the driver would after every input.
    fn pump(&mut self) {
        while let Some(a) = self.s.poll_action() {
            if a == Action::Disconnect {
                self.connected_to = None;
                self.wire.clear();
            }
            self.actions.push(a);
        }
        let out = self.s.pending_output().to_vec();
        self.s.advance_output(out.len());
        if self.connected_to.is_some() {
            self.wire.extend_from_slice(&out);
        }
        while let Some(e) = self.s.poll_event() {
            self.events.push(e);
        }
    }

    fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Accepts the pending Connect action's TCP connection.
    fn accept(&mut self) -> usize {
        let host = self
            .take_actions()
            .into_iter()
            .rev()
            .find_map(|a| match a {
                Action::Connect { host } => Some(host),
                _ => None,
            })
            .expect("a Connect action");
        self.connected_to = Some(host);
        self.saw_connect = false;
        self.wire.clear();
        self.s.handle_connected(self.now);
        self.pump();
        host
    }

    fn next_client_frame(&mut self) -> Option<Bytes> {
        FrameDecoder::new(1 << 20).decode(&mut self.wire).unwrap()
    }

    fn read_connect(&mut self) -> ConnectRequest {
        let f = self.next_client_frame().expect("a ConnectRequest");
        self.saw_connect = true;
        ConnectRequest::decode(&f).unwrap()
    }

    /// Every request the client has written since the last call.
    fn read_requests(&mut self) -> Vec<(RequestHeader, Request)> {
        let mut out = Vec::new();
        while let Some(f) = self.next_client_frame() {
            out.push(decode_request(&f).unwrap());
        }
        out
    }

    fn server_send(&mut self, frame: BytesMut) {
        self.s.handle_data(self.now, &frame);
        self.pump();
    }

    fn handshake(&mut self, timeout_ms: i32, session_id: i64) {
        self.accept();
        let _ = self.read_connect();
        let mut b = BytesMut::new();
        encode_connect_response(
            &ConnectResponse {
                protocol_version: 0,
                timeout_ms,
                session_id,
                passwd: Bytes::from_static(&[9; 16]),
                read_only: Some(false),
            },
            &mut b,
        );
        self.server_send(b);
    }

    fn reply(&mut self, xid: i32, zxid: i64, err: ErrorCode, resp: Response) {
        let mut b = BytesMut::new();
        encode_reply(&ReplyHeader { xid, zxid, err }, &resp, &mut b);
        self.server_send(b);
    }

    fn notify(&mut self, t: EventType, path: &str) {
        let mut b = BytesMut::new();
        encode_notification(
            -1,
            &WatcherEvent {
                event_type: t,
                state: KeeperState::SyncConnected,
                path: path.into(),
            },
            &mut b,
        );
        self.server_send(b);
    }

    fn submit(&mut self, req: Request) -> RequestId {
        let id = self.s.submit(self.now, req).unwrap();
        self.pump();
        id
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.s.handle_timeout(self.now);
        self.pump();
    }

    /// Jumps to the session's next deadline.
    fn advance_to_deadline(&mut self) -> Duration {
        let t = self.s.poll_timeout().expect("a deadline");
        let d = t.saturating_duration_since(self.now);
        self.now = t.max(self.now);
        self.s.handle_timeout(self.now);
        self.pump();
        d
    }

    fn states(&mut self) -> Vec<SessionState> {
        self.take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::State(s) => Some(s),
                _ => None,
            })
            .collect()
    }
}

fn get(path: &str, watch: bool) -> Request {
    Request::GetData(PathWatch {
        path: path.into(),
        watch,
    })
}

fn data_reply() -> Response {
    Response::GetData {
        data: Some(Bytes::from_static(b"v")),
        stat: Stat::default(),
    }
}

fn replies(events: &[Event]) -> Vec<(RequestId, Result<Response, RequestError>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Reply { id, reply } => Some((*id, reply.result.clone())),
            _ => None,
        })
        .collect()
}

fn config(hosts: usize) -> SessionConfig {
    let mut c = SessionConfig::new(hosts);
    c.session_timeout = Duration::from_secs(9);
    c
}

#[test]
fn fresh_handshake_sends_49_byte_connect_and_reports_connected() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    assert_eq!(h.states(), vec![SessionState::Connecting]);
    h.accept();
    assert_eq!(h.wire.len(), 49, "4-byte prefix + 45-byte ConnectRequest");
    let req = h.read_connect();
    assert_eq!(req.session_id, 0);
    assert_eq!(&req.passwd[..], &[0u8; 16]);
    assert_eq!(req.timeout_ms, 9000);
    assert_eq!(req.read_only, Some(false));
    let mut b = BytesMut::new();
    encode_connect_response(
        &ConnectResponse {
            protocol_version: 0,
            timeout_ms: 6000,
            session_id: 0x55,
            passwd: Bytes::from_static(&[9; 16]),
            read_only: Some(false),
        },
        &mut b,
    );
    h.server_send(b);
    assert_eq!(h.states(), vec![SessionState::Connected]);
    assert_eq!(h.s.negotiated_timeout(), Duration::from_secs(6));
    assert_eq!(h.s.session_id().unwrap().0, 0x55);
}

#[test]
fn resume_sends_the_session_id_and_password() {
    let mut c = config(1);
    c.resume = Some((0x77, [3; 16]));
    let mut h = Harness::new(c);
    h.s.start(h.now);
    h.pump();
    h.accept();
    let req = h.read_connect();
    assert_eq!(req.session_id, 0x77);
    assert_eq!(&req.passwd[..], &[3; 16]);
}

#[test]
fn replies_match_in_fifo_order_and_update_last_zxid() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    let a = h.submit(get("/a", false));
    let b = h.submit(get("/b", false));
    let sent = h.read_requests();
    assert_eq!(sent.len(), 2);
    assert!(sent[0].0.xid < sent[1].0.xid, "xids in wire order");
    h.reply(sent[0].0.xid, 10, ErrorCode::Ok, data_reply());
    h.reply(sent[1].0.xid, 11, ErrorCode::NoNode, Response::Empty);
    let r = replies(&h.take_events());
    assert_eq!(r[0], (a, Ok(data_reply())));
    assert_eq!(r[1], (b, Err(RequestError::Server(ErrorCode::NoNode))));
    assert_eq!(h.s.last_zxid(), 11);
}

#[test]
fn out_of_order_reply_drops_the_connection_not_the_process() {
    let mut h = Harness::new(config(2));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    let a = h.submit(get("/a", false));
    let b = h.submit(get("/b", false));
    let sent = h.read_requests();
    h.reply(sent[1].0.xid, 10, ErrorCode::Ok, data_reply());
    let events = h.take_events();
    let r = replies(&events);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0], (a, Err(RequestError::ConnectionLoss)));
    assert_eq!(r[1], (b, Err(RequestError::ConnectionLoss)));
    assert!(events.contains(&Event::State(SessionState::Connecting)));
    let actions = h.take_actions();
    assert_eq!(actions[0], Action::Disconnect);
    assert!(matches!(actions[1], Action::Connect { .. }));
}

#[test]
fn one_ping_after_a_third_of_the_timeout_and_read_timeout_at_two_thirds() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    h.take_events();
    // T = 6 s: the first ping after 2 s idle.
    let waited = h.advance_to_deadline();
    assert_eq!(waited, Duration::from_secs(2));
    let sent = h.read_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0.xid, -2);
    assert_eq!(sent[0].1, Request::Ping);
    // No second ping while one is outstanding; 2T/3 = 4 s after the last receive, the
    // connection is dropped.
    let waited = h.advance_to_deadline();
    assert_eq!(waited, Duration::from_secs(2));
    assert!(h.read_requests().is_empty());
    assert!(h.take_actions().contains(&Action::Disconnect));
    assert_eq!(h.states(), vec![SessionState::Connecting]);
}

#[test]
fn ping_reply_keeps_the_connection() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    for _ in 0..5 {
        h.advance_to_deadline();
        let sent = h.read_requests();
        assert_eq!(sent.len(), 1, "one ping per idle period");
        h.reply(-2, 5, ErrorCode::Ok, Response::Empty);
    }
    assert!(!h.take_actions().contains(&Action::Disconnect));
    assert_eq!(h.s.last_zxid(), 0, "pings do not move lastZxidSeen");
}

#[test]
fn hosts_are_tried_in_shuffled_passes_with_backoff_between_passes() {
    let mut c = config(3);
    c.backoff_initial = Duration::from_millis(100);
    let mut h = Harness::new(c);
    h.s.start(h.now);
    h.pump();
    let mut tried = Vec::new();
    for _ in 0..3 {
        let host = match h.take_actions().last() {
            Some(Action::Connect { host }) => *host,
            other => panic!("expected Connect, got {other:?}"),
        };
        tried.push(host);
        // Connect timeout T / #hosts = 3 s.
        h.connected_to = Some(host);
        let waited = h.advance_to_deadline();
        assert_eq!(waited, Duration::from_secs(3));
    }
    tried.sort();
    assert_eq!(tried, vec![0, 1, 2], "each host once per pass");
    // The pass failed: a backoff of 100 ms ± 40 %.
    let waited = h.advance_to_deadline();
    assert!(
        waited >= Duration::from_millis(60) && waited <= Duration::from_millis(140),
        "{waited:?}"
    );
    assert!(matches!(
        h.take_actions().last(),
        Some(Action::Connect { .. })
    ));
}

#[test]
fn the_host_that_dropped_the_session_is_tried_last() {
    // A read timeout (a hung server) takes 2T/3; trying that host first again would spend
    // the remaining T/3 on its connect timeout and end in a client-side expiry although
    // the other hosts are fine. Whatever the shuffle, another host comes first.
    for seed in 0..64 {
        let mut c = config(3);
        c.seed = seed;
        let mut h = Harness::new(c);
        h.s.start(h.now);
        h.pump();
        h.handshake(9000, 7);
        let first = h.connected_to.expect("connected");
        h.take_actions();
        // Nothing comes back: the read timeout drops the connection.
        h.advance(Duration::from_secs(6));
        let next: Vec<usize> = h
            .take_actions()
            .iter()
            .filter_map(|a| match a {
                Action::Connect { host } => Some(*host),
                _ => None,
            })
            .collect();
        assert_eq!(next.len(), 1, "seed {seed}: {next:?}");
        assert_ne!(next[0], first, "seed {seed}: the hung host again");
        // The rest of the pass, every attempt refused at once: the other host, then the
        // one that dropped us.
        let mut pass = next;
        while pass.len() < 3 {
            h.connected_to = pass.last().copied();
            h.s.handle_connected(h.now);
            h.s.handle_disconnected(h.now);
            h.pump();
            let more: Vec<usize> = h
                .take_actions()
                .iter()
                .filter_map(|a| match a {
                    Action::Connect { host } => Some(*host),
                    _ => None,
                })
                .collect();
            assert_eq!(more.len(), 1, "seed {seed}: {more:?}");
            pass.extend(more);
        }
        assert_eq!(pass[2], first, "seed {seed}: {pass:?}");
        assert_ne!(pass[0], pass[1], "seed {seed}: {pass:?}");
    }
}

#[test]
fn refused_handshake_moves_to_the_next_host() {
    let mut h = Harness::new(config(2));
    h.s.start(h.now);
    h.pump();
    let first = h.accept();
    let _ = h.read_connect();
    // PROTOCOL.md §10: a bare 16-byte ReplyHeader with NotReadOnly.
    let mut b = BytesMut::new();
    encode_reply(
        &ReplyHeader {
            xid: 0,
            zxid: 0,
            err: ErrorCode::NotReadOnly,
        },
        &Response::Empty,
        &mut b,
    );
    h.server_send(b);
    let actions = h.take_actions();
    assert_eq!(actions[0], Action::Disconnect);
    assert_eq!(actions[1], Action::Connect { host: 1 - first });
}

#[test]
fn requests_wait_while_disconnected_and_go_out_after_reconnect() {
    let mut c = config(1);
    c.max_queued_requests = 2;
    let mut h = Harness::new(c);
    h.s.start(h.now);
    h.pump();
    let a = h.submit(get("/a", false));
    let b = h.submit(get("/b", false));
    assert_eq!(
        h.s.submit(h.now, get("/c", false)),
        Err(RequestError::QueueFull { limit: 2 })
    );
    h.handshake(6000, 1);
    let sent = h.read_requests();
    assert_eq!(sent.len(), 2);
    h.reply(sent[0].0.xid, 1, ErrorCode::Ok, data_reply());
    h.reply(sent[1].0.xid, 2, ErrorCode::Ok, data_reply());
    let r = replies(&h.take_events());
    assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), vec![a, b]);
}

#[test]
fn client_side_expiry_when_no_server_answers_for_the_session_timeout() {
    let mut c = config(1);
    c.backoff_initial = Duration::from_millis(200);
    c.backoff_max = Duration::from_millis(400);
    let mut h = Harness::new(c);
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 0x42);
    h.take_events();
    let lost_at = h.now;
    // The server vanishes.
    h.s.handle_disconnected(h.now);
    h.pump();
    let queued = h.submit(get("/q", false));
    assert_eq!(h.states(), vec![SessionState::Connecting]);
    let mut expired_at = None;
    for _ in 0..200 {
        h.advance_to_deadline();
        let events = h.take_events();
        if events.contains(&Event::State(SessionState::Expired)) {
            expired_at = Some(h.now);
            assert!(replies(&events).contains(&(queued, Err(RequestError::SessionExpired))));
            assert!(events.contains(&Event::State(SessionState::Connecting)));
            break;
        }
        // Every attempt fails at once.
        if h.take_actions()
            .iter()
            .any(|a| matches!(a, Action::Connect { .. }))
        {
            h.connected_to = Some(0);
            h.s.handle_connected(h.now);
            h.s.handle_disconnected(h.now);
            h.pump();
        }
    }
    let after = expired_at.expect("expired") - lost_at;
    assert!(
        after >= Duration::from_secs(6) && after < Duration::from_secs(7),
        "{after:?}"
    );
    // The next handshake asks for a new session.
    h.accept();
    let req = h.read_connect();
    assert_eq!(req.session_id, 0);
    assert_eq!(req.last_zxid_seen, 0);
}

#[test]
fn expiry_without_reconnect_stays_closed_even_with_a_backoff_pending() {
    let mut c = config(1);
    c.reconnect_after_expiry = false;
    c.backoff_initial = Duration::from_secs(20);
    c.backoff_max = Duration::from_secs(20);
    let mut h = Harness::new(c);
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 0x42);
    h.take_events();
    h.s.handle_disconnected(h.now);
    h.pump();
    // The reconnect attempt fails at once: the next pass is 12 s or more away, later than
    // the client-side expiry 6 s from now.
    h.accept();
    h.s.handle_disconnected(h.now);
    h.pump();
    h.take_actions();
    h.advance(Duration::from_secs(6));
    assert_eq!(
        h.states(),
        vec![
            SessionState::Connecting,
            SessionState::Expired,
            SessionState::Closed
        ]
    );
    h.advance(Duration::from_secs(60));
    assert!(
        !h.take_actions()
            .iter()
            .any(|a| matches!(a, Action::Connect { .. })),
        "the old backoff must not revive a closed session"
    );
    assert_eq!(h.s.state(), SessionState::Closed);
    assert_eq!(
        h.s.submit(h.now, get("/a", false)),
        Err(RequestError::SessionExpired),
        "later requests say why the session is gone"
    );
}

#[test]
fn server_side_expiry_on_resume_opens_a_new_session() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 0x42);
    let id = h.submit(get("/a", true));
    let sent = h.read_requests();
    h.reply(sent[0].0.xid, 3, ErrorCode::Ok, data_reply());
    assert!(h.s.watches().contains(WatchKind::Data, "/a"));
    h.s.handle_disconnected(h.now);
    h.pump();
    h.take_events();
    h.accept();
    let req = h.read_connect();
    assert_eq!(req.session_id, 0x42);
    let mut b = BytesMut::new();
    encode_connect_response(
        &ConnectResponse {
            protocol_version: 0,
            timeout_ms: 0,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
        },
        &mut b,
    );
    h.server_send(b);
    let states = h.states();
    assert_eq!(
        states,
        vec![SessionState::Expired, SessionState::Connecting]
    );
    assert!(h.s.watches().is_empty(), "watches die with the session");
    let _ = id;
}

#[test]
fn auth_is_replayed_before_user_requests_and_connected_waits_for_it() {
    let mut c = config(1);
    c.auth = vec![("digest".into(), Bytes::from_static(b"u:p"))];
    let mut h = Harness::new(c);
    h.s.start(h.now);
    h.pump();
    let _queued = h.submit(get("/a", false));
    h.handshake(6000, 1);
    let sent = h.read_requests();
    assert_eq!(sent.len(), 1, "only auth until it is answered");
    assert_eq!(sent[0].0.xid, -4);
    assert!(matches!(&sent[0].1, Request::Auth(a) if a.scheme == "digest"));
    assert!(!h.states().contains(&SessionState::Connected));
    h.reply(-4, 0, ErrorCode::Ok, Response::Empty);
    assert_eq!(h.states(), vec![SessionState::Connected]);
    let sent = h.read_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, get("/a", false));
}

#[test]
fn a_refused_user_auth_fails_with_auth_failed_like_everything_else() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    let auth = h.submit(Request::Auth(crate::proto::AuthPacket {
        auth_type: 0,
        scheme: "nope".into(),
        auth: Some(Bytes::from_static(b"x")),
    }));
    let other = h.submit(get("/a", false));
    h.read_requests();
    h.reply(-4, 0, ErrorCode::AuthFailed, Response::Empty);
    let r = replies(&h.take_events());
    assert!(r.contains(&(auth, Err(RequestError::AuthFailed))), "{r:?}");
    assert!(r.contains(&(other, Err(RequestError::AuthFailed))), "{r:?}");
    assert_eq!(h.s.state(), SessionState::AuthFailed);
}

#[test]
fn auth_failure_is_terminal() {
    let mut c = config(1);
    c.auth = vec![("digest".into(), Bytes::from_static(b"u:p"))];
    let mut h = Harness::new(c);
    h.s.start(h.now);
    h.pump();
    let queued = h.submit(get("/a", false));
    h.handshake(6000, 1);
    h.read_requests();
    h.reply(-4, 0, ErrorCode::AuthFailed, Response::Empty);
    let events = h.take_events();
    assert!(replies(&events).contains(&(queued, Err(RequestError::AuthFailed))));
    assert!(events.contains(&Event::State(SessionState::AuthFailed)));
    assert_eq!(
        h.s.submit(h.now, get("/b", false)),
        Err(RequestError::AuthFailed)
    );
    h.advance(Duration::from_secs(60));
    assert!(
        !h.take_actions()
            .iter()
            .any(|a| matches!(a, Action::Connect { .. })),
        "no reconnect after AuthFailed"
    );
}

#[test]
fn watches_are_registered_on_success_and_re_registered_after_reconnect() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    h.submit(get("/data", true));
    h.submit(Request::Exists(PathWatch {
        path: "/missing".into(),
        watch: true,
    }));
    h.submit(Request::GetChildren(PathWatch {
        path: "/kids".into(),
        watch: true,
    }));
    h.submit(get("/fails", true));
    let sent = h.read_requests();
    h.reply(sent[0].0.xid, 5, ErrorCode::Ok, data_reply());
    h.reply(sent[1].0.xid, 6, ErrorCode::NoNode, Response::Empty);
    h.reply(
        sent[2].0.xid,
        7,
        ErrorCode::Ok,
        Response::GetChildren { children: vec![] },
    );
    h.reply(sent[3].0.xid, 8, ErrorCode::NoNode, Response::Empty);
    let w = h.s.watches();
    assert!(w.contains(WatchKind::Data, "/data"));
    assert!(w.contains(WatchKind::Exist, "/missing"));
    assert!(w.contains(WatchKind::Child, "/kids"));
    assert!(
        !w.contains(WatchKind::Data, "/fails"),
        "not registered on error"
    );
    assert_eq!(w.len(), 3);

    // Connection loss; the same session resumes and re-registers everything.
    h.s.handle_disconnected(h.now);
    h.pump();
    h.handshake(6000, 1);
    let sent = h.read_requests();
    assert_eq!(sent.len(), 1);
    match &sent[0].1 {
        Request::SetWatches(sw) => {
            assert_eq!(sw.relative_zxid, 8);
            assert_eq!(sw.data_watches, vec!["/data".to_string()]);
            assert_eq!(sw.exist_watches, vec!["/missing".to_string()]);
            assert_eq!(sw.child_watches, vec!["/kids".to_string()]);
        }
        other => panic!("expected SetWatches, got {other:?}"),
    }
    assert!(sent[0].0.xid > 0, "a normal xid, matched in FIFO order");
    h.reply(sent[0].0.xid, 9, ErrorCode::Ok, Response::Empty);

    // A change made while away fires once the server processes SetWatches.
    h.take_events();
    h.notify(EventType::NodeDataChanged, "/data");
    let events = h.take_events();
    assert!(matches!(&events[..], [Event::Watch { event, .. }] if event.path == "/data"));
    assert!(
        !h.s.watches().contains(WatchKind::Data, "/data"),
        "one-shot"
    );
}

#[test]
fn persistent_watches_use_set_watches2_and_stay_after_firing() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    h.submit(Request::AddWatch(AddWatchRequest {
        path: "/p".into(),
        mode: 1,
    }));
    let sent = h.read_requests();
    h.reply(
        sent[0].0.xid,
        5,
        ErrorCode::Ok,
        Response::AddWatch { err: ErrorCode::Ok },
    );
    assert!(h.s.watches().contains(WatchKind::PersistentRecursive, "/p"));
    h.notify(EventType::NodeCreated, "/p/x");
    assert!(h.s.watches().contains(WatchKind::PersistentRecursive, "/p"));
    h.s.handle_disconnected(h.now);
    h.pump();
    h.handshake(6000, 1);
    let sent = h.read_requests();
    match &sent[0].1 {
        Request::SetWatches2(sw) => {
            assert_eq!(sw.persistent_recursive_watches, vec!["/p".to_string()]);
        }
        other => panic!("expected SetWatches2, got {other:?}"),
    }
}

#[test]
fn set_watches_batches_stay_under_128_kib() {
    let mut reg = WatchRegistry::default();
    for i in 0..5000 {
        reg.on_reply(&PendingWatch::Data(format!("/{:0>60}", i)), ErrorCode::Ok);
    }
    let reqs = reg.set_watches_requests(7);
    assert!(reqs.len() >= 3, "{} batches", reqs.len());
    let mut total = 0;
    for r in &reqs {
        let Request::SetWatches(sw) = r else {
            panic!("{r:?}")
        };
        let bytes: usize = sw.data_watches.iter().map(|p| p.len() + 4).sum();
        assert!(bytes <= watches::SET_WATCHES_BATCH_BYTES);
        total += sw.data_watches.len();
    }
    assert_eq!(total, 5000);
}

#[test]
fn read_only_server_is_accepted_and_a_read_write_one_preferred() {
    let mut c = config(2);
    c.read_only = true;
    let mut h = Harness::new(c);
    h.s.start(h.now);
    h.pump();
    h.take_events();
    let first = h.accept();
    let req = h.read_connect();
    assert_eq!(req.read_only, Some(true));
    let mut b = BytesMut::new();
    encode_connect_response(
        &ConnectResponse {
            protocol_version: 0,
            timeout_ms: 6000,
            session_id: 1,
            passwd: Bytes::from_static(&[1; 16]),
            read_only: Some(true),
        },
        &mut b,
    );
    h.server_send(b);
    assert_eq!(h.states(), vec![SessionState::ConnectedReadOnly]);
    // It probes the other host for read-write mode.
    let mut probed = None;
    for _ in 0..10 {
        h.advance_to_deadline();
        if let Some(Action::ProbeReadWrite { host }) = h
            .take_actions()
            .into_iter()
            .find(|a| matches!(a, Action::ProbeReadWrite { .. }))
        {
            probed = Some(host);
            break;
        }
        h.reply(-2, 0, ErrorCode::Ok, Response::Empty);
    }
    let other = probed.expect("a probe");
    assert_eq!(other, 1 - first);
    h.s.handle_probe_result(h.now, other, true);
    h.pump();
    let actions = h.take_actions();
    assert_eq!(
        actions,
        vec![Action::Disconnect, Action::Connect { host: other }]
    );
}

#[test]
fn close_flushes_queued_requests_then_close_session() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    let a = h.submit(Request::SetData(SetDataRequest {
        path: "/a".into(),
        data: None,
        version: -1,
    }));
    h.s.close(h.now);
    h.pump();
    let sent = h.read_requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].1, Request::CloseSession);
    assert_eq!(
        h.s.submit(h.now, get("/late", false)),
        Err(RequestError::Closed)
    );
    h.reply(
        sent[0].0.xid,
        4,
        ErrorCode::Ok,
        Response::Stat(Stat::default()),
    );
    h.reply(sent[1].0.xid, 5, ErrorCode::Ok, Response::Empty);
    let events = h.take_events();
    assert_eq!(
        replies(&events),
        vec![(a, Ok(Response::Stat(Stat::default())))]
    );
    assert!(events.contains(&Event::State(SessionState::Closed)));
    assert!(h.take_actions().contains(&Action::Disconnect));
}

#[test]
fn close_now_fails_everything_without_waiting_for_the_server() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    let a = h.submit(get("/a", false));
    h.s.close(h.now);
    h.pump();
    assert_eq!(
        h.read_requests().len(),
        2,
        "the get and closeSession went out"
    );
    // The server never answers; the caller stops waiting. The get was written: the server
    // may have applied it.
    h.take_events();
    h.s.close_now();
    h.pump();
    let events = h.take_events();
    assert_eq!(
        replies(&events),
        vec![(a, Err(RequestError::ConnectionLoss))]
    );
    assert!(events.contains(&Event::State(SessionState::Closed)));
    assert!(h.take_actions().contains(&Action::Disconnect));
    assert_eq!(h.s.state(), SessionState::Closed);
    assert_eq!(h.s.poll_timeout(), None, "no timer left");
    // Idempotent, and also usable without a close first (a session still connecting).
    h.s.close_now();
    h.pump();
    assert!(h.take_events().is_empty());
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    let q = h.s.submit(h.now, get("/q", false)).unwrap();
    h.s.close_now();
    h.pump();
    let events = h.take_events();
    assert_eq!(replies(&events), vec![(q, Err(RequestError::Closed))]);
    assert_eq!(h.s.state(), SessionState::Closed);
}

#[test]
fn a_reply_that_does_not_decode_fails_only_its_request() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    let a = h.submit(get("/a", false));
    let b = h.submit(get("/b", false));
    let sent = h.read_requests();
    // A getData reply whose body is cut short.
    let mut f = BytesMut::new();
    f.extend_from_slice(&(16i32 + 3).to_be_bytes());
    f.extend_from_slice(&sent[0].0.xid.to_be_bytes());
    f.extend_from_slice(&1i64.to_be_bytes());
    f.extend_from_slice(&0i32.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0]);
    h.server_send(f);
    h.reply(sent[1].0.xid, 2, ErrorCode::Ok, data_reply());
    let r = replies(&h.take_events());
    assert!(matches!(r[0], (id, Err(RequestError::Decode(_))) if id == a));
    assert_eq!(r[1], (b, Ok(data_reply())));
    assert!(!h.take_actions().contains(&Action::Disconnect));
}

#[test]
fn auth_reply_may_overtake_earlier_requests() {
    // The server answers auth at once, ahead of pipelined requests (PROTOCOL.md §4).
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    let a = h.submit(get("/a", false));
    let auth = h.submit(Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Some(Bytes::from_static(b"u:p")),
    }));
    let sent = h.read_requests();
    h.reply(-4, 0, ErrorCode::Ok, Response::Empty);
    h.reply(sent[0].0.xid, 3, ErrorCode::Ok, data_reply());
    let r = replies(&h.take_events());
    assert_eq!(r, vec![(auth, Ok(Response::Empty)), (a, Ok(data_reply()))]);
}

#[test]
fn notifications_with_zxid_minus_one_do_not_move_last_zxid() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    h.notify(EventType::NodeDeleted, "/x");
    assert_eq!(h.s.last_zxid(), 0);
}

#[test]
fn garbage_from_the_server_never_panics() {
    let mut seed = 0x1234_5678_9abc_def0u64;
    for round in 0..300 {
        let mut h = Harness::new(config(2));
        h.s.start(h.now);
        h.pump();
        h.handshake(6000, 1);
        h.submit(get("/a", true));
        h.submit(Request::Multi(vec![]));
        let mut junk = vec![0u8; 64 + round % 64];
        for b in junk.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        // Give it a plausible length prefix half of the time.
        if round % 2 == 0 {
            let n = (junk.len() - 4) as i32;
            junk[..4].copy_from_slice(&n.to_be_bytes());
        }
        h.s.handle_data(h.now, &junk);
        h.pump();
        h.advance(Duration::from_secs(1));
    }
}

// ---------------------------------------------------------------- timing

/// Connect actions among `actions`.
fn connects(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Connect { .. }))
        .count()
}

/// The pending connection attempt fails at once (a refused connection).
fn refuse(h: &mut Harness) {
    h.connected_to = Some(0);
    h.s.handle_connected(h.now);
    h.s.handle_disconnected(h.now);
    h.pump();
}

#[test]
fn reconnect_waits_never_exceed_the_configured_maximum() {
    for seed in 0..32 {
        let mut c = config(1);
        c.seed = seed;
        c.backoff_initial = Duration::from_secs(10);
        c.backoff_max = Duration::from_secs(10);
        let mut h = Harness::new(c);
        h.s.start(h.now);
        h.pump();
        for _ in 0..10 {
            assert_eq!(connects(&h.take_actions()), 1);
            refuse(&mut h);
            h.take_actions();
            let waited = h.advance_to_deadline();
            assert!(
                waited <= Duration::from_secs(10),
                "seed {seed}: waited {waited:?} with a 10 s cap"
            );
        }
    }
}

/// Connected with T = `t_ms`, a request answered at the returned instant (the last time the
/// server heard from us and we from it), then the connection is cut.
fn cut_after_a_reply(h: &mut Harness, t_ms: i32) -> Instant {
    h.s.start(h.now);
    h.pump();
    h.handshake(t_ms, 0x77);
    let _ = h.submit(get("/a", false));
    let sent = h.read_requests();
    h.advance(Duration::from_millis(700));
    h.reply(sent[0].0.xid, 1, ErrorCode::Ok, data_reply());
    let t0 = h.now;
    h.s.handle_disconnected(h.now);
    h.pump();
    h.take_events();
    t0
}

#[test]
fn a_blip_shorter_than_the_session_timeout_keeps_the_session() {
    // Default backoff (100 ms doubling to 10 s), T = 10 s, every connection refused until
    // `until` after the cut: an attempt must come after that and before T.
    for until_permille in [500u64, 800, 950, 980] {
        for seed in 0..16 {
            let mut c = config(1);
            c.seed = seed;
            let mut h = Harness::new(c);
            let t0 = cut_after_a_reply(&mut h, 10_000);
            let until = Duration::from_millis(10 * until_permille);
            let mut resumed_after = None;
            for _ in 0..1000 {
                if connects(&h.actions) > 0 {
                    if h.now - t0 < until {
                        h.take_actions();
                        refuse(&mut h);
                        continue;
                    }
                    resumed_after = Some(h.now - t0);
                    break;
                }
                assert!(
                    !h.take_events()
                        .contains(&Event::State(SessionState::Expired)),
                    "until {until:?}, seed {seed}: expired {:?} after the cut",
                    h.now - t0
                );
                h.advance_to_deadline();
            }
            let after = resumed_after.expect("an attempt");
            assert!(
                after < Duration::from_secs(10),
                "until {until:?}, seed {seed}: first attempt after the blip {after:?} after the cut"
            );
            // The server still holds the session: it resumes.
            h.handshake(10_000, 0x77);
            assert_eq!(h.s.state(), SessionState::Connected);
            assert_eq!(h.s.session_id().map(|s| s.0), Some(0x77));
            assert!(!h.states().contains(&SessionState::Expired));
        }
    }
}

#[test]
fn client_side_expiry_counts_from_the_last_bytes_received() {
    // A frozen server: nothing comes back after the reply at t0 (pings go unanswered, the
    // read timeout drops the connection at 2T/3). LOST comes T after t0, not T after the
    // read timeout; a handshake still waiting then gets T/6 more, never more than 4T/3.
    for hung_handshake in [false, true] {
        let mut h = Harness::new(config(1));
        h.s.start(h.now);
        h.pump();
        h.handshake(6000, 0x42);
        let _ = h.submit(get("/a", false));
        let sent = h.read_requests();
        h.reply(sent[0].0.xid, 1, ErrorCode::Ok, data_reply());
        let t0 = h.now;
        h.take_events();
        let mut expired_after = None;
        for _ in 0..10_000 {
            h.advance_to_deadline();
            if h.take_events()
                .contains(&Event::State(SessionState::Expired))
            {
                expired_after = Some(h.now - t0);
                break;
            }
            if connects(&h.actions) > 0 {
                if hung_handshake {
                    h.accept();
                } else {
                    h.take_actions();
                    refuse(&mut h);
                }
            }
        }
        let after = expired_after.expect("expired");
        let t = Duration::from_secs(6);
        assert!(
            after >= t && after <= t * 4 / 3,
            "hung handshake {hung_handshake}: LOST {after:?} after the last reply"
        );
        if !hung_handshake {
            assert!(after < t + MIN_TICK, "{after:?}");
        }
    }
}

#[test]
fn a_resumed_session_that_reaches_no_server_expires_on_the_client_side() {
    let mut c = config(1);
    c.resume = Some((0x99, [1; 16]));
    let mut h = Harness::new(c);
    let start = h.now;
    h.s.start(h.now);
    h.pump();
    for _ in 0..10_000 {
        if h.s.state() != SessionState::Connecting {
            break;
        }
        if connects(&h.take_actions()) > 0 {
            refuse(&mut h);
        }
        if h.states().contains(&SessionState::Expired) {
            break;
        }
        h.advance_to_deadline();
    }
    let after = h.now - start;
    assert!(
        after >= Duration::from_secs(9) && after < Duration::from_secs(10),
        "{after:?}"
    );
}

#[test]
fn huge_durations_never_panic() {
    let now = Instant::now();
    assert!(backoff::add_saturating(now, Duration::MAX) > now + Duration::from_secs(3600));
    let mut c = config(2);
    c.session_timeout = Duration::MAX;
    c.backoff_initial = Duration::MAX;
    c.backoff_max = Duration::MAX;
    let mut h = Harness::new(c);
    h.s.start(h.now);
    h.pump();
    // The wire carries i32::MAX ms.
    h.accept();
    let req = h.read_connect();
    assert_eq!(req.timeout_ms, i32::MAX);
    h.s.handle_disconnected(h.now);
    h.pump();
    refuse(&mut h);
    // A full pass failed: the next one is "never" (a century away), not a panic.
    let next = h.s.poll_timeout().expect("a deadline");
    assert!(next > h.now + Duration::from_secs(3600));
    h.advance(Duration::from_secs(3600));
    let _ = h.submit(get("/a", false));
    h.s.close(h.now);
    h.pump();
    assert_eq!(h.s.state(), SessionState::Closed);
}

#[test]
fn never_more_than_max_in_flight_and_every_request_completes_in_order() {
    let mut c = config(1);
    c.max_in_flight = 3;
    c.max_queued_requests = 17;
    let mut h = Harness::new(c);
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    let ids: Vec<RequestId> = (0..20)
        .map(|i| h.submit(get(&format!("/{i}"), false)))
        .collect();
    assert_eq!(
        h.s.submit(h.now, get("/over", false)),
        Err(RequestError::QueueFull { limit: 17 }),
        "past the bound the queue fills, then refuses"
    );
    h.s.close(h.now);
    h.pump();
    let mut answered = Vec::new();
    let mut outstanding: VecDeque<(RequestHeader, Request)> = VecDeque::new();
    let mut saw_close = false;
    for _ in 0..100 {
        outstanding.extend(h.read_requests());
        let users = outstanding
            .iter()
            .filter(|(_, r)| *r != Request::CloseSession)
            .count();
        assert!(users <= 3, "{users} in flight");
        let Some((hdr, req)) = outstanding.pop_front() else {
            break;
        };
        if req == Request::CloseSession {
            assert_eq!(answered.len(), 20, "closeSession goes after every request");
            saw_close = true;
            h.reply(hdr.xid, 100, ErrorCode::Ok, Response::Empty);
            break;
        }
        h.reply(hdr.xid, 1, ErrorCode::Ok, data_reply());
        for (id, r) in replies(&h.take_events()) {
            assert!(r.is_ok());
            answered.push(id);
        }
    }
    assert!(saw_close);
    assert_eq!(answered, ids, "every request answered once, in order");
    assert_eq!(h.s.state(), SessionState::Closed);
}
