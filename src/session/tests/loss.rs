//! No silent loss: what a request's error says about whether it was applied, credentials
//! replayed only once accepted, SetWatches failures told to the watchers, notifications of
//! unknown types delivered.

use super::*;

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
    let mut b = BytesMut::new();
    encode_notification(
        -1,
        &WatcherEvent {
            event_type: EventType::Unknown(42),
            state: KeeperState::Unknown(9),
            path: "/a".into(),
        },
        &mut b,
    );
    h.server_send(b);
    assert!(!h.take_actions().contains(&Action::Disconnect));
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Event::Watch { event, .. }]
            if event.event_type == EventType::Unknown(42)
                && event.state == KeeperState::Unknown(9)
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
