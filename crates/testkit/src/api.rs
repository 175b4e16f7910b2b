//! The model APIs the server speaks, and the tool vocabulary that lets one scenario drive agents
//! of either.
//!
//! Agents name the same tools differently: Claude Code's `Write` is Gemini CLI's `write_file`.
//! A scenario may use either name; [`tool_name`] translates a name into the vocabulary of the
//! API a reply is rendered for, and tool-result matchers compare names with [`same_tool`]. Names
//! outside the table (MCP tools, made-up names) are used as written. The inputs of the tools in
//! the table use the same keys in both agents (`file_path`, `content`, `command`, ...), so a
//! scripted input works for both.

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
}

/// Well-known tools as `(Claude Code name, Gemini CLI name)`.
pub const TOOL_NAMES: &[(&str, &str)] = &[
    ("Write", "write_file"),
    ("Bash", "run_shell_command"),
    ("Read", "read_file"),
    ("Edit", "replace"),
    ("Glob", "glob"),
    ("Grep", "grep_search"),
    ("LS", "list_directory"),
    ("WebFetch", "web_fetch"),
    ("WebSearch", "google_web_search"),
    ("TodoWrite", "write_todos"),
    ("Agent", "invoke_agent"),
];

/// `name` (in either vocabulary) as the agent behind `api` calls it.
pub fn tool_name(api: Api, name: &str) -> &str {
    match TOOL_NAMES
        .iter()
        .find(|(claude, gemini)| *claude == name || *gemini == name)
    {
        Some((claude, _)) if api == Api::Anthropic => claude,
        Some((_, gemini)) => gemini,
        None => name,
    }
}

/// Whether two tool names (in either vocabulary) name the same tool.
pub fn same_tool(a: &str, b: &str) -> bool {
    a == b || tool_name(Api::Anthropic, a) == tool_name(Api::Anthropic, b)
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
    }
}
