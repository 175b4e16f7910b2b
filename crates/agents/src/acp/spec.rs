//! [`AcpAgentSpec`]: everything the runtime needs to install and run one ACP agent.
//!
//! The built-in ACP agents ([`crate::opencode`], [`crate::codex`]) are specs with a [`Flavor`]
//! that adds their own configuration; any other ACP agent is a spec from the server's config
//! file, with no code of its own:
//!
//! ```toml
//! [[agents]]
//! id = "my-agent"
//! package = "@acme/my-agent"     # npm, pinned
//! version = "1.2.3"
//! bin = ["node_modules/.bin/my-agent"]
//! args = ["--acp"]
//! model_api = "anthropic"        # anthropic | gemini | openai
//! env = { MY_AGENT_BASE_URL = "{baseUrl}", MY_AGENT_KEY = "{apiKey}" }
//! transcript = [".my-agent/sessions.db"]
//! ```
//!
//! (`bin` is a list of candidates, first found wins: `bin = ["node_modules/.bin/my-agent"]`.)
//! `env` values may name `{baseUrl}` (the model API as the sandbox reaches it: the egress
//! gateway), `{apiKey}` (a placeholder the gateway replaces with the operator's key: keys never
//! enter the sandbox), `{model}` (the profile's model, else `defaultModel`), `{home}` and
//! `{workspace}`; `default_model` is the model when the profile names none. `transcript` lists the files under the home directory where the agent keeps
//! its sessions: they are saved after every turn and restored into a fresh sandbox, and the
//! agent is asked to `session/load` its conversation from them. An agent with no transcript
//! files starts afresh in every new sandbox (`GET /api/agents` says it does not resume).

use std::collections::BTreeMap;

use agent_runtime_protocol::{AgentProfile, PermissionMode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{validate_relative_path, AgentError};
use crate::files::{ProfileFileWrite, TranscriptFile};
use crate::kind::{InstallSpec, ModelApi};
use crate::launch::{LaunchContext, LaunchSpec};
use crate::profile_layout::workspace_files;

/// `PATH` of the agent process: the system's, for `node` and the tools agents run.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A built-in agent's own additions to a spec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flavor {
    /// Nothing beyond the spec.
    #[default]
    Generic,
    OpenCode,
    Codex,
}

/// One ACP agent: its pinned npm package, how to start it, which model API it calls.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcpAgentSpec {
    /// Wire id, e.g. `opencode`; what sessions name in `"agent"`.
    pub id: String,
    /// Shown in `GET /api/agents`; the id when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The npm package.
    pub package: String,
    /// Its pinned version (exact).
    pub version: String,
    /// More packages installed beside it, each `name@version` (pinned).
    #[serde(default)]
    pub extra_packages: Vec<String>,
    /// The executable, relative to the install prefix (e.g. `node_modules/.bin/x`); candidates
    /// are tried in order.
    pub bin: Vec<String>,
    /// Arguments that make it speak ACP on stdio.
    #[serde(default)]
    pub args: Vec<String>,
    /// The model API it calls.
    pub model_api: ModelApi,
    /// Environment, with `{baseUrl}`, `{apiKey}`, `{model}`, `{home}`, `{workspace}` replaced.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The model when the profile names none (`{model}`).
    #[serde(default)]
    pub default_model: Option<String>,
    /// Files under the home directory that hold the agent's sessions.
    #[serde(default)]
    pub transcript: Vec<String>,
    #[serde(skip)]
    pub flavor: Flavor,
}

impl AcpAgentSpec {
    /// Checks a spec from the config file: an id of letters, digits, `-` and `_`, an exact
    /// version, relative paths.
    pub fn validate(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return Err(format!(
                "agent id {:?}: use 1-64 letters, digits, '-' or '_'",
                self.id
            ));
        }
        let exact = |v: &str| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        };
        let package_ok = !self.package.is_empty()
            && !self.package.starts_with(['-', '.'])
            && self
                .package
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '/' | '-' | '_' | '.'));
        if !package_ok || !exact(&self.version) {
            return Err(format!(
                "agent {}: `package` and an exact `version` (e.g. 1.2.3) are required",
                self.id
            ));
        }
        for extra in &self.extra_packages {
            let pinned = extra
                .rsplit_once('@')
                .is_some_and(|(name, v)| !name.is_empty() && !name.starts_with('-') && exact(v));
            if !pinned {
                return Err(format!(
                    "agent {}: extra package {extra:?} must be name@exact-version",
                    self.id
                ));
            }
        }
        if self.bin.is_empty() {
            return Err(format!("agent {}: `bin` names no executable", self.id));
        }
        for path in self.bin.iter().chain(&self.transcript) {
            validate_relative_path("path", path).map_err(|e| format!("agent {}: {e}", self.id))?;
        }
        Ok(())
    }

    /// The name shown to users.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    pub fn install_spec(&self) -> InstallSpec {
        InstallSpec {
            npm_package: self.package.clone(),
            version: self.version.clone(),
            extra_packages: self.extra_packages.clone(),
            binary_candidates: self.bin.clone(),
        }
    }

    /// The permission modes it supports: the built-in flavors configure the agent per mode;
    /// an agent from the config file runs as it is configured (it may still ask, and its
    /// requests go to the user).
    pub fn permission_modes(&self) -> Vec<PermissionMode> {
        match self.flavor {
            Flavor::OpenCode => PermissionMode::ALL.to_vec(),
            Flavor::Codex => crate::codex::PERMISSION_MODES.to_vec(),
            Flavor::Generic => vec![PermissionMode::Bypass],
        }
    }

    /// The process: `bin args`, in the workspace, with `HOME`, `PATH`, the flavor's env, the
    /// spec's env (placeholders replaced) and the profile's env (minus the names set before).
    pub fn launch_spec(&self, ctx: &LaunchContext<'_>) -> LaunchSpec {
        let home = ctx.home_dir.trim_end_matches('/');
        let model = self.model(ctx.profile);
        let base_url = ctx.base_url.clone().unwrap_or_default();
        let api_key = ctx.api_key.clone().unwrap_or_default();
        let fill = |value: &str| {
            value
                .replace("{baseUrl}", &base_url)
                .replace("{apiKey}", &api_key)
                .replace("{model}", model.as_deref().unwrap_or(""))
                .replace("{home}", home)
                .replace("{workspace}", &ctx.workspace_dir)
        };
        let mut env = BTreeMap::new();
        env.insert("HOME".to_string(), home.to_string());
        env.insert("PATH".to_string(), PATH.to_string());
        let mut args = self.args.clone();
        match self.flavor {
            Flavor::OpenCode => crate::opencode::launch_env(ctx, model.as_deref(), &mut env),
            Flavor::Codex => crate::codex::launch(ctx, model.as_deref(), &mut env, &mut args),
            Flavor::Generic => {}
        }
        for (name, value) in &self.env {
            env.insert(name.clone(), fill(value));
        }
        // Whatever the runtime set (home, path, the flavor's configuration and key, the
        // spec's env) stays as it is.
        let reserved: Vec<String> = env.keys().cloned().collect();
        ctx.spec(args, env, |name| reserved.iter().any(|r| r == name))
    }

    fn model(&self, profile: &AgentProfile) -> Option<String> {
        profile
            .model
            .clone()
            .filter(|m| !m.trim().is_empty())
            .or_else(|| self.default_model.clone())
    }

    /// The profile in the agent's layout: the flavor's files, and `profile.files` in the
    /// workspace.
    pub fn profile_files(
        &self,
        profile: &AgentProfile,
    ) -> Result<Vec<ProfileFileWrite>, AgentError> {
        let mut files = match self.flavor {
            Flavor::OpenCode => crate::opencode::profile_files(profile),
            Flavor::Codex => crate::codex::profile_files(profile),
            Flavor::Generic => Vec::new(),
        };
        files.extend(workspace_files(profile)?);
        Ok(files)
    }

    /// The transcript files among `home_files`, stored under their home path.
    pub fn transcript_files_to_save(&self, home_files: &[String]) -> Vec<TranscriptFile> {
        let mut files: Vec<TranscriptFile> = home_files
            .iter()
            .filter(|path| self.is_transcript(path))
            .map(|path| TranscriptFile {
                home_path: path.clone(),
                name: path.clone(),
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        files
    }

    /// Whether the home file `path` is one of the transcript's: a pattern matches it segment by
    /// segment, `*` standing for any part of one segment and `**` for any number of segments.
    fn is_transcript(&self, path: &str) -> bool {
        let path: Vec<&str> = path.split('/').collect();
        self.transcript.iter().any(|pattern| {
            let pattern: Vec<&str> = pattern.split('/').collect();
            glob_segments(&pattern, &path)
        })
    }

    /// Where a stored transcript file goes back: its own home path, if the spec names it.
    pub fn transcript_restore_path(&self, name: &str) -> Result<String, AgentError> {
        validate_relative_path("transcript file name", name)?;
        if self.is_transcript(name) {
            Ok(name.to_string())
        } else {
            Err(AgentError::InvalidPath {
                what: "transcript file name",
                value: name.to_string(),
                reason: "is not one of the agent's transcript files",
            })
        }
    }

    /// Whether the agent's session `agent_session_id` is in the transcript files: the agent
    /// named it (the runtime stores the id the agent reported), and its store holds it.
    pub fn can_resume(&self, transcript: &[(String, String)], agent_session_id: &str) -> bool {
        !self.transcript.is_empty()
            && !agent_session_id.is_empty()
            && transcript
                .iter()
                .any(|(_, content)| content.contains(agent_session_id))
    }

    /// Whether it reports plans (ACP `plan` updates). OpenCode 1.18 keeps its todo list in a
    /// tool call instead; any other agent may send them.
    pub fn sends_plans(&self) -> bool {
        self.flavor != Flavor::OpenCode
    }

    /// Whether the agent can resume in a fresh sandbox at all.
    pub fn resumes(&self) -> bool {
        !self.transcript.is_empty()
    }

    /// MCP servers of the profile in ACP's form (`{name, command, args, env: [{name, value}]}`
    /// for stdio servers, `{type: "http"|"sse", name, url, headers: [...]}` otherwise).
    pub fn mcp_servers(profile: &AgentProfile) -> Vec<Value> {
        profile
            .mcp_servers
            .iter()
            .filter_map(|(name, server)| mcp_server(name, server))
            .collect()
    }
}

fn glob_segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| glob_segments(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, tail)) => glob_segment(first, segment) && glob_segments(rest, tail),
            None => false,
        },
    }
}

/// `*` in `pattern` matches any run of characters of one segment.
fn glob_segment(pattern: &str, segment: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == segment;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !segment.starts_with(first)
        || segment.len() < first.len() + last.len()
        || !segment.ends_with(last)
    {
        return false;
    }
    let mut rest = &segment[first.len()..segment.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

fn name_values(map: Option<&Value>) -> Value {
    Value::Array(
        map.and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, value)| {
                serde_json::json!({"name": name, "value": value.as_str().unwrap_or_default()})
            })
            .collect(),
    )
}

fn mcp_server(name: &str, server: &Value) -> Option<Value> {
    if let Some(command) = server.get("command").and_then(Value::as_str) {
        return Some(serde_json::json!({
            "name": name,
            "command": command,
            "args": server.get("args").cloned().unwrap_or_else(|| serde_json::json!([])),
            "env": name_values(server.get("env")),
        }));
    }
    let url = server.get("url").and_then(Value::as_str)?;
    let kind = match server.get("type").and_then(Value::as_str) {
        Some("sse") => "sse",
        _ => "http",
    };
    Some(serde_json::json!({
        "type": kind,
        "name": name,
        "url": url,
        "headers": name_values(server.get("headers")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_patterns_match_by_segment() {
        let glob = |p: &str, path: &str| {
            let p: Vec<&str> = p.split('/').collect();
            let path: Vec<&str> = path.split('/').collect();
            glob_segments(&p, &path)
        };
        assert!(glob(
            ".codex/sessions/**/rollout-*.jsonl",
            ".codex/sessions/2026/11/28/rollout-1-abc.jsonl"
        ));
        assert!(glob(
            ".codex/sessions/**/rollout-*.jsonl",
            ".codex/sessions/rollout-x.jsonl"
        ));
        assert!(!glob(
            ".codex/sessions/**/rollout-*.jsonl",
            ".codex/sessions/2026/log.jsonl"
        ));
        assert!(!glob(".codex/sessions/*", ".codex/sessions/a/b"));
        assert!(glob("a/*b*c", "a/xxbyyc"));
        assert!(!glob("a/*b*c", "a/xxc"));
        assert!(glob("exact.db", "exact.db"));
        assert!(!glob("exact.db", "exact.db-wal"));
    }

    #[test]
    fn config_specs_are_validated() {
        let spec: AcpAgentSpec = serde_json::from_value(serde_json::json!({
            "id": "my-agent", "package": "@acme/agent", "version": "1.2.3",
            "bin": ["node_modules/.bin/agent"], "args": ["--acp"], "model_api": "openai",
            "env": {"MY_URL": "{baseUrl}/v1"}, "transcript": [".agent/*.json"]
        }))
        .unwrap();
        spec.validate().unwrap();
        assert_eq!(spec.model_api, ModelApi::OpenAi);
        for bad in [
            serde_json::json!({"id": "bad id", "package": "p", "version": "1", "bin": ["b"], "model_api": "anthropic"}),
            serde_json::json!({"id": "a", "package": "p", "version": "^1.0", "bin": ["b"], "model_api": "anthropic"}),
            serde_json::json!({"id": "a", "package": "p", "version": "1", "bin": ["../b"], "model_api": "anthropic"}),
            serde_json::json!({"id": "a", "package": "p", "version": "1", "bin": ["b"], "extra_packages": ["x"], "model_api": "anthropic"}),
            serde_json::json!({"id": "a", "package": "--registry=http://evil", "version": "1", "bin": ["b"], "model_api": "anthropic"}),
            serde_json::json!({"id": "a", "package": "p", "version": "1", "bin": ["b"], "extra_packages": ["--x@1"], "model_api": "anthropic"}),
        ] {
            let spec: AcpAgentSpec = serde_json::from_value(bad.clone()).unwrap();
            assert!(spec.validate().is_err(), "{bad}");
        }
        let unknown = serde_json::json!({"id": "a", "package": "p", "version": "1", "bin": ["b"], "model_api": "anthropic", "oops": 1});
        assert!(serde_json::from_value::<AcpAgentSpec>(unknown).is_err());
    }
}
