//! The WebSocket at `/api/ws`: JSON text frames, [`ClientFrame`] in, [`ServerFrame`] out.
//!
//! Authentication happens at the upgrade (`?token=<key>` or `Authorization: Bearer <key>`; a wrong
//! one is a 401 before any upgrade) or, for clients that cannot put the key in the URL, with an
//! `auth` frame sent first (see `connection.rs`). Before any of that, the edge has refused an
//! upgrade whose `Origin` is neither the server's own nor allowed (see [`crate::edge`]), so a page
//! on another site cannot open a socket here with the user's network position.
//!
//! [`ClientFrame`]: agent_runtime_protocol::ClientFrame
//! [`ServerFrame`]: agent_runtime_protocol::ServerFrame

mod connection;
mod subscription;
mod writer;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use crate::app::AppState;
use crate::auth::{bearer_token, query_token};
use crate::error::{ApiError, ApiResult};

pub use connection::{AUTH_TIMEOUT, MAX_COMMANDS_IN_FLIGHT, OUTBOUND_CAPACITY};
pub use writer::PING_INTERVAL;

/// `GET /api/ws`.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let token = query_token(uri.query()).or_else(|| bearer_token(&headers).map(str::to_string));
    let authenticated = match token {
        _ if state.keys.is_open() => true,
        Some(token) if state.keys.accepts(&token) => true,
        Some(_) => return Err(ApiError::Unauthorized),
        // No key in the request: the first frame must be `auth`.
        None => false,
    };
    let upgrade = upgrade?;
    let connections = state.connections.clone();
    Ok(upgrade
        .max_message_size(state.limits.json)
        .on_upgrade(move |socket| {
            connections.track_future(connection::run(socket, state, authenticated))
        }))
}
