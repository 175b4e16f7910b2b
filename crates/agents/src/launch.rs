//! How to start an agent process: a [`LaunchSpec`] (the sandbox crate's plain-data type,
//! re-exported here) built from a [`LaunchContext`].
//!
//! The spec describes the process *inside* the sandbox; the sandbox crate wraps it (bwrap argv)
//! without looking into it. Secrets go in `env` (redacted by `LaunchSpec`'s `Debug`), never in
//! `args`. Nor do user messages and prompts: arguments are world-readable on the host
//! (`/proc/PID/cmdline`), are logged with the spec, and one argument is capped at 128 KiB by the
//! kernel (`E2BIG`). Messages go over stdin ([`crate::AgentKind::encode_user_message`],
//! [`crate::AgentKind::per_turn_stdin`]), prompts into profile files
//! ([`crate::AgentKind::profile_files`]) that the arguments or the environment name by path.

use std::collections::BTreeMap;

use agent_runtime_protocol::{AgentProfile, PermissionMode};
pub use agent_runtime_sandbox::LaunchSpec;

/// Everything [`crate::AgentKind::launch_spec`] needs, all as seen from inside the sandbox.
#[derive(Debug, Clone)]
pub struct LaunchContext<'a> {
    /// Absolute path of the installed agent binary.
    pub program: String,
    /// The agent's working directory, e.g. `/workspace`.
    pub workspace_dir: String,
    /// The agent's home directory, e.g. `/home/agent`.
    pub home_dir: String,
    /// The agent's own conversation id, chosen by the runtime on the first launch and stored.
    pub agent_session_id: String,
    /// `true` when a transcript of `agent_session_id` was restored and must be resumed.
    pub resume: bool,
    /// Base URL of the model API (the runtime's egress proxy, a scripted test server, ...).
    pub base_url: Option<String>,
    /// API key given to the agent process (in its environment, never in its arguments).
    pub api_key: Option<String>,
    pub profile: &'a AgentProfile,
    /// The session's permission mode (its own, else its profile's). Modes that ask are given
    /// only to agents whose capabilities list them.
    pub permission_mode: PermissionMode,
}

impl LaunchContext<'_> {
    /// The process `program args` in the workspace with `env`, plus the profile's `env` entries
    /// except those `reserved` keeps for the runtime (a profile never overrides where the agent
    /// keeps its state, which model API it calls, or with which key).
    pub(crate) fn spec(
        &self,
        args: Vec<String>,
        mut env: BTreeMap<String, String>,
        reserved: impl Fn(&str) -> bool,
    ) -> LaunchSpec {
        for (name, value) in &self.profile.env {
            if !reserved(name) {
                env.insert(name.clone(), value.clone());
            }
        }
        LaunchSpec {
            program: self.program.clone(),
            args,
            env,
            cwd: self.workspace_dir.clone(),
        }
    }
}
