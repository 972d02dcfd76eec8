//! Data records (Stat, ACL, Id), headers, the connect handshake and watch events.

use bytes::{Bytes, BytesMut};

use super::codec::{write_frame, Reader, Writer};
use super::consts::{ErrorCode, EventType, KeeperState, OpCode, Perms};
use super::error::{DecodeError, EncodeError};

/// A jute record: how to read it from and write it to the middle of a frame.
pub(crate) trait Record: Sized {
    /// The jute record name, used in error messages.
    const NAME: &'static str;
    /// Reads the record's fields.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    /// Writes the record's fields.
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;
}

/// Decodes `bytes` as exactly one `T`: the whole input must be consumed.
pub(crate) fn decode_exact<T: Record>(bytes: &Bytes) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes);
    let v = T::read(&mut r)?;
    r.finish(T::NAME)?;
    Ok(v)
}

/// Logs an encode error of an infallible-by-signature encoder (only possible for fields
/// over 2 GiB).
pub(crate) fn log_unencodable(what: &str, err: EncodeError) {
    log::error!("{what} not encoded: {err}");
}

/// The metadata of a znode (`org.apache.zookeeper.data.Stat`, 68 bytes, PROTOCOL.md §6).
///
/// Jute layout: `long czxid; long mzxid; long ctime; long mtime; int version;
/// int cversion; int aversion; long ephemeralOwner; int dataLength; int numChildren;
/// long pzxid`.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use mio_zookeeper::Stat;
///
/// let stat = Stat { version: 3, num_children: 2, ..Stat::default() };
/// let mut out = BytesMut::new();
/// stat.encode(&mut out);
/// assert_eq!(out.len(), 68);
/// assert_eq!(Stat::decode(&out.freeze()).unwrap(), stat);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stat {
    /// The zxid of the change that created the node.
    pub czxid: i64,
    /// The zxid of the change that last modified the node's data.
    pub mzxid: i64,
    /// Creation time, ms since the epoch.
    pub ctime: i64,
    /// Last modification time, ms since the epoch.
    pub mtime: i64,
    /// Number of changes to the data.
    pub version: i32,
    /// Number of changes to the children.
    pub cversion: i32,
    /// Number of changes to the ACL.
    pub aversion: i32,
    /// The owning session for an ephemeral node; 0 for a persistent one; special values for
    /// containers and TTL nodes (see [`Stat::is_container`], [`Stat::ttl`]).
    pub ephemeral_owner: i64,
    /// Length of the data.
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
    /// The zxid of the change that last modified the children.
    pub pzxid: i64,
}

/// `ephemeralOwner` of a container node.
const CONTAINER_OWNER: i64 = i64::MIN;
/// Top byte `0xff`: an "extended" ephemeral owner; the next two bytes say which kind.
const EXTENDED_MASK: u64 = 0xff00_0000_0000_0000;
/// The two bytes after the top byte: 0 means TTL.
const EXTENDED_KIND_MASK: u64 = 0x00ff_ff00_0000_0000;
/// The low 5 bytes: the TTL in ms.
const TTL_MASK: u64 = 0x0000_00ff_ffff_ffff;

impl Stat {
    /// The encoded size: 68 bytes.
    pub const LEN: usize = 68;

    /// True if the node is a container (`ephemeralOwner == 0x8000000000000000`).
    ///
    /// ```
    /// use mio_zookeeper::Stat;
    /// let s = Stat { ephemeral_owner: i64::MIN, ..Stat::default() };
    /// assert!(s.is_container());
    /// ```
    pub fn is_container(&self) -> bool {
        self.ephemeral_owner == CONTAINER_OWNER
    }

    /// The TTL in ms if this is a TTL node: `ephemeralOwner` has the top byte `0xff`, the
    /// TTL kind (0) in the next two bytes and the TTL in the low 5 bytes (PROTOCOL.md §6).
    ///
    /// ```
    /// use mio_zookeeper::Stat;
    /// let s = Stat { ephemeral_owner: 0xff00_0000_0000_0001_u64 as i64, ..Stat::default() };
    /// assert_eq!(s.ttl(), Some(1));
    /// assert_eq!(Stat::default().ttl(), None);
    /// ```
    pub fn ttl(&self) -> Option<i64> {
        let owner = self.ephemeral_owner as u64;
        if owner & EXTENDED_MASK == EXTENDED_MASK && owner & EXTENDED_KIND_MASK == 0 {
            Some((owner & TTL_MASK) as i64)
        } else {
            None
        }
    }

    /// True if the node is ephemeral: owned by a session, neither a container nor a TTL
    /// node.
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral_owner != 0
            && !self.is_container()
            && (self.ephemeral_owner as u64) & EXTENDED_MASK != EXTENDED_MASK
    }

    /// Decodes exactly one Stat (68 bytes; more or less is an error).
    #[cfg_attr(not(feature = "lowlevel"), doc(hidden))] // codec-level
    pub fn decode(bytes: &Bytes) -> Result<Self, DecodeError> {
        decode_exact(bytes)
    }

    /// Appends the 68-byte encoding (no frame prefix).
    #[cfg_attr(not(feature = "lowlevel"), doc(hidden))] // codec-level
    pub fn encode(&self, out: &mut BytesMut) {
        Writer::new(out).put_stat(self);
    }
}

impl Writer<'_> {
    /// Writes a Stat (infallible).
    pub(crate) fn put_stat(&mut self, s: &Stat) {
        self.put_i64(s.czxid);
        self.put_i64(s.mzxid);
        self.put_i64(s.ctime);
        self.put_i64(s.mtime);
        self.put_i32(s.version);
        self.put_i32(s.cversion);
        self.put_i32(s.aversion);
        self.put_i64(s.ephemeral_owner);
        self.put_i32(s.data_length);
        self.put_i32(s.num_children);
        self.put_i64(s.pzxid);
    }
}

impl Record for Stat {
    const NAME: &'static str = "Stat";

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const R: &str = "Stat";
        // Fast path: one bounds check for all 68 bytes. The field-by-field path below
        // runs only for a truncated Stat, to name the field that is cut off.
        if let Some(b) = r.take_array::<{ Stat::LEN }>() {
            let i64_at = |i: usize| {
                i64::from_be_bytes([
                    b[i],
                    b[i + 1],
                    b[i + 2],
                    b[i + 3],
                    b[i + 4],
                    b[i + 5],
                    b[i + 6],
                    b[i + 7],
                ])
            };
            let i32_at = |i: usize| i32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            return Ok(Stat {
                czxid: i64_at(0),
                mzxid: i64_at(8),
                ctime: i64_at(16),
                mtime: i64_at(24),
                version: i32_at(32),
                cversion: i32_at(36),
                aversion: i32_at(40),
                ephemeral_owner: i64_at(44),
                data_length: i32_at(52),
                num_children: i32_at(56),
                pzxid: i64_at(60),
            });
        }
        Ok(Stat {
            czxid: r.read_i64(R, "czxid")?,
            mzxid: r.read_i64(R, "mzxid")?,
            ctime: r.read_i64(R, "ctime")?,
            mtime: r.read_i64(R, "mtime")?,
            version: r.read_i32(R, "version")?,
            cversion: r.read_i32(R, "cversion")?,
            aversion: r.read_i32(R, "aversion")?,
            ephemeral_owner: r.read_i64(R, "ephemeralOwner")?,
            data_length: r.read_i32(R, "dataLength")?,
            num_children: r.read_i32(R, "numChildren")?,
            pzxid: r.read_i64(R, "pzxid")?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_stat(self);
        Ok(())
    }
}

/// An identity in an ACL (`org.apache.zookeeper.data.Id`): `ustring scheme; ustring id`.
///
/// # Examples
///
/// ```
/// use mio_zookeeper::Id;
///
/// assert_eq!(Id::anyone(), Id::new("world", "anyone"));
/// assert_eq!(Id::auth_ids().scheme, "auth");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Id {
    /// The scheme: `world`, `auth`, `digest`, `ip`, `sasl`, `x509`, ...
    pub scheme: String,
    /// The id within the scheme.
    pub id: String,
}

impl Id {
    /// An id from its scheme and value.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Self {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    /// `world:anyone`: everybody.
    pub fn anyone() -> Self {
        Id::new("world", "anyone")
    }

    /// `auth:` with an empty id: the ids this client authenticated with.
    pub fn auth_ids() -> Self {
        Id::new("auth", "")
    }
}

/// One ACL entry (`org.apache.zookeeper.data.ACL`): `int perms; Id id`.
///
/// # Examples
///
/// ```
/// use mio_zookeeper::{Acl, Id, Perms};
///
/// let open = Acl::open_unsafe();
/// assert_eq!(open, vec![Acl { perms: Perms::ALL, id: Id::anyone() }]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Acl {
    /// The permissions granted.
    pub perms: Perms,
    /// To whom.
    pub id: Id,
}

impl Acl {
    /// An ACL entry.
    pub fn new(perms: Perms, id: Id) -> Self {
        Acl { perms, id }
    }

    /// `OPEN_ACL_UNSAFE`: everything for everyone.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, Id::anyone())]
    }

    /// `CREATOR_ALL_ACL`: everything for the ids this client authenticated with.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, Id::auth_ids())]
    }

    /// `READ_ACL_UNSAFE`: read for everyone.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::READ, Id::anyone())]
    }
}

/// Smallest encoding of an ACL: perms + two empty strings.
pub(crate) const ACL_MIN_LEN: usize = 12;

impl Record for Acl {
    const NAME: &'static str = "ACL";

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Acl {
            perms: Perms(r.read_i32("ACL", "perms")?),
            id: Id {
                scheme: r.read_ustring("Id", "scheme")?,
                id: r.read_ustring("Id", "id")?,
            },
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_i32(self.perms.0);
        w.put_ustring("Id", "scheme", &self.id.scheme)?;
        w.put_ustring("Id", "id", &self.id.id)
    }
}

impl Reader<'_> {
    /// Reads a `vector<ACL>`.
    pub(crate) fn read_acls(
        &mut self,
        record: &'static str,
        field: &'static str,
    ) -> Result<Vec<Acl>, DecodeError> {
        self.read_vec(record, field, ACL_MIN_LEN, Acl::read)
    }
}

impl Writer<'_> {
    /// Writes a `vector<ACL>`.
    pub(crate) fn put_acls(
        &mut self,
        record: &'static str,
        field: &'static str,
        acl: &[Acl],
    ) -> Result<(), EncodeError> {
        self.put_vec(record, field, acl, |w, a| a.write(w))
    }
}

/// The first frame a client sends (no `RequestHeader`), PROTOCOL.md §3.
///
/// Jute layout: `int protocolVersion; long lastZxidSeen; int timeOut; long sessionId;
/// buffer passwd; [boolean readOnly]` — 45 bytes with a 16-byte password and the
/// read-only byte, 49 on the wire.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use mio_zookeeper::proto::{encode_connect_request, ConnectRequest, FrameDecoder};
///
/// let req = ConnectRequest::new_session(30_000, true);
/// let mut out = BytesMut::new();
/// encode_connect_request(&req, &mut out);
/// assert_eq!(out.len(), 49);
/// let frame = FrameDecoder::default().decode(&mut out).unwrap().unwrap();
/// assert_eq!(ConnectRequest::decode(&frame).unwrap(), req);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Always 0.
    pub protocol_version: i32,
    /// The highest zxid seen in normal replies; a server behind it refuses the client.
    pub last_zxid_seen: i64,
    /// Requested session timeout, in ms.
    pub timeout_ms: i32,
    /// 0 for a new session, else the session to resume.
    pub session_id: i64,
    /// 16 zero bytes for a new session, else the server-issued password. Null on the wire
    /// decodes as empty.
    pub passwd: Bytes,
    /// The optional trailing read-only byte; `None` = byte absent.
    pub read_only: Option<bool>,
}

impl ConnectRequest {
    /// A request for a new session the way the Java client sends it: protocol 0, zxid 0,
    /// session 0, a 16-byte zero password and the read-only byte.
    pub fn new_session(timeout_ms: i32, read_only: bool) -> Self {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(read_only),
        }
    }

    /// Decodes a ConnectRequest frame body.
    pub fn decode(frame: &Bytes) -> Result<Self, DecodeError> {
        decode_exact(frame)
    }
}

impl Record for ConnectRequest {
    const NAME: &'static str = "ConnectRequest";

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const R: &str = "ConnectRequest";
        Ok(ConnectRequest {
            protocol_version: r.read_i32(R, "protocolVersion")?,
            last_zxid_seen: r.read_i64(R, "lastZxidSeen")?,
            timeout_ms: r.read_i32(R, "timeOut")?,
            session_id: r.read_i64(R, "sessionId")?,
            passwd: r.read_buffer(R, "passwd")?.unwrap_or_default(),
            read_only: read_optional_bool(r, R)?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        const R: &str = "ConnectRequest";
        w.put_i32(self.protocol_version);
        w.put_i64(self.last_zxid_seen);
        w.put_i32(self.timeout_ms);
        w.put_i64(self.session_id);
        w.put_buffer(R, "passwd", Some(&self.passwd))?;
        if let Some(ro) = self.read_only {
            w.put_bool(ro);
        }
        Ok(())
    }
}

/// The optional trailing read-only byte (PROTOCOL.md §3): parsed only if bytes remain.
fn read_optional_bool(
    r: &mut Reader<'_>,
    record: &'static str,
) -> Result<Option<bool>, DecodeError> {
    if r.is_empty() {
        Ok(None)
    } else {
        r.read_bool(record, "readOnly").map(Some)
    }
}

/// The server's first frame (no `ReplyHeader`), PROTOCOL.md §3.
///
/// Jute layout: `int protocolVersion; int timeOut; long sessionId; buffer passwd;
/// [boolean readOnly]` — 37 bytes with a 16-byte password and the byte, 36 without. A
/// `timeout_ms <= 0` means the session expired or is invalid.
///
/// # Examples
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use mio_zookeeper::proto::{encode_connect_response, ConnectResponse, FrameDecoder};
///
/// let resp = ConnectResponse {
///     protocol_version: 0,
///     timeout_ms: 10_000,
///     session_id: 0x1234,
///     passwd: Bytes::from_static(&[7; 16]),
///     read_only: Some(false),
/// };
/// let mut out = BytesMut::new();
/// encode_connect_response(&resp, &mut out);
/// let frame = FrameDecoder::default().decode(&mut out).unwrap().unwrap();
/// assert_eq!(frame.len(), 37);
/// assert_eq!(ConnectResponse::decode(&frame).unwrap(), resp);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectResponse {
    /// Always 0.
    pub protocol_version: i32,
    /// The negotiated session timeout in ms; `<= 0` means the session is expired/invalid.
    pub timeout_ms: i32,
    /// The session id.
    pub session_id: i64,
    /// The session password (16 bytes). Null on the wire decodes as empty.
    pub passwd: Bytes,
    /// The trailing read-only byte, present only if the client sent one.
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    /// Decodes a ConnectResponse frame body. See also [`decode_connect_reply`], which also
    /// accepts the bare-header refusal of a read-only server.
    pub fn decode(frame: &Bytes) -> Result<Self, DecodeError> {
        decode_exact(frame)
    }
}

impl Record for ConnectResponse {
    const NAME: &'static str = "ConnectResponse";

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const R: &str = "ConnectResponse";
        Ok(ConnectResponse {
            protocol_version: r.read_i32(R, "protocolVersion")?,
            timeout_ms: r.read_i32(R, "timeOut")?,
            session_id: r.read_i64(R, "sessionId")?,
            passwd: r.read_buffer(R, "passwd")?.unwrap_or_default(),
            read_only: read_optional_bool(r, R)?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_i32(self.protocol_version);
        w.put_i32(self.timeout_ms);
        w.put_i64(self.session_id);
        w.put_buffer("ConnectResponse", "passwd", Some(&self.passwd))?;
        if let Some(ro) = self.read_only {
            w.put_bool(ro);
        }
        Ok(())
    }
}

/// What a server answered to a ConnectRequest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectReply {
    /// A ConnectResponse (which may still say "expired": check `timeout_ms <= 0`).
    Response(ConnectResponse),
    /// A bare 16-byte `ReplyHeader` with this error instead (PROTOCOL.md §10: a read-only
    /// server without local sessions answers NotReadOnly): try another server.
    Refused(ErrorCode),
}

/// Decodes the server's first frame: a [`ConnectResponse`], or the bare `ReplyHeader` a
/// read-only server sends to refuse a client (PROTOCOL.md §10).
///
/// A 16-byte frame whose header carries a non-zero error is a refusal (a ConnectResponse
/// is at least 20 bytes, so the two cannot be confused); anything else must be a
/// ConnectResponse.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use mio_zookeeper::proto::{decode_connect_reply, ConnectReply, ErrorCode};
///
/// // ReplyHeader{xid 0, zxid 5, err -119}
/// let frame = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0x89]);
/// assert_eq!(decode_connect_reply(&frame).unwrap(), ConnectReply::Refused(ErrorCode::NotReadOnly));
/// ```
pub fn decode_connect_reply(frame: &Bytes) -> Result<ConnectReply, DecodeError> {
    if frame.len() == ReplyHeader::LEN {
        let header: ReplyHeader = decode_exact(frame)?;
        if !header.err.is_ok() {
            return Ok(ConnectReply::Refused(header.err));
        }
    }
    ConnectResponse::decode(frame).map(ConnectReply::Response)
}

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
    /// The request id; see [`xid`](super::xid) for the special ones.
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

/// A watch notification's body (PROTOCOL.md §4): `int type; int state; ustring path`,
/// after a `ReplyHeader` with xid −1.
///
/// `path` is the server-side path, including any chroot. Types and states this version does
/// not know decode as [`EventType::Unknown`] and [`KeeperState::Unknown`], so that a newer
/// server's event is delivered instead of dropping the connection.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use mio_zookeeper::proto::*;
///
/// let ev = WatcherEvent {
///     event_type: EventType::NodeDataChanged,
///     state: KeeperState::SyncConnected,
///     path: "/a".into(),
/// };
/// let mut out = BytesMut::new();
/// encode_notification(-1, &ev, &mut out);
/// let frame = FrameDecoder::default().decode(&mut out).unwrap().unwrap();
/// let (header, body) = decode_reply_header(&frame).unwrap();
/// assert_eq!(header.xid, xid::NOTIFICATION);
/// assert_eq!(decode_notification(&body).unwrap(), ev);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WatcherEvent {
    /// What happened.
    pub event_type: EventType,
    /// The session state (always SyncConnected on the wire).
    pub state: KeeperState,
    /// The node's path ("" for session events).
    pub path: String,
}

impl Record for WatcherEvent {
    const NAME: &'static str = "WatcherEvent";

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const R: &str = "WatcherEvent";
        let t = r.read_i32(R, "type")?;
        // A newer server's type or state is kept, not an error (`Unknown(n)`).
        let event_type = EventType::from_wire(t);
        let s = r.read_i32(R, "state")?;
        let state = KeeperState::from_wire(s);
        Ok(WatcherEvent {
            event_type,
            state,
            path: r.read_ustring(R, "path")?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_i32(self.event_type.as_i32());
        w.put_i32(self.state.as_i32());
        w.put_ustring("WatcherEvent", "path", &self.path)
    }
}

/// Decodes a notification body (the bytes after a `ReplyHeader` with xid −1) as a
/// [`WatcherEvent`].
pub fn decode_notification(body: &Bytes) -> Result<WatcherEvent, DecodeError> {
    decode_exact(body)
}

/// One authenticated identity in a `whoAmI` reply: `ustring authScheme; ustring user`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ClientInfo {
    /// The auth scheme, e.g. `ip` or `digest`.
    pub auth_scheme: String,
    /// The identity within the scheme.
    pub user: String,
}

impl Record for ClientInfo {
    const NAME: &'static str = "ClientInfo";

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ClientInfo {
            auth_scheme: r.read_ustring("ClientInfo", "authScheme")?,
            user: r.read_ustring("ClientInfo", "user")?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_ustring("ClientInfo", "authScheme", &self.auth_scheme)?;
        w.put_ustring("ClientInfo", "user", &self.user)
    }
}

/// Encodes a whole ConnectRequest frame (length prefix included).
///
/// Cannot fail for a real request; a password over 2 GiB is logged and nothing is written.
pub fn encode_connect_request(req: &ConnectRequest, out: &mut BytesMut) {
    if let Err(e) = write_frame(out, |w| req.write(w)) {
        log_unencodable("ConnectRequest", e);
    }
}

/// Encodes a whole ConnectResponse frame (length prefix included), for test servers and
/// proxies.
///
/// Cannot fail for a real response; a password over 2 GiB is logged and nothing is written.
pub fn encode_connect_response(resp: &ConnectResponse, out: &mut BytesMut) {
    if let Err(e) = write_frame(out, |w| resp.write(w)) {
        log_unencodable("ConnectResponse", e);
    }
}

/// Encodes a whole notification frame: `ReplyHeader{-1, zxid, 0}` + `WatcherEvent`.
///
/// `zxid` is −1 on servers before 3.9 and the triggering change's zxid from 3.9 on.
pub fn encode_notification(zxid: i64, event: &WatcherEvent, out: &mut BytesMut) {
    let header = ReplyHeader {
        xid: super::consts::xid::NOTIFICATION,
        zxid,
        err: ErrorCode::Ok,
    };
    if let Err(e) = write_frame(out, |w| {
        header.write(w)?;
        event.write(w)
    }) {
        log_unencodable("notification", e);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_is_68_bytes_in_field_order() {
        let s = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        };
        let mut out = BytesMut::new();
        s.encode(&mut out);
        let mut expected = Vec::new();
        for v in [1i64, 2, 3, 4] {
            expected.extend_from_slice(&v.to_be_bytes());
        }
        for v in [5i32, 6, 7] {
            expected.extend_from_slice(&v.to_be_bytes());
        }
        expected.extend_from_slice(&8i64.to_be_bytes());
        for v in [9i32, 10] {
            expected.extend_from_slice(&v.to_be_bytes());
        }
        expected.extend_from_slice(&11i64.to_be_bytes());
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(out.len(), Stat::LEN);
    }

    #[test]
    fn stat_node_kinds() {
        let ttl = Stat {
            ephemeral_owner: 0xff00_00ff_ffff_ffff_u64 as i64,
            ..Stat::default()
        };
        assert_eq!(ttl.ttl(), Some(1_099_511_627_775));
        assert!(!ttl.is_ephemeral() && !ttl.is_container());
        let other_ext = Stat {
            ephemeral_owner: 0xff00_0100_0000_0001_u64 as i64,
            ..Stat::default()
        };
        assert_eq!(other_ext.ttl(), None);
        let eph = Stat {
            ephemeral_owner: 0x1000_0000_0000_0042,
            ..Stat::default()
        };
        assert!(eph.is_ephemeral());
        assert_eq!(eph.ttl(), None);
        let cont = Stat {
            ephemeral_owner: i64::MIN,
            ..Stat::default()
        };
        assert!(cont.is_container() && !cont.is_ephemeral());
    }

    #[test]
    fn connect_reply_refusal_and_response() {
        let mut out = BytesMut::new();
        ReplyHeader {
            xid: 0,
            zxid: 3,
            err: ErrorCode::NotReadOnly,
        }
        .encode(&mut out);
        assert_eq!(
            decode_connect_reply(&out.freeze()),
            Ok(ConnectReply::Refused(ErrorCode::NotReadOnly))
        );
        // A 16-byte header that says Ok is not a refusal and not a ConnectResponse either.
        let ok = Bytes::from_static(&[0; 16]);
        assert!(matches!(
            decode_connect_reply(&ok),
            Err(DecodeError::UnexpectedEnd {
                record: "ConnectResponse",
                field: "passwd",
                ..
            })
        ));
    }

    #[test]
    fn connect_response_without_read_only_byte_is_36_bytes() {
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout_ms: 4000,
            session_id: 77,
            passwd: Bytes::from_static(&[1; 16]),
            read_only: None,
        };
        let mut out = BytesMut::new();
        encode_connect_response(&resp, &mut out);
        assert_eq!(out.len(), 40);
        let body = out.freeze().slice(4..);
        assert_eq!(ConnectResponse::decode(&body).unwrap(), resp);
    }
}
