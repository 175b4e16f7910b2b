//! Human in the loop end to end: the real Claude Code CLI in a real bubblewrap sandbox, in
//! permission mode `default`, asks before it runs `touch approved.txt`; a client allows, denies,
//! remembers, answers a question, lets a request time out, answers after a `kill -9` of the
//! server, races another client, sends bad answers; and budgets hold messages until raised or
//! approved. The scripted model's final text tells whether the tool result it got was an error.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use agent_runtime_client::{rest, Client, ClientError, WsAuth};
use agent_runtime_protocol::{
    AgentProfile, AnswerPermissionRequest, Block, Budget, BudgetKind, ClientFrame, Continuation,
    CreateSessionRequest, Envelope, PatchSessionRequest, PermissionDecision, PermissionMode,
    PermissionOptionKind, PermissionRequest, PermissionResolution, PermissionRules, QuestionAnswer,
    QuestionRequest, ResolvedBy, SessionEvent, SessionStatus, TurnEndReason,
};
use agent_runtime_testkit::{Scenario, ScriptedModelServer};
use pretty_assertions::assert_eq;
use reqwest::Method;
use serde_json::{json, Value};

use super::agent::*;
use super::support::*;

/// The command the scripted model runs.
const TOUCH: &str = "touch approved.txt";
/// The file it creates.
const APPROVED_FILE: &str = "approved.txt";
/// The model's final text after a tool result that is not an error / is one.
const SAID_OK: &str = "RESULT-OK";
const SAID_ERROR: &str = "RESULT-ERROR";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_request_runs_the_tool_and_the_status_goes_from_requires_action_to_idle() {
    let (model, server) = start().await;
    let session_id = create_session(&server, asking()).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "please touch the file", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;

    assert_eq!(request.tool, "Bash");
    assert_eq!(request.input["command"], TOUCH);
    assert!(request.tool_use_id.is_some(), "{request:?}");
    let kinds: Vec<(&str, PermissionOptionKind)> = request
        .options
        .iter()
        .map(|o| (o.id.as_str(), o.kind))
        .collect();
    for wanted in [
        ("allow_once", PermissionOptionKind::AllowOnce),
        ("allow_always", PermissionOptionKind::AllowAlways),
        ("deny", PermissionOptionKind::Deny),
    ] {
        assert!(kinds.contains(&wanted), "{wanted:?} not in {kinds:?}");
    }
    // RFC 3339 UTC with milliseconds, as every time stamp of the runtime: they sort as text.
    let created = within(server.client().get_session(&session_id))
        .await
        .unwrap()
        .session
        .created_at;
    assert!(request.expires_at.ends_with('Z'), "{}", request.expires_at);
    assert!(
        request.expires_at > created,
        "{} {created}",
        request.expires_at
    );

    let snapshot = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    assert_eq!(snapshot.state.status, SessionStatus::RequiresAction);
    assert_eq!(snapshot.session.status, SessionStatus::RequiresAction);
    let pending: Vec<&str> = snapshot
        .state
        .pending_permissions()
        .map(|r| r.request.request_id.as_str())
        .collect();
    assert_eq!(pending, vec![request.request_id.as_str()]);
    assert_eq!(
        listed_status(&server.client(), &session_id).await,
        SessionStatus::RequiresAction
    );

    let resolution = answer_permission(
        &server.client(),
        &session_id,
        &request.request_id,
        json!({"decision": "allow"}),
    )
    .await
    .expect("200");
    assert_eq!(resolution.request_id, request.request_id);
    assert_eq!(resolution.decision, PermissionDecision::Allow);
    assert_eq!(resolution.by, ResolvedBy::User);
    assert!(!resolution.remember);
    assert_eq!(resolution.continuation, None);

    let events = events_until(&mut ws, is_turn_completed).await;
    assert_eq!(resolved_in(&events), vec![resolution.clone()]);
    assert_completed(&events);
    let result = tool_result_for(&model, request.tool_use_id.as_deref().unwrap());
    assert_eq!(
        result["is_error"].as_bool().unwrap_or(false),
        false,
        "{result}"
    );
    assert!(has_file(&server, &session_id, APPROVED_FILE).await);
    let snapshot = settled_snapshot(&server, &session_id).await;
    assert!(said(&snapshot.state.blocks, SAID_OK));
    assert_eq!(snapshot.state.status, SessionStatus::Idle);
    assert_eq!(snapshot.session.status, SessionStatus::Idle);
    assert_eq!(
        listed_status(&server.client(), &session_id).await,
        SessionStatus::Idle
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_with_a_message_reaches_the_model_and_the_agent_carries_on() {
    let (model, server) = start().await;
    let session_id = create_session(&server, asking()).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "please touch the file", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;
    let reason = "Not in this directory, use /tmp instead";
    let resolution = answer_permission(
        &server.client(),
        &session_id,
        &request.request_id,
        json!({"decision": "deny", "message": reason}),
    )
    .await
    .expect("200");
    assert_eq!(resolution.decision, PermissionDecision::Deny);
    assert_eq!(resolution.message.as_deref(), Some(reason));

    let events = events_until(&mut ws, is_turn_completed).await;
    assert_completed(&events);
    let result = tool_result_for(&model, request.tool_use_id.as_deref().unwrap());
    assert_eq!(result["is_error"], true, "{result}");
    assert!(result.to_string().contains(reason), "{result}");
    let snapshot = settled_snapshot(&server, &session_id).await;
    assert!(said(&snapshot.state.blocks, SAID_ERROR));
    assert!(!has_file(&server, &session_id, APPROVED_FILE).await);
    assert_eq!(snapshot.state.status, SessionStatus::Idle);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_always_becomes_a_session_rule_and_the_same_call_is_not_asked_again() {
    let (model, server) = start().await;
    let session_id = create_session(&server, asking()).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "please touch the file", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;
    let offered_rule = request
        .options
        .iter()
        .find(|o| o.kind == PermissionOptionKind::AllowAlways)
        .and_then(|o| o.rule.clone())
        .expect("allow_always names its rule");
    let resolution = answer_permission(
        &server.client(),
        &session_id,
        &request.request_id,
        json!({"decision": "allow", "remember": true}),
    )
    .await
    .expect("200");
    assert!(resolution.remember);
    assert_eq!(resolution.rule.as_deref(), Some(offered_rule.as_str()));
    assert_completed(&events_until(&mut ws, is_turn_completed).await);
    assert!(has_file(&server, &session_id, APPROVED_FILE).await);
    let snapshot = settled_snapshot(&server, &session_id).await;
    assert_eq!(snapshot.state.session_rules, vec![offered_rule.clone()]);

    // The same call again: the rule answers; nobody is asked, and the tool runs.
    within(server.client().delete_file(&session_id, APPROVED_FILE))
        .await
        .unwrap();
    let before = model.message_requests().len();
    within(ws.send_message(&session_id, "touch it once more", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert_completed(&events);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.event, SessionEvent::PermissionRequested(_))),
        "asked again: {:?}",
        events
            .iter()
            .map(|e| event_type(&e.event))
            .collect::<Vec<_>>()
    );
    let second_call = bash_tool_use_ids(&events);
    assert_eq!(second_call.len(), 1, "one more Bash call");
    let result = tool_result_for(&model, &second_call[0]);
    assert_eq!(
        result["is_error"].as_bool().unwrap_or(false),
        false,
        "{result}"
    );
    assert!(model.message_requests().len() > before);
    assert!(has_file(&server, &session_id, APPROVED_FILE).await);
    let snapshot = settled_snapshot(&server, &session_id).await;
    assert_eq!(snapshot.state.permissions.len(), 1, "asked once in all");
    assert_eq!(snapshot.state.session_rules, vec![offered_rule]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_deny_rule_refuses_the_call_without_asking() {
    let (model, server) = start().await;
    put_profile(
        &server,
        AgentProfile {
            id: "no-touch".into(),
            permission_mode: Some(PermissionMode::Default),
            permissions: PermissionRules {
                deny: vec!["Bash(touch *)".into()],
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let session_id = create_session(&server, with_profile("no-touch")).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "please touch the file", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert_completed(&events);
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
    let calls = bash_tool_use_ids(&events);
    assert_eq!(calls.len(), 1, "the model made the call");
    let result = tool_result_for(&model, &calls[0]);
    assert_eq!(result["is_error"], true, "{result}");
    assert!(!has_file(&server, &session_id, APPROVED_FILE).await);
    let snapshot = settled_snapshot(&server, &session_id).await;
    assert!(said(&snapshot.state.blocks, SAID_ERROR));
    assert!(snapshot.state.permissions.is_empty());
    assert_eq!(snapshot.state.status, SessionStatus::Idle);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_answered_over_websocket_reaches_the_model() {
    let (model, server) = start().await;
    let session_id = create_session(&server, asking()).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "ask me for a color", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, |e| {
        matches!(e.event, SessionEvent::QuestionRequested(_))
    })
    .await;
    let request: QuestionRequest = match &events.last().unwrap().event {
        SessionEvent::QuestionRequested(request) => request.clone(),
        _ => unreachable!(),
    };
    assert_eq!(request.questions.len(), 1);
    let question = &request.questions[0];
    assert_eq!(question.question, "Which color?");
    assert_eq!(question.header.as_deref(), Some("Color"));
    let labels: Vec<&str> = question.options.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, vec!["Red", "Blue"]);
    assert!(!question.multi_select);
    let snapshot = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    assert_eq!(snapshot.state.status, SessionStatus::RequiresAction);

    let id = ws.new_id();
    let data = within(ws.call(ClientFrame::AnswerQuestion {
        id,
        session_id: session_id.clone(),
        request_id: request.request_id.clone(),
        answers: BTreeMap::from([(
            "Which color?".to_string(),
            QuestionAnswer::One("Blue".into()),
        )]),
    }))
    .await
    .expect("answered");
    let data = data.expect("the resolution");
    assert_eq!(data["requestId"], request.request_id.as_str());
    assert_eq!(data["by"], "user");
    assert_eq!(data["answers"]["Which color?"], "Blue");

    let events = events_until(&mut ws, is_turn_completed).await;
    assert_completed(&events);
    assert!(events
        .iter()
        .any(|e| matches!(&e.event, SessionEvent::QuestionResolved(r) if r.request_id == request.request_id)));
    let result = tool_result_for(&model, request.tool_use_id.as_deref().expect("toolUseId"));
    assert_eq!(
        result["is_error"].as_bool().unwrap_or(false),
        false,
        "{result}"
    );
    assert!(result.to_string().contains("Blue"), "{result}");
    let snapshot = settled_snapshot(&server, &session_id).await;
    assert_eq!(snapshot.state.status, SessionStatus::Idle);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_times_out_as_denied_and_a_late_answer_is_gone() {
    let (model, server) = start().await;
    put_profile(
        &server,
        AgentProfile {
            id: "impatient".into(),
            permission_mode: Some(PermissionMode::Default),
            approval_timeout_secs: Some(2),
            ..Default::default()
        },
    )
    .await;
    let session_id = create_session(&server, with_profile("impatient")).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "please touch the file", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;
    let events = events_until(&mut ws, |e| {
        matches!(e.event, SessionEvent::PermissionResolved(_))
    })
    .await;
    let resolution = resolved_in(&events).pop().unwrap();
    assert_eq!(resolution.request_id, request.request_id);
    assert_eq!(resolution.by, ResolvedBy::Timeout);
    assert_eq!(resolution.decision, PermissionDecision::Deny);
    // Not before it was due (time stamps sort as text).
    assert!(
        resolution.at >= request.expires_at,
        "{} {}",
        resolution.at,
        request.expires_at
    );

    assert_completed(&events_until(&mut ws, is_turn_completed).await);
    let result = tool_result_for(&model, request.tool_use_id.as_deref().unwrap());
    assert_eq!(result["is_error"], true, "{result}");
    assert!(!has_file(&server, &session_id, APPROVED_FILE).await);

    let late = raw_answer(
        &server.client(),
        &session_id,
        &request.request_id,
        json!({"decision": "allow"}),
    )
    .await;
    assert_problem(late, 410, "request_expired").await;
    let snapshot = settled_snapshot(&server, &session_id).await;
    assert_eq!(snapshot.state.status, SessionStatus::Idle);
    server.shutdown().await;
}

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
    let mut ws = within(client.connect_ws(WsAuth::None)).await.unwrap();
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    within(ws.send_message(&session_id, "please touch the file", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;
    child.start_kill().expect("SIGKILL");
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the binary dies")
        .unwrap();
    drop(ws);

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
    let mut ws = within(client.connect_ws(WsAuth::None)).await.unwrap();
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    within(ws.send_message(&session_id, "please touch the file", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;

    child.start_kill().expect("SIGKILL");
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the binary dies")
        .unwrap();
    drop(ws);

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
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.event, SessionEvent::PermissionRequested(_))),
        "asked again: {:?}",
        events
            .iter()
            .map(|e| event_type(&e.event))
            .collect::<Vec<_>>()
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_clients_answering_at_once_over_rest_and_websocket_exactly_one_wins_and_the_other_sees_its_answer(
) {
    let (_model, server) = start().await;
    let session_id = create_session(&server, asking()).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "please touch the file", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;

    // One answers over REST, the other over a WebSocket of its own.
    let rest_client = server.client();
    let mut other = server.ws().await;
    let allow = AnswerPermissionRequest {
        decision: PermissionDecision::Allow,
        remember: false,
        save_to_profile: false,
        message: None,
        option_id: None,
    };
    let deny = AnswerPermissionRequest {
        decision: PermissionDecision::Deny,
        message: Some("no".into()),
        ..allow.clone()
    };
    let (a, b) = within(async {
        tokio::join!(
            rest_client.answer_permission(&session_id, &request.request_id, &allow),
            other.answer_permission(&session_id, &request.request_id, deny),
        )
    })
    .await;
    let (winner, loser) = match (a, b) {
        (Ok(winner), Err(loser)) | (Err(loser), Ok(winner)) => (winner, loser),
        other => panic!("expected one 200 and one error, got {other:?}"),
    };
    match loser {
        ClientError::Api { status, problem } => {
            assert_eq!((status, problem.code.as_str()), (409, "already_resolved"));
            assert_eq!(
                problem.resolution,
                Some(Box::new(serde_json::to_value(&winner).unwrap()))
            );
        }
        other => panic!("{other:?}"),
    }
    let events = events_until(&mut ws, is_turn_completed).await;
    assert_eq!(resolved_in(&events), vec![winner]);
    assert_completed(&events);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_are_refused_and_leave_the_request_pending() {
    let (_model, server) = start().await;
    let client = server.client();
    let session_id = create_session(&server, asking()).await;
    let other_session = create_session(&server, asking()).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "please touch the file", None))
        .await
        .unwrap();
    let request = next_permission(&mut ws).await;
    let id = request.request_id.as_str();

    let unknown_decision = raw_answer(&client, &session_id, id, json!({"decision": "maybe"})).await;
    assert_eq!(unknown_decision.status().as_u16(), 400);
    assert_problem_json(unknown_decision).await;
    assert_problem(
        raw_answer(&client, &other_session, id, json!({"decision": "allow"})).await,
        404,
        "request_not_found",
    )
    .await;
    assert_problem(
        raw_answer(
            &client,
            &session_id,
            id,
            json!({"decision": "deny", "message": "x".repeat(5000)}),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        raw_answer(
            &client,
            &session_id,
            id,
            json!({"decision": "allow", "optionId": "allow_forever"}),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;

    // Nothing changed: still pending, still the only event since the request.
    let snapshot = within(client.get_session(&session_id)).await.unwrap();
    let pending: Vec<&str> = snapshot
        .state
        .pending_permissions()
        .map(|r| r.request.request_id.as_str())
        .collect();
    assert_eq!(pending, vec![id]);
    assert_eq!(snapshot.state.status, SessionStatus::RequiresAction);
    assert_quiet(&mut ws).await;

    let resolution = answer_permission(&client, &session_id, id, json!({"decision": "allow"}))
        .await
        .expect("still answerable");
    assert_eq!(resolution.decision, PermissionDecision::Allow);
    assert_completed(&events_until(&mut ws, is_turn_completed).await);

    // Asking modes need an agent that can ask.
    let gemini = within(client.create_session(&CreateSessionRequest {
        agent: Some("gemini-cli".into()),
        permission_mode: Some(PermissionMode::Default),
        ..Default::default()
    }))
    .await;
    assert_eq!(
        code_of(gemini),
        (400, "unsupported_permission_mode".to_string())
    );
    let agents = within(client.list_agents()).await.unwrap();
    let approvals = |id: &str| {
        agents
            .iter()
            .find(|a| a.id == id)
            .unwrap_or_else(|| panic!("{id} listed"))
            .capabilities
            .approvals
    };
    assert!(approvals("claude-code"));
    assert!(!approvals("gemini-cli"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reached_turn_budget_holds_messages_until_raised_or_approved_once() {
    let (_model, server) = start().await;
    let client = server.client();
    let one_turn = CreateSessionRequest {
        budget: Some(Budget {
            max_turns: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    };

    // Raised: PATCH the budget and the held message runs.
    let session_id = create_session(&server, one_turn.clone()).await;
    let mut ws = subscribed(&server, &session_id).await;
    run_turn_to_budget_exceeded(&mut ws, &session_id).await;
    assert_eq!(
        status_of(&server, &session_id).await,
        SessionStatus::RequiresAction
    );
    assert_eq!(
        listed_status(&client, &session_id).await,
        SessionStatus::RequiresAction
    );
    let held = within(ws.send_message(&session_id, "hello again", None))
        .await
        .unwrap();
    assert!(held.queued);
    assert_no_turn_starts(&mut ws).await;
    within(client.patch_session(
        &session_id,
        &PatchSessionRequest {
            budget: Some(Budget {
                max_turns: Some(5),
                ..Default::default()
            }),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert_eq!(started_turns(&events), vec![held.turn_id.clone()]);
    assert_completed(&events);
    assert_eq!(status_of(&server, &session_id).await, SessionStatus::Idle);

    // Approved: the held message runs once, then the limit holds again.
    let session_id = create_session(&server, one_turn).await;
    let mut ws = subscribed(&server, &session_id).await;
    run_turn_to_budget_exceeded(&mut ws, &session_id).await;
    let held = within(ws.send_message(&session_id, "hello again", None))
        .await
        .unwrap();
    assert!(held.queued);
    assert_no_turn_starts(&mut ws).await;
    let path = format!("/api/sessions/{session_id}/budget/approve");
    let approval: Value = within(async {
        rest::json(client.request(Method::POST, &path).send().await.unwrap()).await
    })
    .await
    .expect("200");
    assert_eq!(approval["kind"], "turns");
    let events = events_until(&mut ws, |e| {
        matches!(e.event, SessionEvent::BudgetExceeded(_))
    })
    .await;
    assert_eq!(started_turns(&events), vec![held.turn_id.clone()]);
    assert_completed(&events[..events.len() - 1]);
    let again = within(ws.send_message(&session_id, "and once more", None))
        .await
        .unwrap();
    assert!(again.queued, "the approval let one turn through, not two");
    assert_no_turn_starts(&mut ws).await;
    assert_eq!(
        status_of(&server, &session_id).await,
        SessionStatus::RequiresAction
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Bash `touch approved.txt` for a prompt that mentions "touch" (or the runtime's continuation
/// after a restart), AskUserQuestion for one that mentions "color"; after a tool result, a text
/// telling whether it was an error; plain text otherwise.
fn approvals_scenario() -> Scenario {
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

async fn scripted_model() -> ScriptedModelServer {
    ScriptedModelServer::start(approvals_scenario())
        .await
        .unwrap()
}

/// The scripted model and a server running Claude Code against it, on SQLite.
async fn start() -> (ScriptedModelServer, TestServer) {
    let model = scripted_model().await;
    let server = agent_server(&model, Setup::CLAUDE_SQLITE).await;
    (model, server)
}

/// Starts the real binary on a SQLite store in `data_dir`, pointed at the scripted model.
async fn spawn_binary(
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
fn asking() -> CreateSessionRequest {
    CreateSessionRequest {
        agent: Some("claude-code".into()),
        permission_mode: Some(PermissionMode::Default),
        ..Default::default()
    }
}

/// A Claude Code session of a profile.
fn with_profile(profile: &str) -> CreateSessionRequest {
    CreateSessionRequest {
        agent: Some("claude-code".into()),
        profile: Some(profile.into()),
        ..Default::default()
    }
}

async fn create_session(server: &TestServer, request: CreateSessionRequest) -> String {
    within(server.client().create_session(&request))
        .await
        .expect("create session")
        .session_id
}

async fn put_profile(server: &TestServer, profile: AgentProfile) {
    within(server.client().put_profile(&profile))
        .await
        .expect("put profile");
}

/// A WebSocket subscribed to the session from its start.
async fn subscribed(server: &TestServer, session_id: &str) -> agent_runtime_client::WsConnection {
    let mut ws = server.ws().await;
    within(ws.subscribe(session_id, 0)).await.unwrap();
    ws
}

/// Events until the next `permission_requested`, which is returned.
async fn next_permission(ws: &mut agent_runtime_client::WsConnection) -> PermissionRequest {
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
async fn raw_answer(
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
async fn answer_permission(
    client: &Client,
    session_id: &str,
    request_id: &str,
    body: Value,
) -> Result<PermissionResolution, ClientError> {
    rest::json(raw_answer(client, session_id, request_id, body).await).await
}

/// Asserts a response is a problem+json, whatever its code.
async fn assert_problem_json(response: reqwest::Response) {
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
async fn listed_status(client: &Client, session_id: &str) -> SessionStatus {
    let list = within(client.list_sessions(None, Some(100))).await.unwrap();
    list.sessions
        .iter()
        .find(|s| s.session_id == session_id)
        .expect("listed")
        .status
}

/// The session's status in its snapshot (state and session agree).
async fn status_of(server: &TestServer, session_id: &str) -> SessionStatus {
    let snapshot = within(server.client().get_session(session_id))
        .await
        .unwrap();
    assert_eq!(snapshot.session.status, snapshot.state.status);
    snapshot.state.status
}

/// The snapshot once the session is idle or waits (turn-end bookkeeping is written right after
/// `turn_completed`).
async fn settled_snapshot(
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

async fn has_file(server: &TestServer, session_id: &str, path: &str) -> bool {
    within(server.client().list_files(session_id))
        .await
        .unwrap()
        .iter()
        .any(|f| f.path == path)
}

/// The `permission_resolved` events among `events`.
fn resolved_in(events: &[Envelope]) -> Vec<PermissionResolution> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::PermissionResolved(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// The ids of the Bash calls among `events`.
fn bash_tool_use_ids(events: &[Envelope]) -> Vec<String> {
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
fn started_turns(events: &[Envelope]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::TurnStarted { turn_id, .. } => Some(turn_id.clone()),
            _ => None,
        })
        .collect()
}

/// Asserts the last `turn_completed` among `events` ended normally.
fn assert_completed(events: &[Envelope]) {
    let reason = events.iter().rev().find_map(|e| match &e.event {
        SessionEvent::TurnCompleted { reason, .. } => Some(*reason),
        _ => None,
    });
    assert_eq!(reason, Some(TurnEndReason::Completed));
}

/// Whether the assistant said `text` in one of `blocks`.
fn said(blocks: &[Block], text: &str) -> bool {
    blocks
        .iter()
        .any(|b| matches!(b, Block::AssistantText(t) if t.text.contains(text)))
}

/// The `tool_result` block the model was sent for `tool_use_id`.
fn tool_result_for(model: &ScriptedModelServer, tool_use_id: &str) -> Value {
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
async fn run_turn_to_budget_exceeded(
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
async fn assert_no_turn_starts(ws: &mut agent_runtime_client::WsConnection) {
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
