//! The agent's native transcripts: list and raw download.

use agent_runtime_protocol::TranscriptList;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::extract::ApiPath;

/// `GET /api/sessions/{id}/transcripts`.
pub async fn list_transcripts(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TranscriptList>> {
    let transcripts = state.runtime.list_transcripts(&id).await?;
    Ok(Json(TranscriptList { transcripts }))
}

/// The transcript as the agent wrote it (JSON lines).
pub async fn read_transcript(
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let bytes = state.runtime.read_transcript(&id, &name).await?;
    let mut response = bytes.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}
