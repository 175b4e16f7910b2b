//! The translator's protocol paths that captures of a healthy agent do not show: refusals,
//! failures, malformed lines, plans, and interrupts with a request pending.

use agent_runtime_protocol::{Block, PlanEntryStatus, SessionEvent, TurnEndReason};
use serde_json::{json, Value};

use super::*;

const AT: &str = "2026-01-01T00:00:00Z";

fn translator(load: Option<&str>) -> AcpTranslator {
    AcpTranslator::new(TranslatorContext {
        acp: AcpSessionSetup {
            cwd: "/workspace".into(),
            load: load.map(str::to_string),
            mcp_servers: Vec::new(),
        },
        redact: vec!["sk-secret-value".into()],
        ..TranslatorContext::default()
    })
}

fn feed(t: &mut AcpTranslator, message: Value) -> Vec<AgentOutput> {
    t.translate_line(&message.to_string(), AT)
}

fn stdin(outputs: &[AgentOutput]) -> Vec<Value> {
    outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::WriteStdin(line) => Some(serde_json::from_str(line).unwrap()),
            _ => None,
        })
        .collect()
}

fn finished(outputs: &[AgentOutput]) -> Option<&TurnOutcome> {
    outputs.iter().find_map(|o| match o {
        AgentOutput::TurnFinished(outcome) => Some(outcome),
        _ => None,
    })
}

/// Opens a new session `s1` and starts a prompt (request id 3).
fn open(t: &mut AcpTranslator, can_load: bool) -> Vec<AgentOutput> {
    t.start_lines();
    let mut out = feed(
        t,
        json!({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": 1, "agentCapabilities": {"loadSession": can_load}}}),
    );
    out.extend(feed(
        t,
        json!({"jsonrpc": "2.0", "id": 2, "result": {"sessionId": "s1"}}),
    ));
    out
}

fn update(update: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s1", "update": update}})
}

#[test]
fn a_message_waits_for_the_session_and_goes_out_when_it_opens() {
    let mut t = translator(None);
    let start = t.start_lines();
    assert!(start[0].contains("\"initialize\""));
    assert!(t.user_message("hello").is_empty());
    let out = feed(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 1, "result": {"agentCapabilities": {}}}),
    );
    assert_eq!(stdin(&out)[0]["method"], "session/new");
    let out = feed(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 2, "result": {"sessionId": "s1"}}),
    );
    assert!(matches!(&out[0], AgentOutput::AgentSessionId(id) if id == "s1"));
    let prompt = &stdin(&out)[0];
    assert_eq!(prompt["method"], "session/prompt");
    assert_eq!(prompt["params"]["prompt"][0]["text"], "hello");
}

#[test]
fn an_agent_that_cannot_load_starts_afresh_with_a_warning() {
    let mut t = translator(Some("old"));
    t.start_lines();
    let out = feed(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 1, "result": {"agentCapabilities": {"loadSession": false}}}),
    );
    assert_eq!(stdin(&out)[0]["method"], "session/new");
    assert!(out
        .iter()
        .any(|o| matches!(o, AgentOutput::Event(SessionEvent::Warning { .. }))));
}

#[test]
fn a_failed_load_falls_back_to_a_new_session() {
    let mut t = translator(Some("gone"));
    t.start_lines();
    let out = feed(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 1, "result": {"agentCapabilities": {"loadSession": true}}}),
    );
    let load = &stdin(&out)[0];
    assert_eq!(
        (
            load["method"].as_str(),
            load["params"]["sessionId"].as_str()
        ),
        (Some("session/load"), Some("gone"))
    );
    let out = feed(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 2, "error": {"code": -32002, "message": "Session not found"}}),
    );
    assert_eq!(stdin(&out)[0]["method"], "session/new");
    assert!(out.iter().any(|o| matches!(o, AgentOutput::Event(SessionEvent::Warning { message, .. }) if message.contains("Session not found"))));
}

#[test]
fn an_agent_that_refuses_to_start_ends_the_waiting_turn_and_every_later_one() {
    let mut t = translator(None);
    t.start_lines();
    t.user_message("hi");
    let out = feed(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "Authentication required"}}),
    );
    let outcome = finished(&out).expect("the turn ends");
    assert_eq!(outcome.reason, TurnEndReason::Error);
    let error = outcome.error.as_ref().unwrap();
    assert!(
        error.message.contains("Authentication required"),
        "{}",
        error.message
    );
    let again = t.user_message("again");
    assert_eq!(finished(&again).unwrap().reason, TurnEndReason::Error);
    assert!(t
        .exit_error(Some(1))
        .message
        .contains("Authentication required"));
}

#[test]
fn an_exit_before_the_session_opened_says_so() {
    let mut t = translator(None);
    t.start_lines();
    let error = t.exit_error(Some(2));
    assert!(
        error.message.contains("before its ACP session was open"),
        "{}",
        error.message
    );
    assert_eq!(error.exit_code, Some(2));
}

#[test]
fn malformed_lines_become_warnings_and_secrets_are_redacted() {
    let mut t = translator(None);
    let out = t.translate_line("{not json sk-secret-value", AT);
    match &out[..] {
        [AgentOutput::Event(SessionEvent::Warning { raw: Some(raw), .. })] => {
            assert!(
                raw.contains("[REDACTED]") && !raw.contains("sk-secret-value"),
                "{raw}"
            )
        }
        other => panic!("{other:?}"),
    }
    let out = t.translate_line("[1, 2]", AT);
    assert!(matches!(
        &out[..],
        [AgentOutput::Event(SessionEvent::Warning { .. })]
    ));
    let out = feed(&mut t, json!({"jsonrpc": "2.0", "id": 99, "result": {}}));
    assert!(matches!(
        &out[..],
        [AgentOutput::Event(SessionEvent::Warning { .. })]
    ));
}

#[test]
fn file_and_terminal_requests_are_declined() {
    let mut t = translator(None);
    open(&mut t, false);
    for method in ["fs/read_text_file", "terminal/create", "x/unknown"] {
        let out = feed(
            &mut t,
            json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": {}}),
        );
        let reply = &stdin(&out)[0];
        assert_eq!(reply["id"], 7);
        assert_eq!(reply["error"]["code"], rpc::METHOD_NOT_FOUND, "{method}");
    }
}

#[test]
fn plans_open_one_block_per_turn_whose_entries_each_plan_replaces() {
    let mut t = translator(None);
    open(&mut t, false);
    t.user_message("plan it");
    let plan = |status: &str| {
        update(json!({"sessionUpdate": "plan", "entries": [
            {"content": "read", "priority": "high", "status": "completed"},
            {"content": "write", "priority": "low", "status": status}]}))
    };
    let first = feed(&mut t, plan("pending"));
    let id = match &first[..] {
        [AgentOutput::Event(SessionEvent::BlockStart {
            block: Block::Plan(p),
            ..
        })] => {
            assert_eq!(p.entries.len(), 2);
            p.id.clone()
        }
        other => panic!("{other:?}"),
    };
    let second = feed(&mut t, plan("in_progress"));
    match &second[..] {
        [AgentOutput::Event(SessionEvent::BlockUpdate {
            block_id, updates, ..
        })] => {
            assert_eq!(block_id, &id);
            assert_eq!(
                updates.entries.as_ref().unwrap()[1].status,
                PlanEntryStatus::InProgress
            );
        }
        other => panic!("{other:?}"),
    }
    let end = feed(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 3, "result": {"stopReason": "end_turn"}}),
    );
    let completed = end.iter().find_map(|o| match o {
        AgentOutput::Event(SessionEvent::BlockComplete {
            block: Block::Plan(p),
            ..
        }) => Some(p),
        _ => None,
    });
    assert_eq!(
        completed.unwrap().entries[1].status,
        PlanEntryStatus::InProgress
    );
    assert_eq!(finished(&end).unwrap().reason, TurnEndReason::Completed);
}

#[test]
fn an_interrupt_cancels_the_session_and_answers_pending_requests_cancelled() {
    let mut t = translator(None);
    open(&mut t, false);
    t.user_message("go");
    feed(
        &mut t,
        update(
            json!({"sessionUpdate": "tool_call", "toolCallId": "c1", "title": "rm -rf x", "kind": "execute", "status": "pending", "rawInput": {"command": "rm -rf x"}}),
        ),
    );
    let ask = feed(
        &mut t,
        json!({"jsonrpc": "2.0", "id": "p1", "method": "session/request_permission", "params": {
        "sessionId": "s1", "toolCall": {"toolCallId": "c1", "title": "rm -rf x", "kind": "execute", "rawInput": {"command": "rm -rf x"}},
        "options": [{"optionId": "a", "kind": "allow_once", "name": "Allow"}, {"optionId": "r", "kind": "reject_once", "name": "Reject"}]}}),
    );
    match &ask[..] {
        [AgentOutput::Ask(ask)] => {
            assert_eq!(ask.agent_request_id, "\"p1\"");
            assert!(matches!(&ask.kind, AskKind::Permission { tool, .. } if tool == "Bash"));
        }
        other => panic!("{other:?}"),
    }
    t.note_interrupt_requested();
    let lines: Vec<Value> = t
        .encode_interrupt()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["method"], "session/cancel");
    assert_eq!(lines[1]["id"], "p1");
    assert_eq!(lines[1]["result"]["outcome"]["outcome"], "cancelled");
    // Answered already: a late reply from the user is not sent twice.
    assert!(t
        .encode_ask_reply(
            "\"p1\"",
            &AskReply::Deny {
                message: "no".into()
            }
        )
        .is_none());
    let end = feed(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 3, "result": {"stopReason": "cancelled"}}),
    );
    assert_eq!(finished(&end).unwrap().reason, TurnEndReason::Interrupted);
    // The call the agent never finished is closed as an error.
    assert!(end.iter().any(
        |o| matches!(o, AgentOutput::Event(SessionEvent::BlockUpdate { block_id, updates, .. })
        if block_id == "c1" && updates.status == Some(agent_runtime_protocol::ToolStatus::Error))
    ));
}

#[test]
fn replies_pick_the_agents_own_options() {
    let mut t = translator(None);
    open(&mut t, false);
    t.user_message("go");
    let request = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "session/request_permission", "params": {
        "sessionId": "s1", "toolCall": {"toolCallId": "c", "kind": "edit"},
        "options": [{"optionId": "once", "kind": "allow_once"}, {"optionId": "always", "kind": "allow_always"},
                    {"optionId": "no", "kind": "reject_once"}]}})
    };
    let option = |line: String| {
        serde_json::from_str::<Value>(&line).unwrap()["result"]["outcome"]["optionId"].clone()
    };
    feed(&mut t, request(10));
    let allow = AskReply::Allow {
        input: Value::Null,
        suggestions: Vec::new(),
    };
    assert_eq!(option(t.encode_ask_reply("10", &allow).unwrap()), "once");
    feed(&mut t, request(11));
    let always = AskReply::Allow {
        input: Value::Null,
        suggestions: vec![json!({"optionId": "always", "kind": "allow_always"})],
    };
    assert_eq!(option(t.encode_ask_reply("11", &always).unwrap()), "always");
    feed(&mut t, request(12));
    assert_eq!(
        option(
            t.encode_ask_reply(
                "12",
                &AskReply::Deny {
                    message: "no".into()
                }
            )
            .unwrap()
        ),
        "no"
    );
}

#[test]
fn turn_cost_is_the_growth_of_the_sessions_cost() {
    let mut t = translator(None);
    open(&mut t, false);
    feed(
        &mut t,
        update(
            json!({"sessionUpdate": "usage_update", "used": 1, "size": 10, "cost": {"amount": 0.5, "currency": "USD"}}),
        ),
    );
    t.user_message("go");
    feed(
        &mut t,
        update(
            json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "hi"}}),
        ),
    );
    feed(
        &mut t,
        update(
            json!({"sessionUpdate": "usage_update", "used": 1, "size": 10, "cost": {"amount": 0.75, "currency": "USD"}}),
        ),
    );
    let end = feed(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 3, "result": {"stopReason": "end_turn",
        "usage": {"inputTokens": 5, "outputTokens": 6, "cachedReadTokens": 7, "cachedWriteTokens": 8, "totalTokens": 26}}}),
    );
    let outcome = finished(&end).unwrap();
    assert!(
        (outcome.cost_usd - 0.25).abs() < 1e-9,
        "{}",
        outcome.cost_usd
    );
    assert_eq!(
        (
            outcome.usage.input_tokens,
            outcome.usage.output_tokens,
            outcome.usage.cache_read_input_tokens,
            outcome.usage.cache_creation_input_tokens
        ),
        (5, 6, 7, 8)
    );
}

#[test]
fn a_failed_prompt_carries_the_agents_detail_and_status() {
    let mut t = translator(None);
    open(&mut t, false);
    t.user_message("go");
    let end = feed(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 3, "error": {"code": -32603, "message": "Internal error",
        "data": {"message": "unexpected status 400 Bad Request: scripted bad request", "codex_error_info": "other"}}}),
    );
    let error = finished(&end).unwrap().error.clone().unwrap();
    assert_eq!(
        error.message,
        "Internal error: unexpected status 400 Bad Request: scripted bad request"
    );
    assert_eq!(error.http_status, Some(400));
    assert_eq!(http_status_in("no code here"), None);
    assert_eq!(http_status_in("status: 503"), Some(503));
}
