//! Thinking plus a parallel tool call (two `Write`s in one message), scripted in JSON.

use agent_runtime_testkit::{Scenario, ScriptedModelServer};
use pretty_assertions::assert_eq;

use super::cli::{assistant_message_id_of, blocks, delta_types, read_file, ClaudeCli};

const SCENARIO: &str = r#"{
    "name": "thinking and parallel writes",
    "rules": [
        {
            "name": "both writes at once",
            "when": {"lastUserTextContains": "two files", "not": {"toolResult": {}}},
            "respond": {
                "content": [
                    {"type": "thinking", "thinking": "Two independent files: write them in parallel.",
                     "signature": "c2lnLXBhcmFsbGVs"},
                    {"type": "text", "text": "Writing both files now."},
                    {"type": "tool_use", "id": "toolu_01ParallelA", "name": "Write",
                     "input": {"file_path": "{{cwd}}/a.txt", "content": "A\n"}},
                    {"type": "tool_use", "id": "toolu_01ParallelB", "name": "Write",
                     "input": {"file_path": "{{cwd}}/b.txt", "content": "B\n"}}
                ],
                "chunks": 4
            }
        },
        {
            "name": "wrap up",
            "when": {"toolResult": {"toolName": "Write", "isError": false}},
            "respond": {"content": [{"type": "text", "text": "Both files are written."}]}
        }
    ]
}"#;

#[tokio::test]
async fn thinking_and_parallel_tool_use_round_trip_through_the_cli() {
    let scenario = Scenario::from_json(SCENARIO).unwrap();
    let server = ScriptedModelServer::start(scenario).await.unwrap();
    let cli = ClaudeCli::new();
    let run = cli.run_print(&server, "Please create two files").await;
    let context = run.describe();

    assert_eq!(run.result()["is_error"], false, "{context}");
    assert_eq!(run.result()["result"], "Both files are written.");

    let deltas = delta_types(&run.lines);
    for kind in [
        "thinking_delta",
        "signature_delta",
        "text_delta",
        "input_json_delta",
    ] {
        assert!(deltas.contains(&kind), "missing {kind}: {deltas:?}");
    }
    let thinking = blocks(&run.lines, "assistant", "thinking");
    assert_eq!(thinking[0]["signature"], "c2lnLXBhcmFsbGVs");

    let ids: Vec<&str> = blocks(&run.lines, "assistant", "tool_use")
        .iter()
        .filter_map(|b| b["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["toolu_01ParallelA", "toolu_01ParallelB"]);
    assert_eq!(
        assistant_message_id_of(&run.lines, ids[0]),
        assistant_message_id_of(&run.lines, ids[1]),
        "both tool uses belong to one API message"
    );
    let mut result_ids: Vec<&str> = blocks(&run.lines, "user", "tool_result")
        .iter()
        .filter_map(|b| b["tool_use_id"].as_str())
        .collect();
    result_ids.sort_unstable();
    assert_eq!(result_ids, ids);
    assert_eq!(read_file(&cli.workspace().join("a.txt")), "A\n");
    assert_eq!(read_file(&cli.workspace().join("b.txt")), "B\n");

    // The follow-up request answers both tool uses, and sends the thinking back.
    let sent = server.message_requests();
    assert_eq!(sent.len(), 2, "{context}");
    assert_eq!(sent[0].rule, Some(0));
    assert_eq!(sent[1].rule, Some(1));
    let follow_up = sent[1].as_messages_request().unwrap();
    let mut answered: Vec<String> = follow_up
        .last_tool_results()
        .into_iter()
        .map(|r| r.tool_use_id)
        .collect();
    answered.sort_unstable();
    assert_eq!(answered, ids);
    let echoed_thinking = sent[1]
        .messages()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .any(|b| b["type"] == "thinking" && b["signature"] == "c2lnLXBhcmFsbGVs");
    assert!(
        echoed_thinking,
        "thinking block is sent back with its signature"
    );
}
