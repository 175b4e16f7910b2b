//! Turning a scripted [`Response`] into a concrete reply for one request: ids generated,
//! placeholders filled, usage estimated, error / cut decisions taken.
//!
//! The reply is in the Anthropic form (content blocks, tool names in Claude Code's vocabulary,
//! an Anthropic error body); [`crate::gemini`] turns it into Gemini's wire form.

use std::time::Duration;

use serde_json::{json, Value};

use crate::scenario::{Block, Response, UsageSpec};
use crate::template::TemplateContext;

/// Signature used for thinking blocks that do not script one (base64 of
/// "scripted-model-signature"; the CLI stores it verbatim and never checks it).
const PLACEHOLDER_SIGNATURE: &str = "c2NyaXB0ZWQtbW9kZWwtc2lnbmF0dXJl";

/// Default number of deltas per block: enough to exercise delta merging in clients.
const DEFAULT_CHUNKS: usize = 3;

/// Input tokens reported when the scenario does not say.
const DEFAULT_INPUT_TOKENS: u64 = 100;

/// What the server sends for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An Anthropic-style error body with an HTTP status.
    Error {
        /// HTTP status code.
        status: u16,
        /// `{"type":"error","error":{…},"request_id":…}`.
        body: Value,
    },
    /// An assistant message, streamed or as JSON.
    Message {
        /// The message.
        message: AssistantMessage,
        /// Pacing and fault injection.
        delivery: Delivery,
    },
}

/// A fully rendered assistant message.
#[derive(Debug, Clone, PartialEq)]
pub struct AssistantMessage {
    /// `msg_…` id.
    pub id: String,
    /// Model name echoed back.
    pub model: String,
    /// Wire-format content blocks.
    pub content: Vec<Value>,
    /// `stop_reason`.
    pub stop_reason: String,
    /// Token counts.
    pub usage: Usage,
}

/// Token counts of a reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// `input_tokens`.
    pub input_tokens: u64,
    /// `output_tokens`.
    pub output_tokens: u64,
    /// `cache_read_input_tokens`.
    pub cache_read_input_tokens: u64,
    /// `cache_creation_input_tokens`.
    pub cache_creation_input_tokens: u64,
}

/// How a message reply is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Pause before each streamed event after `message_start`.
    pub chunk_delay: Duration,
    /// Deltas per block.
    pub chunks: usize,
    /// Drop the connection after this many streamed events.
    pub cut_after_events: Option<u32>,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            chunk_delay: Duration::ZERO,
            chunks: DEFAULT_CHUNKS,
            cut_after_events: None,
        }
    }
}

impl Reply {
    /// Renders `response` for a request; `hit` is how many earlier requests the same rule
    /// answered (decides `error.times` / `midstreamCut.times`).
    pub fn render(response: &Response, hit: u32, model: &str, context: &TemplateContext) -> Self {
        let applies = |times: Option<u32>| times.is_none_or(|limit| hit < limit);
        if let Some(error) = response.error.as_ref().filter(|e| applies(e.times)) {
            return Self::error(error.status, error.error_type.as_deref(), &error.message);
        }
        let content: Vec<Value> = response
            .content
            .iter()
            .map(|block| render_block(block, context))
            .collect();
        let has_tool_use = content.iter().any(|b| b["type"] == "tool_use");
        let stop_reason = response
            .stop_reason
            .clone()
            .unwrap_or_else(|| if has_tool_use { "tool_use" } else { "end_turn" }.to_owned());
        let usage = resolve_usage(response.usage.as_ref(), &content);
        let delivery = Delivery {
            chunk_delay: Duration::from_millis(response.chunk_delay_ms.unwrap_or(0)),
            chunks: response
                .chunks
                .map_or(DEFAULT_CHUNKS, |n| usize::try_from(n.max(1)).unwrap_or(1)),
            cut_after_events: response
                .midstream_cut
                .filter(|cut| applies(cut.times))
                .map(|cut| cut.after_events),
        };
        Self::Message {
            message: AssistantMessage {
                id: new_id("msg_01"),
                model: model.to_owned(),
                content,
                stop_reason,
                usage,
            },
            delivery,
        }
    }

    /// An Anthropic-style error reply.
    pub fn error(status: u16, error_type: Option<&str>, message: &str) -> Self {
        let error_type = error_type.unwrap_or_else(|| error_type_for_status(status));
        Self::Error {
            status,
            body: json!({
                "type": "error",
                "error": {"type": error_type, "message": message},
                "request_id": new_id("req_01"),
            }),
        }
    }
}

impl AssistantMessage {
    /// The non-streaming JSON form (`type: "message"`).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.content,
            "stop_reason": self.stop_reason,
            "stop_sequence": null,
            "usage": self.usage.to_json(),
        })
    }
}

impl Usage {
    /// Wire form with all four counters.
    pub fn to_json(&self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens,
        })
    }
}

/// The Anthropic error `type` conventionally used with an HTTP status.
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// A fresh id shaped like the API's (`prefix` + 22 base-16 characters).
pub fn new_id(prefix: &str) -> String {
    let simple = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &simple[..22])
}

fn render_block(block: &Block, context: &TemplateContext) -> Value {
    match block {
        Block::Text { text } => json!({"type": "text", "text": context.render(text)}),
        Block::Thinking {
            thinking,
            signature,
        } => json!({
            "type": "thinking",
            "thinking": context.render(thinking),
            "signature": signature.as_deref().unwrap_or(PLACEHOLDER_SIGNATURE),
        }),
        Block::ToolUse { name, input, id } => json!({
            "type": "tool_use",
            "id": id.clone().unwrap_or_else(|| new_id("toolu_01")),
            "name": context.vocabulary().tool_name(name),
            "input": context.vocabulary().tool_input(context.render_json(input)),
        }),
    }
}

fn resolve_usage(spec: Option<&UsageSpec>, content: &[Value]) -> Usage {
    let spec = spec.cloned().unwrap_or_default();
    // Roughly four characters per token, like the API's own rule of thumb.
    let estimated_output = content
        .iter()
        .map(|block| block.to_string().len() as u64 / 4)
        .sum::<u64>()
        .max(1);
    Usage {
        input_tokens: spec.input_tokens.unwrap_or(DEFAULT_INPUT_TOKENS),
        output_tokens: spec.output_tokens.unwrap_or(estimated_output),
        cache_read_input_tokens: spec.cache_read_input_tokens.unwrap_or(0),
        cache_creation_input_tokens: spec.cache_creation_input_tokens.unwrap_or(0),
    }
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
