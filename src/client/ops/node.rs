//! Node operations: create, ensure_path, get, exists, set, delete, delete_recursive.

use std::time::Duration;

use bytes::Bytes;

use super::super::watchers::{PendingKind, PendingWatcher};
use super::super::{detach, unexpected, Client, Watcher};
use super::{version_of, NodeData, WatchArg};
use crate::async_result::AsyncResult;
use crate::client::hosts::validate_path;
use crate::error::Error;
use crate::handler::Handler;
use crate::proto::{
    Acl, CreateMode, CreateRequest, CreateTtlRequest, DeleteRequest, ErrorCode, PathWatch, Request,
    Response, SetDataRequest, Stat,
};
use crate::ZkError;

/// Options of [`Client::create`] (and of [`Transaction::create`](crate::client::Transaction::create)):
/// mode, ACL, TTL, makepath. A [`CreateMode`] converts into the options of that mode, so the
/// common case reads `zk.create(path, data, CreateMode::Ephemeral)`.
///
/// ```no_run
/// # let zk = mio_zookeeper::Client::new("127.0.0.1:2181")?;
/// use std::time::Duration;
/// use mio_zookeeper::{Acl, CreateMode, CreateOptions};
///
/// zk.create("/plain", b"", CreateMode::Persistent)?;
/// let opts = CreateOptions::mode(CreateMode::PersistentWithTtl)
///     .with_ttl(Duration::from_secs(60))
///     .with_acl(Acl::read_unsafe())
///     .with_makepath();
/// let (path, stat) = zk.create("/deep/down/node", b"v", opts)?;
/// println!("{path}: version {}", stat.version);
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    /// The node's ACL; `None` (or an empty list) uses the client's default ACL.
    pub acl: Option<Vec<Acl>>,
    /// Persistent, ephemeral, sequential, container or TTL.
    pub mode: CreateMode,
    /// For the TTL modes: the time to live (0 < ttl < 2^40 ms).
    pub ttl: Option<Duration>,
    /// Create missing parents first (kazoo's `makepath`), with the same ACL.
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
    /// Options for `mode`, with the default ACL, no TTL and no makepath.
    pub fn mode(mode: CreateMode) -> CreateOptions {
        CreateOptions {
            mode,
            ..CreateOptions::default()
        }
    }

    /// These options with the ACL `acl`.
    pub fn with_acl(mut self, acl: Vec<Acl>) -> CreateOptions {
        self.acl = Some(acl);
        self
    }

    /// These options with the time to live `ttl` (for the TTL modes).
    pub fn with_ttl(mut self, ttl: Duration) -> CreateOptions {
        self.ttl = Some(ttl);
        self
    }

    /// These options, creating missing parents first (kazoo's `makepath=True`).
    pub fn with_makepath(mut self) -> CreateOptions {
        self.makepath = true;
        self
    }
}

impl From<CreateMode> for CreateOptions {
    /// The options of `mode` ([`CreateOptions::mode`]).
    fn from(mode: CreateMode) -> CreateOptions {
        CreateOptions::mode(mode)
    }
}

impl From<&CreateOptions> for CreateOptions {
    fn from(opts: &CreateOptions) -> CreateOptions {
        opts.clone()
    }
}

impl<H: Handler> Client<H> {
    /// Creates a node (kazoo's `create`): `data` ([`NodeData`]: bytes in any form, or
    /// [`NullData`](crate::client::NullData)), with `opts` (a [`CreateMode`] or
    /// [`CreateOptions`]: mode, ACL, TTL, makepath). Returns the node's real path (with the
    /// sequence suffix for sequential modes, without the chroot) and its stat.
    ///
    /// # Notable errors
    ///
    /// - [`ErrorCode::NodeExists`], [`ErrorCode::NoNode`] (a missing parent, without
    ///   makepath), [`ErrorCode::NoChildrenForEphemerals`] (in [`Error::ZooKeeper`]).
    /// - [`Error::BadArgument`]: a TTL mode without a valid ttl, or a ttl for another mode.
    pub fn create(
        &self,
        path: &str,
        data: impl NodeData,
        opts: impl Into<CreateOptions>,
    ) -> Result<(String, Stat), Error> {
        self.blocking("Client::create", || self.create_async(path, data, opts))
    }

    /// Async form of [`create`](Self::create).
    pub fn create_async(
        &self,
        path: &str,
        data: impl NodeData,
        opts: impl Into<CreateOptions>,
    ) -> AsyncResult<(String, Stat)> {
        let (data, opts) = (data.into_wire(), opts.into());
        if !opts.makepath {
            return self.create_once(path, data, &opts);
        }
        let this = self.internal();
        let path = path.to_string();
        let out = self.handler.async_result();
        let o = out.clone();
        self.handler.spawn_future(async move {
            let first = this.create_once(&path, data.clone(), &opts).await;
            let res = match first {
                Err(Error::ZooKeeper(ZkError {
                    code: ErrorCode::NoNode,
                    ..
                })) => {
                    // A sequential path ending in '/' creates a child of the path itself
                    // (kazoo: `path.rstrip('/')`).
                    let parent = match path.strip_suffix('/') {
                        Some("") => "/".to_string(),
                        Some(p) => p.to_string(),
                        None => parent_of(&path),
                    };
                    match this.ensure_path_async(&parent, opts.acl.clone()).await {
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

    /// Creates `path` and any missing parent (kazoo's `ensure_path(path, acl=None)`);
    /// succeeds if it exists. Only missing nodes are created, with null data and `acl`
    /// (`None`: the client's default ACL); under a chroot whose node is missing, that node
    /// is created too.
    pub fn ensure_path(&self, path: &str, acl: Option<Vec<Acl>>) -> Result<(), Error> {
        self.blocking("Client::ensure_path", || self.ensure_path_async(path, acl))
    }

    /// Async form of [`ensure_path`](Self::ensure_path).
    pub fn ensure_path_async(&self, path: &str, acl: Option<Vec<Acl>>) -> AsyncResult<()> {
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
                while this.exists_async(&p, None).await?.is_none() {
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
                        Err(Error::ZooKeeper(ZkError {
                            code: ErrorCode::NodeExists,
                            ..
                        })) => {}
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

    /// Reads a node (kazoo's `get(path, watch=None)`): its data and stat. The data is
    /// `None` when the node holds null data (not the same as empty data on the wire).
    ///
    /// `watch` leaves a one-shot data watch: `None` for none, or a [`Watcher`] (or
    /// `&Watcher`), called once when the node's data changes or it is deleted (or with an
    /// `EventType::None` event when the session is lost). The same watcher registered
    /// again on the path is stored once (see [`Watcher`]);
    /// [`remove_watcher`](Self::remove_watcher) removes exactly that watcher. If the call
    /// fails on its per-call timeout, the watcher is not registered, even when the reply
    /// comes later.
    pub fn get(
        &self,
        path: &str,
        watch: impl Into<Option<Watcher>>,
    ) -> Result<(Option<Bytes>, Stat), Error> {
        self.watched("Client::get", watch.into(), |w| self.get_impl(path, w))
    }

    /// Async form of [`get`](Self::get).
    pub fn get_async(
        &self,
        path: &str,
        watch: impl Into<Option<Watcher>>,
    ) -> AsyncResult<(Option<Bytes>, Stat)> {
        self.get_impl(path, watch.into().map(|w| (w, None)))
    }

    fn get_impl(&self, path: &str, watcher: WatchArg) -> AsyncResult<(Option<Bytes>, Stat)> {
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

    /// Whether a node exists (kazoo's `exists(path, watch=None)`): its stat, or `None`.
    ///
    /// `watch` as for [`get`](Self::get): on a node that exists the watcher fires on data
    /// change or delete; on a missing node it fires when the node is created.
    pub fn exists(
        &self,
        path: &str,
        watch: impl Into<Option<Watcher>>,
    ) -> Result<Option<Stat>, Error> {
        self.watched("Client::exists", watch.into(), |w| {
            self.exists_impl(path, w)
        })
    }

    /// Async form of [`exists`](Self::exists).
    pub fn exists_async(
        &self,
        path: &str,
        watch: impl Into<Option<Watcher>>,
    ) -> AsyncResult<Option<Stat>> {
        self.exists_impl(path, watch.into().map(|w| (w, None)))
    }

    fn exists_impl(&self, path: &str, watcher: WatchArg) -> AsyncResult<Option<Stat>> {
        let full = or_fail!(self, self.path(path, false));
        let watch = PendingWatcher::of(PendingKind::Exists, &full, watcher);
        let req = Request::Exists(PathWatch {
            path: full,
            watch: watch.is_some(),
        });
        self.submit(req, "exists", watch, |res| match res {
            Ok(Response::Stat(s)) => Ok(Some(s)),
            Ok(other) => Err(unexpected("exists", &other)),
            Err(Error::ZooKeeper(ZkError {
                code: ErrorCode::NoNode,
                ..
            })) => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// Sets a node's data (kazoo's `set(path, value, version=-1)`) if its version is
    /// `version` (`None`: any version); returns the new stat. `data` as for
    /// [`create`](Self::create).
    ///
    /// # Notable errors
    ///
    /// [`ErrorCode::NoNode`], [`ErrorCode::BadVersion`] (in [`Error::ZooKeeper`]).
    pub fn set(
        &self,
        path: &str,
        data: impl NodeData,
        version: Option<i32>,
    ) -> Result<Stat, Error> {
        self.blocking("Client::set", || self.set_async(path, data, version))
    }

    /// Async form of [`set`](Self::set).
    pub fn set_async(
        &self,
        path: &str,
        data: impl NodeData,
        version: Option<i32>,
    ) -> AsyncResult<Stat> {
        let full = or_fail!(self, self.path(path, false));
        let req = Request::SetData(SetDataRequest {
            path: full,
            data: data.into_wire(),
            version: version_of(version),
        });
        self.submit(req, "setData", None, |res| match res? {
            Response::Stat(s) => Ok(s),
            other => Err(unexpected("setData", &other)),
        })
    }

    /// Deletes a node if its version is `version` (`None`: any version). For a node and
    /// everything below it (kazoo's `recursive=True`), see
    /// [`delete_recursive`](Self::delete_recursive).
    ///
    /// # Notable errors
    ///
    /// [`ErrorCode::NoNode`], [`ErrorCode::BadVersion`], [`ErrorCode::NotEmpty`] (in
    /// [`Error::ZooKeeper`]).
    pub fn delete(&self, path: &str, version: Option<i32>) -> Result<(), Error> {
        self.blocking("Client::delete", || self.delete_async(path, version))
    }

    /// Async form of [`delete`](Self::delete).
    pub fn delete_async(&self, path: &str, version: Option<i32>) -> AsyncResult<()> {
        let full = or_fail!(self, self.path(path, false));
        let req = Request::Delete(DeleteRequest {
            path: full,
            version: version_of(version),
        });
        self.submit(req, "delete", None, |res| res.map(|_| ()))
    }

    /// Deletes a node and everything below it, depth first (not atomic; kazoo's
    /// `delete(path, recursive=True)`), whatever their versions. A node that is already
    /// gone is not an error.
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
                    match this.get_children_async(&p, None).await {
                        Ok(children) => {
                            for c in children {
                                order.push(if p == "/" {
                                    format!("/{c}")
                                } else {
                                    format!("{p}/{c}")
                                });
                            }
                        }
                        Err(Error::ZooKeeper(ZkError {
                            code: ErrorCode::NoNode,
                            ..
                        })) => {}
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
                    match this.delete_async(p, None).await {
                        Ok(())
                        | Err(Error::ZooKeeper(ZkError {
                            code: ErrorCode::NoNode,
                            ..
                        })) => {}
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
