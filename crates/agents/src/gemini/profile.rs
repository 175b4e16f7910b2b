//! `settings.json` and an [`AgentProfile`] in Gemini CLI's own layout (B.5), under `~/.gemini/`
//! (user scope: the workspace holds the user's files and may have its own `.gemini/`).
//!
//! - `.gemini/settings.json`, always: API-key auth (`security.auth.selectedType`), folder trust
//!   off (the sandbox is the boundary; an untrusted workspace would exit 55), usage statistics
//!   and telemetry off, `general.sessionRetention.enabled = false` (0.61.0 otherwise deletes the
//!   real conversation file on the start after a resume, B.4), and the profile's `mcpServers`
//!   and `disallowedTools` (as `tools.exclude`);
//! - `instructions` and `appendSystemPrompt` -> `.gemini/GEMINI.md` (global context, which 0.61
//!   appends to the system instruction, after the system prompt, as `<loaded_context>`; Gemini
//!   has no "append to the system prompt" flag of its own);
//! - `systemPrompt` -> `.gemini/agent-runtime-system.md`, which `GEMINI_SYSTEM_MD` names (see
//!   [`super::launch::launch_spec`]); it replaces the built-in system prompt;
//! - skills -> `.gemini/skills/<name>/SKILL.md` (frontmatter `name`, `description`);
//! - subagents -> `.gemini/agents/<name>.md` (frontmatter `name`, `description`, `tools`,
//!   `model`; body = the subagent's system prompt);
//! - commands -> `.gemini/commands/<name>.toml` (`description`, `prompt`; Claude's
//!   `$ARGUMENTS` becomes `{{args}}`);
//! - `files` -> the workspace, as given.
//!
//! `allowedTools` has no counterpart: `--yolo` approves every tool already. Frontmatter values
//! and TOML strings are written as JSON string literals, which are valid YAML and TOML basic
//! strings.

use agent_runtime_protocol::AgentProfile;
use serde_json::{json, Value};

use super::launch::SYSTEM_PROMPT_PATH;
use crate::error::{validate_file_name, AgentError};
use crate::files::ProfileFileWrite;
use crate::profile_layout::{home_file, skill_file, subagent_file, workspace_files};

/// Where the settings go, relative to the home directory.
pub const SETTINGS_PATH: &str = ".gemini/settings.json";

/// The settings every session gets, before the profile's additions.
pub fn base_settings() -> Value {
    json!({
        "security": {
            "auth": { "selectedType": "gemini-api-key" },
            "folderTrust": { "enabled": false },
        },
        "general": { "sessionRetention": { "enabled": false } },
        "privacy": { "usageStatisticsEnabled": false },
        "telemetry": { "enabled": false },
    })
}

/// The files for `profile`; an error names the first skill, subagent, command or file whose name
/// or path is unusable.
pub fn profile_files(profile: &AgentProfile) -> Result<Vec<ProfileFileWrite>, AgentError> {
    let mut files = Vec::new();
    let mut settings = base_settings();
    if !profile.mcp_servers.is_empty() {
        settings["mcpServers"] = json!(profile.mcp_servers);
    }
    if !profile.disallowed_tools.is_empty() {
        settings["tools"] = json!({ "exclude": profile.disallowed_tools });
    }
    files.push(home_file(SETTINGS_PATH.to_string(), pretty(&settings)));

    let memory: Vec<&str> = [&profile.instructions, &profile.append_system_prompt]
        .into_iter()
        .filter_map(|text| text.as_deref())
        .collect();
    if !memory.is_empty() {
        files.push(home_file(
            ".gemini/GEMINI.md".to_string(),
            memory.join("\n\n"),
        ));
    }
    if let Some(prompt) = &profile.system_prompt {
        files.push(home_file(SYSTEM_PROMPT_PATH.to_string(), prompt.clone()));
    }
    for skill in &profile.skills {
        files.push(skill_file(".gemini", skill)?);
    }
    for agent in &profile.subagents {
        files.push(subagent_file(".gemini", agent)?);
    }
    for command in &profile.commands {
        validate_file_name("command name", &command.name)?;
        let mut toml = String::new();
        if let Some(description) = &command.description {
            toml.push_str(&format!("description = {}\n", quoted(description)));
        }
        let prompt = command.body.replace("$ARGUMENTS", "{{args}}");
        toml.push_str(&format!("prompt = {}\n", quoted(&prompt)));
        files.push(home_file(
            format!(".gemini/commands/{}.toml", command.name),
            toml,
        ));
    }
    files.extend(workspace_files(profile)?);
    Ok(files)
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}

/// A JSON string literal: also a YAML double-quoted scalar and a TOML basic string.
fn quoted(text: &str) -> String {
    Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use agent_runtime_protocol::{CommandDef, ProfileFile, SkillDef, SubagentDef};
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::files::Root;
    use crate::profile_layout::tests::text;

    #[test]
    fn an_empty_profile_still_gets_settings() {
        let files = profile_files(&AgentProfile::default()).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, SETTINGS_PATH);
        let settings: Value = serde_json::from_slice(&files[0].bytes).unwrap();
        assert_eq!(settings, base_settings());
        assert_eq!(settings["general"]["sessionRetention"]["enabled"], false);
        assert_eq!(
            settings["security"]["auth"]["selectedType"],
            "gemini-api-key"
        );
    }

    #[test]
    fn writes_every_part_of_a_profile() {
        let profile = AgentProfile {
            instructions: Some("Be terse.".into()),
            append_system_prompt: Some("Sign with G.".into()),
            system_prompt: Some("You are a reviewer.".into()),
            disallowed_tools: vec!["web_fetch".into()],
            mcp_servers: [("echo".to_string(), json!({"command": "echo-mcp"}))]
                .into_iter()
                .collect(),
            skills: vec![SkillDef {
                name: "greeting".into(),
                description: "Greets".into(),
                body: "Say hello.".into(),
            }],
            subagents: vec![SubagentDef {
                name: "reviewer".into(),
                description: "Reviews code".into(),
                prompt: "You review code.\n".into(),
                tools: Some(vec!["read_file".into()]),
                model: None,
            }],
            commands: vec![CommandDef {
                name: "hello".into(),
                description: Some("Say \"hi\"".into()),
                body: "Greet $ARGUMENTS\nwarmly".into(),
            }],
            files: vec![ProfileFile {
                path: "docs/README.md".into(),
                content: "# hi".into(),
            }],
            ..AgentProfile::default()
        };
        let files = text(&profile_files(&profile).unwrap());
        let settings: Value = serde_json::from_str(&files[0].2).unwrap();
        assert_eq!(
            settings["mcpServers"],
            json!({"echo": {"command": "echo-mcp"}})
        );
        assert_eq!(settings["tools"], json!({"exclude": ["web_fetch"]}));
        assert_eq!(
            files[1..].to_vec(),
            vec![
                (
                    Root::Home,
                    ".gemini/GEMINI.md".into(),
                    "Be terse.\n\nSign with G.".into()
                ),
                (
                    Root::Home,
                    SYSTEM_PROMPT_PATH.into(),
                    "You are a reviewer.".into()
                ),
                (
                    Root::Home,
                    ".gemini/skills/greeting/SKILL.md".into(),
                    "---\nname: \"greeting\"\ndescription: \"Greets\"\n---\nSay hello.\n".into()
                ),
                (
                    Root::Home,
                    ".gemini/agents/reviewer.md".into(),
                    "---\nname: \"reviewer\"\ndescription: \"Reviews code\"\ntools: \"read_file\"\n---\nYou review code.\n"
                        .into()
                ),
                (
                    Root::Home,
                    ".gemini/commands/hello.toml".into(),
                    "description = \"Say \\\"hi\\\"\"\nprompt = \"Greet {{args}}\\nwarmly\"\n".into()
                ),
                (Root::Workspace, "docs/README.md".into(), "# hi".into()),
            ]
        );
    }

    #[test]
    fn refuses_names_that_escape() {
        let profile = AgentProfile {
            commands: vec![CommandDef {
                name: "../x".into(),
                ..CommandDef::default()
            }],
            ..AgentProfile::default()
        };
        assert!(profile_files(&profile).is_err());
    }
}
