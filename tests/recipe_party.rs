//! Party and ShallowParty against a real server: kazoo's node names and data, idempotent
//! join, members and len, watch_async, rejoining after a session expiry, bad input, the
//! async forms under poll_once and embedded.

#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::cell::RefCell;
use std::rc::Rc;

use mio_zookeeper::recipe::{Party, ShallowParty};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{ClientState, CreateMode, Error};
use recipe_support::*;

fn is_hex32(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn party_nodes_are_kazoos_and_join_is_idempotent() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let a = Party::new(&c, "/p/party", Some("host-a")).unwrap();
    let b = Party::new(&c, "/p/party", None).unwrap();
    let listeners = c.listener_count();
    a.join().unwrap();
    a.join().unwrap();
    b.join().unwrap();
    // A foreign child is not a member.
    c.create("/p/party/other", b"x", CreateMode::Persistent)
        .unwrap();
    let mut kids = c.get_children("/p/party", None).unwrap();
    kids.sort();
    assert_eq!(kids.len(), 3, "{kids:?}");
    let node = a.node_name().to_string();
    assert!(
        node.ends_with("__party__") && is_hex32(&node[..32]),
        "{node}"
    );
    let (data, stat) = c.get(&format!("/p/party/{node}"), None).unwrap();
    assert_eq!(data.as_deref(), Some(&b"host-a"[..]));
    assert_ne!(stat.ephemeral_owner, 0, "ephemeral");
    let (data, _) = c.get(&format!("/p/party/{}", b.node_name()), None).unwrap();
    assert_eq!(
        data.as_deref().unwrap_or_default(),
        b"",
        "no identifier: empty data"
    );

    let mut m = a.members().unwrap();
    m.sort();
    assert_eq!(m, ["", "host-a"]);
    assert_eq!(a.len().unwrap(), 2);
    assert!(a.leave().unwrap());
    assert!(!a.leave().unwrap(), "already gone");
    assert_eq!(b.members().unwrap(), [""]);
    assert!(b.leave().unwrap());
    assert!(b.is_empty().unwrap());
    assert_eq!(
        c.listener_count(),
        listeners,
        "no listener left after leave"
    );
    // A party whose node is missing has no members (and reading creates nothing).
    let none = Party::new(&c, "/p/nowhere", None).unwrap();
    assert!(none.members().unwrap().is_empty());
    assert!(c.exists("/p/nowhere", None).unwrap().is_none());
}

#[test]
fn shallow_party_names_carry_the_identifier() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let a = ShallowParty::new(&c, "/sp", Some("host-1")).unwrap();
    let b = ShallowParty::new(&c, "/sp", Some("with-dash")).unwrap();
    a.join().unwrap();
    b.join().unwrap();
    let node = a.node_name();
    assert!(is_hex32(&node[..32]) && &node[32..] == "-host-1", "{node}");
    let (data, _) = c.get(&format!("/sp/{node}"), None).unwrap();
    assert_eq!(data.as_deref(), Some(&b"host-1"[..]));
    let mut m = a.members().unwrap();
    m.sort();
    assert_eq!(m, ["host-1", "with-dash"]);
    assert_eq!(b.len().unwrap(), 2);

    for bad in ["a/b", "nul\0", "tab\t"] {
        match ShallowParty::new(&c, "/sp", Some(bad)) {
            Err(Error::BadArgument(msg)) => assert!(msg.contains("identifier"), "{msg}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert!(matches!(
        Party::new(&c, "no-slash", None),
        Err(Error::InvalidPath { .. })
    ));
    assert!(matches!(
        Party::new(&c, "/", None),
        Err(Error::BadArgument(_))
    ));
}

#[test]
fn watch_async_reports_every_membership_change() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let seen: Rc<RefCell<Vec<Vec<String>>>> = Rc::default();
    let s = seen.clone();
    let watcher = Party::new(&c, "/w", None).unwrap();
    let w = watcher
        .watch_async(move |m| {
            let mut m = m.to_vec();
            m.sort();
            s.borrow_mut().push(m)
        })
        .get(true, Some(LONG))
        .unwrap();
    wait(&c, "first call", || seen.borrow().len() == 1);
    assert!(seen.borrow()[0].is_empty());
    let a = Party::new(&c, "/w", Some("a")).unwrap();
    a.join().unwrap();
    wait(&c, "a joined", || {
        seen.borrow().last().is_some_and(|m| m == &["a"])
    });
    let b = Party::new(&c, "/w", Some("b")).unwrap();
    b.join().unwrap();
    wait(&c, "b joined", || {
        seen.borrow().last().is_some_and(|m| m == &["a", "b"])
    });
    a.leave().unwrap();
    wait(&c, "a left", || {
        seen.borrow().last().is_some_and(|m| m == &["b"])
    });
    w.stop();
    wait(&c, "the watch removed", || c.watch_count() == 0);
}

#[test]
fn a_joined_member_rejoins_after_its_session_expired() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let other = client(&zk.connect_string());
    let p = Party::new(&c, "/x", Some("me")).unwrap();
    let s = ShallowParty::new(&c, "/xs", Some("me")).unwrap();
    p.join().unwrap();
    s.join().unwrap();
    let viewer = Party::new(&other, "/x", None).unwrap();
    let sviewer = ShallowParty::new(&other, "/xs", None).unwrap();
    assert_eq!(viewer.members().unwrap(), ["me"]);

    let (old, _) = c.client_id().unwrap();
    faults_support::expire_session(zk.addr(), &c);
    wait(&c, "a new session", || {
        c.state() == ClientState::Connected && c.client_id().is_some_and(|(id, _)| id != old)
    });
    wait(&c, "member again", || {
        viewer.members().unwrap() == ["me"] && sviewer.members().unwrap() == ["me"]
    });
    let (_, stat) = other.get(&format!("/x/{}", p.node_name()), None).unwrap();
    assert_eq!(
        stat.ephemeral_owner,
        c.client_id().unwrap().0,
        "the same name, ours"
    );

    // After leave, an expiry does not bring it back.
    p.leave().unwrap();
    s.leave().unwrap();
    let (old, _) = c.client_id().unwrap();
    faults_support::expire_session(zk.addr(), &c);
    wait(&c, "a new session", || {
        c.state() == ClientState::Connected && c.client_id().is_some_and(|(id, _)| id != old)
    });
    idle(&c, std::time::Duration::from_millis(500));
    assert!(viewer.members().unwrap().is_empty());
    assert!(sviewer.members().unwrap().is_empty());
}

#[test]
fn async_forms_work_under_poll_once_and_embedded() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let p = Party::new(&c, "/pe", Some("polled")).unwrap();
    let joined = p.join_async();
    poll_until(&c, "joined", || joined.ready());
    joined.get_nowait().unwrap();
    let m = p.members_async();
    poll_until(&c, "members", || m.ready());
    assert_eq!(m.get_nowait().unwrap(), ["polled"]);

    let (mut host, e) = embedded(&zk);
    let q = ShallowParty::new(&e, "/pe2", Some("embedded")).unwrap();
    assert_embedded_refusal(q.join().unwrap_err(), "ShallowParty::join");
    let joined = q.join_async();
    host.run_until("joined", || joined.ready());
    joined.get_nowait().unwrap();
    let m = q.members_async();
    host.run_until("members", || m.ready());
    assert_eq!(m.get_nowait().unwrap(), ["embedded"]);
    let left = q.leave_async();
    host.run_until("left", || left.ready());
    assert!(left.get_nowait().unwrap());
}
