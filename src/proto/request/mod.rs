//! Request records (PROTOCOL.md §5, §8): [`Request`] and its encoding here
//! ([`encode_request`], [`decode_request`]); the bodies in `bodies.rs`; [`MultiOp`] and the
//! multi encoding in `multi.rs`.

use bytes::{Bytes, BytesMut};

use super::codec::{write_frame, Reader, Writer};
use super::consts::OpCode;
use super::error::{DecodeError, EncodeError};
use super::records::{Record, RequestHeader};

mod bodies;
mod multi;

pub use bodies::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, CreateRequest, CreateTtlRequest,
    DeleteRequest, PathOnly, PathWatch, ReconfigRequest, SaslRequest, SetAclRequest,
    SetDataRequest, SetWatches, SetWatches2, WatchesRequest,
};
pub use multi::MultiOp;

use bodies::{
    read_check, read_create, read_create_ttl, read_delete, read_set_data, write_check,
    write_create, write_create_ttl, write_delete, write_set_data,
};
use multi::{read_multi, write_multi};

/// A client request body; one variant per client-sent opcode (PROTOCOL.md §5).
///
/// Encode it with [`encode_request`]; decode a request frame with [`decode_request`].
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use mio_zookeeper::proto::*;
///
/// let req = Request::GetData(PathWatch { path: "/config".into(), watch: true });
/// assert_eq!(req.op_code(), OpCode::GetData);
///
/// let mut out = BytesMut::new();
/// encode_request(5, &req, &mut out, DEFAULT_MAX_OUTGOING_FRAME).unwrap();
/// let frame = FrameDecoder::default().decode(&mut out).unwrap().unwrap();
/// let (header, decoded) = decode_request(&frame).unwrap();
/// assert_eq!(header, RequestHeader { xid: 5, op: 4 });
/// assert_eq!(decoded, req);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// create (1).
    Create(CreateRequest),
    /// create2 (15).
    Create2(CreateRequest),
    /// createContainer (19).
    CreateContainer(CreateRequest),
    /// createTTL (21).
    CreateTtl(CreateTtlRequest),
    /// delete (2).
    Delete(DeleteRequest),
    /// exists (3).
    Exists(PathWatch),
    /// getData (4).
    GetData(PathWatch),
    /// setData (5).
    SetData(SetDataRequest),
    /// getACL (6).
    GetAcl(PathOnly),
    /// setACL (7).
    SetAcl(SetAclRequest),
    /// getChildren (8).
    GetChildren(PathWatch),
    /// getChildren2 (12).
    GetChildren2(PathWatch),
    /// sync (9).
    Sync(PathOnly),
    /// check (13), standalone.
    Check(CheckVersionRequest),
    /// multi (14): an atomic transaction.
    Multi(Vec<MultiOp>),
    /// multiRead (22): a non-atomic batch of reads.
    MultiRead(Vec<MultiOp>),
    /// reconfig (16).
    Reconfig(ReconfigRequest),
    /// checkWatches (17).
    CheckWatches(WatchesRequest),
    /// removeWatches (18).
    RemoveWatches(WatchesRequest),
    /// addWatch (106).
    AddWatch(AddWatchRequest),
    /// setWatches (101).
    SetWatches(SetWatches),
    /// setWatches2 (105).
    SetWatches2(SetWatches2),
    /// auth (100), sent with xid −4.
    Auth(AuthPacket),
    /// sasl (102).
    Sasl(SaslRequest),
    /// getEphemerals (103).
    GetEphemerals(PathOnly),
    /// getAllChildrenNumber (104).
    GetAllChildrenNumber(PathOnly),
    /// whoAmI (107): no body.
    WhoAmI,
    /// ping (11): no body; sent with xid −2.
    Ping,
    /// closeSession (−11): no body.
    CloseSession,
}

impl Request {
    /// The request's one path, moved out (the request is consumed); `None` for requests
    /// without a single path (multi, multiRead, reconfig, setWatches, auth, sasl, whoAmI,
    /// ping, closeSession).
    ///
    /// ```
    /// use mio_zookeeper::proto::{PathWatch, Request};
    /// let req = Request::Exists(PathWatch { path: "/a".into(), watch: false });
    /// assert_eq!(req.into_path().as_deref(), Some("/a"));
    /// assert_eq!(Request::WhoAmI.into_path(), None);
    /// ```
    pub fn into_path(self) -> Option<String> {
        match self {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => Some(r.path),
            Request::CreateTtl(r) => Some(r.path),
            Request::Delete(r) => Some(r.path),
            Request::Exists(r)
            | Request::GetData(r)
            | Request::GetChildren(r)
            | Request::GetChildren2(r) => Some(r.path),
            Request::SetData(r) => Some(r.path),
            Request::GetAcl(r)
            | Request::Sync(r)
            | Request::GetEphemerals(r)
            | Request::GetAllChildrenNumber(r) => Some(r.path),
            Request::SetAcl(r) => Some(r.path),
            Request::Check(r) => Some(r.path),
            Request::CheckWatches(r) | Request::RemoveWatches(r) => Some(r.path),
            Request::AddWatch(r) => Some(r.path),
            Request::Multi(_)
            | Request::MultiRead(_)
            | Request::Reconfig(_)
            | Request::SetWatches(_)
            | Request::SetWatches2(_)
            | Request::Auth(_)
            | Request::Sasl(_)
            | Request::WhoAmI
            | Request::Ping
            | Request::CloseSession => None,
        }
    }

    /// The opcode written in the `RequestHeader`.
    pub fn op_code(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Create2(_) => OpCode::Create2,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::Auth(_) => OpCode::Auth,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::Ping => OpCode::Ping,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// The jute record name of the body, for error messages (`RequestHeader` when the
    /// request has no body).
    fn record_name(op: OpCode) -> &'static str {
        match op {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => "CreateRequest",
            OpCode::CreateTtl => "CreateTTLRequest",
            OpCode::Delete => "DeleteRequest",
            OpCode::Exists => "ExistsRequest",
            OpCode::GetData => "GetDataRequest",
            OpCode::SetData => "SetDataRequest",
            OpCode::GetAcl => "GetACLRequest",
            OpCode::SetAcl => "SetACLRequest",
            OpCode::GetChildren => "GetChildrenRequest",
            OpCode::GetChildren2 => "GetChildren2Request",
            OpCode::Sync => "SyncRequest",
            OpCode::Check => "CheckVersionRequest",
            OpCode::Multi | OpCode::MultiRead => "MultiRequest",
            OpCode::Reconfig => "ReconfigRequest",
            OpCode::CheckWatches => "CheckWatchesRequest",
            OpCode::RemoveWatches => "RemoveWatchesRequest",
            OpCode::AddWatch => "AddWatchRequest",
            OpCode::SetWatches => "SetWatches",
            OpCode::SetWatches2 => "SetWatches2",
            OpCode::Auth => "AuthPacket",
            OpCode::Sasl => "GetSASLRequest",
            OpCode::GetEphemerals => "GetEphemeralsRequest",
            OpCode::GetAllChildrenNumber => "GetAllChildrenNumberRequest",
            OpCode::WhoAmI
            | OpCode::Ping
            | OpCode::CloseSession
            | OpCode::Notification
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Error => "RequestHeader",
        }
    }

    /// Writes the body (not the header).
    fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let rec = Self::record_name(self.op_code());
        match self {
            Request::Create(c) | Request::Create2(c) | Request::CreateContainer(c) => {
                write_create(w, rec, c)
            }
            Request::CreateTtl(c) => write_create_ttl(w, c),
            Request::Delete(d) => write_delete(w, d),
            Request::Exists(p)
            | Request::GetData(p)
            | Request::GetChildren(p)
            | Request::GetChildren2(p) => {
                w.put_ustring(rec, "path", &p.path)?;
                w.put_bool(p.watch);
                Ok(())
            }
            Request::SetData(s) => write_set_data(w, s),
            Request::GetAcl(p)
            | Request::Sync(p)
            | Request::GetEphemerals(p)
            | Request::GetAllChildrenNumber(p) => w.put_ustring(rec, "path", &p.path),
            Request::SetAcl(s) => {
                w.put_ustring(rec, "path", &s.path)?;
                w.put_acls(rec, "acl", &s.acl)?;
                w.put_i32(s.version);
                Ok(())
            }
            Request::Check(c) => write_check(w, c),
            Request::Multi(ops) | Request::MultiRead(ops) => write_multi(w, ops),
            Request::Reconfig(r) => {
                w.put_opt_ustring(rec, "joiningServers", r.joining_servers.as_deref())?;
                w.put_opt_ustring(rec, "leavingServers", r.leaving_servers.as_deref())?;
                w.put_opt_ustring(rec, "newMembers", r.new_members.as_deref())?;
                w.put_i64(r.cur_config_id);
                Ok(())
            }
            Request::CheckWatches(c) | Request::RemoveWatches(c) => {
                w.put_ustring(rec, "path", &c.path)?;
                w.put_i32(c.watcher_type);
                Ok(())
            }
            Request::AddWatch(a) => {
                w.put_ustring(rec, "path", &a.path)?;
                w.put_i32(a.mode);
                Ok(())
            }
            Request::SetWatches(s) => {
                w.put_i64(s.relative_zxid);
                w.put_string_vec(rec, "dataWatches", &s.data_watches)?;
                w.put_string_vec(rec, "existWatches", &s.exist_watches)?;
                w.put_string_vec(rec, "childWatches", &s.child_watches)
            }
            Request::SetWatches2(s) => {
                w.put_i64(s.relative_zxid);
                w.put_string_vec(rec, "dataWatches", &s.data_watches)?;
                w.put_string_vec(rec, "existWatches", &s.exist_watches)?;
                w.put_string_vec(rec, "childWatches", &s.child_watches)?;
                w.put_string_vec(rec, "persistentWatches", &s.persistent_watches)?;
                w.put_string_vec(
                    rec,
                    "persistentRecursiveWatches",
                    &s.persistent_recursive_watches,
                )
            }
            Request::Auth(a) => {
                w.put_i32(a.auth_type);
                w.put_ustring(rec, "scheme", &a.scheme)?;
                w.put_buffer(rec, "auth", a.auth.as_deref())
            }
            Request::Sasl(s) => w.put_buffer(rec, "token", s.token.as_deref()),
            Request::WhoAmI | Request::Ping | Request::CloseSession => Ok(()),
        }
    }

    /// Reads the body of a request with opcode `op`.
    fn read_body(op: OpCode, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let rec = Self::record_name(op);
        let path_watch = |r: &mut Reader<'_>| -> Result<PathWatch, DecodeError> {
            Ok(PathWatch {
                path: r.read_ustring(rec, "path")?,
                watch: r.read_bool(rec, "watch")?,
            })
        };
        let path_only = |r: &mut Reader<'_>| -> Result<PathOnly, DecodeError> {
            Ok(PathOnly {
                path: r.read_ustring(rec, "path")?,
            })
        };
        let watches = |r: &mut Reader<'_>| -> Result<WatchesRequest, DecodeError> {
            Ok(WatchesRequest {
                path: r.read_ustring(rec, "path")?,
                watcher_type: r.read_i32(rec, "type")?,
            })
        };
        Ok(match op {
            OpCode::Create => Request::Create(read_create(r)?),
            OpCode::Create2 => Request::Create2(read_create(r)?),
            OpCode::CreateContainer => Request::CreateContainer(read_create(r)?),
            OpCode::CreateTtl => Request::CreateTtl(read_create_ttl(r)?),
            OpCode::Delete => Request::Delete(read_delete(r)?),
            OpCode::Exists => Request::Exists(path_watch(r)?),
            OpCode::GetData => Request::GetData(path_watch(r)?),
            OpCode::SetData => Request::SetData(read_set_data(r)?),
            OpCode::GetAcl => Request::GetAcl(path_only(r)?),
            OpCode::SetAcl => Request::SetAcl(SetAclRequest {
                path: r.read_ustring(rec, "path")?,
                acl: r.read_acls(rec, "acl")?,
                version: r.read_i32(rec, "version")?,
            }),
            OpCode::GetChildren => Request::GetChildren(path_watch(r)?),
            OpCode::GetChildren2 => Request::GetChildren2(path_watch(r)?),
            OpCode::Sync => Request::Sync(path_only(r)?),
            OpCode::Check => Request::Check(read_check(r)?),
            OpCode::Multi => Request::Multi(read_multi(r)?),
            OpCode::MultiRead => Request::MultiRead(read_multi(r)?),
            OpCode::Reconfig => Request::Reconfig(ReconfigRequest {
                joining_servers: r.read_opt_ustring(rec, "joiningServers")?,
                leaving_servers: r.read_opt_ustring(rec, "leavingServers")?,
                new_members: r.read_opt_ustring(rec, "newMembers")?,
                cur_config_id: r.read_i64(rec, "curConfigId")?,
            }),
            OpCode::CheckWatches => Request::CheckWatches(watches(r)?),
            OpCode::RemoveWatches => Request::RemoveWatches(watches(r)?),
            OpCode::AddWatch => Request::AddWatch(AddWatchRequest {
                path: r.read_ustring(rec, "path")?,
                mode: r.read_i32(rec, "mode")?,
            }),
            OpCode::SetWatches => Request::SetWatches(SetWatches {
                relative_zxid: r.read_i64(rec, "relativeZxid")?,
                data_watches: r.read_string_vec(rec, "dataWatches")?,
                exist_watches: r.read_string_vec(rec, "existWatches")?,
                child_watches: r.read_string_vec(rec, "childWatches")?,
            }),
            OpCode::SetWatches2 => Request::SetWatches2(SetWatches2 {
                relative_zxid: r.read_i64(rec, "relativeZxid")?,
                data_watches: r.read_string_vec(rec, "dataWatches")?,
                exist_watches: r.read_string_vec(rec, "existWatches")?,
                child_watches: r.read_string_vec(rec, "childWatches")?,
                persistent_watches: r.read_string_vec(rec, "persistentWatches")?,
                persistent_recursive_watches: r
                    .read_string_vec(rec, "persistentRecursiveWatches")?,
            }),
            OpCode::Auth => Request::Auth(AuthPacket {
                auth_type: r.read_i32(rec, "type")?,
                scheme: r.read_ustring(rec, "scheme")?,
                auth: r.read_buffer(rec, "auth")?,
            }),
            OpCode::Sasl => Request::Sasl(SaslRequest {
                token: r.read_buffer(rec, "token")?,
            }),
            OpCode::GetEphemerals => Request::GetEphemerals(PathOnly {
                path: r.read_ustring(rec, "prefixPath")?,
            }),
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber(path_only(r)?),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::Ping => Request::Ping,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Notification
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Error => {
                return Err(DecodeError::UnexpectedOpCode {
                    record: "RequestHeader",
                    op: op.as_i32(),
                })
            }
        })
    }
}

/// Encodes a whole request frame: length prefix, `RequestHeader{xid, op}`, body.
///
/// The caller picks the xid; use [`xid::PING`](crate::proto::xid::PING) for pings and
/// [`xid::AUTH`](crate::proto::xid::AUTH) for auth packets (PROTOCOL.md §4).
///
/// # Errors
///
/// [`EncodeError::FrameTooLarge`] if the frame (without its 4-byte prefix) is over
/// `max_frame` bytes: the server would close the connection without an answer
/// (PROTOCOL.md §10), so refuse it here. [`EncodeError::TooLong`] for a field no jute
/// length can express. On error `out` is left unchanged.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use mio_zookeeper::proto::*;
///
/// let mut out = BytesMut::new();
/// encode_request(xid::PING, &Request::Ping, &mut out, DEFAULT_MAX_OUTGOING_FRAME).unwrap();
/// assert_eq!(&out[..], &[0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11]);
/// ```
pub fn encode_request(
    xid: i32,
    req: &Request,
    out: &mut BytesMut,
    max_frame: usize,
) -> Result<(), EncodeError> {
    let start = out.len();
    let header = RequestHeader {
        xid,
        op: req.op_code().as_i32(),
    };
    let size = write_frame(out, |w| {
        header.write(w)?;
        req.write_body(w)
    })?;
    if size > max_frame {
        out.truncate(start);
        return Err(EncodeError::FrameTooLarge {
            size,
            limit: max_frame,
        });
    }
    Ok(())
}

/// Decodes a request frame body (as a server, proxy or capture decoder sees it).
///
/// # Errors
///
/// [`DecodeError::UnknownOpCode`] for an opcode ZooKeeper does not define,
/// [`DecodeError::UnexpectedOpCode`] for one clients never send (notification,
/// createSession, deleteContainer, error), and the usual field errors. The ConnectRequest
/// has no header: decode it with [`ConnectRequest::decode`](crate::proto::ConnectRequest::decode).
pub fn decode_request(frame: &Bytes) -> Result<(RequestHeader, Request), DecodeError> {
    let mut r = Reader::new(frame);
    let header = RequestHeader::read(&mut r)?;
    let op = OpCode::from_i32(header.op).ok_or(DecodeError::UnknownOpCode(header.op))?;
    let req = Request::read_body(op, &mut r)?;
    r.finish(Request::record_name(op))?;
    Ok((header, req))
}
