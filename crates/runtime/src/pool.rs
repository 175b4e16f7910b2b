//! The warm pool: sandboxes started ahead of need, each with its agent process running and
//! waiting for a first message, so a new session's first turn skips the sandbox and CLI start.
//!
//! - **Keys.** An entry is made for one agent, profile and permission mode ([`PoolKey`]): the
//!   profile's files, limits, network and the mode are in place before the process starts, so
//!   they cannot be changed at claim time. The server's default key (Claude Code, no profile,
//!   the default mode) is kept warm from the start; any other key is warmed after a session
//!   first asks for it, for the sessions that follow (at most [`MAX_KEYS`] keys, the least
//!   recently asked for dropped first).
//! - **Ready.** An entry counts (in `/metrics` too) only once its agent has answered a request
//!   that shows it booted and reading its input: Claude Code an `initialize` control request,
//!   an ACP agent its `initialize`. The answer is kept for the claiming session's translator.
//! - **Warm-up.** Ready is not yet warm: Claude Code does about 100 ms of its own work on the
//!   first message of a process, and 20-30 ms on later ones. So a ready Claude Code is taken
//!   through one turn and the turn taken back ([`agent_runtime_agents::WarmUp`]: a
//!   `rewind_conversation` to the turn's own message), leaving an empty conversation in a warm
//!   process. The turn's model request goes nowhere: the sandbox's proxy answers it itself
//!   ([`Rehearsal`]). Not for profiles that put files in the workspace ([`warms_up`]). An entry
//!   whose warm-up fails is discarded, never handed out half-warmed, and later entries are
//!   only booted (a CLI that cannot rewind would fail every warm-up).
//! - **Isolation.** An entry belongs to no session until one claims it; it is handed out once and
//!   never comes back: the session's sandbox is destroyed as any other when it stops. Its agent
//!   session id is made with it, and the claiming session takes that id. Entries are made with
//!   the profile as it is when they are made; a claim compares the profile's fingerprint and
//!   discards an entry made under an older version.
//! - **What is not pooled.** Per-turn agents (Gemini CLI) start their process with the message
//!   as its stdin, so there is no process to start ahead; sessions that resume a conversation
//!   (their transcripts are in the store) need them in place before the process starts. Both
//!   start cold as before.
//! - **Refills wait for the claimer.** The replacement of a claimed entry starts
//!   [`REFILL_DELAY`] after the claim: starting an agent takes a core for a moment, and the
//!   claiming session's first message, which the agent is working on right then, needs it.
//! - **Safety of start-up.** The pool starts filling only when the server knows the addresses it
//!   listens on ([`WarmPool::start`]), so every pooled sandbox's egress proxy refuses them like
//!   any other sandbox's.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_runtime_agents::{AgentKind, ProcessMode, WarmUp};
use agent_runtime_egress::Rehearsal;
use agent_runtime_protocol::{AgentProfile, PermissionMode};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{Result, RuntimeError};
use crate::manager::Deps;
use crate::metrics::PoolFigures;
use crate::session::launch::{
    spawn_agent, start_sandbox, write_profile_files, AgentStart, StartedSandbox,
};
use crate::session::process::AgentProcess;

/// Keys kept warm at most; each holds up to the pool's size of entries.
pub const MAX_KEYS: usize = 8;

/// How long after a claim the filler waits before it starts a replacement. Claude Code's first
/// message costs it about 100 ms of CPU; a replacement started at the same instant (its boot
/// takes a core for about half a second) competed with it: on two cores the runtime's share of
/// the claiming session's first token was 7-22 ms with it and 3-10 ms without. A second
/// session within the delay starts cold, as it would have while the replacement booted.
pub const REFILL_DELAY: Duration = Duration::from_millis(500);

/// The longest a warm agent may take to be ready before the entry is given up.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// What a warm entry was made for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) agent: String,
    pub(crate) profile: Option<String>,
    pub(crate) mode: PermissionMode,
}

/// A started sandbox with its agent process waiting for a first message.
pub(crate) struct Warm {
    /// `pool-<uuid>`: the sandbox's id and the process's label in logs.
    pub(crate) id: String,
    pub(crate) started: StartedSandbox,
    pub(crate) process: AgentProcess,
    /// The id the agent's conversation was opened under; the claiming session takes it.
    pub(crate) agent_session_id: String,
    /// The profile the entry was made with.
    fingerprint: String,
    /// From the sandbox's start until the agent was ready.
    made_in: Duration,
}

impl Warm {
    /// Stops the process and destroys the sandbox.
    pub(crate) async fn discard(self) {
        self.process.kill().await;
        if let Err(e) = self.started.sandbox.destroy().await {
            tracing::warn!(entry = %self.id, "destroying a warm sandbox failed: {e}");
        }
    }
}

/// The pool's state: entries by key, and the keys to keep warm.
#[derive(Default)]
struct Entries {
    ready: HashMap<PoolKey, Vec<Warm>>,
    /// Most recently asked for last.
    wanted: VecDeque<PoolKey>,
    /// Set once the pool is stopped: nothing is added any more.
    closed: bool,
    /// When an entry was last handed out.
    last_claim: Option<Instant>,
}

/// Warm sandboxes, per key; see the module docs.
pub(crate) struct WarmPool {
    /// Entries kept per key; 0 turns the pool off.
    size: usize,
    entries: Mutex<Entries>,
    wake: Notify,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Cleared for good when a warm-up fails: entries are made ready but not warmed up from
    /// then on (a CLI that cannot rewind would fail every one).
    warm_ups: AtomicBool,
}

impl WarmPool {
    pub(crate) fn new(size: usize) -> Self {
        WarmPool {
            size,
            entries: Mutex::new(Entries::default()),
            wake: Notify::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            warm_ups: AtomicBool::new(true),
        }
    }

    /// Starts the task that fills the pool, keeping `first` warm from now on. Call it once the
    /// runtime knows its listen addresses.
    pub(crate) fn start(
        deps: Arc<Deps>,
        first: PoolKey,
        cancel: CancellationToken,
        tracker: &TaskTracker,
    ) {
        if deps.pool.size == 0 {
            return;
        }
        deps.pool.want(first);
        tracker.spawn(fill(deps, cancel));
    }

    /// Hands out an entry for `key` made under `profile`, if one is ready; either way `key` is
    /// kept warm from now on. Entries that are stale (an older profile) or dead are discarded.
    pub(crate) async fn claim(&self, key: &PoolKey, profile: &AgentProfile) -> Option<Warm> {
        if self.size == 0 {
            return None;
        }
        let fingerprint = fingerprint(profile);
        let mut discarded = Vec::new();
        let claimed = {
            let mut entries = self.lock();
            let mut claimed = None;
            if let Some(ready) = entries.ready.get_mut(key) {
                while let Some(warm) = ready.pop() {
                    if warm.fingerprint == fingerprint && !warm.process.has_exited() {
                        claimed = Some(warm);
                        break;
                    }
                    discarded.push(warm);
                }
            }
            if claimed.is_some() {
                entries.last_claim = Some(Instant::now());
            }
            claimed
        };
        self.want(key.clone());
        for warm in discarded {
            tracing::info!(entry = %warm.id, "discarding a warm sandbox (profile changed or agent exited)");
            warm.discard().await;
        }
        let counter = if claimed.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        claimed
    }

    /// Entries ready now (over all keys), hits and misses.
    pub(crate) fn figures(&self) -> PoolFigures {
        let ready = self.lock().ready.values().map(Vec::len).sum::<usize>();
        PoolFigures {
            ready: ready as u64,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Keeps `key` warm (most recently asked for), dropping the oldest key past [`MAX_KEYS`],
    /// and wakes the filler.
    fn want(&self, key: PoolKey) {
        let dropped = {
            let mut entries = self.lock();
            entries.wanted.retain(|k| k != &key);
            entries.wanted.push_back(key);
            let mut dropped = Vec::new();
            while entries.wanted.len() > MAX_KEYS {
                if let Some(old) = entries.wanted.pop_front() {
                    dropped.extend(entries.ready.remove(&old).unwrap_or_default());
                }
            }
            dropped
        };
        if !dropped.is_empty() {
            tokio::spawn(async move {
                for warm in dropped {
                    warm.discard().await;
                }
            });
        }
        self.wake.notify_one();
    }

    /// The first wanted key short of entries.
    fn next_to_fill(&self) -> Option<PoolKey> {
        let entries = self.lock();
        entries
            .wanted
            .iter()
            .rev()
            .find(|key| entries.ready.get(*key).map_or(0, Vec::len) < self.size)
            .cloned()
    }

    /// How long the filler should still wait before starting an entry (see [`REFILL_DELAY`]).
    fn refill_wait(&self) -> Duration {
        refill_wait(self.lock().last_claim, Instant::now())
    }

    /// Stops wanting `key` (its entries could not be made); a later claim asks again.
    fn give_up(&self, key: &PoolKey) {
        self.lock().wanted.retain(|k| k != key);
    }

    /// Adds a made entry, unless the key was dropped or the pool closed meanwhile (then it is
    /// handed back to be discarded).
    fn add(&self, key: PoolKey, warm: Warm) -> Option<Warm> {
        let mut entries = self.lock();
        if entries.closed || !entries.wanted.contains(&key) {
            return Some(warm);
        }
        entries.ready.entry(key).or_default().push(warm);
        None
    }

    /// Closes the pool and takes every entry out.
    fn close(&self) -> Vec<Warm> {
        let mut entries = self.lock();
        entries.closed = true;
        entries.wanted.clear();
        entries.ready.drain().flat_map(|(_, warm)| warm).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The filler: makes entries for wanted keys until each has the pool's size, one at a time (a
/// start costs a core for a moment; sessions come first), then sleeps until woken. On shutdown
/// every entry is discarded.
async fn fill(deps: Arc<Deps>, cancel: CancellationToken) {
    let pool = &deps.pool;
    loop {
        if cancel.is_cancelled() {
            break;
        }
        let Some(key) = pool.next_to_fill() else {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = pool.wake.notified() => continue,
            }
        };
        let wait = pool.refill_wait();
        if !wait.is_zero() {
            // Then look again: another claim may have come meanwhile.
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(wait) => continue,
            }
        }
        match make(&deps, &key, &cancel).await {
            Ok(warm) => {
                tracing::info!(entry = %warm.id, agent = %key.agent, profile = ?key.profile, "warm sandbox ready in {} ms", warm.made_in.as_millis());
                if let Some(unwanted) = pool.add(key, warm) {
                    unwanted.discard().await;
                }
            }
            Err(e) => {
                tracing::warn!(agent = %key.agent, profile = ?key.profile, "a warm sandbox could not be made; sessions start cold: {e}");
                pool.give_up(&key);
            }
        }
    }
    for warm in pool.close() {
        warm.discard().await;
    }
}

/// What is left of [`REFILL_DELAY`] at `now` after the claim at `last_claim`.
fn refill_wait(last_claim: Option<Instant>, now: Instant) -> Duration {
    last_claim.map_or(Duration::ZERO, |claimed| {
        REFILL_DELAY.saturating_sub(now.saturating_duration_since(claimed))
    })
}

/// Makes one entry for `key`: a sandbox with the profile's files (all of them: a new session's
/// first sandbox) and the agent started on a fresh conversation, up and reading its input
/// ([`AgentProcess::wait_until_ready`]: Claude Code answers an `initialize` request once it
/// has booted, about a second after its start; an ACP agent answers `initialize`). Only then
/// is the entry ready, so the session that claims it pays none of the agent's start.
async fn make(deps: &Deps, key: &PoolKey, cancel: &CancellationToken) -> Result<Warm> {
    let agent = deps
        .config
        .agents
        .get(&key.agent)
        .cloned()
        .ok_or_else(|| RuntimeError::UnknownAgent(key.agent.clone()))?;
    if !poolable(&agent) {
        return Err(RuntimeError::Internal(format!(
            "{} starts a process per turn; there is nothing to start ahead",
            agent.id()
        )));
    }
    let profile = match &key.profile {
        None => AgentProfile::default(),
        Some(id) => deps
            .store
            .get_profile(id)
            .await?
            .ok_or_else(|| RuntimeError::ProfileNotFound(id.clone()))?,
    };
    let id = format!("pool-{}", uuid::Uuid::new_v4());
    let starting = Instant::now();
    let started = start_sandbox(deps, &agent, &profile, id.clone(), "pool").await?;
    let metrics = crate::metrics::global();
    metrics.sandbox_starts.fetch_add(1, Ordering::Relaxed);
    metrics.sandbox_start_seconds.observe(starting.elapsed());
    let agent_session_id = uuid::Uuid::new_v4().to_string();
    let made = async {
        write_profile_files(&agent, &profile, started.sandbox.as_ref(), |_| false).await?;
        let start = AgentStart {
            profile: &profile,
            permission_mode: key.mode,
            agent_session_id: agent_session_id.clone(),
            resume: false,
            prior_cost_usd: 0.0,
            label: &id,
        };
        let process = spawn_agent(
            deps,
            &agent,
            started.sandbox.as_ref(),
            &started.access,
            start,
            None,
        )
        .await?;
        let mut process = until_ready(process, cancel).await?;
        let warm_up = (deps.pool.warm_ups.load(Ordering::Relaxed) && warms_up(&profile))
            .then(|| process.translator.warm_up(uuid::Uuid::new_v4().to_string()))
            .flatten();
        if let Some(warm_up) = warm_up {
            if let Err(e) = rehearse(&mut process, warm_up, &started.rehearsal, cancel).await {
                process.kill().await;
                if !cancel.is_cancelled() {
                    tracing::warn!(entry = %id, "{e}; warm sandboxes are no longer warmed up");
                    deps.pool.warm_ups.store(false, Ordering::Relaxed);
                }
                return Err(e);
            }
        }
        Ok(process)
    };
    match made.await {
        Ok(process) => Ok(Warm {
            id,
            started,
            process,
            agent_session_id,
            fingerprint: fingerprint(&profile),
            made_in: starting.elapsed(),
        }),
        Err(e) => {
            let _ = started.sandbox.destroy().await;
            Err(e)
        }
    }
}

/// Waits (at most [`READY_TIMEOUT`], or until the runtime stops) for `process` to be ready
/// ([`AgentProcess::wait_until_ready`]); a process that is not is killed.
async fn until_ready(
    mut process: AgentProcess,
    cancel: &CancellationToken,
) -> Result<AgentProcess> {
    let not_ready = tokio::select! {
        _ = cancel.cancelled() => "the runtime is stopping".to_string(),
        ready = tokio::time::timeout(READY_TIMEOUT, process.wait_until_ready()) => match ready {
            Ok(true) => return Ok(process),
            Ok(false) => format!(
                "the agent exited before it was ready: {}",
                process.stderr_tail().unwrap_or_default()
            ),
            Err(_) => format!("the agent was not ready within {READY_TIMEOUT:?}"),
        },
    };
    process.kill().await;
    Err(RuntimeError::Internal(not_ready))
}

/// Takes a ready process through its warm-up (a turn it works through, then takes back), with
/// the sandbox's proxy answering its model requests itself: nothing goes to the model, on the
/// operator's key, for a sandbox that belongs to no session. At most [`READY_TIMEOUT`].
async fn rehearse(
    process: &mut AgentProcess,
    warm_up: WarmUp,
    rehearsal: &Rehearsal,
    cancel: &CancellationToken,
) -> Result<()> {
    rehearsal.begin();
    let outcome = tokio::select! {
        _ = cancel.cancelled() => Err("the runtime is stopping".to_string()),
        done = tokio::time::timeout(READY_TIMEOUT, process.warm_up(warm_up)) => {
            done.unwrap_or_else(|_| Err(format!("the warm-up did not end within {READY_TIMEOUT:?}")))
        }
    };
    rehearsal.end();
    outcome.map_err(|why| RuntimeError::Internal(format!("warming up the agent: {why}")))
}

/// Whether an entry made with `profile` is warmed up. Not when the profile puts files in the
/// workspace: a `.claude/settings.json` among them could hold hooks that act on every prompt,
/// and the warm-up's prompt is nobody's.
fn warms_up(profile: &AgentProfile) -> bool {
    profile.files.is_empty()
}

/// Whether `agent` keeps one process for the life of its sandbox (only those are pooled).
pub(crate) fn poolable(agent: &AgentKind) -> bool {
    matches!(agent.process_mode(), ProcessMode::Persistent { .. })
}

/// Identifies a profile's content: entries made under another version are not handed out.
fn fingerprint(profile: &AgentProfile) -> String {
    serde_json::to_string(profile).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refill_waits_out_the_delay_after_the_last_claim() {
        let claimed = Instant::now();
        assert_eq!(refill_wait(None, claimed), Duration::ZERO);
        assert_eq!(refill_wait(Some(claimed), claimed), REFILL_DELAY);
        let later = claimed + Duration::from_millis(200);
        assert_eq!(
            refill_wait(Some(claimed), later),
            REFILL_DELAY - Duration::from_millis(200)
        );
        assert_eq!(
            refill_wait(Some(claimed), claimed + REFILL_DELAY),
            Duration::ZERO
        );
        assert_eq!(
            refill_wait(Some(claimed), claimed + REFILL_DELAY * 3),
            Duration::ZERO
        );
    }
}
