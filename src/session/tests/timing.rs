//! Time: pings and the read timeout, reconnect waits, client- and server-side expiry, blips shorter than the session timeout, huge durations.

use super::*;

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

/// `handle_timeout` is safe to call early or twice: before a deadline it does nothing, and
/// at one it does its work once (one ping, not two), whatever the number of calls.
#[test]
fn handle_timeout_early_or_twice_does_nothing_more() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    h.take_events();
    h.take_actions();
    let deadline = h.s.poll_timeout().expect("a ping deadline");
    // Early: nothing happens, the deadline stays.
    h.s.handle_timeout(h.now);
    h.s.handle_timeout(deadline - Duration::from_millis(1));
    h.pump();
    assert!(h.read_requests().is_empty());
    assert!(h.take_actions().is_empty());
    assert!(h.take_events().is_empty());
    assert_eq!(h.s.poll_timeout(), Some(deadline));
    // Due, twice: one ping, and the next deadline is the read timeout (2T/3 after the
    // handshake), not another ping.
    h.now = deadline;
    h.s.handle_timeout(h.now);
    h.s.handle_timeout(h.now);
    h.pump();
    let sent = h.read_requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1, Request::Ping);
    assert_eq!(
        h.s.poll_timeout(),
        Some(deadline + Duration::from_secs(2)),
        "the read timeout at 2T/3"
    );
    assert!(h.take_actions().is_empty());
}
