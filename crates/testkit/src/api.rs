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

/// Well-known tools as `(Claude Code name, Gemini CLI name, OpenCode name)`; `""` where the
/// agent has no such tool.
pub const TOOL_NAMES: &[(&str, &str, &str)] = &[
    ("Write", "write_file", "write"),
    ("Bash", "run_shell_command", "bash"),
    ("Read", "read_file", "read"),
    ("Edit", "replace", "edit"),
    ("Glob", "glob", "glob"),
    ("Grep", "grep_search", "grep"),
    ("LS", "list_directory", ""),
    ("WebFetch", "web_fetch", "webfetch"),
    ("WebSearch", "google_web_search", ""),
    ("TodoWrite", "write_todos", "todowrite"),
    ("Agent", "invoke_agent", "task"),
];

/// Input keys OpenCode spells in camelCase where the others use snake_case.
const OPENCODE_KEYS: &[(&str, &str)] = &[
    ("file_path", "filePath"),
    ("old_string", "oldString"),
    ("new_string", "newString"),
    ("replace_all", "replaceAll"),
];

/// Whose tool names (and input keys) a reply uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocabulary {
    Claude,
    Gemini,
    OpenCode,
}

impl Vocabulary {
    /// The vocabulary of a request to `api` that offers the tools `offered`: OpenCode speaks the
    /// Anthropic API too, and is told apart by its lower-case tool names.
    pub fn of(api: Api, offered: &[&str]) -> Vocabulary {
        match api {
            Api::Gemini => Vocabulary::Gemini,
            Api::Anthropic if offered.contains(&"bash") && !offered.contains(&"Bash") => {
                Vocabulary::OpenCode
            }
            Api::Anthropic => Vocabulary::Claude,
        }
    }

    /// `name` (in any vocabulary) as this agent calls it.
    pub fn tool_name<'a>(&self, name: &'a str) -> &'a str {
        let row = TOOL_NAMES.iter().find(|(claude, gemini, opencode)| {
            *claude == name || *gemini == name || (!opencode.is_empty() && *opencode == name)
        });
        match (row, self) {
            (Some((claude, _, _)), Vocabulary::Claude) => claude,
            (Some((_, gemini, _)), Vocabulary::Gemini) => gemini,
            (Some((_, _, opencode)), Vocabulary::OpenCode) if !opencode.is_empty() => opencode,
            _ => name,
        }
    }

    /// A scripted tool input in this agent's spelling of the shared keys.
    pub fn tool_input(&self, input: serde_json::Value) -> serde_json::Value {
        match (self, input) {
            (Vocabulary::OpenCode, serde_json::Value::Object(map)) => serde_json::Value::Object(
                map.into_iter()
                    .map(|(key, value)| {
                        let key = OPENCODE_KEYS
                            .iter()
                            .find(|(snake, _)| *snake == key)
                            .map_or(key, |(_, camel)| camel.to_string());
                        (key, value)
                    })
                    .collect(),
            ),
            (_, input) => input,
        }
    }
}

/// `name` (in any vocabulary) as Claude Code (`Anthropic`) or Gemini CLI (`Gemini`) calls it.
pub fn tool_name(api: Api, name: &str) -> &str {
    match api {
        Api::Anthropic => Vocabulary::Claude.tool_name(name),
        Api::Gemini => Vocabulary::Gemini.tool_name(name),
    }
}

/// Whether two tool names (in any vocabulary) name the same tool.
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
        assert!(same_tool("write", "Write"));
    }

    #[test]
    fn opencode_is_told_apart_by_its_tool_names() {
        let opencode = Vocabulary::of(Api::Anthropic, &["bash", "write", "edit"]);
        assert_eq!(opencode, Vocabulary::OpenCode);
        assert_eq!(
            Vocabulary::of(Api::Anthropic, &["Bash", "Write"]),
            Vocabulary::Claude
        );
        assert_eq!(opencode.tool_name("Write"), "write");
        assert_eq!(opencode.tool_name("write_file"), "write");
        assert_eq!(opencode.tool_name("LS"), "LS");
        let input = opencode.tool_input(serde_json::json!({"file_path": "a", "content": "b"}));
        assert_eq!(input, serde_json::json!({"filePath": "a", "content": "b"}));
        let claude = Vocabulary::Claude.tool_input(serde_json::json!({"file_path": "a"}));
        assert_eq!(claude, serde_json::json!({"file_path": "a"}));
    }
}
