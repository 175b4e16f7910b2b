//! Session events and the envelope that numbers them.
//!
//! Every change to a session is one [`SessionEvent`], appended to the session's log and wrapped in
//! an [`Envelope`] whose `seq` is per-session, gapless and strictly increasing from 1.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::approval::{
    BudgetApproval, BudgetExceeded, PermissionRequest, PermissionResolution, QuestionRequest,
    QuestionResolution, SessionSettings,
};
use crate::block::{Block, PlanEntry, SubagentStatus, ToolStatus};

/// The thread id of a session's main conversation.
pub const MAIN_CONVERSATION: &str = "main";

/// One numbered event of a session's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub session_id: String,
    #[ts(type = "number")]
    pub seq: u64,
    /// When the event was appended (RFC 3339, UTC).
    pub at: String,
    pub event: SessionEvent,
}

/// Everything a client can observe about a session, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum SessionEvent {
    /// A block opens in a thread (`"main"` or a subagent id).
    BlockStart {
        conversation_id: String,
        block: Block,
    },
    /// Streamed text for an open `assistant_text` or `thinking` block.
    TextDelta {
        conversation_id: String,
        block_id: String,
        delta: String,
    },
    /// A partial change to an open block.
    BlockUpdate {
        conversation_id: String,
        block_id: String,
        updates: BlockUpdates,
    },
    /// The block's final content; replaces whatever was streamed.
    BlockComplete {
        conversation_id: String,
        block_id: String,
        block: Block,
    },
    /// A turn began with the user message in block `userBlockId`.
    TurnStarted {
        turn_id: String,
        user_block_id: String,
    },
    /// A turn ended. `usage` and `costUsd` are this turn's own, not cumulative.
    TurnCompleted {
        turn_id: String,
        reason: TurnEndReason,
        usage: Usage,
        cost_usd: f64,
        #[ts(type = "number")]
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        error: Option<TurnError>,
    },
    /// Session-level facts changed (model in use, name, ...). Absent fields are unchanged.
    MetadataUpdate { metadata: MetadataPatch },
    /// A subagent thread appeared.
    SubagentDiscovered {
        subagent_id: String,
        /// The thread holding the `subagent` block that links to it.
        parent_conversation_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        subagent_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        description: Option<String>,
    },
    /// A subagent thread finished.
    SubagentCompleted {
        subagent_id: String,
        status: SubagentStatus,
    },
    /// A workspace file appeared.
    FileCreated(FileInfo),
    /// A workspace file's content changed.
    FileModified(FileInfo),
    /// A workspace file was removed.
    FileDeleted { path: String },
    /// The session's sandbox changed state. (Whether a turn runs follows from the turn events.)
    Status {
        sandbox: SandboxState,
        /// Where the sandbox runs, on the way up (`starting`, `ready`); absent otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        provider: Option<SandboxProviderKind>,
    },
    /// The sandbox's egress proxy refused a connection. Repeats of the same refusal within a
    /// short window are reported once.
    NetworkDenied {
        host: String,
        port: u16,
        /// Stable code: `policy_none`, `not_allowlisted`, `loopback`, `private`, `link_local`,
        /// `metadata`, `runtime_address`, `reserved`, `resolve_failed`, ...
        reason: String,
    },
    /// The agent asks whether it may run a tool; pending until `permission_resolved`.
    PermissionRequested(PermissionRequest),
    /// A permission request was answered, timed out, or closed with its turn.
    PermissionResolved(PermissionResolution),
    /// The agent asks the user questions; pending until `question_resolved`.
    QuestionRequested(QuestionRequest),
    /// Questions were answered, timed out, or closed with their turn.
    QuestionResolved(QuestionResolution),
    /// A budget limit was reached; the agent stopped at a boundary.
    BudgetExceeded(BudgetExceeded),
    /// The user let the session go on past the limit that was reached (once).
    BudgetApproved(BudgetApproval),
    /// The session's own settings changed (permission mode, budget). Absent fields are unset.
    SettingsChanged(SessionSettings),
    /// Agent output the runtime could not interpret, kept rather than dropped.
    Warning {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        raw: Option<String>,
    },
}

impl SessionEvent {
    /// The event's `type` tag as it is serialized (`"text_delta"`, ...), e.g. for an SSE
    /// `event:` line, without serializing the event.
    pub fn kind(&self) -> &'static str {
        match self {
            SessionEvent::BlockStart { .. } => "block_start",
            SessionEvent::TextDelta { .. } => "text_delta",
            SessionEvent::BlockUpdate { .. } => "block_update",
            SessionEvent::BlockComplete { .. } => "block_complete",
            SessionEvent::TurnStarted { .. } => "turn_started",
            SessionEvent::TurnCompleted { .. } => "turn_completed",
            SessionEvent::MetadataUpdate { .. } => "metadata_update",
            SessionEvent::SubagentDiscovered { .. } => "subagent_discovered",
            SessionEvent::SubagentCompleted { .. } => "subagent_completed",
            SessionEvent::FileCreated(_) => "file_created",
            SessionEvent::FileModified(_) => "file_modified",
            SessionEvent::FileDeleted { .. } => "file_deleted",
            SessionEvent::Status { .. } => "status",
            SessionEvent::NetworkDenied { .. } => "network_denied",
            SessionEvent::PermissionRequested(_) => "permission_requested",
            SessionEvent::PermissionResolved(_) => "permission_resolved",
            SessionEvent::QuestionRequested(_) => "question_requested",
            SessionEvent::QuestionResolved(_) => "question_resolved",
            SessionEvent::BudgetExceeded(_) => "budget_exceeded",
            SessionEvent::BudgetApproved(_) => "budget_approved",
            SessionEvent::SettingsChanged(_) => "settings_changed",
            SessionEvent::Warning { .. } => "warning",
        }
    }
}

/// Fields of a block that can change while it is open. Absent fields are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BlockUpdates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub status: Option<ToolStatus>,
    /// Replaces a tool call's streamed raw input so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub partial_input: Option<String>,
    /// A thinking block's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub signature: Option<String>,
    /// A subagent link's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub subagent_status: Option<SubagentStatus>,
    /// Replaces a plan's entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub entries: Option<Vec<PlanEntry>>,
}

/// Why a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TurnEndReason {
    Completed,
    Interrupted,
    Error,
}

/// What went wrong in a turn that ended with `error` (or was interrupted for a reason).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TurnError {
    pub message: String,
    /// Stable machine-readable cause, e.g. `api_error`, `agent_exited`, `timeout`, `shutdown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub code: Option<String>,
    /// HTTP status of a failed model API call, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub exit_code: Option<i32>,
    /// The last lines the agent process wrote to stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub stderr_tail: Option<String>,
}

/// Token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    #[ts(type = "number")]
    pub input_tokens: u64,
    #[ts(type = "number")]
    pub output_tokens: u64,
    #[ts(type = "number")]
    pub cache_read_input_tokens: u64,
    #[ts(type = "number")]
    pub cache_creation_input_tokens: u64,
}

impl Usage {
    /// Adds `other` to `self`, saturating.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_input_tokens = self
            .cache_read_input_tokens
            .saturating_add(other.cache_read_input_tokens);
        self.cache_creation_input_tokens = self
            .cache_creation_input_tokens
            .saturating_add(other.cache_creation_input_tokens);
    }
}

/// Session-level facts; absent fields are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MetadataPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub model: Option<String>,
    /// The agent's own id for the conversation (e.g. Claude's session id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub agent_session_id: Option<String>,
    /// Set when the session runs against the built-in demo model, not a real one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub demo: Option<bool>,
}

/// A workspace file's identity: path relative to the workspace, size and content hash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    pub path: String,
    #[ts(type = "number")]
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
}

/// Where the session's sandbox is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SandboxState {
    /// No sandbox has been started (or the session was reloaded after a restart).
    #[default]
    None,
    Starting,
    Ready,
    Unhealthy,
    Stopped,
}

/// Where sandboxes run: a sandbox provider the server can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SandboxProviderKind {
    /// bubblewrap on the server's own host.
    Local,
    /// A Modal sandbox (modal.com), reached over Modal's API.
    Modal,
}

impl SandboxProviderKind {
    /// Every kind, in a stable order.
    pub const ALL: [SandboxProviderKind; 2] =
        [SandboxProviderKind::Local, SandboxProviderKind::Modal];

    /// Its wire name: `local`, `modal`.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxProviderKind::Local => "local",
            SandboxProviderKind::Modal => "modal",
        }
    }
}

impl std::str::FromStr for SandboxProviderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| format!("unknown sandbox provider {s:?} (expected local or modal)"))
    }
}

/// The live state of a session's runtime.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeState {
    pub sandbox: SandboxState,
    /// Where the session's sandbox runs (or last ran, this load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub sandbox_provider: Option<SandboxProviderKind>,
    /// The turn that is running, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub active_turn_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One sample of every variant, as a client would receive it.
    const SAMPLES: &[&str] = &[
        r#"{"type":"block_start","conversationId":"main","block":{"type":"assistant_text","id":"b","at":"t","text":""}}"#,
        r#"{"type":"text_delta","conversationId":"main","blockId":"b","delta":"hi"}"#,
        r#"{"type":"block_update","conversationId":"main","blockId":"b","updates":{}}"#,
        r#"{"type":"block_complete","conversationId":"main","blockId":"b","block":{"type":"assistant_text","id":"b","at":"t","text":"hi"}}"#,
        r#"{"type":"turn_started","turnId":"t","userBlockId":"u"}"#,
        r#"{"type":"turn_completed","turnId":"t","reason":"completed","usage":{"inputTokens":1,"outputTokens":1,"cacheReadInputTokens":0,"cacheCreationInputTokens":0},"costUsd":0,"durationMs":1}"#,
        r#"{"type":"metadata_update","metadata":{}}"#,
        r#"{"type":"subagent_discovered","subagentId":"s","parentConversationId":"main"}"#,
        r#"{"type":"subagent_completed","subagentId":"s","status":"completed"}"#,
        r#"{"type":"file_created","path":"a","size":1,"sha256":"00"}"#,
        r#"{"type":"file_modified","path":"a","size":1,"sha256":"00"}"#,
        r#"{"type":"file_deleted","path":"a"}"#,
        r#"{"type":"status","sandbox":"ready"}"#,
        r#"{"type":"network_denied","host":"h","port":1,"reason":"policy_none"}"#,
        r#"{"type":"permission_requested","requestId":"r","tool":"Bash","input":{},"options":[],"expiresAt":"t"}"#,
        r#"{"type":"permission_resolved","requestId":"r","decision":"allow","remember":false,"by":"user","at":"t"}"#,
        r#"{"type":"question_requested","requestId":"r","questions":[],"expiresAt":"t"}"#,
        r#"{"type":"question_resolved","requestId":"r","answers":{},"by":"user","at":"t"}"#,
        r#"{"type":"budget_exceeded","kind":"cost","limit":1,"spent":2}"#,
        r#"{"type":"budget_approved","kind":"cost","at":"t"}"#,
        r#"{"type":"settings_changed"}"#,
        r#"{"type":"warning","message":"m"}"#,
    ];

    #[test]
    fn kind_is_the_serialized_type_tag_of_every_variant() {
        let mut kinds = std::collections::BTreeSet::new();
        for sample in SAMPLES {
            let event: SessionEvent = serde_json::from_str(sample)
                .unwrap_or_else(|e| panic!("sample {sample} does not parse: {e}"));
            let value = serde_json::to_value(&event).expect("serialize");
            assert_eq!(value["type"].as_str(), Some(event.kind()), "{sample}");
            kinds.insert(event.kind());
        }
        // Every variant has a sample: `kind`'s match is exhaustive, so a new variant fails to
        // compile until it has a tag, and this count until it has a sample.
        assert_eq!(kinds.len(), SAMPLES.len());
        assert_eq!(kinds.len(), 22);
    }
}
