//! The Gemini API over real HTTP: the same scenarios as the Messages API, rendered as Gemini
//! SSE / JSON, with Gemini CLI's tool names.

use agent_runtime_testkit::{
    demo_scenario, Api, Block, Matcher, RequestKind, Response, Rule, Scenario, ScriptedModelServer,
};
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use super::http_client::{post_json, request};

const STREAM: &str = "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse";

/// A request body as Gemini CLI shapes it: session context first, then the prompt.
fn prompt(text: &str) -> Value {
    json!({
        "contents": [{"role": "user", "parts": [
            {"text": "<session_context>\n- **Workspace Directories:**\n  - /workspace\n</session_context>"},
            {"text": text}
        ]}],
        "systemInstruction": {"parts": [{"text": "You are a CLI agent."}]},
        "tools": [{"functionDeclarations": [{"name": "write_file"}]}]
    })
}

/// `prompt` followed by a call of `tool` and its result.
fn after_tool(tool: &str) -> Value {
    let mut body = prompt("create notes.md");
    let contents = body["contents"].as_array_mut().unwrap();
    contents
        .push(json!({"role": "model", "parts": [{"functionCall": {"name": tool, "args": {}}}]}));
    contents.push(json!({"role": "user", "parts": [{"functionResponse":
        {"id": "c1", "name": tool, "response": {"output": "ok"}}}]}));
    body
}

/// The `data:` payloads of a Gemini SSE body (`\r\n\r\n`-separated).
fn chunks(body: &str) -> Vec<Value> {
    body.split("\r\n\r\n")
        .filter_map(|frame| frame.trim().strip_prefix("data: "))
        .map(|json| serde_json::from_str(json).unwrap())
        .collect()
}

fn parts(chunks: &[Value]) -> Vec<Value> {
    chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn the_demo_scenario_streams_a_write_file_call_to_gemini() {
    let server = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let response = request(
        server.local_addr(),
        "POST",
        STREAM,
        &[("x-goog-api-key", "secret-key")],
        Some(&prompt("create hello.txt")),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let chunks = chunks(&response.body);
    let parts = parts(&chunks);
    let call = parts
        .iter()
        .find_map(|p| p.get("functionCall"))
        .expect("a function call");
    assert_eq!(call["name"], "write_file");
    assert_eq!(call["args"]["file_path"], "/workspace/hello.txt");
    assert!(parts.iter().any(|p| p["thought"] == true));
    let text: String = parts
        .iter()
        .filter(|p| p.get("thought").is_none())
        .filter_map(|p| p["text"].as_str())
        .collect();
    assert!(text.contains("demo model"), "{text}");
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert!(last["usageMetadata"]["totalTokenCount"].as_u64().unwrap() > 0);

    let recorded = server.message_requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].api, Some(Api::Gemini));
    let redacted = format!(
        "[redacted] {}",
        agent_runtime_testkit::secret_fingerprint(b"secret-key")
    );
    assert_eq!(
        recorded[0].header("x-goog-api-key"),
        Some(redacted.as_str())
    );
    assert_eq!(recorded[0].last_user_text(), "create hello.txt");
    assert_eq!(recorded[0].conversation().len(), 1);
    let view = recorded[0].as_model_request().unwrap();
    assert_eq!(view.model(), "gemini-2.5-pro");
    assert_eq!(view.working_directory().as_deref(), Some("/workspace"));
}

#[tokio::test]
async fn tool_results_match_rules_written_with_either_tool_name() {
    let server = ScriptedModelServer::start(Scenario::new(vec![
        Rule::new(
            Matcher::tool_result(Some("Bash")),
            Response::text("shell done"),
        ),
        Rule::new(
            Matcher::tool_result(Some("write_file")),
            Response::text("file done"),
        ),
    ]))
    .await
    .unwrap();
    for (tool, expected) in [
        ("run_shell_command", "shell done"),
        ("write_file", "file done"),
    ] {
        let response = post_json(server.local_addr(), STREAM, &after_tool(tool)).await;
        assert_eq!(response.status, 200, "{}", response.body);
        let text: String = parts(&chunks(&response.body))
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect();
        assert_eq!(text, expected);
    }
}

#[tokio::test]
async fn rules_can_be_limited_to_one_api_and_errors_use_googles_shape() {
    let server = ScriptedModelServer::start(Scenario::new(vec![
        Rule::new(
            Matcher {
                api: Some(Api::Anthropic),
                ..Matcher::default()
            },
            Response::text("for claude"),
        ),
        Rule::always(Response::error(503, "scripted outage")),
    ]))
    .await
    .unwrap();
    let response = post_json(server.local_addr(), STREAM, &prompt("hi")).await;
    assert_eq!(response.status, 503);
    assert_eq!(
        response.json(),
        json!({"error": {"code": 503, "message": "scripted outage", "status": "UNAVAILABLE"}})
    );
}

#[tokio::test]
async fn count_tokens_and_side_requests_are_classified() {
    let server =
        ScriptedModelServer::start(Scenario::new(vec![Rule::always(Response::blocks(vec![
            Block::text("main"),
        ]))]))
        .await
        .unwrap();
    let addr = server.local_addr();
    let count = post_json(
        addr,
        "/v1beta/models/gemini-2.5-pro:countTokens",
        &prompt("x"),
    )
    .await;
    assert_eq!(count.status, 200);
    assert!(count.json()["totalTokens"].as_u64().unwrap() > 0);
    // Without tools: a utility call of the CLI, answered without consuming the scenario.
    let mut side = prompt("summarize");
    side.as_object_mut().unwrap().remove("tools");
    let response = post_json(
        addr,
        "/v1beta/models/gemini-2.5-flash:generateContent",
        &side,
    )
    .await;
    assert_eq!(
        response.json()["candidates"][0]["content"]["parts"][0]["text"],
        "Scripted session"
    );
    let kinds: Vec<RequestKind> = server.requests().iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        vec![RequestKind::CountTokens, RequestKind::SideMessage]
    );
    let unknown = post_json(
        addr,
        "/v1beta/models/gemini-2.5-pro:embedContent",
        &prompt("x"),
    )
    .await;
    assert_eq!(unknown.status, 400);
}
