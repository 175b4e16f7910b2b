//! What the SQL backends ([`sqlite`](crate::sqlite), [`postgres`](crate::postgres)) share: the
//! session row, event rows, integer conversions, and decoding stored profiles. Their schemas have the same
//! tables and columns.

use agent_runtime_protocol::{AgentProfile, Envelope, SessionInfo};

use crate::error::{Result, StoreError};
use crate::record::SessionRecord;

/// One `sessions` row, in [`SESSION_COLUMNS`] order.
pub(crate) type SessionRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
);

/// The columns a [`SessionRow`] is selected from.
pub(crate) const SESSION_COLUMNS: &str =
    "session_id, agent, profile, name, created_at, updated_at, agent_session_id";

impl From<SessionRow> for SessionRecord {
    fn from(row: SessionRow) -> Self {
        let (session_id, agent, profile, name, created_at, updated_at, agent_session_id) = row;
        SessionRecord {
            info: SessionInfo {
                session_id,
                agent,
                profile,
                name,
                created_at,
                updated_at,
                status: Default::default(),
            },
            agent_session_id,
        }
    }
}

/// Converts a stored integer back to a count; negative values mean a corrupt row.
pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::Backend(format!("negative {what}: {value}")))
}

/// Clamps a count to SQL's 64-bit integer range.
pub(crate) fn to_i64(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// A stored profile's JSON.
pub(crate) fn parse_profile(id: &str, json: &str) -> Result<AgentProfile> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::Backend(format!("profile {id} is corrupt: {e}")))
}

/// One `events` row: `seq, at, event` (the event as JSON text).
pub(crate) type EventRow = (i64, String, String);

/// The envelopes of a session's event rows.
pub(crate) fn decode_events(session_id: &str, rows: Vec<EventRow>) -> Result<Vec<Envelope>> {
    rows.into_iter()
        .map(|(seq, at, event)| {
            let event = serde_json::from_str(&event).map_err(|e| {
                StoreError::Backend(format!("event {seq} of {session_id} is corrupt: {e}"))
            })?;
            Ok(Envelope {
                session_id: session_id.to_string(),
                seq: to_u64(seq, "seq")?,
                at,
                event,
            })
        })
        .collect()
}
