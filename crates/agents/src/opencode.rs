//! OpenCode 1.18 (`opencode-ai` on npm), the seed's second architecture, driven over ACP
//! (`opencode acp`).
//!
//! Facts from the real CLI against a scripted Anthropic API (captures in
//! `fixtures/opencode-acp/`, how they were made in its README):
//! - configuration comes whole from `OPENCODE_CONFIG_CONTENT` (JSON): the model, the Anthropic
//!   provider's `baseURL` (with `/v1`: it posts to `<baseURL>/messages`) and key, and the
//!   permission of each tool (`allow`, `ask`, `deny`), which is how the permission modes are
//!   made. `--pure` keeps external plugins out; models.dev and LSP downloads are switched off;
//! - sessions live in a SQLite database, `~/.local/share/opencode/opencode.db` (+ `-wal`). Those
//!   two files are the transcript: restored into a fresh home, `session/load` replays the
//!   conversation (as `session/update`s, which the translator drops) and the next prompt carries
//!   the whole history to the model;
//! - `usage_update` carries the session's cumulative cost; the prompt response the turn's tokens;
//! - its `todowrite` tool is a tool call (OpenCode 1.18 sends no ACP `plan`);
//! - on start it installs its plugin SDK into its config dir from npm unless that dir says it
//!   is there ([`profile_files`] does);
//! - `session/request_permission` offers `once` (allow_once), `always` (allow_always) and
//!   `reject` (reject_once).

use std::collections::BTreeMap;

use agent_runtime_protocol::{AgentProfile, PermissionMode};
use serde_json::{json, Value};

use crate::acp::{AcpAgentSpec, Flavor};
use crate::files::ProfileFileWrite;
use crate::kind::ModelApi;
use crate::launch::LaunchContext;
use crate::profile_layout::{home_file, joined_prompts};

/// The npm package.
pub const NPM_PACKAGE: &str = "opencode-ai";

/// The pinned version the fixtures were captured with.
pub const VERSION: &str = "1.18.33";

/// The model when the profile names none.
pub const DEFAULT_MODEL: &str = "anthropic/claude-sonnet-4-5";

/// Global rules (OpenCode's `AGENTS.md`), relative to the home directory.
pub const RULES_PATH: &str = ".config/opencode/AGENTS.md";

/// The spec of the built-in `opencode` agent.
pub fn spec() -> AcpAgentSpec {
    AcpAgentSpec {
        id: "opencode".into(),
        name: Some("OpenCode".into()),
        package: NPM_PACKAGE.into(),
        version: VERSION.into(),
        extra_packages: Vec::new(),
        // The package's postinstall puts the platform's binary here.
        bin: vec![
            "node_modules/opencode-ai/bin/opencode.exe".into(),
            "node_modules/.bin/opencode".into(),
        ],
        args: vec!["acp".into(), "--pure".into()],
        model_api: ModelApi::Anthropic,
        env: BTreeMap::new(),
        default_model: Some(DEFAULT_MODEL.into()),
        transcript: vec![
            ".local/share/opencode/opencode.db".into(),
            ".local/share/opencode/opencode.db-wal".into(),
        ],
        flavor: Flavor::OpenCode,
    }
}

/// The permission of OpenCode's tools in `mode`.
fn permissions(mode: PermissionMode) -> Value {
    let (edit, bash, web, outside) = match mode {
        // The sandbox is the boundary: paths outside the workspace are the sandbox's too.
        PermissionMode::Bypass => ("allow", "allow", "allow", "allow"),
        PermissionMode::AcceptEdits => ("allow", "ask", "ask", "ask"),
        PermissionMode::Default => ("ask", "ask", "ask", "ask"),
        // Read-only: it may look and plan, not change anything or run commands.
        PermissionMode::Plan => ("deny", "deny", "allow", "ask"),
    };
    json!({"edit": edit, "bash": bash, "webfetch": web, "external_directory": outside})
}

/// `OPENCODE_CONFIG_CONTENT` and the switches that keep OpenCode off the network.
pub(crate) fn launch_env(
    ctx: &LaunchContext<'_>,
    model: Option<&str>,
    env: &mut BTreeMap<String, String>,
) {
    let model = model.unwrap_or(DEFAULT_MODEL);
    let model = if model.contains('/') {
        model.to_string()
    } else {
        format!("anthropic/{model}")
    };
    let mut provider = serde_json::Map::new();
    if let Some(base) = &ctx.base_url {
        provider.insert(
            "baseURL".into(),
            json!(format!("{}/v1", base.trim_end_matches('/'))),
        );
    }
    if let Some(key) = &ctx.api_key {
        provider.insert("apiKey".into(), json!(key));
    }
    let config = json!({
        "$schema": "https://opencode.ai/config.json",
        "model": model,
        "autoupdate": false,
        "share": "disabled",
        "provider": {"anthropic": {"options": provider}},
        "permission": permissions(ctx.permission_mode),
    });
    env.insert("OPENCODE_CONFIG_CONTENT".into(), config.to_string());
    for flag in [
        "OPENCODE_DISABLE_AUTOUPDATE",
        "OPENCODE_DISABLE_LSP_DOWNLOAD",
        "OPENCODE_DISABLE_MODELS_FETCH",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS",
    ] {
        env.insert(flag.into(), "1".into());
    }
}

/// What keeps OpenCode from fetching its plugin SDK from npm on every start: it installs
/// `@opencode-ai/plugin` into its config dir unless `node_modules` exists there and the lock file
/// lists the package. Plugins are off (`--pure`), so nothing is missing; without these the
/// sandbox's proxy refuses `registry.npmjs.org` at every start.
fn plugin_sdk_marker() -> Vec<ProfileFileWrite> {
    let lock = json!({
        "lockfileVersion": 3,
        "packages": {"": {"dependencies": {"@opencode-ai/plugin": VERSION}}},
    });
    vec![
        home_file(
            CONFIG_DIR.to_string() + "/node_modules/.keep",
            String::new(),
        ),
        home_file(
            CONFIG_DIR.to_string() + "/package-lock.json",
            lock.to_string(),
        ),
    ]
}

/// OpenCode's global config dir, relative to the home directory.
const CONFIG_DIR: &str = ".config/opencode";

/// The files every OpenCode sandbox gets ([`plugin_sdk_marker`]), and the profile's prompts as
/// OpenCode's global rules file: system prompt, instructions and appended prompt, in that order
/// (OpenCode has no way to replace its own system prompt).
pub(crate) fn profile_files(profile: &AgentProfile) -> Vec<ProfileFileWrite> {
    let mut files = plugin_sdk_marker();
    let rules = joined_prompts(&[
        profile.system_prompt.as_deref(),
        profile.instructions.as_deref(),
        profile.append_system_prompt.as_deref(),
    ]);
    if !rules.is_empty() {
        files.push(home_file(RULES_PATH.to_string(), rules));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(profile: &AgentProfile, mode: PermissionMode) -> LaunchContext<'_> {
        LaunchContext {
            program: "/opt/tools/opencode".into(),
            workspace_dir: "/workspace".into(),
            home_dir: "/home/agent".into(),
            agent_session_id: "ses_1".into(),
            resume: false,
            base_url: Some("http://127.0.0.1:3128/".into()),
            api_key: Some("placeholder-key".into()),
            profile,
            permission_mode: mode,
        }
    }

    #[test]
    fn the_config_points_at_the_gateway_and_sets_the_mode() {
        let profile = AgentProfile {
            model: Some("claude-opus-4-5".into()),
            ..AgentProfile::default()
        };
        let spec = spec().launch_spec(&ctx(&profile, PermissionMode::Default));
        assert_eq!(spec.args, vec!["acp", "--pure"]);
        assert_eq!(spec.cwd, "/workspace");
        let config: Value = serde_json::from_str(&spec.env["OPENCODE_CONFIG_CONTENT"]).unwrap();
        assert_eq!(config["model"], "anthropic/claude-opus-4-5");
        assert_eq!(
            config["provider"]["anthropic"]["options"]["baseURL"],
            "http://127.0.0.1:3128/v1"
        );
        assert_eq!(
            config["provider"]["anthropic"]["options"]["apiKey"],
            "placeholder-key"
        );
        assert_eq!(config["permission"]["bash"], "ask");
        let bypass = spec_for(PermissionMode::Bypass);
        assert_eq!(bypass["permission"]["edit"], "allow");
        let plan = spec_for(PermissionMode::Plan);
        assert_eq!(plan["permission"]["edit"], "deny");
        assert_eq!(plan["permission"]["bash"], "deny");
    }

    fn spec_for(mode: PermissionMode) -> Value {
        let profile = AgentProfile::default();
        let launch = spec().launch_spec(&ctx(&profile, mode));
        let config: Value = serde_json::from_str(&launch.env["OPENCODE_CONFIG_CONTENT"]).unwrap();
        assert_eq!(config["model"], DEFAULT_MODEL);
        config
    }

    #[test]
    fn the_profile_env_adds_but_never_overrides_what_the_runtime_set() {
        let profile = AgentProfile {
            env: [
                ("OPENCODE_CONFIG_CONTENT", "{}"),
                ("HOME", "/elsewhere"),
                ("MY_SETTING", "1"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..AgentProfile::default()
        };
        let launch = spec().launch_spec(&ctx(&profile, PermissionMode::Bypass));
        assert_eq!(launch.env["MY_SETTING"], "1");
        assert_eq!(launch.env["HOME"], "/home/agent");
        assert!(launch.env["OPENCODE_CONFIG_CONTENT"].contains("baseURL"));
    }

    #[test]
    fn prompts_become_the_global_rules_file() {
        let profile = AgentProfile {
            system_prompt: Some("Be terse.".into()),
            instructions: Some("Use tabs.".into()),
            ..AgentProfile::default()
        };
        let files = profile_files(&profile);
        let rules = files.iter().find(|f| f.path == RULES_PATH).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&rules.bytes),
            "Be terse.\n\nUse tabs."
        );
        let plain = profile_files(&AgentProfile::default());
        assert!(plain.iter().all(|f| f.path != RULES_PATH));
        let lock = plain
            .iter()
            .find(|f| f.path == ".config/opencode/package-lock.json")
            .unwrap();
        assert!(String::from_utf8_lossy(&lock.bytes).contains("@opencode-ai/plugin"));
    }

    #[test]
    fn the_spec_is_valid_and_resumes() {
        let spec = spec();
        spec.validate().unwrap();
        assert!(spec.resumes());
        let files = spec.transcript_files_to_save(&[
            ".local/share/opencode/opencode.db".into(),
            ".local/share/opencode/opencode.db-shm".into(),
            ".local/share/opencode/log/x.log".into(),
        ]);
        assert_eq!(files.len(), 1);
        assert!(spec.can_resume(&[("db".into(), "..ses_abc..".into())], "ses_abc"));
        assert!(!spec.can_resume(&[("db".into(), "..ses_abc..".into())], "ses_other"));
        assert!(spec.transcript_restore_path("../x").is_err());
        assert!(spec
            .transcript_restore_path(".local/share/opencode/opencode.db")
            .is_ok());
    }
}
