//! Read-only view of a Messages API request body, with the queries matchers need.
//!
//! Shapes follow what Claude Code 2.1.x sends: `system` is a string or a list of text
//! blocks; `messages` may contain `role: "system"` entries (the environment block with
//! the working directory), and user turns carry `<system-reminder>` text blocks next to
//! the real prompt.

use serde_json::Value;

/// Marker the CLI puts in front of the working directory in its environment block.
const CWD_MARKER: &str = "Primary working directory:";

/// How OpenCode's system prompt names the working directory.
const OPENCODE_CWD_MARKER: &str = "  Working directory:";

/// How OpenCode's title calls begin.
const TITLE_GENERATOR: &str = "You are a title generator.";

/// A `tool_result` block of the last user message, resolved against earlier tool uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResultRef {
    /// The `tool_use_id` it answers.
    pub tool_use_id: String,
    /// Name of that tool use, if it can be found in an earlier assistant message.
    pub tool_name: Option<String>,
    /// The `is_error` flag (absent counts as `false`).
    pub is_error: bool,
}

/// Borrowed view of a `POST /v1/messages` JSON body.
#[derive(Debug, Clone, Copy)]
pub struct MessagesRequest<'a> {
    body: &'a Value,
}

impl<'a> MessagesRequest<'a> {
    /// Wraps a request body.
    pub fn new(body: &'a Value) -> Self {
        Self { body }
    }

    /// The `model` field, or `""`.
    pub fn model(&self) -> &'a str {
        self.body.get("model").and_then(Value::as_str).unwrap_or("")
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

    /// The `max_tokens` field, if present.
    pub fn max_tokens(&self) -> Option<u64> {
        self.body.get("max_tokens").and_then(Value::as_u64)
    }

    /// Whether this is one of the CLI's side requests rather than an agent-loop step:
    /// a probe with `max_tokens <= 1` (quota check, model check, key check) or a
    /// tool-less non-streaming call (session titles and other utility prompts). The agent
    /// loop, main thread and subagents alike, always streams.
    pub fn is_side_request(&self) -> bool {
        let probe = self.max_tokens().is_some_and(|max| max <= 1);
        let utility = !self.is_stream() && !self.has_tools();
        probe || utility || self.is_title_call()
    }

    /// OpenCode's session title call: streamed and tool-less like a plain chat, but its system
    /// prompt makes it a title generator.
    fn is_title_call(&self) -> bool {
        !self.has_tools() && self.system_text().starts_with(TITLE_GENERATOR)
    }

    /// The names of the tools offered.
    pub fn tool_names(&self) -> Vec<&'a str> {
        self.body
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|tool| tool.get("name").and_then(Value::as_str))
            .collect()
    }

    /// The `messages` array (empty if missing).
    pub fn messages(&self) -> &'a [Value] {
        messages_of(self.body)
    }

    /// The last message with `role: "user"`.
    pub fn last_user_message(&self) -> Option<&'a Value> {
        self.messages()
            .iter()
            .rev()
            .find(|message| message.get("role").and_then(Value::as_str) == Some("user"))
    }

    /// The last user message's own text: its text blocks (or string content) with
    /// `<system-reminder>` sections removed, joined by newlines and trimmed.
    pub fn last_user_text(&self) -> String {
        self.last_user_message().map(own_text).unwrap_or_default()
    }

    /// The own text of the most recent user message that has any: the latest prompt,
    /// even when the last user message only carries tool results.
    pub fn last_prompt_text(&self) -> String {
        self.messages()
            .iter()
            .rev()
            .filter(|message| message.get("role").and_then(Value::as_str) == Some("user"))
            .map(own_text)
            .find(|text| !text.is_empty())
            .unwrap_or_default()
    }

    /// The `tool_result` blocks of the last user message.
    pub fn last_tool_results(&self) -> Vec<ToolResultRef> {
        let Some(blocks) = self
            .last_user_message()
            .and_then(|message| message.get("content"))
            .and_then(Value::as_array)
        else {
            return Vec::new();
        };
        blocks
            .iter()
            .filter(|block| block.get("type").and_then(Value::as_str) == Some("tool_result"))
            .map(|block| {
                let tool_use_id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                ToolResultRef {
                    tool_name: self.tool_name_for(&tool_use_id),
                    is_error: block
                        .get("is_error")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    tool_use_id,
                }
            })
            .collect()
    }

    /// All system-prompt text: the `system` field plus `role: "system"` messages.
    pub fn system_text(&self) -> String {
        let mut out = String::new();
        collect_text(self.body.get("system"), &mut out);
        for message in self.messages() {
            if message.get("role").and_then(Value::as_str) == Some("system") {
                collect_text(message.get("content"), &mut out);
            }
        }
        out
    }

    /// The working directory the CLI reports ("Primary working directory: …"). The last
    /// mention wins, since a resumed session appends an "Environment update" with the new
    /// directory.
    pub fn working_directory(&self) -> Option<String> {
        let mut all = self.system_text();
        for message in self.messages() {
            collect_text(message.get("content"), &mut all);
        }
        let start = match all.rfind(CWD_MARKER) {
            Some(at) => at + CWD_MARKER.len(),
            None => all.rfind(OPENCODE_CWD_MARKER)? + OPENCODE_CWD_MARKER.len(),
        };
        let line = all[start..].lines().next().unwrap_or("");
        // "… /new (was /old)" in an environment update.
        let line = line.split(" (was ").next().unwrap_or(line).trim();
        (!line.is_empty()).then(|| line.to_owned())
    }

    fn tool_name_for(&self, tool_use_id: &str) -> Option<String> {
        self.messages()
            .iter()
            .filter(|message| message.get("role").and_then(Value::as_str) == Some("assistant"))
            .filter_map(|message| message.get("content").and_then(Value::as_array))
            .flatten()
            .find(|block| {
                block.get("type").and_then(Value::as_str) == Some("tool_use")
                    && block.get("id").and_then(Value::as_str) == Some(tool_use_id)
            })
            .and_then(|block| block.get("name").and_then(Value::as_str))
            .map(str::to_owned)
    }
}

/// The `messages` array of a Messages API request body (empty if missing).
pub fn messages_of(body: &Value) -> &[Value] {
    body.get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A message's own text: its text blocks (or string content) with `<system-reminder>`
/// sections removed, joined by newlines and trimmed.
fn own_text(message: &Value) -> String {
    let parts: Vec<String> = match message.get("content") {
        Some(Value::String(text)) => vec![strip_system_reminders(text)],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|block| block.get("text").and_then(Value::as_str))
            .map(strip_system_reminders)
            .collect(),
        _ => Vec::new(),
    };
    parts
        .iter()
        .map(|part| part.trim())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Appends the text of a string or of a list of text blocks, one block per line.
fn collect_text(content: Option<&Value>, out: &mut String) {
    match content {
        Some(Value::String(text)) => {
            out.push_str(text);
            out.push('\n');
        }
        Some(Value::Array(blocks)) => {
            for text in blocks
                .iter()
                .filter_map(|block| block.get("text").and_then(Value::as_str))
            {
                out.push_str(text);
                out.push('\n');
            }
        }
        _ => {}
    }
}

/// Removes every `<system-reminder>…</system-reminder>` section (an unclosed one runs to
/// the end of the text).
fn strip_system_reminders(text: &str) -> String {
    const OPEN: &str = "<system-reminder>";
    const CLOSE: &str = "</system-reminder>";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after_open = &rest[start + OPEN.len()..];
        rest = match after_open.find(CLOSE) {
            Some(end) => &after_open[end + CLOSE.len()..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
