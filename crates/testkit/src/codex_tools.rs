//! A scripted tool call in the shape Codex expects (see [`crate::api`] for the names).
//!
//! Codex's tools do not take Claude Code's inputs: its shell is `exec_command {cmd}`, files are
//! written and edited by the freeform `apply_patch` tool whose input is patch text, and its plan
//! is `update_plan {plan: [{step, status}]}`. [`codex_tool_call`] rewrites a scripted call
//! (written in any agent's vocabulary) into that shape; an input already in Codex's shape is kept.
//! Shapes follow what codex-acp 0.16.0 (Codex 0.137) offers with `gpt-5.4`: see
//! `crates/agents/fixtures/codex-acp/`.

use serde_json::{json, Map, Value};

use crate::api::{tool_name, Api};

/// A tool call as a Responses API output item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodexToolCall {
    /// A `function_call` item: JSON arguments (as text).
    Function {
        /// Tool name.
        name: String,
        /// JSON-encoded arguments.
        arguments: String,
    },
    /// A `custom_tool_call` item: freeform input text (Codex's `apply_patch`).
    Custom {
        /// Tool name.
        name: String,
        /// The raw input.
        input: String,
    },
}

/// `name(input)` as Codex's tool call.
///
/// * Shell (`Bash`, `run_shell_command`): `exec_command {cmd}` from `command`.
/// * File writes and edits (`Write`, `write_file`, `Edit`, `replace`, `apply_patch`): an
///   `apply_patch` call adding the file (`file_path` + `content`) or replacing `old_string` by
///   `new_string` in it; an input with a `patch` string is sent as that patch.
/// * Plans (`TodoWrite`, `write_todos`): `update_plan` with one step per todo.
/// * Anything else: a function call with the translated name and the input unchanged.
pub fn codex_tool_call(name: &str, input: &Value) -> CodexToolCall {
    let codex_name = tool_name(Api::OpenAi, name);
    match codex_name {
        "exec_command" => function(codex_name, shell_arguments(input)),
        "apply_patch" => CodexToolCall::Custom {
            name: codex_name.to_owned(),
            input: patch_text(input),
        },
        "update_plan" => function(codex_name, plan_arguments(input)),
        _ => function(codex_name, input.clone()),
    }
}

fn function(name: &str, arguments: Value) -> CodexToolCall {
    CodexToolCall::Function {
        name: name.to_owned(),
        arguments: arguments.to_string(),
    }
}

fn str_field<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str)
}

fn shell_arguments(input: &Value) -> Value {
    if input.get("cmd").is_some() {
        return input.clone();
    }
    let mut arguments = Map::new();
    arguments.insert(
        "cmd".to_owned(),
        json!(str_field(input, "command").unwrap_or("")),
    );
    if let Some(dir) = str_field(input, "dir_path").or_else(|| str_field(input, "directory")) {
        arguments.insert("workdir".to_owned(), json!(dir));
    }
    Value::Object(arguments)
}

/// The patch text for a write or edit; every patch ends with a newline.
fn patch_text(input: &Value) -> String {
    if let Some(patch) = str_field(input, "patch").or_else(|| input.as_str()) {
        return patch.to_owned();
    }
    let path = str_field(input, "file_path").unwrap_or("");
    let mut patch = String::from("*** Begin Patch\n");
    match (
        str_field(input, "old_string"),
        str_field(input, "new_string"),
    ) {
        (Some(old), Some(new)) => {
            patch.push_str(&format!("*** Update File: {path}\n@@\n"));
            push_lines(&mut patch, '-', old);
            push_lines(&mut patch, '+', new);
        }
        _ => {
            patch.push_str(&format!("*** Add File: {path}\n"));
            push_lines(&mut patch, '+', str_field(input, "content").unwrap_or(""));
        }
    }
    patch.push_str("*** End Patch\n");
    patch
}

/// One `<prefix>line` per line of `text` (at least one: the grammar needs a line per hunk).
fn push_lines(patch: &mut String, prefix: char, text: &str) {
    let text = text.strip_suffix('\n').unwrap_or(text);
    for line in text.split('\n') {
        patch.push(prefix);
        patch.push_str(line);
        patch.push('\n');
    }
}

fn plan_arguments(input: &Value) -> Value {
    if input.get("plan").is_some() {
        return input.clone();
    }
    let steps: Vec<Value> = input
        .get("todos")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|todo| {
            let step = str_field(todo, "content")
                .or_else(|| str_field(todo, "description"))
                .unwrap_or("");
            json!({"step": step, "status": str_field(todo, "status").unwrap_or("pending")})
        })
        .collect();
    json!({ "plan": steps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn custom(input: &str) -> CodexToolCall {
        CodexToolCall::Custom {
            name: "apply_patch".into(),
            input: input.into(),
        }
    }

    #[test]
    fn shell_calls_become_exec_command() {
        assert_eq!(
            codex_tool_call("Bash", &json!({"command": "ls -la", "description": "list"})),
            CodexToolCall::Function {
                name: "exec_command".into(),
                arguments: r#"{"cmd":"ls -la"}"#.into()
            }
        );
        assert_eq!(
            codex_tool_call("exec_command", &json!({"cmd": "pwd", "tty": false})),
            CodexToolCall::Function {
                name: "exec_command".into(),
                arguments: r#"{"cmd":"pwd","tty":false}"#.into()
            }
        );
    }

    #[test]
    fn writes_and_edits_become_patches() {
        assert_eq!(
            codex_tool_call(
                "write_file",
                &json!({"file_path": "/w/a.txt", "content": "one\ntwo\n"})
            ),
            custom("*** Begin Patch\n*** Add File: /w/a.txt\n+one\n+two\n*** End Patch\n")
        );
        assert_eq!(
            codex_tool_call(
                "Edit",
                &json!({"file_path": "a.txt", "old_string": "one", "new_string": "uno\ndos"})
            ),
            custom(
                "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+uno\n+dos\n*** End Patch\n"
            )
        );
        assert_eq!(
            codex_tool_call("apply_patch", &json!({"patch": "*** Begin Patch\n"})),
            custom("*** Begin Patch\n")
        );
        assert_eq!(
            codex_tool_call("Write", &json!({"file_path": "e.txt", "content": ""})),
            custom("*** Begin Patch\n*** Add File: e.txt\n+\n*** End Patch\n")
        );
    }

    #[test]
    fn todos_become_plan_steps_and_other_tools_pass_through() {
        assert_eq!(
            codex_tool_call(
                "TodoWrite",
                &json!({"todos": [{"content": "Write tests", "status": "in_progress", "activeForm": "x"}]})
            ),
            CodexToolCall::Function {
                name: "update_plan".into(),
                arguments: r#"{"plan":[{"status":"in_progress","step":"Write tests"}]}"#.into()
            }
        );
        assert_eq!(
            codex_tool_call("mcp__echo__echo", &json!({"text": "hi"})),
            CodexToolCall::Function {
                name: "mcp__echo__echo".into(),
                arguments: r#"{"text":"hi"}"#.into()
            }
        );
    }
}
