//! The tour's cache section: a `RecursiveCache` (a whole subtree in memory on ONE
//! persistent recursive watch) loads a small tree, follows a change, then, with the
//! harness, follows the tree through a network blip: another client changes it while the
//! cache is cut off, and once reconnected the cache reports exactly the differences.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use mio_zookeeper::recipe::{CacheEvent, RecursiveCache};
use mio_zookeeper::testing::Proxy;
use mio_zookeeper::{Client, ClientState, CreateOptions};

use super::{Out, Result, WAIT};

fn describe(ev: &CacheEvent) -> String {
    let text = |d: &[u8]| format!("{:?}", String::from_utf8_lossy(d));
    match ev {
        CacheEvent::NodeAdded(n) => format!("NODE_ADDED {} {}", n.path, text(&n.data)),
        CacheEvent::NodeUpdated(n) => format!("NODE_UPDATED {} {}", n.path, text(&n.data)),
        CacheEvent::NodeRemoved(n) => format!("NODE_REMOVED {}", n.path),
        CacheEvent::ConnectionSuspended => "CONNECTION_SUSPENDED".into(),
        CacheEvent::ConnectionReconnected => "CONNECTION_RECONNECTED".into(),
        CacheEvent::ConnectionLost => "CONNECTION_LOST".into(),
        CacheEvent::Initialized => "INITIALIZED".into(),
        other => format!("{other:?}"),
    }
}

/// Runs the section. `hosts` is the plain connect string of B (chrooted at the tour's
/// node); `upstream` the harness's server, which the cache's client reaches through a
/// proxy of its own so the blip cuts nothing else.
pub(crate) fn section(
    out: &Rc<Out>,
    hosts: &str,
    admin: &Client,
    base: &str,
    upstream: Option<SocketAddr>,
) -> Result<()> {
    out.section("9. a RecursiveCache: a tree in memory on ONE watch, through a network blip");
    let proxy = upstream.map(Proxy::start).transpose()?;
    let c_hosts = match &proxy {
        Some(p) => format!("{}{base}", p.connect_string()),
        None => hosts.to_string(),
    };
    let svc = |p: &str| format!("{base}/services{p}");
    for (p, d) in [
        ("/db", "primary"),
        ("/web/1", "10.0.0.1"),
        ("/web/2", "10.0.0.2"),
    ] {
        admin.create(&svc(p), d, CreateOptions::default().with_makepath())?;
    }
    out.say("admin: made /services/db, /services/web/1 and /services/web/2");

    let c = Client::builder(&c_hosts)
        .session_timeout(Duration::from_secs(10))
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .build()?;
    c.start(Some(WAIT))?;
    let cache = RecursiveCache::new(&c, "/services")?;
    let o = out.clone();
    cache.listen(move |ev| o.say(format!("[cache] {}", describe(ev))));
    cache.start(Some(WAIT))?;
    out.say(format!(
        "C: cache.start() returned: {} nodes, {} watch on the client",
        cache.len(),
        c.watch_count()
    ));

    admin.set(&svc("/db"), "replica", None)?;
    out.say("admin: set /services/db \"replica\"");
    c.run_until(
        &|| {
            cache
                .get_data("/services/db")
                .is_some_and(|n| n.data == "replica")
        },
        Some(WAIT),
    )?;

    let Some(proxy) = proxy else {
        out.say("the blip is skipped with ZK_HOSTS: it needs the harness's proxy");
        cache.close();
        c.stop()?;
        return Ok(());
    };
    // Refusing as well as cutting: C stays away until the changes are made.
    proxy.set_refusing(true);
    proxy.drop_connections();
    out.say("the proxy cut C's connection (and refuses new ones for a moment)");
    c.run_until(&|| c.state() == ClientState::Suspended, Some(WAIT))?;
    admin.set(&svc("/web/1"), "10.0.0.9", None)?;
    admin.create(&svc("/web/3"), "10.0.0.3", CreateOptions::default())?;
    admin.delete(&svc("/web/2"), None)?;
    out.say("admin: set /services/web/1, made /services/web/3, deleted /services/web/2");
    out.say(format!(
        "C: the cache still shows web = {:?} (it cannot hear)",
        cache.get_children("/services/web").unwrap_or_default()
    ));
    proxy.set_refusing(false);
    out.say("the proxy lets C back in");
    c.run_until(
        &|| {
            c.state() == ClientState::Connected
                && cache.get_children("/services/web") == Some(vec!["1".into(), "3".into()])
                && cache
                    .get_data("/services/web/1")
                    .is_some_and(|n| n.data == "10.0.0.9")
        },
        Some(WAIT),
    )?;
    // A moment for anything late: there must be nothing more (nothing for /services/db).
    c.sleep(Duration::from_millis(300))?;
    out.say(format!(
        "C: caught up: web = {:?}, db unchanged",
        cache.get_children("/services/web").unwrap_or_default()
    ));
    cache.close();
    // The watch's removal goes to the server; the client drops it once answered.
    c.run_until(&|| c.watch_count() == 0, Some(WAIT))?;
    out.say(format!(
        "C: cache.close() -> {} watches on the client",
        c.watch_count()
    ));
    c.stop()?;
    Ok(())
}
