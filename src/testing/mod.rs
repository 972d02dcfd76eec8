//! A real-ZooKeeper test harness: throwaway standalone servers and ensembles on loopback.
//!
//! Enabled by the `testing` cargo feature (this crate's own tests, examples and benches turn
//! it on through a dev-dependency on the crate itself; `testing` turns on `lowlevel`). Unix
//! only: servers are controlled with signals.
//!
//! **What lives here, and what it may use:** processes, files, sockets and the clock, `libc`
//! for signals, the codec (`proto`: the fake server, the recording proxy and the raw
//! connection speak the protocol themselves) and the client's digest scheme; never the
//! client's session or loop, so that a harness bug cannot hide a client bug. Servers and
//! ensembles (`server.rs`, `ensemble.rs`, `options.rs`, `process.rs`, `install.rs`), the
//! fault proxy (`proxy.rs`, `chaos.rs`), the fake server and the raw connection
//! (`fake_server.rs`, `raw.rs`), helpers (`digest.rs`, `util.rs`).
//!
//! - [`ZkServer`]: one standalone server on a free `127.0.0.1` port in a temporary
//!   directory, with [`stop`](ZkServer::stop), [`start_again`](ZkServer::start_again) (same
//!   port and data, so sessions survive), [`kill`](ZkServer::kill),
//!   [`pause`](ZkServer::pause)/[`resume`](ZkServer::resume) (SIGSTOP/SIGCONT) and
//!   [`four_letter`](ZkServer::four_letter) words.
//! - [`ZkEnsemble`]: N servers with leader election, for fault tests (stop a follower, kill
//!   the leader, freeze a server).
//! - [`Installation`]: where ZooKeeper and `java` are.
//! - [`Proxy`]: a recording TCP proxy that stages network faults (cuts, cuts in the middle
//!   of a frame, seeded random cuts, freezes, held connections), with [`SeededRng`] for
//!   reproducible randomness.
//! - [`FakeServer`]: a fake server that answers the handshake, then sends [`Garbage`].
//!
//! Every server is killed when its handle is dropped, and on Linux also when the test
//! process dies, even by SIGKILL (`PR_SET_PDEATHSIG`). When a test panics, the end of the
//! server's log is printed to stderr, which the test runner shows with the failure.
//!
//! # Defaults
//!
//! `tickTime=500` ms: the server grants session timeouts between 1 s and 10 s (2 and 20
//! ticks), which keeps expiry tests short. Change it with
//! [`tick_time`](ZkServerBuilder::tick_time) or set `minSessionTimeout`/`maxSessionTimeout`
//! with [`cfg`](ZkServerBuilder::cfg). Also `maxClientCnxns=0` (no limit), every
//! four-letter word allowed, the admin server off, `zookeeper.forceSync=no`.
//!
//! # Environment
//!
//! | variable | effect |
//! |---|---|
//! | `MIO_ZK_CLASSPATH` | the server classpath, used verbatim |
//! | `ZOOKEEPER_PATH` | a directory of ZooKeeper jars (and its `lib/`) |
//! | `JAVA_HOME` | `java` is `$JAVA_HOME/bin/java` (else `java` on `PATH`) |
//! | `MIO_ZK_KEEP_LOGS=1` | keep each server's directory (config, data, log) and print its path |
//! | `MIO_ZK_JVM_OPTS` | extra JVM options for every server |
//!
//! Without the first two, Debian's `zookeeper` package is used
//! (`/usr/share/java/zookeeper.jar`); `scripts/install-zookeeper` installs it.
//!
//! # Examples
//!
//! ```
//! use mio_zookeeper::testing::{ServerMode, ZkServer};
//!
//! let mut zk = ZkServer::start()?;
//! assert_eq!(zk.four_letter("ruok")?, "imok");
//! assert_eq!(zk.mode(), Some(ServerMode::Standalone));
//!
//! zk.stop()?;
//! assert!(!zk.is_running());
//! zk.start_again()?; // same port, same data
//! assert!(zk.four_letter("srvr")?.contains("Mode: standalone"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

mod chaos;
mod digest;
mod ensemble;
mod fake_server;
mod install;
mod options;
mod process;
mod proxy;
mod raw;
mod server;
mod util;

pub use chaos::{Direction, RandomCuts, SeededRng};
pub use digest::digest_id;
pub use ensemble::{EnsembleMember, ZkEnsemble, ZkEnsembleBuilder};
pub use fake_server::{FakeServer, Garbage, FAKE_SESSION_ID};
pub use install::Installation;
pub use proxy::{Proxy, RecordedConnection};
pub use raw::{RawConnection, RawReply};
pub use server::{ZkServer, ZkServerBuilder};

/// Lines of a server's log printed to stderr when a test panics.
const PANIC_LOG_LINES: usize = 100;

/// Why the harness could not provide a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// No ZooKeeper server classes or no `java` were found.
    #[error(
        "ZooKeeper is not installed: {reason}. To fix: run `scripts/install-zookeeper` from the \
         mio-zookeeper repository, or `sudo apt-get install zookeeper default-jre-headless` \
         (Debian/Ubuntu); or set MIO_ZK_CLASSPATH to a complete server classpath, or \
         ZOOKEEPER_PATH to a directory of ZooKeeper jars such as apache-zookeeper-3.8.x-bin/lib \
         (java is taken from JAVA_HOME or PATH)"
    )]
    NotInstalled {
        /// What was missing.
        reason: String,
    },

    /// The JVM could not be started.
    #[error("could not start the ZooKeeper JVM `{program}`: {source}")]
    Spawn {
        /// The `java` launcher.
        program: String,
        /// The error from spawning it.
        source: io::Error,
    },

    /// The server did not start serving: it exited, or it did not serve in time.
    #[error(
        "{server} did not start serving: {reason}\n---- last lines of {} (MIO_ZK_KEEP_LOGS=1 \
         keeps it) ----\n{tail}\n---- end of log ----",
        log.display()
    )]
    NotReady {
        /// Which server, and its client address.
        server: String,
        /// What happened.
        reason: String,
        /// The server's log file.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },

    /// The server exited because one of its ports was taken (by another process that bound
    /// it after the harness found it free).
    #[error(
        "{server} exited: one of its ports is already in use\n---- last lines of {} ----\n\
         {tail}\n---- end of log ----",
        log.display()
    )]
    AddrInUse {
        /// Which server, and its client address.
        server: String,
        /// The server's log file.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },

    /// A builder setting cannot be used (empty key, line break, zero tick time, empty
    /// ensemble).
    #[error("invalid harness configuration: {reason}")]
    InvalidConfig {
        /// What was wrong.
        reason: String,
    },

    /// An ensemble server index out of range.
    #[error("no server {index} in an ensemble of {len} (indices start at 0)")]
    NoSuchServer {
        /// The index asked for.
        index: usize,
        /// The number of servers.
        len: usize,
    },

    /// A file-system or process operation failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl HarnessError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> HarnessError {
        HarnessError::Io {
            context: context.into(),
            source,
        }
    }
}

/// What a server says it is, from the `Mode:` line of its `srvr` answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerMode {
    /// A standalone server.
    Standalone,
    /// The leader of an ensemble.
    Leader,
    /// A follower in an ensemble.
    Follower,
    /// An observer in an ensemble.
    Observer,
    /// A server in read-only mode (cut off from its quorum, `readonlymode.enabled`).
    ReadOnly,
    /// A mode this harness does not know.
    Other(String),
}

impl ServerMode {
    /// Parses the `Mode:` line of a `srvr` (or `stat`) answer; `None` if there is none (a
    /// server that does not serve says "This ZooKeeper instance is not currently serving
    /// requests").
    ///
    /// # Examples
    ///
    /// ```
    /// use mio_zookeeper::testing::ServerMode;
    ///
    /// let answer = "Zookeeper version: 3.8.0\nZxid: 0x0\nMode: follower\nNode count: 5\n";
    /// assert_eq!(ServerMode::from_srvr(answer), Some(ServerMode::Follower));
    /// assert_eq!(ServerMode::from_srvr("This ZooKeeper instance is not currently serving requests\n"), None);
    /// ```
    pub fn from_srvr(answer: &str) -> Option<ServerMode> {
        let mode = answer
            .lines()
            .find_map(|line| line.strip_prefix("Mode:"))?
            .trim();
        Some(match mode {
            "standalone" => ServerMode::Standalone,
            "leader" => ServerMode::Leader,
            "follower" => ServerMode::Follower,
            "observer" => ServerMode::Observer,
            "read-only" => ServerMode::ReadOnly,
            other => ServerMode::Other(other.to_owned()),
        })
    }

    /// Leader, follower or observer: a server that serves as part of a quorum.
    pub fn is_quorum_member(&self) -> bool {
        matches!(
            self,
            ServerMode::Leader | ServerMode::Follower | ServerMode::Observer
        )
    }
}

impl fmt::Display for ServerMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerMode::Standalone => "standalone",
            ServerMode::Leader => "leader",
            ServerMode::Follower => "follower",
            ServerMode::Observer => "observer",
            ServerMode::ReadOnly => "read-only",
            ServerMode::Other(other) => other,
        })
    }
}

/// Sends the four-letter word `cmd` (`ruok`, `srvr`, `stat`, `conf`, `dump`, `mntr`, ...) to
/// the server at `addr` and returns its whole answer; `timeout` bounds the connect and each
/// read and write.
///
/// The server must allow the word (`4lw.commands.whitelist`; the harness allows all).
///
/// # Notable errors
///
/// `InvalidInput` if `cmd` is not four ASCII bytes; `TimedOut`/`WouldBlock` when the server
/// does not answer in time (a paused server accepts the connection but says nothing).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use mio_zookeeper::testing::{four_letter, ZkServer};
///
/// let zk = ZkServer::start()?;
/// assert_eq!(four_letter(zk.addr(), "ruok", Duration::from_secs(5))?, "imok");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn four_letter(addr: SocketAddr, cmd: &str, timeout: Duration) -> io::Result<String> {
    if cmd.len() != 4 || !cmd.is_ascii() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a four-letter word must be 4 ASCII bytes, not {cmd:?}"),
        ));
    }
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(cmd.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_can_live_in_statics() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ZkServer>();
        send_sync::<ZkEnsemble>();
        send_sync::<HarnessError>();
        send_sync::<Installation>();
    }

    #[test]
    fn modes_parse_and_display() {
        for (text, mode) in [
            ("standalone", ServerMode::Standalone),
            ("leader", ServerMode::Leader),
            ("follower", ServerMode::Follower),
            ("observer", ServerMode::Observer),
            ("read-only", ServerMode::ReadOnly),
            ("martian", ServerMode::Other("martian".into())),
        ] {
            let answer = format!("Zxid: 0x0\nMode: {text}\nNode count: 4\n");
            assert_eq!(ServerMode::from_srvr(&answer), Some(mode.clone()));
            assert_eq!(mode.to_string(), text);
        }
        assert!(ServerMode::Leader.is_quorum_member());
        assert!(!ServerMode::Standalone.is_quorum_member());
        assert_eq!(ServerMode::from_srvr(""), None);
    }

    #[test]
    fn four_letter_refuses_bad_words_before_connecting() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        for word in ["", "ruo", "ruokk", "rüok"] {
            let err = four_letter(addr, word, Duration::from_millis(10)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{word:?}");
        }
    }
}
