//! A failed SetWatches / SetWatches2: the watches of the batch are not registered with the
//! server, so their watchers would wait for events that never come.
//!
//! What happens (and why):
//!
//! - **one-shot watches** (data, exist, child) are dropped from the registry and reported
//!   with [`Event::WatchReset`] `kept: false`: their watchers get the "re-read" event
//!   (`EventType::None`, `SyncConnected`) and are done, as after any event. Re-registering
//!   them would need the original read (`getData`, `exists`, `getChildren`), whose answer
//!   the watcher would not see; the watcher re-reads and re-arms instead, which it does after
//!   every event anyway.
//! - **persistent watches** are re-added, one `addWatch` each (it needs no read). Their
//!   watchers were told to re-read at the reconnect already; once the `addWatch` succeeded
//!   they are told again ([`Event::WatchReset`] `kept: true`), since a change between the
//!   reconnect and the re-add was missed. If the `addWatch` fails too, the watch is dropped
//!   and reported with `kept: false`.
//!
//! The batch is not retried as a whole: a server that refused it once (an unknown opcode,
//! a limit) would refuse it again.

use log::warn;

use super::{Event, InFlight, Owner, Session};
use crate::proto::{
    encode_request, AddWatchMode, AddWatchRequest, ErrorCode, Request, Response, SetWatches,
    SetWatches2,
};
use crate::session::{RequestError, WatchKind};

/// The watches a SetWatches request carried, by kind.
pub(super) fn batch_watches(req: Request) -> Vec<(WatchKind, String)> {
    let mut out = Vec::new();
    let mut add = |kind: WatchKind, paths: Vec<String>| {
        out.extend(paths.into_iter().map(|p| (kind, p)));
    };
    match req {
        Request::SetWatches(SetWatches {
            data_watches,
            exist_watches,
            child_watches,
            ..
        }) => {
            add(WatchKind::Data, data_watches);
            add(WatchKind::Exist, exist_watches);
            add(WatchKind::Child, child_watches);
        }
        Request::SetWatches2(SetWatches2 {
            data_watches,
            exist_watches,
            child_watches,
            persistent_watches,
            persistent_recursive_watches,
            ..
        }) => {
            add(WatchKind::Data, data_watches);
            add(WatchKind::Exist, exist_watches);
            add(WatchKind::Child, child_watches);
            add(WatchKind::Persistent, persistent_watches);
            add(WatchKind::PersistentRecursive, persistent_recursive_watches);
        }
        _ => {}
    }
    out
}

impl Session {
    /// The server refused a SetWatches batch with `err`.
    pub(super) fn set_watches_failed(&mut self, batch: Request, err: ErrorCode) {
        let watches = batch_watches(batch);
        warn!(
            "re-registering {} watches failed: {err}; one-shot watchers are told to re-read, \
             persistent watches are re-added",
            watches.len()
        );
        for (kind, path) in watches {
            if !self.watches.contains(kind, &path) {
                continue; // removed meanwhile
            }
            match kind {
                WatchKind::Persistent | WatchKind::PersistentRecursive => {
                    let mode = if kind == WatchKind::Persistent {
                        AddWatchMode::Persistent
                    } else {
                        AddWatchMode::PersistentRecursive
                    };
                    let req = Request::AddWatch(AddWatchRequest {
                        path: path.clone(),
                        mode: mode.as_i32(),
                    });
                    let x = self.alloc_xid();
                    if encode_request(x, &req, &mut self.outbuf, usize::MAX).is_ok() {
                        self.push_inflight(InFlight {
                            xid: x,
                            op: req.op_code(),
                            owner: Owner::Rewatch(Box::new((kind, path))),
                        });
                    } else {
                        self.watch_lost(kind, path);
                    }
                }
                _ => self.watch_lost(kind, path),
            }
        }
    }

    /// The reply to an `addWatch` sent by [`set_watches_failed`](Self::set_watches_failed).
    pub(super) fn rewatch_answered(
        &mut self,
        kind: WatchKind,
        path: String,
        result: &Result<Response, RequestError>,
    ) {
        let ok = matches!(result, Ok(Response::AddWatch { err: ErrorCode::Ok }));
        if !self.watches.contains(kind, &path) {
            return; // removed meanwhile
        }
        if ok {
            self.events.push_back(Event::WatchReset {
                kind,
                path,
                kept: true,
            });
        } else {
            warn!("re-adding the persistent watch on {path} failed: {result:?}");
            self.watch_lost(kind, path);
        }
    }

    fn watch_lost(&mut self, kind: WatchKind, path: String) {
        self.watches.forget(kind, &path);
        self.events.push_back(Event::WatchReset {
            kind,
            path,
            kept: false,
        });
    }
}
