//! Pinning the server's and the bench's threads to CPUs (`--pin`).

use super::*;

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
pub(super) fn pin_plan(pin: Pin) -> Option<(usize, usize)> {
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
pub(super) fn apply_pin(
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
