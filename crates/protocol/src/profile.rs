//! Agent profiles: how an agent is set up before its first turn.
//!
//! A profile is agent-neutral data; each agent writes it into the sandbox in its own layout
//! (Claude: `CLAUDE.md`, `.claude/skills`, `.claude/agents`, `.claude/commands`, flags).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::approval::{Budget, PermissionMode, PermissionRules};

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
    /// The sandbox: network policy, resource limits, secrets. Unset fields take the server's
    /// defaults.
    #[serde(skip_serializing_if = "SandboxSettings::is_default")]
    #[ts(as = "Option<SandboxSettings>", optional)]
    pub sandbox: SandboxSettings,
    /// What the agent may do without asking; `bypass` (never ask) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub permission_mode: Option<PermissionMode>,
    /// Allow, deny and ask rules applied before anyone is asked.
    #[serde(skip_serializing_if = "PermissionRules::is_empty")]
    #[ts(as = "Option<PermissionRules>", optional)]
    pub permissions: PermissionRules,
    /// How long a permission request or question waits for an answer before it is denied;
    /// 1800 (30 minutes) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub approval_timeout_secs: Option<u64>,
    /// Spending limits of each session.
    #[serde(skip_serializing_if = "Budget::is_default")]
    #[ts(as = "Option<Budget>", optional)]
    pub budget: Budget,
}

/// How a profile's sandbox is confined. Every field is optional; the server's defaults fill in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct SandboxSettings {
    #[serde(skip_serializing_if = "NetworkSettings::is_default")]
    #[ts(as = "Option<NetworkSettings>", optional)]
    pub network: NetworkSettings,
    #[serde(skip_serializing_if = "LimitSettings::is_default")]
    #[ts(as = "Option<LimitSettings>", optional)]
    pub limits: LimitSettings,
    /// Values the egress proxy adds to requests for named hosts, so they never enter the sandbox.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<ProfileSecret>>", optional)]
    pub secrets: Vec<ProfileSecret>,
    /// Where this profile's sandboxes run, instead of the server's default (`--sandbox`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub provider: Option<crate::SandboxProviderKind>,
}

impl SandboxSettings {
    /// Nothing set: the server's defaults.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The network policy of a sandbox. The one way out is the runtime's egress proxy; whatever the
/// policy, it never connects to loopback, link-local, private or metadata addresses, or to the
/// runtime itself, unless the server's operator named such a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum NetworkPolicy {
    /// Nothing but the model API.
    None,
    /// The model API and the hosts of `allow`.
    Allowlist,
    /// The model API and any public host.
    Open,
}

/// A profile's network settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub policy: Option<NetworkPolicy>,
    /// Hosts the `allowlist` policy lets through: `host`, `*.suffix` (any subdomain), each
    /// optionally with `:port` or `:*` (without one: ports 80 and 443). Replaces the server's
    /// default list when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub allow: Option<Vec<String>>,
}

impl NetworkSettings {
    /// Nothing set.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A profile's resource limits; each overrides the server's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct LimitSettings {
    /// Memory of every process of the sandbox together (its `/tmp` included).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub memory_bytes: Option<u64>,
    /// Processes and threads.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub pids: Option<u64>,
    /// CPU cores' worth of time, e.g. `1.5`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cpus: Option<f64>,
    /// Size of `/tmp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub tmp_bytes: Option<u64>,
    /// Total size of the workspace's files.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub workspace_bytes: Option<u64>,
    /// The largest single file.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub file_size_bytes: Option<u64>,
    /// Wall-clock time of one turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub turn_timeout_secs: Option<u64>,
}

impl LimitSettings {
    /// Nothing set.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A secret the egress proxy adds, as a header, to the HTTPS requests the agent makes to the
/// named hosts. It is not in the sandbox, unless `env` says so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct ProfileSecret {
    /// `[A-Za-z_][A-Za-z0-9_]*`; the environment variable when `env` is set.
    pub name: String,
    /// Write-only: never returned by the API. Omitted on a `PUT`, the stored value is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub value: Option<String>,
    /// Host patterns (as in `network.allow`, without ports) whose requests get the header.
    pub hosts: Vec<String>,
    /// The header; `Authorization` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub header: Option<String>,
    /// The header's value with `{value}` standing for the secret; `Bearer {value}` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub format: Option<String>,
    /// Also put the real value into the agent's environment under `name`. Explicit opt-in: the
    /// agent can then read it and send it anywhere the network policy lets it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[ts(as = "Option<bool>", optional)]
    pub env: bool,
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
