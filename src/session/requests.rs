//! Requests: submitting, queueing under `max_in_flight`, encoding, and failing the pending
//! ones when the connection or the session goes.

use std::time::Instant;

use bytes::BytesMut;
use log::debug;

use super::watches::PendingWatch;
use super::{Conn, Event, Reply, RequestError, RequestId, Session, SessionState, WatchKind};
use crate::proto::{encode_request, xid, OpCode, Request};

/// Who waits for the reply of a request in flight.
#[derive(Debug)]
pub(super) enum Owner {
    /// A user request: its id, the watch it leaves (boxed: rare, and it keeps `InFlight`
    /// small: at most 48 bytes, pinned by `per_request_records_stay_small`), and its path,
    /// moved out of it once encoded, to give back with the reply (no copy of the path per
    /// request for error messages).
    User(RequestId, Option<Box<PendingWatch>>, Option<String>),
    /// A SetWatches / SetWatches2 batch, kept to tell its watchers if it fails (boxed: it
    /// keeps `InFlight` small).
    SetWatches(Box<Request>),
    /// An `addWatch` re-adding a persistent watch after its SetWatches failed.
    Rewatch(Box<(WatchKind, String)>),
    /// closeSession: its reply ends the session.
    Close,
}

/// A request written (or being written) on the current connection, awaiting its reply;
/// replies come back in xid order (auth packets aside, see `Session::auth_inflight`).
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) xid: i32,
    pub(super) op: OpCode,
    pub(super) owner: Owner,
}

/// The size of an in-flight record (tests keep it small).
#[cfg(test)]
pub(crate) fn inflight_size() -> usize {
    std::mem::size_of::<InFlight>()
}

/// A request waiting for a connection, or for room under `max_in_flight`.
#[derive(Debug)]
pub(super) struct Queued {
    pub(super) id: RequestId,
    pub(super) req: Request,
}

impl Session {
    /// Submits a request. Requests made while there is no connection wait (up to
    /// `max_queued_requests`) and go out after the reconnect; the reply, or the reason there
    /// is none, comes back as [`Event::Reply`] with the returned id.
    pub fn submit(&mut self, now: Instant, req: Request) -> Result<RequestId, RequestError> {
        match self.state {
            SessionState::AuthFailed => return Err(RequestError::AuthFailed),
            SessionState::Closed => return Err(self.closed_reason.clone()),
            _ if self.closing => return Err(RequestError::Closed),
            _ => {}
        }
        let id = RequestId(self.next_id);
        self.next_id += 1;
        if self.conn == Conn::Up
            && self.connect_auths == 0
            && self.queue.is_empty()
            && self.in_flight() < self.config.max_in_flight
        {
            self.send_user(now, Queued { id, req })?;
        } else {
            if self.queue.len() >= self.config.max_queued_requests {
                return Err(RequestError::QueueFull {
                    limit: self.config.max_queued_requests,
                });
            }
            // Refuse an oversized request now rather than after the reconnect. While
            // connected (waiting for room under max_in_flight) it goes out soon: encoding it
            // twice would double the cost of a pipelined burst, and a refusal at send reaches
            // the caller through its reply all the same (`flush_queue`).
            if self.conn != Conn::Up {
                check_size(&req, self.config.max_outgoing_frame)?;
            }
            self.queue.push_back(Queued { id, req });
        }
        Ok(id)
    }

    /// Requests awaiting their reply on the current connection.
    pub(super) fn in_flight(&self) -> usize {
        self.inflight.len() + self.auth_inflight.len()
    }

    /// Sends queued requests while there is room under `max_in_flight`, then closeSession
    /// if [`close`](Self::close) was called and everything before it is out.
    pub(super) fn flush_queue(&mut self, now: Instant) {
        if self.conn != Conn::Up || self.connect_auths > 0 {
            return;
        }
        while self.in_flight() < self.config.max_in_flight {
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            let id = q.id;
            if let Err(e) = self.send_user(now, q) {
                // The caller was told "queued"; it hears of the failure through its reply.
                debug!("queued request {id:?} refused at send: {e}");
                self.events.push_back(Event::Reply {
                    id,
                    reply: Reply {
                        zxid: -1,
                        result: Err(e),
                        path: None,
                    },
                });
            }
        }
        if self.closing && !self.close_sent && self.queue.is_empty() {
            self.send_close(now);
        }
    }

    /// Encodes a user request into the output buffer (or fails it via an event when it
    /// cannot be encoded).
    pub(super) fn send_user(&mut self, now: Instant, q: Queued) -> Result<(), RequestError> {
        let watch = PendingWatch::of(&q.req).map(Box::new);
        if let Request::Auth(_) = q.req {
            match encode_request(
                xid::AUTH,
                &q.req,
                &mut self.outbuf,
                self.config.max_outgoing_frame,
            ) {
                Ok(()) => {
                    if let Request::Auth(a) = &q.req {
                        let cred = a.auth.clone().unwrap_or_default();
                        self.auth_sent.push_back((a.scheme.clone(), cred));
                    }
                    self.push_auth(Some(q.id));
                    self.sent(now);
                    return Ok(());
                }
                Err(e) => return Err(RequestError::Encode(e)),
            }
        }
        let x = self.next_xid;
        match encode_request(x, &q.req, &mut self.outbuf, self.config.max_outgoing_frame) {
            Ok(()) => {
                self.alloc_xid();
                self.push_inflight(InFlight {
                    xid: x,
                    op: q.req.op_code(),
                    owner: Owner::User(q.id, watch, q.req.into_path()),
                });
                self.sent(now);
                Ok(())
            }
            Err(e) => Err(RequestError::Encode(e)),
        }
    }

    /// Records a request whose frame was just appended to the output buffer.
    pub(super) fn push_inflight(&mut self, f: InFlight) {
        self.inflight.push_back(f);
        self.unsent.encoded(self.outbuf.len(), false);
    }

    /// Records an auth packet just appended to the output buffer.
    pub(super) fn push_auth(&mut self, owner: Option<RequestId>) {
        self.auth_inflight.push_back(owner);
        self.unsent.encoded(self.outbuf.len(), true);
    }

    /// Fails every in-flight request with `err`. On a connection loss that is
    /// ConnectionLoss also for the requests not fully written (conservative: a caller must
    /// treat ConnectionLoss as "maybe applied" anyway, and the split only matters where the
    /// error would otherwise say "certainly not applied", see `finish_closed`).
    pub(super) fn fail_inflight(&mut self, err: RequestError) {
        self.fail_inflight_split(err.clone(), err);
    }

    /// Fails every in-flight request: with `sent` those whose frame fully left (the server
    /// may have applied them), with `unsent` those not (or only partly) written, which the
    /// server cannot have applied.
    pub(super) fn fail_inflight_split(&mut self, sent: RequestError, unsent: RequestError) {
        let (unsent_n, unsent_auth) = self.unsent.counts();
        self.unsent.reset();
        let inflight = std::mem::take(&mut self.inflight);
        let first_unsent = inflight.len().saturating_sub(unsent_n);
        for (i, f) in inflight.into_iter().enumerate() {
            if let Owner::User(id, _, path) = f.owner {
                let err = if i < first_unsent { &sent } else { &unsent };
                self.events.push_back(Event::Reply {
                    id,
                    reply: Reply {
                        zxid: -1,
                        result: Err(err.clone()),
                        path,
                    },
                });
            }
        }
        self.auth_sent.clear();
        let auths = std::mem::take(&mut self.auth_inflight);
        let first_unsent = auths.len().saturating_sub(unsent_auth);
        for (i, a) in auths.into_iter().enumerate() {
            let Some(id) = a else { continue };
            let err = if i < first_unsent { &sent } else { &unsent };
            self.events.push_back(Event::Reply {
                id,
                reply: Reply {
                    zxid: -1,
                    result: Err(err.clone()),
                    path: None,
                },
            });
        }
    }

    pub(super) fn fail_queue(&mut self, err: RequestError) {
        for q in std::mem::take(&mut self.queue) {
            self.events.push_back(Event::Reply {
                id: q.id,
                reply: Reply {
                    zxid: -1,
                    result: Err(err.clone()),
                    path: q.req.into_path(),
                },
            });
        }
    }
}

fn check_size(req: &Request, max: usize) -> Result<(), RequestError> {
    let mut scratch = BytesMut::new();
    encode_request(0, req, &mut scratch, max).map_err(RequestError::Encode)
}
