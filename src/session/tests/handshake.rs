//! The handshake: what the client sends, resuming a session, a refused handshake, and a server that answers with garbage.

use super::*;

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
