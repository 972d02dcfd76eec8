//! The headers before every request and reply body (PROTOCOL.md §2), and a multi op's.

use bytes::{Bytes, BytesMut};

use super::{decode_exact, Record};
use crate::proto::codec::{Reader, Writer};
use crate::proto::consts::{ErrorCode, OpCode};
use crate::proto::error::{DecodeError, EncodeError};

/// The header of every request after the handshake (PROTOCOL.md §2): `int xid; int type`.
///
/// `op` is kept raw so that a capture decoder can show unknown opcodes; see
/// [`RequestHeader::op_code`].
///
/// # Examples
///
/// ```
/// use mio_zookeeper::proto::{OpCode, RequestHeader};
///
/// let h = RequestHeader { xid: -2, op: 11 };
/// assert_eq!(h.op_code(), Some(OpCode::Ping));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RequestHeader {
    /// The request id; see [`xid`](crate::proto::xid) for the special ones.
    pub xid: i32,
    /// The raw opcode.
    pub op: i32,
}

impl RequestHeader {
    /// The encoded size: 8 bytes.
    pub const LEN: usize = 8;

    /// The opcode, if it is a known one.
    pub fn op_code(&self) -> Option<OpCode> {
        OpCode::from_i32(self.op)
    }

    /// Decodes exactly one header (8 bytes).
    pub fn decode(bytes: &Bytes) -> Result<Self, DecodeError> {
        decode_exact(bytes)
    }

    /// Appends the 8-byte encoding (no frame prefix).
    pub fn encode(&self, out: &mut BytesMut) {
        let mut w = Writer::new(out);
        w.put_i32(self.xid);
        w.put_i32(self.op);
    }
}

impl Record for RequestHeader {
    const NAME: &'static str = "RequestHeader";

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(RequestHeader {
            xid: r.read_i32("RequestHeader", "xid")?,
            op: r.read_i32("RequestHeader", "type")?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_i32(self.xid);
        w.put_i32(self.op);
        Ok(())
    }
}

/// The header of every server frame after the handshake (PROTOCOL.md §2):
/// `int xid; long zxid; int err`.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use mio_zookeeper::proto::{ErrorCode, ReplyHeader};
///
/// let h = ReplyHeader { xid: 7, zxid: 0x100, err: ErrorCode::NoNode };
/// let mut out = BytesMut::new();
/// h.encode(&mut out);
/// assert_eq!(out.len(), 16);
/// assert_eq!(ReplyHeader::decode(&out.freeze()).unwrap(), h);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReplyHeader {
    /// The xid of the request answered (−1 notification, −2 ping, −4 auth).
    pub xid: i32,
    /// The server's last zxid (−1 in notifications before 3.9).
    pub zxid: i64,
    /// The result; a body follows only when `Ok` (except multi, PROTOCOL.md §1).
    pub err: ErrorCode,
}

impl ReplyHeader {
    /// The encoded size: 16 bytes.
    pub const LEN: usize = 16;

    /// Decodes exactly one header (16 bytes).
    pub fn decode(bytes: &Bytes) -> Result<Self, DecodeError> {
        decode_exact(bytes)
    }

    /// Appends the 16-byte encoding (no frame prefix).
    pub fn encode(&self, out: &mut BytesMut) {
        let mut w = Writer::new(out);
        w.put_i32(self.xid);
        w.put_i64(self.zxid);
        w.put_i32(self.err.as_i32());
    }
}

impl Record for ReplyHeader {
    const NAME: &'static str = "ReplyHeader";

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ReplyHeader {
            xid: r.read_i32("ReplyHeader", "xid")?,
            zxid: r.read_i64("ReplyHeader", "zxid")?,
            err: ErrorCode::from_i32(r.read_i32("ReplyHeader", "err")?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_i32(self.xid);
        w.put_i64(self.zxid);
        w.put_i32(self.err.as_i32());
        Ok(())
    }
}

/// The header before each op or result of a multi (PROTOCOL.md §2, §8):
/// `int type; boolean done; int err`.
///
/// Requests use `err = -1` (printed as `SystemError`); the list ends with
/// `{type -1, done true, err -1}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MultiHeader {
    /// The raw opcode of the op or result that follows (−1 = error result / terminator).
    pub op: i32,
    /// True on the terminator.
    pub done: bool,
    /// The result's error (responses), −1 in requests.
    pub err: ErrorCode,
}

impl MultiHeader {
    /// The encoded size: 9 bytes.
    pub const LEN: usize = 9;

    /// The terminator `{type -1, done true, err -1}`.
    pub const END: MultiHeader = MultiHeader {
        op: -1,
        done: true,
        err: ErrorCode::SystemError,
    };
}

impl Record for MultiHeader {
    const NAME: &'static str = "MultiHeader";

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(MultiHeader {
            op: r.read_i32("MultiHeader", "type")?,
            done: r.read_bool("MultiHeader", "done")?,
            err: ErrorCode::from_i32(r.read_i32("MultiHeader", "err")?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_i32(self.op);
        w.put_bool(self.done);
        w.put_i32(self.err.as_i32());
        Ok(())
    }
}

/// Splits a reply frame into its [`ReplyHeader`] and the body after it (a zero-copy slice).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use mio_zookeeper::proto::{decode_reply_header, ErrorCode};
///
/// let frame = Bytes::from_static(&[0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0x9b]);
/// let (h, body) = decode_reply_header(&frame).unwrap();
/// assert_eq!((h.xid, h.zxid, h.err), (9, 1, ErrorCode::NoNode));
/// assert!(body.is_empty());
/// ```
pub fn decode_reply_header(frame: &Bytes) -> Result<(ReplyHeader, Bytes), DecodeError> {
    let mut r = Reader::new(frame);
    let header = ReplyHeader::read(&mut r)?;
    Ok((header, frame.slice(ReplyHeader::LEN..)))
}
