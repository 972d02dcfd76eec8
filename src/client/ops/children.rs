//! Listing children: get_children and its with-stat form.

use super::super::watchers::{PendingKind, PendingWatcher, Withdraw};
use super::super::{unexpected, Client, Watcher};
use crate::async_result::AsyncResult;
use crate::error::Error;
use crate::handler::Handler;
use crate::proto::{PathWatch, Request, Response, Stat};

impl<H: Handler> Client<H> {
    /// The names of a node's children (unordered).
    pub fn get_children(&self, path: &str) -> Result<Vec<String>, Error> {
        self.blocking("Client::get_children", || self.get_children_async(path))
            .map(|(c, _)| c)
    }

    /// The children and the node's stat (getChildren2).
    pub fn get_children_with_stat(&self, path: &str) -> Result<(Vec<String>, Stat), Error> {
        self.blocking("Client::get_children_with_stat", || {
            self.get_children_async(path)
        })
    }

    /// Async form of [`get_children_with_stat`](Self::get_children_with_stat).
    pub fn get_children_async(&self, path: &str) -> AsyncResult<(Vec<String>, Stat)> {
        self.children_impl(path, None)
    }

    /// [`get_children`](Self::get_children), leaving a one-shot child watch (fires when a
    /// child is added or removed, or the node is deleted). Watcher identity and timeouts as
    /// for [`get_watch`](Self::get_watch).
    pub fn get_children_watch<W: Into<Watcher>>(
        &self,
        path: &str,
        watcher: W,
    ) -> Result<Vec<String>, Error> {
        let watcher = watcher.into();
        self.blocking_watch("Client::get_children_watch", |withdraw| {
            self.children_impl(path, Some((watcher, Some(withdraw))))
        })
        .map(|(c, _)| c)
    }

    /// Async form of [`get_children_watch`](Self::get_children_watch), with the stat.
    pub fn get_children_watch_async<W: Into<Watcher>>(
        &self,
        path: &str,
        watcher: W,
    ) -> AsyncResult<(Vec<String>, Stat)> {
        self.children_impl(path, Some((watcher.into(), None)))
    }

    fn children_impl(
        &self,
        path: &str,
        watcher: Option<(Watcher, Option<Withdraw>)>,
    ) -> AsyncResult<(Vec<String>, Stat)> {
        let full = or_fail!(self, self.path(path, false));
        let watch = PendingWatcher::of(PendingKind::Child, &full, watcher);
        let req = Request::GetChildren2(PathWatch {
            path: full,
            watch: watch.is_some(),
        });
        self.submit(req, "getChildren", watch, |res| match res? {
            Response::GetChildren2 { children, stat } => Ok((children, stat)),
            other => Err(unexpected("getChildren2", &other)),
        })
    }
}
