//! Harness for the real Claude Code CLI: locates the pinned binary, runs it with a fresh
//! HOME and workspace against a scripted model server, and parses its stream-json output.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use agent_runtime_testkit::ScriptedModelServer;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Env var naming the CLI binary to test.
pub const CLAUDE_ENV: &str = "AGENT_RUNTIME_TEST_CLAUDE";

/// The tools dir the test script installs the pinned CLIs into.
fn tools_dir() -> PathBuf {
    std::env::var_os("AGENT_RUNTIME_TEST_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/agent-tools"))
}

/// Upper bound for one CLI run (a scripted turn takes about a second).
pub const CLI_TIMEOUT: Duration = Duration::from_secs(25);

/// The CLI binary under test: `$AGENT_RUNTIME_TEST_CLAUDE`, else the pinned version the runtime
/// installed into the test tools dir. Fails the test (never skips it) when it is missing.
pub fn claude_binary() -> PathBuf {
    if let Some(path) = std::env::var_os(CLAUDE_ENV) {
        return PathBuf::from(path);
    }
    let installer = agent_runtime_core::installer::Installer::new(tools_dir());
    match installer.installed(&agent_runtime_agents::AgentKind::ClaudeCode) {
        Some(installed) => installed.host_bin,
        None => panic!(
            "the pinned Claude Code CLI is not installed in {}: run `scripts/test`, or \
             `cargo run --bin agent-runtime -- install --tools-dir {0}`, or set {CLAUDE_ENV}",
            tools_dir().display()
        ),
    }
}

/// A fresh HOME and workspace for one CLI session.
pub struct ClaudeCli {
    binary: PathBuf,
    home: TempDir,
    workspace: TempDir,
    extra_env: Vec<(String, String)>,
}

/// Everything a finished CLI process produced.
#[derive(Debug)]
pub struct CliRun {
    pub lines: Vec<Value>,
    pub stderr: String,
    pub status: ExitStatus,
}

impl ClaudeCli {
    pub fn new() -> Self {
        Self {
            binary: claude_binary(),
            home: TempDir::new().expect("temp home"),
            workspace: TempDir::new().expect("temp workspace"),
            extra_env: Vec::new(),
        }
    }

    /// Adds an environment variable for every later run.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.extra_env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The working directory the CLI runs in (canonical, as the CLI reports it).
    pub fn workspace(&self) -> PathBuf {
        self.workspace
            .path()
            .canonicalize()
            .expect("canonical workspace")
    }

    fn command(&self, server: &ScriptedModelServer, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        let home = self.home.path();
        command
            .args(args)
            .args([
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
                "--permission-mode",
                "bypassPermissions",
                "--session-id",
                &uuid::Uuid::new_v4().to_string(),
            ])
            .current_dir(self.workspace())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", home)
            .env("CLAUDE_CONFIG_DIR", home.join(".claude"))
            .env("ANTHROPIC_BASE_URL", server.base_url())
            .env("ANTHROPIC_API_KEY", "test-key")
            .env("IS_SANDBOX", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .env("CLAUDE_CODE_MAX_RETRIES", "0")
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// `claude -p PROMPT` to completion.
    pub async fn run_print(&self, server: &ScriptedModelServer, prompt: &str) -> CliRun {
        let mut command = self.command(server, &["-p", prompt]);
        command.stdin(Stdio::null());
        let child = command.spawn().expect("spawn claude");
        let output = tokio::time::timeout(CLI_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "claude -p did not finish within {CLI_TIMEOUT:?}; requests: {:#?}",
                    request_summary(server)
                )
            })
            .expect("claude output");
        CliRun {
            lines: parse_lines(&String::from_utf8_lossy(&output.stdout)),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            status: output.status,
        }
    }

    /// `claude -p --input-format stream-json`, fed turn by turn.
    pub fn start_stdin_session(&self, server: &ScriptedModelServer) -> StdinSession {
        let mut command = self.command(server, &["-p", "--input-format", "stream-json"]);
        command.stdin(Stdio::piped());
        let mut child = command.spawn().expect("spawn claude");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        StdinSession {
            child,
            stdin: Some(stdin),
            stdout,
        }
    }
}

/// A running stream-json-input CLI process.
pub struct StdinSession {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl StdinSession {
    /// Sends one user turn.
    pub async fn send_user(&mut self, text: &str) {
        self.send_line(&json!({
            "type": "user",
            "message": {"role": "user", "content": text},
            "parent_tool_use_id": null,
            "session_id": ""
        }))
        .await;
    }

    /// Asks the CLI to interrupt the current turn.
    pub async fn send_interrupt(&mut self) {
        self.send_line(&json!({
            "type": "control_request",
            "request_id": uuid::Uuid::new_v4().to_string(),
            "request": {"subtype": "interrupt"}
        }))
        .await;
    }

    async fn send_line(&mut self, line: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write user line");
        stdin.flush().await.expect("flush stdin");
    }

    /// Reads stdout lines up to and including the next `result` line.
    pub async fn read_turn(&mut self) -> Vec<Value> {
        self.read_until(|line| line["type"] == "result").await
    }

    /// Reads stdout lines up to and including the first one satisfying `last`.
    pub async fn read_until(&mut self, last: impl Fn(&Value) -> bool) -> Vec<Value> {
        let read = async {
            let mut lines = Vec::new();
            while let Some(line) = self.stdout.next_line().await.expect("read stdout") {
                let value = parse_line(&line);
                let done = last(&value);
                lines.push(value);
                if done {
                    return lines;
                }
            }
            panic!("claude exited before the awaited line; got {lines:#?}");
        };
        tokio::time::timeout(CLI_TIMEOUT, read)
            .await
            .expect("awaited line arrives in time")
    }

    /// Closes stdin and waits for the process; returns its status and stderr.
    pub async fn finish(mut self) -> (ExitStatus, String) {
        drop(self.stdin.take());
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = tokio::time::timeout(CLI_TIMEOUT, pipe.read_to_string(&mut stderr)).await;
        }
        let status = tokio::time::timeout(CLI_TIMEOUT, self.child.wait())
            .await
            .expect("claude exits after stdin closes")
            .expect("wait for claude");
        (status, stderr)
    }
}

impl CliRun {
    /// The last `result` line.
    pub fn result(&self) -> &Value {
        self.lines
            .iter()
            .rev()
            .find(|line| line["type"] == "result")
            .unwrap_or_else(|| panic!("no result line; {}", self.describe()))
    }

    /// Output plus stderr, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "status {:?}\nstderr:\n{}\nstdout:\n{:#?}",
            self.status, self.stderr, self.lines
        )
    }
}

/// The `event` payloads of `stream_event` lines.
pub fn stream_events(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|line| line["type"] == "stream_event")
        .map(|line| &line["event"])
        .collect()
}

/// Delta types (`text_delta`, `thinking_delta`, ...) in stream order.
pub fn delta_types(lines: &[Value]) -> Vec<&str> {
    stream_events(lines)
        .into_iter()
        .filter(|event| event["type"] == "content_block_delta")
        .filter_map(|event| event["delta"]["type"].as_str())
        .collect()
}

/// Content blocks of `assistant` (or `user`) lines of the given block type.
pub fn blocks<'a>(lines: &'a [Value], line_type: &str, block_type: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|line| line["type"] == line_type)
        .filter_map(|line| line["message"]["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == block_type)
        .collect()
}

/// The `assistant` line holding a block with this tool-use id.
pub fn assistant_message_id_of<'a>(lines: &'a [Value], tool_use_id: &str) -> Option<&'a str> {
    lines
        .iter()
        .filter(|line| line["type"] == "assistant")
        .find(|line| {
            line["message"]["content"]
                .as_array()
                .is_some_and(|c| c.iter().any(|b| b["id"] == tool_use_id))
        })
        .and_then(|line| line["message"]["id"].as_str())
}

/// `method path kind` of every request, for failure messages.
pub fn request_summary(server: &ScriptedModelServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| format!("{} {} {:?} rule={:?}", r.method, r.path, r.kind, r.rule))
        .collect()
}

fn parse_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("non-JSON stdout line ({e}): {line}"))
}

/// Reads a file the CLI was asked to write.
pub fn read_file(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()))
}
