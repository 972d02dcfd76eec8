//! The host's side of embedding: token ranges handed out without overlap, and one set of
//! calls that drives every embedded reactor of a `mio::Poll`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::Range;
use std::time::Duration;

use mio::event::Event;
use mio::Registry;

use super::{Reactor, WeakReactor};
use crate::{Error, LoopError};

/// Who holds a range of tokens.
enum Holder {
    /// The host's own sources ([`EmbeddedHost::reserve`]).
    Host,
    /// An embedded reactor; the range is free again once it is dropped.
    Reactor(WeakReactor),
}

struct Grant {
    range: Range<usize>,
    holder: Holder,
}

impl Grant {
    fn is_live(&self) -> bool {
        match &self.holder {
            Holder::Host => true,
            Holder::Reactor(w) => w.upgrade().is_some(),
        }
    }

    fn holder_name(&self) -> &'static str {
        match self.holder {
            Holder::Host => "the host's own sources",
            Holder::Reactor(_) => "another embedded reactor",
        }
    }
}

/// A host application's `mio::Poll`, as seen by the reactors embedded in it: it hands out
/// token ranges (refusing any overlap with
/// [`LoopError::TokenCollision`]) and drives all of
/// its reactors with three calls.
///
/// Make one per `Poll`, next to it. Then, for each client (or group of clients sharing a
/// loop), take a [`reactor`](EmbeddedHost::reactor) (or a handler with
/// [`MioHandler::embedded_in`](crate::MioHandler::embedded_in)) with a range of tokens of
/// its own, and optionally [`reserve`](EmbeddedHost::reserve) the tokens the host uses for
/// its own sources so a client range can never take them. In the host's loop:
///
/// 1. poll no longer than [`next_timeout`](EmbeddedHost::next_timeout);
/// 2. hand each event to [`handle_event`](EmbeddedHost::handle_event): `true` means it was
///    one of the reactors' (and it has been handled), `false` means it is the host's own,
///    untouched;
/// 3. call [`run_pending`](EmbeddedHost::run_pending): due timers (pings, connect and
///    read timeouts, reconnect backoff), then the queued callbacks and tasks (the two
///    halves are also available alone: [`run_timers`](EmbeddedHost::run_timers),
///    [`run_callbacks`](EmbeddedHost::run_callbacks)).
///
/// The reactors register and re-register their sockets themselves (a client's connection
/// changes across reconnects under a token of its range); the host does nothing special.
///
/// # Why an object, rather than a process-wide table
///
/// A `mio::Registry` has no identity the library could key a process-wide record of
/// handed-out ranges on: its address changes when the host moves its `Poll`, a
/// `try_clone` of it has another file descriptor for the same poll, and a descriptor
/// number is reused once a `Poll` is closed (a leaked reactor would then make a fresh,
/// unrelated `Poll` report false collisions). The host, on the other hand, knows which
/// `Poll` it has; an object it keeps next to that `Poll` records ranges exactly, with no
/// global state. [`Reactor::embedded`] stays available for a host that manages its tokens
/// itself; it checks nothing across reactors.
///
/// # Examples
///
/// Two reactors and the host's own listener in one `Poll`:
///
/// ```
/// use std::{cell::Cell, rc::Rc, time::{Duration, Instant}};
/// use mio::{net::TcpListener, Events, Interest, Poll, Token};
/// use mio_zookeeper::{EmbeddedHost, Error, LoopError};
///
/// let mut poll = Poll::new().unwrap();
/// let host = EmbeddedHost::new(poll.registry())?;
///
/// // The host's own source, under a token it reserves.
/// const LISTENER: Token = Token(0);
/// host.reserve(0..1)?;
/// let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// poll.registry().register(&mut listener, LISTENER, Interest::READABLE).unwrap();
///
/// let a = host.reactor(100..200)?;
/// let b = host.reactor(200..300)?;
/// // Overlapping ranges are refused, with the range that holds the tokens.
/// let err = host.reactor(150..250).unwrap_err();
/// assert!(matches!(
///     err,
///     Error::Loop(LoopError::TokenCollision { other_start: 100, other_end: 200, .. })
/// ));
///
/// let fired = Rc::new(Cell::new(0));
/// for r in [&a, &b] {
///     let f = fired.clone();
///     r.set_timeout(Duration::from_millis(5), move || f.set(f.get() + 1));
/// }
/// let _peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
///
/// let mut events = Events::with_capacity(64);
/// let mut accepted = 0;
/// let give_up = Instant::now() + Duration::from_secs(10);
/// while (fired.get() < 2 || accepted == 0) && Instant::now() < give_up {
///     poll.poll(&mut events, host.next_timeout()).unwrap();
///     for event in events.iter() {
///         if !host.handle_event(event) {
///             assert_eq!(event.token(), LISTENER); // the host's own event, untouched
///             while listener.accept().is_ok() {
///                 accepted += 1;
///             }
///         }
///     }
///     host.run_pending()?;
/// }
/// assert_eq!((fired.get(), accepted), (2, 1));
/// # Ok::<(), Error>(())
/// ```
pub struct EmbeddedHost {
    registry: Registry,
    grants: RefCell<Vec<Grant>>,
    /// How many `each_reactor` walks are in progress (they go by index: no pruning then).
    walking: Cell<u32>,
}

impl fmt::Debug for EmbeddedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("EmbeddedHost");
        if let Ok(g) = self.grants.try_borrow() {
            let ranges: Vec<_> = g
                .iter()
                .filter(|g| g.is_live())
                .map(|g| (g.range.clone(), g.holder_name()))
                .collect();
            d.field("ranges", &ranges);
        }
        d.finish_non_exhaustive()
    }
}

impl EmbeddedHost {
    /// The host side of embedding for the `mio::Poll` that owns `registry` (a clone of the
    /// registry is kept, to make reactors with).
    ///
    /// # Notable errors
    ///
    /// [`Error::Io`] if the registry cannot be cloned.
    pub fn new(registry: &Registry) -> Result<EmbeddedHost, Error> {
        let registry = registry
            .try_clone()
            .map_err(|e| Error::io("cloning the host's mio::Registry", e))?;
        Ok(EmbeddedHost {
            registry,
            grants: RefCell::new(Vec::new()),
            walking: Cell::new(0),
        })
    }

    /// Records `tokens` as the host's own: no reactor range may overlap them. Events under
    /// them are never claimed by [`handle_event`](EmbeddedHost::handle_event).
    ///
    /// # Notable errors
    ///
    /// [`LoopError::TokenRange`] for an empty range;
    /// [`LoopError::TokenCollision`] if it overlaps a
    /// range already handed out or reserved.
    pub fn reserve(&self, tokens: Range<usize>) -> Result<(), Error> {
        if tokens.is_empty() {
            return Err(Error::Loop(LoopError::TokenRange {
                start: tokens.start,
                end: tokens.end,
            }));
        }
        self.claim(tokens, Holder::Host)
    }

    /// A new reactor embedded in this host's `Poll`, registering its sources under
    /// `tokens` (see [`Reactor::embedded`]). The range is the reactor's until the last
    /// handle to it (its handler, its clients) is dropped.
    ///
    /// # Notable errors
    ///
    /// [`LoopError::TokenRange`] when `tokens` is empty or reaches
    /// `usize::MAX`;
    /// [`LoopError::TokenCollision`] when it overlaps a range
    /// already handed out or reserved.
    pub fn reactor(&self, tokens: Range<usize>) -> Result<Reactor, Error> {
        self.check_free(&tokens)?;
        let reactor = Reactor::embedded(&self.registry, tokens.clone())?;
        self.claim(tokens, Holder::Reactor(reactor.downgrade()))?;
        Ok(reactor)
    }

    /// The live ranges handed out or reserved, in the order they were claimed, each with
    /// whether it is the host's own ([`reserve`](EmbeddedHost::reserve)).
    pub fn ranges(&self) -> Vec<(Range<usize>, bool)> {
        self.prune();
        self.grants
            .borrow()
            .iter()
            .map(|g| (g.range.clone(), matches!(g.holder, Holder::Host)))
            .collect()
    }

    /// Handles `event` if its token belongs to one of this host's reactors (records the
    /// readiness and runs the source's readiness callback, e.g. the client reading replies)
    /// and returns `true`; returns `false`, touching nothing, for any other token: the
    /// host's own events are never swallowed.
    pub fn handle_event(&self, event: &Event) -> bool {
        let token = event.token().0;
        let reactor = {
            let grants = self.grants.borrow();
            let Some(g) = grants.iter().find(|g| g.range.contains(&token)) else {
                return false;
            };
            match &g.holder {
                Holder::Host => return false,
                Holder::Reactor(w) => match w.upgrade() {
                    Some(r) => r,
                    // Its reactor is gone and so are its registrations; a late event for
                    // one of them is not the host's either.
                    None => return true,
                },
            }
        };
        reactor.handle_event(event)
    }

    /// How long the host may block in its poll: the smallest
    /// [`Reactor::next_timeout`] of its reactors (`Some(ZERO)` when one has work queued,
    /// `None` when none has a timer). Combine it with the host's own timeouts.
    pub fn next_timeout(&self) -> Option<Duration> {
        let mut best: Option<Duration> = None;
        self.each_reactor(|r| {
            if let Some(t) = r.next_timeout() {
                best = Some(best.map_or(t, |b| b.min(t)));
            }
            Ok(())
        })
        .ok();
        best
    }

    /// Runs every reactor's [`run_pending`](Reactor::run_pending): due timers, then the
    /// queued callbacks and tasks. Call it after each poll (and its events). Returns
    /// whether anything ran.
    ///
    /// # Notable errors
    ///
    /// [`LoopError::NestingTooDeep`] if called from deep inside
    /// callbacks; the other reactors
    /// still run, and the first error is returned.
    pub fn run_pending(&self) -> Result<bool, Error> {
        self.each_run(Reactor::run_pending)
    }

    /// Runs `f` on every live reactor; whether any did something, or the first error.
    fn each_run(&self, f: impl Fn(&Reactor) -> Result<bool, Error>) -> Result<bool, Error> {
        let mut did = false;
        let mut first_err = None;
        self.each_reactor(|r| {
            match f(r) {
                Ok(d) => did |= d,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
            Ok(())
        })?;
        match first_err {
            Some(e) => Err(e),
            None => Ok(did),
        }
    }

    /// Every reactor's [`run_timers`](Reactor::run_timers): fires the due timers only.
    ///
    /// # Notable errors
    ///
    /// As [`run_pending`](EmbeddedHost::run_pending).
    pub fn run_timers(&self) -> Result<bool, Error> {
        self.each_run(Reactor::run_timers)
    }

    /// Every reactor's [`run_callbacks`](Reactor::run_callbacks): runs the queued
    /// callbacks and tasks only.
    ///
    /// # Notable errors
    ///
    /// As [`run_pending`](EmbeddedHost::run_pending).
    pub fn run_callbacks(&self) -> Result<bool, Error> {
        self.each_run(Reactor::run_callbacks)
    }

    /// Calls `f` with each live reactor, holding no borrow while it runs (callbacks may
    /// claim new ranges).
    fn each_reactor(&self, mut f: impl FnMut(&Reactor) -> Result<(), Error>) -> Result<(), Error> {
        struct Walk<'a>(&'a Cell<u32>);
        impl Drop for Walk<'_> {
            fn drop(&mut self) {
                self.0.set(self.0.get() - 1);
            }
        }
        self.walking.set(self.walking.get() + 1);
        let _walk = Walk(&self.walking);
        let mut i = 0;
        loop {
            let next = {
                let grants = self.grants.borrow();
                let Some(g) = grants.get(i) else {
                    return Ok(());
                };
                match &g.holder {
                    Holder::Host => None,
                    Holder::Reactor(w) => w.upgrade(),
                }
            };
            if let Some(r) = next {
                f(&r)?;
            }
            i += 1;
        }
    }

    /// Forgets the ranges of reactors that were dropped (not while a walk is in progress).
    fn prune(&self) {
        if self.walking.get() > 0 {
            return;
        }
        if let Ok(mut g) = self.grants.try_borrow_mut() {
            g.retain(Grant::is_live);
        }
    }

    fn check_free(&self, tokens: &Range<usize>) -> Result<(), Error> {
        self.prune();
        let grants = self.grants.borrow();
        let clash = grants
            .iter()
            .find(|g| g.is_live() && g.range.start < tokens.end && tokens.start < g.range.end);
        match clash {
            Some(g) => Err(Error::Loop(LoopError::TokenCollision {
                start: tokens.start,
                end: tokens.end,
                other_start: g.range.start,
                other_end: g.range.end,
                holder: g.holder_name(),
            })),
            None => Ok(()),
        }
    }

    fn claim(&self, tokens: Range<usize>, holder: Holder) -> Result<(), Error> {
        self.check_free(&tokens)?;
        self.grants.borrow_mut().push(Grant {
            range: tokens,
            holder,
        });
        Ok(())
    }
}
