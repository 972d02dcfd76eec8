//! Closing: queued requests first, then closeSession; `close_now` fails everything at once.

use super::*;

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
