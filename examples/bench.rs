//! Benchmarks against a real ZooKeeper server (issue #6 §1–3): the crate's `Client`, and a
//! minimal raw-socket client that gives the ceiling of what the server can do here.
//!
//! ```text
//! cargo run --release --example bench -- --client-name mio-zookeeper,raw   # throwaway server
//! cargo run --release --example bench -- --client-name mio-zookeeper,raw --n 20000
//! cargo run --release --example bench -- --hosts 10.0.0.5:2181 --server-pid 1234
//! ```
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
use mio_zookeeper::proto::Acl;
use mio_zookeeper::proto::{
    decode_connect_reply, encode_connect_request, encode_request, ConnectReply, ConnectRequest,
    CreateMode, CreateRequest, DeleteRequest, MultiOp, PathWatch, Request, SetDataRequest,
    DEFAULT_MAX_OUTGOING_FRAME,
};
use mio_zookeeper::reactor::IoStats;
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

// ------------------------------------------------------------------ heap accounting

/// The global allocator: `System`, counting per thread the live heap bytes and blocks and the
/// allocation calls. Per-thread counts (plain `Cell`s, no atomics) keep it cheap and leave out
/// other threads (the test harness, the server harness's log readers).
struct CountingAlloc;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// This thread's heap counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct HeapCount {
    /// Bytes allocated minus bytes freed (sizes as requested, not as rounded up by malloc).
    live_bytes: i64,
    /// Blocks allocated minus blocks freed.
    live_blocks: i64,
    /// Allocation calls (alloc, alloc_zeroed, realloc).
    calls: u64,
}

thread_local! {
    static HEAP: Cell<HeapCount> = const {
        Cell::new(HeapCount { live_bytes: 0, live_blocks: 0, calls: 0 })
    };
}

fn heap_note(bytes: i64, blocks: i64, calls: u64) {
    // `try_with`: never panic in the allocator (e.g. while the thread's locals are torn down).
    let _ = HEAP.try_with(|h| {
        let c = h.get();
        h.set(HeapCount {
            live_bytes: c.live_bytes + bytes,
            live_blocks: c.live_blocks + blocks,
            calls: c.calls + calls,
        });
    });
}

/// This thread's heap counts now.
fn heap() -> HeapCount {
    HEAP.try_with(Cell::get).unwrap_or_default()
}

// SAFETY: every call is passed on unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; the counting only touches a thread-local `Cell` and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            heap_note(layout.size() as i64, 1, 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            heap_note(layout.size() as i64, 1, 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through us) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        heap_note(-(layout.size() as i64), -1, 0);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller's contract on `new_size`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            heap_note(new_size as i64 - layout.size() as i64, 0, 1);
        }
        p
    }
}

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

// ------------------------------------------------------------------ pinning

/// The CPUs the calling thread may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: an all-zero `cpu_set_t` is a valid (empty) set; sched_getaffinity writes at
    // most `size_of::<cpu_set_t>()` bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// What `--pin` comes to here: the server's CPU and the bench's, or nothing.
fn pin_plan(pin: Pin) -> Option<(usize, usize)> {
    match pin {
        Pin::None => None,
        Pin::Cpus(server, bench) => Some((server, bench)),
        Pin::Auto => {
            let cpus = allowed_cpus();
            if cpus.len() < 2 {
                eprintln!(
                    "bench: not pinning: the bench may run on {} CPU(s) only",
                    cpus.len()
                );
                return None;
            }
            Some((cpus[0], cpus[1]))
        }
    }
}

/// Pins every thread of `pid` (`None`: this process) to `cpu`; returns how many.
fn pin_threads(pid: Option<u32>, cpu: usize) -> Result<usize> {
    let dir = match pid {
        Some(p) => format!("/proc/{p}/task"),
        None => "/proc/self/task".to_string(),
    };
    // SAFETY: an all-zero `cpu_set_t` is a valid (empty) set; CPU_SET checks `cpu` against
    // the set's size (`Pin::parse` keeps it below CPU_SETSIZE anyway).
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    };
    let mut pinned = 0;
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))? {
        let name = entry.map_err(|e| format!("{dir}: {e}"))?.file_name();
        let Ok(tid) = name.to_string_lossy().parse::<libc::pid_t>() else {
            continue;
        };
        // SAFETY: sched_setaffinity reads `size_of::<cpu_set_t>()` bytes of `set`.
        let r =
            unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        if r == 0 {
            pinned += 1;
        } else {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                // (ESRCH: the thread ended meanwhile.)
                return Err(format!("pinning thread {tid} of {dir} to CPU {cpu}: {e}").into());
            }
        }
    }
    Ok(pinned)
}

/// Pins the bench, and the server when its pid is known, as `plan` says; reports it on
/// stderr. A failure is an error when the CPUs were given (`strict`), else a warning.
fn apply_pin(
    plan: Option<(usize, usize)>,
    server_pid: Option<u32>,
    strict: bool,
    when: &str,
) -> Result<()> {
    let Some((server_cpu, bench_cpu)) = plan else {
        return Ok(());
    };
    let mut done = Vec::new();
    let mut jobs = vec![(None, bench_cpu, "the bench".to_string())];
    match server_pid {
        Some(pid) => jobs.push((Some(pid), server_cpu, format!("the server (pid {pid})"))),
        None => done.push("not the server (pid unknown)".to_string()),
    }
    for (pid, cpu, who) in jobs {
        match pin_threads(pid, cpu) {
            Ok(n) => done.push(format!("{who}: {n} threads to CPU {cpu}")),
            Err(e) if !strict => eprintln!("bench: could not pin {who}: {e}"),
            Err(e) => return Err(e),
        }
    }
    eprintln!("bench: pinned {when}: {}", done.join("; "));
    Ok(())
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
    /// The memory workloads' figures.
    mem: Option<Mem>,
    /// Why the workload was skipped, or what to know about its figures.
    note: Option<String>,
}

/// What a memory workload measured, per outstanding request or registered watch.
#[derive(Debug, Default, Clone, Copy)]
struct Mem {
    /// Live heap growth without the path copies and the unsent bytes.
    heap_bytes: f64,
    /// Live heap growth.
    heap_total_bytes: f64,
    /// The path's length times `path_copies`.
    path_bytes: f64,
    /// How many copies of the path the client keeps (measured).
    path_copies: f64,
    /// Encoded request bytes the socket had not taken.
    unsent_bytes: f64,
    /// Live heap blocks.
    live_allocs: f64,
}

/// CPU, system calls and allocations while timing.
#[derive(Debug, Default, Clone, Copy)]
struct Cost {
    client_cpu_s: f64,
    /// The user-mode part of `client_cpu_s` (the rest is the kernel: syscalls and loopback
    /// TCP, which on one machine includes part of the server's receive path).
    client_user_s: f64,
    server_cpu_s: Option<f64>,
    /// Socket reads and writes and polls.
    io: Option<IoStats>,
    /// Allocation calls of the bench thread.
    allocs: Option<u64>,
    ops: usize,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        fn both<T>(a: Option<T>, b: Option<T>, f: impl FnOnce(T, T) -> T) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(f(a, b)),
                (a, b) => a.or(b),
            }
        }
        self.client_cpu_s += other.client_cpu_s;
        self.client_user_s += other.client_user_s;
        self.server_cpu_s = both(self.server_cpu_s, other.server_cpu_s, |a, b| a + b);
        self.io = both(self.io, other.io, |a, b| IoStats {
            reads: a.reads + b.reads,
            writes: a.writes + b.writes,
            bytes_read: a.bytes_read + b.bytes_read,
            bytes_written: a.bytes_written + b.bytes_written,
            polls: a.polls + b.polls,
        });
        self.allocs = both(self.allocs, other.allocs, |a, b| a + b);
        self.ops += other.ops;
    }
}

/// A timed region: wall clock, the CPU of this process and of the server, the client's I/O
/// counts and this thread's allocation calls.
struct Span {
    start: Instant,
    cpu: (f64, f64),
    server_pid: Option<u32>,
    server_cpu: Option<f64>,
    io: IoStats,
    allocs: u64,
}

impl Span {
    /// Starts timing; `io` is the client's I/O counts now.
    fn begin(server_pid: Option<u32>, io: IoStats) -> Span {
        let cpu = cpu_times(None);
        let server_cpu = server_pid.map(|p| cpu_secs(Some(p)));
        Span {
            cpu,
            server_cpu,
            server_pid,
            io,
            // Last, so that reading /proc above is not counted.
            allocs: heap().calls,
            start: Instant::now(),
        }
    }

    /// Seconds since `begin`, and what `ops` operations cost; `io` is the client's I/O counts
    /// now.
    fn end(&self, ops: usize, io: IoStats) -> (f64, Cost) {
        let secs = self.start.elapsed().as_secs_f64();
        let allocs = heap().calls - self.allocs;
        let (user, all) = cpu_times(None);
        let cost = Cost {
            client_cpu_s: all - self.cpu.1,
            client_user_s: user - self.cpu.0,
            server_cpu_s: match (self.server_cpu, self.server_pid) {
                (Some(a), Some(p)) => Some(cpu_secs(Some(p)) - a),
                _ => None,
            },
            io: Some(io.since(&self.io)),
            allocs: Some(allocs),
            ops,
        };
        (secs, cost)
    }
}

impl Measure {
    /// A line for a workload this client does not run.
    fn skipped(note: impl Into<String>) -> Measure {
        Measure {
            note: Some(note.into()),
            ..Measure::default()
        }
    }

    fn to_json(&self, client: &str, workload: &str) -> Value {
        let ops = self.cost.ops.max(1) as f64;
        let ccpu = self.cost.client_cpu_s;
        let scpu = self.cost.server_cpu_s;
        let io = self.cost.io;
        let per_op = |v: u64| v as f64 / ops;
        let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
        let mem = |f: fn(&Mem) -> f64| self.mem.as_ref().map(f);
        let fields = [
            ("client", json!(client)),
            ("workload", json!(workload)),
            ("ops", json!(self.ops)),
            ("secs", json!(self.secs)),
            (
                "ops_per_s",
                json!(if self.secs > 0.0 {
                    self.ops as f64 / self.secs
                } else {
                    0.0
                }),
            ),
            ("p50_us", json!(self.p50_us)),
            ("p99_us", json!(self.p99_us)),
            ("window", json!(self.window)),
            ("client_cpu_s", json!(ccpu)),
            (
                "client_user_us_per_op",
                json!(self.cost.client_user_s * 1e6 / ops),
            ),
            ("client_cpu_us_per_op", json!(ccpu * 1e6 / ops)),
            ("server_cpu_s", json!(scpu)),
            ("server_cpu_us_per_op", json!(scpu.map(|s| s * 1e6 / ops))),
            ("errors", json!(self.errors)),
            ("reads_per_op", json!(io.map(|i| per_op(i.reads)))),
            ("writes_per_op", json!(io.map(|i| per_op(i.writes)))),
            ("polls_per_op", json!(io.map(|i| per_op(i.polls)))),
            ("syscalls_per_op", json!(io.map(|i| per_op(i.syscalls())))),
            (
                "bytes_per_read",
                json!(io.and_then(|i| ratio(i.bytes_read, i.reads))),
            ),
            (
                "bytes_per_write",
                json!(io.and_then(|i| ratio(i.bytes_written, i.writes))),
            ),
            ("allocs_per_op", json!(self.cost.allocs.map(per_op))),
            ("heap_bytes_per_op", json!(mem(|m| m.heap_bytes))),
            (
                "heap_total_bytes_per_op",
                json!(mem(|m| m.heap_total_bytes)),
            ),
            ("path_bytes_per_op", json!(mem(|m| m.path_bytes))),
            ("path_copies", json!(mem(|m| m.path_copies))),
            ("unsent_bytes_per_op", json!(mem(|m| m.unsent_bytes))),
            ("live_allocs_per_op", json!(mem(|m| m.live_allocs))),
            ("note", json!(self.note)),
        ];
        Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
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

/// User + system CPU seconds of this process (`None`) or of `pid`; NaN when it cannot be
/// read.
fn cpu_secs(pid: Option<u32>) -> f64 {
    cpu_times(pid).1
}

/// User, and user + system, CPU seconds of this process (`None`) or of `pid`.
///
/// This process: `getrusage`, whose total is exact (the scheduler's runtime, in µs) and
/// whose user/system split the kernel apportions from tick samples. Another process: the sum
/// of its threads' on-CPU nanoseconds from `/proc/PID/task/*/schedstat` (exact; threads that
/// already ended are missed), with the user part from `/proc/PID/stat` in clock ticks.
fn cpu_times(pid: Option<u32>) -> (f64, f64) {
    match pid {
        None => {
            // SAFETY: an all-zero rusage is a valid value, and getrusage only writes into it.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: RUSAGE_SELF with a valid pointer has no other preconditions.
            if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
                return (f64::NAN, f64::NAN);
            }
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            let user = secs(ru.ru_utime);
            (user, user + secs(ru.ru_stime))
        }
        Some(p) => {
            let total = std::fs::read_dir(format!("/proc/{p}/task"))
                .ok()
                .map(|dir| {
                    dir.flatten()
                        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
                        .sum::<f64>()
                        / 1e9
                });
            let user = proc_stat_user(p);
            (user, total.unwrap_or(f64::NAN))
        }
    }
}

/// User CPU seconds of `pid` from `/proc/PID/stat` (clock ticks); NaN when unreadable.
fn proc_stat_user(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime is field 14.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return f64::NAN;
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    rest.split_whitespace()
        .nth(11)
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |u| u / hz)
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
    hosts: String,
    server_pid: Option<u32>,
}

/// A started client with the benchmark's settings.
fn new_client(hosts: &str, opts: &Opts) -> Result<Client> {
    // A loop of its own: the admin client, on the thread's default loop, stays out of the
    // measured client's loop and its I/O counts.
    let zk = Client::builder(hosts)
        .session_timeout(SESSION_TIMEOUT)
        .max_queued_requests(opts.n.max(opts.watch_n).max(opts.warmup) + 1)
        .request_timeout(Some(WAIT))
        .handler(mio_zookeeper::MioHandler::new()?)
        .build()?;
    zk.start(Some(Duration::from_secs(30)))?;
    Ok(zk)
}

/// The I/O counts of `zk`'s reactor.
fn io_of(zk: &Client) -> IoStats {
    zk.handler().reactor().io_stats()
}

/// Runs `zk`'s loop without waiting until an iteration finds nothing to do: queued callbacks
/// have run and what the socket takes is written.
fn settle(zk: &Client) -> Result<()> {
    for _ in 0..100_000 {
        if !zk.poll_once(Some(Duration::ZERO))? {
            return Ok(());
        }
    }
    Err("the client's loop never went idle".into())
}

/// The size of the frame of an `exists` of `path` (xid and length prefix included).
fn exists_frame_len(path: &str) -> Result<u64> {
    let mut out = BytesMut::new();
    let req = Request::Exists(PathWatch {
        path: path.to_string(),
        watch: false,
    });
    encode_request(1, &req, &mut out, DEFAULT_MAX_OUTGOING_FRAME)?;
    Ok(out.len() as u64)
}

/// The server stopped with SIGSTOP until this is dropped (SIGCONT).
struct Frozen(libc::pid_t);

impl Frozen {
    /// Stops `pid` and waits until every thread of it shows as stopped in /proc.
    fn new(pid: u32) -> Result<Frozen> {
        let p = libc::pid_t::try_from(pid).map_err(|_| format!("pid {pid} out of range"))?;
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        if unsafe { libc::kill(p, libc::SIGSTOP) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("SIGSTOP to the server (pid {pid}): {e}").into());
        }
        let frozen = Frozen(p);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !all_threads_stopped(pid) {
            if Instant::now() > deadline {
                return Err(format!("the server (pid {pid}) did not stop").into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(frozen)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        // SAFETY: as in `new`.
        if unsafe { libc::kill(self.0, libc::SIGCONT) } != 0 {
            eprintln!(
                "bench: SIGCONT to the server (pid {}) failed: {}",
                self.0,
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Whether every thread of `pid` is in state `T` (stopped) or `t` (traced).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|t| {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next());
        // A thread that ended meanwhile has no stat any more: it answers nothing either.
        stat.is_empty() || matches!(state, Some("T" | "t"))
    })
}

/// What one round of a memory workload saw: heap growth, unsent bytes, and the cost.
#[derive(Debug, Default)]
struct MemRound {
    bytes: i64,
    blocks: i64,
    unsent: u64,
    secs: f64,
    cost: Cost,
    errors: usize,
}

/// The per-operation figures of a short-path round and a long-path round of `count`
/// operations; `path_bytes` is the short round's total path length, `extra` how much longer
/// the long round's paths were in all.
fn mem_figures(
    short: &MemRound,
    long: &MemRound,
    count: usize,
    path_bytes: usize,
    extra: usize,
) -> Mem {
    let n = count.max(1) as f64;
    let grown = |r: &MemRound| r.bytes as f64 - r.unsent as f64;
    let path_copies = if extra > 0 {
        (grown(long) - grown(short)) / extra as f64
    } else {
        0.0
    };
    let path = path_copies * path_bytes as f64 / n;
    let unsent = short.unsent as f64 / n;
    let total = short.bytes as f64 / n;
    Mem {
        heap_bytes: total - path - unsent,
        heap_total_bytes: total,
        path_bytes: path,
        path_copies,
        unsent_bytes: unsent,
        live_allocs: short.blocks as f64 / n,
    }
}

impl Ours {
    fn connect(hosts: &str, opts: &Opts, server_pid: Option<u32>) -> Result<Ours> {
        Ok(Ours {
            zk: new_client(hosts, opts)?,
            hosts: hosts.to_string(),
            server_pid,
        })
    }

    fn io(&self) -> IoStats {
        io_of(&self.zk)
    }

    /// `mem_request`: N' `exists` held outstanding by a stopped server, with a short and a
    /// long path, each on a fresh client.
    fn mem_request(&self, base: &str, opts: &Opts) -> Result<Measure> {
        let Some(pid) = self.server_pid else {
            let note = "skipped: stopping the server needs its pid (--server-pid)";
            eprintln!("bench: mem_request {note}");
            return Ok(Measure::skipped(note));
        };
        let count = opts.n.min(MEM_REQUESTS);
        let short = format!("{base}/e");
        let long = format!("{short}{}", "x".repeat(LONG_PAD));
        if self.zk.exists(&long)?.is_none() {
            self.zk.create(&long, b"")?;
        }
        let s = self.mem_request_round(&short, count, pid, opts)?;
        let l = self.mem_request_round(&long, count, pid, opts)?;
        let mem = mem_figures(&s, &l, count, short.len() * count, LONG_PAD * count);
        Ok(Measure {
            ops: count,
            secs: s.secs,
            window: Some(count),
            errors: s.errors + l.errors,
            cost: s.cost,
            mem: Some(mem),
            ..Measure::default()
        })
    }

    /// One `mem_request` round: the heap growth while `count` `exists` of `path` are
    /// outstanding on a fresh client.
    fn mem_request_round(
        &self,
        path: &str,
        count: usize,
        pid: u32,
        opts: &Opts,
    ) -> Result<MemRound> {
        /// Requests issued between two runs of the loop (which write them out).
        const BATCH: usize = 256;
        let zk = new_client(&self.hosts, opts)?;
        // The first request allocates what any later one finds in place.
        zk.exists(path)?;
        let frame = exists_frame_len(path)?;
        let mut results = Vec::with_capacity(count);
        let frozen = Frozen::new(pid)?;
        settle(&zk)?;
        let (heap0, io0) = (heap(), io_of(&zk));
        let span = Span::begin(None, io0);
        let mut issued = 0;
        while issued < count {
            let upto = (issued + BATCH).min(count);
            for _ in issued..upto {
                results.push(zk.exists_async(path));
            }
            issued = upto;
            settle(&zk)?;
        }
        let (secs, cost) = span.end(count, io_of(&zk));
        let heap1 = heap();
        let written = io_of(&zk).since(&io0).bytes_written;
        drop(frozen);
        let mut errors = 0;
        for r in results {
            match r.get(true, Some(WAIT)) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => errors += 1,
            }
        }
        zk.stop()?;
        Ok(MemRound {
            bytes: heap1.live_bytes - heap0.live_bytes,
            blocks: heap1.live_blocks - heap0.live_blocks,
            unsent: (frame * count as u64).saturating_sub(written),
            secs,
            cost,
            errors,
        })
    }

    /// `mem_watch`: K data watches on `w/0..K` and on K nodes with longer names, each set on
    /// a fresh client.
    fn mem_watch(&self, base: &str, opts: &Opts) -> Result<Measure> {
        let k = opts.watch_n;
        let short: Vec<String> = (0..k).map(|i| format!("{base}/w/{i}")).collect();
        let pad = "x".repeat(LONG_PAD);
        let long: Vec<String> = (0..k).map(|i| format!("{base}/wl/{pad}{i}")).collect();
        self.zk.ensure_path(&format!("{base}/wl"))?;
        let creates: Vec<_> = long
            .iter()
            .map(|p| self.zk.create_async(p, None, &CreateOptions::default()))
            .collect();
        for c in creates {
            match c.get(true, Some(WAIT)) {
                Ok(_) => {}
                Err(e) if e.is_node_exists() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let s = self.mem_watch_round(base, &short, opts)?;
        let l = self.mem_watch_round(base, &long, opts)?;
        let len = |v: &[String]| v.iter().map(String::len).sum::<usize>();
        let mem = mem_figures(&s, &l, k, len(&short), len(&long) - len(&short));
        Ok(Measure {
            ops: k,
            secs: s.secs,
            window: Some(1),
            errors: s.errors + l.errors,
            cost: s.cost,
            mem: Some(mem),
            ..Measure::default()
        })
    }

    /// One `mem_watch` round: the heap growth from registering a data watch on each of
    /// `paths` on a fresh client, one at a time (so that no request table, buffer or queue
    /// grows with K: what grows is the watch state); then the watches are fired, and each
    /// must run once.
    fn mem_watch_round(&self, base: &str, paths: &[String], opts: &Opts) -> Result<MemRound> {
        let k = paths.len();
        let zk = new_client(&self.hosts, opts)?;
        // The first requests allocate what any later one finds in place. The input buffer
        // is replaced by a new one the first time it fills (64 KiB: the session's password,
        // a slice of the connect reply, keeps the first one alive): receive well over that
        // first, so the watch requests' replies do not cause it.
        for p in paths.iter().take(2) {
            zk.exists(p)?;
        }
        let g = format!("{base}/g");
        for _ in 0..200 {
            zk.get(&g)?;
        }
        let fired = Rc::new(Cell::new(0usize));
        let mut errors = 0;
        settle(&zk)?;
        let (heap0, io0) = (heap(), io_of(&zk));
        let span = Span::begin(self.server_pid, io0);
        for p in paths {
            let f = fired.clone();
            let r = zk.exists_watch_async(p, move |_| f.set(f.get() + 1));
            match r.get(true, Some(WAIT)) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => errors += 1,
            }
        }
        settle(&zk)?;
        let (secs, cost) = span.end(k, io_of(&zk));
        let heap1 = heap();
        if zk.watch_count() != k {
            return Err(format!("{} of {k} watches registered", zk.watch_count()).into());
        }
        // Fire them: each must run once.
        let data = Bytes::from_static(b"m");
        let sets: Vec<_> = paths
            .iter()
            .map(|p| zk.set_async(p, Some(data.clone()), -1))
            .collect();
        for s in sets {
            if s.get(true, Some(WAIT)).is_err() {
                errors += 1;
            }
        }
        let f = fired.clone();
        zk.handler()
            .reactor()
            .run_until(&|| f.get() >= k, Some(WAIT))?;
        zk.stop()?;
        Ok(MemRound {
            bytes: heap1.live_bytes - heap0.live_bytes,
            blocks: heap1.live_blocks - heap0.live_blocks,
            unsent: 0,
            secs,
            cost,
            errors,
        })
    }

    /// Issues `n` requests with at most `window` outstanding, driving the loop with
    /// `poll_once` between completions; `issue(i)` starts request `i`.
    fn pipelined<T: Clone + 'static>(
        &self,
        n: usize,
        window: usize,
        mut issue: impl FnMut(usize) -> AsyncResult<T>,
        keep: Option<&mut dyn FnMut(T)>,
    ) -> Result<Measure> {
        // Values are only held when asked for (create_seq's paths): holding every reply
        // would grow the heap by N values and measure that instead of the client.
        let store = keep.is_some();
        let done = Rc::new(Cell::new(0usize));
        let errors = Rc::new(Cell::new(0usize));
        let lat: Rc<std::cell::RefCell<Vec<f64>>> =
            Rc::new(std::cell::RefCell::new(Vec::with_capacity(n)));
        let kept: Rc<std::cell::RefCell<Vec<T>>> = Rc::default();
        let span = Span::begin(self.server_pid, self.io());
        let start = span.start;
        let mut issued = 0;
        while done.get() < n {
            while issued < n && issued - done.get() < window {
                let t0 = Instant::now();
                let (d, e, l, k) = (done.clone(), errors.clone(), lat.clone(), kept.clone());
                issue(issued).rawlink(move |r| {
                    l.borrow_mut().push(t0.elapsed().as_secs_f64() * 1e6);
                    match r.take(false, None) {
                        Ok(v) if store => k.borrow_mut().push(v),
                        Ok(_) => {}
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
        let (secs, cost) = span.end(n, self.io());
        if let Some(keep) = keep {
            for v in kept.take() {
                keep(v);
            }
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
            ..Measure::default()
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
            let span = Span::begin(self.server_pid, self.io());
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
            let (secs, c) = span.end(k, self.io());
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
        ..Measure::default()
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
            None,
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
            "exists_all" => self.pipelined(n, n.max(1), |_| zk.exists_async(&e), None),
            "exists_w" => self.pipelined(n, w, |_| zk.exists_async(&e), None),
            "get_1k" => {
                let g = format!("{base}/g");
                self.pipelined(n, w, |_| zk.get_async(&g), None)
            }
            "create_seq" => {
                let p = format!("{base}/seq/n");
                let data = Bytes::from(vec![3u8; 100]);
                let opts = CreateOptions::mode(CreateMode::PersistentSequential);
                self.pipelined(
                    n,
                    w,
                    |_| zk.create_async(&p, Some(data.clone()), &opts),
                    Some(&mut |(path, _)| created.push(path)),
                )
            }
            "delete" => {
                if created.len() < n {
                    fill_seq(zk, base, n - created.len(), created)?;
                }
                let paths: Vec<String> = created.drain(..n).collect();
                self.pipelined(n, w, |i| zk.delete_async(&paths[i], -1), None)
            }
            "set_1k" => {
                let s = format!("{base}/s");
                let data = Bytes::from(vec![5u8; 1024]);
                self.pipelined(n, w, |_| zk.set_async(&s, Some(data.clone()), -1), None)
            }
            "exists_lat" => {
                let mut lat = Vec::with_capacity(opts.lat_n);
                let span = Span::begin(self.server_pid, self.io());
                for _ in 0..opts.lat_n {
                    let t0 = Instant::now();
                    zk.exists(&e)?;
                    lat.push(t0.elapsed().as_secs_f64() * 1e6);
                }
                let (secs, cost) = span.end(opts.lat_n, self.io());
                let (p50_us, p99_us) = percentiles(lat);
                Ok(Measure {
                    ops: opts.lat_n,
                    secs,
                    p50_us,
                    p99_us,
                    window: Some(1),
                    errors: 0,
                    cost,
                    ..Measure::default()
                })
            }
            "watch_multi" => self.watches(base, opts, true),
            "watch_sets" => self.watches(base, opts, false),
            "mem_request" => self.mem_request(base, opts),
            "mem_watch" => self.mem_watch(base, opts),
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
    /// Its `read` and `write` calls (it has no poll: reads block).
    io: IoStats,
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
            io: IoStats::default(),
        };
        let mut out = BytesMut::new();
        let timeout_ms = i32::try_from(SESSION_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
        encode_connect_request(&ConnectRequest::new_session(timeout_ms, false), &mut out);
        raw.send(&out)?;
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

    /// `write_all`, counting the `write` calls.
    fn send(&mut self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            let res = self.stream.write(buf);
            self.io.writes += 1;
            match res {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => {
                    self.io.bytes_written += n as u64;
                    buf = &buf[n..];
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn fill(&mut self) -> Result<()> {
        let n = self.stream.read(&mut self.inbuf[self.filled..])?;
        self.io.reads += 1;
        self.io.bytes_read += n as u64;
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
        let span = Span::begin(self.server_pid, self.io);
        while done < n {
            if sent < n && sent - done < window {
                let upto = (done + window).min(n);
                let from = if sent == 0 { 0 } else { ends[sent - 1] };
                self.send(&buf[from..ends[upto - 1]])?;
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
        let (secs, cost) = span.end(n, self.io);
        let (p50_us, p99_us) = percentiles(lat);
        Ok(Measure {
            ops: n,
            secs,
            p50_us,
            p99_us,
            window: Some(window),
            errors,
            cost,
            ..Measure::default()
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
            let span = Span::begin(self.server_pid, self.io);
            let t0 = span.start;
            self.send(&buf)?;
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
                    let (t, c) = span.end(k, self.io);
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
                let span = Span::begin(self.server_pid, self.io);
                for chunk in buf.chunks(frame_len.max(1)) {
                    let t0 = Instant::now();
                    self.send(chunk)?;
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
                let (secs, cost) = span.end(opts.lat_n, self.io);
                let (p50_us, p99_us) = percentiles(lat);
                Ok(Measure {
                    ops: opts.lat_n,
                    secs,
                    p50_us,
                    p99_us,
                    window: Some(1),
                    errors,
                    cost,
                    ..Measure::default()
                })
            }
            "watch_multi" => self.watches(base, opts, true),
            "watch_sets" => self.watches(base, opts, false),
            "mem_request" | "mem_watch" => Ok(Measure::skipped(
                "the raw client keeps no state per request or watch",
            )),
            other => Err(format!("unknown workload {other:?}").into()),
        }
    }

    fn close(mut self: Box<Self>) -> Result<()> {
        let (buf, _) = self.encode(std::iter::once(Request::CloseSession))?;
        self.send(&buf)?;
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
