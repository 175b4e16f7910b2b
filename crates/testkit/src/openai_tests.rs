use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::reply::Reply;
use crate::scenario::{Block, Response};
use crate::template::TemplateContext;

const PROMPT: &str = "Create a file named created.txt containing a greeting.";

/// The model requests codex-acp sent in a captured case (see
/// `crates/agents/fixtures/codex-acp/README.md`).
fn captured(case: &str) -> Vec<Value> {
    let path = format!(
        "{}/../agents/fixtures/codex-acp/{case}.requests.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let requests: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    requests.into_iter().map(|r| r["body"].clone()).collect()
}

#[test]
fn the_first_step_shows_the_prompt_without_codex_context() {
    let bodies = captured("full-access");
    let request = ResponsesRequest::new(&bodies[0]);
    assert_eq!(request.model(), "gpt-5.4");
    assert!(request.is_stream());
    assert!(!request.is_side_request());
    assert_eq!(request.last_user_text(), PROMPT);
    assert_eq!(request.last_prompt_text(), PROMPT);
    assert_eq!(request.last_tool_results(), vec![]);
    // The capture replaces the temporary directory by this placeholder.
    assert_eq!(request.working_directory().as_deref(), Some("<CWD>"));
    let system = request.system_text();
    assert!(system.starts_with("You are Codex, a coding agent"));
    assert!(system.contains("`sandbox_mode` is `danger-full-access`"));
}

#[test]
fn tool_outputs_carry_the_call_names_and_exit_codes() {
    let cases = [
        ("full-access", "exec_command", false),
        ("default-approvals", "exec_command", true),
        ("apply-patch", "apply_patch", false),
    ];
    for (case, tool, is_error) in cases {
        let bodies = captured(case);
        let request = ResponsesRequest::new(&bodies[1]);
        assert_eq!(request.last_user_text(), "", "{case}");
        assert_eq!(request.last_prompt_text(), PROMPT, "{case}");
        let results = request.last_tool_results();
        assert_eq!(results.len(), 1, "{case}");
        assert!(results[0].tool_use_id.starts_with("call_"), "{case}");
        assert_eq!(results[0].tool_name.as_deref(), Some(tool), "{case}");
        assert_eq!(results[0].is_error, is_error, "{case}");
    }
}

#[test]
fn a_loaded_session_continues_with_the_new_prompt_and_directory() {
    let bodies = captured("load-rollout-only");
    let request = ResponsesRequest::new(&bodies[0]);
    assert_eq!(request.last_user_text(), "Now say goodbye.");
    assert_eq!(request.last_tool_results(), vec![]);
    assert_eq!(request.working_directory().as_deref(), Some("<CWD>"));
    // The earlier turn is all there: prompt, reasoning, text, call, output, answer.
    assert!(request.input().len() >= 10);
}

#[test]
fn bare_string_input_is_the_prompt_and_structured_outputs_can_fail() {
    let body = json!({"model": "m", "input": "create notes.md", "stream": false});
    let request = ResponsesRequest::new(&body);
    assert_eq!(request.last_user_text(), "create notes.md");
    assert!(request.is_side_request());
    let body = json!({"input": [
        {"type": "message", "role": "user", "content": "go"},
        {"type": "function_call", "name": "mcp__x__y", "call_id": "c1", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": {"content": "no", "success": false}},
    ]});
    assert_eq!(
        ResponsesRequest::new(&body).last_tool_results(),
        vec![ToolResultRef {
            tool_use_id: "c1".into(),
            tool_name: Some("mcp__x__y".into()),
            is_error: true,
        }]
    );
}

#[test]
fn replies_render_as_output_items_in_codex_shapes() {
    let bodies = captured("full-access");
    let request = crate::ModelRequest::OpenAi(ResponsesRequest::new(&bodies[0]));
    let context = TemplateContext::from_request(&request);
    let response = Response::blocks(vec![
        Block::thinking("plan"),
        Block::text("Writing {{mentionedFile}}."),
        Block::ToolUse {
            name: "Write".into(),
            input: json!({"file_path": "{{mentionedPath}}", "content": "hi\n"}),
            id: Some("call_1".into()),
        },
    ]);
    let Reply::Message { message, .. } = Reply::render(&response, 0, "gpt-5.4", &context) else {
        panic!("not a message");
    };
    let suffix = message.id.trim_start_matches("msg_").to_owned();
    let whole = response_json(&message);
    assert_eq!(
        whole["output"],
        json!([
            {"type": "reasoning", "id": format!("rs_{suffix}_0"),
             "summary": [{"type": "summary_text", "text": "plan"}]},
            {"type": "message", "id": format!("msg_{suffix}_1"), "role": "assistant",
             "status": "completed",
             "content": [{"type": "output_text", "text": "Writing created.txt.", "annotations": []}]},
            {"type": "custom_tool_call", "id": format!("fc_{suffix}_2"), "call_id": "call_1",
             "name": "apply_patch", "status": "completed",
             "input": "*** Begin Patch\n*** Add File: <CWD>/created.txt\n+hi\n*** End Patch\n"},
        ])
    );
    assert_eq!(whole["status"], "completed");
    assert_eq!(whole["usage"]["input_tokens"], 100);
    assert_eq!(
        error_body(429, "slow down"),
        json!({"error": {"message": "slow down", "type": "requests", "param": null,
                         "code": "rate_limit_exceeded"}})
    );
}
