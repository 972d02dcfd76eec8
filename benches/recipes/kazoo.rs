//! The peer: kazoo's own `Lock` and `Counter`, driven by `kazoo_recipes.py` under `python3`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Child;

use mio_zookeeper::testing::Proxy;
use serde_json::Value;

use super::lock::WARM_HANDOFFS;
use super::*;

/// The script, passed to `python3 -c`.
const SCRIPT: &str = include_str!("kazoo_recipes.py");

fn spawn(mode: &str, hosts: &str, path: &str, arg: &str) -> Result<Child> {
    Ok(Command::new("python3")
        .args(["-c", SCRIPT, mode, hosts, path, arg])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?)
}

/// Waits for `child` and returns the JSON object on the last line of its output.
fn finish(mut child: Child, what: &str) -> Result<Value> {
    let mut stdout = String::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_string(&mut stdout)?;
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(
            format!("kazoo {what}: the script failed ({status}; its stderr is above)").into(),
        );
    }
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .map_err(|e| format!("kazoo {what}: its output {stdout:?}: {e}").into())
}

fn run_script(mode: &str, hosts: &str, path: &str, arg: &str) -> Result<Value> {
    finish(spawn(mode, hosts, path, arg)?, mode)
}

fn version(v: &Value) -> String {
    format!("kazoo {}", v["kazoo"].as_str().unwrap_or("?"))
}

/// `lock_cycle`, kazoo's `Lock`: timed on a direct connection, the requests counted on a
/// second run of up to 200 cycles through a proxy.
pub(crate) fn cycle(zk: &ZkServer, path: &str, cycles: usize) -> Result<Row> {
    let v = run_script("cycle", &zk.connect_string(), path, &cycles.to_string())?;
    let us = v["us_per_cycle"]
        .as_f64()
        .ok_or("kazoo cycle: no us_per_cycle")?;
    let counted = cycles.min(200);
    let proxy = Proxy::start(zk.addr())?;
    run_script("cycle", &proxy.connect_string(), path, &counted.to_string())?;
    // The script runs one untimed cycle first.
    let (requests, note) = frames::per_op(&frames::requests(&proxy.finish()), counted + 1);
    Ok(Row {
        workload: "lock_cycle",
        who: "kazoo",
        us: Some(us),
        requests: Some(requests),
        per_s: Some(1e6 / us),
        note: format!("{note}; {}", version(&v)),
        ..Row::default()
    })
}

/// `lock_handoff`, kazoo's `Lock`: two clients in two threads of one python process.
pub(crate) fn handoff(zk: &ZkServer, path: &str, handoffs: usize) -> Result<Row> {
    let rounds = handoffs + WARM_HANDOFFS;
    let v = run_script("handoff", &zk.connect_string(), path, &rounds.to_string())?;
    let lat: Vec<f64> = v["latencies_us"]
        .as_array()
        .ok_or("kazoo handoff: no latencies_us")?
        .iter()
        .skip(WARM_HANDOFFS)
        .filter_map(Value::as_f64)
        .collect();
    let errors = v["errors"].as_array().map_or(0, Vec::len);
    if lat.len() != handoffs || errors > 0 {
        return Err(format!("kazoo handoff: {} of {handoffs} hand-offs: {v}", lat.len()).into());
    }
    let (p50, p99) = percentiles(lat);
    Ok(Row {
        workload: "lock_handoff",
        who: "kazoo",
        us: p50,
        p99_us: p99,
        note: format!(
            "{handoffs} hand-offs, release() called -> acquire() returned; {}",
            version(&v)
        ),
        ..Row::default()
    })
}

/// `counter_4`, kazoo's `Counter`: `clients` python processes, one client each, adding 1
/// at a time for `secs`, started together.
pub(crate) fn counter(zk: &ZkServer, path: &str, clients: usize, secs: f64) -> Result<Row> {
    let mut children = Vec::new();
    for _ in 0..clients {
        children.push(spawn(
            "counter",
            &zk.connect_string(),
            path,
            &secs.to_string(),
        )?);
    }
    // Every process connected and read the counter; then all start at once.
    let mut readers = Vec::new();
    for c in &mut children {
        let mut out = BufReader::new(c.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        out.read_line(&mut line)?;
        if line.trim() != "ready" {
            return Err(format!("kazoo counter: {line:?} instead of ready").into());
        }
        readers.push(out);
    }
    for c in &mut children {
        c.stdin.as_mut().ok_or("no stdin")?.write_all(b"go\n")?;
    }
    let mut total = 0;
    let mut ver = String::new();
    for (mut c, mut out) in children.into_iter().zip(readers) {
        let mut rest = String::new();
        out.read_to_string(&mut rest)?;
        if !c.wait()?.success() {
            return Err("kazoo counter: a process failed (its stderr is above)".into());
        }
        let v: Value = serde_json::from_str(rest.lines().last().unwrap_or(""))
            .map_err(|e| format!("kazoo counter: its output {rest:?}: {e}"))?;
        total += v["count"].as_u64().ok_or("kazoo counter: no count")?;
        ver = version(&v);
    }
    Ok(Row {
        workload: "counter_4",
        who: "kazoo",
        per_s: Some(total as f64 / secs),
        note: format!("{clients} processes x 1 client, one add at a time; {total} adds; {ver}"),
        ..Row::default()
    })
}
