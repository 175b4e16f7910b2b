//! This process as one node of several sharing a PostgreSQL store (ARCHITECTURE §7).
//!
//! - **Registration.** At start the node registers its id ([`Node::register`]); an id that is
//!   live elsewhere is refused. A heartbeat renews it every third of the lease TTL. If the
//!   registration expired anyway (the process was paused, or cut off from the database, for
//!   longer than the TTL), every session this node wrote stops at once (its sandbox and turn
//!   too) and the node registers again as a new incarnation.
//! - **Ownership.** A session's actor takes the session's lease before it runs any command
//!   (`session/ownership.rs`), writes with the lease's fencing token, and gives the lease back
//!   when the session turns quiet. A command for a session another live node owns fails with
//!   [`RuntimeError::OwnedElsewhere`], which the server answers by forwarding the request there.
//! - **Following.** Every fenced append is announced through the store; the listener here
//!   hands each announcement to the session's log if it is loaded, which reads the new events
//!   and fans them out to this node's subscribers.
//! - **Takeover.** Every quarter of the TTL (and at start) the node takes over the open
//!   sessions no live node owns: it closes the turn their dead owner left running as
//!   `interrupted`, and keeps the ones waiting for a person.
//!
//! Only the store's clock judges expiry; the heartbeat logs when this host's clock differs from
//! it by more than [`skew_margin`].

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use agent_runtime_store::{ClusterStore, Fence, Heard, NodeId, Ownership, StoreError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::ClusterConfig;
use crate::error::{Result, RuntimeError};
use crate::manager::Runtime;
use crate::registry::Registry;
use crate::session::SessionHandle;

/// This node: its registration and the store's cluster part.
pub(crate) struct Node {
    store: Arc<dyn ClusterStore>,
    config: ClusterConfig,
    id: RwLock<NodeId>,
}

/// A clock difference with the store beyond this is logged: a quarter of the TTL.
pub(crate) fn skew_margin(ttl: Duration) -> Duration {
    ttl / 4
}

impl Node {
    /// Registers the node; fails if its id is live elsewhere.
    pub(crate) async fn register(
        store: Arc<dyn ClusterStore>,
        config: ClusterConfig,
    ) -> Result<Node> {
        let id = store
            .register_node(&config.node_id, &config.advertise_url, config.lease_ttl)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(why) => RuntimeError::InvalidRequest(why),
                other => other.into(),
            })?;
        tracing::info!(
            node_id = %id.node_id,
            incarnation = id.incarnation,
            url = %config.advertise_url,
            ttl_ms = config.lease_ttl.as_millis() as u64,
            "registered as a node of the cluster"
        );
        Ok(Node {
            store,
            config,
            id: RwLock::new(id),
        })
    }

    pub(crate) fn store(&self) -> &Arc<dyn ClusterStore> {
        &self.store
    }

    /// The registration this process holds now.
    pub(crate) fn id(&self) -> NodeId {
        self.id.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Takes the session's lease if this node may (see [`ClusterStore::acquire`]).
    pub(crate) async fn acquire(&self, session_id: &str) -> Result<Ownership> {
        Ok(self.store.acquire(session_id, &self.id()).await?)
    }

    /// Gives the lease back; a failure only delays other nodes until they take it over.
    pub(crate) async fn release(&self, session_id: &str, fence: &Fence) {
        if let Err(e) = self.store.release(session_id, fence).await {
            tracing::warn!(session_id, "releasing the session's lease failed: {e}");
        }
    }

    /// Ends the registration (a graceful stop): other nodes may take the sessions at once.
    pub(crate) async fn deregister(&self) {
        if let Err(e) = self.store.deregister_node(&self.id()).await {
            tracing::warn!("deregistering the node failed: {e}");
        }
    }

    /// Registers again after the registration expired, retrying until it holds or `cancel`.
    async fn register_again(&self, cancel: &CancellationToken) {
        let ttl = self.config.lease_ttl;
        loop {
            match self
                .store
                .register_node(&self.config.node_id, &self.config.advertise_url, ttl)
                .await
            {
                Ok(id) => {
                    tracing::info!(incarnation = id.incarnation, "registered the node again");
                    *self.id.write().unwrap_or_else(|e| e.into_inner()) = id;
                    return;
                }
                Err(e) => tracing::warn!("registering the node again failed: {e}"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(ttl / 4) => {}
            }
        }
    }
}

/// Starts the node's heartbeat, its listener and its takeover of orphaned sessions, each ending
/// with `cancel`.
pub(crate) fn start(
    runtime: &Arc<Runtime>,
    node: Arc<Node>,
    sessions: Arc<Registry<SessionHandle>>,
    cancel: CancellationToken,
    tracker: &tokio_util::task::TaskTracker,
) {
    tracker.spawn(heartbeat(node.clone(), sessions.clone(), cancel.clone()));
    tracker.spawn(listen(node.clone(), sessions, cancel.clone()));
    tracker.spawn(take_over(Arc::downgrade(runtime), node, cancel));
}

/// Renews the registration; steps down from every session when it is lost.
async fn heartbeat(
    node: Arc<Node>,
    sessions: Arc<Registry<SessionHandle>>,
    cancel: CancellationToken,
) {
    let ttl = node.config.lease_ttl;
    let mut renewed = Instant::now();
    let mut stepped_down = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(ttl / 3) => {}
        }
        match node.store.heartbeat(&node.id(), ttl).await {
            Ok(Some(store_now)) => {
                renewed = Instant::now();
                log_skew(store_now, skew_margin(ttl));
                if stepped_down {
                    // Still registered, but this node gave its sessions up: a new incarnation
                    // frees them in the store, so the takeover scan finds the open ones.
                    node.deregister().await;
                    node.register_again(&cancel).await;
                    stepped_down = false;
                }
            }
            Ok(None) => {
                tracing::warn!(
                    "the node's registration expired (paused or cut off for longer than {} ms): \
                     stopping every session it owned",
                    ttl.as_millis()
                );
                step_down_all(&sessions).await;
                node.register_again(&cancel).await;
                renewed = Instant::now();
            }
            Err(e) => {
                tracing::warn!("heartbeat failed: {e}");
                // The store counts this node dead once the TTL passed without a heartbeat.
                if renewed.elapsed() >= ttl && !stepped_down {
                    tracing::warn!("no heartbeat for the lease TTL: stopping every owned session");
                    step_down_all(&sessions).await;
                    stepped_down = true;
                }
            }
        }
    }
}

fn log_skew(store_now: SystemTime, margin: Duration) {
    let here = SystemTime::now();
    let skew = here
        .duration_since(store_now)
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap_or_default();
    if skew > margin {
        tracing::warn!(
            skew_ms = skew.as_millis() as u64,
            margin_ms = margin.as_millis() as u64,
            "this host's clock differs from the database's by more than the lease margin; \
             leases follow the database's clock, but timestamps in events follow this one"
        );
    }
}

async fn step_down_all(sessions: &Registry<SessionHandle>) {
    for handle in sessions.values() {
        handle.log.lose_ownership().await;
    }
}

/// Follows the other nodes' appends.
async fn listen(
    node: Arc<Node>,
    sessions: Arc<Registry<SessionHandle>>,
    cancel: CancellationToken,
) {
    loop {
        let mut listener = tokio::select! {
            _ = cancel.cancelled() => return,
            listener = node.store.listen() => match listener {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!("listening for other nodes' appends failed: {e}");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            },
        };
        // Whatever was appended before the listener was in place.
        catch_up_all(&sessions).await;
        loop {
            let heard = tokio::select! {
                _ = cancel.cancelled() => return,
                heard = listener.recv() => heard,
            };
            match heard {
                Ok(Heard::Appended { session_id, seq }) => {
                    if let Some(handle) = sessions.get(&session_id) {
                        if let Err(e) = handle.log.catch_up_to(seq).await {
                            tracing::warn!(session_id, "following the session failed: {e}");
                        }
                    }
                }
                Ok(Heard::Missed) => catch_up_all(&sessions).await,
                Err(e) => {
                    tracing::warn!("the append listener failed: {e}");
                    break;
                }
            }
        }
    }
}

async fn catch_up_all(sessions: &Registry<SessionHandle>) {
    for handle in sessions.values() {
        if let Err(e) = handle.log.catch_up().await {
            tracing::warn!(
                session_id = handle.log.session_id(),
                "following failed: {e}"
            );
        }
    }
}

/// Takes over the sessions whose owner died, every quarter of the TTL.
async fn take_over(runtime: Weak<Runtime>, node: Arc<Node>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(node.config.lease_ttl / 4) => {}
        }
        let Some(runtime) = runtime.upgrade() else {
            return;
        };
        if let Err(e) = runtime.take_over_orphans().await {
            tracing::warn!("taking over orphaned sessions failed: {e}");
        }
    }
}
