//! The baselines: a raw pipelined read of every node's data (paths known) over
//! `testing::RawConnection`, every reply decoded: `raw` with one getData per node, `raw_multi`
//! with multiRead requests of [`MULTI_OPS`] getData each.

use std::collections::VecDeque;
use std::net::SocketAddr;

use mio_zookeeper::proto::{MultiOp, MultiResult, PathWatch, Request, Response};
use mio_zookeeper::testing::{RawConnection, RawReply};

use super::*;

/// The getData ops in one multiRead of `raw_multi`: as many as `RecursiveCache` batches.
pub(super) const MULTI_OPS: usize = 128;

/// Reads every node of `tree` with about `window` reads outstanding, `batch` reads a request
/// (1: getData; more: multiRead of up to `batch` getData); returns the seconds from the first
/// request written to the last reply decoded (the connection's handshake not included) and
/// the CPU spent. Fails if a reply, or one op of a multiRead, is an error or is not node
/// data, or if a multiRead answers a different number of ops.
pub(super) fn read_all(
    zk: &ZkServer,
    tree: &Tree,
    window: usize,
    batch: usize,
) -> Result<(f64, CpuPerNode)> {
    let addr: SocketAddr = zk.addr();
    let timeout_ms = i32::try_from(SESSION_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
    let mut raw = RawConnection::connect(addr, timeout_ms)?;
    let batch = batch.max(1);
    let n = tree.paths.len();
    // The first node and number of nodes of each request in flight, oldest first.
    let mut in_flight: VecDeque<(usize, usize)> = VecDeque::new();
    let (mut sent, mut done) = (0usize, 0usize);
    let cpu = CpuMark::now(zk.pid());
    let start = Instant::now();
    while done < n {
        // Refill once half the window came back: large writes, the window kept full.
        if sent < n && sent - done <= window / 2 {
            while sent < n && sent - done < window {
                let k = batch.min(n - sent);
                let paths = &tree.paths[sent..sent + k];
                raw.queue(&request(paths, batch))?;
                in_flight.push_back((sent, k));
                sent += k;
            }
            raw.flush()?;
        }
        let (first, k) = in_flight
            .pop_front()
            .ok_or("a reply with nothing in flight")?;
        let reply = raw.recv()?;
        check(&reply, &tree.paths[first..first + k], batch)?;
        done += k;
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu.per_node(zk.pid(), n);
    raw.close()?;
    Ok((secs, cpu))
}

/// The request reading `paths`: a getData when `batch` is 1, else a multiRead.
fn request(paths: &[String], batch: usize) -> Request {
    if batch == 1 {
        Request::GetData(PathWatch {
            path: paths[0].clone(),
            watch: false,
        })
    } else {
        Request::MultiRead(paths.iter().cloned().map(MultiOp::GetData).collect())
    }
}

/// Checks that `reply` (decoded fully by `recv`) holds the data of every one of `paths`.
fn check(reply: &RawReply, paths: &[String], batch: usize) -> Result<()> {
    let ok = reply.header.err.is_ok()
        && match &reply.response {
            Response::GetData { .. } => batch == 1,
            Response::Multi(results) => {
                batch > 1
                    && results.len() == paths.len()
                    && results
                        .iter()
                        .all(|r| matches!(r, MultiResult::GetData { .. }))
            }
            _ => false,
        };
    if ok {
        return Ok(());
    }
    Err(format!(
        "raw read of {} nodes from {}: {:?} ({:?})",
        paths.len(),
        paths[0],
        reply.header.err,
        reply.response
    )
    .into())
}
