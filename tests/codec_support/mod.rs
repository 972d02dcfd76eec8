//! Helpers shared by the `codec_real_server*` test files: a throwaway server, a raw
//! connection, and reply assertions. The codec's types are re-exported for them.
#![allow(dead_code, unused_imports, unreachable_pub)] // each test file uses a different subset

pub use std::time::Duration;

pub use bytes::Bytes;
pub use mio_zookeeper::proto::{
    Acl, AddWatchRequest, AuthPacket, CheckVersionRequest, CreateMode, CreateRequest,
    CreateTtlRequest, DeleteRequest, ErrorCode, EventType, Id, KeeperState, MultiOp, MultiResult,
    PathOnly, PathWatch, Perms, Request, Response, SetAclRequest, SetDataRequest, SetWatches, Stat,
    WatcherType, WatchesRequest,
};
pub use mio_zookeeper::testing::{RawConnection, RawReply, ZkServer};

/// How long a wait for the server may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A throwaway server with extended types (TTL nodes) enabled.
pub fn server() -> ZkServer {
    ZkServer::builder()
        .extended_types(true)
        .start()
        .expect("start a throwaway ZooKeeper (scripts/install-zookeeper installs one)")
}

/// A raw connection to `zk`, handshake done.
pub fn connect(zk: &ZkServer) -> RawConnection {
    RawConnection::connect(zk.addr(), 10_000).expect("handshake")
}

/// A create request with open ACLs.
pub fn create_req(path: &str, data: &[u8], mode: CreateMode) -> CreateRequest {
    CreateRequest {
        path: path.to_string(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        flags: mode.flags(),
    }
}

/// The response of a reply that must not be an error.
pub fn ok(reply: RawReply) -> Response {
    assert_eq!(
        reply.header.err,
        ErrorCode::Ok,
        "unexpected error reply: {reply:?}"
    );
    reply.response
}

/// The error code of a reply that must be a (header-only) error.
pub fn err(reply: RawReply) -> ErrorCode {
    assert_eq!(
        reply.response,
        Response::Empty,
        "error replies are header-only: {reply:?}"
    );
    reply.header.err
}

/// The Stat of a reply that must be one.
pub fn stat_of(resp: Response) -> Stat {
    match resp {
        Response::Stat(s) => s,
        other => panic!("expected a Stat reply, got {other:?}"),
    }
}

/// getData of `path`: its data and Stat.
pub fn get_data(conn: &mut RawConnection, path: &str, watch: bool) -> (Option<Bytes>, Stat) {
    match ok(conn
        .call(&Request::GetData(PathWatch {
            path: path.into(),
            watch,
        }))
        .unwrap())
    {
        Response::GetData { data, stat } => (data, stat),
        other => panic!("expected GetData, got {other:?}"),
    }
}
