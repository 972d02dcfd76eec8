//! No silent loss: what a request's error says about whether it was applied, credentials
//! replayed only once accepted, SetWatches failures told to the watchers, notifications of
//! unknown types delivered.

use super::*;
use crate::proto::{AddWatchRequest, PathWatch};

impl Harness {
    /// Like `pump`, but writes only the first `n` bytes of the output (a socket that would
    /// block after them).
    fn pump_writing(&mut self, n: usize) {
        while let Some(a) = self.s.poll_action() {
            self.actions.push(a);
        }
        let out = self.s.pending_output()[..n].to_vec();
        self.s.advance_output(n);
        self.wire.extend_from_slice(&out);
        while let Some(e) = self.s.poll_event() {
            self.events.push(e);
        }
    }
}

fn connected() -> Harness {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    h.take_events();
    h
}

#[test]
fn close_now_fails_written_requests_with_connection_loss_and_unwritten_ones_with_closed() {
    let mut h = connected();
    let written = h.submit(get("/written", false));
    let partly = h.s.submit(h.now, get("/partly", false)).unwrap();
    let not_at_all = h.s.submit(h.now, get("/unsent", false)).unwrap();
    // The socket takes all but the last byte of /partly.
    let frame = h.s.pending_output().len() / 2; // two frames of the same size
    h.pump_writing(frame - 1);
    assert_eq!(h.read_requests().len(), 1, "only /written left whole");
    h.s.close_now();
    h.pump();
    let r = replies(&h.take_events());
    assert_eq!(
        r,
        vec![
            (written, Err(RequestError::ConnectionLoss)),
            (partly, Err(RequestError::Closed)),
            (not_at_all, Err(RequestError::Closed)),
        ]
    );
}

#[test]
fn close_without_an_answer_fails_written_requests_with_connection_loss() {
    // close(), then the server goes silent: at the close deadline the written request's
    // outcome is unknown, and a request queued behind nothing is not in play.
    let mut h = connected();
    let a = h.submit(get("/a", false));
    h.s.close(h.now);
    h.pump();
    assert_eq!(h.read_requests().len(), 2, "the get and closeSession left");
    h.advance(Duration::from_secs(10));
    let r = replies(&h.take_events());
    assert_eq!(r, vec![(a, Err(RequestError::ConnectionLoss))]);
    assert_eq!(h.s.state(), SessionState::Closed);
}

#[test]
fn a_read_timeout_while_closing_tells_unwritten_requests_from_written_ones() {
    // close() with one request written and one still in the buffer (a full socket), then
    // the server goes silent: the read timeout ends the close, and only the written request
    // may have been applied.
    let mut h = connected();
    let sent = h.submit(get("/sent", false));
    let held = h.s.submit(h.now, get("/held", false)).unwrap();
    h.pump_writing(0);
    // Closed a while after the server was last heard from: its read timeout comes first.
    h.now += Duration::from_secs(3);
    h.s.close(h.now);
    h.pump_writing(0);
    h.advance(Duration::from_secs(2));
    assert_eq!(
        replies(&h.take_events()),
        vec![
            (sent, Err(RequestError::ConnectionLoss)),
            (held, Err(RequestError::Closed)),
        ]
    );
    assert_eq!(h.s.state(), SessionState::Closed);
}

#[test]
fn written_bytes_are_counted_per_connection() {
    // A request held in the buffer when the connection drops fails (ConnectionLoss,
    // conservatively); on the next connection the count starts over, so a request written
    // there is told apart from one that is not.
    let mut h = connected();
    let lost = h.s.submit(h.now, get("/lost", false)).unwrap();
    h.pump_writing(0);
    h.s.handle_disconnected(h.now);
    h.pump();
    assert!(replies(&h.take_events()).contains(&(lost, Err(RequestError::ConnectionLoss))));
    h.handshake(6000, 1);
    let sent = h.submit(get("/sent", false));
    let held = h.s.submit(h.now, get("/held", false)).unwrap();
    h.pump_writing(0);
    h.s.close_now();
    h.pump();
    assert_eq!(
        replies(&h.take_events()),
        vec![
            (sent, Err(RequestError::ConnectionLoss)),
            (held, Err(RequestError::Closed)),
        ]
    );
}

#[test]
fn an_unwritten_auth_fails_with_closed_and_a_written_one_with_connection_loss() {
    let mut h = connected();
    let auth = |scheme: &str| {
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: scheme.into(),
            auth: Some(Bytes::from_static(b"u:p")),
        })
    };
    let written = h.submit(auth("digest"));
    let held = h.s.submit(h.now, auth("digest")).unwrap();
    h.pump_writing(0);
    h.s.close_now();
    h.pump();
    assert_eq!(
        replies(&h.take_events()),
        vec![
            (written, Err(RequestError::ConnectionLoss)),
            (held, Err(RequestError::Closed)),
        ]
    );
}

fn auth_of(scheme: &str, cred: &'static [u8]) -> Request {
    Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: scheme.into(),
        auth: Some(Bytes::from_static(cred)),
    })
}

#[test]
fn an_accepted_auth_is_replayed_after_a_reconnect() {
    let mut h = connected();
    h.submit(auth_of("digest", b"u:p"));
    h.read_requests();
    h.reply(-4, 0, ErrorCode::Ok, Response::Empty);
    h.s.handle_disconnected(h.now);
    h.pump();
    h.handshake(6000, 1);
    let sent = h.read_requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1, auth_of("digest", b"u:p"));
}

#[test]
fn an_auth_never_answered_is_not_replayed() {
    // Lost with the connection before the server said anything: the caller got
    // ConnectionLoss and decides; the session does not send it again on its own.
    let mut h = connected();
    let a = h.submit(auth_of("digest", b"u:p"));
    h.read_requests();
    h.s.handle_disconnected(h.now);
    h.pump();
    assert!(replies(&h.take_events()).contains(&(a, Err(RequestError::ConnectionLoss))));
    h.handshake(6000, 1);
    assert!(h.read_requests().is_empty());
    assert!(h.states().contains(&SessionState::Connected));
}

#[test]
fn a_notification_of_an_unknown_type_is_delivered_and_keeps_the_connection() {
    let mut h = connected();
    h.submit(get("/a", true));
    let sent = h.read_requests();
    h.reply(sent[0].0.xid, 5, ErrorCode::Ok, data_reply());
    h.take_events();
    // A newer server's event type, and state, then a known event on the same path.
    // Built by hand: header (xid -1, zxid -1, err 0), type 42, state 9, path "/a".
    let mut b = BytesMut::new();
    for v in [16 + 4 + 4 + 4 + 2, -1i32] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(&(-1i64).to_be_bytes());
    for v in [0i32, 42, 9, 2] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(b"/a");
    h.server_send(b);
    assert!(!h.take_actions().contains(&Action::Disconnect));
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Event::Watch { event, .. }]
            if event.event_type.as_i32() == 42
                && event.state.as_i32() == 9
                && event.path == "/a"),
        "{events:?}"
    );
    assert!(
        h.s.watches().contains(WatchKind::Data, "/a"),
        "a one-shot watch is not consumed by an event it cannot interpret"
    );
    h.notify(EventType::NodeDataChanged, "/a");
    assert!(!h.s.watches().contains(WatchKind::Data, "/a"));
    assert_eq!(h.s.state(), SessionState::Connected);
}

/// A session with a data, an exist, a child, a persistent and a recursive watch, reconnected
/// on the same session: returns the SetWatches2 request's xid.
fn resumed_with_watches(h: &mut Harness) -> i32 {
    h.submit(get("/d", true));
    h.submit(Request::Exists(PathWatch {
        path: "/e".into(),
        watch: true,
    }));
    h.submit(Request::GetChildren(PathWatch {
        path: "/c".into(),
        watch: true,
    }));
    for (path, mode) in [("/p", 0), ("/r", 1)] {
        h.submit(Request::AddWatch(AddWatchRequest {
            path: path.into(),
            mode,
        }));
    }
    let sent = h.read_requests();
    h.reply(sent[0].0.xid, 1, ErrorCode::Ok, data_reply());
    h.reply(sent[1].0.xid, 2, ErrorCode::NoNode, Response::Empty);
    h.reply(
        sent[2].0.xid,
        3,
        ErrorCode::Ok,
        Response::GetChildren { children: vec![] },
    );
    for s in &sent[3..] {
        h.reply(
            s.0.xid,
            4,
            ErrorCode::Ok,
            Response::AddWatch { err: ErrorCode::Ok },
        );
    }
    assert_eq!(h.s.watches().len(), 5);
    h.s.handle_disconnected(h.now);
    h.pump();
    h.handshake(6000, 1);
    h.take_events();
    let sent = h.read_requests();
    assert!(
        matches!(sent[..], [(_, Request::SetWatches2(_))]),
        "{sent:?}"
    );
    sent[0].0.xid
}

#[test]
fn a_refused_set_watches_forgets_one_shot_watches_and_re_adds_persistent_ones() {
    let mut h = connected();
    let xid = resumed_with_watches(&mut h);
    h.reply(xid, 5, ErrorCode::MarshallingError, Response::Empty);
    assert!(!h.take_actions().contains(&Action::Disconnect));
    let w = h.s.watches();
    for (kind, path) in [
        (WatchKind::Data, "/d"),
        (WatchKind::Exist, "/e"),
        (WatchKind::Child, "/c"),
    ] {
        assert!(
            !w.contains(kind, path),
            "{kind:?} {path}: not on the server"
        );
    }
    let sent = h.read_requests();
    let added: Vec<_> = sent
        .iter()
        .map(|(_, r)| match r {
            Request::AddWatch(a) => (a.path.as_str(), a.mode),
            other => panic!("expected addWatch, got {other:?}"),
        })
        .collect();
    assert_eq!(added, vec![("/p", 0), ("/r", 1)]);
}

#[test]
fn a_refused_set_watches_tells_every_watch_of_the_batch() {
    let mut h = connected();
    let xid = resumed_with_watches(&mut h);
    h.reply(xid, 5, ErrorCode::MarshallingError, Response::Empty);
    let reset = |events: Vec<Event>| -> Vec<(WatchKind, String, bool)> {
        events
            .into_iter()
            .filter_map(|e| match e {
                Event::WatchReset { kind, path, kept } => Some((kind, path, kept)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        reset(h.take_events()),
        vec![
            (WatchKind::Data, "/d".into(), false),
            (WatchKind::Exist, "/e".into(), false),
            (WatchKind::Child, "/c".into(), false),
        ]
    );
    let sent = h.read_requests();
    // The persistent watch is back; the recursive one is refused again and dropped.
    h.reply(
        sent[0].0.xid,
        6,
        ErrorCode::Ok,
        Response::AddWatch { err: ErrorCode::Ok },
    );
    h.reply(sent[1].0.xid, 7, ErrorCode::NoAuth, Response::Empty);
    assert_eq!(
        reset(h.take_events()),
        vec![
            (WatchKind::Persistent, "/p".into(), true),
            (WatchKind::PersistentRecursive, "/r".into(), false),
        ]
    );
    let w = h.s.watches();
    assert!(w.contains(WatchKind::Persistent, "/p"));
    assert_eq!(w.len(), 1);
    // Nothing is re-registered twice at the next reconnect: only what the server has.
    h.s.handle_disconnected(h.now);
    h.pump();
    h.handshake(6000, 1);
    match &h.read_requests()[..] {
        [(_, Request::SetWatches2(sw))] => {
            assert_eq!(sw.persistent_watches, vec!["/p".to_string()]);
            assert!(sw.data_watches.is_empty() && sw.persistent_recursive_watches.is_empty());
        }
        other => panic!("expected one SetWatches2, got {other:?}"),
    }
}
