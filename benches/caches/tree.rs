//! The trees the caches load: their shape, their data, and building them fast.

use std::collections::VecDeque;

use mio_zookeeper::{AsyncResult, Client, CreateMode, Stat};

use super::*;

/// Children per node (breadth-first: every level but the last is full).
pub(super) const FANOUT: usize = 20;

/// Creates outstanding at once while building a tree.
const BUILD_WINDOW: usize = 2000;

/// One tree: its nodes' full paths in breadth-first order, the root first.
pub(super) struct Tree {
    /// The cache's root path.
    pub(super) root: String,
    /// Every node's full path, `paths[0]` = `root`; node `i > 0` is child number
    /// `(i - 1) % FANOUT` of node `(i - 1) / FANOUT`.
    pub(super) paths: Vec<String>,
    /// The sum of every node's data length.
    pub(super) data_bytes: u64,
    /// The sum of every node's full path length (bytes).
    pub(super) path_bytes: u64,
}

impl Tree {
    /// The shape of an `n`-node tree rooted at `root` (nothing is created).
    pub(super) fn shape(root: &str, n: usize) -> Tree {
        let mut paths: Vec<String> = Vec::with_capacity(n);
        paths.push(root.to_string());
        for i in 1..n {
            let parent = &paths[(i - 1) / FANOUT];
            let p = format!("{parent}/item-{:04}", (i - 1) % FANOUT);
            paths.push(p);
        }
        let data_bytes = (0..n).map(|i| Tree::data_len(i) as u64).sum();
        let path_bytes = paths.iter().map(|p| p.len() as u64).sum();
        Tree {
            root: root.to_string(),
            paths,
            data_bytes,
            path_bytes,
        }
    }

    /// How long node `i`'s data is: 32 to 100 bytes.
    fn data_len(i: usize) -> usize {
        32 + (i * 37) % 69
    }

    /// Node `i`'s data in version `round` (each round differs from the one before).
    pub(super) fn data(i: usize, round: usize) -> Vec<u8> {
        let fill = b'a' + ((i + round) % 26) as u8;
        let mut d = format!("{{\"n\":{i},\"r\":{round},\"p\":\"").into_bytes();
        d.resize(Tree::data_len(i).saturating_sub(2), fill);
        d.extend_from_slice(b"\"}");
        d.truncate(Tree::data_len(i));
        d
    }

    /// Creates every node (the root's parents must exist), with pipelined creates.
    pub(super) fn build(&self, admin: &Client) -> Result<()> {
        let mut pending: VecDeque<AsyncResult<(String, Stat)>> = VecDeque::new();
        for (i, p) in self.paths.iter().enumerate() {
            if pending.len() >= BUILD_WINDOW {
                if let Some(r) = pending.pop_front() {
                    r.get(true, Some(WAIT))?;
                }
            }
            // Parents come first in breadth-first order, and a session's requests are
            // applied in order: a child's create never precedes its parent's.
            pending.push_back(admin.create_async(p, Tree::data(i, 0), CreateMode::Persistent));
        }
        for r in pending {
            r.get(true, Some(WAIT))?;
        }
        Ok(())
    }
}
