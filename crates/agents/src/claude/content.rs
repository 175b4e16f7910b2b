//! Content-item helpers shared by the live translator and the transcript parser, so that both
//! turn the same Claude message into the same blocks with the same ids.

use agent_runtime_protocol::{
    AssistantTextBlock, Block, SystemBlock, ThinkingBlock, ToolResultBlock, ToolStatus,
    ToolUseBlock,
};
use serde_json::{json, Map, Value};

/// Tool names that spawn a subagent (`Agent` in 2.1, `Task` before).
pub(crate) fn is_subagent_tool(name: &str) -> bool {
    matches!(name, "Agent" | "Task")
}

pub(crate) fn content_block_id(message_id: &str, index: u64) -> String {
    format!("{message_id}:{index}")
}

pub(crate) fn result_block_id(tool_use_id: &str) -> String {
    format!("result:{tool_use_id}")
}

pub(crate) fn subagent_block_id(tool_use_id: &str) -> String {
    format!("subagent:{tool_use_id}")
}

pub(crate) fn prompt_block_id(tool_use_id: &str) -> String {
    format!("prompt:{tool_use_id}")
}

pub(crate) fn system_block_id(uuid: &str) -> String {
    format!("system:{uuid}")
}

/// `value[key]` as a string.
pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// What the input of an `Agent`/`Task` call says about the subagent.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SpawnInfo {
    pub subagent_type: Option<String>,
    pub description: Option<String>,
    pub prompt: Option<String>,
}

pub(crate) fn spawn_info(input: &Value) -> SpawnInfo {
    let get = |key| str_field(input, key).map(str::to_string);
    SpawnInfo {
        // The CLI runs `general-purpose` when the model names no type.
        subagent_type: get("subagent_type").or_else(|| Some("general-purpose".to_string())),
        description: get("description"),
        prompt: get("prompt"),
    }
}

/// A compaction's metadata (`compact_metadata` on stdout, `compactMetadata` in transcripts) as
/// `{trigger, preTokens, postTokens}`.
pub(crate) fn compact_data(meta: &Value) -> Value {
    let get = |snake: &str, camel: &str| {
        meta.get(snake)
            .or_else(|| meta.get(camel))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({
        "trigger": get("trigger", "trigger"),
        "preTokens": get("pre_tokens", "preTokens"),
        "postTokens": get("post_tokens", "postTokens"),
    })
}

/// One item of an assistant message's `content`, as a complete block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AssistantItem {
    Block(Block),
    /// A content type this crate does not know; the string is the type.
    Unknown(String),
}

/// Converts `item`, the `index`-th content item of message `message_id`. `api_error` marks the
/// CLI's synthetic error message (`model: "<synthetic>"`), whose text becomes a `system` error
/// block instead of model text.
pub(crate) fn assistant_item(
    item: &Value,
    message_id: &str,
    index: u64,
    at: &str,
    api_error: Option<&Value>,
) -> AssistantItem {
    let id = || content_block_id(message_id, index);
    let kind = str_field(item, "type").unwrap_or("");
    let block = match kind {
        "text" => {
            let text = str_field(item, "text").unwrap_or("").to_string();
            match api_error {
                Some(data) => Block::System(SystemBlock {
                    id: id(),
                    at: at.to_string(),
                    subtype: "error".to_string(),
                    message: text,
                    data: Some(data.clone()),
                }),
                None => Block::AssistantText(AssistantTextBlock {
                    id: id(),
                    at: at.to_string(),
                    text,
                }),
            }
        }
        "thinking" => Block::Thinking(ThinkingBlock {
            id: id(),
            at: at.to_string(),
            text: str_field(item, "thinking").unwrap_or("").to_string(),
            signature: str_field(item, "signature")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            redacted: false,
        }),
        "redacted_thinking" => Block::Thinking(ThinkingBlock {
            id: id(),
            at: at.to_string(),
            text: String::new(),
            signature: None,
            redacted: true,
        }),
        "tool_use" | "server_tool_use" | "mcp_tool_use" => {
            let Some(tool_id) = str_field(item, "id") else {
                return AssistantItem::Unknown(format!("{kind} without id"));
            };
            Block::ToolUse(ToolUseBlock {
                id: tool_id.to_string(),
                at: at.to_string(),
                name: str_field(item, "name").unwrap_or("").to_string(),
                input: item.get("input").cloned().unwrap_or_else(|| json!({})),
                status: ToolStatus::Running,
                partial_input: None,
            })
        }
        // Results of server-side tools (web search, ...) arrive inside the assistant message.
        k if k.ends_with("_tool_result") => {
            let Some(tool_use_id) = str_field(item, "tool_use_id") else {
                return AssistantItem::Unknown(format!("{kind} without tool_use_id"));
            };
            Block::ToolResult(ToolResultBlock {
                id: result_block_id(tool_use_id),
                at: at.to_string(),
                tool_use_id: tool_use_id.to_string(),
                output: tool_result_output(item.get("content")),
                is_error: false,
                details: item.get("content").map(|c| strip_inline_binary(c.clone())),
            })
        }
        other => return AssistantItem::Unknown(other.to_string()),
    };
    AssistantItem::Block(block)
}

/// A `tool_result` content item as a block; `details` is the line's structured
/// `tool_use_result` / `toolUseResult`, when it belongs to this item.
pub(crate) fn tool_result_block(
    item: &Value,
    details: Option<&Value>,
    at: &str,
) -> Option<ToolResultBlock> {
    let tool_use_id = str_field(item, "tool_use_id")?;
    Some(ToolResultBlock {
        id: result_block_id(tool_use_id),
        at: at.to_string(),
        tool_use_id: tool_use_id.to_string(),
        output: tool_result_output(item.get("content")),
        // Absent means success (A.4).
        is_error: item
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        details: details.map(|d| strip_inline_binary(d.clone())),
    })
}

/// The `tool_result` items of a user message's `content`.
pub(crate) fn tool_result_items(content: Option<&Value>) -> Vec<&Value> {
    match content {
        Some(Value::Array(items)) => items
            .iter()
            .filter(|i| str_field(i, "type") == Some("tool_result"))
            .collect(),
        _ => Vec::new(),
    }
}

/// A tool result's `content` (string or array of parts) as text; non-text parts are summarized
/// (`[image]`, `[tool_reference: name]`, `[<type>]`).
pub(crate) fn tool_result_output(content: Option<&Value>) -> String {
    match content {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|part| match str_field(part, "type") {
                Some("text") => str_field(part, "text").unwrap_or("").to_string(),
                Some("image") => "[image]".to_string(),
                Some("tool_reference") => match str_field(part, "tool_name") {
                    Some(name) => format!("[tool_reference: {name}]"),
                    None => "[tool_reference]".to_string(),
                },
                Some(other) => format!("[{other}]"),
                None => part.as_str().unwrap_or("").to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
    }
}

/// Strings longer than this under a binary-looking key are dropped from details.
const INLINE_BINARY_LIMIT: usize = 1024;

/// `value` with inline binary payloads (base64 images: `{"type":"base64","data":…}`, Read's
/// `file.base64`) replaced by a short note, so events never carry them (D.1.15).
pub(crate) fn strip_inline_binary(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let is_base64_source = map.get("type").and_then(Value::as_str) == Some("base64");
            let stripped: Map<String, Value> = map
                .into_iter()
                .map(|(key, v)| {
                    let binary_key = key == "base64" || (key == "data" && is_base64_source);
                    match v {
                        Value::String(s) if binary_key && s.len() > INLINE_BINARY_LIMIT => {
                            let note = format!("[{} bytes of base64 omitted]", s.len());
                            (key, Value::String(note))
                        }
                        other => (key, strip_inline_binary(other)),
                    }
                })
                .collect();
            Value::Object(stripped)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(strip_inline_binary).collect()),
        other => other,
    }
}

/// The visible text of a user message's `content`: a string, or its `text` items (reminder-only
/// items dropped, images as `[image]`), joined by blank lines. `None` when there is no text
/// (e.g. only tool results).
pub(crate) fn user_text(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|item| match str_field(item, "type") {
                    Some("text") => {
                        let text = str_field(item, "text").unwrap_or("");
                        (!is_reminder_only(text)).then(|| text.to_string())
                    }
                    Some("image") => Some("[image]".to_string()),
                    _ => None,
                })
                .collect();
            (!parts.is_empty()).then(|| parts.join("\n\n"))
        }
        _ => None,
    }
}

/// What a user message's text is, once Claude's wrappers are recognized.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum UserText {
    /// The user's own words.
    Plain(String),
    /// A slash command, rendered `/name args`.
    Command(String),
    /// `[Request interrupted by user…]`.
    Interrupted(String),
    /// Output of a local command (`/compact`, ...), shown to the user only.
    CommandOutput(String),
    /// A background task finished (`<task-notification>`).
    TaskNotification {
        summary: String,
        tool_use_id: Option<String>,
        status: Option<String>,
    },
    /// Nothing to show: system reminders, command caveats.
    Hidden,
}

pub(crate) fn classify_user_text(text: &str) -> UserText {
    let trimmed = text.trim();
    if trimmed.is_empty()
        || is_reminder_only(trimmed)
        || trimmed.starts_with("<local-command-caveat>")
    {
        return UserText::Hidden;
    }
    if trimmed.starts_with("[Request interrupted by user") {
        return UserText::Interrupted(trimmed.to_string());
    }
    if let Some(output) = tag_content(trimmed, "local-command-stdout") {
        return UserText::CommandOutput(output.trim().to_string());
    }
    if trimmed.starts_with("<task-notification>") {
        let field = |tag| tag_content(trimmed, tag).map(|s| s.trim().to_string());
        return UserText::TaskNotification {
            summary: field("summary").unwrap_or_else(|| "Background task finished".to_string()),
            tool_use_id: field("tool-use-id"),
            status: field("status"),
        };
    }
    if let Some(name) = tag_content(trimmed, "command-name") {
        let name = name.trim();
        let name = if name.starts_with('/') {
            name.to_string()
        } else {
            format!("/{name}")
        };
        return match tag_content(trimmed, "command-args").map(str::trim) {
            Some(args) if !args.is_empty() => UserText::Command(format!("{name} {args}")),
            _ => UserText::Command(name),
        };
    }
    UserText::Plain(text.to_string())
}

/// Text that is nothing but `<system-reminder>` sections.
fn is_reminder_only(text: &str) -> bool {
    let mut rest = text.trim();
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let Some(after_open) = rest.strip_prefix("<system-reminder>") else {
            return false;
        };
        let Some(end) = after_open.find("</system-reminder>") else {
            return false;
        };
        rest = after_open[end + "</system-reminder>".len()..].trim_start();
    }
    true
}

/// The text between the first `<tag>` and the following `</tag>`.
pub(crate) fn tag_content<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&close)? + start;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn classifies_wrapped_user_text() {
        assert_eq!(classify_user_text("hello"), UserText::Plain("hello".into()));
        assert_eq!(
            classify_user_text("<command-message>hello</command-message>\n<command-name>/hello</command-name>\n<command-args>Alice</command-args>"),
            UserText::Command("/hello Alice".into())
        );
        assert_eq!(
            classify_user_text("<command-name>/compact</command-name>\n<command-message>compact</command-message>\n<command-args></command-args>"),
            UserText::Command("/compact".into())
        );
        assert_eq!(
            classify_user_text("<local-command-stdout>Compacted </local-command-stdout>"),
            UserText::CommandOutput("Compacted".into())
        );
        assert_eq!(
            classify_user_text(
                "<system-reminder>a</system-reminder>\n<system-reminder>b</system-reminder>"
            ),
            UserText::Hidden
        );
        assert_eq!(
            classify_user_text("[Request interrupted by user]"),
            UserText::Interrupted("[Request interrupted by user]".into())
        );
    }

    #[test]
    fn user_text_keeps_only_visible_items() {
        let content = json!([
            {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
            {"type": "image", "source": {"type": "base64", "data": "AAAA"}},
            {"type": "text", "text": "What is this?"}
        ]);
        assert_eq!(
            user_text(Some(&content)),
            Some("[image]\n\nWhat is this?".into())
        );
        assert_eq!(user_text(Some(&json!([{"type": "tool_result"}]))), None);
    }

    #[test]
    fn tool_result_output_summarizes_non_text_parts() {
        let content = json!([
            {"type": "text", "text": "a"},
            {"type": "image", "source": {}},
            {"type": "tool_reference", "tool_name": "mcp__echo__echo"},
            {"type": "document"}
        ]);
        assert_eq!(
            tool_result_output(Some(&content)),
            "a\n[image]\n[tool_reference: mcp__echo__echo]\n[document]"
        );
    }

    #[test]
    fn inline_binary_is_stripped() {
        let big = "A".repeat(2000);
        let value = json!({"type": "image", "file": {"base64": big, "type": "image/png"}, "source": {"type": "base64", "data": big}});
        let stripped = strip_inline_binary(value);
        assert_eq!(stripped["file"]["base64"], "[2000 bytes of base64 omitted]");
        assert_eq!(stripped["source"]["data"], "[2000 bytes of base64 omitted]");
        assert_eq!(stripped["file"]["type"], "image/png");
    }
}
