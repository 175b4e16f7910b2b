//! The OpenAI Responses API side: a read-only view of a `POST /v1/responses` body, and a rendered
//! [`AssistantMessage`] as Responses API output items (the streamed form is in
//! [`crate::openai_sse`]), a JSON response and an error body.
//!
//! Shapes follow what Codex (codex-acp 0.16.0, Codex 0.137) sends, see
//! `crates/agents/fixtures/codex-acp/`: `instructions` holds the system prompt; `input` is a list
//! of items: `message`s (`role: developer` with permission instructions, `role: user` with an
//! `<environment_context>` part naming the `<cwd>`, then the prompt as `input_text` parts),
//! earlier `reasoning` / assistant `message` / `function_call` / `custom_tool_call` items, and
//! tool results as `function_call_output` / `custom_tool_call_output` items answering a
//! `call_id`.

use serde_json::{json, Value};

use crate::codex_tools::{codex_tool_call, CodexToolCall};
use crate::reply::AssistantMessage;
use crate::request::ToolResultRef;

/// Text parts Codex adds to user messages that are not the user's own words.
const SYNTHETIC_PREFIXES: &[&str] = &[
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md instructions",
    "<turn_aborted>",
];

/// Item types that carry a tool result.
const TOOL_OUTPUT_TYPES: &[&str] = &["function_call_output", "custom_tool_call_output"];

/// Item types that carry a tool call.
const TOOL_CALL_TYPES: &[&str] = &["function_call", "custom_tool_call", "local_shell_call"];

/// Borrowed view of a `POST /v1/responses` JSON body.
#[derive(Debug, Clone, Copy)]
pub struct ResponsesRequest<'a> {
    body: &'a Value,
}

impl<'a> ResponsesRequest<'a> {
    /// Wraps a request body.
    pub fn new(body: &'a Value) -> Self {
        Self { body }
    }

    /// The `model` field, or `""`.
    pub fn model(&self) -> &'a str {
        str_of(self.body, "model")
    }

    /// Whether `stream: true` was requested.
    pub fn is_stream(&self) -> bool {
        self.body
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Whether a non-empty `tools` list was sent.
    pub fn has_tools(&self) -> bool {
        self.body
            .get("tools")
            .and_then(Value::as_array)
            .is_some_and(|tools| !tools.is_empty())
    }

    /// A side request rather than an agent-loop step: not streamed, or without tools. Codex's
    /// agent loop always streams with its tools.
    pub fn is_side_request(&self) -> bool {
        !self.is_stream() || !self.has_tools()
    }

    /// The `input` items (empty if missing or a bare string).
    pub fn input(&self) -> &'a [Value] {
        input_of(self.body)
    }

    /// The items since the model last spoke: the user messages and tool outputs at the end of
    /// `input` (the counterpart of the Messages API's last user message).
    fn latest_user_items(&self) -> &'a [Value] {
        let input = self.input();
        let start = input
            .iter()
            .rposition(|item| !is_user_message(item) && !is_tool_output(item))
            .map_or(0, |index| index + 1);
        &input[start..]
    }

    /// The own text of the user messages since the model last spoke (without Codex's injected
    /// context), joined by newlines; `""` while answering tool results only. A bare string
    /// `input` is the prompt itself.
    pub fn last_user_text(&self) -> String {
        if let Some(text) = self.body.get("input").and_then(Value::as_str) {
            return text.trim().to_owned();
        }
        join_texts(
            self.latest_user_items()
                .iter()
                .filter(|item| is_user_message(item))
                .map(own_text),
        )
    }

    /// The own text of the most recent user message that has any.
    pub fn last_prompt_text(&self) -> String {
        if let Some(text) = self.body.get("input").and_then(Value::as_str) {
            return text.trim().to_owned();
        }
        self.input()
            .iter()
            .rev()
            .filter(|item| is_user_message(item))
            .map(own_text)
            .find(|text| !text.is_empty())
            .unwrap_or_default()
    }

    /// The tool outputs since the model last spoke, with the names of the calls they answer.
    /// Codex sends no error flag: a result is an error when its text reports a non-zero exit
    /// code (`Process exited with code N` for commands, `Exit code: N` for patches) or its
    /// structured output says `success: false`.
    pub fn last_tool_results(&self) -> Vec<ToolResultRef> {
        self.latest_user_items()
            .iter()
            .filter(|item| is_tool_output(item))
            .map(|item| {
                let call_id = str_of(item, "call_id");
                ToolResultRef {
                    tool_use_id: call_id.to_owned(),
                    tool_name: self.tool_name_for(call_id),
                    is_error: output_is_error(item.get("output")),
                }
            })
            .collect()
    }

    /// The system prompt: `instructions` plus the text of `developer` / `system` messages.
    pub fn system_text(&self) -> String {
        let mut out = String::new();
        if let Some(instructions) = self.body.get("instructions").and_then(Value::as_str) {
            out.push_str(instructions);
            out.push('\n');
        }
        for item in self.input() {
            if matches!(str_of(item, "role"), "developer" | "system") {
                for text in content_texts(item) {
                    out.push_str(text);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The working directory Codex reports (`<cwd>…</cwd>` in its environment context). The last
    /// mention wins: a session loaded in another directory appends a new context.
    pub fn working_directory(&self) -> Option<String> {
        self.input()
            .iter()
            .filter(|item| item.get("role").is_some())
            .flat_map(content_texts)
            .filter_map(|text| {
                let start = text.rfind("<cwd>")? + "<cwd>".len();
                let end = start + text[start..].find("</cwd>")?;
                Some(text[start..end].trim().to_owned())
            })
            .rfind(|cwd| !cwd.is_empty())
    }

    fn tool_name_for(&self, call_id: &str) -> Option<String> {
        self.input()
            .iter()
            .find(|item| {
                TOOL_CALL_TYPES.contains(&str_of(item, "type"))
                    && str_of(item, "call_id") == call_id
            })
            .map(|item| match str_of(item, "type") {
                "local_shell_call" => "local_shell".to_owned(),
                _ => str_of(item, "name").to_owned(),
            })
    }
}

/// The `input` items of a Responses API request body (empty if missing or a string).
pub fn input_of(body: &Value) -> &[Value] {
    body.get("input")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A `message` item (the type may be left out) from the user.
fn is_user_message(item: &Value) -> bool {
    matches!(str_of(item, "type"), "message" | "") && str_of(item, "role") == "user"
}

fn is_tool_output(item: &Value) -> bool {
    TOOL_OUTPUT_TYPES.contains(&str_of(item, "type"))
}

/// The text parts of a message's content (or its string content).
fn content_texts(item: &Value) -> Vec<&str> {
    match item.get("content") {
        Some(Value::String(text)) => vec![text.as_str()],
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect(),
        _ => Vec::new(),
    }
}

/// A user message's own text: its text parts without the injected context, joined by newlines.
fn own_text(item: &Value) -> String {
    join_texts(
        content_texts(item)
            .into_iter()
            .map(str::trim)
            .filter(|text| !SYNTHETIC_PREFIXES.iter().any(|p| text.starts_with(p)))
            .map(str::to_owned),
    )
}

fn join_texts(texts: impl Iterator<Item = String>) -> String {
    texts
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn output_is_error(output: Option<&Value>) -> bool {
    let text = match output {
        Some(Value::String(text)) => text.as_str(),
        Some(Value::Object(object)) => {
            if object.get("success").and_then(Value::as_bool) == Some(false) {
                return true;
            }
            object.get("content").and_then(Value::as_str).unwrap_or("")
        }
        _ => "",
    };
    text.lines().any(|line| {
        let code = line
            .strip_prefix("Process exited with code ")
            .or_else(|| line.strip_prefix("Exit code: "));
        code.is_some_and(|code| code.trim() != "0")
    })
}

/// The output items of a rendered message, in order: `reasoning` (thinking as a summary),
/// assistant `message`s (one per text block), `function_call` / `custom_tool_call` (tool uses in
/// Codex's shapes, see [`crate::codex_tools`]). Item ids derive from the message id.
pub fn output_items(message: &AssistantMessage) -> Vec<Value> {
    let suffix = message.id.trim_start_matches("msg_");
    message
        .content
        .iter()
        .enumerate()
        .filter_map(|(index, block)| match str_of(block, "type") {
            "text" => Some(json!({
                "type": "message",
                "id": format!("msg_{suffix}_{index}"),
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": str_of(block, "text"), "annotations": []}],
            })),
            "thinking" => Some(json!({
                "type": "reasoning",
                "id": format!("rs_{suffix}_{index}"),
                "summary": [{"type": "summary_text", "text": str_of(block, "thinking")}],
            })),
            "tool_use" => {
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                let id = format!("fc_{suffix}_{index}");
                let call_id = str_of(block, "id");
                Some(match codex_tool_call(str_of(block, "name"), &input) {
                    CodexToolCall::Function { name, arguments } => json!({
                        "type": "function_call", "id": id, "call_id": call_id, "name": name,
                        "arguments": arguments, "status": "completed",
                    }),
                    CodexToolCall::Custom { name, input } => json!({
                        "type": "custom_tool_call", "id": id, "call_id": call_id, "name": name,
                        "input": input, "status": "completed",
                    }),
                })
            }
            _ => None,
        })
        .collect()
}

/// The `usage` object: input tokens include the cached ones.
pub fn usage_json(message: &AssistantMessage) -> Value {
    let usage = message.usage;
    let input =
        usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": usage.cache_read_input_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input + usage.output_tokens,
    })
}

/// The response object with `status` and `output`; a `max_tokens` stop makes it `incomplete`.
pub fn response_object(message: &AssistantMessage, output: Vec<Value>, done: bool) -> Value {
    let status = match (done, message.stop_reason.as_str()) {
        (false, _) => "in_progress",
        (true, "max_tokens") => "incomplete",
        (true, _) => "completed",
    };
    let mut response = json!({
        "id": response_id(message),
        "object": "response",
        "created_at": 0,
        "status": status,
        "model": message.model,
        "output": output,
        "usage": null,
    });
    if done {
        response["usage"] = usage_json(message);
    }
    if status == "incomplete" {
        response["incomplete_details"] = json!({"reason": "max_output_tokens"});
    }
    response
}

/// `resp_…`, from the message id.
pub fn response_id(message: &AssistantMessage) -> String {
    format!("resp_{}", message.id.trim_start_matches("msg_"))
}

/// The non-streamed answer.
pub fn response_json(message: &AssistantMessage) -> Value {
    response_object(message, output_items(message), true)
}

/// An OpenAI error body: `{"error": {"message", "type", "param", "code"}}`.
pub fn error_body(status: u16, message: &str) -> Value {
    let (error_type, code) = match status {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        429 => ("requests", Some("rate_limit_exceeded")),
        500.. => ("server_error", None),
        _ => ("invalid_request_error", None),
    };
    json!({"error": {"message": message, "type": error_type, "param": null, "code": code}})
}

#[cfg(test)]
#[path = "openai_tests.rs"]
mod tests;
