//! Hand-written sample values for the proto tests: every request variant, a successful
//! reply for every opcode that has one, connect records and notifications.

#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use mio_zookeeper::proto::*;

pub(crate) fn stat(seed: i64) -> Stat {
    Stat {
        czxid: seed,
        mzxid: seed + 1,
        ctime: 1_700_000_000_000 + seed,
        mtime: 1_700_000_000_500 + seed,
        version: 3,
        cversion: -1,
        aversion: 0,
        ephemeral_owner: 0x0100_0000_0000_00ab,
        data_length: 5,
        num_children: 2,
        pzxid: seed + 2,
    }
}

pub(crate) fn acl() -> Vec<Acl> {
    vec![
        Acl::new(Perms::ALL, Id::anyone()),
        Acl::new(Perms::READ | Perms::ADMIN, Id::new("digest", "bob:Xyz=")),
    ]
}

fn create(path: &str, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"hello")),
        acl: acl(),
        flags,
    }
}

fn create_ttl() -> CreateTtlRequest {
    CreateTtlRequest {
        path: "/ttl".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: CreateMode::PersistentWithTtl.flags(),
        ttl: 60_000,
    }
}

/// Every multi op kind (write ops for multi).
pub(crate) fn write_ops() -> Vec<MultiOp> {
    vec![
        MultiOp::Create(create("/m/a", 0)),
        MultiOp::Create2(create("/m/b", 2)),
        MultiOp::CreateContainer(create("/m/c", 4)),
        MultiOp::CreateTtl(create_ttl()),
        MultiOp::Delete(DeleteRequest {
            path: "/m/d".into(),
            version: -1,
        }),
        MultiOp::SetData(SetDataRequest {
            path: "/m/e".into(),
            data: Some(Bytes::new()),
            version: 7,
        }),
        MultiOp::Check(CheckVersionRequest {
            path: "/m".into(),
            version: 2,
        }),
    ]
}

/// The multiRead op kinds.
pub(crate) fn read_ops() -> Vec<MultiOp> {
    vec![
        MultiOp::GetData("/r/a".into()),
        MultiOp::GetChildren("/r".into()),
        MultiOp::GetData("/r/ünïcode".into()),
    ]
}

/// One (or more) sample of every `Request` variant.
pub(crate) fn requests() -> Vec<Request> {
    vec![
        Request::Create(create("/a", 0)),
        Request::Create(CreateRequest {
            path: "/null-data".into(),
            data: None,
            acl: vec![],
            flags: 1,
        }),
        Request::Create2(create("/b-", 3)),
        Request::CreateContainer(create("/c", 4)),
        Request::CreateTtl(create_ttl()),
        Request::Delete(DeleteRequest {
            path: "/a".into(),
            version: -1,
        }),
        Request::Exists(PathWatch {
            path: "/a".into(),
            watch: true,
        }),
        Request::GetData(PathWatch {
            path: "/zookeeper/config".into(),
            watch: false,
        }),
        Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: Some(Bytes::from_static(&[0, 1, 2, 255])),
            version: 4,
        }),
        Request::GetAcl(PathOnly { path: "/a".into() }),
        Request::SetAcl(SetAclRequest {
            path: "/a".into(),
            acl: acl(),
            version: -1,
        }),
        Request::GetChildren(PathWatch {
            path: "/".into(),
            watch: true,
        }),
        Request::GetChildren2(PathWatch {
            path: "/a".into(),
            watch: false,
        }),
        Request::Sync(PathOnly { path: "/".into() }),
        Request::Check(CheckVersionRequest {
            path: "/a".into(),
            version: 1,
        }),
        Request::Multi(write_ops()),
        Request::Multi(vec![]),
        Request::MultiRead(read_ops()),
        Request::Reconfig(ReconfigRequest {
            joining_servers: Some("server.4=h4:2888:3888;2181".into()),
            leaving_servers: None,
            new_members: None,
            cur_config_id: -1,
        }),
        Request::CheckWatches(WatchesRequest {
            path: "/a".into(),
            watcher_type: WatcherType::Data.as_i32(),
        }),
        Request::RemoveWatches(WatchesRequest {
            path: "/a".into(),
            watcher_type: WatcherType::Any.as_i32(),
        }),
        Request::AddWatch(AddWatchRequest {
            path: "/tree".into(),
            mode: AddWatchMode::PersistentRecursive.as_i32(),
        }),
        Request::SetWatches(SetWatches {
            relative_zxid: 0x1_0000_0005,
            data_watches: vec!["/a".into(), "/b".into()],
            exist_watches: vec!["/gone".into()],
            child_watches: vec![],
        }),
        Request::SetWatches2(SetWatches2 {
            relative_zxid: 9,
            data_watches: vec!["/a".into()],
            exist_watches: vec![],
            child_watches: vec!["/".into()],
            persistent_watches: vec!["/p".into()],
            persistent_recursive_watches: vec!["/r".into(), "".into()],
        }),
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Some(Bytes::from_static(b"user:secret")),
        }),
        Request::Sasl(SaslRequest {
            token: Some(Bytes::from_static(&[0x60, 0x82, 0x01])),
        }),
        Request::Sasl(SaslRequest { token: None }),
        Request::GetEphemerals(PathOnly { path: "/".into() }),
        Request::GetAllChildrenNumber(PathOnly { path: "/a".into() }),
        Request::WhoAmI,
        Request::Ping,
        Request::CloseSession,
    ]
}

/// The opcodes a client sends (the ones a `Request` can carry).
pub(crate) fn client_ops() -> Vec<OpCode> {
    OpCode::ALL
        .iter()
        .copied()
        .filter(|op| {
            !matches!(
                op,
                OpCode::Notification
                    | OpCode::DeleteContainer
                    | OpCode::CreateSession
                    | OpCode::Error
            )
        })
        .collect()
}

/// Results of every kind, as a (non-atomic) multiRead or multi could return them.
pub(crate) fn all_results() -> Vec<MultiResult> {
    vec![
        MultiResult::Create {
            path: "/m/a".into(),
        },
        MultiResult::Create2 {
            path: "/m/b0000000001".into(),
            stat: stat(10),
        },
        MultiResult::Delete,
        MultiResult::SetData(stat(20)),
        MultiResult::Check,
        MultiResult::GetData {
            data: Some(Bytes::from_static(b"x")),
            stat: stat(30),
        },
        MultiResult::GetData {
            data: None,
            stat: stat(31),
        },
        MultiResult::GetChildren {
            children: vec!["a".into(), "b".into()],
        },
        MultiResult::Error(ErrorCode::NoNode),
    ]
}

/// A failed multi (PROTOCOL.md §8): 0 before the failing op, its code, −2 after.
pub(crate) fn failed_multi() -> Response {
    Response::Multi(vec![
        MultiResult::Error(ErrorCode::Ok),
        MultiResult::Error(ErrorCode::NodeExists),
        MultiResult::Error(ErrorCode::RuntimeInconsistency),
        MultiResult::Error(ErrorCode::RuntimeInconsistency),
    ])
}

/// A successful reply body for every opcode that has a reply (and a few extra shapes).
pub(crate) fn replies() -> Vec<(OpCode, Response)> {
    vec![
        (OpCode::Create, Response::Create { path: "/a".into() }),
        (
            OpCode::Create2,
            Response::Create2 {
                path: "/b-0000000007".into(),
                stat: stat(1),
            },
        ),
        (
            OpCode::CreateContainer,
            Response::Create2 {
                path: "/c".into(),
                stat: stat(2),
            },
        ),
        (
            OpCode::CreateTtl,
            Response::Create2 {
                path: "/ttl".into(),
                stat: stat(3),
            },
        ),
        (OpCode::Delete, Response::Empty),
        (OpCode::Exists, Response::Stat(stat(4))),
        (
            OpCode::GetData,
            Response::GetData {
                data: Some(Bytes::from_static(b"hello")),
                stat: stat(5),
            },
        ),
        (
            OpCode::GetData,
            Response::GetData {
                data: None,
                stat: stat(6),
            },
        ),
        (OpCode::SetData, Response::Stat(stat(7))),
        (
            OpCode::GetAcl,
            Response::GetAcl {
                acl: acl(),
                stat: stat(8),
            },
        ),
        (OpCode::SetAcl, Response::Stat(stat(9))),
        (
            OpCode::GetChildren,
            Response::GetChildren {
                children: vec!["a".into(), "b".into(), "ünï".into()],
            },
        ),
        (
            OpCode::GetChildren,
            Response::GetChildren { children: vec![] },
        ),
        (OpCode::Sync, Response::Sync { path: "/".into() }),
        (OpCode::Ping, Response::Empty),
        (
            OpCode::GetChildren2,
            Response::GetChildren2 {
                children: vec!["x".into()],
                stat: stat(10),
            },
        ),
        (OpCode::Check, Response::Stat(stat(11))),
        (
            OpCode::Multi,
            Response::Multi(vec![
                MultiResult::Create {
                    path: "/m/a".into(),
                },
                MultiResult::Create2 {
                    path: "/m/b0000000001".into(),
                    stat: stat(12),
                },
                MultiResult::Create2 {
                    path: "/m/c".into(),
                    stat: stat(13),
                },
                MultiResult::Delete,
                MultiResult::SetData(stat(14)),
                MultiResult::Check,
            ]),
        ),
        (OpCode::Multi, failed_multi()),
        (OpCode::Multi, Response::Multi(vec![])),
        (
            OpCode::Reconfig,
            Response::GetData {
                data: Some(Bytes::from_static(
                    b"server.1=h1:2888:3888;2181\nversion=100000000",
                )),
                stat: stat(15),
            },
        ),
        (OpCode::CheckWatches, Response::Empty),
        (OpCode::RemoveWatches, Response::Empty),
        (
            OpCode::MultiRead,
            Response::Multi(vec![
                MultiResult::GetData {
                    data: Some(Bytes::from_static(b"v")),
                    stat: stat(16),
                },
                MultiResult::Error(ErrorCode::NoNode),
                MultiResult::GetChildren {
                    children: vec!["k".into()],
                },
            ]),
        ),
        (OpCode::MultiRead, Response::Multi(all_results())),
        (OpCode::Auth, Response::Empty),
        (OpCode::SetWatches, Response::Empty),
        (
            OpCode::Sasl,
            Response::Sasl {
                token: Some(Bytes::from_static(&[5, 4, 3])),
            },
        ),
        (
            OpCode::GetEphemerals,
            Response::GetEphemerals {
                ephemerals: vec!["/e1".into(), "/x/e2".into()],
            },
        ),
        (
            OpCode::GetAllChildrenNumber,
            Response::GetAllChildrenNumber { total: 1234 },
        ),
        (OpCode::SetWatches2, Response::Empty),
        (OpCode::AddWatch, Response::AddWatch { err: ErrorCode::Ok }),
        (
            OpCode::WhoAmI,
            Response::WhoAmI(vec![
                ClientInfo {
                    auth_scheme: "ip".into(),
                    user: "127.0.0.1".into(),
                },
                ClientInfo {
                    auth_scheme: "digest".into(),
                    user: "bob".into(),
                },
            ]),
        ),
        (OpCode::CloseSession, Response::Empty),
    ]
}

pub(crate) fn connect_request() -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0x1_0000_002a,
        timeout_ms: 30_000,
        session_id: 0x0100_0000_0000_00ab,
        passwd: Bytes::from_static(&[0xa5; 16]),
        read_only: Some(true),
    }
}

pub(crate) fn connect_response() -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout_ms: 20_000,
        session_id: 0x0100_0000_0000_00ab,
        passwd: Bytes::from_static(&[0x5a; 16]),
        read_only: Some(false),
    }
}

pub(crate) fn events() -> Vec<WatcherEvent> {
    EventType::ALL
        .iter()
        .map(|&event_type| WatcherEvent {
            event_type,
            state: KeeperState::SyncConnected,
            path: if event_type == EventType::None {
                String::new()
            } else {
                "/watched".into()
            },
        })
        .collect()
}

/// Splits exactly one frame off `out` and returns its body.
pub(crate) fn one_frame(mut out: BytesMut) -> Bytes {
    let frame = FrameDecoder::new(usize::MAX)
        .decode(&mut out)
        .expect("valid prefix")
        .expect("whole frame");
    assert!(out.is_empty(), "exactly one frame");
    frame
}

/// The frame body of a request.
pub(crate) fn request_frame(xid: i32, req: &Request) -> Bytes {
    let mut out = BytesMut::new();
    encode_request(xid, req, &mut out, DEFAULT_MAX_OUTGOING_FRAME).expect("encodes");
    one_frame(out)
}

/// The frame body of a reply.
pub(crate) fn reply_frame(header: &ReplyHeader, resp: &Response) -> Bytes {
    let mut out = BytesMut::new();
    encode_reply(header, resp, &mut out);
    one_frame(out)
}

pub(crate) fn ok_header(xid: i32) -> ReplyHeader {
    ReplyHeader {
        xid,
        zxid: 0x1_0000_0040,
        err: ErrorCode::Ok,
    }
}

/// Decodes a whole reply frame for `op`.
pub(crate) fn decode_reply(
    op: OpCode,
    frame: &Bytes,
) -> Result<(ReplyHeader, Response), DecodeError> {
    let (h, body) = decode_reply_header(frame)?;
    Ok((h, decode_response(op, &h, &body)?))
}
