//! Pieces of a profile's on-disk layout that agents share: skills and subagents as Markdown with
//! a YAML frontmatter (the format both Claude Code and Gemini CLI read, each under its own config
//! dir), and the profile's default workspace files.
//!
//! Frontmatter values are written as JSON string literals, which are valid YAML double-quoted
//! scalars, so any text is safe in them.

use agent_runtime_protocol::{AgentProfile, SkillDef, SubagentDef};

use crate::error::{validate_file_name, validate_relative_path, AgentError};
use crate::files::{ProfileFileWrite, Root};

/// The prompts among `parts` that say something, in order, with a blank line between them.
pub fn joined_prompts(parts: &[Option<&str>]) -> String {
    parts
        .iter()
        .flatten()
        .filter(|p| !p.trim().is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A file under the home directory.
pub fn home_file(path: String, contents: String) -> ProfileFileWrite {
    ProfileFileWrite {
        root: Root::Home,
        path,
        bytes: contents.into_bytes(),
    }
}

/// `<config_dir>/skills/<name>/SKILL.md` with frontmatter `name`, `description`.
pub fn skill_file(config_dir: &str, skill: &SkillDef) -> Result<ProfileFileWrite, AgentError> {
    validate_file_name("skill name", &skill.name)?;
    let front = [
        ("name", Some(skill.name.as_str())),
        ("description", Some(skill.description.as_str())),
    ];
    Ok(home_file(
        format!("{config_dir}/skills/{}/SKILL.md", skill.name),
        with_frontmatter(&front, &skill.body),
    ))
}

/// `<config_dir>/agents/<name>.md` with frontmatter `name`, `description`, `tools`, `model`; the
/// body is the subagent's system prompt.
pub fn subagent_file(
    config_dir: &str,
    agent: &SubagentDef,
) -> Result<ProfileFileWrite, AgentError> {
    validate_file_name("subagent name", &agent.name)?;
    let tools = agent.tools.as_ref().map(|t| t.join(", "));
    let front = [
        ("name", Some(agent.name.as_str())),
        ("description", Some(agent.description.as_str())),
        ("tools", tools.as_deref()),
        ("model", agent.model.as_deref()),
    ];
    Ok(home_file(
        format!("{config_dir}/agents/{}.md", agent.name),
        with_frontmatter(&front, &agent.prompt),
    ))
}

/// The profile's default workspace files, as given.
pub fn workspace_files(profile: &AgentProfile) -> Result<Vec<ProfileFileWrite>, AgentError> {
    profile
        .files
        .iter()
        .map(|file| {
            validate_relative_path("workspace file path", &file.path)?;
            Ok(ProfileFileWrite {
                root: Root::Workspace,
                path: file.path.clone(),
                bytes: file.content.clone().into_bytes(),
            })
        })
        .collect()
}

/// `body` preceded by a YAML frontmatter of the present fields (none: no frontmatter).
pub fn with_frontmatter(fields: &[(&str, Option<&str>)], body: &str) -> String {
    let present: Vec<_> = fields
        .iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    if present.is_empty() {
        return body.to_string();
    }
    let mut out = String::from("---\n");
    for (key, value) in present {
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
pub(crate) mod tests {
    use super::*;

    /// Each write as `(root, path, contents as text)`, for whole-list asserts.
    pub(crate) fn text(files: &[ProfileFileWrite]) -> Vec<(Root, String, String)> {
        files
            .iter()
            .map(|f| {
                let contents = String::from_utf8(f.bytes.clone()).unwrap();
                (f.root, f.path.clone(), contents)
            })
            .collect()
    }
}
