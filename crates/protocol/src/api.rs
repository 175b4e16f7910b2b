//! REST request and response bodies (JSON, camelCase).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::approval::{Budget, PermissionMode, SessionStatus};
use crate::event::FileInfo;
use crate::profile::AgentProfile;
use crate::state::SessionState;

/// A session's stored identity and metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub session_id: String,
    /// Agent architecture, e.g. `claude-code`.
    pub agent: String,
    /// The agent profile the session was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// What the session is doing (derived from its log, never stored): `requires_action` while
    /// a permission request or question waits for an answer or a budget was reached.
    #[serde(default)]
    pub status: SessionStatus,
}

/// `GET /api/sessions/:id`: the session and its folded state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionSnapshot {
    pub session: SessionInfo,
    #[serde(flatten)]
    pub state: SessionState,
}

/// `POST /api/sessions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// Agent architecture; defaults to `claude-code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    /// Overrides the profile's permission mode. Modes that ask need an agent that can ask
    /// (`capabilities.approvals` in `GET /api/agents`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub permission_mode: Option<PermissionMode>,
    /// Each limit set here replaces the profile's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub budget: Option<Budget>,
}

/// `GET /api/sessions`: one page, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub next_cursor: Option<String>,
}

/// `PATCH /api/sessions/:id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchSessionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    /// Replaces the session's own budget (each limit set here replaces the profile's). A budget
    /// above what was spent lets held messages run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub budget: Option<Budget>,
}

/// What to do with a message that arrives while a turn runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum IfBusy {
    /// Refuse it (409 `session_busy`).
    #[default]
    Reject,
    /// Run it as the next turn once the current one ends.
    Queue,
    /// Interrupt the running turn, then run it.
    Interrupt,
}

/// `POST /api/sessions/:id/messages`, and the WebSocket `send_message` command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessageRequest {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub if_busy: Option<IfBusy>,
    /// Echoed on the `user_message` block so a client can reconcile its optimistic copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub client_message_id: Option<String>,
}

/// Answer to a message: 202 Accepted with the turn that will carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageResponse {
    pub turn_id: String,
    /// The message waits behind a running turn.
    pub queued: bool,
}

/// Answer to an interrupt request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct InterruptResponse {
    /// The turn that was asked to stop; absent when nothing was running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub turn_id: Option<String>,
}

/// `GET /api/sessions/:id/files`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileList {
    pub files: Vec<FileInfo>,
}

/// One native transcript file of the agent, without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptInfo {
    /// Name to download it by, e.g. `<agent session id>.jsonl`.
    pub name: String,
    #[ts(type = "number")]
    pub size: u64,
    /// When the runtime last saved it (RFC 3339, UTC).
    pub updated_at: String,
}

/// `GET /api/sessions/:id/transcripts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptList {
    pub transcripts: Vec<TranscriptInfo>,
}

/// `GET /api/profiles`: every stored agent profile, sorted by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProfileList {
    pub profiles: Vec<AgentProfile>,
}

/// An agent the server can run, with its pinned CLI package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    /// The wire id sessions are created with, e.g. `claude-code`.
    pub id: String,
    /// The agent's name for people, e.g. `Claude Code`.
    pub name: String,
    /// How the runtime drives it: `native` (its own stream format) or `acp` (the Agent Client
    /// Protocol).
    pub protocol: String,
    pub npm_package: String,
    /// The pinned package version.
    pub version: String,
    /// Whether that version is installed in the tools dir (otherwise the first turn installs it).
    pub installed: bool,
    pub capabilities: AgentCapabilities,
}

/// What an agent can do beyond running turns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentCapabilities {
    /// It can ask for permission before running a tool (`permission_requested`).
    pub approvals: bool,
    /// It can ask the user questions (`question_requested`).
    pub questions: bool,
    /// The permission modes a session of this agent may use.
    pub permission_modes: Vec<PermissionMode>,
    /// A fresh sandbox resumes the agent's own conversation from its stored transcript.
    /// Without it, the agent starts afresh whenever its sandbox was stopped (the session's
    /// blocks stay).
    pub resume: bool,
    /// Its reasoning streams as `thinking` blocks.
    pub thinking: bool,
    /// Messages may carry images. (Messages are text today, so no agent does yet.)
    pub images: bool,
    /// It reports its plan as `plan` blocks.
    pub plan: bool,
}

/// `GET /api/agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentList {
    pub agents: Vec<AgentInfo>,
    /// Where sessions' sandboxes can run on this server; the default one first.
    pub sandboxes: Vec<SandboxProviderInfo>,
}

/// A sandbox provider the server is configured with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SandboxProviderInfo {
    pub kind: crate::SandboxProviderKind,
    /// New sessions run here unless their profile names another provider.
    pub default: bool,
    /// Where that is, for people: e.g. `bubblewrap on this host`, `Modal app agent-runtime`.
    pub description: String,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`, or `unavailable` (with HTTP 503) when the store does not answer.
    pub status: String,
    pub version: String,
    /// The server answers with the built-in demo model instead of a real one.
    pub demo: bool,
    /// What confines a sandbox on this host, and what does not.
    pub sandbox: Vec<Protection>,
    /// The store, checked with a read on every call.
    pub store: StoreHealth,
}

/// The result of reading from the store for `/healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StoreHealth {
    /// `sqlite`, `postgres`, `memory`.
    pub backend: String,
    pub ok: bool,
    /// How long the read took.
    pub latency_ms: f64,
    /// Why the read failed (or timed out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
}

/// One protection of the sandboxes (a limit, a namespace, a filter) and what enforces it here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Protection {
    /// `network`, `memory`, `pids`, `cpu`, `tmp_size`, `workspace_size`, `file_size`,
    /// `open_files`, `turn_time`, `user_namespaces`, `seccomp`, `host_uid`, `model_credentials`.
    pub name: String,
    /// Whether anything enforces it on this host.
    pub enforced: bool,
    /// The mechanisms, e.g. `cgroup v1 memory`.
    pub by: Vec<String>,
    /// The default the server applies, where it is a quantity (e.g. `2 GiB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub default: Option<String>,
    /// Why it is not (or only partly) enforced, or a fact worth knowing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub note: Option<String>,
}

/// An `application/problem+json` error body (RFC 9457) with a stable `code`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// `urn:agent-runtime:error:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable error code, e.g. `session_not_found`.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub detail: Option<String>,
    /// For `already_resolved`: how the request was closed (the answer that won).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub resolution: Option<Box<serde_json::Value>>,
}

impl Problem {
    /// A problem with the `type` URN derived from `code`.
    pub fn new(status: u16, code: &str, title: &str, detail: Option<String>) -> Self {
        Problem {
            type_: format!("urn:agent-runtime:error:{code}"),
            title: title.to_string(),
            status,
            code: code.to_string(),
            detail,
            resolution: None,
        }
    }
}
