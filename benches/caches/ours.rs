//! The crate's two tree caches under test: loading a tree (time, memory, cost) and the time
//! from a change to the cache's event.

use mio_zookeeper::proto::{Request, SetDataRequest};
use mio_zookeeper::recipe::{CacheEvent, RecursiveCache, TreeCache};
use mio_zookeeper::testing::RawConnection;
use mio_zookeeper::MioHandler;

use super::*;

/// Which cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CacheKind {
    /// `recipe::RecursiveCache`: one persistent recursive watch, pipelined load.
    Recursive,
    /// `recipe::TreeCache`: kazoo's design, a watch per node.
    Tree,
}

impl CacheKind {
    pub(super) fn name(self) -> &'static str {
        match self {
            CacheKind::Recursive => "recursive_cache",
            CacheKind::Tree => "tree_cache",
        }
    }
}

/// What the bench needs of a cache.
trait Cache {
    fn start(&self, timeout: Option<Duration>) -> std::result::Result<(), mio_zookeeper::Error>;
    fn close(&self);
    fn len(&self) -> usize;
}

/// Opens a cache of `kind` on `path`, with `listener`; `Err(None)` when this build has no
/// such cache (kept for a build of the bench against a branch that lacks one).
fn open(
    kind: CacheKind,
    zk: &Client,
    path: &str,
    listener: impl Fn(&CacheEvent) + 'static,
) -> std::result::Result<Box<dyn Cache>, Option<Box<dyn StdError>>> {
    let cache: Box<dyn Cache> = match kind {
        CacheKind::Recursive => {
            let c = RecursiveCache::new(zk, path).map_err(|e| Some(e.into()))?;
            c.listen(listener);
            Box::new(c)
        }
        CacheKind::Tree => {
            let c = TreeCache::new(zk, path).map_err(|e| Some(e.into()))?;
            c.listen(listener);
            Box::new(c)
        }
    };
    Ok(cache)
}

/// Both caches have the same API; the bench calls it through [`Cache`].
macro_rules! impl_cache {
    ($($t:ident),*) => {$(
        impl Cache for $t<MioHandler> {
            fn start(
                &self,
                timeout: Option<Duration>,
            ) -> std::result::Result<(), mio_zookeeper::Error> {
                $t::start(self, timeout)
            }
            fn close(&self) {
                $t::close(self)
            }
            fn len(&self) -> usize {
                $t::len(self)
            }
        }
    )*};
}
impl_cache!(RecursiveCache, TreeCache);

/// What the listener saw: the node whose update is awaited, and when it came.
#[derive(Default)]
struct Probe {
    target: RefCell<Option<String>>,
    seen: Cell<Option<Instant>>,
}

impl Probe {
    fn listener(self: &Rc<Self>) -> impl Fn(&CacheEvent) + 'static {
        let probe = Rc::clone(self);
        move |e| {
            if let CacheEvent::NodeUpdated(node) = e {
                if probe.target.borrow().as_deref() == Some(node.path.as_str()) {
                    probe.seen.set(Some(Instant::now()));
                }
            }
        }
    }
}

/// One cache under test, on a client of its own.
pub(super) struct CacheBench {
    pub(super) kind: CacheKind,
    zk: Client,
    /// What the loads so far left live after their cache was closed and dropped (bytes):
    /// capacity the client's buffers and tables kept.
    retained: i64,
    probe: Rc<Probe>,
    /// Changes made so far: each change's data differs from the one before.
    round: usize,
}

/// The server's `mntr` figure `key`, if it answers.
fn mntr(zk: &ZkServer, key: &str) -> Option<u64> {
    let out = zk.four_letter("mntr").ok()?;
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
}

impl CacheBench {
    /// A fresh client with default settings on a loop of its own.
    pub(super) fn connect(kind: CacheKind, zk: &ZkServer) -> Result<CacheBench> {
        let client = Client::builder(&zk.connect_string())
            .session_timeout(SESSION_TIMEOUT)
            .handler(MioHandler::new()?)
            .build()?;
        client.start(Some(Duration::from_secs(30)))?;
        let c = CacheBench {
            kind,
            zk: client,
            retained: 0,
            probe: Rc::default(),
            round: 0,
        };
        c.settle()?;
        Ok(c)
    }

    /// Waits for the replies to every request sent (a read's reply comes after them), then
    /// runs the loop until it finds nothing to do.
    fn settle(&self) -> Result<()> {
        self.zk.exists("/", None)?;
        for _ in 0..100_000 {
            if !self.zk.poll_once(Some(Duration::ZERO))? {
                return Ok(());
            }
        }
        Err("the client's loop never went idle".into())
    }

    /// Settles after a cache's `close` until the client holds as many watchers as before
    /// the load (`watches`) and the heap stays the same over a settling: a cache may take
    /// its watches off a batch at a time, each batch sent when the one before is answered.
    fn settle_after_close(&self, watches: usize) -> Result<()> {
        let mut before = heap().live_bytes;
        for _ in 0..100_000 {
            self.settle()?;
            let now = heap().live_bytes;
            if now == before && self.zk.watch_count() <= watches {
                return Ok(());
            }
            before = now;
        }
        Err("the client never settled after the cache's close".into())
    }

    /// Loads `tree` with a new cache and closes it; times `new` + `start`. The last load
    /// (`last`) measures its memory and cost and the change-to-event latency.
    pub(super) fn load(
        &mut self,
        zk: &ZkServer,
        tree: &Tree,
        changes: usize,
        last: bool,
    ) -> Result<Load> {
        let n = tree.paths.len();
        self.settle()?;
        // Allocated before measuring: the latencies' vector is the bench's, not the cache's.
        let mut latency_us = Vec::with_capacity(if last { changes } else { 0 });
        let h0 = heap();
        let watches0 = self.zk.watch_count();
        let packets0 = mntr(zk, "zk_packets_received");
        let io0 = self.zk.handler().reactor().io_stats();
        let cpu0 = CpuMark::now(zk.pid());
        let t0 = Instant::now();
        let cache = match open(self.kind, &self.zk, &tree.root, self.probe.listener()) {
            Ok(c) => c,
            Err(None) => return Ok(Load::unavailable(self.kind)),
            Err(Some(e)) => return Err(e),
        };
        cache.start(Some(WAIT))?;
        let secs = t0.elapsed().as_secs_f64();
        let cpu = cpu0.per_node(zk.pid(), n);
        let allocs = heap().calls - h0.calls;
        let io = self.zk.handler().reactor().io_stats().since(&io0);
        let packets1 = mntr(zk, "zk_packets_received");
        self.settle()?;
        let h1 = heap();
        if cache.len() != n {
            return Err(
                format!("{}: {} nodes cached of {n}", self.kind.name(), cache.len()).into(),
            );
        }
        let mut load = Load {
            secs,
            ..Load::default()
        };
        if last {
            let server_watches = mntr(zk, "zk_watch_count");
            let client_watches = self.zk.watch_count();
            self.changes(zk, tree, changes, &mut latency_us)?;
            load.cost = Some(LoadCost {
                growth: h1.live_bytes - h0.live_bytes,
                blocks: h1.live_blocks - h0.live_blocks,
                retained: self.retained,
                left_after_close: 0,
                allocs,
                requests: packets0.zip(packets1).map(|(a, b)| b.saturating_sub(a)),
                bytes_read: io.bytes_read,
                server_watches,
                client_watches,
                cpu,
            });
        }
        cache.close();
        drop(cache);
        self.settle_after_close(watches0)?;
        let left = heap().live_bytes - h0.live_bytes;
        self.retained += left;
        log_left(self.kind, n, left);
        if let Some(c) = &mut load.cost {
            c.left_after_close = left;
        }
        load.latency_us = latency_us;
        Ok(load)
    }

    /// Sets the data of `count` nodes spread over `tree` one at a time, each timed until the
    /// cache reports its `NodeUpdated`; pushes the µs of each to `us`.
    fn changes(
        &mut self,
        zk: &ZkServer,
        tree: &Tree,
        count: usize,
        us: &mut Vec<f64>,
    ) -> Result<()> {
        let timeout_ms = i32::try_from(SESSION_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
        let mut raw = RawConnection::connect(zk.addr(), timeout_ms)?;
        let n = tree.paths.len();
        for k in 0..count {
            self.round += 1;
            let i = (k * 7919 + 1) % n;
            let path = &tree.paths[i];
            *self.probe.target.borrow_mut() = Some(path.clone());
            self.probe.seen.set(None);
            let req = Request::SetData(SetDataRequest {
                path: path.clone(),
                data: Some(Tree::data(i, self.round).into()),
                version: -1,
            });
            let t0 = Instant::now();
            raw.send(&req)?;
            let probe = Rc::clone(&self.probe);
            self.zk
                .run_until(
                    &|| probe.seen.get().is_some(),
                    Some(Duration::from_secs(30)),
                )
                .map_err(|e| format!("{}: no NodeUpdated for {path}: {e}", self.kind.name()))?;
            let seen = self.probe.seen.get().unwrap_or_else(Instant::now);
            us.push(seen.duration_since(t0).as_secs_f64() * 1e6);
            let reply = raw.recv()?;
            if !reply.header.err.is_ok() {
                return Err(format!("setData {path}: {:?}", reply.header.err).into());
            }
        }
        *self.probe.target.borrow_mut() = None;
        raw.close()?;
        Ok(())
    }

    pub(super) fn close(self) -> Result<()> {
        self.zk.stop()?;
        Ok(())
    }
}

/// Reports on stderr what a load left live after its cache was closed (when `BENCH_CACHES_VERBOSE` is set).
fn log_left(kind: CacheKind, n: usize, left: i64) {
    if std::env::var_os("BENCH_CACHES_VERBOSE").is_some() {
        eprintln!(
            "bench: {} on {n} nodes: {left} bytes live after close",
            kind.name()
        );
    }
}

/// One load of a cache.
#[derive(Debug, Clone, Default)]
pub(super) struct Load {
    /// `new` + `start` (NaN: no such cache in this build).
    pub(super) secs: f64,
    /// The last load's memory and cost.
    pub(super) cost: Option<LoadCost>,
    /// The change-to-event latencies (µs) measured after the last load.
    pub(super) latency_us: Vec<f64>,
    /// Why nothing was measured.
    pub(super) note: Option<String>,
}

impl Load {
    fn unavailable(kind: CacheKind) -> Load {
        Load {
            secs: f64::NAN,
            note: Some(format!(
                "not yet available: this build has no recipe::{}",
                match kind {
                    CacheKind::Recursive => "RecursiveCache",
                    CacheKind::Tree => "TreeCache",
                }
            )),
            ..Load::default()
        }
    }
}
