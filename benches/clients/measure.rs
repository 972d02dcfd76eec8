//! What a workload measured (`Measure`, its CPU and memory figures) and how: CPU time from
//! `getrusage` and `/proc` (percentiles are in `../shared/cli.rs`); and `Bench`, the trait
//! each client under test implements.

use super::*;

/// What one workload measured.
#[derive(Debug, Default)]
pub(super) struct Measure {
    pub(super) ops: usize,
    pub(super) secs: f64,
    pub(super) p50_us: Option<f64>,
    pub(super) p99_us: Option<f64>,
    pub(super) window: Option<usize>,
    pub(super) errors: usize,
    /// The CPU seconds of the timed part(s), and how many operations they cover.
    pub(super) cost: Cost,
    /// The memory workloads' figures.
    pub(super) mem: Option<Mem>,
    /// Why the workload was skipped, or what to know about its figures.
    pub(super) note: Option<String>,
}

/// What a memory workload measured, per outstanding request or registered watch.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Mem {
    /// Live heap growth without the path copies and the unsent bytes.
    pub(super) heap_bytes: f64,
    /// Live heap growth.
    pub(super) heap_total_bytes: f64,
    /// The path's length times `path_copies`.
    pub(super) path_bytes: f64,
    /// How many copies of the path the client keeps (measured).
    pub(super) path_copies: f64,
    /// Encoded request bytes the socket had not taken.
    pub(super) unsent_bytes: f64,
    /// Live heap blocks.
    pub(super) live_allocs: f64,
}

/// CPU, system calls and allocations while timing.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Cost {
    pub(super) client_cpu_s: f64,
    /// The user-mode part of `client_cpu_s` (the rest is the kernel: syscalls and loopback
    /// TCP, which on one machine includes part of the server's receive path).
    pub(super) client_user_s: f64,
    pub(super) server_cpu_s: Option<f64>,
    /// Socket reads and writes and polls.
    pub(super) io: Option<IoStats>,
    /// Allocation calls of the bench thread.
    pub(super) allocs: Option<u64>,
    pub(super) ops: usize,
}

impl Cost {
    pub(super) fn add(&mut self, other: Cost) {
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
pub(super) struct Span {
    pub(super) start: Instant,
    pub(super) cpu: (f64, f64),
    pub(super) server_pid: Option<u32>,
    pub(super) server_cpu: Option<f64>,
    pub(super) io: IoStats,
    pub(super) allocs: u64,
}

impl Span {
    /// Starts timing; `io` is the client's I/O counts now.
    pub(super) fn begin(server_pid: Option<u32>, io: IoStats) -> Span {
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
    pub(super) fn end(&self, ops: usize, io: IoStats) -> (f64, Cost) {
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
    pub(super) fn skipped(note: impl Into<String>) -> Measure {
        Measure {
            note: Some(note.into()),
            ..Measure::default()
        }
    }

    pub(super) fn to_json(&self, client: &str, workload: &str) -> Value {
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
pub(super) trait Bench {
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
