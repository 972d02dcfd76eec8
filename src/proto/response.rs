//! Reply records (PROTOCOL.md §5, §8): [`Response`], [`MultiResult`], [`decode_response`]
//! and [`encode_reply`].

use bytes::{Bytes, BytesMut};

use super::codec::{write_frame, Reader, Writer};
use super::consts::{ErrorCode, OpCode};
use super::error::{DecodeError, EncodeError};
use super::records::{
    log_unencodable, Acl, ClientInfo, MultiHeader, Record, ReplyHeader, Stat, ACL_MIN_LEN,
};

/// A decoded reply body. Replies carry no opcode: which variant a body decodes to is fixed
/// by the opcode of the request it answers (see [`decode_response`]).
///
/// | Variant | Jute record | Opcodes |
/// |---|---|---|
/// | `Empty` | none | delete, auth, setWatches(2), removeWatches, checkWatches, ping, closeSession, and every header-only error reply |
/// | `Create` | `CreateResponse{ustring path}` | create |
/// | `Create2` | `Create2Response{ustring path; Stat stat}` | create2, createContainer, createTTL |
/// | `Stat` | `ExistsResponse` / `SetDataResponse` / `SetACLResponse` `{Stat stat}` | exists, setData, check, setACL |
/// | `GetData` | `GetDataResponse{buffer data; Stat stat}` | getData, reconfig |
/// | `GetAcl` | `GetACLResponse{vector<ACL> acl; Stat stat}` | getACL |
/// | `GetChildren` | `GetChildrenResponse{vector<ustring> children}` | getChildren |
/// | `GetChildren2` | `GetChildren2Response{vector<ustring> children; Stat stat}` | getChildren2 |
/// | `Sync` | `SyncResponse{ustring path}` | sync |
/// | `Multi` | `MultiResponse` (PROTOCOL.md §8) | multi, multiRead |
/// | `Sasl` | `SetSASLResponse{buffer token}` | sasl |
/// | `GetEphemerals` | `GetEphemeralsResponse{vector<ustring> ephemerals}` | getEphemerals |
/// | `GetAllChildrenNumber` | `GetAllChildrenNumberResponse{int totalNumber}` | getAllChildrenNumber |
/// | `AddWatch` | `ErrorResponse{int err}` | addWatch |
/// | `WhoAmI` | `WhoAmIResponse{vector<ClientInfo> clientInfo}` | whoAmI |
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// No body.
    Empty,
    /// `CreateResponse`: the created path (with the sequence suffix, if any).
    Create {
        /// The created path.
        path: String,
    },
    /// `Create2Response`.
    Create2 {
        /// The created path.
        path: String,
        /// The new node's Stat.
        stat: Stat,
    },
    /// A Stat-only reply (exists, setData, check, setACL).
    Stat(Stat),
    /// `GetDataResponse` (getData, and reconfig's new config). `data` is a zero-copy slice
    /// of the frame.
    GetData {
        /// The data (`None` if the node has null data).
        data: Option<Bytes>,
        /// The node's Stat.
        stat: Stat,
    },
    /// `GetACLResponse`.
    GetAcl {
        /// The ACL.
        acl: Vec<Acl>,
        /// The node's Stat.
        stat: Stat,
    },
    /// `GetChildrenResponse`.
    GetChildren {
        /// The child names (not full paths).
        children: Vec<String>,
    },
    /// `GetChildren2Response`.
    GetChildren2 {
        /// The child names (not full paths).
        children: Vec<String>,
        /// The parent's Stat.
        stat: Stat,
    },
    /// `SyncResponse`.
    Sync {
        /// The synced path.
        path: String,
    },
    /// `MultiResponse`: one result per op.
    Multi(Vec<MultiResult>),
    /// `SetSASLResponse`.
    Sasl {
        /// The server's SASL token.
        token: Option<Bytes>,
    },
    /// `GetEphemeralsResponse`.
    GetEphemerals {
        /// Paths of this session's ephemeral nodes.
        ephemerals: Vec<String>,
    },
    /// `GetAllChildrenNumberResponse`.
    GetAllChildrenNumber {
        /// The number of descendants.
        total: i32,
    },
    /// addWatch's `ErrorResponse` (0 on success).
    AddWatch {
        /// The error carried in the body.
        err: ErrorCode,
    },
    /// `WhoAmIResponse`.
    WhoAmI(Vec<ClientInfo>),
}

/// The result of one op of a multi / multiRead (PROTOCOL.md §8), each preceded on the wire
/// by a `MultiHeader{type, false, err}`.
///
/// In a failed multi every result is an `Error`: `Error(Ok)` for the ops before the one
/// that failed, its own code for that op, `Error(RuntimeInconsistency)` after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiResult {
    /// create (1): `CreateResponse`.
    Create {
        /// The created path.
        path: String,
    },
    /// create2 (15), also for createContainer and createTTL: `Create2Response`.
    Create2 {
        /// The created path.
        path: String,
        /// The new node's Stat.
        stat: Stat,
    },
    /// delete (2): no body.
    Delete,
    /// setData (5): `SetDataResponse`.
    SetData(Stat),
    /// check (13): no body.
    Check,
    /// getData (4): `GetDataResponse`.
    GetData {
        /// The data.
        data: Option<Bytes>,
        /// The node's Stat.
        stat: Stat,
    },
    /// getChildren (8): `GetChildrenResponse`.
    GetChildren {
        /// The child names.
        children: Vec<String>,
    },
    /// error (−1): `ErrorResponse{int err}`.
    Error(ErrorCode),
}

impl MultiResult {
    /// The `type` written in this result's `MultiHeader`.
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiResult::Create { .. } => OpCode::Create,
            MultiResult::Create2 { .. } => OpCode::Create2,
            MultiResult::Delete => OpCode::Delete,
            MultiResult::SetData(_) => OpCode::SetData,
            MultiResult::Check => OpCode::Check,
            MultiResult::GetData { .. } => OpCode::GetData,
            MultiResult::GetChildren { .. } => OpCode::GetChildren,
            MultiResult::Error(_) => OpCode::Error,
        }
    }

    /// The error of an `Error` result; `Ok` for every other result.
    pub fn err(&self) -> ErrorCode {
        match self {
            MultiResult::Error(e) => *e,
            _ => ErrorCode::Ok,
        }
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        // As the Java server: the header's err is the error for error results, else 0.
        MultiHeader {
            op: self.op_code().as_i32(),
            done: false,
            err: self.err(),
        }
        .write(w)?;
        match self {
            MultiResult::Create { path } => w.put_ustring("CreateResponse", "path", path),
            MultiResult::Create2 { path, stat } => {
                w.put_ustring("Create2Response", "path", path)?;
                w.put_stat(stat);
                Ok(())
            }
            MultiResult::Delete | MultiResult::Check => Ok(()),
            MultiResult::SetData(stat) => {
                w.put_stat(stat);
                Ok(())
            }
            MultiResult::GetData { data, stat } => {
                w.put_buffer("GetDataResponse", "data", data.as_deref())?;
                w.put_stat(stat);
                Ok(())
            }
            MultiResult::GetChildren { children } => {
                w.put_string_vec("GetChildrenResponse", "children", children)
            }
            MultiResult::Error(e) => {
                w.put_i32(e.as_i32());
                Ok(())
            }
        }
    }
}

/// Reads multi results up to the header with `done` set. Like the Java client, the
/// terminator's `type` and `err` and the per-result header `err` are not checked; an error
/// result's code comes from its `ErrorResponse` body.
fn read_multi_results(r: &mut Reader<'_>) -> Result<Vec<MultiResult>, DecodeError> {
    let mut results = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(results);
        }
        // Each iteration consumes at least the 9-byte header: bounded by the frame size.
        let result = match OpCode::from_i32(h.op) {
            Some(OpCode::Create) => MultiResult::Create {
                path: r.read_ustring("CreateResponse", "path")?,
            },
            Some(OpCode::Create2) => MultiResult::Create2 {
                path: r.read_ustring("Create2Response", "path")?,
                stat: Stat::read(r)?,
            },
            Some(OpCode::Delete) => MultiResult::Delete,
            Some(OpCode::SetData) => MultiResult::SetData(Stat::read(r)?),
            Some(OpCode::Check) => MultiResult::Check,
            Some(OpCode::GetData) => MultiResult::GetData {
                data: r.read_buffer("GetDataResponse", "data")?,
                stat: Stat::read(r)?,
            },
            Some(OpCode::GetChildren) => MultiResult::GetChildren {
                children: r.read_string_vec("GetChildrenResponse", "children")?,
            },
            Some(OpCode::Error) => {
                MultiResult::Error(ErrorCode::from_i32(r.read_i32("ErrorResponse", "err")?))
            }
            _ => return Err(DecodeError::UnknownMultiType(h.op)),
        };
        results.push(result);
    }
}

impl Response {
    /// Writes the body.
    fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Response::Empty => Ok(()),
            Response::Create { path } => w.put_ustring("CreateResponse", "path", path),
            Response::Create2 { path, stat } => {
                w.put_ustring("Create2Response", "path", path)?;
                w.put_stat(stat);
                Ok(())
            }
            Response::Stat(stat) => {
                w.put_stat(stat);
                Ok(())
            }
            Response::GetData { data, stat } => {
                w.put_buffer("GetDataResponse", "data", data.as_deref())?;
                w.put_stat(stat);
                Ok(())
            }
            Response::GetAcl { acl, stat } => {
                w.put_acls("GetACLResponse", "acl", acl)?;
                w.put_stat(stat);
                Ok(())
            }
            Response::GetChildren { children } => {
                w.put_string_vec("GetChildrenResponse", "children", children)
            }
            Response::GetChildren2 { children, stat } => {
                w.put_string_vec("GetChildren2Response", "children", children)?;
                w.put_stat(stat);
                Ok(())
            }
            Response::Sync { path } => w.put_ustring("SyncResponse", "path", path),
            Response::Multi(results) => {
                for result in results {
                    result.write(w)?;
                }
                MultiHeader::END.write(w)
            }
            Response::Sasl { token } => w.put_buffer("SetSASLResponse", "token", token.as_deref()),
            Response::GetEphemerals { ephemerals } => {
                w.put_string_vec("GetEphemeralsResponse", "ephemerals", ephemerals)
            }
            Response::GetAllChildrenNumber { total } => {
                w.put_i32(*total);
                Ok(())
            }
            Response::AddWatch { err } => {
                w.put_i32(err.as_i32());
                Ok(())
            }
            Response::WhoAmI(infos) => {
                w.put_vec("WhoAmIResponse", "clientInfo", infos, |w, c| c.write(w))
            }
        }
    }
}

/// Decodes the body of a reply to a request with opcode `op` (the body is what
/// [`decode_reply_header`](super::decode_reply_header) returns after the header).
///
/// Rules (PROTOCOL.md §1, §8, §11):
/// - `header.err != Ok` and `op` is not multi/multiRead: the body must be empty, and the
///   result is [`Response::Empty`]; the error is in the header.
/// - multi and multiRead: the body is a `MultiResponse` (even for a failed multi, whose
///   header err is 0); a header-only reply with an error decodes as `Empty`.
/// - otherwise the record the opcode's reply carries; the whole body must be consumed.
///
/// Stat-only replies (exists, setData, setACL, check) do not touch the heap; data payloads
/// are zero-copy slices of `body`.
///
/// # Errors
///
/// [`DecodeError::UnexpectedOpCode`] for opcodes that have no reply of their own
/// (notification: use [`decode_notification`](super::decode_notification); createSession,
/// deleteContainer, error), and the usual field errors.
///
/// # Examples
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use mio_zookeeper::proto::*;
///
/// let header = ReplyHeader { xid: 3, zxid: 42, err: ErrorCode::Ok };
/// let resp = Response::GetData { data: Some(Bytes::from_static(b"hello")), stat: Stat::default() };
/// let mut out = BytesMut::new();
/// encode_reply(&header, &resp, &mut out);
///
/// let frame = FrameDecoder::default().decode(&mut out).unwrap().unwrap();
/// let (h, body) = decode_reply_header(&frame).unwrap();
/// assert_eq!(h, header);
/// assert_eq!(decode_response(OpCode::GetData, &h, &body).unwrap(), resp);
///
/// // An error reply has no body, whatever the opcode.
/// let h = ReplyHeader { err: ErrorCode::NoNode, ..header };
/// assert_eq!(decode_response(OpCode::GetData, &h, &Bytes::new()).unwrap(), Response::Empty);
/// ```
pub fn decode_response(
    op: OpCode,
    header: &ReplyHeader,
    body: &Bytes,
) -> Result<Response, DecodeError> {
    let mut r = Reader::new(body);
    let is_multi = matches!(op, OpCode::Multi | OpCode::MultiRead);
    if !header.err.is_ok() && (!is_multi || body.is_empty()) {
        r.finish("ReplyHeader")?;
        return Ok(Response::Empty);
    }
    let (resp, record) = match op {
        OpCode::Create => (
            Response::Create {
                path: r.read_ustring("CreateResponse", "path")?,
            },
            "CreateResponse",
        ),
        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => (
            Response::Create2 {
                path: r.read_ustring("Create2Response", "path")?,
                stat: Stat::read(&mut r)?,
            },
            "Create2Response",
        ),
        OpCode::Delete
        | OpCode::CheckWatches
        | OpCode::RemoveWatches
        | OpCode::Auth
        | OpCode::SetWatches
        | OpCode::SetWatches2
        | OpCode::Ping
        | OpCode::CloseSession => (Response::Empty, "ReplyHeader"),
        OpCode::Exists => (Response::Stat(Stat::read(&mut r)?), "ExistsResponse"),
        OpCode::SetData | OpCode::Check => (Response::Stat(Stat::read(&mut r)?), "SetDataResponse"),
        OpCode::SetAcl => (Response::Stat(Stat::read(&mut r)?), "SetACLResponse"),
        OpCode::GetData | OpCode::Reconfig => (
            Response::GetData {
                data: r.read_buffer("GetDataResponse", "data")?,
                stat: Stat::read(&mut r)?,
            },
            "GetDataResponse",
        ),
        OpCode::GetAcl => (
            Response::GetAcl {
                acl: r.read_vec("GetACLResponse", "acl", ACL_MIN_LEN, Acl::read)?,
                stat: Stat::read(&mut r)?,
            },
            "GetACLResponse",
        ),
        OpCode::GetChildren => (
            Response::GetChildren {
                children: r.read_string_vec("GetChildrenResponse", "children")?,
            },
            "GetChildrenResponse",
        ),
        OpCode::GetChildren2 => (
            Response::GetChildren2 {
                children: r.read_string_vec("GetChildren2Response", "children")?,
                stat: Stat::read(&mut r)?,
            },
            "GetChildren2Response",
        ),
        OpCode::Sync => (
            Response::Sync {
                path: r.read_ustring("SyncResponse", "path")?,
            },
            "SyncResponse",
        ),
        OpCode::Multi | OpCode::MultiRead => (
            Response::Multi(read_multi_results(&mut r)?),
            "MultiResponse",
        ),
        OpCode::Sasl => (
            Response::Sasl {
                token: r.read_buffer("SetSASLResponse", "token")?,
            },
            "SetSASLResponse",
        ),
        OpCode::GetEphemerals => (
            Response::GetEphemerals {
                ephemerals: r.read_string_vec("GetEphemeralsResponse", "ephemerals")?,
            },
            "GetEphemeralsResponse",
        ),
        OpCode::GetAllChildrenNumber => (
            Response::GetAllChildrenNumber {
                total: r.read_i32("GetAllChildrenNumberResponse", "totalNumber")?,
            },
            "GetAllChildrenNumberResponse",
        ),
        OpCode::AddWatch => (
            Response::AddWatch {
                err: ErrorCode::from_i32(r.read_i32("ErrorResponse", "err")?),
            },
            "ErrorResponse",
        ),
        OpCode::WhoAmI => (
            Response::WhoAmI(r.read_vec("WhoAmIResponse", "clientInfo", 8, ClientInfo::read)?),
            "WhoAmIResponse",
        ),
        OpCode::Notification | OpCode::CreateSession | OpCode::DeleteContainer | OpCode::Error => {
            return Err(DecodeError::UnexpectedOpCode {
                record: "decode_response",
                op: op.as_i32(),
            })
        }
    };
    r.finish(record)?;
    Ok(resp)
}

/// Encodes a whole reply frame: length prefix, `ReplyHeader`, then `resp`'s body (for test
/// servers and proxies). Pass [`Response::Empty`] for header-only error replies.
///
/// Cannot fail for a real reply; a field over 2 GiB is logged and nothing is written.
pub fn encode_reply(header: &ReplyHeader, resp: &Response, out: &mut BytesMut) {
    if let Err(e) = write_frame(out, |w| {
        header.write(w)?;
        resp.write_body(w)
    }) {
        log_unencodable("reply", e);
    }
}
