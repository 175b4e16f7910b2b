//! The ACP translator over every captured session (`fixtures/*-acp/*.acp.jsonl`: each line one
//! JSON-RPC message, `"dir": "out"` what the capturing client sent, `"in"` what the real agent
//! answered).
//!
//! The replay drives the translator the way the runtime does: `start_lines` at the start, each
//! prompt the client sent becomes `user_message`, each `session/cancel` an interrupt, each
//! answer to a permission request the matching reply; every agent line goes to
//! `translate_line`. The client's own lines must match what the translator writes (method and
//! id), so the fixtures pin the protocol both ways. Snapshots hold the outputs and the state
//! they fold into.

use std::collections::VecDeque;

use agent_runtime_agents::acp::{AcpSessionSetup, AcpTranslator};
use agent_runtime_agents::{AgentOutput, AskReply, TranslatorContext};
use serde_json::Value;

use super::common::{describe, fold_outputs, truncate_strings, Replay, AT};

/// The lines the translator wrote to the agent (from `start_lines`, replies, and
/// [`AgentOutput::WriteStdin`]), parsed, in order.
fn written(lines: impl IntoIterator<Item = String>, sent: &mut VecDeque<Value>) {
    for line in lines {
        sent.push_back(serde_json::from_str(line.trim()).expect("the translator writes JSON"));
    }
}

fn replay(text: &str) -> (Replay, Vec<AgentOutput>) {
    let messages: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // A capture that loads a session names it in its first `session/load`.
    let load = messages.iter().find_map(|m| {
        (m["dir"] == "out" && m["msg"]["method"] == "session/load").then(|| {
            m["msg"]["params"]["sessionId"]
                .as_str()
                .unwrap()
                .to_string()
        })
    });
    let cwd = messages
        .iter()
        .find_map(|m| m["msg"]["params"]["cwd"].as_str().map(str::to_string))
        .unwrap();
    let mut translator = AcpTranslator::new(TranslatorContext {
        acp: AcpSessionSetup {
            cwd,
            load,
            mcp_servers: Vec::new(),
        },
        ..TranslatorContext::default()
    });
    let mut sent = VecDeque::new();
    written(translator.start_lines(), &mut sent);
    let mut outputs = Vec::new();
    for message in &messages {
        let msg = &message["msg"];
        if message["dir"] == "in" {
            let new = translator.translate_line(&msg.to_string(), AT);
            for output in &new {
                if let AgentOutput::WriteStdin(line) = output {
                    written([line.clone()], &mut sent);
                }
            }
            outputs.extend(new);
            continue;
        }
        // What the capturing client sent; the translator must have written the same.
        match msg["method"].as_str() {
            Some("session/prompt") => {
                let text = msg["params"]["prompt"][0]["text"].as_str().unwrap();
                let new = translator.user_message(text);
                for output in &new {
                    if let AgentOutput::WriteStdin(line) = output {
                        written([line.clone()], &mut sent);
                    }
                }
                outputs.extend(new);
            }
            Some("session/cancel") => {
                translator.note_interrupt_requested();
                written(translator.encode_interrupt(), &mut sent);
            }
            Some(_) => {}
            None => {
                // An answer to the agent's permission request: reply as the user would.
                let request_id = msg["id"].to_string();
                let option = msg["result"]["outcome"]["optionId"].as_str().unwrap_or("");
                let reply = if option == "reject" {
                    AskReply::Deny {
                        message: "no".into(),
                    }
                } else {
                    AskReply::Allow {
                        input: Value::Null,
                        suggestions: Vec::new(),
                    }
                };
                let line = translator
                    .encode_ask_reply(&request_id, &reply)
                    .expect("the request is pending");
                written([line], &mut sent);
            }
        }
        let ours = sent
            .pop_front()
            .unwrap_or_else(|| panic!("the translator did not write {msg}"));
        assert_eq!(ours["method"], msg["method"], "{ours} vs {msg}");
        assert_eq!(ours["id"], msg["id"], "{ours} vs {msg}");
        if msg.get("result").is_some() {
            assert_eq!(ours["result"], msg["result"]);
        }
    }
    let state = fold_outputs(&outputs);
    (
        Replay {
            outputs: describe(&outputs),
            state: truncate_strings(serde_json::to_value(&state).unwrap()),
        },
        outputs,
    )
}

#[test]
fn acp_streams() {
    insta::glob!("../../fixtures", "*-acp/*.acp.jsonl", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let (replay, _) = replay(&text);
        insta::assert_yaml_snapshot!(replay);
    });
}

/// Every prompt of a capture ends exactly one turn, no tool call is left open, the deltas of a
/// text block add up to its text, and block ids are unique.
#[test]
fn acp_stream_invariants() {
    insta::glob!("../../fixtures", "*-acp/*.acp.jsonl", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let prompts = text.matches("\"method\": \"session/prompt\"").count();
        let (_, outputs) = replay(&text);
        let finished = outputs
            .iter()
            .filter(|o| matches!(o, AgentOutput::TurnFinished(_)))
            .count();
        assert_eq!(finished, prompts, "{}", path.display());
        let state = fold_outputs(&outputs);
        let mut ids = std::collections::HashSet::new();
        for block in &state.blocks {
            assert!(
                ids.insert(block.id().to_string()),
                "duplicate id {}",
                block.id()
            );
            if let agent_runtime_protocol::Block::ToolUse(tool) = block {
                assert!(
                    matches!(
                        tool.status,
                        agent_runtime_protocol::ToolStatus::Success
                            | agent_runtime_protocol::ToolStatus::Error
                    ),
                    "{} left {:?}",
                    tool.id,
                    tool.status
                );
            }
        }
    });
}

/// Gemini CLI's ACP mode (`gemini --experimental-acp`), captured in `shared/fixtures/gemini`:
/// only the agent's side was recorded, and its ids follow the client's (initialize 1,
/// session/new 2, the prompt 3), so the message is sent before the session opens and goes out
/// when it does.
#[test]
fn gemini_acp_mode_streams() {
    insta::glob!(
        "../../../../../shared/fixtures",
        "gemini/acp-mode-*.stdout.jsonl",
        |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let mut translator = AcpTranslator::new(TranslatorContext {
                acp: AcpSessionSetup {
                    cwd: "/workspace".into(),
                    load: None,
                    mcp_servers: Vec::new(),
                },
                ..TranslatorContext::default()
            });
            translator.start_lines();
            let mut outputs = translator.user_message("list, write and read notes.txt");
            for line in text.lines() {
                outputs.extend(translator.translate_line(line, AT));
            }
            let turns = outputs
                .iter()
                .filter(|o| matches!(o, AgentOutput::TurnFinished(_)))
                .count();
            assert_eq!(turns, 1);
            let state = fold_outputs(&outputs);
            let replay = Replay {
                outputs: describe(&outputs),
                state: truncate_strings(serde_json::to_value(&state).unwrap()),
            };
            insta::assert_yaml_snapshot!(replay);
        }
    );
}
