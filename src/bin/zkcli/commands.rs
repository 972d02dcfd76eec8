//! The connected client, and running each command against it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::rc::Rc;
use std::time::Duration;

use mio_zookeeper::{
    Acl, AddWatchMode, Client, ClientState, CreateOptions, Error, ErrorCode, EventType, Perms,
    Stat, WatchedEvent, WatcherType, WhenOffline, ZkError,
};

use crate::args::{help_text, Command, Options};
use crate::failure::{no_node, Failure};
use crate::SESSION_TIMEOUT;

/// The connected client, and whether zkcli is closing it (so the listener keeps quiet).
pub(crate) struct Zk {
    pub(crate) client: Client,
    closing: Rc<Cell<bool>>,
}

impl Zk {
    pub(crate) fn connect(opts: &Options) -> Result<Zk, Failure> {
        let client = Client::builder(&opts.hosts)
            .session_timeout(SESSION_TIMEOUT)
            .request_timeout(Some(opts.timeout))
            .build()
            .map_err(|e| match e {
                Error::BadArgument(m) => Failure::Usage(format!("--hosts {:?}: {m}", opts.hosts)),
                e => Failure::zk("creating the client")(e),
            })?;
        let closing = Rc::new(Cell::new(false));
        // Tell the user about connection trouble after the first connect; the client
        // reconnects (and after an expiry opens a new session) by itself.
        let (c, prev) = (closing.clone(), Cell::new(None));
        client.add_listener(move |state| {
            let before = prev.replace(Some(state));
            if c.get() || before.is_none() {
                return;
            }
            match state {
                ClientState::Suspended => eprintln!("zkcli: connection lost; reconnecting"),
                ClientState::Connected if before == Some(ClientState::Lost) => {
                    eprintln!("zkcli: connected with a new session")
                }
                ClientState::Connected => eprintln!("zkcli: reconnected"),
                ClientState::Lost => eprintln!(
                    "zkcli: the session is lost (its ephemeral nodes and watches are gone)"
                ),
            }
        });
        if let Err(e) = client.start(Some(opts.timeout)) {
            return Err(Failure::zk(format!(
                "could not connect to {} within {:?}",
                opts.hosts, opts.timeout
            ))(e));
        }
        Ok(Zk { client, closing })
    }

    /// Closes the session, so the server drops its ephemeral nodes at once.
    pub(crate) fn close(&self) {
        self.closing.set(true);
        if let Err(e) = self.client.stop() {
            eprintln!("zkcli: closing the session: {e}");
        }
    }
}

impl Command {
    /// Runs the command, writing its output to `out`.
    pub(crate) fn run(&self, zk: &Zk, out: &mut dyn Write, in_shell: bool) -> Result<(), Failure> {
        let zk = &zk.client;
        match self {
            Command::Ls(path) => {
                let mut children = zk
                    .get_children(path, None)
                    .map_err(Failure::zk(format!("ls {path}")))?;
                children.sort();
                for c in children {
                    writeln!(out, "{c}")?;
                }
            }
            Command::Get(path) => {
                let (data, _) = zk
                    .get(path, None)
                    .map_err(Failure::zk(format!("get {path}")))?;
                let data = data.unwrap_or_default();
                out.write_all(&data)?;
                if in_shell && !data.is_empty() && !data.ends_with(b"\n") {
                    out.write_all(b"\n")?;
                }
            }
            Command::Stat(path) => {
                let stat = zk
                    .exists(path, None)
                    .map_err(Failure::zk(format!("stat {path}")))?;
                let stat =
                    stat.ok_or_else(|| Failure::zk(format!("stat {path}"))(no_node(path)))?;
                write_stat(out, &stat)?;
            }
            Command::Set(path, data) => {
                zk.set(path, data, None)
                    .map_err(Failure::zk(format!("set {path}")))?;
            }
            Command::Create {
                path,
                data,
                mode,
                ttl,
            } => {
                let opts = CreateOptions {
                    ttl: *ttl,
                    ..CreateOptions::mode(*mode)
                };
                let (created, _) = zk.create(path, data, &opts).map_err(|error| {
                    let disabled = ttl.is_some() && error.code() == Some(ErrorCode::Unimplemented);
                    Failure::Zk {
                        what: format!("create {path}"),
                        error,
                        hint: disabled.then_some(
                            "TTL nodes need zookeeper.extendedTypesEnabled=true on the server",
                        ),
                    }
                })?;
                writeln!(out, "{created}")?;
            }
            Command::Delete {
                path,
                recursive: false,
            } => zk
                .delete(path, None)
                .map_err(Failure::zk(format!("delete {path}")))?,
            Command::Delete {
                path,
                recursive: true,
            } => {
                // The library's recursive delete takes a missing node as done; a user who
                // names a node that is not there should hear about it.
                if zk
                    .exists(path, None)
                    .map_err(Failure::zk(format!("delete {path}")))?
                    .is_none()
                {
                    return Err(Failure::zk(format!("delete {path}"))(no_node(path)));
                }
                zk.delete_recursive(path)
                    .map_err(Failure::zk(format!("delete -r {path}")))?;
            }
            Command::Watch {
                path,
                recursive,
                count,
            } => watch(zk, path, *recursive, *count, out)?,
            Command::Acl(path) => {
                let (acl, _) = zk
                    .get_acls(path)
                    .map_err(Failure::zk(format!("acl {path}")))?;
                for Acl { perms, id } in acl {
                    writeln!(out, "{}:{} {}", id.scheme, id.id, perm_letters(perms))?;
                }
            }
            Command::WhoAmI => {
                for who in zk.whoami().map_err(Failure::zk("whoami"))? {
                    writeln!(out, "{}:{}", who.auth_scheme, who.user)?;
                }
            }
            Command::Help => out.write_all(help_text().as_bytes())?,
        }
        out.flush()?;
        Ok(())
    }
}

/// The Stat, one `name value` line per field, in jute order and with jute names; zxids and
/// the ephemeral owner (a session id, or a container / TTL marker) in hex, as the server's
/// logs and zkCli show them.
fn write_stat(out: &mut dyn Write, s: &Stat) -> io::Result<()> {
    writeln!(out, "czxid {:#x}", s.czxid)?;
    writeln!(out, "mzxid {:#x}", s.mzxid)?;
    writeln!(out, "ctime {}", s.ctime)?;
    writeln!(out, "mtime {}", s.mtime)?;
    writeln!(out, "version {}", s.version)?;
    writeln!(out, "cversion {}", s.cversion)?;
    writeln!(out, "aversion {}", s.aversion)?;
    writeln!(out, "ephemeralOwner {:#x}", s.ephemeral_owner)?;
    writeln!(out, "dataLength {}", s.data_length)?;
    writeln!(out, "numChildren {}", s.num_children)?;
    writeln!(out, "pzxid {:#x}", s.pzxid)
}

/// Permissions as zkCli writes them: `cdrwa` order, one letter per bit set.
fn perm_letters(p: Perms) -> String {
    [
        (Perms::CREATE, 'c'),
        (Perms::DELETE, 'd'),
        (Perms::READ, 'r'),
        (Perms::WRITE, 'w'),
        (Perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| p.contains(*bit))
    .map(|(_, c)| *c)
    .collect()
}

/// Sets a persistent (or recursive) watch and prints its events until `count` came, running
/// the client's loop meanwhile (pings included).
fn watch(
    zk: &Client,
    path: &str,
    recursive: bool,
    count: Option<u64>,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let events: Rc<RefCell<VecDeque<WatchedEvent>>> = Rc::default();
    let e = events.clone();
    zk.add_watch(
        path,
        if recursive {
            AddWatchMode::PersistentRecursive
        } else {
            AddWatchMode::Persistent
        },
        move |ev| e.borrow_mut().push_back(ev),
    )
    .map_err(Failure::zk(format!("watch {path}")))?;
    let kind = if recursive {
        "persistent recursive"
    } else {
        "persistent"
    };
    match count {
        Some(n) => eprintln!("zkcli: watching {path} ({kind}) for {n} events"),
        None => eprintln!("zkcli: watching {path} ({kind}) until interrupted"),
    }
    let mut seen = 0;
    let result = loop {
        if count.is_some_and(|n| seen >= n) {
            break Ok(());
        }
        let next = events.borrow_mut().pop_front();
        match next {
            Some(ev) if ev.event_type == EventType::None => {
                // The session is gone, and the watch with it.
                return Err(Failure::zk(format!("watch {path}"))(Error::SessionExpired));
            }
            Some(ev) => {
                seen += 1;
                let line = format!("{} {}\n", ev.event_type, ev.path.as_deref().unwrap_or(""));
                if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
                    break Err(Failure::Output(e));
                }
            }
            // Nothing queued: run the loop (I/O, pings, the watch callback) until something
            // happens; the bound only caps how long one iteration blocks.
            None => {
                if let Err(e) = zk.poll_once(Some(Duration::from_secs(1))) {
                    break Err(Failure::zk(format!("watch {path}"))(e));
                }
            }
        }
    };
    // In the shell the session goes on: take the watch off again (locally if the server
    // cannot be reached). Its removal event lands in `events`, which nobody reads any more.
    if let Err(e) = zk.remove_watches(path, WatcherType::Any, WhenOffline::RemoveLocally) {
        log_removal_failure(path, &e);
    }
    result
}

fn log_removal_failure(path: &str, e: &Error) {
    // Only worth a line when the watch may still be on the server.
    if !matches!(e, Error::ZooKeeper(ZkError { .. })) {
        eprintln!("zkcli: removing the watch on {path}: {e}");
    }
}
