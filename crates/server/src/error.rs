//! The one error table at the HTTP edge.
//!
//! Every failure a client can see, whether from the runtime, from axum's extractors or from the
//! server itself, becomes an [`ApiError`], and [`ApiError::classify`] is the only place that
//! decides its HTTP status, stable `code` and `title`. Responses are `application/problem+json`
//! bodies ([`Problem`]) whose `type` is `urn:agent-runtime:error:<code>`; WebSocket `result`
//! errors carry the same [`Problem`].
//!
//! 5xx bodies say nothing internal: their `detail` is withheld and the full error is logged once,
//! here, inside the request's span.

use agent_runtime_core::RuntimeError;
use agent_runtime_protocol::Problem;
use agent_runtime_sandbox::SandboxError;
use agent_runtime_store::StoreError;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The media type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The body is not well-formed JSON.
    #[error("malformed JSON: {0}")]
    InvalidJson(String),
    /// Well-formed JSON or query parameters that do not fit the expected shape.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A path parameter that is not a valid workspace path (or not UTF-8).
    #[error("invalid path: {0}")]
    InvalidPath(String),
    #[error("expected a JSON body with content-type application/json")]
    UnsupportedMediaType,
    #[error("request body exceeds the limit")]
    PayloadTooLarge,
    #[error("missing or invalid API key")]
    Unauthorized,
    /// A `Host` this server does not answer for (see [`crate::edge`]).
    #[error(
        "without an API key this server answers only loopback host names (localhost, \
         *.localhost, 127.0.0.0/8, [::1])"
    )]
    MisdirectedRequest,
    /// An `Origin` that may not change state or open a WebSocket (see [`crate::edge`]).
    #[error("{0}")]
    OriginNotAllowed(String),
    /// No route matches the request path.
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A plain request to the WebSocket endpoint.
    #[error("this endpoint expects a WebSocket upgrade: {0}")]
    UpgradeRequired(String),
    /// A WebSocket frame that is not valid JSON or not a known client frame.
    #[error("invalid frame: {0}")]
    InvalidFrame(String),
    /// A server-side failure outside the runtime (body read error, serialization, ...).
    #[error("internal error: {0}")]
    Internal(String),
    /// The node that owns the session did not answer a forwarded command
    /// (`crate::forward`); it may have died, and another node takes over after the lease TTL.
    #[error("the node that owns the session did not answer: {0}")]
    OwnerUnreachable(String),
    /// The owner node's own problem answer to a forwarded WebSocket command, passed on as is.
    #[error("{}", .0.title)]
    Remote(Box<Problem>),
}

/// Result alias of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// The table: status, stable code and title of each error.
    pub fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::Runtime(e) => classify_runtime(e),
            ApiError::InvalidJson(_) => (S::BAD_REQUEST, "invalid_json", "Malformed JSON body"),
            ApiError::InvalidRequest(_) => (S::BAD_REQUEST, "invalid_request", "Invalid request"),
            ApiError::InvalidPath(_) => (S::BAD_REQUEST, "invalid_path", "Invalid path"),
            ApiError::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            ApiError::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Request body too large",
            ),
            ApiError::Unauthorized => (S::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::MisdirectedRequest => (
                S::MISDIRECTED_REQUEST,
                "misdirected_request",
                "Misdirected request",
            ),
            ApiError::OriginNotAllowed(_) => {
                (S::FORBIDDEN, "origin_not_allowed", "Origin not allowed")
            }
            ApiError::RouteNotFound => (S::NOT_FOUND, "not_found", "Not found"),
            ApiError::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            ApiError::UpgradeRequired(_) => (
                S::UPGRADE_REQUIRED,
                "upgrade_required",
                "WebSocket upgrade required",
            ),
            ApiError::InvalidFrame(_) => (S::BAD_REQUEST, "invalid_frame", "Invalid frame"),
            ApiError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
            ApiError::OwnerUnreachable(_) => (
                S::SERVICE_UNAVAILABLE,
                "owner_unreachable",
                "The node running the session did not answer; retry",
            ),
            // `to_problem` passes the owner's problem on; this is only its fallback.
            ApiError::Remote(_) => (S::BAD_GATEWAY, "remote", "Answer of the owner node"),
        }
    }

    /// The problem body, logging the full error once if it is a server-side failure.
    pub fn to_problem(&self) -> Problem {
        if let ApiError::Remote(problem) = self {
            return (**problem).clone();
        }
        let (status, code, title) = self.classify();
        let moved = matches!(self, ApiError::Runtime(RuntimeError::OwnedElsewhere { .. }));
        let detail = if moved {
            // Routine on a node of several: the request is forwarded to the owner.
            tracing::debug!(error = %self, code, "session owned by another node");
            Some(self.to_string())
        } else if status.is_server_error() {
            tracing::error!(error = %self, code, "request failed");
            None
        } else {
            Some(self.to_string())
        };
        let mut problem = Problem::new(status.as_u16(), code, title, detail);
        if let ApiError::Runtime(RuntimeError::AlreadyResolved { resolution, .. }) = self {
            problem.resolution = Some(Box::new(resolution.clone()));
        }
        problem
    }
}

fn classify_runtime(e: &RuntimeError) -> (StatusCode, &'static str, &'static str) {
    use StatusCode as S;
    match e {
        RuntimeError::SessionNotFound(_) => {
            (S::NOT_FOUND, "session_not_found", "Session not found")
        }
        RuntimeError::OwnedElsewhere { .. } => (
            S::SERVICE_UNAVAILABLE,
            "session_moved",
            "Another node serves the session now; retry",
        ),
        RuntimeError::SessionBusy(_) => {
            (S::CONFLICT, "session_busy", "The session is running a turn")
        }
        RuntimeError::FileNotFound(_) => (S::NOT_FOUND, "file_not_found", "File not found"),
        RuntimeError::TranscriptNotFound(_) => {
            (S::NOT_FOUND, "transcript_not_found", "Transcript not found")
        }
        RuntimeError::InvalidPath(_) => (S::BAD_REQUEST, "invalid_path", "Invalid path"),
        RuntimeError::UnknownAgent(_) => (S::BAD_REQUEST, "unknown_agent", "Unknown agent"),
        RuntimeError::ProfileNotFound(_) => {
            (S::NOT_FOUND, "profile_not_found", "Agent profile not found")
        }
        // Same code as above: the profile a request body names does not exist.
        RuntimeError::UnknownProfile(_) => (
            S::BAD_REQUEST,
            "profile_not_found",
            "Agent profile not found",
        ),
        RuntimeError::InvalidProfile(_) => {
            (S::BAD_REQUEST, "invalid_profile", "Invalid agent profile")
        }
        RuntimeError::InvalidRequest(_) => (S::BAD_REQUEST, "invalid_request", "Invalid request"),
        RuntimeError::RequestNotFound(_) => {
            (S::NOT_FOUND, "request_not_found", "Request not found")
        }
        RuntimeError::AlreadyResolved { .. } => (
            S::CONFLICT,
            "already_resolved",
            "The request was already answered",
        ),
        RuntimeError::RequestExpired(_) => (S::GONE, "request_expired", "The request expired"),
        RuntimeError::UnsupportedPermissionMode(_) => (
            S::BAD_REQUEST,
            "unsupported_permission_mode",
            "The agent cannot run in this permission mode",
        ),
        RuntimeError::BudgetNotExceeded => (
            S::CONFLICT,
            "budget_not_exceeded",
            "No budget limit was reached",
        ),
        RuntimeError::WorkspaceFull(_) => (
            S::INSUFFICIENT_STORAGE,
            "workspace_full",
            "The workspace is over its quota",
        ),
        RuntimeError::ShuttingDown => (
            S::SERVICE_UNAVAILABLE,
            "shutting_down",
            "The server is shutting down",
        ),
        RuntimeError::Install(_) => (
            S::SERVICE_UNAVAILABLE,
            "agent_unavailable",
            "The agent could not be installed",
        ),
        RuntimeError::Store(e) => classify_store(e),
        RuntimeError::Sandbox(e) => classify_sandbox(e),
        RuntimeError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
    }
}

fn classify_store(e: &StoreError) -> (StatusCode, &'static str, &'static str) {
    use StatusCode as S;
    match e {
        StoreError::NotFound { entity, .. } if *entity == "session" => {
            (S::NOT_FOUND, "session_not_found", "Session not found")
        }
        StoreError::NotFound { .. } => (S::NOT_FOUND, "not_found", "Not found"),
        StoreError::Conflict(_) => (S::CONFLICT, "conflict", "Conflict"),
        // Store-level refusals a client can cause: a malformed cursor, an empty key.
        StoreError::Invalid(_) => (S::BAD_REQUEST, "invalid_request", "Invalid request"),
        StoreError::Closed => (
            S::SERVICE_UNAVAILABLE,
            "shutting_down",
            "The server is shutting down",
        ),
        StoreError::Backend(_) => (S::INTERNAL_SERVER_ERROR, "store_error", "Storage failure"),
        // This node lost the session to another one mid-command: the client retries, and the
        // retry reaches the new owner.
        StoreError::Fenced(_) => (
            S::SERVICE_UNAVAILABLE,
            "ownership_lost",
            "This node no longer owns the session; retry",
        ),
    }
}

fn classify_sandbox(e: &SandboxError) -> (StatusCode, &'static str, &'static str) {
    use StatusCode as S;
    match e {
        SandboxError::InvalidPath { .. }
        | SandboxError::SymlinkInPath { .. }
        | SandboxError::NotARegularFile { .. } => (S::BAD_REQUEST, "invalid_path", "Invalid path"),
        // `SandboxError` is non-exhaustive: anything else is the host's problem, not the client's.
        _ => (S::INTERNAL_SERVER_ERROR, "sandbox_error", "Sandbox failure"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::Runtime(RuntimeError::OwnedElsewhere { node_id, url, .. }) = &self {
            response.extensions_mut().insert(crate::forward::OwnedBy {
                node_id: node_id.clone(),
                url: url.clone(),
            });
        }
        response
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else if rejection.status().is_server_error() {
            ApiError::Internal(rejection.body_text())
        } else {
            ApiError::InvalidRequest(rejection.body_text())
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        if rejection.status().is_server_error() {
            ApiError::Internal(rejection.body_text())
        } else {
            ApiError::InvalidPath(rejection.body_text())
        }
    }
}

impl From<WebSocketUpgradeRejection> for ApiError {
    fn from(rejection: WebSocketUpgradeRejection) -> Self {
        ApiError::UpgradeRequired(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::InvalidRequest(rejection.body_text())
    }
}

impl From<serde_json::Error> for ApiError {
    /// A request body that failed to parse: syntax errors are `invalid_json`, shape errors
    /// (missing or unknown fields, wrong types) are `invalid_request`.
    fn from(e: serde_json::Error) -> Self {
        match e.classify() {
            serde_json::error::Category::Data => ApiError::InvalidRequest(e.to_string()),
            _ => ApiError::InvalidJson(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn client_errors_carry_detail_and_server_errors_do_not() {
        let problem = ApiError::Runtime(RuntimeError::SessionNotFound("s1".into())).to_problem();
        assert_eq!(
            problem,
            Problem::new(
                404,
                "session_not_found",
                "Session not found",
                Some("session s1 not found".into())
            )
        );
        let problem = ApiError::Runtime(RuntimeError::Store(StoreError::Backend(
            "disk I/O error at /secret/path".into(),
        )))
        .to_problem();
        assert_eq!(
            problem,
            Problem::new(500, "store_error", "Storage failure", None)
        );
    }

    #[test]
    fn json_errors_are_split_into_syntax_and_shape() {
        let syntax = serde_json::from_slice::<serde_json::Value>(b"{nope").unwrap_err();
        assert_eq!(ApiError::from(syntax).classify().1, "invalid_json");
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Shape {
            text: String,
        }
        let shape = serde_json::from_slice::<Shape>(b"{}").unwrap_err();
        assert_eq!(ApiError::from(shape).classify().1, "invalid_request");
    }
}
