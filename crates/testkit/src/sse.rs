//! Server-sent-event encoding of an assistant message, in the order the Messages API
//! streams it: `message_start`, `ping`, per block `content_block_start` → deltas →
//! `content_block_stop`, then `message_delta` (stop reason + usage) and `message_stop`.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::reply::AssistantMessage;

/// One SSE event: the `event:` name and the JSON `data:` payload.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// Event name (equals `data.type`).
    pub event: &'static str,
    /// Payload.
    pub data: Value,
}

impl SseEvent {
    fn new(event: &'static str, data: Value) -> Self {
        Self { event, data }
    }

    /// Wire form: `event: NAME\ndata: JSON\n\n`.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(format!("event: {}\ndata: {}\n\n", self.event, self.data))
    }
}

/// All events of a streamed message; each block's text, thinking or tool input is split
/// into `chunks` deltas (at least one; empty strings produce none).
pub fn message_events(message: &AssistantMessage, chunks: usize) -> Vec<SseEvent> {
    let usage = message.usage;
    let mut events = vec![
        SseEvent::new(
            "message_start",
            json!({
                "type": "message_start",
                "message": {
                    "id": message.id,
                    "type": "message",
                    "role": "assistant",
                    "model": message.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": {
                        "input_tokens": usage.input_tokens,
                        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                        "cache_read_input_tokens": usage.cache_read_input_tokens,
                        "output_tokens": 1,
                    },
                },
            }),
        ),
        SseEvent::new("ping", json!({"type": "ping"})),
    ];
    for (index, block) in message.content.iter().enumerate() {
        push_block_events(&mut events, index, block, chunks);
    }
    events.push(SseEvent::new(
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": {"stop_reason": message.stop_reason, "stop_sequence": null},
            "usage": usage.to_json(),
        }),
    ));
    events.push(SseEvent::new(
        "message_stop",
        json!({"type": "message_stop"}),
    ));
    events
}

fn push_block_events(events: &mut Vec<SseEvent>, index: usize, block: &Value, chunks: usize) {
    let text_of = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or("");
    let (start_block, deltas): (Value, Vec<Value>) = match text_of("type") {
        "text" => (
            json!({"type": "text", "text": ""}),
            split_evenly(text_of("text"), chunks)
                .into_iter()
                .map(|piece| json!({"type": "text_delta", "text": piece}))
                .collect(),
        ),
        "thinking" => {
            let mut deltas: Vec<Value> = split_evenly(text_of("thinking"), chunks)
                .into_iter()
                .map(|piece| json!({"type": "thinking_delta", "thinking": piece}))
                .collect();
            deltas.push(json!({"type": "signature_delta", "signature": text_of("signature")}));
            (
                json!({"type": "thinking", "thinking": "", "signature": ""}),
                deltas,
            )
        }
        "tool_use" => {
            let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
            (
                json!({
                    "type": "tool_use",
                    "id": text_of("id"),
                    "name": text_of("name"),
                    "input": {},
                }),
                split_evenly(&input.to_string(), chunks)
                    .into_iter()
                    .map(|piece| json!({"type": "input_json_delta", "partial_json": piece}))
                    .collect(),
            )
        }
        // Unknown block kinds are sent whole in the start event.
        _ => (block.clone(), Vec::new()),
    };
    events.push(SseEvent::new(
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": start_block}),
    ));
    for delta in deltas {
        events.push(SseEvent::new(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
    }
    events.push(SseEvent::new(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    ));
}

/// Splits `text` into at most `parts` non-empty pieces of nearly equal character count.
pub fn split_evenly(text: &str, parts: usize) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let parts = parts.clamp(1, chars.len());
    let per_part = chars.len().div_ceil(parts);
    chars
        .chunks(per_part)
        .filter_map(|chunk| {
            let (start, _) = chunk.first()?;
            let (last, c) = chunk.last()?;
            text.get(*start..last + c.len_utf8())
        })
        .collect()
}

#[cfg(test)]
#[path = "sse_tests.rs"]
mod tests;
