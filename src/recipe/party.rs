//! [`Party`] and [`ShallowParty`]: kazoo's group membership recipes, on kazoo's node names.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};

use super::base::{Base, Transition};
use super::chain::{block_call, children_or_none, read_all, then};
use super::protected::random_uuid;
use super::{ChildrenWatch, Flow, RecipeError, Retry};
use crate::handler::{Handler, MioHandler};
use crate::validate_path;
use crate::{AsyncResult, Client, CreateMode, Error, WeakClient};

/// What kazoo's `Party` puts in its member names.
const PARTY_MARK: &str = "__party__";

/// A group of members (kazoo's `Party`): each member is an ephemeral node
/// `path/<uuid4 hex>__party__` holding the member's identifier (UTF-8) as data, exactly as
/// kazoo writes it, so kazoo's `Party` on the same path sees our members and we see its.
///
/// One object is one member, with one uuid for its life: [`join`](Self::join) is
/// idempotent (the node already there means joined), [`leave`](Self::leave) deletes it.
/// [`members`](Self::members) lists the identifiers of everyone in the party (kazoo's
/// iteration), [`len`](Self::len) counts them.
///
/// **What kazoo lacks.** [`watch_async`](Self::watch_async) calls back with the members on
/// every change. And **the membership is ours until [`leave`](Self::leave)**: if the
/// session expires while joined (the server deletes the ephemeral node), the member joins
/// again, with the same name, as soon as the client is on a new session; after a
/// reconnect on the same session it makes sure its node is still there. kazoo's `Party`
/// silently stays out after an expiry. Dropping the last handle stops this but does not
/// delete the node (it goes with the session, as in kazoo).
///
/// Transient errors (connection loss, operation timeout) are retried with backoff
/// ([`Retry`]'s default policy) until the call succeeds; the blocking forms wait up to
/// the client's per-call timeout ([`Client::with_timeout`]).
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use mio_zookeeper::recipe::Party;
/// use mio_zookeeper::Client;
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// let me = Party::new(&zk, "/service/members", Some("host-1"))?;
/// me.join()?;
/// assert_eq!(me.members()?, ["host-1"]);
/// me.leave()?;
/// assert_eq!(me.len()?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Party<H: Handler = MioHandler>(Rc<Inner<H>>);

/// A group of members named by their identifier (kazoo's `ShallowParty`): each member is
/// an ephemeral node `path/<uuid4 hex>-<identifier>` (the identifier is also its data), so
/// listing the members is one call. The identifier must therefore be a valid node name
/// (no `/`, not `.` or `..`, not empty is fine: kazoo allows an empty identifier).
///
/// Everything else is as [`Party`]: idempotent [`join`](Self::join), rejoining after a
/// session expiry until [`leave`](Self::leave), [`watch_async`](Self::watch_async).
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use mio_zookeeper::recipe::ShallowParty;
/// use mio_zookeeper::Client;
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// let me = ShallowParty::new(&zk, "/service/shallow", Some("host-1"))?;
/// me.join()?;
/// assert_eq!(me.members()?, ["host-1"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ShallowParty<H: Handler = MioHandler>(Rc<Inner<H>>);

struct Inner<H: Handler> {
    client: WeakClient<H>,
    handler: H,
    path: String,
    /// Our member node's name (without the path).
    node: String,
    data: Vec<u8>,
    shallow: bool,
    /// Whether we want to be a member (join called, leave not since).
    joined: Cell<bool>,
    /// The state listener that joins again after a reconnect, while joined.
    base: RefCell<Option<Rc<Base<H>>>>,
}

impl<H: Handler> Drop for Inner<H> {
    fn drop(&mut self) {
        if let Some(b) = self.base.get_mut().take() {
            b.stop();
        }
    }
}

impl<H: Handler> Inner<H> {
    fn new(client: &Client<H>, path: &str, node: String, data: Vec<u8>, shallow: bool) -> Self {
        Inner {
            client: client.downgrade(),
            handler: client.handler().clone(),
            path: path.to_string(),
            node,
            data,
            shallow,
            joined: Cell::new(false),
            base: RefCell::new(None),
        }
    }

    fn what(&self) -> &'static str {
        if self.shallow {
            "ShallowParty"
        } else {
            "Party"
        }
    }

    fn client(&self) -> Result<Client<H>, Error> {
        self.client
            .upgrade()
            .ok_or(Error::Recipe(RecipeError::Stopped { what: self.what() }))
    }

    fn member_path(&self) -> String {
        format!("{}/{}", self.path, self.node)
    }

    fn failed<T: 'static>(&self, e: Error) -> AsyncResult<T> {
        let r = self.handler.async_result();
        let _ = r.set_exception(e);
        r
    }

    /// Creates our member node (and the party's path), retried; does nothing once we are
    /// no longer joined.
    fn create_member(me: &Rc<Self>, client: &Client<H>) -> AsyncResult<()> {
        let weak: Weak<Self> = Rc::downgrade(me);
        let c = client.clone();
        Retry::new().run_async(client, move || {
            let out = c.handler().async_result::<()>();
            let Some(me) = weak.upgrade().filter(|m| m.joined.get()) else {
                let _ = out.set(());
                return out;
            };
            let (c2, full, data) = (c.clone(), me.member_path(), me.data.clone());
            then(c.ensure_path_async(&me.path, None), &out, move |r, out| {
                if let Err(e) = r {
                    return Some(Err(e));
                }
                then(
                    c2.create_async(&full, data, CreateMode::Ephemeral),
                    out,
                    |r, _| {
                        Some(match r {
                            Ok(_) => Ok(()),
                            Err(e) if e.is_node_exists() => Ok(()),
                            Err(e) => Err(e),
                        })
                    },
                );
                None
            });
            out
        })
    }

    fn join_async(me: &Rc<Self>) -> AsyncResult<()> {
        let client = match me.client() {
            Ok(c) => c,
            Err(e) => return me.failed(e),
        };
        me.joined.set(true);
        if me.base.borrow().is_none() {
            let base = Base::new(&client);
            let weak = Rc::downgrade(me);
            base.listen(move |t| {
                let Some(me) = weak.upgrade() else { return };
                if matches!(t, Transition::Reconnected | Transition::NewSession) && me.joined.get()
                {
                    if let Ok(c) = me.client() {
                        Self::create_member(&me, &c);
                    }
                }
            });
            *me.base.borrow_mut() = Some(base);
        }
        Self::create_member(me, &client)
    }

    fn leave_async(me: &Rc<Self>) -> AsyncResult<bool> {
        me.joined.set(false);
        if let Some(b) = me.base.borrow_mut().take() {
            b.stop();
        }
        let client = match me.client() {
            Ok(c) => c,
            Err(e) => return me.failed(e),
        };
        let (c, full) = (client.clone(), me.member_path());
        Retry::new().run_async(&client, move || {
            let out = c.handler().async_result::<bool>();
            then(c.delete_async(&full, None), &out, |r, _| {
                Some(match r {
                    Ok(()) => Ok(true),
                    Err(e) if e.is_no_node() => Ok(false),
                    Err(e) => Err(e),
                })
            });
            out
        })
    }

    /// The member node names among `children`.
    fn member_nodes(&self, mut children: Vec<String>) -> Vec<String> {
        if !self.shallow {
            children.retain(|c| c.contains(PARTY_MARK));
        }
        children.sort();
        children
    }

    /// The identifiers of the members named `nodes` (for a `Party`, read from their data).
    fn identifiers(
        client: &Client<H>,
        path: &str,
        shallow: bool,
        nodes: Vec<String>,
    ) -> AsyncResult<Vec<String>> {
        let out = client.handler().async_result::<Vec<String>>();
        if shallow {
            // kazoo: `child[child.find("-") + 1:]` (the whole name without a `-`).
            let ids = nodes
                .iter()
                .map(|n| n.find('-').map_or(n.as_str(), |i| &n[i + 1..]).to_string())
                .collect();
            let _ = out.set(ids);
            return out;
        }
        let paths = nodes.iter().map(|n| format!("{path}/{n}")).collect();
        then(read_all(client, paths), &out, |r, _| {
            Some(r.map(|datas| {
                datas
                    .into_iter()
                    .flatten()
                    .map(|d| String::from_utf8_lossy(&d).into_owned())
                    .collect()
            }))
        });
        out
    }

    fn members_async(me: &Rc<Self>) -> AsyncResult<Vec<String>> {
        let client = match me.client() {
            Ok(c) => c,
            Err(e) => return me.failed(e),
        };
        let weak = Rc::downgrade(me);
        let c = client.clone();
        Retry::new().run_async(&client, move || {
            let out = c.handler().async_result::<Vec<String>>();
            let Some(me) = weak.upgrade() else {
                let _ = out.set_exception(Error::Recipe(RecipeError::Stopped { what: "Party" }));
                return out;
            };
            let (c2, path, shallow) = (c.clone(), me.path.clone(), me.shallow);
            then(children_or_none(&c, &me.path), &out, move |r, out| {
                let nodes = match r {
                    Ok(children) => me.member_nodes(children),
                    Err(e) => return Some(Err(e)),
                };
                then(
                    Self::identifiers(&c2, &path, shallow, nodes),
                    out,
                    |r, _| Some(r),
                );
                None
            });
            out
        })
    }

    fn len_async(me: &Rc<Self>) -> AsyncResult<usize> {
        let client = match me.client() {
            Ok(c) => c,
            Err(e) => return me.failed(e),
        };
        let weak = Rc::downgrade(me);
        let c = client.clone();
        Retry::new().run_async(&client, move || {
            let out = c.handler().async_result::<usize>();
            let me = weak.clone();
            then(children_or_none(&c, &me_path(&weak)), &out, move |r, _| {
                let me = me.upgrade()?;
                Some(r.map(|children| me.member_nodes(children).len()))
            });
            out
        })
    }

    fn watch_async(
        me: &Rc<Self>,
        f: impl Fn(&[String]) + 'static,
    ) -> AsyncResult<ChildrenWatch<H>> {
        let client = match me.client() {
            Ok(c) => c,
            Err(e) => return me.failed(e),
        };
        let out = client.handler().async_result::<ChildrenWatch<H>>();
        let (c, path, shallow) = (client.clone(), me.path.clone(), me.shallow);
        let f = Rc::new(f);
        then(
            client.ensure_path_async(&me.path, None),
            &out,
            move |r, _| {
                if let Err(e) = r {
                    return Some(Err(e));
                }
                // Each change reads the identifiers; only the latest read is delivered.
                let generation = Rc::new(Cell::new(0u64));
                let weak = c.downgrade();
                let base = path.clone();
                Some(ChildrenWatch::start_async(&c, &path, move |children, _| {
                    let Some(c) = weak.upgrade() else {
                        return Flow::Stop;
                    };
                    let mut nodes = children.to_vec();
                    if !shallow {
                        nodes.retain(|n| n.contains(PARTY_MARK));
                    }
                    let mine = generation.get() + 1;
                    generation.set(mine);
                    let (gen, f) = (generation.clone(), f.clone());
                    Self::identifiers(&c, &base, shallow, nodes).rawlink(move |r| {
                        if gen.get() == mine {
                            if let Ok(ids) = r.take(false, None) {
                                f(&ids)
                            }
                        }
                    });
                    Flow::Continue
                }))
            },
        );
        out
    }
}

fn me_path<H: Handler>(weak: &Weak<Inner<H>>) -> String {
    weak.upgrade().map(|m| m.path.clone()).unwrap_or_default()
}

/// Checks the party's path.
fn check_path(path: &str) -> Result<(), Error> {
    validate_path(path, false)?;
    if path == "/" {
        return Err(Error::BadArgument(
            "a party needs its own node, not the root".into(),
        ));
    }
    Ok(())
}

macro_rules! party_api {
    ($ty:ident, $what:literal) => {
        impl<H: Handler> $ty<H> {
            /// Joins the party (kazoo's `join`): creates our member node (and the party's
            /// path, as kazoo's `ensure_path`), retrying transient errors. Idempotent.
            /// From now until [`leave`](Self::leave) the member joins again after a
            /// session expiry.
            ///
            /// # Notable errors
            ///
            /// [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded loop (use
            /// [`join_async`](Self::join_async)); [`Error::Timeout`] after the client's
            /// per-call timeout (the join goes on in the background).
            pub fn join(&self) -> Result<(), Error> {
                let c = self.0.client()?;
                block_call(&c, concat!($what, "::join"), || Inner::join_async(&self.0))
            }

            /// Async form of [`join`](Self::join).
            pub fn join_async(&self) -> AsyncResult<()> {
                Inner::join_async(&self.0)
            }

            /// Leaves the party (kazoo's `leave`): deletes our member node. `true` if it
            /// was there, `false` if not.
            pub fn leave(&self) -> Result<bool, Error> {
                let c = self.0.client()?;
                block_call(&c, concat!($what, "::leave"), || {
                    Inner::leave_async(&self.0)
                })
            }

            /// Async form of [`leave`](Self::leave).
            pub fn leave_async(&self) -> AsyncResult<bool> {
                Inner::leave_async(&self.0)
            }

            /// The identifiers of the party's members (kazoo's iteration over the party),
            /// in the order of their node names; empty if the party's node does not exist.
            pub fn members(&self) -> Result<Vec<String>, Error> {
                let c = self.0.client()?;
                block_call(&c, concat!($what, "::members"), || {
                    Inner::members_async(&self.0)
                })
            }

            /// Async form of [`members`](Self::members).
            pub fn members_async(&self) -> AsyncResult<Vec<String>> {
                Inner::members_async(&self.0)
            }

            /// How many members the party has (kazoo's `len(party)`).
            pub fn len(&self) -> Result<usize, Error> {
                let c = self.0.client()?;
                block_call(&c, concat!($what, "::len"), || Inner::len_async(&self.0))
            }

            /// Async form of [`len`](Self::len).
            pub fn len_async(&self) -> AsyncResult<usize> {
                Inner::len_async(&self.0)
            }

            /// Whether the party has no members.
            pub fn is_empty(&self) -> Result<bool, Error> {
                self.len().map(|n| n == 0)
            }

            /// Calls `f` with the members' identifiers now and on every change of the
            /// membership (what kazoo lacks; built on [`ChildrenWatch`]). The party's path
            /// is created first if missing. The result is the running watch: stop it with
            /// [`ChildrenWatch::stop`]. `f` runs on the loop.
            pub fn watch_async(
                &self,
                f: impl Fn(&[String]) + 'static,
            ) -> AsyncResult<ChildrenWatch<H>> {
                Inner::watch_async(&self.0, f)
            }

            /// Whether this object is joined (join called and leave not since).
            pub fn is_joined(&self) -> bool {
                self.0.joined.get()
            }

            /// The party's path.
            pub fn path(&self) -> &str {
                &self.0.path
            }

            /// Our member node's name (`<uuid hex>__party__` or `<uuid hex>-<identifier>`).
            pub fn node_name(&self) -> &str {
                &self.0.node
            }
        }

        impl<H: Handler> Clone for $ty<H> {
            fn clone(&self) -> Self {
                $ty(self.0.clone())
            }
        }

        impl<H: Handler> fmt::Debug for $ty<H> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct($what)
                    .field("path", &self.0.path)
                    .field("node", &self.0.node)
                    .field("joined", &self.0.joined.get())
                    .finish()
            }
        }
    };
}

party_api!(Party, "Party");
party_api!(ShallowParty, "ShallowParty");

impl<H: Handler> Party<H> {
    /// A party member on `path` with `identifier` (UTF-8 data of its node; `None` is empty
    /// data, as kazoo's `identifier=None`). Nothing is sent until [`join`](Self::join).
    ///
    /// # Notable errors
    ///
    /// [`Error::InvalidPath`]; [`Error::BadArgument`] for the root.
    pub fn new(client: &Client<H>, path: &str, identifier: Option<&str>) -> Result<Self, Error> {
        check_path(path)?;
        let node = format!("{}{PARTY_MARK}", random_uuid().replace('-', ""));
        let data = identifier.unwrap_or("").as_bytes().to_vec();
        Ok(Party(Rc::new(Inner::new(client, path, node, data, false))))
    }
}

impl<H: Handler> ShallowParty<H> {
    /// A shallow party member on `path` named by `identifier` (`None`: empty, as kazoo).
    /// Nothing is sent until [`join`](Self::join).
    ///
    /// # Notable errors
    ///
    /// [`Error::InvalidPath`]; [`Error::BadArgument`] for the root, or an identifier that
    /// cannot be part of a node name (a `/`, a NUL or other control character).
    pub fn new(client: &Client<H>, path: &str, identifier: Option<&str>) -> Result<Self, Error> {
        check_path(path)?;
        let id = identifier.unwrap_or("");
        let node = format!("{}-{id}", random_uuid().replace('-', ""));
        if id.contains('/') || validate_path(&format!("{path}/{node}"), false).is_err() {
            return Err(Error::BadArgument(format!(
                "ShallowParty identifier {id:?} must be usable in a node name (no '/', no control characters)"
            )));
        }
        Ok(ShallowParty(Rc::new(Inner::new(
            client,
            path,
            node,
            id.as_bytes().to_vec(),
            true,
        ))))
    }
}
