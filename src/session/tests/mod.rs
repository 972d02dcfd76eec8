//! Deterministic tests of the session: a scripted server and a fake clock (STYLE.md habit 6).
//!
//! Here: the [`Harness`] and shared helpers; one file per topic (`handshake`, `replies`,
//! `hosts`, `auth`, `watches`, `close`, `timing`, `timer`, `loss`, `storm`). Unit tests may
//! read the clock once, to start the fake one (`tests/layers.rs` allows it here only).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::*;

mod auth;
mod close;
mod handshake;
mod hosts;
mod loss;
mod replies;
mod storm;
mod timer;
mod timing;
mod watches;
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

/// Connect actions among `actions`.
fn connects(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Connect { .. }))
        .count()
}
