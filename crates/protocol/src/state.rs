//! Session state and the one pure fold that produces it from events.
//!
//! The server's snapshot and every client's live view are both `fold`s of the same log, so they
//! cannot disagree: folding events `1..=N` over [`SessionState::default`] gives exactly the state
//! a snapshot taken at `seq = N` holds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::approval::{
    BudgetExceeded, PermissionRecord, QuestionRecord, SessionSettings, SessionStatus,
};
use crate::block::{Block, SubagentStatus};
use crate::event::{
    BlockUpdates, Envelope, FileInfo, RuntimeState, SessionEvent, Usage, MAIN_CONVERSATION,
};

/// The folded state of one session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionState {
    /// The last event folded into this state (0 before any).
    #[ts(type = "number")]
    pub seq: u64,
    pub runtime: RuntimeState,
    /// The main thread.
    pub blocks: Vec<Block>,
    /// Subagent threads by subagent id.
    pub subagents: BTreeMap<String, SubagentThread>,
    /// Workspace files, sorted by path.
    pub files: Vec<FileInfo>,
    /// Token totals over all completed turns.
    pub usage: Usage,
    /// Cost over all completed turns, in US dollars.
    pub cost_usd: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub agent_session_id: Option<String>,
    /// The session runs against the built-in demo model.
    #[serde(default)]
    pub demo: bool,
    /// Connections the sandbox's egress proxy refused, one entry per destination and reason,
    /// most recent last; at most [`MAX_NETWORK_DENIALS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<NetworkDenial>>", optional)]
    pub network_denied: Vec<NetworkDenial>,
    /// What the session is doing: `requires_action` while a request waits for an answer or a
    /// budget was reached, else `running` while a turn runs, else `idle`.
    #[serde(default)]
    pub status: SessionStatus,
    /// Turns started so far.
    #[serde(default)]
    #[ts(type = "number")]
    pub turns: u64,
    /// Every permission request, in the order asked, with how it was closed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<PermissionRecord>>", optional)]
    pub permissions: Vec<PermissionRecord>,
    /// Every question request, in the order asked, with how it was closed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<QuestionRecord>>", optional)]
    pub questions: Vec<QuestionRecord>,
    /// Allow rules the user added with "allow always".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<String>>", optional)]
    pub session_rules: Vec<String>,
    /// The session's own settings over its profile's.
    #[serde(default, skip_serializing_if = "SessionSettings::is_default")]
    #[ts(as = "Option<SessionSettings>", optional)]
    pub settings: SessionSettings,
    /// The budget limit reached, until the budget is raised or the overrun approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub budget_exceeded: Option<BudgetExceeded>,
}

impl SessionState {
    /// The permission requests nobody has answered yet.
    pub fn pending_permissions(&self) -> impl Iterator<Item = &PermissionRecord> {
        self.permissions.iter().filter(|r| r.resolution.is_none())
    }

    /// The permission request `request_id`.
    pub fn permission(&self, request_id: &str) -> Option<&PermissionRecord> {
        self.permissions
            .iter()
            .find(|r| r.request.request_id == request_id)
    }

    /// The question request `request_id`.
    pub fn question(&self, request_id: &str) -> Option<&QuestionRecord> {
        self.questions
            .iter()
            .find(|r| r.request.request_id == request_id)
    }

    /// The question requests nobody has answered yet.
    pub fn pending_questions(&self) -> impl Iterator<Item = &QuestionRecord> {
        self.questions.iter().filter(|r| r.resolution.is_none())
    }

    fn derive_status(&self) -> SessionStatus {
        if self.budget_exceeded.is_some()
            || self.pending_permissions().next().is_some()
            || self.pending_questions().next().is_some()
        {
            SessionStatus::RequiresAction
        } else if self.runtime.active_turn_id.is_some() {
            SessionStatus::Running
        } else {
            SessionStatus::Idle
        }
    }
}

/// How many distinct refused destinations a session's state keeps.
pub const MAX_NETWORK_DENIALS: usize = 50;

/// Refused connections to one destination for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NetworkDenial {
    pub host: String,
    pub port: u16,
    pub reason: String,
    /// How many `network_denied` events named it.
    #[ts(type = "number")]
    pub count: u64,
    /// When the last one was appended.
    pub last_at: String,
}

/// One subagent's thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SubagentThread {
    pub parent_conversation_id: String,
    pub status: SubagentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub subagent_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub description: Option<String>,
    pub blocks: Vec<Block>,
}

impl SubagentThread {
    fn new(parent_conversation_id: &str) -> Self {
        SubagentThread {
            parent_conversation_id: parent_conversation_id.to_string(),
            status: SubagentStatus::Running,
            subagent_type: None,
            description: None,
            blocks: Vec::new(),
        }
    }
}

/// Folds one event into `state`. Pure and total: an event that refers to something unknown (a
/// block id never started, say) changes nothing but `seq`.
pub fn fold(state: &mut SessionState, envelope: &Envelope) {
    state.seq = envelope.seq;
    apply(state, &envelope.event, &envelope.at);
    state.status = state.derive_status();
}

/// Folds a whole log, in order, over an empty state.
pub fn fold_all<'a>(envelopes: impl IntoIterator<Item = &'a Envelope>) -> SessionState {
    let mut state = SessionState::default();
    for envelope in envelopes {
        fold(&mut state, envelope);
    }
    state
}

fn apply(state: &mut SessionState, event: &SessionEvent, at: &str) {
    match event {
        SessionEvent::BlockStart {
            conversation_id,
            block,
        } => upsert_block(thread_mut(state, conversation_id), block.clone()),
        SessionEvent::TextDelta {
            conversation_id,
            block_id,
            delta,
        } => {
            if let Some(block) = find_block(state, conversation_id, block_id) {
                block.append_text(delta);
            }
        }
        SessionEvent::BlockUpdate {
            conversation_id,
            block_id,
            updates,
        } => {
            if let Some(block) = find_block(state, conversation_id, block_id) {
                apply_updates(block, updates);
            }
        }
        SessionEvent::BlockComplete {
            conversation_id,
            block,
            ..
        } => upsert_block(thread_mut(state, conversation_id), block.clone()),
        SessionEvent::TurnStarted { turn_id, .. } => {
            state.runtime.active_turn_id = Some(turn_id.clone());
            state.turns += 1;
        }
        SessionEvent::TurnCompleted {
            turn_id,
            usage,
            cost_usd,
            ..
        } => {
            if state.runtime.active_turn_id.as_deref() == Some(turn_id.as_str()) {
                state.runtime.active_turn_id = None;
            }
            state.usage.add(usage);
            state.cost_usd += cost_usd;
        }
        SessionEvent::MetadataUpdate { metadata } => {
            if let Some(model) = &metadata.model {
                state.model = Some(model.clone());
            }
            if let Some(id) = &metadata.agent_session_id {
                state.agent_session_id = Some(id.clone());
            }
            if let Some(demo) = metadata.demo {
                state.demo = demo;
            }
        }
        SessionEvent::SubagentDiscovered {
            subagent_id,
            parent_conversation_id,
            subagent_type,
            description,
        } => {
            let thread = state
                .subagents
                .entry(subagent_id.clone())
                .or_insert_with(|| SubagentThread::new(parent_conversation_id));
            thread.parent_conversation_id = parent_conversation_id.clone();
            if subagent_type.is_some() {
                thread.subagent_type = subagent_type.clone();
            }
            if description.is_some() {
                thread.description = description.clone();
            }
        }
        SessionEvent::SubagentCompleted {
            subagent_id,
            status,
        } => {
            if let Some(thread) = state.subagents.get_mut(subagent_id) {
                thread.status = *status;
            }
        }
        SessionEvent::FileCreated(info) | SessionEvent::FileModified(info) => {
            match state.files.binary_search_by(|f| f.path.cmp(&info.path)) {
                Ok(i) => state.files[i] = info.clone(),
                Err(i) => state.files.insert(i, info.clone()),
            }
        }
        SessionEvent::FileDeleted { path } => {
            if let Ok(i) = state.files.binary_search_by(|f| f.path.cmp(path)) {
                state.files.remove(i);
            }
        }
        SessionEvent::Status { sandbox, provider } => {
            state.runtime.sandbox = *sandbox;
            if provider.is_some() {
                state.runtime.sandbox_provider = *provider;
            }
        }
        SessionEvent::NetworkDenied { host, port, reason } => {
            note_denial(&mut state.network_denied, host, *port, reason, at);
        }
        SessionEvent::PermissionRequested(request) => {
            state.permissions.push(PermissionRecord {
                request: request.clone(),
                resolution: None,
            });
        }
        SessionEvent::PermissionResolved(resolution) => {
            let record = state
                .permissions
                .iter_mut()
                .rev()
                .find(|r| r.request.request_id == resolution.request_id);
            if let Some(record) = record.filter(|r| r.resolution.is_none()) {
                record.resolution = Some(resolution.clone());
                if let Some(rule) = resolution.rule.as_ref().filter(|_| resolution.remember) {
                    if !state.session_rules.contains(rule) {
                        state.session_rules.push(rule.clone());
                    }
                }
            }
        }
        SessionEvent::QuestionRequested(request) => {
            state.questions.push(QuestionRecord {
                request: request.clone(),
                resolution: None,
            });
        }
        SessionEvent::QuestionResolved(resolution) => {
            let record = state
                .questions
                .iter_mut()
                .rev()
                .find(|r| r.request.request_id == resolution.request_id);
            if let Some(record) = record.filter(|r| r.resolution.is_none()) {
                record.resolution = Some(resolution.clone());
            }
        }
        SessionEvent::BudgetExceeded(exceeded) => state.budget_exceeded = Some(exceeded.clone()),
        SessionEvent::BudgetApproved(_) => state.budget_exceeded = None,
        SessionEvent::SettingsChanged(settings) => {
            state.settings = settings.clone();
            // A new budget is checked again at the next boundary.
            state.budget_exceeded = None;
        }
        SessionEvent::Warning { .. } => {}
    }
}

/// Counts a refusal on its destination's entry, moved to the end; the oldest entry goes when
/// there are more than [`MAX_NETWORK_DENIALS`].
fn note_denial(denials: &mut Vec<NetworkDenial>, host: &str, port: u16, reason: &str, at: &str) {
    let existing = denials
        .iter()
        .position(|d| d.host == host && d.port == port && d.reason == reason);
    let mut denial = match existing {
        Some(i) => denials.remove(i),
        None => NetworkDenial {
            host: host.to_string(),
            port,
            reason: reason.to_string(),
            count: 0,
            last_at: String::new(),
        },
    };
    denial.count += 1;
    denial.last_at = at.to_string();
    denials.push(denial);
    if denials.len() > MAX_NETWORK_DENIALS {
        denials.remove(0);
    }
}

/// The blocks of a thread, creating a subagent thread on first mention so that no event is lost
/// when a subagent's output arrives before its discovery.
fn thread_mut<'a>(state: &'a mut SessionState, conversation_id: &str) -> &'a mut Vec<Block> {
    if conversation_id == MAIN_CONVERSATION {
        return &mut state.blocks;
    }
    &mut state
        .subagents
        .entry(conversation_id.to_string())
        .or_insert_with(|| SubagentThread::new(MAIN_CONVERSATION))
        .blocks
}

fn find_block<'a>(
    state: &'a mut SessionState,
    conversation_id: &str,
    block_id: &str,
) -> Option<&'a mut Block> {
    let blocks = if conversation_id == MAIN_CONVERSATION {
        &mut state.blocks
    } else {
        &mut state.subagents.get_mut(conversation_id)?.blocks
    };
    // Open blocks are near the end; search backwards.
    blocks.iter_mut().rev().find(|b| b.id() == block_id)
}

fn upsert_block(blocks: &mut Vec<Block>, block: Block) {
    match blocks.iter().rposition(|b| b.id() == block.id()) {
        Some(i) => blocks[i] = block,
        None => blocks.push(block),
    }
}

fn apply_updates(block: &mut Block, updates: &BlockUpdates) {
    match block {
        Block::ToolUse(b) => {
            if let Some(status) = updates.status {
                b.status = status;
            }
            if let Some(partial) = &updates.partial_input {
                b.partial_input = Some(partial.clone());
            }
        }
        Block::Thinking(b) => {
            if let Some(signature) = &updates.signature {
                b.signature = Some(signature.clone());
            }
        }
        Block::Subagent(b) => {
            if let Some(status) = updates.subagent_status {
                b.status = status;
            }
        }
        Block::Plan(b) => {
            if let Some(entries) = &updates.entries {
                b.entries = entries.clone();
            }
        }
        Block::UserMessage(_)
        | Block::AssistantText(_)
        | Block::ToolResult(_)
        | Block::System(_) => {}
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
