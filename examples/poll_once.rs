//! A manual loop: the caller owns the `loop {}` and calls `poll_once`, which drives, in one
//! thread and one loop, the caller's own timers and work and a ZooKeeper client:
//!
//! - timers set out of order (they fire in deadline order) and a periodic heartbeat;
//! - a spawned task, and an async task awaiting a result that a timer sets;
//! - a loopback TCP echo made through the Handler (no ZooKeeper involved);
//! - the ZooKeeper client on the same handler: async operations with completion callbacks,
//!   a one-shot data watch that fires, and an async task that awaits several calls;
//! - the loop itself: busy and idle iterations counted, nothing blocking but `poll_once`.
//!
//! ```text
//! cargo run --example poll_once                          # a throwaway server from the harness
//! ZK_HOSTS=10.0.0.5:2181 cargo run --example poll_once   # your server instead
//! ```
//!
//! With `ZK_HOSTS` it works under a node of its own (`/mio-zookeeper-poll-once-<pid>-<n>`)
//! and removes it at the end. The logic is in [`run`], which `tests/embed.rs` runs.

use mio_zookeeper::{Client, CreateOptions, Error, Watcher};
use std::cell::{Cell, RefCell};
use std::error::Error as StdError;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::net::TcpListener;
use mio::Interest;
use mio_zookeeper::handler::{Handler, MioHandler};
use mio_zookeeper::handler::{Reactor, TcpSocket};
use mio_zookeeper::testing::ZkServer;

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

fn main() {
    let hosts = std::env::var("ZK_HOSTS")
        .ok()
        .filter(|h| !h.trim().is_empty());
    if let Err(e) = run(hosts.as_deref()) {
        eprintln!("poll_once failed: {e}");
        std::process::exit(1);
    }
}

/// Prints lines (with the time since the start) and keeps them, without the time.
#[derive(Clone)]
struct Out {
    start: Instant,
    lines: Rc<RefCell<Vec<String>>>,
}

impl Out {
    fn say(&self, line: impl Into<String>) {
        let line = line.into();
        let ms = self.start.elapsed().as_secs_f64() * 1e3;
        println!("{ms:>8.1} ms {line}");
        self.lines.borrow_mut().push(line);
    }
}

/// Runs the example against `zk_hosts`, or a throwaway server when `None`; returns the
/// lines it printed.
pub(crate) fn run(zk_hosts: Option<&str>) -> Result<Vec<String>> {
    let start = Instant::now();
    let out = Out {
        start,
        lines: Rc::default(),
    };
    let handler = MioHandler::new()?;
    let reactor = handler.reactor().clone();

    // 0. A ZooKeeper server: ZK_HOSTS, or a throwaway one.
    let _server;
    let hosts = match zk_hosts {
        Some(h) => {
            _server = None;
            out.say(format!("[zk] using ZK_HOSTS={h}"));
            h.trim().trim_end_matches('/').to_string()
        }
        None => {
            let zk = ZkServer::start()?;
            let h = zk.connect_string();
            out.say(format!("[zk] started a throwaway ZooKeeper at {h}"));
            _server = Some(zk);
            h
        }
    };
    let base = format!(
        "/mio-zookeeper-poll-once-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );

    // 1. Timers, set out of order: they fire in deadline order.
    let timers_left = Rc::new(Cell::new(3));
    for ms in [30u64, 10, 20] {
        let (left, o) = (timers_left.clone(), out.clone());
        reactor.set_timeout(Duration::from_millis(ms), move || {
            o.say(format!("[timer] the {ms} ms timer fired"));
            left.set(left.get() - 1);
        });
    }
    // ... and the caller's own periodic work: a heartbeat every 10 ms, re-armed by itself.
    let beats = Rc::new(Cell::new(0u32));
    heartbeat(&reactor, beats.clone());

    // 2. A spawned closure: runs in the first iteration's queue phase.
    let o = out.clone();
    handler.spawn(move || o.say("[task] a spawned closure ran"));

    // 3. An async task awaiting a result that a timer sets.
    let answer = handler.async_result::<u32>();
    let (a, o) = (answer.clone(), out.clone());
    reactor.set_timeout(Duration::from_millis(25), move || {
        o.say("[timer] setting the result to 42");
        a.set(42).expect("set once");
    });
    let (r, o) = (reactor.clone(), out.clone());
    let awaited = handler.spawn_future(async move {
        o.say("[async] awaiting the result");
        let v = answer.await?;
        o.say(format!("[async] got {v}; sleeping 5 ms on a loop timer"));
        r.sleep_async(Duration::from_millis(5)).await;
        o.say("[async] done");
        Ok::<u32, Error>(v)
    });

    // 4. An echo server on the same loop, driven by readiness callbacks.
    let addr = start_echo_server(&reactor, &out)?;
    out.say(format!("[echo] server listening on {addr}"));
    // ... and a client socket from the Handler (a non-blocking connect, registered).
    let client = handler.socket(addr)?;
    let mut sent = false;
    let mut echoed = Vec::new();
    let message = b"hello through the loop";

    // 5. A ZooKeeper client on the same handler: nothing below blocks; the loop drives it.
    let zk = Client::builder(&hosts)
        .handler(handler.clone())
        .build_with()?;
    let zk_done = Rc::new(Cell::new(false));
    let zk_failed: Rc<RefCell<Option<Error>>> = Rc::default();
    let started = zk.start_async()?;
    {
        let (zk, base, o, done, failed) = (
            zk.clone(),
            base.clone(),
            out.clone(),
            zk_done.clone(),
            zk_failed.clone(),
        );
        started.rawlink(move |r| {
            if let Some(e) = r.exception() {
                *failed.borrow_mut() = Some(e);
                return;
            }
            o.say("[zk] connected");
            zookeeper_work(&zk, &base, &o, done, failed);
        });
    }

    // The manual loop.
    let (mut busy, mut idle) = (0u32, 0u32);
    loop {
        if handler.poll_once(Some(Duration::from_millis(100)))? {
            busy += 1;
        } else {
            idle += 1;
        }
        if !sent && client.readiness().is_writable() && client.connect_result()? {
            (&client).write_all(message)?;
            sent = true;
            out.say(format!(
                "[echo] client connected and sent {} bytes",
                message.len()
            ));
        }
        if client.readiness().is_readable() {
            let mut buf = [0u8; 64];
            match (&client).read(&mut buf) {
                Ok(n) => {
                    echoed.extend_from_slice(&buf[..n]);
                    out.say(format!("[echo] client read back {n} bytes"));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(e) = zk_failed.borrow_mut().take() {
            return Err(format!("ZooKeeper: {e}").into());
        }
        let done = echoed.len() == message.len()
            && awaited.ready()
            && timers_left.get() == 0
            && zk_done.get();
        if done {
            break;
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Err("the example did not finish in 30 s".into());
        }
    }
    if echoed != message {
        return Err("the echo came back different".into());
    }

    // Clean up and close the session, still by driving the loop by hand.
    let cleaned = zk.delete_recursive_async(&base);
    while !cleaned.ready() {
        handler.poll_once(Some(Duration::from_millis(100)))?;
    }
    cleaned.get_nowait()?;
    let stopped = zk.stop_async();
    while !stopped.ready() {
        handler.poll_once(Some(Duration::from_millis(100)))?;
    }
    out.say(format!("[zk] removed {base} and closed the session"));

    out.say(format!(
        "[loop] finished: {busy} busy and {idle} idle iterations, {} heartbeats; async task \
         returned {:?}",
        beats.get(),
        awaited.get_nowait()?
    ));
    Ok(out.lines.take())
}

/// A timer that re-arms itself: the caller's own periodic work in the same loop.
fn heartbeat(reactor: &Reactor, beats: Rc<Cell<u32>>) {
    let r = reactor.clone();
    reactor.set_timeout(Duration::from_millis(10), move || {
        beats.set(beats.get() + 1);
        heartbeat(&r, beats);
    });
}

/// The ZooKeeper part, all async: a create with a completion callback, a data watch that
/// fires when a set changes the node, and a task that awaits several reads.
fn zookeeper_work(
    zk: &Client,
    base: &str,
    out: &Out,
    done: Rc<Cell<bool>>,
    failed: Rc<RefCell<Option<Error>>>,
) {
    let node = format!("{base}/counter");
    let opts = CreateOptions {
        makepath: true,
        ..CreateOptions::default()
    };
    let (zk2, o, f) = (zk.clone(), out.clone(), failed.clone());
    zk.create_async(&node, Bytes::from_static(b"0"), &opts)
        .rawlink(move |r| {
            let path = match r.get_nowait() {
                Ok((path, _)) => path,
                Err(e) => return *f.borrow_mut() = Some(e),
            };
            o.say(format!("[zk] created {path} (a completion callback)"));
            // A one-shot data watch, then a task that changes the node and reads it back.
            let o2 = o.clone();
            let fired = Rc::new(Cell::new(false));
            let fi = fired.clone();
            zk2.get_async(
                &path,
                Watcher::new(move |ev: mio_zookeeper::WatchedEvent| {
                    o2.say(format!(
                        "[zk] watch: {} {}",
                        ev.event_type,
                        ev.path.as_deref().unwrap_or("")
                    ));
                    fi.set(true);
                }),
            );
            let (zk3, o3) = (zk2.clone(), o.clone());
            let task = zk2.handler().spawn_future(async move {
                for i in 1..=3u32 {
                    let stat = zk3
                        .set_async(&path, Bytes::from(i.to_string()), None)
                        .await?;
                    o3.say(format!(
                        "[zk] task: set {path} = {i} (version {})",
                        stat.version
                    ));
                }
                let (data, _) = zk3.get_async(&path, None).await?;
                let (children, _) = zk3
                    .get_children_with_stat_async(&parent(&path), None)
                    .await?;
                o3.say(format!(
                    "[zk] task: read back {:?}; the parent has {children:?}",
                    String::from_utf8_lossy(&data.unwrap_or_default())
                ));
                Ok::<(), Error>(())
            });
            let (o, f, d) = (o.clone(), f.clone(), done.clone());
            task.rawlink(move |r| match r.get_nowait() {
                Ok(Ok(())) if fired.get() => {
                    o.say("[zk] the task finished, after the watch fired");
                    d.set(true);
                }
                Ok(Ok(())) => *f.borrow_mut() = Some(Error::BadArgument("no watch event".into())),
                Ok(Err(e)) | Err(e) => *f.borrow_mut() = Some(e),
            });
        });
}

fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => path[..i].to_string(),
    }
}

/// A listener whose readiness callback accepts connections; each connection's readiness
/// callback echoes what it reads.
fn start_echo_server(reactor: &Reactor, out: &Out) -> Result<std::net::SocketAddr> {
    let mut listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
    let addr = listener.local_addr()?;
    let token = reactor.register(&mut listener, Interest::READABLE)?;
    let listener = Rc::new(listener);
    let conns: Rc<RefCell<Vec<Rc<TcpSocket>>>> = Rc::default();
    let (r, o) = (reactor.clone(), out.clone());
    let l = listener.clone();
    reactor.set_on_ready(token, move |_| loop {
        match l.accept() {
            Ok((stream, peer)) => {
                o.say(format!("[echo] server accepted {peer}"));
                let sock = match TcpSocket::from_mio(&r, stream) {
                    Ok(s) => Rc::new(s),
                    Err(e) => return eprintln!("registering a connection: {e}"),
                };
                let weak = Rc::downgrade(&sock);
                let o = o.clone();
                let res = sock.set_on_ready(move |_| {
                    if let Some(s) = weak.upgrade() {
                        echo(&s, &o);
                    }
                });
                if let Err(e) = res {
                    eprintln!("{e}");
                }
                conns.borrow_mut().push(sock);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => return eprintln!("accept: {e}"),
        }
    })?;
    Ok(addr)
}

fn echo(sock: &TcpSocket, out: &Out) {
    let mut buf = [0u8; 4096];
    loop {
        match (&*sock).read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                out.say(format!("[echo] server echoes {n} bytes"));
                // Small writes to a fresh loopback socket do not block; a real server
                // would queue what is left and wait for WRITABLE.
                if let Err(e) = (&*sock).write_all(&buf[..n]) {
                    eprintln!("echo write: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => return eprintln!("echo read: {e}"),
        }
    }
}
