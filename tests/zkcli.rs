//! zkcli (src/bin/zkcli) as a user runs it: the built binary as a child process against a
//! throwaway server, checking its output, its exit status (0 / 1 / 2) and what it did to the
//! tree, seen through the Rust client.

use mio_zookeeper::{
    Acl, AddWatchMode, Client, CreateMode, CreateOptions, EventType, Handler, Id, Perms,
    WatchedEvent,
};
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use mio_zookeeper::testing::ZkServer;

/// How long any single wait of these tests may take before it fails.
const WAIT: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------------- helpers

/// The zkcli binary cargo built for this test (`src/bin/zkcli`, `--features cli`; the crate's
/// dev-dependency on itself turns `cli` on, so a plain `cargo test --test zkcli` builds it).
fn zkcli_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zkcli"))
}

/// What a finished zkcli run left.
#[derive(Debug)]
struct Output {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl Output {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts exit status 0 and returns stdout.
    #[track_caller]
    fn ok(&self) -> String {
        assert_eq!(self.code, Some(0), "zkcli failed: {self:?}");
        self.stdout()
    }

    /// Asserts exit status `code`, an empty stdout, and returns stderr.
    #[track_caller]
    fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        &self.stderr
    }
}

/// A zkcli command line, without `ZK_HOSTS` from the environment unless given.
fn zkcli_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(zkcli_bin());
    cmd.args(args)
        .env_remove("ZK_HOSTS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs a command to its end (killing it if it takes longer than [`WAIT`]).
fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    if !stdin.is_empty() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("zkcli starts");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin).expect("writing zkcli's stdin");
    }
    finish(child)
}

/// Waits for a child (stdin closed) and collects its output, killing it after [`WAIT`].
fn finish(mut child: Child) -> Output {
    drop(child.stdin.take());
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(WAIT) {
        Ok(out) => {
            let out = out.expect("waiting for zkcli");
            Output {
                code: out.status.code(),
                stdout: out.stdout,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        }
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("zkcli did not finish within {WAIT:?}");
        }
    }
}

/// `zkcli --hosts HOSTS --timeout 20 ARGS...`.
fn zkcli(hosts: &str, args: &[&str]) -> Output {
    let mut all = vec!["--hosts", hosts, "--timeout", "20"];
    all.extend_from_slice(args);
    run(zkcli_cmd(&all), b"")
}

/// A zkcli that keeps running: its stdout and stderr lines arrive on channels.
struct Running {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Running {
    fn spawn(hosts: &str, args: &[&str], with_stdin: bool) -> Running {
        let mut all = vec!["--hosts", hosts, "--timeout", "20"];
        all.extend_from_slice(args);
        let mut cmd = zkcli_cmd(&all);
        if with_stdin {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("zkcli starts");
        let lines = |r: Box<dyn Read + Send>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let stdout = lines(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = lines(Box::new(child.stderr.take().expect("piped stderr")));
        Running {
            stdin: child.stdin.take(),
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// The next stdout line.
    #[track_caller]
    fn stdout_line(&self) -> String {
        self.stdout
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no stdout line from zkcli within {WAIT:?}: {e}"))
    }

    /// Waits for a stderr line containing `needle`; returns the lines seen until then.
    #[track_caller]
    fn await_stderr(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.stderr.recv_timeout(WAIT) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(e) => panic!("zkcli never said {needle:?} on stderr ({e}); it said {seen:?}"),
            }
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("zkcli's stdin is open");
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .expect("writing zkcli's stdin");
    }

    /// Closes stdin and waits for the end: the exit code, the rest of stdout and stderr.
    fn finish(mut self) -> (Option<i32>, Vec<String>, Vec<String>) {
        drop(self.stdin.take());
        let mut child = self.child.take().expect("still running");
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(WAIT) {
            Ok(s) => s.expect("waiting for zkcli"),
            Err(_) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                panic!("zkcli did not finish within {WAIT:?}");
            }
        };
        // Both pipes are closed now: the reader threads end after the last line.
        let rest = |rx: &mpsc::Receiver<String>| rx.iter().collect::<Vec<_>>();
        (status.code(), rest(&self.stdout), rest(&self.stderr))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn client(server: &ZkServer) -> Client {
    let c = Client::new(&server.connect_string()).expect("a client");
    c.start(Some(WAIT)).expect("the client connects");
    c
}

/// The events a watch saw: type and path.
type EventLog = Rc<RefCell<Vec<(EventType, String)>>>;

/// Records the events of a watch.
fn recorder() -> (EventLog, impl Fn(WatchedEvent) + Clone) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let f = move |ev: WatchedEvent| {
        l.borrow_mut()
            .push((ev.event_type, ev.path.unwrap_or_default()))
    };
    (log, f)
}

/// The `name value` lines of `stat`, as pairs.
fn stat_fields(out: &str) -> Vec<(String, String)> {
    out.lines()
        .map(|l| {
            let (k, v) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

// ------------------------------------------------------------------------- tests

#[test]
fn one_shot_commands_print_their_results_and_exit_0() {
    let server = ZkServer::start().expect("a server");
    let hosts = server.connect_string();
    let zk = client(&server);

    // create prints the path; get prints the data as is, without a newline.
    assert_eq!(zkcli(&hosts, &["create", "/a", "hello"]).ok(), "/a\n");
    assert_eq!(zkcli(&hosts, &["get", "/a"]).ok(), "hello");
    let (data, _) = zk.get("/a", None).unwrap();
    assert_eq!(data.as_deref(), Some(&b"hello"[..]));

    // create without DATA: an empty node; data starting with '-' after PATH is data.
    assert_eq!(zkcli(&hosts, &["create", "/empty"]).ok(), "/empty\n");
    assert_eq!(zkcli(&hosts, &["get", "/empty"]).ok(), "");
    assert_eq!(zkcli(&hosts, &["create", "/dash", "-e"]).ok(), "/dash\n");
    assert_eq!(
        zk.get("/dash", None).unwrap().0.as_deref(),
        Some(&b"-e"[..])
    );
    assert_eq!(
        zk.exists("/dash", None).unwrap().unwrap().ephemeral_owner,
        0
    );

    // set prints nothing and changes the data.
    assert_eq!(zkcli(&hosts, &["set", "/a", "world"]).ok(), "");
    let (data, stat) = zk.get("/a", None).unwrap();
    assert_eq!(data.as_deref(), Some(&b"world"[..]));
    assert_eq!(stat.version, 1);

    // get of binary data is raw: every byte value, no newline, nothing added or lost.
    let binary: Vec<u8> = (0..=255u8).rev().chain(0..=255u8).collect();
    zk.create("/bin", &binary, CreateMode::Persistent).unwrap();
    let out = zkcli(&hosts, &["get", "/bin"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, binary);

    // ls: one child per line, sorted (created out of order); nothing for a leaf.
    for c in ["c", "a", "b"] {
        zk.create(&format!("/a/{c}"), b"", CreateMode::Persistent)
            .unwrap();
    }
    assert_eq!(zkcli(&hosts, &["ls", "/a"]).ok(), "a\nb\nc\n");
    assert_eq!(zkcli(&hosts, &["ls", "/a/b"]).ok(), "");
    assert_eq!(
        zkcli(&hosts, &["ls", "/"]).ok(),
        "a\nbin\ndash\nempty\nzookeeper\n"
    );

    // stat: every field, `name value`, matching what the client sees.
    let out = zkcli(&hosts, &["stat", "/a"]).ok();
    let stat = zk.exists("/a", None).unwrap().unwrap();
    let expected = [
        ("czxid", format!("{:#x}", stat.czxid)),
        ("mzxid", format!("{:#x}", stat.mzxid)),
        ("ctime", stat.ctime.to_string()),
        ("mtime", stat.mtime.to_string()),
        ("version", "1".to_string()),
        ("cversion", "3".to_string()),
        ("aversion", "0".to_string()),
        ("ephemeralOwner", "0x0".to_string()),
        ("dataLength", "5".to_string()),
        ("numChildren", "3".to_string()),
        ("pzxid", format!("{:#x}", stat.pzxid)),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(stat_fields(&out), expected);
    assert_ne!(stat.czxid, stat.mzxid, "the set made a later zxid");
    // An ephemeral node's owner is the session id, in hex.
    zk.create("/mine", b"", CreateOptions::mode(CreateMode::Ephemeral))
        .unwrap();
    let owner = zk.client_id().unwrap().0;
    let out = zkcli(&hosts, &["stat", "/mine"]).ok();
    assert!(
        stat_fields(&out).contains(&("ephemeralOwner".into(), format!("{owner:#x}"))),
        "{out}"
    );

    // acl: `scheme:id perms`, perms in zkCli's cdrwa order, entries in the node's order.
    assert_eq!(zkcli(&hosts, &["acl", "/a"]).ok(), "world:anyone cdrwa\n");
    let acl = vec![
        Acl::new(Perms::READ | Perms::CREATE | Perms::ADMIN, Id::anyone()),
        Acl::new(Perms::WRITE | Perms::DELETE, Id::new("ip", "127.0.0.1")),
    ];
    let opts = CreateOptions {
        acl: Some(acl),
        ..CreateOptions::default()
    };
    zk.create("/locked", b"", &opts).unwrap();
    assert_eq!(
        zkcli(&hosts, &["acl", "/locked"]).ok(),
        "world:anyone cra\nip:127.0.0.1 dw\n"
    );

    // whoami: the session's identities; without auth, its address.
    assert_eq!(zkcli(&hosts, &["whoami"]).ok(), "ip:127.0.0.1\n");

    // create -s: a 10-digit suffix; twice, two numbers.
    let seq = zkcli(&hosts, &["create", "-s", "/a/seq-", "x"]).ok();
    let suffix = seq
        .strip_prefix("/a/seq-")
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{seq:?}"));
    assert!(
        suffix.len() == 10 && suffix.bytes().all(|b| b.is_ascii_digit()),
        "{seq:?}"
    );
    let seq2 = zkcli(&hosts, &["create", "-s", "/a/seq-"]).ok();
    assert!(seq2 > seq, "{seq2:?} after {seq:?}");
    assert!(zk.exists(seq.trim_end(), None).unwrap().is_some());

    // delete; delete -r takes the whole subtree.
    assert_eq!(zkcli(&hosts, &["delete", "/empty"]).ok(), "");
    assert!(zk.exists("/empty", None).unwrap().is_none());
    zk.ensure_path("/a/b/deep/er", None).unwrap();
    assert_eq!(zkcli(&hosts, &["delete", "-r", "/a"]).ok(), "");
    assert!(zk.exists("/a", None).unwrap().is_none());

    // help, -h and --help print the usage to stdout.
    for args in [&["help"][..], &["-h"], &["--help"]] {
        let out = zkcli(&hosts, args).ok();
        assert!(out.starts_with("usage: zkcli"), "{out}");
        assert!(out.contains("watch [-r] PATH [--count N]"), "{out}");
    }

    // --hosts defaults to ZK_HOSTS, which may carry a chroot; --hosts wins over it.
    zk.create("/app", b"", CreateMode::Persistent).unwrap();
    zk.create("/app/inside", b"", CreateMode::Persistent)
        .unwrap();
    let mut cmd = zkcli_cmd(&["ls", "/"]);
    cmd.env("ZK_HOSTS", format!("{hosts}/app"));
    assert_eq!(run(cmd, b"").ok(), "inside\n");
    let mut cmd = zkcli_cmd(&["--hosts", &hosts, "ls", "/app"]);
    cmd.env("ZK_HOSTS", "127.0.0.1:1");
    assert_eq!(run(cmd, b"").ok(), "inside\n");
    zk.stop().unwrap();
}

#[test]
fn zookeeper_errors_exit_1_naming_the_error_and_the_path() {
    let server = ZkServer::start().expect("a server");
    let hosts = server.connect_string();
    let zk = client(&server);
    zk.ensure_path("/a/b/c", None).unwrap();

    let err = zkcli(&hosts, &["get", "/a/x"]).fails(1).to_string();
    assert_eq!(err, "NoNode: /a/x\n");
    for (args, path) in [
        (&["ls", "/nope"][..], "/nope"),
        (&["stat", "/nope"], "/nope"),
        (&["set", "/nope", "x"], "/nope"),
        (&["acl", "/nope"], "/nope"),
        (&["delete", "/nope"], "/nope"),
        (&["delete", "-r", "/nope"], "/nope"),
    ] {
        let err = zkcli(&hosts, args).fails(1).to_string();
        assert_eq!(err, format!("NoNode: {path}\n"), "{args:?}");
    }
    assert_eq!(
        zkcli(&hosts, &["create", "/a/x/y"]).fails(1),
        "NoNode: /a/x/y\n"
    );
    assert_eq!(
        zkcli(&hosts, &["create", "/a", "again"]).fails(1),
        "NodeExists: /a\n"
    );
    assert_eq!(
        zkcli(&hosts, &["delete", "/a/b"]).fails(1),
        "NotEmpty: /a/b\n"
    );
    assert!(
        zk.exists("/a/b/c", None).unwrap().is_some(),
        "a failed delete deleted"
    );

    // Refused by the server's ACL.
    let opts = CreateOptions {
        acl: Some(vec![Acl::new(Perms::READ, Id::anyone())]),
        ..CreateOptions::default()
    };
    zk.create("/ro", b"v", &opts).unwrap();
    assert_eq!(
        zkcli(&hosts, &["set", "/ro", "w"]).fails(1),
        "NoAuth: /ro\n"
    );
    assert_eq!(zk.get("/ro", None).unwrap().0.as_deref(), Some(&b"v"[..]));

    // A TTL node on a server without extended types: refused by the server, with a hint.
    assert_eq!(
        zkcli(&hosts, &["create", "-t", "1000", "/ttl"]).fails(1),
        "Unimplemented: /ttl\n\
         zkcli: TTL nodes need zookeeper.extendedTypesEnabled=true on the server\n"
    );
    assert!(zk.exists("/ttl", None).unwrap().is_none());
    zk.stop().unwrap();
}

#[test]
fn usage_errors_exit_2_and_show_the_usage() {
    // Nothing listens there: a zkcli that wrongly went on to connect would fail with 1.
    let nowhere = "127.0.0.1:1";
    let cases: &[&[&str]] = &[
        &["--hosts"],
        &["--timeout", "soon", "ls", "/"],
        &["--timeout", "0", "ls", "/"],
        &["--bogus", "ls", "/"],
        &["bogus"],
        &["ls"],
        &["ls", "/a", "/b"],
        &["ls", "relative"],
        &["get"],
        &["get", "/a//b"],
        &["stat", "/a/"],
        &["set", "/a"],
        &["set", "/a", "two", "words"],
        &["create"],
        &["create", "-x", "/a"],
        &["create", "-c", "-e", "/a"],
        &["create", "-e", "-t", "100", "/a"],
        &["create", "-t", "0", "/a"],
        &["create", "-t"],
        &["create", "/a", "data", "more"],
        &["delete"],
        &["delete", "-x", "/a"],
        &["delete", "/a", "/b"],
        &["watch"],
        &["watch", "/a", "--count", "0"],
        &["watch", "/a", "--count"],
        &["watch", "/a", "--count", "many"],
        &["watch", "-x", "/a"],
        &["acl"],
        &["whoami", "me"],
    ];
    for args in cases {
        let mut all = vec!["--hosts", nowhere, "--timeout", "1"];
        if args.first() == Some(&"--hosts") {
            all.clear();
        }
        all.extend_from_slice(args);
        let out = run(zkcli_cmd(&all), b"");
        let err = out.fails(2);
        assert!(err.starts_with("zkcli: "), "{args:?}: {err}");
        assert!(err.contains("usage: zkcli"), "{args:?}: {err}");
    }
    // A bad connect string is a usage error too.
    let out = run(zkcli_cmd(&["--hosts", "host:notaport", "ls", "/"]), b"");
    assert!(out.fails(2).contains("notaport"), "{out:?}");
}

#[test]
fn a_server_that_cannot_be_reached_is_an_error_after_the_timeout() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let hosts = format!("127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let out = run(
        zkcli_cmd(&["--hosts", &hosts, "--timeout", "1", "ls", "/"]),
        b"",
    );
    let err = out.fails(1);
    assert!(
        err.contains(&format!("could not connect to {hosts}")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(15), "{out:?}");
}

#[test]
fn an_ephemeral_node_goes_when_zkcli_exits() {
    let server = ZkServer::start().expect("a server");
    let hosts = server.connect_string();
    let zk = client(&server);
    let (events, watcher) = recorder();
    zk.add_watch("/", AddWatchMode::PersistentRecursive, watcher)
        .unwrap();

    let out = zkcli(&hosts, &["create", "-e", "/eph", "x"]).ok();
    assert_eq!(out, "/eph\n");
    let out = zkcli(&hosts, &["create", "-e", "-s", "/eph-"]).ok();
    assert!(out.starts_with("/eph-") && out.len() == "/eph-0000000001\n".len());
    let seq = out.trim_end().to_string();
    // zkcli closed its session on the way out, so the nodes are gone already.
    assert!(zk.exists("/eph", None).unwrap().is_none());
    assert!(zk.exists(&seq, None).unwrap().is_none());
    zk.handler()
        .reactor()
        .run_until(&|| events.borrow().len() >= 4, Some(WAIT))
        .unwrap();
    assert_eq!(
        *events.borrow(),
        [
            (EventType::NodeCreated, "/eph".to_string()),
            (EventType::NodeDeleted, "/eph".to_string()),
            (EventType::NodeCreated, seq.clone()),
            (EventType::NodeDeleted, seq),
        ]
    );
    zk.stop().unwrap();
}

#[test]
fn ttl_and_container_nodes_against_extended_types() {
    // The server's container manager checks every 100 ms (default: a minute), so TTL and
    // container nodes are seen to go.
    let server = ZkServer::builder()
        .extended_types(true)
        .system_property("znode.container.checkIntervalMs", "100")
        .start()
        .expect("a server with extended types");
    let hosts = server.connect_string();
    let zk = client(&server);

    let seq = zkcli(&hosts, &["create", "-s", "-t", "60000", "/ttl-", "x"]).ok();
    let suffix = seq
        .strip_prefix("/ttl-")
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{seq:?}"));
    assert!(
        suffix.len() == 10 && suffix.bytes().all(|b| b.is_ascii_digit()),
        "{seq:?}"
    );
    assert!(zk.exists(seq.trim_end(), None).unwrap().is_some());

    // A short TTL: the server removes the (unmodified, childless) node; a plain node made
    // at the same time stays.
    let (events, watcher) = recorder();
    zk.add_watch("/", AddWatchMode::PersistentRecursive, watcher)
        .unwrap();
    assert_eq!(
        zkcli(&hosts, &["create", "-t", "300", "/short", "x"]).ok(),
        "/short\n"
    );
    assert_eq!(zkcli(&hosts, &["create", "/plain", "x"]).ok(), "/plain\n");
    // A container goes once its last child went.
    assert_eq!(zkcli(&hosts, &["create", "-c", "/box"]).ok(), "/box\n");
    zk.create("/box/item", b"", CreateMode::Persistent).unwrap();
    zk.delete("/box/item", None).unwrap();
    let gone = |path: &str| {
        events
            .borrow()
            .contains(&(EventType::NodeDeleted, path.to_string()))
    };
    zk.handler()
        .reactor()
        .run_until(&|| gone("/short") && gone("/box"), Some(WAIT))
        .unwrap_or_else(|e| {
            panic!(
                "the TTL node and the container should have gone ({e}); events: {:?}",
                events.borrow()
            )
        });
    assert!(zk.exists("/plain", None).unwrap().is_some());
    assert!(
        zk.exists(seq.trim_end(), None).unwrap().is_some(),
        "60 s TTL"
    );
    zk.stop().unwrap();
}

#[test]
fn watch_prints_each_event_as_it_comes_until_count() {
    let server = ZkServer::start().expect("a server");
    let hosts = server.connect_string();
    let zk = client(&server);

    // Persistent: the node's own events, and NodeChildrenChanged for its children.
    let w = Running::spawn(&hosts, &["watch", "/w", "--count", "3"], false);
    w.await_stderr("watching /w");
    zk.create("/w", b"", CreateMode::Persistent).unwrap();
    // Each line is flushed as its event comes, before the next change is made.
    assert_eq!(w.stdout_line(), "NodeCreated /w");
    zk.set("/w", b"x", None).unwrap();
    assert_eq!(w.stdout_line(), "NodeDataChanged /w");
    zk.create("/w/child", b"", CreateMode::Persistent).unwrap();
    zk.set("/w/child", b"not seen: not recursive", None)
        .unwrap();
    assert_eq!(w.stdout_line(), "NodeChildrenChanged /w");
    let (code, rest, _) = w.finish();
    assert_eq!(code, Some(0));
    assert!(rest.is_empty(), "{rest:?}");

    // Recursive: every node below, no NodeChildrenChanged; `-r` and `--count=N` anywhere.
    let w = Running::spawn(&hosts, &["watch", "--count=2", "/w", "-r"], false);
    w.await_stderr("watching /w");
    zk.create("/w/child/grand", b"", CreateMode::Persistent)
        .unwrap();
    zk.delete("/w/child/grand", None).unwrap();
    let (code, lines, _) = w.finish();
    assert_eq!(code, Some(0));
    assert_eq!(
        lines,
        ["NodeCreated /w/child/grand", "NodeDeleted /w/child/grand"]
    );
    zk.stop().unwrap();
}

#[test]
fn watch_keeps_its_session_alive_while_it_waits() {
    // Sessions of at most 2 s: a zkcli that did not ping while waiting would lose its
    // session (and its watch) well before the change below.
    let server = ZkServer::builder()
        .cfg("maxSessionTimeout", "2000")
        .start()
        .expect("a server");
    let hosts = server.connect_string();
    let zk = client(&server);
    let w = Running::spawn(&hosts, &["watch", "/k", "--count", "1"], false);
    w.await_stderr("watching /k");
    // Wait well past the session timeout; our own loop keeps our session alive.
    zk.handler().sleep(Duration::from_secs(5)).unwrap();
    zk.create("/k", b"", CreateMode::Persistent).unwrap();
    let (code, lines, errors) = w.finish();
    assert_eq!(lines, ["NodeCreated /k"], "stderr: {errors:?}");
    assert_eq!(code, Some(0), "stderr: {errors:?}");
    assert!(errors.is_empty(), "{errors:?}");
    zk.stop().unwrap();
}

#[test]
fn the_shell_runs_commands_from_a_pipe_and_goes_on_after_failures() {
    let server = ZkServer::start().expect("a server");
    let hosts = server.connect_string();
    let zk = client(&server);

    let script = concat!(
        "create /s \"two words\"\n",
        "get /s\n",
        "  # a comment, then a blank line\n",
        "\n",
        "ls /nope\n",
        "bogus\n",
        "set /s \"say \\\"hi\\\"\" ''\n",
        "set /s 'say \"hi\"'\n",
        "get /s\n",
        "create /s/\"\"x\n",
        "ls /s\n",
        "quit\n",
        "create /after\n",
    );
    let out = run(
        zkcli_cmd(&["--hosts", &hosts, "--timeout", "20"]),
        script.as_bytes(),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    // In the shell, `get` ends with a newline so the next prompt starts on its own line.
    assert_eq!(out.stdout(), "/s\ntwo words\nsay \"hi\"\n/s/x\nx\n");
    let err: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        err,
        [
            "NoNode: /nope",
            "zkcli: unknown command \"bogus\" (try help)",
            "zkcli: set: too many arguments (quote DATA that has blanks)",
            "usage: set PATH DATA",
        ],
        "no prompt when stdin is not a terminal"
    );
    assert!(
        zk.exists("/after", None).unwrap().is_none(),
        "ran after quit"
    );

    // `help` in the shell; `exit`; the end of the input also ends it, with 0.
    let out = run(zkcli_cmd(&["--hosts", &hosts]), b"help\nexit\nls /\n");
    assert!(out
        .ok()
        .contains("create [-e] [-s] [-c] [-t TTL_MS] PATH [DATA]"));
    let out = run(zkcli_cmd(&["--hosts", &hosts]), b"ls /s");
    assert_eq!(out.ok(), "x\n", "a last line without a newline still runs");
    zk.stop().unwrap();
}

#[test]
fn the_shell_keeps_its_session_and_ephemerals_until_it_exits() {
    let server = ZkServer::start().expect("a server");
    let hosts = server.connect_string();
    let zk = client(&server);

    let mut shell = Running::spawn(&hosts, &[], true);
    shell.send("create -e /mine x\n");
    assert_eq!(shell.stdout_line(), "/mine");
    let owner = zk
        .exists("/mine", None)
        .unwrap()
        .expect("the shell's node")
        .ephemeral_owner;
    shell.send("stat /mine\n");
    let first = shell.stdout_line();
    assert!(first.starts_with("czxid "), "{first}");
    let mut fields = vec![first];
    for _ in 0..10 {
        fields.push(shell.stdout_line());
    }
    assert!(
        fields.contains(&format!("ephemeralOwner {owner:#x}")),
        "{fields:?}"
    );
    // A watch in the shell ends after its count; the shell goes on.
    shell.send("watch /mine --count 1\n");
    shell.await_stderr("watching /mine");
    zk.set("/mine", b"y", None).unwrap();
    assert_eq!(shell.stdout_line(), "NodeDataChanged /mine");
    shell.send("get /mine\n");
    assert_eq!(shell.stdout_line(), "y");
    assert!(zk.exists("/mine", None).unwrap().is_some());

    // The end of the input: the shell exits with 0 and its session, and node, go.
    let (code, rest, errors) = shell.finish();
    assert_eq!(code, Some(0), "{errors:?}");
    assert!(rest.is_empty(), "{rest:?}");
    assert!(zk.exists("/mine", None).unwrap().is_none());
    zk.stop().unwrap();
}
