//! Requests and their replies: FIFO matching, zxids, replies that do not decode, queueing while disconnected and under `max_in_flight`.

use super::*;

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
fn notifications_with_zxid_minus_one_do_not_move_last_zxid() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    h.notify(EventType::NodeDeleted, "/x");
    assert_eq!(h.s.last_zxid(), 0);
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
