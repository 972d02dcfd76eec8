//! Connect strings (`h1:2181,h2:2181/chroot`) and path rules.

use crate::error::Error;

/// One `host:port` of a connect string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct HostPort {
    /// Host name or address (IPv6 without the brackets).
    pub(crate) host: String,
    /// Port (2181 when not given).
    pub(crate) port: u16,
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The default client port.
pub(crate) const DEFAULT_PORT: u16 = 2181;

/// A parsed connect string: the hosts and the chroot (`None` for `/` or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectString {
    /// The hosts, in the order given.
    pub(crate) hosts: Vec<HostPort>,
    /// The chroot, normalized (`/a/b`), if any.
    pub(crate) chroot: Option<String>,
}

/// Parses `h1:2181,h2,[::1]:2182/chroot`: IPv6 in brackets, default port 2181, an optional
/// chroot after the first `/`. Crate-private (the unit tests below show its cases); users
/// hand the string to `Client::new`.
pub(crate) fn parse_connect_string(s: &str) -> Result<ConnectString, Error> {
    let bad = |why: String| Error::BadArgument(format!("invalid hosts string {s:?}: {why}"));
    let (hosts_part, chroot) = match s.find('/') {
        Some(i) => (&s[..i], Some(&s[i..])),
        None => (s, None),
    };
    let mut hosts = Vec::new();
    for raw in hosts_part.split(',') {
        let item = raw.trim();
        if item.is_empty() {
            if hosts_part.trim().is_empty() {
                return Err(bad("no host given".into()));
            }
            return Err(bad("an empty entry between commas".into()));
        }
        let (host, port) = if let Some(rest) = item.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                return Err(bad(format!("{item:?} opens '[' without closing it")));
            };
            let host = &rest[..end];
            let after = &rest[end + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad(format!("unexpected {after:?} after ']' in {item:?}"))),
            };
            (host, port)
        } else {
            match item.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => {
                    return Err(bad(format!(
                        "{item:?} looks like an IPv6 address: put it in brackets, [addr]:port"
                    )))
                }
                Some((h, p)) => (h, Some(p)),
                None => (item, None),
            }
        };
        if host.is_empty() {
            return Err(bad(format!("{item:?} has no host name")));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => {
                    return Err(bad(format!("{p:?} in {item:?} is not a port (1-65535)")))
                }
                Ok(n) => n,
            },
        };
        hosts.push(HostPort {
            host: host.to_string(),
            port,
        });
    }
    let chroot = match chroot {
        None => None,
        Some(c) => {
            let c = c.trim_end_matches('/');
            if c.is_empty() {
                None
            } else {
                validate_path(c, false).map_err(|e| bad(format!("bad chroot: {e}")))?;
                Some(c.to_string())
            }
        }
    };
    Ok(ConnectString { hosts, chroot })
}

/// Checks a client path against ZooKeeper's rules (those of the Java client's
/// `PathUtils.validatePath`), so a bad path is refused locally with the rule it breaks.
/// `sequential` allows a trailing `/` (a sequential create of a bare sequence number).
///
/// ```
/// use mio_zookeeper::validate_path;
/// assert!(validate_path("/a/b", false).is_ok());
/// assert!(validate_path("a/b", false).is_err());
/// assert!(validate_path("/a/../b", false).is_err());
/// assert!(validate_path("/a/", true).is_ok());
/// ```
pub fn validate_path(path: &str, sequential: bool) -> Result<(), Error> {
    let bad = |reason: &'static str| Error::InvalidPath {
        path: path.to_string(),
        reason,
    };
    let bytes = path.as_bytes();
    if bytes.is_empty() {
        return Err(bad("a path cannot be empty"));
    }
    if bytes[0] != b'/' {
        return Err(bad(
            "a path must start with '/' (paths are absolute; the chroot is added by the client)",
        ));
    }
    if bytes.len() == 1 {
        return Ok(());
    }
    let body = match bytes.split_last() {
        Some((b'/', rest)) if sequential => rest,
        Some((b'/', _)) => {
            return Err(bad(
                "a path cannot end with '/' (except for a sequential create)",
            ))
        }
        _ => bytes,
    };
    // A quick scan first (branch-free folds the compiler vectorises): a path with no '.',
    // no "//" and only printable ASCII (the usual case) breaks no component or character
    // rule. Every forbidden character is an ASCII control byte or starts with a byte
    // >= 0x80. Only other paths get the exact checks below.
    let rest = &body[1..];
    let special = rest
        .iter()
        .fold(false, |acc, &c| acc | !(0x20..0x7f).contains(&c));
    let dot = rest.iter().fold(false, |acc, &c| acc | (c == b'.'));
    let double_slash = body
        .iter()
        .zip(rest)
        .fold(false, |acc, (&a, &b)| acc | ((a == b'/') & (b == b'/')));
    let empty_last = body.len() > 1 && body.ends_with(b"/");
    if !(special || dot || double_slash || empty_last) {
        return Ok(());
    }
    let component_ok = |len: usize, dots: usize| -> Result<(), Error> {
        if len == 0 {
            Err(bad("a path cannot contain an empty component ('//')"))
        } else if len == dots && dots <= 2 {
            Err(bad("'.' and '..' are not allowed as path components"))
        } else {
            Ok(())
        }
    };
    let (mut len, mut dots) = (0usize, 0usize);
    for &c in rest {
        if c == b'/' {
            component_ok(len, dots)?;
            len = 0;
            dots = 0;
        } else {
            len += 1;
            dots += usize::from(c == b'.');
        }
    }
    // `body` is "/" only for the sequential "//" (a bare sequence number under "/").
    if body.len() > 1 {
        component_ok(len, dots)?;
    }
    if special {
        for c in path.chars() {
            let u = c as u32;
            if u == 0 {
                return Err(bad("a path cannot contain the NUL character"));
            }
            if (0x01..=0x1f).contains(&u)
                || (0x7f..=0x9f).contains(&u)
                || (0xd800..=0xf8ff).contains(&u)
                || (0xfff0..=0xffff).contains(&u)
            {
                return Err(bad(RESERVED_CHARACTERS));
            }
        }
    }
    Ok(())
}

const RESERVED_CHARACTERS: &str = "a path cannot contain control characters or characters ZooKeeper reserves (U+0001-U+001F, U+007F-U+009F, U+D800-U+F8FF, U+FFF0-U+FFFF)";

/// Prefixes `path` with the chroot (after validating it).
pub(crate) fn chroot_path(
    chroot: Option<&str>,
    path: &str,
    sequential: bool,
) -> Result<String, Error> {
    validate_path(path, sequential)?;
    Ok(match chroot {
        None => path.to_string(),
        // A sequential create of "/" (a bare sequence number right under the chroot) keeps
        // its '/': without it the server would name a sibling of the chroot, outside it.
        Some(root) if path == "/" && sequential => format!("{root}/"),
        Some(root) if path == "/" => root.to_string(),
        Some(root) => format!("{root}{path}"),
    })
}

/// Strips the chroot from a server path (the inverse of [`chroot_path`]). A path outside the
/// chroot (which the server never sends) is returned unchanged.
pub(crate) fn unchroot(chroot: Option<&str>, path: &str) -> String {
    match chroot {
        None => path.to_string(),
        Some(root) => match path.strip_prefix(root) {
            Some("") => "/".to_string(),
            Some(rest) if rest.starts_with('/') => rest.to_string(),
            _ => path.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules written out plainly (component split, then a char scan): the fast
    /// `validate_path` must agree with it on whether a path is valid.
    fn reference_valid(path: &str, sequential: bool) -> bool {
        if !path.starts_with('/') {
            return false;
        }
        if path.len() == 1 {
            return true;
        }
        if path.ends_with('/') && !sequential {
            return false;
        }
        let body = if sequential && path.ends_with('/') {
            &path[1..path.len() - 1]
        } else {
            &path[1..]
        };
        if !body.is_empty()
            && body
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return false;
        }
        !path.chars().any(|c| {
            let u = c as u32;
            u == 0
                || (0x01..=0x1f).contains(&u)
                || (0x7f..=0x9f).contains(&u)
                || (0xd800..=0xf8ff).contains(&u)
                || (0xfff0..=0xffff).contains(&u)
        })
    }

    #[test]
    fn validate_path_agrees_with_the_plain_rules_on_every_short_path() {
        let alphabet = [
            '/', '.', 'a', '\0', '\u{1}', '\u{7f}', '\u{85}', 'é', '\u{e000}', '\u{fff5}', '~',
        ];
        let mut paths = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for p in &frontier {
                for c in alphabet {
                    let mut q = p.clone();
                    q.push(c);
                    next.push(q);
                }
            }
            paths.extend(next.iter().cloned());
            frontier = next;
        }
        for p in &paths {
            for seq in [false, true] {
                assert_eq!(
                    validate_path(p, seq).is_ok(),
                    reference_valid(p, seq),
                    "{p:?} sequential={seq}"
                );
            }
        }
    }

    #[test]
    fn connect_strings() {
        let cs = parse_connect_string("127.0.0.1:2181").unwrap();
        assert_eq!(
            cs.hosts,
            vec![HostPort {
                host: "127.0.0.1".into(),
                port: 2181
            }]
        );
        assert_eq!(cs.chroot, None);
        let cs = parse_connect_string("a,b:3000,[fe80::1]:9/x/y/").unwrap();
        assert_eq!(cs.hosts[0].port, 2181);
        assert_eq!(cs.hosts[1].port, 3000);
        assert_eq!(cs.hosts[2].host, "fe80::1");
        assert_eq!(cs.hosts[2].to_string(), "[fe80::1]:9");
        assert_eq!(cs.chroot.as_deref(), Some("/x/y"));
        assert_eq!(parse_connect_string("a/").unwrap().chroot, None);
        for bad in [
            "", "/chroot", "a,,b", "a:0", "a:99999", "a:x", "[::1", "::1:2181", "[::1]x", ":2181",
            "a/b//c",
        ] {
            let e = parse_connect_string(bad).unwrap_err().to_string();
            assert!(e.contains("invalid hosts string"), "{bad}: {e}");
        }
    }

    #[test]
    fn path_rules() {
        for ok in ["/", "/a", "/a/b", "/a./b..", "/zookeeper", "/ü/€"] {
            validate_path(ok, false).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, why) in [
            ("", "empty"),
            ("a", "start with '/'"),
            ("/a/", "end with '/'"),
            ("/a//b", "empty component"),
            ("/a/./b", "'.'"),
            ("/..", "'.'"),
            ("/a\u{0}b", "NUL"),
            ("/a\u{1}b", "control"),
            ("/a\u{fff5}", "control"),
        ] {
            let e = validate_path(bad, false).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        validate_path("/a/", true).unwrap();
        validate_path("/a/b-", true).unwrap();
        assert!(validate_path("/a//", true).is_err());
    }

    #[test]
    fn chroot_round_trip() {
        assert_eq!(chroot_path(Some("/r"), "/", false).unwrap(), "/r");
        assert_eq!(chroot_path(Some("/r"), "/a", false).unwrap(), "/r/a");
        assert_eq!(chroot_path(None, "/a", false).unwrap(), "/a");
        // Sequential creates with a trailing '/' stay under the chroot.
        assert_eq!(chroot_path(Some("/r"), "/", true).unwrap(), "/r/");
        assert_eq!(chroot_path(Some("/r"), "/a/", true).unwrap(), "/r/a/");
        assert_eq!(chroot_path(None, "/", true).unwrap(), "/");
        assert_eq!(unchroot(Some("/r"), "/r"), "/");
        assert_eq!(unchroot(Some("/r"), "/r/a"), "/a");
        // Not kazoo's startswith quirk: /rb is not under /r.
        assert_eq!(unchroot(Some("/r"), "/rb"), "/rb");
    }

    /// kazoo `test_chroot` and `test_hosts`: connect strings with and without chroot.
    #[test]
    fn test_chroot() {
        let chroot = |s: &str| parse_connect_string(s).unwrap().chroot;
        assert_eq!(chroot("127.0.0.1:2181/"), None);
        assert_eq!(chroot("127.0.0.1:2181"), None);
        assert_eq!(chroot("127.0.0.1:2181/a").as_deref(), Some("/a"));
        assert_eq!(chroot("127.0.0.1/a").as_deref(), Some("/a"));
        assert_eq!(chroot("127.0.0.1/a/b").as_deref(), Some("/a/b"));
        assert_eq!(chroot("127.0.0.1/a/b/").as_deref(), Some("/a/b"));
        assert_eq!(
            chroot("127.0.0.1:2181,127.0.0.1:2182/a/b").as_deref(),
            Some("/a/b")
        );
    }

    #[test]
    fn test_hosts() {
        let cs = parse_connect_string("127.0.0.1:2181,127.0.0.1:2182/a").unwrap();
        let hp = |h: &str, p| HostPort {
            host: h.to_string(),
            port: p,
        };
        assert_eq!(cs.hosts, [hp("127.0.0.1", 2181), hp("127.0.0.1", 2182)]);
        assert_eq!(cs.chroot.as_deref(), Some("/a"));
        // Default port, names, IPv6 in brackets, spaces after commas.
        let cs = parse_connect_string("zk1, zk2:3000,[::1]:2183,[fe80::1]").unwrap();
        assert_eq!(
            cs.hosts,
            [
                hp("zk1", 2181),
                hp("zk2", 3000),
                hp("::1", 2183),
                hp("fe80::1", 2181)
            ]
        );
        assert_eq!(cs.hosts[2].to_string(), "[::1]:2183");
    }
}
