//! The session's lease on a node of several (`crate::cluster`): taken before any command,
//! given back when the session turns quiet, and given up at once when the store fences this
//! node off. On a single node every function here is a no-op.

use agent_runtime_store::{Fence, Ownership};

use super::actor::{close_abandoned_turn, Actor};
use super::approvals::Asks;
use super::residency::OpenMark;
use crate::error::{Result, RuntimeError};

impl Actor {
    /// Makes this node the session's owner unless it is: takes the lease, reads what the
    /// previous owner appended, and closes the turn it left running (it died with it). Fails
    /// with [`RuntimeError::OwnedElsewhere`] when another live node owns the session.
    pub(super) async fn ensure_owner(&mut self) -> Result<()> {
        let Some(node) = self.deps.cluster.clone() else {
            return Ok(());
        };
        if self.log.is_writer().await {
            return Ok(());
        }
        match node.acquire(self.session_id()).await? {
            Ownership::Owned(fence) => self.adopt_lease(fence).await,
            Ownership::OwnedBy { node_id, url } => Err(RuntimeError::OwnedElsewhere {
                session_id: self.session_id().to_string(),
                node_id,
                url,
            }),
        }
    }

    /// Takes the session over if it is still open and no live node owns it (its owner died):
    /// returns whether this node did. Another node may have been quicker.
    pub(super) async fn take_over(&mut self) -> Result<bool> {
        let Some(node) = self.deps.cluster.clone() else {
            return Ok(false);
        };
        if self.log.is_writer().await {
            return Ok(false);
        }
        let taken = node
            .store()
            .acquire_orphaned(self.session_id(), &node.id())
            .await?;
        match taken {
            Some(fence) => self.adopt_lease(fence).await.map(|()| true),
            None => Ok(false),
        }
    }

    /// Becomes the session's writer with `fence`: reads what the previous owner appended and
    /// closes the turn it left running (it died with it).
    async fn adopt_lease(&mut self, fence: Fence) -> Result<()> {
        if let Err(e) = self.log.own(fence.clone()).await {
            if let Some(node) = &self.deps.cluster {
                node.release(self.session_id(), &fence).await;
            }
            return Err(e);
        }
        tracing::debug!(session_id = %self.session_id(), token = fence.token, "took the session's lease");
        // Whether the store marks the session open is not known here: work marks it, the first
        // quiet moment clears it, either way.
        self.residency.open_mark = OpenMark::Unknown;
        let state = self.log.state().await;
        self.files = state
            .files
            .iter()
            .map(|f| (f.path.clone(), f.clone()))
            .collect();
        if self.turn.is_none() && state.runtime.active_turn_id.is_some() {
            tracing::warn!(session_id = %self.session_id(), "taking over a turn whose node died");
            close_abandoned_turn(&self.log).await?;
        }
        self.asks = Asks::default();
        self.load_pending_asks().await;
        Ok(())
    }

    /// Gives the lease back (the session is quiet): another node may take it without waiting.
    pub(super) async fn release_ownership(&mut self) {
        let Some(node) = self.deps.cluster.clone() else {
            return;
        };
        if let Err(e) = self.log.flush().await {
            tracing::error!(session_id = %self.session_id(), "writing events failed: {e}");
        }
        if let Some(fence) = self.log.disown().await {
            node.release(self.session_id(), &fence).await;
        }
    }

    /// The store fenced this node off: another node owns the session now, or this node's
    /// registration expired. Stops the sandbox and drops the turn without writing anything (the
    /// new owner closes the turn); the session stays loaded, following the store.
    pub(super) async fn step_down(&mut self) {
        tracing::warn!(
            session_id = %self.session_id(),
            "this node no longer owns the session: stopping its sandbox and turn"
        );
        if let Some(process) = self.process.take() {
            process.kill().await;
        }
        if let Some(sandbox) = self.sandbox.take() {
            if let Err(e) = sandbox.destroy().await {
                tracing::warn!(session_id = %self.session_id(), "destroying the sandbox failed: {e}");
            }
        }
        self.forget_sandbox();
        let metrics = crate::metrics::global();
        metrics
            .cluster_step_downs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.turn.take().is_some() {
            // Ended here; the new owner writes how.
            metrics.turn_ended(agent_runtime_protocol::TurnEndReason::Interrupted);
        }
        self.queue.clear();
        self.asks = Asks::default();
        // The store's open mark is the new owner's to look after.
        self.residency.open_mark = OpenMark::Clear;
        self.log.disown().await;
    }
}
