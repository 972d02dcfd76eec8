//! What only the RecursiveCache tests need besides `cache_support` (which the test file
//! includes as `mod cache_support`): a cache started with its log.
#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use mio_zookeeper::recipe::RecursiveCache;
use mio_zookeeper::Client;

use crate::cache_support::{record, Log, LONG};

/// A cache of `path`, recorded, started (blocking).
pub fn started(c: &Client, path: &str) -> (RecursiveCache, Log) {
    let cache = RecursiveCache::new(c, path).unwrap();
    let log = record(&cache);
    cache.start(Some(LONG)).unwrap();
    (cache, log)
}
