use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use super::*;

/// Shape of a second-step request from Claude Code 2.1.x: prompt with reminders, the
/// environment as a `system` message, a parallel tool call and its results.
fn tool_step_body() -> Value {
    json!({
        "model": "claude-opus-5-5",
        "stream": true,
        "max_tokens": 128000,
        "tools": [{"name": "Write"}, {"name": "Read"}],
        "system": [{"type": "text", "text": "You are a Claude agent."}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>\nyou create from here on\n</system-reminder>\n"},
                {"type": "text", "text": "Please write notes.md"}
            ]},
            {"role": "system", "content": [{"type": "text", "text":
                "# Environment\n - Primary working directory: /srv/ws one\n - Is a git repository: false\n"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_a", "name": "Write", "input": {}},
                {"type": "tool_use", "id": "toolu_b", "name": "Read", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "ok"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "no", "is_error": true},
                {"type": "text", "text": "<system-reminder>later</system-reminder>"}
            ]}
        ]
    })
}

#[test]
fn last_user_text_skips_reminders_and_tool_results() {
    let body = tool_step_body();
    let request = MessagesRequest::new(&body);
    assert_eq!(request.last_user_text(), "");
    assert_eq!(request.last_prompt_text(), "Please write notes.md");

    let first_turn = json!({"messages": [
        {"role": "user", "content": "hi <system-reminder>x</system-reminder>there"},
        {"role": "system", "content": "env"}
    ]});
    assert_eq!(
        MessagesRequest::new(&first_turn).last_user_text(),
        "hi there"
    );
}

#[test]
fn tool_results_are_resolved_to_tool_names() {
    let body = tool_step_body();
    assert_eq!(
        MessagesRequest::new(&body).last_tool_results(),
        vec![
            ToolResultRef {
                tool_use_id: "toolu_a".into(),
                tool_name: Some("Write".into()),
                is_error: false,
            },
            ToolResultRef {
                tool_use_id: "toolu_b".into(),
                tool_name: Some("Read".into()),
                is_error: true,
            },
        ]
    );
}

#[test]
fn working_directory_comes_from_the_environment_block() {
    let body = tool_step_body();
    assert_eq!(
        MessagesRequest::new(&body).working_directory().as_deref(),
        Some("/srv/ws one")
    );

    // Older CLIs put it in `system`; a resumed session appends an update.
    let updated = json!({
        "system": "x\n - Primary working directory: /old\n",
        "messages": [{"role": "system", "content": [{"type": "text", "text":
            "# Environment update\n - Primary working directory: /new (was /old)"}]}]
    });
    assert_eq!(
        MessagesRequest::new(&updated)
            .working_directory()
            .as_deref(),
        Some("/new")
    );
    assert_eq!(MessagesRequest::new(&json!({})).working_directory(), None);
}

#[test]
fn side_requests_are_probes_and_toolless_non_streaming_calls() {
    let main = tool_step_body();
    let probe = json!({"model": "claude-haiku", "max_tokens": 1, "messages": []});
    let title = json!({"model": "claude-haiku", "max_tokens": 512, "messages": []});
    let streamed_without_tools = json!({"stream": true, "max_tokens": 512, "messages": []});
    assert!(!MessagesRequest::new(&main).is_side_request());
    assert!(MessagesRequest::new(&probe).is_side_request());
    assert!(MessagesRequest::new(&title).is_side_request());
    assert!(!MessagesRequest::new(&streamed_without_tools).is_side_request());
    let opencode_title = json!({"stream": true, "max_tokens": 48000, "messages": [],
        "system": [{"type": "text", "text": "You are a title generator. You output ONLY a thread title."}]});
    assert!(MessagesRequest::new(&opencode_title).is_side_request());
}

#[test]
fn opencode_names_its_working_directory_in_its_env_block() {
    let body = json!({"system": [{"type": "text", "text": "<env>\n  Working directory: /workspace\n  Platform: linux\n</env>"}],
        "messages": [], "tools": [{"name": "bash"}, {"name": "write"}]});
    let request = MessagesRequest::new(&body);
    assert_eq!(request.working_directory().as_deref(), Some("/workspace"));
    assert_eq!(request.tool_names(), vec!["bash", "write"]);
}

#[test]
fn system_text_includes_system_role_messages() {
    let body = tool_step_body();
    let text = MessagesRequest::new(&body).system_text();
    assert!(text.contains("You are a Claude agent."));
    assert!(text.contains("Primary working directory"));
}
