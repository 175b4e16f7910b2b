//! Whether a session needs to stay in memory, and in the store's recovery index.
//!
//! A session is **quiet** when nothing of it runs or waits: no turn, no sandbox, no queued
//! message, and its status is not `requires_action` (no permission or question request pending,
//! no budget overrun waiting for approval). Two things follow from it:
//!
//! - **The open mark** ([`SessionStore::set_open`]). The actor marks the session open before it
//!   starts a turn or records a request, so a crash never leaves a running turn or a pending
//!   request unmarked, and clears the mark when the session turns quiet. At start the runtime
//!   visits only the marked sessions: start-up costs O(open sessions), not O(all events).
//! - **Unloading.** A session quiet for `session_unload_after` (counted from the later of the
//!   moment it turned quiet and its last use through the runtime) whose log has no subscriber
//!   takes itself out of the runtime's registry (see `crate::registry`) and its actor ends,
//!   dropping the folded state and the ring. If someone holds it or subscribes, it tries again
//!   one period later. The next request loads it again from the store.
//!
//! [`SessionStore::set_open`]: agent_runtime_store::SessionStore::set_open

use std::sync::{Arc, Mutex, Weak};

use agent_runtime_protocol::SessionStatus;
use tokio::time::Instant;

use super::actor::Actor;
use super::SessionHandle;
use crate::error::Result;
use crate::registry::Registry;

/// What the actor needs to know about its place in the runtime.
pub(crate) struct Residency {
    /// Where the runtime finds loaded sessions; the actor removes itself from it to unload.
    pub(crate) registry: Weak<Registry<SessionHandle>>,
    /// When the runtime last handed the session to a caller (snapshots and subscriptions count).
    pub(crate) last_use: Arc<LastUse>,
    /// What the store's open mark is, as far as this actor knows.
    pub(crate) open_mark: OpenMark,
    /// Since when the session is quiet; `None` while it is not.
    pub(crate) quiet_since: Option<Instant>,
}

/// The store's open mark of the session, as the actor knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenMark {
    /// Not marked: starting work writes the mark first.
    Clear,
    /// Marked: the first quiet moment clears it.
    Set,
    /// Either (a session just taken over from another node): both are written.
    Unknown,
}

/// When a loaded session was last used, shared by its handle and its actor.
#[derive(Debug)]
pub(crate) struct LastUse(Mutex<Instant>);

impl LastUse {
    pub(crate) fn now() -> Self {
        LastUse(Mutex::new(Instant::now()))
    }

    /// Records a use now.
    pub(crate) fn touch(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn get(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Actor {
    /// Marks the session open in the store unless it is already. Called before a turn starts or
    /// a request is recorded: if the mark cannot be written, that work must not begin.
    pub(super) async fn mark_open(&mut self) -> Result<()> {
        if self.residency.open_mark == OpenMark::Set {
            return Ok(());
        }
        self.deps.store.set_open(self.session_id(), true).await?;
        self.residency.open_mark = OpenMark::Set;
        Ok(())
    }

    /// Notes whether the session is quiet now; when it just turned quiet, clears its open mark.
    pub(super) async fn note_quiet(&mut self) {
        // A node that only follows the session leaves the waiting to its owner.
        let waiting = self.log.read(|s| s.status).await == SessionStatus::RequiresAction
            && self.log.is_writer().await;
        let quiet = self.turn.is_none()
            && self.sandbox.is_none()
            && self.queue.is_empty()
            && self.asks.next_expiry().is_none()
            && !waiting;
        if !quiet {
            self.residency.quiet_since = None;
            return;
        }
        if self.residency.quiet_since.is_none() {
            self.residency.quiet_since = Some(Instant::now());
            self.clear_open_mark().await;
            self.release_ownership().await;
        }
    }

    /// A command arrived: the session is in use, whatever the command does.
    pub(super) fn note_command(&mut self) {
        self.residency.quiet_since = None;
    }

    async fn clear_open_mark(&mut self) {
        if self.residency.open_mark == OpenMark::Clear {
            return;
        }
        match self.deps.store.set_open(self.session_id(), false).await {
            Ok(()) => self.residency.open_mark = OpenMark::Clear,
            // Harmless: the next start looks at the session once more. Retried before unloading.
            Err(e) => {
                tracing::warn!(session_id = %self.session_id(), "clearing the open mark failed: {e}")
            }
        }
    }

    /// When the session is due to be unloaded; `None` while it is not quiet, or if sessions are
    /// never unloaded.
    pub(super) fn unload_deadline(&self) -> Option<Instant> {
        let after = self.deps.config.session_unload_after?;
        let quiet_since = self.residency.quiet_since?;
        Some(quiet_since.max(self.residency.last_use.get()) + after)
    }

    /// Takes the session out of the runtime if nobody uses it; returns whether it did (the actor
    /// then ends). Otherwise the session is looked at again one period later.
    pub(super) async fn try_unload(&mut self) -> bool {
        if self
            .unload_deadline()
            .is_none_or(|deadline| Instant::now() < deadline)
        {
            // Used since the deadline was computed; the loop computes the new one.
            return false;
        }
        self.clear_open_mark().await;
        let unloaded = self.residency.open_mark == OpenMark::Clear
            && self.residency.registry.upgrade().is_some_and(|registry| {
                let (log, commands) = (&self.log, &self.commands);
                // Under the registry's lock: nobody can reach the handle to send a command or
                // subscribe while this is checked.
                registry.remove_if_unused(self.session_id(), |handle| {
                    Arc::ptr_eq(&handle.log, log) && commands.is_empty() && !log.has_subscribers()
                })
            });
        if unloaded {
            tracing::info!(session_id = %self.session_id(), "session unloaded");
        } else {
            self.residency.quiet_since = Some(Instant::now());
        }
        unloaded
    }
}
