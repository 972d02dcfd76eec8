//! Our side of `lock_cycle` and `lock_handoff`, and the raw `exists` baselines.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::mpsc::{channel, Receiver, Sender};

use bytes::Bytes;
use mio_zookeeper::proto::{PathWatch, Request, SetDataRequest};
use mio_zookeeper::recipe::Lock;
use mio_zookeeper::testing::{Proxy, RawConnection};
use mio_zookeeper::Client;

use super::*;

/// How long any one wait may take before the bench gives up.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// Hand-offs not counted at the start (the JIT, the connections warming up).
pub(crate) const WARM_HANDOFFS: usize = 5;

/// `rtt`: `n` exists one at a time (median and p99); `exists_pipelined`: `n` exists with
/// 128 outstanding (µs per op).
pub(crate) fn raw_exists(zk: &ZkServer, n: usize) -> Result<(Row, Row)> {
    let mut raw = RawConnection::connect(zk.addr(), 30_000)?;
    let req = Request::Exists(PathWatch {
        path: "/zookeeper".into(),
        watch: false,
    });
    // Warm-up.
    for _ in 0..200 {
        raw.call(&req)?;
    }
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = raw.call(&req)?;
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        if !r.header.err.is_ok() {
            return Err(format!("exists /zookeeper: {:?}", r.header.err).into());
        }
    }
    let (p50, p99) = percentiles(lat);
    let rtt = Row {
        workload: "rtt",
        who: "raw",
        us: p50,
        p99_us: p99,
        requests: Some(1.0),
        note: "one exists at a time, no client: the round trip (RT)".into(),
        ..Row::default()
    };
    let window = 128;
    let mut outstanding = VecDeque::new();
    let (mut sent, mut done) = (0, 0);
    let t = Instant::now();
    while done < n {
        while sent < n && outstanding.len() < window {
            outstanding.push_back(raw.queue(&req)?);
            sent += 1;
        }
        raw.flush()?;
        let r = raw.recv()?;
        if outstanding.pop_front() != Some(r.header.xid) || !r.header.err.is_ok() {
            return Err(format!("pipelined exists: {:?}", r.header).into());
        }
        done += 1;
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    raw.close()?;
    let pipelined = Row {
        workload: "exists_pipelined",
        who: "raw",
        us: Some(us),
        requests: Some(1.0),
        per_s: Some(1e6 / us),
        note: format!("{window} outstanding, no client"),
        ..Row::default()
    };
    Ok((rtt, pipelined))
}

/// `write_rtt`: `n` setData one at a time over a raw connection (median and p99): what a
/// write (the holder's delete) takes to be applied and answered.
pub(crate) fn raw_writes(zk: &ZkServer, n: usize) -> Result<Row> {
    let path = "/bench-write";
    let admin = client(&zk.connect_string())?;
    admin.ensure_path(path, None)?;
    admin.stop()?;
    let mut raw = RawConnection::connect(zk.addr(), 30_000)?;
    let req = Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"x")),
        version: -1,
    });
    let mut lat = Vec::with_capacity(n);
    for i in 0..n + 200 {
        let t = Instant::now();
        let r = raw.call(&req)?;
        if i >= 200 {
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
        if !r.header.err.is_ok() {
            return Err(format!("setData {path}: {:?}", r.header.err).into());
        }
    }
    raw.close()?;
    let (p50, p99) = percentiles(lat);
    Ok(Row {
        workload: "write_rtt",
        who: "raw",
        us: p50,
        p99_us: p99,
        requests: Some(1.0),
        note: "one setData at a time, no client: a write's round trip (W)".into(),
        ..Row::default()
    })
}

/// `rtt` through our client: `n` blocking `exists` one at a time (median and p99): the
/// round trip as a client's caller sees it (its loop's wake-ups included).
pub(crate) fn client_exists(zk: &ZkServer, n: usize) -> Result<Row> {
    let zk = client(&zk.connect_string())?;
    for _ in 0..200 {
        zk.exists("/zookeeper", None)?;
    }
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        zk.exists("/zookeeper", None)?;
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    zk.stop()?;
    let (p50, p99) = percentiles(lat);
    Ok(Row {
        workload: "rtt",
        who: "ours",
        us: p50,
        p99_us: p99,
        requests: Some(1.0),
        note: "one blocking Client::exists at a time".into(),
        ..Row::default()
    })
}

fn client(hosts: &str) -> Result<Client> {
    let zk = Client::new(hosts)?;
    zk.start(Some(Duration::from_secs(30)))?;
    Ok(zk)
}

/// `cycles` uncontended acquire+release cycles after one warm-up; returns µs per cycle.
fn cycles_on(hosts: &str, path: &str, cycles: usize) -> Result<f64> {
    let zk = client(hosts)?;
    let lock = Lock::new(&zk, path, "bench")?;
    lock.acquire(None)?;
    lock.release()?;
    let t = Instant::now();
    for _ in 0..cycles {
        lock.acquire(Some(WAIT))?;
        lock.release()?;
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / cycles as f64;
    zk.stop()?;
    Ok(us)
}

/// `lock_cycle`, ours: timed on a direct connection, the requests counted on a second run
/// of up to 200 cycles through a proxy (which adds its own latency).
pub(crate) fn cycle(zk: &ZkServer, path: &str, cycles: usize) -> Result<Row> {
    let us = cycles_on(&zk.connect_string(), path, cycles)?;
    let counted = cycles.min(200);
    let proxy = Proxy::start(zk.addr())?;
    cycles_on(&proxy.connect_string(), path, counted)?;
    let (requests, note) = frames::per_op(&frames::requests(&proxy.finish()), counted + 1);
    Ok(Row {
        workload: "lock_cycle",
        who: "ours",
        us: Some(us),
        requests: Some(requests),
        per_s: Some(1e6 / us),
        note,
        ..Row::default()
    })
}

enum Msg {
    /// The first holder holds.
    Ready,
    /// The waiter's watch on its predecessor is registered.
    Waiting,
    /// The holder sent its release at this instant.
    Released(Instant),
}

/// `lock_handoff`, ours: two threads with a client each hand the lock to each other
/// `handoffs` times (after [`WARM_HANDOFFS`]); median and p99 of release → acquired.
pub(crate) fn handoff(zk: &ZkServer, path: &str, handoffs: usize) -> Result<Row> {
    let rounds = handoffs + WARM_HANDOFFS;
    let (to_b, from_a) = channel();
    let (to_a, from_b) = channel();
    let hosts = zk.connect_string();
    let (pa, pb) = (path.to_string(), path.to_string());
    let hb = hosts.clone();
    let a = std::thread::spawn(move || side(&hosts, &pa, true, from_b, to_b, rounds));
    let b = std::thread::spawn(move || side(&hb, &pb, false, from_a, to_a, rounds));
    let mut lat: Vec<(usize, f64)> = Vec::new();
    let mut errors = Vec::new();
    for (name, t) in [("a", a), ("b", b)] {
        match t.join() {
            Ok(Ok(l)) => lat.extend(l),
            Ok(Err(e)) => errors.push(format!("hand-off thread {name}: {e}")),
            Err(_) => errors.push(format!("hand-off thread {name} panicked")),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; ").into());
    }
    let lat: Vec<f64> = lat
        .into_iter()
        .filter(|&(round, _)| round >= WARM_HANDOFFS)
        .map(|(_, us)| us)
        .collect();
    let n = lat.len();
    let (p50, p99) = percentiles(lat);
    Ok(Row {
        workload: "lock_handoff",
        who: "ours",
        us: p50,
        p99_us: p99,
        note: format!("{n} hand-offs, release sent -> waiter's acquire_async callback"),
        ..Row::default()
    })
}

type Lat = Vec<(usize, f64)>;

/// One of the two contenders: (round, µs) of the hand-offs it received.
fn side(
    hosts: &str,
    path: &str,
    first: bool,
    rx: Receiver<Msg>,
    tx: Sender<Msg>,
    rounds: usize,
) -> std::result::Result<Lat, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let zk = client(hosts).map_err(|x| e(&x))?;
    let lock = Lock::new(&zk, path, if first { "a" } else { "b" }).map_err(|x| e(&x))?;
    let recv = |rx: &Receiver<Msg>| rx.recv_timeout(WAIT).map_err(|x| e(&x));
    let send = |m| tx.send(m).map_err(|x| e(&x));
    if first {
        lock.acquire(Some(WAIT)).map_err(|x| e(&x))?;
        send(Msg::Ready)?;
    } else if !matches!(recv(&rx)?, Msg::Ready) {
        return Err("out of step: expected Ready".into());
    }
    let mut holding = first;
    let mut lat = Vec::new();
    for round in 0..rounds {
        if holding {
            if !matches!(recv(&rx)?, Msg::Waiting) {
                return Err("out of step: expected Waiting".into());
            }
            let t0 = Instant::now();
            let r = lock.release_async();
            send(Msg::Released(t0))?;
            r.take(true, Some(WAIT)).map_err(|x| e(&x))?;
            // The hold's watch on our own node is removed in the background.
            zk.run_until(&|| zk.watch_count() == 0, Some(WAIT))
                .map_err(|x| e(&x))?;
            holding = false;
        } else {
            let t1 = Rc::new(Cell::new(None));
            let t = t1.clone();
            let r = lock.acquire_async(Some(WAIT));
            r.rawlink(move |_| t.set(Some(Instant::now())));
            zk.run_until(&|| zk.watch_count() > 0 || t1.get().is_some(), Some(WAIT))
                .map_err(|x| e(&x))?;
            send(Msg::Waiting)?;
            // Callbacks run on the loop after the result is set: wait for ours.
            zk.run_until(&|| t1.get().is_some(), Some(WAIT))
                .map_err(|x| e(&x))?;
            r.get_nowait().map_err(|x| e(&x))?;
            let Msg::Released(t0) = recv(&rx)? else {
                return Err("out of step: expected Released".into());
            };
            let t1 = t1.get().ok_or("acquired without the callback")?;
            lat.push((round, t1.duration_since(t0).as_secs_f64() * 1e6));
            holding = true;
        }
    }
    if holding {
        lock.release().map_err(|x| e(&x))?;
    }
    zk.stop().map_err(|x| e(&x))?;
    Ok(lat)
}
