//! Benchmarks against a real ZooKeeper server (issue #6 §1–2): the crate's `Client`, and a
//! minimal raw-socket client that gives the ceiling of what the server can do here.
//!
//! ```text
//! cargo run --release --example bench                       # a throwaway harness server
//! cargo run --release --example bench -- --client-name mio-zookeeper,raw --n 20000
//! cargo run --release --example bench -- --hosts 10.0.0.5:2181 --server-pid 1234
//! ```
//!
//! Flags (defaults in brackets): `--hosts H:P[,..]` [a throwaway server], `--prefix /p`
//! [`/mio-zookeeper-bench-<pid>`], `--n N` [50000], `--window W` [1000], `--lat-n L` [5000],
//! `--watch-n K` [1000], `--watch-rounds R` [5], `--server-pid PID` [the throwaway server's],
//! `--client-name NAME[,NAME]` [`mio-zookeeper`; `raw` is the raw-socket client],
//! `--workloads a,b,..` [all, in the order below], `--warmup M` [10000].
//!
//! Workloads: `exists_all`, `exists_w`, `get_1k`, `create_seq`, `delete`, `set_1k`,
//! `exists_lat`, `watch_multi`, `watch_sets`. Each prints one JSON line on stdout:
//! `client, workload, ops, secs, ops_per_s, p50_us, p99_us, window, client_cpu_s,
//! client_cpu_us_per_op, server_cpu_s, server_cpu_us_per_op`, and `errors` and
//! `client_user_us_per_op` (the user-mode part of the client's CPU). CPU figures cover the
//! timed region only. For the pipelined workloads p50/p99 are the latencies from issuing a
//! request to its completion; for the watch workloads `secs` is the median round (commit →
//! every watch callback ran), `p50_us` that median and `p99_us` the slowest round, and the
//! CPU figures are per watch over all rounds' timed parts. Diagnostics go to stderr.
//!
//! With several `--client-name`s every client gets its own session and subtree, and each
//! workload is run by each client in turn. Without `--hosts` the throwaway server's pid is
//! printed on stderr (to pin it with `taskset -a -p -c 0 PID`), and used as `--server-pid`.
//!
//! The logic is in [`run`], which `tests/bench_smoke.rs` runs in-process.

use std::cell::Cell;
use std::error::Error as StdError;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mio_zookeeper::proto::Acl;
use mio_zookeeper::proto::{
    decode_connect_reply, encode_connect_request, encode_request, ConnectReply, ConnectRequest,
    CreateMode, CreateRequest, DeleteRequest, MultiOp, PathWatch, Request, SetDataRequest,
    DEFAULT_MAX_OUTGOING_FRAME,
};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{AsyncResult, Client, CreateOptions, Handler};
use serde_json::{json, Value};

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

/// Every workload, in the default order.
pub(crate) const ALL_WORKLOADS: &[&str] = &[
    "exists_all",
    "exists_w",
    "get_1k",
    "create_seq",
    "delete",
    "set_1k",
    "exists_lat",
    "watch_multi",
    "watch_sets",
];

/// The session timeout the benchmark asks for: long, since each client's session idles while
/// the other client runs a workload (servers cap it at 20 ticks).
const SESSION_TIMEOUT: Duration = Duration::from_secs(40);

/// How long any single wait may take before the benchmark gives up.
const WAIT: Duration = Duration::from_secs(120);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match Opts::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    match run(&opts) {
        Ok(_) => {}
        Err(e) => {
            eprintln!("bench failed: {e}");
            std::process::exit(1);
        }
    }
}

const USAGE: &str = "usage: bench [--hosts H:P[,..]] [--prefix /p] [--n N] [--window W] \
[--lat-n L] [--watch-n K] [--watch-rounds R] [--server-pid PID] [--client-name NAME[,NAME]] \
[--workloads a,b,..] [--warmup M]";

/// The command line.
#[derive(Debug, Clone)]
pub(crate) struct Opts {
    pub(crate) hosts: Option<String>,
    pub(crate) prefix: String,
    pub(crate) n: usize,
    pub(crate) window: usize,
    pub(crate) lat_n: usize,
    pub(crate) watch_n: usize,
    pub(crate) watch_rounds: usize,
    pub(crate) server_pid: Option<u32>,
    pub(crate) clients: Vec<String>,
    pub(crate) workloads: Vec<String>,
    pub(crate) warmup: usize,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            hosts: None,
            prefix: format!("/mio-zookeeper-bench-{}", std::process::id()),
            n: 50_000,
            window: 1000,
            lat_n: 5000,
            watch_n: 1000,
            watch_rounds: 5,
            server_pid: None,
            clients: vec!["mio-zookeeper".to_string()],
            workloads: ALL_WORKLOADS.iter().map(|s| s.to_string()).collect(),
            warmup: 10_000,
        }
    }
}

impl Opts {
    pub(crate) fn parse(args: &[String]) -> Result<Opts> {
        let mut o = Opts::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            fn num(flag: &str, v: String) -> Result<usize> {
                v.parse()
                    .map_err(|e| format!("{flag} {v:?}: not a count ({e})").into())
            }
            match flag.as_str() {
                "--hosts" => o.hosts = Some(value()?),
                "--prefix" => o.prefix = value()?,
                "--n" => o.n = num(flag, value()?)?,
                "--window" => o.window = num(flag, value()?)?,
                "--lat-n" => o.lat_n = num(flag, value()?)?,
                "--watch-n" => o.watch_n = num(flag, value()?)?,
                "--watch-rounds" => o.watch_rounds = num(flag, value()?)?,
                "--warmup" => o.warmup = num(flag, value()?)?,
                "--server-pid" => {
                    let v = value()?;
                    o.server_pid = Some(v.parse().map_err(|e| format!("--server-pid {v:?}: {e}"))?)
                }
                "--client-name" => o.clients = split_list(&value()?),
                "--workloads" => o.workloads = split_list(&value()?),
                "-h" | "--help" => return Err("help".into()),
                other => return Err(format!("unknown flag {other:?}").into()),
            }
        }
        if let Some(w) = o
            .workloads
            .iter()
            .find(|w| !ALL_WORKLOADS.contains(&w.as_str()))
        {
            return Err(format!(
                "unknown workload {w:?} (known: {})",
                ALL_WORKLOADS.join(",")
            )
            .into());
        }
        if let Some(c) = o
            .clients
            .iter()
            .find(|c| *c != "raw" && *c != "mio-zookeeper")
        {
            return Err(format!("unknown client {c:?} (mio-zookeeper or raw)").into());
        }
        if o.window == 0 || o.watch_rounds == 0 {
            return Err("--window and --watch-rounds must be at least 1".into());
        }
        if !o.prefix.starts_with('/') || o.prefix.len() < 2 || o.prefix.ends_with('/') {
            return Err(format!("--prefix {:?}: an absolute path, not /", o.prefix).into());
        }
        Ok(o)
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Runs the benchmark; returns the JSON lines it printed.
pub(crate) fn run(opts: &Opts) -> Result<Vec<Value>> {
    let _server;
    let (hosts, server_pid) = match &opts.hosts {
        Some(h) => {
            _server = None;
            (h.clone(), opts.server_pid)
        }
        None => {
            // tickTime 2 s: sessions up to 40 s (SESSION_TIMEOUT).
            let zk = ZkServer::builder().tick_time(2000).start()?;
            let pid = zk.pid();
            eprintln!(
                "bench: started a throwaway ZooKeeper at {} (server pid {})",
                zk.connect_string(),
                pid.map_or("unknown".to_string(), |p| p.to_string())
            );
            let h = zk.connect_string();
            _server = Some(zk);
            (h, opts.server_pid.or(pid))
        }
    };
    let admin = Client::builder(&hosts)
        .session_timeout(SESSION_TIMEOUT)
        .build()?;
    admin.start(Some(Duration::from_secs(30)))?;
    let mut out = Vec::new();
    let result = (|| -> Result<()> {
        // Every client gets its own subtree and session; the workloads run in turn for each
        // client (ours, then raw), so both see the server in the same state.
        // (name, subtree, client, the nodes its create_seq made for its delete)
        type Entry<'a> = (&'a str, String, Box<dyn Bench>, Vec<String>);
        let mut clients: Vec<Entry<'_>> = Vec::new();
        for name in &opts.clients {
            let base = format!("{}/{}", opts.prefix, name);
            setup(&admin, &base, opts)?;
            let mut bench: Box<dyn Bench> = if name == "raw" {
                Box::new(Raw::connect(&hosts, server_pid)?)
            } else {
                Box::new(Ours::connect(&hosts, opts, server_pid)?)
            };
            bench.warmup(&base, opts)?;
            clients.push((name, base, bench, Vec::new()));
        }
        for w in &opts.workloads {
            for (name, base, bench, created) in clients.iter_mut() {
                let line = bench.workload(w, base, opts, created)?.to_json(name, w);
                println!("{line}");
                out.push(line);
            }
        }
        for (_, _, bench, _) in clients {
            bench.close()?;
        }
        Ok(())
    })();
    let cleaned = admin.delete_recursive(&opts.prefix);
    admin.stop()?;
    result?;
    cleaned?;
    Ok(out)
}

/// Creates `base` with the nodes the workloads use: `e` (exists), `g` (1 KiB), `s` (set),
/// `seq` (the parent of create_seq), `w/0..K` (watched).
fn setup(admin: &Client, base: &str, opts: &Opts) -> Result<()> {
    admin.ensure_path(base)?;
    admin.create(&format!("{base}/e"), b"")?;
    admin.create(&format!("{base}/g"), &[7u8; 1024])?;
    admin.create(&format!("{base}/s"), b"")?;
    admin.create(&format!("{base}/seq"), b"")?;
    admin.create(&format!("{base}/w"), b"")?;
    let results: Vec<_> = (0..opts.watch_n)
        .map(|i| admin.create_async(&format!("{base}/w/{i}"), None, &CreateOptions::default()))
        .collect();
    for r in results {
        r.get(true, Some(WAIT))?;
    }
    Ok(())
}

/// What one workload measured.
#[derive(Debug, Default)]
struct Measure {
    ops: usize,
    secs: f64,
    p50_us: Option<f64>,
    p99_us: Option<f64>,
    window: Option<usize>,
    errors: usize,
    /// The CPU seconds of the timed part(s), and how many operations they cover.
    cost: Cost,
}

/// CPU used while timing.
#[derive(Debug, Default, Clone, Copy)]
struct Cost {
    client_cpu_s: f64,
    /// The user-mode part of `client_cpu_s` (the rest is the kernel: syscalls and loopback
    /// TCP, which on one machine includes part of the server's receive path).
    client_user_s: f64,
    server_cpu_s: Option<f64>,
    ops: usize,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.client_cpu_s += other.client_cpu_s;
        self.client_user_s += other.client_user_s;
        self.server_cpu_s = match (self.server_cpu_s, other.server_cpu_s) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.ops += other.ops;
    }
}

/// A timed region: wall clock, and the CPU of this process and of the server.
struct Span {
    start: Instant,
    cpu: (f64, f64),
    server_pid: Option<u32>,
    server_cpu: Option<f64>,
}

impl Span {
    fn begin(server_pid: Option<u32>) -> Span {
        Span {
            cpu: cpu_times(None),
            server_cpu: server_pid.map(|p| cpu_secs(Some(p))),
            server_pid,
            start: Instant::now(),
        }
    }

    /// Seconds since `begin`, and the CPU used over `ops` operations.
    fn end(&self, ops: usize) -> (f64, Cost) {
        let secs = self.start.elapsed().as_secs_f64();
        let cost = Cost {
            client_cpu_s: cpu_times(None).1 - self.cpu.1,
            client_user_s: cpu_times(None).0 - self.cpu.0,
            server_cpu_s: match (self.server_cpu, self.server_pid) {
                (Some(a), Some(p)) => Some(cpu_secs(Some(p)) - a),
                _ => None,
            },
            ops,
        };
        (secs, cost)
    }
}

impl Measure {
    fn to_json(&self, client: &str, workload: &str) -> Value {
        let ops = self.cost.ops.max(1) as f64;
        let ccpu = self.cost.client_cpu_s;
        let scpu = self.cost.server_cpu_s;
        json!({
            "client": client,
            "workload": workload,
            "ops": self.ops,
            "secs": self.secs,
            "ops_per_s": if self.secs > 0.0 { self.ops as f64 / self.secs } else { 0.0 },
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "window": self.window,
            "client_cpu_s": ccpu,
            "client_user_us_per_op": self.cost.client_user_s * 1e6 / ops,
            "client_cpu_us_per_op": ccpu * 1e6 / ops,
            "server_cpu_s": scpu,
            "server_cpu_us_per_op": scpu.map(|s| s * 1e6 / ops),
            "errors": self.errors,
        })
    }
}

/// p50 and p99 of latencies in µs.
fn percentiles(mut us: Vec<f64>) -> (Option<f64>, Option<f64>) {
    if us.is_empty() {
        return (None, None);
    }
    us.sort_by(f64::total_cmp);
    let at = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize];
    (Some(at(0.5)), Some(at(0.99)))
}

/// User + system CPU seconds of this process (`None`) or of `pid`, from `/proc/PID/stat`;
/// NaN when it cannot be read.
fn cpu_secs(pid: Option<u32>) -> f64 {
    cpu_times(pid).1
}

/// User, and user + system, CPU seconds of this process (`None`) or of `pid`.
fn cpu_times(pid: Option<u32>) -> (f64, f64) {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let Ok(stat) = std::fs::read_to_string(path) else {
        return (f64::NAN, f64::NAN);
    };
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return (f64::NAN, f64::NAN);
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u / hz, (u + s) / hz),
        _ => (f64::NAN, f64::NAN),
    }
}

/// One client under test.
trait Bench {
    fn warmup(&mut self, base: &str, opts: &Opts) -> Result<()>;
    fn workload(
        &mut self,
        name: &str,
        base: &str,
        opts: &Opts,
        created: &mut Vec<String>,
    ) -> Result<Measure>;
    fn close(self: Box<Self>) -> Result<()>;
}

// ------------------------------------------------------------------ the crate's Client

struct Ours {
    zk: Client,
    server_pid: Option<u32>,
}

impl Ours {
    fn connect(hosts: &str, opts: &Opts, server_pid: Option<u32>) -> Result<Ours> {
        let zk = Client::builder(hosts)
            .session_timeout(SESSION_TIMEOUT)
            .max_queued_requests(opts.n.max(opts.watch_n).max(opts.warmup) + 1)
            .request_timeout(Some(WAIT))
            .build()?;
        zk.start(Some(Duration::from_secs(30)))?;
        Ok(Ours { zk, server_pid })
    }

    /// Issues `n` requests with at most `window` outstanding, driving the loop with
    /// `poll_once` between completions; `issue(i)` starts request `i`.
    fn pipelined<T: Clone + 'static>(
        &self,
        n: usize,
        window: usize,
        mut issue: impl FnMut(usize) -> AsyncResult<T>,
        mut keep: impl FnMut(T),
    ) -> Result<Measure> {
        let done = Rc::new(Cell::new(0usize));
        let errors = Rc::new(Cell::new(0usize));
        let lat: Rc<std::cell::RefCell<Vec<f64>>> =
            Rc::new(std::cell::RefCell::new(Vec::with_capacity(n)));
        let kept: Rc<std::cell::RefCell<Vec<T>>> = Rc::default();
        let span = Span::begin(self.server_pid);
        let start = span.start;
        let mut issued = 0;
        while done.get() < n {
            while issued < n && issued - done.get() < window {
                let t0 = Instant::now();
                let (d, e, l, k) = (done.clone(), errors.clone(), lat.clone(), kept.clone());
                issue(issued).rawlink(move |r| {
                    l.borrow_mut().push(t0.elapsed().as_secs_f64() * 1e6);
                    match r.take(false, None) {
                        Ok(v) => k.borrow_mut().push(v),
                        Err(_) => e.set(e.get() + 1),
                    }
                    d.set(d.get() + 1);
                });
                issued += 1;
            }
            self.zk.poll_once(Some(Duration::from_secs(1)))?;
            if start.elapsed() > WAIT {
                return Err(format!("{} of {n} requests done in {WAIT:?}", done.get()).into());
            }
        }
        let (secs, cost) = span.end(n);
        for v in kept.take() {
            keep(v);
        }
        let (p50_us, p99_us) = percentiles(lat.take());
        Ok(Measure {
            ops: n,
            secs,
            p50_us,
            p99_us,
            window: Some(window),
            errors: errors.get(),
            cost,
        })
    }

    /// K one-shot data watches, fired by `fire`; R rounds; the median round.
    fn watches(&self, base: &str, opts: &Opts, multi: bool) -> Result<Measure> {
        let k = opts.watch_n;
        let mut rounds = Vec::new();
        let mut errors = 0;
        let mut cost = Cost::default();
        for round in 0..opts.watch_rounds {
            let fired = Rc::new(Cell::new(0usize));
            let gets: Vec<_> = (0..k)
                .map(|i| {
                    let f = fired.clone();
                    self.zk
                        .get_watch_async(&format!("{base}/w/{i}"), move |_| f.set(f.get() + 1))
                })
                .collect();
            for g in gets {
                g.get(true, Some(WAIT))?;
            }
            let data = Bytes::from(format!("round {round}"));
            let span = Span::begin(self.server_pid);
            let sets: Vec<AsyncResult<()>> = if multi {
                let mut tx = self.zk.transaction();
                for i in 0..k {
                    tx = tx.set_data(&format!("{base}/w/{i}"), &data, -1);
                }
                let r = self.zk.handler().async_result::<()>();
                let r2 = r.clone();
                tx.commit_async().rawlink(move |c| {
                    let _ = r2.set_result(c.get_nowait().map(|_| ()));
                });
                vec![r]
            } else {
                (0..k)
                    .map(|i| {
                        let r = self.zk.handler().async_result::<()>();
                        let r2 = r.clone();
                        self.zk
                            .set_async(&format!("{base}/w/{i}"), Some(data.clone()), -1)
                            .rawlink(move |c| {
                                let _ = r2.set_result(c.get_nowait().map(|_| ()));
                            });
                        r
                    })
                    .collect()
            };
            let f = fired.clone();
            self.zk
                .handler()
                .reactor()
                .run_until(&|| f.get() >= k, Some(WAIT))?;
            let (secs, c) = span.end(k);
            cost.add(c);
            if fired.get() < k {
                return Err(format!("{} of {k} watches fired in {WAIT:?}", fired.get()).into());
            }
            for s in sets {
                if s.get(true, Some(WAIT)).is_err() {
                    errors += 1;
                }
            }
            rounds.push(secs);
        }
        Ok(watch_measure(k, rounds, errors, cost))
    }
}

/// `r` with its value dropped (for the mixed warm-up).
fn unit<T: Clone + 'static>(zk: &Client, r: AsyncResult<T>) -> AsyncResult<()> {
    let out = zk.handler().async_result::<()>();
    let o = out.clone();
    r.rawlink(move |r| {
        let _ = o.set_result(r.get_nowait().map(|_| ()));
    });
    out
}

fn watch_measure(k: usize, mut rounds: Vec<f64>, errors: usize, cost: Cost) -> Measure {
    rounds.sort_by(f64::total_cmp);
    let median = rounds[rounds.len() / 2];
    let max = rounds[rounds.len() - 1];
    Measure {
        ops: k,
        secs: median,
        p50_us: Some(median * 1e6),
        p99_us: Some(max * 1e6),
        window: None,
        errors,
        cost,
    }
}

impl Bench for Ours {
    fn warmup(&mut self, base: &str, opts: &Opts) -> Result<()> {
        let (e, g, s) = (
            format!("{base}/e"),
            format!("{base}/g"),
            format!("{base}/s"),
        );
        let data = Bytes::from(vec![1u8; 1024]);
        self.pipelined(
            opts.warmup,
            opts.window,
            |i| match i % 3 {
                0 => unit(&self.zk, self.zk.exists_async(&e)),
                1 => unit(&self.zk, self.zk.get_async(&g)),
                _ => unit(&self.zk, self.zk.set_async(&s, Some(data.clone()), -1)),
            },
            |_| {},
        )?;
        Ok(())
    }

    fn workload(
        &mut self,
        name: &str,
        base: &str,
        opts: &Opts,
        created: &mut Vec<String>,
    ) -> Result<Measure> {
        let zk = &self.zk;
        let (n, w) = (opts.n, opts.window);
        let e = format!("{base}/e");
        match name {
            "exists_all" => self.pipelined(n, n.max(1), |_| zk.exists_async(&e), |_| {}),
            "exists_w" => self.pipelined(n, w, |_| zk.exists_async(&e), |_| {}),
            "get_1k" => {
                let g = format!("{base}/g");
                self.pipelined(n, w, |_| zk.get_async(&g), |_| {})
            }
            "create_seq" => {
                let p = format!("{base}/seq/n");
                let data = Bytes::from(vec![3u8; 100]);
                let opts = CreateOptions::mode(CreateMode::PersistentSequential);
                self.pipelined(
                    n,
                    w,
                    |_| zk.create_async(&p, Some(data.clone()), &opts),
                    |(path, _)| created.push(path),
                )
            }
            "delete" => {
                if created.len() < n {
                    fill_seq(zk, base, n - created.len(), created)?;
                }
                let paths: Vec<String> = created.drain(..n).collect();
                self.pipelined(n, w, |i| zk.delete_async(&paths[i], -1), |_| {})
            }
            "set_1k" => {
                let s = format!("{base}/s");
                let data = Bytes::from(vec![5u8; 1024]);
                self.pipelined(n, w, |_| zk.set_async(&s, Some(data.clone()), -1), |_| {})
            }
            "exists_lat" => {
                let mut lat = Vec::with_capacity(opts.lat_n);
                let span = Span::begin(self.server_pid);
                for _ in 0..opts.lat_n {
                    let t0 = Instant::now();
                    zk.exists(&e)?;
                    lat.push(t0.elapsed().as_secs_f64() * 1e6);
                }
                let (secs, cost) = span.end(opts.lat_n);
                let (p50_us, p99_us) = percentiles(lat);
                Ok(Measure {
                    ops: opts.lat_n,
                    secs,
                    p50_us,
                    p99_us,
                    window: Some(1),
                    errors: 0,
                    cost,
                })
            }
            "watch_multi" => self.watches(base, opts, true),
            "watch_sets" => self.watches(base, opts, false),
            other => Err(format!("unknown workload {other:?}").into()),
        }
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.zk.stop()?;
        Ok(())
    }
}

/// Creates `count` sequential nodes (untimed) for `delete` when `create_seq` did not run.
fn fill_seq(zk: &Client, base: &str, count: usize, created: &mut Vec<String>) -> Result<()> {
    let opts = CreateOptions::mode(CreateMode::PersistentSequential);
    let p = format!("{base}/seq/n");
    for chunk in (0..count).collect::<Vec<_>>().chunks(1000) {
        let rs: Vec<_> = chunk
            .iter()
            .map(|_| zk.create_async(&p, None, &opts))
            .collect();
        for r in rs {
            created.push(r.get(true, Some(WAIT))?.0);
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ the raw client

/// A minimal client: std `TcpStream`, blocking; pre-encoded request frames written in large
/// batches; replies counted, only their header read.
struct Raw {
    stream: TcpStream,
    inbuf: Vec<u8>,
    /// Bytes of `inbuf` that hold data; frames start at 0.
    filled: usize,
    next_xid: i32,
    /// Sequential nodes the raw create_seq made: `seq` counts from 0 in a fresh parent.
    seq_next: usize,
    server_pid: Option<u32>,
}

/// One reply's header: xid and error.
#[derive(Debug, Clone, Copy)]
struct RawHeader {
    xid: i32,
    err: i32,
}

impl Raw {
    fn connect(hosts: &str, server_pid: Option<u32>) -> Result<Raw> {
        let first = hosts.split(',').next().unwrap_or(hosts).trim();
        let addr: SocketAddr = first
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| format!("no address for {first:?}"))?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(WAIT))?;
        let mut raw = Raw {
            stream,
            inbuf: vec![0; 1 << 20],
            filled: 0,
            next_xid: 1,
            seq_next: 0,
            server_pid,
        };
        let mut out = BytesMut::new();
        let timeout_ms = i32::try_from(SESSION_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
        encode_connect_request(&ConnectRequest::new_session(timeout_ms, false), &mut out);
        raw.stream.write_all(&out)?;
        let frame = raw.next_frame()?;
        match decode_connect_reply(&Bytes::from(frame))? {
            ConnectReply::Response(_) => Ok(raw),
            ConnectReply::Refused(code) => {
                Err(format!("server refused the session: {code}").into())
            }
        }
    }

    /// Reads until one whole frame is buffered; returns its body and drops it from the buffer.
    fn next_frame(&mut self) -> Result<Vec<u8>> {
        loop {
            if self.filled >= 4 {
                let len = i32::from_be_bytes([
                    self.inbuf[0],
                    self.inbuf[1],
                    self.inbuf[2],
                    self.inbuf[3],
                ]);
                let len = usize::try_from(len).map_err(|_| "negative frame length")?;
                if self.filled >= 4 + len {
                    let body = self.inbuf[4..4 + len].to_vec();
                    self.inbuf.copy_within(4 + len..self.filled, 0);
                    self.filled -= 4 + len;
                    return Ok(body);
                }
                if 4 + len > self.inbuf.len() {
                    self.inbuf.resize(4 + len, 0);
                }
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<()> {
        let n = self.stream.read(&mut self.inbuf[self.filled..])?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        self.filled += n;
        Ok(())
    }

    /// Reads what the socket has (one `read`, blocking until something arrives) and calls
    /// `on_reply` with the header of every whole reply.
    fn read_replies(&mut self, mut on_reply: impl FnMut(RawHeader)) -> Result<()> {
        if self.filled == self.inbuf.len() {
            let len = self.inbuf.len();
            self.inbuf.resize(len * 2, 0);
        }
        self.fill()?;
        let mut at = 0;
        while self.filled - at >= 4 + 16 {
            let b = &self.inbuf[at..];
            let len = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let len = usize::try_from(len).map_err(|_| "negative frame length")?;
            if len < 16 {
                return Err(format!("a {len}-byte reply frame").into());
            }
            if self.filled - at < 4 + len {
                if 4 + len > self.inbuf.len() {
                    self.inbuf.resize(4 + len, 0);
                }
                break;
            }
            let xid = i32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            let err = i32::from_be_bytes([b[16], b[17], b[18], b[19]]);
            on_reply(RawHeader { xid, err });
            at += 4 + len;
        }
        self.inbuf.copy_within(at..self.filled, 0);
        self.filled -= at;
        Ok(())
    }

    /// Encodes requests into one buffer; returns it and each frame's end offset.
    fn encode(&mut self, reqs: impl Iterator<Item = Request>) -> Result<(Vec<u8>, Vec<usize>)> {
        let mut out = BytesMut::new();
        let mut ends = Vec::new();
        for r in reqs {
            encode_request(self.next_xid, &r, &mut out, DEFAULT_MAX_OUTGOING_FRAME)?;
            self.next_xid += 1;
            ends.push(out.len());
        }
        Ok((out.to_vec(), ends))
    }

    /// Writes `reqs` with at most `window` outstanding, each batch in one `write_all`.
    fn pipelined(&mut self, reqs: Vec<Request>, window: usize) -> Result<Measure> {
        let n = reqs.len();
        let (buf, ends) = self.encode(reqs.into_iter())?;
        let mut sent_at = Vec::with_capacity(n);
        let mut lat = Vec::with_capacity(n);
        let (mut sent, mut done, mut errors) = (0usize, 0usize, 0usize);
        let span = Span::begin(self.server_pid);
        while done < n {
            if sent < n && sent - done < window {
                let upto = (done + window).min(n);
                let from = if sent == 0 { 0 } else { ends[sent - 1] };
                self.stream.write_all(&buf[from..ends[upto - 1]])?;
                let now = Instant::now();
                sent_at.resize(upto, now);
                sent = upto;
            }
            let now = Cell::new(None::<Instant>);
            self.read_replies(|h| {
                if h.xid > 0 {
                    let t = now.get().unwrap_or_else(Instant::now);
                    now.set(Some(t));
                    if let Some(s) = sent_at.get(done) {
                        lat.push(t.duration_since(*s).as_secs_f64() * 1e6);
                    }
                    if h.err != 0 {
                        errors += 1;
                    }
                    done += 1;
                }
            })?;
        }
        let (secs, cost) = span.end(n);
        let (p50_us, p99_us) = percentiles(lat);
        Ok(Measure {
            ops: n,
            secs,
            p50_us,
            p99_us,
            window: Some(window),
            errors,
            cost,
        })
    }

    /// Registers K data watches (getData with watch), sends the firing requests, and times
    /// until K notifications arrived.
    fn watches(&mut self, base: &str, opts: &Opts, multi: bool) -> Result<Measure> {
        let k = opts.watch_n;
        let mut rounds = Vec::new();
        let mut errors = 0;
        let mut cost = Cost::default();
        for round in 0..opts.watch_rounds {
            let gets = (0..k).map(|i| {
                Request::GetData(PathWatch {
                    path: format!("{base}/w/{i}"),
                    watch: true,
                })
            });
            let m = self.pipelined(gets.collect(), k.max(1))?;
            errors += m.errors;
            let data = Bytes::from(format!("round {round}"));
            let set = |i: usize| SetDataRequest {
                path: format!("{base}/w/{i}"),
                data: Some(data.clone()),
                version: -1,
            };
            let fire: Vec<Request> = if multi {
                vec![Request::Multi(
                    (0..k).map(|i| MultiOp::SetData(set(i))).collect(),
                )]
            } else {
                (0..k).map(|i| Request::SetData(set(i))).collect()
            };
            let replies_due = fire.len();
            let (buf, _) = self.encode(fire.into_iter())?;
            let span = Span::begin(self.server_pid);
            let t0 = span.start;
            self.stream.write_all(&buf)?;
            let (mut fired, mut replies) = (0usize, 0usize);
            let mut secs = None;
            while fired < k || replies < replies_due {
                self.read_replies(|h| match h.xid {
                    -1 => fired += 1,
                    x if x > 0 => {
                        replies += 1;
                        if h.err != 0 {
                            errors += 1;
                        }
                    }
                    _ => {}
                })?;
                if fired >= k && secs.is_none() {
                    let (t, c) = span.end(k);
                    secs = Some(t);
                    cost.add(c);
                }
                if t0.elapsed() > WAIT {
                    return Err(format!("{fired} of {k} watches fired in {WAIT:?}").into());
                }
            }
            rounds.push(secs.unwrap_or_else(|| t0.elapsed().as_secs_f64()));
        }
        Ok(watch_measure(k, rounds, errors, cost))
    }
}

impl Bench for Raw {
    fn warmup(&mut self, base: &str, opts: &Opts) -> Result<()> {
        let data = Bytes::from(vec![1u8; 1024]);
        let reqs = (0..opts.warmup)
            .map(|i| match i % 3 {
                0 => Request::Exists(PathWatch {
                    path: format!("{base}/e"),
                    watch: false,
                }),
                1 => Request::GetData(PathWatch {
                    path: format!("{base}/g"),
                    watch: false,
                }),
                _ => Request::SetData(SetDataRequest {
                    path: format!("{base}/s"),
                    data: Some(data.clone()),
                    version: -1,
                }),
            })
            .collect();
        self.pipelined(reqs, opts.window)?;
        Ok(())
    }

    fn workload(
        &mut self,
        name: &str,
        base: &str,
        opts: &Opts,
        created: &mut Vec<String>,
    ) -> Result<Measure> {
        let (n, w) = (opts.n, opts.window);
        let exists = || {
            Request::Exists(PathWatch {
                path: format!("{base}/e"),
                watch: false,
            })
        };
        match name {
            "exists_all" => self.pipelined((0..n).map(|_| exists()).collect(), n.max(1)),
            "exists_w" => self.pipelined((0..n).map(|_| exists()).collect(), w),
            "get_1k" => {
                let reqs = (0..n)
                    .map(|_| {
                        Request::GetData(PathWatch {
                            path: format!("{base}/g"),
                            watch: false,
                        })
                    })
                    .collect();
                self.pipelined(reqs, w)
            }
            "create_seq" => {
                let data = Bytes::from(vec![3u8; 100]);
                let reqs = (0..n)
                    .map(|_| {
                        Request::Create(CreateRequest {
                            path: format!("{base}/seq/n"),
                            data: Some(data.clone()),
                            acl: Acl::open_unsafe(),
                            flags: CreateMode::PersistentSequential.as_i32(),
                        })
                    })
                    .collect();
                let m = self.pipelined(reqs, w)?;
                // Replies are not decoded: the names follow from the parent's counter, which
                // starts at 0 in the fresh `seq` node.
                created.extend(
                    (self.seq_next..self.seq_next + n).map(|i| format!("{base}/seq/n{i:010}")),
                );
                self.seq_next += n;
                Ok(m)
            }
            "delete" => {
                if created.len() < n {
                    let missing = n - created.len();
                    let fill: Vec<String> = Vec::new();
                    let mut sink = fill;
                    self.workload(
                        "create_seq",
                        base,
                        &Opts {
                            n: missing,
                            ..opts.clone()
                        },
                        &mut sink,
                    )?;
                    created.extend(sink);
                }
                let reqs = created
                    .drain(..n)
                    .map(|path| Request::Delete(DeleteRequest { path, version: -1 }))
                    .collect();
                self.pipelined(reqs, w)
            }
            "set_1k" => {
                let data = Bytes::from(vec![5u8; 1024]);
                let reqs = (0..n)
                    .map(|_| {
                        Request::SetData(SetDataRequest {
                            path: format!("{base}/s"),
                            data: Some(data.clone()),
                            version: -1,
                        })
                    })
                    .collect();
                self.pipelined(reqs, w)
            }
            "exists_lat" => {
                // A ping-pong of the same pre-encoded request, one at a time.
                let (buf, _) = self.encode((0..opts.lat_n).map(|_| exists()))?;
                let frame_len = buf.len().checked_div(opts.lat_n).unwrap_or(0);
                let mut lat = Vec::with_capacity(opts.lat_n);
                let mut errors = 0;
                let span = Span::begin(self.server_pid);
                for chunk in buf.chunks(frame_len.max(1)) {
                    let t0 = Instant::now();
                    self.stream.write_all(chunk)?;
                    let mut got = false;
                    while !got {
                        self.read_replies(|h| {
                            if h.xid > 0 {
                                got = true;
                                if h.err != 0 {
                                    errors += 1;
                                }
                            }
                        })?;
                    }
                    lat.push(t0.elapsed().as_secs_f64() * 1e6);
                }
                let (secs, cost) = span.end(opts.lat_n);
                let (p50_us, p99_us) = percentiles(lat);
                Ok(Measure {
                    ops: opts.lat_n,
                    secs,
                    p50_us,
                    p99_us,
                    window: Some(1),
                    errors,
                    cost,
                })
            }
            "watch_multi" => self.watches(base, opts, true),
            "watch_sets" => self.watches(base, opts, false),
            other => Err(format!("unknown workload {other:?}").into()),
        }
    }

    fn close(mut self: Box<Self>) -> Result<()> {
        let (buf, _) = self.encode(std::iter::once(Request::CloseSession))?;
        self.stream.write_all(&buf)?;
        let mut closed = false;
        while !closed {
            match self.read_replies(|h| closed |= h.xid > 0) {
                Ok(()) => {}
                // The server may close the socket right after its reply.
                Err(_) => break,
            }
        }
        Ok(())
    }
}
