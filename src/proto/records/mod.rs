//! The jute records that are not request or reply bodies: the data records (Stat, ACL, Id,
//! ClientInfo) here, the handshake in `connect.rs`, the request and reply headers in
//! `header.rs`, watch events in `notification.rs`.

use bytes::{Bytes, BytesMut};

use super::codec::{Reader, Writer};
use super::consts::Perms;
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

mod connect;
mod header;
mod notification;

pub use connect::{
    decode_connect_reply, encode_connect_request, encode_connect_response, ConnectReply,
    ConnectRequest, ConnectResponse,
};
pub use header::{decode_reply_header, MultiHeader, ReplyHeader, RequestHeader};
pub use notification::{decode_notification, encode_notification, WatcherEvent};

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
}
