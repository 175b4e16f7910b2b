//! The real codex-acp (Codex behind the Agent Client Protocol, JSON-RPC on stdio) against the
//! scripted Responses API: a shell command then a text answer, and the demo turn writing a file
//! through `apply_patch`.
//!
//! The binary is `AGENT_RUNTIME_TEST_CODEX_ACP` when set, else the pinned adapter the runtime
//! installed into the test tools dir; a missing one fails the tests (never skips them). Codex is configured only with `-c` flags
//! (see `crates/agents/fixtures/codex-acp/README.md`): a custom provider pointing at the server,
//! no approvals and no sandbox of its own.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use agent_runtime_testkit::{
    demo::DEMO_FILE_CONTENT, demo_scenario, Api, Block, Matcher, Response, Rule, Scenario,
    ScriptedModelServer,
};
use pretty_assertions::assert_eq;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Environment variable naming the codex-acp binary.
const BINARY_VAR: &str = "AGENT_RUNTIME_TEST_CODEX_ACP";

/// Longest wait for one ACP response (a turn with a tool call takes about a second).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary to test: `$AGENT_RUNTIME_TEST_CODEX_ACP`, else the pinned adapter installed in the
/// test tools dir (`scripts/test` installs it).
fn codex_acp_binary() -> PathBuf {
    if let Some(path) = std::env::var_os(BINARY_VAR) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{BINARY_VAR}={} is not a file",
            path.display()
        );
        return path;
    }
    let tools = std::env::var_os("AGENT_RUNTIME_TEST_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/agent-tools"));
    let installer = agent_runtime_core::installer::Installer::new(tools.clone());
    let codex = agent_runtime_agents::AgentKind::from_id("codex").expect("built in");
    match installer.installed(&codex) {
        Some(installed) => installed.host_bin,
        None => panic!(
            "codex-acp is not installed in {}: run `scripts/test`, or \
             `cargo run --bin agent-runtime -- install --tools-dir {0}`, or set {BINARY_VAR}",
            tools.display()
        ),
    }
}

/// A codex-acp process with a fresh home, and the notifications it sent so far.
struct CodexAcp {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
    updates: Vec<Value>,
    _home: TempDir,
}

impl CodexAcp {
    async fn start(binary: &Path, server: &ScriptedModelServer) -> Self {
        let home = TempDir::new().unwrap();
        let codex_home = home.path().join(".codex");
        std::fs::create_dir(&codex_home).unwrap();
        let base_url = format!("{}/v1", server.base_url());
        let settings = [
            r#"model="gpt-5.4""#.to_owned(),
            r#"model_provider="scripted""#.to_owned(),
            r#"approval_policy="never""#.to_owned(),
            r#"sandbox_mode="danger-full-access""#.to_owned(),
            r#"model_providers.scripted.name="Scripted""#.to_owned(),
            format!(r#"model_providers.scripted.base_url="{base_url}""#),
            r#"model_providers.scripted.wire_api="responses""#.to_owned(),
            r#"model_providers.scripted.env_key="OPENAI_API_KEY""#.to_owned(),
        ];
        let mut command = Command::new(binary);
        for setting in settings {
            command.arg("-c").arg(setting);
        }
        let mut child = command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("CODEX_HOME", &codex_home)
            .env("OPENAI_API_KEY", "sk-scripted")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            stdout,
            next_id: 0,
            updates: Vec::new(),
            _home: home,
        }
    }

    async fn send(&mut self, message: &Value) {
        let line = format!("{message}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap();
    }

    /// Sends a request and returns its `result`, keeping `session/update` notifications and
    /// refusing requests from the agent (none are expected with `approval_policy=never`).
    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let line = tokio::time::timeout(RESPONSE_TIMEOUT, self.stdout.next_line())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method} within {RESPONSE_TIMEOUT:?}"))
                .unwrap()
                .unwrap_or_else(|| panic!("codex-acp exited before answering {method}"));
            let message: Value = serde_json::from_str(&line).unwrap();
            match (message.get("method"), message.get("id")) {
                (Some(m), None) if m == "session/update" => {
                    self.updates.push(message["params"]["update"].clone());
                }
                (Some(m), Some(request_id)) => {
                    let request_id = request_id.clone();
                    panic!("unexpected request {m} from codex-acp ({request_id}): {message}");
                }
                (None, Some(answer_id)) if *answer_id == json!(id) => {
                    assert!(message.get("error").is_none(), "{method} failed: {message}");
                    return message["result"].clone();
                }
                _ => {}
            }
        }
    }

    /// Initializes, opens a session in `cwd` and sends one prompt; returns the stop reason.
    async fn run_turn(&mut self, cwd: &Path, prompt: &str) -> String {
        let init = self
            .request(
                "initialize",
                json!({"protocolVersion": 1, "clientCapabilities":
                       {"fs": {"readTextFile": false, "writeTextFile": false}, "terminal": false}}),
            )
            .await;
        assert_eq!(init["protocolVersion"], 1);
        let session = self
            .request("session/new", json!({"cwd": cwd, "mcpServers": []}))
            .await;
        let session_id = session["sessionId"].as_str().unwrap().to_owned();
        let result = self
            .request(
                "session/prompt",
                json!({"sessionId": session_id, "prompt": [{"type": "text", "text": prompt}]}),
            )
            .await;
        result["stopReason"].as_str().unwrap().to_owned()
    }

    /// The text of the `session/update`s of one kind, concatenated.
    fn text_of(&self, kind: &str) -> String {
        self.updates
            .iter()
            .filter(|update| update["sessionUpdate"] == kind)
            .filter_map(|update| update["content"]["text"].as_str())
            .collect()
    }

    async fn stop(mut self) {
        drop(self.stdin);
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await.unwrap();
        }
    }
}

#[tokio::test]
async fn codex_runs_the_scripted_shell_command_and_shows_the_answer() {
    let binary = codex_acp_binary();
    let server = ScriptedModelServer::start(Scenario::new(vec![
        Rule::new(
            Matcher::tool_result(Some("Bash")),
            Response::text("All done."),
        ),
        Rule::always(Response::blocks(vec![
            Block::thinking("One command will do."),
            Block::text("Running it."),
            Block::tool_use(
                "Bash",
                json!({"command": "printf 'made by codex\\n' > made.txt"}),
            ),
        ])),
    ]))
    .await
    .unwrap();
    let workspace = TempDir::new().unwrap();
    let mut codex = CodexAcp::start(&binary, &server).await;
    let stop_reason = codex.run_turn(workspace.path(), "make made.txt").await;
    assert_eq!(stop_reason, "end_turn");
    assert_eq!(codex.text_of("agent_message_chunk"), "Running it.All done.");
    assert!(codex
        .text_of("agent_thought_chunk")
        .contains("One command will do."));
    let tool_call = codex
        .updates
        .iter()
        .find(|update| update["sessionUpdate"] == "tool_call")
        .expect("a tool_call update");
    assert_eq!(tool_call["kind"], "execute");
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("made.txt")).unwrap(),
        "made by codex\n"
    );
    codex.stop().await;

    let requests = server.message_requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.api == Some(Api::OpenAi)));
    assert_eq!(requests[0].last_user_text(), "make made.txt");
    let results = requests[1].as_model_request().unwrap().last_tool_results();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].tool_name.as_deref(), Some("exec_command"));
    assert!(!results[0].is_error);
}

#[tokio::test]
async fn codex_plays_the_demo_turn_writing_the_file_with_apply_patch() {
    let binary = codex_acp_binary();
    let server = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let workspace = TempDir::new().unwrap();
    let mut codex = CodexAcp::start(&binary, &server).await;
    let stop_reason = codex
        .run_turn(workspace.path(), "Please create hello.txt")
        .await;
    assert_eq!(stop_reason, "end_turn");
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("hello.txt")).unwrap(),
        DEMO_FILE_CONTENT
    );
    let text = codex.text_of("agent_message_chunk");
    assert!(text.contains("Done! I created hello.txt"), "{text}");
    let edit = codex
        .updates
        .iter()
        .find(|update| update["sessionUpdate"] == "tool_call")
        .expect("a tool_call update");
    assert_eq!(edit["kind"], "edit");
    codex.stop().await;
}
