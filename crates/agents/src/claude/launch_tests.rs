use std::collections::BTreeMap;

use agent_runtime_protocol::{AgentProfile, PermissionMode, PermissionRules};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;

fn ctx<'a>(profile: &'a AgentProfile, resume: bool) -> LaunchContext<'a> {
    LaunchContext {
        program: "/opt/agent-tools/claude-code/2.1.328/node_modules/.bin/claude".into(),
        workspace_dir: "/workspace".into(),
        home_dir: "/home/agent".into(),
        agent_session_id: "11111111-2222-3333-4444-555555555555".into(),
        resume,
        base_url: Some("http://10.0.2.2:8080".into()),
        api_key: Some("sk-test-key".into()),
        profile,
        permission_mode: PermissionMode::Bypass,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn base_env() -> BTreeMap<String, String> {
    [
        ("ANTHROPIC_API_KEY", "sk-test-key"),
        ("ANTHROPIC_BASE_URL", "http://10.0.2.2:8080"),
        ("CLAUDE_CONFIG_DIR", "/home/agent/.claude"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("DISABLE_ERROR_REPORTING", "1"),
        ("DISABLE_TELEMETRY", "1"),
        ("HOME", "/home/agent"),
        ("IS_SANDBOX", "1"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn first_launch_with_an_empty_profile() {
    let profile = AgentProfile::default();
    assert_eq!(
        launch_spec(&ctx(&profile, false)),
        LaunchSpec {
            program: "/opt/agent-tools/claude-code/2.1.328/node_modules/.bin/claude".into(),
            args: strings(&[
                "-p",
                "--input-format",
                "stream-json",
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
                "--forward-subagent-text",
                "--permission-mode",
                "bypassPermissions",
                "--session-id",
                "11111111-2222-3333-4444-555555555555",
            ]),
            env: base_env(),
            cwd: "/workspace".into(),
        }
    );
}

#[test]
fn resumed_launch_with_a_full_profile() {
    let profile = AgentProfile {
        model: Some("claude-sonnet-4-5".into()),
        system_prompt: Some("You are terse.".into()),
        append_system_prompt: Some("Always cite files.".into()),
        allowed_tools: strings(&["Bash(git log:*)", "Read"]),
        disallowed_tools: strings(&["WebFetch"]),
        mcp_servers: BTreeMap::from([(
            "echo".to_string(),
            json!({"type": "stdio", "command": "echo-mcp", "args": []}),
        )]),
        env: BTreeMap::from([
            ("HOME".to_string(), "/tmp/evil".to_string()),
            ("CLAUDE_CONFIG_DIR".to_string(), "/tmp/evil".to_string()),
            ("ANTHROPIC_BASE_URL".to_string(), "http://evil".to_string()),
            ("ANTHROPIC_MODEL".to_string(), "other".to_string()),
            ("IS_SANDBOX".to_string(), "0".to_string()),
            ("CLAUDE_CODE_MAX_RETRIES".to_string(), "2".to_string()),
            ("DISABLE_TELEMETRY".to_string(), "0".to_string()),
        ]),
        ..AgentProfile::default()
    };
    let mut env = base_env();
    env.insert("CLAUDE_CODE_MAX_RETRIES".into(), "2".into());
    env.insert("DISABLE_TELEMETRY".into(), "0".into());
    assert_eq!(
        launch_spec(&ctx(&profile, true)),
        LaunchSpec {
            program: "/opt/agent-tools/claude-code/2.1.328/node_modules/.bin/claude".into(),
            args: strings(&[
                "-p",
                "--input-format",
                "stream-json",
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
                "--forward-subagent-text",
                "--permission-mode",
                "bypassPermissions",
                "--resume",
                "11111111-2222-3333-4444-555555555555",
                "--model",
                "claude-sonnet-4-5",
                "--system-prompt-file",
                "/home/agent/.claude/agent-runtime-system-prompt.md",
                "--append-system-prompt-file",
                "/home/agent/.claude/agent-runtime-append-system-prompt.md",
                "--allowedTools",
                "Bash(git log:*)",
                "Read",
                "--disallowedTools",
                "WebFetch",
                "--mcp-config",
                "/home/agent/.claude/agent-runtime-mcp.json",
                "--strict-mcp-config",
            ]),
            env,
            cwd: "/workspace".into(),
        }
    );
}

/// Prompts travel as files: the spec names them, the profile files hold them.
#[test]
fn prompts_are_files_the_arguments_name() {
    let long = format!("-{}", "prompt \"text\"\n".repeat(300 * 1024 / 14));
    let profile = AgentProfile {
        system_prompt: Some(long.clone()),
        append_system_prompt: Some("--append me".into()),
        ..AgentProfile::default()
    };
    let mut context = ctx(&profile, false);
    context.home_dir = "/home/agent/".into();
    let spec = launch_spec(&context);
    assert_eq!(
        spec.args,
        strings(&[
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--forward-subagent-text",
            "--permission-mode",
            "bypassPermissions",
            "--session-id",
            "11111111-2222-3333-4444-555555555555",
            "--system-prompt-file",
            "/home/agent/.claude/agent-runtime-system-prompt.md",
            "--append-system-prompt-file",
            "/home/agent/.claude/agent-runtime-append-system-prompt.md",
        ])
    );
    let mut env = base_env();
    env.insert("CLAUDE_CONFIG_DIR".into(), "/home/agent/.claude".into());
    assert_eq!(spec.env, env);
    let files: Vec<(String, Vec<u8>)> = crate::claude::profile_files(&profile)
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.bytes))
        .collect();
    assert_eq!(
        files,
        vec![
            (SYSTEM_PROMPT_PATH.to_string(), long.into_bytes()),
            (
                APPEND_SYSTEM_PROMPT_PATH.to_string(),
                b"--append me".to_vec()
            ),
        ]
    );
}

#[test]
fn no_endpoint_means_no_anthropic_env() {
    let profile = AgentProfile::default();
    let mut context = ctx(&profile, false);
    context.base_url = None;
    context.api_key = None;
    context.home_dir = "/home/agent/".into();
    let spec = launch_spec(&context);
    assert!(
        spec.env.keys().all(|k| !k.starts_with("ANTHROPIC_")),
        "{spec:?}"
    );
    assert_eq!(spec.env["CLAUDE_CONFIG_DIR"], "/home/agent/.claude");
}

#[test]
fn install_spec_follows_the_architecture() {
    assert_eq!(
        install_spec("x86_64"),
        InstallSpec {
            npm_package: "@anthropic-ai/claude-code".into(),
            version: "2.1.328".into(),
            extra_packages: Vec::new(),
            binary_candidates: strings(&[
                "node_modules/@anthropic-ai/claude-code-linux-x64/claude",
                "node_modules/.bin/claude",
            ]),
        }
    );
    assert_eq!(
        install_spec("aarch64").binary_candidates[0],
        "node_modules/@anthropic-ai/claude-code-linux-arm64/claude"
    );
}

#[test]
fn stdin_lines() {
    assert_eq!(
        encode_user_message("hi \"there\"\nsecond line"),
        "{\"message\":{\"content\":\"hi \\\"there\\\"\\nsecond line\",\"role\":\"user\"},\"parent_tool_use_id\":null,\"session_id\":\"\",\"type\":\"user\"}\n"
    );
    assert_eq!(
        encode_interrupt("int-1"),
        "{\"request\":{\"subtype\":\"interrupt\"},\"request_id\":\"int-1\",\"type\":\"control_request\"}\n"
    );
}

/// The value following `flag` in `args`.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

#[test]
fn each_permission_mode_is_claudes_own_and_asking_modes_prompt_over_stdio() {
    let profile = AgentProfile::default();
    for (mode, claude_mode, prompts) in [
        (PermissionMode::Bypass, "bypassPermissions", false),
        (PermissionMode::Default, "default", true),
        (PermissionMode::AcceptEdits, "acceptEdits", true),
        (PermissionMode::Plan, "plan", true),
    ] {
        let mut context = ctx(&profile, false);
        context.permission_mode = mode;
        let args = launch_spec(&context).args;
        assert_eq!(flag_value(&args, "--permission-mode"), Some(claude_mode));
        assert_eq!(
            flag_value(&args, "--permission-prompt-tool"),
            prompts.then_some("stdio"),
            "{mode:?}"
        );
    }
}

#[test]
fn deny_rules_are_enforced_by_the_cli_with_file_rules_as_edit_rules() {
    let profile = AgentProfile {
        disallowed_tools: vec!["WebFetch".into()],
        permissions: PermissionRules {
            deny: vec![
                "Bash(rm *)".into(),
                "Write(src/**)".into(),
                "Edit(src/**)".into(),
            ],
            allow: vec!["Bash(git status*)".into()],
            ask: vec!["Read".into()],
        },
        ..AgentProfile::default()
    };
    let args = launch_spec(&ctx(&profile, false)).args;
    let start = args.iter().position(|a| a == "--disallowedTools").unwrap() + 1;
    let rules: Vec<&str> = args[start..]
        .iter()
        .take_while(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        rules,
        ["WebFetch", "Bash(rm *)", "Write(src/**)", "Edit(src/**)"]
    );
    // Allow and ask rules are the runtime's: the CLI must still ask for them.
    assert!(!args.iter().any(|a| a.contains("git status")), "{args:?}");
}

#[test]
fn ask_replies_are_control_responses() {
    use crate::AskReply;
    let input = json!({"command": "touch x"});
    let allow = encode_ask_reply(
        "r1",
        &AskReply::Allow {
            input,
            suggestions: vec![json!({"type": "setMode", "mode": "acceptEdits"})],
        },
    );
    let allow: serde_json::Value = serde_json::from_str(&allow).unwrap();
    assert_eq!(
        allow,
        json!({"type": "control_response", "response": {"subtype": "success", "request_id": "r1",
            "response": {"behavior": "allow", "updatedInput": {"command": "touch x"},
                "updatedPermissions": [{"type": "setMode", "mode": "acceptEdits"}]}}})
    );
    let deny = encode_ask_reply(
        "r2",
        &AskReply::Deny {
            message: "no thanks".into(),
        },
    );
    assert!(deny.ends_with('\n'));
    let deny: serde_json::Value = serde_json::from_str(&deny).unwrap();
    assert_eq!(
        deny["response"]["response"],
        json!({"behavior": "deny", "message": "no thanks"})
    );
    let answers = encode_ask_reply(
        "r3",
        &AskReply::Answers {
            input: json!({"questions": [{"question": "Which color?"}]}),
            answers: BTreeMap::from([("Which color?".to_string(), "Blue".to_string())]),
        },
    );
    let answers: serde_json::Value = serde_json::from_str(&answers).unwrap();
    assert_eq!(
        answers["response"]["response"]["updatedInput"],
        json!({"questions": [{"question": "Which color?"}], "answers": {"Which color?": "Blue"}})
    );
}

#[test]
fn ask_rules_reach_the_cli_as_flag_settings_where_someone_answers() {
    let profile = AgentProfile {
        permissions: PermissionRules {
            ask: vec!["Write(notes/**)".into(), "Bash(ls*)".into()],
            ..Default::default()
        },
        ..AgentProfile::default()
    };
    let mut context = ctx(&profile, false);
    context.permission_mode = PermissionMode::AcceptEdits;
    let args = launch_spec(&context).args;
    let settings: serde_json::Value =
        serde_json::from_str(flag_value(&args, "--settings").unwrap()).unwrap();
    assert_eq!(
        settings,
        json!({"permissions": {"ask": ["Write(notes/**)", "Edit(notes/**)", "Bash(ls*)"]}})
    );
    // Without a mode that asks there is nobody to answer.
    context.permission_mode = PermissionMode::Bypass;
    assert_eq!(flag_value(&launch_spec(&context).args, "--settings"), None);
}
