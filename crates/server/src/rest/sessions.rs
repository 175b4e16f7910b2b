//! Sessions: create, list, snapshot, patch, delete; messages and interrupts.

use agent_runtime_protocol::{
    CreateSessionRequest, InterruptResponse, PatchSessionRequest, SendMessageRequest,
    SendMessageResponse, SessionInfo, SessionList, SessionSnapshot,
};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};

/// Page size of `GET /api/sessions` when `limit` is not given.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// `GET /api/sessions?cursor=&limit=`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

pub async fn create_session(
    State(state): State<AppState>,
    OptionalJson(request): OptionalJson<CreateSessionRequest>,
) -> ApiResult<Response> {
    let info = state.runtime.create_session(request).await?;
    let location = HeaderValue::from_str(&format!("/api/sessions/{}", info.session_id)).ok();
    let mut response = (StatusCode::CREATED, Json(info)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn list_sessions(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<SessionList>> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    let cursor = query.cursor.as_deref().filter(|c| !c.is_empty());
    Ok(Json(state.runtime.list_sessions(cursor, limit).await?))
}

pub async fn get_session(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SessionSnapshot>> {
    Ok(Json(state.runtime.snapshot(&id).await?))
}

pub async fn patch_session(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<PatchSessionRequest>,
) -> ApiResult<Json<SessionInfo>> {
    Ok(Json(state.runtime.patch_session(&id, patch).await?))
}

pub async fn delete_session(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.runtime.delete_session(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 202 Accepted: the turn runs (or waits) after the answer.
pub async fn send_message(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<SendMessageRequest>,
) -> ApiResult<(StatusCode, Json<SendMessageResponse>)> {
    let response = state.runtime.send_message(&id, request).await?;
    Ok((StatusCode::ACCEPTED, Json(response)))
}

pub async fn interrupt(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<InterruptResponse>> {
    Ok(Json(state.runtime.interrupt(&id).await?))
}
