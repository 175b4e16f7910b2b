//! [`ClientError`], the one error of the client.

use agent_runtime_protocol::Problem;

/// What a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error: its problem+json body (or one synthesized from the
    /// status when the body was not one).
    #[error("{status} {}: {}", problem.code, problem.detail.as_deref().unwrap_or(&problem.title))]
    Api { status: u16, problem: Problem },
    /// The request did not complete (connection refused, reset, ...).
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// The WebSocket failed or was closed.
    #[error("websocket: {0}")]
    WebSocket(String),
    /// A body or frame that is not what the protocol says.
    #[error("unexpected response: {0}")]
    Decode(String),
    /// Nothing arrived within the allowed time.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
}

impl ClientError {
    /// The stable error `code`, for an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { problem, .. } => Some(&problem.code),
            _ => None,
        }
    }

    /// The HTTP status, for an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}
