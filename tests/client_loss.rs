//! No silent loss, against a real server: a request's error says whether it may have been
//! applied, and a refused credential does not poison later sessions (issue #10 §6).

mod client_support;

use bytes::Bytes;
use client_support::*;
use mio_zookeeper::client::{ClientState, CreateOptions};
use mio_zookeeper::session::SessionState;
use mio_zookeeper::{Error, Handler};

/// A credential the server refused (an unknown scheme: AuthFailed) ends that session, but
/// is not sent again: `restart()` opens a session that works.
#[test]
fn a_refused_add_auth_is_not_replayed_into_the_next_session() {
    let zk = server();
    let c = client(&zk.connect_string());
    let r = c.add_auth("no-such-scheme", b"whatever");
    assert!(matches!(r, Err(Error::AuthFailed)), "{r:?}");
    assert_eq!(c.session_state(), SessionState::AuthFailed);
    c.restart()
        .expect("a new session without the refused credential");
    assert_eq!(c.state(), ClientState::Connected);
    c.create("/after", b"x").expect("the new session works");
    assert!(c.exists("/after").unwrap().is_some());
}

/// `stop()` while creates are in flight (kazoo's shutdown order: the handler first, so
/// nothing more is read): every create reported `ConnectionClosed` ("not sent") is absent
/// from the server, every create reported `Ok` is present, and the others failed with
/// `ConnectionLoss` (outcome unknown).
#[test]
fn stop_reports_written_requests_as_connection_loss_and_unsent_ones_as_closed() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.create("/loss", b"").unwrap();
    // Enough bytes that some may still sit in the client's buffer when it stops.
    let payload = Bytes::from(vec![7u8; 16 * 1024]);
    let n = 300;
    let results: Vec<_> = (0..n)
        .map(|i| {
            c.create_async(
                &format!("/loss/n{i}"),
                Some(payload.clone()),
                &CreateOptions::default(),
            )
        })
        .collect();
    // Run the loop until the server answered the first create: the batch has been written
    // (as far as the socket took it) and the server is busy applying it.
    results[0].wait(Some(WAIT)).unwrap();
    c.handler().stop().unwrap();
    let _ = c.stop();
    let (mut ok, mut loss, mut closed) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in results.iter().enumerate() {
        assert!(r.ready(), "create {i} completed");
        match r.get_nowait() {
            Ok(_) => ok.push(i),
            Err(Error::ConnectionLoss) => {
                assert!(Error::ConnectionLoss.may_have_been_applied());
                loss.push(i);
            }
            Err(Error::ConnectionClosed) => closed.push(i),
            Err(e) => panic!("create {i}: unexpected {e:?}"),
        }
    }
    eprintln!(
        "{} ok, {} connection loss, {} closed",
        ok.len(),
        loss.len(),
        closed.len()
    );
    assert!(!ok.is_empty(), "the first create succeeded");
    // Check from a second client, once the first session's requests are all processed (its
    // closeSession went out behind them; sync orders our reads after them).
    c.handler().start().unwrap();
    let check = client(&zk.connect_string());
    check.sync("/loss").unwrap();
    for i in &closed {
        assert!(
            check.exists(&format!("/loss/n{i}")).unwrap().is_none(),
            "create {i} was reported ConnectionClosed (not sent) but exists"
        );
    }
    for i in &ok {
        assert!(
            check.exists(&format!("/loss/n{i}")).unwrap().is_some(),
            "create {i} was reported Ok but does not exist"
        );
    }
}
