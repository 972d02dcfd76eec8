//! Connecting to a host: its name resolved off the loop (see [`resolve`]), its addresses
//! tried in turn, each within its share of the host's connect timeout; and the read-only
//! mode's `isro` probe of another host. A child of the driver: it works on the driver's
//! [`Core`].

use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use log::{debug, warn};

use super::{disconnect, failed, now, on_ready, pump, Conn, Probe, Shared};
use crate::client::resolve::{self, Lookup};
use crate::handler::{EventLoop, Readiness};
#[cfg(doc)]
use crate::session::Action;

/// The connection attempt to one host: its addresses, tried in order until one accepts.
pub(super) struct Dial {
    host: usize,
    addrs: Vec<SocketAddr>,
    /// The next address to try (past the end: every address was tried).
    next: usize,
    /// The lookup of the host's name, while it is outstanding.
    lookup: Option<Lookup>,
    /// Names the address attempt under way, so a stale attempt timer does nothing.
    attempt: u64,
}

/// The least time an address is given before the next one is tried.
const MIN_ADDRESS_TIME: Duration = Duration::from_millis(250);

/// [`Action::Connect`]: resolve the host (an IP address at once, a name off the loop, afresh
/// on every attempt, so each pass over the host list sees the name's current addresses) and
/// connect to its addresses in turn. The session hears of a failure only once every address
/// failed.
pub(super) fn connect(shared: &Shared, host: usize) {
    disconnect(shared);
    let (lp, resolver, hp) = {
        let core = shared.borrow();
        (
            core.event_loop.clone(),
            core.resolver.clone(),
            core.hosts.get(host).cloned(),
        )
    };
    let Some(hp) = hp else {
        failed(shared);
        return;
    };
    if let Some(addr) = resolve::literal(&hp) {
        shared.borrow_mut().dial = Some(Dial {
            host,
            addrs: vec![addr],
            next: 0,
            lookup: None,
            attempt: 0,
        });
        dial_next(shared);
        return;
    }
    debug!("resolving {hp}");
    let weak = Rc::downgrade(shared);
    let name = hp.to_string();
    let lookup = resolve::lookup(&lp, &resolver, &hp, move |answer| {
        let Some(shared) = weak.upgrade() else { return };
        let still_wanted = {
            let mut core = shared.borrow_mut();
            match core.dial.as_mut() {
                Some(d) if d.host == host && d.lookup.is_some() => {
                    d.lookup = None;
                    if let Ok(addrs) = &answer {
                        debug!("{name} resolved to {addrs:?}");
                        d.addrs.clone_from(addrs);
                    }
                    true
                }
                _ => false,
            }
        };
        if !still_wanted {
            return;
        }
        if let Err(e) = &answer {
            warn!("cannot resolve {name}: {e}");
        }
        dial_next(&shared);
        pump(&shared);
    });
    match lookup {
        Ok(lookup) => {
            shared.borrow_mut().dial = Some(Dial {
                host,
                addrs: Vec::new(),
                next: 0,
                lookup: Some(lookup),
                attempt: 0,
            });
        }
        Err(e) => {
            warn!("cannot resolve {hp}: {e}");
            failed(shared);
        }
    }
}

/// Starts a connect to the next address of the host being dialled; when none is left, the
/// session is told the host failed.
pub(super) fn dial_next(shared: &Shared) {
    let lp = shared.borrow().event_loop.clone();
    loop {
        let addr = {
            let mut core = shared.borrow_mut();
            core.conn = None;
            match core.dial.as_mut() {
                Some(d) => {
                    let addr = d.addrs.get(d.next).copied();
                    d.next += 1;
                    addr
                }
                None => None,
            }
        };
        let Some(addr) = addr else {
            failed(shared);
            return;
        };
        let socket = match lp.connect(addr) {
            Ok(s) => s,
            Err(e) => {
                debug!("connect to {addr} failed at once: {e}");
                continue;
            }
        };
        debug!("connecting to {addr}");
        let weak = Rc::downgrade(shared);
        let installed = socket.set_on_ready(Box::new(move |r| {
            if let Some(shared) = weak.upgrade() {
                on_ready(&shared, r);
            }
        }));
        if let Err(e) = installed {
            debug!("watching the connect to {addr} failed: {e}");
            continue;
        }
        shared.borrow_mut().conn = Some(Conn {
            socket,
            connecting: true,
            writable_interest: true,
        });
        give_up_on_address_later(shared, &lp, addr);
        return;
    }
}

/// While a host has more addresses after this one, an address that neither accepts nor
/// refuses (a black hole: dropped SYNs) must not use up the session's whole connect timeout
/// for the host (T / number of hosts, PROTOCOL.md §9): it gets its share of it, and then the
/// next address is tried. The last address has whatever is left, until the session's own
/// connect timeout.
fn give_up_on_address_later(shared: &Shared, lp: &Rc<dyn EventLoop>, addr: SocketAddr) {
    let (attempt, share) = {
        let mut guard = shared.borrow_mut();
        let core = &mut *guard;
        let hosts = u32::try_from(core.hosts.len().max(1)).unwrap_or(u32::MAX);
        let per_host = core
            .session
            .as_ref()
            .map_or(MIN_ADDRESS_TIME, |s| s.negotiated_timeout() / hosts);
        core.dial_attempts += 1;
        let attempt = core.dial_attempts;
        let Some(d) = core.dial.as_mut().filter(|d| d.next < d.addrs.len()) else {
            return;
        };
        d.attempt = attempt;
        let addrs = u32::try_from(d.addrs.len()).unwrap_or(u32::MAX);
        (attempt, (per_host / addrs).max(MIN_ADDRESS_TIME))
    };
    let weak = Rc::downgrade(shared);
    let deadline = lp.now() + share;
    lp.set_timer_fn(deadline, move || {
        let Some(shared) = weak.upgrade() else { return };
        let current = {
            let core = shared.borrow();
            core.dial.as_ref().is_some_and(|d| d.attempt == attempt)
                && core.conn.as_ref().is_some_and(|c| c.connecting)
        };
        if current {
            debug!("{addr} did not answer within {share:?}; trying the host's next address");
            dial_next(&shared);
            pump(&shared);
        }
    });
}

/// [`Action::ProbeReadWrite`]: ask `host` (its first address) whether it is read-write.
pub(super) fn probe(shared: &Shared, host: usize) {
    let (lp, resolver, hp) = {
        let mut core = shared.borrow_mut();
        core.probe = None;
        core.probe_lookup = None;
        (
            core.event_loop.clone(),
            core.resolver.clone(),
            core.hosts.get(host).cloned(),
        )
    };
    let Some(hp) = hp else { return };
    if let Some(addr) = resolve::literal(&hp) {
        start_probe(shared, &lp, host, addr);
        return;
    }
    let weak = Rc::downgrade(shared);
    let r = lp.clone();
    let lookup = resolve::lookup(&lp, &resolver, &hp, move |answer| {
        let Some(shared) = weak.upgrade() else { return };
        shared.borrow_mut().probe_lookup = None;
        match answer.map(|a| a.first().copied()) {
            Ok(Some(addr)) => start_probe(&shared, &r, host, addr),
            Ok(None) => {}
            Err(e) => debug!("cannot resolve host {host} to probe it: {e}"),
        }
    });
    match lookup {
        Ok(l) => shared.borrow_mut().probe_lookup = Some(l),
        Err(e) => debug!("cannot resolve host {host} to probe it: {e}"),
    }
}

fn start_probe(shared: &Shared, lp: &Rc<dyn EventLoop>, host: usize, addr: SocketAddr) {
    let Ok(socket) = lp.connect(addr) else {
        return;
    };
    let weak = Rc::downgrade(shared);
    if socket
        .set_on_ready(Box::new(move |r| {
            if let Some(shared) = weak.upgrade() {
                on_probe_ready(&shared, r);
            }
        }))
        .is_ok()
    {
        shared.borrow_mut().probe = Some(Probe {
            socket,
            host,
            sent: false,
            answer: Vec::new(),
        });
    }
}

fn on_probe_ready(shared: &Shared, _r: Readiness) {
    let t = now(shared);
    let mut result = None;
    {
        let mut core = shared.borrow_mut();
        let Some(p) = core.probe.as_mut() else { return };
        if !p.sent {
            match p.socket.connect_result() {
                Ok(true) => {
                    if (&*p.socket).write_all(b"isro").is_err() {
                        core.probe = None;
                        return;
                    }
                    p.sent = true;
                }
                Ok(false) => return,
                Err(_) => {
                    core.probe = None;
                    return;
                }
            }
        }
        let mut buf = [0u8; 16];
        loop {
            match p.socket.read(&mut buf) {
                Ok(0) => {
                    result = Some((p.host, p.answer.starts_with(b"rw")));
                    break;
                }
                Ok(n) => p.answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    result = Some((p.host, false));
                    break;
                }
            }
        }
        if let Some((host, rw)) = result {
            core.probe = None;
            if let Some(s) = core.session.as_mut() {
                s.handle_probe_result(t, host, rw);
            }
        }
    }
    if result.is_some() {
        pump(shared);
    }
}
