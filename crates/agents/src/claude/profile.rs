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
//! - MCP servers -> `.claude/agent-runtime-mcp.json` (`{"mcpServers": …}`), which the launch spec
//!   passes to `--mcp-config`;
//! - `files` -> the workspace, as given.
//!
//! Model, system prompts, tool rules and env are flags and environment, see
//! [`super::launch::launch_spec`]. Frontmatter values are written as JSON strings, which are
//! valid YAML, so any text is safe in them.

use agent_runtime_protocol::AgentProfile;
use serde_json::json;

use super::launch::MCP_CONFIG_PATH;
use crate::error::{validate_file_name, validate_relative_path, AgentError};
use crate::files::{ProfileFileWrite, Root};

/// The files for `profile`; an error names the first skill, subagent, command or file whose name
/// or path is unusable.
pub fn profile_files(profile: &AgentProfile) -> Result<Vec<ProfileFileWrite>, AgentError> {
    let mut files = Vec::new();
    let mut home = |path: String, contents: String| {
        files.push(ProfileFileWrite {
            root: Root::Home,
            path,
            bytes: contents.into_bytes(),
        })
    };
    if let Some(instructions) = &profile.instructions {
        home(".claude/CLAUDE.md".to_string(), instructions.clone());
    }
    for skill in &profile.skills {
        validate_file_name("skill name", &skill.name)?;
        let front = [
            ("name", Some(skill.name.as_str())),
            ("description", Some(&skill.description)),
        ];
        home(
            format!(".claude/skills/{}/SKILL.md", skill.name),
            with_frontmatter(&front, &skill.body),
        );
    }
    for agent in &profile.subagents {
        validate_file_name("subagent name", &agent.name)?;
        let tools = agent.tools.as_ref().map(|t| t.join(", "));
        let front = [
            ("name", Some(agent.name.as_str())),
            ("description", Some(&agent.description)),
            ("tools", tools.as_deref()),
            ("model", agent.model.as_deref()),
        ];
        home(
            format!(".claude/agents/{}.md", agent.name),
            with_frontmatter(&front, &agent.prompt),
        );
    }
    for command in &profile.commands {
        validate_file_name("command name", &command.name)?;
        let front = [("description", command.description.as_deref())];
        home(
            format!(".claude/commands/{}.md", command.name),
            with_frontmatter(&front, &command.body),
        );
    }
    if !profile.mcp_servers.is_empty() {
        let config = json!({ "mcpServers": profile.mcp_servers });
        let mut text = serde_json::to_string_pretty(&config).unwrap_or_else(|_| config.to_string());
        text.push('\n');
        home(MCP_CONFIG_PATH.to_string(), text);
    }
    for file in &profile.files {
        validate_relative_path("workspace file path", &file.path)?;
        files.push(ProfileFileWrite {
            root: Root::Workspace,
            path: file.path.clone(),
            bytes: file.content.clone().into_bytes(),
        });
    }
    Ok(files)
}

/// `body` preceded by a YAML frontmatter of the present fields (none: no frontmatter).
fn with_frontmatter(fields: &[(&str, Option<&str>)], body: &str) -> String {
    let present: Vec<_> = fields
        .iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    if present.is_empty() {
        return body.to_string();
    }
    let mut out = String::from("---\n");
    for (key, value) in present {
        // A JSON string literal is a YAML double-quoted scalar.
        let quoted = serde_json::Value::from(value).to_string();
        out.push_str(&format!("{key}: {quoted}\n"));
    }
    out.push_str("---\n");
    out.push_str(body);
    if !body.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use agent_runtime_protocol::{CommandDef, ProfileFile, SkillDef, SubagentDef};
    use pretty_assertions::assert_eq;

    use super::*;

    fn text(files: &[ProfileFileWrite]) -> Vec<(Root, String, String)> {
        files
            .iter()
            .map(|f| {
                let contents = String::from_utf8(f.bytes.clone()).unwrap();
                (f.root, f.path.clone(), contents)
            })
            .collect()
    }

    #[test]
    fn writes_every_part_of_a_profile() {
        let profile = AgentProfile {
            instructions: Some("Be terse.".into()),
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
