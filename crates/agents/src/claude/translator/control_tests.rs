//! Control requests, over hand-written lines and the real captures in
//! `crates/agents/fixtures/claude-approvals/` (Claude Code 2.1.328 against a scripted model, in
//! permission-prompt mode).

use std::path::PathBuf;

use agent_runtime_protocol::{Question, QuestionOption};
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use super::super::ClaudeTranslator;
use crate::output::{AgentAsk, AgentOutput, AskKind, TranslatorContext};

const AT: &str = "2026-01-01T00:00:00Z";

fn feed_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<AgentOutput> {
    let mut t = ClaudeTranslator::new(TranslatorContext::default());
    lines
        .into_iter()
        .flat_map(|l| t.translate_line(l, AT))
        .collect()
}

fn capture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/claude-approvals")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn asks(outputs: &[AgentOutput]) -> Vec<&AgentAsk> {
    outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::Ask(ask) => Some(ask),
            _ => None,
        })
        .collect()
}

#[test]
fn a_tool_prompt_becomes_a_permission_ask_with_the_clis_suggestions() {
    let line = json!({"type": "control_request", "request_id": "r1", "request": {
        "subtype": "can_use_tool", "tool_name": "Bash", "display_name": "Bash",
        "input": {"command": "touch x.txt", "description": "touch"}, "description": "touch",
        "permission_suggestions": [{"type": "setMode", "mode": "acceptEdits", "destination": "session"}],
        "tool_use_id": "toolu_1"}})
    .to_string();
    let outputs = feed_lines([line.as_str()]);
    assert_eq!(
        outputs,
        vec![AgentOutput::Ask(AgentAsk {
            agent_request_id: "r1".into(),
            tool_use_id: Some("toolu_1".into()),
            kind: AskKind::Permission {
                tool: "Bash".into(),
                input: json!({"command": "touch x.txt", "description": "touch"}),
                description: Some("touch".into()),
                suggestions: vec![
                    json!({"type": "setMode", "mode": "acceptEdits", "destination": "session"})
                ],
            },
        })]
    );
}

#[test]
fn a_withdrawn_prompt_is_reported_and_other_requests_are_refused() {
    let cancel = json!({"type": "control_cancel_request", "request_id": "r1"}).to_string();
    assert_eq!(
        feed_lines([cancel.as_str()]),
        vec![AgentOutput::AskWithdrawn {
            agent_request_id: "r1".into()
        }]
    );
    let other = json!({"type": "control_request", "request_id": "r2", "request": {"subtype": "mcp_message"}}).to_string();
    let outputs = feed_lines([other.as_str()]);
    let Some(AgentOutput::WriteStdin(line)) = outputs.last() else {
        panic!("{outputs:?}")
    };
    let reply: Value = serde_json::from_str(line.trim_end()).unwrap();
    assert_eq!(
        reply["response"],
        json!({"subtype": "error", "request_id": "r2", "error": "not supported by agent-runtime"})
    );
    // A tool prompt without a tool name cannot be shown to anyone: denied, never left waiting.
    let nameless = json!({"type": "control_request", "request_id": "r3", "request": {"subtype": "can_use_tool"}}).to_string();
    let outputs = feed_lines([nameless.as_str()]);
    let Some(AgentOutput::WriteStdin(line)) = outputs.last() else {
        panic!("{outputs:?}")
    };
    let reply: Value = serde_json::from_str(line.trim_end()).unwrap();
    assert_eq!(reply["response"]["response"]["behavior"], "deny");
}

#[test]
fn the_captured_allow_and_deny_run_asks_twice_for_bash() {
    let text = capture("can-use-tool-allow-deny.stream.jsonl");
    let outputs = feed_lines(text.lines());
    let asks = asks(&outputs);
    assert_eq!(asks.len(), 2, "{asks:?}");
    for ask in asks {
        let AskKind::Permission { tool, input, .. } = &ask.kind else {
            panic!("{ask:?}")
        };
        assert_eq!(tool, "Bash");
        assert!(input["command"].as_str().is_some(), "{input}");
        assert!(ask.tool_use_id.as_deref().unwrap().starts_with("toolu_"));
    }
}

#[test]
fn the_captured_ask_user_question_becomes_questions() {
    let text = capture("ask-user-question.stream.jsonl");
    let outputs = feed_lines(text.lines());
    let asks = asks(&outputs);
    assert!(!asks.is_empty());
    let AskKind::Question { questions, input } = &asks[0].kind else {
        panic!("{:?}", asks[0])
    };
    assert_eq!(
        questions[0],
        Question {
            question: "Which color?".into(),
            header: Some("Color".into()),
            options: vec![
                QuestionOption {
                    label: "Red".into(),
                    description: Some("warm".into())
                },
                QuestionOption {
                    label: "Blue".into(),
                    description: Some("cool".into())
                },
            ],
            multi_select: false,
        }
    );
    assert_eq!(input["questions"][0]["question"], "Which color?");
}

#[test]
fn the_captured_interrupt_withdraws_the_pending_prompt() {
    let text = capture("interrupt-while-can-use-tool-pending.stream.jsonl");
    let outputs = feed_lines(text.lines());
    let asked: Vec<String> = asks(&outputs)
        .iter()
        .map(|a| a.agent_request_id.clone())
        .collect();
    let withdrawn: Vec<String> = outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::AskWithdrawn { agent_request_id } => Some(agent_request_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(withdrawn.len(), 1, "{outputs:?}");
    assert!(asked.contains(&withdrawn[0]));
}
