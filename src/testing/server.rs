//! A throwaway standalone server.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::thread;

use super::options::{option_setters, Options};
use super::process::{Launch, Node};
use super::util::{create_dir, free_ports, loopback, write_file, TempDir};
use super::{HarnessError, ServerMode, PANIC_LOG_LINES};

const MAIN_CLASS: &str = "org.apache.zookeeper.server.ZooKeeperServerMain";

/// How many times `start` picks a new port when the server finds its port taken.
const PORT_ATTEMPTS: usize = 5;

/// A standalone ZooKeeper server on a free loopback port, in its own temporary directory.
///
/// The server runs `ZooKeeperServerMain` with a generated `zoo.cfg`: `tickTime=500` (so
/// session timeouts from 1 s to 10 s), `maxClientCnxns=0`, all four-letter words enabled,
/// the admin server off. Its stdout and stderr go to `zookeeper.log` in its directory.
///
/// Dropping the server kills it, waits for it and removes its directory. If the thread is
/// panicking (a failing test), the last 100 log lines are printed to stderr first; with
/// `MIO_ZK_KEEP_LOGS=1` the directory is kept and its path printed.
///
/// # Examples
///
/// ```
/// use mio_zookeeper::testing::ZkServer;
///
/// let zk = ZkServer::start()?;
/// assert_eq!(zk.four_letter("ruok")?, "imok");
/// println!("connect to {}", zk.connect_string());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A restart keeps the data and the port, so sessions survive it:
///
/// ```no_run
/// use mio_zookeeper::testing::ZkServer;
///
/// let mut zk = ZkServer::builder().super_digest("super", "test").start()?;
/// // ... create nodes, open a session ...
/// zk.restart()?;
/// // ... the session reconnects to the same address and finds its nodes ...
/// # Ok::<(), mio_zookeeper::testing::HarnessError>(())
/// ```
#[derive(Debug)]
pub struct ZkServer {
    // Field order matters: the process is killed before its directory is removed.
    node: Node,
    dir: TempDir,
    opts: Options,
}

/// Settings for a [`ZkServer`]; [`start`](ZkServerBuilder::start) launches it.
///
/// # Examples
///
/// ```no_run
/// use mio_zookeeper::testing::ZkServer;
///
/// let zk = ZkServer::builder()
///     .extended_types(true)
///     .super_digest("super", "test")
///     .cfg("maxSessionTimeout", "60000")
///     .system_property("zookeeper.maxCnxns", "100")
///     .tick_time(200)
///     .start()?;
/// println!("TTL nodes and a super user on {}", zk.connect_string());
/// # Ok::<(), mio_zookeeper::testing::HarnessError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct ZkServerBuilder {
    opts: Options,
}

impl ZkServerBuilder {
    option_setters!();

    /// Starts the server and waits until it serves (`srvr` reports its mode).
    ///
    /// # Notable errors
    ///
    /// - [`HarnessError::NotInstalled`]: no ZooKeeper or `java` (the message says how to fix it);
    /// - [`HarnessError::NotReady`]: it did not serve within the start timeout, or exited;
    ///   the error carries the end of its log;
    /// - [`HarnessError::AddrInUse`]: five free ports in a row were taken before the server
    ///   could bind them.
    pub fn start(self) -> Result<ZkServer, HarnessError> {
        self.opts.validate()?;
        let installation = self.opts.installation()?;
        let mut attempt = 1;
        loop {
            match ZkServer::launch(&self.opts, &installation) {
                Err(HarnessError::AddrInUse { server, .. }) if attempt < PORT_ATTEMPTS => {
                    log::info!("{server}: port taken, retrying on another port");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl ZkServer {
    /// Starts a server with the default settings (see [`ZkServer::builder`] for others).
    ///
    /// # Notable errors
    ///
    /// As for [`ZkServerBuilder::start`].
    pub fn start() -> Result<ZkServer, HarnessError> {
        ZkServer::builder().start()
    }

    /// A builder for a server with non-default settings.
    pub fn builder() -> ZkServerBuilder {
        ZkServerBuilder::default()
    }

    fn launch(
        opts: &Options,
        installation: &super::Installation,
    ) -> Result<ZkServer, HarnessError> {
        let dir = TempDir::new("standalone")?;
        let data_dir = dir.path().join("data");
        create_dir(&data_dir)?;
        let port = free_ports(1)?[0];

        let mut cfg = opts.base_config(&data_dir);
        cfg.set("clientPort", port.to_string());
        cfg.set("clientPortAddress", "127.0.0.1");
        opts.apply_user_config(&mut cfg);
        let cfg_path = dir.path().join("zoo.cfg");
        write_file(&cfg_path, &cfg.render())?;

        let launch = Launch {
            java: installation.java().to_path_buf(),
            classpath: installation.classpath().to_owned(),
            jvm_args: opts.jvm_args(dir.path())?,
            main_class: MAIN_CLASS,
            cfg: cfg_path,
        };
        let node = Node::new(
            "standalone ZooKeeper".into(),
            dir.path().to_path_buf(),
            loopback(port),
            launch,
        );
        node.spawn()?;
        node.wait_serving(opts.start_timeout, |_| true)?;
        Ok(ZkServer {
            node,
            dir,
            opts: opts.clone(),
        })
    }

    /// `"127.0.0.1:PORT"`, the connect string for a client.
    pub fn connect_string(&self) -> String {
        self.node.addr().to_string()
    }

    /// The client address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.node.addr()
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.node.addr().port()
    }

    /// The server's pid while it runs (also while paused); `None` after `stop`/`kill` or if
    /// it exited.
    pub fn pid(&self) -> Option<u32> {
        self.node.pid()
    }

    /// Whether the server process is alive (a paused server is).
    pub fn is_running(&self) -> bool {
        self.node.is_running()
    }

    /// Whether the server is paused (see [`pause`](Self::pause)).
    pub fn is_paused(&self) -> bool {
        self.node.is_paused()
    }

    /// Stops the server: SIGTERM, then SIGKILL if it has not exited after 5 s. The data
    /// directory and port are kept for [`start_again`](Self::start_again). A no-op when
    /// the server is not running.
    pub fn stop(&mut self) -> Result<(), HarnessError> {
        self.node.stop()
    }

    /// Starts a stopped (or killed) server again on the same port with the same data, and
    /// waits until it serves. Sessions that have not expired survive, as with a real server
    /// restart. A no-op when the server runs.
    ///
    /// # Notable errors
    ///
    /// [`HarnessError::AddrInUse`] if another process took the port meanwhile, and
    /// [`HarnessError::NotReady`] if it does not serve in time (it is then killed).
    pub fn start_again(&mut self) -> Result<(), HarnessError> {
        if self.node.is_running() {
            return Ok(());
        }
        self.node.spawn()?;
        if let Err(e) = self.node.wait_serving(self.opts.start_timeout, |_| true) {
            let _ = self.node.kill();
            return Err(e);
        }
        Ok(())
    }

    /// [`stop`](Self::stop), then [`start_again`](Self::start_again).
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        self.stop()?;
        self.start_again()
    }

    /// Kills the server with SIGKILL (a crash) and waits for it to die. The data is kept.
    pub fn kill(&mut self) -> Result<(), HarnessError> {
        self.node.kill()
    }

    /// Freezes the server with SIGSTOP: its sockets stay open but it answers nothing, like
    /// a hung or partitioned server. Clients time out; [`resume`](Self::resume) thaws it.
    pub fn pause(&mut self) -> Result<(), HarnessError> {
        self.node.pause()
    }

    /// Resumes a paused server with SIGCONT.
    pub fn resume(&mut self) -> Result<(), HarnessError> {
        self.node.resume()
    }

    /// The whole log (the server's stdout and stderr over all its runs).
    pub fn log(&self) -> String {
        self.node.log()
    }

    /// The path of the log file.
    pub fn log_path(&self) -> &Path {
        self.node.log_path()
    }

    /// The server's directory (`zoo.cfg`, `data/`, `zookeeper.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends a four-letter word (`ruok`, `srvr`, `stat`, `conf`, `dump`, `mntr`, `cons`,
    /// ...) and returns the answer, with a 5 s timeout. See [`four_letter`](super::four_letter).
    pub fn four_letter(&self, cmd: &str) -> io::Result<String> {
        self.node.four_letter(cmd)
    }

    /// The server's mode from `srvr` ([`ServerMode::Standalone`] when it serves), or `None`
    /// when it does not answer or does not serve.
    pub fn mode(&self) -> Option<ServerMode> {
        self.node.mode()
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "---- last {PANIC_LOG_LINES} lines of {} ({}) ----\n{}\n---- end of log ----",
                self.node.log_path().display(),
                self.node.name(),
                self.node.log_tail(PANIC_LOG_LINES)
            );
        }
        // Then `node` kills the process and `dir` removes the directory.
    }
}
