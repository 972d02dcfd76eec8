//! The request bodies (PROTOCOL.md §5), and the codecs of those that also appear inside a
//! multi.

use bytes::Bytes;

use crate::proto::codec::{Reader, Writer};
use crate::proto::error::{DecodeError, EncodeError};
use crate::proto::records::Acl;

/// `CreateRequest{ustring path; buffer data; vector<ACL> acl; int flags}`, used by
/// create (1), create2 (15) and createContainer (19).
///
/// `flags` is the raw [`CreateMode`](crate::proto::CreateMode) value; the server takes the node
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
    /// The raw [`WatcherType`](crate::proto::WatcherType).
    pub watcher_type: i32,
}

/// `AddWatchRequest{ustring path; int mode}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddWatchRequest {
    /// The node.
    pub path: String,
    /// The raw [`AddWatchMode`](crate::proto::AddWatchMode).
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

pub(super) fn write_create(
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

pub(super) fn read_create(r: &mut Reader<'_>) -> Result<CreateRequest, DecodeError> {
    const R: &str = "CreateRequest";
    Ok(CreateRequest {
        path: r.read_ustring(R, "path")?,
        data: r.read_buffer(R, "data")?,
        acl: r.read_acls(R, "acl")?,
        flags: r.read_i32(R, "flags")?,
    })
}

pub(super) fn write_create_ttl(
    w: &mut Writer<'_>,
    c: &CreateTtlRequest,
) -> Result<(), EncodeError> {
    const R: &str = "CreateTTLRequest";
    w.put_ustring(R, "path", &c.path)?;
    w.put_buffer(R, "data", c.data.as_deref())?;
    w.put_acls(R, "acl", &c.acl)?;
    w.put_i32(c.flags);
    w.put_i64(c.ttl);
    Ok(())
}

pub(super) fn read_create_ttl(r: &mut Reader<'_>) -> Result<CreateTtlRequest, DecodeError> {
    const R: &str = "CreateTTLRequest";
    Ok(CreateTtlRequest {
        path: r.read_ustring(R, "path")?,
        data: r.read_buffer(R, "data")?,
        acl: r.read_acls(R, "acl")?,
        flags: r.read_i32(R, "flags")?,
        ttl: r.read_i64(R, "ttl")?,
    })
}

pub(super) fn write_delete(w: &mut Writer<'_>, d: &DeleteRequest) -> Result<(), EncodeError> {
    w.put_ustring("DeleteRequest", "path", &d.path)?;
    w.put_i32(d.version);
    Ok(())
}

pub(super) fn read_delete(r: &mut Reader<'_>) -> Result<DeleteRequest, DecodeError> {
    Ok(DeleteRequest {
        path: r.read_ustring("DeleteRequest", "path")?,
        version: r.read_i32("DeleteRequest", "version")?,
    })
}

pub(super) fn write_set_data(w: &mut Writer<'_>, s: &SetDataRequest) -> Result<(), EncodeError> {
    const R: &str = "SetDataRequest";
    w.put_ustring(R, "path", &s.path)?;
    w.put_buffer(R, "data", s.data.as_deref())?;
    w.put_i32(s.version);
    Ok(())
}

pub(super) fn read_set_data(r: &mut Reader<'_>) -> Result<SetDataRequest, DecodeError> {
    const R: &str = "SetDataRequest";
    Ok(SetDataRequest {
        path: r.read_ustring(R, "path")?,
        data: r.read_buffer(R, "data")?,
        version: r.read_i32(R, "version")?,
    })
}

pub(super) fn write_check(w: &mut Writer<'_>, c: &CheckVersionRequest) -> Result<(), EncodeError> {
    w.put_ustring("CheckVersionRequest", "path", &c.path)?;
    w.put_i32(c.version);
    Ok(())
}

pub(super) fn read_check(r: &mut Reader<'_>) -> Result<CheckVersionRequest, DecodeError> {
    Ok(CheckVersionRequest {
        path: r.read_ustring("CheckVersionRequest", "path")?,
        version: r.read_i32("CheckVersionRequest", "version")?,
    })
}
