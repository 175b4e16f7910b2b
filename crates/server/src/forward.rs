//! Commands on a node of several: a request for a session another node owns is forwarded to
//! that node over HTTP, with the shared cluster secret, and its answer returned as it is (the
//! same 202 with the turn id, 409 when busy, ... as on one node).
//!
//! Why HTTP between nodes and not a command table in the database: a forwarded command is one
//! round trip to the owner (no polling or second notification for the answer), the owner runs it
//! through the very handler a client would reach, so every answer and error is the one-node
//! answer by construction, and a dead owner is noticed at once (connection refused) instead of
//! by a timeout.
//!
//! - REST: [`forward_to_owner`] wraps the API routes. It keeps the request, lets the route run,
//!   and when the route answers "owned by node X" (the runtime's
//!   [`RuntimeError::OwnedElsewhere`]) sends the same request to X.
//! - WebSocket commands go to the equivalent REST route of the owner ([`forward_command`]).
//! - A forwarded request carries [`HOP_HEADER`] with the secret; the receiving node accepts it
//!   as authenticated (the first node authenticated the client) and never forwards it again: if
//!   the session moved once more meanwhile, the answer is 503 `session_moved` and the client
//!   retries.

use std::sync::Arc;
use std::time::Duration;

use agent_runtime_core::RuntimeError;
use agent_runtime_protocol::Problem;
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::ApiKeys;
use crate::error::ApiError;

/// The header a forwarded request carries: the cluster secret.
pub const HOP_HEADER: &str = "x-agent-runtime-hop";

/// How long a forwarded request may take (a file upload included).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(60);

/// The owner a route's answer names, attached to that answer for [`forward_to_owner`].
#[derive(Debug, Clone)]
pub struct OwnedBy {
    pub node_id: String,
    pub url: String,
}

/// What the server needs to forward between nodes.
pub struct ClusterEdge {
    secret: String,
    hop: ApiKeys,
    client: reqwest::Client,
}

impl ClusterEdge {
    pub fn new(secret: &str) -> Self {
        ClusterEdge {
            secret: secret.to_string(),
            hop: ApiKeys::new(&[secret]),
            client: reqwest::Client::builder()
                .timeout(FORWARD_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }

    /// Whether `headers` carry a hop header with the right secret (compared in constant time).
    pub fn is_hop(&self, headers: &HeaderMap) -> bool {
        headers
            .get(HOP_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|secret| self.hop.accepts(secret))
    }

    /// Sends a request to the owner; its answer, or 503 `owner_unreachable`.
    async fn send(
        &self,
        owner: &OwnedBy,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<(StatusCode, HeaderMap, Bytes), ApiError> {
        let url = format!("{}{}", owner.url, path_and_query);
        let mut request = self.client.request(method, &url).body(body);
        for (name, value) in headers {
            if !is_hop_by_hop(name) {
                request = request.header(name, value);
            }
        }
        agent_runtime_core::metrics::global()
            .cluster_forwarded
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let unreachable = |e: reqwest::Error| {
            ApiError::OwnerUnreachable(format!("node {} at {}: {e}", owner.node_id, owner.url))
        };
        let response = request
            .header(HOP_HEADER, &self.secret)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(unreachable)?;
        Ok((status, headers, body))
    }
}

/// Headers that belong to one connection, that the forwarding sets itself, or that the first
/// node checked already: `Origin` (its edge let the request in; the owner, reached at its own
/// address, would take the public origin for a foreign one).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    [
        header::HOST,
        header::ORIGIN,
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::TE,
        header::TRAILER,
        header::PROXY_AUTHORIZATION,
    ]
    .contains(name)
        || name.as_str() == HOP_HEADER
        || name.as_str() == "keep-alive"
}

/// The middleware of the API routes (see the module docs).
pub async fn forward_to_owner(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(edge) = state.cluster.clone() else {
        return next.run(request).await;
    };
    if request.headers().contains_key(HOP_HEADER) {
        // Already forwarded once: answered here whatever happens.
        return next.run(request).await;
    }
    // Only commands are forwarded; reads are answered by every node from the store.
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let limit = state.limits.json.max(state.limits.file);
    let body = match to_bytes(body, limit).await {
        Ok(body) => body,
        Err(_) => return ApiError::PayloadTooLarge.into_response(),
    };
    let response = next
        .run(Request::from_parts(parts.clone(), Body::from(body.clone())))
        .await;
    let Some(owner) = response.extensions().get::<OwnedBy>().cloned() else {
        return response;
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    tracing::debug!(node_id = %owner.node_id, %path, "forwarding to the session's owner");
    match edge
        .send(&owner, parts.method, &path, &parts.headers, body)
        .await
    {
        Ok((status, headers, body)) => {
            let mut response = (status, body).into_response();
            let kept = response.headers_mut();
            kept.clear();
            for (name, value) in &headers {
                if !is_hop_by_hop(name) {
                    kept.append(name, value.clone());
                }
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Runs a WebSocket command here, or, when another node owns the session, at the owner's REST
/// route `path` with `body`.
pub async fn forward_command<T, B>(
    edge: Option<Arc<ClusterEdge>>,
    here: agent_runtime_core::Result<T>,
    path: String,
    body: &B,
) -> Result<T, ApiError>
where
    T: DeserializeOwned,
    B: Serialize,
{
    let (owner, edge) = match (here, edge) {
        (Err(RuntimeError::OwnedElsewhere { node_id, url, .. }), Some(edge)) => {
            (OwnedBy { node_id, url }, edge)
        }
        (other, _) => return other.map_err(ApiError::from),
    };
    let body = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let (status, _, body) = edge
        .send(&owner, Method::POST, &path, &headers, Bytes::from(body))
        .await?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| {
            ApiError::OwnerUnreachable(format!("node {} answered {status} with {e}", owner.node_id))
        });
    }
    match serde_json::from_slice::<Problem>(&body) {
        Ok(problem) => Err(ApiError::Remote(Box::new(problem))),
        Err(_) => Err(ApiError::OwnerUnreachable(format!(
            "node {} answered {status}",
            owner.node_id
        ))),
    }
}

/// `segment` percent-encoded for a URL path: everything but RFC 3986's unreserved characters.
pub fn path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("a-b_c.d~9"), "a-b_c.d~9");
        assert_eq!(path_segment("a/b c?d#ü"), "a%2Fb%20c%3Fd%23%C3%BC");
    }

    #[test]
    fn only_the_shared_secret_marks_a_hop() {
        let edge = ClusterEdge::new("0123456789abcdef");
        let mut headers = HeaderMap::new();
        assert!(!edge.is_hop(&headers));
        headers.insert(HOP_HEADER, HeaderValue::from_static("0123456789abcdeX"));
        assert!(!edge.is_hop(&headers));
        headers.insert(HOP_HEADER, HeaderValue::from_static("0123456789abcdef"));
        assert!(edge.is_hop(&headers));
    }
}
