//! Finding a server: host order, connection attempts and their backoff, the handshake, the
//! loss of a connection, and probing for a read-write server.

use std::time::{Duration, Instant};

use bytes::Bytes;
use log::{debug, info, warn};

use super::backoff::{self, add_saturating};
use super::timer::Timer;
use super::{Action, Conn, InFlight, Owner, RequestError, Session, SessionState, MIN_TICK};
use crate::proto::{
    decode_connect_reply, encode_connect_request, encode_request, xid, AuthPacket, ConnectReply,
    ConnectRequest, Request,
};

/// A small xorshift generator: host shuffling and jitter without a dependency.
#[derive(Debug, Clone)]
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// A float in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Session {
    /// Starts looking for a server.
    pub fn start(&mut self, now: Instant) {
        if self.state != SessionState::Idle {
            return;
        }
        self.set_state(SessionState::Connecting);
        if self.established {
            // A session resumed with `resume`: nothing heard from it yet in this process.
            self.lost_at = Some(now);
            self.update_expiry();
        }
        self.new_pass();
        self.connect_next(now);
    }

    /// The TCP connection asked for by [`Action::Connect`] is established.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.conn != Conn::Connecting {
            return;
        }
        self.set_conn(Conn::Handshaking);
        self.inbuf.clear();
        self.outbuf.clear();
        self.unsent.reset();
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid,
            timeout_ms: duration_ms(self.config.session_timeout),
            session_id: self.session_id,
            passwd: self.passwd.clone(),
            read_only: Some(self.config.read_only),
        };
        encode_connect_request(&req, &mut self.outbuf);
        self.sent(now);
        self.received(now);
        debug!(
            "connected to host {}, handshaking (session 0x{:x})",
            self.host, self.session_id
        );
    }

    /// The connection failed or was closed by the peer.
    pub fn handle_disconnected(&mut self, now: Instant) {
        if self.conn == Conn::Down {
            return;
        }
        // While closing, this ends the close (see `connection_lost`).
        self.connection_lost(now, "the connection was closed", false);
    }

    /// The answer to [`Action::ProbeReadWrite`]: whether `host` is a read-write server.
    pub fn handle_probe_result(&mut self, now: Instant, host: usize, read_write: bool) {
        if host >= self.config.host_count {
            // Not a host of ours: moving there would ask the driver for a host it lacks.
            warn!(
                "probe result for host {host} ignored: there are {} hosts",
                self.config.host_count
            );
            return;
        }
        if read_write && self.state == SessionState::ConnectedReadOnly {
            info!("host {host} is read-write; moving there");
            self.preferred = Some(host);
            self.connection_lost(now, "a read-write server is available", false);
        }
    }

    pub(super) fn new_pass(&mut self) {
        let n = self.config.host_count.max(1);
        self.order = (0..n).collect();
        // Fisher-Yates with the session's own generator.
        for i in (1..n).rev() {
            let j = (self.rng.next() % (i as u64 + 1)) as usize;
            self.order.swap(i, j);
        }
        self.pos = 0;
    }

    /// Connects to the next host of the pass, or schedules the next pass after a backoff.
    pub(super) fn connect_next(&mut self, now: Instant) {
        let host = if let Some(h) = self.preferred.take() {
            Some(h)
        } else if self.pos < self.order.len() {
            self.pos += 1;
            Some(self.order[self.pos - 1])
        } else {
            None
        };
        match host {
            Some(h) => {
                self.host = h;
                self.set_conn(Conn::Connecting);
                let per_host =
                    self.timeout / self.config.host_count.clamp(1, u32::MAX as usize) as u32;
                self.timers.set(
                    Timer::Connect,
                    add_saturating(now, per_host.max(MIN_TICK * 10)),
                );
                debug!("connecting to host {h}");
                self.actions.push_back(Action::Connect { host: h });
            }
            None => {
                // A full pass failed: back off, with ±40% jitter, doubling up to the cap, and
                // never past the point where the session could still be saved.
                let left = if self.established {
                    self.expiry_deadline()
                        .map(|t| t.saturating_duration_since(now))
                } else {
                    None
                };
                let wait = backoff::next_wait(
                    self.backoff,
                    self.config.backoff_max,
                    self.rng.unit(),
                    left,
                );
                self.backoff = backoff::next_backoff(self.backoff, self.config.backoff_max);
                debug!("no host answered; next pass in {wait:?}");
                self.timers.set(Timer::Retry, add_saturating(now, wait));
            }
        }
    }

    /// Drops the current connection: in-flight requests fail with ConnectionLoss, queued ones
    /// wait for the next connection.
    pub(super) fn connection_lost(&mut self, now: Instant, why: &str, was_timeout: bool) {
        if self.closing && self.conn != Conn::Down {
            // Closing: nothing to reconnect for. The requests whose bytes never left are told
            // apart from those written (`finish_closed`), as at the close deadline.
            debug!("connection to host {} lost while closing: {why}", self.host);
            self.finish_closed();
            return;
        }
        let was_up = self.conn == Conn::Up;
        if self.conn != Conn::Down {
            self.actions.push_back(Action::Disconnect);
        }
        if was_up || was_timeout {
            warn!("connection to host {} lost: {why}", self.host);
        } else {
            debug!("connection attempt to host {} failed: {why}", self.host);
        }
        self.set_conn(Conn::Down);
        self.timers.stop(Timer::Connect);
        self.timers.stop(Timer::Probe);
        self.outbuf.clear();
        self.inbuf.clear();
        self.ping_outstanding = false;
        self.connect_auths = 0;
        self.close_sent = false;
        if was_up || (self.established && self.lost_at.is_none()) {
            self.lost_at = self.last_recv.or(Some(now));
            self.update_expiry();
        }
        self.fail_inflight(RequestError::ConnectionLoss);
        if self.state.is_terminal() {
            return;
        }
        // A connection that carried frames after its handshake was a good one: the next
        // pass starts at once with the first backoff. One lost right after its handshake
        // (garbage, or a server closing every connection) counts as a failed attempt: the
        // backoff keeps growing, and from the second in a row the next pass waits for it
        // instead of reconnecting once per round trip.
        let proven = std::mem::take(&mut self.proven);
        if was_up {
            self.unproven_losses = if proven {
                0
            } else {
                self.unproven_losses.saturating_add(1)
            };
        }
        if was_up {
            self.set_state(SessionState::Connecting);
            if proven {
                self.backoff = self.config.backoff_initial;
            }
            self.new_pass();
            // The host that just dropped us goes last. After a read timeout (2T/3) there is
            // only T/3 left before the client-side expiry, exactly one connect timeout with
            // three hosts: spent on a hung host again, the session would be given up although
            // the others are fine.
            if self.order.len() > 1 {
                if let Some(i) = self.order.iter().position(|&h| h == self.host) {
                    let h = self.order.remove(i);
                    self.order.push(h);
                }
            }
        }
        // Expiry is checked before reconnecting so that a long outage ends in Expired.
        if self.established {
            if let Some(t) = self.expiry_deadline() {
                if now >= t {
                    self.expire(now);
                    return;
                }
            }
        }
        if was_up && self.unproven_losses >= 2 {
            // Not at once: the pass is over (a read-write host found by a probe still
            // comes first).
            self.pos = self.order.len();
        }
        self.connect_next(now);
    }

    pub(super) fn on_connect_reply(&mut self, now: Instant, frame: Bytes) -> bool {
        let resp = match decode_connect_reply(&frame) {
            Ok(ConnectReply::Response(r)) => r,
            Ok(ConnectReply::Refused(code)) => {
                // PROTOCOL.md §10: a read-only server that will not take us.
                debug!("host {} refused the session: {code}", self.host);
                self.connection_lost(now, "the server refused the session", false);
                return false;
            }
            Err(e) => {
                self.protocol_error(now, &format!("bad ConnectResponse: {e}"));
                return false;
            }
        };
        self.timers.stop(Timer::Connect);
        if resp.timeout_ms <= 0 {
            if self.established {
                info!("server says session 0x{:x} has expired", self.session_id);
                self.expire(now);
            } else {
                self.protocol_error(
                    now,
                    "the server gave a non-positive timeout to a new session",
                );
            }
            return false;
        }
        let resumed = self.established && resp.session_id == self.session_id;
        self.session_id = resp.session_id;
        // A copy: a slice would keep the whole read buffer it came in alive.
        self.passwd = Bytes::copy_from_slice(&resp.passwd);
        self.timeout = Duration::from_millis(resp.timeout_ms as u64);
        self.established = true;
        self.lost_at = None;
        self.set_conn(Conn::Up);
        self.proven = false;
        let read_only = resp.read_only == Some(true);
        info!(
            "session 0x{:x} {} on host {} (timeout {:?}{})",
            self.session_id,
            if resumed { "resumed" } else { "established" },
            self.host,
            self.timeout,
            if read_only { ", read-only" } else { "" }
        );
        // Auth first, then the watches, then whatever the user queued (PROTOCOL.md §3).
        for (scheme, cred) in self.config.auth.clone() {
            let pkt = Request::Auth(AuthPacket {
                auth_type: 0,
                scheme,
                auth: Some(cred),
            });
            if encode_request(xid::AUTH, &pkt, &mut self.outbuf, usize::MAX).is_ok() {
                self.push_auth(None);
                self.connect_auths += 1;
            }
        }
        if !self.watches.is_empty() {
            for req in self.watches.set_watches_requests(self.last_zxid) {
                let x = self.alloc_xid();
                if encode_request(x, &req, &mut self.outbuf, usize::MAX).is_ok() {
                    self.push_inflight(InFlight {
                        xid: x,
                        op: req.op_code(),
                        owner: Owner::SetWatches(Box::new(req)),
                    });
                }
            }
        }
        self.sent(now);
        if self.connect_auths == 0 {
            self.connected(now, read_only);
        } else {
            self.pending_read_only = read_only;
        }
        true
    }

    pub(super) fn connected(&mut self, now: Instant, read_only: bool) {
        self.set_state(if read_only {
            SessionState::ConnectedReadOnly
        } else {
            SessionState::Connected
        });
        if read_only && self.config.host_count > 1 {
            self.timers.set(
                Timer::Probe,
                add_saturating(now, Duration::from_millis(500)),
            );
        }
        // Also sends closeSession if close() came while we were away.
        self.flush_queue(now);
    }

    pub(super) fn probe(&mut self, now: Instant) {
        let n = self.config.host_count;
        self.probe_next = (self.probe_next + 1) % n.max(1);
        if self.probe_next == self.host {
            self.probe_next = (self.probe_next + 1) % n.max(1);
        }
        self.actions.push_back(Action::ProbeReadWrite {
            host: self.probe_next,
        });
        self.timers.set(
            Timer::Probe,
            add_saturating(now, Duration::from_secs(2).min(self.timeout)),
        );
    }
}

fn duration_ms(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}
