//! An existing mio service with the ZooKeeper client embedded in its loop.
//!
//! ```text
//! cargo run --example embed_mio                          # a throwaway server from the harness
//! ZK_HOSTS=10.0.0.5:2181 cargo run --example embed_mio   # your server instead
//! ```
//!
//! The service is a tiny key-value front end: a TCP listener speaking one line per request,
//! `GET key` and `PUT key value`, whose values are kept in ZooKeeper under `/values`. It
//! owns its `mio::Poll`, its listener, its connections and a `mio::Waker`, as any mio
//! application does, and hands the client a range of tokens through an
//! [`EmbeddedHost`]. Its single thread then:
//!
//! - registers itself with an ephemeral sequential node under `/services/kv` (its address
//!   as data), so clients can find it;
//! - answers each `GET` with an async read from ZooKeeper and each `PUT` with an async task
//!   (`set`, falling back to `create` on `NoNode`), writing the reply from the completion;
//! - follows `/values` with a persistent recursive watch and logs every change;
//! - keeps serving its own sockets in the same loop the whole time.
//!
//! To run by itself (and in CI), it tests itself: once registered, a thread with an
//! ordinary blocking client discovers the service in ZooKeeper, connects to it, asks a few
//! things and reports back through the service's `mio::Waker`; then the service stops its
//! session and checks that its ephemeral node went with it. Without `ZK_HOSTS` everything
//! happens on a throwaway server; with it, under a node of its own
//! (`/mio-zookeeper-embed-<pid>-<n>`), removed at the end.
//!
//! The logic is in [`run`], which `tests/embed.rs` runs in-process and checks.

use mio_zookeeper::{
    AddWatchMode, Client, ClientState, CreateMode, CreateOptions, EmbeddedHost, Error, Handler,
    MioHandler,
};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::error::Error as StdError;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use mio_zookeeper::testing::ZkServer;

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

/// The service's own tokens: its listener, its waker, then one per connection.
const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const SERVICE_TOKENS: std::ops::Range<usize> = 0..1000;
/// The tokens the ZooKeeper client may use (one socket at a time, a few spare).
const ZK_TOKENS: std::ops::Range<usize> = 1000..1008;
/// How long the self-test may take before the example gives up.
const WAIT: Duration = Duration::from_secs(30);

fn main() {
    let hosts = std::env::var("ZK_HOSTS")
        .ok()
        .filter(|h| !h.trim().is_empty());
    if let Err(e) = run(hosts.as_deref()) {
        eprintln!("embed_mio failed: {e}");
        std::process::exit(1);
    }
}

/// Prints a line and keeps it for the caller.
#[derive(Clone, Default)]
struct Out(Rc<RefCell<Vec<String>>>);

impl Out {
    fn say(&self, line: impl Into<String>) {
        let line = line.into();
        println!("{line}");
        self.0.borrow_mut().push(line);
    }
}

/// One connection of the service. Replies are sent in request order even when the
/// ZooKeeper work behind them completes out of order (a `PUT` takes two round trips when
/// the node is new): each request takes a slot, filled when its reply is ready.
struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    replies: VecDeque<Rc<RefCell<Option<String>>>>,
    output: Vec<u8>,
    writable_wanted: bool,
    eof: bool,
}

/// The service: its Poll and sockets, and the embedded client.
struct Service {
    poll: Poll,
    zk_host: EmbeddedHost,
    zk: Client,
    listener: TcpListener,
    conns: HashMap<Token, Conn>,
    next_token: usize,
    out: Out,
}

/// Runs the service and its self-test against `zk_hosts`, or a throwaway server when it is
/// `None`. Returns the lines it printed.
pub(crate) fn run(zk_hosts: Option<&str>) -> Result<Vec<String>> {
    let out = Out::default();

    // ------------------------------------------------------------ where the data lives
    let _server;
    let hosts = match zk_hosts {
        Some(h) => {
            _server = None;
            out.say(format!("using ZK_HOSTS={h}"));
            h.trim().trim_end_matches('/').to_string()
        }
        None => {
            let zk = ZkServer::start()?;
            out.say(format!(
                "started a throwaway ZooKeeper at {} (set ZK_HOSTS to use yours)",
                zk.connect_string()
            ));
            let h = zk.connect_string();
            _server = Some(zk);
            h
        }
    };
    let base = format!(
        "/mio-zookeeper-embed-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    // Everyone below works chrooted at `base`.
    let chrooted = format!("{hosts}{base}");

    // An operator seeds the configuration (an ordinary blocking client, its own loop).
    let admin = Client::new(&hosts)?;
    admin.start(Some(WAIT))?;
    admin.ensure_path(&format!("{base}/values"), None)?;
    admin.ensure_path(&format!("{base}/services/kv"), None)?;
    admin.create(
        &format!("{base}/values/greeting"),
        b"hello from zookeeper",
        CreateMode::Persistent,
    )?;
    admin.stop()?;

    let result = serve_and_self_test(&chrooted, &out);

    // Check the ephemeral node went with the service's session, and clean up.
    let admin = Client::new(&hosts)?;
    admin.start(Some(WAIT))?;
    let left = admin.get_children(&format!("{base}/services/kv"), None)?;
    if left.is_empty() {
        out.say("the service's session is closed: the ephemeral node is gone");
    } else {
        out.say(format!(
            "unexpectedly, instances are still registered: {left:?}"
        ));
    }
    admin.delete_recursive(&base)?;
    admin.stop()?;
    result?;
    if !left.is_empty() {
        return Err("the ephemeral node outlived the session".into());
    }
    Ok(out.0.take())
}

fn serve_and_self_test(hosts: &str, out: &Out) -> Result<()> {
    // ------------------------------------------------------------ the existing service
    let poll = Poll::new()?;
    let mut listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let addr = listener.local_addr()?;
    out.say(format!("the service listens on {addr}"));

    // ------------------------------------------------------------ the embedded client
    // The host's own tokens are reserved; the client gets a range of its own. It registers
    // (and, across reconnects, re-registers) its socket there by itself.
    let zk_host = EmbeddedHost::new(poll.registry())?;
    zk_host.reserve(SERVICE_TOKENS)?;
    let handler = MioHandler::embedded_in(&zk_host, ZK_TOKENS)?;
    let zk = Client::builder(hosts)
        .session_timeout(Duration::from_secs(10))
        .handler(handler)
        .build_with()?;
    let o = out.clone();
    zk.add_listener(move |s| o.say(format!("[zookeeper] {s:?}")));
    let started = zk.start_async()?;

    let mut svc = Service {
        poll,
        zk_host,
        zk,
        listener,
        conns: HashMap::new(),
        next_token: WAKER.0 + 1,
        out: out.clone(),
    };
    let mut events = Events::with_capacity(256);

    // Once connected: register, and follow /values.
    let registered: Rc<RefCell<Option<std::result::Result<String, Error>>>> = Rc::default();
    let (zk, reg, o) = (svc.zk.clone(), registered.clone(), out.clone());
    started.rawlink(move |r| {
        if let Some(e) = r.exception() {
            *reg.borrow_mut() = Some(Err(e));
            return;
        }
        let o2 = o.clone();
        zk.add_watch_async(
            "/values",
            AddWatchMode::PersistentRecursive,
            move |ev: mio_zookeeper::WatchedEvent| match ev.path {
                Some(path) => o2.say(format!("[watch] {} {path}", ev.event_type)),
                None => o2.say("[watch] the session ended: the watch is gone"),
            },
        )
        .rawlink(|r| {
            if let Some(e) = r.exception() {
                eprintln!("watching /values: {e}");
            }
        });
        let opts = CreateOptions::mode(CreateMode::EphemeralSequential);
        let data = Bytes::from(addr.to_string());
        zk.create_async("/services/kv/instance-", data, &opts)
            .rawlink(move |r| {
                *reg.borrow_mut() = Some(r.get_nowait().map(|(path, _)| path));
            });
    });

    // ------------------------------------------------------------ the service's loop
    let (report_tx, report_rx) = mpsc::channel::<Option<String>>();
    let mut tester = None;
    let give_up = Instant::now() + WAIT;
    let mut finished = false;
    while !finished {
        if Instant::now() > give_up {
            return Err("the self-test did not finish in time".into());
        }
        // The service's own housekeeping bound (1 s), tightened by the client's deadline.
        let own = Duration::from_secs(1);
        let timeout = svc.zk_host.next_timeout().map_or(own, |t| t.min(own));
        match svc.poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
        for event in events.iter() {
            if svc.zk_host.handle_event(event) {
                continue; // the client's socket: handled
            }
            match event.token() {
                LISTENER => svc.accept()?,
                WAKER => {
                    for report in report_rx.try_iter() {
                        match report {
                            Some(line) => out.say(line),
                            None => finished = true,
                        }
                    }
                }
                token => svc.on_conn_event(token),
            }
        }
        // The client's timers and callbacks (replies, watch events, state changes).
        svc.zk_host.run_pending()?;
        svc.flush_all();

        // Start the self-test once registered.
        if tester.is_none() {
            let reg = registered.borrow_mut().take();
            match reg {
                None => {}
                Some(Err(e)) => return Err(format!("registering the service: {e}").into()),
                Some(Ok(path)) => {
                    out.say(format!("registered {path} at {addr}"));
                    let (hosts, tx, w) = (hosts.to_string(), report_tx.clone(), waker.clone());
                    tester = Some(std::thread::spawn(move || self_test(&hosts, &tx, &w)));
                }
            }
        }
    }
    if let Some(t) = tester.take() {
        t.join()
            .map_err(|_| "the self-test thread panicked")?
            .map_err(|e| format!("self-test: {e}"))?;
    }

    // ------------------------------------------------------------ shutting down
    let stopped = svc.zk.stop_async();
    while !stopped.ready() {
        if Instant::now() > give_up {
            return Err("the client did not stop in time".into());
        }
        svc.poll
            .poll(&mut events, svc.zk_host.next_timeout().or(Some(WAIT)))?;
        for event in events.iter() {
            svc.zk_host.handle_event(event);
        }
        svc.zk_host.run_pending()?;
    }
    if svc.zk.state() != ClientState::Lost {
        return Err("the client is not LOST after stopping".into());
    }
    out.say("the service stopped its session");
    Ok(())
}

impl Service {
    fn accept(&mut self) -> Result<()> {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _peer)) => {
                    if self.next_token >= SERVICE_TOKENS.end {
                        continue; // out of tokens: drop the connection
                    }
                    let token = Token(self.next_token);
                    self.next_token += 1;
                    self.poll
                        .registry()
                        .register(&mut stream, token, Interest::READABLE)?;
                    self.conns.insert(
                        token,
                        Conn {
                            stream,
                            input: Vec::new(),
                            replies: VecDeque::new(),
                            output: Vec::new(),
                            writable_wanted: false,
                            eof: false,
                        },
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn on_conn_event(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let mut buf = [0u8; 4096];
        loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => {
                    conn.eof = true;
                    break;
                }
                Ok(n) => conn.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    conn.eof = true;
                    break;
                }
            }
        }
        while let Some(nl) = conn.input.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = conn.input.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line).trim().to_string();
            let slot = Rc::new(RefCell::new(None));
            conn.replies.push_back(slot.clone());
            handle_request(&self.zk, &line, slot);
        }
    }

    /// Moves ready replies (in order) to each connection's output and writes what it can.
    fn flush_all(&mut self) {
        let mut gone = Vec::new();
        for (token, conn) in &mut self.conns {
            while let Some(line) = conn.replies.front().and_then(|s| s.borrow_mut().take()) {
                conn.replies.pop_front();
                conn.output.extend_from_slice(line.as_bytes());
                conn.output.push(b'\n');
            }
            while !conn.output.is_empty() {
                match conn.stream.write(&conn.output) {
                    Ok(n) => {
                        conn.output.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        conn.eof = true;
                        conn.output.clear();
                    }
                }
            }
            let want = !conn.output.is_empty();
            if want != conn.writable_wanted {
                let interest = if want {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                if self
                    .poll
                    .registry()
                    .reregister(&mut conn.stream, *token, interest)
                    .is_ok()
                {
                    conn.writable_wanted = want;
                }
            }
            if conn.eof && conn.replies.is_empty() && conn.output.is_empty() {
                gone.push(*token);
            }
        }
        for token in gone {
            if let Some(mut conn) = self.conns.remove(&token) {
                let _ = self.poll.registry().deregister(&mut conn.stream);
                self.out.say("[service] a client disconnected");
            }
        }
    }
}

/// Starts the ZooKeeper work for one request; the reply goes into `slot`.
fn handle_request(zk: &Client, line: &str, slot: Rc<RefCell<Option<String>>>) {
    let mut words = line.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some("GET"), Some(key), None) => {
            // A completion callback writes the reply.
            zk.get_async(&format!("/values/{key}"), None)
                .rawlink(move |r| {
                    let reply = match r.get_nowait() {
                        Ok((data, _)) => match data {
                            Some(d) => format!("VALUE {}", String::from_utf8_lossy(&d)),
                            None => "VALUE".to_string(),
                        },
                        Err(e) if e.is_no_node() => "NONE".to_string(),
                        Err(e) => format!("ERROR {e}"),
                    };
                    *slot.borrow_mut() = Some(reply);
                });
        }
        (Some("PUT"), Some(key), Some(value)) => {
            // A task: set, or create when the key is new.
            let (zk2, path) = (zk.clone(), format!("/values/{key}"));
            let value = Bytes::from(value.to_string());
            let task = zk.handler().spawn_future(async move {
                match zk2.set_async(&path, value.clone(), None).await {
                    Err(e) if e.is_no_node() => zk2
                        .create_async(&path, value, CreateOptions::default())
                        .await
                        .map(|_| ()),
                    other => other.map(|_| ()),
                }
            });
            task.rawlink(move |r| {
                let reply = match r.get_nowait() {
                    Ok(Ok(())) => "OK".to_string(),
                    Ok(Err(e)) | Err(e) => format!("ERROR {e}"),
                };
                *slot.borrow_mut() = Some(reply);
            });
        }
        _ => *slot.borrow_mut() = Some(format!("ERROR bad request {line:?}")),
    }
}

/// The self-test, on a thread of its own with an ordinary blocking client: discover the
/// service in ZooKeeper, connect, ask, report each answer; `None` at the end.
fn self_test(
    hosts: &str,
    report: &mpsc::Sender<Option<String>>,
    waker: &Waker,
) -> std::result::Result<(), String> {
    let say = |line: String| {
        let _ = report.send(Some(line));
        let _ = waker.wake();
    };
    let result = (|| -> Result<()> {
        let zk = Client::new(hosts)?;
        zk.start(Some(WAIT))?;
        let mut instances = zk.get_children("/services/kv", None)?;
        instances.sort();
        let first = instances.first().ok_or("no service registered")?;
        let (data, _) = zk.get(&format!("/services/kv/{first}"), None)?;
        let addr: SocketAddr = String::from_utf8_lossy(&data.unwrap_or_default()).parse()?;
        say(format!("[tester] found {first} at {addr} in ZooKeeper"));

        let stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(WAIT))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut ask = |request: &str| -> Result<String> {
            (&stream).write_all(format!("{request}\n").as_bytes())?;
            let mut line = String::new();
            reader.read_line(&mut line)?;
            Ok(line.trim_end().to_string())
        };
        for (request, shown) in [
            ("GET greeting", "GET greeting"),
            ("GET missing", "GET missing"),
            ("PUT greeting updated", "PUT greeting"),
            ("GET greeting", "GET greeting"),
        ] {
            let reply = ask(request)?;
            let shown_reply = match reply.as_str() {
                "NONE" => "(none)".to_string(),
                "OK" => "ok".to_string(),
                r => r.strip_prefix("VALUE ").unwrap_or(r).to_string(),
            };
            say(format!("{shown} -> {shown_reply}"));
        }
        // The admin's view agrees with the service's answer.
        let (data, _) = zk.get("/values/greeting", None)?;
        say(format!(
            "[tester] /values/greeting in ZooKeeper: {:?}",
            String::from_utf8_lossy(&data.unwrap_or_default())
        ));
        zk.stop()?;
        Ok(())
    })();
    let _ = report.send(None);
    let _ = waker.wake();
    result.map_err(|e| e.to_string())
}
