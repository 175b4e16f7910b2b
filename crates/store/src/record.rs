//! What the store keeps about a session besides its logs and blobs.

use agent_runtime_protocol::SessionInfo;
use serde::{Deserialize, Serialize};

/// A stored session: the public [`SessionInfo`] plus what the runtime needs to bring the session
/// back after a restart.
///
/// Timestamps (`info.created_at`, `info.updated_at`) are RFC 3339 strings that the store compares
/// bytewise: write them in one fixed-width UTC form (e.g. `2026-01-02T03:04:05.123Z`) so that
/// byte order is time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    #[serde(flatten)]
    pub info: SessionInfo,
    /// The agent's own conversation id (Claude's session id, Gemini's checkpoint, ACP session),
    /// used to resume the agent in a fresh sandbox. Absent until the agent reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_session_id: Option<String>,
}

impl SessionRecord {
    /// A record for a new session, not yet resumable.
    pub fn new(info: SessionInfo) -> Self {
        SessionRecord {
            info,
            agent_session_id: None,
        }
    }

    /// The session's id.
    pub fn id(&self) -> &str {
        &self.info.session_id
    }
}

/// One page of [`SessionStore::list_sessions`](crate::SessionStore::list_sessions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionPage {
    /// Newest first: by `created_at` descending, then `session_id` descending.
    pub sessions: Vec<SessionRecord>,
    /// Opaque; pass it back to get the next page. `None` when no session follows this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A stored native transcript, without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptMeta {
    pub name: String,
    /// Content length in bytes.
    pub size: u64,
    /// When it was last written (RFC 3339, UTC), stamped by the store.
    pub updated_at: String,
}
