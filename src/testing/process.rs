//! One ZooKeeper JVM: spawning it, signalling it, waiting until it serves.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::util::{read_lossy, read_lossy_from, tail};
use super::{four_letter, HarnessError, ServerMode};

/// How long [`Node::stop`] waits after SIGTERM before it sends SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How often readiness and exit are polled. A server is an external process: there is no
/// event to wait on, only its answers to `srvr`.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Timeout of one `srvr` probe while waiting for a server.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Lines of log quoted in errors.
pub(crate) const ERROR_TAIL_LINES: usize = 40;

/// What the server prints when one of its ports is taken (a `java.net.BindException`).
const ADDR_IN_USE: &str = "Address already in use";

/// How to launch a server JVM.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) java: PathBuf,
    pub(crate) classpath: String,
    pub(crate) jvm_args: Vec<String>,
    pub(crate) main_class: &'static str,
    pub(crate) cfg: PathBuf,
}

#[derive(Debug, Default)]
struct State {
    child: Option<Child>,
    paused: bool,
    /// Length of the log file when the current process was started: its output begins there.
    log_offset: u64,
}

/// A server process with its directory, config and log. Killed (and reaped) on drop.
///
/// The state sits behind a mutex so that read-only queries (`is_running`, `pid`) work
/// through `&self` and the owning types stay `Send + Sync` (a server may live in a static).
#[derive(Debug)]
pub(crate) struct Node {
    name: String,
    dir: PathBuf,
    log_path: PathBuf,
    addr: SocketAddr,
    launch: Launch,
    state: Mutex<State>,
}

impl Node {
    pub(crate) fn new(name: String, dir: PathBuf, addr: SocketAddr, launch: Launch) -> Node {
        Node {
            name,
            log_path: dir.join("zookeeper.log"),
            dir,
            addr,
            launch,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves nothing half-updated that matters here.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    pub(crate) fn log_tail(&self, lines: usize) -> String {
        tail(&self.log(), lines)
    }

    /// The pid of the process the harness started, unless it was stopped or killed since, or
    /// was seen to have exited.
    pub(crate) fn pid(&self) -> Option<u32> {
        let mut state = self.state();
        reap_if_exited(&mut state);
        state.child.as_ref().map(Child::id)
    }

    /// Whether the process is alive (a paused process is alive).
    pub(crate) fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    pub(crate) fn is_paused(&self) -> bool {
        let mut state = self.state();
        reap_if_exited(&mut state);
        state.child.is_some() && state.paused
    }

    pub(crate) fn four_letter(&self, cmd: &str) -> io::Result<String> {
        four_letter(self.addr, cmd, Duration::from_secs(5))
    }

    /// The server's mode from `srvr`, or `None` when it does not answer or does not serve.
    pub(crate) fn mode(&self) -> Option<ServerMode> {
        four_letter(self.addr, "srvr", PROBE_TIMEOUT)
            .ok()
            .and_then(|answer| ServerMode::from_srvr(&answer))
    }

    /// Starts the process unless it is running. Does not wait for it to serve.
    pub(crate) fn spawn(&self) -> Result<(), HarnessError> {
        let mut state = self.state();
        reap_if_exited(&mut state);
        if state.child.is_some() {
            return Ok(());
        }

        let log_err = |e| HarnessError::io(format!("opening {}", self.log_path.display()), e);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(log_err)?;
        let _ = writeln!(
            log,
            "==== mio_zookeeper::testing: starting {} on {} ====",
            self.name, self.addr
        );
        let log_offset = fs::metadata(&self.log_path).map(|m| m.len()).unwrap_or(0);
        let log2 = log.try_clone().map_err(log_err)?;

        let launch = &self.launch;
        let mut cmd = Command::new(&launch.java);
        cmd.args(&launch.jvm_args)
            .arg("-cp")
            .arg(&launch.classpath)
            .arg(launch.main_class)
            .arg(&launch.cfg)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        die_with_parent(&mut cmd);

        let child = spawn_from_long_lived_thread(cmd).map_err(|source| HarnessError::Spawn {
            program: launch.java.display().to_string(),
            source,
        })?;
        log::debug!(
            "started {} on {} (pid {})",
            self.name,
            self.addr,
            child.id()
        );
        *state = State {
            child: Some(child),
            paused: false,
            log_offset,
        };
        Ok(())
    }

    /// Waits until `srvr` reports a mode that `accept`s, the process exits, or `timeout`.
    pub(crate) fn wait_serving(
        &self,
        timeout: Duration,
        accept: impl Fn(&ServerMode) -> bool,
    ) -> Result<ServerMode, HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut state = self.state();
                let offset = state.log_offset;
                match state.child.as_mut().map(Child::try_wait) {
                    None => return Err(self.not_ready("the server is not running".into())),
                    Some(Ok(None)) => {}
                    Some(Ok(Some(status))) => {
                        state.child = None;
                        drop(state);
                        return Err(self.exited(status, offset));
                    }
                    Some(Err(e)) => {
                        return Err(HarnessError::io(format!("waiting for {}", self.name), e))
                    }
                }
            }
            let last_answer = match four_letter(self.addr, "srvr", PROBE_TIMEOUT) {
                Ok(answer) => {
                    if let Some(mode) = ServerMode::from_srvr(&answer) {
                        if accept(&mode) {
                            log::debug!("{} on {} serves as {mode}", self.name, self.addr);
                            return Ok(mode);
                        }
                    }
                    format!("last `srvr` answer: {:?}", answer.trim())
                }
                Err(e) => format!("last `srvr` attempt: {e}"),
            };
            if Instant::now() >= deadline {
                return Err(self.not_ready(format!(
                    "it did not serve within {timeout:?} ({last_answer})"
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn exited(&self, status: ExitStatus, log_offset: u64) -> HarnessError {
        let output = read_lossy_from(&self.log_path, log_offset);
        if output.contains(ADDR_IN_USE) {
            HarnessError::AddrInUse {
                server: self.describe(),
                log: self.log_path.clone(),
                tail: tail(&output, ERROR_TAIL_LINES),
            }
        } else {
            self.not_ready(format!("the server process exited ({status})"))
        }
    }

    pub(crate) fn not_ready(&self, reason: String) -> HarnessError {
        HarnessError::NotReady {
            server: self.describe(),
            reason,
            log: self.log_path.clone(),
            tail: self.log_tail(ERROR_TAIL_LINES),
        }
    }

    fn describe(&self) -> String {
        format!("{} on {}", self.name, self.addr)
    }

    /// SIGTERM, then SIGKILL after [`STOP_GRACE`]; reaps the process. A no-op when stopped.
    pub(crate) fn stop(&self) -> Result<(), HarnessError> {
        let mut state = self.state();
        let Some(child) = state.child.as_mut() else {
            return Ok(());
        };
        let io_err = |e| HarnessError::io(format!("stopping {}", self.name), e);
        if child.try_wait().map_err(io_err)?.is_none() {
            send_signal(child, libc::SIGTERM).map_err(io_err)?;
            if state.paused {
                // A stopped process acts on SIGTERM only once it runs again.
                if let Some(child) = state.child.as_ref() {
                    send_signal(child, libc::SIGCONT).map_err(io_err)?;
                }
            }
            let deadline = Instant::now() + STOP_GRACE;
            while let Some(child) = state.child.as_mut() {
                if child.try_wait().map_err(io_err)?.is_some() {
                    break;
                }
                if Instant::now() >= deadline {
                    log::warn!(
                        "{} ignored SIGTERM for {STOP_GRACE:?}; killing it",
                        self.name
                    );
                    send_signal(child, libc::SIGKILL).map_err(io_err)?;
                    child.wait().map_err(io_err)?;
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        log::debug!("stopped {} on {}", self.name, self.addr);
        state.child = None;
        state.paused = false;
        Ok(())
    }

    /// SIGKILL; reaps the process. A no-op when stopped.
    pub(crate) fn kill(&self) -> Result<(), HarnessError> {
        let mut state = self.state();
        if let Some(child) = state.child.as_mut() {
            let io_err = |e| HarnessError::io(format!("killing {}", self.name), e);
            if child.try_wait().map_err(io_err)?.is_none() {
                send_signal(child, libc::SIGKILL).map_err(io_err)?;
                child.wait().map_err(io_err)?;
            }
            log::debug!("killed {} on {}", self.name, self.addr);
        }
        state.child = None;
        state.paused = false;
        Ok(())
    }

    /// SIGSTOP: the server stops answering but keeps its sockets open (a hung server).
    pub(crate) fn pause(&self) -> Result<(), HarnessError> {
        self.stop_or_continue(libc::SIGSTOP, true)
    }

    /// SIGCONT after [`Node::pause`].
    pub(crate) fn resume(&self) -> Result<(), HarnessError> {
        self.stop_or_continue(libc::SIGCONT, false)
    }

    fn stop_or_continue(&self, signal: libc::c_int, pause: bool) -> Result<(), HarnessError> {
        let mut state = self.state();
        reap_if_exited(&mut state);
        let Some(child) = state.child.as_ref() else {
            return Err(self.not_ready("the server is not running".into()));
        };
        send_signal(child, signal)
            .map_err(|e| HarnessError::io(format!("signalling {}", self.name), e))?;
        wait_for_stopped_state(child.id(), pause);
        state.paused = pause;
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Err(e) = self.kill() {
            log::warn!("could not kill {}: {e}", self.name);
        }
    }
}

/// Forgets a child that has exited on its own (and reaps it).
fn reap_if_exited(state: &mut State) {
    if let Some(child) = state.child.as_mut() {
        if !matches!(child.try_wait(), Ok(None)) {
            state.child = None;
            state.paused = false;
        }
    }
}

fn send_signal(child: &Child, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours. `pid` is a child
    // we have not reaped yet (we hold its `Child` and only reap through it), so the pid
    // cannot have been recycled for an unrelated process.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Waits briefly until `/proc` shows the process stopped (`T`) or not, so that `pause`
/// returns once the server really is frozen. Best effort, Linux only.
fn wait_for_stopped_state(pid: u32, stopped: bool) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let stat = format!("/proc/{pid}/stat");
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let Ok(text) = fs::read_to_string(&stat) else {
            return;
        };
        // The state follows the parenthesised command name, which may itself hold spaces.
        let state = text
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        match state {
            Some("T") | Some("t") if stopped => return,
            Some(s) if !stopped && s != "T" && s != "t" => return,
            None => return,
            _ => thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// On Linux, asks the kernel to SIGKILL the server when the thread that spawned it exits
/// (`PR_SET_PDEATHSIG`), so that a server never outlives a test process that was killed
/// (a killed process runs no destructors).
///
/// The signal fires when the spawning *thread* exits, not the process. Tests run on
/// short-lived threads, and a server created by one test thread but kept in a static would
/// die with that thread; so the harness spawns every server from one long-lived thread
/// ([`spawn_from_long_lived_thread`]), which exits only with the process.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt as _;

    let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe functions may be called: it calls prctl(2) and getppid(2), both
    // plain syscalls, and builds an `io::Error` from a raw errno (no allocation). It shares
    // no locks or memory with the parent.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would kill us.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` from a dedicated thread that lives as long as the process (see
/// [`die_with_parent`] for why). Falls back to the calling thread if that thread cannot be
/// created.
fn spawn_from_long_lived_thread(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, rx) = mpsc::channel::<SpawnJob>();
        let thread = thread::Builder::new()
            .name("mio-zk-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            });
        match thread {
            Ok(_) => Some(jobs),
            Err(e) => {
                log::warn!("could not start the spawner thread ({e}); spawning directly");
                None
            }
        }
    });
    let Some(jobs) = spawner else {
        let mut cmd = cmd;
        return cmd.spawn();
    };
    let (reply, answer) = mpsc::channel();
    if let Err(mpsc::SendError((mut cmd, _))) = jobs.send((cmd, reply)) {
        return cmd.spawn();
    }
    answer
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("the spawner thread is gone")))
}
