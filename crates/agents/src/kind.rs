//! [`AgentKind`]: the closed set of supported agents and the agent-neutral API over them.
//!
//! Every method is a `match` that delegates to one agent module, so the runtime has no
//! agent-specific cases. Adding an agent: a variant here, a module beside [`crate::claude`].

use agent_runtime_protocol::AgentProfile;
use serde::{Deserialize, Serialize};

use crate::claude;
use crate::error::AgentError;
use crate::files::{ParsedConversation, ProfileFileWrite, TranscriptFile};
use crate::launch::{LaunchContext, LaunchSpec};
use crate::output::{Translator, TranslatorContext};

/// A supported agent. Its wire id is what [`AgentKind::id`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgentKind {
    /// Anthropic's Claude Code CLI, wire id `claude-code`.
    #[serde(rename = "claude-code")]
    ClaudeCode,
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
}

impl AgentKind {
    /// Every supported agent.
    pub const ALL: &'static [AgentKind] = &[AgentKind::ClaudeCode];

    /// The wire id (`claude-code`).
    pub fn id(&self) -> &'static str {
        match self {
            AgentKind::ClaudeCode => "claude-code",
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
        }
    }

    /// How the runtime drives the process.
    pub fn process_mode(&self) -> ProcessMode {
        match self {
            AgentKind::ClaudeCode => ProcessMode::Persistent {
                agent_initiated_turns: true,
            },
        }
    }

    /// The process to start inside the sandbox.
    pub fn launch_spec(&self, ctx: &LaunchContext<'_>) -> LaunchSpec {
        match self {
            AgentKind::ClaudeCode => claude::launch_spec(ctx),
        }
    }

    /// The stdin line (with its trailing `\n`) that sends `text` as the next user message.
    pub fn encode_user_message(&self, text: &str) -> String {
        match self {
            AgentKind::ClaudeCode => claude::encode_user_message(text),
        }
    }

    /// The stdin line (with its trailing `\n`) that interrupts the running turn. `request_id`
    /// must be unique per process; the agent's acknowledgement is not reported.
    pub fn encode_interrupt(&self, request_id: &str) -> String {
        match self {
            AgentKind::ClaudeCode => claude::encode_interrupt(request_id),
        }
    }

    /// A fresh translator for one process's stdout.
    pub fn new_translator(&self, ctx: TranslatorContext) -> Translator {
        match self {
            AgentKind::ClaudeCode => Translator::Claude(claude::ClaudeTranslator::new(ctx)),
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
        }
    }

    /// Whether `home_files` hold the agent's own conversation `agent_session_id`, so a new
    /// process must resume it rather than start it.
    pub fn can_resume(&self, home_files: &[String], agent_session_id: &str) -> bool {
        match self {
            AgentKind::ClaudeCode => {
                let main = format!("{agent_session_id}.jsonl");
                claude::transcript_files_to_save(home_files, agent_session_id)
                    .iter()
                    .any(|file| file.name == main)
            }
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
        }
    }

    /// Turns stored transcript files (`(name, content)`, names as from
    /// [`AgentKind::transcript_files_to_save`]) into blocks. Never fails: what cannot be read is
    /// skipped and listed in [`ParsedConversation::warnings`].
    pub fn parse_transcript(&self, files: &[(String, String)]) -> ParsedConversation {
        match self {
            AgentKind::ClaudeCode => claude::parse_transcript(files),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
