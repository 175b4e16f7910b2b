//! The warm-up of a pooled Claude Code process (`Translator::warm_up`), over real captures
//! (`fixtures/claude-warm-up/`, made by its `capture/capture.py`): it writes what the capture
//! wrote, asks for the rewind at the warm-up turn's `result`, is done exactly at the rewind's
//! answer, fails on a rewind the CLI refused, an errored turn or a question, and the first
//! message after it translates as a fresh process's first message does.

use std::path::{Path, PathBuf};

use agent_runtime_agents::claude::{ClaudeTranslator, WarmUp, WarmUpStep};
use agent_runtime_agents::{Translator, TranslatorContext};
use serde_json::Value;

use super::common::{describe, AT};

/// The uuid `capture.py` gives the warm-up's user message.
const CAPTURED_UUID: &str = "5a0f3c2e-7d41-4b8e-9c6a-2f1e0d9b8a70";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

fn capture(case: &str, stream: &str) -> Vec<String> {
    lines(&fixtures().join(format!("claude-warm-up/{case}.{stream}.jsonl")))
}

fn json(line: &str) -> Value {
    serde_json::from_str(line.trim_end()).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn warm_up() -> WarmUp {
    Translator::Claude(ClaudeTranslator::new(TranslatorContext::default()))
        .warm_up(CAPTURED_UUID.to_string())
        .expect("Claude Code has a warm-up")
}

/// The stdout lines after the readiness probe's answer (what the pool reads once ready).
fn after_ready(stdout: Vec<String>) -> Vec<String> {
    let ready = stdout
        .iter()
        .position(|line| agent_runtime_agents::claude::answers_readiness_probe(line))
        .expect("the capture answers the probe");
    stdout[ready + 1..].to_vec()
}

/// Runs `warm_up` over `stdout`: the lines it wrote, and the index of the line it ended at
/// with its last step.
fn run(warm_up: &mut WarmUp, stdout: &[String]) -> (Vec<String>, Option<(usize, WarmUpStep)>) {
    let mut written = vec![warm_up.first_line()];
    for (index, line) in stdout.iter().enumerate() {
        match warm_up.on_line(line) {
            WarmUpStep::Wait => {}
            WarmUpStep::Write(line) => written.push(line),
            end => return (written, Some((index, end))),
        }
    }
    (written, None)
}

#[test]
fn it_writes_what_the_capture_wrote_and_ends_at_the_rewinds_answer() {
    let stdin = capture("warm-up-then-first-message", "stdin");
    let stdout = after_ready(capture("warm-up-then-first-message", "stdout"));
    let mut warm_up = warm_up();
    let (written, end) = run(&mut warm_up, &stdout);

    // The warm-up's message and the rewind, as captured (stdin line 0 is the probe, 3 the
    // first real message).
    let written: Vec<Value> = written.iter().map(|l| json(l)).collect();
    assert_eq!(written, vec![json(&stdin[1]), json(&stdin[2])]);
    assert!(written.iter().all(|line| line.to_string().len() < 400));

    // Done at the rewind's answer, which says the turn is cut; nothing of the real turn read.
    let (index, step) = end.expect("the warm-up ended");
    assert_eq!(step, WarmUpStep::Done);
    let answer = json(&stdout[index]);
    assert_eq!(answer["response"]["request_id"], "agent-runtime-warm-up");
    assert_eq!(answer["response"]["response"]["rewound"], true);
    assert_eq!(
        answer["response"]["response"]["targetMessageUuid"],
        CAPTURED_UUID
    );
    // Asked for at the warm-up turn's result, which came before.
    let result = stdout[..index]
        .iter()
        .position(|line| json(line)["type"] == "result")
        .expect("a result before the answer");
    assert!(stdout[result + 1..index]
        .iter()
        .all(|line| json(line)["type"] != "result"));

    // Over: another line is a failure, not a second warm-up.
    assert!(matches!(
        warm_up.on_line(&stdout[index + 1]),
        WarmUpStep::Failed(_)
    ));
}

#[test]
fn the_first_message_after_it_translates_as_a_fresh_processs_first_message() {
    let warmed = after_ready(capture("warm-up-then-first-message", "stdout"));
    let (_, end) = run(&mut warm_up(), &warmed);
    let (done_at, _) = end.expect("the warm-up ended");
    let fresh = after_ready(capture("first-message-fresh", "stdout"));

    let translate = |lines: &[String]| {
        let mut translator = ClaudeTranslator::new(TranslatorContext::default());
        let outputs: Vec<_> = lines
            .iter()
            .flat_map(|line| translator.translate_line(line, AT))
            .collect();
        describe(&outputs)
    };
    let after = translate(&warmed[done_at + 1..]);
    assert!(
        after.iter().any(|line| line.starts_with("text_delta")),
        "{after:#?}"
    );
    assert_eq!(after, translate(&fresh));
}

#[test]
fn a_rewind_the_cli_refuses_fails_it() {
    let stdout = after_ready(capture("warm-up-then-first-message", "stdout"));
    let result = stdout
        .iter()
        .find(|line| json(line)["type"] == "result")
        .unwrap();
    let refused = after_ready(capture("rewind-unknown-message", "stdout"));
    let answer = refused
        .iter()
        .find(|line| json(line)["type"] == "control_response")
        .expect("the refusal");
    assert_eq!(json(answer)["response"]["response"]["rewound"], false);

    let mut warm_up = warm_up();
    assert!(matches!(warm_up.on_line(result), WarmUpStep::Write(_)));
    match warm_up.on_line(answer) {
        WarmUpStep::Failed(why) => assert!(why.contains("target not found"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// A turn that ends in an error (the model API's 500, as captured in the shared fixtures) or in
/// a question (a `can_use_tool` request) fails the warm-up: the conversation is not what the
/// rewind expects, and the process is not handed out.
#[test]
fn an_errored_turn_or_a_question_fails_it() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/claude");
    let errored = lines(&shared.join("error-apierror500.stream.jsonl"));
    let mut warm_up = warm_up();
    let end = errored
        .iter()
        .map(|line| warm_up.on_line(line))
        .find(|step| *step != WarmUpStep::Wait);
    assert!(
        matches!(&end, Some(WarmUpStep::Failed(why)) if why.starts_with("the warm-up turn ended in an error")),
        "{end:?}"
    );

    let asked = lines(&fixtures().join("claude-approvals/can-use-tool-allow-deny.stream.jsonl"));
    let mut warm_up = self::warm_up();
    let end = asked
        .iter()
        .map(|line| warm_up.on_line(line))
        .find(|step| *step != WarmUpStep::Wait);
    assert!(
        matches!(&end, Some(WarmUpStep::Failed(why)) if why.contains("can_use_tool")),
        "{end:?}"
    );
}

/// Only Claude Code has a warm-up.
#[test]
fn other_agents_have_none() {
    let gemini = Translator::Gemini(agent_runtime_agents::GeminiTranslator::new(
        TranslatorContext::default(),
    ));
    assert!(gemini.warm_up("u".into()).is_none());
}

/// The CLI's transcript keeps the warm-up's lines, on a branch the rewind cut at its first
/// message; the parser drops them, so the conversation read back is the session's own.
#[test]
fn the_transcript_parser_drops_the_warm_up() {
    let path = fixtures().join("claude-warm-up/warm-up-then-first-message.transcript.jsonl");
    let content = std::fs::read_to_string(&path).unwrap();
    assert!(content.contains(agent_runtime_agents::claude::WARM_UP_TEXT));
    let parsed = agent_runtime_agents::AgentKind::ClaudeCode
        .parse_transcript(&[("3b9d7f0e-1c2a-4e5f-8a6b-7c8d9e0f1a2b.jsonl".into(), content)]);
    let kinds: Vec<&str> = parsed.blocks.iter().map(|b| b.kind()).collect();
    assert_eq!(kinds, vec!["user_message", "assistant_text"]);
    let blocks = serde_json::to_string(&parsed.blocks).unwrap();
    assert!(blocks.contains("\"hello\""), "{blocks}");
    assert!(
        !blocks.contains(agent_runtime_agents::claude::WARM_UP_TEXT),
        "{blocks}"
    );
    assert!(
        parsed
            .warnings
            .iter()
            .any(|w| w.contains("abandoned branches dropped")),
        "{:?}",
        parsed.warnings
    );
}
