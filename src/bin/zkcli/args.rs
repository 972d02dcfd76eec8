//! The command line: the options before the command, each command as parsed and checked
//! before anything is sent, and the usage and help texts.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use mio_zookeeper::{validate_path, CreateMode};

use crate::{DEFAULT_HOSTS, DEFAULT_TIMEOUT};

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

// ------------------------------------------------------------------------- arguments

/// An argument as bytes: data may be any bytes; paths and numbers are checked for UTF-8
/// where they are used.
#[cfg(unix)]
pub(crate) fn arg_bytes(arg: OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    arg.into_vec()
}

/// An argument as bytes (lossy outside Unix, where arguments are not byte strings).
#[cfg(not(unix))]
pub(crate) fn arg_bytes(arg: OsString) -> Vec<u8> {
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
pub(crate) struct Options {
    pub(crate) hosts: String,
    pub(crate) timeout: Duration,
    pub(crate) help: bool,
    /// Where the command (if any) starts in the arguments.
    pub(crate) command_at: usize,
}

impl Options {
    pub(crate) fn parse(args: &[Vec<u8>]) -> Result<Options, String> {
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
pub(crate) struct Usage {
    pub(crate) message: String,
    /// The command's name, to show its synopsis.
    pub(crate) command: Option<&'static str>,
}

/// One command, parsed and checked before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
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
    pub(crate) fn parse(args: &[Vec<u8>]) -> Result<Command, Usage> {
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
pub(crate) fn help_text() -> String {
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
pub(crate) fn synopsis(command: &str) -> &'static str {
    COMMANDS.iter().find(|c| c.0 == command).map_or("", |c| c.1)
}

/// Prints a usage error to stderr with the usage (of `command` when the error is about one
/// command, the full usage otherwise); exit status 2.
pub(crate) fn usage_error(message: &str, command: Option<&str>) -> ExitCode {
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
