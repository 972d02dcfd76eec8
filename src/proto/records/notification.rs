//! Watch notifications (PROTOCOL.md §4).

use bytes::{Bytes, BytesMut};

use super::{decode_exact, log_unencodable, Record, ReplyHeader};
use crate::proto::codec::{write_frame, Reader, Writer};
use crate::proto::consts::{xid, ErrorCode, EventType, KeeperState};
use crate::proto::error::{DecodeError, EncodeError};

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

/// Encodes a whole notification frame: `ReplyHeader{-1, zxid, 0}` + `WatcherEvent`.
///
/// `zxid` is −1 on servers before 3.9 and the triggering change's zxid from 3.9 on.
pub fn encode_notification(zxid: i64, event: &WatcherEvent, out: &mut BytesMut) {
    let header = ReplyHeader {
        xid: xid::NOTIFICATION,
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
