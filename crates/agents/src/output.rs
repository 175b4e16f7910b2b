//! What a stream translator produces, and the [`Translator`] the runtime feeds.
//!
//! A translator is a plain state machine (STYLE §3): one stdout line in, zero or more
//! [`AgentOutput`]s out, no I/O, the time passed in. The runtime appends every
//! [`AgentOutput::Event`] to the session log as is, turns [`AgentOutput::TurnFinished`] into its
//! own `turn_completed` event, and writes [`AgentOutput::WriteStdin`] lines to the agent.

use std::borrow::Cow;
use std::collections::BTreeMap;

use agent_runtime_protocol::{
    Block, BlockUpdates, Question, SessionEvent, TurnEndReason, TurnError, Usage,
};
use serde_json::Value;

use crate::acp::{AcpSessionSetup, AcpTranslator};
use crate::claude::{self, ClaudeTranslator};
use crate::gemini::GeminiTranslator;

/// One thing a translator produced from agent output.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentOutput {
    /// A session event: block_start / text_delta / block_update / block_complete,
    /// subagent_discovered / subagent_completed, metadata_update or warning. Never
    /// turn_started / turn_completed (the runtime owns turns) and never the main thread's
    /// `user_message` blocks (the runtime emits those when it sends the message).
    Event(SessionEvent),
    /// The agent says the current turn is over.
    TurnFinished(TurnOutcome),
    /// A line (with its trailing `\n`) the runtime must write to the agent's stdin: an answer to
    /// a request the agent made on its own (Claude: a `control_request` the runtime does not
    /// support is refused this way, so the agent never hangs waiting).
    WriteStdin(String),
    /// The agent asks for permission or asks the user questions, and waits for the answer
    /// ([`crate::AgentKind::encode_ask_reply`]).
    Ask(AgentAsk),
    /// The agent withdrew a request it made (its turn was interrupted); it must not be answered.
    AskWithdrawn { agent_request_id: String },
    /// The agent opened its own conversation under this id (ACP's `session/new`): the runtime
    /// stores it, and a fresh sandbox resumes it.
    AgentSessionId(String),
}

/// A request of the agent that waits for an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentAsk {
    /// The agent's own id of the request, which its answer names.
    pub agent_request_id: String,
    /// The tool call the request is about, when the agent names it.
    pub tool_use_id: Option<String>,
    pub kind: AskKind,
}

/// What an [`AgentAsk`] asks.
#[derive(Debug, Clone, PartialEq)]
pub enum AskKind {
    /// May the agent run `tool` with `input`?
    Permission {
        tool: String,
        input: Value,
        /// The agent's short description of the call.
        description: Option<String>,
        /// The agent's own suggestions of how to allow it from now on, verbatim.
        suggestions: Vec<Value>,
    },
    /// The agent asks the user `questions`; `input` is the tool input they came in.
    Question {
        questions: Vec<Question>,
        input: Value,
    },
}

impl AskKind {
    /// The tool input the request came with.
    pub fn input(&self) -> &Value {
        match self {
            AskKind::Permission { input, .. } | AskKind::Question { input, .. } => input,
        }
    }
}

/// The answer to an [`AgentAsk`].
#[derive(Debug, Clone, PartialEq)]
pub enum AskReply {
    /// Run the call with `input`, applying the agent's own `suggestions` chosen by the user.
    Allow {
        input: Value,
        suggestions: Vec<Value>,
    },
    /// Do not run it; the agent sees `message`.
    Deny { message: String },
    /// The answers to a question request (by question text), for the tool `input`.
    Answers {
        input: Value,
        answers: BTreeMap<String, String>,
    },
}

/// How a turn ended, as the agent reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    pub reason: TurnEndReason,
    /// Tokens of this turn only (never cumulative), subagents included.
    pub usage: Usage,
    /// Cost of this turn only, in US dollars, subagents included.
    pub cost_usd: f64,
    /// Set exactly when `reason` is `error`.
    pub error: Option<TurnError>,
    /// The agent started this turn itself (Claude: a background subagent finished and the main
    /// agent reacted), so no user message and no runtime turn precede it.
    pub agent_initiated: bool,
}

/// What a translator must know about the session before the first line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TranslatorContext {
    /// Cost already accounted to this session by earlier processes (the session's `costUsd`).
    /// Used only when the agent reports cumulative cost without a per-turn figure, to compute
    /// the first turn's delta after a resume.
    pub prior_cost_usd: f64,
    /// Secret values (API keys, tokens) that must never reach an event; every occurrence in agent
    /// output is replaced by `[REDACTED]` before it is interpreted. Values shorter than 8
    /// characters are ignored.
    pub redact: Vec<String>,
    /// How an ACP agent opens its session (other agents take theirs from the launch spec).
    pub acp: AcpSessionSetup,
}

/// Raw agent output kept in a warning, at most (bytes).
const WARNING_RAW_LIMIT: usize = 4096;

/// Secrets shorter than this are not redacted (they would match ordinary text).
const MIN_REDACTED_LEN: usize = 8;

impl TranslatorContext {
    /// `line` with every secret of [`TranslatorContext::redact`] replaced by `[REDACTED]`.
    pub(crate) fn redact<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let mut line = Cow::Borrowed(line);
        for secret in &self.redact {
            if secret.len() >= MIN_REDACTED_LEN && line.contains(secret.as_str()) {
                line = Cow::Owned(line.replace(secret.as_str(), "[REDACTED]"));
            }
        }
        line
    }
}

/// Agent output kept in a warning: at most [`WARNING_RAW_LIMIT`] bytes, cut at a character
/// boundary, with the whole length noted.
pub(crate) fn truncate_raw(raw: &str) -> String {
    if raw.len() <= WARNING_RAW_LIMIT {
        return raw.to_string();
    }
    let mut end = WARNING_RAW_LIMIT;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &raw[..end], raw.len())
}

/// The `block_complete` of `block` in thread `conversation`.
pub(crate) fn complete_event(conversation: &str, block: Block) -> SessionEvent {
    SessionEvent::BlockComplete {
        conversation_id: conversation.to_string(),
        block_id: block.id().to_string(),
        block,
    }
}

/// A `block_update` of block `block_id` in thread `conversation`.
pub(crate) fn update_event(
    conversation: &str,
    block_id: &str,
    updates: BlockUpdates,
) -> SessionEvent {
    SessionEvent::BlockUpdate {
        conversation_id: conversation.to_string(),
        block_id: block_id.to_string(),
        updates,
    }
}

/// A `warning` event about agent output the translator could not interpret, keeping it.
pub(crate) fn warning(message: impl Into<String>, raw: Option<&str>) -> AgentOutput {
    AgentOutput::Event(SessionEvent::Warning {
        message: message.into(),
        raw: raw.map(truncate_raw),
    })
}

/// A stream translator for one agent process, dispatched by `match`.
#[derive(Debug)]
pub enum Translator {
    Claude(ClaudeTranslator),
    Gemini(GeminiTranslator),
    Acp(Box<AcpTranslator>),
}

impl Translator {
    /// The lines to write to a [`crate::ProcessMode::Persistent`] agent right after its start
    /// (ACP: `initialize`; the session opens from its answer).
    pub fn start_lines(&mut self) -> Vec<String> {
        match self {
            Translator::Acp(t) => t.start_lines(),
            Translator::Claude(_) | Translator::Gemini(_) => Vec::new(),
        }
    }

    /// A stdin line that makes a [`crate::ProcessMode::Persistent`] agent answer once it is up
    /// and reading its input, without touching the conversation (Claude Code: an `initialize`
    /// control request). `None` when the answer to [`Self::start_lines`] shows it already (ACP:
    /// `initialize`) or the agent has no such request (Gemini CLI). See [`Self::shows_ready`].
    pub fn readiness_probe(&self) -> Option<String> {
        match self {
            Translator::Claude(_) => Some(claude::encode_readiness_probe()),
            Translator::Gemini(_) | Translator::Acp(_) => None,
        }
    }

    /// Whether the stdout `line` shows the agent up and reading its input: the answer to
    /// [`Self::readiness_probe`] (Claude Code) or to `initialize` (ACP). It does not consume the
    /// line, which is still to be translated (where such an answer changes nothing, or, for ACP,
    /// opens the session). Never for Gemini CLI, whose process starts per turn.
    pub fn shows_ready(&self, line: &str) -> bool {
        match self {
            Translator::Claude(_) => claude::answers_readiness_probe(line),
            Translator::Gemini(_) => false,
            Translator::Acp(t) => t.answers_initialize(line),
        }
    }

    /// The warm-up of a pooled process ([`claude::WarmUp`]): a turn it works through before
    /// any session claims it, then takes back, so the claiming session's first message finds it
    /// warm. Its user message carries `message_uuid`. `None` for agents without one.
    pub fn warm_up(&self, message_uuid: String) -> Option<claude::WarmUp> {
        match self {
            Translator::Claude(_) => Some(claude::WarmUp::new(message_uuid)),
            Translator::Gemini(_) | Translator::Acp(_) => None,
        }
    }

    /// What sending `text` as the next user message to a [`crate::ProcessMode::Persistent`]
    /// agent takes: [`AgentOutput::WriteStdin`] lines (none while an ACP session is still
    /// opening: the message goes out when it is open), or the end of the turn when the agent
    /// cannot take messages. Per-turn agents take none ([`crate::AgentKind::per_turn_stdin`]).
    pub fn user_message(&mut self, text: &str) -> Vec<AgentOutput> {
        match self {
            Translator::Claude(_) => {
                vec![AgentOutput::WriteStdin(claude::encode_user_message(text))]
            }
            Translator::Gemini(_) => Vec::new(),
            Translator::Acp(t) => t.user_message(text),
        }
    }

    /// The stdin lines that interrupt the running turn; `None` for agents that are interrupted
    /// by killing their process. `request_id` must be unique per process.
    pub fn interrupt_lines(&mut self, request_id: &str) -> Option<Vec<String>> {
        match self {
            Translator::Claude(_) => Some(vec![claude::encode_interrupt(request_id)]),
            Translator::Gemini(_) => None,
            Translator::Acp(t) => Some(t.encode_interrupt()),
        }
    }

    /// The stdin line that answers the agent's request `agent_request_id`
    /// ([`AgentOutput::Ask`]); `None` for agents that cannot ask or a request not pending.
    pub fn ask_reply(&mut self, agent_request_id: &str, reply: &AskReply) -> Option<String> {
        match self {
            Translator::Claude(_) => Some(claude::encode_ask_reply(agent_request_id, reply)),
            Translator::Gemini(_) => None,
            Translator::Acp(t) => t.encode_ask_reply(agent_request_id, reply),
        }
    }

    /// Interprets one stdout line (with or without its trailing newline); `at` is the RFC 3339
    /// time the runtime received it, used as the timestamp of the blocks it opens.
    pub fn translate_line(&mut self, line: &str, at: &str) -> Vec<AgentOutput> {
        match self {
            Translator::Claude(t) => t.translate_line(line, at),
            Translator::Gemini(t) => t.translate_line(line, at),
            Translator::Acp(t) => t.translate_line(line, at),
        }
    }

    /// Interprets one stderr line. Stderr is never parsed as data, but some agents report
    /// progress only there (Gemini: its API retries); what matters to the user becomes events.
    /// Most lines produce nothing.
    pub fn translate_stderr_line(&mut self, line: &str, at: &str) -> Vec<AgentOutput> {
        match self {
            Translator::Claude(_) | Translator::Acp(_) => Vec::new(),
            Translator::Gemini(t) => t.translate_stderr_line(line, at),
        }
    }

    /// The error of a turn whose process exited (or was killed) before reporting how the turn
    /// ended; `exit_code` as the sandbox reports it. The runtime adds the stderr tail.
    pub fn exit_error(&self, exit_code: Option<i32>) -> TurnError {
        match self {
            Translator::Claude(_) => generic_exit_error(exit_code),
            Translator::Gemini(t) => t.exit_error(exit_code),
            Translator::Acp(t) => t.exit_error(exit_code),
        }
    }

    /// Closes everything still open because the process died or a turn was abandoned without
    /// the agent reporting its end: every open block is completed with what it has, pending and
    /// running tool calls become `error`, running subagents become `error`.
    pub fn close_open_blocks(&mut self, at: &str) -> Vec<AgentOutput> {
        match self {
            Translator::Claude(t) => t.close_open_blocks(at),
            Translator::Gemini(t) => t.close_open_blocks(at),
            Translator::Acp(t) => t.close_open_blocks(at),
        }
    }

    /// Tells the translator that the runtime asked the agent to interrupt the running turn, so an
    /// ambiguous error ending of that turn is reported as `interrupted`.
    pub fn note_interrupt_requested(&mut self) {
        match self {
            Translator::Claude(t) => t.note_interrupt_requested(),
            Translator::Gemini(t) => t.note_interrupt_requested(),
            Translator::Acp(t) => t.note_interrupt_requested(),
        }
    }
}

/// The error of a turn whose agent exited during it, when the agent has nothing to add.
pub(crate) fn generic_exit_error(exit_code: Option<i32>) -> TurnError {
    TurnError {
        message: match exit_code {
            Some(code) => format!("the agent exited with code {code} during the turn"),
            None => "the agent was killed during the turn".into(),
        },
        code: Some("agent_exited".into()),
        http_status: None,
        exit_code,
        stderr_tail: None,
    }
}
