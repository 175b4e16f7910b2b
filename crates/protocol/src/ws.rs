//! WebSocket frames at `/api/ws`: JSON objects tagged by `type`.
//!
//! Every client command carries an `id` and is answered by exactly one `result` with that id.
//! A `subscribe` is answered first; the replay of past events follows, then live events.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use std::collections::BTreeMap;

use crate::api::{IfBusy, Problem};
use crate::approval::{PermissionDecision, QuestionAnswer};
use crate::event::Envelope;

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum ClientFrame {
    /// Authenticate a connection opened without a token (must be the first frame).
    Auth {
        id: String,
        token: String,
    },
    /// Receive a session's events after `since` (default 0: from the start), then live ones.
    Subscribe {
        id: String,
        session_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        since: Option<u64>,
    },
    Unsubscribe {
        id: String,
        session_id: String,
    },
    SendMessage {
        id: String,
        session_id: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        if_busy: Option<IfBusy>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        client_message_id: Option<String>,
    },
    Interrupt {
        id: String,
        session_id: String,
    },
    /// Answers a permission request, as `POST /api/sessions/:id/permissions/:requestId`.
    AnswerPermission {
        id: String,
        session_id: String,
        request_id: String,
        decision: PermissionDecision,
        #[serde(default)]
        remember: bool,
        #[serde(default)]
        save_to_profile: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        option_id: Option<String>,
    },
    /// Answers questions, as `POST /api/sessions/:id/questions/:requestId`.
    AnswerQuestion {
        id: String,
        session_id: String,
        request_id: String,
        answers: BTreeMap<String, QuestionAnswer>,
    },
    Ping {
        id: String,
    },
}

impl ClientFrame {
    /// The command id the `result` must carry.
    pub fn id(&self) -> &str {
        match self {
            ClientFrame::Auth { id, .. }
            | ClientFrame::Subscribe { id, .. }
            | ClientFrame::Unsubscribe { id, .. }
            | ClientFrame::SendMessage { id, .. }
            | ClientFrame::Interrupt { id, .. }
            | ClientFrame::AnswerPermission { id, .. }
            | ClientFrame::AnswerQuestion { id, .. }
            | ClientFrame::Ping { id } => id,
        }
    }
}

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum ServerFrame {
    /// The answer to the command with this `id`: `ok` with optional `data`, or an `error`.
    Result {
        id: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        data: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        error: Option<Problem>,
    },
    /// One session event.
    Event { envelope: Envelope },
    /// The subscription fell behind (or asked for events no longer kept): fetch the snapshot,
    /// then subscribe again with `since` = its `seq`. No further events follow for this session.
    ResyncRequired {
        session_id: String,
        #[ts(type = "number")]
        latest_seq: u64,
        reason: String,
    },
}

/// The `data` of a successful `subscribe` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeResult {
    pub session_id: String,
    /// Events after `since` up to this seq are replayed next; later ones arrive live.
    #[ts(type = "number")]
    pub latest_seq: u64,
}
