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
//!   an ACP agent its `initialize`. The answer is kept for the claiming session's translator;
//!   nothing of the conversation is touched.
//! - **Isolation.** An entry belongs to no session until one claims it; it is handed out once and
//!   never comes back: the session's sandbox is destroyed as any other when it stops. Its agent
//!   session id is made with it, and the claiming session takes that id. Entries are made with
//!   the profile as it is when they are made; a claim compares the profile's fingerprint and
//!   discards an entry made under an older version.
//! - **What is not pooled.** Per-turn agents (Gemini CLI) start their process with the message
//!   as its stdin, so there is no process to start ahead; sessions that resume a conversation
//!   (their transcripts are in the store) need them in place before the process starts. Both
//!   start cold as before.
//! - **Safety of start-up.** The pool starts filling only when the server knows the addresses it
//!   listens on ([`WarmPool::start`]), so every pooled sandbox's egress proxy refuses them like
//!   any other sandbox's.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use agent_runtime_agents::{AgentKind, ProcessMode};
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

/// The longest a warm agent may take to be ready before the entry is given up.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

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
    made_in: std::time::Duration,
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
}

/// Warm sandboxes, per key; see the module docs.
pub(crate) struct WarmPool {
    /// Entries kept per key; 0 turns the pool off.
    size: usize,
    entries: Mutex<Entries>,
    wake: Notify,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl WarmPool {
    pub(crate) fn new(size: usize) -> Self {
        WarmPool {
            size,
            entries: Mutex::new(Entries::default()),
            wake: Notify::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
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
    let starting = std::time::Instant::now();
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
        until_ready(process, cancel).await
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

/// Whether `agent` keeps one process for the life of its sandbox (only those are pooled).
pub(crate) fn poolable(agent: &AgentKind) -> bool {
    matches!(agent.process_mode(), ProcessMode::Persistent { .. })
}

/// Identifies a profile's content: entries made under another version are not handed out.
fn fingerprint(profile: &AgentProfile) -> String {
    serde_json::to_string(profile).unwrap_or_default()
}
