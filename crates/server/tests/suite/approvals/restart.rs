use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use agent_runtime_client::{Client, WsAuth};
use agent_runtime_protocol::{
    AgentProfile, Continuation, PermissionDecision, PermissionMode, PermissionRequest, ResolvedBy,
    SessionEvent, SessionStatus,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::support::*;
use crate::suite::agent::*;
use crate::suite::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_pending_at_kill_9_is_answerable_after_the_restart_and_the_agent_resumes() {
    pending_at_kill_9(Setup::CLAUDE_SQLITE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_request_pending_at_kill_9_is_answerable_after_the_restart() {
    pending_at_kill_9(Setup::CLAUDE_POSTGRES).await;
}

/// The timeout of a request is durable: the restarted server denies it when it is due (or at
/// once, if it fell due while no server ran), and a late answer is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_pending_at_kill_9_still_times_out_after_the_restart() {
    let model = scripted_model().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = dir.path().join("data");
    let store = Setup::CLAUDE_SQLITE.store_url(&data_dir);
    let (mut child, url) = spawn_binary(&data_dir, &store, &model).await;
    let client = Client::new(&url);
    let profile = AgentProfile {
        id: "patient".into(),
        permission_mode: Some(PermissionMode::Default),
        approval_timeout_secs: Some(6),
        ..Default::default()
    };
    within(client.put_profile(&profile)).await.unwrap();
    let session_id = within(client.create_session(&with_profile("patient")))
        .await
        .unwrap()
        .session_id;
    let request = ask_then_kill_9(&client, &session_id, &mut child).await;
    let server = TestServer::start_with(|c| {
        c.data_dir = data_dir.clone();
        agent_config(c, &model, Setup::CLAUDE_SQLITE);
    })
    .await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    let events = events_until(&mut ws, |e| {
        matches!(e.event, SessionEvent::PermissionResolved(_))
    })
    .await;
    let resolution = resolved_in(&events).pop().unwrap();
    assert_eq!(resolution.request_id, request.request_id);
    assert_eq!(resolution.by, ResolvedBy::Timeout);
    assert_eq!(resolution.decision, PermissionDecision::Deny);
    assert!(resolution.at >= request.expires_at, "{resolution:?}");
    let late = raw_answer(
        &server.client(),
        &session_id,
        &request.request_id,
        json!({"decision": "allow"}),
    )
    .await;
    assert_problem(late, 410, "request_expired").await;
    assert_eq!(status_of(&server, &session_id).await, SessionStatus::Idle);
    assert!(!has_file(&server, &session_id, APPROVED_FILE).await);
    server.shutdown().await;
}

/// A request pending when the server is killed is pending after the restart, in the snapshot
/// and the listing; answering it resumes the agent, which makes the call again without being
/// asked.
async fn pending_at_kill_9(setup: Setup) {
    let (setup, _db) = setup.with_fresh_store().await;
    let model = scripted_model().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = dir.path().join("data");
    let (mut child, url) = spawn_binary(&data_dir, &setup.store_url(&data_dir), &model).await;
    let client = Client::new(&url);
    let session_id = within(client.create_session(&asking()))
        .await
        .unwrap()
        .session_id;
    let request = ask_then_kill_9(&client, &session_id, &mut child).await;

    let server = TestServer::start_with(|c| {
        c.data_dir = data_dir.clone();
        agent_config(c, &model, setup);
    })
    .await;
    let snapshot = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    let pending: Vec<&PermissionRequest> = snapshot
        .state
        .pending_permissions()
        .map(|r| &r.request)
        .collect();
    assert_eq!(pending, vec![&request]);
    assert_eq!(snapshot.state.status, SessionStatus::RequiresAction);
    assert_eq!(snapshot.session.status, SessionStatus::RequiresAction);
    assert_eq!(snapshot.state.runtime.active_turn_id, None);
    assert_eq!(
        listed_status(&server.client(), &session_id).await,
        SessionStatus::RequiresAction
    );

    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, snapshot.state.seq))
        .await
        .unwrap();
    let resolution = answer_permission(
        &server.client(),
        &session_id,
        &request.request_id,
        json!({"decision": "allow"}),
    )
    .await
    .expect("200");
    assert_eq!(resolution.decision, PermissionDecision::Allow);
    assert_eq!(resolution.continuation, Some(Continuation::Resumed));

    let events = events_until(&mut ws, is_turn_completed).await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e.event, SessionEvent::TurnStarted { .. })),
        "a new turn"
    );
    assert_completed(&events);
    assert_never_asked(&events);
    let again = bash_tool_use_ids(&events);
    assert_eq!(again.len(), 1, "the agent made the call again");
    let result = tool_result_for(&model, &again[0]);
    assert_eq!(
        result["is_error"].as_bool().unwrap_or(false),
        false,
        "{result}"
    );
    assert!(model
        .message_requests()
        .iter()
        .any(|r| r.last_user_text().starts_with("[agent-runtime]")));
    assert!(has_file(&server, &session_id, APPROVED_FILE).await);
    let snapshot = settled_snapshot(&server, &session_id).await;
    assert_eq!(snapshot.state.status, SessionStatus::Idle);
    assert_eq!(snapshot.state.pending_permissions().count(), 0);
    server.shutdown().await;
}

/// Asks the agent (of the server `child`) to touch the file, waits for the request, and kills
/// the server with SIGKILL while it is pending.
async fn ask_then_kill_9(
    client: &Client,
    session_id: &str,
    child: &mut tokio::process::Child,
) -> PermissionRequest {
    let mut ws = within(client.connect_ws(WsAuth::None)).await.unwrap();
    within(ws.subscribe(session_id, 0)).await.unwrap();
    within(ws.send_message(session_id, "please touch the file", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;
    child.start_kill().expect("SIGKILL");
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the binary dies")
        .unwrap();
    request
}
