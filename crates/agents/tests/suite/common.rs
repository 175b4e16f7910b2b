//! Helpers shared by the snapshot suites.

use agent_runtime_agents::AgentOutput;
use agent_runtime_protocol::{fold, Envelope, SessionEvent, SessionState};
use serde::Serialize;
use serde_json::Value;

/// Fixed time given to translators, so snapshots are stable.
pub const AT: &str = "2026-01-01T00:00:00Z";

/// Longest string kept in a snapshot; longer ones are cut (with their length noted).
const MAX_STRING: usize = 240;

/// `value` with long strings shortened, so snapshots stay reviewable.
pub fn truncate_strings(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(truncate(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(truncate_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, truncate_strings(v)))
                .collect(),
        ),
        other => other,
    }
}

pub fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_STRING {
        return s.to_string();
    }
    let kept: String = s.chars().take(MAX_STRING).collect();
    format!("{kept}… [{} chars]", s.chars().count())
}

/// A translator run as a snapshot: its outputs, one line each, and the state they fold into.
#[derive(Serialize)]
pub struct Replay {
    pub outputs: Vec<String>,
    pub state: serde_json::Value,
}

/// One line per output; a run of text deltas / partial-input updates of one block is one line.
pub fn describe(outputs: &[AgentOutput]) -> Vec<String> {
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
        AgentOutput::Ask(ask) => format!("ask {ask:?}"),
        AgentOutput::AskWithdrawn { agent_request_id } => {
            format!("ask_withdrawn {agent_request_id}")
        }
        AgentOutput::AgentSessionId(id) => format!("agent_session_id {id}"),
    }
}

/// Folds `outputs` as the runtime would, each `TurnFinished` becoming a `turn_completed`.
pub fn fold_outputs(outputs: &[AgentOutput]) -> SessionState {
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
            AgentOutput::WriteStdin(_)
            | AgentOutput::Ask(_)
            | AgentOutput::AskWithdrawn { .. }
            | AgentOutput::AgentSessionId(_) => continue,
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
