//! A reactor's sources: registration under its tokens, readiness and readiness callbacks.

use mio::event::Source;
use mio::{Interest, Token};

use super::{Reactor, Readiness, SourceSlot};
use crate::{Error, LoopError};

impl Reactor {
    // ----- sources -----

    /// Registers `source` for `interest` and returns its token. Readiness is recorded (see
    /// [`readiness`](Reactor::readiness)); install a callback with
    /// [`set_on_ready`](Reactor::set_on_ready) or use [`register_with`](Reactor::register_with).
    /// The caller keeps the source and must [`deregister`](Reactor::deregister) it.
    pub fn register<S: Source + ?Sized>(
        &self,
        source: &mut S,
        interest: Interest,
    ) -> Result<Token, Error> {
        let mut io = self.inner.io.borrow_mut();
        io.generation += 1;
        let generation = io.generation;
        let key = io.sources.insert(SourceSlot {
            generation,
            ready: Readiness::EMPTY,
            has_callback: false,
            on_ready: None,
            missed: Readiness::EMPTY,
        });
        let token = io.base.checked_add(key).filter(|t| *t < io.limit);
        let Some(token) = token.map(Token) else {
            io.sources.remove(key);
            return Err(Error::Loop(LoopError::TokenRange {
                start: io.base,
                end: io.limit,
            }));
        };
        if let Err(e) = io.registry().register(source, token, interest) {
            io.sources.remove(key);
            return Err(Error::io("registering a source with mio", e));
        }
        Ok(token)
    }

    /// [`register`](Reactor::register) with a readiness callback.
    ///
    /// The callback runs in the dispatch phase of whichever loop iteration sees the event
    /// (possibly a nested one); it should not block. If the source reports readiness while
    /// its callback is running (it blocked), the callback is run again with that readiness
    /// once it returns.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc, time::Duration};
    /// use mio::{net::TcpListener, Interest};
    /// use mio_zookeeper::handler::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let seen = Rc::new(Cell::new(false));
    /// let s = seen.clone();
    /// let token = reactor.register_with(&mut listener, Interest::READABLE, move |r| {
    ///     s.set(r.is_readable())
    /// })?;
    /// let _client = std::net::TcpStream::connect(addr).unwrap();
    /// reactor.run_until(&|| seen.get(), Some(Duration::from_secs(5)))?;
    /// reactor.deregister(&mut listener, token)?;
    /// # Ok::<(), mio_zookeeper::Error>(())
    /// ```
    pub fn register_with<S, F>(
        &self,
        source: &mut S,
        interest: Interest,
        on_ready: F,
    ) -> Result<Token, Error>
    where
        S: Source + ?Sized,
        F: FnMut(Readiness) + 'static,
    {
        let token = self.register(source, interest)?;
        self.set_on_ready(token, on_ready)?;
        Ok(token)
    }

    /// Installs (or replaces) the readiness callback of a registered token.
    pub fn set_on_ready<F: FnMut(Readiness) + 'static>(
        &self,
        token: Token,
        on_ready: F,
    ) -> Result<(), Error> {
        let old = {
            let mut io = self.inner.io.borrow_mut();
            let key = io.key(token);
            let slot = key
                .and_then(|k| io.sources.get_mut(k))
                .ok_or(Error::Loop(LoopError::UnknownToken { token: token.0 }))?;
            slot.has_callback = true;
            slot.on_ready.replace(Box::new(on_ready))
        };
        drop(old);
        Ok(())
    }

    /// Changes the interest of a registered source (e.g. add `WRITABLE` while output is
    /// queued).
    pub fn reregister<S: Source + ?Sized>(
        &self,
        source: &mut S,
        token: Token,
        interest: Interest,
    ) -> Result<(), Error> {
        let io = self.inner.io.borrow();
        if !io.key(token).is_some_and(|k| io.sources.contains(k)) {
            return Err(Error::Loop(LoopError::UnknownToken { token: token.0 }));
        }
        io.registry()
            .reregister(source, token, interest)
            .map_err(|e| Error::io("reregistering a source with mio", e))
    }

    /// Deregisters a source and frees its token (and its readiness callback).
    pub fn deregister<S: Source + ?Sized>(
        &self,
        source: &mut S,
        token: Token,
    ) -> Result<(), Error> {
        let (slot, res) = {
            let mut io = self.inner.io.borrow_mut();
            let Some(key) = io.key(token).filter(|k| io.sources.contains(*k)) else {
                return Err(Error::Loop(LoopError::UnknownToken { token: token.0 }));
            };
            let res = io.registry().deregister(source);
            (io.sources.remove(key), res)
        };
        drop(slot);
        res.map_err(|e| Error::io("deregistering a source from mio", e))
    }

    /// The readiness a token has seen since its owner last cleared it (empty for an unknown
    /// token).
    pub fn readiness(&self, token: Token) -> Readiness {
        let io = self.inner.io.borrow();
        io.key(token)
            .and_then(|k| io.sources.get(k))
            .map_or(Readiness::EMPTY, |s| s.ready)
    }

    /// Clears readiness flags of a token; call it when an operation returns `WouldBlock`
    /// ([`TcpSocket`](super::TcpSocket) does this itself).
    pub fn clear_readiness(&self, token: Token, which: Readiness) {
        let mut io = self.inner.io.borrow_mut();
        if let Some(k) = io.key(token) {
            if let Some(s) = io.sources.get_mut(k) {
                s.ready = s.ready.remove(which);
            }
        }
    }
}
