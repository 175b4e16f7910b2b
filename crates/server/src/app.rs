//! The router: every route, its auth and body limit, the fallbacks, the edge checks, and request
//! tracing.
//!
//! [`ROUTES`] lists every route the router serves; the OpenAPI test checks that each one is
//! documented in `openapi.json` and answered by the router, so the list cannot drift.

use std::sync::Arc;

use agent_runtime_core::Runtime;
use agent_runtime_protocol::Health;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::trace::TraceLayer;

use crate::auth::{require_api_key, ApiKeys};
use crate::edge::{guard_edge, EdgePolicy};
use crate::error::ApiError;
use crate::rest::{agents, approvals, files, profiles, sessions, transcripts};
use crate::{openapi, sse, ui, ws};

/// Default limit of a JSON request body.
pub const DEFAULT_JSON_BODY_LIMIT: usize = 1024 * 1024;
/// Default limit of a raw file upload (`PUT /api/sessions/{id}/files/{path}`).
pub const DEFAULT_FILE_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// Largest request bodies accepted, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    pub json: usize,
    pub file: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            json: DEFAULT_JSON_BODY_LIMIT,
            file: DEFAULT_FILE_BODY_LIMIT,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub runtime: Arc<Runtime>,
    pub keys: Arc<ApiKeys>,
    /// The `Host` and `Origin` rules and CORS (see [`crate::edge`]).
    pub edge: Arc<EdgePolicy>,
    pub limits: BodyLimits,
    /// Cancelled when the server shuts down: long-lived WebSocket and SSE streams end on it.
    pub shutdown: CancellationToken,
    /// WebSocket connections (hyper no longer tracks a connection once it is upgraded), so
    /// shutdown can wait for them.
    pub connections: TaskTracker,
    /// Forwarding to other nodes, when this server is one of several (`crate::forward`).
    pub cluster: Option<Arc<crate::forward::ClusterEdge>>,
}

/// One route of the router, in axum's path syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
}

const fn route(method: &'static str, path: &'static str) -> RouteSpec {
    RouteSpec { method, path }
}

/// The SSE route, which also accepts `?token=` (see [`require_api_key`]).
pub const EVENTS_ROUTE: &str = "/api/sessions/{id}/events";

/// Every route [`build_app`] serves.
pub const ROUTES: &[RouteSpec] = &[
    route("GET", "/healthz"),
    route("GET", "/openapi.json"),
    route("GET", "/api/ws"),
    route("GET", "/api/sessions"),
    route("POST", "/api/sessions"),
    route("GET", "/api/sessions/{id}"),
    route("PATCH", "/api/sessions/{id}"),
    route("DELETE", "/api/sessions/{id}"),
    route("POST", "/api/sessions/{id}/messages"),
    route("POST", "/api/sessions/{id}/interrupt"),
    route("POST", "/api/sessions/{id}/permissions/{request_id}"),
    route("POST", "/api/sessions/{id}/questions/{request_id}"),
    route("POST", "/api/sessions/{id}/budget/approve"),
    route("GET", EVENTS_ROUTE),
    route("GET", "/api/sessions/{id}/files"),
    route("GET", "/api/sessions/{id}/files/{*path}"),
    route("PUT", "/api/sessions/{id}/files/{*path}"),
    route("DELETE", "/api/sessions/{id}/files/{*path}"),
    route("GET", "/api/sessions/{id}/transcripts"),
    route("GET", "/api/sessions/{id}/transcripts/{*name}"),
    route("GET", "/api/profiles"),
    route("GET", "/api/profiles/{id}"),
    route("PUT", "/api/profiles/{id}"),
    route("DELETE", "/api/profiles/{id}"),
    route("GET", "/api/agents"),
    route("GET", "/metrics"),
];

/// The whole application. Layers, outermost first: tracing, the edge's `Host` and `Origin`
/// checks, CORS (when origins are allowed), the JSON body limit, then per route the API key.
pub fn build_app(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/api/sessions",
            get(sessions::list_sessions).post(sessions::create_session),
        )
        .route(
            "/api/sessions/{id}",
            get(sessions::get_session)
                .patch(sessions::patch_session)
                .delete(sessions::delete_session),
        )
        .route("/api/sessions/{id}/messages", post(sessions::send_message))
        .route("/api/sessions/{id}/interrupt", post(sessions::interrupt))
        .route(
            "/api/sessions/{id}/permissions/{request_id}",
            post(approvals::answer_permission),
        )
        .route(
            "/api/sessions/{id}/questions/{request_id}",
            post(approvals::answer_question),
        )
        .route(
            "/api/sessions/{id}/budget/approve",
            post(approvals::approve_budget),
        )
        .route(EVENTS_ROUTE, get(sse::session_events))
        .route("/api/sessions/{id}/files", get(files::list_files))
        .route(
            "/api/sessions/{id}/files/{*path}",
            get(files::read_file)
                .put(files::write_file)
                .layer(DefaultBodyLimit::max(state.limits.file))
                .delete(files::delete_file),
        )
        .route(
            "/api/sessions/{id}/transcripts",
            get(transcripts::list_transcripts),
        )
        .route(
            "/api/sessions/{id}/transcripts/{*name}",
            get(transcripts::read_transcript),
        )
        .route("/api/profiles", get(profiles::list_profiles))
        .route(
            "/api/profiles/{id}",
            get(profiles::get_profile)
                .put(profiles::put_profile)
                .delete(profiles::delete_profile),
        )
        .route("/api/agents", get(agents::list_agents))
        .route("/metrics", get(metrics))
        // Inside the API key check: a request is authenticated before it is forwarded.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::forward::forward_to_owner,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ));

    let edge = state.edge.clone();
    let cors = edge.cors_layer();
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi::openapi_json))
        // The WebSocket authenticates itself: by query token, header, or first frame.
        .route("/api/ws", get(ws::upgrade))
        .merge(api)
        // The web UI, which answers 404 problems for everything that is not its own.
        .fallback(ui::serve_ui)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.limits.json));
    let app = match cors {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.layer(middleware::from_fn_with_state(edge, guard_edge))
        .layer(
            // Spans carry the path only: the query may hold a token.
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                tracing::info_span!(
                    "http",
                    method = %request.method(),
                    path = %request.uri().path(),
                )
            }),
        )
        .with_state(state)
}

/// Liveness with a read from the store: 503 `unavailable` when the store does not answer, so a
/// load balancer takes the node out rather than sending it requests that would fail.
async fn healthz(State(state): State<AppState>) -> Response {
    let store = state.runtime.check_store().await;
    let code = if store.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let health = Health {
        status: if store.ok { "ok" } else { "unavailable" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        demo: state.runtime.config().demo,
        sandbox: state.runtime.protections(),
        store,
    };
    (code, Json(health)).into_response()
}

/// Prometheus's text exposition; behind the API key like the API.
async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state.runtime.metrics_text().await.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A JSON response with an explicit content type (for bodies serialized by hand).
pub(crate) fn json_bytes_response(body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
