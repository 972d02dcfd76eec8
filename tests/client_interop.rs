//! Interop with other clients on the same server: what Python's kazoo and ZooKeeper's own
//! `zkCli.sh` write, we read, and the other way round.
//!
//! The kazoo tests need `python3` with kazoo importable (`scripts/install-zookeeper`
//! installs it with pip); the zkCli test needs `/usr/share/zookeeper/bin/zkCli.sh` (Debian's
//! `zookeeper` package) or `ZKCLI` pointing to one. When they are missing the tests say why
//! on stderr and pass without checking anything.

use mio_zookeeper::{
    Acl, Client, CreateMode, CreateOptions, Error, ErrorCode, Id, NullData, Perms, ZkError,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use mio_zookeeper::testing::{digest_id, ZkServer};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(30);

/// Whether `python3` can import kazoo; prints why not.
fn kazoo_available() -> bool {
    match Command::new("python3")
        .args(["-c", "import kazoo.client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => true,
        Ok(_) => {
            eprintln!("SKIPPED: python3 cannot import kazoo (run scripts/install-zookeeper or `pip install kazoo`)");
            false
        }
        Err(e) => {
            eprintln!("SKIPPED: no python3 ({e})");
            false
        }
    }
}

/// Runs a Python script with `args`; returns its stdout, failing the test on a non-zero exit.
fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn start_client(zk: &ZkServer) -> Client {
    let c = Client::builder(&zk.connect_string())
        .session_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    c
}

fn digest_acl(user: &str, pw: &str) -> Vec<Acl> {
    vec![Acl {
        perms: Perms::ALL,
        id: Id {
            scheme: "digest".into(),
            id: digest_id(user, pw),
        },
    }]
}

/// `"/a/b-0000000007"` → `("/a/b-", 7)`, checking the 10-digit suffix.
fn split_sequence(path: &str) -> (&str, u32) {
    assert!(path.len() > 10, "{path}");
    let (prefix, digits) = path.split_at(path.len() - 10);
    assert!(
        digits.bytes().all(|b| b.is_ascii_digit()),
        "a 10-digit suffix: {path}"
    );
    (prefix, digits.parse().unwrap())
}

const KAZOO_WRITES: &str = r#"
import sys, json
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl
zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=20)
zk.create("/k/data", b"from kazoo \x00\xff", makepath=True)
zk.set("/k/data", b"from kazoo \x00\xff v2")
zk.create("/k/empty", b"")
zk.create("/k/null", None)
zk.create("/k/kids/a", b"1", makepath=True)
zk.create("/k/kids/b", b"2")
zk.create("/k/acl", b"secret", acl=[make_digest_acl("alice", "pw", all=True)])
seq = zk.create("/k/seq-", b"s", sequence=True)
eph = zk.create("/k/eph-", b"e", ephemeral=True, sequence=True)
print(json.dumps({"session": zk.client_id[0], "seq": seq, "eph": eph}), flush=True)
sys.stdin.readline()
zk.stop()
zk.close()
"#;

#[test]
fn what_kazoo_writes_we_read() {
    if !kazoo_available() {
        return;
    }
    let zk = ZkServer::start().unwrap();
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(KAZOO_WRITES)
        .arg(zk.connect_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        let _ = child.kill();
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("kazoo's report {line:?}: {e}\n{err}")
    });
    let kazoo_session = info["session"].as_i64().expect("a session id");

    let c = start_client(&zk);
    let (data, stat) = c.get("/k/data", None).unwrap();
    assert_eq!(data.as_deref(), Some(&b"from kazoo \x00\xff v2"[..]));
    assert_eq!(stat.version, 1);
    assert_eq!(stat.data_length, b"from kazoo \x00\xff v2".len() as i32);
    assert_eq!(
        c.get("/k/empty", None).unwrap().0.as_deref(),
        Some(&b""[..])
    );
    assert_eq!(
        c.get("/k/null", None).unwrap().0,
        None,
        "kazoo's None is null"
    );
    let mut kids = c.get_children("/k/kids", None).unwrap();
    kids.sort();
    assert_eq!(kids, ["a", "b"]);
    assert_eq!(
        c.get("/k/kids/b", None).unwrap().0.as_deref(),
        Some(&b"2"[..])
    );

    // Without alice's credentials neither the data nor (ZooKeeper 3.6+) the ACL is ours.
    for r in [
        c.get("/k/acl", None).map(|_| ()),
        c.get_acls("/k/acl").map(|_| ()),
    ] {
        assert!(
            matches!(
                r,
                Err(Error::ZooKeeper(ZkError {
                    code: ErrorCode::NoAuth,
                    ..
                }))
            ),
            "{r:?}"
        );
    }

    let seq = info["seq"].as_str().unwrap();
    let eph = info["eph"].as_str().unwrap();
    assert_eq!(split_sequence(seq).0, "/k/seq-");
    assert_eq!(split_sequence(eph).0, "/k/eph-");
    let seq_stat = c
        .exists(seq, None)
        .unwrap()
        .expect("kazoo's sequential node");
    assert_eq!(seq_stat.ephemeral_owner, 0);
    let eph_stat = c
        .exists(eph, None)
        .unwrap()
        .expect("kazoo's ephemeral node");
    assert_eq!(
        eph_stat.ephemeral_owner, kazoo_session,
        "owned by kazoo's session"
    );
    let mut names = c.get_children("/k", None).unwrap();
    names.sort();
    let leaf = |p: &str| p.rsplit('/').next().unwrap().to_string();
    assert_eq!(
        names,
        vec![
            "acl".to_string(),
            "data".into(),
            "empty".into(),
            leaf(eph),
            "kids".into(),
            "null".into(),
            leaf(seq)
        ]
    );

    // kazoo closes its session: its ephemeral goes.
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let end = child.wait_with_output().unwrap();
    assert!(
        end.status.success(),
        "{}",
        String::from_utf8_lossy(&end.stderr)
    );
    assert_eq!(c.exists(eph, None).unwrap(), None);

    c.add_auth("digest", b"alice:pw").unwrap();
    assert_eq!(
        c.get("/k/acl", None).unwrap().0.as_deref(),
        Some(&b"secret"[..])
    );
    let (acl, _) = c.get_acls("/k/acl").unwrap();
    assert_eq!(acl, digest_acl("alice", "pw"), "kazoo's make_digest_acl");
    c.stop().unwrap();
}

const KAZOO_READS: &str = r#"
import sys, json
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=20)
def data(p):
    d, _ = zk.get(p)
    return None if d is None else d.hex()
out = {}
out["data"] = data("/m/data")
out["version"] = zk.get("/m/data")[1].version
out["empty"] = data("/m/empty")
out["null"] = data("/m/null")
out["kids"] = sorted(zk.get_children("/m/kids"))
out["children"] = sorted(zk.get_children("/m"))
try:
    zk.get("/m/acl")
    out["noauth"] = False
except NoAuthError:
    out["noauth"] = True
zk.add_auth("digest", "bob:pw")
acls, _ = zk.get_acls("/m/acl")
out["acl"] = [[a.perms, a.id.scheme, a.id.id] for a in acls]
out["acl_data"] = data("/m/acl")
out["eph_owner"] = zk.exists(sys.argv[2]).owner_session_id
out["seq_owner"] = zk.exists(sys.argv[3]).owner_session_id
out["ttl"] = zk.exists("/m/ttl") is not None
zk.stop()
zk.close()
print(json.dumps(out))
"#;

#[test]
fn what_we_write_kazoo_reads() {
    if !kazoo_available() {
        return;
    }
    let zk = ZkServer::builder().extended_types(true).start().unwrap();
    let c = start_client(&zk);
    c.create("/m", b"", CreateMode::Persistent).unwrap();
    c.create("/m/data", b"from rust \x00\xff", CreateMode::Persistent)
        .unwrap();
    c.set("/m/data", b"from rust \x00\xff v2", None).unwrap();
    c.set("/m/data", b"from rust \x00\xff v3", None).unwrap();
    c.create("/m/empty", b"", CreateMode::Persistent).unwrap();
    c.create_async("/m/null", NullData, CreateOptions::default())
        .get(true, Some(LONG))
        .unwrap();
    c.create(
        "/m/kids/x",
        b"",
        &CreateOptions {
            makepath: true,
            ..CreateOptions::default()
        },
    )
    .unwrap();
    c.create("/m/kids/y", b"", CreateMode::Persistent).unwrap();
    c.create(
        "/m/acl",
        b"for bob",
        &CreateOptions {
            acl: Some(digest_acl("bob", "pw")),
            ..CreateOptions::default()
        },
    )
    .unwrap();
    let (seq, _) = c
        .create(
            "/m/seq-",
            b"",
            CreateOptions::mode(CreateMode::PersistentSequential),
        )
        .unwrap();
    let (eph, _) = c
        .create(
            "/m/eph-",
            b"",
            CreateOptions::mode(CreateMode::EphemeralSequential),
        )
        .unwrap();
    c.create(
        "/m/ttl",
        b"",
        &CreateOptions {
            ttl: Some(Duration::from_secs(3600)),
            ..CreateOptions::mode(CreateMode::PersistentWithTtl)
        },
    )
    .unwrap();
    let (session, _) = c.client_id().unwrap();

    let out = python(KAZOO_READS, &[&zk.connect_string(), &eph, &seq]);
    let got: Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("kazoo's report {out:?}: {e}"));
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(got["data"], hex(b"from rust \x00\xff v3"));
    assert_eq!(got["version"], 2);
    assert_eq!(got["empty"], "", "an empty buffer, not null");
    assert_eq!(got["null"], Value::Null);
    assert_eq!(got["kids"], serde_json::json!(["x", "y"]));
    let leaf = |p: &str| p.rsplit('/').next().unwrap().to_string();
    let mut children = vec![
        "acl".to_string(),
        "data".into(),
        "empty".into(),
        leaf(&eph),
        "kids".into(),
        "null".into(),
        leaf(&seq),
        "ttl".into(),
    ];
    children.sort();
    assert_eq!(got["children"], serde_json::json!(children));
    assert_eq!(
        got["acl"],
        serde_json::json!([[31, "digest", digest_id("bob", "pw")]])
    );
    assert_eq!(got["noauth"], true, "the ACL is enforced for kazoo");
    assert_eq!(got["acl_data"], hex(b"for bob"));
    assert_eq!(got["eph_owner"], session, "our session owns the ephemeral");
    assert_eq!(got["seq_owner"], Value::Null);
    assert_eq!(got["ttl"], true);
    c.stop().unwrap();
}

/// zkCli.sh, or why not.
fn zkcli() -> Option<PathBuf> {
    let path = std::env::var_os("ZKCLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/zookeeper/bin/zkCli.sh"));
    if path.exists() {
        Some(path)
    } else {
        eprintln!("SKIPPED: no zkCli.sh at {} (set ZKCLI)", path.display());
        None
    }
}

/// Runs one zkCli.sh command against `server`; returns stdout and stderr together.
fn run_zkcli(cli: &PathBuf, server: &str, args: &[&str]) -> String {
    let out = Command::new(cli)
        .arg("-server")
        .arg(server)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("zkCli.sh runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "zkCli.sh {args:?}: {text}");
    text
}

#[test]
fn zkcli_reads_what_we_write_and_we_read_what_it_writes() {
    let Some(cli) = zkcli() else { return };
    let zk = ZkServer::start().unwrap();
    let c = start_client(&zk);
    c.create("/z", b"", CreateMode::Persistent).unwrap();
    c.create("/z/data", b"hello-from-rust", CreateMode::Persistent)
        .unwrap();
    let out = run_zkcli(&cli, &zk.connect_string(), &["get", "/z/data"]);
    assert!(
        out.lines().any(|l| l.trim() == "hello-from-rust"),
        "zkCli get printed: {out}"
    );

    let out = run_zkcli(
        &cli,
        &zk.connect_string(),
        &["create", "-s", "/z/cli-", "written-by-zkcli"],
    );
    let created = c.get_children("/z", None).unwrap();
    let name = created
        .iter()
        .find(|n| n.starts_with("cli-"))
        .unwrap_or_else(|| panic!("zkCli's node among {created:?}; zkCli said: {out}"));
    split_sequence(name);
    let (data, stat) = c.get(&format!("/z/{name}"), None).unwrap();
    assert_eq!(data.as_deref(), Some(&b"written-by-zkcli"[..]));
    assert_eq!(stat.ephemeral_owner, 0);
    c.stop().unwrap();
}
