//! [`ClaudeTranslator`]: one stdout line of `claude -p --output-format stream-json` in, session
//! events out (A.3–A.6, D.1).
//!
//! # Rules
//! - Streamed blocks (`stream_event`, main thread only): `content_block_start` opens a block
//!   (`block_start`); `text_delta` / `thinking_delta` become `text_delta` on that block (text and
//!   thinking never mix: each has its own block); `input_json_delta` becomes a `block_update`
//!   with the raw input accumulated so far; `signature_delta` a `block_update` of the signature.
//! - The `assistant` line of a block is authoritative: `block_complete` with its content (a tool
//!   call then has status `running`). It usually arrives before `content_block_stop`; a stop for a
//!   block still open completes it from what was streamed. A second completion of an id is
//!   dropped. Without partial messages, or for subagents (never streamed), blocks appear by
//!   `block_complete` alone.
//! - `user` lines with `tool_result` items: a `tool_result` block, then a `block_update` of the
//!   call's status (`success`/`error`; absent `is_error` is success).
//! - Subagents: an `Agent`/`Task` call, once complete (or `system/task_started`, whichever comes
//!   first), yields `subagent_discovered`, a `subagent` link block in the caller's thread and the
//!   prompt as a `user_message` in the subagent's thread (id = the call's id). Lines with a
//!   `parent_tool_use_id` go to that thread (output for an unknown thread synthesizes the
//!   discovery, with a warning). `system/task_notification` or the call's final `tool_result`
//!   (not the `async_launched` one of background agents) completes it.
//! - Main-thread user text is never emitted as a `user_message` (the runtime emits the user's
//!   messages itself); recognized wrappers become `system` blocks instead: the interrupt marker
//!   (`interrupted`), local command output (`command_output`), the compaction summary after a
//!   `compact_boundary` (`compact_summary`). `isReplay` echoes and `isSynthetic` continuation
//!   nudges are otherwise ignored.
//! - `system/compact_boundary` -> `system` block `compact_boundary`; `system/api_retry` -> one
//!   `system` block `api_retry` per run of retries, updated in place on each attempt (the user
//!   sees that the agent is waiting, not a warning).
//! - `result` -> [`AgentOutput::TurnFinished`], see [`ClaudeTranslator::translate_line`].
//! - `system/init` and `message_start` -> `metadata_update` (model, agent session id) when they
//!   change.
//! - A `control_request` `can_use_tool` from the CLI (permission-prompt modes) becomes an
//!   [`AgentOutput::Ask`]: a question for `AskUserQuestion`, a permission request for any other
//!   tool; `control_cancel_request` withdraws it ([`AgentOutput::AskWithdrawn`]). Any other
//!   control request is refused with [`AgentOutput::WriteStdin`] and reported as a warning.
//! - Ignored silently: `control_response`, `system` subtypes `status`, `thinking_tokens`,
//!   `task_progress`, `task_updated`, `background_tasks_changed`, and every other `type` or
//!   `system` subtype (dozens exist, D.1.3; none changes the conversation).
//! - Warnings: a line that is not JSON (raw kept, truncated to 4 KB), JSON without a `type`, an
//!   assistant content type this crate does not know, a delta or subagent line whose start was
//!   never seen (the start is synthesized).
//!
//! # Layout
//! This file holds the state, the public API, block completion and closing; the line types are
//! handled in `assistant.rs` (`stream_event` and `assistant`), `user.rs` (`user`, subagent
//! threads), `system.rs` (`system`), `control.rs` (`control_request`, `control_cancel_request`) and
//! `result.rs` (`result`).

use std::collections::{HashMap, HashSet};

use agent_runtime_protocol::{
    Block, BlockUpdates, SessionEvent, SubagentStatus, SystemBlock, ToolStatus,
};
use serde_json::Value;

use super::content::{is_subagent_tool, spawn_info, str_field};
use crate::output::{complete_event, update_event, AgentOutput, TranslatorContext};

mod assistant;
mod control;
mod result;
mod system;
mod user;

/// Costs are rounded to this many decimal places (sub-nanodollar float noise).
const COST_DECIMALS: i32 = 10;

/// Translator of one Claude Code process's stdout. See the module doc for the rules.
#[derive(Debug)]
pub struct ClaudeTranslator {
    ctx: TranslatorContext,
    /// `total_cost_usd` of this process's last `result`.
    last_total_cost: Option<f64>,
    /// Last model / agent session id reported in a `metadata_update`.
    model: Option<String>,
    session_id: Option<String>,
    /// The main-thread API message being streamed.
    stream: Option<StreamedMessage>,
    /// Blocks started and not yet completed, in start order.
    open: Vec<OpenBlock>,
    /// Ids of completed blocks, to drop duplicate completions.
    completed: HashSet<String>,
    /// Next content index per (conversation, message id), for blocks that are not streamed.
    next_index: HashMap<(String, String), u64>,
    /// Tool calls by tool-use id.
    tools: HashMap<String, ToolCall>,
    /// Subagents by id (the spawning tool-use id).
    subagents: HashMap<String, Subagent>,
    interrupt_requested: bool,
    /// The `system` block of the current run of API retries.
    retry_block: Option<String>,
    /// The next synthetic user line is the compaction summary.
    compact_summary_expected: bool,
    /// Lines seen, for ids of lines without a uuid.
    lines: u64,
}

#[derive(Debug)]
struct StreamedMessage {
    id: String,
    /// Block id by content index.
    blocks: HashMap<u64, String>,
}

#[derive(Debug)]
struct OpenBlock {
    conversation: String,
    block: Block,
    /// Raw tool input streamed so far.
    partial_json: String,
}

#[derive(Debug)]
struct ToolCall {
    conversation: String,
    status: ToolStatus,
}

#[derive(Debug)]
struct Subagent {
    parent: String,
    /// The prompt shown in the subagent's thread, once emitted.
    prompt: Option<String>,
    finished: bool,
}

/// Accumulates outputs of one line.
type Out = Vec<AgentOutput>;

fn event(out: &mut Out, event: SessionEvent) {
    out.push(AgentOutput::Event(event));
}

fn warning(out: &mut Out, message: impl Into<String>, raw: Option<&str>) {
    out.push(crate::output::warning(message, raw));
}

fn round_cost(cost: f64) -> f64 {
    let scale = 10f64.powi(COST_DECIMALS);
    (cost * scale).round() / scale
}

fn system_block(
    id: String,
    at: &str,
    subtype: &str,
    message: String,
    data: Option<Value>,
) -> Block {
    Block::System(SystemBlock {
        id,
        at: at.to_string(),
        subtype: subtype.to_string(),
        message,
        data,
    })
}

impl ClaudeTranslator {
    /// A translator for a new process; `ctx` carries what earlier processes accounted.
    pub fn new(ctx: TranslatorContext) -> Self {
        ClaudeTranslator {
            ctx,
            last_total_cost: None,
            model: None,
            session_id: None,
            stream: None,
            open: Vec::new(),
            completed: HashSet::new(),
            next_index: HashMap::new(),
            tools: HashMap::new(),
            subagents: HashMap::new(),
            interrupt_requested: false,
            retry_block: None,
            compact_summary_expected: false,
            lines: 0,
        }
    }

    /// Interprets one stdout line; `at` (RFC 3339) timestamps the blocks it opens.
    ///
    /// A `result` line yields [`AgentOutput::TurnFinished`]:
    /// - reason: `completed` when `is_error` is false (never judged from `subtype`: API failures
    ///   are `subtype: success, is_error: true`); `interrupted` when `terminal_reason` is
    ///   `aborted_*`, or the subtype is `error_during_execution` after
    ///   [`Self::note_interrupt_requested`]; `error` otherwise, with a `TurnError` (message from
    ///   `result` or `errors[]`; code from `api_error`, else `terminal_reason`, else the subtype;
    ///   `http_status` from `api_error_status`).
    /// - usage: the turn's own tokens. `usage` is per turn but counts the main thread only and is
    ///   all zeros after an interrupt or `/compact`, so the sum over models of
    ///   `model_usage_since_last_result` is used when the key is present (subagents included;
    ///   `{}` on the follow-up result of a background task, whose tokens the previous result
    ///   already reported), else `usage`.
    /// - cost: `model_usage_since_last_result` costs when present; else the increase of the
    ///   cumulative `total_cost_usd` over the previous result of this process, or for the first
    ///   result over [`TranslatorContext::prior_cost_usd`] (a resumed process restores the
    ///   earlier cost); a counter lower than that restarted, and its value is the cost.
    pub fn translate_line(&mut self, line: &str, at: &str) -> Vec<AgentOutput> {
        self.lines += 1;
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
                    format!("unparsable Claude output line: {err}"),
                    Some(line),
                );
                return out;
            }
        };
        match str_field(&value, "type") {
            Some("system") => self.on_system(&value, at, &mut out),
            Some("stream_event") => self.on_stream_event(&value, at, &mut out),
            Some("assistant") => self.on_assistant(&value, at, &mut out),
            Some("user") => self.on_user(&value, at, &mut out),
            Some("result") => self.on_result(&value, &mut out),
            Some("control_request") => control::on_control_request(&value, &mut out),
            Some("control_cancel_request") => control::on_control_cancel(&value, &mut out),
            Some(_) => {}
            None => warning(&mut out, "Claude output line without a type", Some(line)),
        }
        out
    }

    /// Closes everything still open (the process died, or a turn ended without a `result`):
    /// open blocks complete with what was streamed, pending and running tool calls become
    /// `error`, unfinished subagents become `error`.
    /// (`_at` is unused: closed blocks keep the time they started.)
    pub fn close_open_blocks(&mut self, _at: &str) -> Vec<AgentOutput> {
        let mut out = Vec::new();
        self.abandon_open_blocks(None, &mut out);
        self.fail_unfinished_tools(None, &mut out);
        let mut unfinished: Vec<String> = self
            .subagents
            .iter()
            .filter(|(_, s)| !s.finished)
            .map(|(id, _)| id.clone())
            .collect();
        unfinished.sort();
        for id in unfinished {
            self.finish_subagent(&id, SubagentStatus::Error, &mut out);
        }
        self.stream = None;
        self.retry_block = None;
        out
    }

    /// The runtime wrote an interrupt request: an `error_during_execution` result of the running
    /// turn is an interrupt, not an error.
    pub fn note_interrupt_requested(&mut self) {
        self.interrupt_requested = true;
    }

    fn line_id(&self, value: &Value) -> String {
        match str_field(value, "uuid") {
            Some(uuid) => uuid.to_string(),
            None => format!("line-{}", self.lines),
        }
    }

    fn open_position(&self, id: &str) -> Option<usize> {
        self.open.iter().position(|o| o.block.id() == id)
    }

    /// Completes `block` in `conversation` (keeping the start time of a streamed block), and
    /// registers tool calls and subagents.
    fn complete_block(&mut self, conversation: &str, block: Block, out: &mut Out) {
        let at = block.at().to_string();
        self.complete_block_at(conversation, block, &at, out);
    }

    fn complete_block_at(&mut self, conversation: &str, mut block: Block, at: &str, out: &mut Out) {
        let id = block.id().to_string();
        if self.completed.contains(&id) {
            return;
        }
        let mut conversation = conversation.to_string();
        if let Some(pos) = self.open_position(&id) {
            let open = self.open.remove(pos);
            set_at(&mut block, open.block.at());
            conversation = open.conversation;
        } else {
            set_at(&mut block, at);
        }
        let spawn = match &block {
            Block::ToolUse(tool) => {
                self.tools.insert(
                    id.clone(),
                    ToolCall {
                        conversation: conversation.clone(),
                        status: tool.status,
                    },
                );
                is_subagent_tool(&tool.name).then(|| spawn_info(&tool.input))
            }
            _ => None,
        };
        let block_at = block.at().to_string();
        event(out, complete_event(&conversation, block));
        self.completed.insert(id.clone());
        if let Some(info) = spawn {
            self.discover_subagent(&id, &conversation, info, &block_at, out);
        }
    }

    /// Completes open blocks (of `only` conversation, or all); their tool calls become `error`.
    fn abandon_open_blocks(&mut self, only: Option<&str>, out: &mut Out) {
        let (abandoned, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|o| only.is_none_or(|c| c == o.conversation));
        self.open = kept;
        for open in abandoned {
            self.finish_open_block(open, ToolStatus::Error, out);
        }
    }

    /// Marks pending and running tool calls (of `only` conversation, or all) as `error`.
    fn fail_unfinished_tools(&mut self, only: Option<&str>, out: &mut Out) {
        let mut ids: Vec<&String> = self
            .tools
            .iter()
            .filter(|(_, t)| matches!(t.status, ToolStatus::Pending | ToolStatus::Running))
            .filter(|(_, t)| only.is_none_or(|c| c == t.conversation))
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        let ids: Vec<String> = ids.into_iter().cloned().collect();
        for id in ids {
            if let Some(tool) = self.tools.get_mut(&id) {
                tool.status = ToolStatus::Error;
                let updates = BlockUpdates {
                    status: Some(ToolStatus::Error),
                    ..BlockUpdates::default()
                };
                event(out, update_event(&tool.conversation, &id, updates));
            }
        }
    }
}

fn set_at(block: &mut Block, at: &str) {
    let slot = match block {
        Block::UserMessage(b) => &mut b.at,
        Block::AssistantText(b) => &mut b.at,
        Block::ToolUse(b) => &mut b.at,
        Block::ToolResult(b) => &mut b.at,
        Block::Thinking(b) => &mut b.at,
        Block::System(b) => &mut b.at,
        Block::Subagent(b) => &mut b.at,
        Block::Plan(b) => &mut b.at,
    };
    *slot = at.to_string();
}

#[cfg(test)]
mod tests;
