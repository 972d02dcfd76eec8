//! Transactions (kazoo's `TransactionRequest`): several writes applied atomically.

use super::{Client, CreateOptions, NodeData};
use crate::async_result::AsyncResult;
use crate::error::Error;
use crate::handler::Handler;
use crate::proto::{
    CheckVersionRequest, CreateRequest, DeleteRequest, ErrorCode, MultiOp, MultiResult,
    SetDataRequest, Stat,
};
use crate::ZkError;

/// The outcome of one operation of a committed transaction. A failed transaction reports
/// its failure here, op by op (kazoo's behaviour), not as an error of `commit`.
#[derive(Debug, Clone)]
pub enum OpResult {
    /// A create succeeded: the node's path (without the chroot).
    Create(String),
    /// A delete succeeded.
    Delete,
    /// A set_data succeeded: the new stat.
    SetData(Stat),
    /// A check succeeded.
    Check,
    /// The transaction failed elsewhere; this op was rolled back (kazoo's `RolledBackError`).
    RolledBack,
    /// This op failed (the first failing op has the cause, later ops RuntimeInconsistency).
    Error(Error),
}

impl OpResult {
    /// Whether the op succeeded.
    pub fn is_ok(&self) -> bool {
        !matches!(self, OpResult::RolledBack | OpResult::Error(_))
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Create(String),
    Delete(String),
    SetData(String),
    Check(String),
}

/// A transaction under construction; see [`Client::transaction`].
///
/// ```no_run
/// # let zk = mio_zookeeper::Client::new("127.0.0.1:2181")?;
/// use mio_zookeeper::{Acl, CreateMode, CreateOptions};
///
/// let results = zk
///     .transaction()
///     .create("/a", b"1", CreateMode::Persistent)
///     .create("/a/mine", b"", CreateOptions::mode(CreateMode::Ephemeral).with_acl(Acl::creator_all()))
///     .set_data("/b", b"2", None)
///     .check("/c", Some(3))
///     .commit()?;
/// if results.iter().all(|r| r.is_ok()) {
///     println!("applied");
/// }
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
#[derive(Debug)]
pub struct Transaction<H: Handler> {
    client: Client<H>,
    ops: Vec<MultiOp>,
    kinds: Vec<Kind>,
    error: Option<Error>,
}

impl<H: Handler> Transaction<H> {
    pub(crate) fn new(client: Client<H>) -> Transaction<H> {
        Transaction {
            client,
            ops: Vec::new(),
            kinds: Vec::new(),
            error: None,
        }
    }

    fn full(&mut self, path: &str, sequential: bool) -> Option<String> {
        match self.client.full_path(path, sequential) {
            Ok(p) => Some(p),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    /// Adds a create (kazoo's `create(path, value, acl, ephemeral, sequence)`): `data` and
    /// `opts` as for [`Client::create`] (a [`CreateMode`](crate::CreateMode) or
    /// [`CreateOptions`]: the mode and the ACL; `None` ACL: the client's default). TTL and
    /// container modes and makepath are refused: the transaction then fails, before
    /// anything is sent, with [`Error::BadArgument`].
    pub fn create(
        mut self,
        path: &str,
        data: impl NodeData,
        opts: impl Into<CreateOptions>,
    ) -> Self {
        let opts = opts.into();
        let mode = opts.mode;
        if mode.is_ttl() || mode.is_container() || opts.ttl.is_some() || opts.makepath {
            self.error.get_or_insert(Error::BadArgument(format!(
                "transaction create of {path}: {mode:?} nodes, a ttl and makepath are not \
                 supported in a transaction here"
            )));
            return self;
        }
        if let Some(full) = self.full(path, mode.is_sequential()) {
            let acl = match opts.acl {
                Some(a) if !a.is_empty() => a,
                _ => self.client.default_acl(),
            };
            self.ops.push(MultiOp::Create(CreateRequest {
                path: full,
                data: data.into_wire(),
                acl,
                flags: mode.flags(),
            }));
            self.kinds.push(Kind::Create(path.to_string()));
        }
        self
    }

    /// Adds a delete if the node's version is `version` (`None`: any version).
    pub fn delete(mut self, path: &str, version: Option<i32>) -> Self {
        if let Some(full) = self.full(path, false) {
            self.ops.push(MultiOp::Delete(DeleteRequest {
                path: full,
                version: version.unwrap_or(-1),
            }));
            self.kinds.push(Kind::Delete(path.to_string()));
        }
        self
    }

    /// Adds a set_data if the node's version is `version` (`None`: any version); `data` as
    /// for [`Client::set`].
    pub fn set_data(mut self, path: &str, data: impl NodeData, version: Option<i32>) -> Self {
        if let Some(full) = self.full(path, false) {
            self.ops.push(MultiOp::SetData(SetDataRequest {
                path: full,
                data: data.into_wire(),
                version: version.unwrap_or(-1),
            }));
            self.kinds.push(Kind::SetData(path.to_string()));
        }
        self
    }

    /// Adds a check that the node's version is `version` (`None`: only that the node
    /// exists).
    pub fn check(mut self, path: &str, version: Option<i32>) -> Self {
        if let Some(full) = self.full(path, false) {
            self.ops.push(MultiOp::Check(CheckVersionRequest {
                path: full,
                version: version.unwrap_or(-1),
            }));
            self.kinds.push(Kind::Check(path.to_string()));
        }
        self
    }

    /// Sends the transaction and waits for its results, one per op.
    ///
    /// A transaction is committed at most once: `commit` takes it by value, so committing it
    /// twice does not compile (where kazoo raises "Transaction already committed"):
    ///
    /// ```compile_fail,E0382
    /// # let zk = mio_zookeeper::Client::new("127.0.0.1:2181")?;
    /// let t = zk.transaction().create("/a", b"", mio_zookeeper::CreateMode::Persistent);
    /// t.commit()?;
    /// t.commit()?; // use of moved value
    /// # Ok::<(), mio_zookeeper::Error>(())
    /// ```
    pub fn commit(self) -> Result<Vec<OpResult>, Error> {
        let client = self.client.clone();
        client.refuse_if_embedded("Transaction::commit")?;
        client.wait_result(self.commit_async())
    }

    /// Sends the transaction.
    pub fn commit_async(mut self) -> AsyncResult<Vec<OpResult>> {
        if let Some(e) = self.error.take() {
            let r = self.client.handler().async_result();
            let _ = r.set_exception(e);
            return r;
        }
        self.client.submit_multi(
            std::mem::take(&mut self.ops),
            std::mem::take(&mut self.kinds),
        )
    }
}

/// Maps multi results to per-op outcomes.
pub(crate) fn results<H: Handler>(
    client: &Client<H>,
    results: Vec<MultiResult>,
    kinds: Vec<Kind>,
) -> Vec<OpResult> {
    let failed = results
        .iter()
        .any(|r| matches!(r, MultiResult::Error(c) if *c != ErrorCode::Ok));
    results
        .into_iter()
        .zip(kinds)
        .map(|(r, k)| {
            let path = match &k {
                Kind::Create(p) | Kind::Delete(p) | Kind::SetData(p) | Kind::Check(p) => p.clone(),
            };
            match r {
                MultiResult::Create { path } | MultiResult::Create2 { path, .. } => {
                    OpResult::Create(client.strip_chroot(&path))
                }
                MultiResult::Delete => OpResult::Delete,
                MultiResult::SetData(s) => OpResult::SetData(s),
                MultiResult::Check => OpResult::Check,
                MultiResult::Error(ErrorCode::Ok) if failed => OpResult::RolledBack,
                MultiResult::Error(code) => {
                    OpResult::Error(Error::ZooKeeper(ZkError { code, path }))
                }
                other => OpResult::Error(Error::protocol("multi", &other)),
            }
        })
        .collect()
}
