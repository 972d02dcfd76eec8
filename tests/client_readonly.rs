//! Read-only mode against a real ensemble: a server cut off from its quorum serves reads
//! (`readonlymode.enabled`); a client that allows it connects, reads, gets NotReadOnly for
//! writes, and moves back to a read-write server once the quorum is back.

use mio_zookeeper::{Client, CreateMode, Error, ErrorCode, SessionState, ZkError};
use std::time::{Duration, Instant};

use mio_zookeeper::testing::{ServerMode, ZkEnsemble};

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Stderr;
impl log::Log for Stderr {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        eprintln!("{:?} {} {}", Instant::now(), r.level(), r.args());
    }
    fn flush(&self) {}
}

#[test]
fn read_only_server_is_used_when_allowed_and_left_for_a_read_write_one() {
    let _ = log::set_logger(&Stderr).map(|()| log::set_max_level(log::LevelFilter::Debug));
    let mut ens = ZkEnsemble::builder(3)
        .system_property("readonlymode.enabled", "true")
        // A read-only server can only open local sessions (PROTOCOL.md §10: without them it
        // answers the handshake with a bare NotReadOnly header).
        .cfg("localSessionsEnabled", "true")
        .cfg("localSessionsUpgradingEnabled", "true")
        .start()
        .expect("3-node ensemble");
    let writer = Client::new(&ens.connect_string()).unwrap();
    writer.start(Some(Duration::from_secs(20))).unwrap();
    writer
        .create("/ro", b"readable", CreateMode::Persistent)
        .unwrap();
    writer.stop().unwrap();

    // Keep server 0 alone: it loses its quorum and turns read-only.
    ens.stop(1).unwrap();
    ens.stop(2).unwrap();
    wait_for(
        "server 0 to turn read-only",
        Duration::from_secs(60),
        || ens.mode(0) == Some(ServerMode::ReadOnly),
    );

    // Allowed: it connects read-only, reads work, writes fail with NotReadOnly.
    let c = Client::builder(&ens.connect_string())
        .read_only(true)
        .session_timeout(Duration::from_secs(4))
        .build()
        .unwrap();
    c.start(Some(Duration::from_secs(30))).unwrap();
    assert_eq!(c.session_state(), SessionState::ConnectedReadOnly);
    let (data, _) = c.get("/ro", None).unwrap();
    assert_eq!(data.as_deref(), Some(&b"readable"[..]));
    match c.create("/nope", b"", CreateMode::Persistent) {
        Err(Error::ZooKeeper(ZkError {
            code: ErrorCode::NotReadOnly,
            ..
        })) => {}
        other => panic!("a write on a read-only server: {other:?}"),
    }

    // Not allowed: the read-only server will not take the session.
    let strict = Client::builder(&ens.server(0).unwrap().connect_string())
        .build()
        .unwrap();
    assert!(
        strict.start(Some(Duration::from_secs(3))).is_err(),
        "a client that does not allow read-only must not connect"
    );

    // The quorum comes back: the client ends up on a read-write server and can write.
    ens.start_again(1).unwrap();
    ens.start_again(2).unwrap();
    ens.wait_for_leader().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        c.poll_once(Some(Duration::from_millis(100))).unwrap();
        if c.session_state() == SessionState::Connected {
            break;
        }
        assert!(Instant::now() < deadline, "never left read-only mode");
    }
    let written =
        c.with_timeout(Some(Duration::from_secs(20)))
            .create("/rw", b"", CreateMode::Persistent);
    assert!(
        written.is_ok()
            || matches!(
                &written,
                Err(Error::ZooKeeper(ZkError {
                    code: ErrorCode::NodeExists,
                    ..
                }))
            ),
        "{written:?}"
    );
}
