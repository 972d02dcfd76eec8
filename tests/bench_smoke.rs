//! examples/bench.rs run in-process with tiny sizes against a throwaway server, for both
//! clients: every workload prints one JSON line with every field, and did work.

#[allow(dead_code)]
#[path = "../examples/bench.rs"]
mod bench;

use serde_json::Value;

const FIELDS: &[&str] = &[
    "client",
    "workload",
    "ops",
    "secs",
    "ops_per_s",
    "p50_us",
    "p99_us",
    "window",
    "client_cpu_s",
    "client_user_us_per_op",
    "client_cpu_us_per_op",
    "server_cpu_s",
    "server_cpu_us_per_op",
];

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_workload_prints_a_json_line_for_both_clients() {
    let opts = bench::Opts::parse(&args(&[
        "--n",
        "200",
        "--window",
        "50",
        "--lat-n",
        "50",
        "--watch-n",
        "20",
        "--watch-rounds",
        "1",
        "--warmup",
        "50",
        "--client-name",
        "mio-zookeeper,raw",
    ]))
    .expect("valid flags");
    let lines = bench::run(&opts).expect("the benchmark runs");
    // Each workload in turn, run by each client in turn.
    let expected: Vec<(&str, &str)> = bench::ALL_WORKLOADS
        .iter()
        .flat_map(|w| ["mio-zookeeper", "raw"].map(|c| (c, *w)))
        .collect();
    assert_eq!(
        lines.len(),
        expected.len(),
        "one line per client and workload"
    );
    for (line, (client, workload)) in lines.iter().zip(expected) {
        // What was printed parses back as JSON.
        let printed: Value = serde_json::from_str(&line.to_string()).expect("a JSON line");
        for f in FIELDS {
            assert!(printed.get(f).is_some(), "{f} missing in {printed}");
        }
        assert_eq!(printed["client"], client, "{printed}");
        assert_eq!(printed["workload"], workload, "{printed}");
        let ops = printed["ops"].as_u64().expect("ops is a count");
        assert!(ops > 0, "{printed}");
        assert!(
            printed["ops_per_s"].as_f64().is_some_and(|v| v > 0.0),
            "{printed}"
        );
        assert!(
            printed["secs"].as_f64().is_some_and(|v| v > 0.0),
            "{printed}"
        );
        assert!(
            printed["p50_us"].as_f64().is_some_and(|v| v > 0.0),
            "{printed}"
        );
        // The throwaway server's pid is known: its CPU is measured.
        assert!(printed["server_cpu_s"].as_f64().is_some(), "{printed}");
        assert_eq!(printed["errors"], 0, "{printed}");
        let want_ops = match workload {
            "exists_lat" => 50,
            "watch_multi" | "watch_sets" => 20,
            _ => 200,
        };
        assert_eq!(ops, want_ops, "{printed}");
    }
}

#[test]
fn bad_flags_are_refused() {
    for bad in [
        &["--n"][..],
        &["--n", "many"],
        &["--workloads", "exists_all,nope"],
        &["--client-name", "kazoo"],
        &["--window", "0"],
        &["--prefix", "relative"],
        &["--frobnicate"],
    ] {
        assert!(bench::Opts::parse(&args(bad)).is_err(), "{bad:?} accepted");
    }
}
