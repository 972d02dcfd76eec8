//! The codec's error types: [`DecodeError`], [`EncodeError`] and [`FrameError`].

/// Why a frame body could not be decoded.
///
/// Small and `Copy`: every variant carries only static context (which record, which field)
/// and a few numbers, so building one never allocates. The `Display` text names the place
/// and the problem, e.g. `Stat.pzxid: frame ends early (need 8 bytes, 3 left)`.
///
/// Decoding is total (PROTOCOL.md §11): every byte string decodes to a value or to one of
/// these, never to a panic.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use mio_zookeeper::proto::{DecodeError, Stat};
///
/// let err = Stat::decode(&Bytes::from_static(&[0; 63])).unwrap_err();
/// assert_eq!(
///     err,
///     DecodeError::UnexpectedEnd { record: "Stat", field: "pzxid", need: 8, left: 3 }
/// );
/// assert_eq!(err.to_string(), "Stat.pzxid: frame ends early (need 8 bytes, 3 left)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A fixed-size field (int, long, boolean) runs past the end of the frame.
    #[error("{record}.{field}: frame ends early (need {need} bytes, {left} left)")]
    UnexpectedEnd {
        /// The jute record being decoded.
        record: &'static str,
        /// The field of that record.
        field: &'static str,
        /// How many bytes the field needs.
        need: u32,
        /// How many bytes were left in the frame.
        left: u32,
    },
    /// The record was complete but the frame had bytes left over (PROTOCOL.md §11: strict).
    #[error("{record}: {count} unexpected trailing bytes after the end of the record")]
    TrailingBytes {
        /// The outermost record that should have consumed the whole body.
        record: &'static str,
        /// How many bytes were left over.
        count: u32,
    },
    /// A buffer, string or vector length is negative (other than −1 = null) or larger than
    /// the bytes left in the frame could possibly hold.
    #[error("{record}.{field}: invalid length {len} ({left} bytes left in the frame)")]
    InvalidLength {
        /// The jute record being decoded.
        record: &'static str,
        /// The field of that record.
        field: &'static str,
        /// The length or element count read from the wire.
        len: i32,
        /// How many bytes were left in the frame after the length itself.
        left: u32,
    },
    /// A string field is not valid UTF-8.
    #[error("{record}.{field}: string is not valid UTF-8")]
    InvalidUtf8 {
        /// The jute record being decoded.
        record: &'static str,
        /// The field of that record.
        field: &'static str,
    },
    /// A boolean byte is neither 0 nor 1.
    #[error("{record}.{field}: invalid boolean byte {value} (must be 0 or 1)")]
    InvalidBool {
        /// The jute record being decoded.
        record: &'static str,
        /// The field of that record.
        field: &'static str,
        /// The byte found.
        value: u8,
    },
    /// A request header carries an opcode that ZooKeeper does not define.
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),
    /// A known opcode appears where it has no meaning, e.g. `createSession` in a request
    /// header, or `notification` passed to `proto::decode_response`.
    #[error("{record}: opcode {op} is not valid here")]
    UnexpectedOpCode {
        /// What was being decoded.
        record: &'static str,
        /// The opcode found.
        op: i32,
    },
    /// A watch notification carries an event type this codec does not know. (Not produced
    /// by `proto::decode_notification`, which keeps unknown
    /// types as [`EventType::Unknown`](crate::proto::EventType::Unknown).)
    #[error("WatcherEvent.type: unknown event type {0}")]
    UnknownEventType(i32),
    /// A watch notification carries a keeper state this codec does not know. (Not produced
    /// by `proto::decode_notification`, which keeps unknown
    /// states as [`KeeperState::Unknown`](crate::proto::KeeperState::Unknown).)
    #[error("WatcherEvent.state: unknown keeper state {0}")]
    UnknownKeeperState(i32),
    /// A multi or multiRead request or response holds an op or result type that is unknown
    /// or not allowed there (PROTOCOL.md §8).
    #[error("MultiHeader.type: type {0} is unknown or not allowed in a multi")]
    UnknownMultiType(i32),
}

/// Why a request or reply could not be encoded.
///
/// On this error the output buffer is left exactly as it was.
///
/// # Examples
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use mio_zookeeper::proto::{encode_request, EncodeError, Request, SetDataRequest};
///
/// let req = Request::SetData(SetDataRequest {
///     path: "/big".into(),
///     data: Some(Bytes::from(vec![0u8; 2000])),
///     version: -1,
/// });
/// let mut out = BytesMut::new();
/// let err = encode_request(1, &req, &mut out, 1000).unwrap_err();
/// assert!(matches!(err, EncodeError::FrameTooLarge { size: 2024, limit: 1000 }));
/// assert!(err.to_string().contains("jute.maxbuffer"));
/// assert!(out.is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded frame is larger than the configured maximum; the server would close the
    /// connection without an answer (PROTOCOL.md §1, §10).
    #[error(
        "request frame of {size} bytes exceeds the limit of {limit} bytes (the server would \
         close the connection); send less data, or raise the server's jute.maxbuffer and the \
         client's max_outgoing_frame together"
    )]
    FrameTooLarge {
        /// The frame's length (not counting the 4-byte length prefix).
        size: usize,
        /// The limit it was checked against.
        limit: usize,
    },
    /// A buffer, string or vector is longer than a jute length (`i32`) can express.
    #[error(
        "{record}.{field}: length {len} cannot be encoded (jute lengths are at most 2147483647)"
    )]
    TooLong {
        /// The jute record being encoded.
        record: &'static str,
        /// The field of that record.
        field: &'static str,
        /// The length that did not fit.
        len: usize,
    },
}

/// Why the 4-byte length prefix of an incoming frame was refused.
///
/// Checked from the prefix alone, before any of the frame is buffered (PROTOCOL.md §1).
///
/// # Examples
///
/// ```
/// use mio_zookeeper::proto::{check_prefix, FrameError};
///
/// assert_eq!(check_prefix([0, 0, 0, 16], 1024), Ok(16));
/// assert_eq!(check_prefix([0xff; 4], 1024), Err(FrameError::NegativeLength { len: -1 }));
/// assert!(matches!(check_prefix(*b"ruok", 1024), Err(FrameError::TooLarge { .. })));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix is negative.
    #[error(
        "frame length prefix is negative ({len}); the peer is not speaking the ZooKeeper protocol"
    )]
    NegativeLength {
        /// The length read.
        len: i32,
    },
    /// The length prefix is above the configured maximum.
    #[error(
        "incoming frame of {len} bytes exceeds the limit of {limit} bytes; raise \
         max_incoming_frame (and keep it in line with the server's jute.maxbuffer)"
    )]
    TooLarge {
        /// The length read.
        len: usize,
        /// The configured maximum.
        limit: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_stay_small() {
        assert!(std::mem::size_of::<DecodeError>() <= 48);
        assert!(std::mem::size_of::<EncodeError>() <= 48);
        assert!(std::mem::size_of::<FrameError>() <= 24);
    }

    #[test]
    fn messages_name_the_place() {
        let e = DecodeError::InvalidLength {
            record: "GetDataResponse",
            field: "data",
            len: -2,
            left: 68,
        };
        assert_eq!(
            e.to_string(),
            "GetDataResponse.data: invalid length -2 (68 bytes left in the frame)"
        );
        let e = DecodeError::TrailingBytes {
            record: "ExistsResponse",
            count: 3,
        };
        assert_eq!(
            e.to_string(),
            "ExistsResponse: 3 unexpected trailing bytes after the end of the record"
        );
    }
}
