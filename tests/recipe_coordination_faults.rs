//! Lock, Election and Semaphore (2 leases) under faults (issue #13 §4), against real
//! servers: three of our contenders (each its own client, behind its own chaos proxy
//! cutting at random) and two kazoo contenders (kazoo's own recipe classes) take turns on
//! one path; every holder appends `enter`/`leave` to one shared O_APPEND log, and the test
//! appends `expire` right before it expires one of our sessions while it holds. Checked:
//! never more holders than the recipe allows, every acquire returned by its deadline (plus
//! slack), no watcher or listener left on our clients, no contender node (lease, internal
//! lock node) left once everyone stopped, even from a last acquire of each of ours that
//! times out against the test's own hold; each contender took turns. And Lock on a 3-node
//! ensemble whose leader is stopped and started again. Seeds are printed; set `MZK_SEED`
//! to replay the cut timings and the rounds' choices.

#[path = "coordination_faults_support/mod.rs"]
mod coordination_faults_support;
#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "kazoo_support/mod.rs"]
mod kazoo_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coordination_faults_support::*;
use kazoo_support::Kazoo;
use mio_zookeeper::testing::{Proxy, RandomCuts, ZkEnsemble, ZkServer};
use mio_zookeeper::Client;

/// How late past its deadline an acquire may return on 2 busy cores.
const SLACK: Duration = Duration::from_secs(5);

struct Scenario {
    name: &'static str,
    kind: Kind,
    path: &'static str,
    max_holders: usize,
    /// Connect strings of our three contenders (proxies, or the ensemble).
    ours: Vec<String>,
    /// Where kazoo and the checking client connect.
    direct: String,
    /// Expire contender 0's session through this address, while it holds its 2nd turn.
    expire_via: Option<SocketAddr>,
    session_timeout: Duration,
    acquire_timeout: Duration,
    run_for: Duration,
    seed: u64,
}

/// Runs the contenders; `during` runs on this thread meanwhile (faults), given the checking
/// client. Returns our stats.
fn run(sc: Scenario, during: impl FnOnce(&Client)) -> Vec<Stats> {
    let log = new_log(sc.name);
    let checker = faults_support::start_client(&sc.direct, Duration::from_secs(10));
    let phase = Arc::new(AtomicUsize::new(ROUNDS));
    let (tx, rx) = channel();
    let mut threads = Vec::new();
    for (i, hosts) in sc.ours.iter().enumerate() {
        let plan = Plan {
            id: format!("ours{i}"),
            kind: sc.kind,
            hosts: hosts.clone(),
            path: sc.path.to_string(),
            log: log.clone(),
            session_timeout: sc.session_timeout,
            acquire_timeout: sc.acquire_timeout,
            hold: Duration::from_millis(5 + 3 * i as u64),
            run_for: sc.run_for,
            expire_at: sc.expire_via.filter(|_| i == 0).map(|a| (2, a)),
            seed: sc.seed + 100 + i as u64,
        };
        let (tx, phase) = (tx.clone(), phase.clone());
        threads.push(std::thread::spawn(move || our_contender(plan, tx, phase)));
    }
    drop(tx); // a contender that panicked ends the wait below at once
    let mut kazoos = Vec::new();
    for k in 0..2 {
        let Some(mut kz) = Kazoo::start(&sc.direct) else {
            break;
        };
        kz.exec(KAZOO_CONTENDER);
        kz.exec(&format!(
            "spawn(contend, {:?}, {:?}, 'kazoo{k}', {:?}, {}, 0.005, {}, {})",
            sc.kind.py(),
            sc.path,
            log.to_str().unwrap(),
            sc.acquire_timeout.as_secs_f64(),
            sc.max_holders,
            sc.seed + k,
        ));
        kazoos.push(kz);
    }
    during(&checker);
    let receive = |what: &str| {
        let mut stats: Vec<Stats> = (0..sc.ours.len())
            .map(|_| {
                rx.recv_timeout(sc.run_for + Duration::from_secs(120))
                    .unwrap_or_else(|e| panic!("{}: {what} ({e}; a panic above?)", sc.name))
            })
            .collect();
        stats.sort_by(|a, b| a.id.cmp(&b.id));
        stats
    };
    let sessions: Vec<(String, String)> = receive("our contenders finish their rounds")
        .into_iter()
        .map(|s| (s.id, format!("{:#x}", s.session)))
        .collect();
    for kz in &mut kazoos {
        kz.exec("stop[0] = True");
    }
    let kazoo_done: Vec<serde_json::Value> = kazoos
        .iter_mut()
        .map(|kz| {
            kz.event(kazoo_support::KAZOO_WAIT).unwrap_or_else(|| {
                let stacks = kz.exec(
                    "import sys, traceback\n_ = [''.join(traceback.format_stack(f)) \
                     for f in sys._current_frames().values()]",
                );
                panic!(
                    "{}: a kazoo contender did not stop; the nodes: {}; our sessions \
                     {sessions:?}; kazoo's threads:\n{}",
                    sc.name,
                    describe_nodes(&checker, &sc),
                    stacks
                        .as_array()
                        .map(|a| a
                            .iter()
                            .filter_map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join("\n--\n"))
                        .unwrap_or_default()
                )
            })
        })
        .collect();
    // Everyone stopped. The test takes the recipe, and each of ours tries once more in
    // vain: its node, made while the cuts go on, must be cleaned up all the same.
    let holds: Vec<Ours> = (0..Ours::to_hold_all(sc.kind))
        .map(|i| Ours::new(sc.kind, &checker, sc.path, &format!("checker{i}")))
        .collect();
    for h in &holds {
        if let Err(e) = h.acquire(Duration::from_secs(30)) {
            panic!(
                "{}: the test cannot take the recipe once everyone stopped ({e}): nodes left \
                 behind? {}; our sessions {sessions:?}",
                sc.name,
                describe_nodes(&checker, &sc)
            );
        }
    }
    phase.store(FINAL_ACQUIRE, Ordering::SeqCst);
    let stats = receive("our last acquires");
    for h in &holds {
        h.release().unwrap();
    }
    // Everyone stopped: no contender node is left (ours keep their loops running, so their
    // background cleanups go on, but nothing closed a session yet).
    let deadline = Instant::now() + Duration::from_secs(20);
    let left = loop {
        let left: Vec<String> = sc
            .kind
            .node_parents(sc.path)
            .iter()
            .flat_map(|p| checker.get_children(p, None).unwrap_or_default())
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            break left;
        }
        checker.sleep(Duration::from_millis(100)).unwrap();
    };
    phase.store(CHECKED, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let enters = check_log(&text, sc.max_holders).unwrap_or_else(|e| panic!("{}: {e}", sc.name));
    let worst = stats.iter().map(|s| s.worst_late).max().unwrap_or_default();
    eprintln!(
        "{}: seed {}, {enters} turns in all, worst acquire lateness {worst:?}, ours (id, turns, timeouts, longest acquire, lateness, lost) {:?}",
        sc.name,
        sc.seed,
        stats
            .iter()
            .map(|s| (s.id.as_str(), s.rounds, s.timeouts, s.longest, s.worst_late, s.lost_calls))
            .collect::<Vec<_>>()
    );
    assert!(
        left.is_empty(),
        "{}: contender nodes left behind: {left:?}: {}; our sessions {sessions:?}, kazoo's {:?}",
        sc.name,
        describe_nodes(&checker, &sc),
        kazoos
            .iter()
            .map(|k| format!("{:#x}", k.session_id))
            .collect::<Vec<_>>()
    );
    for ev in &kazoo_done {
        eprintln!("{}: kazoo {ev}", sc.name);
        assert!(
            ev["rounds"].as_u64().unwrap() >= 1,
            "{}: kazoo took no turn: {ev}",
            sc.name
        );
    }
    for s in &stats {
        assert!(
            s.errors.is_empty(),
            "{}: {} failed: {:?}",
            sc.name,
            s.id,
            s.errors
        );
        assert!(
            s.rounds >= 1,
            "{}: {} never took a turn: {s:?}",
            sc.name,
            s.id
        );
        assert!(
            s.worst_late <= SLACK,
            "{}: {} returned {:?} past its deadline",
            sc.name,
            s.id,
            s.worst_late
        );
    }
    stats
}

/// The contender nodes of `sc` with their data (the contender's id) and owner session.
fn describe_nodes(c: &Client, sc: &Scenario) -> String {
    let mut out = Vec::new();
    for p in sc.kind.node_parents(sc.path) {
        for n in c.get_children(&p, None).unwrap_or_default() {
            let full = format!("{p}/{n}");
            let got = c.get(&full, None).ok();
            out.push(format!(
                "{full} = {:?} (owner {:#x})",
                got.as_ref().map(|(d, _)| String::from_utf8_lossy(
                    d.as_deref().unwrap_or_default()
                )
                .into_owned()),
                got.map_or(0, |(_, st)| st.ephemeral_owner)
            ));
        }
    }
    out.join("; ")
}

/// A single server, our three behind random-cut proxies, one of our sessions expired while
/// it holds.
fn under_cuts(name: &'static str, kind: Kind, path: &'static str, max_holders: usize) {
    let zk = ZkServer::start().unwrap();
    let seed = seed();
    let proxies: Vec<Proxy> = (0..3).map(|_| Proxy::start(zk.addr()).unwrap()).collect();
    let sc = Scenario {
        name,
        kind,
        path,
        max_holders,
        ours: proxies.iter().map(|p| p.connect_string()).collect(),
        direct: zk.connect_string(),
        expire_via: Some(zk.addr()),
        session_timeout: Duration::from_secs(6),
        acquire_timeout: Duration::from_secs(2),
        run_for: Duration::from_secs(12),
        seed,
    };
    for (i, p) in proxies.iter().enumerate() {
        p.start_random_cuts(
            RandomCuts::new(seed + 10 + i as u64)
                .every(Duration::from_millis(50), Duration::from_millis(300))
                .mid_frame(30, 512),
        )
        .unwrap();
    }
    let stats = run(sc, |_| {});
    for p in &proxies {
        p.stop_random_cuts();
    }
    let cuts: usize = proxies.iter().map(|p| p.cuts()).sum();
    eprintln!("{name}: {cuts} cuts");
    assert!(cuts >= 3, "{name}: the proxies cut ({cuts})");
    assert!(
        stats[0].expired_while_holding,
        "{name}: ours0's session expired while it held"
    );
    assert!(
        stats[0].lost_calls >= 1,
        "{name}: ours0 was told it lost the lock"
    );
    assert!(
        stats[0].rounds >= 3,
        "{name}: ours0 took turns on its new session: {:?}",
        stats[0]
    );
    for s in &stats[1..] {
        assert_eq!(
            s.lost_calls, 0,
            "{name}: {} lost a turn it never gave up",
            s.id
        );
    }
}

#[test]
fn lock_under_cuts_and_an_expiry_never_has_two_holders() {
    under_cuts("lock", Kind::Lock, "/faults/lock", 1);
}

#[test]
fn election_under_cuts_and_an_expiry_never_has_two_leaders() {
    under_cuts("election", Kind::Election, "/faults/election", 1);
}

#[test]
fn semaphore_under_cuts_and_an_expiry_never_exceeds_its_leases() {
    under_cuts(
        "semaphore",
        Kind::Semaphore,
        "/faults/semaphore",
        LEASES as usize,
    );
}

#[test]
fn lock_on_an_ensemble_losing_its_leader_never_has_two_holders() {
    let mut ens = ZkEnsemble::start(3).unwrap();
    let seed = seed();
    let hosts = ens.connect_string();
    let sc = Scenario {
        name: "ensemble lock",
        kind: Kind::Lock,
        path: "/faults/ens-lock",
        max_holders: 1,
        ours: vec![hosts.clone(); 3],
        direct: hosts,
        expire_via: None,
        session_timeout: Duration::from_secs(10),
        acquire_timeout: Duration::from_secs(3),
        run_for: Duration::from_secs(14),
        seed,
    };
    run(sc, |c| {
        c.sleep(Duration::from_secs(3)).unwrap();
        let leader = ens.wait_for_leader().unwrap();
        eprintln!("ensemble lock: stopping the leader, server {leader}");
        ens.stop(leader).unwrap();
        c.sleep(Duration::from_secs(4)).unwrap();
        ens.start_again(leader).unwrap();
        ens.wait_serving(leader).unwrap();
    });
}
