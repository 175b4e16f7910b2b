//! The session manager: the runtime's public face.
//!
//! Sessions are loaded on first use (their log folded from the store, an actor started) into
//! the registry (`registry.rs`), without a lock other sessions wait on, and unloaded again once
//! they have been quiet and unused for `session_unload_after`; their sandboxes come and go with
//! turns and idle timeouts.
//!
//! Start-up ([`Runtime::start`]) closes what a crash left open: it visits only the sessions the
//! store lists as open (`SessionStore::list_open`, see `session/residency.rs` for when the mark
//! is set and cleared), so it costs O(open sessions), not O(all events).

use std::sync::Arc;

use agent_runtime_agents::AgentKind;
use agent_runtime_protocol::{
    AgentInfo, AgentProfile, AnswerPermissionRequest, AnswerQuestionRequest, Block, BudgetApproval,
    CreateSessionRequest, FileInfo, InterruptResponse, MetadataPatch, PatchSessionRequest,
    PermissionMode, PermissionResolution, QuestionResolution, SendMessageRequest,
    SendMessageResponse, SessionEvent, SessionInfo, SessionList, SessionSettings, SessionSnapshot,
    SessionStatus, SystemBlock, TranscriptInfo, MAIN_CONVERSATION,
};
use agent_runtime_store::{SessionRecord, SessionStore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::Node;
use crate::config::RuntimeConfig;
use crate::error::{Result, RuntimeError};
use crate::installer::Installer;
use crate::log::{EventLog, Subscription};
use crate::paths::validate_workspace_path;
use crate::pool::{PoolKey, WarmPool};
use crate::profile_sandbox::{keep_stored_secrets, redact_secrets, validate_sandbox_settings};
use crate::registry::Registry;
use crate::sandboxes::{HeldSandboxes, Identity, SandboxProviders};
use crate::session::{close_abandoned_turn, validate_budget, Command, SessionHandle};
use crate::time::{new_id, now_rfc3339};

/// Largest page a session listing returns.
pub const MAX_PAGE_SIZE: usize = 200;

/// How long `/healthz` waits for the store before it reports it unavailable.
pub const STORE_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// What every session actor shares.
pub(crate) struct Deps {
    pub(crate) store: Arc<dyn SessionStore>,
    /// Where sandboxes run ([`crate::sandboxes`]).
    pub(crate) sandboxes: SandboxProviders,
    /// The sandboxes this process holds, and what labels them as its own.
    pub(crate) held: Arc<HeldSandboxes>,
    pub(crate) identity: Identity,
    pub(crate) installer: Installer,
    pub(crate) config: RuntimeConfig,
    pub(crate) pool: WarmPool,
    /// This node, when it is one of several (`crate::cluster`).
    pub(crate) cluster: Option<Arc<Node>>,
    /// Where the server listens, which no sandbox may reach (see
    /// [`Runtime::set_listen_addresses`]).
    listeners: std::sync::RwLock<Vec<std::net::SocketAddr>>,
}

impl Deps {
    /// The addresses the server listens on.
    pub(crate) fn runtime_listeners(&self) -> Vec<std::net::SocketAddr> {
        self.listeners
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
}

/// The runtime: sessions, their actors, and the tasks they own.
pub struct Runtime {
    deps: Arc<Deps>,
    sessions: Arc<Registry<SessionHandle>>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Runtime {
    /// Builds the runtime and closes what a previous run left open (turns that were running
    /// when it died are ended as `interrupted`), visiting only the sessions marked open.
    pub async fn start(
        config: RuntimeConfig,
        store: Arc<dyn SessionStore>,
        sandboxes: SandboxProviders,
    ) -> Result<Arc<Self>> {
        let installer = Installer::new(config.tools_dir.clone());
        let pool = WarmPool::new(config.warm_pool_size);
        let cluster = match &config.cluster {
            None => None,
            Some(settings) => {
                let cluster_store = store.cluster().ok_or_else(|| {
                    RuntimeError::InvalidRequest(format!(
                        "several nodes need a store they can share (PostgreSQL); the {} store \
                         serves one node only",
                        store.backend()
                    ))
                })?;
                Some(Arc::new(
                    Node::register(cluster_store, settings.clone()).await?,
                ))
            }
        };
        let runtime = Arc::new(Runtime {
            deps: Arc::new(Deps {
                store,
                sandboxes,
                held: Arc::default(),
                identity: Identity::new(&config),
                installer,
                config,
                pool,
                cluster,
                listeners: std::sync::RwLock::new(Vec::new()),
            }),
            sessions: Arc::default(),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        match runtime.deps.cluster.clone() {
            None => runtime.recover().await?,
            Some(node) => {
                runtime.take_over_orphans().await?;
                crate::cluster::start(
                    &runtime,
                    node,
                    runtime.sessions.clone(),
                    runtime.cancel.clone(),
                    &runtime.tracker,
                );
            }
        }
        runtime.reconcile_sandboxes().await;
        runtime.start_reconciler();
        Ok(runtime)
    }

    /// On a node of several: takes over every open session that no live node owns (its owner
    /// died), a page at a time. Each is loaded and its actor takes the lease, closing the turn
    /// the dead owner left running; one that waits for a person stays loaded and owned.
    pub(crate) async fn take_over_orphans(&self) -> Result<()> {
        let Some(node) = &self.deps.cluster else {
            return Ok(());
        };
        let mut after: Option<String> = None;
        loop {
            let page = node
                .store()
                .list_orphaned(after.as_deref(), MAX_PAGE_SIZE)
                .await?;
            for id in &page {
                let taken = match self.handle(id).await {
                    Ok(handle) => handle.call(|reply| Command::TakeOver { reply }).await,
                    Err(e) => Err(e),
                };
                match taken {
                    Ok(true) => {
                        crate::metrics::global()
                            .cluster_takeovers
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::info!(session_id = %id, "took over an orphaned session")
                    }
                    // Another node was quicker, or it is closed already.
                    Ok(false) => {}
                    Err(e) => tracing::warn!(session_id = %id, "taking over failed: {e}"),
                }
            }
            if page.len() < MAX_PAGE_SIZE {
                return Ok(());
            }
            after = page.last().cloned();
        }
    }

    /// Tells the runtime where its server listens: every sandbox's egress proxy refuses these
    /// addresses (on every local address when one is unspecified, e.g. `0.0.0.0:8080`), whatever
    /// the operator's exceptions say. Sandboxes started afterwards see it.
    pub fn set_listen_addresses(&self, addresses: Vec<std::net::SocketAddr>) {
        match self.deps.listeners.write() {
            Ok(mut listeners) => *listeners = addresses,
            Err(poisoned) => *poisoned.into_inner() = addresses,
        }
    }

    /// Starts filling the warm pool (when its size is not 0), beginning with new sessions of the
    /// default agent. Call it after [`Runtime::set_listen_addresses`]: a sandbox's egress proxy
    /// refuses the addresses known when the sandbox is made.
    pub fn start_warm_pool(&self) {
        let first = PoolKey {
            agent: AgentKind::ClaudeCode.id().to_string(),
            profile: None,
            mode: PermissionMode::default(),
        };
        WarmPool::start(self.deps.clone(), first, self.cancel.clone(), &self.tracker);
    }

    /// What confines a sandbox on this host and what does not, with the server's defaults.
    pub fn protections(&self) -> Vec<agent_runtime_protocol::Protection> {
        crate::protections::protections(
            &self.deps.config,
            self.deps.sandboxes.default_provider().enforcement(),
        )
    }

    /// Installs every agent CLI the runtime can run, so the first turn does not wait for npm.
    pub async fn install_agents(&self) -> Result<()> {
        for agent in self.deps.config.agents.all() {
            self.deps.installer.ensure(agent).await?;
        }
        Ok(())
    }

    /// Visits every session the store lists as open, a page at a time.
    async fn recover(&self) -> Result<()> {
        let mut after: Option<String> = None;
        loop {
            let page = self
                .deps
                .store
                .list_open(after.as_deref(), MAX_PAGE_SIZE)
                .await?;
            for id in &page {
                self.recover_session(id).await?;
            }
            if page.len() < MAX_PAGE_SIZE {
                return Ok(());
            }
            after = page.last().cloned();
        }
    }

    /// Closes what a crash left open in one session. A session that waits for a person stays
    /// loaded (and marked): its requests time out on schedule, and listings show it as
    /// requiring action. Any other session's mark is cleared.
    async fn recover_session(&self, id: &str) -> Result<()> {
        let Some(record) = self.deps.store.get_session(id).await? else {
            return Ok(());
        };
        let log = EventLog::load(self.deps.store.clone(), id).await?;
        close_abandoned_turn(&log).await?;
        let waiting = log
            .read(|s| s.status == SessionStatus::RequiresAction)
            .await;
        let known = self.deps.config.agents.get(&record.info.agent).is_some();
        if waiting && known {
            let handle = self.start_handle(record, Arc::new(log), true);
            self.sessions.insert(id, handle);
        } else if !waiting {
            self.deps.store.set_open(id, false).await?;
        }
        // A waiting session of an agent this server does not run stays marked: a server that
        // runs the agent looks after it.
        Ok(())
    }

    /// Creates a session. Nothing starts until its first message.
    pub async fn create_session(&self, request: CreateSessionRequest) -> Result<SessionInfo> {
        let agent_id = request
            .agent
            .as_deref()
            .unwrap_or(AgentKind::ClaudeCode.id());
        let agent = self
            .deps
            .config
            .agents
            .get(agent_id)
            .cloned()
            .ok_or_else(|| RuntimeError::UnknownAgent(agent_id.to_string()))?;
        let profile = match &request.profile {
            Some(id) => Some(
                self.deps
                    .store
                    .get_profile(id)
                    .await?
                    .ok_or_else(|| RuntimeError::UnknownProfile(id.clone()))?,
            ),
            None => None,
        };
        let mode = request
            .permission_mode
            .or(profile.as_ref().and_then(|p| p.permission_mode))
            .unwrap_or_default();
        check_permission_mode(&agent, mode)?;
        if let Some(budget) = &request.budget {
            validate_budget(budget).map_err(RuntimeError::InvalidRequest)?;
        }
        let settings = SessionSettings {
            permission_mode: request.permission_mode,
            budget: request.budget.clone(),
        };
        let name = request.name.map(|n| validate_name(&n)).transpose()?;
        let now = now_rfc3339();
        let session_id = uuid::Uuid::new_v4().to_string();
        let agent_session_id = uuid::Uuid::new_v4().to_string();
        let info = SessionInfo {
            session_id: session_id.clone(),
            agent: agent.id().to_string(),
            profile: request.profile,
            name,
            created_at: now.clone(),
            updated_at: now,
            status: Default::default(),
        };
        let record = SessionRecord {
            info: info.clone(),
            agent_session_id: Some(agent_session_id.clone()),
        };
        self.deps.store.create_session(&record).await?;
        let handle = self.handle(&session_id).await?;
        let demo = self.deps.config.demo;
        let mut events = vec![SessionEvent::MetadataUpdate {
            metadata: MetadataPatch {
                agent_session_id: Some(agent_session_id),
                demo: demo.then_some(true),
                ..Default::default()
            },
        }];
        if !settings.is_default() {
            events.push(SessionEvent::SettingsChanged(settings));
        }
        if demo {
            let block = Block::System(SystemBlock {
                id: new_id("system"),
                at: now_rfc3339(),
                subtype: "demo".into(),
                message: "Demo mode: this session talks to the built-in scripted demo model, \
                          not a real model."
                    .into(),
                data: None,
            });
            events.push(SessionEvent::BlockComplete {
                conversation_id: MAIN_CONVERSATION.into(),
                block_id: block.id().to_string(),
                block,
            });
        }
        handle
            .call(|reply| Command::Append { events, reply })
            .await?;
        Ok(info)
    }

    /// One page of sessions, newest first, each with its status.
    pub async fn list_sessions(&self, cursor: Option<&str>, limit: usize) -> Result<SessionList> {
        let page = self
            .deps
            .store
            .list_sessions(cursor, limit.clamp(1, MAX_PAGE_SIZE))
            .await?;
        let mut sessions = Vec::with_capacity(page.sessions.len());
        for record in page.sessions {
            let mut info = record.info;
            info.status = self.status(&info.session_id).await;
            sessions.push(info);
        }
        Ok(SessionList {
            sessions,
            next_cursor: page.next_cursor,
        })
    }

    /// A session's status: from its log when it is loaded. An unloaded session is idle: sessions
    /// that require action are loaded at start and are never quiet, so they stay loaded.
    async fn status(&self, session_id: &str) -> SessionStatus {
        let handle = self.sessions.get(session_id);
        match handle {
            Some(handle) => handle.log.read(|s| s.status).await,
            None => SessionStatus::Idle,
        }
    }

    /// The session and its folded state.
    pub async fn snapshot(&self, session_id: &str) -> Result<SessionSnapshot> {
        let handle = self.handle(session_id).await?;
        let mut record = self.record(session_id).await?;
        let state = handle.log.state().await;
        record.info.status = state.status;
        Ok(SessionSnapshot {
            session: record.info,
            state,
        })
    }

    /// Answers a permission request of the session. The first answer wins.
    pub async fn answer_permission(
        &self,
        session_id: &str,
        request_id: &str,
        answer: AnswerPermissionRequest,
    ) -> Result<PermissionResolution> {
        let handle = self.handle(session_id).await?;
        let request_id = request_id.to_string();
        handle
            .call(|reply| Command::AnswerPermission {
                request_id,
                answer,
                reply,
            })
            .await
    }

    /// Answers a question request of the session. The first answer wins.
    pub async fn answer_question(
        &self,
        session_id: &str,
        request_id: &str,
        answer: AnswerQuestionRequest,
    ) -> Result<QuestionResolution> {
        let handle = self.handle(session_id).await?;
        let request_id = request_id.to_string();
        handle
            .call(|reply| Command::AnswerQuestion {
                request_id,
                answer,
                reply,
            })
            .await
    }

    /// Lets a session go past the budget limit it reached, for one more turn.
    pub async fn approve_budget(&self, session_id: &str) -> Result<BudgetApproval> {
        let handle = self.handle(session_id).await?;
        handle.call(|reply| Command::ApproveBudget { reply }).await
    }

    /// Renames a session.
    pub async fn patch_session(
        &self,
        session_id: &str,
        patch: PatchSessionRequest,
    ) -> Result<SessionInfo> {
        let mut record = self.record(session_id).await?;
        let name = patch.name.map(|n| validate_name(&n)).transpose()?;
        if let Some(budget) = &patch.budget {
            validate_budget(budget).map_err(RuntimeError::InvalidRequest)?;
        }
        if let Some(name) = name {
            record.info.name = Some(name);
        }
        record.info.updated_at = now_rfc3339();
        self.deps.store.update_session(&record).await?;
        if let Some(budget) = patch.budget {
            let handle = self.handle(session_id).await?;
            handle
                .call(|reply| Command::SetBudget { budget, reply })
                .await?;
        }
        record.info.status = self.status(session_id).await;
        Ok(record.info)
    }

    /// Deletes a session and everything it owns; a running turn is stopped first.
    pub async fn delete_session(&self, session_id: &str) -> Result<()> {
        self.record(session_id).await?;
        // On a node of several, a session another node runs is deleted there (it stops the
        // sandbox); taking the lease keeps anyone from starting one meanwhile.
        if let Some(node) = &self.deps.cluster {
            if let agent_runtime_store::Ownership::OwnedBy { node_id, url } =
                node.acquire(session_id).await?
            {
                return Err(RuntimeError::OwnedElsewhere {
                    session_id: session_id.to_string(),
                    node_id,
                    url,
                });
            }
        }
        let handle = self.sessions.remove(session_id);
        if let Some(handle) = handle {
            handle.stop().await;
        }
        if !self.deps.store.delete_session(session_id).await? {
            return Err(RuntimeError::SessionNotFound(session_id.to_string()));
        }
        Ok(())
    }

    /// Sends a message: starts a turn, queues it, or interrupts the running one (`ifBusy`).
    pub async fn send_message(
        &self,
        session_id: &str,
        request: SendMessageRequest,
    ) -> Result<SendMessageResponse> {
        let handle = self.handle(session_id).await?;
        handle.call(|reply| Command::Send { request, reply }).await
    }

    /// Asks the running turn to stop.
    pub async fn interrupt(&self, session_id: &str) -> Result<InterruptResponse> {
        let handle = self.handle(session_id).await?;
        handle.call(|reply| Command::Interrupt { reply }).await
    }

    /// Events after `since`, then live ones.
    pub async fn subscribe(&self, session_id: &str, since: u64) -> Result<Subscription> {
        Ok(self.handle(session_id).await?.log.subscribe(since).await)
    }

    /// Workspace files (as of the last scan).
    pub async fn list_files(&self, session_id: &str) -> Result<Vec<FileInfo>> {
        self.record(session_id).await?;
        Ok(self.deps.store.list_files(session_id).await?)
    }

    /// A workspace file's content.
    pub async fn read_file(&self, session_id: &str, path: &str) -> Result<Vec<u8>> {
        let path = validate_workspace_path(path)?;
        self.record(session_id).await?;
        self.deps
            .store
            .get_file(session_id, &path)
            .await?
            .ok_or(RuntimeError::FileNotFound(path))
    }

    /// Writes a workspace file (into the running sandbox too, if there is one).
    pub async fn write_file(
        &self,
        session_id: &str,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<FileInfo> {
        let path = validate_workspace_path(path)?;
        let handle = self.handle(session_id).await?;
        handle
            .call(|reply| Command::WriteFile { path, bytes, reply })
            .await
    }

    /// Deletes a workspace file.
    pub async fn delete_file(&self, session_id: &str, path: &str) -> Result<()> {
        let path = validate_workspace_path(path)?;
        let handle = self.handle(session_id).await?;
        handle
            .call(|reply| Command::DeleteFile { path, reply })
            .await
            .map(|_| ())
    }

    /// The agent's native transcript files.
    pub async fn list_transcripts(&self, session_id: &str) -> Result<Vec<TranscriptInfo>> {
        self.record(session_id).await?;
        let stored = self.deps.store.list_transcripts(session_id).await?;
        Ok(stored
            .into_iter()
            .map(|t| TranscriptInfo {
                name: t.name,
                size: t.size,
                updated_at: t.updated_at,
            })
            .collect())
    }

    /// One native transcript file.
    pub async fn read_transcript(&self, session_id: &str, name: &str) -> Result<Vec<u8>> {
        self.record(session_id).await?;
        self.deps
            .store
            .get_transcript(session_id, name)
            .await?
            .ok_or_else(|| RuntimeError::TranscriptNotFound(name.to_string()))
    }

    /// Every stored agent profile, sorted by id, secret values removed.
    pub async fn list_profiles(&self) -> Result<Vec<AgentProfile>> {
        let profiles = self.deps.store.list_profiles().await?;
        Ok(profiles.into_iter().map(redact_secrets).collect())
    }

    /// One agent profile, secret values removed.
    pub async fn get_profile(&self, id: &str) -> Result<AgentProfile> {
        self.deps
            .store
            .get_profile(id)
            .await?
            .map(redact_secrets)
            .ok_or_else(|| RuntimeError::ProfileNotFound(id.to_string()))
    }

    /// Stores `profile` under `id`, replacing any profile with that id; returns it as the API
    /// shows it (secret values removed) and whether it is new. `profile.id` must be empty (it
    /// becomes `id`) or equal to `id`. Every agent must be able to write the profile into a
    /// sandbox (skill, subagent and command names, workspace file paths), and its sandbox
    /// settings must hold (limits, allowlist patterns, secrets; a secret sent without its value
    /// keeps the stored one), so a bad profile fails here, naming the field, rather than at a
    /// session's first turn; nothing stored changes then. Sessions already using the profile
    /// get the new version at their next sandbox start.
    pub async fn put_profile(
        &self,
        id: &str,
        mut profile: AgentProfile,
    ) -> Result<(AgentProfile, bool)> {
        validate_profile_id(id)?;
        if profile.id.is_empty() {
            profile.id = id.to_string();
        } else if profile.id != id {
            return Err(RuntimeError::InvalidProfile(format!(
                "body id {:?} differs from the path id {id:?}",
                profile.id
            )));
        }
        for agent in self.deps.config.agents.all() {
            agent
                .profile_files(&profile)
                .map_err(|e| RuntimeError::InvalidProfile(format!("{}: {e}", agent.id())))?;
        }
        validate_sandbox_settings(&profile.sandbox).map_err(RuntimeError::InvalidProfile)?;
        crate::rules::validate_rules(&profile.permissions).map_err(RuntimeError::InvalidProfile)?;
        validate_budget(&profile.budget).map_err(RuntimeError::InvalidProfile)?;
        if profile.approval_timeout_secs == Some(0) {
            return Err(RuntimeError::InvalidProfile(
                "approvalTimeoutSecs must be at least 1".into(),
            ));
        }
        let stored = self.deps.store.get_profile(id).await?;
        keep_stored_secrets(&mut profile, stored.as_ref()).map_err(RuntimeError::InvalidProfile)?;
        self.deps.store.put_profile(&profile).await?;
        Ok((redact_secrets(profile), stored.is_none()))
    }

    /// Deletes a profile. Sessions created with it keep its id; their next sandbox start fails
    /// the turn with `profile ... not found` until a profile with that id is stored again.
    pub async fn delete_profile(&self, id: &str) -> Result<()> {
        if !self.deps.store.delete_profile(id).await? {
            return Err(RuntimeError::ProfileNotFound(id.to_string()));
        }
        Ok(())
    }

    /// The agents this runtime can run, with their pinned CLI package and whether it is
    /// installed.
    pub fn list_agents(&self) -> Vec<AgentInfo> {
        self.deps
            .config
            .agents
            .all()
            .iter()
            .map(|agent| {
                let spec = agent.install_spec();
                AgentInfo {
                    id: agent.id().to_string(),
                    name: agent.name().to_string(),
                    protocol: agent.protocol().to_string(),
                    npm_package: spec.npm_package,
                    version: spec.version,
                    installed: self.deps.installer.installed(agent).is_some(),
                    capabilities: agent.capabilities(),
                }
            })
            .collect()
    }

    /// Where sandboxes can run on this server, the default first.
    pub fn sandbox_providers(&self) -> Vec<agent_runtime_protocol::SandboxProviderInfo> {
        self.deps.sandboxes.infos()
    }

    /// Reconciles the providers' sandboxes with what this runtime holds: orphans (of a run that
    /// died, or leaked) are terminated; see [`crate::sandboxes`].
    pub async fn reconcile_sandboxes(&self) -> crate::Reconciled {
        let live_nodes = match &self.deps.cluster {
            None => None,
            Some(node) => match node.store().list_nodes().await {
                Ok(nodes) => Some(
                    nodes
                        .into_iter()
                        .filter(|n| n.live)
                        .map(|n| crate::sandboxes::node_label(&n.node_id))
                        .collect(),
                ),
                Err(e) => {
                    // Without knowing who is live, nothing of another node is touched.
                    tracing::warn!("listing nodes for the sandbox reconciler failed: {e}");
                    return crate::Reconciled::default();
                }
            },
        };
        let done = crate::sandboxes::reconcile(
            &self.deps.sandboxes,
            &self.deps.held,
            &self.deps.identity,
            live_nodes.as_ref(),
        )
        .await;
        if done != crate::Reconciled::default() {
            tracing::info!(
                adopted = done.adopted,
                terminated = done.terminated,
                failed = done.failed,
                "sandboxes reconciled"
            );
        }
        done
    }

    /// Reconciles every [`RuntimeConfig::reconcile_interval`] until shutdown.
    fn start_reconciler(self: &Arc<Self>) {
        let runtime = Arc::downgrade(self);
        let (cancel, every) = (self.cancel.clone(), self.deps.config.reconcile_interval);
        self.tracker.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                let Some(runtime) = runtime.upgrade() else {
                    return;
                };
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = runtime.reconcile_sandboxes() => {}
                }
            }
        });
    }

    /// The Prometheus exposition of the process's metrics (`crate::metrics`), with the number
    /// of sessions this runtime holds in memory.
    pub async fn metrics_text(&self) -> String {
        crate::metrics::global().render(self.sessions.loaded(), self.deps.pool.figures())
    }

    /// Reads from the store (a point lookup of a session that cannot exist) within
    /// [`STORE_CHECK_TIMEOUT`], for `/healthz`.
    pub async fn check_store(&self) -> agent_runtime_protocol::StoreHealth {
        let started = std::time::Instant::now();
        let read = tokio::time::timeout(
            STORE_CHECK_TIMEOUT,
            self.deps.store.get_session("healthz-probe"),
        )
        .await;
        let error = match read {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!(
                "no answer within {} s",
                STORE_CHECK_TIMEOUT.as_secs()
            )),
        };
        agent_runtime_protocol::StoreHealth {
            backend: self.deps.store.backend().to_string(),
            ok: error.is_none(),
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            error,
        }
    }

    /// Whether the session is loaded in memory now (its log folded, its actor running).
    pub fn is_loaded(&self, session_id: &str) -> bool {
        self.sessions.is_loaded(session_id)
    }

    /// The store behind the runtime.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.deps.store
    }

    /// The configuration the runtime runs with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.deps.config
    }

    /// Stops every session (running turns end as `interrupted`) and waits for their tasks.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        self.sessions.clear();
        if let Some(node) = &self.deps.cluster {
            node.deregister().await;
        }
    }

    async fn record(&self, session_id: &str) -> Result<SessionRecord> {
        self.deps
            .store
            .get_session(session_id)
            .await?
            .ok_or_else(|| RuntimeError::SessionNotFound(session_id.to_string()))
    }

    /// The loaded session, loading it if needed (see [`Registry`] for why no other session waits
    /// meanwhile). Counts as a use: the session stays loaded at least the unload period from now.
    async fn handle(&self, session_id: &str) -> Result<Arc<SessionHandle>> {
        if self.cancel.is_cancelled() {
            return Err(RuntimeError::ShuttingDown);
        }
        let handle = self
            .sessions
            .get_or_load(session_id, || self.load(session_id))
            .await?;
        handle.touch();
        // On a node of several: what other nodes appended since this one last heard.
        handle.log.catch_up().await?;
        Ok(handle)
    }

    /// Folds a session's log from the store and starts its actor.
    async fn load(&self, session_id: &str) -> Result<Arc<SessionHandle>> {
        let record = self.record(session_id).await?;
        if self.deps.config.agents.get(&record.info.agent).is_none() {
            return Err(RuntimeError::UnknownAgent(record.info.agent));
        }
        let cluster = self.deps.cluster.as_ref().map(|node| node.store().clone());
        let log = Arc::new(EventLog::load_in(self.deps.store.clone(), cluster, session_id).await?);
        // Every session marked open was loaded or cleared at start, and the mark is cleared
        // before a session unloads: a session loaded on demand is not marked.
        Ok(self.start_handle(record, log, false))
    }

    /// Starts the actor of a session whose log is loaded.
    fn start_handle(
        &self,
        record: SessionRecord,
        log: Arc<EventLog>,
        marked_open: bool,
    ) -> Arc<SessionHandle> {
        Arc::new(SessionHandle::start(
            self.deps.clone(),
            record,
            log,
            &self.cancel,
            &self.tracker,
            Arc::downgrade(&self.sessions),
            marked_open,
        ))
    }
}

/// A session of `agent` may run in `mode` only if the agent can: modes that ask need an agent
/// that can ask.
fn check_permission_mode(agent: &AgentKind, mode: PermissionMode) -> Result<()> {
    let capabilities = agent.capabilities();
    if capabilities.permission_modes.contains(&mode) {
        return Ok(());
    }
    let supported: Vec<&str> = capabilities
        .permission_modes
        .iter()
        .map(PermissionMode::as_str)
        .collect();
    Err(RuntimeError::UnsupportedPermissionMode(format!(
        "{} cannot run in permission mode {:?}: its modes are {} (capabilities.permissionModes)",
        agent.id(),
        mode.as_str(),
        supported.join(", ")
    )))
}

/// Longest accepted session name, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Longest accepted profile id, in bytes.
const MAX_PROFILE_ID_LEN: usize = 128;

/// Profile ids are 1 to [`MAX_PROFILE_ID_LEN`] ASCII letters, digits, `-`, `_` and `.`, not
/// starting with `.`: safe in URLs, file names and logs without escaping.
fn validate_profile_id(id: &str) -> Result<()> {
    let safe = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if id.is_empty() || id.len() > MAX_PROFILE_ID_LEN || !safe || id.starts_with('.') {
        return Err(RuntimeError::InvalidProfile(format!(
            "id {id:?} must be 1 to {MAX_PROFILE_ID_LEN} of A-Z a-z 0-9 - _ . and not start with '.'"
        )));
    }
    Ok(())
}

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(RuntimeError::InvalidRequest(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_string())
}
