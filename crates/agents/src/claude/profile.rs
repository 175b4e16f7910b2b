//! An [`AgentProfile`] in Claude Code's own layout (A.11).
//!
//! Agent configuration goes to the *user* scope, `~/.claude/` (which is `CLAUDE_CONFIG_DIR`),
//! not to the workspace: the workspace holds the user's files (listed, synced and downloaded as
//! such) and may have its own `CLAUDE.md` / `.claude/`, which Claude then reads as well.
//! - `instructions` -> `.claude/CLAUDE.md` (user memory, injected like a project `CLAUDE.md`);
//! - skills -> `.claude/skills/<name>/SKILL.md` (frontmatter `name`, `description`);
//! - subagents -> `.claude/agents/<name>.md` (frontmatter `name`, `description`, `tools`,
//!   `model`; body = the subagent's system prompt);
//! - commands -> `.claude/commands/<name>.md` (frontmatter `description`; body with
//!   `$ARGUMENTS`);
//! - `systemPrompt` -> `.claude/agent-runtime-system-prompt.md` and `appendSystemPrompt` ->
//!   `.claude/agent-runtime-append-system-prompt.md`, which the launch spec passes to
//!   `--system-prompt-file` / `--append-system-prompt-file` (a prompt in an argument would be
//!   world-readable on the host and capped at 128 KiB);
//! - MCP servers -> `.claude/agent-runtime-mcp.json` (`{"mcpServers": …}`), which the launch spec
//!   passes to `--mcp-config`;
//! - `files` -> the workspace, as given.
//!
//! Model, tool rules and env are flags and environment, see [`super::launch::launch_spec`].
//! Skills, subagents and workspace files are laid out by [`crate::profile_layout`], shared with
//! Gemini.

use agent_runtime_protocol::AgentProfile;
use serde_json::json;

use super::launch::{APPEND_SYSTEM_PROMPT_PATH, MCP_CONFIG_PATH, SYSTEM_PROMPT_PATH};
use crate::error::{validate_file_name, AgentError};
use crate::files::ProfileFileWrite;
use crate::profile_layout::{
    home_file, skill_file, subagent_file, with_frontmatter, workspace_files,
};

/// The files for `profile`; an error names the first skill, subagent, command or file whose name
/// or path is unusable.
pub fn profile_files(profile: &AgentProfile) -> Result<Vec<ProfileFileWrite>, AgentError> {
    let mut files = Vec::new();
    if let Some(instructions) = &profile.instructions {
        files.push(home_file(".claude/CLAUDE.md".into(), instructions.clone()));
    }
    if let Some(prompt) = &profile.system_prompt {
        files.push(home_file(SYSTEM_PROMPT_PATH.to_string(), prompt.clone()));
    }
    if let Some(prompt) = &profile.append_system_prompt {
        files.push(home_file(
            APPEND_SYSTEM_PROMPT_PATH.to_string(),
            prompt.clone(),
        ));
    }
    for skill in &profile.skills {
        files.push(skill_file(".claude", skill)?);
    }
    for agent in &profile.subagents {
        files.push(subagent_file(".claude", agent)?);
    }
    for command in &profile.commands {
        validate_file_name("command name", &command.name)?;
        let front = [("description", command.description.as_deref())];
        files.push(home_file(
            format!(".claude/commands/{}.md", command.name),
            with_frontmatter(&front, &command.body),
        ));
    }
    if !profile.mcp_servers.is_empty() {
        let config = json!({ "mcpServers": profile.mcp_servers });
        let mut text = serde_json::to_string_pretty(&config).unwrap_or_else(|_| config.to_string());
        text.push('\n');
        files.push(home_file(MCP_CONFIG_PATH.to_string(), text));
    }
    files.extend(workspace_files(profile)?);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use agent_runtime_protocol::{CommandDef, ProfileFile, SkillDef, SubagentDef};
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::files::Root;
    use crate::profile_layout::tests::text;

    #[test]
    fn writes_every_part_of_a_profile() {
        let profile = AgentProfile {
            instructions: Some("Be terse.".into()),
            system_prompt: Some("You are a reviewer.\n-- not a flag".into()),
            append_system_prompt: Some("Sign with C.".into()),
            skills: vec![SkillDef {
                name: "greeting".into(),
                description: "Greets: \"warmly\"".into(),
                body: "Say hello.".into(),
            }],
            subagents: vec![SubagentDef {
                name: "reviewer".into(),
                description: "Reviews code".into(),
                prompt: "You review code.\n".into(),
                tools: Some(vec!["Read".into(), "Grep".into()]),
                model: Some("sonnet".into()),
            }],
            commands: vec![
                CommandDef {
                    name: "hello".into(),
                    description: Some("Say hi".into()),
                    body: "Greet $ARGUMENTS".into(),
                },
                CommandDef {
                    name: "bare".into(),
                    description: None,
                    body: "Just do it".into(),
                },
            ],
            files: vec![ProfileFile {
                path: "docs/README.md".into(),
                content: "# hi".into(),
            }],
            ..AgentProfile::default()
        };
        let files = profile_files(&profile).unwrap();
        assert_eq!(
            text(&files),
            vec![
                (Root::Home, ".claude/CLAUDE.md".into(), "Be terse.".into()),
                (
                    Root::Home,
                    ".claude/agent-runtime-system-prompt.md".into(),
                    "You are a reviewer.\n-- not a flag".into()
                ),
                (
                    Root::Home,
                    ".claude/agent-runtime-append-system-prompt.md".into(),
                    "Sign with C.".into()
                ),
                (
                    Root::Home,
                    ".claude/skills/greeting/SKILL.md".into(),
                    "---\nname: \"greeting\"\ndescription: \"Greets: \\\"warmly\\\"\"\n---\nSay hello.\n"
                        .into()
                ),
                (
                    Root::Home,
                    ".claude/agents/reviewer.md".into(),
                    "---\nname: \"reviewer\"\ndescription: \"Reviews code\"\ntools: \"Read, Grep\"\nmodel: \"sonnet\"\n---\nYou review code.\n"
                        .into()
                ),
                (
                    Root::Home,
                    ".claude/commands/hello.md".into(),
                    "---\ndescription: \"Say hi\"\n---\nGreet $ARGUMENTS\n".into()
                ),
                (Root::Home, ".claude/commands/bare.md".into(), "Just do it".into()),
                (Root::Workspace, "docs/README.md".into(), "# hi".into()),
            ]
        );
    }

    #[test]
    fn mcp_servers_go_to_the_file_the_launch_spec_names() {
        let profile = AgentProfile {
            mcp_servers: [(
                "echo".to_string(),
                serde_json::json!({"command": "echo-mcp", "env": {"TOKEN": "t"}}),
            )]
            .into_iter()
            .collect(),
            ..AgentProfile::default()
        };
        assert_eq!(
            text(&profile_files(&profile).unwrap()),
            vec![(
                Root::Home,
                MCP_CONFIG_PATH.to_string(),
                "{\n  \"mcpServers\": {\n    \"echo\": {\n      \"command\": \"echo-mcp\",\n      \"env\": {\n        \"TOKEN\": \"t\"\n      }\n    }\n  }\n}\n".to_string()
            )]
        );
    }

    #[test]
    fn refuses_names_that_escape() {
        let skill = AgentProfile {
            skills: vec![SkillDef {
                name: "../x".into(),
                ..SkillDef::default()
            }],
            ..AgentProfile::default()
        };
        assert!(profile_files(&skill).is_err());
        let file = AgentProfile {
            files: vec![ProfileFile {
                path: "/etc/passwd".into(),
                content: String::new(),
            }],
            ..AgentProfile::default()
        };
        assert!(profile_files(&file).is_err());
        assert_eq!(profile_files(&AgentProfile::default()).unwrap(), vec![]);
    }
}
