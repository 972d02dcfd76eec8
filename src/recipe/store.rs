//! The nodes a tree cache holds, keyed by full path in one ordered map: children are found
//! by range (no per-node child list to keep in step), a subtree is one contiguous range,
//! and events come out of each change. Pure data: no client, no loop.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;

use super::cache_event::{CacheEvent, CachedNode};
use crate::Stat;

/// One cached node. The data is copied out of the reply: a reply's bytes share the read
/// buffer they came in, and holding them would keep whole buffers alive per node.
#[derive(Debug)]
struct Entry {
    stat: Stat,
    data: Box<[u8]>,
}

/// The nodes of a subtree, by full path.
#[derive(Debug, Default)]
pub(crate) struct NodeStore {
    nodes: BTreeMap<Box<str>, Entry>,
}

/// The keys under `path` (its descendants) start with this prefix.
fn prefix(path: &str) -> String {
    if path == "/" {
        "/".to_owned()
    } else {
        format!("{path}/")
    }
}

/// The first key after every descendant of the node whose descendants start with `prefix`
/// (`prefix` ends with '/', and '0' is the character after '/').
fn after(prefix: &str) -> String {
    let mut s = prefix[..prefix.len() - 1].to_owned();
    s.push('0');
    s
}

/// `parent`'s child `name` as a path.
pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

impl NodeStore {
    pub(crate) fn new() -> NodeStore {
        NodeStore::default()
    }

    /// How many nodes are cached.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub(crate) fn contains(&self, path: &str) -> bool {
        self.nodes.contains_key(path)
    }

    /// The node at `path`.
    pub(crate) fn get(&self, path: &str) -> Option<CachedNode> {
        self.nodes.get(path).map(|e| node(path, e))
    }

    /// The stat of the node at `path`.
    pub(crate) fn stat(&self, path: &str) -> Option<&Stat> {
        self.nodes.get(path).map(|e| &e.stat)
    }

    /// The names of `path`'s cached children, sorted; `None` if `path` is not cached.
    pub(crate) fn children(&self, path: &str) -> Option<Vec<String>> {
        if !self.nodes.contains_key(path) {
            return None;
        }
        let pre = prefix(path);
        let mut names = Vec::new();
        let mut from = Bound::Excluded(pre.clone());
        while let Some((key, _)) = self
            .nodes
            .range::<str, _>((from.as_ref().map(|s| s.as_str()), Bound::Unbounded))
            .next()
        {
            let Some(rest) = key.strip_prefix(pre.as_str()) else {
                break;
            };
            match rest.find('/') {
                // A child: the next key may be a sibling or one of its descendants.
                None => {
                    names.push(rest.to_owned());
                    from = Bound::Excluded(key.to_string());
                }
                // A descendant of the child `rest[..i]`: skip all of that child's subtree.
                Some(i) => from = Bound::Included(after(&format!("{pre}{}/", &rest[..i]))),
            }
        }
        Some(names)
    }

    /// The paths of `path` and everything under it that is cached, in key order.
    pub(crate) fn subtree(&self, path: &str) -> Vec<String> {
        let pre = prefix(path);
        let mut out: Vec<String> = Vec::new();
        if self.nodes.contains_key(path) {
            out.push(path.to_owned());
        }
        let end = after(&pre);
        out.extend(
            self.nodes
                .range::<str, _>((Bound::Excluded(pre.as_str()), Bound::Excluded(end.as_str())))
                .filter(|(k, _)| &***k != path)
                .map(|(k, _)| k.to_string()),
        );
        out
    }

    /// Stores what a read returned for `path`: [`CacheEvent::NodeAdded`] for a new node,
    /// [`CacheEvent::NodeUpdated`] when its `mzxid` moved, nothing when it did not (the
    /// stat is still kept: children and ACL changes move it too).
    pub(crate) fn put(&mut self, path: &str, data: &Bytes, stat: Stat) -> Option<CacheEvent> {
        let event_node = || CachedNode {
            path: path.to_owned(),
            data: data.clone(),
            stat,
        };
        match self.nodes.get_mut(path) {
            Some(e) => {
                let changed = e.stat.mzxid != stat.mzxid;
                e.stat = stat;
                if changed {
                    e.data = data.to_vec().into_boxed_slice();
                    Some(CacheEvent::NodeUpdated(event_node()))
                } else {
                    None
                }
            }
            None => {
                self.nodes.insert(
                    path.into(),
                    Entry {
                        stat,
                        data: data.to_vec().into_boxed_slice(),
                    },
                );
                Some(CacheEvent::NodeAdded(event_node()))
            }
        }
    }

    /// Takes `stat` as `path`'s stat if its `mzxid` is the cached one (a children read
    /// carries the node's stat: its `cversion` and `numChildren` moved, its data did not);
    /// a different `mzxid` is left to the data read that reports it. Whether it was taken.
    pub(crate) fn refresh_stat(&mut self, path: &str, stat: Stat) -> bool {
        match self.nodes.get_mut(path) {
            Some(e) if e.stat.mzxid == stat.mzxid => {
                e.stat = stat;
                true
            }
            _ => false,
        }
    }

    /// Removes `path` and everything under it: one [`CacheEvent::NodeRemoved`] per node,
    /// deepest first (children before their parent).
    pub(crate) fn remove(&mut self, path: &str) -> Vec<CacheEvent> {
        let mut paths = self.subtree(path);
        // Key order puts a parent before its children; reversed, children come first.
        paths.reverse();
        paths
            .into_iter()
            .filter_map(|p| {
                let e = self.nodes.remove(p.as_str())?;
                Some(CacheEvent::NodeRemoved(node(&p, &e)))
            })
            .collect()
    }

    /// Removes the cached children of `path` (with their subtrees) whose names are not in
    /// `names`, the child list a read returned.
    pub(crate) fn retain_children(&mut self, path: &str, names: &[String]) -> Vec<CacheEvent> {
        let Some(cached) = self.children(path) else {
            return Vec::new();
        };
        let keep: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
        cached
            .iter()
            .filter(|n| !keep.contains(n.as_str()))
            .flat_map(|n| self.remove(&join(path, n)))
            .collect()
    }

    /// The names in `names` that are not cached under `path`.
    pub(crate) fn missing_children(&self, path: &str, names: &[String]) -> Vec<String> {
        names
            .iter()
            .filter(|n| !self.nodes.contains_key(join(path, n).as_str()))
            .cloned()
            .collect()
    }

    /// Rebuilds the map from its sorted contents. Inserting in path order leaves B-tree
    /// nodes about half full; a bulk build fills them. Call once after the initial load.
    pub(crate) fn compact(&mut self) {
        let nodes = std::mem::take(&mut self.nodes);
        self.nodes = nodes.into_iter().collect();
    }

    /// Removes everything: one [`CacheEvent::NodeRemoved`] per node, deepest first.
    pub(crate) fn clear(&mut self) -> Vec<CacheEvent> {
        let nodes = std::mem::take(&mut self.nodes);
        nodes
            .into_iter()
            .rev()
            .map(|(p, e)| CacheEvent::NodeRemoved(node(&p, &e)))
            .collect()
    }
}

fn node(path: &str, e: &Entry) -> CachedNode {
    CachedNode {
        path: path.to_owned(),
        data: Bytes::copy_from_slice(&e.data),
        stat: e.stat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(mzxid: i64) -> Stat {
        Stat {
            mzxid,
            ..Stat::default()
        }
    }

    fn store(paths: &[&str]) -> NodeStore {
        let mut s = NodeStore::new();
        for (i, p) in paths.iter().enumerate() {
            s.put(p, &Bytes::from_static(b"x"), stat(i as i64));
        }
        s
    }

    #[test]
    fn children_skip_grandchildren_and_keep_siblings_that_share_a_prefix() {
        let s = store(&[
            "/a", "/a/x", "/a/x/q", "/a/x-y", "/a/x-y/z", "/a/x0", "/a/y", "/ab",
        ]);
        assert_eq!(s.children("/a").unwrap(), ["x", "x-y", "x0", "y"]);
        assert_eq!(s.children("/a/x").unwrap(), ["q"]);
        assert_eq!(s.children("/a/y").unwrap(), Vec::<String>::new());
        assert_eq!(s.children("/nope"), None);
    }

    #[test]
    fn root_children() {
        let s = store(&["/", "/a", "/a/b", "/b", "/zookeeper"]);
        assert_eq!(s.children("/").unwrap(), ["a", "b", "zookeeper"]);
        assert_eq!(s.subtree("/").len(), 5);
    }

    #[test]
    fn put_reports_added_then_updated_only_when_mzxid_moves() {
        let mut s = NodeStore::new();
        let d = Bytes::from_static(b"v1");
        assert!(matches!(
            s.put("/a", &d, stat(1)),
            Some(CacheEvent::NodeAdded(_))
        ));
        assert_eq!(s.put("/a", &d, stat(1)), None);
        let mut children_moved = stat(1);
        children_moved.cversion = 3;
        assert_eq!(s.put("/a", &d, children_moved), None);
        assert_eq!(s.stat("/a").unwrap().cversion, 3);
        let d2 = Bytes::from_static(b"v2");
        match s.put("/a", &d2, stat(2)) {
            Some(CacheEvent::NodeUpdated(n)) => assert_eq!(n.data, d2),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.get("/a").unwrap().data, d2);
    }

    #[test]
    fn remove_takes_the_subtree_deepest_first_and_nothing_beside_it() {
        let mut s = store(&["/a", "/a/b", "/a/b/c", "/a-b", "/ab"]);
        let removed: Vec<String> = s
            .remove("/a")
            .into_iter()
            .map(|e| match e {
                CacheEvent::NodeRemoved(n) => n.path,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(removed, ["/a/b/c", "/a/b", "/a"]);
        assert_eq!(s.len(), 2);
        assert!(s.contains("/a-b") && s.contains("/ab"));
    }

    #[test]
    fn retain_and_missing_children() {
        let mut s = store(&["/r", "/r/a", "/r/a/deep", "/r/b"]);
        let names = vec!["b".to_owned(), "c".to_owned()];
        assert_eq!(s.missing_children("/r", &names), ["c"]);
        let removed = s.retain_children("/r", &names);
        assert_eq!(removed.len(), 2);
        assert_eq!(s.children("/r").unwrap(), ["b"]);
    }

    #[test]
    fn compact_keeps_everything() {
        let mut s = store(&["/a", "/a/b", "/c"]);
        s.compact();
        assert_eq!(s.subtree("/a"), ["/a", "/a/b"]);
        assert_eq!(s.clear().len(), 3);
        assert!(s.is_empty());
    }
}
