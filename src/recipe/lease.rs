//! [`NonBlockingLease`] and [`MultiNonBlockingLease`]: kazoo's leases, on kazoo's wire
//! format (a JSON record in `path/lease_holder`, written under a [`Lock`] on `path`).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::base::instant_after;
use super::error::RecipeError;
use super::lock::Lock;
use crate::handler::Handler;
use crate::{AsyncResult, Client, CreateMode, Error};

/// The wait for the lease's lock when the caller gives none (kazoo waits forever).
pub const DEFAULT_LEASE_TIMEOUT: Duration = Duration::from_secs(30);

/// kazoo's `NonBlockingLease`: an exclusive lease on `path` for `duration`, decided at
/// once (no waiting for the holder). The same identifier renews its own lease; another
/// one takes it over only after its end. kazoo decides in the constructor and the object
/// is truthy if obtained; here [`acquire`](Self::acquire) returns whether the lease is
/// ours.
///
/// **On the wire (kazoo's, exactly):** `path` is created as kazoo's `ensure_path` does;
/// a kazoo [`Lock`] on `path` itself (nodes `<uuid hex>__lock__<seq>` beside the record)
/// serializes the deciders; the record is the persistent node `path/lease_holder` holding
/// `{"version": 1, "holder": "<identifier>", "end": "YYYY-MM-DDTHH:MM:SS"}` (Python's
/// `json.dumps` bytes, the end in UTC from this client's clock, truncated to seconds), so
/// kazoo's lease and this one exclude each other. As kazoo says: the clients' clocks must
/// be roughly synchronised; skew lengthens or shortens leases.
///
/// **Where it differs:** the lock is waited for at most `timeout` (kazoo waits forever),
/// and that deadline covers the whole decision ([`Error::Timeout`]); a record that is
/// not kazoo's JSON is [`RecipeError::BadData`] (kazoo raises a JSON error); a record of
/// another version is left alone (not ours, as kazoo).
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let zk = mio_zookeeper::Client::new(&server.connect_string())?;
/// # zk.start(None)?;
/// use std::time::Duration;
/// use mio_zookeeper::recipe::NonBlockingLease;
///
/// let hour = Duration::from_secs(3600);
/// assert!(NonBlockingLease::acquire(&zk, "/leases/cleanup", hour, Some("host-a"), None)?);
/// assert!(!NonBlockingLease::acquire(&zk, "/leases/cleanup", hour, Some("host-b"), None)?);
/// assert!(NonBlockingLease::acquire(&zk, "/leases/cleanup", hour, Some("host-a"), None)?); // renewed
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct NonBlockingLease;

impl NonBlockingLease {
    /// Tries to take (or renew) the lease on `path` until `duration` from now, as
    /// `identifier` (`None`: this host's name, as kazoo), waiting at most `timeout`
    /// (`None`: [`DEFAULT_LEASE_TIMEOUT`]) for the lease's lock. Resolves to whether the
    /// lease is ours.
    pub fn acquire_async<H: Handler>(
        client: &Client<H>,
        path: &str,
        duration: Duration,
        identifier: Option<&str>,
        timeout: Option<Duration>,
    ) -> AsyncResult<bool> {
        let deadline = instant_after(
            &*client.handler().event_loop(),
            timeout.unwrap_or(DEFAULT_LEASE_TIMEOUT),
        );
        let ident = identifier.map_or_else(host_name, str::to_string);
        attempt(client, path, duration, ident, deadline)
    }

    /// Blocking form of [`acquire_async`](Self::acquire_async).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the lock was not had in time; [`RecipeError::BadData`] for a
    /// record that is not kazoo's; the client's errors; [`Error::InvalidPath`];
    /// [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded loop.
    pub fn acquire<H: Handler>(
        client: &Client<H>,
        path: &str,
        duration: Duration,
        identifier: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<bool, Error> {
        client.refuse_if_embedded("NonBlockingLease::acquire")?;
        Self::acquire_async(client, path, duration, identifier, timeout).get(true, None)
    }
}

/// kazoo's `MultiNonBlockingLease`: one of `count` leases, trying the [`NonBlockingLease`]s
/// `path/0` … `path/<count-1>` in order; the first one obtained (or renewed) is ours.
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let zk = mio_zookeeper::Client::new(&server.connect_string())?;
/// # zk.start(None)?;
/// use std::time::Duration;
/// use mio_zookeeper::recipe::MultiNonBlockingLease;
///
/// let d = Duration::from_secs(600);
/// assert_eq!(MultiNonBlockingLease::acquire(&zk, 2, "/slots", d, Some("a"), None)?, Some(0));
/// assert_eq!(MultiNonBlockingLease::acquire(&zk, 2, "/slots", d, Some("b"), None)?, Some(1));
/// assert_eq!(MultiNonBlockingLease::acquire(&zk, 2, "/slots", d, Some("c"), None)?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MultiNonBlockingLease;

impl MultiNonBlockingLease {
    /// Tries `path/0` … `path/<count-1>` in order; resolves to the index of the lease
    /// obtained, or `None` if all are held by others. One deadline (`timeout`, `None`:
    /// [`DEFAULT_LEASE_TIMEOUT`]) covers all the tries.
    pub fn acquire_async<H: Handler>(
        client: &Client<H>,
        count: u32,
        path: &str,
        duration: Duration,
        identifier: Option<&str>,
        timeout: Option<Duration>,
    ) -> AsyncResult<Option<u32>> {
        let out: AsyncResult<Option<u32>> = client.handler().async_result();
        let deadline = instant_after(
            &*client.handler().event_loop(),
            timeout.unwrap_or(DEFAULT_LEASE_TIMEOUT),
        );
        let ident = identifier.map_or_else(host_name, str::to_string);
        try_slot(
            client.clone(),
            count,
            path.to_string(),
            duration,
            ident,
            deadline,
            0,
            out.clone(),
        );
        out
    }

    /// Blocking form of [`acquire_async`](Self::acquire_async).
    ///
    /// # Errors
    ///
    /// Those of [`NonBlockingLease::acquire`].
    pub fn acquire<H: Handler>(
        client: &Client<H>,
        count: u32,
        path: &str,
        duration: Duration,
        identifier: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<Option<u32>, Error> {
        client.refuse_if_embedded("MultiNonBlockingLease::acquire")?;
        Self::acquire_async(client, count, path, duration, identifier, timeout).get(true, None)
    }
}

#[allow(clippy::too_many_arguments)]
fn try_slot<H: Handler>(
    client: Client<H>,
    count: u32,
    path: String,
    duration: Duration,
    ident: String,
    deadline: std::time::Instant,
    i: u32,
    out: AsyncResult<Option<u32>>,
) {
    if i >= count {
        let _ = out.set(None);
        return;
    }
    let slot = format!("{}/{i}", path.trim_end_matches('/'));
    let c = client.clone();
    attempt(&client, &slot, duration, ident.clone(), deadline).rawlink(move |r| {
        match r.get_nowait() {
            Ok(true) => drop(out.set(Some(i))),
            Ok(false) => try_slot(c, count, path, duration, ident, deadline, i + 1, out),
            Err(e) => drop(out.set_exception(e)),
        }
    });
}

/// One decision on `path`: kazoo's `_attempt_obtaining`, on the loop.
fn attempt<H: Handler>(
    client: &Client<H>,
    path: &str,
    duration: Duration,
    ident: String,
    deadline: std::time::Instant,
) -> AsyncResult<bool> {
    let out: AsyncResult<bool> = client.handler().async_result();
    let lock = match Lock::new(client, path, &ident) {
        Ok(l) => l,
        Err(e) => {
            let _ = out.set_exception(e);
            return out;
        }
    };
    let d = Rc::new(Decision {
        client: client.clone(),
        lock,
        holder_path: format!("{path}/lease_holder"),
        path: path.to_string(),
        ident,
        duration,
        deadline,
        out: out.clone(),
        tries: Cell::new(0),
    });
    let d2 = d.clone();
    client
        .ensure_path_async(path, None)
        .rawlink(move |r| match r.get_nowait() {
            Err(e) => d2.finish(Err(e)),
            Ok(()) => {
                let now = d2.client.handler().event_loop().now();
                let left = d2.deadline.saturating_duration_since(now);
                let d3 = d2.clone();
                d2.lock
                    .acquire_async(Some(left))
                    .rawlink(move |r| match r.get_nowait() {
                        Ok(()) => d3.read(),
                        Err(e) => d3.finish(Err(e)),
                    });
            }
        });
    out
}

struct Decision<H: Handler> {
    client: Client<H>,
    lock: Lock<H>,
    path: String,
    holder_path: String,
    ident: String,
    duration: Duration,
    deadline: std::time::Instant,
    out: AsyncResult<bool>,
    tries: Cell<u32>,
}

impl<H: Handler> Decision<H> {
    /// The decision is made: release the lock whatever it was, then answer.
    fn finish(&self, r: Result<bool, Error>) {
        // Decided: answered once the lock is released (kazoo's `with lock`), so a blocking
        // caller that stops running the loop leaves no lock node blocking the others; a
        // failure is told at once, the release going on in the background.
        let rel = self.lock.release_async();
        if r.is_ok() && !rel.ready() {
            let out = self.out.clone();
            rel.rawlink(move |_| {
                let _ = out.set_result(r);
            });
        } else {
            let _ = self.out.set_result(r);
        }
    }

    /// A transient failure under the lock: read again (the steps are idempotent) after a
    /// short wait, until the deadline.
    fn again(self: &Rc<Self>, e: Error) {
        if !(e.is_retryable()) {
            return self.finish(Err(e));
        }
        let lp = self.client.handler().event_loop();
        let n = self.tries.get() + 1;
        self.tries.set(n);
        let at = lp.now() + Duration::from_millis(50 * u64::from(n.min(20)));
        if at >= self.deadline {
            return self.finish(Err(Error::Timeout));
        }
        let d = self.clone();
        lp.set_timer(at, Box::new(move || d.read()));
    }

    fn read(self: &Rc<Self>) {
        if !self.lock.is_held() {
            return self.finish(Err(Error::Recipe(RecipeError::Lost {
                path: self.path.clone(),
                why: "the lease's lock was lost before the lease was decided",
            })));
        }
        let d = self.clone();
        self.client
            .get_async(&self.holder_path, None)
            .rawlink(move |r| match r.get_nowait() {
                Err(e) if e.is_no_node() => d.write(false),
                Err(e) => d.again(e),
                Ok((raw, _)) => {
                    let raw = raw.unwrap_or_default();
                    match decode(&raw) {
                        Err(reason) => d.finish(Err(Error::Recipe(RecipeError::BadData {
                            path: d.holder_path.clone(),
                            reason,
                        }))),
                        Ok(Record::OtherVersion) => d.finish(Ok(false)),
                        Ok(Record::V1 { holder, end }) => {
                            if holder != d.ident && unix_now() < Duration::from_secs(end) {
                                d.finish(Ok(false))
                            } else {
                                d.write(true)
                            }
                        }
                    }
                }
            });
    }

    /// kazoo: `delete(holder_path)` (if it existed), then `create(holder_path, record)`.
    fn write(self: &Rc<Self>, existed: bool) {
        let d = self.clone();
        let create = move || {
            // Python's datetime ends with year 9999: a longer lease is one until then.
            let end = unix_now()
                .saturating_add(d.duration)
                .as_secs()
                .min(LAST_PYTHON_SECOND);
            let data = encode(&d.ident, end);
            let d2 = d.clone();
            d.client
                .create_async(&d.holder_path, data, CreateMode::Persistent)
                .rawlink(move |r| match r.get_nowait() {
                    Ok(_) => d2.finish(Ok(true)),
                    // A create whose reply was lost: read again (it is ours then).
                    Err(e) if e.is_node_exists() => d2.read(),
                    Err(e) => d2.again(e),
                });
        };
        if !existed {
            return create();
        }
        let d = self.clone();
        self.client
            .delete_async(&self.holder_path, None)
            .rawlink(move |r| match r.get_nowait() {
                Ok(()) => create(),
                Err(e) if e.is_no_node() => create(),
                Err(e) => d.again(e),
            });
    }
}

/// 9999-12-31T23:59:59 UTC, the last second kazoo's `datetime` can read back.
const LAST_PYTHON_SECOND: u64 = 253_402_300_799;

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// This host's name (kazoo's default identifier, `socket.gethostname()`).
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            let s = std::fs::read_to_string(p).ok()?;
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        })
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}

enum Record {
    V1 { holder: String, end: u64 },
    OtherVersion,
}

/// Reads a `lease_holder` record (leniently: any JSON object with kazoo's fields).
fn decode(raw: &[u8]) -> Result<Record, String> {
    let v: serde_json::Value = serde_json::from_slice(raw).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("version").and_then(|x| x.as_i64()) != Some(1) {
        return Ok(Record::OtherVersion);
    }
    let holder = v
        .get("holder")
        .and_then(|x| x.as_str())
        .ok_or("no \"holder\" string")?
        .to_string();
    let end = v
        .get("end")
        .and_then(|x| x.as_str())
        .ok_or("no \"end\" string")?;
    let end =
        parse_date(end).ok_or_else(|| format!("\"end\" is not YYYY-MM-DDTHH:MM:SS: {end}"))?;
    Ok(Record::V1 { holder, end })
}

/// kazoo's exact bytes: `json.dumps({"version": 1, "holder": ident, "end": end})`.
fn encode(ident: &str, end_unix: u64) -> Vec<u8> {
    format!(
        "{{\"version\": 1, \"holder\": {}, \"end\": \"{}\"}}",
        json_string(ident),
        format_date(end_unix)
    )
    .into_bytes()
}

/// A JSON string as Python's `json.dumps` writes it (`ensure_ascii=True`).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if !(' '..='~').contains(&c) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (the inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `%Y-%m-%dT%H:%M:%S` of a Unix time in UTC.
fn format_date(unix: u64) -> String {
    let secs = unix as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The Unix time of `%Y-%m-%dT%H:%M:%S` in UTC (as Python's `strptime`: fields may
/// have fewer digits); `None` if it is not such a date.
fn parse_date(s: &str) -> Option<u64> {
    let (date, time) = s.split_once('T')?;
    let mut dp = date.splitn(3, '-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    let mut tp = time.splitn(3, ':');
    let hh: i64 = tp.next()?.parse().ok()?;
    let mm: i64 = tp.next()?.parse().ok()?;
    let ss: i64 = tp.next()?.parse().ok()?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d == 0 || d > month_days[(m - 1) as usize] {
        return None;
    }
    if !(0..24).contains(&hh) || !(0..60).contains(&mm) || !(0..=61).contains(&ss) {
        return None;
    }
    let t = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_across_leap_years_and_centuries() {
        assert_eq!(format_date(0), "1970-01-01T00:00:00");
        assert_eq!(format_date(951_782_400), "2000-02-29T00:00:00"); // 400-year leap
        assert_eq!(format_date(1_709_164_799), "2024-02-28T23:59:59");
        assert_eq!(format_date(1_709_164_800), "2024-02-29T00:00:00");
        assert_eq!(format_date(1_709_251_200), "2024-03-01T00:00:00");
        assert_eq!(format_date(4_107_542_400), "2100-03-01T00:00:00"); // 2100 is not leap
        assert_eq!(format_date(1_796_310_793), "2026-12-03T15:13:13");
        assert_eq!(parse_date("2100-02-29T00:00:00"), None);
        assert_eq!(parse_date("2024-02-29T00:00:00"), Some(1_709_164_800));
        assert_eq!(parse_date("2024-13-01T00:00:00"), None);
        assert_eq!(parse_date("nope"), None);
        let mut t = 0u64;
        while t < 5_000_000_000 {
            assert_eq!(parse_date(&format_date(t)), Some(t), "{t}");
            t += 86_399 * 7 + 13;
        }
    }

    #[test]
    fn records_are_python_json_dumps_bytes() {
        assert_eq!(
            encode("host-a", 1_796_310_793),
            br#"{"version": 1, "holder": "host-a", "end": "2026-12-03T15:13:13"}"#
        );
        assert_eq!(
            json_string("a\"b\\c\n\u{1}é😀\u{7f}"),
            r#""a\"b\\c\n\u0001\u00e9\ud83d\ude00\u007f""#
        );
        match decode(br#"{"holder":"x","version":1,"end":"2026-12-03T15:13:13","more":2}"#) {
            Ok(Record::V1 { holder, end }) => {
                assert_eq!((holder.as_str(), end), ("x", 1_796_310_793))
            }
            _ => panic!(),
        }
        assert!(matches!(
            decode(br#"{"version": 2}"#),
            Ok(Record::OtherVersion)
        ));
        assert!(decode(b"garbage").is_err());
        assert!(decode(br#"{"version": 1, "holder": "x"}"#).is_err());
    }
}
