use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use super::*;
use crate::request::MessagesRequest;
use crate::scenario::Response;

fn anthropic(body: &Value) -> ModelRequest<'_> {
    ModelRequest::Anthropic(MessagesRequest::new(body))
}

fn prompt(text: &str) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "stream": true,
        "tools": [{"name": "Write"}],
        "messages": [{"role": "user", "content": text}]
    })
}

fn after_tool(name: &str, is_error: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "stream": true,
        "tools": [{"name": name}],
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": name, "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x", "is_error": is_error}]}
        ]
    })
}

fn select(state: &mut ScenarioState, body: &Value) -> Option<usize> {
    state
        .select(&anthropic(body))
        .map(|selection| selection.index)
}

fn rule(when: Matcher) -> Rule {
    Rule::new(when, Response::text("x"))
}

#[test]
fn first_matching_rule_wins() {
    let mut state = ScenarioState::new(Scenario::new(vec![
        rule(Matcher::last_user_text_contains("HELLO")),
        rule(Matcher::default()),
    ]));
    assert_eq!(select(&mut state, &prompt("well, hello there")), Some(0));
    assert_eq!(select(&mut state, &prompt("bye")), Some(1));
}

#[test]
fn once_and_times_exhaust_rules() {
    let mut state = ScenarioState::new(Scenario::new(vec![
        rule(Matcher::default()).once(),
        rule(Matcher::default()).times(2),
    ]));
    let body = prompt("x");
    let picks: Vec<_> = (0..4).map(|_| select(&mut state, &body)).collect();
    assert_eq!(picks, vec![Some(0), Some(1), Some(1), None]);
}

#[test]
fn hit_counts_are_reported_and_reset_by_a_new_state() {
    let scenario = Scenario::new(vec![rule(Matcher::default())]);
    let mut state = ScenarioState::new(scenario.clone());
    let body = prompt("x");
    let request = anthropic(&body);
    assert_eq!(state.select(&request), Some(Selection { index: 0, hit: 0 }));
    assert_eq!(state.select(&request), Some(Selection { index: 0, hit: 1 }));
    let mut state = ScenarioState::new(scenario);
    assert_eq!(state.select(&request), Some(Selection { index: 0, hit: 0 }));
}

#[test]
fn tool_result_matcher_checks_name_and_error_flag() {
    let write_error = Matcher {
        tool_result: Some(ToolResultMatcher {
            tool_name: Some("Write".into()),
            is_error: Some(true),
        }),
        ..Matcher::default()
    };
    let request_ok = after_tool("Write", false);
    let request_err = after_tool("Write", true);
    let request_bash = after_tool("Bash", true);
    assert!(!write_error.matches(&anthropic(&request_ok)));
    assert!(write_error.matches(&anthropic(&request_err)));
    assert!(!write_error.matches(&anthropic(&request_bash)));
    let any_result = Matcher::tool_result(None);
    assert!(any_result.matches(&anthropic(&request_bash)));
    assert!(!any_result.matches(&anthropic(&prompt("go"))));
}

#[test]
fn model_tools_stream_and_system_matchers() {
    let body = json!({
        "model": "claude-3-5-HAIKU",
        "system": "You write titles",
        "messages": [{"role": "user", "content": "x"}]
    });
    let request = anthropic(&body);
    let holds = |matcher: Matcher| matcher.matches(&request);
    assert!(holds(Matcher {
        model_contains: Some("haiku".into()),
        ..Matcher::default()
    }));
    assert!(holds(Matcher {
        has_tools: Some(false),
        stream: Some(false),
        system_contains: Some("titles".into()),
        ..Matcher::default()
    }));
    assert!(!holds(Matcher {
        has_tools: Some(true),
        ..Matcher::default()
    }));
}

#[test]
fn any_of_and_not_combine() {
    let matcher = Matcher {
        any_of: vec![
            Matcher::last_user_text_contains("create"),
            Matcher::last_user_text_contains("write"),
        ],
        not: Some(Box::new(Matcher::last_user_text_contains("never"))),
        ..Matcher::default()
    };
    let holds = |text: &str| matcher.matches(&anthropic(&prompt(text)));
    assert!(holds("create a.txt"));
    assert!(holds("Write it"));
    assert!(!holds("read it"));
    assert!(!holds("never write it"));
}

#[test]
fn side_requests_only_reach_rules_that_opt_in() {
    let probe =
        json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "quota"}]});
    let mut state = ScenarioState::new(Scenario::new(vec![rule(Matcher::default())]));
    assert_eq!(select(&mut state, &probe), None);

    let mut state = ScenarioState::new(Scenario::new(vec![
        rule(Matcher::default()).scope(RuleScope::Side),
        rule(Matcher::default()).scope(RuleScope::Any),
    ]));
    assert_eq!(select(&mut state, &probe), Some(0));
    assert_eq!(select(&mut state, &prompt("x")), Some(1));
}

#[test]
fn scenario_json_round_trips() {
    let json = r#"{
        "name": "example",
        "rules": [
            {
                "name": "first prompt",
                "when": {"lastUserTextContains": "create", "not": {"toolResult": {}}},
                "respond": {
                    "content": [
                        {"type": "thinking", "thinking": "plan"},
                        {"type": "text", "text": "ok"},
                        {"type": "tool_use", "name": "Write", "input": {"file_path": "{{cwd}}/a"}}
                    ],
                    "chunkDelayMs": 10,
                    "chunks": 4
                },
                "once": true
            },
            {
                "scope": "any",
                "when": {"toolResult": {"toolName": "Write", "isError": false}},
                "respond": {"error": {"status": 529, "message": "busy", "times": 1}, "content": [{"type": "text", "text": "done"}]}
            }
        ],
        "fallback": {"content": [{"type": "text", "text": "?"}], "stopReason": "end_turn"}
    }"#;
    let scenario = Scenario::from_json(json).unwrap();
    assert_eq!(scenario.rules.len(), 2);
    assert_eq!(scenario.rules[0].hit_limit(), Some(1));
    assert_eq!(scenario.rules[1].scope, RuleScope::Any);
    let again = serde_json::to_string(&scenario).unwrap();
    assert_eq!(Scenario::from_json(&again).unwrap(), scenario);

    let typo = Scenario::from_json(r#"{"rules": [{"respond": {}, "wen": {}}]}"#);
    assert!(typo.is_err(), "unknown fields are rejected");
}

#[test]
fn the_documented_json_example_parses() {
    let docs = include_str!("scenario.rs");
    let start = docs.find("//! ```json").unwrap();
    let end = start + docs[start..].find("//! ```\n").unwrap();
    let json: String = docs[start..end]
        .lines()
        .skip(1)
        .map(|line| line.trim_start_matches("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let scenario = Scenario::from_json(&json).unwrap();
    assert_eq!(scenario.rules.len(), 3);
    assert_eq!(scenario.rules[2].scope, RuleScope::Side);
}

#[test]
fn tool_names_match_across_agent_vocabularies_and_rules_can_pick_an_api() {
    let gemini_body = json!({
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "write_file", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse":
                {"id": "c1", "name": "write_file", "response": {"output": "ok"}}}]}
        ],
        "tools": [{"functionDeclarations": [{"name": "write_file"}]}]
    });
    let gemini = ModelRequest::Gemini(crate::gemini::GenerateContentRequest::new(
        &gemini_body,
        "gemini-2.5-pro",
        true,
    ));
    let claude_body = after_tool("Write", false);
    let claude = anthropic(&claude_body);
    for name in ["Write", "write_file"] {
        let matcher = Matcher::tool_result(Some(name));
        assert!(matcher.matches(&gemini), "{name} vs write_file");
        assert!(matcher.matches(&claude), "{name} vs Write");
    }
    assert!(!Matcher::tool_result(Some("Bash")).matches(&gemini));
    let only_gemini = Matcher {
        api: Some(crate::Api::Gemini),
        ..Matcher::default()
    };
    assert!(only_gemini.matches(&gemini));
    assert!(!only_gemini.matches(&claude));
}
