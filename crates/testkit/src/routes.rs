//! HTTP routes: the Anthropic Messages API, the Gemini API and the OpenAI Responses API, plus
//! the small extras the CLIs call. Every API answers from the same scenario.
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/messages` (any query, e.g. `?beta=true`) | scripted reply (SSE or JSON) |
//! | `POST /v1/messages/count_tokens` | `{"input_tokens": ≈ body bytes / 4}` |
//! | `POST /v1beta/models/<model>:streamGenerateContent` (`?alt=sse`) | scripted reply, Gemini SSE |
//! | `POST /v1beta/models/<model>:generateContent` | scripted reply, Gemini JSON |
//! | `POST /v1beta/models/<model>:countTokens` | `{"totalTokens": ≈ body bytes / 4}` |
//! | `POST /v1/responses` | scripted reply, Responses API SSE (`stream: true`) or JSON |
//! | `HEAD`/`GET /api/hello` | `200` (connectivity probe sent at start-up) |
//! | anything else | logged, `404` with an Anthropic-style `not_found_error` |
//!
//! Every request is recorded before it is answered.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::gemini::{GeminiTarget, GenerateContentRequest};
use crate::http_reply::into_http_response;
use crate::matching::ScenarioState;
use crate::model_request::ModelRequest;
use crate::openai::ResponsesRequest;
use crate::record::{RecordedRequest, RequestKind, RequestLog};
use crate::reply::Reply;
use crate::request::MessagesRequest;
use crate::scenario::{Response as ScriptedResponse, Scenario};
use crate::server::lock;
use crate::template::TemplateContext;

/// Largest accepted request body. Claude Code resends the whole conversation (with
/// base64 images) on every turn, far beyond axum's 2 MB default.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Text answered to main requests no rule matches, when the scenario has no fallback.
const NO_RULE_TEXT: &str = "[scripted model] No scenario rule matched this request.";

/// Text answered to tool-less utility side requests (session titles and the like).
const SIDE_REQUEST_TEXT: &str = "Scripted session";

/// State shared by all handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) scenario: Mutex<ScenarioState>,
    pub(crate) log: RequestLog,
    pub(crate) shutdown: CancellationToken,
    pub(crate) active_streams: Arc<AtomicUsize>,
}

impl Shared {
    pub(crate) fn new(scenario: Scenario) -> Self {
        Self {
            scenario: Mutex::new(ScenarioState::new(scenario)),
            log: RequestLog::default(),
            shutdown: CancellationToken::new(),
            active_streams: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// The application router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/messages", post(create_message))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/v1beta/models/{target}", post(gemini_models))
        .route("/v1/responses", post(create_response))
        .route("/api/hello", any(hello))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

async fn create_message(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let record = RecordedRequest::new(method.as_str(), &uri.to_string(), &headers, None);
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        // Unclassifiable, so it stays `Other` and out of `message_requests()`.
        shared.log.record(record);
        let reply = Reply::error(400, None, "request body is not valid JSON");
        return into_http_response(reply, Api::Anthropic, false, &shared);
    };
    let request = ModelRequest::Anthropic(MessagesRequest::new(&json));
    answer_model_request(&shared, record, &request, &json)
}

/// `POST /v1/responses`: the OpenAI Responses API.
async fn create_response(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut record = RecordedRequest::new(method.as_str(), &uri.to_string(), &headers, None);
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        record.api = Some(Api::OpenAi);
        shared.log.record(record);
        let reply = Reply::error(400, None, "request body is not valid JSON");
        return into_http_response(reply, Api::OpenAi, false, &shared);
    };
    let request = ModelRequest::OpenAi(ResponsesRequest::new(&json));
    answer_model_request(&shared, record, &request, &json)
}

/// Records and answers a model request of any API.
fn answer_model_request(
    shared: &Shared,
    mut record: RecordedRequest,
    request: &ModelRequest<'_>,
    json: &Value,
) -> Response {
    let stream = request.is_stream();
    let (reply, rule) = decide_reply(shared, request);
    record.kind = if request.is_side_request() {
        RequestKind::SideMessage
    } else {
        RequestKind::MainMessage
    };
    record.rule = rule;
    record.api = Some(request.api());
    tracing::debug!(
        path = %record.path,
        model = request.model(),
        kind = ?record.kind,
        rule = ?rule,
        "scripted model request"
    );
    record.body = Some(json.clone());
    shared.log.record(record);
    into_http_response(reply, request.api(), stream, shared)
}

/// `POST /v1beta/models/<model>:<action>`: the Gemini API.
async fn gemini_models(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut record = RecordedRequest::new(method.as_str(), &uri.to_string(), &headers, None);
    record.api = Some(Api::Gemini);
    let target = GeminiTarget::from_path(uri.path());
    let json = serde_json::from_slice::<Value>(&body).ok();
    match (target, json) {
        (Some(target), Some(json)) if target.action == "countTokens" => {
            record.kind = RequestKind::CountTokens;
            record.body = Some(json);
            shared.log.record(record);
            Json(json!({ "totalTokens": (body.len() / 4).max(1) })).into_response()
        }
        (Some(target), Some(json))
            if matches!(
                target.action.as_str(),
                "generateContent" | "streamGenerateContent"
            ) =>
        {
            let request = ModelRequest::Gemini(GenerateContentRequest::new(
                &json,
                &target.model,
                target.is_stream(),
            ));
            answer_model_request(&shared, record, &request, &json)
        }
        (target, json) => {
            record.body = json;
            shared.log.record(record);
            let message = match target {
                Some(target) => format!("{} is not scripted", target.action),
                None => "request body is not valid JSON, or the path names no model".to_owned(),
            };
            tracing::warn!(%uri, "scripted model server: {message}");
            into_http_response(
                Reply::error(400, None, &message),
                Api::Gemini,
                false,
                &shared,
            )
        }
    }
}

/// Picks the rule (or fallback) and renders the reply, under the scenario lock only.
fn decide_reply(shared: &Shared, request: &ModelRequest<'_>) -> (Reply, Option<usize>) {
    let context = TemplateContext::from_request(request);
    let model = request.model();
    let mut state = lock(&shared.scenario);
    if let Some(selection) = state.select(request) {
        let response = &state.scenario().rules[selection.index].respond;
        let reply = Reply::render(response, selection.hit, model, &context);
        return (reply, Some(selection.index));
    }
    let reply = if request.is_side_request() {
        Reply::render(&side_response(request), 0, model, &context)
    } else {
        let fallback = state.scenario().fallback.clone().unwrap_or_else(|| {
            tracing::warn!(
                last_user_text = %request.last_user_text(),
                "no scenario rule matched; answering with the default fallback"
            );
            ScriptedResponse::text(NO_RULE_TEXT)
        });
        Reply::render(&fallback, 0, model, &context)
    };
    (reply, None)
}

/// Built-in answer to side requests no rule claims: a probe gets its single token, a
/// utility call a short neutral text.
fn side_response(request: &ModelRequest<'_>) -> ScriptedResponse {
    if request.is_probe() {
        ScriptedResponse::text(".").with_stop_reason("max_tokens")
    } else {
        ScriptedResponse::text(SIDE_REQUEST_TEXT)
    }
}

async fn count_tokens(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = serde_json::from_slice::<Value>(&body).ok();
    let mut record = RecordedRequest::new(method.as_str(), &uri.to_string(), &headers, json);
    record.kind = RequestKind::CountTokens;
    shared.log.record(record);
    // Same four-characters-per-token estimate as the reply usage.
    let input_tokens = (body.len() / 4).max(1);
    Json(json!({ "input_tokens": input_tokens })).into_response()
}

async fn hello(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> StatusCode {
    shared.log.record(RecordedRequest::new(
        method.as_str(),
        &uri.to_string(),
        &headers,
        None,
    ));
    StatusCode::OK
}

async fn unknown_route(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tracing::warn!(%method, %uri, "scripted model server: unknown route");
    let json = serde_json::from_slice::<Value>(&body).ok();
    shared.log.record(RecordedRequest::new(
        method.as_str(),
        &uri.to_string(),
        &headers,
        json,
    ));
    let message = format!("{method} {} is not scripted", uri.path());
    into_http_response(
        Reply::error(404, None, &message),
        Api::Anthropic,
        false,
        &shared,
    )
}
