//! capture: record real ZooKeeper traffic, both directions, through a recording proxy.
//!
//! ```text
//! cargo run --features testing --bin zk-capture -- OUT_DIR [--zkcli]
//! ```
//!
//! Starts a throwaway ZooKeeper with the harness (extended types on), puts a recording TCP
//! proxy in front of it, and runs real clients through the proxy:
//!
//! - a scripted session with the codec-only [`RawConnection`] that sends every opcode of
//!   PROTOCOL.md §5 and provokes the common errors and watch notifications;
//! - with `--zkcli`, ZooKeeper's own Java client (`zkCli.sh`) running a few commands;
//! - with `--kazoo`, Python's kazoo (`pip install kazoo`) doing a short session.
//!
//! Each TCP connection is written as `OUT_DIR/<name>-<n>.c2s` and `.s2c`: raw bytes, one
//! direction each, exactly as zkdump (`src/bin/zkdump`) reads them. The project keeps a set of these
//! under `testdata/captures/`.
//!
//! With `--seeds CORPUS_DIR` (normally `fuzz/corpus`) it also writes the captured traffic as
//! fuzz seeds, in the formats `src/fuzzing.rs` documents: whole streams for `frame_decoder`,
//! request frames for `decode_request`, and reply frames prefixed with the opcode of the
//! request they answer for `decode_reply`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mio_zookeeper::proto::{
    Acl, AddWatchRequest, AuthPacket, CheckVersionRequest, CreateMode, CreateRequest,
    CreateTtlRequest, DeleteRequest, FrameDecoder, Id, MultiOp, OpCode, PathOnly, PathWatch, Perms,
    ReconfigRequest, Request, SetAclRequest, SetDataRequest, SetWatches, SetWatches2, WatcherType,
    WatchesRequest,
};
use mio_zookeeper::testing::{Proxy, RawConnection, ZkServer};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Writes the connections a proxy carried as `<name>-<n>.c2s` / `.s2c`.
fn write_connections(proxy: Proxy, dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for conn in proxy.finish() {
        let base = dir.join(format!("{name}-{}", conn.index));
        let (a, b) = (base.with_extension("c2s"), base.with_extension("s2c"));
        std::fs::write(&a, conn.c2s)?;
        std::fs::write(&b, conn.s2c)?;
        written.push(a);
        written.push(b);
    }
    Ok(written)
}

fn create(path: &str, data: &[u8], mode: CreateMode) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        flags: mode.flags(),
    }
}

/// A session that sends every opcode and provokes errors and notifications.
fn scripted(addr: SocketAddr) -> Result<()> {
    let mut c = RawConnection::connect(addr, 10_000)?;
    let mut w = RawConnection::connect(addr, 10_000)?;
    let pw = |p: &str, watch| PathWatch {
        path: p.into(),
        watch,
    };
    let calls: Vec<Request> = vec![
        Request::Create(create("/cap", b"capture", CreateMode::Persistent)),
        Request::Create2(create("/cap/p", b"1", CreateMode::Persistent)),
        Request::Create2(create("/cap/e", b"2", CreateMode::Ephemeral)),
        Request::Create2(create("/cap/s-", b"3", CreateMode::PersistentSequential)),
        Request::Create2(create("/cap/es-", b"4", CreateMode::EphemeralSequential)),
        Request::CreateContainer(create("/cap/box", b"", CreateMode::Container)),
        Request::CreateTtl(CreateTtlRequest {
            path: "/cap/ttl".into(),
            data: Some(Bytes::from_static(b"t")),
            acl: Acl::open_unsafe(),
            flags: CreateMode::PersistentWithTtl.flags(),
            ttl: 600_000,
        }),
        Request::Create(create("/cap", b"", CreateMode::Persistent)), // NodeExists
        Request::Create(create("/none/x", b"", CreateMode::Persistent)), // NoNode
        Request::Create(create("/cap/e/x", b"", CreateMode::Persistent)), // NoChildrenForEphemerals
        Request::Exists(pw("/cap", false)),
        Request::Exists(pw("/cap/later", true)), // NoNode, leaves an exist watch
        Request::GetData(pw("/cap", true)),
        Request::GetData(pw("/none", false)),
        Request::SetData(SetDataRequest {
            path: "/cap/p".into(),
            data: Some(Bytes::from(vec![0xab; 1500])),
            version: 0,
        }),
        Request::SetData(SetDataRequest {
            path: "/cap/p".into(),
            data: None,
            version: 7,
        }), // BadVersion
        Request::GetChildren(pw("/cap", true)),
        Request::GetChildren2(pw("/cap", false)),
        Request::GetAcl(PathOnly {
            path: "/cap".into(),
        }),
        Request::SetAcl(SetAclRequest {
            path: "/cap/p".into(),
            acl: vec![
                Acl {
                    perms: Perms::ALL,
                    id: Id::anyone(),
                },
                Acl {
                    perms: Perms::READ,
                    id: Id {
                        scheme: "ip".into(),
                        id: "127.0.0.1".into(),
                    },
                },
            ],
            version: -1,
        }),
        Request::SetAcl(SetAclRequest {
            path: "/cap/p".into(),
            acl: vec![],
            version: -1,
        }), // InvalidACL
        // No standalone check: ZooKeeper 3.8.0 closes the connection on opcode 13 outside a
        // multi.
        Request::Multi(vec![
            MultiOp::Create(create("/cap/m1", b"", CreateMode::Persistent)),
            MultiOp::Create2(create("/cap/m2", b"", CreateMode::Persistent)),
            MultiOp::SetData(SetDataRequest {
                path: "/cap/m1".into(),
                data: Some(Bytes::from_static(b"m")),
                version: 0,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: "/cap".into(),
                version: 0,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/cap/m2".into(),
                version: -1,
            }),
        ]),
        Request::Multi(vec![
            MultiOp::Create(create("/cap/m3", b"", CreateMode::Persistent)),
            MultiOp::Delete(DeleteRequest {
                path: "/cap/none".into(),
                version: -1,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: "/cap".into(),
                version: 0,
            }),
        ]),
        Request::MultiRead(vec![
            MultiOp::GetData("/cap".into()),
            MultiOp::GetChildren("/cap".into()),
            MultiOp::GetData("/none".into()),
        ]),
        Request::AddWatch(AddWatchRequest {
            path: "/cap".into(),
            mode: 1,
        }),
        Request::AddWatch(AddWatchRequest {
            path: "/cap/p".into(),
            mode: 0,
        }),
        Request::CheckWatches(WatchesRequest {
            path: "/cap".into(),
            watcher_type: WatcherType::Any as i32,
        }),
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Some(Bytes::from_static(b"capture:secret")),
        }),
        Request::WhoAmI,
        Request::Create(CreateRequest {
            path: "/cap/mine".into(),
            data: None,
            acl: vec![Acl {
                perms: Perms::ALL,
                id: Id::auth_ids(),
            }],
            flags: 0,
        }),
        Request::GetEphemerals(PathOnly {
            path: "/cap".into(),
        }),
        Request::GetAllChildrenNumber(PathOnly {
            path: "/cap".into(),
        }),
        Request::Sync(PathOnly {
            path: "/cap".into(),
        }),
        Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: Some("9".into()),
            new_members: None,
            cur_config_id: -1,
        }),
        Request::Ping,
    ];
    for req in &calls {
        let _ = c
            .call(req)
            .map_err(|e| format!("{:?}: {e}", req.op_code()))?;
    }
    // The writer fires the watches the first connection set.
    for req in [
        Request::Create(create("/cap/later", b"", CreateMode::Persistent)),
        Request::SetData(SetDataRequest {
            path: "/cap".into(),
            data: Some(Bytes::from_static(b"changed")),
            version: -1,
        }),
        Request::Delete(DeleteRequest {
            path: "/cap/later".into(),
            version: -1,
        }),
        Request::GetData(pw("/cap/mine", false)), // NoAuth
    ] {
        let _ = w.call(&req)?;
    }
    let mut events = 0;
    while c.next_notification(Duration::from_millis(500))?.is_some() {
        events += 1;
    }
    eprintln!("capture: {events} notifications seen");
    let _ = c.call(&Request::RemoveWatches(WatchesRequest {
        path: "/cap/p".into(),
        watcher_type: WatcherType::Any as i32,
    }))?;
    let _ = c.call(&Request::RemoveWatches(WatchesRequest {
        path: "/cap/p".into(),
        watcher_type: WatcherType::Data as i32,
    }))?; // NoWatcher
    c.close()?;

    // A reconnecting client re-registers its watches.
    let mut r = RawConnection::connect(addr, 10_000)?;
    let _ = r.call(&Request::SetWatches(SetWatches {
        relative_zxid: 1,
        data_watches: vec!["/cap".into(), "/cap/p".into()],
        exist_watches: vec!["/cap/absent".into()],
        child_watches: vec!["/cap".into()],
    }))?;
    let _ = r.call(&Request::SetWatches2(SetWatches2 {
        relative_zxid: 1,
        data_watches: vec![],
        exist_watches: vec![],
        child_watches: vec![],
        persistent_watches: vec!["/cap/p".into()],
        persistent_recursive_watches: vec!["/cap".into()],
    }))?;
    while r.next_notification(Duration::from_millis(300))?.is_some() {}
    // An unknown auth scheme: AuthFailed, then the server closes.
    let _ = r.call(&Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "nosuchscheme".into(),
        auth: Some(Bytes::from_static(b"x")),
    }));
    drop(r);
    w.close()?;
    Ok(())
}

fn zkcli(addr: SocketAddr) -> Result<()> {
    let script = "create /zkcli hello\ncreate -e /zkcli/eph e\ncreate -s /zkcli/seq- s\n\
                  set /zkcli world\nget -s /zkcli\nls -s /zkcli\nstat /zkcli\n\
                  getAcl /zkcli\naddWatch -m PERSISTENT_RECURSIVE /zkcli\n\
                  set /zkcli again\nwhoami\ngetEphemerals /\ngetAllChildrenNumber /zkcli\n\
                  sync /zkcli\ndeleteall /zkcli\nquit\n";
    let cli = std::env::var("ZKCLI").unwrap_or_else(|_| "/usr/share/zookeeper/bin/zkCli.sh".into());
    let mut child = std::process::Command::new(cli)
        .arg("-server")
        .arg(addr.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes())?;
    }
    let status = child.wait()?;
    eprintln!("capture: zkCli.sh exited with {status}");
    Ok(())
}

fn kazoo(addr: SocketAddr) -> Result<()> {
    let script = format!(
        "from kazoo.client import KazooClient\n\
         zk = KazooClient(hosts='{addr}')\nzk.start()\n\
         zk.ensure_path('/kazoo/a/b')\nzk.set('/kazoo/a', b'from kazoo')\n\
         zk.get('/kazoo/a', watch=lambda e: None)\nzk.get_children('/kazoo/a', include_data=True)\n\
         t = zk.transaction(); t.create('/kazoo/t', b''); t.check('/kazoo/a', 1); t.commit()\n\
         zk.create('/kazoo/e', b'', ephemeral=True, sequence=True)\n\
         zk.delete('/kazoo', recursive=True)\nzk.stop()\n"
    );
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .status()?;
    eprintln!("capture: kazoo exited with {status}");
    Ok(())
}

/// Splits a raw stream into frame bodies (what fails to split is left out).
fn frames(stream: &[u8]) -> Vec<Bytes> {
    let decoder = FrameDecoder::new(64 << 20);
    let mut buf = BytesMut::from(stream);
    let mut out = Vec::new();
    while let Ok(Some(f)) = decoder.decode(&mut buf) {
        out.push(f);
    }
    out
}

/// Writes one connection's traffic as fuzz seeds under `corpus/<target>/`.
fn write_seeds(corpus: &Path, name: &str, c2s: &[u8], s2c: &[u8]) -> Result<()> {
    let dir = |t: &str| -> Result<PathBuf> {
        let d = corpus.join(t);
        std::fs::create_dir_all(&d)?;
        Ok(d)
    };
    let (fd, rq, rp) = (
        dir("frame_decoder")?,
        dir("decode_request")?,
        dir("decode_reply")?,
    );
    std::fs::write(fd.join(format!("captured-{name}-c2s")), c2s)?;
    std::fs::write(fd.join(format!("captured-{name}-s2c")), s2c)?;
    let mut ops = std::collections::HashMap::<i32, std::collections::VecDeque<OpCode>>::new();
    for (i, f) in frames(c2s).iter().enumerate() {
        std::fs::write(rq.join(format!("captured-{name}-{i:03}")), f)?;
        if i > 0 && f.len() >= 8 {
            let xid = i32::from_be_bytes([f[0], f[1], f[2], f[3]]);
            let op = i32::from_be_bytes([f[4], f[5], f[6], f[7]]);
            if let Some(op) = OpCode::from_i32(op) {
                ops.entry(xid).or_default().push_back(op);
            }
        }
    }
    for (i, f) in frames(s2c).iter().enumerate().skip(1) {
        if f.len() < 16 {
            continue;
        }
        let xid = i32::from_be_bytes([f[0], f[1], f[2], f[3]]);
        let op = match xid {
            -1 => OpCode::Notification,
            -2 => OpCode::Ping,
            x => match ops.get_mut(&x).and_then(|q| q.pop_front()) {
                Some(op) => op,
                None => continue,
            },
        };
        let mut seed = vec![op.as_i32() as i8 as u8];
        seed.extend_from_slice(f);
        std::fs::write(rp.join(format!("captured-{name}-{i:03}")), seed)?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: capture OUT_DIR [--zkcli] [--kazoo] [--seeds CORPUS_DIR]";
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let flags: Vec<String> = args.collect();
    let seeds = match flags.iter().position(|f| f == "--seeds") {
        Some(i) => Some(PathBuf::from(flags.get(i + 1).ok_or(usage)?)),
        None => None,
    };
    std::fs::create_dir_all(&out)?;
    let zk = ZkServer::builder().extended_types(true).start()?;

    let rec = Proxy::start(zk.addr())?;
    scripted(rec.addr())?;
    for f in write_connections(rec, &out, "raw")? {
        println!("{}", f.display());
    }
    if flags.iter().any(|f| f == "--zkcli") {
        let rec = Proxy::start(zk.addr())?;
        zkcli(rec.addr())?;
        for f in write_connections(rec, &out, "zkcli")? {
            println!("{}", f.display());
        }
    }
    if flags.iter().any(|f| f == "--kazoo") {
        let rec = Proxy::start(zk.addr())?;
        kazoo(rec.addr())?;
        for f in write_connections(rec, &out, "kazoo")? {
            println!("{}", f.display());
        }
    }
    if let Some(corpus) = seeds {
        let mut n = 0;
        for entry in std::fs::read_dir(&out)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "c2s") {
                let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("x");
                let c2s = std::fs::read(&path)?;
                let s2c = std::fs::read(path.with_extension("s2c"))?;
                write_seeds(&corpus, name, &c2s, &s2c)?;
                n += 1;
            }
        }
        eprintln!(
            "capture: seeds from {n} connections written under {}",
            corpus.display()
        );
    }
    Ok(())
}
