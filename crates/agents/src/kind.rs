//! [`AgentKind`]: the closed set of supported agents and the agent-neutral API over them.
//!
//! Every method is a `match` that delegates to one agent module, so the runtime has no
//! agent-specific cases. Agents with a driver of their own are variants ([`crate::claude`],
//! [`crate::gemini`]); every agent that speaks ACP is [`AgentKind::Acp`] with its
//! [`AcpAgentSpec`] (built in: [`crate::opencode`], [`crate::codex`]; more from the config
//! file, see [`crate::AgentRegistry`]).

use std::sync::Arc;

use agent_runtime_protocol::{AgentCapabilities, AgentProfile, PermissionMode};
use serde::{Deserialize, Serialize, Serializer};

use crate::acp::{AcpAgentSpec, AcpSessionSetup, AcpTranslator};
use crate::claude;
use crate::error::AgentError;
use crate::files::{ParsedConversation, ProfileFileWrite, TranscriptFile};
use crate::gemini;
use crate::launch::{LaunchContext, LaunchSpec};
use crate::output::{Translator, TranslatorContext};

/// A supported agent. Its wire id is what [`AgentKind::id`] returns (and what it serializes
/// as).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgentKind {
    /// Anthropic's Claude Code CLI, wire id `claude-code`.
    ClaudeCode,
    /// Google's Gemini CLI, wire id `gemini-cli`.
    GeminiCli,
    /// An agent driven over the Agent Client Protocol, wire id its spec's `id`.
    Acp(Arc<AcpAgentSpec>),
}

impl Serialize for AgentKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

/// A model API an agent talks to. The runtime is configured with one endpoint (base URL, key)
/// per API, and hands each agent the endpoint of its [`AgentKind::model_api`]; agents that speak
/// the same API share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelApi {
    /// The Anthropic Messages API (`ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`).
    Anthropic,
    /// The Gemini API (`GOOGLE_GEMINI_BASE_URL`, `GEMINI_API_KEY`).
    Gemini,
    /// The OpenAI API, Responses (`OPENAI_BASE_URL`, `OPENAI_API_KEY`).
    #[serde(rename = "openai")]
    OpenAi,
}

impl ModelApi {
    /// Every model API.
    pub const ALL: &'static [ModelApi] = &[ModelApi::Anthropic, ModelApi::Gemini, ModelApi::OpenAi];

    /// A short name for logs and config (`anthropic`, `gemini`, `openai`).
    pub fn id(&self) -> &'static str {
        match self {
            ModelApi::Anthropic => "anthropic",
            ModelApi::Gemini => "gemini",
            ModelApi::OpenAi => "openai",
        }
    }

    /// The API's public endpoint, used when the operator configures no base URL. (OpenAI's
    /// base URL conventionally ends in `/v1`; agents are given it without, and add it.)
    pub fn default_base_url(&self) -> &'static str {
        match self {
            ModelApi::Anthropic => "https://api.anthropic.com",
            ModelApi::Gemini => "https://generativelanguage.googleapis.com",
            ModelApi::OpenAi => "https://api.openai.com",
        }
    }
}

/// How to install an agent: an npm package at a pinned version, and where its binary lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallSpec {
    pub npm_package: String,
    pub version: String,
    /// More packages installed beside it in the same prefix, each `name@version`.
    pub extra_packages: Vec<String>,
    /// Paths of the executable relative to the npm `--prefix` directory, best first; use the
    /// first that exists after `npm install`.
    pub binary_candidates: Vec<String>,
}

/// How the runtime drives the agent's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessMode {
    /// One long-lived process per sandbox. A turn starts when the runtime writes an
    /// [`crate::Translator::user_message`] line to stdin (only after the previous turn
    /// finished) and ends with an [`crate::AgentOutput::TurnFinished`]; an
    /// [`crate::Translator::interrupt_lines`] interrupts it and the process stays usable. Closing
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
    /// The agents built into the runtime: Claude Code, Gemini CLI, OpenCode and Codex.
    pub fn builtin() -> Vec<AgentKind> {
        vec![
            AgentKind::ClaudeCode,
            AgentKind::GeminiCli,
            AgentKind::Acp(Arc::new(crate::opencode::spec())),
            AgentKind::Acp(Arc::new(crate::codex::spec())),
        ]
    }

    /// The built-in agent with wire id `id` (agents from the config file are found through
    /// [`crate::AgentRegistry::get`]).
    pub fn from_id(id: &str) -> Option<AgentKind> {
        AgentKind::builtin()
            .into_iter()
            .find(|kind| kind.id() == id)
    }

    /// The wire id (`claude-code`, `gemini-cli`, `opencode`, ...).
    pub fn id(&self) -> &str {
        match self {
            AgentKind::ClaudeCode => "claude-code",
            AgentKind::GeminiCli => "gemini-cli",
            AgentKind::Acp(spec) => &spec.id,
        }
    }

    /// The name for people.
    pub fn name(&self) -> &str {
        match self {
            AgentKind::ClaudeCode => "Claude Code",
            AgentKind::GeminiCli => "Gemini CLI",
            AgentKind::Acp(spec) => spec.display_name(),
        }
    }

    /// How the runtime drives it: `native` or `acp`.
    pub fn protocol(&self) -> &'static str {
        match self {
            AgentKind::ClaudeCode | AgentKind::GeminiCli => "native",
            AgentKind::Acp(_) => "acp",
        }
    }

    /// The pinned package to install.
    pub fn install_spec(&self) -> InstallSpec {
        match self {
            AgentKind::ClaudeCode => claude::install_spec(std::env::consts::ARCH),
            AgentKind::GeminiCli => gemini::install_spec(),
            AgentKind::Acp(spec) => spec.install_spec(),
        }
    }

    /// What the agent can do beyond running turns. Claude Code asks over its control protocol
    /// (`can_use_tool`), questions included (`AskUserQuestion`). Gemini CLI cannot ask in
    /// headless mode (it removes the tools that would need confirmation), so it runs either
    /// without asking or read-only in its own plan mode. ACP agents ask with
    /// `session/request_permission` (ACP has no questions); their modes are their spec's.
    pub fn capabilities(&self) -> AgentCapabilities {
        match self {
            AgentKind::ClaudeCode => AgentCapabilities {
                approvals: true,
                questions: true,
                permission_modes: PermissionMode::ALL.to_vec(),
                resume: true,
                thinking: true,
                images: false,
                plan: false,
            },
            AgentKind::GeminiCli => AgentCapabilities {
                approvals: false,
                questions: false,
                permission_modes: vec![PermissionMode::Bypass, PermissionMode::Plan],
                resume: true,
                // stream-json carries no thoughts (they appear only in parsed transcripts).
                thinking: false,
                images: false,
                plan: false,
            },
            AgentKind::Acp(spec) => AgentCapabilities {
                approvals: true,
                questions: false,
                permission_modes: spec.permission_modes(),
                resume: spec.resumes(),
                thinking: true,
                images: false,
                plan: spec.sends_plans(),
            },
        }
    }

    /// The model API the agent calls; its endpoint goes into [`LaunchContext::base_url`] and
    /// [`LaunchContext::api_key`].
    pub fn model_api(&self) -> ModelApi {
        match self {
            AgentKind::ClaudeCode => ModelApi::Anthropic,
            AgentKind::GeminiCli => ModelApi::Gemini,
            AgentKind::Acp(spec) => spec.model_api,
        }
    }

    /// How the runtime drives the process.
    pub fn process_mode(&self) -> ProcessMode {
        match self {
            AgentKind::ClaudeCode => ProcessMode::Persistent {
                agent_initiated_turns: true,
            },
            AgentKind::GeminiCli => ProcessMode::PerTurn,
            AgentKind::Acp(_) => ProcessMode::Persistent {
                agent_initiated_turns: false,
            },
        }
    }

    /// The process to start inside the sandbox.
    pub fn launch_spec(&self, ctx: &LaunchContext<'_>) -> LaunchSpec {
        match self {
            AgentKind::ClaudeCode => claude::launch_spec(ctx),
            AgentKind::GeminiCli => gemini::launch_spec(ctx),
            AgentKind::Acp(spec) => spec.launch_spec(ctx),
        }
    }

    /// The whole stdin of a [`ProcessMode::PerTurn`] agent's process that runs the user message
    /// `text` (stdin is closed after it); `None` for persistent agents, which get
    /// [`crate::Translator::user_message`] lines instead.
    pub fn per_turn_stdin(&self, text: &str) -> Option<String> {
        match self {
            AgentKind::ClaudeCode | AgentKind::Acp(_) => None,
            AgentKind::GeminiCli => Some(gemini::per_turn_stdin(text)),
        }
    }

    /// A fresh translator for one process's stdout. An ACP agent's opens the session as
    /// `ctx.acp` says ([`AgentKind::acp_session`]).
    pub fn new_translator(&self, ctx: TranslatorContext) -> Translator {
        match self {
            AgentKind::ClaudeCode => Translator::Claude(claude::ClaudeTranslator::new(ctx)),
            AgentKind::GeminiCli => Translator::Gemini(gemini::GeminiTranslator::new(ctx)),
            AgentKind::Acp(_) => Translator::Acp(Box::new(AcpTranslator::new(ctx))),
        }
    }

    /// How the process started with `launch` opens its ACP session: in the workspace, loading
    /// the stored conversation when it resumes, with the profile's MCP servers.
    pub fn acp_session(launch: &LaunchContext<'_>) -> AcpSessionSetup {
        AcpSessionSetup {
            cwd: launch.workspace_dir.clone(),
            load: launch.resume.then(|| launch.agent_session_id.clone()),
            mcp_servers: AcpAgentSpec::mcp_servers(launch.profile),
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
            AgentKind::Acp(spec) => spec.profile_files(profile),
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
            AgentKind::Acp(spec) => spec.transcript_files_to_save(home_files),
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
            AgentKind::Acp(spec) => spec.can_resume(transcript, agent_session_id),
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
            AgentKind::Acp(spec) => spec.transcript_restore_path(name),
        }
    }

    /// Turns stored transcript files (`(name, content)`, names as from
    /// [`AgentKind::transcript_files_to_save`]) into blocks. Never fails: what cannot be read is
    /// skipped and listed in [`ParsedConversation::warnings`].
    pub fn parse_transcript(&self, files: &[(String, String)]) -> ParsedConversation {
        match self {
            AgentKind::ClaudeCode => claude::parse_transcript(files),
            AgentKind::GeminiCli => gemini::parse_transcript(files),
            // ACP agents keep their sessions in their own stores (OpenCode: SQLite); the
            // protocol's way to read one is `session/load`, which replays into the agent.
            AgentKind::Acp(spec) => ParsedConversation {
                warnings: vec![format!(
                    "{}'s native transcript is not parsed into blocks",
                    spec.display_name()
                )],
                ..ParsedConversation::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each agent takes user messages on stdin in exactly one way, the one its process mode says.
    #[test]
    fn messages_go_over_stdin_in_the_way_of_the_process_mode() {
        let profile = AgentProfile::default();
        let launch = LaunchContext {
            program: "/bin/true".into(),
            workspace_dir: "/workspace".into(),
            home_dir: "/home/agent".into(),
            agent_session_id: "s".into(),
            resume: false,
            base_url: None,
            api_key: None,
            profile: &profile,
            permission_mode: PermissionMode::Bypass,
        };
        for kind in AgentKind::builtin() {
            let mut translator = kind.new_translator(TranslatorContext {
                acp: AgentKind::acp_session(&launch),
                ..TranslatorContext::default()
            });
            let whole = kind.per_turn_stdin("hi");
            match kind.process_mode() {
                ProcessMode::Persistent { .. } => {
                    // ACP agents open their session first; the message waits for it.
                    let start = translator.start_lines();
                    let sent = translator.user_message("hi");
                    assert!(whole.is_none(), "{kind:?}");
                    assert!(!start.is_empty() || !sent.is_empty(), "{kind:?}");
                }
                ProcessMode::PerTurn => {
                    assert!(whole.is_some(), "{kind:?}");
                    assert!(translator.user_message("hi").is_empty(), "{kind:?}");
                }
            }
        }
    }

    #[test]
    fn ids_round_trip() {
        for kind in AgentKind::builtin() {
            assert_eq!(AgentKind::from_id(kind.id()), Some(kind.clone()));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.id()));
        }
        assert_eq!(AgentKind::from_id("nope"), None);
    }
}
