//! The coordination recipes' benchmark (issue #13 §5): `recipe::Lock` and `recipe::Counter`
//! against kazoo's `Lock` and `Counter` on the same workloads, in one run against one
//! throwaway ZooKeeper server, printed as one table.
//!
//! ```text
//! cargo bench --bench recipes
//! cargo bench --bench recipes -- --cycles 2000 --handoffs 300 --secs 5 --kazoo off
//! ```
//!
//! Flags (defaults in brackets): `--cycles N` [2000] lock cycles timed; `--handoffs N` [300]
//! hand-offs timed; `--secs S` [5] seconds each counter run lasts; `--window W` [64] adds
//! each client keeps in flight in `counter_4_pipelined`; `--kazoo auto|on|off` [auto: on
//! when `python3` imports kazoo].
//!
//! **Workloads.**
//! - `rtt` raw: one `exists` at a time over `testing::RawConnection` (no client): the median
//!   is the round trip (RT) the other rows are measured in. `rtt` ours: one blocking
//!   `Client::exists` at a time (the same in RT units: what the client's loop adds).
//!   `exists_pipelined`: raw `exists` with 128 outstanding: µs per op, for scale.
//!   `write_rtt`: one raw `setData` at a time (W): a write is logged (fsync) before it is
//!   answered, and before the watches it fires are sent.
//! - `lock_cycle`: one client, uncontended `Lock::acquire(None)` + `release()` on one path,
//!   `--cycles` times after one warm-up cycle: µs per cycle, and requests per cycle: the
//!   client runs through a `testing::Proxy` whose recorded client→server bytes are split
//!   into frames; the connect, pings (xid -2) and the closing closeSession are not counted,
//!   the warm-up's are (divided over `--cycles + 1`). Requests sent one after another are
//!   round trips; `requests` counts pipelined ones too, so it is an upper bound on round
//!   trips. kazoo: `Lock(path).acquire(); release()` the same way through its own proxy.
//! - `lock_handoff`: two clients (ours: two threads, a client each; kazoo: two clients in two
//!   threads of one python process). The waiter calls `acquire_async` (kazoo: `acquire()` in
//!   a thread); once its watch on the predecessor is registered (ours: its client's
//!   `watch_count` grew; kazoo: its `_data_watchers` grew) the holder takes `t0` and sends
//!   `release`; `t1` is when the waiter's acquire completes (ours: the `AsyncResult`'s
//!   rawlink callback on its loop; kazoo: `acquire()` returns). The roles then swap. Median
//!   and p99 of `t1 - t0`, also in RT units (÷ the `rtt` median). The floor is: the delete
//!   reaches the server (½ RT), the notification reaches the waiter (½ RT), the waiter's one
//!   getChildren (1 RT): **2 RT = 1 notification + 1 round trip**, the issue's target, plus
//!   what the server takes to log the delete before it fires the watch. So the hand-off
//!   rows' note gives `(p50 - W) / RT`: the median beyond one raw write's round trip (which
//!   covers the delete's way in, its logging and a one-way trip out) in RTs; the target is
//!   about 1 (the notification's way out is in W, the getChildren is 1 RT).
//! - `counter_4`: 4 threads, a client each, each doing one blocking `Counter::add(1)` at a
//!   time on one counter for `--secs`; kazoo: 4 python processes, one `KazooClient` each,
//!   `counter += 1` in a loop. Total increments per second; the ratio is ours ÷ kazoo's.
//!   `counter_4_pipelined`: the same 4 threads, each keeping `--window` `add_async(1)` in
//!   flight on one handle (the handle coalesces the adds in flight into one versioned set).
//!   Every run checks the counter's final value against the adds counted.
//!
//! The logic is in [`run`], which `tests/bench_recipes_smoke.rs` runs in-process.

use std::error::Error as StdError;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mio_zookeeper::testing::ZkServer;

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

// split_list is not used here.
#[allow(dead_code)]
#[path = "../shared/cli.rs"]
mod cli;
mod counter;
mod frames;
mod kazoo;
mod lock;

pub(crate) use cli::*;

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
        Ok(rows) => print!("{}", table(&rows)),
        Err(e) => {
            eprintln!("bench failed: {e}");
            std::process::exit(1);
        }
    }
}

const USAGE: &str = "usage: cargo bench --bench recipes -- [--cycles N] [--handoffs N] \
[--secs S] [--window W] [--kazoo auto|on|off]";

/// Whether the kazoo peer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KazooMode {
    Auto,
    On,
    Off,
}

/// The command line.
#[derive(Debug, Clone)]
pub(crate) struct Opts {
    pub(crate) cycles: usize,
    pub(crate) handoffs: usize,
    pub(crate) secs: f64,
    pub(crate) window: usize,
    pub(crate) kazoo: KazooMode,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            cycles: 2000,
            handoffs: 300,
            secs: 5.0,
            window: 64,
            kazoo: KazooMode::Auto,
        }
    }
}

impl Opts {
    pub(crate) fn parse(args: &[String]) -> Result<Opts> {
        let mut o = Opts::default();
        let mut it = args.iter();
        fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T>
        where
            T::Err: std::fmt::Display,
        {
            v.trim()
                .parse()
                .map_err(|e| format!("{flag} {v:?}: not a number ({e})").into())
        }
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--cycles" => o.cycles = num(flag, &value()?)?,
                "--handoffs" => o.handoffs = num(flag, &value()?)?,
                "--secs" => o.secs = num(flag, &value()?)?,
                "--window" => o.window = num(flag, &value()?)?,
                "--kazoo" => {
                    o.kazoo = match value()?.as_str() {
                        "auto" => KazooMode::Auto,
                        "on" => KazooMode::On,
                        "off" => KazooMode::Off,
                        v => return Err(format!("--kazoo {v:?}: auto, on or off").into()),
                    }
                }
                "-h" | "--help" => return Err("help".into()),
                other => return Err(format!("unknown flag {other:?}").into()),
            }
        }
        if o.cycles == 0 || o.handoffs == 0 || o.window == 0 {
            return Err("--cycles, --handoffs and --window must be 1 or more".into());
        }
        if !(o.secs > 0.0 && o.secs.is_finite()) {
            return Err("--secs must be a positive number".into());
        }
        Ok(o)
    }
}

/// One row of the table. Absent figures are `None`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub(crate) workload: &'static str,
    pub(crate) who: &'static str,
    /// µs per op (a cycle, an exists) or the median latency.
    pub(crate) us: Option<f64>,
    /// The p99 latency in µs.
    pub(crate) p99_us: Option<f64>,
    /// Requests sent per op.
    pub(crate) requests: Option<f64>,
    /// `us` and `p99_us` in units of the `rtt` median.
    pub(crate) rt_units: Option<(f64, f64)>,
    /// Operations per second.
    pub(crate) per_s: Option<f64>,
    /// ours ÷ kazoo (per_s), or kazoo ÷ ours (µs): above 1 means ours is better.
    pub(crate) vs_kazoo: Option<f64>,
    pub(crate) note: String,
}

/// Whether `python3` imports kazoo (the peer runs under `--kazoo auto`).
pub(crate) fn kazoo_importable() -> bool {
    Command::new("python3")
        .args(["-c", "import kazoo.recipe.lock, kazoo.recipe.counter"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs every workload; returns the rows of the table.
pub(crate) fn run(opts: &Opts) -> Result<Vec<Row>> {
    let kazoo_on = match opts.kazoo {
        KazooMode::Off => false,
        KazooMode::On if !kazoo_importable() => {
            return Err("--kazoo on, but python3 cannot import kazoo".into())
        }
        KazooMode::On => true,
        KazooMode::Auto => kazoo_importable(),
    };
    let zk = ZkServer::builder()
        // The JVM's full JIT, as a production server runs (test servers stop at C1).
        .jvm_arg("-XX:TieredStopAtLevel=4")
        .start()?;
    eprintln!("bench: a throwaway ZooKeeper at {}", zk.connect_string());
    let mut rows = Vec::new();
    let (rtt, pipelined) = lock::raw_exists(&zk, opts.cycles)?;
    rows.push(rtt.clone());
    let rt = rtt.us.unwrap_or(f64::NAN);
    let in_rt = |r: &mut Row| {
        if let (Some(m), Some(p)) = (r.us, r.p99_us) {
            r.rt_units = Some((m / rt, p / rt));
        }
    };
    let mut ours_rtt = lock::client_exists(&zk, opts.cycles)?;
    in_rt(&mut ours_rtt);
    rows.push(ours_rtt);
    let mut write = lock::raw_writes(&zk, opts.cycles)?;
    in_rt(&mut write);
    let w = write.us.unwrap_or(f64::NAN);
    rows.push(write);
    rows.push(pipelined);
    // The hand-off beyond the delete's own write (W): the notification and one round trip.
    let beyond_write = |r: &mut Row| {
        if let Some(m) = r.us {
            r.note += &format!("; (p50 - W) / RT = {:.2}", (m - w) / rt);
        }
    };
    // The lock cycle.
    let ours = lock::cycle(&zk, "/bench/lock-cycle-ours", opts.cycles)?;
    let theirs = kazoo_on
        .then(|| kazoo::cycle(&zk, "/bench/lock-cycle-kazoo", opts.cycles))
        .transpose()?;
    rows.push(compare_us(ours, theirs.as_ref()));
    rows.extend(theirs);
    // The hand-off.
    let mut ours = lock::handoff(&zk, "/bench/lock-handoff-ours", opts.handoffs)?;
    in_rt(&mut ours);
    beyond_write(&mut ours);
    let mut theirs = kazoo_on
        .then(|| kazoo::handoff(&zk, "/bench/lock-handoff-kazoo", opts.handoffs))
        .transpose()?;
    if let Some(t) = &mut theirs {
        in_rt(t);
        beyond_write(t);
    }
    rows.push(compare_us(ours, theirs.as_ref()));
    rows.extend(theirs);
    // The counter.
    let theirs = kazoo_on
        .then(|| kazoo::counter(&zk, "/bench/counter-kazoo", 4, opts.secs))
        .transpose()?;
    for window in [1, opts.window] {
        let path = format!("/bench/counter-ours-{window}");
        let mut ours = counter::contend(&zk, &path, 4, window, opts.secs)?;
        if let (Some(o), Some(k)) = (ours.per_s, theirs.as_ref().and_then(|t| t.per_s)) {
            ours.vs_kazoo = Some(o / k);
        }
        rows.push(ours);
    }
    rows.extend(theirs);
    Ok(rows)
}

/// `ours` with `vs_kazoo` = kazoo's µs ÷ ours.
fn compare_us(mut ours: Row, theirs: Option<&Row>) -> Row {
    if let (Some(o), Some(k)) = (ours.us, theirs.and_then(|t| t.us)) {
        ours.vs_kazoo = Some(k / o);
    }
    ours
}

/// The rows as a table.
pub(crate) fn table(rows: &[Row]) -> String {
    let f = |v: Option<f64>, prec: usize| v.map_or("-".to_string(), |v| format!("{v:.prec$}"));
    let mut s = format!(
        "{:<20} {:<6} {:>9} {:>9} {:>8} {:>13} {:>9} {:>9}  {}\n",
        "workload", "impl", "µs", "p99 µs", "req/op", "in RT p50/p99", "ops/s", "vs kazoo", "note"
    );
    for r in rows {
        let rt = r
            .rt_units
            .map_or("-".to_string(), |(a, b)| format!("{a:.2}/{b:.2}"));
        s += &format!(
            "{:<20} {:<6} {:>9} {:>9} {:>8} {:>13} {:>9} {:>9}  {}\n",
            r.workload,
            r.who,
            f(r.us, 1),
            f(r.p99_us, 1),
            f(r.requests, 2),
            rt,
            f(r.per_s, 0),
            r.vs_kazoo.map_or("-".to_string(), |v| format!("{v:.2}x")),
            r.note
        );
    }
    s
}
