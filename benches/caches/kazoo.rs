//! The peer: kazoo's `TreeCache` loading the same tree, timed by a python script
//! (`kazoo_tree_cache.py`) that the bench runs with `python3`.

use std::io::Read;
use std::process::{Command, Stdio};

use super::*;

/// The script, passed to `python3 -c`.
const SCRIPT: &str = include_str!("kazoo_tree_cache.py");

/// Whether `python3` imports kazoo.
pub(super) fn importable() -> bool {
    Command::new("python3")
        .args(["-c", "import kazoo.recipe.cache"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kazoo's load of `tree`: its line (a "not run" line with the reason when it is off, the
/// tree is over `--kazoo-max-nodes`, or the script failed or ran out of time).
pub(super) fn load(zk: &ZkServer, tree: &Tree, opts: &Opts, on: bool) -> Line {
    let n = tree.paths.len();
    if !on {
        let why = match opts.kazoo {
            KazooMode::Off => "not run: --kazoo off",
            _ => "not run: python3 cannot import kazoo",
        };
        return Line::not_run("kazoo", "load", n, why);
    }
    if n > opts.kazoo_max_nodes {
        let why = format!("not run: over --kazoo-max-nodes {}", opts.kazoo_max_nodes);
        return Line::not_run("kazoo", "load", n, &why);
    }
    match run_script(zk, tree, opts.kazoo_timeout) {
        Ok(line) => line,
        Err(e) => {
            eprintln!("bench: kazoo on {n} nodes: {e}");
            let mut line = Line::not_run("kazoo", "load", n, &format!("not measured: {e}"));
            line.errors = 1;
            line
        }
    }
}

fn run_script(zk: &ZkServer, tree: &Tree, timeout: Duration) -> Result<Line> {
    let n = tree.paths.len();
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(zk.connect_string())
        .arg(&tree.root)
        .arg(n.to_string())
        .arg(timeout.as_secs().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Its diagnostics go to the bench's stderr (a pipe nobody reads could fill up).
        .stderr(Stdio::inherit())
        .spawn()?;
    let start = Instant::now();
    // The script waits for INITIALIZED at most `timeout` itself; this is the backstop.
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if start.elapsed() > timeout + Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("did not finish in {} s", timeout.as_secs()).into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_string(&mut stdout)?;
    }
    if !status.success() {
        return Err(match status.code() {
            Some(3) => format!("no INITIALIZED within {} s", timeout.as_secs()),
            _ => format!("the script failed ({status}; its stderr is above)"),
        }
        .into());
    }
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .map_err(|e| format!("the script's output {stdout:?}: {e}"))?;
    let secs = v["secs"].as_f64().ok_or("the script gave no secs")?;
    let mut line = Line::load("kazoo", n, vec![secs]);
    line.rss_growth = v["rss_growth_bytes"].as_i64();
    line.note = Some(format!("kazoo {}", v["kazoo"].as_str().unwrap_or("?")));
    let added = v["nodes"].as_u64().unwrap_or(0);
    if added != n as u64 {
        line.errors = 1;
        line.note = Some(format!("kazoo reported {added} nodes of {n}"));
    }
    Ok(line)
}
