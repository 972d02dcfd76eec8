//! The tour: the ZooKeeper client at work, one feature at a time, with every callback,
//! watch and state change printed the moment it runs.
//!
//! ```text
//! scripts/demo                        # installs ZooKeeper if needed, then runs this
//! cargo run --example tour            # a throwaway server from the test harness
//! ZK_HOSTS=10.0.0.5:2181 cargo run --example tour   # your server instead
//! ```
//!
//! Without `ZK_HOSTS` it starts a throwaway server with the crate's test harness
//! (`mio_zookeeper::testing`) and kills it at the end. With `ZK_HOSTS` (a connect string,
//! `host:port[,host:port...][/chroot]`) it works under a node of its own,
//! `/mio-zookeeper-tour-<pid>-<n>`, and removes it at the end.
//!
//! What it shows, in order:
//!
//! 1. connecting, with a state listener that prints CONNECTED / SUSPENDED / LOST as they
//!    happen (the client runs chrooted at its own node, so paths below are short);
//! 2. create / get / set, with a one-shot data watch that fires;
//! 3. an ephemeral node made by a second, short-lived client on the same loop, and the node
//!    disappearing when that client closes its session;
//! 4. a transaction with one failing op (each op's result printed), then the same one fixed;
//! 5. async calls with completion callbacks (`rawlink`), several requests in flight at once;
//! 6. a task (`Handler::spawn_future`) that awaits results, and the caller waiting for it;
//! 7. a persistent recursive watch, then removing it;
//! 8. with the harness only: a network blip (a proxy cuts the connection): SUSPENDED, then
//!    CONNECTED on the same session, and a watch set before the blip fires for a change
//!    made while the client was cut off;
//! 9. a `RecursiveCache` (a whole subtree in memory on one persistent recursive watch)
//!    loading a small tree and following a change; with the harness, a network blip while
//!    another client changes the tree, and the cache reporting exactly the differences
//!    once back (`tour/cache.rs`);
//! 10. a clean stop: LOST.
//!
//! The logic is in [`run`], which `tests/examples.rs` runs in-process and checks.

use std::cell::{Cell, RefCell};
use std::error::Error as StdError;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
#[path = "tour/cache.rs"]
mod cache;
use mio_zookeeper::testing::{Proxy, ZkServer};
use mio_zookeeper::{
    AddWatchMode, Client, ClientState, CreateMode, CreateOptions, Error, EventType, Handler,
    OpResult, WatchedEvent, Watcher,
};

/// How long any single wait of the tour may take before it gives up.
const WAIT: Duration = Duration::from_secs(15);

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

fn main() {
    let hosts = std::env::var("ZK_HOSTS")
        .ok()
        .filter(|h| !h.trim().is_empty());
    if let Err(e) = run(hosts.as_deref(), true) {
        eprintln!("tour failed: {e}");
        std::process::exit(1);
    }
}

/// Where the tour's lines go: printed at once (with the time since the start) when `echo`
/// is on, and kept, without the time, for the caller.
struct Out {
    start: Instant,
    echo: bool,
    lines: RefCell<Vec<String>>,
}

impl Out {
    fn say(&self, line: impl Into<String>) {
        let line = line.into();
        if self.echo {
            let ms = self.start.elapsed().as_secs_f64() * 1e3;
            println!("{ms:>9.1} ms  {line}");
        }
        self.lines.borrow_mut().push(line);
    }

    fn section(&self, title: &str) {
        if self.echo {
            println!("\n== {title}");
        }
        self.lines.borrow_mut().push(format!("== {title}"));
    }
}

/// kazoo's names for the states.
fn state_name(s: ClientState) -> &'static str {
    match s {
        ClientState::Connected => "CONNECTED",
        ClientState::Suspended => "SUSPENDED",
        ClientState::Lost => "LOST",
    }
}

fn event_line(who: &str, ev: &WatchedEvent) -> String {
    format!(
        "[{who}] {} {}",
        ev.event_type,
        ev.path.as_deref().unwrap_or("(session event)")
    )
}

fn text(data: &Option<Bytes>) -> String {
    match data {
        Some(d) => format!("{:?}", String::from_utf8_lossy(d)),
        None => "null".to_string(),
    }
}

/// Runs the whole tour against `zk_hosts`, or against a throwaway server from the harness
/// when it is `None`. Returns every line it printed (without the timestamps); prints them
/// as they happen when `echo` is on.
pub(crate) fn run(zk_hosts: Option<&str>, echo: bool) -> Result<Vec<String>> {
    let out = Rc::new(Out {
        start: Instant::now(),
        echo,
        lines: RefCell::new(Vec::new()),
    });

    // ------------------------------------------------------------------ the server
    let server: Option<ZkServer>;
    let mut proxy = None;
    let hosts = match zk_hosts {
        Some(h) => {
            server = None;
            out.say(format!("using ZK_HOSTS={h}"));
            h.trim().trim_end_matches('/').to_string()
        }
        None => {
            let zk = ZkServer::start()?;
            out.say(format!(
                "started a throwaway ZooKeeper at {} (set ZK_HOSTS to use yours)",
                zk.connect_string()
            ));
            // Client A goes through a proxy, so the tour can cut its connection (step 8).
            proxy = Some(Proxy::start(zk.addr())?);
            let hosts = zk.connect_string();
            server = Some(zk);
            hosts
        }
    };
    let base = format!(
        "/mio-zookeeper-tour-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    // Connect strings: the admin client sees the whole tree; A and B are chrooted at
    // `base` (through the proxy with the harness).
    let (hosts_part, chroot) = match hosts.find('/') {
        Some(i) => (&hosts[..i], &hosts[i..]),
        None => (hosts.as_str(), ""),
    };
    let a_hosts = match &proxy {
        Some(p) => format!("{}{chroot}{base}", p.connect_string()),
        None => format!("{hosts_part}{chroot}{base}"),
    };
    let b_hosts = format!("{hosts_part}{chroot}{base}");

    // The admin client (its own loop) makes the chroot node; it is also the "other client"
    // that changes data behind A's back.
    let admin = Client::builder(&hosts)
        .session_timeout(Duration::from_secs(5))
        .build()?;
    admin
        .start(Some(WAIT))
        .map_err(|e| format!("connecting to {hosts}: {e}"))?;
    admin.ensure_path(&base, None)?;
    out.say(format!(
        "working under {base} (A and B use it as their chroot)"
    ));

    let upstream = server.as_ref().map(|z| z.addr());
    let result = tour(
        &out,
        &a_hosts,
        &b_hosts,
        &admin,
        &base,
        proxy.as_ref(),
        upstream,
    );

    // Clean up whatever happened.
    let cleanup = admin.delete_recursive(&base);
    admin.stop()?;
    result?;
    cleanup?;
    out.say(format!("removed {base}; done"));
    drop(proxy);
    drop(server);
    let lines = out.lines.borrow().clone();
    Ok(lines)
}

fn tour(
    out: &Rc<Out>,
    a_hosts: &str,
    b_hosts: &str,
    admin: &Client,
    base: &str,
    proxy: Option<&Proxy>,
    upstream: Option<std::net::SocketAddr>,
) -> Result<()> {
    // ------------------------------------------------------------------ 1. connect
    out.section("1. connect: a listener prints each state change as it happens");
    let a = Client::builder(a_hosts)
        .session_timeout(Duration::from_secs(5))
        .build()?;
    let o = out.clone();
    a.add_listener(move |s| o.say(format!("[listener A] {}", state_name(s))));
    out.say(format!("A: start() on {a_hosts}"));
    a.start(Some(WAIT))?;
    let (session_id, _) = a.client_id().ok_or("connected without a session id")?;
    out.say(format!(
        "A: start() returned; session 0x{session_id:x}, state {}",
        state_name(a.state())
    ));
    match a.server_version() {
        Ok((x, y, z)) => out.say(format!("A: the server runs ZooKeeper {x}.{y}.{z}")),
        Err(e) => out.say(format!("A: no server version ({e})")),
    }

    // ------------------------------------------------------------------ 2. create/get/set
    out.section("2. create / get / set, with a one-shot data watch");
    let (path, _stat) = a.create("/config", b"v1", CreateMode::Persistent)?;
    out.say(format!("create /config \"v1\" -> {path}"));
    let fired = Rc::new(Cell::new(false));
    let (o, f) = (out.clone(), fired.clone());
    let (data, stat) = a.get(
        "/config",
        Watcher::new(move |ev| {
            o.say(event_line("watch", &ev));
            f.set(true);
        }),
    )?;
    out.say(format!(
        "get /config -> {} (version {}), leaving a data watch",
        text(&data),
        stat.version
    ));
    let stat = a.set("/config", b"v2", None)?;
    out.say(format!("set /config \"v2\" -> version {}", stat.version));
    if fired.get() {
        out.say("(the watch ran before set() returned: the server sends the event first)");
    }
    a.run_until(&|| fired.get(), Some(WAIT))?;
    let (data, _) = a.get("/config", None)?;
    out.say(format!("get /config -> {}", text(&data)));

    // ------------------------------------------------------------------ 3. ephemeral
    out.section("3. an ephemeral node lives as long as its session");
    // B shares A's handler: two sessions on one loop and one thread.
    let b = Client::builder(b_hosts)
        .session_timeout(Duration::from_secs(5))
        .handler(a.handler().clone())
        .build_with()?;
    let o = out.clone();
    b.add_listener(move |s| o.say(format!("[listener B] {}", state_name(s))));
    b.start(Some(WAIT))?;
    let (eph, stat) = b.create(
        "/workers/worker-",
        b"B was here",
        &CreateOptions {
            makepath: true,
            ..CreateOptions::mode(CreateMode::EphemeralSequential)
        },
    )?;
    out.say(format!(
        "B: create ephemeral sequential /workers/worker- -> {eph} (owner 0x{:x})",
        stat.ephemeral_owner
    ));
    let gone = Rc::new(Cell::new(false));
    let (o, g) = (out.clone(), gone.clone());
    let seen = a.exists(
        &eph,
        Watcher::new(move |ev| {
            o.say(event_line("watch A", &ev));
            g.set(ev.event_type == EventType::NodeDeleted);
        }),
    )?;
    out.say(format!(
        "A: exists {eph} -> {}, leaving a watch",
        if seen.is_some() { "yes" } else { "no" }
    ));
    out.say("B: stop() closes its session");
    b.stop()?;
    a.run_until(&|| gone.get(), Some(WAIT))?;
    let children = a.get_children("/workers", None)?;
    out.say(format!(
        "A: /workers now has {} children: the ephemeral went with B's session",
        children.len()
    ));

    // ------------------------------------------------------------------ 4. transaction
    out.section("4. a transaction with one failing op: nothing is applied");
    let version = a
        .exists("/config", None)?
        .ok_or("/config vanished")?
        .version;
    let labels = [
        "create /from-txn".to_string(),
        "set_data /config, expecting version 0".to_string(),
        "check /workers".to_string(),
    ];
    let results = a
        .transaction()
        .create("/from-txn", b"1", CreateMode::Persistent)
        .set_data("/config", b"v3", Some(0))
        .check("/workers", None)
        .commit()?;
    print_results(out, &labels, &results);
    out.say("(ops before the failing one are rolled back, ops after it are not run)");
    out.say(format!(
        "exists /from-txn -> {}",
        if a.exists("/from-txn", None)?.is_some() {
            "yes"
        } else {
            "no: the whole transaction was rolled back"
        }
    ));
    out.say(format!("again, expecting the real version {version}:"));
    let labels = [
        "create /from-txn".to_string(),
        format!("set_data /config, expecting version {version}"),
        "check /workers".to_string(),
    ];
    let results = a
        .transaction()
        .create("/from-txn", b"1", CreateMode::Persistent)
        .set_data("/config", b"v3", Some(version))
        .check("/workers", None)
        .commit()?;
    print_results(out, &labels, &results);

    // ------------------------------------------------------------------ 5. callbacks
    out.section("5. async calls with callbacks: six requests in flight at once");
    a.ensure_path("/items", None)?;
    let done: Rc<RefCell<Vec<usize>>> = Rc::default();
    let mut paths: Vec<String> = (1..=5).map(|i| format!("/items/{i}")).collect();
    paths.push("/items/1".to_string()); // already created by then: NodeExists
    for (i, p) in paths.iter().enumerate() {
        let data = Bytes::from(format!("{}", (i + 1) * 10));
        let r = a.create_async(p, data, CreateOptions::default());
        let (o, d, p) = (out.clone(), done.clone(), p.clone());
        r.rawlink(move |r| {
            match r.get_nowait() {
                Ok((path, stat)) => o.say(format!(
                    "[callback] create {p} -> {path} (czxid {})",
                    stat.czxid
                )),
                Err(e) => o.say(format!("[callback] create {p} -> error: {e}")),
            }
            d.borrow_mut().push(i);
        });
    }
    out.say(format!(
        "submitted {} creates; {} callbacks have run so far (they run on the loop)",
        paths.len(),
        done.borrow().len()
    ));
    a.run_until(&|| done.borrow().len() == paths.len(), Some(WAIT))?;
    let in_order = done.borrow().windows(2).all(|w| w[0] < w[1]);
    out.say(format!(
        "all {} callbacks ran, {}",
        paths.len(),
        if in_order {
            "in request order"
        } else {
            "OUT OF request order"
        }
    ));

    // ------------------------------------------------------------------ 6. await
    out.section("6. a task that awaits results (spawn_future), and the caller waiting for it");
    let (c, o) = (a.clone(), out.clone());
    let task = a.handler().spawn_future(async move {
        let (mut names, _) = c.get_children_with_stat_async("/items", None).await?;
        names.sort();
        o.say(format!("[task] /items has {names:?}"));
        let mut total = 0u64;
        for name in &names {
            let (data, _) = c.get_async(&format!("/items/{name}"), None).await?;
            total += data
                .as_deref()
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
        }
        o.say(format!(
            "[task] read each item with an await: total {total}"
        ));
        Ok::<u64, Error>(total)
    });
    out.say("spawned the task; waiting for its result (the wait runs the loop)");
    let total = task.take(true, Some(WAIT))??;
    out.say(format!("the task returned {total}"));

    // ------------------------------------------------------------------ 7. recursive watch
    out.section("7. a persistent recursive watch: every change below /tree");
    let events = Rc::new(Cell::new(0));
    let (o, n) = (out.clone(), events.clone());
    let watch = a.add_watch("/tree", AddWatchMode::PersistentRecursive, move |ev| {
        o.say(event_line("recursive watch", &ev));
        n.set(n.get() + 1);
    })?;
    out.say("add_watch /tree (recursive)");
    a.create("/tree", b"", CreateMode::Persistent)?;
    a.create("/tree/leaf", b"1", CreateMode::Persistent)?;
    a.set("/tree/leaf", b"2", None)?;
    a.delete("/tree/leaf", None)?;
    out.say("created /tree and /tree/leaf, set /tree/leaf, deleted /tree/leaf");
    a.run_until(&|| events.get() >= 4, Some(WAIT))?;
    // The registration removes exactly this watcher (other watchers on /tree would stay).
    watch.remove()?;
    out.say("removed the watch (WatchRegistration::remove)");
    a.run_until(&|| events.get() >= 5, Some(WAIT))?;
    let before = events.get();
    a.create("/tree/after", b"", CreateMode::Persistent)?;
    out.say(format!(
        "create /tree/after -> {} new events: the watch is gone",
        events.get() - before
    ));

    // ------------------------------------------------------------------ 8. a blip
    out.section("8. a network blip: the session and its watches survive");
    match proxy {
        None => out.say("skipped with ZK_HOSTS: it needs the harness's proxy"),
        Some(proxy) => {
            let fired = Rc::new(Cell::new(false));
            let (o, f) = (out.clone(), fired.clone());
            a.get(
                "/config",
                Watcher::new(move |ev| {
                    o.say(event_line("watch A", &ev));
                    f.set(ev.event_type == EventType::NodeDataChanged);
                }),
            )?;
            out.say("A: get /config, leaving a data watch");
            proxy.drop_connections();
            out.say("the proxy cut A's connection");
            // The admin client runs on its own loop: A's loop does not run meanwhile, so
            // this change is made while A is cut off.
            admin.set(&format!("{base}/config"), b"changed while A was away", None)?;
            out.say("admin: set /config while A is cut off");
            a.run_until(
                &|| fired.get() && a.state() == ClientState::Connected,
                Some(WAIT),
            )?;
            let (id, _) = a.client_id().ok_or("no session after the blip")?;
            out.say(format!(
                "A: back on session 0x{id:x} ({}); the watch was re-registered and fired",
                if id == session_id {
                    "the same one"
                } else {
                    "a NEW one"
                }
            ));
            let (data, _) = a.get("/config", None)?;
            out.say(format!("A: get /config -> {}", text(&data)));
        }
    }

    // ------------------------------------------------------------------ 9. a cache
    cache::section(out, b_hosts, admin, base, upstream)?;

    // ------------------------------------------------------------------ 10. stop
    out.section("10. stop: the session is closed");
    let lost = Rc::new(Cell::new(false));
    let l = lost.clone();
    a.add_listener(move |s| l.set(s == ClientState::Lost));
    a.stop()?;
    // The listener call is queued on the loop; let it run.
    a.run_until(&|| lost.get(), Some(WAIT))?;
    match a.get("/config", None) {
        Err(e) => out.say(format!("A: get after stop -> error: {e}")),
        Ok(_) => out.say("A: get after stop unexpectedly worked"),
    }
    Ok(())
}

fn print_results(out: &Out, labels: &[String], results: &[OpResult]) {
    for (label, r) in labels.iter().zip(results) {
        let outcome = match r {
            OpResult::Create(p) => format!("ok, created {p}"),
            OpResult::Delete => "ok, deleted".to_string(),
            OpResult::SetData(s) => format!("ok, version {}", s.version),
            OpResult::Check => "ok".to_string(),
            OpResult::RolledBack => "rolled back".to_string(),
            OpResult::Error(e) => format!("FAILED: {e}"),
        };
        out.say(format!("  {label:<40} {outcome}"));
    }
}
