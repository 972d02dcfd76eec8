//! Our side of `counter_4` and `counter_4_pipelined`.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Barrier};

use mio_zookeeper::recipe::Counter;
use mio_zookeeper::Client;

use super::*;

/// `clients` threads with a client each add 1 to the counter at `path` for `secs` seconds,
/// each with `window` adds in flight (1: one blocking `add` at a time); total adds per
/// second. Fails if an add fails or the counter's final value is not the adds counted.
pub(crate) fn contend(
    zk: &ZkServer,
    path: &str,
    clients: usize,
    window: usize,
    secs: f64,
) -> Result<Row> {
    let start = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (hosts, path, start) = (zk.connect_string(), path.to_string(), start.clone());
            std::thread::spawn(move || adder(&hosts, &path, window, secs, &start))
        })
        .collect();
    start.wait();
    let t = Instant::now();
    let mut total = 0;
    for th in threads {
        total += th
            .join()
            .map_err(|_| "an adder panicked")?
            .map_err(|e| format!("an adder: {e}"))?;
    }
    let elapsed = t.elapsed().as_secs_f64();
    let check = Client::new(&zk.connect_string())?;
    check.start(Some(Duration::from_secs(30)))?;
    let value = Counter::new(&check, path)?.value()?;
    check.stop()?;
    if value != total as i64 {
        return Err(format!("{path}: {total} adds counted, the counter holds {value}").into());
    }
    let how = if window == 1 {
        "one blocking add at a time".to_string()
    } else {
        format!("{window} add_async in flight")
    };
    Ok(Row {
        workload: if window == 1 {
            "counter_4"
        } else {
            "counter_4_pipelined"
        },
        who: "ours",
        per_s: Some(total as f64 / elapsed.min(secs).max(1e-9)),
        note: format!("{clients} threads x 1 client, {how}; {total} adds, final value ok"),
        ..Row::default()
    })
}

fn adder(
    hosts: &str,
    path: &str,
    window: usize,
    secs: f64,
    start: &Barrier,
) -> std::result::Result<u64, String> {
    let run = || -> Result<u64> {
        let zk = Client::new(hosts)?;
        zk.start(Some(Duration::from_secs(30)))?;
        let counter = Counter::new(&zk, path)?;
        counter.value()?;
        start.wait();
        let end = Instant::now() + Duration::from_secs_f64(secs);
        let mut done = 0u64;
        if window == 1 {
            while Instant::now() < end {
                counter.add(1)?;
                done += 1;
            }
        } else {
            let in_flight = Rc::new(Cell::new(0usize));
            let ok = Rc::new(Cell::new(0u64));
            let failed: Rc<Cell<Option<String>>> = Rc::new(Cell::new(None));
            loop {
                let now = Instant::now();
                while now < end && in_flight.get() < window {
                    in_flight.set(in_flight.get() + 1);
                    let (f, o, x) = (in_flight.clone(), ok.clone(), failed.clone());
                    counter.add_async(1).rawlink(move |r| {
                        f.set(f.get() - 1);
                        match r.get_nowait() {
                            Ok(_) => o.set(o.get() + 1),
                            Err(e) => x.set(Some(e.to_string())),
                        }
                    });
                }
                if now >= end && in_flight.get() == 0 {
                    break;
                }
                zk.poll_once(Some(Duration::from_millis(10)))?;
            }
            if let Some(e) = failed.take() {
                return Err(e.into());
            }
            done = ok.get();
        }
        zk.stop()?;
        Ok(done)
    };
    run().map_err(|e| e.to_string())
}
