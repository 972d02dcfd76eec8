//! How much the driver reads from its socket in one wake-up: until the socket would block,
//! with two exceptions. A short read ends it early where that is sound (the edge-triggered
//! backends, see [`short_read_ends_wakeup`]), and a budget ends it before one busy socket
//! (a firehose of watch notifications) can keep the loop from its timers, its other sockets
//! and its callbacks (see [`READ_BUDGET`]).

use std::io::{self, ErrorKind, Read};

/// The most `read` calls one wake-up makes on the client's socket before it yields to the
/// rest of the loop. With the driver's 256 KiB buffer that is up to 1 MiB per turn: large
/// enough that the extra turn (a queued continuation) is nothing next to decoding a MiB of
/// replies, small enough that a timer waits only a few milliseconds behind a flood of
/// notifications in a release build (a debug build on a loaded machine: a tenth of a
/// second or so).
pub(crate) const READ_BUDGET: usize = 4;

/// Whether a short read (fewer bytes than asked for) may end a wake-up without reading on to
/// `WouldBlock`. It saves one system call per wake-up, and it is only sound where mio
/// promises a new readiness event for data that arrives after the short read: the
/// edge-triggered epoll (Linux, Android, illumos, Redox) and kqueue (the BSDs and Apple's
/// systems) backends. Elsewhere (Windows' IOCP-based backend, the `poll(2)` fallback that
/// `--cfg mio_unsupported_force_poll_poll` selects, WASI) mio's contract is only that a
/// source is ready again after an operation returned `WouldBlock`, so the driver must read
/// until it does. tokio restricts the same shortcut to the same backends.
pub(crate) const fn short_read_ends_wakeup() -> bool {
    cfg!(all(
        not(mio_unsupported_force_poll_poll),
        any(
            target_os = "linux",
            target_os = "android",
            target_os = "illumos",
            target_os = "redox",
            target_os = "macos",
            target_os = "ios",
            target_os = "tvos",
            target_os = "watchos",
            target_os = "visionos",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "dragonfly",
        )
    ))
}

/// How a run of reads ended.
#[derive(Debug)]
pub(crate) enum ReadEnd {
    /// The socket would block: everything available was read.
    WouldBlock,
    /// A short read ended the wake-up (only with the shortcut on).
    ShortRead,
    /// The budget was spent with data possibly still waiting: the caller must come back
    /// (on an edge-triggered backend no new event will say so).
    BudgetSpent,
    /// The peer closed the connection.
    Eof,
    /// The read failed.
    Failed(io::Error),
}

/// Reads from `src` into `buf`, handing each chunk to `feed`, until the socket would block,
/// the peer closes, a read fails, `budget` reads were made, or (with `shortcut`, and not
/// `closing`) a read comes back short. A pending end of stream or error (`closing`) is read
/// now even with the shortcut, since no new edge would announce it.
pub(crate) fn read_some<R: Read>(
    mut src: R,
    buf: &mut [u8],
    shortcut: bool,
    closing: bool,
    budget: usize,
    mut feed: impl FnMut(&[u8]),
) -> ReadEnd {
    let mut reads = 0;
    loop {
        if reads >= budget {
            return ReadEnd::BudgetSpent;
        }
        reads += 1;
        match src.read(buf) {
            Ok(0) => return ReadEnd::Eof,
            Ok(n) => {
                feed(&buf[..n]);
                if shortcut && n < buf.len() && !closing {
                    return ReadEnd::ShortRead;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return ReadEnd::WouldBlock,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return ReadEnd::Failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A scripted non-blocking socket: each read returns the next chunk (cut to the
    /// buffer), then `WouldBlock` once the script runs out. Counts its reads.
    struct Script {
        chunks: VecDeque<io::Result<Vec<u8>>>,
        reads: usize,
    }

    impl Script {
        fn new(chunks: Vec<io::Result<Vec<u8>>>) -> Script {
            Script {
                chunks: chunks.into(),
                reads: 0,
            }
        }
    }

    impl Read for &mut Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            match self.chunks.pop_front() {
                Some(Ok(c)) => {
                    buf[..c.len()].copy_from_slice(&c);
                    Ok(c.len())
                }
                Some(Err(e)) => Err(e),
                None => Err(ErrorKind::WouldBlock.into()),
            }
        }
    }

    fn run(
        script: &mut Script,
        shortcut: bool,
        closing: bool,
        budget: usize,
    ) -> (ReadEnd, Vec<u8>) {
        let mut got = Vec::new();
        let mut buf = [0u8; 8];
        let end = read_some(script, &mut buf, shortcut, closing, budget, |b| {
            got.extend_from_slice(b)
        });
        (end, got)
    }

    #[test]
    fn without_the_shortcut_a_short_read_does_not_end_the_wakeup() {
        // On a backend that is not edge-triggered, bytes that arrived after a short read
        // raise no new event: they must be read now, until WouldBlock.
        let mut s = Script::new(vec![Ok(b"abc".to_vec()), Ok(b"de".to_vec())]);
        let (end, got) = run(&mut s, false, false, READ_BUDGET);
        assert!(matches!(end, ReadEnd::WouldBlock), "{end:?}");
        assert_eq!(got, b"abcde");
        assert_eq!(s.reads, 3, "read on to WouldBlock");
    }

    #[test]
    fn with_the_shortcut_a_short_read_ends_the_wakeup() {
        let mut s = Script::new(vec![Ok(b"abc".to_vec()), Ok(b"de".to_vec())]);
        let (end, got) = run(&mut s, true, false, READ_BUDGET);
        assert!(matches!(end, ReadEnd::ShortRead), "{end:?}");
        assert_eq!((got.as_slice(), s.reads), (&b"abc"[..], 1));
        // A pending end of stream is read at once, shortcut or not.
        let mut s = Script::new(vec![Ok(b"abc".to_vec()), Ok(Vec::new())]);
        let (end, got) = run(&mut s, true, true, READ_BUDGET);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, b"abc");
    }

    #[test]
    fn the_shortcut_is_on_only_for_edge_triggered_backends() {
        let edge = cfg!(any(
            target_os = "linux",
            target_os = "macos",
            target_os = "freebsd"
        )) && !cfg!(mio_unsupported_force_poll_poll);
        if edge {
            assert!(short_read_ends_wakeup());
        }
        if cfg!(any(windows, target_os = "wasi")) {
            assert!(!short_read_ends_wakeup());
        }
    }

    #[test]
    fn a_busy_socket_yields_after_the_budget() {
        let full = vec![7u8; 8];
        let mut s = Script::new((0..10).map(|_| Ok(full.clone())).collect());
        let (end, got) = run(&mut s, true, false, 4);
        assert!(matches!(end, ReadEnd::BudgetSpent), "{end:?}");
        assert_eq!((got.len(), s.reads), (32, 4));
        // The rest is read when the caller comes back.
        let (end, got) = run(&mut s, true, false, 100);
        assert!(matches!(end, ReadEnd::WouldBlock), "{end:?}");
        assert_eq!(got.len(), 48);
    }

    #[test]
    fn interrupted_reads_are_retried_and_errors_end_the_run() {
        let mut s = Script::new(vec![
            Err(ErrorKind::Interrupted.into()),
            Ok(b"12345678".to_vec()),
            Err(io::Error::new(ErrorKind::ConnectionReset, "reset")),
        ]);
        let (end, got) = run(&mut s, false, false, READ_BUDGET);
        assert!(matches!(end, ReadEnd::Failed(e) if e.kind() == ErrorKind::ConnectionReset));
        assert_eq!(got, b"12345678");
    }
}
