//! ACP agents ask through `session/request_permission`, which becomes the same
//! `permission_requested` / `permission_resolved` events as Claude Code's requests: OpenCode and
//! Codex, in permission mode `default`, ask before running `touch approved.txt`; an allowed call
//! runs and the model hears it went well; a denied one never runs: OpenCode carries on, Codex
//! stops the turn (its one way to refuse, `abort`, means "stop and tell me what to do instead";
//! it ends the prompt as `cancelled`, an `interrupted` turn).

use agent_runtime_protocol::{
    CreateSessionRequest, PermissionDecision, PermissionMode, SessionEvent, SessionStatus,
    TurnEndReason,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::support::*;
use crate::suite::agent::*;
use crate::suite::support::*;

fn asking(setup: Setup) -> CreateSessionRequest {
    CreateSessionRequest {
        agent: Some(setup.agent.to_string()),
        permission_mode: Some(PermissionMode::Default),
        ..Default::default()
    }
}

async fn answered(setup: Setup, decision: &str, ends: TurnEndReason) {
    let model = scripted_model().await;
    let server = agent_server(&model, setup).await;
    let session_id = create_session(&server, asking(setup)).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "touch it please", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;
    // The ACP tool kind `execute`, in the rules' vocabulary.
    assert_eq!(request.tool, "Bash", "{}: {request:?}", setup.agent);
    assert!(
        request.input.to_string().contains(TOUCH),
        "{}: {request:?}",
        setup.agent
    );
    let snapshot = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    assert_eq!(snapshot.state.status, SessionStatus::RequiresAction);

    let resolution = answer_permission(
        &server.client(),
        &session_id,
        &request.request_id,
        json!({"decision": decision}),
    )
    .await
    .expect("200");
    let events = events_until(&mut ws, is_turn_completed).await;
    assert_eq!(resolved_in(&events), vec![resolution.clone()]);
    let reason = events.iter().rev().find_map(|e| match &e.event {
        SessionEvent::TurnCompleted { reason, .. } => Some(*reason),
        _ => None,
    });
    assert_eq!(reason, Some(ends), "{}", setup.agent);
    let snapshot = settled_snapshot(&server, &session_id).await;
    let ran = has_file(&server, &session_id, APPROVED_FILE).await;
    match resolution.decision {
        PermissionDecision::Allow => {
            assert!(ran, "{}: the allowed call did not run", setup.agent);
            assert!(said(&snapshot.state.blocks, SAID_OK), "{}", setup.agent);
        }
        PermissionDecision::Deny => {
            assert!(!ran, "{}: the denied call ran", setup.agent);
            assert!(!events.iter().any(|e| matches!(
                &e.event,
                SessionEvent::FileCreated(f) if f.path == APPROVED_FILE
            )));
        }
    }
    assert_eq!(snapshot.state.status, SessionStatus::Idle);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opencode_asks_and_an_allowed_call_runs() {
    answered(Setup::OPENCODE_SQLITE, "allow", TurnEndReason::Completed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opencode_asks_and_a_denied_call_never_runs() {
    answered(Setup::OPENCODE_SQLITE, "deny", TurnEndReason::Completed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_asks_and_an_allowed_call_runs() {
    answered(Setup::CODEX_SQLITE, "allow", TurnEndReason::Completed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_asks_and_a_denied_call_never_runs() {
    answered(Setup::CODEX_SQLITE, "deny", TurnEndReason::Interrupted).await;
}
