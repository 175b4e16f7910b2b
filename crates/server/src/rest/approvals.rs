//! Answers to the agent's permission requests and questions, and budget approvals.

use agent_runtime_protocol::{
    AnswerPermissionRequest, AnswerQuestionRequest, BudgetApproval, PermissionResolution,
    QuestionResolution,
};
use axum::extract::State;
use axum::Json;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

/// `POST /api/sessions/:id/permissions/:requestId`: 200 with the resolution; 409 with the answer
/// that won, 410 when it expired, 404 when the session has no such request.
pub async fn answer_permission(
    State(state): State<AppState>,
    ApiPath((id, request_id)): ApiPath<(String, String)>,
    ApiJson(answer): ApiJson<AnswerPermissionRequest>,
) -> ApiResult<Json<PermissionResolution>> {
    Ok(Json(
        state
            .runtime
            .answer_permission(&id, &request_id, answer)
            .await?,
    ))
}

/// `POST /api/sessions/:id/questions/:requestId`: as for permissions.
pub async fn answer_question(
    State(state): State<AppState>,
    ApiPath((id, request_id)): ApiPath<(String, String)>,
    ApiJson(answer): ApiJson<AnswerQuestionRequest>,
) -> ApiResult<Json<QuestionResolution>> {
    Ok(Json(
        state
            .runtime
            .answer_question(&id, &request_id, answer)
            .await?,
    ))
}

/// `POST /api/sessions/:id/budget/approve`: go on past the reached limit for one more turn.
pub async fn approve_budget(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<BudgetApproval>> {
    Ok(Json(state.runtime.approve_budget(&id).await?))
}
