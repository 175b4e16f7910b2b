//! The Gemini API side: a read-only view of a `generateContent` request body, and a rendered
//! [`AssistantMessage`] in Gemini's wire form (streamed chunks, a JSON response, an error body).
//!
//! Shapes follow what Gemini CLI 0.61 sends: `contents` of `{role: user|model, parts}`; the
//! first user content starts with a synthetic `<session_context>` text part (date, OS, workspace
//! directories) before the prompt; tool results are `functionResponse` parts
//! (`{id, name, response: {output} | {error}}`) of a user content; the model is in the path
//! (`/v1beta/models/<model>:<action>`), not the body.

use serde_json::{json, Value};

use crate::api::{tool_name, Api};
use crate::reply::AssistantMessage;
use crate::request::ToolResultRef;
use crate::sse::split_evenly;

/// Marker of the workspace directory list in the `<session_context>` part.
const WORKSPACE_MARKER: &str = "**Workspace Directories:**";

/// Text parts the CLI adds that are not the user's own words.
const SYNTHETIC_PREFIXES: &[&str] = &["<session_context>", "<hook_context>"];

/// What a `/v1beta/models/<target>` path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeminiTarget {
    /// The model, e.g. `gemini-2.5-pro`.
    pub model: String,
    /// `streamGenerateContent`, `generateContent`, `countTokens`, ...
    pub action: String,
}

impl GeminiTarget {
    /// Parses a request path (`/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse`).
    pub fn from_path(path: &str) -> Option<Self> {
        let path = path.split('?').next().unwrap_or(path);
        let target = path.rsplit('/').next()?;
        let (model, action) = target.split_once(':')?;
        Some(Self {
            model: model.to_owned(),
            action: action.to_owned(),
        })
    }

    /// Whether the answer is streamed (`streamGenerateContent`).
    pub fn is_stream(&self) -> bool {
        self.action == "streamGenerateContent"
    }
}

/// Borrowed view of a `generateContent` / `streamGenerateContent` JSON body.
#[derive(Debug, Clone, Copy)]
pub struct GenerateContentRequest<'a> {
    body: &'a Value,
    model: &'a str,
    stream: bool,
}

impl<'a> GenerateContentRequest<'a> {
    /// Wraps a request body for `model`, streamed or not.
    pub fn new(body: &'a Value, model: &'a str, stream: bool) -> Self {
        Self {
            body,
            model,
            stream,
        }
    }

    /// The model named in the path.
    pub fn model(&self) -> &'a str {
        self.model
    }

    /// Whether the answer is streamed.
    pub fn is_stream(&self) -> bool {
        self.stream
    }

    /// The `contents` array (empty if missing).
    pub fn contents(&self) -> &'a [Value] {
        contents_of(self.body)
    }

    /// Whether function declarations were sent.
    pub fn has_tools(&self) -> bool {
        self.body
            .get("tools")
            .and_then(Value::as_array)
            .is_some_and(|tools| {
                tools.iter().any(|tool| {
                    tool.get("functionDeclarations")
                        .and_then(Value::as_array)
                        .is_some_and(|d| !d.is_empty())
                })
            })
    }

    /// A side request rather than an agent-loop step: not streamed, or without tools (the
    /// CLI's utility calls). The agent loop always streams with its tools.
    pub fn is_side_request(&self) -> bool {
        !self.stream || !self.has_tools()
    }

    /// The last content with `role: "user"`.
    pub fn last_user_content(&self) -> Option<&'a Value> {
        self.contents().iter().rev().find(|c| is_user(c))
    }

    /// The last user content's own text: its text parts without the synthetic context parts,
    /// joined by newlines and trimmed.
    pub fn last_user_text(&self) -> String {
        self.last_user_content().map(own_text).unwrap_or_default()
    }

    /// The own text of the most recent user content that has any.
    pub fn last_prompt_text(&self) -> String {
        self.contents()
            .iter()
            .rev()
            .filter(|c| is_user(c))
            .map(own_text)
            .find(|text| !text.is_empty())
            .unwrap_or_default()
    }

    /// The `functionResponse` parts of the last user content.
    pub fn last_tool_results(&self) -> Vec<ToolResultRef> {
        parts_of(self.last_user_content())
            .iter()
            .filter_map(|part| part.get("functionResponse"))
            .map(|response| {
                let is_error = response
                    .get("response")
                    .is_some_and(|r| r.get("error").is_some());
                ToolResultRef {
                    tool_use_id: str_of(response, "id").to_owned(),
                    tool_name: response
                        .get("name")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    is_error,
                }
            })
            .collect()
    }

    /// The system instruction's text.
    pub fn system_text(&self) -> String {
        let mut out = String::new();
        for part in parts_of(self.body.get("systemInstruction")) {
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                out.push_str(text);
                out.push('\n');
            }
        }
        out
    }

    /// The first workspace directory the `<session_context>` part lists.
    pub fn working_directory(&self) -> Option<String> {
        self.contents()
            .iter()
            .filter(|c| is_user(c))
            .find_map(|content| {
                parts_of(Some(content)).iter().find_map(|part| {
                    let text = part.get("text").and_then(Value::as_str)?;
                    let rest = &text[text.find(WORKSPACE_MARKER)? + WORKSPACE_MARKER.len()..];
                    rest.lines()
                        .map(str::trim)
                        .find_map(|line| line.strip_prefix("- "))
                        .map(|dir| dir.trim().to_owned())
                        .filter(|dir| !dir.is_empty())
                })
            })
    }
}

/// The `contents` array of a Gemini request body (empty if missing).
pub fn contents_of(body: &Value) -> &[Value] {
    body.get("contents")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn is_user(content: &Value) -> bool {
    content
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("user")
        == "user"
}

fn parts_of(content: Option<&Value>) -> &[Value] {
    content
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

fn own_text(content: &Value) -> String {
    parts_of(Some(content))
        .iter()
        .filter(|part| part.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .map(str::trim)
        .filter(|text| !text.is_empty() && !SYNTHETIC_PREFIXES.iter().any(|p| text.starts_with(p)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The parts of a rendered message, in Gemini's form: text, thoughts (`thought: true`), and
/// function calls (names in Gemini CLI's vocabulary).
fn parts(message: &AssistantMessage) -> Vec<Value> {
    message
        .content
        .iter()
        .filter_map(|block| match str_of(block, "type") {
            "text" => Some(json!({"text": str_of(block, "text")})),
            "thinking" => Some(json!({"text": str_of(block, "thinking"), "thought": true})),
            "tool_use" => Some(json!({"functionCall": {
                "name": tool_name(Api::Gemini, str_of(block, "name")),
                "args": block.get("input").cloned().unwrap_or_else(|| json!({})),
            }})),
            _ => None,
        })
        .collect()
}

fn finish_reason(message: &AssistantMessage) -> &'static str {
    match message.stop_reason.as_str() {
        "max_tokens" => "MAX_TOKENS",
        _ => "STOP",
    }
}

fn usage_metadata(message: &AssistantMessage) -> Value {
    let usage = message.usage;
    // Gemini counts cached tokens inside the prompt count.
    let prompt = usage.input_tokens + usage.cache_read_input_tokens;
    json!({
        "promptTokenCount": prompt,
        "candidatesTokenCount": usage.output_tokens,
        "cachedContentTokenCount": usage.cache_read_input_tokens,
        "totalTokenCount": prompt + usage.output_tokens,
    })
}

fn candidate(parts: Vec<Value>, finish: Option<&str>) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(finish) = finish {
        candidate["finishReason"] = json!(finish);
    }
    candidate
}

/// The chunks of a streamed answer (`data:` payloads of `?alt=sse`): every text or thought part
/// split into `chunks` pieces, one part per chunk, each function call whole; the last chunk
/// carries the finish reason and the usage.
pub fn stream_chunks(message: &AssistantMessage, chunks: usize) -> Vec<Value> {
    let mut pieces: Vec<Value> = Vec::new();
    for part in parts(message) {
        match part.get("text").and_then(Value::as_str) {
            Some(text) => {
                let thought = part.get("thought").is_some();
                for piece in split_evenly(text, chunks) {
                    let mut piece = json!({"text": piece});
                    if thought {
                        piece["thought"] = json!(true);
                    }
                    pieces.push(piece);
                }
            }
            None => pieces.push(part),
        }
    }
    let mut out: Vec<Value> = pieces
        .into_iter()
        .map(|part| {
            json!({"candidates": [candidate(vec![part], None)], "modelVersion": message.model,
                   "responseId": message.id})
        })
        .collect();
    out.push(json!({
        "candidates": [candidate(vec![json!({"text": ""})], Some(finish_reason(message)))],
        "usageMetadata": usage_metadata(message),
        "modelVersion": message.model,
        "responseId": message.id,
    }));
    out
}

/// The non-streamed answer (`generateContent`).
pub fn response_json(message: &AssistantMessage) -> Value {
    json!({
        "candidates": [candidate(parts(message), Some(finish_reason(message)))],
        "usageMetadata": usage_metadata(message),
        "modelVersion": message.model,
        "responseId": message.id,
    })
}

/// A Google API error body: `{"error": {"code", "message", "status"}}`.
pub fn error_body(status: u16, message: &str) -> Value {
    json!({"error": {"code": status, "message": message, "status": status_name(status)}})
}

fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
#[path = "gemini_tests.rs"]
mod tests;
