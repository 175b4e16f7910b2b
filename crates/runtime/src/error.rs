//! The runtime's error enum; the server maps each variant to one HTTP status and code.

use agent_runtime_sandbox::SandboxError;
use agent_runtime_store::StoreError;

/// Everything a runtime operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("session {0} not found")]
    SessionNotFound(String),
    #[error("session {0} is running a turn")]
    SessionBusy(String),
    #[error("file {0} not found")]
    FileNotFound(String),
    #[error("transcript {0} not found")]
    TranscriptNotFound(String),
    #[error("invalid path: {0}")]
    InvalidPath(String),
    #[error("unknown agent {0:?}")]
    UnknownAgent(String),
    /// `GET`/`DELETE` of a profile that does not exist, or a session whose profile was deleted.
    #[error("profile {0} not found")]
    ProfileNotFound(String),
    /// A request body names a profile that does not exist (`POST /api/sessions`).
    #[error("profile {0} not found")]
    UnknownProfile(String),
    /// A profile that an agent cannot be set up with (bad id, name or path).
    #[error("invalid profile: {0}")]
    InvalidProfile(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No permission request or question with this id in the session.
    #[error("request {0} not found in this session")]
    RequestNotFound(String),
    /// The request was answered already; the answer that won, as JSON.
    #[error("request {request_id} was already answered")]
    AlreadyResolved {
        request_id: String,
        resolution: serde_json::Value,
    },
    /// The request timed out or was closed with its turn.
    #[error("request {0} expired: it timed out or its turn ended before an answer")]
    RequestExpired(String),
    /// A permission mode the session's agent cannot run in.
    #[error("{0}")]
    UnsupportedPermissionMode(String),
    /// `POST .../budget/approve` while no budget limit was reached.
    #[error("no budget limit was reached in this session")]
    BudgetNotExceeded,
    /// A write would take the workspace past its quota.
    #[error("workspace full: {0}")]
    WorkspaceFull(String),
    /// Another live node owns the session; commands go to it at `url`.
    #[error("session {session_id} is owned by node {node_id}")]
    OwnedElsewhere {
        session_id: String,
        node_id: String,
        url: String,
    },
    #[error("the runtime is shutting down")]
    ShuttingDown,
    #[error("agent install failed: {0}")]
    Install(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias of the runtime.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
