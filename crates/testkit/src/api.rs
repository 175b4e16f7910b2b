//! The model APIs the server speaks, and the tool vocabulary that lets one scenario drive agents
//! of any of them.
//!
//! Agents name the same tools differently: Claude Code's `Write` is Gemini CLI's `write_file` and
//! Codex's `apply_patch`. A scenario may use any agent's name; [`tool_name`] translates a name
//! into the vocabulary of the API a reply is rendered for, and tool-result matchers compare names
//! with [`same_tool`]. Names outside the table (MCP tools, made-up names) are used as written.
//! Claude Code and Gemini CLI take the same input keys (`file_path`, `content`, `command`, ...),
//! so a scripted input works for both; OpenCode speaks the Anthropic API with its own lower-case
//! names and camelCase keys ([`Vocabulary`] tells it apart by the tools a request offers);
//! Codex's tools take other shapes, and [`crate::codex_tools`] rewrites a scripted input into
//! them.

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
    /// OpenCode's name, if OpenCode has such a tool.
    pub opencode: Option<&'static str>,
}

impl ToolNames {
    /// Whether `name` is one of this tool's names.
    pub fn has(&self, name: &str) -> bool {
        self.claude == name
            || self.gemini == name
            || self.codex == Some(name)
            || self.opencode == Some(name)
    }
}

const fn tool(
    claude: &'static str,
    gemini: &'static str,
    codex: Option<&'static str>,
    opencode: Option<&'static str>,
) -> ToolNames {
    ToolNames {
        claude,
        gemini,
        codex,
        opencode,
    }
}

/// Well-known tools. Codex's `apply_patch` both writes and edits files, so it answers to `Write`
/// and `Edit` (and translates back to `Write`).
pub const TOOL_NAMES: &[ToolNames] = &[
    tool("Write", "write_file", Some("apply_patch"), Some("write")),
    tool(
        "Bash",
        "run_shell_command",
        Some("exec_command"),
        Some("bash"),
    ),
    tool("Read", "read_file", None, Some("read")),
    tool("Edit", "replace", Some("apply_patch"), Some("edit")),
    tool("Glob", "glob", None, Some("glob")),
    tool("Grep", "grep_search", None, Some("grep")),
    tool("LS", "list_directory", None, None),
    tool("WebFetch", "web_fetch", None, Some("webfetch")),
    tool("WebSearch", "google_web_search", None, None),
    tool(
        "TodoWrite",
        "write_todos",
        Some("update_plan"),
        Some("todowrite"),
    ),
    tool("Agent", "invoke_agent", None, Some("task")),
];

/// Input keys OpenCode spells in camelCase where Claude Code and Gemini CLI use snake_case.
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
    Codex,
    OpenCode,
}

impl Vocabulary {
    /// The vocabulary of a request to `api` that offers the tools `offered`: OpenCode speaks the
    /// Anthropic API too, and is told apart by its lower-case tool names.
    pub fn of(api: Api, offered: &[&str]) -> Vocabulary {
        match api {
            Api::Gemini => Vocabulary::Gemini,
            Api::OpenAi => Vocabulary::Codex,
            Api::Anthropic if offered.contains(&"bash") && !offered.contains(&"Bash") => {
                Vocabulary::OpenCode
            }
            Api::Anthropic => Vocabulary::Claude,
        }
    }

    /// `name` (in any vocabulary) as this agent calls it.
    pub fn tool_name<'a>(&self, name: &'a str) -> &'a str {
        let Some(names) = TOOL_NAMES.iter().find(|names| names.has(name)) else {
            return name;
        };
        match self {
            Vocabulary::Claude => names.claude,
            Vocabulary::Gemini => names.gemini,
            Vocabulary::Codex => names.codex.unwrap_or(name),
            Vocabulary::OpenCode => names.opencode.unwrap_or(name),
        }
    }

    /// A scripted tool input in this agent's spelling of the shared keys (Codex's shapes are
    /// [`crate::codex_tools`]'s).
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

/// `name` (in any vocabulary) as the agent behind `api` calls it (for the Anthropic API,
/// Claude Code; see [`Vocabulary::of`] for OpenCode).
pub fn tool_name(api: Api, name: &str) -> &str {
    Vocabulary::of(api, &[]).tool_name(name)
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
