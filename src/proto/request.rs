//! Request records (PROTOCOL.md §5, §8): [`Request`], its bodies, [`MultiOp`],
//! [`encode_request`] and [`decode_request`].

use bytes::{Bytes, BytesMut};

use super::codec::{write_frame, Reader, Writer};
use super::consts::{ErrorCode, OpCode};
use super::error::{DecodeError, EncodeError};
use super::records::{Acl, MultiHeader, Record, RequestHeader};

/// `CreateRequest{ustring path; buffer data; vector<ACL> acl; int flags}`, used by
/// create (1), create2 (15) and createContainer (19).
///
/// `flags` is the raw [`CreateMode`](super::CreateMode) value; the server takes the node
/// type from it, not from the opcode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateRequest {
    /// The node to create.
    pub path: String,
    /// Its data; `None` is sent as a null buffer.
    pub data: Option<Bytes>,
    /// Its ACL.
    pub acl: Vec<Acl>,
    /// The raw create mode.
    pub flags: i32,
}

/// `CreateTTLRequest{ustring path; buffer data; vector<ACL> acl; int flags; long ttl}`,
/// createTTL (21). The server requires `0 < ttl <= 2^40 - 1` ms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateTtlRequest {
    /// The node to create.
    pub path: String,
    /// Its data; `None` is sent as a null buffer.
    pub data: Option<Bytes>,
    /// Its ACL.
    pub acl: Vec<Acl>,
    /// The raw create mode (5 or 6).
    pub flags: i32,
    /// The TTL in ms.
    pub ttl: i64,
}

/// `DeleteRequest{ustring path; int version}` (version −1 = any).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteRequest {
    /// The node to delete.
    pub path: String,
    /// The expected data version, −1 for any.
    pub version: i32,
}

/// `{ustring path; boolean watch}`: ExistsRequest, GetDataRequest, GetChildrenRequest,
/// GetChildren2Request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathWatch {
    /// The node.
    pub path: String,
    /// Leave a watch.
    pub watch: bool,
}

/// `{ustring path}`: GetACLRequest, SyncRequest, GetEphemeralsRequest (`prefixPath`),
/// GetAllChildrenNumberRequest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathOnly {
    /// The node (or path prefix, for getEphemerals).
    pub path: String,
}

/// `SetDataRequest{ustring path; buffer data; int version}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetDataRequest {
    /// The node.
    pub path: String,
    /// The new data; `None` is sent as a null buffer.
    pub data: Option<Bytes>,
    /// The expected data version, −1 for any.
    pub version: i32,
}

/// `SetACLRequest{ustring path; vector<ACL> acl; int version}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetAclRequest {
    /// The node.
    pub path: String,
    /// The new ACL.
    pub acl: Vec<Acl>,
    /// The expected ACL version (aversion), −1 for any.
    pub version: i32,
}

/// `CheckVersionRequest{ustring path; int version}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckVersionRequest {
    /// The node.
    pub path: String,
    /// The expected data version.
    pub version: i32,
}

/// `ReconfigRequest{ustring joiningServers; ustring leavingServers; ustring newMembers;
/// long curConfigId}`; the strings may be null.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconfigRequest {
    /// Servers to add (incremental reconfig).
    pub joining_servers: Option<String>,
    /// Server ids to remove (incremental reconfig).
    pub leaving_servers: Option<String>,
    /// The whole new membership (non-incremental reconfig).
    pub new_members: Option<String>,
    /// The expected current config version, −1 for any.
    pub cur_config_id: i64,
}

/// `{ustring path; int type}`: CheckWatchesRequest and RemoveWatchesRequest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchesRequest {
    /// The node.
    pub path: String,
    /// The raw [`WatcherType`](super::WatcherType).
    pub watcher_type: i32,
}

/// `AddWatchRequest{ustring path; int mode}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddWatchRequest {
    /// The node.
    pub path: String,
    /// The raw [`AddWatchMode`](super::AddWatchMode).
    pub mode: i32,
}

/// `SetWatches{long relativeZxid; vector<ustring> dataWatches; vector<ustring>
/// existWatches; vector<ustring> childWatches}` (opcode 101).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetWatches {
    /// The last zxid the client saw; the server fires events for later changes.
    pub relative_zxid: i64,
    /// Paths with data watches.
    pub data_watches: Vec<String>,
    /// Paths with exist watches.
    pub exist_watches: Vec<String>,
    /// Paths with child watches.
    pub child_watches: Vec<String>,
}

/// `SetWatches2{long relativeZxid; vector<ustring> dataWatches; existWatches;
/// childWatches; persistentWatches; persistentRecursiveWatches}` (opcode 105, 3.6+).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetWatches2 {
    /// The last zxid the client saw.
    pub relative_zxid: i64,
    /// Paths with data watches.
    pub data_watches: Vec<String>,
    /// Paths with exist watches.
    pub exist_watches: Vec<String>,
    /// Paths with child watches.
    pub child_watches: Vec<String>,
    /// Paths with persistent watches.
    pub persistent_watches: Vec<String>,
    /// Paths with persistent recursive watches.
    pub persistent_recursive_watches: Vec<String>,
}

/// `AuthPacket{int type; ustring scheme; buffer auth}` (xid −4; `type` is 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthPacket {
    /// Always 0.
    pub auth_type: i32,
    /// The scheme, e.g. `digest`.
    pub scheme: String,
    /// The credentials, e.g. `user:password`.
    pub auth: Option<Bytes>,
}

/// `GetSASLRequest{buffer token}` (normal xid, opcode 102).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaslRequest {
    /// The SASL token.
    pub token: Option<Bytes>,
}

/// One op of a multi (create/delete/setData/check) or multiRead (getData/getChildren)
/// request (PROTOCOL.md §8), each preceded on the wire by a `MultiHeader{op, false, -1}`.
///
/// The codec accepts any of these in either kind of request; the server refuses mixing
/// reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiOp {
    /// create (1): `CreateRequest`.
    Create(CreateRequest),
    /// create2 (15): `CreateRequest`.
    Create2(CreateRequest),
    /// createContainer (19): `CreateRequest`.
    CreateContainer(CreateRequest),
    /// createTTL (21): `CreateTTLRequest`.
    CreateTtl(CreateTtlRequest),
    /// delete (2): `DeleteRequest`.
    Delete(DeleteRequest),
    /// setData (5): `SetDataRequest`.
    SetData(SetDataRequest),
    /// check (13): `CheckVersionRequest`.
    Check(CheckVersionRequest),
    /// getData (4), multiRead only: `GetDataRequest{path, watch=false}` (the server
    /// ignores the watch flag inside a multiRead, so it is not kept).
    GetData(String),
    /// getChildren (8), multiRead only: `GetChildrenRequest{path, watch=false}`.
    GetChildren(String),
}

impl MultiOp {
    /// The opcode written in this op's `MultiHeader`.
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetData(_) => OpCode::GetData,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
        }
    }

    /// True for the multiRead ops (getData, getChildren).
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetData(_) | MultiOp::GetChildren(_))
    }

    /// The path the op is about.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(c) | MultiOp::Create2(c) | MultiOp::CreateContainer(c) => &c.path,
            MultiOp::CreateTtl(c) => &c.path,
            MultiOp::Delete(d) => &d.path,
            MultiOp::SetData(s) => &s.path,
            MultiOp::Check(c) => &c.path,
            MultiOp::GetData(p) | MultiOp::GetChildren(p) => p,
        }
    }
}

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

fn write_create(
    w: &mut Writer<'_>,
    rec: &'static str,
    c: &CreateRequest,
) -> Result<(), EncodeError> {
    w.put_ustring(rec, "path", &c.path)?;
    w.put_buffer(rec, "data", c.data.as_deref())?;
    w.put_acls(rec, "acl", &c.acl)?;
    w.put_i32(c.flags);
    Ok(())
}

fn read_create(r: &mut Reader<'_>) -> Result<CreateRequest, DecodeError> {
    const R: &str = "CreateRequest";
    Ok(CreateRequest {
        path: r.read_ustring(R, "path")?,
        data: r.read_buffer(R, "data")?,
        acl: r.read_acls(R, "acl")?,
        flags: r.read_i32(R, "flags")?,
    })
}

fn write_create_ttl(w: &mut Writer<'_>, c: &CreateTtlRequest) -> Result<(), EncodeError> {
    const R: &str = "CreateTTLRequest";
    w.put_ustring(R, "path", &c.path)?;
    w.put_buffer(R, "data", c.data.as_deref())?;
    w.put_acls(R, "acl", &c.acl)?;
    w.put_i32(c.flags);
    w.put_i64(c.ttl);
    Ok(())
}

fn read_create_ttl(r: &mut Reader<'_>) -> Result<CreateTtlRequest, DecodeError> {
    const R: &str = "CreateTTLRequest";
    Ok(CreateTtlRequest {
        path: r.read_ustring(R, "path")?,
        data: r.read_buffer(R, "data")?,
        acl: r.read_acls(R, "acl")?,
        flags: r.read_i32(R, "flags")?,
        ttl: r.read_i64(R, "ttl")?,
    })
}

fn write_delete(w: &mut Writer<'_>, d: &DeleteRequest) -> Result<(), EncodeError> {
    w.put_ustring("DeleteRequest", "path", &d.path)?;
    w.put_i32(d.version);
    Ok(())
}

fn read_delete(r: &mut Reader<'_>) -> Result<DeleteRequest, DecodeError> {
    Ok(DeleteRequest {
        path: r.read_ustring("DeleteRequest", "path")?,
        version: r.read_i32("DeleteRequest", "version")?,
    })
}

fn write_set_data(w: &mut Writer<'_>, s: &SetDataRequest) -> Result<(), EncodeError> {
    const R: &str = "SetDataRequest";
    w.put_ustring(R, "path", &s.path)?;
    w.put_buffer(R, "data", s.data.as_deref())?;
    w.put_i32(s.version);
    Ok(())
}

fn read_set_data(r: &mut Reader<'_>) -> Result<SetDataRequest, DecodeError> {
    const R: &str = "SetDataRequest";
    Ok(SetDataRequest {
        path: r.read_ustring(R, "path")?,
        data: r.read_buffer(R, "data")?,
        version: r.read_i32(R, "version")?,
    })
}

fn write_check(w: &mut Writer<'_>, c: &CheckVersionRequest) -> Result<(), EncodeError> {
    w.put_ustring("CheckVersionRequest", "path", &c.path)?;
    w.put_i32(c.version);
    Ok(())
}

fn read_check(r: &mut Reader<'_>) -> Result<CheckVersionRequest, DecodeError> {
    Ok(CheckVersionRequest {
        path: r.read_ustring("CheckVersionRequest", "path")?,
        version: r.read_i32("CheckVersionRequest", "version")?,
    })
}

/// Writes the ops of a multi / multiRead, each after `MultiHeader{op, false, -1}`, and the
/// terminator (PROTOCOL.md §8).
fn write_multi(w: &mut Writer<'_>, ops: &[MultiOp]) -> Result<(), EncodeError> {
    for op in ops {
        MultiHeader {
            op: op.op_code().as_i32(),
            done: false,
            err: ErrorCode::SystemError,
        }
        .write(w)?;
        match op {
            MultiOp::Create(c) | MultiOp::Create2(c) | MultiOp::CreateContainer(c) => {
                write_create(w, "CreateRequest", c)?
            }
            MultiOp::CreateTtl(c) => write_create_ttl(w, c)?,
            MultiOp::Delete(d) => write_delete(w, d)?,
            MultiOp::SetData(s) => write_set_data(w, s)?,
            MultiOp::Check(c) => write_check(w, c)?,
            MultiOp::GetData(path) => {
                w.put_ustring("GetDataRequest", "path", path)?;
                w.put_bool(false);
            }
            MultiOp::GetChildren(path) => {
                w.put_ustring("GetChildrenRequest", "path", path)?;
                w.put_bool(false);
            }
        }
    }
    MultiHeader::END.write(w)
}

/// Reads multi ops up to the header with `done` set. Like the Java server, the
/// terminator's `type` and `err` are not checked.
fn read_multi(r: &mut Reader<'_>) -> Result<Vec<MultiOp>, DecodeError> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(ops);
        }
        // Every iteration consumes at least the 9-byte header, so `ops` stays bounded by
        // the frame size.
        let op = match OpCode::from_i32(h.op) {
            Some(OpCode::Create) => MultiOp::Create(read_create(r)?),
            Some(OpCode::Create2) => MultiOp::Create2(read_create(r)?),
            Some(OpCode::CreateContainer) => MultiOp::CreateContainer(read_create(r)?),
            Some(OpCode::CreateTtl) => MultiOp::CreateTtl(read_create_ttl(r)?),
            Some(OpCode::Delete) => MultiOp::Delete(read_delete(r)?),
            Some(OpCode::SetData) => MultiOp::SetData(read_set_data(r)?),
            Some(OpCode::Check) => MultiOp::Check(read_check(r)?),
            Some(OpCode::GetData) => {
                let path = r.read_ustring("GetDataRequest", "path")?;
                r.read_bool("GetDataRequest", "watch")?;
                MultiOp::GetData(path)
            }
            Some(OpCode::GetChildren) => {
                let path = r.read_ustring("GetChildrenRequest", "path")?;
                r.read_bool("GetChildrenRequest", "watch")?;
                MultiOp::GetChildren(path)
            }
            _ => return Err(DecodeError::UnknownMultiType(h.op)),
        };
        ops.push(op);
    }
}

/// Encodes a whole request frame: length prefix, `RequestHeader{xid, op}`, body.
///
/// The caller picks the xid; use [`xid::PING`](super::xid::PING) for pings and
/// [`xid::AUTH`](super::xid::AUTH) for auth packets (PROTOCOL.md §4).
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
/// has no header: decode it with [`ConnectRequest::decode`](super::ConnectRequest::decode).
pub fn decode_request(frame: &Bytes) -> Result<(RequestHeader, Request), DecodeError> {
    let mut r = Reader::new(frame);
    let header = RequestHeader::read(&mut r)?;
    let op = OpCode::from_i32(header.op).ok_or(DecodeError::UnknownOpCode(header.op))?;
    let req = Request::read_body(op, &mut r)?;
    r.finish(Request::record_name(op))?;
    Ok((header, req))
}
