//! A first look: starts a throwaway ZooKeeper server with the test harness, prints its
//! connect string and its `srvr` answer, and stops it.
//!
//! With `ZK_HOSTS` set (a connect string such as `10.0.0.5:2181,10.0.0.6:2181/app`), it asks
//! the first of those servers instead and starts nothing.
//!
//! Run it with `scripts/demo` (which installs ZooKeeper if needed) or
//! `cargo run --example demo`.

use std::error::Error;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use mio_zookeeper::testing::{four_letter, ZkServer};

fn main() -> Result<(), Box<dyn Error>> {
    match std::env::var("ZK_HOSTS") {
        Ok(hosts) if !hosts.trim().is_empty() => {
            let addr = first_host(&hosts)?;
            println!("ZK_HOSTS={hosts}: asking {addr}");
            println!(
                "{}",
                four_letter(addr, "srvr", Duration::from_secs(5))?.trim_end()
            );
        }
        _ => {
            let zk = ZkServer::start()?;
            println!("started a throwaway ZooKeeper at {}", zk.connect_string());
            println!("{}", zk.four_letter("srvr")?.trim_end());
            drop(zk);
            println!("stopped it and removed its directory");
        }
    }
    Ok(())
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
