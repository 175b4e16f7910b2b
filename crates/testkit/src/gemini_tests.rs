use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::reply::{Delivery, Reply};
use crate::scenario::{Block, Response};
use crate::template::TemplateContext;

/// What Gemini CLI sent after a resume (captured fixtures, trimmed): `(file stem, prompt)`.
const RESUMED: &[(&str, &str)] = &[
    (
        "resume-turn2-restored-into-fresh-home",
        "Second turn: which fruit?",
    ),
    (
        "resume-turn2-different-project-dir",
        "Second turn from a different project dir",
    ),
];

fn resumed_request(stem: &str) -> Value {
    let path = format!(
        "{}/../../../shared/fixtures/gemini/{stem}.api-request-contents.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn tool_step() -> Value {
    json!({
        "contents": [
            {"role": "user", "parts": [
                {"text": "<session_context>\n- **Workspace Directories:**\n  - /workspace\n</session_context>"},
                {"text": "create hello.txt"}
            ]},
            {"role": "model", "parts": [{"functionCall": {"name": "write_file", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "w1", "name": "write_file", "response": {"output": "ok"}}},
                {"functionResponse": {"id": "r1", "name": "read_file", "response": {"error": "nope"}}}
            ]}
        ],
        "tools": [{"functionDeclarations": [{"name": "write_file"}]}]
    })
}

#[test]
fn the_view_skips_the_session_context_and_reads_the_workspace() {
    for (stem, prompt) in RESUMED {
        let body = resumed_request(stem);
        let request = GenerateContentRequest::new(&body, "gemini-2.5-pro", true);
        assert_eq!(request.last_user_text(), *prompt, "{stem}");
        assert!(request.working_directory().is_some(), "{stem}");
        let contents = request.contents();
        assert_eq!(contents.len(), 3, "{stem}");
        assert!(contents[0]["parts"][1]["text"]
            .as_str()
            .unwrap()
            .starts_with("First turn"));
        assert!(request.last_tool_results().is_empty());
        // The fixtures have their tool schemas removed.
        assert!(request.is_side_request());
    }
}

#[test]
fn tool_results_carry_names_and_errors() {
    let body = tool_step();
    let request = GenerateContentRequest::new(&body, "m", true);
    assert!(!request.is_side_request());
    assert_eq!(request.last_user_text(), "");
    assert_eq!(request.last_prompt_text(), "create hello.txt");
    assert_eq!(
        request.last_tool_results(),
        vec![
            ToolResultRef {
                tool_use_id: "w1".into(),
                tool_name: Some("write_file".into()),
                is_error: false,
            },
            ToolResultRef {
                tool_use_id: "r1".into(),
                tool_name: Some("read_file".into()),
                is_error: true,
            },
        ]
    );
}

#[test]
fn targets_parse_from_paths() {
    let target =
        GeminiTarget::from_path("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
            .unwrap();
    assert_eq!(target.model, "gemini-2.5-pro");
    assert!(target.is_stream());
    assert_eq!(GeminiTarget::from_path("/v1beta/models/x"), None);
}

#[test]
fn replies_render_as_gemini_chunks_with_gemini_tool_names() {
    let body = tool_step();
    let request = crate::ModelRequest::Gemini(GenerateContentRequest::new(&body, "m", true));
    let context = TemplateContext::from_request(&request);
    let response = Response::blocks(vec![
        Block::thinking("plan"),
        Block::text("ab"),
        Block::tool_use("Write", json!({"file_path": "{{mentionedPath}}"})),
    ]);
    let Reply::Message { message, delivery } = Reply::render(&response, 0, "m", &context) else {
        panic!("not a message");
    };
    assert_eq!(delivery, Delivery::default());
    let chunks = stream_chunks(&message, 2);
    let parts: Vec<Value> = chunks
        .iter()
        .map(|c| c["candidates"][0]["content"]["parts"][0].clone())
        .collect();
    assert_eq!(
        parts,
        vec![
            json!({"text": "pl", "thought": true}),
            json!({"text": "an", "thought": true}),
            json!({"text": "a"}),
            json!({"text": "b"}),
            json!({"functionCall": {"name": "write_file", "args": {"file_path": "/workspace/hello.txt"}}}),
            json!({"text": ""}),
        ]
    );
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], 100);
    let whole = response_json(&message);
    assert_eq!(
        whole["candidates"][0]["content"]["parts"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        error_body(500, "boom"),
        json!({"error": {"code": 500, "message": "boom", "status": "INTERNAL"}})
    );
}
