//! Session and server operations: sync, auth, reconfig, config, ephemerals, counts, whoami.

use std::rc::Rc;

use bytes::Bytes;

use super::super::{detach, unexpected, Client};
use crate::async_result::AsyncResult;
use crate::error::Error;
use crate::handler::Handler;
use crate::proto::{
    AuthPacket, ClientInfo, ErrorCode, PathOnly, PathWatch, ReconfigRequest, Request, Response,
    Stat,
};
use crate::ZkError;

impl<H: Handler> Client<H> {
    /// Makes the server this client is connected to catch up with the leader; returns the
    /// path.
    pub fn sync(&self, path: &str) -> Result<String, Error> {
        self.blocking("Client::sync", || self.sync_async(path))
    }

    /// Async form of [`sync`](Self::sync).
    pub fn sync_async(&self, path: &str) -> AsyncResult<String> {
        let full = or_fail!(self, self.path(path, false));
        let this = self.internal();
        self.submit(
            Request::Sync(PathOnly { path: full }),
            "sync",
            None,
            move |res| match res? {
                Response::Sync { path } => Ok(this.unchroot(&path)),
                other => Err(unexpected("sync", &other)),
            },
        )
    }

    /// Adds credentials to the session (sent now; once the server accepted them, again after
    /// every reconnect and in every new session of this client, as kazoo's `auth_data`). A
    /// failure ([`Error::AuthFailed`]) makes the session unusable (AUTH_FAILED, then LOST),
    /// as in kazoo, but the refused credential is forgotten: [`restart`](Self::restart)
    /// opens a working session. Credentials given to the builder are configuration and are
    /// always sent.
    pub fn add_auth(&self, scheme: &str, credential: &[u8]) -> Result<(), Error> {
        self.blocking("Client::add_auth", || {
            self.add_auth_async(scheme, credential)
        })
    }

    /// Async form of [`add_auth`](Self::add_auth).
    pub fn add_auth_async(&self, scheme: &str, credential: &[u8]) -> AsyncResult<()> {
        let cred = Bytes::copy_from_slice(credential);
        // Remembered for later sessions (restart) only once the server accepted it: a
        // refused one would fail every later session too. The session replays it into its
        // own reconnects on the same condition.
        let pair = (scheme.to_string(), cred.clone());
        let core = Rc::downgrade(&self.shared);
        self.submit(
            Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: scheme.to_string(),
                auth: Some(cred),
            }),
            "auth",
            None,
            move |res| match res {
                Ok(_) => {
                    if let Some(core) = core.upgrade() {
                        let mut core = core.borrow_mut();
                        if !core.added_auth.contains(&pair) {
                            core.added_auth.push(pair);
                        }
                    }
                    Ok(())
                }
                // The same error as every other request of the now unusable session.
                Err(Error::ZooKeeper(ZkError {
                    code: ErrorCode::AuthFailed,
                    ..
                })) => Err(Error::AuthFailed),
                Err(e) => Err(e),
            },
        )
    }

    /// Changes the ensemble's membership (not chroot-aware); returns the new config and its
    /// stat. Needs `reconfigEnabled` and super-user rights on the server. `joining`,
    /// `leaving` and `new_members` are null on the wire when `None` (not the same as an
    /// empty list); `from_config` is the config version to change (`None`: any).
    pub fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: Option<i64>,
    ) -> Result<(Bytes, Stat), Error> {
        self.blocking("Client::reconfig", || {
            self.reconfig_async(joining, leaving, new_members, from_config)
        })
    }

    /// Async form of [`reconfig`](Self::reconfig).
    pub fn reconfig_async(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: Option<i64>,
    ) -> AsyncResult<(Bytes, Stat)> {
        let req = Request::Reconfig(ReconfigRequest {
            joining_servers: joining.map(str::to_string),
            leaving_servers: leaving.map(str::to_string),
            new_members: new_members.map(str::to_string),
            cur_config_id: from_config.unwrap_or(-1),
        });
        self.submit(req, "reconfig", None, |res| match res? {
            Response::GetData { data, stat } => Ok((data.map(detach).unwrap_or_default(), stat)),
            other => Err(unexpected("reconfig", &other)),
        })
    }

    /// The ensemble's dynamic config (`/zookeeper/config`, read outside the chroot).
    pub fn get_config(&self) -> Result<(Bytes, Stat), Error> {
        self.blocking("Client::get_config", || self.get_config_async())
    }

    /// Async form of [`get_config`](Self::get_config).
    pub fn get_config_async(&self) -> AsyncResult<(Bytes, Stat)> {
        let req = Request::GetData(PathWatch {
            path: "/zookeeper/config".into(),
            watch: false,
        });
        self.submit(req, "/zookeeper/config", None, |res| match res? {
            Response::GetData { data, stat } => Ok((data.map(detach).unwrap_or_default(), stat)),
            other => Err(unexpected("getConfig", &other)),
        })
    }

    /// The session's ephemeral nodes whose path starts with `prefix` (a string prefix, not
    /// only whole path components; ZooKeeper 3.6+).
    pub fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>, Error> {
        self.blocking("Client::get_ephemerals", || {
            self.get_ephemerals_async(prefix)
        })
    }

    /// Async form of [`get_ephemerals`](Self::get_ephemerals).
    pub fn get_ephemerals_async(&self, prefix: &str) -> AsyncResult<Vec<String>> {
        let full = or_fail!(self, self.path(prefix, false));
        let this = self.internal();
        self.submit(
            Request::GetEphemerals(PathOnly { path: full }),
            "getEphemerals",
            None,
            move |res| match res? {
                Response::GetEphemerals { ephemerals } => {
                    Ok(ephemerals.iter().map(|p| this.unchroot(p)).collect())
                }
                other => Err(unexpected("getEphemerals", &other)),
            },
        )
    }

    /// The number of all descendants of `path` (ZooKeeper 3.6+).
    pub fn get_all_children_number(&self, path: &str) -> Result<i32, Error> {
        self.blocking("Client::get_all_children_number", || {
            self.get_all_children_number_async(path)
        })
    }

    /// Async form of [`get_all_children_number`](Self::get_all_children_number).
    pub fn get_all_children_number_async(&self, path: &str) -> AsyncResult<i32> {
        let full = or_fail!(self, self.path(path, false));
        self.submit(
            Request::GetAllChildrenNumber(PathOnly { path: full }),
            "getAllChildrenNumber",
            None,
            |res| match res? {
                Response::GetAllChildrenNumber { total } => Ok(total),
                other => Err(unexpected("getAllChildrenNumber", &other)),
            },
        )
    }

    /// The highest zxid this client has seen in a reply or a notification (kazoo's
    /// `last_zxid`; sent at every reconnect so that the client never sees an older state);
    /// 0 before the first reply of a session and when there is no session.
    pub fn last_zxid(&self) -> i64 {
        self.shared
            .borrow()
            .session
            .as_ref()
            .map_or(0, |s| s.last_zxid())
    }

    /// Who the server thinks this session is (ZooKeeper 3.7+).
    pub fn whoami(&self) -> Result<Vec<ClientInfo>, Error> {
        self.blocking("Client::whoami", || self.whoami_async())
    }

    /// Async form of [`whoami`](Self::whoami).
    pub fn whoami_async(&self) -> AsyncResult<Vec<ClientInfo>> {
        self.submit(Request::WhoAmI, "whoAmI", None, |res| match res? {
            Response::WhoAmI(v) => Ok(v),
            other => Err(unexpected("whoAmI", &other)),
        })
    }
}
