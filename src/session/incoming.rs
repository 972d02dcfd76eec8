//! Bytes from the server: frames, replies matched to their requests, watch notifications,
//! pings and auth answers; a reply of the wrong shape drops the connection.

use std::time::Instant;

use bytes::Bytes;
use log::warn;

use super::{Conn, Event, Owner, Reply, RequestError, Session};
use crate::proto::{
    decode_notification, decode_reply_header, decode_response, xid, ErrorCode, FrameError, OpCode,
    Response,
};

impl Session {
    /// Bytes arrived on the current connection.
    pub fn handle_data(&mut self, now: Instant, data: &[u8]) {
        if !matches!(self.conn, Conn::Handshaking | Conn::Up) {
            return;
        }
        self.received(now);
        self.inbuf.extend_from_slice(data);
        loop {
            let frame = match self.decoder.decode(&mut self.inbuf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    self.protocol_error(now, &frame_error(e));
                    return;
                }
            };
            let keep_going = if self.conn == Conn::Handshaking {
                self.on_connect_reply(now, frame)
            } else {
                let ok = self.on_frame(now, frame);
                self.proven |= ok;
                ok
            };
            if !keep_going || !matches!(self.conn, Conn::Handshaking | Conn::Up) {
                return;
            }
        }
        // Replies made room under max_in_flight: refill once a quarter of the window is
        // free, so that a long burst goes out in a few large writes, not one per read.
        let max = self.config.max_in_flight;
        if !self.queue.is_empty() && self.in_flight() <= max - max / 4 {
            self.flush_queue(now);
        }
    }

    /// Handles one frame of an established connection. Returns false when the connection
    /// was dropped.
    pub(super) fn on_frame(&mut self, now: Instant, frame: Bytes) -> bool {
        let (header, body) = match decode_reply_header(&frame) {
            Ok(h) => h,
            Err(e) => {
                self.protocol_error(now, &format!("bad reply header: {e}"));
                return false;
            }
        };
        match header.xid {
            xid::NOTIFICATION => match decode_notification(&body) {
                Ok(event) => {
                    self.watches.on_event(event.event_type, &event.path);
                    self.events.push_back(Event::Watch {
                        event,
                        zxid: header.zxid,
                    });
                    true
                }
                Err(e) => {
                    // Dropping the connection loses nothing: the reconnect re-registers the
                    // watches and the server re-fires what changed.
                    self.protocol_error(now, &format!("bad notification: {e}"));
                    false
                }
            },
            xid::PING => {
                self.ping_outstanding = false;
                self.arm_ping();
                true
            }
            xid::AUTH => {
                let Some(owner) = self.auth_inflight.pop_front() else {
                    self.protocol_error(now, "an auth reply nobody asked for");
                    return false;
                };
                let cred = if owner.is_some() {
                    self.auth_sent.pop_front()
                } else {
                    None
                };
                if header.err != ErrorCode::Ok {
                    warn!("authentication failed: {}", header.err);
                    if let Some(id) = owner {
                        // The session is unusable now, whatever the code (AuthFailed in
                        // practice): the auth request fails like every other pending one,
                        // with AuthFailed (kazoo's AuthFailedError on that result).
                        self.events.push_back(Event::Reply {
                            id,
                            reply: Reply {
                                zxid: header.zxid,
                                result: Err(RequestError::AuthFailed),
                                path: None,
                            },
                        });
                    }
                    self.auth_failed();
                    return false;
                }
                match owner {
                    Some(id) => {
                        // Accepted: replayed into every later connection of this session.
                        if let Some((scheme, cred)) = cred {
                            self.add_auth(scheme, cred);
                        }
                        self.events.push_back(Event::Reply {
                            id,
                            reply: Reply {
                                zxid: header.zxid,
                                result: Ok(Response::Empty),
                                path: None,
                            },
                        });
                    }
                    None => {
                        self.connect_auths = self.connect_auths.saturating_sub(1);
                        if self.connect_auths == 0 {
                            let ro = self.pending_read_only;
                            self.connected(now, ro);
                        }
                    }
                }
                true
            }
            x => {
                let Some(head) = self.inflight.front() else {
                    self.protocol_error(now, &format!("a reply (xid {x}) nobody asked for"));
                    return false;
                };
                if head.xid != x {
                    let want = head.xid;
                    self.protocol_error(
                        now,
                        &format!("reply xid {x} out of order (expected {want})"),
                    );
                    return false;
                }
                let Some(f) = self.inflight.pop_front() else {
                    return false;
                };
                if header.zxid > 0 {
                    self.last_zxid = self.last_zxid.max(header.zxid);
                }
                let result = if header.err != ErrorCode::Ok
                    && !matches!(f.op, OpCode::Multi | OpCode::MultiRead)
                {
                    // Header-only error replies; exists NoNode still registers a watch.
                    if !body.is_empty() {
                        // Back in flight, so that it fails with the others (ConnectionLoss)
                        // instead of never completing.
                        self.inflight.push_front(f);
                        self.protocol_error(now, "an error reply with a body");
                        return false;
                    }
                    Err(RequestError::Server(header.err))
                } else {
                    decode_response(f.op, &header, &body).map_err(RequestError::Decode)
                };
                match f.owner {
                    Owner::User(id, watch, path) => {
                        if let Some(w) = &watch {
                            if result.is_ok()
                                || matches!(header.err, ErrorCode::NoNode | ErrorCode::NoWatcher)
                            {
                                self.watches.on_reply(w, header.err);
                            }
                        }
                        self.events.push_back(Event::Reply {
                            id,
                            reply: Reply {
                                zxid: header.zxid,
                                result,
                                path,
                            },
                        });
                        true
                    }
                    Owner::SetWatches(batch) => {
                        if header.err != ErrorCode::Ok {
                            self.set_watches_failed(*batch, header.err);
                        }
                        true
                    }
                    Owner::Rewatch(w) => {
                        let (kind, path) = *w;
                        self.rewatch_answered(kind, path, &result);
                        true
                    }
                    Owner::Close => {
                        self.finish_closed();
                        false
                    }
                }
            }
        }
    }

    pub(super) fn protocol_error(&mut self, now: Instant, why: &str) {
        warn!(
            "protocol error from host {}: {why}; dropping the connection",
            self.host
        );
        self.connection_lost(now, why, false);
    }
}

fn frame_error(e: FrameError) -> String {
    format!("bad frame: {e}")
}
