//! zkcli: a command-line ZooKeeper client, one-shot or interactive.
//!
//! ```text
//! zkcli [--hosts HOSTS] [--timeout SECS] COMMAND ARGS...   # one command, then exit
//! zkcli [--hosts HOSTS] [--timeout SECS]                   # a shell reading stdin
//!
//! cargo run --example zkcli -- --hosts 127.0.0.1:2181 ls /
//! cargo run --example zkcli -- create -e -s /workers/w- "$(hostname)"
//! cargo run --example zkcli -- watch -r /config --count 10
//! ```
//!
//! Commands (paths are absolute; with a chroot in HOSTS they are below it):
//!
//! | command | prints |
//! |---|---|
//! | `ls PATH` | the children, one per line, sorted |
//! | `get PATH` | the data, raw bytes (nothing for empty or null data) |
//! | `stat PATH` | the Stat, one `name value` line per field (zxids and the owner in hex) |
//! | `set PATH DATA` | nothing |
//! | `create [-e] [-s] [-c] [-t TTL_MS] PATH [DATA]` | the path created |
//! | `delete [-r] PATH` | nothing; `-r` deletes everything below PATH first |
//! | `watch [-r] PATH [--count N]` | one `EVENT_TYPE PATH` line per event |
//! | `acl PATH` | one `scheme:id perms` line per entry, perms as zkCli's `cdrwa` letters |
//! | `whoami` | one `scheme:user` line per identity of the session |
//! | `help` | the usage |
//!
//! `create` flags: `-e` ephemeral (gone when zkcli exits), `-s` sequential (a 10-digit
//! suffix), `-c` container, `-t TTL_MS` a TTL node (the server needs
//! `zookeeper.extendedTypesEnabled=true`); `-s` combines with `-e` or `-t`.
//!
//! `watch` sets a persistent watch (`-r`: persistent recursive, on every node below PATH
//! too), says `zkcli: watching ...` on stderr once it is in place, and prints each event,
//! flushed, until N events came or it is interrupted. While it waits it runs the client's
//! loop, so the session stays alive however long that is. If the session expires the watch
//! is gone: zkcli says so and fails.
//!
//! Without a command, zkcli is a shell: it reads commands with the same syntax from stdin,
//! one per line (a prompt on stderr when stdin is a terminal). Arguments are separated by
//! blanks; `"..."` quotes one (`\"` and `\\` inside stand for `"` and `\`), `'...'` quotes
//! one literally; a line starting with `#` is a comment. `help` lists the commands, `quit`
//! or `exit` (or the end of the input) leaves with status 0. A failing command prints its
//! error and the shell goes on. `get` ends its output with a newline there if the data does
//! not, so the next prompt starts on a line of its own. Ephemeral nodes created in the shell
//! live until it exits.
//!
//! Options: `--hosts` is a connect string `host:port[,host:port...][/chroot]`; the default
//! is `$ZK_HOSTS`, then `127.0.0.1:2181`. `--timeout` (seconds, default 10) bounds the
//! connect and every call.
//!
//! Exit status: 0 on success; 1 on a ZooKeeper error (stderr names it and the path, such as
//! `NoNode: /a/b`) or when the server cannot be reached or does not answer in time; 2 on a
//! usage error (stderr shows the usage).
//!
//! Interrupting zkcli (Ctrl-C) ends the process without closing the session: the server
//! drops it, and its ephemeral nodes, after the session timeout.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use mio_zookeeper::client::{validate_path, Client, ClientState, CreateOptions, WatchedEvent};
use mio_zookeeper::proto::{Acl, CreateMode, EventType, Perms, Stat, WatcherType};
use mio_zookeeper::ZkError;
use mio_zookeeper::{Error, ErrorCode};

/// Used when neither `--hosts` nor `ZK_HOSTS` says where the server is.
const DEFAULT_HOSTS: &str = "127.0.0.1:2181";

/// The default of `--timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The session timeout zkcli asks for (the server clamps it to its own bounds).
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Each command: its name, its synopsis and what it does (for `help` and usage errors).
const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "ls",
        "ls PATH",
        "the children of PATH, one per line, sorted",
    ),
    ("get", "get PATH", "the data of PATH, raw"),
    (
        "stat",
        "stat PATH",
        "the Stat of PATH, one `name value` line per field",
    ),
    ("set", "set PATH DATA", "sets the data of PATH"),
    (
        "create",
        "create [-e] [-s] [-c] [-t TTL_MS] PATH [DATA]",
        "creates PATH and prints the path created; -e ephemeral, -s sequential,\n      \
         -c container, -t TTL node (TTL in ms)",
    ),
    (
        "delete",
        "delete [-r] PATH",
        "deletes PATH (-r: and everything below it)",
    ),
    (
        "watch",
        "watch [-r] PATH [--count N]",
        "a persistent watch on PATH (-r: recursive); prints `EVENT_TYPE PATH` per\n      \
         event until N events came or Ctrl-C",
    ),
    (
        "acl",
        "acl PATH",
        "the ACL of PATH, one `scheme:id perms` line per entry (perms as cdrwa)",
    ),
    ("whoami", "whoami", "the identities of this session"),
    ("help", "help", "this text"),
];

fn main() -> ExitCode {
    let args: Vec<Vec<u8>> = std::env::args_os().skip(1).map(arg_bytes).collect();
    let opts = match Options::parse(&args) {
        Ok(o) => o,
        Err(e) => return usage_error(&e, None),
    };
    if opts.help {
        print!("{}", help_text());
        return ExitCode::SUCCESS;
    }
    let rest = &args[opts.command_at..];
    if rest.is_empty() {
        let zk = match Zk::connect(&opts) {
            Ok(zk) => zk,
            Err(f) => return f.report(false),
        };
        let status = shell(&zk, &opts.hosts);
        zk.close();
        return status;
    }
    let command = match Command::parse(rest) {
        Ok(Command::Help) => {
            print!("{}", help_text());
            return ExitCode::SUCCESS;
        }
        Ok(c) => c,
        Err(e) => return usage_error(&e.message, e.command),
    };
    let zk = match Zk::connect(&opts) {
        Ok(zk) => zk,
        Err(f) => return f.report(false),
    };
    let result = command.run(&zk, &mut io::stdout().lock(), false);
    zk.close();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.report(false),
    }
}

// ------------------------------------------------------------------------- arguments

/// An argument as bytes: data may be any bytes; paths and numbers are checked for UTF-8
/// where they are used.
#[cfg(unix)]
fn arg_bytes(arg: OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    arg.into_vec()
}

/// An argument as bytes (lossy outside Unix, where arguments are not byte strings).
#[cfg(not(unix))]
fn arg_bytes(arg: OsString) -> Vec<u8> {
    arg.to_string_lossy().into_owned().into_bytes()
}

/// `arg` as text, or a usage message naming `what` it was meant to be.
fn text(arg: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(arg.to_vec()).map_err(|_| format!("{what} is not valid UTF-8"))
}

/// `arg` as a ZooKeeper path, checked as the client would (so a bad one is a usage error,
/// found before connecting). `sequential`: the server adds a suffix, so it may end in `/`.
fn zk_path(arg: &[u8], sequential: bool) -> Result<String, String> {
    let path = text(arg, "PATH")?;
    validate_path(&path, sequential).map_err(|e| e.to_string())?;
    Ok(path)
}

/// The options before the command.
#[derive(Debug)]
struct Options {
    hosts: String,
    timeout: Duration,
    help: bool,
    /// Where the command (if any) starts in the arguments.
    command_at: usize,
}

impl Options {
    fn parse(args: &[Vec<u8>]) -> Result<Options, String> {
        let mut hosts = None;
        let mut timeout = DEFAULT_TIMEOUT;
        let mut help = false;
        let mut i = 0;
        while i < args.len() {
            let arg = String::from_utf8_lossy(&args[i]).into_owned();
            // `--name value` or `--name=value`.
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let mut value = |what: &str| -> Result<String, String> {
                if let Some(v) = inline.clone() {
                    return Ok(v);
                }
                i += 1;
                match args.get(i) {
                    Some(v) => text(v, what),
                    None => Err(format!("{name} needs a value ({what})")),
                }
            };
            match name.as_str() {
                "--hosts" => hosts = Some(value("HOSTS")?),
                "--timeout" => {
                    let v = value("SECS")?;
                    timeout = v
                        .parse::<f64>()
                        .ok()
                        .filter(|s| *s > 0.0)
                        .and_then(|s| Duration::try_from_secs_f64(s).ok())
                        .ok_or_else(|| {
                            format!("--timeout takes a positive number of seconds, not {v:?}")
                        })?;
                }
                "-h" | "--help" => help = true,
                "--" => {
                    i += 1;
                    break;
                }
                o if o.starts_with('-') => return Err(format!("unknown option {o:?}")),
                _ => break,
            }
            i += 1;
        }
        let hosts = hosts
            .or_else(|| std::env::var("ZK_HOSTS").ok())
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_HOSTS.to_string());
        Ok(Options {
            hosts,
            timeout,
            help,
            command_at: i,
        })
    }
}

/// A command line that does not make sense: what was wrong, and for which command.
#[derive(Debug)]
struct Usage {
    message: String,
    /// The command's name, to show its synopsis.
    command: Option<&'static str>,
}

/// One command, parsed and checked before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Ls(String),
    Get(String),
    Stat(String),
    Set(String, Vec<u8>),
    Create {
        path: String,
        data: Vec<u8>,
        mode: CreateMode,
        ttl: Option<Duration>,
    },
    Delete {
        path: String,
        recursive: bool,
    },
    Watch {
        path: String,
        recursive: bool,
        count: Option<u64>,
    },
    Acl(String),
    WhoAmI,
    Help,
}

impl Command {
    /// Parses `NAME ARGS...` (the first element is the command's name).
    fn parse(args: &[Vec<u8>]) -> Result<Command, Usage> {
        let Some((name, rest)) = args.split_first() else {
            return Err(Usage {
                message: "no command given".into(),
                command: None,
            });
        };
        let name = String::from_utf8_lossy(name);
        let Some(&(name, _, _)) = COMMANDS.iter().find(|c| c.0 == name) else {
            return Err(Usage {
                message: format!("unknown command {name:?} (try help)"),
                command: None,
            });
        };
        Command::parse_args(name, rest).map_err(|message| Usage {
            message: format!("{name}: {message}"),
            command: Some(name),
        })
    }

    fn parse_args(name: &str, args: &[Vec<u8>]) -> Result<Command, String> {
        let path = |arg: &[u8]| zk_path(arg, false);
        match name {
            "ls" | "get" | "stat" | "acl" => {
                let p = match args {
                    [p] => path(p)?,
                    [] => return Err("missing PATH".into()),
                    _ => return Err("too many arguments".into()),
                };
                Ok(match name {
                    "ls" => Command::Ls(p),
                    "get" => Command::Get(p),
                    "stat" => Command::Stat(p),
                    _ => Command::Acl(p),
                })
            }
            "set" => match args {
                [p, data] => Ok(Command::Set(path(p)?, data.clone())),
                [] => Err("missing PATH and DATA".into()),
                [_] => Err("missing DATA".into()),
                _ => Err("too many arguments (quote DATA that has blanks)".into()),
            },
            "whoami" | "help" => match args {
                [] if name == "help" => Ok(Command::Help),
                [] => Ok(Command::WhoAmI),
                _ => Err("takes no arguments".into()),
            },
            "create" => Command::parse_create(args),
            "delete" => {
                let mut recursive = false;
                let mut p = None;
                for arg in args {
                    match (arg.as_slice(), &p) {
                        (b"-r", None) => recursive = true,
                        (a, None) if a.starts_with(b"-") && a.len() > 1 => {
                            return Err(format!("unknown flag {:?}", String::from_utf8_lossy(a)))
                        }
                        (a, None) => p = Some(path(a)?),
                        (_, Some(_)) => return Err("too many arguments".into()),
                    }
                }
                let path = p.ok_or("missing PATH")?;
                Ok(Command::Delete { path, recursive })
            }
            "watch" => {
                let mut recursive = false;
                let mut count = None;
                let mut p = None;
                let mut it = args.iter();
                while let Some(arg) = it.next() {
                    let a = String::from_utf8_lossy(arg);
                    let count_value = if a == "--count" {
                        Some(it.next().map(|v| String::from_utf8_lossy(v).into_owned()))
                    } else {
                        a.strip_prefix("--count=").map(|v| Some(v.to_string()))
                    };
                    if let Some(v) = count_value {
                        let v = v.ok_or("--count needs a number of events")?;
                        count =
                            Some(v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                                format!("--count takes a number of events above 0, not {v:?}")
                            })?);
                    } else if a == "-r" {
                        recursive = true;
                    } else if a.starts_with('-') && a.len() > 1 {
                        return Err(format!("unknown flag {a:?}"));
                    } else if p.is_none() {
                        p = Some(path(arg)?);
                    } else {
                        return Err("too many arguments".into());
                    }
                }
                let path = p.ok_or("missing PATH")?;
                Ok(Command::Watch {
                    path,
                    recursive,
                    count,
                })
            }
            _ => Err("unknown command".into()),
        }
    }

    /// `create [-e] [-s] [-c] [-t TTL_MS] PATH [DATA]`: flags come before PATH; whatever
    /// follows PATH is data, even if it starts with `-`.
    fn parse_create(args: &[Vec<u8>]) -> Result<Command, String> {
        let (mut e, mut s, mut c, mut ttl) = (false, false, false, None);
        let mut it = args.iter();
        let path = loop {
            let Some(arg) = it.next() else {
                return Err("missing PATH".into());
            };
            match arg.as_slice() {
                b"-e" => e = true,
                b"-s" => s = true,
                b"-c" => c = true,
                b"-t" => {
                    let v = it.next().ok_or("-t needs a TTL in milliseconds")?;
                    let v = String::from_utf8_lossy(v);
                    let ms = v.parse::<u64>().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                        format!("-t takes a TTL in milliseconds above 0, not {v:?}")
                    })?;
                    ttl = Some(Duration::from_millis(ms));
                }
                b"--" => break it.next().ok_or("missing PATH")?,
                a if a.starts_with(b"-") && a.len() > 1 => {
                    return Err(format!("unknown flag {:?}", String::from_utf8_lossy(a)))
                }
                _ => break arg,
            }
        };
        let path = zk_path(path, s)?;
        let data = it.next().cloned().unwrap_or_default();
        if it.next().is_some() {
            return Err("too many arguments (quote DATA that has blanks)".into());
        }
        let mode = match (e, s, c, ttl.is_some()) {
            (_, _, true, _) if e || s || ttl.is_some() => {
                return Err("-c (container) does not combine with -e, -s or -t".into())
            }
            (true, _, _, true) => return Err("a TTL node (-t) cannot be ephemeral (-e)".into()),
            (_, _, true, _) => CreateMode::Container,
            (true, true, _, _) => CreateMode::EphemeralSequential,
            (true, false, _, _) => CreateMode::Ephemeral,
            (false, true, _, true) => CreateMode::PersistentSequentialWithTtl,
            (false, false, _, true) => CreateMode::PersistentWithTtl,
            (false, true, _, false) => CreateMode::PersistentSequential,
            (false, false, _, false) => CreateMode::Persistent,
        };
        Ok(Command::Create {
            path,
            data,
            mode,
            ttl,
        })
    }
}

/// The full usage: synopsis, commands, options, exit statuses.
fn help_text() -> String {
    let mut s = String::from(
        "usage: zkcli [--hosts HOSTS] [--timeout SECS] [COMMAND ARGS...]\n\
         \n\
         With a COMMAND, runs it and exits; without, reads commands from stdin (quit or exit\n\
         to leave; \"...\" quotes an argument).\n\
         \n\
         Commands:\n",
    );
    for (_, synopsis, what) in COMMANDS {
        s.push_str(&format!("  {synopsis}\n      {what}\n"));
    }
    s.push_str(&format!(
        "\nOptions:\n  \
         --hosts HOSTS   connect string host:port[,host:port...][/chroot]\n                  \
         (default: $ZK_HOSTS, then {DEFAULT_HOSTS})\n  \
         --timeout SECS  bounds the connect and each call (default {})\n  \
         -h, --help      this text\n\
         \n\
         Exit status: 0 success, 1 ZooKeeper or connection error, 2 usage error.\n",
        DEFAULT_TIMEOUT.as_secs()
    ));
    s
}

/// The synopsis of one command.
fn synopsis(command: &str) -> &'static str {
    COMMANDS.iter().find(|c| c.0 == command).map_or("", |c| c.1)
}

/// Prints a usage error to stderr with the usage (of `command` when the error is about one
/// command, the full usage otherwise); exit status 2.
fn usage_error(message: &str, command: Option<&str>) -> ExitCode {
    match command {
        Some(c) => eprintln!(
            "zkcli: {message}\nusage: zkcli [--hosts HOSTS] [--timeout SECS] {}\n\
             (zkcli help lists every command)",
            synopsis(c)
        ),
        None => eprint!("zkcli: {message}\n\n{}", help_text()),
    }
    ExitCode::from(2)
}

// ------------------------------------------------------------------------- failures

/// Why a command failed, which decides the exit status.
#[derive(Debug)]
enum Failure {
    /// The client or the server refused or failed `what` (exit 1); `hint` says what may
    /// be behind it.
    Zk {
        what: String,
        error: Error,
        hint: Option<&'static str>,
    },
    /// The arguments do not make sense (exit 2).
    Usage(String),
    /// Writing the output failed (exit 1, or 0 quietly when the reader went away).
    Output(io::Error),
}

impl Failure {
    fn zk(what: impl Into<String>) -> impl FnOnce(Error) -> Failure {
        let what = what.into();
        move |error| Failure::Zk {
            what,
            error,
            hint: None,
        }
    }

    /// Prints the failure to stderr and returns the exit status.
    fn report(self, in_shell: bool) -> ExitCode {
        match &self {
            Failure::Usage(m) if !in_shell => return usage_error(m, None),
            Failure::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                return ExitCode::SUCCESS
            }
            _ => eprintln!("{self}"),
        }
        match self {
            Failure::Usage(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // What the issue asks for: the error's name and the path, e.g. `NoNode: /a/b`.
            Failure::Zk {
                error: Error::ZooKeeper(ZkError { code, path }),
                hint,
                ..
            } => {
                write!(f, "{}: {path}", code.name())?;
                if let Some(hint) = hint {
                    write!(f, "\nzkcli: {hint}")?;
                }
                Ok(())
            }
            Failure::Zk { what, error, .. } => write!(f, "zkcli: {what}: {error}"),
            Failure::Usage(m) => write!(f, "zkcli: {m}"),
            Failure::Output(e) => write!(f, "zkcli: writing the output: {e}"),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Output(e)
    }
}

/// The error ZooKeeper itself gives for a missing node, for the checks zkcli makes first.
fn no_node(path: &str) -> Error {
    Error::ZooKeeper(ZkError {
        code: ErrorCode::NoNode,
        path: path.to_string(),
    })
}

// ------------------------------------------------------------------------- the client

/// The connected client, and whether zkcli is closing it (so the listener keeps quiet).
struct Zk {
    client: Client,
    closing: Rc<Cell<bool>>,
}

impl Zk {
    fn connect(opts: &Options) -> Result<Zk, Failure> {
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
    fn close(&self) {
        self.closing.set(true);
        if let Err(e) = self.client.stop() {
            eprintln!("zkcli: closing the session: {e}");
        }
    }
}

impl Command {
    /// Runs the command, writing its output to `out`.
    fn run(&self, zk: &Zk, out: &mut dyn Write, in_shell: bool) -> Result<(), Failure> {
        let zk = &zk.client;
        match self {
            Command::Ls(path) => {
                let mut children = zk
                    .get_children(path)
                    .map_err(Failure::zk(format!("ls {path}")))?;
                children.sort();
                for c in children {
                    writeln!(out, "{c}")?;
                }
            }
            Command::Get(path) => {
                let (data, _) = zk.get(path).map_err(Failure::zk(format!("get {path}")))?;
                let data = data.unwrap_or_default();
                out.write_all(&data)?;
                if in_shell && !data.is_empty() && !data.ends_with(b"\n") {
                    out.write_all(b"\n")?;
                }
            }
            Command::Stat(path) => {
                let stat = zk
                    .exists(path)
                    .map_err(Failure::zk(format!("stat {path}")))?;
                let stat =
                    stat.ok_or_else(|| Failure::zk(format!("stat {path}"))(no_node(path)))?;
                write_stat(out, &stat)?;
            }
            Command::Set(path, data) => {
                zk.set(path, data)
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
                let (created, _) = zk.create_with(path, data, &opts).map_err(|error| {
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
                .delete(path)
                .map_err(Failure::zk(format!("delete {path}")))?,
            Command::Delete {
                path,
                recursive: true,
            } => {
                // The library's recursive delete takes a missing node as done; a user who
                // names a node that is not there should hear about it.
                if zk
                    .exists(path)
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
    zk.add_watch(path, recursive, move |ev| e.borrow_mut().push_back(ev))
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
    if let Err(e) = zk.remove_watches(path, WatcherType::Any, true) {
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

// ------------------------------------------------------------------------- the shell

/// Reads commands from stdin until `quit`, `exit` or the end of the input; each failure
/// is told and the shell goes on. The exit status is 0 unless stdin cannot be read.
fn shell(zk: &Zk, hosts: &str) -> ExitCode {
    let interactive = io::stdin().is_terminal();
    // Stdin is read on a thread of its own, so that the loop keeps running (pings, watch
    // events, reconnects) while the shell waits for a line; the thread wakes the loop for
    // each line it reads.
    let lines = spawn_reader(zk.client.handler().loop_waker());
    loop {
        if interactive {
            eprint!("zkcli {hosts}> ");
            let _ = io::stderr().flush();
        }
        let line = match next_line(&zk.client, &lines) {
            Ok(Some(line)) => line,
            Ok(None) => {
                if interactive {
                    eprintln!();
                }
                return ExitCode::SUCCESS;
            }
            Err(f) => return f.report(true),
        };
        if line.trim_ascii_start().starts_with(b"#") {
            continue;
        }
        let words = match split_line(&line) {
            Ok(w) if w.is_empty() => continue,
            Ok(w) => w,
            Err(m) => {
                eprintln!("zkcli: {m}");
                continue;
            }
        };
        if matches!(words[0].as_slice(), b"quit" | b"exit") {
            return ExitCode::SUCCESS;
        }
        let command = match Command::parse(&words) {
            Ok(c) => c,
            Err(Usage { message, command }) => {
                match command {
                    Some(c) => eprintln!("zkcli: {message}\nusage: {}", synopsis(c)),
                    None => eprintln!("zkcli: {message}"),
                }
                continue;
            }
        };
        if let Err(f) = command.run(zk, &mut io::stdout().lock(), true) {
            if let Failure::Output(e) = &f {
                // Nobody reads our output any more: stop.
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            f.report(true);
        }
    }
}

/// A line from stdin, or an error reading it.
type LineResult = io::Result<Vec<u8>>;

/// Starts the thread that reads stdin line by line into the returned channel, waking the
/// loop after each; the channel closes at the end of the input.
fn spawn_reader(waker: mio_zookeeper::reactor::LoopWaker) -> mpsc::Receiver<LineResult> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        loop {
            let mut line = Vec::new();
            let read = stdin.read_until(b'\n', &mut line);
            let done = !matches!(read, Ok(n) if n > 0);
            let item = match read {
                Ok(0) => None,
                Ok(_) => Some(Ok(line)),
                Err(e) => Some(Err(e)),
            };
            let sent = match item {
                Some(item) => tx.send(item).is_ok(),
                None => true,
            };
            waker.wake();
            if done || !sent {
                // Dropping `tx` closes the channel: the end of the input.
                return;
            }
        }
    });
    rx
}

/// The next line from the reader, running the loop while there is none yet; `None` at the
/// end of the input.
fn next_line(zk: &Client, lines: &mpsc::Receiver<LineResult>) -> Result<Option<Vec<u8>>, Failure> {
    loop {
        match lines.try_recv() {
            Ok(Ok(line)) => return Ok(Some(line)),
            Ok(Err(e)) => {
                return Err(Failure::Output(io::Error::new(
                    e.kind(),
                    format!("reading stdin: {e}"),
                )))
            }
            Err(mpsc::TryRecvError::Disconnected) => return Ok(None),
            Err(mpsc::TryRecvError::Empty) => {}
        }
        zk.poll_once(None)
            .map_err(Failure::zk("waiting for input"))?;
    }
}

/// Splits a shell line into arguments: blanks separate them; `"..."` quotes (with `\"` and
/// `\\` escapes), `'...'` quotes literally; quoted and unquoted parts next to each other
/// make one argument, and `""` is an empty one.
fn split_line(line: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut words = Vec::new();
    let mut word: Option<Vec<u8>> = None;
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        i += 1;
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => words.extend(word.take()),
            b'"' => {
                let w = word.get_or_insert_with(Vec::new);
                loop {
                    match line.get(i) {
                        None => return Err("unterminated \" quote".into()),
                        Some(b'"') => break,
                        Some(b'\\') if matches!(line.get(i + 1), Some(b'"' | b'\\')) => {
                            i += 1;
                            w.push(line[i]);
                        }
                        Some(&c) => w.push(c),
                    }
                    i += 1;
                }
                i += 1;
            }
            b'\'' => {
                let w = word.get_or_insert_with(Vec::new);
                let Some(end) = line[i..].iter().position(|&c| c == b'\'') else {
                    return Err("unterminated ' quote".into());
                };
                w.extend_from_slice(&line[i..i + end]);
                i += end + 1;
            }
            c => word.get_or_insert_with(Vec::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}
