//! Gemini chat recordings as transcripts: which files make one, where they go back, and how they
//! become blocks (B.3, B.4, D.4).
//!
//! Layout, under `~/.gemini/tmp/<project slug>/chats/`: `session-<YYYY-MM-DDTHH-MM>-<id8>.jsonl`
//! (the main conversation; `<id8>` = the first 8 characters of the session id) and
//! `<session id>/<subagent session id>.jsonl` (subagents). Stored names are the paths below
//! `chats/`, so a transcript can be restored under any project slug.
//!
//! A session can have several main files: each `--resume` in a fresh home writes a stub (only
//! `session_context`) next to the real file (B.4). All are saved and restored (the CLI resumes
//! the real one; session retention is off, see [`super::profile`], so none is deleted); the
//! parser takes the one with the most messages (then the latest `lastUpdated`) and reports the
//! others as warnings.
//!
//! Blocks (ids in [`super`]): user text (`displayContent` preferred, so a slash command shows as
//! typed; the synthetic `<session_context>`/`<hook_context>` parts skipped; tool-result-only
//! messages skipped, they are represented by the calls), model thoughts as `thinking`, model text,
//! each tool call with its result (the model-facing `functionResponse` output, not the display
//! text the live stream shows), `invoke_agent` calls as `subagent` links whose threads come from
//! the subagent files, and `info`/`warning`/`error` notices as `system` blocks.

use std::collections::{BTreeMap, HashMap};

use agent_runtime_protocol::{
    AssistantTextBlock, Block, SubagentBlock, SubagentStatus, SubagentThread, SystemBlock,
    ThinkingBlock, ToolResultBlock, ToolStatus, ToolUseBlock, Usage, UserMessageBlock,
    MAIN_CONVERSATION,
};
use serde_json::{json, Value};

use super::chat::{message_id, replay, Chat};
use super::pricing::cost_usd;
use super::translator::SUBAGENT_TOOL;
use crate::error::{validate_file_name, validate_relative_path, AgentError};
use crate::files::{ParsedConversation, TranscriptFile};

/// Where Gemini keeps per-project state, relative to the home directory.
const TMP_DIR: &str = ".gemini/tmp";

/// Synthetic user parts the CLI adds; never the user's own text.
const SYNTHETIC_PREFIXES: &[&str] = &["<session_context>", "<hook_context>"];

/// The files of session `agent_session_id` among `home_files`: main chat files
/// (`chats/session-*-<id8>.json[l]`) and its subagents' (`chats/<session id>/*.jsonl`), stored
/// under their path below `chats/`. Sorted by name; when two project directories hold the same
/// name, the first path in sorted order wins.
pub fn transcript_files_to_save(
    home_files: &[String],
    agent_session_id: &str,
) -> Vec<TranscriptFile> {
    if validate_file_name("agent session id", agent_session_id).is_err() {
        return Vec::new();
    }
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    let mut paths: Vec<&String> = home_files.iter().collect();
    paths.sort();
    for path in paths {
        let Some(name) = chat_name(path) else {
            continue;
        };
        let belongs = is_main_file_of(name, agent_session_id)
            || name
                .strip_prefix(agent_session_id)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|file| !file.contains('/') && file.ends_with(".jsonl"));
        if belongs && validate_relative_path("transcript file name", name).is_ok() {
            by_name
                .entry(name.to_string())
                .or_insert_with(|| path.clone());
        }
    }
    by_name
        .into_iter()
        .map(|(name, home_path)| TranscriptFile { home_path, name })
        .collect()
}

/// Whether the saved chat files (`(name, content)`) hold a conversation the CLI resumes: a main
/// file with a message beyond the synthetic session context. A file with only that context (a
/// first turn killed early, or a resume stub) is refused by `--resume` ("No previous sessions
/// found", exit 42), and its id by `--session-id` ("already exists"): the runtime removes such
/// files and starts afresh.
pub fn can_resume(transcript: &[(String, String)]) -> bool {
    transcript
        .iter()
        .filter(|(name, _)| !name.contains('/'))
        .any(|(name, content)| {
            replay(name, content)
                .messages
                .iter()
                .any(|message| match str_field(message, "type") {
                    Some("gemini") => true,
                    Some("user") => !user_text(message).is_empty(),
                    _ => false,
                })
        })
}

/// Where stored file `name` goes in a fresh home so `--resume` finds it (B.4):
/// `.gemini/tmp/<slug of workspace_dir>/chats/<name>`. The CLI claims the slug for the
/// workspace itself on its first start (`projects.json`, `.project_root`).
pub fn transcript_restore_path(name: &str, workspace_dir: &str) -> Result<String, AgentError> {
    validate_relative_path("transcript file name", name)?;
    Ok(format!(
        "{TMP_DIR}/{}/chats/{name}",
        project_slug(workspace_dir)
    ))
}

/// The CLI's project slug for `cwd` (B.4): the basename, lower-cased, every character outside
/// `[a-z0-9]` -> `-`, runs of `-` collapsed, `-` trimmed; `project` when nothing is left.
pub fn project_slug(cwd: &str) -> String {
    let base = cwd.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let mut slug = String::new();
    for c in base.to_lowercase().chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && slug.ends_with('-')) {
            slug.push(c);
        }
    }
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        "project".to_string()
    } else {
        slug.to_string()
    }
}

/// The path below `.gemini/tmp/<slug>/chats/`, if `path` is there.
fn chat_name(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(TMP_DIR)?.strip_prefix('/')?;
    let (_slug, rest) = rest.split_once('/')?;
    rest.strip_prefix("chats/")
}

fn is_main_file_of(name: &str, agent_session_id: &str) -> bool {
    let prefix: String = agent_session_id.chars().take(8).collect();
    !name.contains('/')
        && name.starts_with("session-")
        && (name.ends_with(&format!("-{prefix}.jsonl"))
            || name.ends_with(&format!("-{prefix}.json")))
}

/// Parses stored chat files (`(name, content)`) into blocks. See the module doc.
pub fn parse_transcript(files: &[(String, String)]) -> ParsedConversation {
    let mut parsed = ParsedConversation::default();
    let mut mains: Vec<(&str, Chat)> = Vec::new();
    let mut subagents: HashMap<String, Chat> = HashMap::new();
    for (name, content) in files {
        let mut chat = if name.ends_with(".json") {
            legacy_chat(name, content)
        } else {
            replay(name, content)
        };
        parsed.warnings.append(&mut chat.warnings);
        match name.rsplit_once('/') {
            Some((_, file)) => {
                let agent_id = file.trim_end_matches(".jsonl").to_string();
                subagents.insert(agent_id, chat);
            }
            None if chat.is_subagent() => {
                let agent_id = chat.meta_str("sessionId").unwrap_or(name).to_string();
                subagents.insert(agent_id, chat);
            }
            None => mains.push((name, chat)),
        }
    }
    // The real conversation: most messages, then the latest update.
    mains.sort_by(|(_, a), (_, b)| {
        (a.messages.len(), a.meta_str("lastUpdated"))
            .cmp(&(b.messages.len(), b.meta_str("lastUpdated")))
    });
    let Some((_, main)) = mains.pop() else {
        if !files.is_empty() {
            parsed.warnings.push("no main chat file".to_string());
        }
        return parsed;
    };
    for (name, _) in &mains {
        parsed.warnings.push(format!(
            "{name}: another chat file of the session, not used"
        ));
    }
    let mut builder = Builder {
        subagents,
        parsed: &mut parsed,
        usage: Usage::default(),
        cost: 0.0,
        used_subagents: Vec::new(),
    };
    let blocks = builder.blocks(&main.messages, MAIN_CONVERSATION, None);
    let (usage, cost) = (builder.usage, builder.cost);
    let unused: Vec<String> = builder
        .subagents
        .keys()
        .filter(|id| !builder.used_subagents.contains(id))
        .cloned()
        .collect();
    for id in unused {
        parsed
            .warnings
            .push(format!("subagent chat {id} is not linked from any call"));
    }
    parsed.blocks = blocks;
    parsed.usage = Some(usage);
    parsed.cost_usd = Some(cost);
    parsed.warnings.sort();
    parsed
}

/// A legacy single-document chat (`{sessionId, …, messages: […]}`), as a replayed chat.
fn legacy_chat(name: &str, content: &str) -> Chat {
    match serde_json::from_str::<Value>(content) {
        Ok(Value::Object(mut doc)) => {
            let messages = match doc.remove("messages") {
                Some(Value::Array(messages)) => messages,
                _ => Vec::new(),
            };
            Chat {
                metadata: doc,
                messages,
                warnings: Vec::new(),
            }
        }
        _ => Chat {
            warnings: vec![format!("{name}: unparsable legacy chat file")],
            ..Chat::default()
        },
    }
}

struct Builder<'a> {
    subagents: HashMap<String, Chat>,
    parsed: &'a mut ParsedConversation,
    usage: Usage,
    cost: f64,
    used_subagents: Vec<String>,
}

impl Builder<'_> {
    /// The blocks of one thread. `prompt` is the subagent's prompt, already shown as
    /// `prompt:<call id>`, so the first user message repeating it is skipped.
    fn blocks(
        &mut self,
        messages: &[Value],
        conversation: &str,
        prompt: Option<&str>,
    ) -> Vec<Block> {
        let mut blocks = Vec::new();
        let mut prompt = prompt;
        for message in messages {
            let id = message_id(message).unwrap_or("");
            let at = str_field(message, "timestamp").unwrap_or("").to_string();
            match str_field(message, "type") {
                Some("user") => {
                    let text = user_text(message);
                    if text.is_empty() {
                        continue;
                    }
                    if prompt.take().is_some_and(|p| p.trim() == text) {
                        continue;
                    }
                    blocks.push(Block::UserMessage(UserMessageBlock {
                        id: format!("user:{id}"),
                        at,
                        text,
                        client_message_id: None,
                    }));
                }
                Some("gemini") => self.model_message(message, id, &at, conversation, &mut blocks),
                Some(kind @ ("info" | "warning" | "error")) => {
                    blocks.push(Block::System(SystemBlock {
                        id: id.to_string(),
                        at,
                        subtype: kind.to_string(),
                        message: text_of(message.get("content")),
                        data: None,
                    }));
                }
                _ => {}
            }
        }
        blocks
    }

    fn model_message(
        &mut self,
        message: &Value,
        id: &str,
        at: &str,
        conversation: &str,
        blocks: &mut Vec<Block>,
    ) {
        let model = str_field(message, "model");
        if let Some(model) = model {
            if conversation == MAIN_CONVERSATION {
                self.parsed.model = Some(model.to_string());
            }
        }
        if let Some(tokens) = message.get("tokens") {
            let count = |key| tokens.get(key).and_then(Value::as_u64).unwrap_or(0);
            let cached = count("cached");
            let usage = Usage {
                input_tokens: count("input").saturating_sub(cached),
                output_tokens: count("output"),
                cache_read_input_tokens: cached,
                cache_creation_input_tokens: 0,
            };
            self.usage.add(&usage);
            self.cost += cost_usd(
                model.unwrap_or(""),
                usage.input_tokens,
                usage.cache_read_input_tokens,
                usage.output_tokens,
            );
        }
        let thoughts = message.get("thoughts").and_then(Value::as_array);
        for (index, thought) in thoughts.into_iter().flatten().enumerate() {
            let subject = str_field(thought, "subject").unwrap_or("").trim();
            let description = str_field(thought, "description").unwrap_or("").trim();
            let text = match (subject.is_empty(), description.is_empty()) {
                (false, false) => format!("{subject}\n{description}"),
                (false, true) => subject.to_string(),
                _ => description.to_string(),
            };
            blocks.push(Block::Thinking(ThinkingBlock {
                id: format!("{id}:thought:{index}"),
                at: str_field(thought, "timestamp").unwrap_or(at).to_string(),
                text,
                signature: None,
                redacted: false,
            }));
        }
        let text = text_of(message.get("content"));
        if !text.is_empty() {
            blocks.push(Block::AssistantText(AssistantTextBlock {
                id: format!("{id}:text"),
                at: at.to_string(),
                text,
            }));
        }
        let calls = message.get("toolCalls").and_then(Value::as_array);
        for call in calls.into_iter().flatten() {
            self.tool_call(call, at, blocks);
        }
    }

    fn tool_call(&mut self, call: &Value, at: &str, blocks: &mut Vec<Block>) {
        let Some(id) = str_field(call, "id") else {
            self.parsed
                .warnings
                .push("a tool call without an id".to_string());
            return;
        };
        let name = str_field(call, "name").unwrap_or("").to_string();
        let input = call.get("args").cloned().unwrap_or_else(|| json!({}));
        let success = str_field(call, "status") == Some("success");
        let status = if success {
            ToolStatus::Success
        } else {
            ToolStatus::Error
        };
        let call_at = str_field(call, "timestamp").unwrap_or(at).to_string();
        blocks.push(Block::ToolUse(ToolUseBlock {
            id: id.to_string(),
            at: at.to_string(),
            name: name.clone(),
            input: input.clone(),
            status,
            partial_input: None,
        }));
        if name == SUBAGENT_TOOL {
            self.subagent(id, call, &input, at, success, blocks);
        }
        if let Some(output) = function_output(call.get("result")) {
            blocks.push(Block::ToolResult(ToolResultBlock {
                id: format!("result:{id}"),
                at: call_at,
                tool_use_id: id.to_string(),
                output,
                is_error: !success,
                details: str_field(call, "errorType").map(|t| json!({ "type": t })),
            }));
        }
    }

    fn subagent(
        &mut self,
        id: &str,
        call: &Value,
        input: &Value,
        at: &str,
        success: bool,
        blocks: &mut Vec<Block>,
    ) {
        let status = if success {
            SubagentStatus::Completed
        } else {
            SubagentStatus::Error
        };
        let agent_name = str_field(input, "agent_name").map(str::to_string);
        let prompt = str_field(input, "prompt").map(str::to_string);
        blocks.push(Block::Subagent(SubagentBlock {
            id: format!("subagent:{id}"),
            at: at.to_string(),
            subagent_id: id.to_string(),
            subagent_type: agent_name.clone(),
            description: prompt.clone(),
            status,
        }));
        let mut thread_blocks = Vec::new();
        if let Some(prompt) = &prompt {
            thread_blocks.push(Block::UserMessage(UserMessageBlock {
                id: format!("prompt:{id}"),
                at: at.to_string(),
                text: prompt.clone(),
                client_message_id: None,
            }));
        }
        let chat = str_field(call, "agentId").and_then(|agent| {
            let chat = self.subagents.remove(agent);
            if chat.is_some() {
                self.used_subagents.push(agent.to_string());
            } else {
                self.parsed
                    .warnings
                    .push(format!("subagent chat {agent} of call {id} is missing"));
            }
            chat
        });
        if let Some(chat) = chat {
            let mut rest = self.blocks(&chat.messages, id, prompt.as_deref());
            thread_blocks.append(&mut rest);
        }
        self.parsed.subagents.insert(
            id.to_string(),
            SubagentThread {
                parent_conversation_id: MAIN_CONVERSATION.to_string(),
                status,
                subagent_type: agent_name,
                description: prompt,
                blocks: thread_blocks,
            },
        );
    }
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The text of a string or of a part array (`{text}` parts, thought parts excluded).
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|part| part.get("thought").and_then(Value::as_bool) != Some(true))
            .filter_map(|part| str_field(part, "text"))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// A user message's own text: `displayContent` if present, else `content`, without the
/// synthetic context parts; empty for tool-result-only messages.
fn user_text(message: &Value) -> String {
    let content = message
        .get("displayContent")
        .filter(|c| !c.is_null())
        .or_else(|| message.get("content"));
    let parts: Vec<String> = match content {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| str_field(part, "text"))
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    parts
        .iter()
        .map(|part| part.trim())
        .filter(|part| !part.is_empty() && !SYNTHETIC_PREFIXES.iter().any(|p| part.starts_with(p)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The model-facing output of a tool call's `result` parts: `functionResponse.response.output`
/// (or `.error`), strings as they are, anything else as JSON.
fn function_output(result: Option<&Value>) -> Option<String> {
    let parts = result?.as_array()?;
    let outputs: Vec<String> = parts
        .iter()
        .filter_map(|part| part.get("functionResponse")?.get("response"))
        .filter_map(|response| response.get("output").or_else(|| response.get("error")))
        .map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    (!outputs.is_empty()).then(|| outputs.join("\n"))
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn only_a_chat_with_a_conversation_can_be_resumed() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/gemini/"
        );
        let read = |file: &str| std::fs::read_to_string(format!("{dir}{file}")).unwrap();
        let stub = (
            "session-b-7223e9e9.jsonl".to_string(),
            read("resume-stub-file-created-by-resume.chat.jsonl"),
        );
        let real = (
            "session-a-7223e9e9.jsonl".to_string(),
            read("resume-turn1.chat.jsonl"),
        );
        assert!(!can_resume(std::slice::from_ref(&stub)));
        assert!(can_resume(&[stub, real]));
        assert!(!can_resume(&[]));
    }

    #[test]
    fn slugs_follow_the_cli() {
        assert_eq!(project_slug("/workspace"), "workspace");
        assert_eq!(project_slug("/home/u/My Project!/"), "my-project");
        assert_eq!(project_slug("/"), "project");
        assert_eq!(project_slug("/x/__a..b__"), "a-b");
    }

    #[test]
    fn saves_main_and_subagent_files_of_the_session_only() {
        let session = "7223e9e9-a274-45e8-910c-9bbb0eceefb9";
        let home: Vec<String> = [
            ".gemini/settings.json",
            ".gemini/tmp/workspace/chats/session-2026-11-23T23-34-7223e9e9.jsonl",
            ".gemini/tmp/workspace/chats/session-2026-11-23T23-42-7223e9e9.jsonl",
            ".gemini/tmp/workspace/chats/session-2026-11-23T23-42-00000000.jsonl",
            ".gemini/tmp/workspace/chats/7223e9e9-a274-45e8-910c-9bbb0eceefb9/agent-1.jsonl",
            ".gemini/tmp/workspace/chats/other/agent-2.jsonl",
            ".gemini/tmp/workspace/logs/logs.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let names: Vec<String> = transcript_files_to_save(&home, session)
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(
            names,
            vec![
                "7223e9e9-a274-45e8-910c-9bbb0eceefb9/agent-1.jsonl",
                "session-2026-11-23T23-34-7223e9e9.jsonl",
                "session-2026-11-23T23-42-7223e9e9.jsonl",
            ]
        );
        assert_eq!(
            transcript_restore_path("session-x-7223e9e9.jsonl", "/workspace").unwrap(),
            ".gemini/tmp/workspace/chats/session-x-7223e9e9.jsonl"
        );
        assert!(transcript_restore_path("../x", "/workspace").is_err());
    }
}
