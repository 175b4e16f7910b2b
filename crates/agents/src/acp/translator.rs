//! [`AcpTranslator`]: the client side of one ACP agent process, as a plain state machine.
//!
//! It owns the conversation with the agent: it writes `initialize` when the process starts, then
//! `session/load` (resuming the stored conversation) or `session/new`, and holds user messages
//! back until the session is open. Each message becomes a `session/prompt` request; the response
//! to it ends the turn. `session/update` notifications of the running turn become block events
//! ([`super::blocks`]); those that replay history during `session/load` are dropped (the session
//! log has them already). `session/request_permission` becomes an [`AgentOutput::Ask`];
//! `fs/*` and `terminal/*` requests are declined (the client advertises neither capability).

use std::collections::{BTreeMap, HashMap};

use agent_runtime_protocol::{TurnEndReason, TurnError, Usage};
use serde_json::{json, Value};

use super::blocks::{Blocks, Out};
use super::rpc::{self, Incoming, RpcError};
use crate::output::{
    generic_exit_error, AgentAsk, AgentOutput, AskKind, AskReply, TranslatorContext, TurnOutcome,
};

/// How the translator opens the agent's session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AcpSessionSetup {
    /// The working directory of the session (absolute, inside the sandbox).
    pub cwd: String,
    /// The agent's own session id to `session/load`; `None` starts a new session.
    pub load: Option<String>,
    /// MCP servers in ACP's form, passed to `session/new` and `session/load`.
    pub mcp_servers: Vec<Value>,
}

/// What one of our requests was.
#[derive(Debug, Clone, PartialEq)]
enum Sent {
    Initialize,
    NewSession,
    LoadSession,
    Prompt,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// `initialize` sent, no answer yet.
    Initializing,
    /// `session/new` or `session/load` sent.
    Opening,
    /// The session is open: prompts go out.
    Ready,
    /// The agent cannot open a session; every message fails.
    Failed,
}

/// A permission request of the agent that waits for our answer.
#[derive(Debug, Clone)]
struct PendingAsk {
    id: Value,
    options: Vec<Value>,
}

/// The translator of one ACP agent process.
#[derive(Debug)]
pub struct AcpTranslator {
    ctx: TranslatorContext,
    setup: AcpSessionSetup,
    phase: Phase,
    next_request: u64,
    sent: HashMap<String, Sent>,
    session_id: Option<String>,
    /// Messages that arrived before the session was open.
    queued: Vec<String>,
    /// The prompt running now (its request id).
    prompt: Option<String>,
    blocks: Blocks,
    asks: BTreeMap<String, PendingAsk>,
    /// The agent's cumulative cost of the session (ACP `usage_update.cost`), in US dollars.
    cost_total: Option<f64>,
    /// `cost_total` when the running prompt started: the last one reported before the turn's
    /// first content (agents report the session's cost when a prompt begins, and after a
    /// `session/load`, possibly after the prompt went out).
    cost_at_prompt: f64,
    /// The running prompt has produced content.
    prompt_has_content: bool,
    interrupt_requested: bool,
    /// Why the session could not be opened, for the turn that waits on it.
    failure: Option<String>,
}

fn warning(out: &mut Out, message: impl Into<String>, raw: &str) {
    out.push(crate::output::warning(message, Some(raw)));
}

fn id_key(id: &Value) -> String {
    id.to_string()
}

impl AcpTranslator {
    /// A translator for a new process that opens the session as `ctx.acp` says.
    pub fn new(ctx: TranslatorContext) -> Self {
        let setup = ctx.acp.clone();
        AcpTranslator {
            ctx,
            setup,
            phase: Phase::Initializing,
            next_request: 0,
            sent: HashMap::new(),
            session_id: None,
            queued: Vec::new(),
            prompt: None,
            blocks: Blocks::default(),
            asks: BTreeMap::new(),
            cost_total: None,
            cost_at_prompt: 0.0,
            prompt_has_content: false,
            interrupt_requested: false,
            failure: None,
        }
    }

    fn send(&mut self, kind: Sent, method: &str, params: Value) -> String {
        self.next_request += 1;
        let id = self.next_request;
        self.sent.insert(id_key(&json!(id)), kind);
        rpc::request(id, method, params)
    }

    /// The lines to write when the process has started: `initialize`.
    pub fn start_lines(&mut self) -> Vec<String> {
        vec![self.send(Sent::Initialize, "initialize", rpc::initialize_params())]
    }

    /// Whether `line` is the agent's answer (a result or an error) to the `initialize` of
    /// [`Self::start_lines`]: the agent is up and reading. Reads, never changes, the state.
    pub fn answers_initialize(&self, line: &str) -> bool {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            return false;
        };
        value.get("method").is_none()
            && value
                .get("id")
                .is_some_and(|id| matches!(self.sent.get(&id_key(id)), Some(Sent::Initialize)))
    }

    /// What sending `text` as the next user message takes: a `session/prompt` request once the
    /// session is open; before that nothing (it goes out when the session opens); when the
    /// session cannot be opened, the end of the turn with the reason.
    pub fn user_message(&mut self, text: &str) -> Vec<AgentOutput> {
        match self.phase {
            Phase::Ready => vec![AgentOutput::WriteStdin(self.prompt_line(text))],
            Phase::Initializing | Phase::Opening => {
                self.queued.push(text.to_string());
                Vec::new()
            }
            Phase::Failed => {
                let why = self.failure.clone().unwrap_or_default();
                let mut out = Vec::new();
                self.finish(
                    TurnEndReason::Error,
                    Some(agent_error(&why, "agent_start_failed")),
                    Usage::default(),
                    "",
                    &mut out,
                );
                out
            }
        }
    }

    fn prompt_line(&mut self, text: &str) -> String {
        self.interrupt_requested = false;
        self.prompt_has_content = false;
        self.cost_at_prompt = self.cost_total.unwrap_or(0.0);
        let params = json!({
            "sessionId": self.session_id,
            "prompt": [{"type": "text", "text": text}],
        });
        let line = self.send(Sent::Prompt, "session/prompt", params);
        self.prompt = Some(id_key(&json!(self.next_request)));
        line
    }

    /// The lines that interrupt the running turn: `session/cancel`, and a `cancelled` outcome
    /// for every permission request still waiting (ACP requires both).
    pub fn encode_interrupt(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(session_id) = &self.session_id {
            lines.push(rpc::notification(
                "session/cancel",
                json!({"sessionId": session_id}),
            ));
        }
        for (_, ask) in std::mem::take(&mut self.asks) {
            lines.push(rpc::response(
                &ask.id,
                json!({"outcome": {"outcome": "cancelled"}}),
            ));
        }
        lines
    }

    /// The answer to the permission request `agent_request_id`; `None` when it is not pending.
    pub fn encode_ask_reply(&mut self, agent_request_id: &str, reply: &AskReply) -> Option<String> {
        let ask = self.asks.remove(agent_request_id)?;
        let option_of = |kinds: &[&str]| {
            kinds.iter().find_map(|kind| {
                ask.options
                    .iter()
                    .find(|o| o.get("kind").and_then(Value::as_str) == Some(kind))
                    .and_then(|o| o.get("optionId").cloned())
            })
        };
        let chosen = match reply {
            AskReply::Allow { suggestions, .. } => suggestions
                .iter()
                .find_map(|s| s.get("optionId").cloned())
                .or_else(|| option_of(&["allow_once", "allow_always"])),
            AskReply::Deny { .. } => option_of(&["reject_once", "reject_always"]),
            AskReply::Answers { .. } => None,
        };
        let outcome = match chosen {
            Some(option_id) => json!({"outcome": {"outcome": "selected", "optionId": option_id}}),
            None => json!({"outcome": {"outcome": "cancelled"}}),
        };
        Some(rpc::response(&ask.id, outcome))
    }

    /// Tells the translator the runtime interrupted the running turn.
    pub fn note_interrupt_requested(&mut self) {
        self.interrupt_requested = true;
    }

    /// Interprets one stdout line.
    pub fn translate_line(&mut self, line: &str, at: &str) -> Vec<AgentOutput> {
        let line = self.ctx.redact(line);
        let line = line.trim();
        let mut out = Vec::new();
        if line.is_empty() {
            return out;
        }
        self.blocks.note_process_start(at);
        let value: Value = match serde_json::from_str(line) {
            Ok(value) => value,
            Err(e) => {
                warning(&mut out, format!("unparsable agent output: {e}"), line);
                return out;
            }
        };
        match rpc::classify(value) {
            Some(Incoming::Response { id, result }) => self.on_response(&id, result, at, &mut out),
            Some(Incoming::Notification { method, params }) => {
                self.on_notification(&method, &params, at, line, &mut out)
            }
            Some(Incoming::Request { id, method, params }) => {
                self.on_request(id, &method, &params, &mut out)
            }
            None => warning(&mut out, "agent output that is no JSON-RPC message", line),
        }
        out
    }

    fn on_response(
        &mut self,
        id: &Value,
        result: Result<Value, RpcError>,
        at: &str,
        out: &mut Out,
    ) {
        let key = id_key(id);
        let Some(sent) = self.sent.remove(&key) else {
            warning(out, "a response to no request of ours", &key);
            return;
        };
        match (sent, result) {
            (Sent::Initialize, Ok(result)) => self.on_initialized(&result, out),
            (Sent::NewSession, Ok(result)) => {
                match result.get("sessionId").and_then(Value::as_str) {
                    Some(id) => self.on_session_open(id.to_string(), out),
                    None => self.fail_session("session/new returned no sessionId", at, out),
                }
            }
            (Sent::LoadSession, Ok(_)) => {
                let id = self.setup.load.clone().unwrap_or_default();
                self.on_session_open(id, out)
            }
            (Sent::LoadSession, Err(e)) => {
                warning(
                    out,
                    format!(
                        "the agent could not load its conversation ({}); starting a new one",
                        e.message
                    ),
                    &e.message,
                );
                let params = self.session_params();
                let line = self.send(Sent::NewSession, "session/new", params);
                out.push(AgentOutput::WriteStdin(line));
            }
            (Sent::Initialize | Sent::NewSession, Err(e)) => self.fail_session(
                &format!("the agent refused to start: {}", e.message),
                at,
                out,
            ),
            (Sent::Prompt, result) => self.on_prompt_done(&key, result, at, out),
        }
    }

    fn on_initialized(&mut self, result: &Value, out: &mut Out) {
        let can_load = result
            .pointer("/agentCapabilities/loadSession")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.phase = Phase::Opening;
        let params = self.session_params();
        let line = match (&self.setup.load, can_load) {
            (Some(id), true) => {
                let mut params = params;
                params["sessionId"] = json!(id);
                self.send(Sent::LoadSession, "session/load", params)
            }
            (Some(_), false) => {
                warning(
                    out,
                    "the agent cannot load sessions; its conversation starts afresh",
                    "",
                );
                self.send(Sent::NewSession, "session/new", params)
            }
            (None, _) => self.send(Sent::NewSession, "session/new", params),
        };
        out.push(AgentOutput::WriteStdin(line));
    }

    fn session_params(&self) -> Value {
        json!({"cwd": self.setup.cwd, "mcpServers": self.setup.mcp_servers})
    }

    fn on_session_open(&mut self, id: String, out: &mut Out) {
        self.phase = Phase::Ready;
        self.session_id = Some(id.clone());
        out.push(AgentOutput::AgentSessionId(id));
        for text in std::mem::take(&mut self.queued) {
            let line = self.prompt_line(&text);
            out.push(AgentOutput::WriteStdin(line));
        }
    }

    /// The session cannot be opened: a waiting message fails its turn, later ones too.
    fn fail_session(&mut self, why: &str, at: &str, out: &mut Out) {
        self.phase = Phase::Failed;
        self.failure = Some(why.to_string());
        if !self.queued.is_empty() {
            self.queued.clear();
            self.finish(
                TurnEndReason::Error,
                Some(agent_error(why, "agent_start_failed")),
                Usage::default(),
                at,
                out,
            );
        }
    }

    fn on_prompt_done(
        &mut self,
        key: &str,
        result: Result<Value, RpcError>,
        at: &str,
        out: &mut Out,
    ) {
        if self.prompt.as_deref() != Some(key) {
            warning(out, "the answer to an earlier prompt", key);
            return;
        }
        self.prompt = None;
        match result {
            Ok(result) => {
                let usage = match result.get("usage") {
                    Some(usage) => usage_of(usage),
                    // Gemini CLI's ACP mode reports tokens only in its own `_meta`.
                    None => gemini_usage_of(result.pointer("/_meta/quota/token_count")),
                };
                let stop = result
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .unwrap_or("end_turn");
                let (reason, error) = match stop {
                    "end_turn" => (TurnEndReason::Completed, None),
                    "cancelled" => (TurnEndReason::Interrupted, None),
                    "max_tokens" => (
                        TurnEndReason::Error,
                        Some(agent_error(
                            "the model reached its output token limit",
                            "max_tokens",
                        )),
                    ),
                    "max_turn_requests" => (
                        TurnEndReason::Error,
                        Some(agent_error(
                            "the agent reached its limit of model requests in one turn",
                            "max_turns",
                        )),
                    ),
                    "refusal" => (
                        TurnEndReason::Error,
                        Some(agent_error("the agent refused to go on", "refusal")),
                    ),
                    other => (
                        TurnEndReason::Error,
                        Some(agent_error(
                            &format!("the turn stopped: {other}"),
                            "agent_error",
                        )),
                    ),
                };
                self.finish(reason, error, usage, at, out);
            }
            Err(e) if self.interrupt_requested => {
                let _ = e;
                self.finish(TurnEndReason::Interrupted, None, Usage::default(), at, out);
            }
            Err(e) => {
                let error = prompt_error(&e);
                self.finish(TurnEndReason::Error, Some(error), Usage::default(), at, out);
            }
        }
    }

    fn finish(
        &mut self,
        reason: TurnEndReason,
        error: Option<TurnError>,
        usage: Usage,
        at: &str,
        out: &mut Out,
    ) {
        let why = match reason {
            TurnEndReason::Interrupted => "interrupted",
            _ => "the turn ended before the tool finished",
        };
        self.blocks.close_turn(why, at, out);
        for (key, _) in std::mem::take(&mut self.asks) {
            out.push(AgentOutput::AskWithdrawn {
                agent_request_id: key,
            });
        }
        let cost_usd = (self.cost_total.unwrap_or(0.0) - self.cost_at_prompt).max(0.0);
        self.cost_at_prompt = self.cost_total.unwrap_or(0.0);
        out.push(AgentOutput::TurnFinished(TurnOutcome {
            reason,
            usage,
            cost_usd,
            error,
            agent_initiated: false,
        }));
    }

    fn on_notification(
        &mut self,
        method: &str,
        params: &Value,
        at: &str,
        raw: &str,
        out: &mut Out,
    ) {
        if method != "session/update" {
            return warning(
                out,
                format!("an ACP notification this client does not know: {method}"),
                raw,
            );
        }
        let update = params.get("update").unwrap_or(&Value::Null);
        let kind = update
            .get("sessionUpdate")
            .and_then(Value::as_str)
            .unwrap_or("");
        if kind == "usage_update" {
            if let Some(amount) = update.pointer("/cost/amount").and_then(Value::as_f64) {
                let usd = update
                    .pointer("/cost/currency")
                    .and_then(Value::as_str)
                    .is_none_or(|c| c.eq_ignore_ascii_case("USD"));
                if usd {
                    self.cost_total = Some(amount);
                    if self.prompt.is_none() || !self.prompt_has_content {
                        self.cost_at_prompt = amount;
                    }
                }
            }
            return;
        }
        // Updates outside a prompt replay history (`session/load`) or describe the session.
        if self.prompt.is_none() {
            return;
        }
        if matches!(
            kind,
            "agent_message_chunk"
                | "agent_thought_chunk"
                | "tool_call"
                | "tool_call_update"
                | "plan"
        ) {
            self.prompt_has_content = true;
        }
        match kind {
            "agent_message_chunk" => self.blocks.on_chunk(update, false, at, out),
            "agent_thought_chunk" => self.blocks.on_chunk(update, true, at, out),
            "tool_call" | "tool_call_update" => self.blocks.on_tool_call(update, at, out),
            "plan" => self.blocks.on_plan(update, at, out),
            // The runtime emits the user's messages itself; the rest describes the session.
            "user_message_chunk"
            | "available_commands_update"
            | "current_mode_update"
            | "config_option_update"
            | "session_info_update" => {}
            other => warning(
                out,
                format!("an ACP session update this client does not know: {other}"),
                raw,
            ),
        }
    }

    fn on_request(&mut self, id: Value, method: &str, params: &Value, out: &mut Out) {
        if method != "session/request_permission" {
            let message = format!("{method} is not supported by this client");
            out.push(AgentOutput::WriteStdin(rpc::error_response(
                &id,
                rpc::METHOD_NOT_FOUND,
                &message,
            )));
            return;
        }
        let call = params.get("toolCall").unwrap_or(&Value::Null);
        let options: Vec<Value> = params
            .get("options")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let title = call
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string);
        let tool = permission_tool(call);
        let input = call.get("rawInput").cloned().unwrap_or_else(|| json!({}));
        let suggestions = options
            .iter()
            .filter(|o| o.get("kind").and_then(Value::as_str) == Some("allow_always"))
            .cloned()
            .collect();
        let key = id_key(&id);
        self.asks.insert(key.clone(), PendingAsk { id, options });
        out.push(AgentOutput::Ask(AgentAsk {
            agent_request_id: key,
            tool_use_id: call
                .get("toolCallId")
                .and_then(Value::as_str)
                .map(str::to_string),
            kind: AskKind::Permission {
                tool,
                input,
                description: title,
                suggestions,
            },
        }));
    }

    /// Closes what the process left open when it died or its turn was abandoned.
    pub fn close_open_blocks(&mut self, at: &str) -> Vec<AgentOutput> {
        let mut out = Vec::new();
        self.blocks
            .close_turn("the agent stopped before the tool finished", at, &mut out);
        out
    }

    /// The error of a turn whose process exited before answering its prompt.
    pub fn exit_error(&self, exit_code: Option<i32>) -> TurnError {
        let mut error = generic_exit_error(exit_code);
        match self.phase {
            Phase::Initializing | Phase::Opening => {
                error.message = format!("{} before its ACP session was open", error.message);
            }
            Phase::Failed => {
                if let Some(why) = &self.failure {
                    error.message = format!("{} ({why})", error.message);
                }
            }
            Phase::Ready => {}
        }
        error
    }
}

/// The tool a permission request is about, in the vocabulary of permission rules: ACP's tool
/// kinds map onto the rule names every agent shares (`execute` is `Bash`, `edit` is `Edit`, ...);
/// a call of another kind is named by its title.
fn permission_tool(call: &Value) -> String {
    let kind = call.get("kind").and_then(Value::as_str).unwrap_or("");
    if let Some(name) = super::kind_tool(kind) {
        return name.to_string();
    }
    call.get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or("tool")
        .to_string()
}

/// A failed prompt's error: the JSON-RPC message, with the detail agents put in `data.message`
/// (Codex: "Internal error" + "unexpected status 400 Bad Request: ..."), and the HTTP status when
/// that detail names one.
fn prompt_error(e: &RpcError) -> TurnError {
    let detail = e
        .data
        .as_ref()
        .and_then(|d| d.get("message"))
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty());
    let message = match detail {
        Some(detail) if !e.message.contains(detail) => format!("{}: {detail}", e.message),
        _ => e.message.clone(),
    };
    let mut error = agent_error(&message, "agent_error");
    error.http_status = detail.and_then(http_status_in);
    error
}

/// The status in "... status 400 ..." / "... status: 400 ...".
fn http_status_in(text: &str) -> Option<u16> {
    let at = text.find("status")? + "status".len();
    let digits: String = text[at..]
        .trim_start_matches([':', ' '])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .ok()
        .filter(|status| (100..600).contains(status))
}

fn agent_error(message: &str, code: &str) -> TurnError {
    TurnError {
        message: message.to_string(),
        code: Some(code.to_string()),
        http_status: None,
        exit_code: None,
        stderr_tail: None,
    }
}

/// Gemini CLI's `_meta.quota.token_count` (`input_tokens`, `output_tokens`).
fn gemini_usage_of(count: Option<&Value>) -> Usage {
    let n = |key: &str| {
        count
            .and_then(|c| c.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Usage {
        input_tokens: n("input_tokens"),
        output_tokens: n("output_tokens"),
        ..Usage::default()
    }
}

/// ACP's turn usage (`inputTokens`, `outputTokens`, `cachedReadTokens`, `cachedWriteTokens`).
fn usage_of(usage: &Value) -> Usage {
    let n = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("inputTokens"),
        output_tokens: n("outputTokens"),
        cache_read_input_tokens: n("cachedReadTokens"),
        cache_creation_input_tokens: n("cachedWriteTokens"),
    }
}

#[cfg(test)]
#[path = "translator_tests.rs"]
mod tests;
