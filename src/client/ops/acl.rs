//! ACLs: get_acls and set_acls.

use super::super::{unexpected, Client};
use crate::async_result::AsyncResult;
use crate::error::Error;
use crate::handler::Handler;
use crate::proto::{Acl, PathOnly, Request, Response, SetAclRequest, Stat};

impl<H: Handler> Client<H> {
    /// A node's ACL and stat.
    pub fn get_acls(&self, path: &str) -> Result<(Vec<Acl>, Stat), Error> {
        self.blocking("Client::get_acls", || self.get_acls_async(path))
    }

    /// Async form of [`get_acls`](Self::get_acls).
    pub fn get_acls_async(&self, path: &str) -> AsyncResult<(Vec<Acl>, Stat)> {
        let full = or_fail!(self, self.path(path, false));
        self.submit(
            Request::GetAcl(PathOnly { path: full }),
            "getACL",
            None,
            |res| match res? {
                Response::GetAcl { acl, stat } => Ok((acl, stat)),
                other => Err(unexpected("getACL", &other)),
            },
        )
    }

    /// Sets a node's ACL (kazoo's `set_acls(path, acls, version=-1)`) if its ACL version is
    /// `version` (`None`: any version); returns the new stat.
    pub fn set_acls(&self, path: &str, acl: Vec<Acl>, version: Option<i32>) -> Result<Stat, Error> {
        self.blocking("Client::set_acls", || {
            self.set_acls_async(path, acl, version)
        })
    }

    /// Async form of [`set_acls`](Self::set_acls).
    pub fn set_acls_async(
        &self,
        path: &str,
        acl: Vec<Acl>,
        version: Option<i32>,
    ) -> AsyncResult<Stat> {
        let full = or_fail!(self, self.path(path, false));
        self.submit(
            Request::SetAcl(SetAclRequest {
                path: full,
                acl,
                version: super::version_of(version),
            }),
            "setACL",
            None,
            |res| match res? {
                Response::Stat(s) => Ok(s),
                other => Err(unexpected("setACL", &other)),
            },
        )
    }
}
