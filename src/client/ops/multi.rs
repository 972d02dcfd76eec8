//! Several operations in one request: transactions and multi_read.

use bytes::Bytes;

use super::super::{detach, unexpected, Client, Transaction};
use crate::async_result::AsyncResult;
use crate::error::Error;
use crate::handler::Handler;
use crate::proto::{MultiOp, MultiResult, Request, Response, Stat};
use crate::ZkError;

/// One read of [`Client::multi_read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOp {
    /// getData of a path.
    GetData(String),
    /// getChildren of a path.
    GetChildren(String),
}

/// The result of one [`ReadOp`].
#[derive(Debug, Clone, PartialEq)]
pub enum ReadResult {
    /// Data and stat.
    Data(Option<Bytes>, Stat),
    /// Child names.
    Children(Vec<String>),
}

impl<H: Handler> Client<H> {
    /// A transaction builder: ops run atomically on [`Transaction::commit`].
    pub fn transaction(&self) -> Transaction<H> {
        Transaction::new(self.clone())
    }

    /// Reads several nodes in one round trip (not atomic; each read succeeds or fails on its
    /// own; ZooKeeper 3.6+).
    pub fn multi_read(&self, ops: &[ReadOp]) -> Result<Vec<Result<ReadResult, Error>>, Error> {
        self.blocking("Client::multi_read", || self.multi_read_async(ops))
    }

    /// Async form of [`multi_read`](Self::multi_read).
    pub fn multi_read_async(&self, ops: &[ReadOp]) -> AsyncResult<Vec<Result<ReadResult, Error>>> {
        let mut wire = Vec::with_capacity(ops.len());
        let mut paths = Vec::with_capacity(ops.len());
        for op in ops {
            let (p, mk): (&str, fn(String) -> MultiOp) = match op {
                ReadOp::GetData(p) => (p, MultiOp::GetData),
                ReadOp::GetChildren(p) => (p, MultiOp::GetChildren),
            };
            match self.path(p, false) {
                Ok(full) => wire.push(mk(full)),
                Err(e) => return self.failed(e),
            }
            paths.push(p.to_string());
        }
        self.submit(
            Request::MultiRead(wire),
            "multiRead",
            None,
            move |res| match res? {
                Response::Multi(results) => Ok(results
                    .into_iter()
                    .zip(paths)
                    .map(|(r, p)| match r {
                        MultiResult::GetData { data, stat } => {
                            Ok(ReadResult::Data(data.map(detach), stat))
                        }
                        MultiResult::GetChildren { children } => Ok(ReadResult::Children(children)),
                        MultiResult::Error(code) => {
                            Err(Error::ZooKeeper(ZkError { code, path: p }))
                        }
                        other => Err(Error::protocol("multiRead", &other)),
                    })
                    .collect()),
                other => Err(unexpected("multiRead", &other)),
            },
        )
    }
}
