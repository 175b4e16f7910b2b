//! Waiting for a warm agent to be ready keeps every line it wrote meanwhile.

use std::time::Duration;

use agent_runtime_agents::{ClaudeTranslator, TranslatorContext};
use agent_runtime_sandbox::SandboxError;
use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};

use super::*;

struct Handle;

#[async_trait]
impl ProcessHandle for Handle {
    fn id(&self) -> Option<u32> {
        None
    }
    async fn wait(&mut self) -> Result<ExitInfo, SandboxError> {
        Ok(ExitInfo {
            code: Some(0),
            signal: None,
        })
    }
    async fn kill(&mut self) -> Result<(), SandboxError> {
        Ok(())
    }
}

/// A Claude Code process whose ends the test holds: what it reads, what it writes.
fn process() -> (AgentProcess, BufReader<DuplexStream>, DuplexStream) {
    let (stdin, agent_stdin) = tokio::io::duplex(1 << 16);
    let (agent_stdout, stdout) = tokio::io::duplex(1 << 16);
    let (_agent_stderr, stderr) = tokio::io::duplex(1 << 10);
    let spawned = SandboxProcess {
        stdin: Box::pin(stdin),
        stdout: Box::pin(stdout),
        stderr: Box::pin(stderr),
        handle: Box::new(Handle),
    };
    let translator = Translator::Claude(ClaudeTranslator::new(TranslatorContext::default()));
    (
        AgentProcess::start(spawned, translator, "test"),
        BufReader::new(agent_stdin),
        agent_stdout,
    )
}

fn stdout_text(line: Option<OutputLine>) -> String {
    match line {
        Some(OutputLine::Stdout(text)) => text,
        other => panic!("expected a stdout line, got {other:?}"),
    }
}

const ANSWER: &str = r#"{"type":"control_response","response":{"subtype":"success","request_id":"agent-runtime-ready","response":{"commands":[]}}}"#;

#[tokio::test]
async fn ready_after_the_answer_to_the_probe_and_every_line_is_kept_in_order() {
    let (mut process, mut agent_stdin, mut agent_stdout) = process();
    let waiting = tokio::spawn(async move {
        let ready = process.wait_until_ready().await;
        (process, ready)
    });
    // The probe arrives on the agent's stdin.
    let mut probe = String::new();
    tokio::time::timeout(Duration::from_secs(5), agent_stdin.read_line(&mut probe))
        .await
        .expect("the probe is written")
        .unwrap();
    assert!(probe.contains("\"subtype\":\"initialize\""), "{probe}");
    let early = r#"{"type":"system","subtype":"status","status":"starting"}"#;
    let late = r#"{"type":"system","subtype":"status","status":"after"}"#;
    agent_stdout
        .write_all(format!("{early}\n").as_bytes())
        .await
        .unwrap();
    // Not ready on a line that is not the answer.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    agent_stdout
        .write_all(format!("{ANSWER}\n{late}\n").as_bytes())
        .await
        .unwrap();
    let (mut process, ready) = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("ready")
        .unwrap();
    assert!(ready);
    assert_eq!(stdout_text(process.next_line().await), early);
    assert_eq!(stdout_text(process.next_line().await), ANSWER);
    assert_eq!(stdout_text(process.next_line().await), late);
}

#[tokio::test]
async fn not_ready_when_the_output_closes_first_and_nothing_is_lost() {
    let (mut process, _agent_stdin, mut agent_stdout) = process();
    agent_stdout
        .write_all(b"{\"type\":\"system\",\"subtype\":\"init\"}\nnot json\n")
        .await
        .unwrap();
    drop(agent_stdout);
    let ready = tokio::time::timeout(Duration::from_secs(5), process.wait_until_ready())
        .await
        .expect("the wait ends with the output");
    assert!(!ready);
    assert_eq!(
        stdout_text(process.next_line().await),
        "{\"type\":\"system\",\"subtype\":\"init\"}"
    );
    assert_eq!(stdout_text(process.next_line().await), "not json");
}
