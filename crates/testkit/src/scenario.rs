//! Scenario data model: what the scripted model answers, and to which requests.
//!
//! A [`Scenario`] is plain data (serde, camelCase JSON) so it can be written by hand in a
//! test, loaded from a JSON file, or built in Rust with the small builder methods below.
//!
//! # Matching semantics
//!
//! For every model request (`POST /v1/messages`, or Gemini's `generateContent` /
//! `streamGenerateContent`) the server walks [`Scenario::rules`] in order and picks the
//! **first** rule that
//!
//! 1. admits the request's kind ([`Rule::scope`]: main-agent requests by default; the
//!    CLI's side requests such as quota probes are [`RuleScope::Side`]),
//! 2. is not exhausted (`once`, or `times: N` after N hits), and
//! 3. whose [`Matcher`] (`when`) matches: every field that is set must hold (AND); unset
//!    fields do not constrain.
//!
//! The winning rule's hit counter is incremented and its [`Response`] is rendered. When no
//! rule wins, main requests get [`Scenario::fallback`] (or a built-in "no rule matched"
//! text), and side requests get a built-in short answer, so side requests never consume
//! a scenario's steps unless a rule opts in with `scope: "side"` or `"any"`.
//!
//! Swapping the scenario at runtime resets all hit counters.
//!
//! # One scenario, every API
//!
//! Matchers look at a provider-neutral view of the request ([`crate::ModelRequest`]: last user
//! text, tool results with their tool names, ...), and a response is rendered in the wire form of
//! the API it answers (Anthropic SSE, Gemini SSE or Responses API SSE). Tool names may be written
//! in any agent's vocabulary (`Write`, `write_file` or `apply_patch`): they are translated for the
//! API being answered (for Codex the input too, see [`crate::codex_tools`]), and
//! `toolResult.toolName` matches every name of a tool (see [`crate::api`]). `when.api`
//! (`anthropic`, `gemini`, `openai`) limits a rule to one API when the scripts must differ.
//!
//! # JSON format
//!
//! Field names are camelCase; content blocks use the API's own `type` names. Unknown
//! fields are rejected, so a typo fails loudly instead of silently matching everything.
//!
//! ```json
//! {
//!   "name": "write then confirm",
//!   "rules": [
//!     {
//!       "when": {"lastUserTextContains": "create", "not": {"toolResult": {}}},
//!       "respond": {
//!         "content": [
//!           {"type": "thinking", "thinking": "Plan: one Write call."},
//!           {"type": "text", "text": "Creating {{mentionedFile}}."},
//!           {"type": "tool_use", "name": "Write",
//!            "input": {"file_path": "{{mentionedPath}}", "content": "hi\n"}}
//!         ],
//!         "chunks": 4,
//!         "chunkDelayMs": 20
//!       },
//!       "once": true
//!     },
//!     {
//!       "when": {"toolResult": {"toolName": "Write", "isError": false}},
//!       "respond": {
//!         "error": {"status": 529, "message": "Overloaded", "times": 1},
//!         "content": [{"type": "text", "text": "Done."}],
//!         "usage": {"inputTokens": 1200, "outputTokens": 8}
//!       }
//!     },
//!     {"scope": "side", "respond": {"content": [{"type": "text", "text": "A title"}]}}
//!   ],
//!   "fallback": {"content": [{"type": "text", "text": "No rule for that."}]}
//! }
//! ```
//!
//! Other `respond` options: `stopReason`, `midstreamCut: {afterEvents, times}`, a fixed
//! tool-use `id`, a thinking `signature`. Other `when` options: `modelContains`,
//! `systemContains`, `hasTools`, `stream`, `anyOf: [..]`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::Api;
use crate::error::TestkitError;

/// A script for the model server: ordered rules plus a fallback.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    /// Human-readable name, used in logs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Rules tried in order; the first applicable one answers.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Answer for main requests that no rule matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Response>,
}

/// One `when` → `respond` pair.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Optional label, recorded with each request this rule answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Which kinds of requests this rule may answer.
    #[serde(default, skip_serializing_if = "is_default")]
    pub scope: RuleScope,
    /// Conditions on the request; the empty matcher matches everything.
    #[serde(default)]
    pub when: Matcher,
    /// What to answer.
    pub respond: Response,
    /// Shorthand for `times: 1`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub once: bool,
    /// The rule answers at most this many requests, then is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// Which requests a rule may answer; see [`crate::RequestKind`] for the classification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleScope {
    /// Requests of the agent loop (main thread and subagents). The default.
    #[default]
    Main,
    /// The CLI's side requests only (probes with `max_tokens: 1`, tool-less utility calls).
    Side,
    /// Both.
    Any,
}

/// Conditions on an incoming request. All set fields must hold.
///
/// Text comparisons are case-insensitive substring tests. "Last user message" means the
/// last message with `role: "user"` (the CLI also sends `role: "system"` messages, which
/// are skipped); its text excludes `<system-reminder>` sections and tool results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Matcher {
    /// The request came in on this API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<Api>,
    /// The last user message's own text contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_user_text_contains: Option<String>,
    /// The last user message carries a tool result matching this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_result: Option<ToolResultMatcher>,
    /// The requested model name contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_contains: Option<String>,
    /// The system prompt (or a `role: "system"` message) contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_contains: Option<String>,
    /// The request offers (`true`) or does not offer (`false`) tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_tools: Option<bool>,
    /// The request asks (`true`) or does not ask (`false`) for a streamed answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// At least one of these matchers holds (ignored when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<Matcher>,
    /// This matcher does not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<Matcher>>,
}

/// Conditions on a `tool_result` block in the last user message; any one block that
/// satisfies all set fields is enough.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolResultMatcher {
    /// Name of the tool whose call this result answers, in either agent's vocabulary
    /// (`Write` also matches `write_file`; see [`crate::api`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// The result's `is_error` flag (absent on the wire counts as `false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
}

/// An answer: an assistant message, or an error, plus delivery options.
///
/// Strings in text, thinking and tool inputs may use placeholders, replaced per request:
/// `{{cwd}}` (the working directory the CLI reports in its prompt, `.` if unknown),
/// `{{mentionedFile}}` (the first file-like word of the latest user prompt, even while
/// answering a tool result; `hello.txt` if none), `{{mentionedPath}}` (that file resolved against `{{cwd}}`), `{{lastUserText}}`
/// and `{{model}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Response {
    /// Content blocks in order. Several `tool_use` blocks make a parallel tool call.
    #[serde(default)]
    pub content: Vec<Block>,
    /// `stop_reason`; defaults to `tool_use` if any block is a tool use, else `end_turn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Token counts reported; unset fields get deterministic estimates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageSpec>,
    /// Answer with an HTTP error instead (possibly only for the first few hits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorSpec>,
    /// Pause before every streamed event after `message_start`, so the stream trickles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_delay_ms: Option<u64>,
    /// Number of deltas each block's text / thinking / tool input is split into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u32>,
    /// Drop the connection part-way through the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub midstream_cut: Option<MidstreamCut>,
}

/// One content block of a scripted assistant message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Block {
    /// Visible text.
    Text {
        /// The text.
        text: String,
    },
    /// Extended thinking; a fixed placeholder signature is used when none is given.
    Thinking {
        /// The thinking text.
        thinking: String,
        /// Opaque signature sent in a `signature_delta`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// A tool call; the id is generated (`toolu_…`) unless given (Gemini: the CLI makes its own
    /// ids).
    ToolUse {
        /// Tool name, e.g. `Write` (or `write_file`: translated per API, see [`crate::api`]).
        name: String,
        /// Tool input object.
        #[serde(default = "empty_object")]
        input: Value,
        /// Fixed tool-use id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

/// Token counts; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageSpec {
    /// `input_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// `output_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// `cache_read_input_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// `cache_creation_input_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
}

/// An error answer: Anthropic's `{"type":"error","error":{"type","message"}}`, Google's
/// `{"error":{"code","message","status"}}` for the Gemini API, or OpenAI's
/// `{"error":{"message","type","param","code"}}` for the Responses API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorSpec {
    /// HTTP status code.
    pub status: u16,
    /// Error type (Anthropic only; Google's and OpenAI's follow the status); derived from the
    /// status when unset (e.g. 500 → `api_error`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Error message.
    #[serde(default = "default_error_message")]
    pub message: String,
    /// Only the first N hits of the rule fail; later hits answer with the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// Cut the connection after some streamed events (for a JSON answer: half-way through).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MidstreamCut {
    /// SSE events sent before the cut (`message_start` counts as one).
    #[serde(default)]
    pub after_events: u32,
    /// Only the first N hits of the rule are cut; later hits complete normally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

impl Scenario {
    /// A scenario with the given rules and no fallback.
    pub fn new(rules: Vec<Rule>) -> Self {
        Self {
            name: None,
            rules,
            fallback: None,
        }
    }

    /// Parses a scenario from JSON text.
    pub fn from_json(json: &str) -> Result<Self, TestkitError> {
        serde_json::from_str(json).map_err(|source| TestkitError::ScenarioJson {
            origin: "<string>".to_owned(),
            source,
        })
    }

    /// Loads a scenario from a JSON file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TestkitError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TestkitError::ScenarioRead {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| TestkitError::ScenarioJson {
            origin: path.display().to_string(),
            source,
        })
    }

    /// Sets the name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Appends a rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Sets the fallback answer.
    pub fn with_fallback(mut self, response: Response) -> Self {
        self.fallback = Some(response);
        self
    }
}

impl Rule {
    /// A rule answering `respond` whenever `when` matches.
    pub fn new(when: Matcher, respond: Response) -> Self {
        Self {
            when,
            respond,
            ..Self::default()
        }
    }

    /// A rule that answers every main request.
    pub fn always(respond: Response) -> Self {
        Self::new(Matcher::default(), respond)
    }

    /// Sets the name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Makes the rule answer only once.
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }

    /// Limits the rule to `n` answers.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Sets the scope.
    pub fn scope(mut self, scope: RuleScope) -> Self {
        self.scope = scope;
        self
    }

    /// How many requests this rule may answer in total, if limited.
    pub fn hit_limit(&self) -> Option<u32> {
        if self.once {
            Some(1)
        } else {
            self.times
        }
    }
}

impl Matcher {
    /// Matches when the last user text contains `needle` (case-insensitive).
    pub fn last_user_text_contains(needle: impl Into<String>) -> Self {
        Self {
            last_user_text_contains: Some(needle.into()),
            ..Self::default()
        }
    }

    /// Matches when the last user message carries a tool result (of `tool_name`, if given).
    pub fn tool_result(tool_name: Option<&str>) -> Self {
        Self {
            tool_result: Some(ToolResultMatcher {
                tool_name: tool_name.map(str::to_owned),
                is_error: None,
            }),
            ..Self::default()
        }
    }
}

impl Response {
    /// An answer with the given blocks.
    pub fn blocks(content: Vec<Block>) -> Self {
        Self {
            content,
            ..Self::default()
        }
    }

    /// A plain text answer.
    pub fn text(text: impl Into<String>) -> Self {
        Self::blocks(vec![Block::text(text)])
    }

    /// An error answer with the given HTTP status and message, on every hit.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self {
            error: Some(ErrorSpec {
                status,
                error_type: None,
                message: message.into(),
                times: None,
            }),
            ..Self::default()
        }
    }

    /// Sets the pause between streamed events.
    pub fn with_chunk_delay_ms(mut self, ms: u64) -> Self {
        self.chunk_delay_ms = Some(ms);
        self
    }

    /// Sets how many deltas each block is split into.
    pub fn with_chunks(mut self, chunks: u32) -> Self {
        self.chunks = Some(chunks);
        self
    }

    /// Sets the stop reason.
    pub fn with_stop_reason(mut self, stop_reason: impl Into<String>) -> Self {
        self.stop_reason = Some(stop_reason.into());
        self
    }

    /// Cuts the connection after `after_events` streamed events.
    pub fn with_midstream_cut(mut self, after_events: u32) -> Self {
        self.midstream_cut = Some(MidstreamCut {
            after_events,
            times: None,
        });
        self
    }
}

impl Block {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    /// A thinking block with the placeholder signature.
    pub fn thinking(thinking: impl Into<String>) -> Self {
        Self::Thinking {
            thinking: thinking.into(),
            signature: None,
        }
    }

    /// A tool call with a generated id.
    pub fn tool_use(name: impl Into<String>, input: Value) -> Self {
        Self::ToolUse {
            name: name.into(),
            input,
            id: None,
        }
    }
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

fn default_error_message() -> String {
    "Scripted error".to_owned()
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
