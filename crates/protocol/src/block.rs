//! Blocks: the units of a normalized conversation.
//!
//! A thread (the main conversation or one subagent's) is an ordered list of blocks. Every block has
//! a stable `id` (unique within its session) and a timestamp `at` (RFC 3339, UTC).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// One item of a conversation thread, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    UserMessage(UserMessageBlock),
    AssistantText(AssistantTextBlock),
    ToolUse(ToolUseBlock),
    ToolResult(ToolResultBlock),
    Thinking(ThinkingBlock),
    System(SystemBlock),
    Subagent(SubagentBlock),
    Plan(PlanBlock),
}

/// What the user (or the host application on the user's behalf) said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UserMessageBlock {
    pub id: String,
    pub at: String,
    pub text: String,
    /// Id chosen by the client that sent the message, so it can reconcile an optimistic copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub client_message_id: Option<String>,
}

/// Text the model wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AssistantTextBlock {
    pub id: String,
    pub at: String,
    pub text: String,
}

/// The model's visible reasoning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingBlock {
    pub id: String,
    pub at: String,
    pub text: String,
    /// Provider signature; kept verbatim because the agent must be able to re-send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub signature: Option<String>,
    /// The provider returned the reasoning encrypted; `text` is empty.
    #[serde(default)]
    pub redacted: bool,
}

/// Lifecycle of a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    /// The model is still streaming the call's input.
    Pending,
    /// The input is complete; the tool runs.
    Running,
    Success,
    Error,
}

/// A tool call made by the model. `id` is the agent's own tool-use id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseBlock {
    pub id: String,
    pub at: String,
    pub name: String,
    pub input: Value,
    pub status: ToolStatus,
    /// Raw input JSON streamed so far, present only while `status` is `pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub partial_input: Option<String>,
}

/// The outcome of a tool call, linked to its `tool_use` block by `toolUseId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultBlock {
    pub id: String,
    pub at: String,
    pub tool_use_id: String,
    /// The result as text (non-text parts are summarized, e.g. `[image]`).
    pub output: String,
    pub is_error: bool,
    /// Structured, tool-specific details when the agent reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub details: Option<Value>,
}

/// Something the runtime or the agent reports that is not part of the dialogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SystemBlock {
    pub id: String,
    pub at: String,
    /// `session_start`, `session_end`, `error`, `status`, `compact_boundary`, `demo`, ...
    pub subtype: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub data: Option<Value>,
}

/// State of a subagent thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SubagentStatus {
    Running,
    Completed,
    Error,
}

/// A link from a thread to the subagent it spawned; the subagent's blocks live in their own
/// thread, addressed by `subagentId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SubagentBlock {
    pub id: String,
    pub at: String,
    pub subagent_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub subagent_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub description: Option<String>,
    pub status: SubagentStatus,
}

/// How urgent a plan entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PlanEntryPriority {
    High,
    Medium,
    Low,
}

/// Where a plan entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PlanEntryStatus {
    Pending,
    InProgress,
    Completed,
}

/// One step of an agent's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PlanEntry {
    pub content: String,
    pub priority: PlanEntryPriority,
    pub status: PlanEntryStatus,
}

/// The agent's plan for the turn (ACP `plan` updates); every new version replaces the entries
/// as a whole, so the block always holds the latest plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PlanBlock {
    pub id: String,
    pub at: String,
    pub entries: Vec<PlanEntry>,
}

impl Block {
    /// The block's stable id.
    pub fn id(&self) -> &str {
        match self {
            Block::UserMessage(b) => &b.id,
            Block::AssistantText(b) => &b.id,
            Block::ToolUse(b) => &b.id,
            Block::ToolResult(b) => &b.id,
            Block::Thinking(b) => &b.id,
            Block::System(b) => &b.id,
            Block::Subagent(b) => &b.id,
            Block::Plan(b) => &b.id,
        }
    }

    /// The block's timestamp.
    pub fn at(&self) -> &str {
        match self {
            Block::UserMessage(b) => &b.at,
            Block::AssistantText(b) => &b.at,
            Block::ToolUse(b) => &b.at,
            Block::ToolResult(b) => &b.at,
            Block::Thinking(b) => &b.at,
            Block::System(b) => &b.at,
            Block::Subagent(b) => &b.at,
            Block::Plan(b) => &b.at,
        }
    }

    /// The wire name of the block's type (`user_message`, `tool_use`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Block::UserMessage(_) => "user_message",
            Block::AssistantText(_) => "assistant_text",
            Block::ToolUse(_) => "tool_use",
            Block::ToolResult(_) => "tool_result",
            Block::Thinking(_) => "thinking",
            Block::System(_) => "system",
            Block::Subagent(_) => "subagent",
            Block::Plan(_) => "plan",
        }
    }

    /// Appends streamed text to the block's growing text; other kinds ignore deltas.
    pub fn append_text(&mut self, delta: &str) {
        match self {
            Block::AssistantText(b) => b.text.push_str(delta),
            Block::Thinking(b) => b.text.push_str(delta),
            Block::ToolUse(b) => b
                .partial_input
                .get_or_insert_with(String::new)
                .push_str(delta),
            Block::UserMessage(_)
            | Block::ToolResult(_)
            | Block::System(_)
            | Block::Subagent(_)
            | Block::Plan(_) => {}
        }
    }
}
