//! Benchmarks against a real ZooKeeper server (issue #6 §1–3): the crate's `Client`, and a
//! minimal raw-socket client that gives the ceiling of what the server can do here.
//!
//! ```text
//! cargo bench --bench clients -- --client-name mio-zookeeper,raw   # throwaway server
//! cargo bench --bench clients -- --client-name mio-zookeeper,raw --n 20000
//! cargo bench --bench clients -- --hosts 10.0.0.5:2181 --server-pid 1234
//! ```
//!
//! (A `[[bench]]` with `harness = false`, built with the `bench` profile: optimized, with
//! debug info for profilers. The `--bench` flag cargo passes is ignored.)
//!
//! Flags (defaults in brackets): `--hosts H:P[,..]` [a throwaway server], `--prefix /p`
//! [`/mio-zookeeper-bench-<pid>`], `--n N` [50000], `--window W` [1000], `--lat-n L` [5000],
//! `--watch-n K` [1000], `--watch-rounds R` [5], `--server-pid PID` [the throwaway server's],
//! `--client-name NAME[,NAME]` [`mio-zookeeper`; `raw` is the raw-socket client],
//! `--workloads a,b,..` [all, in the order below], `--warmup M` [10000],
//! `--pin auto|none|S,C` [`auto`]: pin every thread of the server to CPU `S` and of the bench
//! to CPU `C`; `auto` uses the first two CPUs the bench may run on (nothing with fewer), and
//! pins the server only when its pid is known. Pinning is done at start and again after the
//! warm-up, and reported on stderr. `--repeat K` [2]: each workload (but the `mem_*` ones)
//! runs K times per client, the client order reversed every round (A B, then B A), and each
//! line is the client's fastest run, with every run's rate in `runs_ops_per_s`: whoever runs
//! a workload first meets a server whose JIT is still compiling that code path.
//!
//! Workloads: `exists_all`, `exists_w`, `get_1k`, `create_seq`, `delete`, `set_1k`,
//! `exists_lat`, `watch_multi`, `watch_sets`, `mem_request`, `mem_watch`. Each prints one JSON
//! line per client on stdout, every line with every field (null where meaningless):
//! - `client, workload, ops, secs, ops_per_s, p50_us, p99_us, window, errors, note`;
//! - CPU over the timed region: `client_cpu_s, client_cpu_us_per_op, client_user_us_per_op`
//!   (the user-mode part), `server_cpu_s, server_cpu_us_per_op`;
//! - system calls over the timed region, per operation: `reads_per_op, writes_per_op,
//!   polls_per_op` (`epoll_wait`; 0 for the raw client, which blocks in `read`),
//!   `syscalls_per_op` (their sum), and `bytes_per_read, bytes_per_write`; from
//!   `Reactor::io_stats` for ours, the raw client's own counts for it. Other system calls
//!   (`clock_gettime` is a vDSO call, reading `/proc` for the CPU figures) are not counted;
//! - `allocs_per_op`: heap allocation calls per operation over the timed region (the bench's
//!   allocator counts the calls and live bytes of the bench thread; this includes the bench's
//!   own bookkeeping, e.g. latency vectors growing);
//! - memory, for `mem_request` and `mem_watch` (the raw client prints nulls and a `note`: it
//!   keeps no state per request or watch): `heap_bytes_per_op` (live heap per outstanding
//!   request / registered watch, without its path and unsent bytes), `heap_total_bytes_per_op`
//!   (everything), `path_bytes_per_op` (the path's bytes times `path_copies`, the copies the
//!   client keeps, measured with a second, longer path), `unsent_bytes_per_op` (encoded
//!   requests not yet taken by the socket), `live_allocs_per_op` (live heap blocks).
//!
//! For the pipelined workloads p50/p99 are the latencies from issuing a request to its
//! completion; for the watch workloads `secs` is the median round (commit → every watch
//! callback ran), `p50_us` that median and `p99_us` the slowest round, and the CPU and
//! syscall figures are per watch over all rounds' timed parts.
//!
//! `mem_request` (N' = min(N, 10000)) stops the server (SIGSTOP; it needs the server's pid:
//! skipped with a note under `--hosts` without `--server-pid`), issues N' `exists_async` of
//! one node on a fresh client, drives the loop until the requests are written, and takes the
//! live heap's growth over that; then SIGCONT, and every request must succeed. `mem_watch`
//! registers K data watches (`exists_watch_async` on K existing nodes) on a fresh client, one
//! at a time (so that only the watch state grows with K, not the request tables or buffers),
//! and takes the live heap's growth; then it fires them, and each must run once. Both run
//! twice, the second time with paths 64 bytes longer, to measure how many copies of the path
//! the client keeps. Their figures are the same from run to run for given sizes; the CPU and
//! syscall figures of their lines cover the measured phase of the first run (issuing N'
//! requests to a stopped server; K sequential registrations).
//!
//! With several `--client-name`s every client gets its own session and subtree, and each
//! workload is run by each client in turn. Without `--hosts` the throwaway server's pid is
//! printed on stderr and used as `--server-pid`. Diagnostics go to stderr.
//!
//! The logic is in [`run`], which `tests/bench_smoke.rs` runs in-process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::error::Error as StdError;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mio_zookeeper::handler::IoStats;
use mio_zookeeper::proto::{
    decode_connect_reply, encode_connect_request, encode_request, ConnectReply, ConnectRequest,
    CreateMode, CreateRequest, DeleteRequest, MultiOp, PathWatch, Request, SetDataRequest,
    DEFAULT_MAX_OUTGOING_FRAME,
};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{Acl, AsyncResult, Client, CreateOptions, Handler, NullData, Watcher};
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
    "mem_request",
    "mem_watch",
];

/// The session timeout the benchmark asks for: long, since each client's session idles while
/// the other client runs a workload (servers cap it at 20 ticks).
const SESSION_TIMEOUT: Duration = Duration::from_secs(40);

/// How long any single wait may take before the benchmark gives up.
const WAIT: Duration = Duration::from_secs(120);

/// How many requests `mem_request` keeps outstanding at most.
const MEM_REQUESTS: usize = 10_000;

/// How many bytes longer the second path of the memory workloads is.
const LONG_PAD: usize = 64;

// One concept per file: the counting allocator, what a workload measured, each client under
// test, CPU pinning. This file holds the flags and the run.
mod heap_count;
// The command line and percentiles, shared by the bench programs.
#[path = "../shared/cli.rs"]
mod cli;
mod measure;
mod ours;
mod pin;
mod raw;

pub(crate) use cli::*;
use heap_count::*;
use measure::*;
use ours::*;
use pin::*;
use raw::*;

fn main() {
    let args = flags(std::env::args());
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

const USAGE: &str =
    "usage: cargo bench --bench clients -- [--hosts H:P[,..]] [--prefix /p] [--n N] [--window W] \
[--lat-n L] [--watch-n K] [--watch-rounds R] [--server-pid PID] [--client-name NAME[,NAME]] \
[--workloads a,b,..] [--warmup M] [--pin auto|none|SERVER_CPU,CLIENT_CPU] [--repeat K]";

/// Which CPUs the server and the bench are pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pin {
    /// The first two CPUs the bench may use: the server on the first, the bench on the second.
    Auto,
    /// No pinning.
    None,
    /// The server's CPU and the bench's.
    Cpus(usize, usize),
}

impl Pin {
    fn parse(v: &str) -> Result<Pin> {
        match v {
            "auto" => Ok(Pin::Auto),
            "none" => Ok(Pin::None),
            _ => {
                let bad = || format!("--pin {v:?}: auto, none or SERVER_CPU,CLIENT_CPU");
                let (s, c) = v.split_once(',').ok_or_else(bad)?;
                let cpu = |x: &str| -> Result<usize> {
                    let n: usize = x.trim().parse().map_err(|_| bad())?;
                    if n >= libc::CPU_SETSIZE as usize {
                        return Err(format!("--pin {v:?}: CPU {n} out of range").into());
                    }
                    Ok(n)
                };
                Ok(Pin::Cpus(cpu(s)?, cpu(c)?))
            }
        }
    }
}

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
    pub(crate) pin: Pin,
    /// Timed runs of each workload per client, in alternating client order.
    pub(crate) repeat: usize,
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
            pin: Pin::Auto,
            repeat: 2,
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
                "--repeat" => o.repeat = num(flag, value()?)?.max(1),
                "--server-pid" => {
                    let v = value()?;
                    o.server_pid = Some(v.parse().map_err(|e| format!("--server-pid {v:?}: {e}"))?)
                }
                "--client-name" => o.clients = split_list(&value()?),
                "--workloads" => o.workloads = split_list(&value()?),
                "--pin" => o.pin = Pin::parse(&value()?)?,
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

/// Runs the benchmark; returns the JSON lines it printed.
pub(crate) fn run(opts: &Opts) -> Result<Vec<Value>> {
    let _server;
    let (hosts, server_pid) = match &opts.hosts {
        Some(h) => {
            _server = None;
            (h.clone(), opts.server_pid)
        }
        None => {
            // tickTime 2 s: sessions up to 40 s (SESSION_TIMEOUT). The JVM's full JIT (test
            // servers stop at C1 for a quick start), as a production server runs.
            let zk = ZkServer::builder()
                .tick_time(2000)
                .jvm_arg("-XX:TieredStopAtLevel=4")
                .start()?;
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
    let plan = pin_plan(opts.pin);
    let strict = matches!(opts.pin, Pin::Cpus(..));
    apply_pin(plan, server_pid, strict, "at start")?;
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
        // Threads the server started since are pinned too.
        apply_pin(plan, server_pid, strict, "after the warm-up")?;
        // Each workload runs `repeat` times per client, the client order reversed every
        // round (A B, B A, ...): whoever goes first meets a server still compiling that
        // workload's code path, which costs it 10-20 % here. Each line is the client's
        // fastest run, with every run's rate in `runs_ops_per_s`.
        for w in &opts.workloads {
            let reps = if w.starts_with("mem_") {
                1
            } else {
                opts.repeat
            };
            let mut best: Vec<Option<(f64, Value)>> = vec![None; clients.len()];
            let mut rates: Vec<Vec<f64>> = vec![Vec::new(); clients.len()];
            for rep in 0..reps {
                let mut order: Vec<usize> = (0..clients.len()).collect();
                if rep % 2 == 1 {
                    order.reverse();
                }
                for ci in order {
                    let (name, base, bench, created) = &mut clients[ci];
                    let line = bench.workload(w, base, opts, created)?.to_json(name, w);
                    let rate = line["ops_per_s"].as_f64().unwrap_or(0.0);
                    rates[ci].push(rate);
                    if best[ci].as_ref().map_or(true, |(r, _)| rate > *r) {
                        best[ci] = Some((rate, line));
                    }
                }
            }
            for (ci, b) in best.into_iter().enumerate() {
                let Some((_, mut line)) = b else { continue };
                line["runs_ops_per_s"] = json!(rates[ci]);
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
    admin.ensure_path(base, None)?;
    admin.create(&format!("{base}/e"), b"", CreateMode::Persistent)?;
    admin.create(&format!("{base}/g"), &[7u8; 1024], CreateMode::Persistent)?;
    admin.create(&format!("{base}/s"), b"", CreateMode::Persistent)?;
    admin.create(&format!("{base}/seq"), b"", CreateMode::Persistent)?;
    admin.create(&format!("{base}/w"), b"", CreateMode::Persistent)?;
    let results: Vec<_> = (0..opts.watch_n)
        .map(|i| admin.create_async(&format!("{base}/w/{i}"), NullData, CreateOptions::default()))
        .collect();
    for r in results {
        r.get(true, Some(WAIT))?;
    }
    Ok(())
}
