//! Server-sent-event encoding of an assistant message in the OpenAI Responses API's streamed
//! form, as Codex reads it: `response.created`, `response.in_progress`, then per output item
//! `response.output_item.added` → part / deltas → `response.output_item.done`, and a final
//! `response.completed` (or `response.incomplete` for a `max_tokens` stop) carrying the usage.
//!
//! Deltas per item kind: `response.reasoning_summary_text.delta` (thinking; Codex shows it as
//! thought chunks), `response.output_text.delta` (text), `response.function_call_arguments.delta`
//! and `response.custom_tool_call_input.delta` (tool calls). Every event carries a
//! `sequence_number`.

use serde_json::{json, Value};

use crate::openai::{output_items, response_object};
use crate::reply::AssistantMessage;
use crate::sse::{split_evenly, SseEvent};

/// All events of a streamed response; each item's text, summary or arguments is split into
/// `chunks` deltas.
pub fn response_events(message: &AssistantMessage, chunks: usize) -> Vec<SseEvent> {
    let items = output_items(message);
    let mut events = Events::default();
    events.push(
        "response.created",
        json!({"response": response_object(message, Vec::new(), false)}),
    );
    events.push(
        "response.in_progress",
        json!({"response": response_object(message, Vec::new(), false)}),
    );
    for (index, item) in items.iter().enumerate() {
        push_item_events(&mut events, index, item, chunks);
    }
    let finished = response_object(message, items, true);
    let last = if finished["status"] == "incomplete" {
        "response.incomplete"
    } else {
        "response.completed"
    };
    events.push(last, json!({ "response": finished }));
    events.0
}

/// Events under construction, numbered as they are pushed.
#[derive(Default)]
struct Events(Vec<SseEvent>);

impl Events {
    fn push(&mut self, event: &'static str, mut data: Value) {
        data["type"] = json!(event);
        data["sequence_number"] = json!(self.0.len());
        self.0.push(SseEvent { event, data });
    }
}

fn push_item_events(events: &mut Events, index: usize, item: &Value, chunks: usize) {
    let text_of = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let item_id = text_of(item, "id");
    let mut started = item.clone();
    match text_of(item, "type").as_str() {
        "reasoning" => {
            started["summary"] = json!([]);
            events.push(
                "response.output_item.added",
                json!({"output_index": index, "item": started}),
            );
            let summary = text_of(&item["summary"][0], "text");
            let at = json!({"item_id": item_id, "output_index": index, "summary_index": 0});
            events.push(
                "response.reasoning_summary_part.added",
                merged(&at, json!({"part": {"type": "summary_text", "text": ""}})),
            );
            for piece in split_evenly(&summary, chunks) {
                events.push(
                    "response.reasoning_summary_text.delta",
                    merged(&at, json!({ "delta": piece })),
                );
            }
            events.push(
                "response.reasoning_summary_text.done",
                merged(&at, json!({ "text": summary })),
            );
            events.push(
                "response.reasoning_summary_part.done",
                merged(
                    &at,
                    json!({"part": {"type": "summary_text", "text": summary}}),
                ),
            );
        }
        "message" => {
            started["status"] = json!("in_progress");
            started["content"] = json!([]);
            events.push(
                "response.output_item.added",
                json!({"output_index": index, "item": started}),
            );
            let text = text_of(&item["content"][0], "text");
            let at = json!({"item_id": item_id, "output_index": index, "content_index": 0});
            events.push(
                "response.content_part.added",
                merged(
                    &at,
                    json!({"part": {"type": "output_text", "text": "", "annotations": []}}),
                ),
            );
            for piece in split_evenly(&text, chunks) {
                events.push(
                    "response.output_text.delta",
                    merged(&at, json!({ "delta": piece })),
                );
            }
            events.push(
                "response.output_text.done",
                merged(&at, json!({ "text": text })),
            );
            events.push(
                "response.content_part.done",
                merged(&at, json!({ "part": item["content"][0] })),
            );
        }
        kind @ ("function_call" | "custom_tool_call") => {
            let (field, delta, done) = if kind == "function_call" {
                (
                    "arguments",
                    "response.function_call_arguments.delta",
                    "response.function_call_arguments.done",
                )
            } else {
                (
                    "input",
                    "response.custom_tool_call_input.delta",
                    "response.custom_tool_call_input.done",
                )
            };
            started[field] = json!("");
            started["status"] = json!("in_progress");
            events.push(
                "response.output_item.added",
                json!({"output_index": index, "item": started}),
            );
            let full = text_of(item, field);
            let at = json!({"item_id": item_id, "output_index": index});
            for piece in split_evenly(&full, chunks) {
                events.push(delta, merged(&at, json!({ "delta": piece })));
            }
            events.push(done, merged(&at, json!({ field: full })));
        }
        // Other items are announced whole.
        _ => events.push(
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
        ),
    }
    events.push(
        "response.output_item.done",
        json!({"output_index": index, "item": item}),
    );
}

/// `base` with `extra`'s fields added.
fn merged(base: &Value, extra: Value) -> Value {
    let mut out = base.clone();
    if let (Some(out), Value::Object(extra)) = (out.as_object_mut(), extra) {
        out.extend(extra);
    }
    out
}

#[cfg(test)]
#[path = "openai_sse_tests.rs"]
mod tests;
