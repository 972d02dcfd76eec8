//! Node operations: create, ensure_path, get, exists, set, delete, delete_recursive.

use std::time::Duration;

use bytes::Bytes;

use super::super::watchers::{PendingKind, PendingWatcher, Withdraw};
use super::super::{detach, unexpected, Client, Watcher};
use crate::async_result::AsyncResult;
use crate::client::hosts::validate_path;
use crate::error::Error;
use crate::handler::Handler;
use crate::proto::{
    Acl, CreateMode, CreateRequest, CreateTtlRequest, DeleteRequest, ErrorCode, PathWatch, Request,
    Response, SetDataRequest, Stat,
};

/// Options of [`Client::create_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    /// The node's ACL; `None` uses the client's default ACL.
    pub acl: Option<Vec<Acl>>,
    /// Persistent, ephemeral, sequential, container or TTL.
    pub mode: CreateMode,
    /// For the TTL modes: the time to live (0 < ttl < 2^40 ms).
    pub ttl: Option<Duration>,
    /// Create missing parents first (kazoo's `makepath`).
    pub makepath: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            acl: None,
            mode: CreateMode::Persistent,
            ttl: None,
            makepath: false,
        }
    }
}

impl CreateOptions {
    /// Options for `mode`.
    pub fn mode(mode: CreateMode) -> CreateOptions {
        CreateOptions {
            mode,
            ..CreateOptions::default()
        }
    }
}

impl<H: Handler> Client<H> {
    /// Creates a persistent node with `data` and the default ACL; returns its path.
    pub fn create(&self, path: &str, data: &[u8]) -> Result<String, Error> {
        self.create_with(path, data, &CreateOptions::default())
            .map(|(p, _)| p)
    }

    /// Creates a node with options (mode, ACL, TTL, makepath); returns its path and stat.
    pub fn create_with(
        &self,
        path: &str,
        data: &[u8],
        opts: &CreateOptions,
    ) -> Result<(String, Stat), Error> {
        self.blocking("Client::create_with", || {
            self.create_async(path, Some(Bytes::copy_from_slice(data)), opts)
        })
    }

    /// Creates a node (`data` `None` stores null); the result is the real path (with a
    /// sequence suffix for sequential modes) and the new node's stat.
    pub fn create_async(
        &self,
        path: &str,
        data: Option<Bytes>,
        opts: &CreateOptions,
    ) -> AsyncResult<(String, Stat)> {
        if !opts.makepath {
            return self.create_once(path, data, opts);
        }
        let this = self.internal();
        let path = path.to_string();
        let opts = opts.clone();
        let out = self.handler.async_result();
        let o = out.clone();
        self.handler.spawn_future(async move {
            let first = this.create_once(&path, data.clone(), &opts).await;
            let res = match first {
                Err(Error::ZooKeeper {
                    code: ErrorCode::NoNode,
                    ..
                }) => {
                    // A sequential path ending in '/' creates a child of the path itself
                    // (kazoo: `path.rstrip('/')`).
                    let parent = match path.strip_suffix('/') {
                        Some("") => "/".to_string(),
                        Some(p) => p.to_string(),
                        None => parent_of(&path),
                    };
                    match this.ensure_path_async_acl(&parent, opts.acl.clone()).await {
                        Ok(()) => this.create_once(&path, data, &opts).await,
                        Err(e) => Err(e),
                    }
                }
                other => other,
            };
            let _ = o.set_result(res);
        });
        out
    }

    fn create_once(
        &self,
        path: &str,
        data: Option<Bytes>,
        opts: &CreateOptions,
    ) -> AsyncResult<(String, Stat)> {
        let full = match self.path(path, opts.mode.is_sequential()) {
            Ok(p) => p,
            Err(e) => return self.failed(e),
        };
        let acl = match &opts.acl {
            Some(a) if !a.is_empty() => a.clone(),
            _ => self.config.default_acl.clone(),
        };
        let req = if opts.mode.is_ttl() {
            let ttl = opts.ttl.map(|d| d.as_millis()).unwrap_or(0);
            if ttl == 0 || ttl > (1u128 << 40) - 1 {
                return self.failed(Error::BadArgument(format!(
                    "a TTL node needs a ttl between 1 ms and 2^40-1 ms, got {:?}",
                    opts.ttl
                )));
            }
            Request::CreateTtl(CreateTtlRequest {
                path: full,
                data,
                acl,
                flags: opts.mode.flags(),
                ttl: ttl as i64,
            })
        } else {
            if opts.ttl.is_some() {
                return self.failed(Error::BadArgument(format!(
                    "a ttl was given for a {:?} node: only the TTL modes take one",
                    opts.mode
                )));
            }
            let body = CreateRequest {
                path: full,
                data,
                acl,
                flags: opts.mode.flags(),
            };
            if opts.mode.is_container() {
                Request::CreateContainer(body)
            } else {
                Request::Create2(body)
            }
        };
        let this = self.internal();
        self.submit(req, "create", None, move |res| match res? {
            Response::Create2 { path, stat } => Ok((this.unchroot(&path), stat)),
            other => Err(unexpected("create", &other)),
        })
    }

    /// Creates `path` and any missing parent (kazoo's `ensure_path`); succeeds if it exists.
    /// Only missing nodes are created (with null data and the default ACL); under a chroot
    /// whose node is missing, that node is created too.
    pub fn ensure_path(&self, path: &str) -> Result<(), Error> {
        self.blocking("Client::ensure_path", || self.ensure_path_async(path))
    }

    /// Async form of [`ensure_path`](Self::ensure_path).
    pub fn ensure_path_async(&self, path: &str) -> AsyncResult<()> {
        self.ensure_path_async_acl(path, None)
    }

    fn ensure_path_async_acl(&self, path: &str, acl: Option<Vec<Acl>>) -> AsyncResult<()> {
        if let Err(e) = validate_path(path, false) {
            return self.failed(e);
        }
        let this = self.internal();
        let path = path.to_string();
        let out = self.handler.async_result();
        let o = out.clone();
        self.handler.spawn_future(async move {
            let res = async {
                // kazoo's order: walk up with exists to the deepest node there is, then
                // create only the missing ones, downwards. Creating an existing node is not
                // harmless: the server checks the parent's CREATE permission before it
                // reports NodeExists, so a locked-down ancestor would fail with NoAuth.
                // With a chroot, "/" is the chroot's own node, which may be missing too
                // (kazoo creates it as well).
                let mut missing = Vec::new();
                let mut p = path.clone();
                while this.exists_async(&p).await?.is_none() {
                    let top = p == "/";
                    missing.push(p);
                    if top {
                        break;
                    }
                    p = parent_of(missing.last().map_or("/", String::as_str));
                }
                let opts = CreateOptions {
                    acl,
                    ..CreateOptions::default()
                };
                for m in missing.iter().rev() {
                    match this.create_once(m, None, &opts).await {
                        Ok(_) => {}
                        Err(Error::ZooKeeper {
                            code: ErrorCode::NodeExists,
                            ..
                        }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            .await;
            let _ = o.set_result(res);
        });
        out
    }

    /// Reads a node: its data (`None` for null data) and stat.
    pub fn get(&self, path: &str) -> Result<(Option<Bytes>, Stat), Error> {
        self.blocking("Client::get", || self.get_async(path))
    }

    /// Async form of [`get`](Self::get).
    pub fn get_async(&self, path: &str) -> AsyncResult<(Option<Bytes>, Stat)> {
        self.get_impl(path, None)
    }

    /// [`get`](Self::get), leaving a one-shot data watch: `watcher` is called once when the
    /// node's data changes or it is deleted (or with an `EventType::None` event when the
    /// session is lost). A closure converts into a new [`Watcher`]; the same watcher
    /// registered again on the path is stored once (see [`Watcher`] for the identity rule).
    /// If the call fails on its per-call timeout, the watcher is not registered, even when
    /// the reply comes later.
    pub fn get_watch<W: Into<Watcher>>(
        &self,
        path: &str,
        watcher: W,
    ) -> Result<(Option<Bytes>, Stat), Error> {
        let watcher = watcher.into();
        self.blocking_watch("Client::get_watch", |withdraw| {
            self.get_impl(path, Some((watcher, Some(withdraw))))
        })
    }

    /// Async form of [`get_watch`](Self::get_watch).
    pub fn get_watch_async<W: Into<Watcher>>(
        &self,
        path: &str,
        watcher: W,
    ) -> AsyncResult<(Option<Bytes>, Stat)> {
        self.get_impl(path, Some((watcher.into(), None)))
    }

    fn get_impl(
        &self,
        path: &str,
        watcher: Option<(Watcher, Option<Withdraw>)>,
    ) -> AsyncResult<(Option<Bytes>, Stat)> {
        let full = or_fail!(self, self.path(path, false));
        let watch = PendingWatcher::of(PendingKind::Data, &full, watcher);
        let req = Request::GetData(PathWatch {
            path: full,
            watch: watch.is_some(),
        });
        self.submit(req, "getData", watch, |res| match res? {
            Response::GetData { data, stat } => Ok((data.map(detach), stat)),
            other => Err(unexpected("getData", &other)),
        })
    }

    /// Whether a node exists: its stat, or `None`.
    pub fn exists(&self, path: &str) -> Result<Option<Stat>, Error> {
        self.blocking("Client::exists", || self.exists_async(path))
    }

    /// Async form of [`exists`](Self::exists).
    pub fn exists_async(&self, path: &str) -> AsyncResult<Option<Stat>> {
        self.exists_impl(path, None)
    }

    /// [`exists`](Self::exists), leaving a one-shot watch: on a node that exists it fires on
    /// data change or delete; on a missing node it fires when the node is created. Watcher
    /// identity and timeouts as for [`get_watch`](Self::get_watch).
    pub fn exists_watch<W: Into<Watcher>>(
        &self,
        path: &str,
        watcher: W,
    ) -> Result<Option<Stat>, Error> {
        let watcher = watcher.into();
        self.blocking_watch("Client::exists_watch", |withdraw| {
            self.exists_impl(path, Some((watcher, Some(withdraw))))
        })
    }

    /// Async form of [`exists_watch`](Self::exists_watch).
    pub fn exists_watch_async<W: Into<Watcher>>(
        &self,
        path: &str,
        watcher: W,
    ) -> AsyncResult<Option<Stat>> {
        self.exists_impl(path, Some((watcher.into(), None)))
    }

    fn exists_impl(
        &self,
        path: &str,
        watcher: Option<(Watcher, Option<Withdraw>)>,
    ) -> AsyncResult<Option<Stat>> {
        let full = or_fail!(self, self.path(path, false));
        let watch = PendingWatcher::of(PendingKind::Exists, &full, watcher);
        let req = Request::Exists(PathWatch {
            path: full,
            watch: watch.is_some(),
        });
        self.submit(req, "exists", watch, |res| match res {
            Ok(Response::Stat(s)) => Ok(Some(s)),
            Ok(other) => Err(unexpected("exists", &other)),
            Err(Error::ZooKeeper {
                code: ErrorCode::NoNode,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// Sets a node's data, any version; returns the new stat.
    pub fn set(&self, path: &str, data: &[u8]) -> Result<Stat, Error> {
        self.set_version(path, data, -1)
    }

    /// Sets a node's data if its version is `version` (-1: any).
    pub fn set_version(&self, path: &str, data: &[u8], version: i32) -> Result<Stat, Error> {
        self.blocking("Client::set_version", || {
            self.set_async(path, Some(Bytes::copy_from_slice(data)), version)
        })
    }

    /// Async form of [`set_version`](Self::set_version); `None` stores null data.
    pub fn set_async(&self, path: &str, data: Option<Bytes>, version: i32) -> AsyncResult<Stat> {
        let full = or_fail!(self, self.path(path, false));
        let req = Request::SetData(SetDataRequest {
            path: full,
            data,
            version,
        });
        self.submit(req, "setData", None, |res| match res? {
            Response::Stat(s) => Ok(s),
            other => Err(unexpected("setData", &other)),
        })
    }

    /// Deletes a node, any version.
    pub fn delete(&self, path: &str) -> Result<(), Error> {
        self.blocking("Client::delete", || self.delete_async(path, -1))
    }

    /// Deletes a node if its version is `version` (-1: any).
    pub fn delete_version(&self, path: &str, version: i32) -> Result<(), Error> {
        self.blocking("Client::delete_version", || {
            self.delete_async(path, version)
        })
    }

    /// Async form of [`delete_version`](Self::delete_version).
    pub fn delete_async(&self, path: &str, version: i32) -> AsyncResult<()> {
        let full = or_fail!(self, self.path(path, false));
        let req = Request::Delete(DeleteRequest {
            path: full,
            version,
        });
        self.submit(req, "delete", None, |res| res.map(|_| ()))
    }

    /// Deletes a node and everything below it, depth first (not atomic; kazoo's
    /// `delete(recursive=True)`). A node that is already gone is not an error.
    pub fn delete_recursive(&self, path: &str) -> Result<(), Error> {
        self.blocking("Client::delete_recursive", || {
            self.delete_recursive_async(path)
        })
    }

    /// Async form of [`delete_recursive`](Self::delete_recursive).
    pub fn delete_recursive_async(&self, path: &str) -> AsyncResult<()> {
        if let Err(e) = validate_path(path, false) {
            return self.failed(e);
        }
        let this = self.internal();
        let root = path.to_string();
        let out = self.handler.async_result();
        let o = out.clone();
        self.handler.spawn_future(async move {
            let res = async {
                // Collect the tree breadth first, then delete deepest first.
                let mut order = vec![root.clone()];
                let mut i = 0;
                while i < order.len() {
                    let p = order[i].clone();
                    match this.get_children_async(&p).await {
                        Ok((children, _)) => {
                            for c in children {
                                order.push(if p == "/" {
                                    format!("/{c}")
                                } else {
                                    format!("{p}/{c}")
                                });
                            }
                        }
                        Err(Error::ZooKeeper {
                            code: ErrorCode::NoNode,
                            ..
                        }) => {}
                        Err(e) => return Err(e),
                    }
                    i += 1;
                }
                // The server's own /zookeeper tree is left alone; under a chroot,
                // "/zookeeper" is an ordinary node of the application's.
                let chrooted = this.chroot().is_some();
                for p in order.iter().rev() {
                    let system = p == "/zookeeper" || p.starts_with("/zookeeper/");
                    if p == "/" || (system && !chrooted) {
                        continue;
                    }
                    match this.delete_async(p, -1).await {
                        Ok(())
                        | Err(Error::ZooKeeper {
                            code: ErrorCode::NoNode,
                            ..
                        }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            .await;
            let _ = o.set_result(res);
        });
        out
    }
}

fn parent_of(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => trimmed[..i].to_string(),
    }
}
