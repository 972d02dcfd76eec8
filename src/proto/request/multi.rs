//! [`MultiOp`]: one op of a multi or multiRead request (PROTOCOL.md §8), and how a list of
//! them is written and read.

use super::bodies::{
    read_check, read_create, read_create_ttl, read_delete, read_set_data, write_check,
    write_create, write_create_ttl, write_delete, write_set_data,
};
use super::{CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, SetDataRequest};
use crate::proto::codec::{Reader, Writer};
use crate::proto::consts::{ErrorCode, OpCode};
use crate::proto::error::{DecodeError, EncodeError};
use crate::proto::records::{MultiHeader, Record};

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

/// Writes the ops of a multi / multiRead, each after `MultiHeader{op, false, -1}`, and the
/// terminator (PROTOCOL.md §8).
pub(super) fn write_multi(w: &mut Writer<'_>, ops: &[MultiOp]) -> Result<(), EncodeError> {
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
pub(super) fn read_multi(r: &mut Reader<'_>) -> Result<Vec<MultiOp>, DecodeError> {
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
