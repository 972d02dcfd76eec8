//! Small helpers: temporary directories, free ports, log tails, config files.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::HarnessError;

/// Set to `1` (or anything but `0`/empty) to keep servers' directories (config, data, log)
/// after they are dropped.
pub(crate) const KEEP_LOGS_ENV: &str = "MIO_ZK_KEEP_LOGS";

/// A directory under [`env::temp_dir`] that is removed on drop, unless [`KEEP_LOGS_ENV`] is
/// set, in which case its path is printed to stderr.
#[derive(Debug)]
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/mio-zk-<label>-<pid>-<n>-<nanos>`.
    pub(crate) fn new(label: &str) -> Result<TempDir, HarnessError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let base = env::temp_dir();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = base.join(format!(
                "mio-zk-{label}-{}-{n}-{nanos:09}",
                std::process::id()
            ));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(HarnessError::io(
                        format!("creating temporary directory {}", path.display()),
                        e,
                    ))
                }
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if keep_logs() {
            eprintln!(
                "mio-zookeeper testing: kept ZooKeeper directory {} ({KEEP_LOGS_ENV} is set)",
                self.path.display()
            );
            return;
        }
        if let Err(e) = fs::remove_dir_all(&self.path) {
            log::warn!("could not remove {}: {e}", self.path.display());
        }
    }
}

fn keep_logs() -> bool {
    env::var_os(KEEP_LOGS_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// `n` distinct loopback ports that were free a moment ago.
///
/// All listeners are held open together, so the ports differ from each other; another
/// process may still take one before the server binds it, which the callers handle by
/// retrying with new ports when a server reports "Address already in use".
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>, HarnessError> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| HarnessError::io("binding 127.0.0.1:0 to find a free port", e))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| HarnessError::io("reading a listener's local address", e))
}

/// The loopback address with `port`.
pub(crate) fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Reads a file as (lossy) UTF-8; a missing or unreadable file reads as a short note.
pub(crate) fn read_lossy(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("<could not read {}: {e}>", path.display()),
    }
}

/// Like [`read_lossy`], from byte offset `from` on.
pub(crate) fn read_lossy_from(path: &Path, from: u64) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let start = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
            String::from_utf8_lossy(&bytes[start..]).into_owned()
        }
        Err(e) => format!("<could not read {}: {e}>", path.display()),
    }
}

/// A `key=value` config file. Later entries replace earlier ones with the same key, so user
/// settings override the harness's defaults while keeping their position.
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    entries: Vec<(String, String)>,
}

impl Config {
    pub(crate) fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::from("# Written by mio_zookeeper::testing.\n");
        for (k, v) in &self.entries {
            let _ = writeln!(out, "{k}={v}");
        }
        out
    }
}

/// Rejects keys and values that would break a `key=value` line (or a `-Dkey=value`
/// argument): empty keys, `=` in keys, line breaks anywhere.
pub(crate) fn check_entry(what: &str, key: &str, value: &str) -> Result<(), HarnessError> {
    let bad_key = key.trim().is_empty() || key.contains(['=', '\n', '\r']);
    if bad_key || value.contains(['\n', '\r']) {
        return Err(HarnessError::InvalidConfig {
            reason: format!(
                "{what} `{}`=`{}`: keys must be non-empty without `=`, and neither may contain \
                 a line break",
                key.escape_debug(),
                value.escape_debug()
            ),
        });
    }
    Ok(())
}

/// Writes `contents` to `path`.
pub(crate) fn write_file(path: &Path, contents: &str) -> Result<(), HarnessError> {
    fs::write(path, contents)
        .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))
}

/// Creates directory `path` (and parents).
pub(crate) fn create_dir(path: &Path) -> Result<(), HarnessError> {
    fs::create_dir_all(path)
        .map_err(|e| HarnessError::io(format!("creating directory {}", path.display()), e))
}

/// Accepts connections on a free `127.0.0.1` port, on a thread named `name`, until `stop`
/// says so; each is handed to `on_accept`, which returns the thread serving it, if any
/// (kept in `workers(shared)`, for the owner to join on drop). The test proxy and the fake
/// server share this loop. Returns the address and the acceptor thread.
pub(crate) fn spawn_acceptor<S: Send + Sync + 'static>(
    name: &str,
    shared: Arc<S>,
    stop: fn(&S) -> bool,
    workers: fn(&S) -> &Mutex<Vec<JoinHandle<()>>>,
    mut on_accept: impl FnMut(&Arc<S>, TcpStream) -> Option<JoinHandle<()>> + Send + 'static,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let acceptor = thread::Builder::new().name(name.into()).spawn(move || {
        while !stop(&shared) {
            match listener.accept() {
                Ok((stream, _)) => {
                    if let Some(worker) = on_accept(&shared, stream) {
                        workers(&shared)
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(worker);
                    }
                }
                Err(_) => thread::sleep(Duration::from_millis(2)),
            }
        }
    })?;
    Ok((addr, acceptor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_takes_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a\nb", 5), "a\nb");
        assert_eq!(tail("", 3), "");
    }

    #[test]
    fn config_overrides_keep_position() {
        let mut c = Config::default();
        c.set("tickTime", "500");
        c.set("dataDir", "/d");
        c.set("tickTime", "200");
        assert_eq!(
            c.render(),
            "# Written by mio_zookeeper::testing.\ntickTime=200\ndataDir=/d\n"
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(check_entry("cfg", "a", "b").is_ok());
        assert!(check_entry("cfg", "", "b").is_err());
        assert!(check_entry("cfg", "a=b", "c").is_err());
        assert!(check_entry("cfg", "a", "b\nc=d").is_err());
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(6).unwrap();
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 6);
    }

    #[test]
    fn temp_dirs_are_unique_and_removed() {
        let a = TempDir::new("unit").unwrap();
        let b = TempDir::new("unit").unwrap();
        assert_ne!(a.path(), b.path());
        let pa = a.path().to_path_buf();
        fs::write(pa.join("f"), "x").unwrap();
        drop(a);
        if !keep_logs() {
            assert!(!pa.exists());
        }
    }
}
