//! The contention harness of `recipe_coordination_faults.rs`: our contenders (one client
//! each, in a thread of its own), kazoo's contenders (its own recipe classes), a shared
//! O_APPEND log of `enter ID` / `leave ID` / `expire ID` records and its checker.
#![allow(dead_code, unreachable_pub)]

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio_zookeeper::recipe::{Election, Lock, Semaphore};
use mio_zookeeper::testing::SeededRng;
use mio_zookeeper::{Client, Error};

/// The kazoo contender's code, exec'd in the agent.
pub const KAZOO_CONTENDER: &str = include_str!("kazoo_contender.py");

/// Which recipe the contenders share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Lock,
    Election,
    /// A [`Semaphore`] of [`LEASES`] leases.
    Semaphore,
}

/// The semaphore's leases.
pub const LEASES: u32 = 2;

impl Kind {
    pub fn py(self) -> &'static str {
        match self {
            Kind::Lock => "lock",
            Kind::Election => "election",
            Kind::Semaphore => "semaphore",
        }
    }

    /// The paths whose children are contender nodes: the recipe's, and the semaphore's
    /// internal lock.
    pub fn node_parents(self, path: &str) -> Vec<String> {
        match self {
            Kind::Lock | Kind::Election => vec![path.to_string()],
            Kind::Semaphore => vec![path.to_string(), format!("{path}-__lock__")],
        }
    }
}

/// What one of our contenders is to do.
#[derive(Clone, Debug)]
pub struct Plan {
    pub id: String,
    pub kind: Kind,
    pub hosts: String,
    pub path: String,
    pub log: PathBuf,
    pub session_timeout: Duration,
    pub acquire_timeout: Duration,
    pub hold: Duration,
    pub run_for: Duration,
    /// Expire our own session (through this server address) while holding, at this round.
    pub expire_at: Option<(usize, SocketAddr)>,
    /// Seeds the per-round choices: a third of the acquires get a short deadline (10 to
    /// 100 ms, so that some time out while queued: their node must still be cleaned up),
    /// and the hold varies between `hold` and twice it.
    pub seed: u64,
}

/// What one of our contenders saw.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub id: String,
    pub rounds: usize,
    pub timeouts: usize,
    /// How far past its deadline the latest acquire returned (zero if none was late).
    pub worst_late: Duration,
    /// The longest acquire that succeeded.
    pub longest: Duration,
    /// Errors other than a timeout, from acquire or release.
    pub errors: Vec<String>,
    /// How many times `on_lost` ran, and whether we expired our session while holding.
    pub lost_calls: usize,
    pub expired_while_holding: bool,
    /// Our session when the rounds ended.
    pub session: i64,
}

/// One of ours behind a common face: acquire (deadline), hold (the closure), release.
pub enum Ours {
    Lock(Lock),
    Election(Election),
    Semaphore(Semaphore),
}

impl Ours {
    pub fn new(kind: Kind, c: &Client, path: &str, id: &str) -> Ours {
        match kind {
            Kind::Lock => Ours::Lock(Lock::new(c, path, id).unwrap()),
            Kind::Election => Ours::Election(Election::new(c, path, id).unwrap()),
            Kind::Semaphore => Ours::Semaphore(Semaphore::new(c, path, id, LEASES).unwrap()),
        }
    }

    /// How many of these the checker takes to hold the recipe against everyone.
    pub fn to_hold_all(kind: Kind) -> usize {
        match kind {
            Kind::Lock | Kind::Election => 1,
            Kind::Semaphore => LEASES as usize,
        }
    }

    /// Acquires (campaigns) and holds, giving up after `t`.
    pub fn acquire(&self, t: Duration) -> Result<(), Error> {
        match self {
            Ours::Lock(l) => l.acquire(Some(t)),
            Ours::Semaphore(l) => l.acquire(Some(t)),
            Ours::Election(e) => {
                let r = e.campaign_async().get(true, Some(t));
                if r.is_err() {
                    e.cancel();
                }
                r
            }
        }
    }

    pub fn release(&self) -> Result<(), Error> {
        match self {
            Ours::Lock(l) => l.release(),
            Ours::Semaphore(l) => l.release(),
            Ours::Election(e) => e.resign(),
        }
    }

    fn on_lost(&self, f: impl Fn() + 'static) {
        match self {
            Ours::Lock(x) => x.on_lost(move |_| f()),
            Ours::Election(x) => x.on_lost(move |_| f()),
            Ours::Semaphore(x) => x.on_lost(move |_| f()),
        }
    }

    fn is_held(&self) -> bool {
        match self {
            Ours::Lock(l) => l.is_held(),
            Ours::Election(e) => e.is_leader(),
            Ours::Semaphore(l) => l.is_held(),
        }
    }

    /// One round: acquire within `t`, run `work`, release.
    fn round(&self, t: Duration, work: impl FnOnce()) -> Result<(), Error> {
        match self {
            Ours::Lock(l) => {
                l.acquire(Some(t))?;
                work();
                l.release()
            }
            Ours::Election(e) => e.run(work, Some(t)),
            Ours::Semaphore(l) => {
                l.acquire(Some(t))?;
                work();
                l.release()
            }
        }
    }
}

fn append(log: &Path, line: &str) {
    let mut f = OpenOptions::new().append(true).open(log).unwrap();
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

/// Where the scenario is: our contenders' rounds, then (once the test holds the recipe
/// itself) one last acquire each that must time out, then the test checks the nodes.
pub const ROUNDS: usize = 0;
pub const FINAL_ACQUIRE: usize = 1;
pub const CHECKED: usize = 2;

/// Runs one of our contenders in this thread: rounds for `plan.run_for` (then its stats on
/// `done`); at [`FINAL_ACQUIRE`], one acquire (50 ms) that must time out, as the test holds
/// the recipe (its stats again on `done`); its client's loop keeps running (background
/// cleanups go on) until [`CHECKED`], then the client is closed.
pub fn our_contender(plan: Plan, done: Sender<Stats>, phase: Arc<AtomicUsize>) {
    let c = Client::builder(&plan.hosts)
        .session_timeout(plan.session_timeout)
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .build()
        .unwrap();
    c.start(Some(Duration::from_secs(30))).unwrap();
    let ours = Ours::new(plan.kind, &c, &plan.path, &plan.id);
    let lost = Rc::new(Cell::new(0usize));
    let l = lost.clone();
    ours.on_lost(move || l.set(l.get() + 1));
    let mut st = Stats {
        id: plan.id.clone(),
        ..Stats::default()
    };
    let baseline = (c.watch_count(), c.listener_count());
    let mut rng = SeededRng::new(plan.seed);
    let start = Instant::now();
    while start.elapsed() < plan.run_for {
        let timeout = if rng.chance(33) {
            rng.duration_between(Duration::from_millis(10), Duration::from_millis(100))
        } else {
            plan.acquire_timeout
        };
        let hold = rng.duration_between(plan.hold, plan.hold * 2);
        let t0 = Instant::now();
        let expire_now = plan
            .expire_at
            .filter(|(at, _)| st.rounds + 1 == *at && !st.expired_while_holding);
        let mut acquired_at = None;
        let mut expired = false;
        let r = ours.round(timeout, || {
            acquired_at = Some(t0.elapsed());
            append(&plan.log, &format!("enter {}", plan.id));
            if let Some((_, server)) = expire_now {
                append(&plan.log, &format!("expire {}", plan.id));
                crate::faults_support::expire_session(server, &c);
                c.run_until(&|| !ours.is_held(), Some(Duration::from_secs(30)))
                    .expect("the holder learns its session expired");
                expired = true;
                return;
            }
            c.sleep(hold).unwrap();
            if ours.is_held() {
                append(&plan.log, &format!("leave {}", plan.id));
            }
        });
        let took = acquired_at.unwrap_or_else(|| t0.elapsed());
        st.worst_late = st.worst_late.max(took.saturating_sub(timeout));
        if acquired_at.is_some() {
            st.longest = st.longest.max(took);
        }
        st.expired_while_holding |= expired;
        match r {
            Ok(()) => st.rounds += 1,
            Err(Error::Timeout) if acquired_at.is_none() => st.timeouts += 1,
            Err(e) => st.errors.push(format!("round {}: {e}", st.rounds + 1)),
        }
    }
    st.session = c.client_id().map_or(0, |(id, _)| id);
    done.send(st.clone()).unwrap();
    while phase.load(Ordering::SeqCst) < FINAL_ACQUIRE {
        c.sleep(Duration::from_millis(20)).unwrap();
    }
    // The test holds it: this one times out, and its node must go all the same (#732).
    match ours.round(Duration::from_millis(50), || {}) {
        Err(Error::Timeout) => {}
        other => st
            .errors
            .push(format!("the last acquire: {other:?}, not a timeout")),
    }
    // Finished waits leave no watcher and no listener behind (kazoo #175), cuts or not.
    let clean = || (c.watch_count(), c.listener_count()) == baseline;
    if c.run_until(&clean, Some(Duration::from_secs(20))).is_err() {
        st.errors.push(format!(
            "left behind: (watches, listeners) {:?}, {baseline:?} before",
            (c.watch_count(), c.listener_count())
        ));
    }
    st.lost_calls = lost.get();
    done.send(st).unwrap();
    while phase.load(Ordering::SeqCst) < CHECKED {
        c.sleep(Duration::from_millis(50)).unwrap();
    }
    drop(ours);
    let _ = c.close();
}

/// The checker: at most `max` holders between an `enter` and that holder's `leave` or
/// `expire`. Returns the number of `enter` records, or what went wrong (with the context).
pub fn check_log(log: &str, max: usize) -> Result<usize, String> {
    let mut holders = BTreeSet::new();
    let mut enters = 0;
    let lines: Vec<&str> = log.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let (what, id) = line
            .split_once(' ')
            .ok_or_else(|| format!("line {}: malformed {line:?}", i + 1))?;
        match what {
            "enter" => {
                enters += 1;
                if holders.len() >= max || holders.contains(id) {
                    let from = i.saturating_sub(8);
                    return Err(format!(
                        "line {}: {id} entered while {holders:?} held (at most {max}):\n{}",
                        i + 1,
                        lines[from..=i].join("\n")
                    ));
                }
                holders.insert(id.to_string());
            }
            "leave" | "expire" => {
                holders.remove(id);
            }
            _ => return Err(format!("line {}: malformed {line:?}", i + 1)),
        }
    }
    Ok(enters)
}

/// A fresh empty log file for a scenario.
pub fn new_log(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!(
        "mzk-coord-faults-{}-{name}.log",
        std::process::id()
    ));
    std::fs::write(&p, b"").unwrap();
    p
}

/// The seed of this run: `MZK_SEED` if set, else from the clock (printed by the caller).
pub fn seed() -> u64 {
    std::env::var("MZK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                % 1_000_000
        })
}

#[test]
fn the_checker_finds_two_holders_and_accepts_hand_overs() {
    assert_eq!(
        check_log("enter a\nleave a\nenter b\nexpire b\nenter a\n", 1),
        Ok(3)
    );
    assert!(check_log("enter a\nenter b\nleave a\n", 1).is_err());
    assert_eq!(check_log("enter a\nenter b\nleave a\nenter c\n", 2), Ok(3));
    assert!(check_log("enter a\nenter b\nenter c\n", 2).is_err());
    assert!(check_log("enter a\nenter a\n", 2).is_err());
}
