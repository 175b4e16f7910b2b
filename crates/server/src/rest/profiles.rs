//! Agent profiles: list, get, create or replace, delete.

use agent_runtime_protocol::{AgentProfile, ProfileList};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

/// `GET /api/profiles`, sorted by id.
pub async fn list_profiles(State(state): State<AppState>) -> ApiResult<Json<ProfileList>> {
    let profiles = state.runtime.list_profiles().await?;
    Ok(Json(ProfileList { profiles }))
}

pub async fn get_profile(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<AgentProfile>> {
    Ok(Json(state.runtime.get_profile(&id).await?))
}

/// `PUT /api/profiles/{id}`: 201 when the profile is new, 200 when it replaced one. The body's
/// `id` may be omitted; if given it must equal the path's.
pub async fn put_profile(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(profile): ApiJson<AgentProfile>,
) -> ApiResult<(StatusCode, Json<AgentProfile>)> {
    let (profile, created) = state.runtime.put_profile(&id, profile).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(profile)))
}

/// Sessions created with the profile keep its id; their next sandbox start fails the turn
/// (`agent_start_failed`, "profile ... not found") until the profile is stored again.
pub async fn delete_profile(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.runtime.delete_profile(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
