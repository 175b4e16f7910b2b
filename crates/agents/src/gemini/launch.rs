//! Installing and starting Gemini CLI: one headless `gemini` process per turn, the user message
//! on its stdin (B.1, B.4).

use std::collections::BTreeMap;

use crate::kind::InstallSpec;
use agent_runtime_protocol::PermissionMode;

use crate::launch::{LaunchContext, LaunchSpec};

/// The npm package of Gemini CLI.
pub const NPM_PACKAGE: &str = "@google/gemini-cli";

/// The pinned version: the one `docs/agent-formats.md` and the fixtures describe.
pub const VERSION: &str = "0.61.0";

/// The model when the profile names none. Always a concrete model: the CLI's own default is the
/// `auto` router, which picks a model per request (and calls the API to decide).
pub const DEFAULT_MODEL: &str = "gemini-2.5-pro";

/// Where [`super::profile::profile_files`] writes a profile's system prompt, relative to the
/// home directory; `GEMINI_SYSTEM_MD` points at it.
pub const SYSTEM_PROMPT_PATH: &str = ".gemini/agent-runtime-system.md";

/// `PATH` of the agent process. The launcher is a Node script (`#!/usr/bin/env node`), so the
/// system's `node` must be on it.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Whether a profile `env` entry may be set. The runtime owns where the agent keeps its state
/// (`HOME`, `GEMINI_CLI_HOME`, the settings and trust paths), which model API it talks to and
/// with which credentials (every `GEMINI_API*`, `GOOGLE_*`; the model itself is
/// `AgentProfile::model`), the system prompt file (`GEMINI_SYSTEM_MD`, from
/// `AgentProfile::system_prompt`) and `GEMINI_CLI_NO_RELAUNCH`. Entries for these are dropped.
pub fn is_reserved_env(name: &str) -> bool {
    matches!(
        name,
        "HOME"
            | "GEMINI_CLI_HOME"
            | "GEMINI_CLI_SYSTEM_SETTINGS_PATH"
            | "GEMINI_CLI_TRUSTED_FOLDERS_PATH"
            | "GEMINI_SYSTEM_MD"
            | "GEMINI_CLI_NO_RELAUNCH"
    ) || name.starts_with("GEMINI_API")
        || name.starts_with("GOOGLE_")
}

/// The install spec: a Node package whose `.bin/gemini` is the bundle's entry script.
pub fn install_spec() -> InstallSpec {
    InstallSpec {
        npm_package: NPM_PACKAGE.to_string(),
        version: VERSION.to_string(),
        extra_packages: Vec::new(),
        binary_candidates: vec![
            "node_modules/.bin/gemini".to_string(),
            "node_modules/@google/gemini-cli/bundle/gemini.js".to_string(),
        ],
    }
}

/// The launch spec of one turn (B.1, B.4):
/// - args: `--model <profile model or DEFAULT_MODEL> --output-format stream-json --yolo`
///   (headless mode drops every tool that would ask for approval otherwise, B.1; in permission
///   mode `plan`, `--approval-mode plan` instead: read-only, nothing to ask), then
///   `--session-id S` (first turn) or `--resume S` (the chat file was restored or written by an
///   earlier turn). No `-p`/`--prompt`: the message is stdin ([`per_turn_stdin`]), and the CLI
///   runs headless because its stdin is not a terminal;
/// - env: `HOME`, `PATH`, `GEMINI_CLI_NO_RELAUNCH=true` (the CLI would otherwise re-exec itself
///   under a second Node process with a larger heap: the runtime's process is the CLI itself, and
///   a turn starts one Node, not two), `GOOGLE_GEMINI_BASE_URL` / `GEMINI_API_KEY` when given,
///   `GEMINI_SYSTEM_MD=<home>/`[`SYSTEM_PROMPT_PATH`] when the profile has a system prompt, then
///   the profile's env minus [`is_reserved_env`] names;
/// - cwd: the workspace.
///
/// Settings (auth type, trust, telemetry, session retention, MCP servers) and prompts are files,
/// see [`super::profile::profile_files`].
pub fn launch_spec(ctx: &LaunchContext<'_>) -> LaunchSpec {
    let profile = ctx.profile;
    let model = profile
        .model
        .as_deref()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or(DEFAULT_MODEL);
    let session_flag = if ctx.resume {
        "--resume"
    } else {
        "--session-id"
    };
    let approval: &[&str] = match ctx.permission_mode {
        PermissionMode::Plan => &["--approval-mode", "plan"],
        // The runtime refuses asking modes for this agent (it cannot ask headless).
        PermissionMode::Bypass | PermissionMode::Default | PermissionMode::AcceptEdits => {
            &["--yolo"]
        }
    };
    let args: Vec<String> = ["--model", model, "--output-format", "stream-json"]
        .iter()
        .chain(approval)
        .chain(&[session_flag, ctx.agent_session_id.as_str()])
        .map(|s| s.to_string())
        .collect();

    let home = ctx.home_dir.trim_end_matches('/');
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: &str| {
        env.insert(k.to_string(), v.to_string());
    };
    set("HOME", home);
    set("PATH", PATH);
    set("GEMINI_CLI_NO_RELAUNCH", "true");
    if let Some(url) = &ctx.base_url {
        set("GOOGLE_GEMINI_BASE_URL", url);
    }
    if let Some(key) = &ctx.api_key {
        set("GEMINI_API_KEY", key);
    }
    if profile.system_prompt.is_some() {
        set("GEMINI_SYSTEM_MD", &format!("{home}/{SYSTEM_PROMPT_PATH}"));
    }
    ctx.spec(args, env, is_reserved_env)
}

/// The whole stdin of a turn's process: the user message, as is. Headless Gemini CLI 0.61 reads
/// stdin to its end as the prompt (up to 8 MiB; beyond that it truncates with a warning), so a
/// message of any shape arrives intact: leading `-`, newlines, quotes, far beyond the 128 KiB a
/// single argument may hold. Two constraints on the writer: the first bytes must be there within
/// 500 ms of the CLI starting to read (otherwise it takes stdin as empty and exits with "No input
/// provided"), which writing right after the start satisfies; and no `-p` may be given as well,
/// or the CLI joins the two (`<stdin>\n\n<prompt>`).
pub fn per_turn_stdin(text: &str) -> String {
    text.to_string()
}

#[cfg(test)]
mod tests {
    use agent_runtime_protocol::AgentProfile;
    use pretty_assertions::assert_eq;

    use super::*;

    fn ctx(profile: &AgentProfile, resume: bool) -> LaunchContext<'_> {
        LaunchContext {
            program: "/opt/agent-tools/gemini/node_modules/.bin/gemini".into(),
            workspace_dir: "/workspace".into(),
            home_dir: "/home/agent/".into(),
            agent_session_id: "11111111-2222-3333-4444-555555555555".into(),
            resume,
            base_url: Some("http://10.0.2.2:8080".into()),
            api_key: Some("test-gemini-key".into()),
            profile,
            permission_mode: PermissionMode::Bypass,
        }
    }

    #[test]
    fn first_turn_starts_the_session_with_the_default_model() {
        let profile = AgentProfile::default();
        let spec = launch_spec(&ctx(&profile, false));
        assert_eq!(
            spec.args,
            vec![
                "--model",
                DEFAULT_MODEL,
                "--output-format",
                "stream-json",
                "--yolo",
                "--session-id",
                "11111111-2222-3333-4444-555555555555",
            ]
        );
        assert_eq!(spec.cwd, "/workspace");
        let env: Vec<(&str, &str)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            env,
            vec![
                ("GEMINI_API_KEY", "test-gemini-key"),
                ("GEMINI_CLI_NO_RELAUNCH", "true"),
                ("GOOGLE_GEMINI_BASE_URL", "http://10.0.2.2:8080"),
                ("HOME", "/home/agent"),
                ("PATH", PATH),
            ]
        );
    }

    #[test]
    fn later_turns_resume_with_the_profile_model_system_prompt_and_env() {
        let profile = AgentProfile {
            model: Some("gemini-2.5-flash".into()),
            system_prompt: Some("You are terse.".into()),
            append_system_prompt: Some("Sign with G.".into()),
            instructions: Some("Be kind.".into()),
            env: [
                ("FOO".to_string(), "bar".to_string()),
                ("GEMINI_API_KEY".to_string(), "stolen".to_string()),
                (
                    "GOOGLE_GEMINI_BASE_URL".to_string(),
                    "http://evil".to_string(),
                ),
                ("HOME".to_string(), "/root".to_string()),
            ]
            .into_iter()
            .collect(),
            ..AgentProfile::default()
        };
        let spec = launch_spec(&ctx(&profile, true));
        assert_eq!(
            spec.args,
            vec![
                "--model",
                "gemini-2.5-flash",
                "--output-format",
                "stream-json",
                "--yolo",
                "--resume",
                "11111111-2222-3333-4444-555555555555",
            ]
        );
        assert_eq!(spec.env["FOO"], "bar");
        assert_eq!(spec.env["GEMINI_API_KEY"], "test-gemini-key");
        assert_eq!(spec.env["GOOGLE_GEMINI_BASE_URL"], "http://10.0.2.2:8080");
        assert_eq!(spec.env["HOME"], "/home/agent");
        // The system prompt is a file the environment names; the others are files too
        // (`super::profile`): no prompt text in the spec.
        assert_eq!(
            spec.env["GEMINI_SYSTEM_MD"],
            "/home/agent/.gemini/agent-runtime-system.md"
        );
        let shown = serde_json::to_string(&spec).unwrap();
        for prompt in ["You are terse.", "Sign with G.", "Be kind."] {
            assert!(!shown.contains(prompt), "{prompt} in {shown}");
        }
    }

    #[test]
    fn the_message_is_the_whole_stdin_unchanged() {
        let long = format!("-{}", "x\"'\n".repeat(300 * 1024 / 4));
        for message in [
            "--create hello.txt",
            "line one\n\"two\" 'three'\n",
            long.as_str(),
        ] {
            assert_eq!(per_turn_stdin(message), message);
        }
    }

    #[test]
    fn install_spec_prefers_the_bin_link() {
        let spec = install_spec();
        assert_eq!(spec.npm_package, "@google/gemini-cli");
        assert_eq!(spec.version, "0.61.0");
        assert_eq!(spec.binary_candidates[0], "node_modules/.bin/gemini");
    }

    #[test]
    fn plan_mode_is_geminis_read_only_approval_mode() {
        let profile = AgentProfile::default();
        let mut context = ctx(&profile, false);
        context.permission_mode = PermissionMode::Plan;
        let args = launch_spec(&context).args;
        assert!(!args.contains(&"--yolo".to_string()), "{args:?}");
        let i = args.iter().position(|a| a == "--approval-mode").unwrap();
        assert_eq!(args[i + 1], "plan");
    }
}
