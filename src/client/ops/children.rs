//! Listing children: get_children and its with-stat form.

use super::super::watchers::{PendingKind, PendingWatcher};
use super::super::{unexpected, Client, Watcher};
use super::WatchArg;
use crate::async_result::AsyncResult;
use crate::error::Error;
use crate::handler::Handler;
use crate::proto::{PathWatch, Request, Response, Stat};

impl<H: Handler> Client<H> {
    /// The names of a node's children, unordered (kazoo's `get_children(path, watch=None)`).
    ///
    /// `watch` leaves a one-shot child watch: `None` for none, or a [`Watcher`] (or
    /// `&Watcher`), called once when a child is added or removed or the node is deleted.
    /// Watcher identity and timeouts as for [`get`](Self::get).
    pub fn get_children(
        &self,
        path: &str,
        watch: impl Into<Option<Watcher>>,
    ) -> Result<Vec<String>, Error> {
        self.watched("Client::get_children", watch.into(), |w| {
            self.children_impl(path, w, |c, _| c)
        })
    }

    /// Async form of [`get_children`](Self::get_children).
    pub fn get_children_async(
        &self,
        path: &str,
        watch: impl Into<Option<Watcher>>,
    ) -> AsyncResult<Vec<String>> {
        self.children_impl(path, watch.into().map(|w| (w, None)), |c, _| c)
    }

    /// [`get_children`](Self::get_children) with the node's stat (kazoo's
    /// `include_data=True`; getChildren2 on the wire).
    pub fn get_children_with_stat(
        &self,
        path: &str,
        watch: impl Into<Option<Watcher>>,
    ) -> Result<(Vec<String>, Stat), Error> {
        self.watched("Client::get_children_with_stat", watch.into(), |w| {
            self.children_impl(path, w, |c, s| (c, s))
        })
    }

    /// Async form of [`get_children_with_stat`](Self::get_children_with_stat).
    pub fn get_children_with_stat_async(
        &self,
        path: &str,
        watch: impl Into<Option<Watcher>>,
    ) -> AsyncResult<(Vec<String>, Stat)> {
        self.children_impl(path, watch.into().map(|w| (w, None)), |c, s| (c, s))
    }

    fn children_impl<T: 'static>(
        &self,
        path: &str,
        watcher: WatchArg,
        shape: fn(Vec<String>, Stat) -> T,
    ) -> AsyncResult<T> {
        let full = or_fail!(self, self.path(path, false));
        let watch = PendingWatcher::of(PendingKind::Child, &full, watcher);
        let req = Request::GetChildren2(PathWatch {
            path: full,
            watch: watch.is_some(),
        });
        self.submit(req, "getChildren", watch, move |res| match res? {
            Response::GetChildren2 { children, stat } => Ok(shape(children, stat)),
            other => Err(unexpected("getChildren2", &other)),
        })
    }
}
