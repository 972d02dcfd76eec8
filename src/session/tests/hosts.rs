//! Which host next: shuffled passes with backoff, the host that dropped us last, read-only servers and the search for a read-write one.

use super::*;

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
