//! The model APIs the server speaks, and the tool vocabulary that lets one scenario drive agents
//! of any of them.
//!
//! Agents name the same tools differently: Claude Code's `Write` is Gemini CLI's `write_file` and
//! Codex's `apply_patch`. A scenario may use any agent's name; [`tool_name`] translates a name
//! into the vocabulary of the API a reply is rendered for, and tool-result matchers compare names
//! with [`same_tool`]. Names outside the table (MCP tools, made-up names) are used as written.
//! Claude Code and Gemini CLI take the same input keys (`file_path`, `content`, `command`, ...),
//! so a scripted input works for both; Codex's tools take other shapes, and
//! [`crate::codex_tools`] rewrites a scripted input into them.

use serde::{Deserialize, Serialize};

/// A model API served by [`crate::ScriptedModelServer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Api {
    /// The Anthropic Messages API (`POST /v1/messages`), spoken by Claude Code.
    Anthropic,
    /// The Gemini API (`POST /v1beta/models/<model>:streamGenerateContent`, ...), spoken by
    /// Gemini CLI.
    Gemini,
    /// The OpenAI Responses API (`POST /v1/responses`), spoken by Codex.
    #[serde(rename = "openai")]
    OpenAi,
}

/// One well-known tool as each agent names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolNames {
    /// Claude Code's name (the canonical one).
    pub claude: &'static str,
    /// Gemini CLI's name.
    pub gemini: &'static str,
    /// Codex's name, if Codex has such a tool (it reads, lists and searches through its shell).
    pub codex: Option<&'static str>,
}

impl ToolNames {
    /// Whether `name` is one of this tool's names.
    pub fn has(&self, name: &str) -> bool {
        self.claude == name || self.gemini == name || self.codex == Some(name)
    }
}

const fn tool(
    claude: &'static str,
    gemini: &'static str,
    codex: Option<&'static str>,
) -> ToolNames {
    ToolNames {
        claude,
        gemini,
        codex,
    }
}

/// Well-known tools. Codex's `apply_patch` both writes and edits files, so it answers to `Write`
/// and `Edit` (and translates back to `Write`).
pub const TOOL_NAMES: &[ToolNames] = &[
    tool("Write", "write_file", Some("apply_patch")),
    tool("Bash", "run_shell_command", Some("exec_command")),
    tool("Read", "read_file", None),
    tool("Edit", "replace", Some("apply_patch")),
    tool("Glob", "glob", None),
    tool("Grep", "grep_search", None),
    tool("LS", "list_directory", None),
    tool("WebFetch", "web_fetch", None),
    tool("WebSearch", "google_web_search", None),
    tool("TodoWrite", "write_todos", Some("update_plan")),
    tool("Agent", "invoke_agent", None),
];

/// `name` (in any vocabulary) as the agent behind `api` calls it.
pub fn tool_name(api: Api, name: &str) -> &str {
    let Some(names) = TOOL_NAMES.iter().find(|names| names.has(name)) else {
        return name;
    };
    match api {
        Api::Anthropic => names.claude,
        Api::Gemini => names.gemini,
        Api::OpenAi => names.codex.unwrap_or(name),
    }
}

/// Whether two tool names (in any vocabulary) name the same tool (`apply_patch` is the same
/// tool as both `Write` and `Edit`).
pub fn same_tool(a: &str, b: &str) -> bool {
    a == b || TOOL_NAMES.iter().any(|names| names.has(a) && names.has(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_translate_both_ways() {
        assert_eq!(tool_name(Api::Gemini, "Write"), "write_file");
        assert_eq!(tool_name(Api::Anthropic, "run_shell_command"), "Bash");
        assert_eq!(tool_name(Api::Gemini, "write_file"), "write_file");
        assert_eq!(tool_name(Api::Gemini, "mcp_echo_echo"), "mcp_echo_echo");
        assert!(same_tool("Write", "write_file"));
        assert!(same_tool("Bash", "Bash"));
        assert!(!same_tool("Write", "read_file"));
        assert_eq!(tool_name(Api::OpenAi, "run_shell_command"), "exec_command");
        assert_eq!(tool_name(Api::OpenAi, "Edit"), "apply_patch");
        assert_eq!(tool_name(Api::OpenAi, "Read"), "Read");
        assert_eq!(tool_name(Api::Anthropic, "apply_patch"), "Write");
        assert_eq!(tool_name(Api::Gemini, "update_plan"), "write_todos");
        assert!(same_tool("apply_patch", "Write"));
        assert!(same_tool("Edit", "apply_patch"));
        assert!(!same_tool("Write", "Edit"));
        assert!(!same_tool("exec_command", "write_file"));
    }
}
