use agent_runtime_protocol::{PermissionDecision, PermissionRules};
use serde_json::json;

use super::*;

const WS: &str = "/workspace";

fn bash(command: &str) -> Value {
    json!({ "command": command, "description": "x" })
}

fn write(path: &str) -> Value {
    json!({ "file_path": path, "content": "x" })
}

#[test]
fn bash_rules_match_commands_by_glob_and_prefix() {
    assert!(matches("Bash", "Bash", "anything"));
    assert!(matches("Bash(git status*)", "Bash", "git status --short"));
    assert!(matches("Bash(git status*)", "Bash", "git status"));
    assert!(!matches("Bash(git status*)", "Bash", "git push"));
    assert!(matches("Bash(git status:*)", "Bash", "git status -s"));
    assert!(!matches("Bash(git status:*)", "Bash", "git statusx"));
    assert!(matches("Bash(rm *)", "Bash", "rm -rf /tmp/a/b"));
    assert!(!matches("Bash(rm *)", "Read", "rm -rf /"));
    assert!(matches("Bash(echo ?)", "Bash", "echo a"));
    assert!(!matches("Bash(echo ?)", "Bash", "echo ab"));
}

#[test]
fn file_rules_match_workspace_relative_paths_with_path_globs() {
    let subject = |path: &str| subject("Write", &write(path), WS);
    assert_eq!(subject("/workspace/src/a.rs"), "src/a.rs");
    assert_eq!(subject("./src/a.rs"), "src/a.rs");
    assert_eq!(subject("/etc/passwd"), "/etc/passwd");
    assert!(matches(
        "Write(src/**)",
        "Write",
        &subject("/workspace/src/a/b.rs")
    ));
    assert!(matches(
        "Write(src/*)",
        "Write",
        &subject("/workspace/src/a.rs")
    ));
    assert!(!matches(
        "Write(src/*)",
        "Write",
        &subject("/workspace/src/a/b.rs")
    ));
    assert!(matches(
        "Write(src/**/b.rs)",
        "Write",
        &subject("/workspace/src/b.rs")
    ));
    assert!(matches(
        "Write(src/**/b.rs)",
        "Write",
        &subject("/workspace/src/x/y/b.rs")
    ));
    assert!(!matches(
        "Write(src/**)",
        "Write",
        &subject("/workspace/docs/a.md")
    ));
    // An Edit rule covers every tool that writes files; a Write rule only Write.
    assert!(matches("Edit(src/**)", "Write", "src/a.rs"));
    assert!(matches("Edit(src/**)", "MultiEdit", "src/a.rs"));
    assert!(!matches("Write(src/**)", "Edit", "src/a.rs"));
}

#[test]
fn deny_wins_over_ask_and_ask_over_allow() {
    let rules = PermissionRules {
        allow: vec!["Bash".into()],
        deny: vec!["Bash(rm *)".into()],
        ask: vec!["Bash(git push*)".into()],
    };
    let verdict = |command: &str| evaluate(&rules, &[], "Bash", &bash(command), WS);
    assert_eq!(
        verdict("rm -rf x"),
        Verdict::Decided(PermissionDecision::Deny, "Bash(rm *)".into())
    );
    assert_eq!(verdict("git push origin"), Verdict::Ask);
    assert_eq!(
        verdict("ls"),
        Verdict::Decided(PermissionDecision::Allow, "Bash".into())
    );
    // Nothing matches: ask.
    let none = PermissionRules::default();
    assert_eq!(evaluate(&none, &[], "Bash", &bash("ls"), WS), Verdict::Ask);
    // Remembered rules allow, but never over a deny rule.
    let remembered = vec!["Bash(rm -rf x)".to_string(), "Bash(ls)".to_string()];
    assert_eq!(
        evaluate(&rules, &remembered, "Bash", &bash("rm -rf x"), WS),
        Verdict::Decided(PermissionDecision::Deny, "Bash(rm *)".into())
    );
    assert_eq!(
        evaluate(&none, &remembered, "Bash", &bash("ls"), WS),
        Verdict::Decided(PermissionDecision::Allow, "Bash(ls)".into())
    );
}

#[test]
fn allow_always_remembers_the_exact_call_it_was_given_for() {
    assert_eq!(
        allow_always_rule("Bash", &bash("touch approved.txt"), WS),
        "Bash(touch approved.txt)"
    );
    assert_eq!(
        allow_always_rule("Write", &write("/workspace/notes.txt"), WS),
        "Write(notes.txt)"
    );
    assert_eq!(
        allow_always_rule("mcp__x__y", &json!({"a": 1}), WS),
        "mcp__x__y"
    );
    assert_eq!(
        allow_always_rule("Bash", &bash(&"x".repeat(500)), WS),
        "Bash"
    );
    let rule = allow_always_rule("Bash", &bash("touch approved.txt"), WS);
    assert!(matches(&rule, "Bash", "touch approved.txt"));
    assert!(!matches(&rule, "Bash", "touch approved.txt; rm -rf /"));
}

#[test]
fn rules_are_validated_naming_the_field() {
    assert!(validate_rule("Bash").is_ok());
    assert!(validate_rule("Bash(git *)").is_ok());
    assert!(validate_rule("mcp__files__read").is_ok());
    assert!(validate_rule("Bash(").is_err());
    assert!(validate_rule("Bash()").is_err());
    assert!(validate_rule("(x)").is_err());
    assert!(validate_rule("Ba sh").is_err());
    assert!(validate_rule(&"B".repeat(MAX_RULE_LEN + 1)).is_err());
    let rules = PermissionRules {
        deny: vec!["Bash".into(), "Bash(".into()],
        ..Default::default()
    };
    let error = validate_rules(&rules).unwrap_err();
    assert!(error.starts_with("permissions.deny[1]"), "{error}");
}

#[test]
fn matching_a_hostile_pattern_against_a_long_subject_is_linear() {
    let pattern = format!("Bash({}b)", "*a".repeat(400));
    let subject = "a".repeat(100_000);
    // A backtracking matcher would not finish; this one reads the subject once.
    assert!(!matches(&pattern, "Bash", &subject));
    assert!(matches(&pattern, "Bash", &format!("{subject}b")));
}

#[test]
fn acp_agents_inputs_give_the_same_subjects() {
    // OpenCode's file tools say `filePath`.
    let edit = json!({"filePath": "/workspace/src/a.rs", "oldString": "a", "newString": "b"});
    assert_eq!(subject("Edit", &edit, WS), "src/a.rs");
    // Codex runs commands as an argument list.
    let codex = json!({"command": ["/bin/bash", "-lc", "npm test"], "cwd": "/workspace"});
    assert_eq!(subject("Bash", &codex, WS), "npm test");
    let argv = json!({"command": ["git", "status"]});
    assert_eq!(subject("Bash", &argv, WS), "git status");
    assert_eq!(subject("Bash", &json!({"command": " ls "}), WS), "ls");
}
