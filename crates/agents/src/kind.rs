//! [`AgentKind`]: the closed set of supported agents and the agent-neutral API over them.
//!
//! Every method is a `match` that delegates to one agent module, so the runtime has no
//! agent-specific cases. Adding an agent: a variant here, a module beside [`crate::claude`] and
//! [`crate::gemini`].

use agent_runtime_protocol::{AgentCapabilities, AgentProfile, PermissionMode};
use serde::{Deserialize, Serialize};

use crate::claude;
use crate::error::AgentError;
use crate::files::{ParsedConversation, ProfileFileWrite, TranscriptFile};
use crate::gemini;
use crate::launch::{LaunchContext, LaunchSpec};
use crate::output::{Translator, TranslatorContext};

/// A supported agent. Its wire id is what [`AgentKind::id`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgentKind {
    /// Anthropic's Claude Code CLI, wire id `claude-code`.
    #[serde(rename = "claude-code")]
    ClaudeCode,
    /// Google's Gemini CLI, wire id `gemini-cli`.
    #[serde(rename = "gemini-cli")]
    GeminiCli,
}

/// A model API an agent talks to. The runtime is configured with one endpoint (base URL, key)
/// per API, and hands each agent the endpoint of its [`AgentKind::model_api`]; agents that speak
/// the same API share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelApi {
    /// The Anthropic Messages API (`ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`).
    Anthropic,
    /// The Gemini API (`GOOGLE_GEMINI_BASE_URL`, `GEMINI_API_KEY`).
    Gemini,
}

impl ModelApi {
    /// Every model API.
    pub const ALL: &'static [ModelApi] = &[ModelApi::Anthropic, ModelApi::Gemini];

    /// A short name for logs (`anthropic`, `gemini`).
    pub fn id(&self) -> &'static str {
        match self {
            ModelApi::Anthropic => "anthropic",
            ModelApi::Gemini => "gemini",
        }
    }

    /// The API's public endpoint, used when the operator configures no base URL.
    pub fn default_base_url(&self) -> &'static str {
        match self {
            ModelApi::Anthropic => "https://api.anthropic.com",
            ModelApi::Gemini => "https://generativelanguage.googleapis.com",
        }
    }
}

/// How to install an agent: an npm package at a pinned version, and where its binary lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallSpec {
    pub npm_package: String,
    pub version: String,
    /// Paths of the executable relative to the npm `--prefix` directory, best first; use the
    /// first that exists after `npm install`.
    pub binary_candidates: Vec<String>,
}

/// How the runtime drives the agent's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessMode {
    /// One long-lived process per sandbox. A turn starts when the runtime writes an
    /// [`AgentKind::encode_user_message`] line to stdin (only after the previous turn
    /// finished) and ends with an [`crate::AgentOutput::TurnFinished`]; an
    /// [`AgentKind::encode_interrupt`] line interrupts it and the process stays usable. Closing
    /// stdin ends the process after the current turn. Stdout must be read all the time, also
    /// between turns.
    Persistent {
        /// The agent can start turns (and emit subagent output) on its own, between the runtime's
        /// turns: [`crate::TurnOutcome::agent_initiated`] marks their end.
        agent_initiated_turns: bool,
    },
    /// One process per turn. The user message is the process's whole stdin: the runtime writes
    /// [`AgentKind::per_turn_stdin`] right after the start, without waiting for the agent to
    /// read it, and then closes stdin. The turn ends with an
    /// [`crate::AgentOutput::TurnFinished`] and the process's exit (whichever comes last; a
    /// process that exits without reporting an outcome ends the turn with
    /// [`crate::Translator::exit_error`]). Interrupting means killing the process: such agents
    /// have no interrupt protocol. The next turn starts a new process that resumes the agent's
    /// conversation ([`AgentKind::can_resume`]).
    PerTurn,
}

impl AgentKind {
    /// Every supported agent.
    pub const ALL: &'static [AgentKind] = &[AgentKind::ClaudeCode, AgentKind::GeminiCli];

    /// The wire id (`claude-code`, `gemini-cli`).
    pub fn id(&self) -> &'static str {
        match self {
            AgentKind::ClaudeCode => "claude-code",
            AgentKind::GeminiCli => "gemini-cli",
        }
    }

    /// The agent with wire id `id`.
    pub fn from_id(id: &str) -> Option<AgentKind> {
        AgentKind::ALL.iter().copied().find(|kind| kind.id() == id)
    }

    /// The pinned package to install.
    pub fn install_spec(&self) -> InstallSpec {
        match self {
            AgentKind::ClaudeCode => claude::install_spec(std::env::consts::ARCH),
            AgentKind::GeminiCli => gemini::install_spec(),
        }
    }

    /// What the agent can do beyond running turns. Claude Code asks over its control protocol
    /// (`can_use_tool`), questions included (`AskUserQuestion`). Gemini CLI cannot ask in
    /// headless mode (it removes the tools that would need confirmation), so it runs either
    /// without asking or read-only in its own plan mode.
    pub fn capabilities(&self) -> AgentCapabilities {
        match self {
            AgentKind::ClaudeCode => AgentCapabilities {
                approvals: true,
                questions: true,
                permission_modes: PermissionMode::ALL.to_vec(),
            },
            AgentKind::GeminiCli => AgentCapabilities {
                approvals: false,
                questions: false,
                permission_modes: vec![PermissionMode::Bypass, PermissionMode::Plan],
            },
        }
    }

    /// The model API the agent calls; its endpoint goes into [`LaunchContext::base_url`] and
    /// [`LaunchContext::api_key`].
    pub fn model_api(&self) -> ModelApi {
        match self {
            AgentKind::ClaudeCode => ModelApi::Anthropic,
            AgentKind::GeminiCli => ModelApi::Gemini,
        }
    }

    /// How the runtime drives the process.
    pub fn process_mode(&self) -> ProcessMode {
        match self {
            AgentKind::ClaudeCode => ProcessMode::Persistent {
                agent_initiated_turns: true,
            },
            AgentKind::GeminiCli => ProcessMode::PerTurn,
        }
    }

    /// The process to start inside the sandbox.
    pub fn launch_spec(&self, ctx: &LaunchContext<'_>) -> LaunchSpec {
        match self {
            AgentKind::ClaudeCode => claude::launch_spec(ctx),
            AgentKind::GeminiCli => gemini::launch_spec(ctx),
        }
    }

    /// The stdin line (with its trailing `\n`) that sends `text` as the next user message to a
    /// [`ProcessMode::Persistent`] agent; `None` for per-turn agents (see
    /// [`AgentKind::per_turn_stdin`]).
    pub fn encode_user_message(&self, text: &str) -> Option<String> {
        match self {
            AgentKind::ClaudeCode => Some(claude::encode_user_message(text)),
            AgentKind::GeminiCli => None,
        }
    }

    /// The whole stdin of a [`ProcessMode::PerTurn`] agent's process that runs the user message
    /// `text` (stdin is closed after it); `None` for persistent agents, which get
    /// [`AgentKind::encode_user_message`] lines instead.
    pub fn per_turn_stdin(&self, text: &str) -> Option<String> {
        match self {
            AgentKind::ClaudeCode => None,
            AgentKind::GeminiCli => Some(gemini::per_turn_stdin(text)),
        }
    }

    /// The stdin line (with its trailing `\n`) that interrupts the running turn of a
    /// [`ProcessMode::Persistent`] agent; `None` for agents that are interrupted by killing
    /// their process. `request_id` must be unique per process; the agent's acknowledgement is
    /// not reported.
    pub fn encode_interrupt(&self, request_id: &str) -> Option<String> {
        match self {
            AgentKind::ClaudeCode => Some(claude::encode_interrupt(request_id)),
            AgentKind::GeminiCli => None,
        }
    }

    /// The stdin line (with its trailing `\n`) that answers the agent's request
    /// `agent_request_id` ([`crate::AgentOutput::Ask`]); `None` for agents that cannot ask.
    pub fn encode_ask_reply(
        &self,
        agent_request_id: &str,
        reply: &crate::AskReply,
    ) -> Option<String> {
        match self {
            AgentKind::ClaudeCode => Some(claude::encode_ask_reply(agent_request_id, reply)),
            AgentKind::GeminiCli => None,
        }
    }

    /// A fresh translator for one process's stdout.
    pub fn new_translator(&self, ctx: TranslatorContext) -> Translator {
        match self {
            AgentKind::ClaudeCode => Translator::Claude(claude::ClaudeTranslator::new(ctx)),
            AgentKind::GeminiCli => Translator::Gemini(gemini::GeminiTranslator::new(ctx)),
        }
    }

    /// The files that set the agent up per `profile`, in the agent's own layout: agent
    /// configuration under the home directory, `profile.files` in the workspace.
    pub fn profile_files(
        &self,
        profile: &AgentProfile,
    ) -> Result<Vec<ProfileFileWrite>, AgentError> {
        match self {
            AgentKind::ClaudeCode => claude::profile_files(profile),
            AgentKind::GeminiCli => gemini::profile_files(profile),
        }
    }

    /// Which of `home_files` (every file under the home directory, relative to it, `/`-separated)
    /// make up the native transcript of `agent_session_id`, each with the name to store it under.
    /// Sorted by name.
    pub fn transcript_files_to_save(
        &self,
        home_files: &[String],
        agent_session_id: &str,
    ) -> Vec<TranscriptFile> {
        match self {
            AgentKind::ClaudeCode => claude::transcript_files_to_save(home_files, agent_session_id),
            AgentKind::GeminiCli => gemini::transcript_files_to_save(home_files, agent_session_id),
        }
    }

    /// Whether `transcript` (the files [`AgentKind::transcript_files_to_save`] names, as
    /// `(name, content)`) holds a conversation `agent_session_id` the agent can resume, so a new
    /// process must resume it rather than start it. A transcript that exists but cannot be
    /// resumed (a first turn killed before the agent recorded anything) must be removed before a
    /// fresh start: agents refuse to start a new conversation under an id they have files for.
    pub fn can_resume(&self, transcript: &[(String, String)], agent_session_id: &str) -> bool {
        match self {
            AgentKind::ClaudeCode => {
                let main = format!("{agent_session_id}.jsonl");
                transcript
                    .iter()
                    .any(|(name, content)| *name == main && !content.trim().is_empty())
            }
            AgentKind::GeminiCli => gemini::can_resume(transcript),
        }
    }

    /// Where (relative to the home directory) to write the stored transcript file `name` in a
    /// fresh sandbox whose working directory is `workspace_dir`, so the agent resumes it.
    pub fn transcript_restore_path(
        &self,
        name: &str,
        workspace_dir: &str,
    ) -> Result<String, AgentError> {
        match self {
            AgentKind::ClaudeCode => claude::transcript_restore_path(name, workspace_dir),
            AgentKind::GeminiCli => gemini::transcript_restore_path(name, workspace_dir),
        }
    }

    /// Turns stored transcript files (`(name, content)`, names as from
    /// [`AgentKind::transcript_files_to_save`]) into blocks. Never fails: what cannot be read is
    /// skipped and listed in [`ParsedConversation::warnings`].
    pub fn parse_transcript(&self, files: &[(String, String)]) -> ParsedConversation {
        match self {
            AgentKind::ClaudeCode => claude::parse_transcript(files),
            AgentKind::GeminiCli => gemini::parse_transcript(files),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each agent takes user messages on stdin in exactly one way, the one its process mode says.
    #[test]
    fn messages_go_over_stdin_in_the_way_of_the_process_mode() {
        for kind in AgentKind::ALL {
            let line = kind.encode_user_message("hi");
            let whole = kind.per_turn_stdin("hi");
            match kind.process_mode() {
                ProcessMode::Persistent { .. } => {
                    assert!(line.is_some() && whole.is_none(), "{kind:?}")
                }
                ProcessMode::PerTurn => assert!(line.is_none() && whole.is_some(), "{kind:?}"),
            }
        }
    }

    #[test]
    fn ids_round_trip() {
        for kind in AgentKind::ALL {
            assert_eq!(AgentKind::from_id(kind.id()), Some(*kind));
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.id()));
        }
        assert_eq!(AgentKind::from_id("nope"), None);
    }
}
