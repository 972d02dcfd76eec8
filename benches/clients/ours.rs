//! The crate's `Client` under test.

use super::*;

pub(super) struct Ours {
    zk: Client,
    hosts: String,
    server_pid: Option<u32>,
}

/// A started client with the benchmark's settings.
fn new_client(hosts: &str, opts: &Opts) -> Result<Client> {
    // A loop of its own: the admin client, on the thread's default loop, stays out of the
    // measured client's loop and its I/O counts.
    let zk = Client::builder(hosts)
        .session_timeout(SESSION_TIMEOUT)
        .max_queued_requests(opts.n.max(opts.watch_n).max(opts.warmup) + 1)
        .request_timeout(Some(WAIT))
        .handler(mio_zookeeper::MioHandler::new()?)
        .build()?;
    zk.start(Some(Duration::from_secs(30)))?;
    Ok(zk)
}

/// The I/O counts of `zk`'s reactor.
fn io_of(zk: &Client) -> IoStats {
    zk.handler().reactor().io_stats()
}

/// Runs `zk`'s loop without waiting until an iteration finds nothing to do: queued callbacks
/// have run and what the socket takes is written.
fn settle(zk: &Client) -> Result<()> {
    for _ in 0..100_000 {
        if !zk.poll_once(Some(Duration::ZERO))? {
            return Ok(());
        }
    }
    Err("the client's loop never went idle".into())
}

/// The size of the frame of an `exists` of `path` (xid and length prefix included).
fn exists_frame_len(path: &str) -> Result<u64> {
    let mut out = BytesMut::new();
    let req = Request::Exists(PathWatch {
        path: path.to_string(),
        watch: false,
    });
    encode_request(1, &req, &mut out, DEFAULT_MAX_OUTGOING_FRAME)?;
    Ok(out.len() as u64)
}

/// The server stopped with SIGSTOP until this is dropped (SIGCONT).
struct Frozen(libc::pid_t);

impl Frozen {
    /// Stops `pid` and waits until every thread of it shows as stopped in /proc.
    fn new(pid: u32) -> Result<Frozen> {
        let p = libc::pid_t::try_from(pid).map_err(|_| format!("pid {pid} out of range"))?;
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        if unsafe { libc::kill(p, libc::SIGSTOP) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("SIGSTOP to the server (pid {pid}): {e}").into());
        }
        let frozen = Frozen(p);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !all_threads_stopped(pid) {
            if Instant::now() > deadline {
                return Err(format!("the server (pid {pid}) did not stop").into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(frozen)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        // SAFETY: as in `new`.
        if unsafe { libc::kill(self.0, libc::SIGCONT) } != 0 {
            eprintln!(
                "bench: SIGCONT to the server (pid {}) failed: {}",
                self.0,
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Whether every thread of `pid` is in state `T` (stopped) or `t` (traced).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|t| {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next());
        // A thread that ended meanwhile has no stat any more: it answers nothing either.
        stat.is_empty() || matches!(state, Some("T" | "t"))
    })
}

/// What one round of a memory workload saw: heap growth, unsent bytes, and the cost.
#[derive(Debug, Default)]
struct MemRound {
    bytes: i64,
    blocks: i64,
    unsent: u64,
    secs: f64,
    cost: Cost,
    errors: usize,
}

/// The per-operation figures of a short-path round and a long-path round of `count`
/// operations; `path_bytes` is the short round's total path length, `extra` how much longer
/// the long round's paths were in all.
fn mem_figures(
    short: &MemRound,
    long: &MemRound,
    count: usize,
    path_bytes: usize,
    extra: usize,
) -> Mem {
    let n = count.max(1) as f64;
    let grown = |r: &MemRound| r.bytes as f64 - r.unsent as f64;
    let path_copies = if extra > 0 {
        (grown(long) - grown(short)) / extra as f64
    } else {
        0.0
    };
    let path = path_copies * path_bytes as f64 / n;
    let unsent = short.unsent as f64 / n;
    let total = short.bytes as f64 / n;
    Mem {
        heap_bytes: total - path - unsent,
        heap_total_bytes: total,
        path_bytes: path,
        path_copies,
        unsent_bytes: unsent,
        live_allocs: short.blocks as f64 / n,
    }
}

impl Ours {
    pub(super) fn connect(hosts: &str, opts: &Opts, server_pid: Option<u32>) -> Result<Ours> {
        Ok(Ours {
            zk: new_client(hosts, opts)?,
            hosts: hosts.to_string(),
            server_pid,
        })
    }

    fn io(&self) -> IoStats {
        io_of(&self.zk)
    }

    /// `mem_request`: N' `exists` held outstanding by a stopped server, with a short and a
    /// long path, each on a fresh client.
    fn mem_request(&self, base: &str, opts: &Opts) -> Result<Measure> {
        let Some(pid) = self.server_pid else {
            let note = "skipped: stopping the server needs its pid (--server-pid)";
            eprintln!("bench: mem_request {note}");
            return Ok(Measure::skipped(note));
        };
        let count = opts.n.min(MEM_REQUESTS);
        let short = format!("{base}/e");
        let long = format!("{short}{}", "x".repeat(LONG_PAD));
        if self.zk.exists(&long, None)?.is_none() {
            self.zk.create(&long, b"", CreateMode::Persistent)?;
        }
        let s = self.mem_request_round(&short, count, pid, opts)?;
        let l = self.mem_request_round(&long, count, pid, opts)?;
        let mem = mem_figures(&s, &l, count, short.len() * count, LONG_PAD * count);
        Ok(Measure {
            ops: count,
            secs: s.secs,
            window: Some(count),
            errors: s.errors + l.errors,
            cost: s.cost,
            mem: Some(mem),
            ..Measure::default()
        })
    }

    /// One `mem_request` round: the heap growth while `count` `exists` of `path` are
    /// outstanding on a fresh client.
    fn mem_request_round(
        &self,
        path: &str,
        count: usize,
        pid: u32,
        opts: &Opts,
    ) -> Result<MemRound> {
        /// Requests issued between two runs of the loop (which write them out).
        const BATCH: usize = 256;
        let zk = new_client(&self.hosts, opts)?;
        // The first request allocates what any later one finds in place.
        zk.exists(path, None)?;
        let frame = exists_frame_len(path)?;
        let mut results = Vec::with_capacity(count);
        let frozen = Frozen::new(pid)?;
        settle(&zk)?;
        let (heap0, io0) = (heap(), io_of(&zk));
        let span = Span::begin(None, io0);
        let mut issued = 0;
        while issued < count {
            let upto = (issued + BATCH).min(count);
            for _ in issued..upto {
                results.push(zk.exists_async(path, None));
            }
            issued = upto;
            settle(&zk)?;
        }
        let (secs, cost) = span.end(count, io_of(&zk));
        let heap1 = heap();
        let written = io_of(&zk).since(&io0).bytes_written;
        drop(frozen);
        let mut errors = 0;
        for r in results {
            match r.get(true, Some(WAIT)) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => errors += 1,
            }
        }
        zk.stop()?;
        Ok(MemRound {
            bytes: heap1.live_bytes - heap0.live_bytes,
            blocks: heap1.live_blocks - heap0.live_blocks,
            unsent: (frame * count as u64).saturating_sub(written),
            secs,
            cost,
            errors,
        })
    }

    /// `mem_watch`: K data watches on `w/0..K` and on K nodes with longer names, each set on
    /// a fresh client.
    fn mem_watch(&self, base: &str, opts: &Opts) -> Result<Measure> {
        let k = opts.watch_n;
        let short: Vec<String> = (0..k).map(|i| format!("{base}/w/{i}")).collect();
        let pad = "x".repeat(LONG_PAD);
        let long: Vec<String> = (0..k).map(|i| format!("{base}/wl/{pad}{i}")).collect();
        self.zk.ensure_path(&format!("{base}/wl"), None)?;
        let creates: Vec<_> = long
            .iter()
            .map(|p| self.zk.create_async(p, NullData, CreateOptions::default()))
            .collect();
        for c in creates {
            match c.get(true, Some(WAIT)) {
                Ok(_) => {}
                Err(e) if e.is_node_exists() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let s = self.mem_watch_round(base, &short, opts)?;
        let l = self.mem_watch_round(base, &long, opts)?;
        let len = |v: &[String]| v.iter().map(String::len).sum::<usize>();
        let mem = mem_figures(&s, &l, k, len(&short), len(&long) - len(&short));
        Ok(Measure {
            ops: k,
            secs: s.secs,
            window: Some(1),
            errors: s.errors + l.errors,
            cost: s.cost,
            mem: Some(mem),
            ..Measure::default()
        })
    }

    /// One `mem_watch` round: the heap growth from registering a data watch on each of
    /// `paths` on a fresh client, one at a time (so that no request table, buffer or queue
    /// grows with K: what grows is the watch state); then the watches are fired, and each
    /// must run once.
    fn mem_watch_round(&self, base: &str, paths: &[String], opts: &Opts) -> Result<MemRound> {
        let k = paths.len();
        let zk = new_client(&self.hosts, opts)?;
        // The first requests allocate what any later one finds in place. The input buffer
        // is replaced by a new one the first time it fills (64 KiB: the session's password,
        // a slice of the connect reply, keeps the first one alive): receive well over that
        // first, so the watch requests' replies do not cause it.
        for p in paths.iter().take(2) {
            zk.exists(p, None)?;
        }
        let g = format!("{base}/g");
        for _ in 0..200 {
            zk.get(&g, None)?;
        }
        let fired = Rc::new(Cell::new(0usize));
        let mut errors = 0;
        settle(&zk)?;
        let (heap0, io0) = (heap(), io_of(&zk));
        let span = Span::begin(self.server_pid, io0);
        for p in paths {
            let f = fired.clone();
            let r = zk.exists_async(p, Watcher::new(move |_| f.set(f.get() + 1)));
            match r.get(true, Some(WAIT)) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => errors += 1,
            }
        }
        settle(&zk)?;
        let (secs, cost) = span.end(k, io_of(&zk));
        let heap1 = heap();
        if zk.watch_count() != k {
            return Err(format!("{} of {k} watches registered", zk.watch_count()).into());
        }
        // Fire them: each must run once.
        let data = Bytes::from_static(b"m");
        let sets: Vec<_> = paths
            .iter()
            .map(|p| zk.set_async(p, data.clone(), None))
            .collect();
        for s in sets {
            if s.get(true, Some(WAIT)).is_err() {
                errors += 1;
            }
        }
        let f = fired.clone();
        zk.handler()
            .reactor()
            .run_until(&|| f.get() >= k, Some(WAIT))?;
        zk.stop()?;
        Ok(MemRound {
            bytes: heap1.live_bytes - heap0.live_bytes,
            blocks: heap1.live_blocks - heap0.live_blocks,
            unsent: 0,
            secs,
            cost,
            errors,
        })
    }

    /// Issues `n` requests with at most `window` outstanding, driving the loop with
    /// `poll_once` between completions; `issue(i)` starts request `i`.
    fn pipelined<T: Clone + 'static>(
        &self,
        n: usize,
        window: usize,
        mut issue: impl FnMut(usize) -> AsyncResult<T>,
        keep: Option<&mut dyn FnMut(T)>,
    ) -> Result<Measure> {
        // Values are only held when asked for (create_seq's paths): holding every reply
        // would grow the heap by N values and measure that instead of the client.
        let store = keep.is_some();
        let done = Rc::new(Cell::new(0usize));
        let errors = Rc::new(Cell::new(0usize));
        let lat: Rc<std::cell::RefCell<Vec<f64>>> =
            Rc::new(std::cell::RefCell::new(Vec::with_capacity(n)));
        let kept: Rc<std::cell::RefCell<Vec<T>>> = Rc::default();
        let span = Span::begin(self.server_pid, self.io());
        let start = span.start;
        let mut issued = 0;
        while done.get() < n {
            while issued < n && issued - done.get() < window {
                let t0 = Instant::now();
                let (d, e, l, k) = (done.clone(), errors.clone(), lat.clone(), kept.clone());
                issue(issued).rawlink(move |r| {
                    l.borrow_mut().push(t0.elapsed().as_secs_f64() * 1e6);
                    match r.take(false, None) {
                        Ok(v) if store => k.borrow_mut().push(v),
                        Ok(_) => {}
                        Err(_) => e.set(e.get() + 1),
                    }
                    d.set(d.get() + 1);
                });
                issued += 1;
            }
            self.zk.poll_once(Some(Duration::from_secs(1)))?;
            if start.elapsed() > WAIT {
                return Err(format!("{} of {n} requests done in {WAIT:?}", done.get()).into());
            }
        }
        let (secs, cost) = span.end(n, self.io());
        if let Some(keep) = keep {
            for v in kept.take() {
                keep(v);
            }
        }
        let (p50_us, p99_us) = percentiles(lat.take());
        Ok(Measure {
            ops: n,
            secs,
            p50_us,
            p99_us,
            window: Some(window),
            errors: errors.get(),
            cost,
            ..Measure::default()
        })
    }

    /// K one-shot data watches, fired by `fire`; R rounds; the median round.
    fn watches(&self, base: &str, opts: &Opts, multi: bool) -> Result<Measure> {
        let k = opts.watch_n;
        let mut rounds = Vec::new();
        let mut errors = 0;
        let mut cost = Cost::default();
        for round in 0..opts.watch_rounds {
            let fired = Rc::new(Cell::new(0usize));
            let gets: Vec<_> = (0..k)
                .map(|i| {
                    let f = fired.clone();
                    self.zk.get_async(
                        &format!("{base}/w/{i}"),
                        Watcher::new(move |_| f.set(f.get() + 1)),
                    )
                })
                .collect();
            for g in gets {
                g.get(true, Some(WAIT))?;
            }
            let data = Bytes::from(format!("round {round}"));
            let span = Span::begin(self.server_pid, self.io());
            let sets: Vec<AsyncResult<()>> = if multi {
                let mut tx = self.zk.transaction();
                for i in 0..k {
                    tx = tx.set_data(&format!("{base}/w/{i}"), &data, None);
                }
                let r = self.zk.handler().async_result::<()>();
                let r2 = r.clone();
                tx.commit_async().rawlink(move |c| {
                    let _ = r2.set_result(c.get_nowait().map(|_| ()));
                });
                vec![r]
            } else {
                (0..k)
                    .map(|i| {
                        let r = self.zk.handler().async_result::<()>();
                        let r2 = r.clone();
                        self.zk
                            .set_async(&format!("{base}/w/{i}"), data.clone(), None)
                            .rawlink(move |c| {
                                let _ = r2.set_result(c.get_nowait().map(|_| ()));
                            });
                        r
                    })
                    .collect()
            };
            let f = fired.clone();
            self.zk
                .handler()
                .reactor()
                .run_until(&|| f.get() >= k, Some(WAIT))?;
            let (secs, c) = span.end(k, self.io());
            cost.add(c);
            if fired.get() < k {
                return Err(format!("{} of {k} watches fired in {WAIT:?}", fired.get()).into());
            }
            for s in sets {
                if s.get(true, Some(WAIT)).is_err() {
                    errors += 1;
                }
            }
            rounds.push(secs);
        }
        Ok(watch_measure(k, rounds, errors, cost))
    }
}

/// `r` with its value dropped (for the mixed warm-up).
fn unit<T: Clone + 'static>(zk: &Client, r: AsyncResult<T>) -> AsyncResult<()> {
    let out = zk.handler().async_result::<()>();
    let o = out.clone();
    r.rawlink(move |r| {
        let _ = o.set_result(r.get_nowait().map(|_| ()));
    });
    out
}

pub(super) fn watch_measure(k: usize, mut rounds: Vec<f64>, errors: usize, cost: Cost) -> Measure {
    rounds.sort_by(f64::total_cmp);
    let median = rounds[rounds.len() / 2];
    let max = rounds[rounds.len() - 1];
    Measure {
        ops: k,
        secs: median,
        p50_us: Some(median * 1e6),
        p99_us: Some(max * 1e6),
        window: None,
        errors,
        cost,
        ..Measure::default()
    }
}

impl Bench for Ours {
    fn warmup(&mut self, base: &str, opts: &Opts) -> Result<()> {
        let (e, g, s) = (
            format!("{base}/e"),
            format!("{base}/g"),
            format!("{base}/s"),
        );
        let data = Bytes::from(vec![1u8; 1024]);
        self.pipelined(
            opts.warmup,
            opts.window,
            |i| match i % 3 {
                0 => unit(&self.zk, self.zk.exists_async(&e, None)),
                1 => unit(&self.zk, self.zk.get_async(&g, None)),
                _ => unit(&self.zk, self.zk.set_async(&s, data.clone(), None)),
            },
            None,
        )?;
        Ok(())
    }

    fn workload(
        &mut self,
        name: &str,
        base: &str,
        opts: &Opts,
        created: &mut Vec<String>,
    ) -> Result<Measure> {
        let zk = &self.zk;
        let (n, w) = (opts.n, opts.window);
        let e = format!("{base}/e");
        match name {
            "exists_all" => self.pipelined(n, n.max(1), |_| zk.exists_async(&e, None), None),
            "exists_w" => self.pipelined(n, w, |_| zk.exists_async(&e, None), None),
            "get_1k" => {
                let g = format!("{base}/g");
                self.pipelined(n, w, |_| zk.get_async(&g, None), None)
            }
            "create_seq" => {
                let p = format!("{base}/seq/n");
                let data = Bytes::from(vec![3u8; 100]);
                let opts = CreateOptions::mode(CreateMode::PersistentSequential);
                self.pipelined(
                    n,
                    w,
                    |_| zk.create_async(&p, data.clone(), &opts),
                    Some(&mut |(path, _)| created.push(path)),
                )
            }
            "delete" => {
                if created.len() < n {
                    fill_seq(zk, base, n - created.len(), created)?;
                }
                let paths: Vec<String> = created.drain(..n).collect();
                self.pipelined(n, w, |i| zk.delete_async(&paths[i], None), None)
            }
            "set_1k" => {
                let s = format!("{base}/s");
                let data = Bytes::from(vec![5u8; 1024]);
                self.pipelined(n, w, |_| zk.set_async(&s, data.clone(), None), None)
            }
            "exists_lat" => {
                let mut lat = Vec::with_capacity(opts.lat_n);
                let span = Span::begin(self.server_pid, self.io());
                for _ in 0..opts.lat_n {
                    let t0 = Instant::now();
                    zk.exists(&e, None)?;
                    lat.push(t0.elapsed().as_secs_f64() * 1e6);
                }
                let (secs, cost) = span.end(opts.lat_n, self.io());
                let (p50_us, p99_us) = percentiles(lat);
                Ok(Measure {
                    ops: opts.lat_n,
                    secs,
                    p50_us,
                    p99_us,
                    window: Some(1),
                    errors: 0,
                    cost,
                    ..Measure::default()
                })
            }
            "watch_multi" => self.watches(base, opts, true),
            "watch_sets" => self.watches(base, opts, false),
            "mem_request" => self.mem_request(base, opts),
            "mem_watch" => self.mem_watch(base, opts),
            other => Err(format!("unknown workload {other:?}").into()),
        }
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.zk.stop()?;
        Ok(())
    }
}

/// Creates `count` sequential nodes (untimed) for `delete` when `create_seq` did not run.
fn fill_seq(zk: &Client, base: &str, count: usize, created: &mut Vec<String>) -> Result<()> {
    let opts = CreateOptions::mode(CreateMode::PersistentSequential);
    let p = format!("{base}/seq/n");
    for chunk in (0..count).collect::<Vec<_>>().chunks(1000) {
        let rs: Vec<_> = chunk
            .iter()
            .map(|_| zk.create_async(&p, NullData, &opts))
            .collect();
        for r in rs {
            created.push(r.get(true, Some(WAIT))?.0);
        }
    }
    Ok(())
}
