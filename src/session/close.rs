//! How a session ends: a close (closeSession, or at once), an expiry (then maybe a new
//! session), or refused credentials.

use std::time::Instant;

use bytes::Bytes;

use super::backoff::add_saturating;
use super::timer::Timer;
use super::{
    Action, Conn, InFlight, Owner, RequestError, Session, SessionState, CLOSE_WAIT_MAX, MIN_TICK,
};
use crate::proto::{encode_request, OpCode, Request};

impl Session {
    /// Closes the session: requests already submitted go out first, then closeSession; when
    /// the server answers (or after the read timeout) the state is [`SessionState::Closed`].
    pub fn close(&mut self, now: Instant) {
        if self.state.is_terminal() || self.closing {
            return;
        }
        self.closing = true;
        if self.conn == Conn::Up {
            // Sends closeSession once the queue is out (see `flush_queue`).
            self.flush_queue(now);
        } else {
            self.finish_closed();
        }
    }

    /// Sends closeSession and arms the timer that gives up waiting for its answer.
    pub(super) fn send_close(&mut self, now: Instant) {
        self.close_sent = true;
        let x = self.alloc_xid();
        if encode_request(x, &Request::CloseSession, &mut self.outbuf, usize::MAX).is_ok() {
            self.push_inflight(InFlight {
                xid: x,
                op: OpCode::CloseSession,
                owner: Owner::Close,
            });
            self.sent(now);
        }
        let wait = (self.timeout * 2 / 3).clamp(MIN_TICK, CLOSE_WAIT_MAX);
        self.timers.set(Timer::Close, add_saturating(now, wait));
    }

    /// Closes at once, without waiting for the server to confirm (for a caller that gave up
    /// waiting after [`close`](Self::close)): the connection is dropped, and everything
    /// still pending fails: with [`RequestError::ConnectionLoss`] a request whose bytes were
    /// all written (reported with [`advance_output`](Self::advance_output)), since the
    /// server may have applied it, and with [`RequestError::Closed`] one that was queued or
    /// not fully written. The state becomes [`SessionState::Closed`]. Does nothing once the
    /// session has ended.
    pub fn close_now(&mut self) {
        if self.state.is_terminal() {
            return;
        }
        self.closing = true;
        self.finish_closed();
    }

    /// The session is gone: everything pending fails with SessionExpired, the watches are
    /// forgotten, and a new session is opened unless configured otherwise.
    pub(super) fn expire(&mut self, now: Instant) {
        if self.conn != Conn::Down {
            self.actions.push_back(Action::Disconnect);
            self.set_conn(Conn::Down);
        }
        self.outbuf.clear();
        self.inbuf.clear();
        self.timers.stop(Timer::Connect);
        // A backoff still pending from the old session's reconnect attempts must not fire:
        // with no reconnect it would revive a Closed session, and otherwise the new session
        // makes its own schedule below.
        self.timers.stop(Timer::Retry);
        self.timers.stop(Timer::Probe);
        self.fail_inflight(RequestError::SessionExpired);
        self.fail_queue(RequestError::SessionExpired);
        self.watches.clear();
        self.session_id = 0;
        self.passwd = Bytes::from_static(&[0; 16]);
        self.last_zxid = 0;
        self.established = false;
        self.lost_at = None;
        self.timeout = self.config.session_timeout;
        self.update_expiry();
        self.set_state(SessionState::Expired);
        if self.config.reconnect_after_expiry {
            self.set_state(SessionState::Connecting);
            self.backoff = self.config.backoff_initial;
            self.new_pass();
            self.connect_next(now);
        } else {
            self.closed_reason = RequestError::SessionExpired;
            // Terminal: a close still waiting for its reply wants no timer any more.
            self.timers.stop(Timer::Close);
            self.set_state(SessionState::Closed);
        }
    }

    pub(super) fn finish_closed(&mut self) {
        if self.conn != Conn::Down {
            self.actions.push_back(Action::Disconnect);
            self.set_conn(Conn::Down);
        }
        self.outbuf.clear();
        // Terminal: no timer may fire later.
        self.stop_all_timers();
        // Written and unanswered: the server may have applied it. Never (fully) written:
        // certainly not.
        self.fail_inflight_split(RequestError::ConnectionLoss, RequestError::Closed);
        self.fail_queue(RequestError::Closed);
        self.set_state(SessionState::Closed);
    }

    pub(super) fn auth_failed(&mut self) {
        if self.conn != Conn::Down {
            self.actions.push_back(Action::Disconnect);
            self.set_conn(Conn::Down);
        }
        self.outbuf.clear();
        // Terminal: no timer may fire later (a pending close's deadline would turn
        // AuthFailed into Closed).
        self.stop_all_timers();
        self.fail_inflight(RequestError::AuthFailed);
        self.fail_queue(RequestError::AuthFailed);
        self.set_state(SessionState::AuthFailed);
    }
}
