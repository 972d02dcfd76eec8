//! The watch recipes with Python's kazoo on the same server: what kazoo writes our
//! DataWatch and ChildrenWatch see, one call per change; what we write kazoo's DataWatch
//! sees. Needs `python3` with kazoo importable; without it the test says why and passes.

#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use mio_zookeeper::recipe::{ChildrenWatch, DataWatch};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::CreateMode;
use recipe_support::*;
use serde_json::Value;

/// kazoo with a DataWatch on /ko (each call printed as `{"watch": data}`), running the
/// commands it reads (`create PATH [DATA]`, `set PATH DATA`, `delete PATH`), each answered
/// with `{"done": CMD}`.
const KAZOO: &str = r#"
import sys, json
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=20)
def out(o):
    print(json.dumps(o), flush=True)
@zk.DataWatch("/ko")
def watch(data, stat):
    out({"watch": None if data is None else data.decode()})
for line in sys.stdin:
    cmd, *args = line.split()
    if cmd == "create":
        zk.create(args[0], (args[1] if len(args) > 1 else "").encode(), makepath=True)
    elif cmd == "set":
        zk.set(args[0], args[1].encode())
    elif cmd == "delete":
        zk.delete(args[0], recursive=True)
    out({"done": cmd})
zk.stop()
"#;

struct Kazoo {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Kazoo {
    /// None (and why, on stderr) when python3 cannot import kazoo.
    fn start(hosts: &str) -> Option<Kazoo> {
        let ok = Command::new("python3")
            .args(["-c", "import kazoo.client"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: python3 cannot import kazoo (`pip install kazoo`)");
            return None;
        }
        let mut child = Command::new("python3")
            .args(["-c", KAZOO, hosts])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Some(Kazoo {
            child,
            stdin,
            stdout,
        })
    }

    /// The next line kazoo prints.
    fn line(&mut self) -> Value {
        let mut l = String::new();
        self.stdout.read_line(&mut l).unwrap();
        assert!(!l.is_empty(), "kazoo exited");
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("{l:?}: {e}"))
    }

    /// The next call of kazoo's DataWatch.
    fn watch_call(&mut self) -> Value {
        loop {
            let v = self.line();
            if let Some(w) = v.get("watch") {
                return w.clone();
            }
        }
    }

    /// Runs one command; kazoo's DataWatch calls printed meanwhile are returned.
    fn run(&mut self, cmd: &str) -> Vec<Value> {
        writeln!(self.stdin, "{cmd}").unwrap();
        let mut calls = Vec::new();
        loop {
            let v = self.line();
            match v.get("watch") {
                Some(w) => calls.push(w.clone()),
                None => return calls,
            }
        }
    }
}

impl Drop for Kazoo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn kazoo_writes_our_watches_see_it_and_kazoos_data_watch_sees_our_writes() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kazoo) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    assert_eq!(
        kazoo.watch_call(),
        Value::Null,
        "kazoo's first call: missing"
    );
    let c = client(&zk.connect_string());

    // kazoo writes, we see each change once.
    let (data, f) = data_recorder();
    let dw = DataWatch::start(&c, "/ki", Some(LONG), f).unwrap();
    kazoo.run("create /ki a");
    wait(&c, "created by kazoo", || data.borrow().len() == 2);
    let (kids, f) = children_recorder();
    let cw = ChildrenWatch::start(&c, "/ki", Some(LONG), f).unwrap();
    kazoo.run("set /ki b");
    wait(&c, "set by kazoo", || data.borrow().len() == 3);
    kazoo.run("create /ki/y");
    wait(&c, "a child by kazoo", || kids.borrow().len() == 2);
    kazoo.run("create /ki/x");
    wait(&c, "another", || kids.borrow().len() == 3);
    kazoo.run("delete /ki");
    wait(&c, "deleted by kazoo", || {
        data.borrow().len() == 4 && cw.node_deleted()
    });
    let s = |v: &str| Some(v.to_string());
    assert_eq!(values(&data), [None, s("a"), s("b"), None]);
    assert_eq!(lists(&kids), ["", "y", "x,y"]);
    dw.stop();

    // We write, kazoo's DataWatch sees it.
    c.create("/ko", b"one", CreateMode::Persistent).unwrap();
    assert_eq!(kazoo.watch_call(), "one");
    c.set("/ko", b"two", None).unwrap();
    assert_eq!(kazoo.watch_call(), "two");
    c.delete("/ko", None).unwrap();
    assert_eq!(kazoo.watch_call(), Value::Null);
}
