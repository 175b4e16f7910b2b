//! The Gemini chat parser over every captured chat recording in `shared/fixtures/gemini/`
//! (`*.chat.jsonl`, `*.chat-after.jsonl`, `*.imported-chat.jsonl`; a
//! `*.subagent-chat.jsonl` is stored as the subagent file of the main chat of the same stem).

use std::path::Path;

use agent_runtime_agents::AgentKind;
use agent_runtime_protocol::{fold_all, Envelope};
use pretty_assertions::assert_eq;
use serde_json::Value;

use super::common::{truncate_strings, AT};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The `sessionId` of the first metadata line.
fn session_id(content: &str) -> String {
    content
        .lines()
        .find_map(|line| {
            let value: Value = serde_json::from_str(line).ok()?;
            value.get("sessionId")?.as_str().map(str::to_string)
        })
        .unwrap()
}

/// The stored files of the chat at `path`, named as `transcript_files_to_save` names them.
fn stored_files(path: &Path) -> Vec<(String, String)> {
    let main = read(path);
    let session = session_id(&main);
    let mut files = vec![(
        format!("session-2026-11-23T23-00-{}.jsonl", &session[..8]),
        main,
    )];
    let file_name = path.file_name().unwrap().to_str().unwrap();
    let stem = file_name.split('.').next().unwrap();
    let sidechain = path.with_file_name(format!("{stem}.subagent-chat.jsonl"));
    if sidechain.exists() {
        let content = read(&sidechain);
        let agent = session_id(&content);
        files.push((format!("{session}/{agent}.jsonl"), content));
    }
    files
}

#[test]
fn gemini_chats() {
    insta::glob!(
        "../../../../../shared/fixtures",
        "gemini/*chat*.jsonl",
        |path| {
            if path.to_str().unwrap().ends_with(".subagent-chat.jsonl") {
                return;
            }
            let parsed = AgentKind::GeminiCli.parse_transcript(&stored_files(path));
            insta::assert_yaml_snapshot!(truncate_strings(serde_json::to_value(&parsed).unwrap()));
        }
    );
}

/// After a resume into a fresh home the session has two files: the stub and the real one. The
/// parser keeps the real conversation whatever the order.
#[test]
fn the_real_file_wins_over_a_resume_stub() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/gemini");
    let real = read(&dir.join("resume-real-file-after-resume.chat.jsonl"));
    let stub = read(&dir.join("resume-stub-file-created-by-resume.chat.jsonl"));
    let files = vec![
        ("session-2026-11-23T23-42-7223e9e9.jsonl".to_string(), stub),
        ("session-2026-11-23T23-34-7223e9e9.jsonl".to_string(), real),
    ];
    let parsed = AgentKind::GeminiCli.parse_transcript(&files);
    let texts: Vec<String> = parsed
        .blocks
        .iter()
        .map(|b| format!("{} {}", b.kind(), b.id()))
        .collect();
    assert_eq!(
        texts,
        vec![
            "user_message user:ea2dcf25-87e3-481d-a6dc-a5f5b68d0f5f",
            "assistant_text b1dd5faf-615d-4f00-b483-90a51c951d50:text",
            "user_message user:897a01bb-07a2-4928-96c2-6d194a575d29",
            "assistant_text d55f9719-d573-49bc-b2e8-b50c1dab5ea6:text",
        ]
    );
    assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
    let mut reversed = files;
    reversed.reverse();
    assert_eq!(
        AgentKind::GeminiCli.parse_transcript(&reversed).blocks,
        parsed.blocks
    );
}

/// A parsed chat rebuilds the same state through events as it describes directly.
#[test]
fn parsed_chats_fold_to_themselves() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/gemini");
    let path = dir.join("subagent-invoke-agent-generalist.chat.jsonl");
    let parsed = AgentKind::GeminiCli.parse_transcript(&stored_files(&path));
    assert_eq!(parsed.subagents.len(), 1);
    let envelopes: Vec<Envelope> = parsed
        .to_events()
        .into_iter()
        .enumerate()
        .map(|(i, event)| Envelope {
            session_id: "s".into(),
            seq: i as u64 + 1,
            at: AT.into(),
            event,
        })
        .collect();
    let state = fold_all(&envelopes);
    assert_eq!(state.blocks, parsed.blocks);
    assert_eq!(state.subagents, parsed.subagents);
}
