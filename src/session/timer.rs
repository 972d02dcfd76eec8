//! The session's timers: one deadline per [`Timer`], kept in a [`TimerTable`] (STYLE.md
//! habit 1, after quinn-proto's `connection/timer.rs`).
//!
//! The session arms and stops each timer where the event that moves it happens (a frame sent,
//! bytes received, the connection up or down, ...); [`Session::poll_timeout`] is the earliest
//! armed deadline and [`Session::handle_timeout`] fires the due ones, so calling it early or
//! twice does nothing new. Each [`Timer`] variant says what it is for (T = the negotiated
//! session timeout, PROTOCOL.md §9).

use std::time::{Duration, Instant};

use log::{info, warn};

use super::backoff::add_saturating;
use super::{Conn, Session, MIN_TICK};
use crate::proto::{encode_request, xid, Request};

/// One of the session's deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// The reconnect backoff after a failed pass over the hosts is over: start the next pass.
    Retry,
    /// The current connection attempt (TCP connect plus handshake, T / number-of-hosts) gave
    /// up.
    Connect,
    /// closeSession was not answered in time (2T/3, at most `CLOSE_WAIT_MAX`).
    Close,
    /// T/3 without sending anything on an established connection: send a ping. Stopped while
    /// a ping is unanswered.
    Ping,
    /// 2T/3 without receiving anything on an established connection: drop it.
    Read,
    /// Connected to a read-only server: ask another host whether it is read-write.
    Probe,
    /// T without hearing from any server since the connection was lost (plus T/6 for a
    /// handshake under way): the session is taken as expired on the client side.
    Expiry,
}

impl Timer {
    /// Every timer, in the order [`Session::handle_timeout`] looks at them.
    pub(super) const ALL: [Timer; 7] = [
        Timer::Close,
        Timer::Connect,
        Timer::Read,
        Timer::Ping,
        Timer::Probe,
        Timer::Expiry,
        Timer::Retry,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// A deadline per [`Timer`], `None` when stopped.
#[derive(Debug, Clone, Default)]
pub(super) struct TimerTable {
    data: [Option<Instant>; Timer::ALL.len()],
}

impl TimerTable {
    /// Arms `timer` for `at` (replacing its previous deadline).
    pub(super) fn set(&mut self, timer: Timer, at: Instant) {
        self.data[timer.index()] = Some(at);
    }

    /// Stops `timer`.
    pub(super) fn stop(&mut self, timer: Timer) {
        self.data[timer.index()] = None;
    }

    /// The deadline of `timer`, if armed.
    pub(super) fn get(&self, timer: Timer) -> Option<Instant> {
        self.data[timer.index()]
    }

    /// Whether `timer` is armed and due at `now`.
    pub(super) fn is_due(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|t| now >= t)
    }

    /// The earliest armed deadline.
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        self.data.iter().flatten().min().copied()
    }
}

impl Session {
    /// The next instant at which [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// Time passed; fires whatever is due. Safe to call early or more than once.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in Timer::ALL {
            if !self.timers.is_due(timer, now) {
                continue;
            }
            match timer {
                Timer::Close => {
                    warn!("closeSession not answered in time; closing anyway");
                    self.finish_closed();
                    return;
                }
                Timer::Connect => {
                    if matches!(self.conn, Conn::Connecting | Conn::Handshaking) {
                        self.connection_lost(now, "connect timed out", false);
                    }
                }
                Timer::Read => {
                    if self.conn == Conn::Up {
                        self.connection_lost(
                            now,
                            "nothing received for 2/3 of the session timeout",
                            true,
                        );
                    }
                }
                Timer::Ping => {
                    if self.conn == Conn::Up {
                        self.send_ping(now);
                    }
                }
                Timer::Probe => {
                    if self.conn == Conn::Up {
                        self.probe(now);
                    }
                }
                Timer::Expiry => {
                    info!(
                        "no server reached for longer than the session timeout ({:?}): session 0x{:x} taken as expired",
                        self.timeout, self.session_id
                    );
                    self.expire(now);
                }
                Timer::Retry => {
                    if self.conn == Conn::Down {
                        self.timers.stop(Timer::Retry);
                        self.new_pass();
                        self.connect_next(now);
                    }
                }
            }
        }
    }

    /// Moves the connection to `conn` and the timers that follow it: the ping and read
    /// timers run only while the connection is up, the expiry timer only while it is not.
    pub(super) fn set_conn(&mut self, conn: Conn) {
        let was_up = self.conn == Conn::Up;
        self.conn = conn;
        if conn == Conn::Up && !was_up {
            self.arm_read();
            self.arm_ping();
        } else if conn != Conn::Up {
            self.timers.stop(Timer::Ping);
            self.timers.stop(Timer::Read);
            self.timers.stop(Timer::Probe);
        }
        self.update_expiry();
    }

    /// Something was written to the connection at `now`: the ping waits T/3 from here.
    pub(super) fn sent(&mut self, now: Instant) {
        self.last_send = Some(now);
        self.arm_ping();
    }

    /// Bytes arrived at `now`: the read timeout counts 2T/3 from here.
    pub(super) fn received(&mut self, now: Instant) {
        self.last_recv = Some(now);
        self.arm_read();
    }

    /// Arms the ping timer T/3 after the last send, unless the connection is not up or a
    /// ping is unanswered.
    pub(super) fn arm_ping(&mut self) {
        match self.last_send {
            Some(t) if self.conn == Conn::Up && !self.ping_outstanding => {
                let at = add_saturating(t, (self.timeout / 3).max(MIN_TICK));
                self.timers.set(Timer::Ping, at);
            }
            _ => self.timers.stop(Timer::Ping),
        }
    }

    /// Arms the read timer 2T/3 after the last bytes received, while the connection is up.
    fn arm_read(&mut self) {
        match self.last_recv {
            Some(t) if self.conn == Conn::Up => {
                let at = add_saturating(t, (self.timeout * 2 / 3).max(MIN_TICK));
                self.timers.set(Timer::Read, at);
            }
            _ => self.timers.stop(Timer::Read),
        }
    }

    /// Re-arms the expiry timer from what it depends on: the time of the loss, the timeout,
    /// whether a handshake is under way, and whether there is a session to expire. Called
    /// whenever one of them changes.
    pub(super) fn update_expiry(&mut self) {
        let armed = self.conn != Conn::Up && self.established && !self.state.is_terminal();
        match self.expiry_deadline() {
            Some(at) if armed => self.timers.set(Timer::Expiry, at),
            _ => self.timers.stop(Timer::Expiry),
        }
    }

    /// When the session is taken as expired on the client side: T after the last bytes
    /// received from a server (`lost_at`), plus T/6 for a handshake already under way (the
    /// server's answer, resumed or expired, is worth more than our guess).
    pub(super) fn expiry_deadline(&self) -> Option<Instant> {
        let t = self.timeout.max(MIN_TICK);
        let grace = if self.conn == Conn::Handshaking {
            t / 6
        } else {
            Duration::ZERO
        };
        self.lost_at
            .map(|at| add_saturating(at, t.saturating_add(grace)))
    }

    /// Stops the timers of a session that can do nothing more (a pending close's deadline
    /// would turn AuthFailed into Closed, a pending backoff would revive a Closed session).
    pub(super) fn stop_all_timers(&mut self) {
        self.timers = TimerTable::default();
    }

    pub(super) fn send_ping(&mut self, now: Instant) {
        if encode_request(xid::PING, &Request::Ping, &mut self.outbuf, usize::MAX).is_ok() {
            self.ping_outstanding = true;
            self.sent(now);
        }
    }
}
