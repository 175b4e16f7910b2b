//! Helpers every backend shares: the session-list cursor, file hashing, key checks, the clock.
//!
//! A new backend should use these so that all backends agree on cursors, hashes and refusals.

use agent_runtime_protocol::FileInfo;
use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};

/// Position in the session list: the last `(created_at, session_id)` a page returned. The next
/// page holds the sessions strictly below it in `(created_at DESC, session_id DESC)` order, so
/// rows inserted meanwhile never shift the pages (keyset pagination, not offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCursor {
    pub created_at: String,
    pub session_id: String,
}

impl SessionCursor {
    /// The cursor that continues after `record`.
    pub fn after(record: &crate::SessionRecord) -> Self {
        SessionCursor {
            created_at: record.info.created_at.clone(),
            session_id: record.info.session_id.clone(),
        }
    }

    /// The opaque string handed to clients: `v1.` and the hex of a JSON pair.
    pub fn encode(&self) -> String {
        let pair = (&self.created_at, &self.session_id);
        // Serializing two strings cannot fail.
        let json = serde_json::to_vec(&pair).unwrap_or_default();
        format!("v1.{}", hex::encode(json))
    }

    /// Parses a cursor made by [`SessionCursor::encode`]; anything else is `Invalid`.
    pub fn decode(cursor: &str) -> Result<Self> {
        let invalid = || StoreError::Invalid(format!("malformed session cursor: {cursor:?}"));
        let hex_part = cursor.strip_prefix("v1.").ok_or_else(invalid)?;
        let json = hex::decode(hex_part).map_err(|_| invalid())?;
        let (created_at, session_id): (String, String) =
            serde_json::from_slice(&json).map_err(|_| invalid())?;
        Ok(SessionCursor {
            created_at,
            session_id,
        })
    }
}

/// The [`FileInfo`] of `content` stored at `path`: its length and lowercase hex SHA-256.
pub fn describe_file(path: &str, content: &[u8]) -> FileInfo {
    FileInfo {
        path: path.to_string(),
        size: content.len() as u64,
        sha256: hex::encode(Sha256::digest(content)),
    }
}

/// Refuses an empty key or one containing NUL (`kind` names it in the error, e.g. `"file path"`).
///
/// Keys are otherwise opaque: the store neither normalizes nor confines paths; the server checks
/// that a workspace path stays inside the workspace before it gets here.
pub fn check_key(kind: &str, key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(StoreError::Invalid(format!("{kind} must not be empty")));
    }
    if key.contains('\0') {
        return Err(StoreError::Invalid(format!("{kind} must not contain NUL")));
    }
    Ok(())
}

/// The envelopes of `events` appended to `session_id`'s log from seq `first` on, in order: what
/// [`SessionStore::append_events`](crate::SessionStore::append_events) returns.
pub fn numbered_envelopes(
    session_id: &str,
    events: &[(String, agent_runtime_protocol::SessionEvent)],
    first: u64,
) -> Vec<agent_runtime_protocol::Envelope> {
    events
        .iter()
        .zip(first..)
        .map(|((at, event), seq)| agent_runtime_protocol::Envelope {
            session_id: session_id.to_string(),
            seq,
            at: at.clone(),
            event: event.clone(),
        })
        .collect()
}

/// Refuses a zero page size for [`SessionStore::list_sessions`](crate::SessionStore::list_sessions).
pub fn check_page_limit(limit: usize) -> Result<()> {
    if limit == 0 {
        return Err(StoreError::Invalid("page limit must be at least 1".into()));
    }
    Ok(())
}

/// Now, as the fixed-width RFC 3339 UTC string the store stamps rows with.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = SessionCursor {
            created_at: "2026-01-01T00:00:00.000000Z".into(),
            session_id: "s-ü\"1".into(),
        };
        assert_eq!(SessionCursor::decode(&cursor.encode()), Ok(cursor));
        for bad in ["", "v1.", "v1.zz", "v2.00", "v1.7b7d"] {
            assert!(
                matches!(SessionCursor::decode(bad), Err(StoreError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn describe_file_hashes_content() {
        assert_eq!(
            describe_file("a", b""),
            FileInfo {
                path: "a".into(),
                size: 0,
                sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            }
        );
    }

    #[test]
    fn keys_must_be_non_empty_without_nul() {
        assert!(check_key("file path", "a/b").is_ok());
        assert!(check_key("file path", "").is_err());
        assert!(check_key("file path", "a\0b").is_err());
    }

    #[test]
    fn timestamps_are_fixed_width_utc() {
        let now = now_rfc3339();
        assert_eq!(now.len(), "2026-01-02T03:04:05.123Z".len(), "{now}");
        assert!(now.ends_with('Z'));
    }
}
