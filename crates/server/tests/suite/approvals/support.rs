//! The scenario, constants and helpers the approval tests share.

use std::time::Duration;

use agent_runtime_client::{rest, Client, ClientError};
use agent_runtime_protocol::{
    AgentProfile, Block, BudgetKind, CreateSessionRequest, Envelope, PermissionMode,
    PermissionRequest, PermissionResolution, SessionEvent, SessionStatus, TurnEndReason,
};
use agent_runtime_testkit::{Scenario, ScriptedModelServer};
use pretty_assertions::assert_eq;
use reqwest::Method;
use serde_json::{json, Value};

use crate::suite::agent::*;
use crate::suite::support::*;

/// The command the scripted model runs.
pub(super) const TOUCH: &str = "touch approved.txt";
/// The file it creates.
pub(crate) const APPROVED_FILE: &str = "approved.txt";
/// The model's final text after a tool result that is not an error / is one.
pub(super) const SAID_OK: &str = "RESULT-OK";
pub(super) const SAID_ERROR: &str = "RESULT-ERROR";
/// The file the model writes for a prompt that mentions "note".
pub(super) const NOTE_FILE: &str = "notes/a.txt";
/// What the model streams slowly.
const SLOW_TEXT: &str = "slow words streaming one chunk at a time, far longer than a second in all";
/// Bash `touch approved.txt` for a prompt that mentions "touch" (or the runtime's continuation
/// after a restart), AskUserQuestion for one that mentions "color"; after a tool result, a text
/// telling whether it was an error; plain text otherwise.
pub(crate) fn approvals_scenario() -> Scenario {
    let touch = json!({
        "content": [{"type": "tool_use", "name": "Bash",
                     "input": {"command": TOUCH, "description": "Create approved.txt"}}]
    });
    let scenario = json!({
        "name": "approvals",
        "rules": [
            // The resumed conversation after a restart: make the call again, once.
            {"when": {"lastUserTextContains": "[agent-runtime]"}, "respond": touch, "once": true},
            {"when": {"toolResult": {"isError": true}},
             "respond": {"content": [{"type": "text", "text": SAID_ERROR}]}},
            {"when": {"toolResult": {"isError": false}},
             "respond": {"content": [{"type": "text", "text": SAID_OK}]}},
            {"when": {"lastUserTextContains": "touch"}, "respond": touch},
            {"when": {"lastUserTextContains": "note"},
             "respond": {"content": [{"type": "tool_use", "name": "Write",
                 "input": {"file_path": format!("{{{{cwd}}}}/{NOTE_FILE}"), "content": "hi\n"}}]}},
            // About 6 s of streaming, for the wall-clock budget.
            {"when": {"lastUserTextContains": "slowly"},
             "respond": {"content": [{"type": "text", "text": SLOW_TEXT}],
                         "chunks": 60, "chunkDelayMs": 100}},
            {"when": {"lastUserTextContains": "color"},
             "respond": {"content": [{"type": "tool_use", "name": "AskUserQuestion", "input": {
                 "questions": [{"question": "Which color?", "header": "Color", "options": [
                     {"label": "Red", "description": "warm"},
                     {"label": "Blue", "description": "cool"}
                 ], "multiSelect": false}]
             }}]}}
        ],
        "fallback": {"content": [{"type": "text", "text": "A quick answer."}]}
    });
    serde_json::from_value(scenario).expect("a valid scenario")
}

pub(super) async fn scripted_model() -> ScriptedModelServer {
    ScriptedModelServer::start(approvals_scenario())
        .await
        .unwrap()
}

/// The scripted model and a server running Claude Code against it, on SQLite.
pub(super) async fn start() -> (ScriptedModelServer, TestServer) {
    let model = scripted_model().await;
    let server = agent_server(&model, Setup::CLAUDE_SQLITE).await;
    (model, server)
}

/// Starts the real binary on a SQLite store in `data_dir`, pointed at the scripted model.
pub(super) async fn spawn_binary(
    data_dir: &std::path::Path,
    store: &str,
    model: &ScriptedModelServer,
) -> (tokio::process::Child, String) {
    let model_url = model.base_url();
    spawn_serve("approvals", |command| {
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--store", store])
            .arg("--tools-dir")
            .arg(tools_dir())
            .args(["--anthropic-base-url", &model_url])
            .env("ANTHROPIC_API_KEY", "sk-test-never-shown");
    })
    .await
}

/// A Claude Code session that asks before it runs anything.
pub(crate) fn asking() -> CreateSessionRequest {
    CreateSessionRequest {
        agent: Some("claude-code".into()),
        permission_mode: Some(PermissionMode::Default),
        ..Default::default()
    }
}

/// A Claude Code session of a profile.
pub(super) fn with_profile(profile: &str) -> CreateSessionRequest {
    CreateSessionRequest {
        agent: Some("claude-code".into()),
        profile: Some(profile.into()),
        ..Default::default()
    }
}

pub(super) async fn create_session(server: &TestServer, request: CreateSessionRequest) -> String {
    within(server.client().create_session(&request))
        .await
        .expect("create session")
        .session_id
}

pub(super) async fn put_profile(server: &TestServer, profile: AgentProfile) {
    within(server.client().put_profile(&profile))
        .await
        .expect("put profile");
}

/// A WebSocket subscribed to the session from its start.
pub(super) async fn subscribed(
    server: &TestServer,
    session_id: &str,
) -> agent_runtime_client::WsConnection {
    let mut ws = server.ws().await;
    within(ws.subscribe(session_id, 0)).await.unwrap();
    ws
}

/// Events until the next `permission_requested`, which is returned.
pub(super) async fn next_permission(
    ws: &mut agent_runtime_client::WsConnection,
) -> PermissionRequest {
    let events = events_until(ws, |e| {
        matches!(e.event, SessionEvent::PermissionRequested(_))
    })
    .await;
    match &events.last().unwrap().event {
        SessionEvent::PermissionRequested(request) => request.clone(),
        _ => unreachable!(),
    }
}

/// `POST /api/sessions/:id/permissions/:requestId` with a raw JSON body.
pub(super) async fn raw_answer(
    client: &Client,
    session_id: &str,
    request_id: &str,
    body: Value,
) -> reqwest::Response {
    let path = format!("/api/sessions/{session_id}/permissions/{request_id}");
    within(client.request(Method::POST, &path).json(&body).send())
        .await
        .expect("the server answers")
}

/// The same, decoded: the resolution, or the problem.
pub(super) async fn answer_permission(
    client: &Client,
    session_id: &str,
    request_id: &str,
    body: Value,
) -> Result<PermissionResolution, ClientError> {
    rest::json(raw_answer(client, session_id, request_id, body).await).await
}

/// Asserts a response is a problem+json, whatever its code.
pub(super) async fn assert_problem_json(response: reqwest::Response) {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body");
    assert!(body["code"].is_string(), "{body}");
}

/// The session's status as `GET /api/sessions` lists it.
pub(super) async fn listed_status(client: &Client, session_id: &str) -> SessionStatus {
    let list = within(client.list_sessions(None, Some(100))).await.unwrap();
    list.sessions
        .iter()
        .find(|s| s.session_id == session_id)
        .expect("listed")
        .status
}

/// The session's status in its snapshot (state and session agree).
pub(super) async fn status_of(server: &TestServer, session_id: &str) -> SessionStatus {
    let snapshot = within(server.client().get_session(session_id))
        .await
        .unwrap();
    assert_eq!(snapshot.session.status, snapshot.state.status);
    snapshot.state.status
}

/// The snapshot once the session is idle or waits (turn-end bookkeeping is written right after
/// `turn_completed`).
pub(super) async fn settled_snapshot(
    server: &TestServer,
    session_id: &str,
) -> agent_runtime_protocol::SessionSnapshot {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let snapshot = within(server.client().get_session(session_id))
            .await
            .unwrap();
        if snapshot.state.status != SessionStatus::Running
            || tokio::time::Instant::now() >= deadline
        {
            return snapshot;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(super) async fn has_file(server: &TestServer, session_id: &str, path: &str) -> bool {
    within(server.client().list_files(session_id))
        .await
        .unwrap()
        .iter()
        .any(|f| f.path == path)
}

/// The `permission_resolved` events among `events`.
pub(super) fn resolved_in(events: &[Envelope]) -> Vec<PermissionResolution> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::PermissionResolved(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// The ids of the Bash calls among `events`.
pub(super) fn bash_tool_use_ids(events: &[Envelope]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::BlockComplete {
                block: Block::ToolUse(t),
                ..
            } if t.name == "Bash" => Some(t.id.clone()),
            _ => None,
        })
        .collect()
}

/// The turns started among `events`.
pub(super) fn started_turns(events: &[Envelope]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::TurnStarted { turn_id, .. } => Some(turn_id.clone()),
            _ => None,
        })
        .collect()
}

/// Asserts the last `turn_completed` among `events` ended normally.
pub(super) fn assert_completed(events: &[Envelope]) {
    let reason = events.iter().rev().find_map(|e| match &e.event {
        SessionEvent::TurnCompleted { reason, .. } => Some(*reason),
        _ => None,
    });
    assert_eq!(reason, Some(TurnEndReason::Completed));
}

/// Whether the assistant said `text` in one of `blocks`.
pub(super) fn said(blocks: &[Block], text: &str) -> bool {
    blocks
        .iter()
        .any(|b| matches!(b, Block::AssistantText(t) if t.text.contains(text)))
}

/// The `tool_result` block the model was sent for `tool_use_id`.
pub(super) fn tool_result_for(model: &ScriptedModelServer, tool_use_id: &str) -> Value {
    model
        .message_requests()
        .iter()
        .flat_map(|r| r.messages().to_vec())
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_array().cloned())
        .flatten()
        .find(|b| b["type"] == "tool_result" && b["tool_use_id"] == tool_use_id)
        .unwrap_or_else(|| panic!("the model got no tool_result for {tool_use_id}"))
}

/// Sends a message, waits for its turn to end and for `budget_exceeded {kind: turns}`.
pub(super) async fn run_turn_to_budget_exceeded(
    ws: &mut agent_runtime_client::WsConnection,
    session_id: &str,
) {
    within(ws.send_message(session_id, "hello", None))
        .await
        .unwrap();
    let events = events_until(ws, |e| matches!(e.event, SessionEvent::BudgetExceeded(_))).await;
    assert_completed(&events);
    match &events.last().unwrap().event {
        SessionEvent::BudgetExceeded(exceeded) => {
            assert_eq!(exceeded.kind, BudgetKind::Turns);
            assert_eq!(exceeded.limit, 1.0);
            assert_eq!(exceeded.spent, 1.0);
        }
        _ => unreachable!(),
    }
}

/// Asserts no turn starts for a while (a held message stays held).
pub(super) async fn assert_no_turn_starts(ws: &mut agent_runtime_client::WsConnection) {
    let watched = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(frame) = ws.next_frame().await {
            if let agent_runtime_protocol::ServerFrame::Event { envelope } = frame {
                if matches!(envelope.event, SessionEvent::TurnStarted { .. }) {
                    return envelope;
                }
            }
        }
        panic!("connection closed");
    })
    .await;
    if let Ok(started) = watched {
        panic!("a turn started: {started:?}");
    }
}

/// Asserts nobody was asked for permission among `events`.
pub(super) fn assert_never_asked(events: &[Envelope]) {
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.event, SessionEvent::PermissionRequested(_))),
        "asked: {:?}",
        events
            .iter()
            .map(|e| event_type(&e.event))
            .collect::<Vec<_>>()
    );
}

/// Subscribes to the session, asks the agent to touch the file, and waits for the request.
pub(super) async fn ask_to_touch(
    server: &TestServer,
    session_id: &str,
) -> (agent_runtime_client::WsConnection, PermissionRequest) {
    let mut ws = subscribed(server, session_id).await;
    within(ws.send_message(session_id, "please touch the file", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;
    (ws, request)
}
