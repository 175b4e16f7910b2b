//! `session/update` notifications of one turn -> block events.
//!
//! - `agent_message_chunk` / `agent_thought_chunk`: `assistant_text` / `thinking` blocks, one per
//!   run of chunks of the same kind and message; every chunk is a `text_delta`.
//! - `tool_call` / `tool_call_update`: a `tool_use` block (pending; running with its final input
//!   once the agent runs it), then on `completed` / `failed` a `tool_result` block and the
//!   call's final status.
//! - `plan`: one `plan` block per turn, its entries replaced by every update.
//!
//! Block ids (unique within a session): `tool_use` the agent's `toolCallId`, its `tool_result`
//! `result:<toolCallId>`; text and thoughts `<messageId>:<n>` when the agent names messages,
//! else `text:<process>:<n>`; plans `plan:<process>:<n>`, where `<process>` is the time of the
//! process's first line.

use std::collections::HashMap;

use agent_runtime_protocol::{
    AssistantTextBlock, Block, BlockUpdates, PlanBlock, PlanEntry, SessionEvent, ThinkingBlock,
    ToolResultBlock, ToolStatus, ToolUseBlock, MAIN_CONVERSATION,
};
use serde_json::{json, Value};

use crate::output::{complete_event, update_event, AgentOutput};

pub(super) type Out = Vec<AgentOutput>;

/// Text or thoughts being streamed.
#[derive(Debug)]
struct OpenText {
    id: String,
    thought: bool,
    message_id: Option<String>,
    block: Block,
}

/// A tool call the agent announced.
#[derive(Debug)]
struct Call {
    name: String,
    input: Value,
    at: String,
    status: ToolStatus,
    /// The `tool_use` block was completed (its input is final).
    use_completed: bool,
}

/// The blocks of the turn(s) of one process.
#[derive(Debug, Default)]
pub(super) struct Blocks {
    process: Option<String>,
    counter: u64,
    per_message: HashMap<String, u64>,
    text: Option<OpenText>,
    calls: HashMap<String, Call>,
    /// Tool call ids in the order they started.
    call_order: Vec<String>,
    plan: Option<PlanBlock>,
}

fn event(out: &mut Out, event: SessionEvent) {
    out.push(AgentOutput::Event(event));
}

fn start(out: &mut Out, block: Block) {
    event(
        out,
        SessionEvent::BlockStart {
            conversation_id: MAIN_CONVERSATION.to_string(),
            block,
        },
    );
}

fn complete(out: &mut Out, block: Block) {
    event(out, complete_event(MAIN_CONVERSATION, block));
}

fn update_block(out: &mut Out, block_id: &str, updates: BlockUpdates) {
    event(out, update_event(MAIN_CONVERSATION, block_id, updates));
}

impl Blocks {
    /// Remembers the time of the process's first line, which makes generated ids unique.
    pub(super) fn note_process_start(&mut self, at: &str) {
        if self.process.is_none() {
            self.process = Some(at.to_string());
        }
    }

    fn next_id(&mut self, kind: &str) -> String {
        self.counter += 1;
        let process = self.process.as_deref().unwrap_or("process");
        format!("{kind}:{process}:{}", self.counter)
    }

    /// A text or thought chunk.
    pub(super) fn on_chunk(&mut self, update: &Value, thought: bool, at: &str, out: &mut Out) {
        let text = content_text(update.get("content").unwrap_or(&Value::Null));
        let message_id = update
            .get("messageId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let continues = self.text.as_ref().is_some_and(|open| {
            open.thought == thought && (message_id.is_none() || open.message_id == message_id)
        });
        if !continues {
            // Nothing to show yet (Codex opens its reasoning with a bare "\n\n").
            if text.trim().is_empty() {
                return;
            }
            self.close_text(out);
            let id = match &message_id {
                Some(message) => {
                    let n = self.per_message.entry(message.clone()).or_default();
                    *n += 1;
                    format!("{message}:{n}")
                }
                None => self.next_id(if thought { "thought" } else { "text" }),
            };
            let block = if thought {
                Block::Thinking(ThinkingBlock {
                    id: id.clone(),
                    at: at.to_string(),
                    text: String::new(),
                    signature: None,
                    redacted: false,
                })
            } else {
                Block::AssistantText(AssistantTextBlock {
                    id: id.clone(),
                    at: at.to_string(),
                    text: String::new(),
                })
            };
            start(out, block.clone());
            self.text = Some(OpenText {
                id,
                thought,
                message_id,
                block,
            });
        }
        if text.is_empty() {
            return;
        }
        if let Some(open) = self.text.as_mut() {
            open.block.append_text(&text);
            event(
                out,
                SessionEvent::TextDelta {
                    conversation_id: MAIN_CONVERSATION.to_string(),
                    block_id: open.id.clone(),
                    delta: text,
                },
            );
        }
    }

    fn close_text(&mut self, out: &mut Out) {
        if let Some(open) = self.text.take() {
            complete(out, open.block);
        }
    }

    /// `tool_call` (a new call) or `tool_call_update` (a change to one; an update for a call
    /// never announced starts it).
    pub(super) fn on_tool_call(&mut self, update: &Value, at: &str, out: &mut Out) {
        let Some(id) = update.get("toolCallId").and_then(Value::as_str) else {
            return;
        };
        self.close_text(out);
        let raw_input = update.get("rawInput").filter(|v| !is_empty(v)).cloned();
        if !self.calls.contains_key(id) {
            let name = tool_name(update);
            let input = raw_input.clone().unwrap_or_else(|| json!({}));
            start(
                out,
                Block::ToolUse(ToolUseBlock {
                    id: id.to_string(),
                    at: at.to_string(),
                    name: name.clone(),
                    input: input.clone(),
                    status: ToolStatus::Pending,
                    partial_input: None,
                }),
            );
            self.calls.insert(
                id.to_string(),
                Call {
                    name,
                    input,
                    at: at.to_string(),
                    status: ToolStatus::Pending,
                    use_completed: false,
                },
            );
            self.call_order.push(id.to_string());
        }
        let call = self.calls.get_mut(id).expect("inserted above");
        if let Some(input) = raw_input {
            if !call.use_completed {
                call.input = input;
            }
        }
        let status = update.get("status").and_then(Value::as_str);
        match status {
            Some("in_progress") => Self::complete_use(id, call, out),
            Some(done @ ("completed" | "failed")) => {
                Self::complete_use(id, call, out);
                let is_error = done == "failed";
                let (output, details) = tool_output(update);
                complete(
                    out,
                    Block::ToolResult(ToolResultBlock {
                        id: format!("result:{id}"),
                        at: at.to_string(),
                        tool_use_id: id.to_string(),
                        output,
                        is_error,
                        details,
                    }),
                );
                call.status = if is_error {
                    ToolStatus::Error
                } else {
                    ToolStatus::Success
                };
                update_status(out, id, call.status);
            }
            _ => {}
        }
    }

    fn complete_use(id: &str, call: &mut Call, out: &mut Out) {
        if call.use_completed {
            return;
        }
        call.use_completed = true;
        call.status = ToolStatus::Running;
        complete(
            out,
            Block::ToolUse(ToolUseBlock {
                id: id.to_string(),
                at: call.at.clone(),
                name: call.name.clone(),
                input: call.input.clone(),
                status: ToolStatus::Running,
                partial_input: None,
            }),
        );
    }

    /// A `plan`: the whole plan, replacing the last one of this turn.
    pub(super) fn on_plan(&mut self, update: &Value, at: &str, out: &mut Out) {
        let entries: Vec<PlanEntry> = update
            .get("entries")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| serde_json::from_value(e.clone()).ok())
                    .collect()
            })
            .unwrap_or_default();
        self.close_text(out);
        match self.plan.as_mut() {
            Some(plan) => {
                plan.entries = entries.clone();
                update_block(
                    out,
                    &plan.id,
                    BlockUpdates {
                        entries: Some(entries),
                        ..BlockUpdates::default()
                    },
                );
            }
            None => {
                let plan = PlanBlock {
                    id: self.next_id("plan"),
                    at: at.to_string(),
                    entries,
                };
                start(out, Block::Plan(plan.clone()));
                self.plan = Some(plan);
            }
        }
    }

    /// Ends the turn's blocks: text and plan are completed; calls still pending or running
    /// become errors with `why` as their result.
    pub(super) fn close_turn(&mut self, why: &str, at: &str, out: &mut Out) {
        self.close_text(out);
        if let Some(plan) = self.plan.take() {
            complete(out, Block::Plan(plan));
        }
        for id in std::mem::take(&mut self.call_order) {
            let Some(mut call) = self.calls.remove(&id) else {
                continue;
            };
            if matches!(call.status, ToolStatus::Pending | ToolStatus::Running) {
                Self::complete_use(&id, &mut call, out);
                complete(
                    out,
                    Block::ToolResult(ToolResultBlock {
                        id: format!("result:{id}"),
                        at: at.to_string(),
                        tool_use_id: id.clone(),
                        output: why.to_string(),
                        is_error: true,
                        details: None,
                    }),
                );
                update_status(out, &id, ToolStatus::Error);
            }
        }
    }
}

fn update_status(out: &mut Out, id: &str, status: ToolStatus) {
    update_block(
        out,
        id,
        BlockUpdates {
            status: Some(status),
            ..BlockUpdates::default()
        },
    );
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The name a call is shown and matched by: the agent's tool name when its first title is one
/// (OpenCode: `bash`, `write`), else the name rules use for its ACP kind (Codex titles a call
/// with its command: `execute` is `Bash`, `edit` is `Edit`, ...), else the title. The title the
/// agent shows last is kept in the result's details.
fn tool_name(update: &Value) -> String {
    let title = update.get("title").and_then(Value::as_str).unwrap_or("");
    let kind = update.get("kind").and_then(Value::as_str).unwrap_or("");
    let is_identifier = !title.is_empty()
        && title
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if is_identifier {
        return title.to_string();
    }
    match super::kind_tool(kind) {
        Some(name) => name.to_string(),
        None if !title.is_empty() => title.to_string(),
        None if !kind.is_empty() => kind.to_string(),
        None => "tool".to_string(),
    }
}

/// The text of one ACP content block; other kinds are summarized.
pub(super) fn content_text(content: &Value) -> String {
    match content.get("type").and_then(Value::as_str) {
        Some("text") => content
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        Some("image") => "[image]".to_string(),
        Some("audio") => "[audio]".to_string(),
        Some("resource_link") => format!(
            "[{}]",
            content
                .get("uri")
                .and_then(Value::as_str)
                .unwrap_or("resource")
        ),
        Some("resource") => content
            .pointer("/resource/text")
            .and_then(Value::as_str)
            .unwrap_or("[resource]")
            .to_string(),
        _ => String::new(),
    }
}

/// A finished call's output as text, and its details (kind, title, locations, diffs, raw output).
fn tool_output(update: &Value) -> (String, Option<Value>) {
    let mut parts = Vec::new();
    let mut diffs = Vec::new();
    for item in update
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("content") => {
                parts.push(content_text(item.get("content").unwrap_or(&Value::Null)))
            }
            Some("diff") => {
                let path = item.get("path").and_then(Value::as_str).unwrap_or("?");
                parts.push(format!("[diff of {path}]"));
                diffs.push(item.clone());
            }
            Some("terminal") => parts.push("[terminal]".to_string()),
            _ => {}
        }
    }
    let mut output = parts.join("\n");
    if output.is_empty() {
        output = match update.get("rawOutput") {
            Some(Value::String(s)) => s.clone(),
            // OpenCode: `output`; Codex: `formatted_output` (what the model saw), else the
            // combined or standard output.
            Some(raw) => match ["output", "formatted_output", "aggregated_output", "stdout"]
                .iter()
                .find_map(|key| raw.get(*key).and_then(Value::as_str))
            {
                Some(s) => s.to_string(),
                None if !raw.is_null() => raw.to_string(),
                None => String::new(),
            },
            None => String::new(),
        };
    }
    let mut details = serde_json::Map::new();
    for key in ["kind", "title", "locations"] {
        if let Some(value) = update.get(key).filter(|v| !is_empty(v)) {
            details.insert(key.to_string(), value.clone());
        }
    }
    if !diffs.is_empty() {
        details.insert("diffs".to_string(), Value::Array(diffs));
    }
    let details = (!details.is_empty()).then_some(Value::Object(details));
    (output, details)
}
