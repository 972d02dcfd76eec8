//! Protected creates against a real server, with the chaos proxy losing the create's reply
//! (or the request itself): exactly one node, never another session's ephemeral taken for
//! ours, no node left behind by a create that failed for good, and the non-blocking form
//! under `poll_once`.
#![cfg(feature = "testing")]

#[path = "faults_support/mod.rs"]
mod faults_support;

use std::time::{Duration, Instant};

use faults_support::{start_client, LONG};
use mio_zookeeper::recipe::{random_uuid, IdPlacement, ProtectedCreate};
use mio_zookeeper::testing::{Direction, Proxy, ZkServer};
use mio_zookeeper::{Client, CreateMode, Error};

const SESSION: Duration = Duration::from_secs(10);

/// A server, a proxy in front of it, a client through the proxy and one straight to it.
fn setup() -> (ZkServer, Proxy, Client, Client) {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), SESSION);
    let other = start_client(&zk.connect_string(), SESSION);
    (zk, proxy, c, other)
}

fn children(other: &Client, parent: &str) -> Vec<String> {
    let mut v = other.get_children(parent, None).unwrap();
    v.sort();
    v
}

/// Runs `c`'s loop until `cond` holds (at most [`LONG`]); `cond` may use other clients.
fn poll_until(c: &Client, what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + LONG;
    while !cond() {
        assert!(Instant::now() < end, "waiting for {what}");
        c.poll_once(Some(Duration::from_millis(20))).unwrap();
    }
}

#[test]
fn a_lost_reply_is_found_again_by_the_id_exactly_one_node_in_every_mode() {
    let (_zk, proxy, c, other) = setup();
    let modes = [
        CreateMode::Persistent,
        CreateMode::Ephemeral,
        CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential,
    ];
    for (i, mode) in modes.into_iter().enumerate() {
        let parent = format!("/lost{i}");
        c.ensure_path(&parent, None).unwrap();
        let cuts = proxy.cuts();
        // The request reaches the server; the next byte back (its reply) is cut.
        proxy.cut_after(Direction::ServerToClient, 0);
        let (path, stat) = ProtectedCreate::new(&format!("{parent}/node-"), b"v", mode)
            .with_timeout(LONG)
            .create(&c)
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(proxy.cuts(), cuts + 1, "{mode:?}: the reply was cut");
        let kids = children(&other, &parent);
        assert_eq!(kids.len(), 1, "{mode:?}: exactly one node, got {kids:?}");
        assert_eq!(format!("{parent}/{}", kids[0]), path, "{mode:?}");
        assert!(
            kids[0].starts_with("_c_") && kids[0].contains("-node-"),
            "{kids:?}"
        );
        let owner = if mode.is_ephemeral() {
            c.client_id().unwrap().0
        } else {
            0
        };
        assert_eq!(stat.ephemeral_owner, owner, "{mode:?}");
        assert_eq!(
            other.get(&path, None).unwrap().0.as_deref(),
            Some(&b"v"[..])
        );
    }
}

#[test]
fn an_ephemeral_of_another_session_with_our_id_is_not_taken_for_ours() {
    let (_zk, proxy, c, other) = setup();
    c.ensure_path("/eph", None).unwrap();
    let id = random_uuid();
    // Another session's node carrying our id (e.g. ours before an expiry).
    let (foreign, _) = other
        .create(
            &format!("/eph/_c_{id}-n-"),
            b"theirs",
            CreateMode::EphemeralSequential,
        )
        .unwrap();
    // Our request is cut before it reaches the server: ConnectionLoss, and a lookup that
    // finds only the foreign node.
    let cuts = proxy.cuts();
    proxy.cut_after(Direction::ClientToServer, 0);
    let (path, stat) = ProtectedCreate::new("/eph/n-", b"ours", CreateMode::EphemeralSequential)
        .with_id(&id)
        .with_timeout(LONG)
        .create(&c)
        .unwrap();
    assert_eq!(proxy.cuts(), cuts + 1, "the request was cut");
    assert_ne!(path, foreign, "the foreign node was taken for ours");
    assert_eq!(stat.ephemeral_owner, c.client_id().unwrap().0);
    assert_eq!(
        other.get(&path, None).unwrap().0.as_deref(),
        Some(&b"ours"[..])
    );
    assert_eq!(
        other.get(&foreign, None).unwrap().0.as_deref(),
        Some(&b"theirs"[..])
    );
    assert_eq!(children(&other, "/eph").len(), 2);
}

#[test]
fn the_id_placement_and_id_can_be_chosen_kazoo_lock_style() {
    let (_zk, proxy, c, other) = setup();
    c.ensure_path("/klock", None).unwrap();
    let id = random_uuid().replace('-', "");
    proxy.cut_after(Direction::ServerToClient, 0);
    let (path, _) = ProtectedCreate::new("/klock/__lock__", b"me", CreateMode::EphemeralSequential)
        .with_id(&id)
        .with_placement(IdPlacement::Prefix)
        .with_timeout(LONG)
        .create(&c)
        .unwrap();
    let kids = children(&other, "/klock");
    assert_eq!(kids.len(), 1, "{kids:?}");
    let name = &kids[0];
    assert_eq!(format!("/klock/{name}"), path);
    // kazoo's shape: 32 hex digits, `__lock__`, a 10-digit sequence.
    assert_eq!(name.len(), 32 + 8 + 10, "{name}");
    assert!(name.starts_with(&format!("{id}__lock__")), "{name}");
}

#[test]
fn a_create_that_failed_for_good_leaves_no_node_once_the_background_cleanup_ran() {
    let (_zk, proxy, c, other) = setup();
    for (i, mode) in [CreateMode::PersistentSequential, CreateMode::Ephemeral]
        .into_iter()
        .enumerate()
    {
        let parent = format!("/gone{i}");
        c.ensure_path(&parent, None).unwrap();
        let session = c.client_id().unwrap().0;
        // The create reaches the server, its reply is cut, and no reconnect succeeds
        // before the caller's deadline.
        proxy.set_refusing(true);
        proxy.cut_after(Direction::ServerToClient, 0);
        let err = ProtectedCreate::new(&format!("{parent}/n-"), b"", mode)
            .with_timeout(Duration::from_millis(800))
            .create(&c)
            .unwrap_err();
        assert!(matches!(err, Error::Timeout), "{mode:?}: {err}");
        assert_eq!(
            children(&other, &parent).len(),
            1,
            "{mode:?}: the lost create was applied (else this test shows nothing)"
        );
        proxy.set_refusing(false);
        poll_until(&c, "the cleanup", || children(&other, &parent).is_empty());
        assert_eq!(
            c.client_id().unwrap().0,
            session,
            "{mode:?}: deleted by the cleanup, not by a session expiry"
        );
    }
}

#[test]
fn a_cancelled_create_is_cleaned_up_in_the_background() {
    let (_zk, proxy, c, other) = setup();
    c.ensure_path("/cancel", None).unwrap();
    proxy.set_refusing(true);
    proxy.cut_after(Direction::ServerToClient, 0);
    let r = ProtectedCreate::new("/cancel/n", b"", CreateMode::Persistent).create_async(&c);
    poll_until(&c, "the create on the server", || {
        children(&other, "/cancel").len() == 1
    });
    r.set_exception(Error::Timeout).unwrap(); // the caller gives up
    proxy.set_refusing(false);
    poll_until(&c, "the cleanup", || children(&other, "/cancel").is_empty());
}

#[test]
fn the_non_blocking_form_runs_under_poll_once() {
    let (_zk, proxy, c, other) = setup();
    c.ensure_path("/poll", None).unwrap();
    proxy.cut_after(Direction::ServerToClient, 0);
    let r =
        ProtectedCreate::new("/poll/n-", b"x", CreateMode::EphemeralSequential).create_async(&c);
    poll_until(&c, "the create", || r.ready());
    let (path, stat) = r.get_nowait().unwrap();
    assert_eq!(stat.ephemeral_owner, c.client_id().unwrap().0);
    let kids = children(&other, "/poll");
    assert_eq!(kids.len(), 1, "{kids:?}");
    assert_eq!(format!("/poll/{}", kids[0]), path);
}

#[test]
fn a_bad_path_fails_at_once() {
    let (_zk, _proxy, c, _other) = setup();
    let err = ProtectedCreate::new("no-slash", b"", CreateMode::Persistent)
        .create(&c)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidPath { .. }), "{err}");
}
