//! A throwaway ensemble of N servers on loopback.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::options::{option_setters, Options};
use super::process::{Launch, Node, ERROR_TAIL_LINES};
use super::util::{create_dir, free_ports, loopback, write_file, TempDir};
use super::{HarnessError, Installation, ServerMode, PANIC_LOG_LINES};

const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// How many times `start` picks new ports when a server finds one of its ports taken.
const PORT_ATTEMPTS: usize = 3;

/// How long [`ZkEnsemble::leader`] waits for one node's `srvr` answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// An ensemble of N ZooKeeper servers (`QuorumPeerMain`) on loopback, each with its own
/// client, quorum and election port and its own directory under one temporary directory.
///
/// Servers are addressed by **index** `0..n`; server `i` has `myid` `i + 1`. The generated
/// `zoo.cfg` has `tickTime=500`, `initLimit=10`, `syncLimit=5`, `reconfigEnabled=true`,
/// `standaloneEnabled=false`, all four-letter words and lines such as
/// `server.1=127.0.0.1:QUORUM:ELECTION:participant;127.0.0.1:CLIENT`.
///
/// Dropping the ensemble kills every server and removes the directory (printing the end of
/// each log first if the thread panics; `MIO_ZK_KEEP_LOGS=1` keeps the directory).
///
/// # Examples
///
/// ```no_run
/// use mio_zookeeper::testing::ZkEnsemble;
///
/// let mut zk = ZkEnsemble::start(3)?;
/// println!("connect to {}", zk.connect_string()); // "127.0.0.1:A,127.0.0.1:B,127.0.0.1:C"
///
/// // Stop the leader: the other two elect a new one.
/// let old = zk.leader().expect("a started ensemble has a leader");
/// zk.stop(old)?;
/// let new = zk.wait_for_leader()?;
/// assert_ne!(new, old);
/// zk.start_again(old)?; // rejoins as a follower
/// # Ok::<(), mio_zookeeper::testing::HarnessError>(())
/// ```
#[derive(Debug)]
pub struct ZkEnsemble {
    // Field order matters: the processes are killed before the directory is removed.
    members: Vec<EnsembleMember>,
    root: TempDir,
    opts: Options,
}

/// One server of a [`ZkEnsemble`]: its addresses, process and log. Obtained with
/// [`ZkEnsemble::server`]; it is changed (stopped, started, ...) through the ensemble.
#[derive(Debug)]
pub struct EnsembleMember {
    node: Node,
    id: u32,
    quorum_port: u16,
    election_port: u16,
}

impl EnsembleMember {
    /// The server's `myid` (its index plus one).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The client address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.node.addr()
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.node.addr().port()
    }

    /// The connect string for this server alone.
    pub fn connect_string(&self) -> String {
        self.node.addr().to_string()
    }

    /// The port followers use to reach this server when it leads.
    pub fn quorum_port(&self) -> u16 {
        self.quorum_port
    }

    /// The leader-election port.
    pub fn election_port(&self) -> u16 {
        self.election_port
    }

    /// The server's pid while it runs (also while paused).
    pub fn pid(&self) -> Option<u32> {
        self.node.pid()
    }

    /// Whether the server process is alive (a paused server is).
    pub fn is_running(&self) -> bool {
        self.node.is_running()
    }

    /// Whether the server is paused.
    pub fn is_paused(&self) -> bool {
        self.node.is_paused()
    }

    /// The server's mode from `srvr`, or `None` when it does not answer or does not serve.
    pub fn mode(&self) -> Option<ServerMode> {
        self.node.mode()
    }

    /// Sends a four-letter word to this server (5 s timeout).
    pub fn four_letter(&self, cmd: &str) -> io::Result<String> {
        self.node.four_letter(cmd)
    }

    /// The whole log of this server.
    pub fn log(&self) -> String {
        self.node.log()
    }

    /// The path of this server's log file.
    pub fn log_path(&self) -> &Path {
        self.node.log_path()
    }

    /// This server's directory (`zoo.cfg`, `data/` with `myid`, `zookeeper.log`).
    pub fn dir(&self) -> &Path {
        self.node.dir()
    }
}

/// Settings for a [`ZkEnsemble`]; the same as [`ZkServerBuilder`](super::ZkServerBuilder)'s,
/// applied to every server.
///
/// # Examples
///
/// ```no_run
/// use mio_zookeeper::testing::ZkEnsemble;
///
/// let zk = ZkEnsemble::builder(5).super_digest("super", "test").start()?;
/// assert_eq!(zk.len(), 5);
/// # Ok::<(), mio_zookeeper::testing::HarnessError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct ZkEnsembleBuilder {
    size: usize,
    opts: Options,
}

impl ZkEnsembleBuilder {
    option_setters!();

    /// Starts every server and waits until all serve and exactly one leads.
    ///
    /// # Notable errors
    ///
    /// [`HarnessError::InvalidConfig`] for an empty ensemble, otherwise as for
    /// [`ZkServerBuilder::start`](super::ZkServerBuilder::start).
    pub fn start(self) -> Result<ZkEnsemble, HarnessError> {
        if self.size == 0 {
            return Err(HarnessError::InvalidConfig {
                reason: "an ensemble needs at least one server".into(),
            });
        }
        self.opts.validate()?;
        let installation = self.opts.installation()?;
        let mut attempt = 1;
        loop {
            match ZkEnsemble::launch(self.size, &self.opts, &installation) {
                Err(HarnessError::AddrInUse { server, .. }) if attempt < PORT_ATTEMPTS => {
                    log::info!("{server}: port taken, retrying the ensemble on other ports");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl ZkEnsemble {
    /// Starts `n` servers with the default settings and waits until all serve and exactly
    /// one leads. Three servers start in a few seconds.
    ///
    /// # Notable errors
    ///
    /// As for [`ZkEnsembleBuilder::start`].
    pub fn start(n: usize) -> Result<ZkEnsemble, HarnessError> {
        ZkEnsemble::builder(n).start()
    }

    /// A builder for an ensemble of `n` servers with non-default settings.
    pub fn builder(n: usize) -> ZkEnsembleBuilder {
        ZkEnsembleBuilder {
            size: n,
            opts: Options::default(),
        }
    }

    fn launch(
        n: usize,
        opts: &Options,
        installation: &Installation,
    ) -> Result<ZkEnsemble, HarnessError> {
        let root = TempDir::new("ensemble")?;
        let ports = free_ports(3 * n)?;
        // (client, quorum, election) for each server.
        let triples: Vec<(u16, u16, u16)> =
            ports.chunks_exact(3).map(|c| (c[0], c[1], c[2])).collect();

        let mut members = Vec::with_capacity(n);
        for (index, &(client, quorum, election)) in triples.iter().enumerate() {
            let id = u32::try_from(index + 1).map_err(|_| HarnessError::InvalidConfig {
                reason: format!("ensemble of {n} servers is too large"),
            })?;
            let dir = root.path().join(format!("zk{id}"));
            let data_dir = dir.join("data");
            create_dir(&data_dir)?;
            write_file(&data_dir.join("myid"), &format!("{id}\n"))?;

            let mut cfg = opts.base_config(&data_dir);
            cfg.set("initLimit", "10");
            cfg.set("syncLimit", "5");
            cfg.set("reconfigEnabled", "true");
            cfg.set("standaloneEnabled", "false");
            for (i, &(c, q, e)) in triples.iter().enumerate() {
                cfg.set(
                    format!("server.{}", i + 1),
                    format!("127.0.0.1:{q}:{e}:participant;127.0.0.1:{c}"),
                );
            }
            opts.apply_user_config(&mut cfg);
            let cfg_path = dir.join("zoo.cfg");
            write_file(&cfg_path, &cfg.render())?;

            let launch = Launch {
                java: installation.java().to_path_buf(),
                classpath: installation.classpath().to_owned(),
                jvm_args: opts.jvm_args(&dir)?,
                main_class: MAIN_CLASS,
                cfg: cfg_path,
            };
            members.push(EnsembleMember {
                node: Node::new(
                    format!("ZooKeeper server {id}"),
                    dir,
                    loopback(client),
                    launch,
                ),
                id,
                quorum_port: quorum,
                election_port: election,
            });
        }

        for member in &members {
            member.node.spawn()?;
        }
        let ensemble = ZkEnsemble {
            members,
            root,
            opts: opts.clone(),
        };
        ensemble.wait_for_leader()?;
        Ok(ensemble)
    }

    /// The number of servers.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the ensemble has no servers (never true for a started one).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// All client addresses, comma-separated: `"127.0.0.1:A,127.0.0.1:B,..."`.
    pub fn connect_string(&self) -> String {
        self.members
            .iter()
            .map(EnsembleMember::connect_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client addresses, by index.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.members.iter().map(EnsembleMember::addr).collect()
    }

    /// Server `i`, or `None` if `i >= len()`.
    pub fn server(&self, i: usize) -> Option<&EnsembleMember> {
        self.members.get(i)
    }

    /// All servers, by index.
    pub fn servers(&self) -> &[EnsembleMember] {
        &self.members
    }

    /// The ensemble's temporary directory (one `zkN/` directory per server).
    pub fn dir(&self) -> &Path {
        self.root.path()
    }

    fn member(&self, i: usize) -> Result<&EnsembleMember, HarnessError> {
        self.members.get(i).ok_or(HarnessError::NoSuchServer {
            index: i,
            len: self.members.len(),
        })
    }

    /// Stops server `i` (SIGTERM, SIGKILL after 5 s), keeping its data and ports. Does not
    /// wait for the others to re-elect; use [`wait_for_leader`](Self::wait_for_leader).
    pub fn stop(&mut self, i: usize) -> Result<(), HarnessError> {
        self.member(i)?.node.stop()
    }

    /// Starts a stopped server `i` again (same ports, same data) and waits until it serves,
    /// as leader or follower. A no-op when it runs. (Named after
    /// [`ZkServer::start_again`](super::ZkServer::start_again), as `start` makes ensembles.)
    pub fn start_again(&mut self, i: usize) -> Result<(), HarnessError> {
        let member = self.member(i)?;
        if member.node.is_running() {
            return Ok(());
        }
        member.node.spawn()?;
        self.wait_serving(i)
    }

    /// [`stop`](Self::stop) then [`start_again`](Self::start_again) server `i`.
    pub fn restart(&mut self, i: usize) -> Result<(), HarnessError> {
        self.stop(i)?;
        self.start_again(i)
    }

    /// Kills server `i` with SIGKILL, keeping its data.
    pub fn kill(&mut self, i: usize) -> Result<(), HarnessError> {
        self.member(i)?.node.kill()
    }

    /// Freezes server `i` with SIGSTOP (it keeps its sockets but answers nothing).
    pub fn pause(&mut self, i: usize) -> Result<(), HarnessError> {
        self.member(i)?.node.pause()
    }

    /// Resumes a paused server `i` with SIGCONT.
    pub fn resume(&mut self, i: usize) -> Result<(), HarnessError> {
        self.member(i)?.node.resume()
    }

    /// Server `i`'s mode from `srvr`, or `None` when it does not answer, does not serve or
    /// does not exist.
    pub fn mode(&self, i: usize) -> Option<ServerMode> {
        self.members.get(i).and_then(EnsembleMember::mode)
    }

    /// The index of the server that currently reports itself leader, if exactly one does.
    /// Asks every running, unpaused server once; does not wait.
    pub fn leader(&self) -> Option<usize> {
        let leaders: Vec<usize> = self
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.node.is_running() && !m.node.is_paused())
            .filter(|(_, m)| {
                super::four_letter(m.addr(), "srvr", PROBE_TIMEOUT)
                    .ok()
                    .and_then(|a| ServerMode::from_srvr(&a))
                    == Some(ServerMode::Leader)
            })
            .map(|(i, _)| i)
            .collect();
        match leaders.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Waits until server `i` serves (as leader, follower or observer), within the start
    /// timeout.
    pub fn wait_serving(&self, i: usize) -> Result<(), HarnessError> {
        let member = self.member(i)?;
        member
            .node
            .wait_serving(self.opts.start_timeout, ServerMode::is_quorum_member)
            .map(|_| ())
    }

    /// Waits until every running, unpaused server serves and exactly one of them leads;
    /// returns the leader's index. Bounded by the start timeout.
    ///
    /// # Notable errors
    ///
    /// [`HarnessError::NotReady`] (for the first server still not serving, or for the whole
    /// ensemble when the leader count is wrong) with the end of that server's log.
    pub fn wait_for_leader(&self) -> Result<usize, HarnessError> {
        let deadline = Instant::now() + self.opts.start_timeout;
        loop {
            let live: Vec<usize> = (0..self.members.len())
                .filter(|&i| self.members[i].node.is_running() && !self.members[i].node.is_paused())
                .collect();
            // Wait for each live server in turn: the first one that fails fails the wait.
            for &i in &live {
                let left = deadline.saturating_duration_since(Instant::now());
                self.members[i]
                    .node
                    .wait_serving(left, ServerMode::is_quorum_member)?;
            }
            let modes: Vec<(usize, Option<ServerMode>)> =
                live.iter().map(|&i| (i, self.members[i].mode())).collect();
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, m)| *m == Some(ServerMode::Leader))
                .map(|(i, _)| *i)
                .collect();
            let all_serve = modes
                .iter()
                .all(|(_, m)| m.as_ref().is_some_and(ServerMode::is_quorum_member));
            if all_serve && leaders.len() == 1 {
                return Ok(leaders[0]);
            }
            if Instant::now() >= deadline {
                let summary = modes
                    .iter()
                    .map(|(i, m)| match m {
                        Some(m) => format!("server {i}: {m}"),
                        None => format!("server {i}: not serving"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let culprit = live.first().copied().unwrap_or(0);
                return Err(match self.members.get(culprit) {
                    Some(m) => m.node.not_ready(format!(
                        "the ensemble has no single leader after {:?} ({summary})",
                        self.opts.start_timeout
                    )),
                    None => HarnessError::NoSuchServer { index: 0, len: 0 },
                });
            }
            thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for ZkEnsemble {
    fn drop(&mut self) {
        if thread::panicking() {
            // Show every server's log, but keep the total near PANIC_LOG_LINES.
            let per_server = (PANIC_LOG_LINES / self.members.len().max(1)).max(ERROR_TAIL_LINES);
            for member in &self.members {
                eprintln!(
                    "---- last {per_server} lines of {} ({}) ----\n{}\n---- end of log ----",
                    member.node.log_path().display(),
                    member.node.name(),
                    member.node.log_tail(per_server)
                );
            }
        }
        // Then `members` kill their processes and `root` removes the directory.
    }
}
