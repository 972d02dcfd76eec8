//! CPU time over a load: the bench's thread (which runs the client's loop, or the raw read)
//! and the server's process. Both share this machine's cores, so a load is as fast as their
//! sum allows.

/// A CPU clock reading: the bench thread's seconds, and the server's when it can be read.
#[derive(Debug, Clone, Copy)]
pub(super) struct CpuMark {
    thread: f64,
    server: Option<f64>,
}

/// CPU seconds spent between two marks, divided by `nodes`: µs per node.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CpuPerNode {
    /// The bench thread's: the client (or the raw read) and the cache.
    pub(super) client_us: f64,
    /// The server's (all its threads; in clock ticks, 10 ms each: coarse on small trees).
    pub(super) server_us: Option<f64>,
}

impl CpuMark {
    pub(super) fn now(server_pid: Option<u32>) -> CpuMark {
        CpuMark {
            thread: thread_cpu_secs(),
            server: server_pid.and_then(process_cpu_secs),
        }
    }

    /// What was spent since `self`, per node.
    pub(super) fn per_node(&self, server_pid: Option<u32>, nodes: usize) -> CpuPerNode {
        let later = CpuMark::now(server_pid);
        let n = nodes.max(1) as f64;
        CpuPerNode {
            client_us: (later.thread - self.thread) * 1e6 / n,
            server_us: self
                .server
                .zip(later.server)
                .map(|(a, b)| (b - a) * 1e6 / n),
        }
    }
}

/// The calling thread's CPU seconds (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Process `pid`'s user + system CPU seconds, all threads (`/proc/PID/stat`, fields 14
/// and 15, in clock ticks).
fn process_cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from the ')' that ends it, where
    // field 3 begins.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        t if t > 0 => t as f64,
        _ => 100.0,
    };
    Some((utime + stime) / ticks)
}
