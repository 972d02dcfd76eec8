//! The coordination recipes' benchmark (benches/recipes, `cargo bench --bench recipes`) run
//! in-process with tiny counts against a throwaway server: every workload gives its row
//! with plausible figures, the table prints them, and kazoo's rows are there when python3
//! imports kazoo.

#[allow(dead_code)]
#[path = "../benches/recipes/main.rs"]
mod bench;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn find<'a>(rows: &'a [bench::Row], workload: &str, who: &str) -> &'a bench::Row {
    rows.iter()
        .find(|r| r.workload == workload && r.who == who)
        .unwrap_or_else(|| panic!("no {workload} {who} row in {rows:#?}"))
}

#[test]
fn every_workload_gives_its_row_with_tiny_counts() {
    let opts = bench::Opts::parse(&args(&[
        "--cycles",
        "20",
        "--handoffs",
        "10",
        "--secs",
        "0.5",
        "--window",
        "8",
    ]))
    .expect("valid flags");
    let rows = bench::run(&opts).expect("the benchmark runs");
    let table = bench::table(&rows);
    for r in &rows {
        assert!(table.contains(r.workload), "{table}");
    }
    let rtt = find(&rows, "rtt", "raw");
    let rt = rtt.us.unwrap();
    assert!(rt > 0.0 && rtt.p99_us.unwrap() >= rt, "{rtt:?}");
    assert!(find(&rows, "exists_pipelined", "raw").us.unwrap() > 0.0);
    // Four requests a cycle (the first cycle's ensure_path adds a little).
    let cycle = find(&rows, "lock_cycle", "ours");
    let req = cycle.requests.unwrap();
    assert!((4.0..4.5).contains(&req), "{cycle:?}");
    assert!(cycle.us.unwrap() > 0.0, "{cycle:?}");
    let handoff = find(&rows, "lock_handoff", "ours");
    let (p50, p99) = (handoff.us.unwrap(), handoff.p99_us.unwrap());
    assert!(p50 > 0.0 && p99 >= p50, "{handoff:?}");
    let (u50, _) = handoff.rt_units.unwrap();
    assert!((u50 - p50 / rt).abs() < 1e-9, "{handoff:?}");
    for w in ["counter_4", "counter_4_pipelined"] {
        let c = find(&rows, w, "ours");
        assert!(c.per_s.unwrap() > 0.0, "{c:?}");
        assert!(c.note.contains("final value ok"), "{c:?}");
    }
    if bench::kazoo_importable() {
        let k = find(&rows, "lock_cycle", "kazoo");
        assert!(k.requests.unwrap() >= 3.0, "{k:?}");
        assert!(cycle.vs_kazoo.unwrap() > 0.0, "{cycle:?}");
        assert!(find(&rows, "lock_handoff", "kazoo").us.unwrap() > 0.0);
        let kc = find(&rows, "counter_4", "kazoo");
        assert!(kc.per_s.unwrap() > 0.0, "{kc:?}");
        assert!(find(&rows, "counter_4", "ours").vs_kazoo.unwrap() > 0.0);
    } else {
        eprintln!("SKIPPED the kazoo peer: python3 cannot import kazoo");
        assert!(rows.iter().all(|r| r.who != "kazoo"));
    }
}

#[test]
fn bad_flags_are_refused_and_the_bench_flag_dropped() {
    for bad in [
        &["--cycles"][..],
        &["--cycles", "0"],
        &["--handoffs", "x"],
        &["--secs", "0"],
        &["--secs", "-1"],
        &["--window", "0"],
        &["--kazoo", "maybe"],
        &["--frobnicate"],
    ] {
        assert!(bench::Opts::parse(&args(bad)).is_err(), "{bad:?} accepted");
    }
    let argv = args(&["recipes", "--cycles", "7", "--bench", "--kazoo", "off"]);
    let opts = bench::Opts::parse(&bench::flags(argv)).expect("valid flags");
    assert_eq!(opts.cycles, 7);
    assert_eq!(opts.kazoo, bench::KazooMode::Off);
}
