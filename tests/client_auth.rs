//! Authentication and ACLs against a real server: digest ACLs enforced between two clients
//! (kazoo's `make_digest_acl`), credentials given to the builder, the `auth` id, the super
//! user, and an unknown scheme ending the session (issue #4 §5; KAZOO.md §6.3 item 18).

mod client_support;

use mio_zookeeper::{
    make_digest_acl, make_digest_acl_credential, Acl, Client, ClientState, CreateMode,
    CreateOptions, Error, ErrorCode, Id, Perms, SessionState,
};
use std::time::Duration;

use client_support::*;
use mio_zookeeper::testing::ZkServer;

fn with_acl(acl: Vec<Acl>) -> CreateOptions {
    CreateOptions {
        acl: Some(acl),
        ..CreateOptions::default()
    }
}

/// kazoo `test_connect_auth`, in both directions: a node with a digest ACL is closed to a
/// client without the credentials (NoAuth), and open once it adds them.
#[test]
fn test_connect_auth() {
    let zk = server();
    let alice = client(&zk.connect_string());
    alice.add_auth("digest", b"alice:pw").unwrap();
    alice
        .create(
            "/secret",
            b"s3cr3t",
            with_acl(vec![make_digest_acl("alice", "pw", Perms::ALL)]),
        )
        .unwrap();
    alice
        .create("/secret/child", b"", CreateMode::Persistent)
        .unwrap();
    let (acl, _) = alice.get_acls("/secret").unwrap();
    assert_eq!(
        acl,
        [Acl::new(
            Perms::ALL,
            Id::new("digest", "alice:V55/p2T0OpjQ+low3NVAH4aLvm0=")
        )]
    );

    let eve = client(&zk.connect_string());
    assert_zk(eve.get("/secret", None), ErrorCode::NoAuth, "/secret");
    assert_zk(eve.set("/secret", b"x", None), ErrorCode::NoAuth, "/secret");
    assert_zk(
        eve.get_children("/secret", None),
        ErrorCode::NoAuth,
        "/secret",
    );
    assert_zk(
        eve.create("/secret/mine", b"", CreateMode::Persistent),
        ErrorCode::NoAuth,
        "/secret/mine",
    );
    assert_zk(
        eve.delete("/secret/child", None),
        ErrorCode::NoAuth,
        "/secret/child",
    );
    assert_zk(
        eve.set_acls("/secret", Acl::open_unsafe(), None),
        ErrorCode::NoAuth,
        "/secret",
    );
    // Reading the ACL needs READ or ADMIN (ZOOKEEPER-1392).
    assert_zk(eve.get_acls("/secret"), ErrorCode::NoAuth, "/secret");
    // exists is not ACL-checked.
    assert!(eve.exists("/secret", None).unwrap().is_some());
    // A wrong password is accepted as an identity, but not Alice's.
    eve.add_auth("digest", b"alice:wrong").unwrap();
    assert_zk(eve.get("/secret", None), ErrorCode::NoAuth, "/secret");
    // The right one opens it.
    eve.add_auth("digest", b"alice:pw").unwrap();
    let (d, _) = eve.get("/secret", None).unwrap();
    assert_eq!(d.as_deref(), Some(&b"s3cr3t"[..]));
    eve.set("/secret", b"changed", None).unwrap();
    let mut who: Vec<_> = eve
        .whoami()
        .unwrap()
        .into_iter()
        .map(|i| format!("{}:{}", i.auth_scheme, i.user))
        .collect();
    who.sort();
    assert_eq!(who, ["digest:alice", "digest:alice", "ip:127.0.0.1"]);
    assert_eq!(
        alice.get("/secret", None).unwrap().0.as_deref(),
        Some(&b"changed"[..])
    );
}

/// Credentials given to the builder are sent at connect, before any request.
#[test]
fn builder_credentials_are_sent_at_connect() {
    let zk = server();
    let alice = client(&zk.connect_string());
    alice.add_auth("digest", b"alice:pw").unwrap();
    alice
        .create(
            "/secret",
            b"s",
            with_acl(vec![make_digest_acl("alice", "pw", Perms::READ)]),
        )
        .unwrap();

    let c = Client::builder(&zk.connect_string())
        .session_timeout(SESSION)
        .auth("digest", b"alice:pw")
        .build()
        .unwrap();
    // Requests made before the connect wait for the handshake and the auth.
    c.start_async().unwrap();
    let early = c.get_async("/secret", None);
    let (d, _) = early.take(true, Some(WAIT)).unwrap();
    assert_eq!(d.as_deref(), Some(&b"s"[..]));
    // READ only: WRITE is refused even to Alice.
    assert_zk(c.set("/secret", b"", None), ErrorCode::NoAuth, "/secret");
}

/// The `auth` id (kazoo's `CREATOR_ALL_ACL`) stands for the creator's authenticated ids; the
/// server stores them in its place.
#[test]
fn creator_all_acl_expands_to_the_creators_ids() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.add_auth("digest", b"bob:pw").unwrap();
    c.create("/bob", b"", with_acl(Acl::creator_all())).unwrap();
    let (acl, _) = c.get_acls("/bob").unwrap();
    assert_eq!(
        acl,
        [Acl::new(
            Perms::ALL,
            Id::new("digest", make_digest_acl_credential("bob", "pw"))
        )]
    );
    let other = client(&zk.connect_string());
    assert_zk(other.get("/bob", None), ErrorCode::NoAuth, "/bob");
}

/// The super user (the server's superDigest) passes every ACL check.
#[test]
fn super_user_passes_every_acl() {
    let zk = ZkServer::builder()
        .super_digest("super", "test")
        .start()
        .unwrap();
    let c = client(&zk.connect_string());
    c.add_auth("digest", b"alice:pw").unwrap();
    c.create(
        "/alice",
        b"a",
        with_acl(vec![make_digest_acl("alice", "pw", Perms::READ)]),
    )
    .unwrap();
    let root = Client::builder(&zk.connect_string())
        .auth("digest", b"super:test")
        .build()
        .unwrap();
    root.start(Some(WAIT)).unwrap();
    assert_eq!(
        root.get("/alice", None).unwrap().0.as_deref(),
        Some(&b"a"[..])
    );
    root.set_acls("/alice", Acl::open_unsafe(), None).unwrap();
    let anyone = client(&zk.connect_string());
    anyone.set("/alice", b"open now", None).unwrap();
}

/// kazoo `test_async_auth_failure`: an unknown scheme fails with AuthFailed and the session
/// is over: listeners see LOST, every later call fails with AuthFailed, and no reconnect
/// follows.
#[test]
fn test_async_auth_failure() {
    let zk = server();
    let c = client(&zk.connect_string());
    let states = record_states(&c);
    let (session, _) = c.client_id().unwrap();
    let r = c.add_auth_async("no-such-scheme", b"whatever");
    let queued_behind = c.get_async("/", None);
    let err = r.take(true, Some(WAIT)).unwrap_err();
    assert!(matches!(err, Error::AuthFailed), "{err:?}");
    assert_eq!(err.code(), Some(ErrorCode::AuthFailed));
    wait_for(&c, "LOST", || states.borrow().contains(&ClientState::Lost));
    assert_eq!(*states.borrow(), [ClientState::Lost]);
    assert_eq!(c.state(), ClientState::Lost);
    assert_eq!(c.session_state(), SessionState::AuthFailed);
    assert!(!c.connected());
    let behind = queued_behind.take(true, Some(WAIT));
    assert!(matches!(behind, Err(Error::AuthFailed)), "{behind:?}");
    assert!(matches!(c.get("/", None), Err(Error::AuthFailed)));
    assert!(matches!(
        c.create("/x", b"", CreateMode::Persistent),
        Err(Error::AuthFailed)
    ));
    // Terminal: it stays so, no reconnect.
    settle(&c, Duration::from_millis(500));
    assert_eq!(c.session_state(), SessionState::AuthFailed);
    assert_eq!(*states.borrow(), [ClientState::Lost]);
    // The server closed that session's connection; another client is unaffected, and the
    // session is not this client's any more.
    let other = client(&zk.connect_string());
    assert!(other.exists("/", None).unwrap().is_some());
    assert_ne!(other.client_id().unwrap().0, session);
}

/// Bad credentials given to the builder: `start` fails with AuthFailed.
#[test]
fn unknown_scheme_at_connect_fails_start() {
    let zk = server();
    let c = Client::builder(&zk.connect_string())
        .auth("no-such-scheme", b"x")
        .build()
        .unwrap();
    let states = record_states(&c);
    let r = c.start(Some(WAIT));
    assert!(matches!(r, Err(Error::AuthFailed)), "{r:?}");
    assert_eq!(c.state(), ClientState::Lost);
    settle(&c, Duration::from_millis(100));
    assert!(
        !states.borrow().contains(&ClientState::Connected),
        "{states:?}"
    );
}

/// Credentials added with `add_auth` stay with the client (kazoo keeps them in
/// `auth_data`): they are sent again after a restart, which opens a new session.
#[test]
fn added_credentials_survive_a_restart() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.add_auth("digest", b"alice:pw").unwrap();
    c.create(
        "/alice",
        b"a",
        with_acl(vec![make_digest_acl("alice", "pw", Perms::ALL)]),
    )
    .unwrap();
    let (old, _) = c.client_id().unwrap();
    c.restart().unwrap();
    assert_ne!(c.client_id().unwrap().0, old, "a new session");
    assert_eq!(c.get("/alice", None).unwrap().0.as_deref(), Some(&b"a"[..]));
}
