//! The watch recipes across faults, against real servers: connection cuts (chaos proxy)
//! while another client changes the node, a server restart, session expiry (LOST, then a
//! new session: re-read, only the differences reported), and a 3-node ensemble losing the
//! server the client is on.

#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::time::Duration;

use mio_zookeeper::recipe::{ChildrenWatch, DataWatch, PatientChildrenWatch};
use mio_zookeeper::testing::{Proxy, RandomCuts, ZkEnsemble, ZkServer};
use mio_zookeeper::{Client, ClientState, CreateMode, EventType};
use recipe_support::*;

/// Both watches on `path`, with their recorders.
fn watch_both(c: &Client, path: &str) -> (DataCalls, ChildCalls, DataWatch, ChildrenWatch) {
    let (data, f) = data_recorder();
    let dw = DataWatch::start(c, path, Some(LONG), f).unwrap();
    let (kids, f) = children_recorder();
    let cw = ChildrenWatch::start(c, path, Some(LONG), f).unwrap();
    (data, kids, dw, cw)
}

#[test]
fn changes_made_during_cuts_are_reported_once_back_and_unchanged_gives_no_call() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client(&proxy.connect_string());
    let other = client(&zk.connect_string());
    other.create("/cut", b"0", CreateMode::Persistent).unwrap();
    let (data, kids, dw, cw) = watch_both(&c, "/cut");
    for round in 1..=4 {
        proxy.set_refusing(true);
        proxy.drop_connections();
        wait(&c, "suspended", || c.state() == ClientState::Suspended);
        other.set("/cut", format!("{round}"), None).unwrap();
        other
            .create(&format!("/cut/r{round}"), b"", CreateMode::Persistent)
            .unwrap();
        proxy.set_refusing(false);
        wait(&c, "both saw the round", || {
            data.borrow().len() == round + 1 && kids.borrow().len() == round + 1
        });
        assert_eq!(values(&data)[round].as_deref(), Some(&*format!("{round}")));
        assert_eq!(kids.borrow()[round].0.len(), round);
    }
    // Cuts with nothing changed meanwhile: no call at all.
    for _ in 0..3 {
        proxy.drop_connections();
        wait(&c, "suspended", || c.state() == ClientState::Suspended);
        wait(&c, "back", || c.state() == ClientState::Connected);
    }
    idle(&c, Duration::from_millis(500));
    assert_eq!((data.borrow().len(), kids.borrow().len()), (5, 5));
    // And the watches still follow changes.
    other.set("/cut", b"last", None).unwrap();
    wait(&c, "a change after the cuts", || data.borrow().len() == 6);
    assert_eq!(c.watch_count(), 2);
    dw.stop();
    cw.stop();
    wait(&c, "the watchers removed", || c.watch_count() == 0);
}

#[test]
fn a_cut_with_requests_in_flight_under_random_cuts_misses_nothing() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client(&proxy.connect_string());
    let other = client(&zk.connect_string());
    other.create("/rc", b"0", CreateMode::Persistent).unwrap();
    let (data, f) = data_recorder();
    let dw = DataWatch::start(&c, "/rc", Some(LONG), f).unwrap();
    proxy
        .start_random_cuts(
            RandomCuts::new(7).every(Duration::from_millis(30), Duration::from_millis(120)),
        )
        .unwrap();
    for i in 1..=20 {
        other.set("/rc", format!("{i}"), None).unwrap();
        idle(&c, Duration::from_millis(20));
    }
    proxy.stop_random_cuts();
    // Whatever was seen on the way, the last value is seen, and never twice in a row.
    wait(&c, "the last value", || {
        values(&data).last().cloned().flatten().as_deref() == Some("20")
    });
    let seen = values(&data);
    assert!(
        seen.windows(2).all(|w| w[0] != w[1]),
        "a duplicate call: {seen:?}"
    );
    let n: Vec<u32> = seen
        .iter()
        .map(|v| v.as_ref().unwrap().parse().unwrap())
        .collect();
    assert!(n.windows(2).all(|w| w[0] < w[1]), "out of order: {n:?}");
    dw.stop();
}

#[test]
fn a_server_restart_reports_the_changes_made_while_it_was_down() {
    let mut zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    c.create("/rs", b"1", CreateMode::Persistent).unwrap();
    let (data, kids, dw, cw) = watch_both(&c, "/rs");
    zk.restart().unwrap();
    wait(&c, "back", || c.state() == ClientState::Connected);
    idle(&c, Duration::from_millis(300));
    assert_eq!(
        (data.borrow().len(), kids.borrow().len()),
        (1, 1),
        "unchanged"
    );
    // Changes made while the client is away, by a second client once the server is back
    // (the first may be back too by then: either way each change is seen once).
    zk.stop().unwrap();
    wait(&c, "suspended", || c.state() != ClientState::Connected);
    zk.start_again().unwrap();
    let other = client(&zk.connect_string());
    other.set("/rs", b"2", None).unwrap();
    other.create("/rs/k", b"", CreateMode::Persistent).unwrap();
    wait(&c, "both saw it", || {
        data.borrow().len() == 2 && kids.borrow().len() == 2
    });
    assert_eq!(values(&data)[1].as_deref(), Some("2"));
    assert_eq!(lists(&kids)[1], "k");
    idle(&c, Duration::from_millis(300));
    assert_eq!((data.borrow().len(), kids.borrow().len()), (2, 2));
    dw.stop();
    cw.stop();
}

#[test]
fn session_expiry_keeps_the_watches_and_reports_only_the_differences() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    let states = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push(st));
    other.ensure_path("/ex/a", None).unwrap();
    other
        .create("/ex/gone", b"g", CreateMode::Persistent)
        .unwrap();
    let (data, kids, dw, cw) = watch_both(&c, "/ex");
    let (gone, f) = data_recorder();
    let gw = DataWatch::start(&c, "/ex/gone", Some(LONG), f).unwrap();
    let pw = PatientChildrenWatch::new(&c, "/ex", Duration::from_millis(200)).unwrap();
    let settled = pw.start(Some(LONG)).unwrap();
    assert_eq!(c.watch_count(), 4);

    // An expiry with nothing changed: LOST, a new session, no call, the watches back.
    let (old, _) = c.client_id().unwrap();
    faults_support::expire_session(zk.addr(), &c);
    wait(&c, "a new session", || {
        c.state() == ClientState::Connected && c.client_id().is_some_and(|(id, _)| id != old)
    });
    assert!(states.borrow().contains(&ClientState::Lost), "{states:?}");
    wait(&c, "re-watched", || c.watch_count() == 4);
    idle(&c, Duration::from_millis(300));
    assert_eq!(
        (
            data.borrow().len(),
            kids.borrow().len(),
            gone.borrow().len()
        ),
        (1, 1, 1)
    );
    assert!(!settled.next_change.ready(), "the children did not change");

    // Changes while the session is lost: each reported once on the new session.
    let (old, _) = c.client_id().unwrap();
    faults_support::expire_session(zk.addr(), &c);
    // In one transaction: the clients share a loop, so `c` may be back between two writes.
    other
        .transaction()
        .set_data("/ex", b"new", None)
        .create("/ex/b", b"", CreateMode::Persistent)
        .delete("/ex/gone", None)
        .commit()
        .unwrap();
    let all_seen =
        || data.borrow().len() == 2 && kids.borrow().len() == 2 && gone.borrow().len() == 2;
    if c.run_until(&all_seen, Some(LONG)).is_err() {
        panic!(
            "not each change seen: data {:?} kids {:?} gone {:?} states {:?} watches {}",
            values(&data),
            lists(&kids),
            values(&gone),
            states.borrow(),
            c.watch_count()
        );
    }
    assert!(c.client_id().is_some_and(|(id, _)| id != old));
    assert_eq!(values(&data)[1].as_deref(), Some("new"));
    assert_eq!(lists(&kids)[1], "a,b");
    assert_eq!(values(&gone)[1], None, "deleted meanwhile");
    wait(&c, "the patient watch's next change", || {
        settled.next_change.ready()
    });
    let ev = settled.next_change.get_nowait().unwrap();
    assert_eq!(ev.event_type, EventType::NodeChildrenChanged);
    idle(&c, Duration::from_millis(300));
    assert_eq!(
        (
            data.borrow().len(),
            kids.borrow().len(),
            gone.borrow().len()
        ),
        (2, 2, 2)
    );
    // Still following, on the new session.
    other.delete("/ex/a", None).unwrap();
    other
        .create("/ex/gone", b"back", CreateMode::Persistent)
        .unwrap();
    wait(&c, "followed on", || {
        kids.borrow().len() >= 3 && gone.borrow().len() == 3
    });
    for w in [&dw, &gw] {
        w.stop();
    }
    cw.stop();
    wait(&c, "all removed", || c.watch_count() == 0);
}

#[test]
fn an_ensemble_losing_the_clients_server_keeps_the_watches_reporting() {
    let mut ens = ZkEnsemble::start(3).unwrap();
    let c = client(&ens.connect_string());
    c.ensure_path("/en", None).unwrap();
    let (data, kids, dw, cw) = watch_both(&c, "/en");
    let on = c.current_server().unwrap();
    let idx = ens
        .servers()
        .iter()
        .position(|s| s.connect_string() == on)
        .unwrap();
    let survivor = (idx + 1) % 3;
    let other = client(&ens.server(survivor).unwrap().connect_string());
    ens.stop(idx).unwrap();
    // Written through a survivor while this client moves over (retried: the quorum may
    // be electing a leader).
    let deadline = std::time::Instant::now() + LONG;
    while other.set("/en", b"moved", None).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the survivors never served"
        );
        idle(&other, Duration::from_millis(100));
    }
    while other.create("/en/k", b"", CreateMode::Persistent).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the survivors never served"
        );
        idle(&other, Duration::from_millis(100));
    }
    wait(&c, "both saw the changes", || {
        data.borrow().len() == 2 && kids.borrow().len() == 2
    });
    assert_ne!(c.current_server().as_deref(), Some(&*on));
    assert_eq!(values(&data)[1].as_deref(), Some("moved"));
    assert_eq!(lists(&kids)[1], "k");
    other.set("/en", b"again", None).unwrap();
    wait(&c, "a later change", || data.borrow().len() == 3);
    idle(&c, Duration::from_millis(300));
    assert_eq!((data.borrow().len(), kids.borrow().len()), (3, 2));
    dw.stop();
    cw.stop();
    wait(&c, "all removed", || c.watch_count() == 0);
}
