//! A server that breaks every connection right after the handshake must not get a reconnect
//! per round trip: such a connection is a failed attempt, and the backoff grows.

use super::*;

/// Handshake, then a frame with a negative length (a protocol error): the connection drops.
fn handshake_then_garbage(h: &mut Harness) {
    h.handshake(10_000, 0x51);
    let mut b = BytesMut::new();
    b.extend_from_slice(&(-5i32).to_be_bytes());
    h.server_send(b);
}

#[test]
fn connections_broken_right_after_the_handshake_reconnect_with_a_growing_backoff() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    let start = h.now;
    let mut attempts = 0;
    let mut waits = Vec::new();
    while h.now.duration_since(start) < Duration::from_secs(2) {
        attempts += 1;
        assert!(attempts < 100, "a reconnect storm: {attempts} attempts");
        handshake_then_garbage(&mut h);
        let actions = h.take_actions();
        assert!(actions.contains(&Action::Disconnect), "{actions:?}");
        if connects(&actions) == 0 {
            // No reconnect at once: wait for the backoff.
            waits.push(h.advance_to_deadline());
        }
        // The session asked for the next connection (at once, or after the wait).
        h.actions = vec![Action::Connect { host: 0 }];
    }
    // 100 ms doubling, with ±40 % jitter: a handful of attempts in 2 s, not one per round
    // trip (the fake clock does not move between attempts made at once).
    assert!(attempts <= 8, "{attempts} attempts in 2 s: {waits:?}");
    assert!(
        waits.windows(2).filter(|w| w[1] > w[0]).count() >= 2,
        "the waits grow: {waits:?}"
    );
}

#[test]
fn a_connection_that_carried_a_frame_resets_the_backoff_and_reconnects_at_once() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    // Two bad connections grow the backoff...
    for _ in 0..3 {
        handshake_then_garbage(&mut h);
        if connects(&h.take_actions()) == 0 {
            h.advance_to_deadline();
        }
        h.actions = vec![Action::Connect { host: 0 }];
    }
    // ...then a good one: a ping answered, then the connection is lost.
    h.handshake(10_000, 0x51);
    h.take_events();
    h.advance(Duration::from_secs(4));
    h.reply(xid::PING, 0, ErrorCode::Ok, Response::Empty);
    h.s.handle_disconnected(h.now);
    h.pump();
    assert_eq!(
        connects(&h.take_actions()),
        1,
        "a good connection lost: reconnect at once"
    );
}
