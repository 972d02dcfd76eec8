//! The errors a caller matches (issue #11 §3): the server's refusals come back as
//! `Error::ZooKeeper(ZkError)` answering the right question with the request's path, and a
//! reply of the wrong shape is `Error::Protocol`, not the caller's `BadArgument`.

mod client_support;

use std::time::Duration;

use client_support::*;
use mio_zookeeper::testing::{FakeServer, Garbage};
use mio_zookeeper::{Client, CreateMode, Error, ErrorCode, NullData, ReadOp, ZkError};

/// A question a caller asks an error.
type Question = fn(&Error) -> bool;

/// The questions of `e` that answer `true`, by name.
fn answers(e: &Error) -> Vec<&'static str> {
    let questions: [(&str, Question); 8] = [
        ("is_no_node", Error::is_no_node),
        ("is_node_exists", Error::is_node_exists),
        ("is_bad_version", Error::is_bad_version),
        ("is_not_empty", Error::is_not_empty),
        ("is_no_auth", Error::is_no_auth),
        ("is_retryable", Error::is_retryable),
        ("is_session_expired", Error::is_session_expired),
        ("may_have_been_applied", Error::may_have_been_applied),
    ];
    questions
        .iter()
        .filter(|(_, q)| q(e))
        .map(|(name, _)| *name)
        .collect()
}

/// `r` is the server's refusal `code` for `path`, and answers `question` (and no other).
#[track_caller]
fn refused<T: std::fmt::Debug>(r: Result<T, Error>, code: ErrorCode, path: &str, question: &str) {
    let e = r.expect_err("the server must refuse");
    assert_eq!(answers(&e), [question], "{e:?}");
    assert_eq!(e.code(), Some(code), "{e:?}");
    assert_eq!(e.path(), Some(path), "{e:?}");
    assert_eq!(e.zk_error(), Some(&ZkError::new(code, path)));
    assert_eq!(e.to_string(), format!("{code}: {path}"));
    match e {
        Error::ZooKeeper(zk) => {
            assert_eq!((zk.code, zk.path.as_str()), (code, path));
        }
        other => panic!("expected Error::ZooKeeper, got {other:?}"),
    }
}

#[test]
fn server_refusals_answer_their_question_with_their_path() {
    let zk = server();
    let c = client(&zk.connect_string());

    refused(
        c.get("/missing", None),
        ErrorCode::NoNode,
        "/missing",
        "is_no_node",
    );
    refused(
        c.create("/nested/child", b"", CreateMode::Persistent),
        ErrorCode::NoNode,
        "/nested/child",
        "is_no_node",
    );

    c.create("/a", b"1", CreateMode::Persistent).unwrap();
    refused(
        c.create("/a", b"2", CreateMode::Persistent),
        ErrorCode::NodeExists,
        "/a",
        "is_node_exists",
    );

    let wrong_version = c.get("/a", None).unwrap().1.version + 7;
    refused(
        c.set_async("/a", NullData, Some(wrong_version))
            .get(true, Some(WAIT)),
        ErrorCode::BadVersion,
        "/a",
        "is_bad_version",
    );
    refused(
        c.delete_async("/a", Some(wrong_version))
            .get(true, Some(WAIT)),
        ErrorCode::BadVersion,
        "/a",
        "is_bad_version",
    );

    c.create("/a/b", b"", CreateMode::Persistent).unwrap();
    refused(
        c.delete("/a", None),
        ErrorCode::NotEmpty,
        "/a",
        "is_not_empty",
    );

    // The questions a caller uses to tell "done already" from a failure.
    let gone = c.delete("/a/b", None).and_then(|()| c.delete("/a/b", None));
    assert!(gone.as_ref().is_err_and(Error::is_no_node), "{gone:?}");
}

#[test]
fn a_chrooted_refusal_names_the_path_as_the_caller_gave_it() {
    let zk = server();
    let root = client(&zk.connect_string());
    root.create("/app", b"", CreateMode::Persistent).unwrap();
    let c = client(&format!("{}/app", zk.connect_string()));
    refused(
        c.get("/nope", None),
        ErrorCode::NoNode,
        "/nope",
        "is_no_node",
    );
}

#[test]
fn a_reply_of_the_wrong_shape_is_a_protocol_error() {
    // Before the fix this came back as Error::BadArgument, the caller's-mistake error.
    let fake = FakeServer::start(Garbage::WrongMultiResult).unwrap();
    let c = Client::builder(&fake.connect_string())
        .session_timeout(Duration::from_secs(4))
        .request_timeout(Some(WAIT))
        .build()
        .unwrap();
    c.start(Some(WAIT)).unwrap();
    let res = c
        .multi_read(&[ReadOp::GetData("/a".into())])
        .expect("the multi-read itself is answered");
    match res.as_slice() {
        [Err(e @ Error::Protocol { request, reply })] => {
            assert_eq!(*request, "multiRead");
            assert!(reply.contains("Delete"), "{reply}");
            assert_eq!(e.code(), Some(ErrorCode::MarshallingError));
            assert_eq!(answers(e), ["may_have_been_applied"], "{e:?}");
            assert!(e.to_string().contains("multiRead"), "{e}");
        }
        other => panic!("expected one Error::Protocol, got {other:?}"),
    }
}

#[test]
fn a_write_whose_reply_does_not_decode_may_have_been_applied() {
    // The server's header said Ok: the write was applied, only its reply is broken. Before
    // the fix, may_have_been_applied() said false.
    let fake = FakeServer::start(Garbage::TruncatedStat).unwrap();
    let c = Client::builder(&fake.connect_string())
        .session_timeout(Duration::from_secs(4))
        .request_timeout(Some(WAIT))
        .build()
        .unwrap();
    c.start(Some(WAIT)).unwrap();
    let e = c
        .set_async("/a", NullData, None)
        .get(true, Some(WAIT))
        .expect_err("a truncated Stat does not decode");
    assert!(matches!(e, Error::Decode(_)), "{e:?}");
    assert_eq!(answers(&e), ["may_have_been_applied"], "{e:?}");
}

#[test]
fn a_stopped_client_is_not_an_expired_session() {
    let zk = server();
    let c = client(&zk.connect_string());
    c.stop().unwrap();
    let e = c.get("/a", None).unwrap_err();
    assert!(matches!(e, Error::ConnectionClosed), "{e:?}");
    assert_eq!(e.code(), None, "ConnectionClosed has no ZooKeeper code");
    assert!(!e.is_session_expired());
    assert!(answers(&e).is_empty(), "{e:?}");
}
