//! The OpenAI Responses API over real HTTP: the same scenarios, rendered as Responses API SSE /
//! JSON with Codex's tool shapes, and tool results matched across vocabularies.

use agent_runtime_testkit::{
    demo::DEMO_FILE_CONTENT, demo_scenario, Api, Matcher, RequestKind, Response, Rule, Scenario,
    ScriptedModelServer,
};
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use super::http_client::{post_json, request};

const RESPONSES: &str = "/v1/responses";

/// A request body as Codex shapes it: permissions, environment context, then the prompt.
fn prompt(text: &str) -> Value {
    json!({
        "model": "gpt-5.4",
        "instructions": "You are Codex.",
        "input": [
            {"type": "message", "role": "developer",
             "content": [{"type": "input_text", "text": "<permissions instructions>x"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text",
             "text": "<environment_context>\n  <cwd>/workspace</cwd>\n</environment_context>"}]},
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": text}]}
        ],
        "tools": [{"type": "function", "name": "exec_command"}],
        "stream": true
    })
}

/// `prompt` followed by a call of `tool` and its output.
fn after_tool(tool: &str, output: &str) -> Value {
    let mut body = prompt("create notes.md");
    let input = body["input"].as_array_mut().unwrap();
    input.push(json!({"type": "function_call", "name": tool, "arguments": "{}", "call_id": "c1"}));
    input.push(json!({"type": "function_call_output", "call_id": "c1", "output": output}));
    body
}

/// The concatenated `delta`s of events named `kind`.
fn deltas(events: &[(String, Value)], kind: &str) -> String {
    events
        .iter()
        .filter(|(name, _)| name == kind)
        .map(|(_, data)| data["delta"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_demo_scenario_streams_an_apply_patch_call_to_codex() {
    let server = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let response = request(
        server.local_addr(),
        "POST",
        RESPONSES,
        &[("authorization", "Bearer sk-test")],
        Some(&prompt("create hello.txt")),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let events = response.sse_events();
    assert_eq!(events.first().unwrap().0, "response.created");
    assert_eq!(events.last().unwrap().0, "response.completed");
    assert!(deltas(&events, "response.reasoning_summary_text.delta").contains("/workspace"));
    assert!(deltas(&events, "response.output_text.delta").contains("demo model"));
    let patch = format!(
        "*** Begin Patch\n*** Add File: /workspace/hello.txt\n+{}\n*** End Patch\n",
        DEMO_FILE_CONTENT.trim_end()
    );
    assert_eq!(
        deltas(&events, "response.custom_tool_call_input.delta"),
        patch
    );
    let completed = &events.last().unwrap().1["response"];
    assert_eq!(completed["output"][2]["name"], "apply_patch");
    assert!(completed["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let recorded = server.message_requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].api, Some(Api::OpenAi));
    let redacted = format!(
        "[redacted] {}",
        agent_runtime_testkit::secret_fingerprint(b"Bearer sk-test")
    );
    assert_eq!(recorded[0].header("authorization"), Some(redacted.as_str()));
    assert_eq!(recorded[0].last_user_text(), "create hello.txt");
    assert_eq!(recorded[0].conversation().len(), 3);
    let view = recorded[0].as_model_request().unwrap();
    assert_eq!(view.working_directory().as_deref(), Some("/workspace"));
    assert!(recorded[0].as_messages_request().is_none());
}

#[tokio::test]
async fn tool_results_match_rules_written_in_any_vocabulary() {
    let server = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let cases = [
        (
            "apply_patch",
            "Exit code: 0\nOutput:\nSuccess.",
            "Done! I created notes.md",
        ),
        (
            "apply_patch",
            "Exit code: 1\nOutput:\nverification failed",
            "reported an error",
        ),
        (
            "exec_command",
            "Process exited with code 0\nOutput:\n",
            "Thanks for the tool result",
        ),
    ];
    for (tool, output, expected) in cases {
        let response = post_json(server.local_addr(), RESPONSES, &after_tool(tool, output)).await;
        assert_eq!(response.status, 200, "{}", response.body);
        let text = deltas(&response.sse_events(), "response.output_text.delta");
        assert!(text.contains(expected), "{tool}: {text}");
    }
}

#[tokio::test]
async fn errors_use_openais_shape_and_unstreamed_requests_get_json() {
    let server = ScriptedModelServer::start(Scenario::new(vec![
        Rule::new(
            Matcher {
                api: Some(Api::OpenAi),
                stream: Some(false),
                ..Matcher::default()
            },
            Response::text("as json"),
        )
        .scope(agent_runtime_testkit::RuleScope::Any),
        Rule::always(Response::error(500, "scripted outage")),
    ]))
    .await
    .unwrap();
    let addr = server.local_addr();
    let response = post_json(addr, RESPONSES, &prompt("hi")).await;
    assert_eq!(response.status, 500);
    assert_eq!(
        response.json(),
        json!({"error": {"message": "scripted outage", "type": "server_error", "param": null,
                         "code": null}})
    );
    let mut unstreamed = prompt("hi");
    unstreamed["stream"] = json!(false);
    let response = post_json(addr, RESPONSES, &unstreamed).await;
    assert_eq!(response.status, 200, "{}", response.body);
    let body = response.json();
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["output"][0]["content"][0]["text"], "as json");
    let kinds: Vec<RequestKind> = server.requests().iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        vec![RequestKind::MainMessage, RequestKind::SideMessage]
    );
}
