//! [`ClusterStore`]: what several runtime nodes sharing one database need from it — node
//! liveness, one owner per active session with a fencing token, fenced appends, and a
//! notification per append.
//!
//! Only a store that several processes on several machines can share implements it (PostgreSQL,
//! [`crate::postgres`]); [`SessionStore::cluster`](crate::SessionStore::cluster) hands it out.
//!
//! # The rules
//!
//! - **Nodes.** A node registers under an id and stays live while it renews its registration
//!   ([`ClusterStore::heartbeat`]) within the TTL. Registering an id that is live fails with
//!   [`StoreError::Conflict`]; registering it after it expired starts a new incarnation and
//!   releases every session the old one still owned. Expiry is judged by the store's own clock,
//!   never a node's.
//! - **Ownership.** [`ClusterStore::acquire`] makes a live node the owner of a session when
//!   nobody owns it, its owner's node is no longer live, or the node owns it already; each
//!   acquisition returns a fencing token greater than every token before it for that session.
//!   Otherwise it names the live owner.
//! - **Fencing.** [`ClusterStore::append_fenced`] appends (with the gapless seqs of
//!   [`SessionStore::append_events`](crate::SessionStore::append_events)) only if, in the same
//!   transaction that reserves the seqs, the fence is still the session's current one and its
//!   node is live; else it fails with [`StoreError::Fenced`] and appends nothing. A node paused
//!   past its TTL cannot append even if nobody took its sessions over.
//! - **Notifications.** Every fenced append, once committed, is announced to every
//!   [`ClusterListener`] as `(session_id, last seq of the batch)`, in commit order per session.
//!   A listener whose connection dropped says so ([`Heard::Missed`]): its owner must then read
//!   what it follows from the store again.
//!
//! [`StoreError::Conflict`]: crate::StoreError::Conflict
//! [`StoreError::Fenced`]: crate::StoreError::Fenced

use std::time::{Duration, SystemTime};

use agent_runtime_protocol::{Envelope, SessionEvent};
use async_trait::async_trait;

use crate::error::Result;

/// A registered node: its id and the incarnation this process holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeId {
    pub node_id: String,
    pub incarnation: i64,
}

/// What one acquisition of a session gave its node: appends must carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub node: NodeId,
    pub token: i64,
}

/// The answer of [`ClusterStore::acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// This node owns the session now.
    Owned(Fence),
    /// Another live node does; commands go to `url`.
    OwnedBy { node_id: String, url: String },
}

/// A node as [`ClusterStore::list_nodes`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub node_id: String,
    pub incarnation: i64,
    pub url: String,
    pub live: bool,
}

/// What a [`ClusterListener`] hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Events up to `seq` of the session are in the store.
    Appended { session_id: String, seq: u64 },
    /// The connection dropped and came back: notifications may have been lost meanwhile.
    Missed,
}

/// Receives the notifications of every node's fenced appends.
#[async_trait]
pub trait ClusterListener: Send {
    /// The next notification; reconnects by itself after a connection loss (and then returns
    /// [`Heard::Missed`] once). Fails only if the store is closed or unreachable for good.
    async fn recv(&mut self) -> Result<Heard>;
}

/// Node liveness, session ownership, fenced appends and their notifications (see the module
/// docs for the rules every implementation keeps).
#[async_trait]
pub trait ClusterStore: Send + Sync + 'static {
    /// Registers the node `node_id`, reachable at `url`, live for `ttl` from now (store clock).
    async fn register_node(&self, node_id: &str, url: &str, ttl: Duration) -> Result<NodeId>;

    /// Renews the node's registration for `ttl`; returns the store's clock, or `None` when the
    /// registration had expired (the node must step down from everything and register again).
    async fn heartbeat(&self, node: &NodeId, ttl: Duration) -> Result<Option<SystemTime>>;

    /// Ends the node's registration and releases its sessions (a graceful stop), so other nodes
    /// take over at once instead of after the TTL.
    async fn deregister_node(&self, node: &NodeId) -> Result<()>;

    /// Every registered node, by id.
    async fn list_nodes(&self) -> Result<Vec<NodeInfo>>;

    /// Makes `node` the session's owner if it may be (see the module docs). Fails with
    /// `NotFound` for a missing session and `Fenced` when `node` itself is not live.
    async fn acquire(&self, session_id: &str, node: &NodeId) -> Result<Ownership>;

    /// [`ClusterStore::acquire`], only if the session is still open and no live node owns it
    /// (what [`ClusterStore::list_orphaned`] listed, checked again in the same statement):
    /// `None` when another node took it over first or it is no longer open. Fails with `Fenced`
    /// when `node` itself is not live.
    async fn acquire_orphaned(&self, session_id: &str, node: &NodeId) -> Result<Option<Fence>>;

    /// The live node that owns the session; `None` when nobody does (or the owner expired).
    async fn owner(&self, session_id: &str) -> Result<Option<String>>;

    /// Gives up the ownership `fence` stands for; nothing happens if it is no longer current.
    async fn release(&self, session_id: &str, fence: &Fence) -> Result<()>;

    /// [`SessionStore::append_events`](crate::SessionStore::append_events), if `fence` still
    /// holds; else `Fenced` and nothing is appended. Announced to listeners on commit.
    async fn append_fenced(
        &self,
        session_id: &str,
        fence: &Fence,
        events: &[(String, SessionEvent)],
    ) -> Result<Vec<Envelope>>;

    /// Up to `limit` ids of open sessions (see
    /// [`SessionStore::list_open`](crate::SessionStore::list_open)) that no live node owns,
    /// ascending, each greater than `after`: what a node must take over.
    async fn list_orphaned(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>>;

    /// A new listener for append notifications.
    async fn listen(&self) -> Result<Box<dyn ClusterListener>>;
}
