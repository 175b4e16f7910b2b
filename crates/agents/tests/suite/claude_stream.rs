//! The Claude translator over every captured stdout stream (`shared/fixtures/claude/*.stream.jsonl`).
//!
//! Each snapshot holds the translator's outputs in order (consecutive deltas of one block
//! collapsed into one line) and the session state they fold into, with every `TurnFinished`
//! applied as the runtime would (`turn_completed`).

use agent_runtime_agents::{AgentKind, AgentOutput, TranslatorContext};
use agent_runtime_protocol::SessionEvent;

use super::common::{describe, fold_outputs, truncate_strings, Replay, AT};

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
