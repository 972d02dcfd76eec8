//! One result line: what one implementation measured on one tree, printed as JSON with every
//! field (null where meaningless).

use serde_json::json;

use super::*;

/// What a cache's last load cost (see the module docs of `main.rs` for each figure).
#[derive(Debug, Clone, Default)]
pub(super) struct LoadCost {
    /// Live heap growth over the load, settled (bytes).
    pub(super) growth: i64,
    /// Live heap blocks added by the load.
    pub(super) blocks: i64,
    /// What the warm-up loads left in the client, over its fresh heap (bytes).
    pub(super) retained: i64,
    /// Live heap after close, drop and settling, over before the load (bytes).
    pub(super) left_after_close: i64,
    /// Allocation calls during the load.
    pub(super) allocs: u64,
    /// Packets the server received over the load (`mntr`), if it answered.
    pub(super) requests: Option<u64>,
    /// Bytes the client's socket read over the load.
    pub(super) bytes_read: u64,
    /// The server's watch count after the load (`mntr`), if it answered.
    pub(super) server_watches: Option<u64>,
    /// `Client::watch_count` after the load.
    pub(super) client_watches: usize,
    /// The CPU the load took.
    pub(super) cpu: CpuPerNode,
}

/// One JSON line.
#[derive(Debug, Clone, Default)]
pub(super) struct Line {
    pub(super) imp: String,
    pub(super) workload: &'static str,
    pub(super) nodes: usize,
    /// Load: every run's seconds; latency: every change's µs.
    pub(super) runs: Vec<f64>,
    pub(super) cost: Option<LoadCost>,
    pub(super) data_bytes: u64,
    pub(super) path_bytes: u64,
    pub(super) rss_growth: Option<i64>,
    /// The CPU of the last load.
    pub(super) cpu: Option<CpuPerNode>,
    pub(super) errors: usize,
    pub(super) note: Option<String>,
}

impl Line {
    /// A load line with every run's seconds.
    pub(super) fn load(imp: &str, nodes: usize, runs: Vec<f64>) -> Line {
        Line {
            imp: imp.to_string(),
            workload: "load",
            nodes,
            runs,
            ..Line::default()
        }
    }

    /// A latency line with every change's µs.
    pub(super) fn latency(imp: &str, nodes: usize, us: Vec<f64>) -> Line {
        Line {
            imp: imp.to_string(),
            workload: "latency",
            nodes,
            runs: us,
            ..Line::default()
        }
    }

    /// A line that says why nothing was measured.
    pub(super) fn not_run(imp: &str, workload: &'static str, nodes: usize, why: &str) -> Line {
        Line {
            imp: imp.to_string(),
            workload,
            nodes,
            note: Some(why.to_string()),
            ..Line::default()
        }
    }

    /// Adds the memory and cost of the last load of `tree`.
    pub(super) fn with_cost(mut self, cost: LoadCost, tree: &Tree) -> Line {
        self.cpu = Some(cost.cpu);
        self.cost = Some(cost);
        self.data_bytes = tree.data_bytes;
        self.path_bytes = tree.path_bytes;
        self
    }

    pub(super) fn to_json(&self) -> Value {
        let n = self.nodes.max(1) as f64;
        let per = |v: f64| v / n;
        let (secs, p50, p99) = match self.workload {
            "load" => (self.runs.iter().copied().min_by(f64::total_cmp), None, None),
            _ if self.runs.is_empty() => (None, None, None),
            _ => {
                let (p50, p99) = percentiles(self.runs.clone());
                (Some(self.runs.iter().sum::<f64>() / 1e6), p50, p99)
            }
        };
        let c = self.cost.as_ref();
        let mem = |f: fn(&LoadCost) -> f64| c.map(|c| per(f(c)));
        let heap_total = mem(|c| c.growth as f64);
        let fields = [
            ("impl", json!(self.imp)),
            ("workload", json!(self.workload)),
            ("nodes", json!(self.nodes)),
            ("secs", json!(secs)),
            ("runs_secs", json!(self.runs_secs())),
            (
                "nodes_per_s",
                json!(secs.filter(|_| self.workload == "load").map(|s| n / s)),
            ),
            ("ratio_to_raw", Value::Null),
            ("ratio_to_raw_multi", Value::Null),
            ("ratio_to_kazoo", Value::Null),
            ("heap_total_bytes_per_node", json!(heap_total)),
            (
                "heap_bytes_per_node",
                json!(heap_total.map(|t| t - per((self.data_bytes + self.path_bytes) as f64))),
            ),
            (
                "data_bytes_per_node",
                json!(c.map(|_| per(self.data_bytes as f64))),
            ),
            (
                "path_bytes_per_node",
                json!(c.map(|_| per(self.path_bytes as f64))),
            ),
            ("live_allocs_per_node", json!(mem(|c| c.blocks as f64))),
            (
                "client_retained_bytes_per_node",
                json!(mem(|c| c.retained as f64)),
            ),
            (
                "heap_left_after_close_bytes",
                json!(c.map(|c| c.left_after_close)),
            ),
            (
                "rss_bytes_per_node",
                json!(self.rss_growth.map(|r| per(r as f64))),
            ),
            (
                "requests_per_node",
                json!(c.and_then(|c| c.requests).map(|r| per(r as f64))),
            ),
            ("bytes_read_per_node", json!(mem(|c| c.bytes_read as f64))),
            ("allocs_per_node", json!(mem(|c| c.allocs as f64))),
            (
                "client_cpu_us_per_node",
                json!(self.cpu.map(|c| c.client_us)),
            ),
            (
                "server_cpu_us_per_node",
                json!(self.cpu.and_then(|c| c.server_us)),
            ),
            ("server_watches", json!(c.and_then(|c| c.server_watches))),
            ("client_watches", json!(c.map(|c| c.client_watches))),
            (
                "changes",
                json!((self.workload == "latency").then_some(self.runs.len())),
            ),
            ("p50_us", json!(p50)),
            ("p99_us", json!(p99)),
            ("errors", json!(self.errors)),
            ("note", json!(self.note)),
        ];
        Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    fn runs_secs(&self) -> Option<&[f64]> {
        (self.workload == "load" && !self.runs.is_empty()).then_some(&self.runs[..])
    }
}

/// Sets, from the load lines of one tree, `ratio_to_raw` (secs over raw's: on every load
/// line but raw's, raw_multi's included), `ratio_to_raw_multi` (secs over raw_multi's: on
/// the caches' and kazoo's) and, on our caches' load lines, `ratio_to_kazoo` (secs over
/// kazoo's).
pub(super) fn set_ratios(lines: &mut [Value]) {
    let secs_of = |lines: &[Value], imp: &str| {
        lines
            .iter()
            .find(|l| l["impl"] == imp && l["workload"] == "load")
            .and_then(|l| l["secs"].as_f64())
    };
    let raw = secs_of(lines, "raw");
    let raw_multi = secs_of(lines, "raw_multi");
    let kazoo = secs_of(lines, "kazoo");
    for l in lines.iter_mut().filter(|l| l["workload"] == "load") {
        let Some(s) = l["secs"].as_f64() else {
            continue;
        };
        let is_raw = l["impl"] == "raw" || l["impl"] == "raw_multi";
        if l["impl"] != "raw" {
            l["ratio_to_raw"] = json!(raw.map(|r| s / r));
        }
        if !is_raw {
            l["ratio_to_raw_multi"] = json!(raw_multi.map(|r| s / r));
        }
        if !is_raw && l["impl"] != "kazoo" {
            l["ratio_to_kazoo"] = json!(kazoo.map(|k| s / k));
        }
    }
}
