//! Human in the loop: permission modes and rules, the agent's requests for permission and its
//! questions to the user, and budgets.
//!
//! A request is an event in the session's log ([`PermissionRequest`], [`QuestionRequest`]) and
//! stays pending until an event resolves it ([`PermissionResolution`], [`QuestionResolution`]),
//! so a client that subscribes late, or a server restarted after a crash, sees it as it is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// How much the agent may do without asking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum PermissionMode {
    /// Never ask (the sandbox is the boundary). Deny rules still hold.
    #[default]
    Bypass,
    /// Ask before anything that writes or runs.
    Default,
    /// Edits in the workspace without asking; ask before anything else that runs.
    AcceptEdits,
    /// Read-only: the agent plans and may ask to leave plan mode.
    Plan,
}

impl PermissionMode {
    /// Every mode.
    pub const ALL: &'static [PermissionMode] = &[
        PermissionMode::Bypass,
        PermissionMode::Default,
        PermissionMode::AcceptEdits,
        PermissionMode::Plan,
    ];

    /// The wire name (`bypass`, `default`, `acceptEdits`, `plan`).
    pub fn as_str(&self) -> &'static str {
        match self {
            PermissionMode::Bypass => "bypass",
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::Plan => "plan",
        }
    }
}

/// Rules applied to every permission request before anyone is asked. A rule is `Tool` (every
/// call of the tool) or `Tool(pattern)`: `*` matches any run of characters (for file tools, any
/// but `/`, and `**` any path), a trailing `:*` matches by prefix (`Bash(git status:*)`). The
/// pattern is matched against a command (`Bash`), a workspace-relative path (`Write`, `Edit`,
/// `Read`, ...), a URL (`WebFetch`) or else the input as JSON. Deny wins over ask, ask over
/// allow; a request no rule matches is asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct PermissionRules {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<String>>", optional)]
    pub allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<String>>", optional)]
    pub deny: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<String>>", optional)]
    pub ask: Vec<String>,
}

impl PermissionRules {
    /// No rules.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty() && self.ask.is_empty()
    }
}

/// Spending limits. Reaching one stops the agent at the next boundary with `budget_exceeded`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct Budget {
    /// Cost of the whole session, in US dollars, as the agent reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub max_cost_usd: Option<f64>,
    /// Turns of the whole session.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub max_turns: Option<u64>,
    /// Wall-clock time of one turn, waiting for answers included.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub max_turn_secs: Option<u64>,
}

impl Budget {
    /// No limit set.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// `self`'s limits, each replaced by `over`'s where `over` sets it.
    pub fn overridden_by(&self, over: &Budget) -> Budget {
        Budget {
            max_cost_usd: over.max_cost_usd.or(self.max_cost_usd),
            max_turns: over.max_turns.or(self.max_turns),
            max_turn_secs: over.max_turn_secs.or(self.max_turn_secs),
        }
    }
}

/// Which limit of a [`Budget`] was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BudgetKind {
    Cost,
    Turns,
    TurnTime,
}

/// A session's own settings, over its profile's: set when it is created, changed by `PATCH`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub permission_mode: Option<PermissionMode>,
    /// Each limit set here replaces the profile's.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub budget: Option<Budget>,
}

impl SessionSettings {
    /// Nothing set.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// What a session is doing, as a client shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    #[default]
    Idle,
    Running,
    /// A permission request or a question waits for an answer, or a budget was reached.
    RequiresAction,
}

/// One way to answer a permission request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PermissionOption {
    /// What to send as `optionId` (`allow_once`, `allow_always`, `deny`, or a suggestion's id).
    pub id: String,
    pub kind: PermissionOptionKind,
    pub label: String,
    /// The rule `allow_always` adds to the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub rule: Option<String>,
    /// The agent's own suggestion, verbatim (Claude: a permission update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub suggestion: Option<Value>,
}

/// What choosing a [`PermissionOption`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PermissionOptionKind {
    AllowOnce,
    AllowAlways,
    Deny,
    /// The agent's suggestion: allows this call and applies the suggestion.
    Suggestion,
}

/// The agent asks whether it may run a tool (`permission_requested`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PermissionRequest {
    pub request_id: String,
    /// The `tool_use` block the request is about, when the agent names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tool_use_id: Option<String>,
    pub tool: String,
    pub input: Value,
    /// The agent's short description of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub description: Option<String>,
    pub options: Vec<PermissionOption>,
    /// When the request is denied if nobody answers (RFC 3339, UTC).
    pub expires_at: String,
    /// The turn that asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub turn_id: Option<String>,
}

/// allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PermissionDecision {
    Allow,
    Deny,
}

/// Who closed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ResolvedBy {
    /// A client answered it.
    User,
    /// Nobody answered in time.
    Timeout,
    /// The turn that asked ended first (interrupt, a new message, the agent exited, ...).
    Runtime,
}

/// What happened to a request from before a server restart once it was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Continuation {
    /// The agent is resumed in a new turn with the answer; it re-issues the call, which the
    /// answer then decides without asking again.
    Resumed,
    /// The agent cannot be resumed: the request is closed and the work stays interrupted.
    Expired,
}

/// A permission request closed (`permission_resolved`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PermissionResolution {
    pub request_id: String,
    pub decision: PermissionDecision,
    /// The answer became a rule of the session (`rule`), applied without asking next time.
    pub remember: bool,
    pub by: ResolvedBy,
    pub at: String,
    /// The option chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub option_id: Option<String>,
    /// The rule remembered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub rule: Option<String>,
    /// The reason the agent sees on a deny.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub message: Option<String>,
    /// Set when the request was from before a server restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub continuation: Option<Continuation>,
}

/// One question of a [`QuestionRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    /// The question; its answer is keyed by this text.
    pub question: String,
    /// A short label for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub header: Option<String>,
    pub options: Vec<QuestionOption>,
    #[serde(default)]
    pub multi_select: bool,
}

/// A choice offered for a [`Question`]; free text is accepted too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QuestionOption {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub description: Option<String>,
}

/// The agent asks the user questions (`question_requested`; Claude's `AskUserQuestion`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QuestionRequest {
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tool_use_id: Option<String>,
    pub questions: Vec<Question>,
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub turn_id: Option<String>,
}

/// An answer: one label or free text, or several for a multi-select question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(untagged)]
pub enum QuestionAnswer {
    One(String),
    Many(Vec<String>),
}

impl QuestionAnswer {
    /// The answer as one string, several joined by `, `.
    pub fn joined(&self) -> String {
        match self {
            QuestionAnswer::One(text) => text.clone(),
            QuestionAnswer::Many(items) => items.join(", "),
        }
    }
}

/// Questions closed (`question_resolved`). `answers` is empty when nobody answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QuestionResolution {
    pub request_id: String,
    /// By question text.
    pub answers: BTreeMap<String, QuestionAnswer>,
    pub by: ResolvedBy,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub continuation: Option<Continuation>,
}

/// A budget limit was reached (`budget_exceeded`): the agent stopped at a boundary, and messages
/// wait until the budget is raised or the overrun approved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BudgetExceeded {
    pub kind: BudgetKind,
    /// The limit (dollars, turns or seconds).
    pub limit: f64,
    /// What was spent when it was checked, in the same unit.
    pub spent: f64,
}

/// A permission request and, once closed, how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PermissionRecord {
    #[serde(flatten)]
    pub request: PermissionRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub resolution: Option<PermissionResolution>,
}

/// A question request and, once closed, how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QuestionRecord {
    #[serde(flatten)]
    pub request: QuestionRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub resolution: Option<QuestionResolution>,
}

/// `POST /api/sessions/:id/permissions/:requestId`, and the WebSocket `answer_permission`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswerPermissionRequest {
    pub decision: PermissionDecision,
    /// Allow always: the request's `allow_always` rule becomes a rule of the session.
    #[serde(default)]
    pub remember: bool,
    /// With `remember`: also add the rule to the session's profile.
    #[serde(default)]
    pub save_to_profile: bool,
    /// The reason the agent sees on a deny.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub message: Option<String>,
    /// One of the request's options (e.g. an agent suggestion); must agree with `decision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub option_id: Option<String>,
}

/// `POST /api/sessions/:id/questions/:requestId`, and the WebSocket `answer_question`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswerQuestionRequest {
    /// By question text; every question must be answered.
    pub answers: BTreeMap<String, QuestionAnswer>,
}

/// `POST /api/sessions/:id/budget/approve`: go on past the limit that was reached, once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BudgetApproval {
    pub kind: BudgetKind,
    pub at: String,
}
