use std::collections::BTreeMap;

use agent_runtime_client::ClientError;
use agent_runtime_protocol::{
    AgentProfile, AnswerPermissionRequest, ClientFrame, CreateSessionRequest, PermissionDecision,
    PermissionMode, PermissionOptionKind, PermissionRules, QuestionAnswer, QuestionRequest,
    ResolvedBy, SessionEvent, SessionStatus, TurnEndReason,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::support::*;
use crate::suite::agent::*;
use crate::suite::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_request_runs_the_tool_and_the_status_goes_from_requires_action_to_idle() {
    let (model, server) = start().await;
    let session_id = create_session(&server, asking()).await;
    let (mut ws, request) = ask_to_touch(&server, &session_id).await;

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
    let (mut ws, request) = ask_to_touch(&server, &session_id).await;
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
    let (mut ws, request) = ask_to_touch(&server, &session_id).await;
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
    assert_never_asked(&events);
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
    assert_never_asked(&events);
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
    let (mut ws, request) = ask_to_touch(&server, &session_id).await;
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
async fn of_two_clients_answering_at_once_over_rest_and_websocket_exactly_one_wins_and_the_other_sees_its_answer(
) {
    let (_model, server) = start().await;
    let session_id = create_session(&server, asking()).await;
    let (mut ws, request) = ask_to_touch(&server, &session_id).await;

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
    let (mut ws, request) = ask_to_touch(&server, &session_id).await;
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
async fn interrupting_a_turn_closes_its_pending_request_and_a_late_answer_is_gone() {
    let (_model, server) = start().await;
    let session_id = create_session(&server, asking()).await;
    let (mut ws, request) = ask_to_touch(&server, &session_id).await;
    let interrupted = within(server.client().interrupt(&session_id))
        .await
        .unwrap();
    assert!(interrupted.turn_id.is_some());
    let events = events_until(&mut ws, is_turn_completed).await;
    let resolution = resolved_in(&events).pop().expect("closed with its turn");
    assert_eq!(resolution.request_id, request.request_id);
    assert_eq!(resolution.by, ResolvedBy::Runtime);
    assert_eq!(resolution.decision, PermissionDecision::Deny);
    let Some(SessionEvent::TurnCompleted { reason, .. }) = events.last().map(|e| &e.event) else {
        unreachable!()
    };
    assert_eq!(*reason, TurnEndReason::Interrupted);
    let late = raw_answer(
        &server.client(),
        &session_id,
        &request.request_id,
        json!({"decision": "allow"}),
    )
    .await;
    assert_problem(late, 410, "request_expired").await;
    assert!(!has_file(&server, &session_id, APPROVED_FILE).await);
    assert_eq!(status_of(&server, &session_id).await, SessionStatus::Idle);
    server.shutdown().await;
}
