//! A TCP proxy on loopback that records what it carries and can cut connections.
//!
//! Put it between a client and a [`ZkServer`](super::ZkServer) to capture real traffic (each
//! direction of each connection, raw, as zkdump (`src/bin/zkdump`) reads it), or to drop the
//! client's connection without touching the server (a "network blip"). With
//! [`set_refusing`](Proxy::set_refusing) it turns new connections away for a while, so a
//! client stays disconnected (SUSPENDED) until the test lets it back.
//!
//! It also stages the faults a real network makes (see the methods for each):
//!
//! - [`start_random_cuts`](Proxy::start_random_cuts): cut every live connection at seeded
//!   random intervals, at once or in the middle of a frame;
//! - [`cut_after`](Proxy::cut_after): cut every live connection after N more bytes of one
//!   direction (in the middle of a frame);
//! - [`set_frozen`](Proxy::set_frozen): stop forwarding in both directions without closing
//!   anything (a frozen server or a black-holed link), then thaw;
//! - [`set_holding`](Proxy::set_holding): accept new connections but neither connect them
//!   upstream nor forward a byte until released (a slow or hung accept).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::chaos::{Cutter, Direction, RandomCuts, RandomCutsThread};
use super::util::spawn_acceptor;

/// How often a paused relay (frozen, or holding a new connection) looks again.
const PAUSE_POLL: Duration = Duration::from_millis(2);

/// No byte budget: the direction is forwarded until it ends.
const UNLIMITED: usize = usize::MAX;

/// One connection the proxy carried, both directions, raw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedConnection {
    /// The order in which the proxy accepted it, from 0.
    pub index: usize,
    /// Every byte the client sent.
    pub c2s: Vec<u8>,
    /// Every byte the server sent.
    pub s2c: Vec<u8>,
}

/// One live connection: its two sockets and what the fault methods asked of it.
#[derive(Debug)]
struct LiveConn {
    index: usize,
    client: TcpStream,
    /// Set once connected upstream (a held connection has none yet).
    server: OnceLock<TcpStream>,
    /// Set when the proxy cut it: the relay stops at once.
    cut: AtomicBool,
    /// Bytes each direction may still forward before the connection is cut
    /// ([`UNLIMITED`] for no limit); indexed by [`Direction::index`].
    budget: [AtomicUsize; 2],
}

impl LiveConn {
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        if let Some(s) = self.server.get() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    /// How many of `n` bytes read in `dir` may be forwarded, and whether the budget is used
    /// up after them (then the connection must be cut).
    fn take_budget(&self, dir: Direction, n: usize) -> (usize, bool) {
        let b = &self.budget[dir.index()];
        let mut cur = b.load(Ordering::SeqCst);
        loop {
            if cur == UNLIMITED {
                return (n, false);
            }
            let k = n.min(cur);
            match b.compare_exchange(cur, cur - k, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return (k, cur - k == 0),
                Err(now) => cur = now,
            }
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    done: Mutex<Vec<RecordedConnection>>,
    /// Live connections (held ones included), for the cutting methods.
    live: Mutex<Vec<Arc<LiveConn>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    stop: AtomicBool,
    accepted: AtomicUsize,
    /// While set, new connections are accepted and closed at once, without a byte.
    refusing: AtomicBool,
    refused: AtomicUsize,
    /// While set, nothing is forwarded in either direction.
    frozen: AtomicBool,
    /// While set, new connections wait before connecting upstream.
    holding: AtomicBool,
    /// Connections the proxy cut (by any of its methods).
    cuts: AtomicUsize,
}

impl Shared {
    fn live(&self) -> std::sync::MutexGuard<'_, Vec<Arc<LiveConn>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits while `paused` holds and `conn` is neither cut nor the proxy stopping; `false`
    /// when the relay must end.
    fn wait_while(&self, paused: &AtomicBool, conn: &LiveConn) -> bool {
        while paused.load(Ordering::SeqCst) {
            if conn.is_cut() || self.stop.load(Ordering::SeqCst) {
                return false;
            }
            thread::sleep(PAUSE_POLL);
        }
        !conn.is_cut()
    }
}

impl Cutter for Shared {
    fn cut_all(&self) {
        for c in self.live().iter() {
            if !c.is_cut() {
                self.cuts.fetch_add(1, Ordering::SeqCst);
            }
            c.cut();
        }
    }

    fn cut_all_after(&self, dir: Direction, bytes: usize) {
        for c in self.live().iter() {
            c.budget[dir.index()].store(bytes, Ordering::SeqCst);
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A TCP proxy on loopback that records what it carries, can cut live connections (a
/// network blip, [`drop_connections`](Proxy::drop_connections)) and can turn new ones away
/// for a while ([`set_refusing`](Proxy::set_refusing)).
///
/// # Examples
///
/// ```
/// use mio_zookeeper::testing::{Proxy, ZkServer};
///
/// let zk = ZkServer::start()?;
/// let proxy = Proxy::start(zk.addr())?;
/// let timeout = std::time::Duration::from_secs(5);
/// let answer = mio_zookeeper::testing::four_letter(proxy.addr(), "ruok", timeout)?;
/// assert_eq!(answer, "imok");
/// let conns = proxy.finish();
/// assert_eq!(conns[0].c2s, b"ruok");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    chaos: Mutex<Option<RandomCutsThread>>,
}

impl Proxy {
    /// Listens on a free `127.0.0.1` port and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> io::Result<Proxy> {
        let shared = Arc::new(Shared::default());
        let (addr, acceptor) = spawn_acceptor(
            "zk-test-proxy",
            shared.clone(),
            |s| s.stop.load(Ordering::SeqCst),
            |s| &s.workers,
            move |s, client| {
                if s.refusing.load(Ordering::SeqCst) {
                    s.refused.fetch_add(1, Ordering::SeqCst);
                    let _ = client.shutdown(Shutdown::Both);
                    return None;
                }
                let index = s.accepted.fetch_add(1, Ordering::SeqCst);
                let s2 = s.clone();
                Some(thread::spawn(move || {
                    if let Err(e) = relay(index, client, upstream, &s2) {
                        log::debug!("proxy connection {index}: {e}");
                    }
                }))
            },
        )?;
        Ok(Proxy {
            addr,
            shared,
            acceptor: Some(acceptor),
            chaos: Mutex::new(None),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The connect string of the proxy (`127.0.0.1:PORT`).
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// How many connections the proxy has accepted and relayed so far (refused ones are
    /// not counted).
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// While `refusing` is true, every new connection is accepted and closed at once, before
    /// anything is relayed: the server is unreachable through the proxy, as when the network
    /// is down. Live connections are not touched (cut them with
    /// [`drop_connections`](Self::drop_connections)). `false` relays new connections again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use mio_zookeeper::testing::{Proxy, ZkServer};
    ///
    /// let zk = ZkServer::start()?;
    /// let proxy = Proxy::start(zk.addr())?;
    /// proxy.set_refusing(true);
    /// let mut s = std::net::TcpStream::connect(proxy.addr())?;
    /// let mut buf = [0u8; 1];
    /// assert_eq!(s.read(&mut buf)?, 0, "closed without a byte");
    /// assert_eq!(proxy.refused(), 1);
    /// proxy.set_refusing(false);
    /// let timeout = std::time::Duration::from_secs(5);
    /// assert_eq!(mio_zookeeper::testing::four_letter(proxy.addr(), "ruok", timeout)?, "imok");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_refusing(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Whether new connections are being refused (see [`set_refusing`](Self::set_refusing)).
    pub fn is_refusing(&self) -> bool {
        self.shared.refusing.load(Ordering::SeqCst)
    }

    /// How many connections were refused so far (see [`set_refusing`](Self::set_refusing)).
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Cuts every live connection (both sides), as a network failure would. New connections
    /// are still accepted.
    pub fn drop_connections(&self) {
        self.shared.cut_all();
    }

    /// How many connections the proxy has cut so far, by
    /// [`drop_connections`](Self::drop_connections), [`cut_after`](Self::cut_after) or
    /// [`start_random_cuts`](Self::start_random_cuts).
    pub fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    /// How many connections are open through the proxy now (held ones included).
    pub fn live_connections(&self) -> usize {
        self.shared.live().len()
    }

    /// Cuts every live connection once `bytes` more bytes have gone through it in `dir`: the
    /// first `bytes` are forwarded, the rest of the chunk is not, and both sides are closed.
    /// With a byte count that does not fall on a frame boundary this is a cut in the middle
    /// of a frame, which the peer sees as a truncated frame and then end of stream.
    /// Connections opened later are not affected; `0` cuts at the next byte in `dir`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use mio_zookeeper::testing::{Direction, Proxy};
    ///
    /// // Anything that answers: an echo server on loopback.
    /// let echo = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let upstream = echo.local_addr()?;
    /// std::thread::spawn(move || {
    ///     let (mut s, _) = echo.accept().unwrap();
    ///     let mut buf = [0u8; 64];
    ///     while let Ok(n @ 1..) = s.read(&mut buf) {
    ///         let _ = s.write_all(&buf[..n]);
    ///     }
    /// });
    /// let proxy = Proxy::start(upstream)?;
    /// let mut s = std::net::TcpStream::connect(proxy.addr())?;
    /// s.write_all(b"a")?;
    /// s.read_exact(&mut [0u8; 1])?;
    /// proxy.cut_after(Direction::ServerToClient, 3);
    /// s.write_all(b"hello")?;
    /// let mut got = Vec::new();
    /// s.read_to_end(&mut got)?;
    /// assert_eq!(got, b"hel", "three bytes, then the cut");
    /// assert_eq!(proxy.cuts(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cut_after(&self, dir: Direction, bytes: usize) {
        self.shared.cut_all_after(dir, bytes);
    }

    /// Starts cutting every live connection at seeded random intervals (see [`RandomCuts`]),
    /// in a thread of the proxy, until [`stop_random_cuts`](Self::stop_random_cuts) or the
    /// proxy is dropped. Replaces random cuts already running.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use mio_zookeeper::testing::{Proxy, RandomCuts, ZkServer};
    ///
    /// let zk = ZkServer::start()?;
    /// let proxy = Proxy::start(zk.addr())?;
    /// proxy.start_random_cuts(RandomCuts::new(7).every(
    ///     Duration::from_millis(50),
    ///     Duration::from_millis(200),
    /// ))?;
    /// // ... drive a client through proxy.connect_string() ...
    /// proxy.stop_random_cuts();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_random_cuts(&self, cuts: RandomCuts) -> io::Result<()> {
        let thread = RandomCutsThread::spawn(cuts, self.shared.clone())?;
        let old = self
            .chaos
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(thread);
        drop(old); // stops and joins it
        Ok(())
    }

    /// Stops the random cuts (waits for the chaos thread; a cut it already made stays made).
    /// Byte budgets it set on live connections (a pending cut in the middle of a frame) are
    /// lifted.
    pub fn stop_random_cuts(&self) {
        let old = self.chaos.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(old);
        for c in self.shared.live().iter() {
            for b in &c.budget {
                b.store(UNLIMITED, Ordering::SeqCst);
            }
        }
    }

    /// While `frozen` is true, nothing is forwarded in either direction, on live connections
    /// and on new ones, and nothing is closed: to the client the server has gone silent (a
    /// frozen server or a black-holed link), to the server the client has. What was read
    /// meanwhile is forwarded, in order, once `false` thaws the proxy. A connection cut while
    /// frozen (by [`drop_connections`](Self::drop_connections), say) closes at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use mio_zookeeper::testing::{four_letter, Proxy, ZkServer};
    ///
    /// let zk = ZkServer::start()?;
    /// let proxy = Proxy::start(zk.addr())?;
    /// proxy.set_frozen(true);
    /// assert!(four_letter(proxy.addr(), "ruok", Duration::from_millis(300)).is_err());
    /// proxy.set_frozen(false);
    /// assert_eq!(four_letter(proxy.addr(), "ruok", Duration::from_secs(10))?, "imok");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_frozen(&self, frozen: bool) {
        self.shared.frozen.store(frozen, Ordering::SeqCst);
    }

    /// Whether the proxy is frozen (see [`set_frozen`](Self::set_frozen)).
    pub fn is_frozen(&self) -> bool {
        self.shared.frozen.load(Ordering::SeqCst)
    }

    /// While `holding` is true, new connections are accepted (the client's connect
    /// succeeds) but not connected upstream, and nothing they send is forwarded: a server
    /// whose accept hangs. `false` releases them: each is then connected upstream and relayed
    /// as usual. Live connections are not touched. A held connection counts in
    /// [`live_connections`](Self::live_connections) and [`held`](Self::held), and is closed by
    /// [`drop_connections`](Self::drop_connections).
    pub fn set_holding(&self, holding: bool) {
        self.shared.holding.store(holding, Ordering::SeqCst);
    }

    /// How many connections are being held back now (see [`set_holding`](Self::set_holding)).
    pub fn held(&self) -> usize {
        self.shared
            .live()
            .iter()
            .filter(|c| c.server.get().is_none() && !c.is_cut())
            .count()
    }

    /// Stops accepting, cuts what is still open, and returns every connection carried, in
    /// the order they were accepted.
    pub fn finish(mut self) -> Vec<RecordedConnection> {
        self.shutdown();
        let mut done =
            std::mem::take(&mut *self.shared.done.lock().unwrap_or_else(|e| e.into_inner()));
        done.sort_by_key(|c| c.index);
        done
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        drop(self.chaos.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        self.drop_connections();
        let workers = std::mem::take(
            &mut *self
                .shared
                .workers
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for w in workers {
            let _ = w.join();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Holds the connection while asked to, connects upstream, then copies both ways until
/// both directions are done, and records the connection.
fn relay(index: usize, client: TcpStream, upstream: SocketAddr, s: &Shared) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_nodelay(true)?;
    let conn = Arc::new(LiveConn {
        index,
        client: client.try_clone()?,
        server: OnceLock::new(),
        cut: AtomicBool::new(false),
        budget: [AtomicUsize::new(UNLIMITED), AtomicUsize::new(UNLIMITED)],
    });
    s.live().push(conn.clone());
    let result = relay_live(&conn, client, upstream, s);
    s.live().retain(|c| c.index != index);
    let (c2s, s2c) = result?;
    s.done
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(RecordedConnection { index, c2s, s2c });
    Ok(())
}

fn relay_live(
    conn: &Arc<LiveConn>,
    client: TcpStream,
    upstream: SocketAddr,
    s: &Shared,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    if !s.wait_while(&s.holding, conn) {
        conn.cut();
        return Ok((Vec::new(), Vec::new()));
    }
    let server = TcpStream::connect(upstream)?;
    server.set_nodelay(true)?;
    let _ = conn.server.set(server.try_clone()?);
    if conn.is_cut() {
        // Cut while connecting: the cut could not reach the new socket.
        conn.cut();
    }
    let (up, down) = thread::scope(|scope| {
        let up = scope.spawn(|| pump(conn, Direction::ClientToServer, &client, &server, s));
        let down = scope.spawn(|| pump(conn, Direction::ServerToClient, &server, &client, s));
        (up.join(), down.join())
    });
    Ok((up.unwrap_or_default(), down.unwrap_or_default()))
}

/// Copies `from` to `to` until the end of `from`, an error, or a cut; then shuts `to` for
/// writing. Returns the bytes forwarded.
fn pump(
    conn: &LiveConn,
    dir: Direction,
    mut from: &TcpStream,
    mut to: &TcpStream,
    s: &Shared,
) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !s.wait_while(&s.frozen, conn) {
            break;
        }
        let (k, exhausted) = conn.take_budget(dir, n);
        seen.extend_from_slice(&buf[..k]);
        if to.write_all(&buf[..k]).is_err() {
            break;
        }
        if exhausted {
            if !conn.is_cut() {
                s.cuts.fetch_add(1, Ordering::SeqCst);
            }
            conn.cut();
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RandomCuts;
    use std::sync::mpsc;
    use std::time::Instant;

    const LONG: Duration = Duration::from_secs(20);

    /// An echo server on loopback; reports each accepted connection on the channel.
    fn echo() -> (SocketAddr, mpsc::Receiver<usize>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for (i, s) in l.incoming().enumerate() {
                let Ok(mut s) = s else { return };
                let _ = tx.send(i); // the test may not listen
                thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = s.read(&mut buf) {
                        if s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, rx)
    }

    fn connect(proxy: &Proxy) -> TcpStream {
        let s = TcpStream::connect(proxy.addr()).unwrap();
        s.set_read_timeout(Some(LONG)).unwrap();
        s
    }

    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let end = Instant::now() + LONG;
        while !cond() {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn roundtrip(s: &mut TcpStream, msg: &[u8]) {
        s.write_all(msg).unwrap();
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).unwrap();
        assert_eq!(got, msg);
    }

    #[test]
    fn a_cut_after_n_bytes_forwards_exactly_n_bytes_of_that_direction() {
        let (up, _) = echo();
        let proxy = Proxy::start(up).unwrap();
        let mut s = connect(&proxy);
        roundtrip(&mut s, b"x");
        proxy.cut_after(Direction::ServerToClient, 3);
        s.write_all(b"hello").unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got); // EOF or a reset
        assert_eq!(got, b"hel", "three bytes came back, then the cut");
        assert_eq!(proxy.cuts(), 1);

        let mut t = connect(&proxy);
        roundtrip(&mut t, b"y");
        proxy.cut_after(Direction::ClientToServer, 4);
        t.write_all(b"0123456789").unwrap();
        let _ = t.read_to_end(&mut Vec::new());
        wait_until("the relays to end", || proxy.live_connections() == 0);
        assert_eq!(proxy.cuts(), 2);
        let rec = proxy.finish();
        assert_eq!(rec[0].s2c, b"xhel");
        assert_eq!(rec[1].c2s, b"y0123", "four bytes reached the server");
    }

    #[test]
    fn a_frozen_proxy_forwards_nothing_and_closes_nothing_until_thawed() {
        let (up, _) = echo();
        let proxy = Proxy::start(up).unwrap();
        let mut s = connect(&proxy);
        roundtrip(&mut s, b"before");
        proxy.set_frozen(true);
        assert!(proxy.is_frozen());
        s.write_all(b"during").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 16];
        let err = s
            .read(&mut buf)
            .expect_err("nothing comes back while frozen");
        assert!(matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
        // A connection opened while frozen is accepted and also silent.
        let mut late = connect(&proxy);
        late.write_all(b"late").unwrap();
        wait_until("the late connection", || proxy.live_connections() == 2);
        proxy.set_frozen(false);
        s.set_read_timeout(Some(LONG)).unwrap();
        let mut got = [0u8; 6];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"during", "held bytes forwarded in order");
        let mut got = [0u8; 4];
        late.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"late");
        assert_eq!(proxy.cuts(), 0);
    }

    #[test]
    fn a_held_connection_is_not_connected_upstream_until_released() {
        let (up, accepted) = echo();
        let proxy = Proxy::start(up).unwrap();
        proxy.set_holding(true);
        let mut s = connect(&proxy);
        s.write_all(b"hi").unwrap();
        wait_until("the proxy to accept", || proxy.held() == 1);
        assert!(
            accepted.recv_timeout(Duration::from_millis(200)).is_err(),
            "not connected upstream while held"
        );
        proxy.set_holding(false);
        assert_eq!(accepted.recv_timeout(LONG).unwrap(), 0);
        let mut got = [0u8; 2];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hi");
        assert_eq!(proxy.held(), 0);

        // A held connection can be cut; it never reaches upstream.
        proxy.set_holding(true);
        let mut t = connect(&proxy);
        wait_until("the proxy to hold it", || proxy.held() == 1);
        proxy.drop_connections();
        let mut buf = [0u8; 1];
        assert!(matches!(t.read(&mut buf), Ok(0) | Err(_)));
        wait_until("the held relay to end", || proxy.held() == 0);
        proxy.set_holding(false);
        assert!(accepted.recv_timeout(Duration::from_millis(200)).is_err());
    }

    #[test]
    fn random_cuts_keep_cutting_new_connections_until_stopped() {
        let (up, _) = echo();
        let proxy = Proxy::start(up).unwrap();
        proxy
            .start_random_cuts(
                RandomCuts::new(11)
                    .every(Duration::from_millis(5), Duration::from_millis(30))
                    .mid_frame(50, 64),
            )
            .unwrap();
        let end = Instant::now() + LONG;
        let mut cut_seen = 0;
        while cut_seen < 5 {
            assert!(Instant::now() < end, "only {cut_seen} cuts seen");
            let mut s = connect(&proxy);
            // Keep talking until the proxy cuts this connection.
            loop {
                if s.write_all(&[7u8; 16]).is_err() {
                    break;
                }
                let mut buf = [0u8; 16];
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                assert!(Instant::now() < end, "a connection was never cut");
            }
            cut_seen += 1;
        }
        proxy.stop_random_cuts();
        assert!(proxy.cuts() >= 5);
        let cuts = proxy.cuts();
        let mut s = connect(&proxy);
        for _ in 0..20 {
            roundtrip(&mut s, b"calm");
        }
        assert_eq!(proxy.cuts(), cuts, "no cut after stop_random_cuts");
    }
}
