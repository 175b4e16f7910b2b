//! Permission rules: parsing, matching a tool call, and the rule "allow always" remembers.
//!
//! Pure functions over the call's tool name and input. A rule is `Tool` or `Tool(pattern)`; the
//! pattern is matched against the call's subject ([`subject`]): `*` is any run of characters (in
//! a path, any but `/`), `**` any path, `?` one character, and a trailing `:*` matches by prefix.
//! A rule for `Edit` covers every tool that writes files, as in Claude Code.

use agent_runtime_protocol::{PermissionDecision, PermissionRules};
use serde_json::Value;

/// Longest rule accepted, in bytes.
pub const MAX_RULE_LEN: usize = 1024;

/// Most rules of one kind in a profile.
pub const MAX_RULES: usize = 200;

/// Tools whose subject is a file path.
const FILE_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit", "Read"];

/// Tools an `Edit` rule covers.
const EDIT_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit"];

/// What the rules say about a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A rule decides it without asking; the rule is named.
    Decided(PermissionDecision, String),
    /// Ask (an `ask` rule matched, or none did).
    Ask,
}

/// Checks a rule's syntax; the error says what is wrong.
pub fn validate_rule(rule: &str) -> Result<(), String> {
    if rule.len() > MAX_RULE_LEN {
        return Err(format!("longer than {MAX_RULE_LEN} bytes"));
    }
    let (tool, pattern) = split(rule).ok_or_else(|| {
        format!(
            "{rule:?} is not `Tool` or `Tool(pattern)` (a tool name of letters, digits, _ - . :)"
        )
    })?;
    if tool.is_empty() {
        return Err(format!("{rule:?} names no tool"));
    }
    if pattern == Some("") {
        return Err(format!("{rule:?} has an empty pattern"));
    }
    Ok(())
}

/// Checks every rule of a profile; the error names the field, e.g. `permissions.deny[2]`.
pub fn validate_rules(rules: &PermissionRules) -> Result<(), String> {
    for (kind, list) in [
        ("allow", &rules.allow),
        ("deny", &rules.deny),
        ("ask", &rules.ask),
    ] {
        if list.len() > MAX_RULES {
            return Err(format!("permissions.{kind}: more than {MAX_RULES} rules"));
        }
        for (i, rule) in list.iter().enumerate() {
            validate_rule(rule).map_err(|e| format!("permissions.{kind}[{i}]: {e}"))?;
        }
    }
    Ok(())
}

/// What `rules` (and the session's remembered `allowed` rules) say about `tool` called with
/// `input` in a workspace at `workspace_dir`: deny wins over ask, ask over allow.
pub fn evaluate(
    rules: &PermissionRules,
    allowed: &[String],
    tool: &str,
    input: &Value,
    workspace_dir: &str,
) -> Verdict {
    let subject = subject(tool, input, workspace_dir);
    let first = |list: &[String]| {
        list.iter()
            .find(|rule| matches(rule, tool, &subject))
            .cloned()
    };
    if let Some(rule) = first(&rules.deny) {
        return Verdict::Decided(PermissionDecision::Deny, rule);
    }
    if first(&rules.ask).is_some() {
        return Verdict::Ask;
    }
    match first(&rules.allow).or_else(|| first(allowed)) {
        Some(rule) => Verdict::Decided(PermissionDecision::Allow, rule),
        None => Verdict::Ask,
    }
}

/// The rule "allow always" adds for this call: the tool with this exact subject (a command, a
/// path), or the whole tool when the subject is not a short string.
pub fn allow_always_rule(tool: &str, input: &Value, workspace_dir: &str) -> String {
    let subject = subject(tool, input, workspace_dir);
    let specific = tool == "Bash" || FILE_TOOLS.contains(&tool) || tool == "WebFetch";
    if specific && !subject.is_empty() && subject.len() <= 200 && !subject.contains('\n') {
        format!("{tool}({subject})")
    } else {
        tool.to_string()
    }
}

/// Whether `rule` matches a call of `tool` whose subject is `subject`.
pub fn matches(rule: &str, tool: &str, subject: &str) -> bool {
    let Some((rule_tool, pattern)) = split(rule) else {
        return false;
    };
    let tool_matches = rule_tool == tool || (rule_tool == "Edit" && EDIT_TOOLS.contains(&tool));
    if !tool_matches {
        return false;
    }
    let Some(pattern) = pattern else {
        return true;
    };
    if let Some(prefix) = pattern.strip_suffix(":*") {
        return subject == prefix || subject.starts_with(&format!("{prefix} "));
    }
    glob(
        pattern.as_bytes(),
        subject.as_bytes(),
        FILE_TOOLS.contains(&tool),
    )
}

/// What a call's rule patterns are matched against: a command, a workspace-relative path, a URL,
/// or else the input as JSON.
pub fn subject(tool: &str, input: &Value, workspace_dir: &str) -> String {
    let field = |name: &str| input.get(name).and_then(Value::as_str);
    if FILE_TOOLS.contains(&tool) {
        // Claude Code and Gemini CLI say `file_path`; OpenCode (over ACP) `filePath`.
        let path = field("file_path")
            .or_else(|| field("notebook_path"))
            .or_else(|| field("filePath"));
        if let Some(path) = path {
            return relative_path(path, workspace_dir);
        }
    }
    if tool == "Bash" {
        if let Some(command) = shell_command(input.get("command")) {
            return command.trim().to_string();
        }
    }
    let named = match tool {
        "WebFetch" => field("url"),
        "WebSearch" => field("query"),
        "Glob" | "Grep" => field("pattern"),
        _ => None,
    };
    named.map_or_else(|| input.to_string(), |s| s.trim().to_string())
}

/// A command as text: a string, or an argument list (Codex over ACP runs
/// `["/bin/sh", "-lc", script]`: the script; other lists joined with spaces).
fn shell_command(command: Option<&Value>) -> Option<String> {
    match command? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let args: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            match args.as_slice() {
                [shell, flag, script] if shell.ends_with("sh") && matches!(*flag, "-c" | "-lc") => {
                    Some(script.to_string())
                }
                args if !args.is_empty() => Some(args.join(" ")),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `path` relative to the workspace when it is inside it; as given otherwise.
fn relative_path(path: &str, workspace_dir: &str) -> String {
    let root = workspace_dir.trim_end_matches('/');
    match path.strip_prefix(root).and_then(|p| p.strip_prefix('/')) {
        Some(relative) => relative.to_string(),
        None => path.strip_prefix("./").unwrap_or(path).to_string(),
    }
}

/// `Tool` or `Tool(pattern)`; `None` when it is neither.
fn split(rule: &str) -> Option<(&str, Option<&str>)> {
    let rule = rule.trim();
    let (tool, pattern) = match rule.find('(') {
        Some(open) => {
            let inner = rule[open + 1..].strip_suffix(')')?;
            (&rule[..open], Some(inner))
        }
        None => (rule, None),
    };
    let valid = tool
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    valid.then_some((tool, pattern))
}

/// One step of a glob.
#[derive(Clone, Copy)]
enum Token {
    Literal(u8),
    /// `?`
    One,
    /// `*` (`crosses`: may match `/`) or `**`.
    Star {
        crosses: bool,
    },
    /// The `/` after `**`, which may be absent (`a/**/b` matches `a/b`).
    OptionalSlash,
}

fn tokens(pattern: &[u8], paths: bool) -> Vec<Token> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' if pattern.get(i + 1) == Some(&b'*') => {
                out.push(Token::Star { crosses: true });
                i += 2;
                if pattern.get(i) == Some(&b'/') {
                    out.push(Token::OptionalSlash);
                    i += 1;
                }
                continue;
            }
            b'*' => out.push(Token::Star { crosses: !paths }),
            b'?' => out.push(Token::One),
            c => out.push(Token::Literal(c)),
        }
        i += 1;
    }
    out
}

/// Glob matching in one pass over `text` (no backtracking, so a hostile pattern or subject
/// cannot make it slow): the set of pattern positions reached so far is advanced by each byte.
/// With `paths`, `*` and `?` stop at `/`, and `**` crosses it.
fn glob(pattern: &[u8], text: &[u8], paths: bool) -> bool {
    let tokens = tokens(pattern, paths);
    let n = tokens.len();
    // reached[i]: the first i tokens match the text read so far.
    let mut reached = vec![false; n + 1];
    reached[0] = true;
    let close = |reached: &mut Vec<bool>| {
        for i in 0..n {
            if reached[i] && matches!(tokens[i], Token::Star { .. } | Token::OptionalSlash) {
                reached[i + 1] = true;
            }
        }
    };
    close(&mut reached);
    let mut next = vec![false; n + 1];
    for &c in text {
        next.iter_mut().for_each(|r| *r = false);
        for i in 0..n {
            next[i + 1] |= match tokens[i] {
                Token::Literal(l) => reached[i] && l == c,
                Token::One => reached[i] && !(paths && c == b'/'),
                Token::Star { crosses } => reached[i + 1] && (crosses || c != b'/'),
                Token::OptionalSlash => reached[i] && c == b'/',
            };
        }
        close(&mut next);
        if !next.iter().any(|r| *r) {
            return false;
        }
        std::mem::swap(&mut reached, &mut next);
    }
    reached[n]
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
