//! Readiness flags and the loop's TCP socket.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::ops::{BitOr, BitOrAssign};
use std::rc::Rc;

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::{Reactor, WeakReactor};
use crate::{Error, LoopError};

/// Which kinds of readiness a source has seen: the loop's copy of a `mio` event.
///
/// mio is edge-triggered; the reactor keeps, per token, the union of the readiness seen since
/// the owner last hit `WouldBlock` (see [`Reactor::readiness`]), which gives `select` its
/// level-triggered meaning.
///
/// ```
/// use mio_zookeeper::handler::Readiness;
/// let r = Readiness::READABLE | Readiness::READ_CLOSED;
/// assert!(r.is_readable() && r.is_read_closed() && !r.is_writable());
/// assert!(r.intersects(Readiness::READABLE | Readiness::WRITABLE));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Readiness(u8);

impl Readiness {
    /// Nothing.
    pub const EMPTY: Readiness = Readiness(0);
    /// Readable.
    pub const READABLE: Readiness = Readiness(1);
    /// Writable.
    pub const WRITABLE: Readiness = Readiness(2);
    /// The peer closed its writing half (a read returns 0).
    pub const READ_CLOSED: Readiness = Readiness(4);
    /// The writing half is closed.
    pub const WRITE_CLOSED: Readiness = Readiness(8);
    /// An error is pending on the socket (e.g. a refused connect).
    pub const ERROR: Readiness = Readiness(16);

    /// The readiness carried by a `mio` event.
    pub fn from_event(event: &mio::event::Event) -> Readiness {
        let mut r = Readiness::EMPTY;
        if event.is_readable() {
            r |= Readiness::READABLE;
        }
        if event.is_writable() {
            r |= Readiness::WRITABLE;
        }
        if event.is_read_closed() {
            r |= Readiness::READ_CLOSED;
        }
        if event.is_write_closed() {
            r |= Readiness::WRITE_CLOSED;
        }
        if event.is_error() {
            r |= Readiness::ERROR;
        }
        r
    }

    /// No flag set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Readable.
    pub fn is_readable(self) -> bool {
        self.0 & Self::READABLE.0 != 0
    }
    /// Writable.
    pub fn is_writable(self) -> bool {
        self.0 & Self::WRITABLE.0 != 0
    }
    /// Read half closed.
    pub fn is_read_closed(self) -> bool {
        self.0 & Self::READ_CLOSED.0 != 0
    }
    /// Write half closed.
    pub fn is_write_closed(self) -> bool {
        self.0 & Self::WRITE_CLOSED.0 != 0
    }
    /// Error pending.
    pub fn is_error(self) -> bool {
        self.0 & Self::ERROR.0 != 0
    }
    /// At least one flag in common with `other`.
    pub fn intersects(self, other: Readiness) -> bool {
        self.0 & other.0 != 0
    }
    /// Readable in `select`'s sense: data, end of stream, or an error to read.
    pub fn select_readable(self) -> bool {
        self.intersects(Readiness::READABLE | Readiness::READ_CLOSED | Readiness::ERROR)
    }
    /// Writable in `select`'s sense: room to write, or an error to report.
    pub fn select_writable(self) -> bool {
        self.intersects(Readiness::WRITABLE | Readiness::WRITE_CLOSED | Readiness::ERROR)
    }
    /// `self` without the flags of `other`.
    pub fn remove(self, other: Readiness) -> Readiness {
        Readiness(self.0 & !other.0)
    }
}

impl BitOr for Readiness {
    type Output = Readiness;
    fn bitor(self, rhs: Readiness) -> Readiness {
        Readiness(self.0 | rhs.0)
    }
}

impl BitOrAssign for Readiness {
    fn bitor_assign(&mut self, rhs: Readiness) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::READABLE, "READABLE"),
            (Self::WRITABLE, "WRITABLE"),
            (Self::READ_CLOSED, "READ_CLOSED"),
            (Self::WRITE_CLOSED, "WRITE_CLOSED"),
            (Self::ERROR, "ERROR"),
        ];
        let mut first = true;
        for (flag, name) in names {
            if self.intersects(flag) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("EMPTY")?;
        }
        Ok(())
    }
}

/// A non-blocking TCP stream (with `TCP_NODELAY`) registered with a [`Reactor`] for
/// readable and writable readiness; what kazoo's handler calls a socket.
///
/// Reads and writes go straight to the socket; a `WouldBlock` clears the matching readiness
/// flag, so [`readiness`](TcpSocket::readiness) (and the handler's `select`) stay truthful.
/// Dropping the socket deregisters it.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::net::TcpListener;
/// use std::time::Duration;
/// use mio_zookeeper::handler::{Reactor, TcpSocket};
///
/// let reactor = Reactor::new()?;
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let mut sock = TcpSocket::connect(&reactor, listener.local_addr().unwrap())?;
/// let (mut peer, _) = listener.accept().unwrap();
/// peer.write_all(b"hi").unwrap();
/// reactor.run_until(&|| sock.readiness().is_readable(), Some(Duration::from_secs(5)))?;
/// let mut buf = [0u8; 2];
/// sock.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"hi");
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
pub struct TcpSocket {
    stream: TcpStream,
    token: Token,
    reactor: WeakReactor,
    /// Where `connect` was asked to go (for error messages: a failed connect has no peer).
    target: Option<SocketAddr>,
    /// The reactor's I/O counters.
    counters: Rc<IoCounters>,
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("token", &self.token)
            .field("local", &self.stream.local_addr().ok())
            .field("peer", &self.stream.peer_addr().ok())
            .finish()
    }
}

impl TcpSocket {
    /// Starts a non-blocking connect to `addr` and registers the socket. The connect is in
    /// progress when this returns: it is complete when the socket turns writable and
    /// [`connect_result`](TcpSocket::connect_result) says so (the handler's
    /// `create_connection` does this by running the loop).
    pub fn connect(reactor: &Reactor, addr: SocketAddr) -> Result<TcpSocket, Error> {
        let stream = TcpStream::connect(addr).map_err(|e| connect_error(addr, e))?;
        let mut sock = TcpSocket::from_mio(reactor, stream)?;
        sock.target = Some(addr);
        Ok(sock)
    }

    /// Registers an already connected (or connecting) mio stream, setting `TCP_NODELAY`.
    pub fn from_mio(reactor: &Reactor, mut stream: TcpStream) -> Result<TcpSocket, Error> {
        if let Err(e) = stream.set_nodelay(true) {
            // Not fatal: it fails on a connect that already failed; the error shows later.
            log::debug!("setting TCP_NODELAY failed: {e}");
        }
        let token = reactor.register(&mut stream, Interest::READABLE | Interest::WRITABLE)?;
        Ok(TcpSocket {
            stream,
            token,
            reactor: reactor.downgrade(),
            target: None,
            counters: reactor.inner.io_counters.clone(),
        })
    }

    /// Registers a connected std stream (made non-blocking here).
    pub fn from_std(reactor: &Reactor, stream: std::net::TcpStream) -> Result<TcpSocket, Error> {
        stream
            .set_nonblocking(true)
            .map_err(|e| Error::io("setting O_NONBLOCK", e))?;
        TcpSocket::from_mio(reactor, TcpStream::from_std(stream))
    }

    /// The token this socket is registered under.
    pub fn token(&self) -> Token {
        self.token
    }

    /// The readiness seen since the last `WouldBlock` (see [`Readiness`]).
    pub fn readiness(&self) -> Readiness {
        self.reactor
            .upgrade()
            .map_or(Readiness::EMPTY, |r| r.readiness(self.token))
    }

    /// Whether a connect started by [`connect`](TcpSocket::connect) has finished:
    /// `Ok(true)` connected, `Ok(false)` still in progress (the writable flag is cleared so
    /// the next readiness is awaited), or the connect's error (refused, unreachable, ...).
    pub fn connect_result(&self) -> Result<bool, Error> {
        match self.stream.take_error() {
            Ok(Some(e)) | Err(e) => {
                let peer = self
                    .target
                    .or_else(|| self.stream.peer_addr().ok())
                    .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
                return Err(connect_error(peer, e));
            }
            Ok(None) => {}
        }
        match self.stream.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                self.clear(
                    Readiness::WRITABLE
                        | Readiness::WRITE_CLOSED
                        | Readiness::READ_CLOSED
                        | Readiness::ERROR,
                );
                Ok(false)
            }
            Err(e) => Err(Error::io("reading the peer address", e)),
        }
    }

    /// Installs a callback run by the loop whenever this socket reports readiness (see
    /// [`Reactor::set_on_ready`]).
    pub fn set_on_ready<F: FnMut(Readiness) + 'static>(&self, on_ready: F) -> Result<(), Error> {
        self.reactor
            .upgrade()
            .ok_or(Error::Loop(LoopError::Gone))?
            .set_on_ready(self.token, on_ready)
    }

    /// The underlying mio stream. Reading or writing it directly bypasses the readiness
    /// bookkeeping: clear it yourself with [`Reactor::clear_readiness`] on `WouldBlock`.
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// Local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// Peer address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// Changes the readiness this socket is registered for (it starts with readable and
    /// writable). A stream that writes only when it has output can drop `WRITABLE` while
    /// it has none, so the loop is not woken by every acknowledgement that frees send
    /// space, and take it back when a write would block.
    pub fn set_interest(&mut self, interest: Interest) -> Result<(), Error> {
        self.reactor
            .upgrade()
            .ok_or(Error::Loop(LoopError::Gone))?
            .reregister(&mut self.stream, self.token, interest)
    }

    /// Shuts down one or both halves.
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.stream.shutdown(how)
    }

    fn clear(&self, which: Readiness) {
        if let Some(r) = self.reactor.upgrade() {
            r.clear_readiness(self.token, which);
        }
    }

    fn track<T>(&self, res: io::Result<T>, which: Readiness) -> io::Result<T> {
        if matches!(&res, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.clear(which);
        }
        res
    }
}

pub(crate) fn connect_error(addr: SocketAddr, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        Error::ConnectionRefused { addr }
    } else {
        Error::io("TCP connect", e)
    }
}

impl Read for TcpSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Read for &TcpSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let res = (&self.stream).read(buf);
        self.counters
            .count(&self.counters.reads, &self.counters.bytes_read, &res);
        self.track(res, Readiness::READABLE)
    }
}

impl Write for TcpSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Write for &TcpSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let res = (&self.stream).write(buf);
        self.counters
            .count(&self.counters.writes, &self.counters.bytes_written, &res);
        self.track(res, Readiness::WRITABLE)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&self.stream).flush()
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        if let Some(r) = self.reactor.upgrade() {
            if let Err(e) = r.deregister(&mut self.stream, self.token) {
                log::debug!("deregistering a dropped socket: {e}");
            }
        }
    }
}

/// What a [`Reactor`] has done on the wire so far: its sockets' `read` and `write` calls and
/// its polls, counted from its creation (see [`Reactor::io_stats`]). Cheap to take; compare
/// two snapshots with [`since`](IoStats::since).
///
/// Every call on a [`TcpSocket`] counts, also one that returned `WouldBlock` or an error
/// (each is a system call); bytes count only what was transferred. `polls` counts the polls
/// of the reactor's own `mio::Poll` (one `epoll_wait` each on Linux); it stays 0 on an
/// [embedded](Reactor::embedded) reactor, whose host polls.
///
/// ```
/// use std::io::Write;
/// use std::net::TcpListener;
/// use std::time::Duration;
/// use mio_zookeeper::handler::{Reactor, TcpSocket};
///
/// let reactor = Reactor::new()?;
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let mut sock = TcpSocket::connect(&reactor, listener.local_addr().unwrap())?;
/// let _peer = listener.accept().unwrap();
/// reactor.run_until(&|| sock.readiness().is_writable(), Some(Duration::from_secs(5)))?;
/// let before = reactor.io_stats();
/// assert!(before.polls >= 1);
/// sock.write_all(b"ping").unwrap();
/// let used = reactor.io_stats().since(&before);
/// assert_eq!((used.writes, used.bytes_written, used.reads), (1, 4, 0));
/// assert_eq!(used.syscalls(), 1);
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoStats {
    /// `read` calls on the reactor's sockets.
    pub reads: u64,
    /// `write` calls on the reactor's sockets.
    pub writes: u64,
    /// Bytes those reads returned.
    pub bytes_read: u64,
    /// Bytes those writes took.
    pub bytes_written: u64,
    /// Polls for I/O readiness.
    pub polls: u64,
}

impl IoStats {
    /// The counts since the `earlier` snapshot of the same reactor (field by field).
    pub fn since(&self, earlier: &IoStats) -> IoStats {
        IoStats {
            reads: self.reads.saturating_sub(earlier.reads),
            writes: self.writes.saturating_sub(earlier.writes),
            bytes_read: self.bytes_read.saturating_sub(earlier.bytes_read),
            bytes_written: self.bytes_written.saturating_sub(earlier.bytes_written),
            polls: self.polls.saturating_sub(earlier.polls),
        }
    }

    /// The system calls counted: reads, writes and polls.
    pub fn syscalls(&self) -> u64 {
        self.reads + self.writes + self.polls
    }
}

impl Reactor {
    /// The reactor's I/O counters (see [`IoStats`]).
    pub fn io_stats(&self) -> IoStats {
        self.inner.io_counters.snapshot()
    }
}

/// The live counters behind [`IoStats`], shared by a reactor and its sockets.
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    reads: Cell<u64>,
    writes: Cell<u64>,
    bytes_read: Cell<u64>,
    bytes_written: Cell<u64>,
    polls: Cell<u64>,
}

impl IoCounters {
    fn count(&self, calls: &Cell<u64>, bytes: &Cell<u64>, res: &io::Result<usize>) {
        calls.set(calls.get() + 1);
        if let Ok(n) = res {
            bytes.set(bytes.get() + *n as u64);
        }
    }

    pub(crate) fn count_poll(&self) {
        self.polls.set(self.polls.get() + 1);
    }

    fn snapshot(&self) -> IoStats {
        IoStats {
            reads: self.reads.get(),
            writes: self.writes.get(),
            bytes_read: self.bytes_read.get(),
            bytes_written: self.bytes_written.get(),
            polls: self.polls.get(),
        }
    }
}
