//! [`GeminiTranslator`]: one stdout line of headless `gemini --output-format stream-json` in,
//! session events out (B.2, D.3); and the stderr lines that say the CLI is retrying an API call.
//!
//! # Rules
//! - `init` -> `metadata_update` (model, agent session id); its timestamp names this process in
//!   the ids of the blocks it opens (see [`super`]).
//! - `message` (assistant) chunks -> one `assistant_text` block per run of chunks: `block_start`
//!   on the first, `text_delta` for each, `block_complete` when any other line arrives (the
//!   stream has no block boundaries, D.3.2). The user `message` echoes the prompt (unexpanded
//!   for slash commands): the runtime emits the user's messages itself, so it is skipped.
//! - `tool_use` -> a complete `tool_use` block, status `running`, keyed by `tool_id`; parallel
//!   calls are consecutive lines and their results may come in any order (D.3.6).
//!   `tool_result` -> a `tool_result` block (`output`: the CLI's display text, or the error
//!   message; D.3.4) and a `block_update` of the call's status. A shell command that exits
//!   non-zero is still `success` (D.3.5).
//! - `invoke_agent` calls spawn a subagent: `subagent_discovered`, a `subagent` link block and
//!   the prompt as a `user_message` in the subagent's thread (id = the call's id); its
//!   `tool_result` completes it. Nothing of the subagent's own work is streamed (D.3.3).
//! - `error` (non-fatal: loop detection, invalid stream...) -> a `system` block of subtype
//!   `warning` or `error`.
//! - `result` -> [`AgentOutput::TurnFinished`]: `completed` for `status: success`; else `error`
//!   with the CLI's error type as code (`unknown` with an `[API Error: …]` message becomes
//!   `api_error`, with the HTTP status read from the message's JSON), or `interrupted` for a
//!   `FatalCancellationError` or any error after [`GeminiTranslator::note_interrupt_requested`].
//!   Usage from `stats` (whole process = this turn: `input` uncached, `cached`, `output_tokens`),
//!   cost from [`super::pricing`] per model in `stats.models`.
//! - stderr "Attempt N failed with status S. Retrying with backoff..." -> one `system` block
//!   `api_retry` per run of retries, replaced in place by each attempt; the status is kept for
//!   [`GeminiTranslator::exit_error`]. Every other stderr line is noise (D.3.1).
//! - Unknown line types are ignored (D.3.11); a line that is not JSON, or JSON without a
//!   `type`, is a warning (raw kept, truncated to 4 KB).

use std::collections::HashMap;

use agent_runtime_protocol::{
    AssistantTextBlock, Block, BlockUpdates, MetadataPatch, SessionEvent, SubagentBlock,
    SubagentStatus, SystemBlock, ToolResultBlock, ToolStatus, ToolUseBlock, TurnEndReason,
    TurnError, Usage, UserMessageBlock, MAIN_CONVERSATION,
};
use serde_json::{json, Value};

use super::pricing::cost_usd;
use crate::output::{
    complete_event, generic_exit_error, update_event, AgentOutput, TranslatorContext,
};

/// The tool that runs a subagent.
pub(crate) const SUBAGENT_TOOL: &str = "invoke_agent";

/// The stderr line of a retried API call.
const RETRY_PREFIX: &str = "Attempt ";
const RETRY_STATUS: &str = " failed with status ";

/// HTTP statuses the CLI exits with modulo 256 (B.1), by exit code. Only statuses a model API
/// answers with, and only codes no fatal error of the CLI uses.
const HTTP_EXIT_CODES: &[(i32, u16)] = &[
    (144, 400),
    (145, 401),
    (147, 403),
    (148, 404),
    (157, 413),
    (173, 429),
    (244, 500),
    (246, 502),
    (247, 503),
    (248, 504),
];

/// Translator of one Gemini CLI process's stdout (and stderr). See the module doc.
#[derive(Debug)]
pub struct GeminiTranslator {
    ctx: TranslatorContext,
    /// Names this process in block ids: the `init` timestamp, else the first line's time.
    process: Option<String>,
    /// Blocks this process opened, for ids.
    counter: u64,
    model: Option<String>,
    session_id: Option<String>,
    /// The assistant text block being streamed.
    text: Option<AssistantTextBlock>,
    /// Tool calls by tool id.
    tools: HashMap<String, ToolCall>,
    /// The `system` block of the current run of API retries.
    retry_block: Option<String>,
    /// HTTP status of the last failed API attempt on stderr.
    last_http_status: Option<u16>,
    interrupt_requested: bool,
}

#[derive(Debug)]
struct ToolCall {
    status: ToolStatus,
    subagent: bool,
}

type Out = Vec<AgentOutput>;

fn event(out: &mut Out, event: SessionEvent) {
    out.push(AgentOutput::Event(event));
}

fn complete(out: &mut Out, conversation: &str, block: Block) {
    event(out, complete_event(conversation, block));
}

fn status_update(out: &mut Out, id: &str, status: ToolStatus) {
    let updates = BlockUpdates {
        status: Some(status),
        ..BlockUpdates::default()
    };
    event(out, update_event(MAIN_CONVERSATION, id, updates));
}

fn warning(out: &mut Out, message: impl Into<String>, raw: &str) {
    out.push(crate::output::warning(message, Some(raw)));
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

impl GeminiTranslator {
    /// A translator for a new process.
    pub fn new(ctx: TranslatorContext) -> Self {
        GeminiTranslator {
            ctx,
            process: None,
            counter: 0,
            model: None,
            session_id: None,
            text: None,
            tools: HashMap::new(),
            retry_block: None,
            last_http_status: None,
            interrupt_requested: false,
        }
    }

    /// Interprets one stdout line; `at` (RFC 3339) timestamps the blocks it opens.
    pub fn translate_line(&mut self, line: &str, at: &str) -> Vec<AgentOutput> {
        let line = self.ctx.redact(line);
        let line = line.trim();
        let mut out = Vec::new();
        if line.is_empty() {
            return out;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(value) => value,
            Err(err) => {
                warning(
                    &mut out,
                    format!("unparsable Gemini output line: {err}"),
                    line,
                );
                return out;
            }
        };
        let kind = str_field(&value, "type");
        if kind == Some("init") && self.process.is_none() {
            self.process = str_field(&value, "timestamp").map(str::to_string);
        }
        if self.process.is_none() {
            self.process = Some(at.to_string());
        }
        if kind != Some("message") || str_field(&value, "role") != Some("assistant") {
            self.close_text(&mut out);
        }
        if kind != Some("init") {
            // Output arrived again: a run of retries is over.
            self.retry_block = None;
        }
        match kind {
            Some("init") => self.on_init(&value, &mut out),
            Some("message") => self.on_message(&value, at, &mut out),
            Some("tool_use") => self.on_tool_use(&value, at, &mut out),
            Some("tool_result") => self.on_tool_result(&value, at, &mut out),
            Some("error") => self.on_error(&value, at, &mut out),
            Some("result") => self.on_result(&value, &mut out),
            Some(_) => {}
            None => warning(&mut out, "Gemini output line without a type", line),
        }
        out
    }

    /// Interprets one stderr line: only API retry notices produce output.
    pub fn translate_stderr_line(&mut self, line: &str, at: &str) -> Vec<AgentOutput> {
        let mut out = Vec::new();
        let Some((attempt, status)) = parse_retry_notice(line) else {
            return out;
        };
        self.last_http_status = Some(status);
        if self.process.is_none() {
            self.process = Some(at.to_string());
        }
        self.close_text(&mut out);
        let id = match &self.retry_block {
            Some(id) => id.clone(),
            None => self.next_id("api_retry"),
        };
        self.retry_block = Some(id.clone());
        let message = self.ctx.redact(line);
        let detail = message
            .split_once("Retrying with backoff...")
            .map(|(_, rest)| rest.trim())
            .filter(|rest| !rest.is_empty());
        let block = Block::System(SystemBlock {
            id,
            at: at.to_string(),
            subtype: "api_retry".to_string(),
            message: format!("Model API request failed (HTTP {status}); attempt {attempt} failed, retrying with backoff"),
            data: Some(json!({
                "attempt": attempt,
                "errorStatus": status,
                "error": detail,
            })),
        });
        // Re-completing the same id replaces the block in place.
        complete(&mut out, MAIN_CONVERSATION, block);
        out
    }

    /// Closes everything still open (the process died or was killed): the text block completes
    /// with what was streamed, running tool calls become `error`, running subagents `error`.
    pub fn close_open_blocks(&mut self, _at: &str) -> Vec<AgentOutput> {
        let mut out = Vec::new();
        self.close_text(&mut out);
        self.fail_unfinished_tools(&mut out);
        self.retry_block = None;
        out
    }

    /// The runtime is killing the process to interrupt the turn.
    pub fn note_interrupt_requested(&mut self) {
        self.interrupt_requested = true;
    }

    /// The error of a turn whose process exited without a `result` line: an exit code that is
    /// an HTTP status modulo 256 (B.1) or the last retried status on stderr becomes the error's
    /// `http_status`.
    pub fn exit_error(&self, exit_code: Option<i32>) -> TurnError {
        let mut error = generic_exit_error(exit_code);
        let from_exit = exit_code.and_then(|code| {
            HTTP_EXIT_CODES
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, status)| *status)
        });
        if let Some(status) = from_exit.or(self.last_http_status) {
            error.http_status = Some(status);
            error.code = Some("api_error".into());
            error.message = match exit_code {
                Some(code) => format!(
                    "the agent exited with code {code} during the turn after a model API error (HTTP {status})"
                ),
                None => format!(
                    "the agent was killed during the turn while retrying a model API error (HTTP {status})"
                ),
            };
        }
        error
    }

    fn next_id(&mut self, kind: &str) -> String {
        self.counter += 1;
        let process = self.process.as_deref().unwrap_or("process");
        format!("{kind}:{process}:{}", self.counter)
    }

    fn on_init(&mut self, value: &Value, out: &mut Out) {
        let model = str_field(value, "model").filter(|m| self.model.as_deref() != Some(*m));
        let session =
            str_field(value, "session_id").filter(|s| self.session_id.as_deref() != Some(*s));
        if model.is_none() && session.is_none() {
            return;
        }
        if let Some(model) = model {
            self.model = Some(model.to_string());
        }
        if let Some(session) = session {
            self.session_id = Some(session.to_string());
        }
        let metadata = MetadataPatch {
            model: model.map(str::to_string),
            agent_session_id: session.map(str::to_string),
            demo: None,
        };
        event(out, SessionEvent::MetadataUpdate { metadata });
    }

    fn on_message(&mut self, value: &Value, at: &str, out: &mut Out) {
        if str_field(value, "role") != Some("assistant") {
            return;
        }
        let chunk = str_field(value, "content").unwrap_or("");
        if chunk.is_empty() {
            return;
        }
        let block = match &mut self.text {
            Some(block) => block,
            None => {
                let block = AssistantTextBlock {
                    id: self.next_id("text"),
                    at: at.to_string(),
                    text: String::new(),
                };
                event(
                    out,
                    SessionEvent::BlockStart {
                        conversation_id: MAIN_CONVERSATION.to_string(),
                        block: Block::AssistantText(block.clone()),
                    },
                );
                self.text.insert(block)
            }
        };
        block.text.push_str(chunk);
        event(
            out,
            SessionEvent::TextDelta {
                conversation_id: MAIN_CONVERSATION.to_string(),
                block_id: block.id.clone(),
                delta: chunk.to_string(),
            },
        );
    }

    fn close_text(&mut self, out: &mut Out) {
        if let Some(block) = self.text.take() {
            complete(out, MAIN_CONVERSATION, Block::AssistantText(block));
        }
    }

    fn on_tool_use(&mut self, value: &Value, at: &str, out: &mut Out) {
        let Some(id) = str_field(value, "tool_id") else {
            warning(out, "Gemini tool_use without a tool_id", &value.to_string());
            return;
        };
        let name = str_field(value, "tool_name").unwrap_or("").to_string();
        let input = value
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let subagent = name == SUBAGENT_TOOL;
        self.tools.insert(
            id.to_string(),
            ToolCall {
                status: ToolStatus::Running,
                subagent,
            },
        );
        complete(
            out,
            MAIN_CONVERSATION,
            Block::ToolUse(ToolUseBlock {
                id: id.to_string(),
                at: at.to_string(),
                name,
                input: input.clone(),
                status: ToolStatus::Running,
                partial_input: None,
            }),
        );
        if subagent {
            for event in subagent_start_events(id, &input, at, SubagentStatus::Running) {
                out.push(AgentOutput::Event(event));
            }
        }
    }

    fn on_tool_result(&mut self, value: &Value, at: &str, out: &mut Out) {
        let Some(id) = str_field(value, "tool_id") else {
            warning(
                out,
                "Gemini tool_result without a tool_id",
                &value.to_string(),
            );
            return;
        };
        let is_error = str_field(value, "status") == Some("error");
        let error = value.get("error");
        let output = str_field(value, "output")
            .or_else(|| error.and_then(|e| str_field(e, "message")))
            .unwrap_or("")
            .to_string();
        complete(
            out,
            MAIN_CONVERSATION,
            Block::ToolResult(ToolResultBlock {
                id: format!("result:{id}"),
                at: at.to_string(),
                tool_use_id: id.to_string(),
                output,
                is_error,
                details: error.cloned(),
            }),
        );
        let status = if is_error {
            ToolStatus::Error
        } else {
            ToolStatus::Success
        };
        match self.tools.get_mut(id) {
            Some(call) => {
                call.status = status;
                status_update(out, id, status);
                if call.subagent {
                    let status = if is_error {
                        SubagentStatus::Error
                    } else {
                        SubagentStatus::Completed
                    };
                    finish_subagent(out, id, status);
                }
            }
            None => warning(
                out,
                format!("Gemini tool_result for an unknown tool call {id}"),
                &value.to_string(),
            ),
        }
    }

    fn on_error(&mut self, value: &Value, at: &str, out: &mut Out) {
        let subtype = match str_field(value, "severity") {
            Some("warning") => "warning",
            _ => "error",
        };
        let block = Block::System(SystemBlock {
            id: self.next_id("error"),
            at: at.to_string(),
            subtype: subtype.to_string(),
            message: str_field(value, "message").unwrap_or("").to_string(),
            data: None,
        });
        complete(out, MAIN_CONVERSATION, block);
    }

    fn on_result(&mut self, value: &Value, out: &mut Out) {
        let success = str_field(value, "status") == Some("success");
        let error = value.get("error");
        let error_type = error.and_then(|e| str_field(e, "type"));
        let reason = if success {
            TurnEndReason::Completed
        } else if self.interrupt_requested || error_type == Some("FatalCancellationError") {
            TurnEndReason::Interrupted
        } else {
            TurnEndReason::Error
        };
        if !success {
            self.fail_unfinished_tools(out);
        }
        let stats = value.get("stats");
        let outcome = crate::output::TurnOutcome {
            reason,
            usage: stats.map(usage_of).unwrap_or_default(),
            cost_usd: stats.map(cost_of).unwrap_or(0.0),
            error: (reason == TurnEndReason::Error).then(|| turn_error(error)),
            agent_initiated: false,
        };
        out.push(AgentOutput::TurnFinished(outcome));
        self.interrupt_requested = false;
    }

    fn fail_unfinished_tools(&mut self, out: &mut Out) {
        let mut ids: Vec<&String> = self
            .tools
            .iter()
            .filter(|(_, call)| call.status == ToolStatus::Running)
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        let ids: Vec<String> = ids.into_iter().cloned().collect();
        for id in ids {
            if let Some(call) = self.tools.get_mut(&id) {
                call.status = ToolStatus::Error;
                status_update(out, &id, ToolStatus::Error);
                if call.subagent {
                    finish_subagent(out, &id, SubagentStatus::Error);
                }
            }
        }
    }
}

/// The events that open a subagent spawned by `invoke_agent` call `id` in the main thread: the
/// discovery, the link block, and the prompt in the subagent's thread. Shared with the
/// transcript parser's event order.
pub(crate) fn subagent_start_events(
    id: &str,
    input: &Value,
    at: &str,
    status: SubagentStatus,
) -> Vec<SessionEvent> {
    let agent_name = str_field(input, "agent_name").map(str::to_string);
    let prompt = str_field(input, "prompt").map(str::to_string);
    let mut events = vec![
        SessionEvent::SubagentDiscovered {
            subagent_id: id.to_string(),
            parent_conversation_id: MAIN_CONVERSATION.to_string(),
            subagent_type: agent_name.clone(),
            description: prompt.clone(),
        },
        SessionEvent::BlockComplete {
            conversation_id: MAIN_CONVERSATION.to_string(),
            block_id: format!("subagent:{id}"),
            block: Block::Subagent(SubagentBlock {
                id: format!("subagent:{id}"),
                at: at.to_string(),
                subagent_id: id.to_string(),
                subagent_type: agent_name,
                description: prompt.clone(),
                status,
            }),
        },
    ];
    if let Some(prompt) = prompt {
        events.push(SessionEvent::BlockComplete {
            conversation_id: id.to_string(),
            block_id: format!("prompt:{id}"),
            block: Block::UserMessage(UserMessageBlock {
                id: format!("prompt:{id}"),
                at: at.to_string(),
                text: prompt,
                client_message_id: None,
            }),
        });
    }
    events
}

fn finish_subagent(out: &mut Out, id: &str, status: SubagentStatus) {
    event(
        out,
        SessionEvent::BlockUpdate {
            conversation_id: MAIN_CONVERSATION.to_string(),
            block_id: format!("subagent:{id}"),
            updates: BlockUpdates {
                subagent_status: Some(status),
                ..BlockUpdates::default()
            },
        },
    );
    event(
        out,
        SessionEvent::SubagentCompleted {
            subagent_id: id.to_string(),
            status,
        },
    );
}

/// `(attempt, HTTP status)` of a stderr line "Attempt N failed with status S. Retrying …".
fn parse_retry_notice(line: &str) -> Option<(u64, u16)> {
    let rest = line.trim_start().strip_prefix(RETRY_PREFIX)?;
    let (attempt, rest) = rest.split_once(RETRY_STATUS)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((attempt.trim().parse().ok()?, digits.parse().ok()?))
}

fn count(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// `stats` as usage: `input` is the uncached prompt part, `cached` the cache reads.
fn usage_of(stats: &Value) -> Usage {
    let cached = count(stats, "cached");
    let input = match stats.get("input").and_then(Value::as_u64) {
        Some(input) => input,
        None => count(stats, "input_tokens").saturating_sub(cached),
    };
    Usage {
        input_tokens: input,
        output_tokens: count(stats, "output_tokens"),
        cache_read_input_tokens: cached,
        cache_creation_input_tokens: 0,
    }
}

fn cost_of(stats: &Value) -> f64 {
    let Some(models) = stats.get("models").and_then(Value::as_object) else {
        return 0.0;
    };
    models
        .iter()
        .map(|(model, m)| {
            let usage = usage_of(m);
            cost_usd(
                model,
                usage.input_tokens,
                usage.cache_read_input_tokens,
                usage.output_tokens,
            )
        })
        // Not `sum()`: an empty f64 sum is -0.0.
        .fold(0.0, |total, cost| total + cost)
}

/// The turn error of a failed `result`: `[API Error: {json}]` messages carry the HTTP status.
fn turn_error(error: Option<&Value>) -> TurnError {
    let message = error
        .and_then(|e| str_field(e, "message"))
        .filter(|m| !m.trim().is_empty())
        .unwrap_or("Gemini CLI reported an error")
        .to_string();
    let error_type = error.and_then(|e| str_field(e, "type"));
    let http_status = api_error_status(&message);
    let code = match error_type {
        _ if message.starts_with("[API Error") => Some("api_error".to_string()),
        Some(kind) => Some(kind.to_string()),
        None => None,
    };
    TurnError {
        message,
        code,
        http_status,
        exit_code: None,
        stderr_tail: None,
    }
}

/// The HTTP status in an `[API Error: {"error":{"code":400,…}}]` message.
fn api_error_status(message: &str) -> Option<u16> {
    let inner = message.strip_prefix("[API Error:")?.trim();
    let inner = inner.strip_suffix(']').unwrap_or(inner).trim();
    let value: Value = serde_json::from_str(inner).ok()?;
    let code = value.get("error")?.get("code")?.as_u64()?;
    u16::try_from(code).ok()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn retry_notices_are_parsed() {
        assert_eq!(
            parse_retry_notice(
                "Attempt 3 failed with status 500. Retrying with backoff... _ApiError: {}"
            ),
            Some((3, 500))
        );
        assert_eq!(parse_retry_notice("YOLO mode is enabled."), None);
    }

    #[test]
    fn api_errors_carry_their_status() {
        let message =
            r#"[API Error: {"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]"#;
        assert_eq!(api_error_status(message), Some(400));
        assert_eq!(
            api_error_status("[API Error: exception TypeError: fetch failed sending request]"),
            None
        );
    }

    #[test]
    fn exit_codes_and_retries_give_http_statuses() {
        let mut t = GeminiTranslator::new(TranslatorContext::default());
        assert_eq!(t.exit_error(Some(144)).http_status, Some(400));
        assert_eq!(t.exit_error(Some(1)).http_status, None);
        assert_eq!(t.exit_error(Some(1)).code.as_deref(), Some("agent_exited"));
        let out = t.translate_stderr_line(
            "Attempt 1 failed with status 503. Retrying with backoff... x",
            "t",
        );
        assert_eq!(out.len(), 1);
        let again = t.translate_stderr_line(
            "Attempt 2 failed with status 503. Retrying with backoff... x",
            "t",
        );
        let id = |outs: &[AgentOutput]| match &outs[0] {
            AgentOutput::Event(SessionEvent::BlockComplete { block_id, .. }) => block_id.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(id(&out), id(&again), "one block per run of retries");
        let killed = t.exit_error(Some(137));
        assert_eq!(killed.http_status, Some(503));
        assert_eq!(killed.code.as_deref(), Some("api_error"));
    }

    #[test]
    fn secrets_are_redacted() {
        let mut t = GeminiTranslator::new(TranslatorContext {
            prior_cost_usd: 0.0,
            redact: vec!["secret-key-123".into()],
            ..TranslatorContext::default()
        });
        let out = t.translate_line(
            r#"{"type":"message","role":"assistant","content":"key secret-key-123","delta":true}"#,
            "t",
        );
        let text = serde_json::to_string(&format!("{out:?}")).unwrap();
        assert!(!text.contains("secret-key-123"), "{text}");
    }
}
