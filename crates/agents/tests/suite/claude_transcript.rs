//! The Claude transcript parser over every captured transcript: `shared/fixtures/claude/*.transcript*.jsonl`
//! (with their `*.sidechain-agent.jsonl` / `.meta.json` files as the subagent files of the 2.1
//! layout) and `shared/fixtures/seed-transcripts/claude-*.jsonl` (2.0 layout, legacy
//! `agent-<id>.jsonl` sidechain beside the main file).

use std::path::Path;

use agent_runtime_agents::AgentKind;
use agent_runtime_protocol::{fold_all, Envelope};
use serde_json::Value;

use super::common::{truncate_strings, AT};

/// The `sessionId` / `agentId` of the first line that has one.
fn first_field(content: &str, key: &str) -> Option<String> {
    content.lines().find_map(|line| {
        let value: Value = serde_json::from_str(line).ok()?;
        value.get(key)?.as_str().map(str::to_string)
    })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The stored files of the transcript whose main file is `path`, named as
/// `transcript_files_to_save` names them.
fn stored_files(path: &Path) -> Vec<(String, String)> {
    let dir = path.parent().unwrap();
    let file_name = path.file_name().unwrap().to_str().unwrap();
    let main = read(path);
    let session = first_field(&main, "sessionId").unwrap();
    let mut files = vec![(format!("{session}.jsonl"), main)];
    if let Some(stem) = file_name
        .split(".transcript")
        .next()
        .filter(|_| file_name.contains(".transcript"))
    {
        // 2.1 layout: `<S>/subagents/agent-<id>.jsonl` + `.meta.json`.
        let sidechain = dir.join(format!("{stem}.sidechain-agent.jsonl"));
        if sidechain.exists() {
            let content = read(&sidechain);
            let agent = first_field(&content, "agentId").unwrap();
            files.push((format!("{session}/subagents/agent-{agent}.jsonl"), content));
            let meta = dir.join(format!("{stem}.sidechain-agent.meta.json"));
            if meta.exists() {
                files.push((
                    format!("{session}/subagents/agent-{agent}.meta.json"),
                    read(&meta),
                ));
            }
        }
    } else {
        // 2.0 layout: `agent-<id>.jsonl` beside the main file.
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap().path();
            let name = entry.file_name().unwrap().to_str().unwrap().to_string();
            if let Some(agent) = name.strip_prefix("claude-2.0.55-agent-") {
                files.push((format!("agent-{agent}"), read(&entry)));
            }
        }
    }
    files
}

#[test]
fn claude_transcripts() {
    insta::glob!(
        "../../../../../shared/fixtures",
        "claude/*.transcript*.jsonl",
        |path| {
            let parsed = AgentKind::ClaudeCode.parse_transcript(&stored_files(path));
            insta::assert_yaml_snapshot!(truncate_strings(serde_json::to_value(&parsed).unwrap()));
        }
    );
}

#[test]
fn claude_seed_transcripts() {
    insta::glob!(
        "../../../../../shared/fixtures",
        "seed-transcripts/claude-*.jsonl",
        |path| {
            if path.to_str().unwrap().contains("-agent-") {
                return; // a sidechain, parsed with its main file
            }
            let parsed = AgentKind::ClaudeCode.parse_transcript(&stored_files(path));
            insta::assert_yaml_snapshot!(truncate_strings(serde_json::to_value(&parsed).unwrap()));
        }
    );
}

/// `to_events` rebuilds exactly the parsed conversation when folded.
#[test]
fn parsed_transcripts_fold_back() {
    insta::glob!(
        "../../../../../shared/fixtures",
        "claude/*.transcript*.jsonl",
        |path| {
            let parsed = AgentKind::ClaudeCode.parse_transcript(&stored_files(path));
            let envelopes: Vec<Envelope> = parsed
                .to_events()
                .into_iter()
                .zip(1..)
                .map(|(event, seq)| Envelope {
                    session_id: "s".into(),
                    seq,
                    at: AT.into(),
                    event,
                })
                .collect();
            let state = fold_all(&envelopes);
            assert_eq!(state.blocks, parsed.blocks);
            assert_eq!(state.subagents, parsed.subagents);
        }
    );
}

/// The live translator and the transcript parser give the same block ids, in the same order, for
/// runs captured both ways, except what only one side has: user messages (the runtime emits its
/// own live) and `<task-notification>` prompts (transcript only). These captures ran without
/// `--forward-subagent-text`, so subagents' text is compared only in the transcripts' own
/// snapshots.
#[test]
fn transcript_block_ids_match_the_live_stream() {
    use agent_runtime_agents::{AgentOutput, TranslatorContext};
    use agent_runtime_protocol::Block;

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/claude");
    let pairs = [
        (
            &["multitool-thinking-parallel-tools.stream.jsonl"][..],
            "multitool-thinking-parallel-tools.transcript.jsonl",
        ),
        (
            &["tool-errors-missing-file-exit3-unknown-tool.stream.jsonl"],
            "tool-errors-missing-file-exit3-unknown-tool.transcript.jsonl",
        ),
        (
            &["subagent-agent-tool-foreground.stream.jsonl"],
            "subagent-agent-tool-foreground.transcript.jsonl",
        ),
        (
            &["subagent-background-default-two-results.stream.jsonl"],
            "subagent-background-default-two-results.transcript.jsonl",
        ),
        (
            &["slash-command-custom.stream.jsonl"],
            "slash-command-custom.transcript.jsonl",
        ),
        (
            &["stdin-image-input.stream.jsonl"],
            "stdin-image-input.transcript.jsonl",
        ),
        (
            &["resume-turn1-session-id-flag.stream.jsonl"],
            "resume-turn1.transcript.jsonl",
        ),
        (
            &[
                "compact-manual.turn1-before.stream.jsonl",
                "compact-manual.stream.jsonl",
            ],
            "compact-manual.transcript.jsonl",
        ),
    ];
    let comparable = |block: &Block| match block {
        Block::UserMessage(b) => b.id.starts_with("prompt:"),
        Block::System(b) => b.subtype != "task_notification",
        _ => true,
    };
    for (streams, transcript) in pairs {
        // Live: each captured process, folded into one session.
        let mut events = Vec::new();
        for stream in streams {
            let mut translator = AgentKind::ClaudeCode.new_translator(TranslatorContext::default());
            for line in read(&dir.join(stream)).lines() {
                for output in translator.translate_line(line, AT) {
                    if let AgentOutput::Event(event) = output {
                        events.push(event);
                    }
                }
            }
        }
        let envelopes: Vec<Envelope> = events
            .into_iter()
            .zip(1..)
            .map(|(event, seq)| Envelope {
                session_id: "s".into(),
                seq,
                at: AT.into(),
                event,
            })
            .collect();
        let live = fold_all(&envelopes);
        let parsed = AgentKind::ClaudeCode.parse_transcript(&stored_files(&dir.join(transcript)));
        let ids = |blocks: &[Block]| -> Vec<String> {
            blocks
                .iter()
                .filter(|b| comparable(b))
                .map(|b| b.id().to_string())
                .collect()
        };
        assert_eq!(ids(&live.blocks), ids(&parsed.blocks), "{transcript}");
        let thread_ids = |blocks: &[Block]| -> Vec<String> {
            let not_text = |b: &&Block| !matches!(b, Block::AssistantText(_) | Block::Thinking(_));
            blocks
                .iter()
                .filter(|b| comparable(b))
                .filter(not_text)
                .map(|b| b.id().to_string())
                .collect()
        };
        let live_threads: Vec<_> = live
            .subagents
            .iter()
            .map(|(id, t)| (id.clone(), thread_ids(&t.blocks), t.status))
            .collect();
        let parsed_threads: Vec<_> = parsed
            .subagents
            .iter()
            .map(|(id, t)| (id.clone(), thread_ids(&t.blocks), t.status))
            .collect();
        assert_eq!(live_threads, parsed_threads, "{transcript}");
    }
}
