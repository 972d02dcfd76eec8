//! The ZooKeeper wire codec: frames and every jute record (PROTOCOL.md), in both
//! directions, so that a client, a test server, a proxy or a capture decoder can use it.
//!
//! Pure: no IO, no clock, no `unsafe`, no panics. Decoding is total and strict
//! (PROTOCOL.md §11): every byte string gives a value or a small `Copy` [`DecodeError`]
//! naming the record and field; a record must consume its whole body; lengths are checked
//! against the bytes present before anything is allocated; data payloads are zero-copy
//! [`Bytes`](bytes::Bytes) slices of the frame.
//!
//! **Lower-level and less stable.** This module is public only with the `lowlevel` feature
//! (which `testing` and `cli` turn on); it follows the protocol and may change in any minor
//! release. The client's users need none of it: the few records they meet ([`Stat`],
//! [`Acl`], [`CreateMode`], [`ErrorCode`], ...) are re-exported at the crate root.
//!
//! **What lives here, and what it may use:** `bytes`, `thiserror` and `std`, nothing else
//! of the crate and no IO: the constants (opcodes, error codes, create modes, event types),
//! the length-prefixed frame splitter, the checked reader and the writer, the records
//! (headers, Stat, ACLs, the connect records), every request and reply body, and the
//! decode, encode and frame errors.
//!
//! # Layout of a conversation
//!
//! | Direction | First frame | Every later frame |
//! |---|---|---|
//! | client → server | [`ConnectRequest`] ([`encode_connect_request`]) | [`RequestHeader`] + [`Request`] body ([`encode_request`]) |
//! | server → client | [`ConnectResponse`] ([`decode_connect_reply`]) | [`ReplyHeader`] ([`decode_reply_header`]) + body ([`decode_response`], or [`decode_notification`] for xid −1) |
//!
//! Replies carry no opcode: the caller remembers the opcode of each pending request and
//! passes it to [`decode_response`].
//!
//! # Examples
//!
//! A client's side of a `getData`, with the server's side played by the same codec:
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use mio_zookeeper::proto::*;
//!
//! // Client: encode the request.
//! let mut wire = BytesMut::new();
//! let req = Request::GetData(PathWatch { path: "/app".into(), watch: false });
//! encode_request(1, &req, &mut wire, DEFAULT_MAX_OUTGOING_FRAME)?;
//!
//! // Server: split the frame off, decode it, answer.
//! let frames = FrameDecoder::default();
//! let frame = frames.decode(&mut wire)?.expect("a whole frame");
//! let (header, decoded) = decode_request(&frame)?;
//! assert_eq!(decoded, req);
//! let reply = ReplyHeader { xid: header.xid, zxid: 10, err: ErrorCode::Ok };
//! let body = Response::GetData { data: Some(Bytes::from_static(b"v1")), stat: Stat::default() };
//! encode_reply(&reply, &body, &mut wire);
//!
//! // Client: decode the reply with the opcode of the pending request.
//! let frame = frames.decode(&mut wire)?.expect("a whole frame");
//! let (header, body) = decode_reply_header(&frame)?;
//! assert_eq!(header.xid, 1);
//! match decode_response(OpCode::GetData, &header, &body)? {
//!     Response::GetData { data, .. } => assert_eq!(data.as_deref(), Some(&b"v1"[..])),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codec;
mod consts;
mod error;
mod frame;
mod records;
mod request;
mod response;

pub use consts::{
    xid, AddWatchMode, CreateMode, ErrorCode, EventType, KeeperState, OpCode, Perms, WatcherType,
};
pub use error::{DecodeError, EncodeError, FrameError};
pub use frame::{
    check_prefix, FrameDecoder, DEFAULT_MAX_INCOMING_FRAME, DEFAULT_MAX_OUTGOING_FRAME,
};
pub use records::{
    decode_connect_reply, decode_notification, decode_reply_header, encode_connect_request,
    encode_connect_response, encode_notification, Acl, ClientInfo, ConnectReply, ConnectRequest,
    ConnectResponse, Id, MultiHeader, ReplyHeader, RequestHeader, Stat, WatcherEvent,
};
pub use request::{
    decode_request, encode_request, AddWatchRequest, AuthPacket, CheckVersionRequest,
    CreateRequest, CreateTtlRequest, DeleteRequest, MultiOp, PathOnly, PathWatch, ReconfigRequest,
    Request, SaslRequest, SetAclRequest, SetDataRequest, SetWatches, SetWatches2, WatchesRequest,
};
pub use response::{decode_response, encode_reply, MultiResult, Response};
