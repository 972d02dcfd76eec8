//! Name resolution that never blocks the loop.
//!
//! A host given as an IP address needs no lookup: it is parsed on the spot ([`literal`]).
//! A name is looked up by a [`Resolver`] (the system's `getaddrinfo` by default), which may
//! block for seconds (a slow or unreachable DNS server). So it runs on a short-lived thread
//! of its own, one per lookup; the answer comes back to the loop through a task that the
//! thread wakes. **This is the only thread the library ever starts**, and a connect string
//! made of IP addresses never starts it.
//!
//! The loop learns of the answer at once when it owns its `mio::Poll` (the thread's wake-up
//! interrupts the poll). An embedded loop's host polls
//! with its own single `mio::Waker`, which the library cannot use, so while a lookup is
//! outstanding there the loop also looks every [`EMBEDDED_TICK`] (a timer the host's
//! `next_timeout` includes).
//!
//! Why a thread per lookup rather than an injected asynchronous resolver: the system's
//! resolver has no non-blocking interface, lookups happen once per connection attempt (not
//! per request), and a thread that lives only for the lookup keeps the library free of a
//! pool or a runtime. The [`Resolver`] is still replaceable
//! ([`ClientBuilder::resolver`](super::ClientBuilder::resolver)), for a service registry, a
//! fixed table, or a test.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::hosts::HostPort;
use crate::error::Error;
use crate::handler::{EventLoop, TaskId};

/// How often an embedded loop looks for the answer of an outstanding lookup.
pub(crate) const EMBEDDED_TICK: Duration = Duration::from_millis(10);

type ResolveFn = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

/// Turns a host name and port into the addresses to try, in order. It runs on a thread of
/// its own (never on the loop), so it may block; the client tries every address it returns
/// until one accepts the connection, and asks again each time it connects to the host (so
/// on each pass over its host list).
///
/// The default, [`Resolver::system`], is the operating system's resolver (`getaddrinfo`).
/// Hosts given as IP addresses are never passed to a resolver.
///
/// # Threads
///
/// Each lookup runs on a short-lived thread of its own, which ends with the lookup. It is
/// the only thread the library starts; a connect string made of IP addresses starts none.
/// A lookup the client no longer needs (the connection attempt timed out, the client was
/// stopped) is abandoned: its thread finishes and its answer is dropped.
///
/// # Addresses
///
/// While a host has more addresses, one that refuses or fails is followed at once by the
/// next; one that does not answer at all gets its share of the host's connect timeout
/// (session timeout / number of hosts / number of addresses, at least 250 ms).
///
/// # Examples
///
/// A fixed table (a test, or names that a service registry knows):
///
/// ```
/// use std::io;
/// use std::net::SocketAddr;
/// use mio_zookeeper::{Client, Resolver};
///
/// let table = Resolver::new(|host: &str, port: u16| match host {
///     "zk.internal" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
///     _ => Err(io::Error::new(io::ErrorKind::NotFound, format!("unknown host {host}"))),
/// });
/// assert_eq!(table.resolve("zk.internal", 2181)?, [SocketAddr::from(([127, 0, 0, 1], 2181))]);
/// // Connects to 127.0.0.1:2181 once started.
/// let zk = Client::builder("zk.internal:2181").resolver(table).build()?;
/// # drop(zk);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Resolver(Arc<ResolveFn>);

impl Resolver {
    /// A resolver made of a function from host name and port to addresses.
    pub fn new<F>(f: F) -> Resolver
    where
        F: Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    {
        Resolver(Arc::new(f))
    }

    /// The operating system's resolver (`ToSocketAddrs`, i.e. `getaddrinfo`).
    pub fn system() -> Resolver {
        Resolver::new(|host, port| Ok((host, port).to_socket_addrs()?.collect()))
    }

    /// Runs the lookup on the calling thread.
    pub fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        (self.0)(host, port)
    }
}

impl Default for Resolver {
    fn default() -> Resolver {
        Resolver::system()
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver(..)")
    }
}

/// The address of a host given as an IP address (no lookup needed), else `None`.
pub(crate) fn literal(hp: &HostPort) -> Option<SocketAddr> {
    hp.host
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, hp.port))
}

/// What the lookup thread hands back.
#[derive(Default)]
struct Slot {
    answer: Option<io::Result<Vec<SocketAddr>>>,
    waker: Option<Waker>,
}

fn lock(slot: &Mutex<Slot>) -> std::sync::MutexGuard<'_, Slot> {
    // The thread only stores a value under the lock: a panic cannot leave it half-written.
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// An outstanding lookup. Dropping it abandons the lookup: the callback is never called
/// (the thread finishes its lookup and its answer is thrown away).
pub(crate) struct Lookup {
    lp: Weak<dyn EventLoop>,
    task: TaskId,
}

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lookup").finish_non_exhaustive()
    }
}

impl Drop for Lookup {
    fn drop(&mut self) {
        if let Some(lp) = self.lp.upgrade() {
            lp.cancel_task(self.task);
        }
    }
}

/// Looks `hp` up with `resolver` on a thread of its own; `done` runs on the loop with the
/// addresses (never an empty list: no address is an error), unless the returned [`Lookup`]
/// was dropped first.
///
/// # Notable errors
///
/// [`Error::Io`] when the thread cannot be started.
pub(crate) fn lookup<F>(
    lp: &Rc<dyn EventLoop>,
    resolver: &Resolver,
    hp: &HostPort,
    done: F,
) -> Result<Lookup, Error>
where
    F: FnOnce(io::Result<Vec<SocketAddr>>) + 'static,
{
    let slot = Arc::new(Mutex::new(Slot::default()));
    let (theirs, resolver, host, port) = (slot.clone(), resolver.clone(), hp.host.clone(), hp.port);
    std::thread::Builder::new()
        .name(format!("zk-resolve {host}"))
        .spawn(move || {
            let answer = match resolver.resolve(&host, port) {
                Ok(addrs) if addrs.is_empty() => Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} resolved to no address"),
                )),
                other => other,
            };
            let waker = {
                let mut s = lock(&theirs);
                s.answer = Some(answer);
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        })
        .map_err(|e| Error::io("starting a thread to resolve a host name", e))?;
    let task = lp.spawn_task(Box::pin(Waiting {
        slot,
        done: Some(Box::new(done)),
        lp: Rc::downgrade(lp),
        tick: None,
        embedded: lp.is_embedded(),
    }));
    Ok(Lookup {
        lp: Rc::downgrade(lp),
        task,
    })
}

type Done = Box<dyn FnOnce(io::Result<Vec<SocketAddr>>)>;

/// The loop's side of a lookup: a task that completes when the thread has answered.
struct Waiting {
    slot: Arc<Mutex<Slot>>,
    done: Option<Done>,
    lp: Weak<dyn EventLoop>,
    /// On an embedded loop: set by the timer of the next look at the slot (armed while
    /// `Some`).
    tick: Option<Rc<Cell<bool>>>,
    embedded: bool,
}

impl Waiting {
    fn answer(&self, cx: &Context<'_>) -> Option<io::Result<Vec<SocketAddr>>> {
        let mut s = lock(&self.slot);
        let answer = s.answer.take();
        if answer.is_none() {
            s.waker = Some(cx.waker().clone());
        }
        answer
    }
}

impl Future for Waiting {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some(answer) = self.answer(cx) {
                if let Some(done) = self.done.take() {
                    done(answer);
                }
                return Poll::Ready(());
            }
            if !self.embedded {
                return Poll::Pending;
            }
            let Some(lp) = self.lp.upgrade() else {
                return Poll::Ready(());
            };
            match &self.tick {
                Some(fired) if !fired.get() => return Poll::Pending,
                Some(_) => self.tick = None, // look again, and arm the next tick
                None => {
                    let fired = Rc::new(Cell::new(false));
                    let (f, waker) = (fired.clone(), cx.waker().clone());
                    lp.set_timer_fn(lp.now() + EMBEDDED_TICK, move || {
                        f.set(true);
                        waker.wake();
                    });
                    self.tick = Some(fired);
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn hp(host: &str) -> HostPort {
        HostPort {
            host: host.into(),
            port: 2181,
        }
    }

    #[test]
    fn ip_literals_need_no_lookup() {
        assert_eq!(
            literal(&hp("127.0.0.1")),
            Some(SocketAddr::from(([127, 0, 0, 1], 2181)))
        );
        assert_eq!(
            literal(&hp("::1")),
            Some("[::1]:2181".parse::<SocketAddr>().unwrap())
        );
        assert_eq!(literal(&hp("localhost")), None);
        assert_eq!(literal(&hp("zk-0.zk.svc")), None);
    }

    #[test]
    fn a_lookup_answers_on_the_loop_and_an_abandoned_one_never_does() {
        use crate::handler::{Handler, MioHandler};
        let handler = MioHandler::new().unwrap();
        let lp = handler.event_loop();
        let resolver = Resolver::new(|host, port| {
            std::thread::sleep(Duration::from_millis(20));
            if host == "nowhere" {
                return Ok(Vec::new());
            }
            Ok(vec![SocketAddr::from(([10, 0, 0, 1], port))])
        });
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        let _a = lookup(&lp, &resolver, &hp("somewhere"), move |r| {
            g.borrow_mut().push(r.map_err(|e| e.kind()))
        })
        .unwrap();
        let g = got.clone();
        let _b = lookup(&lp, &resolver, &hp("nowhere"), move |r| {
            g.borrow_mut().push(r.map_err(|e| e.kind()))
        })
        .unwrap();
        let g = got.clone();
        let abandoned = lookup(&lp, &resolver, &hp("somewhere"), move |r| {
            g.borrow_mut().push(r.map_err(|e| e.kind()))
        })
        .unwrap();
        drop(abandoned);
        handler
            .run_until(&|| got.borrow().len() >= 2, Some(Duration::from_secs(30)))
            .unwrap();
        handler.sleep(Duration::from_millis(100)).unwrap();
        let mut got = got.borrow().clone();
        got.sort_by_key(|r| r.is_err());
        assert_eq!(
            got,
            vec![
                Ok(vec![SocketAddr::from(([10, 0, 0, 1], 2181))]),
                Err(io::ErrorKind::NotFound)
            ]
        );
    }
}
