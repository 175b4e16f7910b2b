//! The built-in demo scenario driving the real CLI through a full tool-using turn.

use agent_runtime_testkit::{demo::DEMO_FILE_CONTENT, demo_scenario, ScriptedModelServer};
use pretty_assertions::assert_eq;
use serde_json::Value;

use super::cli::{blocks, delta_types, read_file, ClaudeCli};

#[tokio::test]
async fn demo_turn_streams_text_and_writes_the_requested_file() {
    let server = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let cli = ClaudeCli::new();
    let run = cli.run_print(&server, "create hello.txt").await;
    let context = run.describe();

    let result = run.result();
    assert_eq!(result["is_error"], false, "{context}");
    assert_eq!(result["subtype"], "success");
    assert!(run.status.success(), "{context}");

    let deltas = delta_types(&run.lines);
    assert!(deltas.contains(&"text_delta"), "{context}");
    assert!(deltas.contains(&"thinking_delta"), "{context}");
    assert!(deltas.contains(&"input_json_delta"), "{context}");

    let expected_path = cli.workspace().join("hello.txt");
    let tool_uses = blocks(&run.lines, "assistant", "tool_use");
    assert_eq!(tool_uses.len(), 1, "{context}");
    assert_eq!(tool_uses[0]["name"], "Write");
    assert_eq!(
        tool_uses[0]["input"]["file_path"],
        expected_path.to_str().unwrap()
    );
    let tool_results = blocks(&run.lines, "user", "tool_result");
    assert_eq!(tool_results.len(), 1, "{context}");
    assert_eq!(tool_results[0]["tool_use_id"], tool_uses[0]["id"]);
    assert_ne!(tool_results[0]["is_error"], Value::Bool(true));
    assert_eq!(read_file(&expected_path), DEMO_FILE_CONTENT);

    let texts: Vec<&str> = blocks(&run.lines, "assistant", "text")
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect();
    assert!(texts[0].contains("demo model"), "{texts:?}");
    assert_eq!(result["result"].as_str(), texts.last().copied());

    // What the CLI sent: the prompt, then the same conversation plus the tool result.
    let sent = server.message_requests();
    assert_eq!(sent.len(), 2, "{:#?}", super::cli::request_summary(&server));
    assert_eq!(sent[0].last_user_text(), "create hello.txt");
    let redacted = format!(
        "[redacted] {}",
        agent_runtime_testkit::secret_fingerprint(b"test-key")
    );
    assert_eq!(sent[0].header("x-api-key"), Some(redacted.as_str()));
    let working_directory = sent[0]
        .as_messages_request()
        .and_then(|r| r.working_directory());
    assert_eq!(working_directory.as_deref(), cli.workspace().to_str());
    let results = sent[1].as_messages_request().unwrap().last_tool_results();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].tool_name.as_deref(), Some("Write"));
    assert!(!results[0].is_error);
}
