//! The Gemini translator over every captured stdout stream (`shared/fixtures/gemini/*.stream.jsonl`)
//! and every captured stderr (`*.stderr.txt`, where only API retry notices mean something).
//!
//! Stream snapshots hold the translator's outputs and the state they fold into (as in
//! `claude_stream`); a stream that ends without a `result` line (the process was killed) gets
//! what the runtime would add: `close_open_blocks`, then `exit_error` of a killed process.

use agent_runtime_agents::{AgentKind, AgentOutput, TranslatorContext, TurnOutcome};
use agent_runtime_protocol::TurnEndReason;
use serde::Serialize;

use super::common::{describe, fold_outputs, truncate_strings, Replay, AT};

/// Exit code of a process the sandbox killed (`128 + SIGKILL`).
const KILLED: i32 = 137;

#[test]
fn gemini_streams() {
    insta::glob!(
        "../../../../../shared/fixtures",
        "gemini/*.stream.jsonl",
        |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let mut translator = AgentKind::GeminiCli.new_translator(TranslatorContext::default());
            let mut outputs = Vec::new();
            for line in text.lines() {
                outputs.extend(translator.translate_line(line, AT));
            }
            let finished = outputs
                .iter()
                .any(|o| matches!(o, AgentOutput::TurnFinished(_)));
            if !finished {
                outputs.extend(translator.close_open_blocks(AT));
                outputs.push(AgentOutput::TurnFinished(TurnOutcome {
                    reason: TurnEndReason::Error,
                    usage: Default::default(),
                    cost_usd: 0.0,
                    error: Some(translator.exit_error(Some(KILLED))),
                    agent_initiated: false,
                }));
            }
            let state = fold_outputs(&outputs);
            let replay = Replay {
                outputs: describe(&outputs),
                state: truncate_strings(serde_json::to_value(&state).unwrap()),
            };
            insta::assert_yaml_snapshot!(replay);
        }
    );
}

#[derive(Serialize)]
struct StderrReplay {
    outputs: Vec<String>,
    /// What a kill after these lines reports.
    killed: serde_json::Value,
}

#[test]
fn gemini_stderr() {
    insta::glob!("../../../../../shared/fixtures", "gemini/*.txt", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let mut translator = AgentKind::GeminiCli.new_translator(TranslatorContext::default());
        let mut outputs = Vec::new();
        for line in text.lines() {
            outputs.extend(translator.translate_stderr_line(line, AT));
        }
        let replay = StderrReplay {
            outputs: describe(&outputs),
            killed: serde_json::to_value(translator.exit_error(Some(KILLED))).unwrap(),
        };
        insta::assert_yaml_snapshot!(replay);
    });
}

/// Invariants over every stream: the deltas of a text block add up to its final text, every
/// tool result pairs with a call, no call is left running after the turn ends, and block ids
/// are unique across threads.
#[test]
fn gemini_stream_invariants() {
    use std::collections::HashSet;

    use agent_runtime_protocol::{Block, SessionEvent, ToolStatus};

    insta::glob!(
        "../../../../../shared/fixtures",
        "gemini/*.stream.jsonl",
        |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let mut translator = AgentKind::GeminiCli.new_translator(TranslatorContext::default());
            let mut outputs = Vec::new();
            for line in text.lines() {
                outputs.extend(translator.translate_line(line, AT));
            }
            outputs.extend(translator.close_open_blocks(AT));
            let mut streamed = std::collections::HashMap::<String, String>::new();
            for output in &outputs {
                if let AgentOutput::Event(SessionEvent::TextDelta {
                    block_id, delta, ..
                }) = output
                {
                    streamed
                        .entry(block_id.clone())
                        .or_default()
                        .push_str(delta);
                }
            }
            let state = fold_outputs(&outputs);
            let mut ids = HashSet::new();
            let threads =
                std::iter::once(&state.blocks).chain(state.subagents.values().map(|t| &t.blocks));
            for blocks in threads {
                let calls: HashSet<&str> = blocks
                    .iter()
                    .filter_map(|b| match b {
                        Block::ToolUse(t) => Some(t.id.as_str()),
                        _ => None,
                    })
                    .collect();
                for block in blocks {
                    assert!(
                        ids.insert(block.id().to_string()),
                        "duplicate {}",
                        block.id()
                    );
                    match block {
                        Block::AssistantText(t) => {
                            assert_eq!(streamed.get(&t.id), Some(&t.text), "{}", t.id)
                        }
                        Block::ToolResult(r) => {
                            assert!(calls.contains(r.tool_use_id.as_str()), "{}", r.id)
                        }
                        Block::ToolUse(t) => assert!(
                            matches!(t.status, ToolStatus::Success | ToolStatus::Error),
                            "{} left {:?}",
                            t.id,
                            t.status
                        ),
                        _ => {}
                    }
                }
            }
        }
    );
}
