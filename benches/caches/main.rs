//! The tree-cache benchmark (issue #12 §4): the initial load, memory and change-to-event
//! latency of the crate's two tree caches (`RecursiveCache`: one persistent recursive watch,
//! pipelined load; `TreeCache`: kazoo's design, one watch per node) against two raw pipelined
//! reads of the same nodes (one getData a node; multiRead batches) and against kazoo's
//! `TreeCache`, on trees of 1 000, 10 000 and
//! 100 000 nodes in one throwaway ZooKeeper server.
//!
//! ```text
//! cargo bench --bench caches                                  # sizes 1000,10000,100000
//! cargo bench --bench caches -- --sizes 1000,10000 --repeat 3
//! cargo bench --bench caches -- --kazoo off
//! ```
//!
//! (A `[[bench]]` with `harness = false`, built with the `bench` profile. The `--bench` flag
//! cargo passes is ignored.)
//!
//! Flags (defaults in brackets): `--sizes N[,N..]` [1000,10000,100000] nodes per tree, the
//! cache's root included; `--impls a,b,..`
//! [raw,raw_multi,recursive_cache,tree_cache,kazoo]; `--repeat
//! K` [2] timed loads per implementation and size (at least 2: the first loads warm the
//! server and the client, the memory is taken on the last); `--window W` [1000] outstanding
//! reads of the raw reads (raw_multi sends whole multiRead requests while fewer than W reads
//! are outstanding: up to W+127); `--changes C` [200] changes timed per cache and size;
//! `--kazoo auto|on|off` [auto: on when `python3` imports kazoo]; `--kazoo-max-nodes M`
//! [100000]: larger trees get a "not run" kazoo line; `--kazoo-timeout S` [900] seconds one
//! kazoo load may take (past it the line says so, with no time).
//!
//! **The trees.** Tree `N` lives at `/mio-zookeeper-bench-caches-<pid>/tN`: its root and N-1
//! nodes below it in breadth-first order, fan-out 20 (1 000 nodes: levels of 20, 400 and 579
//! nodes; 100 000: 20, 400, 8 000 and 91 579), names `item-00KK`, data 32 to 100 bytes
//! (mean 66). They are created with pipelined creates (2 000 outstanding) by an admin client.
//!
//! **What is timed.** `raw`: `testing::RawConnection` sends getData of every node (paths
//! known) with `--window` outstanding and decodes every reply: one request per node.
//! `raw_multi`: the same connection and paths, read with multiRead requests of 128 getData
//! (encoded by the crate's codec, `proto::Request::MultiRead`), about `--window` reads
//! outstanding, every reply decoded and every op checked to be node data: what the server
//! can do with the batches `RecursiveCache` sends. `RecursiveCache` batches its reads into
//! `multiRead` requests of up to 128 reads (about 0.01 requests per node), which costs the
//! server ~20x less CPU per node than one read per request, so against `raw` its load takes a
//! fraction (`ratio_to_raw` ~0.06 at 10 000 and 100 000 nodes; measurements in
//! `src/recipe/recursive_cache/batch.rs`): `ratio_to_raw_multi` is the fair comparison (how
//! close the cache comes to the same reads with no client, cache or watch; the cache also
//! reads child lists, which raw_multi does not: its paths are known). Measured once (`--sizes
//! 1000,10000,100000 --repeat 3 --kazoo off`, 2 shared cores): raw_multi took 0.006, 0.011
//! and 0.12 s (`ratio_to_raw` 0.09, 0.016, 0.026; server CPU ~1.6 µs a node at 100 000 against
//! raw's 62), `recursive_cache` 0.008, 0.057 and 0.29 s (`ratio_to_raw_multi` 1.4, 5.1, 2.4;
//! client CPU ~2.3-2.9 µs a node against raw_multi's 0.25-0.5). `recursive_cache`,
//! `tree_cache`: `new` + `start` (blocking, the client's loop runs until `INITIALIZED`) on a
//! client of their own with default settings (its own `MioHandler`). `kazoo`:
//! `TreeCache(client, path).start()` until its listener hears `INITIALIZED`
//! (`kazoo_tree_cache.py`, run by `python3`), once per size, after ours. On each tree untimed
//! raw reads come first (`raw`, `raw_multi`: the server's JIT compiles its read paths on the
//! first tree), then the runs of the raw reads and of the two caches alternate (raw,
//! raw_multi, recursive, tree; then the reverse), each line keeps the fastest run, with every
//! run in `runs_secs`. `ratio_to_raw` = secs / raw's secs of the same size (on every load
//! line but raw's: raw_multi's says what batching gains with no client);
//! `ratio_to_raw_multi` = secs / raw_multi's secs (on the caches' and kazoo's load lines);
//! `ratio_to_kazoo` = secs / kazoo's secs (ours over kazoo: 0.1 is 10x faster).
//!
//! **Memory** (the bench's counting allocator: live heap bytes of this thread, as requested
//! from the allocator). Each load runs on the cache's own client, which closes and drops the
//! cache after it and settles (waits for every reply, runs its loop until idle). The last
//! load is measured, once the earlier loads of the same tree on the same client have grown
//! its buffers and tables to what a load needs: what they left live after their cache was
//! gone is `client_retained_bytes_per_node`. Over the last load (live heap after the load,
//! settled, minus before it): `heap_total_bytes_per_node` = that growth / nodes: everything
//! the cache holds, the TreeCache's watchers in the client's watch table included;
//! `heap_bytes_per_node` = (that growth - the data bytes of every node - the bytes of every
//! node's full path, each counted once) / nodes: what a node costs beyond one copy of its
//! data and its path (`data_bytes_per_node`, `path_bytes_per_node` say what was
//! subtracted); `live_allocs_per_node`: live heap blocks per node;
//! `heap_left_after_close_bytes`: what is still live after `close`, drop and settling, over
//! before the load (0 when closing frees everything). Kazoo's line has
//! `rss_bytes_per_node`: the python process's RSS growth over the load per node (data and
//! paths included).
//!
//! **Cost of a load** (the last one): `requests_per_node` (the server's
//! `zk_packets_received` from `mntr` over the load, per node: nothing else talks to the
//! server meanwhile but pings), `bytes_read_per_node` (the client's socket reads),
//! `allocs_per_node` (allocation calls), `server_watches` (`zk_watch_count` after the
//! load), `client_watches` (`Client::watch_count`); with the raw reads' last run,
//! `client_cpu_us_per_node` (the bench thread's CPU: the client's loop and the cache, or the
//! raw read) and `server_cpu_us_per_node` (the server process's, from `/proc/PID/stat` in
//! 10 ms ticks: coarse on small trees). The server and the bench share the machine's cores:
//! when other work keeps the cores busy, the two CPU figures add up in the load's time.
//!
//! **Latency** (workload `latency`): with the cache loaded, a `RawConnection` sets the data
//! of `--changes` nodes spread over the tree, one at a time; each is timed from just before
//! the setData is written until the cache's listener sees `NodeUpdated` for that node
//! (`p50_us`, `p99_us`, `secs` = their sum).
//!
//! Every line has every field (null where meaningless): `impl, workload, nodes, secs,
//! runs_secs, nodes_per_s, ratio_to_raw, ratio_to_raw_multi, ratio_to_kazoo,
//! heap_total_bytes_per_node, heap_bytes_per_node, data_bytes_per_node, path_bytes_per_node,
//! live_allocs_per_node, client_retained_bytes_per_node, heap_left_after_close_bytes,
//! rss_bytes_per_node, requests_per_node, bytes_read_per_node, allocs_per_node,
//! client_cpu_us_per_node, server_cpu_us_per_node, server_watches, client_watches, changes,
//! p50_us, p99_us, errors, note`. Diagnostics go to stderr.
//!
//! The logic is in [`run`], which `tests/bench_caches_smoke.rs` runs in-process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::error::Error as StdError;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::Client;
use serde_json::Value;

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

// One concept per file: the counting allocator (shared with benches/clients), the trees,
// the raw read, our caches, kazoo's, the JSON lines. This file holds the flags and the run.
mod cpu;
#[path = "../clients/heap_count.rs"]
mod heap_count;
// The command line and percentiles, shared by the bench programs.
#[path = "../shared/cli.rs"]
mod cli;
mod kazoo;
mod line;
mod ours;
mod raw_read;
mod tree;

pub(crate) use cli::*;
use cpu::*;
use heap_count::*;
use line::*;
use ours::*;
use tree::*;

/// The session timeout of every client: long, since a client's loop does not run (no pings)
/// while the others load, for half a minute and more on the largest tree. The server is
/// told to allow it (`maxSessionTimeout`).
const SESSION_TIMEOUT: Duration = Duration::from_secs(300);

/// How long any single wait (a load, a change's event) may take before the bench gives up.
const WAIT: Duration = Duration::from_secs(600);

/// The implementations, in the order of the first round.
pub(crate) const ALL_IMPLS: &[&str] =
    &["raw", "raw_multi", "recursive_cache", "tree_cache", "kazoo"];

fn main() {
    let args = flags(std::env::args());
    let opts = match Opts::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

const USAGE: &str = "usage: cargo bench --bench caches -- [--sizes N[,N..]] [--impls a,b,..] \
[--repeat K] [--window W] [--changes C] [--kazoo auto|on|off] [--kazoo-max-nodes M] \
[--kazoo-timeout SECS] [--prefix /p]";

/// Whether the kazoo peer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KazooMode {
    /// When `python3` imports kazoo.
    Auto,
    /// Always (a missing kazoo is an error).
    On,
    /// Never.
    Off,
}

/// The command line.
#[derive(Debug, Clone)]
pub(crate) struct Opts {
    pub(crate) sizes: Vec<usize>,
    pub(crate) impls: Vec<String>,
    pub(crate) repeat: usize,
    pub(crate) window: usize,
    pub(crate) changes: usize,
    pub(crate) kazoo: KazooMode,
    pub(crate) kazoo_max_nodes: usize,
    pub(crate) kazoo_timeout: Duration,
    pub(crate) prefix: String,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            sizes: vec![1000, 10_000, 100_000],
            impls: ALL_IMPLS.iter().map(|s| s.to_string()).collect(),
            repeat: 2,
            window: 1000,
            changes: 200,
            kazoo: KazooMode::Auto,
            kazoo_max_nodes: 100_000,
            kazoo_timeout: Duration::from_secs(900),
            prefix: format!("/mio-zookeeper-bench-caches-{}", std::process::id()),
        }
    }
}

impl Opts {
    pub(crate) fn parse(args: &[String]) -> Result<Opts> {
        let mut o = Opts::default();
        let mut it = args.iter();
        fn num(flag: &str, v: &str) -> Result<usize> {
            v.trim()
                .parse()
                .map_err(|e| format!("{flag} {v:?}: not a count ({e})").into())
        }
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--sizes" => {
                    o.sizes = split_list(&value()?)
                        .iter()
                        .map(|v| num(flag, v))
                        .collect::<Result<_>>()?
                }
                "--impls" => o.impls = split_list(&value()?),
                "--repeat" => o.repeat = num(flag, &value()?)?,
                "--window" => o.window = num(flag, &value()?)?,
                "--changes" => o.changes = num(flag, &value()?)?,
                "--kazoo" => {
                    o.kazoo = match value()?.as_str() {
                        "auto" => KazooMode::Auto,
                        "on" => KazooMode::On,
                        "off" => KazooMode::Off,
                        v => return Err(format!("--kazoo {v:?}: auto, on or off").into()),
                    }
                }
                "--kazoo-max-nodes" => o.kazoo_max_nodes = num(flag, &value()?)?,
                "--kazoo-timeout" => {
                    o.kazoo_timeout = Duration::from_secs(num(flag, &value()?)? as u64)
                }
                "--prefix" => o.prefix = value()?,
                "-h" | "--help" => return Err("help".into()),
                other => return Err(format!("unknown flag {other:?}").into()),
            }
        }
        if let Some(i) = o.impls.iter().find(|i| !ALL_IMPLS.contains(&i.as_str())) {
            return Err(format!("unknown impl {i:?} (known: {})", ALL_IMPLS.join(",")).into());
        }
        if o.sizes.is_empty() || o.sizes.iter().any(|&n| n < 2) {
            return Err("--sizes: at least one size, each of 2 nodes or more".into());
        }
        if o.repeat < 2 || o.window == 0 || o.changes == 0 {
            return Err("--repeat must be 2 or more, --window and --changes 1 or more".into());
        }
        if !o.prefix.starts_with('/') || o.prefix.len() < 2 || o.prefix.ends_with('/') {
            return Err(format!("--prefix {:?}: an absolute path, not /", o.prefix).into());
        }
        Ok(o)
    }

    fn wants(&self, name: &str) -> bool {
        self.impls.iter().any(|i| i == name)
    }
}

/// Runs the benchmark; returns the JSON lines it printed.
pub(crate) fn run(opts: &Opts) -> Result<Vec<Value>> {
    if opts.kazoo == KazooMode::On && opts.wants("kazoo") && !kazoo_importable() {
        return Err("--kazoo on, but python3 cannot import kazoo".into());
    }
    let kazoo_on = match opts.kazoo {
        KazooMode::Off => false,
        KazooMode::On => true,
        KazooMode::Auto => opts.wants("kazoo") && kazoo_importable(),
    };
    let zk = ZkServer::builder()
        .tick_time(2000)
        .cfg(
            "maxSessionTimeout",
            &SESSION_TIMEOUT.as_millis().to_string(),
        )
        // The JVM's full JIT, as a production server runs (test servers stop at C1).
        .jvm_arg("-XX:TieredStopAtLevel=4")
        .start()?;
    eprintln!("bench: a throwaway ZooKeeper at {}", zk.connect_string());
    let mut out = Vec::new();
    for &n in &opts.sizes {
        let tree = Tree::shape(&format!("{}/t{n}", opts.prefix), n);
        {
            // A client per tree: a client whose loop is not run (while the others load)
            // would see its session expire.
            let t0 = Instant::now();
            let admin = Client::builder(&zk.connect_string())
                .session_timeout(SESSION_TIMEOUT)
                .build()?;
            admin.start(Some(Duration::from_secs(30)))?;
            admin.ensure_path(&opts.prefix, None)?;
            tree.build(&admin)?;
            admin.stop()?;
            eprintln!(
                "bench: built {} ({n} nodes) in {:?}",
                tree.root,
                t0.elapsed()
            );
        }
        let mut lines = tree_lines(&zk, &tree, opts, kazoo_on)?;
        set_ratios(&mut lines);
        for l in &lines {
            println!("{l}");
        }
        out.extend(lines);
    }
    Ok(out)
}

/// The lines of one tree: every implementation's load, then the caches' latency.
fn tree_lines(zk: &ZkServer, tree: &Tree, opts: &Opts, kazoo_on: bool) -> Result<Vec<Value>> {
    let n = tree.paths.len();
    // A client per cache and tree, each on a loop of its own.
    let mut caches = Vec::new();
    for kind in [CacheKind::Recursive, CacheKind::Tree] {
        if opts.wants(kind.name()) {
            caches.push(CacheBench::connect(kind, zk)?);
        }
    }
    // Untimed raw reads first: the server's JIT compiles its read paths (getData, multiRead)
    // on the first tree, which would otherwise be paid by whoever reads first.
    let raws: Vec<(&str, usize)> = [("raw", 1), ("raw_multi", raw_read::MULTI_OPS)]
        .into_iter()
        .filter(|(name, _)| opts.wants(name))
        .collect();
    for &(_, batch) in &raws {
        raw_read::read_all(zk, tree, opts.window, batch)?;
    }
    let mut raw_runs = vec![Vec::new(); raws.len()];
    let mut raw_cpu = vec![None; raws.len()];
    let mut loads: Vec<Vec<Load>> = vec![Vec::new(); caches.len()];
    for rep in 0..opts.repeat {
        let last = rep + 1 == opts.repeat;
        // The raw reads, then the caches; the reverse on odd rounds.
        let mut order: Vec<Who> = (0..raws.len())
            .map(Who::Raw)
            .chain((0..caches.len()).map(Who::Cache))
            .collect();
        if rep % 2 == 1 {
            order.reverse();
        }
        for who in order {
            match who {
                Who::Raw(ri) => {
                    let (secs, cpu) = raw_read::read_all(zk, tree, opts.window, raws[ri].1)?;
                    raw_runs[ri].push(secs);
                    raw_cpu[ri] = Some(cpu);
                }
                Who::Cache(ci) => {
                    let load = caches[ci].load(zk, tree, opts.changes, last)?;
                    loads[ci].push(load);
                }
            }
        }
    }
    let mut lines = Vec::new();
    for ((&(name, _), runs), cpu) in raws.iter().zip(raw_runs).zip(raw_cpu) {
        let mut line = Line::load(name, n, runs);
        line.cpu = cpu;
        lines.push(line.to_json());
    }
    let mut latency = Vec::new();
    for (c, loads) in caches.into_iter().zip(loads) {
        let name = c.kind.name();
        c.close()?;
        let Some(last) = loads.last().cloned() else {
            continue;
        };
        if let Some(note) = &last.note {
            lines.push(Line::not_run(name, "load", n, note).to_json());
            latency.push(Line::not_run(name, "latency", n, note).to_json());
            continue;
        }
        let runs = loads.iter().map(|l| l.secs).collect();
        let mut line = Line::load(name, n, runs);
        if let Some(cost) = last.cost {
            line = line.with_cost(cost, tree);
        }
        lines.push(line.to_json());
        latency.push(Line::latency(name, n, last.latency_us).to_json());
    }
    if opts.wants("kazoo") {
        lines.push(kazoo::load(zk, tree, opts, kazoo_on).to_json());
    }
    lines.extend(latency);
    Ok(lines)
}

/// One timed run of a round: a raw read (index into the raw reads) or a cache's load.
#[derive(Debug, Clone, Copy)]
enum Who {
    Raw(usize),
    Cache(usize),
}

/// Whether `python3` imports kazoo (the peer runs under `--kazoo auto`).
pub(crate) fn kazoo_importable() -> bool {
    kazoo::importable()
}
