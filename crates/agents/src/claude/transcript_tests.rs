use agent_runtime_protocol::{Block, SubagentStatus, ToolStatus};
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use super::*;

fn jsonl(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn ids(blocks: &[Block]) -> Vec<&str> {
    blocks.iter().map(Block::id).collect()
}

fn user(uuid: &str, parent: Option<&str>, text: &str) -> Value {
    json!({"type": "user", "uuid": uuid, "parentUuid": parent, "timestamp": "t", "message": {"role": "user", "content": text}})
}

fn assistant(uuid: &str, parent: &str, message_id: &str, index: u64, content: Value) -> Value {
    json!({"type": "assistant", "uuid": uuid, "parentUuid": parent, "timestamp": "t", "apiBlockIndex": index,
           "message": {"id": message_id, "model": "claude-test", "content": [content]}})
}

fn text(t: &str) -> Value {
    json!({"type": "text", "text": t})
}

#[test]
fn files_to_save_are_the_session_file_and_directory() {
    let home = [
        ".claude/projects/-workspace/S.jsonl",
        ".claude/projects/-workspace/S/subagents/agent-a1.jsonl",
        ".claude/projects/-workspace/S/subagents/agent-a1.meta.json",
        ".claude/projects/-workspace/S/tool-results/x.txt",
        ".claude/projects/-workspace/OTHER.jsonl",
        ".claude/projects/-workspace/S.jsonl.bak",
        ".claude/projects/-workspace/memory/MEMORY.md",
        ".claude/settings.json",
        ".claude/projects/-old/S.jsonl",
    ]
    .map(String::from);
    let saved: Vec<(String, String)> = transcript_files_to_save(&home, "S")
        .into_iter()
        .map(|f| (f.name, f.home_path))
        .collect();
    assert_eq!(
        saved,
        vec![
            ("S.jsonl".into(), ".claude/projects/-old/S.jsonl".into()),
            (
                "S/subagents/agent-a1.jsonl".into(),
                ".claude/projects/-workspace/S/subagents/agent-a1.jsonl".into()
            ),
            (
                "S/subagents/agent-a1.meta.json".into(),
                ".claude/projects/-workspace/S/subagents/agent-a1.meta.json".into()
            ),
            (
                "S/tool-results/x.txt".into(),
                ".claude/projects/-workspace/S/tool-results/x.txt".into()
            ),
        ]
    );
    assert_eq!(transcript_files_to_save(&home, "../x"), vec![]);
    assert_eq!(transcript_files_to_save(&home, ""), vec![]);
}

#[test]
fn restore_paths_use_the_escaped_workspace() {
    assert_eq!(
        transcript_restore_path("S.jsonl", "/workspace").unwrap(),
        ".claude/projects/-workspace/S.jsonl"
    );
    assert_eq!(
        transcript_restore_path("S/subagents/agent-a.jsonl", "/srv/my ws.v2").unwrap(),
        ".claude/projects/-srv-my-ws-v2/S/subagents/agent-a.jsonl"
    );
    for bad in ["../S.jsonl", "/etc/passwd", "S/../../x", ""] {
        assert!(transcript_restore_path(bad, "/workspace").is_err(), "{bad}");
    }
}

#[test]
fn torn_last_line_and_garbage_are_skipped() {
    let mut content = jsonl(&[
        user("u1", None, "hello"),
        json!({"type": "mystery", "uuid": "x"}),
        json!({"type": "assistant", "uuid": "a0"}),
        json!({"type": "user", "uuid": "u0", "message": {"content": 42}}),
    ]);
    content.push_str("not json\n");
    content.push_str(r#"{"type":"assistant","uuid":"a1","message":{"id":"m1","#);
    let parsed = parse_transcript(&[("S.jsonl".into(), content)]);
    assert_eq!(ids(&parsed.blocks), vec!["user:u1"]);
    assert_eq!(
        parsed.warnings,
        vec![
            "S.jsonl:5: unparsable line skipped",
            "S.jsonl:6: unparsable line skipped"
        ]
    );
}

#[test]
fn abandoned_branches_are_dropped_but_parallel_results_kept() {
    let tool = |id: &str| json!({"type": "tool_use", "id": id, "name": "Bash", "input": {}});
    let result = |uuid: &str, parent: &str, id: &str| json!({"type": "user", "uuid": uuid, "parentUuid": parent, "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "ok"}]}});
    let lines = [
        user("u1", None, "first"),
        assistant("a1", "u1", "m1", 0, text("answer one")),
        // Abandoned: the user edited "second" into "second, edited".
        user("u2", Some("a1"), "second"),
        assistant("a2", "u2", "m2", 0, text("abandoned answer")),
        user("u3", Some("a1"), "second, edited"),
        assistant("a3", "u3", "m3", 0, tool("t1")),
        assistant("a4", "a3", "m3", 1, tool("t2")),
        result("r1", "a3", "t1"), // side branch of a parallel call
        result("r2", "a4", "t2"),
        assistant("a5", "r2", "m4", 0, text("done")),
        json!({"type": "last-prompt", "leafUuid": "a5"}),
        // Written after the last `last-prompt` (crash before it was updated): a continuation.
        user("u4", Some("a5"), "more"),
    ];
    let parsed = parse_transcript(&[("S.jsonl".into(), jsonl(&lines))]);
    assert_eq!(
        ids(&parsed.blocks),
        vec![
            "user:u1",
            "m1:0",
            "user:u3",
            "t1",
            "t2",
            "result:t1",
            "result:t2",
            "m4:0",
            "user:u4"
        ]
    );
    assert_eq!(
        parsed.warnings,
        vec!["2 lines on abandoned branches dropped"]
    );
}

#[test]
fn duplicate_uuids_reused_message_ids_and_missing_results() {
    let lines = [
        user("u1", None, "one"),
        assistant("a1", "u1", "msg", 0, text("first")),
        assistant("a1", "u1", "msg", 0, text("first")),
        user("u2", Some("a1"), "two"),
        // A scripted server reusing a message id in a later process.
        assistant("a2", "u2", "msg", 0, text("second")),
        assistant(
            "a3",
            "a2",
            "msg2",
            0,
            json!({"type": "tool_use", "id": "t9", "name": "Bash", "input": {}}),
        ),
        // A result whose call is missing (rewind).
        json!({"type": "user", "uuid": "r0", "parentUuid": "a3", "message": {"content": [{"type": "tool_result", "tool_use_id": "gone", "content": "x"}]}}),
    ];
    let parsed = parse_transcript(&[("S.jsonl".into(), jsonl(&lines))]);
    assert_eq!(
        ids(&parsed.blocks),
        vec![
            "user:u1",
            "msg:0",
            "user:u2",
            "msg:0~2",
            "t9",
            "result:gone"
        ]
    );
    let Block::ToolUse(tool) = &parsed.blocks[4] else {
        panic!()
    };
    assert_eq!(
        tool.status,
        ToolStatus::Error,
        "a call without a result ended without one"
    );
}

#[test]
fn legacy_sidechains_link_by_prompt_and_orphans_are_kept() {
    let spawn = json!({"type": "tool_use", "id": "task1", "name": "Task",
                       "input": {"description": "d", "prompt": "Read the files", "subagent_type": "Explore"}});
    let main = jsonl(&[
        user("u1", None, "go"),
        assistant("a1", "u1", "m1", 0, spawn),
        json!({"type": "user", "uuid": "r1", "parentUuid": "a1", "message": {"content": [{"type": "tool_result", "tool_use_id": "task1", "content": "report"}]}, "toolUseResult": {"status": "completed"}}),
    ]);
    let matching = jsonl(&[
        json!({"type": "user", "uuid": "s1", "isSidechain": true, "message": {"content": "Read the files"}}),
        json!({"type": "assistant", "uuid": "s2", "isSidechain": true, "message": {"id": "sm1", "content": [text("reading")]}}),
    ]);
    let orphan = jsonl(&[
        json!({"type": "assistant", "uuid": "o1", "agentId": "zz", "message": {"id": "om1", "content": [text("lost")]}}),
    ]);
    let parsed = parse_transcript(&[
        ("S.jsonl".into(), main),
        ("agent-0000aaaa.jsonl".into(), matching),
        ("agent-zz.jsonl".into(), orphan),
        ("agent-zz.meta.json".into(), "{broken".into()),
    ]);
    let thread = &parsed.subagents["task1"];
    assert_eq!(ids(&thread.blocks), vec!["prompt:task1", "sm1:0"]);
    assert_eq!(
        (thread.status, thread.subagent_type.as_deref()),
        (SubagentStatus::Completed, Some("Explore"))
    );
    assert_eq!(ids(&parsed.subagents["agent-zz"].blocks), vec!["om1:0"]);
    assert_eq!(parsed.warnings.len(), 2, "{:?}", parsed.warnings);
}
