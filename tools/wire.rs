//! The wire, frame by frame: starts a throwaway ZooKeeper server with the test harness,
//! talks to it with nothing but the crate's codec (a handshake, a few requests, a watch that
//! fires, a transaction with a failing op), and prints every frame both ways, decoded, in
//! zkdump's JSON format (`src/bin/zkdump`). For the client's view of the same things,
//! see `examples/tour.rs`.
//!
//! With `ZK_HOSTS` set (a connect string such as `10.0.0.5:2181,10.0.0.6:2181/app`), it uses
//! the first of those servers instead and starts nothing; it works under a node of its own,
//! `/mio-zookeeper-wire-<pid>`, and removes it.
//!
//! Run it with `cargo run --features testing --bin zk-wire`. A maintainer's tool (like
//! `zk-capture`), not an example: it speaks the lower-level codec and needs the test harness.

#[allow(dead_code)]
#[path = "../src/bin/zkdump/dump.rs"]
mod dump;

use std::error::Error;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use mio_zookeeper::proto::{
    Acl, CreateMode, CreateRequest, DeleteRequest, MultiOp, PathWatch, Request, Response,
    SetDataRequest,
};
use mio_zookeeper::testing::{Proxy, RawConnection, RawReply, ZkServer};

fn main() -> Result<(), Box<dyn Error>> {
    let (_server, addr) = match std::env::var("ZK_HOSTS") {
        Ok(hosts) if !hosts.trim().is_empty() => {
            let addr = first_host(&hosts)?;
            println!("ZK_HOSTS={hosts}: using {addr}");
            (None, addr)
        }
        _ => {
            let zk = ZkServer::start()?;
            println!("started a throwaway ZooKeeper at {}", zk.connect_string());
            let addr = zk.addr();
            (Some(zk), addr)
        }
    };
    // Record the traffic of both connections on its way through a proxy.
    let proxy = Proxy::start(addr)?;
    let base = format!("/mio-zookeeper-wire-{}", std::process::id());
    let mut log = Vec::new();
    {
        let mut c = RawConnection::connect(proxy.addr(), 10_000)?;
        let s = c.session();
        log.push(format!(
            "handshake: session 0x{:x}, negotiated timeout {} ms",
            s.session_id, s.timeout_ms
        ));
        let create = |path: &str, data: &'static [u8], mode: CreateMode| CreateRequest {
            path: path.to_string(),
            data: Some(Bytes::from_static(data)),
            acl: Acl::open_unsafe(),
            flags: mode.flags(),
        };
        call(
            &mut log,
            &mut c,
            "create",
            Request::Create(create(&base, b"hello", CreateMode::Persistent)),
        )?;
        call(
            &mut log,
            &mut c,
            "create2 ephemeral",
            Request::Create2(create(
                &format!("{base}/eph"),
                b"",
                CreateMode::EphemeralSequential,
            )),
        )?;
        call(
            &mut log,
            &mut c,
            "getData with a watch",
            Request::GetData(PathWatch {
                path: base.clone(),
                watch: true,
            }),
        )?;
        // Another connection changes the node: the watch fires on the first.
        let mut other = RawConnection::connect(proxy.addr(), 10_000)?;
        call(
            &mut log,
            &mut other,
            "setData (other client)",
            Request::SetData(SetDataRequest {
                path: base.clone(),
                data: Some(Bytes::from_static(b"world")),
                version: -1,
            }),
        )?;
        if let Some(ev) = c.next_notification(Duration::from_secs(5))? {
            log.push(format!("watch fired: {} on {}", ev.event_type, ev.path));
        }
        call(
            &mut log,
            &mut c,
            "getChildren2",
            Request::GetChildren2(PathWatch {
                path: base.clone(),
                watch: false,
            }),
        )?;
        call(
            &mut log,
            &mut c,
            "multi (second op fails)",
            Request::Multi(vec![
                MultiOp::Create(create(&format!("{base}/t"), b"", CreateMode::Persistent)),
                MultiOp::Delete(DeleteRequest {
                    path: format!("{base}/missing"),
                    version: -1,
                }),
            ]),
        )?;
        call(
            &mut log,
            &mut c,
            "exists on a missing node",
            Request::Exists(PathWatch {
                path: format!("{base}/missing"),
                watch: false,
            }),
        )?;
        other.close()?;
        c.close()?;
        // Clean up with a fresh session (the ephemeral child went with the first one).
        let mut tidy = RawConnection::connect(addr, 10_000)?;
        tidy.call(&Request::Delete(DeleteRequest {
            path: base.clone(),
            version: -1,
        }))?;
        tidy.close()?;
    }
    println!();
    for line in &log {
        println!("  {line}");
    }
    for conn in proxy.finish() {
        println!();
        println!(
            "connection {}: every frame, decoded (zkdump --c2s/--s2c format)",
            conn.index
        );
        let mut out = String::new();
        dump::dump(Some(&conn.c2s), Some(&conn.s2c), 64 << 20, &mut out);
        print!("{out}");
    }
    Ok(())
}

/// Sends one request, waits for its reply and logs a one-line summary.
fn call(
    log: &mut Vec<String>,
    c: &mut RawConnection,
    what: &str,
    req: Request,
) -> std::io::Result<RawReply> {
    let reply = c.call(&req);
    match &reply {
        Ok(r) => log.push(format!("{what}: {} {}", r.header.err, short(&r.response))),
        Err(e) => log.push(format!("{what}: failed: {e}")),
    }
    reply
}

/// A one-line summary of a reply.
fn short(r: &Response) -> String {
    match r {
        Response::Empty => String::new(),
        Response::Create { path } => format!("path {path}"),
        Response::Create2 { path, stat } => format!("path {path}, czxid {}", stat.czxid),
        Response::Stat(s) => format!("version {}", s.version),
        Response::GetData { data, stat } => format!(
            "data {:?}, version {}",
            data.as_deref().map(String::from_utf8_lossy),
            stat.version
        ),
        Response::GetChildren2 { children, .. } => format!("children {children:?}"),
        Response::Multi(results) => format!("results {results:?}"),
        other => format!("{other:?}"),
    }
}

/// The first host of a connect string (`host[:port][,host[:port]...][/chroot]`).
fn first_host(hosts: &str) -> Result<SocketAddr, Box<dyn Error>> {
    let without_chroot = hosts.split('/').next().unwrap_or(hosts);
    let first = without_chroot.split(',').next().unwrap_or("").trim();
    if first.is_empty() {
        return Err(format!("ZK_HOSTS={hosts:?} names no host").into());
    }
    let with_port = if first.contains(':') {
        first.to_owned()
    } else {
        format!("{first}:2181")
    };
    with_port
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| format!("{with_port} does not resolve").into())
}
