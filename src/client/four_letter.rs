//! Four-letter words (`ruok`, `srvr`, `envi`, ...) on the loop: a connection of their own,
//! non-blocking, registered with the client's loop, read until the server closes it,
//! under a deadline timer. The blocking forms wait on that like every other call.

use std::cell::RefCell;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::async_result::AsyncResult;
use crate::error::Error;
use crate::handler::{EventLoop, Handler, LoopSocket, Readiness, TimerId};

use super::Client;

/// The most bytes of an answer kept (`mntr`, `cons` and `wchp` of a big server are the
/// long ones; this is far above them).
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// One four-letter word in flight.
struct Word {
    /// `None` once finished (dropping it deregisters the socket).
    socket: Option<Box<dyn LoopSocket>>,
    cmd: [u8; 4],
    /// Bytes of `cmd` written so far.
    sent: usize,
    answer: Vec<u8>,
    result: AsyncResult<String>,
    timer: Option<TimerId>,
    lp: Rc<dyn EventLoop>,
}

impl Word {
    /// Completes the result (once) and drops the socket and the deadline timer.
    fn finish(&mut self, outcome: Result<String, Error>) {
        self.socket = None;
        if let Some(id) = self.timer.take() {
            self.lp.cancel_timer(id);
        }
        let _ = self.result.set_result(outcome);
    }

    /// Advances the exchange on readiness, and finishes it when it is over.
    fn on_ready(&mut self) {
        if let Some(outcome) = self.step() {
            self.finish(outcome);
        }
    }

    /// Finishes the connect, sends the word, reads the answer until the server closes the
    /// connection; `None` while that is still under way.
    fn step(&mut self) -> Option<Result<String, Error>> {
        let socket = self.socket.as_ref()?;
        if self.sent == 0 {
            match socket.connect_result() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
        while self.sent < self.cmd.len() {
            match socket.write(&self.cmd[self.sent..]) {
                Ok(0) => {
                    let e = ErrorKind::WriteZero.into();
                    return Some(Err(Error::io("sending a four-letter word", e)));
                }
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(Error::io("sending a four-letter word", e))),
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            match socket.read(&mut buf) {
                Ok(0) => return Some(Ok(String::from_utf8_lossy(&self.answer).into_owned())),
                Ok(n) if self.answer.len() + n > MAX_ANSWER => {
                    return Some(Err(Error::Protocol {
                        request: "a four-letter word",
                        reply: format!("an answer longer than {MAX_ANSWER} bytes"),
                    }))
                }
                Ok(n) => self.answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(Error::io("reading a four-letter word's answer", e))),
            }
        }
    }
}

/// Checks that `cmd` is a four-letter word: four ASCII letters.
fn word(cmd: &str) -> Result<[u8; 4], Error> {
    match <[u8; 4]>::try_from(cmd.as_bytes()) {
        Ok(w) if w.iter().all(u8::is_ascii_alphabetic) => Ok(w),
        _ => Err(Error::BadArgument(format!(
            "a four-letter word is four ASCII letters (ruok, srvr, envi, ...), not {cmd:?}"
        ))),
    }
}

/// Sends `cmd` to `addr` on a connection of its own registered with `lp`; the answer
/// (everything the server sends before closing) or an error sets `result` (returned), at
/// the latest at `deadline` ([`Error::Timeout`]; `None`: no limit, as everywhere).
pub(crate) fn send(
    lp: &Rc<dyn EventLoop>,
    result: AsyncResult<String>,
    addr: SocketAddr,
    cmd: &str,
    deadline: Option<Duration>,
) -> AsyncResult<String> {
    let cmd = match word(cmd) {
        Ok(w) => w,
        Err(e) => {
            let _ = result.set_exception(e);
            return result;
        }
    };
    let socket = match lp.connect(addr) {
        Ok(s) => s,
        Err(e) => {
            let _ = result.set_exception(e);
            return result;
        }
    };
    let word = Rc::new(RefCell::new(Word {
        socket: None,
        cmd,
        sent: 0,
        answer: Vec::new(),
        result: result.clone(),
        timer: None,
        lp: lp.clone(),
    }));
    // The timer holds the exchange (strongly) until it ends; the socket's callback holds it
    // weakly, so nothing is left behind once the timer is cancelled or fired. With no
    // deadline the callback holds it instead: `finish` drops the socket, and so the callback.
    let weak: Weak<RefCell<Word>> = Rc::downgrade(&word);
    let strong = deadline.is_none().then(|| word.clone());
    if let Err(e) = socket.set_on_ready(Box::new(move |_r: Readiness| {
        let _held = &strong;
        if let Some(w) = weak.upgrade() {
            w.borrow_mut().on_ready();
        }
    })) {
        let _ = result.set_exception(e);
        return result;
    }
    let timer = deadline.map(|deadline| {
        let held = word.clone();
        lp.set_timer_fn(lp.now() + deadline, move || {
            let mut w = held.borrow_mut();
            w.timer = None;
            log::debug!("four-letter word to {addr}: no answer within {deadline:?}");
            w.finish(Err(Error::Timeout));
        })
    });
    let mut w = word.borrow_mut();
    w.socket = Some(socket);
    w.timer = timer;
    result
}

/// The version in an `envi` answer's `zookeeper.version=3.8.4-...` line.
fn parse_version(envi: &str) -> Result<(u32, u32, u32), Error> {
    let line = envi
        .lines()
        .find_map(|l| l.strip_prefix("zookeeper.version="))
        .ok_or_else(|| Error::Protocol {
            request: "envi",
            reply: "an answer without zookeeper.version (is envi in the server's \
                        4lw.commands.whitelist?)"
                .into(),
        })?;
    let ver = line.split(['-', ',', ' ']).next().unwrap_or("");
    let mut parts = ver.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    Ok((
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    ))
}

impl<H: Handler> Client<H> {
    /// Sends a four-letter word (`ruok`, `srvr`, `envi`, ...) to the server this client is
    /// connected to, on a connection of its own, and returns the answer. Blocking form of
    /// [`command_async`](Client::command_async).
    ///
    /// # Notable errors
    ///
    /// [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded handler (use
    /// `command_async`); the errors of
    /// `command_async`.
    pub fn command(&self, cmd: &str) -> Result<String, Error> {
        self.blocking("Client::command", || self.command_async(cmd))
    }

    /// Sends a four-letter word to the server this client is connected to, on a connection
    /// of its own driven by the client's loop (it never blocks the thread, and works
    /// embedded). The result is the server's whole answer.
    ///
    /// # Notable errors
    ///
    /// [`Error::ConnectionLoss`] when the client is not connected;
    /// [`Error::BadArgument`] when `cmd` is not four ASCII letters;
    /// [`Error::Timeout`] when the answer is not complete within the per-call timeout
    /// (none: no limit, like every `None` duration); [`Error::ConnectionRefused`] or [`Error::Io`]
    /// from the
    /// connection (a server that does not allow the word closes it without an answer, which
    /// gives an empty string); [`Error::Protocol`] when the answer is longer than 16 MiB.
    pub fn command_async(&self, cmd: &str) -> AsyncResult<String> {
        let result = self.handler.async_result();
        let (lp, peer) = {
            let core = self.shared.borrow();
            (core.event_loop.clone(), core.peer())
        };
        let Some(addr) = peer else {
            let _ = result.set_exception(Error::ConnectionLoss);
            return result;
        };
        let deadline = self.timeout.unwrap_or(self.config.request_timeout);
        send(&lp, result, addr, cmd, deadline)
    }

    /// The server's version, from the `envi` four-letter word (e.g. `(3, 8, 0)`). Blocking
    /// form of [`server_version_async`](Client::server_version_async).
    pub fn server_version(&self) -> Result<(u32, u32, u32), Error> {
        self.blocking("Client::server_version", || self.server_version_async())
    }

    /// The server's version, from the `envi` four-letter word, on the loop (see
    /// [`command_async`](Client::command_async)).
    ///
    /// # Notable errors
    ///
    /// Those of `command_async`, and [`Error::Protocol`] when the answer has no
    /// `zookeeper.version` line (`envi` not in the server's `4lw.commands.whitelist`).
    pub fn server_version_async(&self) -> AsyncResult<(u32, u32, u32)> {
        let out = self.handler.async_result();
        let o = out.clone();
        self.command_async("envi").rawlink(move |r| {
            let _ = o.set_result(r.take(false, None).and_then(|s| parse_version(&s)));
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_four_ascii_letters() {
        assert_eq!(word("ruok").unwrap(), *b"ruok");
        for bad in ["", "ruo", "ruokk", "ru k", "r\u{e9}ok", "12ab"] {
            assert!(matches!(word(bad), Err(Error::BadArgument(_))), "{bad:?}");
        }
    }

    #[test]
    fn versions_come_from_the_envi_answer() {
        let envi = "Environment:\nzookeeper.version=3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12\nhost.name=x\n";
        assert_eq!(parse_version(envi).unwrap(), (3, 8, 4));
        assert!(matches!(
            parse_version("nothing here"),
            Err(Error::Protocol {
                request: "envi",
                ..
            })
        ));
    }
}
