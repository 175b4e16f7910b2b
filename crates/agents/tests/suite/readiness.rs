//! When a warm agent process counts as ready (`Translator::readiness_probe` and `shows_ready`),
//! over real captures: no line of any capture but the answer the probe asks for shows it.

use std::path::{Path, PathBuf};

use agent_runtime_agents::acp::{AcpSessionSetup, AcpTranslator};
use agent_runtime_agents::claude::ClaudeTranslator;
use agent_runtime_agents::{Translator, TranslatorContext};
use serde_json::Value;

fn captures(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no captures in {}", dir.display());
    paths
}

fn claude() -> Translator {
    Translator::Claude(ClaudeTranslator::new(TranslatorContext::default()))
}

/// Claude Code answers the probe (an `initialize` control request, as in the capture
/// `stdin-initialize-and-interrupt-control-request`) with a `control_response` carrying its
/// request id; no other line of any capture, including the answer to another `initialize` and
/// to an interrupt, counts.
#[test]
fn claude_is_ready_when_it_answers_the_probe_and_at_no_other_line() {
    let translator = claude();
    let probe: Value = serde_json::from_str(
        translator
            .readiness_probe()
            .expect("Claude Code has a probe")
            .trim_end(),
    )
    .unwrap();
    assert_eq!(probe["type"], "control_request");
    assert_eq!(probe["request"]["subtype"], "initialize");
    let id = probe["request_id"].as_str().expect("a request id");

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/claude");
    let mut lines = 0;
    for path in captures(&dir, ".stream.jsonl") {
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            lines += 1;
            assert!(
                !translator.shows_ready(line),
                "{}: {line:.200}",
                path.display()
            );
        }
    }
    assert!(lines > 1000, "{lines}");

    // The capture's own answer to `initialize`, as the CLI would send it to the probe.
    let capture = std::fs::read_to_string(
        dir.join("stdin-initialize-and-interrupt-control-request.stream.jsonl"),
    )
    .unwrap();
    let mut answer: Value = serde_json::from_str(capture.lines().next().unwrap()).unwrap();
    assert_eq!(answer["response"]["request_id"], "init-1");
    answer["response"]["request_id"] = id.into();
    assert!(translator.shows_ready(&answer.to_string()));
    // The id alone, elsewhere in a line, is not an answer.
    let text = serde_json::json!({"type": "assistant", "message": {"content": [{"type": "text", "text": id}]}, "request_id": id});
    assert!(!translator.shows_ready(&text.to_string()));
}

/// An ACP agent is ready when it answers the `initialize` of `start_lines`: in every capture the
/// first line that shows it is that answer, and it is the only one.
#[test]
fn an_acp_agent_is_ready_when_it_answers_initialize() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut paths = captures(&dir.join("opencode-acp"), ".acp.jsonl");
    paths.extend(captures(&dir.join("codex-acp"), ".acp.jsonl"));
    for path in paths {
        let mut translator = Translator::Acp(Box::new(AcpTranslator::new(TranslatorContext {
            acp: AcpSessionSetup {
                cwd: "/workspace".into(),
                load: None,
                mcp_servers: Vec::new(),
            },
            ..TranslatorContext::default()
        })));
        assert!(translator.readiness_probe().is_none());
        let start = translator.start_lines();
        let initialize: Value = serde_json::from_str(start[0].trim_end()).unwrap();
        assert_eq!(initialize["method"], "initialize");
        let mut ready = Vec::new();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let message: Value = serde_json::from_str(line).unwrap();
            if message["dir"] != "in" {
                continue;
            }
            ready.push(translator.shows_ready(&message["msg"].to_string()));
        }
        let first_in: Value = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|m| m["dir"] == "in")
            .unwrap();
        assert_eq!(
            first_in["msg"]["id"],
            initialize["id"],
            "{}",
            path.display()
        );
        assert_eq!(ready.first(), Some(&true), "{}", path.display());
        assert_eq!(
            ready.iter().filter(|r| **r).count(),
            1,
            "{}: only the answer to initialize",
            path.display()
        );
    }
}
