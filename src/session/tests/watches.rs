//! Watches: registered on success, re-registered after a reconnect (SetWatches, SetWatches2 for persistent ones), in batches under the frame limit.

use super::*;

#[test]
fn watches_are_registered_on_success_and_re_registered_after_reconnect() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    h.submit(get("/data", true));
    h.submit(Request::Exists(PathWatch {
        path: "/missing".into(),
        watch: true,
    }));
    h.submit(Request::GetChildren(PathWatch {
        path: "/kids".into(),
        watch: true,
    }));
    h.submit(get("/fails", true));
    let sent = h.read_requests();
    h.reply(sent[0].0.xid, 5, ErrorCode::Ok, data_reply());
    h.reply(sent[1].0.xid, 6, ErrorCode::NoNode, Response::Empty);
    h.reply(
        sent[2].0.xid,
        7,
        ErrorCode::Ok,
        Response::GetChildren { children: vec![] },
    );
    h.reply(sent[3].0.xid, 8, ErrorCode::NoNode, Response::Empty);
    let w = h.s.watches();
    assert!(w.contains(WatchKind::Data, "/data"));
    assert!(w.contains(WatchKind::Exist, "/missing"));
    assert!(w.contains(WatchKind::Child, "/kids"));
    assert!(
        !w.contains(WatchKind::Data, "/fails"),
        "not registered on error"
    );
    assert_eq!(w.len(), 3);

    // Connection loss; the same session resumes and re-registers everything.
    h.s.handle_disconnected(h.now);
    h.pump();
    h.handshake(6000, 1);
    let sent = h.read_requests();
    assert_eq!(sent.len(), 1);
    match &sent[0].1 {
        Request::SetWatches(sw) => {
            assert_eq!(sw.relative_zxid, 8);
            assert_eq!(sw.data_watches, vec!["/data".to_string()]);
            assert_eq!(sw.exist_watches, vec!["/missing".to_string()]);
            assert_eq!(sw.child_watches, vec!["/kids".to_string()]);
        }
        other => panic!("expected SetWatches, got {other:?}"),
    }
    assert!(sent[0].0.xid > 0, "a normal xid, matched in FIFO order");
    h.reply(sent[0].0.xid, 9, ErrorCode::Ok, Response::Empty);

    // A change made while away fires once the server processes SetWatches.
    h.take_events();
    h.notify(EventType::NodeDataChanged, "/data");
    let events = h.take_events();
    assert!(matches!(&events[..], [Event::Watch { event, .. }] if event.path == "/data"));
    assert!(
        !h.s.watches().contains(WatchKind::Data, "/data"),
        "one-shot"
    );
}

#[test]
fn persistent_watches_use_set_watches2_and_stay_after_firing() {
    let mut h = Harness::new(config(1));
    h.s.start(h.now);
    h.pump();
    h.handshake(6000, 1);
    h.submit(Request::AddWatch(AddWatchRequest {
        path: "/p".into(),
        mode: 1,
    }));
    let sent = h.read_requests();
    h.reply(
        sent[0].0.xid,
        5,
        ErrorCode::Ok,
        Response::AddWatch { err: ErrorCode::Ok },
    );
    assert!(h.s.watches().contains(WatchKind::PersistentRecursive, "/p"));
    h.notify(EventType::NodeCreated, "/p/x");
    assert!(h.s.watches().contains(WatchKind::PersistentRecursive, "/p"));
    h.s.handle_disconnected(h.now);
    h.pump();
    h.handshake(6000, 1);
    let sent = h.read_requests();
    match &sent[0].1 {
        Request::SetWatches2(sw) => {
            assert_eq!(sw.persistent_recursive_watches, vec!["/p".to_string()]);
        }
        other => panic!("expected SetWatches2, got {other:?}"),
    }
}

#[test]
fn set_watches_batches_stay_under_128_kib() {
    let mut reg = WatchRegistry::default();
    for i in 0..5000 {
        reg.on_reply(&PendingWatch::Data(format!("/{:0>60}", i)), ErrorCode::Ok);
    }
    let reqs = reg.set_watches_requests(7);
    assert!(reqs.len() >= 3, "{} batches", reqs.len());
    let mut total = 0;
    for r in &reqs {
        let Request::SetWatches(sw) = r else {
            panic!("{r:?}")
        };
        let bytes: usize = sw.data_watches.iter().map(|p| p.len() + 4).sum();
        assert!(bytes <= crate::session::watches::SET_WATCHES_BATCH_BYTES);
        total += sw.data_watches.len();
    }
    assert_eq!(total, 5000);
}
