//! The Claude translator over every captured stdout stream (`shared/fixtures/claude/*.stream.jsonl`).
//!
//! Each snapshot holds the translator's outputs in order (consecutive deltas of one block
//! collapsed into one line) and the session state they fold into, with every `TurnFinished`
//! applied as the runtime would (`turn_completed`).

use agent_runtime_agents::{AgentKind, AgentOutput, TranslatorContext};
use agent_runtime_protocol::{fold, Envelope, SessionEvent, SessionState};
use serde::Serialize;

use super::common::{truncate, truncate_strings, AT};

#[derive(Serialize)]
struct Replay {
    outputs: Vec<String>,
    state: serde_json::Value,
}

/// One line per output; a run of text deltas / partial-input updates of one block is one line.
fn describe(outputs: &[AgentOutput]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut run: Option<(String, usize, usize)> = None; // (key, count, chars)
    let flush = |run: &mut Option<(String, usize, usize)>, lines: &mut Vec<String>| {
        if let Some((key, count, chars)) = run.take() {
            lines.push(format!("{key} x{count} ({chars} chars)"));
        }
    };
    for output in outputs {
        let (key, chars) = match output {
            AgentOutput::Event(SessionEvent::TextDelta {
                conversation_id,
                block_id,
                delta,
            }) => (
                Some(format!("text_delta {conversation_id} {block_id}")),
                delta.chars().count(),
            ),
            AgentOutput::Event(SessionEvent::BlockUpdate {
                conversation_id,
                block_id,
                updates,
            }) if updates.partial_input.is_some() => {
                let len = updates
                    .partial_input
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .count();
                (
                    Some(format!("partial_input {conversation_id} {block_id}")),
                    len,
                )
            }
            _ => (None, 0),
        };
        match (key, &mut run) {
            (Some(key), Some((run_key, count, total))) if *run_key == key => {
                *count += 1;
                // Partial input is cumulative: keep the last length.
                *total = if key.starts_with("partial_input") {
                    chars
                } else {
                    *total + chars
                };
            }
            (Some(key), _) => {
                flush(&mut run, &mut lines);
                run = Some((key, 1, chars));
            }
            (None, _) => {
                flush(&mut run, &mut lines);
                lines.push(describe_one(output));
            }
        }
    }
    flush(&mut run, &mut lines);
    lines
}

fn describe_one(output: &AgentOutput) -> String {
    match output {
        AgentOutput::Event(event) => match event {
            SessionEvent::BlockStart {
                conversation_id,
                block,
            } => {
                format!(
                    "block_start {conversation_id} {} {}",
                    block.id(),
                    block.kind()
                )
            }
            SessionEvent::BlockComplete {
                conversation_id,
                block,
                ..
            } => {
                format!(
                    "block_complete {conversation_id} {} {}",
                    block.id(),
                    block.kind()
                )
            }
            SessionEvent::BlockUpdate {
                conversation_id,
                block_id,
                updates,
            } => {
                let updates = serde_json::to_string(updates).unwrap();
                format!(
                    "block_update {conversation_id} {block_id} {}",
                    truncate(&updates)
                )
            }
            other => truncate(&serde_json::to_string(other).unwrap()),
        },
        AgentOutput::TurnFinished(outcome) => {
            let u = &outcome.usage;
            let mut line =
                format!(
                "turn_finished {} cost_usd={} tokens(in/out/cache_read/cache_write)={}/{}/{}/{}",
                serde_json::to_string(&outcome.reason).unwrap().trim_matches('"'),
                outcome.cost_usd,
                u.input_tokens,
                u.output_tokens,
                u.cache_read_input_tokens,
                u.cache_creation_input_tokens,
            );
            if outcome.agent_initiated {
                line.push_str(" agent_initiated");
            }
            if let Some(error) = &outcome.error {
                line.push_str(&format!(" error={}", serde_json::to_string(error).unwrap()));
            }
            line
        }
        AgentOutput::WriteStdin(line) => format!("write_stdin {}", line.trim_end()),
    }
}

/// Folds `outputs` as the runtime would, each `TurnFinished` becoming a `turn_completed`.
fn fold_outputs(outputs: &[AgentOutput]) -> SessionState {
    let mut state = SessionState::default();
    let mut seq = 0;
    let mut turns = 0;
    for output in outputs {
        let event = match output {
            AgentOutput::Event(event) => event.clone(),
            AgentOutput::TurnFinished(outcome) => {
                turns += 1;
                SessionEvent::TurnCompleted {
                    turn_id: format!("turn-{turns}"),
                    reason: outcome.reason,
                    usage: outcome.usage,
                    cost_usd: outcome.cost_usd,
                    duration_ms: 0,
                    error: outcome.error.clone(),
                }
            }
            AgentOutput::WriteStdin(_) => continue,
        };
        seq += 1;
        let envelope = Envelope {
            session_id: "s".into(),
            seq,
            at: AT.into(),
            event,
        };
        fold(&mut state, &envelope);
    }
    state
}

#[test]
fn claude_streams() {
    insta::glob!(
        "../../../../../shared/fixtures",
        "claude/*.stream.jsonl",
        |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let mut translator = AgentKind::ClaudeCode.new_translator(TranslatorContext::default());
            let mut outputs = Vec::new();
            for line in text.lines() {
                outputs.extend(translator.translate_line(line, AT));
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

/// Invariants over every stream: the deltas of a block add up to its final text (nothing
/// duplicated or lost), every tool result pairs with a call in the same thread, no call is left
/// pending, and block ids are unique across threads.
#[test]
fn claude_stream_invariants() {
    use std::collections::{HashMap, HashSet};

    use agent_runtime_protocol::{Block, ToolStatus};

    insta::glob!(
        "../../../../../shared/fixtures",
        "claude/*.stream.jsonl",
        |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let mut translator = AgentKind::ClaudeCode.new_translator(TranslatorContext::default());
            let mut outputs = Vec::new();
            for line in text.lines() {
                outputs.extend(translator.translate_line(line, AT));
            }
            let mut streamed: HashMap<String, String> = HashMap::new();
            for output in &outputs {
                match output {
                    AgentOutput::Event(SessionEvent::TextDelta {
                        block_id, delta, ..
                    }) => {
                        streamed
                            .entry(block_id.clone())
                            .or_default()
                            .push_str(delta);
                    }
                    AgentOutput::Event(SessionEvent::BlockComplete { block, .. }) => {
                        let final_text = match block {
                            Block::AssistantText(b) => &b.text,
                            Block::Thinking(b) => &b.text,
                            _ => continue,
                        };
                        if let Some(deltas) = streamed.get(block.id()) {
                            assert_eq!(deltas, final_text, "{path:?} {}", block.id());
                        }
                    }
                    _ => {}
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
                        "{path:?} duplicate id {}",
                        block.id()
                    );
                    match block {
                        Block::ToolResult(r) => {
                            assert!(calls.contains(r.tool_use_id.as_str()), "{path:?} {}", r.id)
                        }
                        Block::ToolUse(t) => {
                            assert_ne!(t.status, ToolStatus::Pending, "{path:?} {}", t.id)
                        }
                        _ => {}
                    }
                }
            }
        }
    );
}
