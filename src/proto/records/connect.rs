//! The connect handshake (PROTOCOL.md §3): the first frame each way.

use bytes::{Bytes, BytesMut};

use super::{decode_exact, log_unencodable, Record, ReplyHeader};
use crate::proto::codec::{write_frame, Reader, Writer};
use crate::proto::consts::ErrorCode;
use crate::proto::error::{DecodeError, EncodeError};

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

#[cfg(test)]
mod tests {
    use super::*;

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
