//! A TCP proxy on loopback that records what it carries and can cut connections.
//!
//! Put it between a client and a [`ZkServer`](super::ZkServer) to capture real traffic (each
//! direction of each connection, raw, as `examples/zkdump.rs` reads it), or to drop the
//! client's connection without touching the server (a "network blip"). With
//! [`set_refusing`](Proxy::set_refusing) it turns new connections away for a while, so a
//! client stays disconnected (SUSPENDED) until the test lets it back.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

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

#[derive(Debug, Default)]
struct Shared {
    done: Mutex<Vec<RecordedConnection>>,
    /// Live connections (both ends), for [`Proxy::drop_connections`].
    live: Mutex<Vec<(usize, TcpStream, TcpStream)>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    stop: AtomicBool,
    accepted: AtomicUsize,
    /// While set, new connections are accepted and closed at once, without a byte.
    refusing: AtomicBool,
    refused: AtomicUsize,
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
}

impl Proxy {
    /// Listens on a free `127.0.0.1` port and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let acceptor = thread::Builder::new()
            .name("zk-test-proxy".into())
            .spawn(move || {
                while !s.stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) if s.refusing.load(Ordering::SeqCst) => {
                            s.refused.fetch_add(1, Ordering::SeqCst);
                            let _ = client.shutdown(Shutdown::Both);
                            drop(client);
                        }
                        Ok((client, _)) => {
                            let index = s.accepted.fetch_add(1, Ordering::SeqCst);
                            let s2 = s.clone();
                            let worker = thread::spawn(move || {
                                if let Err(e) = relay(index, client, upstream, &s2) {
                                    log::debug!("proxy connection {index}: {e}");
                                }
                            });
                            s.workers
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(worker);
                        }
                        Err(_) => thread::sleep(Duration::from_millis(2)),
                    }
                }
            })?;
        Ok(Proxy {
            addr,
            shared,
            acceptor: Some(acceptor),
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
        let live = self.shared.live.lock().unwrap_or_else(|e| e.into_inner());
        for (_, a, b) in live.iter() {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
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

/// Copies both ways until both directions are done, then records the connection.
fn relay(index: usize, client: TcpStream, upstream: SocketAddr, s: &Shared) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_nodelay(true)?;
    let server = TcpStream::connect(upstream)?;
    server.set_nodelay(true)?;
    s.live.lock().unwrap_or_else(|e| e.into_inner()).push((
        index,
        client.try_clone()?,
        server.try_clone()?,
    ));
    let pump = |mut from: TcpStream, mut to: TcpStream| {
        thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 65536];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        seen.extend_from_slice(&buf[..n]);
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to.shutdown(Shutdown::Write);
            seen
        })
    };
    let up = pump(client.try_clone()?, server.try_clone()?);
    let down = pump(server, client);
    let c2s = up.join().unwrap_or_default();
    let s2c = down.join().unwrap_or_default();
    s.live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(i, _, _)| *i != index);
    s.done
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(RecordedConnection { index, c2s, s2c });
    Ok(())
}
