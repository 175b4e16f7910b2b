//! Installing and starting Claude Code, and what to write to its stdin.
//!
//! The process runs `claude -p` with stream-json on both sides (A.1, A.6): one process serves
//! every turn of the sandbox's life, user messages and interrupts arrive as stdin lines.

use std::collections::BTreeMap;

use agent_runtime_protocol::PermissionMode;
use serde_json::{json, Value};

use crate::kind::InstallSpec;
use crate::launch::{LaunchContext, LaunchSpec};

/// The npm package of Claude Code.
pub const NPM_PACKAGE: &str = "@anthropic-ai/claude-code";

/// The pinned version: the one `docs/agent-formats.md` and the fixtures describe.
pub const VERSION: &str = "2.1.328";

/// Where [`super::profile::profile_files`] writes the profile's MCP servers, relative to the home
/// directory.
pub const MCP_CONFIG_PATH: &str = ".claude/agent-runtime-mcp.json";

/// Where [`super::profile::profile_files`] writes the profile's system prompt (which replaces
/// Claude Code's own), relative to the home directory; `--system-prompt-file` names it.
pub const SYSTEM_PROMPT_PATH: &str = ".claude/agent-runtime-system-prompt.md";

/// Where [`super::profile::profile_files`] writes the profile's text appended to the system
/// prompt, relative to the home directory; `--append-system-prompt-file` names it.
pub const APPEND_SYSTEM_PROMPT_PATH: &str = ".claude/agent-runtime-append-system-prompt.md";

/// `PATH` of the agent process.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Flags every launch has: headless, stream-json both ways, token deltas, and foreground
/// subagents' text (otherwise only their tool calls reach stdout, A.5).
const BASE_ARGS: &[&str] = &[
    "-p",
    "--input-format",
    "stream-json",
    "--output-format",
    "stream-json",
    "--verbose",
    "--include-partial-messages",
    "--forward-subagent-text",
];

/// The permission flags of a mode: `bypass` never asks (the sandbox is the boundary); every other
/// mode is Claude Code's own, with its prompts sent to the runtime as `can_use_tool` control
/// requests on stdout (`--permission-prompt-tool stdio`).
fn permission_args(mode: PermissionMode) -> Vec<&'static str> {
    let claude_mode = match mode {
        PermissionMode::Bypass => return vec!["--permission-mode", "bypassPermissions"],
        PermissionMode::Default => "default",
        PermissionMode::AcceptEdits => "acceptEdits",
        PermissionMode::Plan => "plan",
    };
    vec![
        "--permission-mode",
        claude_mode,
        "--permission-prompt-tool",
        "stdio",
    ]
}

/// A deny (or ask) rule as Claude Code enforces it. Its path rules name `Edit` for every
/// file-writing tool (verified: `Write(src/**)` is ignored, `Edit(src/**)` refuses a Write
/// there), so the rules of `Write`, `MultiEdit` and `NotebookEdit` with a pattern are given as
/// `Edit` rules too. A bare tool name removes the tool.
pub fn native_rules(rule: &str) -> Vec<String> {
    let mut rules = vec![rule.to_string()];
    for tool in ["Write(", "MultiEdit(", "NotebookEdit("] {
        if let Some(rest) = rule.strip_prefix(tool) {
            rules.push(format!("Edit({rest}"));
        }
    }
    rules
}

/// Whether a profile `env` entry may be set. The runtime owns where the agent keeps its state
/// (`HOME`, `CLAUDE_CONFIG_DIR`), which model API it talks to and with which credentials
/// (every `ANTHROPIC_*`; the model itself is `AgentProfile::model`), and `IS_SANDBOX` (required
/// for `bypassPermissions`). Entries for these are dropped; everything else, `PATH` and the
/// `DISABLE_*` switches included, may be overridden by the profile.
pub fn is_reserved_env(name: &str) -> bool {
    matches!(name, "HOME" | "CLAUDE_CONFIG_DIR" | "IS_SANDBOX") || name.starts_with("ANTHROPIC_")
}

/// The install spec for the CPU architecture `arch` (as in `std::env::consts::ARCH`). The npm
/// package ships the native binary in an arch-specific optional dependency; `.bin/claude` is the
/// fallback launcher.
pub fn install_spec(arch: &str) -> InstallSpec {
    let npm_arch = match arch {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    };
    InstallSpec {
        npm_package: NPM_PACKAGE.to_string(),
        version: VERSION.to_string(),
        extra_packages: Vec::new(),
        binary_candidates: vec![
            format!("node_modules/@anthropic-ai/claude-code-linux-{npm_arch}/claude"),
            "node_modules/.bin/claude".to_string(),
        ],
    }
}

/// The launch spec (A.1, A.6, A.7, A.11):
/// - args: `-p`, stream-json input and output, `--verbose --include-partial-messages
///   --forward-subagent-text`, the permission mode's flags (`permission_args`), then
///   `--session-id S` (first launch) or `--resume S` (a transcript was restored), then per
///   profile `--model`, `--system-prompt-file <home>/`[`SYSTEM_PROMPT_PATH`],
///   `--append-system-prompt-file <home>/`[`APPEND_SYSTEM_PROMPT_PATH`],
///   `--allowedTools <each>`, `--disallowedTools <each>` (with the deny rules, [`native_rules`]),
///   `--settings` with the ask rules in the modes that ask, and, when it names MCP servers,
///   `--mcp-config <home>/`[`MCP_CONFIG_PATH`]` --strict-mcp-config`. Every file comes with
///   [`super::profile::profile_files`]; prompts are files, not arguments (see
///   [`crate::launch`]), and user messages arrive on stdin ([`encode_user_message`]);
/// - env: `HOME`, `CLAUDE_CONFIG_DIR=<home>/.claude`, `PATH`, `IS_SANDBOX=1`,
///   `DISABLE_TELEMETRY=1`, `DISABLE_AUTOUPDATER=1`, `DISABLE_ERROR_REPORTING=1`,
///   `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`,
///   `ANTHROPIC_BASE_URL` / `ANTHROPIC_API_KEY` when given, then the profile's env minus
///   [`is_reserved_env`] names;
/// - cwd: the workspace.
pub fn launch_spec(ctx: &LaunchContext<'_>) -> LaunchSpec {
    let profile = ctx.profile;
    let mut args: Vec<String> = BASE_ARGS.iter().map(|s| s.to_string()).collect();
    args.extend(
        permission_args(ctx.permission_mode)
            .into_iter()
            .map(str::to_string),
    );
    let session_flag = if ctx.resume {
        "--resume"
    } else {
        "--session-id"
    };
    args.extend([session_flag.to_string(), ctx.agent_session_id.clone()]);
    let home = ctx.home_dir.trim_end_matches('/');
    let mut flag = |name: &str, value: &str| args.extend([name.to_string(), value.to_string()]);
    if let Some(model) = &profile.model {
        flag("--model", model);
    }
    if profile.system_prompt.is_some() {
        flag(
            "--system-prompt-file",
            &format!("{home}/{SYSTEM_PROMPT_PATH}"),
        );
    }
    if profile.append_system_prompt.is_some() {
        flag(
            "--append-system-prompt-file",
            &format!("{home}/{APPEND_SYSTEM_PROMPT_PATH}"),
        );
    }
    // The profile's deny rules hold in every mode, also where the CLI would not ask: Claude Code
    // enforces them itself (the runtime also applies them to every request that reaches it).
    let mut disallowed = profile.disallowed_tools.clone();
    for rule in &profile.permissions.deny {
        for native in native_rules(rule) {
            if !disallowed.contains(&native) {
                disallowed.push(native);
            }
        }
    }
    // Both are variadic in the CLI: one flag, then every rule as its own argument (rules may
    // contain commas and spaces). The next argument is always a flag, which ends the list.
    for (name, rules) in [
        ("--allowedTools", &profile.allowed_tools),
        ("--disallowedTools", &disallowed),
    ] {
        if !rules.is_empty() {
            args.push(name.to_string());
            args.extend(rules.iter().cloned());
        }
    }
    // Ask rules must reach the CLI too: what its mode allows on its own (read-only commands,
    // edits under acceptEdits) would never be asked otherwise. Only where someone answers.
    if ctx.permission_mode != PermissionMode::Bypass && !profile.permissions.ask.is_empty() {
        let ask: Vec<String> = profile
            .permissions
            .ask
            .iter()
            .map(String::as_str)
            .flat_map(native_rules)
            .collect();
        let settings = json!({ "permissions": { "ask": ask } });
        args.extend(["--settings".to_string(), settings.to_string()]);
    }
    if !profile.mcp_servers.is_empty() {
        // A file, not inline JSON: server configs can carry credentials, and args are logged.
        args.extend([
            "--mcp-config".to_string(),
            format!("{home}/{MCP_CONFIG_PATH}"),
            "--strict-mcp-config".to_string(),
        ]);
    }

    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: &str| {
        env.insert(k.to_string(), v.to_string());
    };
    set("HOME", home);
    set("CLAUDE_CONFIG_DIR", &format!("{home}/.claude"));
    set("PATH", PATH);
    set("IS_SANDBOX", "1");
    set("DISABLE_TELEMETRY", "1");
    set("DISABLE_AUTOUPDATER", "1");
    set("DISABLE_ERROR_REPORTING", "1");
    // Everything but the model API (update checks, feature flags, connectivity probes): in a
    // sandbox whose one way out is the egress proxy, it would only show up as refusals.
    set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
    if let Some(url) = &ctx.base_url {
        set("ANTHROPIC_BASE_URL", url);
    }
    if let Some(key) = &ctx.api_key {
        set("ANTHROPIC_API_KEY", key);
    }
    ctx.spec(args, env, is_reserved_env)
}

/// A user turn (A.6), as one stdin line with its trailing `\n`.
pub fn encode_user_message(text: &str) -> String {
    let line = json!({
        "type": "user",
        "message": { "role": "user", "content": text },
        "parent_tool_use_id": null,
        "session_id": "",
    });
    format!("{line}\n")
}

/// An interrupt of the running turn (A.6): a `control_request` envelope (a bare
/// `{"subtype":"interrupt"}` is silently ignored by the CLI), as one stdin line with its
/// trailing `\n`.
pub fn encode_interrupt(request_id: &str) -> String {
    let line = json!({
        "type": "control_request",
        "request_id": request_id,
        "request": { "subtype": "interrupt" },
    });
    format!("{line}\n")
}

/// The `request_id` of the readiness probe ([`encode_readiness_probe`]).
const READINESS_PROBE_ID: &str = "agent-runtime-ready";

/// A request the CLI answers once it is up and reading stdin, without touching the
/// conversation: an `initialize` control request (A.6; its answer lists the commands, agents
/// and models, and the translator ignores it). One stdin line with its trailing `\n`.
pub fn encode_readiness_probe() -> String {
    let line = json!({
        "type": "control_request",
        "request_id": READINESS_PROBE_ID,
        "request": { "subtype": "initialize" },
    });
    format!("{line}\n")
}

/// Whether a stdout line is the CLI's answer to [`encode_readiness_probe`] (success or error:
/// either way it is reading its input).
pub fn answers_readiness_probe(line: &str) -> bool {
    // The answer is large (the command catalog); most lines are not answers at all.
    if !line.contains(READINESS_PROBE_ID) {
        return false;
    }
    serde_json::from_str::<Value>(line).is_ok_and(|value| {
        value["type"] == "control_response" && value["response"]["request_id"] == READINESS_PROBE_ID
    })
}

/// The answer to a `can_use_tool` request (A.6), as one stdin line with its trailing `\n`:
/// allow with the input to run (questions: the input with the user's `answers`) and the
/// permission updates the user chose, or deny with the message the model sees.
pub fn encode_ask_reply(agent_request_id: &str, reply: &crate::AskReply) -> String {
    let response = match reply {
        crate::AskReply::Allow { input, suggestions } => {
            let mut response = json!({ "behavior": "allow", "updatedInput": input });
            if !suggestions.is_empty() {
                response["updatedPermissions"] = Value::Array(suggestions.clone());
            }
            response
        }
        crate::AskReply::Deny { message } => json!({ "behavior": "deny", "message": message }),
        crate::AskReply::Answers { input, answers } => {
            let mut input = input.clone();
            if let Some(fields) = input.as_object_mut() {
                fields.insert("answers".into(), json!(answers));
            }
            json!({ "behavior": "allow", "updatedInput": input })
        }
    };
    let line = json!({
        "type": "control_response",
        "response": { "subtype": "success", "request_id": agent_request_id, "response": response },
    });
    format!("{line}\n")
}

#[cfg(test)]
#[path = "launch_tests.rs"]
mod tests;
