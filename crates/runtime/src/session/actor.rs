//! The session actor: one task per loaded session owning its sandbox and agent process.
//!
//! Its loop waits on, in order of priority: cancellation (shutdown or delete), commands, agent
//! output lines, the running turn's deadlines, the idle deadline of the sandbox, and the periodic
//! workspace scan while a turn runs. Turn logic lives in `turn.rs`, workspace and transcript sync
//! in `files.rs`.
//!
//! The agent process follows the agent's [`agent_runtime_agents::ProcessMode`]: a persistent
//! agent's process is started once per sandbox and serves every turn; a per-turn agent's process
//! is started by each turn with the message and is gone when the turn ends.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use agent_runtime_agents::{AgentKind, TranscriptFile, TurnOutcome};
use agent_runtime_egress::Denial;
use agent_runtime_protocol::{
    AgentProfile, Block, BlockUpdates, FileInfo, MetadataPatch, SandboxState, SendMessageRequest,
    SessionEvent, ToolStatus, TurnEndReason, TurnError, Usage, MAIN_CONVERSATION,
};
use agent_runtime_sandbox::{LimitHit, Root, Sandbox};
use agent_runtime_store::SessionRecord;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::approvals::Asks;
use super::launch::{
    limits_of, spawn_agent, start_sandbox, write_profile_files, AgentStart, ModelAccess,
    StartedSandbox,
};
use super::network::DenialReports;
use super::process::{AgentProcess, OutputLine};
use super::residency::Residency;
use super::Command;
use crate::error::{Result, RuntimeError};
use crate::limits::{human_bytes, Limits};
use crate::log::EventLog;
use crate::manager::Deps;
use crate::pool::{poolable, PoolKey};

/// A turn in progress.
pub(super) struct ActiveTurn {
    pub(super) id: String,
    pub(super) started: Instant,
    pub(super) last_output: Instant,
    /// When the turn's wall-clock limit runs out.
    pub(super) time_limit: Option<Instant>,
    /// The turn's wall-clock budget (`budget.maxTurnSecs` when it started).
    pub(super) budget_secs: Option<u64>,
    /// Set once an interrupt was asked for: the process is killed if the turn outlives it.
    pub(super) interrupt_deadline: Option<Instant>,
    /// Why the turn is being interrupted, once it is.
    pub(super) interrupt_reason: Option<InterruptReason>,
    /// A per-turn agent reported the turn's end; it ends when the process has exited too (so
    /// the transcript is complete and no process outlives its turn), or at `exit_deadline`.
    pub(super) reported: Option<TurnOutcome>,
    pub(super) exit_deadline: Option<Instant>,
    /// The turn's first text has streamed (its first-token latency is recorded).
    pub(super) first_text: std::sync::atomic::AtomicBool,
    /// `turn` (session_id, turn_id, agent; `outcome` once it ended), a child of the session's
    /// span: it lasts as long as the turn, so a trace shows each turn's duration.
    pub(super) span: tracing::Span,
}

impl ActiveTurn {
    /// When the turn's wall-clock budget runs out.
    pub(super) fn budget_deadline(&self) -> Option<Instant> {
        self.budget_secs
            .map(|secs| self.started + std::time::Duration::from_secs(secs))
    }
}

/// Why the runtime interrupts a turn; decides how the turn is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InterruptReason {
    /// A client asked to stop: `interrupted`, no error.
    User,
    /// A message sent with `ifBusy: interrupt` replaces the turn: `interrupted`, no error.
    Superseded,
    /// The server is stopping: `interrupted` with error code `shutdown`.
    Shutdown,
    /// The agent produced nothing for too long: `error` with code `timeout`.
    Stalled,
    /// The turn ran past its wall-clock limit: `error` with code `time_limit`.
    TimeLimit,
    /// The workspace grew past its quota: `error` with code `workspace_full`.
    WorkspaceFull,
    /// The turn ran past its wall-clock budget: `interrupted` with code `budget_exceeded`.
    Budget,
}

/// A message accepted while another turn ran.
pub(super) struct QueuedMessage {
    pub(super) turn_id: String,
    pub(super) request: SendMessageRequest,
}

pub(crate) struct Actor {
    pub(super) deps: Arc<Deps>,
    pub(super) record: SessionRecord,
    pub(super) agent: AgentKind,
    pub(super) log: Arc<EventLog>,
    pub(super) commands: mpsc::Receiver<Command>,
    cancel: CancellationToken,
    pub(super) sandbox: Option<Arc<dyn Sandbox>>,
    pub(super) process: Option<AgentProcess>,
    pub(super) turn: Option<ActiveTurn>,
    pub(super) queue: VecDeque<QueuedMessage>,
    /// Workspace files as the log knows them.
    pub(super) files: BTreeMap<String, FileInfo>,
    /// sha256 of each transcript file last saved to the store, by name.
    pub(super) saved_transcripts: HashMap<String, String>,
    pub(super) idle_since: Instant,
    /// The limits of the running sandbox (the defaults until one starts).
    pub(super) limits: Limits,
    /// How the running sandbox's agent reaches the model API.
    model_access: Option<ModelAccess>,
    /// Refusals of the running sandbox's egress proxy.
    denials: Option<mpsc::Receiver<Denial>>,
    /// Where the running sandbox runs.
    sandbox_provider: Option<agent_runtime_protocol::SandboxProviderKind>,
    denial_reports: DenialReports,
    /// Permission requests and questions waiting for an answer.
    pub(super) asks: Asks,
    /// The user approved going past the budget once: the next turn starts whatever it says.
    pub(super) budget_approved: bool,
    /// The open mark and unloading (`residency.rs`).
    pub(super) residency: Residency,
}

impl Actor {
    pub(super) fn new(
        deps: Arc<Deps>,
        record: SessionRecord,
        log: Arc<EventLog>,
        commands: mpsc::Receiver<Command>,
        cancel: CancellationToken,
        residency: Residency,
    ) -> Self {
        // The manager only loads sessions whose agent it knows.
        let agent = deps
            .config
            .agents
            .get(&record.info.agent)
            .cloned()
            .unwrap_or(AgentKind::ClaudeCode);
        let deps_limits = deps.config.sandbox.limits;
        Actor {
            deps,
            record,
            agent,
            log,
            commands,
            cancel,
            sandbox: None,
            process: None,
            turn: None,
            queue: VecDeque::new(),
            files: BTreeMap::new(),
            saved_transcripts: HashMap::new(),
            idle_since: Instant::now(),
            limits: deps_limits,
            sandbox_provider: None,
            model_access: None,
            denials: None,
            denial_reports: DenialReports::default(),
            asks: Asks::default(),
            budget_approved: false,
            residency,
        }
    }

    pub(super) fn session_id(&self) -> &str {
        &self.record.info.session_id
    }

    pub(super) async fn run(mut self) {
        self.files = self
            .log
            .state()
            .await
            .files
            .into_iter()
            .map(|f| (f.path.clone(), f))
            .collect();
        // A node that only follows the session leaves its requests to the owner.
        if self.log.is_writer().await {
            self.load_pending_asks().await;
        }
        let mut scan = tokio::time::interval(self.deps.config.file_scan_interval);
        scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            self.start_queued().await;
            self.note_quiet().await;
            let unload_deadline = self.unload_deadline();
            let idle_deadline = (self.turn.is_none() && self.sandbox.is_some())
                .then(|| self.idle_since + self.deps.config.idle_timeout);
            let turn_deadline = self.turn.as_ref().map(|t| self.turn_deadline(t));
            let ask_expiry = self.asks.next_expiry();
            let flush_deadline = self.log.flush_deadline().await;
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => break,
                _ = self.log.ownership_lost() => self.step_down().await,
                command = self.commands.recv() => match command {
                    Some(command) => {
                        self.note_command();
                        self.handle(command).await
                    }
                    None => break,
                },
                // Before the agent's output, so a steady stream of lines cannot hold deltas back.
                _ = sleep_until(flush_deadline) => self.flush().await,
                line = next_line(self.process.as_mut()) => self.on_line(line).await,
                hit = limit_hit(self.sandbox.clone()) => self.on_limit_hit(hit).await,
                Some(denial) = next_denial(self.denials.as_mut()) => self.on_denial(&denial).await,
                _ = sleep_until(turn_deadline) => self.on_turn_deadline().await,
                _ = sleep_until(ask_expiry) => self.on_ask_expiry().await,
                _ = sleep_until(idle_deadline) => self.stop_sandbox("idle").await,
                _ = sleep_until(unload_deadline) => {
                    // Quiet means no turn, hence no deltas waiting; written first all the same,
                    // before the session leaves the registry.
                    self.flush().await;
                    if self.try_unload().await {
                        break;
                    }
                }
                _ = scan.tick(), if self.turn.is_some() => self.sync_files().await,
            }
        }
        self.shutdown().await;
        self.flush().await;
    }

    fn turn_deadline(&self, turn: &ActiveTurn) -> Instant {
        // An agent waiting for a person's answer is not stalled.
        let stall =
            (!self.asks.waiting()).then(|| turn.last_output + self.deps.config.turn_stall_timeout);
        // The wall-clock limits matter only until the turn is being interrupted anyway.
        let running = turn.interrupt_reason.is_none();
        let time_limit = turn.time_limit.filter(|_| running);
        let budget = turn.budget_deadline().filter(|_| running);
        [
            stall,
            turn.interrupt_deadline,
            turn.exit_deadline,
            time_limit,
            budget,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(24 * 3600))
    }

    async fn handle(&mut self, command: Command) {
        if let Command::TakeOver { reply } = command {
            let _ = reply.send(self.take_over().await);
            return;
        }
        if let Err(e) = self.ensure_owner().await {
            command.fail(e);
            return;
        }
        match command {
            Command::Send { request, reply } => self.on_send(request, reply).await,
            Command::Interrupt { reply } => {
                let turn_id = self.turn.as_ref().map(|t| t.id.clone());
                if turn_id.is_some() {
                    self.request_interrupt(InterruptReason::User).await;
                }
                let _ = reply.send(Ok(agent_runtime_protocol::InterruptResponse { turn_id }));
            }
            Command::WriteFile { path, bytes, reply } => {
                let _ = reply.send(self.write_file(&path, &bytes).await);
            }
            Command::DeleteFile { path, reply } => {
                let _ = reply.send(self.delete_file(&path).await);
            }
            Command::AnswerPermission {
                request_id,
                answer,
                reply,
            } => {
                let _ = reply.send(self.answer_permission(&request_id, answer).await);
            }
            Command::AnswerQuestion {
                request_id,
                answer,
                reply,
            } => {
                let _ = reply.send(self.answer_question(&request_id, answer).await);
            }
            Command::ApproveBudget { reply } => {
                let _ = reply.send(self.approve_budget().await);
            }
            Command::SetBudget { budget, reply } => {
                self.set_budget(budget).await;
                let _ = reply.send(Ok(()));
            }
            Command::Append { events, reply } => {
                let _ = reply.send(self.log.append(events).await.map(|_| ()));
            }
            // Answered above.
            Command::TakeOver { reply } => {
                let _ = reply.send(Ok(false));
            }
        }
    }

    /// Appends events, logging (not propagating) a store failure: the actor must keep running.
    /// Text deltas are group-committed (see `log.rs`); anything else is written at once, after
    /// the deltas before it.
    pub(super) async fn emit(&self, events: Vec<SessionEvent>) {
        self.count(&events);
        let deltas = events
            .iter()
            .all(|e| matches!(e, SessionEvent::TextDelta { .. }));
        let appended = if deltas {
            self.log.append_grouped(events).await
        } else {
            self.log.append(events).await.map(|_| ())
        };
        if let Err(e) = appended {
            tracing::error!(session_id = %self.session_id(), "appending events failed: {e}");
        }
    }

    /// Writes the deltas waiting for their group write.
    async fn flush(&self) {
        if let Err(e) = self.log.flush().await {
            tracing::error!(session_id = %self.session_id(), "writing events failed: {e}");
        }
    }

    /// Records in the metrics (and the log) what `events` tell: turns ending, a turn's first
    /// text, refused connections.
    fn count(&self, events: &[SessionEvent]) {
        use std::sync::atomic::Ordering;
        let metrics = crate::metrics::global();
        for event in events {
            match event {
                // Turns start in `begin_turn`, which writes its events itself.
                SessionEvent::TurnCompleted {
                    turn_id,
                    reason,
                    duration_ms,
                    ..
                } => {
                    tracing::info!(turn_id, ?reason, duration_ms, "turn ended");
                    metrics.turn_ended(*reason);
                }
                SessionEvent::TextDelta { .. } => {
                    if let Some(turn) = &self.turn {
                        if !turn.first_text.swap(true, Ordering::Relaxed) {
                            metrics.first_token_seconds.observe(turn.started.elapsed());
                        }
                    }
                }
                SessionEvent::NetworkDenied { .. } => {
                    metrics.egress_denied.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    }

    /// Starts the sandbox if none runs: fresh sandbox, workspace files and native transcripts
    /// restored from the store, profile written.
    pub(super) async fn ensure_sandbox(&mut self) -> Result<Arc<dyn Sandbox>> {
        if let Some(sandbox) = &self.sandbox {
            return Ok(sandbox.clone());
        }
        self.emit(vec![SessionEvent::Status {
            sandbox: SandboxState::Starting,
            provider: None,
        }])
        .await;
        let starting = Instant::now();
        match self.start_sandbox().await {
            Ok(sandbox) => {
                let metrics = crate::metrics::global();
                metrics
                    .sandbox_starts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                metrics.sandbox_start_seconds.observe(starting.elapsed());
                self.sandbox = Some(sandbox.clone());
                self.emit(vec![SessionEvent::Status {
                    sandbox: SandboxState::Ready,
                    provider: self.sandbox_provider,
                }])
                .await;
                Ok(sandbox)
            }
            Err(e) => {
                self.emit(vec![SessionEvent::Status {
                    sandbox: SandboxState::Unhealthy,
                    provider: None,
                }])
                .await;
                Err(e)
            }
        }
    }

    async fn start_sandbox(&mut self) -> Result<Arc<dyn Sandbox>> {
        let session_id = self.session_id().to_string();
        let profile = self.profile().await?;
        self.limits = limits_of(&self.deps, &profile);
        let started = start_sandbox(
            &self.deps,
            &self.agent,
            &profile,
            session_id.clone(),
            &session_id,
        )
        .await?;
        let sandbox = started.sandbox.clone();
        self.adopt(started);
        if let Err(e) = self.restore_into(sandbox.as_ref(), &profile).await {
            let _ = sandbox.destroy().await;
            self.model_access = None;
            self.denials = None;
            return Err(e);
        }
        tracing::info!(session_id = %session_id, "sandbox started");
        Ok(sandbox)
    }

    /// Forgets the stopped sandbox's network.
    pub(super) fn forget_sandbox(&mut self) {
        self.model_access = None;
        self.denials = None;
    }

    /// Takes over a started sandbox's network (its model access and refusals) and limits.
    fn adopt(&mut self, started: StartedSandbox) {
        self.limits = started.limits;
        self.sandbox_provider = Some(started.provider);
        self.model_access = Some(started.access);
        self.denials = Some(started.denials);
    }

    /// Writes the session's workspace files from the store into a fresh sandbox.
    async fn restore_files(&self, sandbox: &dyn Sandbox) -> Result<()> {
        let store = &self.deps.store;
        let session_id = self.session_id();
        for file in store.list_files(session_id).await? {
            if let Some(bytes) = store.get_file(session_id, &file.path).await? {
                sandbox
                    .write_file(Root::Workspace, &file.path, &bytes)
                    .await?;
            }
        }
        Ok(())
    }

    /// Writes what the session keeps in the store into a fresh sandbox: its workspace files, the
    /// agent's native transcripts, and the profile's files (its workspace files only into a
    /// session's first sandbox, where the user has not written them).
    async fn restore_into(&self, sandbox: &dyn Sandbox, profile: &AgentProfile) -> Result<()> {
        self.restore_files(sandbox).await?;
        let store = &self.deps.store;
        let session_id = self.session_id();
        let transcripts = store.list_transcripts(session_id).await?;
        for transcript in &transcripts {
            if let Some(bytes) = store.get_transcript(session_id, &transcript.name).await? {
                let path = self
                    .agent
                    .transcript_restore_path(&transcript.name, sandbox.workspace_dir())
                    .map_err(|e| RuntimeError::Internal(e.to_string()))?;
                sandbox.write_file(Root::Home, &path, &bytes).await?;
            }
        }
        let first_start = transcripts.is_empty();
        write_profile_files(&self.agent, profile, sandbox, |path| {
            !first_start || self.files.contains_key(path)
        })
        .await
    }

    /// Brings the limits up to date with the profile while no sandbox runs (a running sandbox
    /// keeps the limits it started with, like the rest of its profile). A missing profile
    /// keeps the old ones: the next sandbox start fails with the reason.
    pub(super) async fn refresh_limits(&mut self) {
        if self.sandbox.is_some() {
            return;
        }
        if let Ok(profile) = self.profile().await {
            self.limits = limits_of(&self.deps, &profile);
        }
    }

    /// The session's permission mode: its own, else its profile's, else `bypass`.
    pub(super) async fn permission_mode(
        &self,
        profile: &AgentProfile,
    ) -> agent_runtime_protocol::PermissionMode {
        let own = self.log.read(|s| s.settings.permission_mode).await;
        own.or(profile.permission_mode).unwrap_or_default()
    }

    pub(super) async fn profile(&self) -> Result<AgentProfile> {
        match &self.record.info.profile {
            None => Ok(AgentProfile::default()),
            Some(id) => self
                .deps
                .store
                .get_profile(id)
                .await?
                .ok_or_else(|| RuntimeError::ProfileNotFound(id.clone())),
        }
    }

    /// Starts the agent process if none runs, resuming the agent's own conversation when its
    /// transcript is present in the sandbox. `message` is the user message of a per-turn agent's
    /// process (`None` for a persistent agent): it becomes the process's whole stdin, never an
    /// argument.
    pub(super) async fn ensure_process(&mut self, message: Option<&str>) -> Result<()> {
        if self.process.is_some() {
            return Ok(());
        }
        let stdin = match message {
            Some(text) => Some(self.agent.per_turn_stdin(text).ok_or_else(|| {
                RuntimeError::Internal(format!("{} takes no message at start", self.agent.id()))
            })?),
            None => None,
        };
        if stdin.is_none() && self.sandbox.is_none() && self.claim_warm().await? {
            return Ok(());
        }
        if self.sandbox.is_none() {
            return self.start_process(stdin).await;
        }
        // The running sandbox may have ended since the last turn (a remote one can die between
        // turns, silently): when the agent cannot start in it, it starts in a fresh one.
        match self.start_process(stdin.clone()).await {
            Err(e) if self.process.is_none() => {
                tracing::warn!(session_id = %self.session_id(), "the agent could not start in the running sandbox ({e}); starting a fresh one");
                self.stop_sandbox("the agent could not start in it").await;
                self.start_process(stdin).await
            }
            started => started,
        }
    }

    /// Starts the agent process, in the running sandbox or a new one.
    async fn start_process(&mut self, stdin: Option<String>) -> Result<()> {
        let sandbox = self.ensure_sandbox().await?;
        let agent_session_id = self.agent_session_id();
        let resume = self
            .prepare_resume(sandbox.as_ref(), &agent_session_id)
            .await?;
        let profile = self.profile().await?;
        let access = self
            .model_access
            .as_ref()
            .ok_or_else(|| RuntimeError::Internal("the sandbox has no model access".into()))?;
        let start = AgentStart {
            profile: &profile,
            permission_mode: self.permission_mode(&profile).await,
            agent_session_id,
            resume,
            prior_cost_usd: self.log.read(|s| s.cost_usd).await,
            label: &self.record.info.session_id,
        };
        let process = spawn_agent(
            &self.deps,
            &self.agent,
            sandbox.as_ref(),
            access,
            start,
            stdin,
        )
        .await?;
        self.process = Some(process);
        Ok(())
    }

    /// Takes a sandbox with the agent already running from the warm pool (`crate::pool`), if
    /// this session can use one: a persistent agent starting a new conversation (no transcript
    /// stored). The session's workspace files are written into it and the session takes the
    /// entry's agent session id. `false`: none fits, start cold.
    async fn claim_warm(&mut self) -> Result<bool> {
        if !poolable(&self.agent)
            || !self
                .deps
                .store
                .list_transcripts(self.session_id())
                .await?
                .is_empty()
        {
            return Ok(false);
        }
        let profile = self.profile().await?;
        let key = PoolKey {
            agent: self.agent.id().to_string(),
            profile: self.record.info.profile.clone(),
            mode: self.permission_mode(&profile).await,
        };
        let Some(warm) = self.deps.pool.claim(&key, &profile).await else {
            return Ok(false);
        };
        self.emit(vec![SessionEvent::Status {
            sandbox: SandboxState::Starting,
            provider: None,
        }])
        .await;
        let sandbox = warm.started.sandbox.clone();
        let taken = async {
            self.restore_files(sandbox.as_ref()).await?;
            self.set_agent_session_id(warm.agent_session_id.clone())
                .await
        };
        if let Err(e) = taken.await {
            tracing::warn!(session_id = %self.session_id(), "a warm sandbox could not be taken over; starting cold: {e}");
            warm.discard().await;
            return Ok(false);
        }
        tracing::info!(session_id = %self.session_id(), entry = %warm.id, "sandbox taken from the warm pool");
        self.adopt(warm.started);
        self.sandbox = Some(sandbox);
        self.process = Some(warm.process);
        self.emit(vec![SessionEvent::Status {
            sandbox: SandboxState::Ready,
            provider: self.sandbox_provider,
        }])
        .await;
        Ok(true)
    }

    /// Whether the agent's transcript in the sandbox can be resumed. One that cannot (a first
    /// turn killed before the agent recorded anything) is removed, so the agent can start its
    /// conversation afresh under the same id.
    async fn prepare_resume(&self, sandbox: &dyn Sandbox, agent_session_id: &str) -> Result<bool> {
        let files: Vec<TranscriptFile> = self
            .transcript_files(sandbox)
            .await?
            .into_iter()
            .map(|(file, _)| file)
            .collect();
        let mut transcript = Vec::new();
        for file in &files {
            if let Some(bytes) = sandbox.read_file(Root::Home, &file.home_path).await? {
                let content = String::from_utf8_lossy(&bytes).into_owned();
                transcript.push((file.name.clone(), content));
            }
        }
        let resume = self.agent.can_resume(&transcript, agent_session_id);
        if !resume && !files.is_empty() {
            tracing::warn!(session_id = %self.session_id(), "the agent's transcript holds no resumable conversation; starting afresh");
            for file in &files {
                sandbox.remove_file(Root::Home, &file.home_path).await?;
            }
        }
        Ok(resume)
    }

    /// The agent opened its own conversation under `id`: store it so a fresh sandbox resumes
    /// that conversation, and tell clients.
    pub(super) async fn on_agent_session_id(&mut self, id: String) {
        if let Err(e) = self.set_agent_session_id(id).await {
            tracing::error!(session_id = %self.session_id(), "storing the agent's session id failed: {e}");
        }
    }

    /// Stores `id` as the agent's conversation of this session and tells clients.
    async fn set_agent_session_id(&mut self, id: String) -> Result<()> {
        if self.record.agent_session_id.as_deref() == Some(id.as_str()) {
            return Ok(());
        }
        let mut record = self
            .deps
            .store
            .get_session(self.session_id())
            .await?
            .ok_or_else(|| RuntimeError::SessionNotFound(self.session_id().to_string()))?;
        record.agent_session_id = Some(id.clone());
        self.deps.store.update_session(&record).await?;
        self.record.agent_session_id = Some(id.clone());
        self.emit(vec![SessionEvent::MetadataUpdate {
            metadata: MetadataPatch {
                agent_session_id: Some(id),
                ..Default::default()
            },
        }])
        .await;
        Ok(())
    }

    pub(super) fn agent_session_id(&self) -> String {
        self.record
            .agent_session_id
            .clone()
            .unwrap_or_else(|| self.session_id().to_string())
    }

    /// Stops the agent process and the sandbox; everything needed to resume is in the store.
    pub(super) async fn stop_sandbox(&mut self, why: &str) {
        let Some(sandbox) = self.sandbox.clone() else {
            return;
        };
        if let Some(process) = self.process.take() {
            process.kill().await;
        }
        self.close_live_asks().await;
        self.save_transcripts().await;
        if let Err(e) = sandbox.destroy().await {
            tracing::warn!(session_id = %self.session_id(), "destroying the sandbox failed: {e}");
        }
        self.sandbox = None;
        self.model_access = None;
        self.denials = None;
        tracing::info!(session_id = %self.session_id(), "sandbox stopped ({why})");
        self.emit(vec![SessionEvent::Status {
            sandbox: SandboxState::Stopped,
            provider: None,
        }])
        .await;
    }

    /// The egress proxy refused a connection: recorded as `network_denied` (repeats within a
    /// short window once).
    async fn on_denial(&mut self, denial: &Denial) {
        tracing::info!(
            session_id = %self.session_id(),
            host = %denial.host,
            port = denial.port,
            reason = denial.reason.code(),
            "egress refused"
        );
        if let Some(event) = self.denial_reports.event(denial) {
            self.emit(vec![event]).await;
        }
    }

    /// The kernel enforced a limit on the sandbox. Out of memory ends the running turn with
    /// error code `oom` and stops the sandbox (whatever the OOM killer left is in no state to
    /// go on); the next turn starts a fresh one that resumes the conversation. Outside a turn it
    /// is recorded as a warning.
    async fn on_limit_hit(&mut self, hit: LimitHit) {
        let LimitHit::OutOfMemory { kills } = hit;
        tracing::warn!(session_id = %self.session_id(), kills, "the sandbox ran out of memory");
        if self.turn.is_none() {
            let message = format!(
                "a process in the sandbox was killed: out of memory ({})",
                self.memory_limit()
            );
            self.emit(vec![SessionEvent::Warning { message, raw: None }])
                .await;
            return;
        }
        let closing = match self.process.take() {
            Some(mut process) => {
                let closing = process
                    .translator
                    .close_open_blocks(&crate::time::now_rfc3339());
                process.kill().await;
                closing
            }
            None => Vec::new(),
        };
        self.apply_outputs(closing).await;
        let error = self.oom_error();
        self.abandon_turn(TurnEndReason::Error, error).await;
        self.stop_sandbox("out of memory").await;
    }

    fn memory_limit(&self) -> String {
        self.limits
            .memory_bytes
            .map_or_else(|| "its limit".to_string(), human_bytes)
    }

    /// The error of a turn during which the sandbox ran out of memory.
    pub(super) fn oom_error(&self) -> TurnError {
        TurnError {
            message: format!(
                "the sandbox ran out of memory ({}); its processes were stopped",
                self.memory_limit()
            ),
            code: Some("oom".into()),
            http_status: None,
            exit_code: None,
            stderr_tail: None,
        }
    }

    async fn shutdown(&mut self) {
        if self.turn.is_some() {
            self.request_interrupt(InterruptReason::Shutdown).await;
            let grace = self.deps.config.interrupt_grace;
            let deadline = Instant::now() + grace;
            while self.turn.is_some() && self.process.is_some() {
                match tokio::time::timeout_at(deadline, next_line(self.process.as_mut())).await {
                    Ok(line) => self.on_line(line).await,
                    Err(_) => break,
                }
            }
            // A per-turn agent may have reported its end already and only not exited yet.
            if let Some(outcome) = self.turn.as_mut().and_then(|t| t.reported.take()) {
                self.finish_turn(outcome).await;
            }
            if self.turn.is_some() {
                self.abandon_turn(TurnEndReason::Interrupted, shutdown_error())
                    .await;
            }
        }
        // Accepted messages are never dropped silently: record them as interrupted turns.
        while let Some(queued) = self.queue.pop_front() {
            self.record_unstarted_turn(queued, shutdown_error()).await;
        }
        self.stop_sandbox("shutdown").await;
    }
}

pub(super) fn shutdown_error() -> TurnError {
    TurnError {
        message: "the server shut down while this turn was running".into(),
        code: Some("shutdown".into()),
        http_status: None,
        exit_code: None,
        stderr_tail: None,
    }
}

/// The next output line of the agent, or never when no agent runs.
pub(super) async fn next_line(process: Option<&mut AgentProcess>) -> Option<OutputLine> {
    match process {
        Some(process) => process.next_line().await,
        None => std::future::pending().await,
    }
}

/// The next refusal of the sandbox's egress proxy, or never when no sandbox runs.
async fn next_denial(denials: Option<&mut mpsc::Receiver<Denial>>) -> Option<Denial> {
    match denials {
        Some(denials) => denials.recv().await,
        None => std::future::pending().await,
    }
}

/// The next limit the kernel enforced on the sandbox, or never when there is none.
async fn limit_hit(sandbox: Option<Arc<dyn Sandbox>>) -> LimitHit {
    match sandbox {
        Some(sandbox) => sandbox.limit_hit().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Closes what a crashed server left open in a session's log: running tool calls become errors,
/// the running turn ends as `interrupted`, and a sandbox that was up is marked stopped.
pub(crate) async fn close_abandoned_turn(log: &EventLog) -> Result<()> {
    let state = log.state().await;
    let mut events = Vec::new();
    let threads = std::iter::once((MAIN_CONVERSATION.to_string(), &state.blocks)).chain(
        state
            .subagents
            .iter()
            .map(|(id, t)| (id.clone(), &t.blocks)),
    );
    for (conversation_id, blocks) in threads {
        for block in blocks {
            if let Block::ToolUse(tool) = block {
                if matches!(tool.status, ToolStatus::Pending | ToolStatus::Running) {
                    events.push(SessionEvent::BlockUpdate {
                        conversation_id: conversation_id.clone(),
                        block_id: tool.id.clone(),
                        updates: BlockUpdates {
                            status: Some(ToolStatus::Error),
                            ..Default::default()
                        },
                    });
                }
            }
        }
    }
    if let Some(turn_id) = &state.runtime.active_turn_id {
        events.push(SessionEvent::TurnCompleted {
            turn_id: turn_id.clone(),
            reason: TurnEndReason::Interrupted,
            usage: Usage::default(),
            cost_usd: 0.0,
            duration_ms: 0,
            error: Some(TurnError {
                message: "the server stopped while this turn was running".into(),
                code: Some("server_restart".into()),
                http_status: None,
                exit_code: None,
                stderr_tail: None,
            }),
        });
    }
    if matches!(
        state.runtime.sandbox,
        SandboxState::Starting | SandboxState::Ready | SandboxState::Unhealthy
    ) {
        events.push(SessionEvent::Status {
            sandbox: SandboxState::Stopped,
            provider: None,
        });
    }
    if !events.is_empty() {
        tracing::info!(session_id = %log.session_id(), "closing what a previous run left open");
        log.append(events).await?;
    }
    Ok(())
}
