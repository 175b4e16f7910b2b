//! Model output: `stream_event` deltas and the authoritative `assistant` lines.

use agent_runtime_protocol::{
    AssistantTextBlock, Block, BlockUpdates, SessionEvent, ThinkingBlock, ToolStatus, ToolUseBlock,
    MAIN_CONVERSATION,
};
use serde_json::{json, Value};

use super::{event, update_event, warning, ClaudeTranslator, OpenBlock, Out, StreamedMessage};
use crate::claude::content::{assistant_item, str_field, AssistantItem};

impl ClaudeTranslator {
    pub(super) fn on_stream_event(&mut self, value: &Value, at: &str, out: &mut Out) {
        // Subagents are never streamed (A.5); their complete lines carry everything.
        if value
            .get("parent_tool_use_id")
            .is_some_and(|p| !p.is_null())
        {
            return;
        }
        let Some(ev) = value.get("event") else { return };
        let index = ev.get("index").and_then(Value::as_u64);
        match str_field(ev, "type") {
            Some("message_start") => {
                let message = ev.get("message");
                self.retry_block = None;
                self.update_metadata(message.and_then(|m| str_field(m, "model")), None, out);
                self.stream = message
                    .and_then(|m| str_field(m, "id"))
                    .map(|id| StreamedMessage {
                        id: id.to_string(),
                        blocks: Default::default(),
                    });
            }
            Some("content_block_start") => {
                if let (Some(index), Some(block)) = (index, ev.get("content_block")) {
                    self.start_streamed_block(index, block, at, out);
                }
            }
            Some("content_block_delta") => {
                if let (Some(index), Some(delta)) = (index, ev.get("delta")) {
                    self.apply_delta(index, delta, at, out);
                }
            }
            Some("content_block_stop") => {
                if let Some(id) = index.and_then(|i| self.streamed_block_id(i)) {
                    if let Some(pos) = self.open_position(&id) {
                        let open = self.open.remove(pos);
                        self.finish_open_block(open, ToolStatus::Running, out);
                    }
                }
            }
            // message_delta, message_stop, and events the API may add.
            _ => {}
        }
    }

    fn streamed_block_id(&self, index: u64) -> Option<String> {
        self.stream.as_ref()?.blocks.get(&index).cloned()
    }

    fn start_streamed_block(&mut self, index: u64, content: &Value, at: &str, out: &mut Out) {
        let Some(stream) = &self.stream else { return };
        let text_id = || format!("{}:{index}", stream.id);
        let at = at.to_string();
        let block = match str_field(content, "type") {
            Some("text") => Block::AssistantText(AssistantTextBlock {
                id: text_id(),
                at,
                text: str_field(content, "text").unwrap_or("").to_string(),
            }),
            Some(kind @ ("thinking" | "redacted_thinking")) => Block::Thinking(ThinkingBlock {
                id: text_id(),
                at,
                text: str_field(content, "thinking").unwrap_or("").to_string(),
                signature: None,
                redacted: kind == "redacted_thinking",
            }),
            Some("tool_use" | "server_tool_use" | "mcp_tool_use") => {
                let Some(id) = str_field(content, "id") else {
                    return;
                };
                Block::ToolUse(ToolUseBlock {
                    id: id.to_string(),
                    at,
                    name: str_field(content, "name").unwrap_or("").to_string(),
                    input: json!({}),
                    status: ToolStatus::Pending,
                    partial_input: None,
                })
            }
            // Anything else is rendered from its `assistant` line.
            _ => return,
        };
        self.open_block(index, block, out);
    }

    /// Opens a streamed main-thread block at content `index` (`block_start`).
    fn open_block(&mut self, index: u64, block: Block, out: &mut Out) {
        let id = block.id().to_string();
        if self.completed.contains(&id) {
            return;
        }
        if let Some(stream) = &mut self.stream {
            stream.blocks.insert(index, id.clone());
        }
        if let Some(pos) = self.open_position(&id) {
            self.open.remove(pos);
        }
        event(
            out,
            SessionEvent::BlockStart {
                conversation_id: MAIN_CONVERSATION.to_string(),
                block: block.clone(),
            },
        );
        self.open.push(OpenBlock {
            conversation: MAIN_CONVERSATION.to_string(),
            block,
            partial_json: String::new(),
        });
    }

    fn apply_delta(&mut self, index: u64, delta: &Value, at: &str, out: &mut Out) {
        let kind = str_field(delta, "type").unwrap_or("");
        let mut id = self.streamed_block_id(index);
        let is_open = id
            .as_deref()
            .is_some_and(|id| self.open_position(id).is_some());
        if !is_open && matches!(kind, "text_delta" | "thinking_delta") {
            // A delta without its start: synthesize the start (unless the block is done).
            let Some(stream) = &self.stream else { return };
            let new_id = format!("{}:{index}", stream.id);
            if self.completed.contains(&new_id) {
                return;
            }
            warning(
                out,
                format!("{kind} for block {new_id} that was never started"),
                None,
            );
            let block = if kind == "text_delta" {
                Block::AssistantText(AssistantTextBlock {
                    id: new_id.clone(),
                    at: at.to_string(),
                    text: String::new(),
                })
            } else {
                Block::Thinking(ThinkingBlock {
                    id: new_id.clone(),
                    at: at.to_string(),
                    text: String::new(),
                    signature: None,
                    redacted: false,
                })
            };
            self.open_block(index, block, out);
            id = Some(new_id);
        }
        let Some(id) = id else { return };
        let Some(pos) = self.open_position(&id) else {
            return;
        };
        let open = &mut self.open[pos];
        let conversation = open.conversation.clone();
        // A delta only ever extends a block of its own kind: text and thinking never mix.
        match (kind, &mut open.block) {
            ("text_delta", Block::AssistantText(b)) => {
                let text = str_field(delta, "text").unwrap_or("");
                b.text.push_str(text);
                event(out, text_delta(&conversation, &id, text));
            }
            ("thinking_delta", Block::Thinking(b)) => {
                let text = str_field(delta, "thinking").unwrap_or("");
                b.text.push_str(text);
                event(out, text_delta(&conversation, &id, text));
            }
            ("signature_delta", Block::Thinking(b)) => {
                let piece = str_field(delta, "signature").unwrap_or("");
                let signature = b.signature.take().unwrap_or_default() + piece;
                b.signature = Some(signature.clone());
                let updates = BlockUpdates {
                    signature: Some(signature),
                    ..BlockUpdates::default()
                };
                event(out, update_event(&conversation, &id, updates));
            }
            ("input_json_delta", Block::ToolUse(b)) => {
                open.partial_json
                    .push_str(str_field(delta, "partial_json").unwrap_or(""));
                b.partial_input = Some(open.partial_json.clone());
                let updates = BlockUpdates {
                    partial_input: Some(open.partial_json.clone()),
                    ..BlockUpdates::default()
                };
                event(out, update_event(&conversation, &id, updates));
            }
            // Mismatched or unknown deltas (citations, ...) change nothing.
            _ => {}
        }
    }

    /// Completes a streamed block that got no `assistant` line, from what was streamed; a tool
    /// call gets `tool_status`.
    pub(super) fn finish_open_block(
        &mut self,
        open: OpenBlock,
        tool_status: ToolStatus,
        out: &mut Out,
    ) {
        let mut block = open.block;
        if let Block::ToolUse(tool) = &mut block {
            if !open.partial_json.trim().is_empty() {
                tool.input = serde_json::from_str(&open.partial_json)
                    .unwrap_or_else(|_| json!({ "partialInput": open.partial_json }));
            }
            tool.partial_input = None;
            tool.status = tool_status;
        }
        let at = block.at().to_string();
        self.complete_block_at(&open.conversation, block, &at, out);
    }

    pub(super) fn on_assistant(&mut self, value: &Value, at: &str, out: &mut Out) {
        let conversation = self.conversation_of(value, at, out);
        let Some(message) = value.get("message") else {
            return;
        };
        let message_id = match str_field(message, "id") {
            Some(id) => id.to_string(),
            None => self.line_id(value),
        };
        let model = str_field(message, "model");
        let is_api_error = model == Some("<synthetic>")
            || value.get("is_api_error_message").and_then(Value::as_bool) == Some(true);
        let api_error = is_api_error.then(|| {
            json!({
                "error": value.get("error").cloned().unwrap_or(Value::Null),
                "httpStatus": value.get("api_error_status").cloned().unwrap_or(Value::Null),
                "type": value.get("api_error_type").cloned().unwrap_or(Value::Null),
            })
        });
        if conversation == MAIN_CONVERSATION {
            self.retry_block = None;
            if !is_api_error {
                self.update_metadata(model, None, out);
            }
        }
        let items: Vec<Value> = match message.get("content") {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::String(text)) => vec![json!({"type": "text", "text": text})],
            _ => Vec::new(),
        };
        for item in &items {
            let index = self.assign_index(&conversation, &message_id, item);
            match assistant_item(item, &message_id, index, at, api_error.as_ref()) {
                AssistantItem::Block(block) => self.complete_block(&conversation, block, out),
                AssistantItem::Unknown(kind) => warning(
                    out,
                    format!("unknown assistant content type {kind:?} in message {message_id}"),
                    None,
                ),
            }
        }
    }

    /// The content index of `item` in message `message_id`: the streamed block it completes, or
    /// the next index of that message.
    fn assign_index(&mut self, conversation: &str, message_id: &str, item: &Value) -> u64 {
        let key = (conversation.to_string(), message_id.to_string());
        let next = self.next_index.get(&key).copied().unwrap_or(0);
        let streamed = self
            .stream
            .as_ref()
            .filter(|s| conversation == MAIN_CONVERSATION && s.id == message_id)
            .and_then(|stream| {
                stream
                    .blocks
                    .iter()
                    .filter(|(_, id)| {
                        self.open
                            .iter()
                            .any(|o| o.block.id() == id.as_str() && matches_item(&o.block, item))
                    })
                    .map(|(index, _)| *index)
                    .min()
            });
        let index = streamed.unwrap_or(next);
        self.next_index.insert(key, next.max(index + 1));
        index
    }
}

fn text_delta(conversation: &str, block_id: &str, delta: &str) -> SessionEvent {
    SessionEvent::TextDelta {
        conversation_id: conversation.to_string(),
        block_id: block_id.to_string(),
        delta: delta.to_string(),
    }
}

/// Whether the open `block` is the one the assistant content `item` completes.
fn matches_item(block: &Block, item: &Value) -> bool {
    match (block, str_field(item, "type")) {
        (Block::AssistantText(_), Some("text")) => true,
        (Block::Thinking(_), Some("thinking" | "redacted_thinking")) => true,
        (Block::ToolUse(tool), Some(_)) => str_field(item, "id") == Some(tool.id.as_str()),
        _ => false,
    }
}
