//! zkcli: a command-line ZooKeeper client, one-shot or interactive.
//!
//! ```text
//! zkcli [--hosts HOSTS] [--timeout SECS] COMMAND ARGS...   # one command, then exit
//! zkcli [--hosts HOSTS] [--timeout SECS]                   # a shell reading stdin
//!
//! zkcli --hosts 127.0.0.1:2181 ls /
//! zkcli create -e -s /workers/w- "$(hostname)"
//! zkcli watch -r /config --count 10
//! ```
//!
//! Installed with `cargo install mio-zookeeper --features cli` (with zkdump); from a checkout,
//! `cargo run --features cli --bin zkcli -- ARGS...`.
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

// One concept per file: args.rs parses the command line (options, commands, usage and
// help), commands.rs connects and runs a command, shell.rs reads commands from stdin,
// failure.rs turns a failure into a message and an exit status. This file is `main`.
mod args;
mod commands;
mod failure;
mod shell;

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use crate::args::{arg_bytes, help_text, usage_error, Command, Options};
use crate::commands::Zk;
use crate::shell::shell;

/// Used when neither `--hosts` nor `ZK_HOSTS` says where the server is.
const DEFAULT_HOSTS: &str = "127.0.0.1:2181";

/// The default of `--timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The session timeout zkcli asks for (the server clamps it to its own bounds).
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

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
