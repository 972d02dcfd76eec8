//! The baseline: a raw pipelined getData of every node of a tree (paths known), over
//! `testing::RawConnection`, every reply decoded.

use std::net::SocketAddr;

use mio_zookeeper::proto::{PathWatch, Request, Response};
use mio_zookeeper::testing::RawConnection;

use super::*;

/// Reads every node of `tree` with at most `window` getData outstanding; returns the
/// seconds from the first request written to the last reply decoded (the connection's
/// handshake not included) and the CPU spent. Fails if a reply is an error or is not node
/// data.
pub(super) fn read_all(zk: &ZkServer, tree: &Tree, window: usize) -> Result<(f64, CpuPerNode)> {
    let addr: SocketAddr = zk.addr();
    let timeout_ms = i32::try_from(SESSION_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
    let mut raw = RawConnection::connect(addr, timeout_ms)?;
    let n = tree.paths.len();
    let (mut sent, mut done) = (0usize, 0usize);
    let cpu = CpuMark::now(zk.pid());
    let start = Instant::now();
    while done < n {
        // Refill once half the window came back: large writes, the window kept full.
        if sent < n && sent - done <= window / 2 {
            while sent < n && sent - done < window {
                raw.queue(&Request::GetData(PathWatch {
                    path: tree.paths[sent].clone(),
                    watch: false,
                }))?;
                sent += 1;
            }
            raw.flush()?;
        }
        let reply = raw.recv()?;
        if !reply.header.err.is_ok() || !matches!(reply.response, Response::GetData { .. }) {
            return Err(format!(
                "raw getData of {}: {:?} ({:?})",
                tree.paths[done], reply.header.err, reply.response
            )
            .into());
        }
        done += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu.per_node(zk.pid(), n);
    raw.close()?;
    Ok((secs, cpu))
}
