//! Why a command failed, which decides the exit status and what stderr says.

use std::fmt;
use std::io;
use std::process::ExitCode;

use mio_zookeeper::{Error, ErrorCode, ZkError};

use crate::args::usage_error;

/// Why a command failed, which decides the exit status.
#[derive(Debug)]
pub(crate) enum Failure {
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
    pub(crate) fn zk(what: impl Into<String>) -> impl FnOnce(Error) -> Failure {
        let what = what.into();
        move |error| Failure::Zk {
            what,
            error,
            hint: None,
        }
    }

    /// Prints the failure to stderr and returns the exit status.
    pub(crate) fn report(self, in_shell: bool) -> ExitCode {
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
pub(crate) fn no_node(path: &str) -> Error {
    Error::ZooKeeper(ZkError {
        code: ErrorCode::NoNode,
        path: path.to_string(),
    })
}
