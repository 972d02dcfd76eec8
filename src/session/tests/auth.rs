//! Credentials: replayed before user requests, a refused auth fails everything and is terminal, auth replies overtaking earlier requests.

use super::*;

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
