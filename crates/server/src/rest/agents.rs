//! The agents the server runs and their pinned CLI versions.

use agent_runtime_protocol::AgentList;
use axum::extract::State;
use axum::Json;

use crate::app::AppState;

/// `GET /api/agents`.
pub async fn list_agents(State(state): State<AppState>) -> Json<AgentList> {
    Json(AgentList {
        agents: state.runtime.list_agents(),
        sandboxes: state.runtime.sandbox_providers(),
    })
}
