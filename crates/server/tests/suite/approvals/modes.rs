//! Permission modes as each agent runs them: what its mode lets through without asking, what an
//! ask rule makes it ask anyway, and Gemini CLI's read-only plan mode.

use agent_runtime_protocol::{AgentProfile, CreateSessionRequest, PermissionMode, PermissionRules};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::support::*;
use crate::suite::agent::*;
use crate::suite::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_edits_writes_without_asking_but_an_ask_rule_asks_anyway() {
    let (_model, server) = start().await;
    put_profile(
        &server,
        AgentProfile {
            id: "careful-notes".into(),
            permission_mode: Some(PermissionMode::AcceptEdits),
            permissions: PermissionRules {
                ask: vec!["Write(notes/**)".into()],
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let session_id = create_session(&server, with_profile("careful-notes")).await;
    let mut ws = subscribed(&server, &session_id).await;

    // The mode allows an edit in the workspace; the ask rule covers notes/.
    within(ws.send_message(&session_id, "write the note", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;
    assert_eq!(request.tool, "Write");
    assert!(request.input["file_path"]
        .as_str()
        .unwrap()
        .ends_with(NOTE_FILE));
    let resolution = answer_permission(
        &server.client(),
        &session_id,
        &request.request_id,
        json!({"decision": "allow"}),
    )
    .await
    .expect("200");
    assert_eq!(resolution.request_id, request.request_id);
    assert_completed(&events_until(&mut ws, is_turn_completed).await);
    assert!(has_file(&server, &session_id, NOTE_FILE).await);

    // What acceptEdits allows and no rule covers runs without asking.
    within(ws.send_message(&session_id, "please touch the file", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert_completed(&events);
    assert_never_asked(&events);
    assert!(has_file(&server, &session_id, APPROVED_FILE).await);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_in_plan_mode_cannot_write_and_is_never_asked() {
    let (_model, server) = start().await;
    let plan = CreateSessionRequest {
        agent: Some("gemini-cli".into()),
        permission_mode: Some(PermissionMode::Plan),
        ..Default::default()
    };
    let session_id = create_session(&server, plan).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "write the note", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert_completed(&events);
    assert_never_asked(&events);
    let snapshot = settled_snapshot(&server, &session_id).await;
    assert!(
        said(&snapshot.state.blocks, SAID_ERROR),
        "the model saw its write refused: {:?}",
        snapshot.state.blocks
    );
    assert!(!has_file(&server, &session_id, NOTE_FILE).await);
    server.shutdown().await;
}
