//! Python's kazoo as a peer in the tests: one `python3` process running
//! `agent.py` (beside this file), driven line by line. Code sent with [`Kazoo::exec`] and
//! [`Kazoo::eval`] runs in one namespace that holds `zk` (a started `KazooClient`),
//! `emit(obj)` (an event the test reads with [`Kazoo::event`]), `spawn(fn, *args)` (a
//! daemon thread, for kazoo's blocking calls) and kazoo's modules.
//!
//! Without python3 or kazoo, [`Kazoo::start`] says so on stderr and returns `None` (the test
//! then passes without its kazoo half) unless `MZK_REQUIRE_KAZOO` is set, as `scripts/test`
//! does once kazoo is installed: then it panics, so a broken install cannot hide behind a
//! skip.
#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long a reply or an awaited event may take before the test fails.
pub const KAZOO_WAIT: Duration = Duration::from_secs(60);

const AGENT: &str = include_str!("agent.py");

/// One kazoo client in a python3 process; killed on drop.
pub struct Kazoo {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<Value>,
    events: Receiver<Value>,
    next_id: u64,
    /// kazoo's session id.
    pub session_id: i64,
}

/// Whether python3 can import kazoo; if not, `None` after saying so (or a panic when
/// `MZK_REQUIRE_KAZOO` is set).
pub fn kazoo_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import kazoo.client"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("MZK_REQUIRE_KAZOO").is_some() {
            panic!("MZK_REQUIRE_KAZOO is set but python3 cannot import kazoo");
        }
        eprintln!("SKIPPED: python3 cannot import kazoo (`pip install kazoo`)");
    }
    ok
}

impl Kazoo {
    /// A kazoo client connected to `hosts` (session timeout 10 s), or `None` without kazoo.
    pub fn start(hosts: &str) -> Option<Kazoo> {
        Kazoo::start_with_timeout(hosts, Duration::from_secs(10))
    }

    /// A kazoo client with the given session timeout.
    pub fn start_with_timeout(hosts: &str, session_timeout: Duration) -> Option<Kazoo> {
        if !kazoo_available() {
            return None;
        }
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-c",
                AGENT,
                hosts,
                &format!("{}", session_timeout.as_secs_f64()),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (reply_tx, replies) = channel();
        let (event_tx, events) = channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                let v: Value = match serde_json::from_str(&line) {
                    Ok(v) => v,
                    Err(_) => {
                        eprintln!("kazoo: {line}");
                        continue;
                    }
                };
                let sent = if let Some(ev) = v.get("ev") {
                    event_tx.send(ev.clone()).is_ok()
                } else {
                    reply_tx.send(v).is_ok()
                };
                if !sent {
                    break;
                }
            }
        });
        let ready = replies
            .recv_timeout(KAZOO_WAIT)
            .expect("kazoo connects within a minute");
        let session_id = ready["session_id"].as_i64().expect("kazoo's session id");
        Some(Kazoo {
            child,
            stdin,
            replies,
            events,
            next_id: 0,
            session_id,
        })
    }

    fn request(&mut self, kind: &str, code: &str) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let line = json!({ "id": id, kind: code }).to_string();
        writeln!(self.stdin, "{line}").expect("kazoo's stdin");
        self.stdin.flush().unwrap();
        let deadline = Instant::now() + KAZOO_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .replies
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("kazoo did not answer {code:?}: {e:?}"));
            if v["id"].as_u64() != Some(id) {
                continue;
            }
            return match v.get("err") {
                Some(e) => Err(e.as_str().unwrap_or_default().to_string()),
                None => Ok(v["ok"].clone()),
            };
        }
    }

    /// Runs Python statements; returns `_` if they set it (else null). Panics on an exception.
    pub fn exec(&mut self, code: &str) -> Value {
        self.try_exec(code)
            .unwrap_or_else(|e| panic!("kazoo raised on {code:?}: {e}"))
    }

    /// Runs Python statements; a Python exception is `Err("Type: message")`.
    pub fn try_exec(&mut self, code: &str) -> Result<Value, String> {
        self.request("exec", code)
    }

    /// The value of a Python expression. Panics on an exception.
    pub fn eval(&mut self, expr: &str) -> Value {
        self.try_eval(expr)
            .unwrap_or_else(|e| panic!("kazoo raised on {expr:?}: {e}"))
    }

    /// The value of a Python expression; an exception is `Err("Type: message")`.
    pub fn try_eval(&mut self, expr: &str) -> Result<Value, String> {
        self.request("eval", expr)
    }

    /// The next event `emit`ted, if one comes within `timeout`. An error raised in a
    /// `spawn`ed thread panics here.
    pub fn event(&self, timeout: Duration) -> Option<Value> {
        match self.events.recv_timeout(timeout) {
            Ok(v) => {
                if let Some(e) = v.get("thread_error") {
                    panic!("a kazoo thread raised: {e}\n{}", v["trace"]);
                }
                Some(v)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => panic!("kazoo exited"),
        }
    }

    /// The next event, waiting up to [`KAZOO_WAIT`]; panics naming `what` if none comes.
    pub fn expect_event(&self, what: &str) -> Value {
        self.event(KAZOO_WAIT)
            .unwrap_or_else(|| panic!("kazoo: no event for {what} within {KAZOO_WAIT:?}"))
    }

    /// kazoo's session id and password (for expiring its session from a test).
    pub fn client_id(&mut self) -> (i64, Vec<u8>) {
        let v = self.eval("[zk.client_id[0], list(zk.client_id[1])]");
        let id = v[0].as_i64().unwrap();
        let pw = v[1]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap() as u8)
            .collect();
        (id, pw)
    }
}

impl Drop for Kazoo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
