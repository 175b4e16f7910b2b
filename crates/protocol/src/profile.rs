//! Agent profiles: how an agent is set up before its first turn.
//!
//! A profile is agent-neutral data; each agent writes it into the sandbox in its own layout
//! (Claude: `CLAUDE.md`, `.claude/skills`, `.claude/agents`, `.claude/commands`, flags).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// A named, reusable agent setup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct AgentProfile {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    /// Model id or alias passed to the agent; the agent's default when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub model: Option<String>,
    /// Replaces the agent's default system prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub system_prompt: Option<String>,
    /// Appended to the agent's default system prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub append_system_prompt: Option<String>,
    /// Project instructions (`CLAUDE.md` / `GEMINI.md`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub instructions: Option<String>,
    pub skills: Vec<SkillDef>,
    pub subagents: Vec<SubagentDef>,
    pub commands: Vec<CommandDef>,
    /// Tools the agent may use without asking (agent syntax, e.g. `Bash(git *)`).
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    /// MCP servers by name, in the agent's `mcpServers` JSON shape.
    pub mcp_servers: BTreeMap<String, Value>,
    /// Extra environment for the agent process (never secrets of the runtime itself).
    pub env: BTreeMap<String, String>,
    /// Files placed in the workspace when the session starts.
    pub files: Vec<ProfileFile>,
}

/// A skill: instructions the agent loads when relevant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct SkillDef {
    pub name: String,
    pub description: String,
    pub body: String,
}

/// A subagent definition the main agent can delegate to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct SubagentDef {
    pub name: String,
    pub description: String,
    pub prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tools: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub model: Option<String>,
}

/// A custom slash command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct CommandDef {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub description: Option<String>,
    pub body: String,
}

/// A default workspace file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct ProfileFile {
    /// Relative to the workspace.
    pub path: String,
    pub content: String,
}
