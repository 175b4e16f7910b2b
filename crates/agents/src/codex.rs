//! Codex, driven over ACP by Zed's adapter `@zed-industries/codex-acp` (0.16.0), which embeds
//! Codex itself (codex-rs 0.137.0): the adapter is the whole agent, and the `@openai/codex` CLI
//! package is not needed to run it (it is not installed).
//!
//! Facts from the real adapter against the scripted Responses API (captures and how they were
//! made in `fixtures/codex-acp/`):
//! - it calls only `POST <base_url>/responses` (streaming), through a custom model provider
//!   given as `-c` overrides: `wire_api = "responses"` and `env_key = "OPENAI_API_KEY"` (the
//!   built-in `openai` provider ignores `OPENAI_BASE_URL` and wants an ACP `authenticate` call);
//! - its own sandbox (bubblewrap again) cannot run inside ours: `sandbox_mode =
//!   "danger-full-access"` turns it off, the runtime's sandbox is the boundary;
//! - `approval_policy = "never"` never asks; `"untrusted"` asks before every command that is not
//!   known to be safe, with options `approved` (allow_once), `approved-execpolicy-amendment`
//!   (allow_always) and `abort` (reject_once);
//! - sessions are `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<session id>.jsonl`; that one
//!   file restored anywhere under `sessions/` is enough for `session/load`;
//! - it reports no cost, and tokens only as the context window's fill (`usage_update.used`), so
//!   its turns carry no usage.

use std::collections::BTreeMap;

use agent_runtime_protocol::{AgentProfile, PermissionMode};

use crate::acp::{AcpAgentSpec, Flavor};
use crate::files::ProfileFileWrite;
use crate::kind::ModelApi;
use crate::launch::LaunchContext;
use crate::profile_layout::{home_file, joined_prompts};

/// The ACP adapter's npm package.
pub const NPM_PACKAGE: &str = "@zed-industries/codex-acp";

/// The adapter's pinned version.
pub const VERSION: &str = "0.16.0";

/// The model when the profile names none: one from Codex's bundled catalogue (an unknown model
/// works, but Codex then says so in the conversation and offers other tools).
pub const DEFAULT_MODEL: &str = "gpt-5.4";

/// `CODEX_HOME`, relative to the home directory.
pub const CODEX_HOME: &str = ".codex";

/// The profile's system prompt (and appended prompt), relative to the home directory; the
/// `model_instructions_file` override names it, and it replaces Codex's own instructions.
pub const SYSTEM_PROMPT_PATH: &str = ".codex/agent-runtime-instructions.md";

/// The permission modes it runs in: never asking, or asking before commands
/// (`approval_policy = "untrusted"`).
pub const PERMISSION_MODES: &[PermissionMode] = &[PermissionMode::Bypass, PermissionMode::Default];

/// The spec of the built-in `codex` agent.
pub fn spec() -> AcpAgentSpec {
    AcpAgentSpec {
        id: "codex".into(),
        name: Some("Codex".into()),
        package: NPM_PACKAGE.into(),
        version: VERSION.into(),
        extra_packages: Vec::new(),
        // The package's platform binary; `.bin/codex-acp` is a Node shim that spawns it.
        bin: vec![
            "node_modules/@zed-industries/codex-acp-linux-x64/bin/codex-acp".into(),
            "node_modules/@zed-industries/codex-acp-linux-arm64/bin/codex-acp".into(),
            "node_modules/.bin/codex-acp".into(),
        ],
        args: Vec::new(),
        model_api: ModelApi::OpenAi,
        env: BTreeMap::new(),
        default_model: Some(DEFAULT_MODEL.into()),
        transcript: vec![format!("{CODEX_HOME}/sessions/**/rollout-*.jsonl")],
        flavor: Flavor::Codex,
    }
}

/// A `-c key=value` override; values are TOML (strings as JSON string literals, which TOML
/// reads the same).
fn set(args: &mut Vec<String>, key: &str, value: &str) {
    args.push("-c".into());
    args.push(format!("{key}={}", serde_json::Value::from(value)));
}

/// `CODEX_HOME`, the placeholder key, and the provider, model and policies as overrides.
pub(crate) fn launch(
    ctx: &LaunchContext<'_>,
    model: Option<&str>,
    env: &mut BTreeMap<String, String>,
    args: &mut Vec<String>,
) {
    let home = ctx.home_dir.trim_end_matches('/');
    env.insert("CODEX_HOME".into(), format!("{home}/{CODEX_HOME}"));
    if let Some(key) = &ctx.api_key {
        env.insert("OPENAI_API_KEY".into(), key.clone());
    }
    let base = ctx
        .base_url
        .as_deref()
        .unwrap_or(ModelApi::OpenAi.default_base_url())
        .trim_end_matches('/');
    let approval = match ctx.permission_mode {
        PermissionMode::Bypass => "never",
        PermissionMode::Default | PermissionMode::AcceptEdits | PermissionMode::Plan => "untrusted",
    };
    set(args, "model", model.unwrap_or(DEFAULT_MODEL));
    set(args, "model_provider", "agent-runtime");
    set(args, "approval_policy", approval);
    set(args, "sandbox_mode", "danger-full-access");
    set(args, "model_providers.agent-runtime.name", "agent-runtime");
    set(
        args,
        "model_providers.agent-runtime.base_url",
        &format!("{base}/v1"),
    );
    set(args, "model_providers.agent-runtime.wire_api", "responses");
    set(
        args,
        "model_providers.agent-runtime.env_key",
        "OPENAI_API_KEY",
    );
    if has_system_prompt(ctx.profile) {
        set(
            args,
            "model_instructions_file",
            &format!("{home}/{SYSTEM_PROMPT_PATH}"),
        );
    }
}

fn has_system_prompt(profile: &AgentProfile) -> bool {
    profile
        .system_prompt
        .as_deref()
        .is_some_and(|p| !p.trim().is_empty())
}

/// `$CODEX_HOME/config.toml` (Codex refuses to start without its home; the settings come as
/// `-c` overrides, see [`launch`]); a system prompt with the appended prompt after it as the
/// model's instructions ([`SYSTEM_PROMPT_PATH`]); the instructions (and the appended prompt, when
/// there is no system prompt to follow) as Codex's global `AGENTS.md`, which it sends with the
/// first user message.
pub(crate) fn profile_files(profile: &AgentProfile) -> Vec<ProfileFileWrite> {
    let mut files = vec![home_file(
        format!("{CODEX_HOME}/config.toml"),
        "# Written by agent-runtime; the settings are given as -c overrides.\n".to_string(),
    )];
    let append = profile.append_system_prompt.as_deref();
    let agents_md = if has_system_prompt(profile) {
        files.push(home_file(
            SYSTEM_PROMPT_PATH.to_string(),
            joined_prompts(&[profile.system_prompt.as_deref(), append]),
        ));
        joined_prompts(&[profile.instructions.as_deref()])
    } else {
        joined_prompts(&[profile.instructions.as_deref(), append])
    };
    if !agents_md.is_empty() {
        files.push(home_file(format!("{CODEX_HOME}/AGENTS.md"), agents_md));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_points_at_the_gateway_with_the_placeholder_key() {
        let profile = AgentProfile::default();
        let ctx = LaunchContext {
            program: "/tools/codex-acp".into(),
            workspace_dir: "/workspace".into(),
            home_dir: "/home/agent".into(),
            agent_session_id: "s".into(),
            resume: false,
            base_url: Some("http://127.0.0.1:3128".into()),
            api_key: Some("placeholder".into()),
            profile: &profile,
            permission_mode: PermissionMode::Bypass,
        };
        let launch = spec().launch_spec(&ctx);
        assert_eq!(launch.env["CODEX_HOME"], "/home/agent/.codex");
        assert_eq!(launch.env["OPENAI_API_KEY"], "placeholder");
        let args = launch.args.join(" ");
        assert!(
            args.contains(
                r#"-c model_providers.agent-runtime.base_url="http://127.0.0.1:3128/v1""#
            ),
            "{args}"
        );
        assert!(args.contains(r#"-c approval_policy="never""#), "{args}");
        assert!(
            args.contains(r#"-c sandbox_mode="danger-full-access""#),
            "{args}"
        );
        assert!(args.contains(r#"-c model="gpt-5.4""#), "{args}");
        let asking = spec().launch_spec(&LaunchContext {
            permission_mode: PermissionMode::Default,
            ..ctx
        });
        assert!(asking
            .args
            .join(" ")
            .contains(r#"approval_policy="untrusted""#));
    }

    #[test]
    fn the_rollout_file_is_the_transcript() {
        let spec = spec();
        spec.validate().unwrap();
        let files = spec.transcript_files_to_save(&[
            ".codex/sessions/2026/11/28/rollout-2026-11-28T12-00-00-0199.jsonl".into(),
            ".codex/state_5.sqlite".into(),
            ".codex/sessions/2026/11/28/other.jsonl".into(),
        ]);
        assert_eq!(files.len(), 1);
        assert!(spec
            .transcript_restore_path(".codex/sessions/2026/11/28/rollout-x.jsonl")
            .is_ok());
        assert!(spec.transcript_restore_path(".codex/config.toml").is_err());
    }
}
