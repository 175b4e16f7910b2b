//! The real Gemini CLI (the pinned version the runtime installs) against the scripted Gemini
//! API: the demo turn, a resume in a fresh home with the chat file restored where the agents
//! crate puts it, and an API error.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use agent_runtime_agents::{gemini, AgentKind};
use agent_runtime_testkit::{
    demo::DEMO_FILE_CONTENT, demo_scenario, Response, Rule, Scenario, ScriptedModelServer,
};
use pretty_assertions::assert_eq;
use serde_json::Value;
use tempfile::TempDir;
use tokio::process::Command;

use super::cli::{request_summary, CLI_TIMEOUT};

const SESSION: &str = "11111111-2222-3333-4444-555555555555";

fn gemini_binary() -> PathBuf {
    let tools = std::env::var_os("AGENT_RUNTIME_TEST_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/agent-tools"));
    let installer = agent_runtime_core::installer::Installer::new(tools.clone());
    match installer.installed(AgentKind::GeminiCli) {
        Some(installed) => installed.host_bin,
        None => panic!(
            "the pinned Gemini CLI is not installed in {}: run `scripts/test` or \
             `cargo run --bin agent-runtime -- install --tools-dir {0}`",
            tools.display()
        ),
    }
}

/// A home with the runtime's settings, and a workspace named `workspace` (as in the sandbox).
struct GeminiHome {
    home: TempDir,
    root: TempDir,
}

struct Run {
    lines: Vec<Value>,
    stderr: String,
    code: Option<i32>,
}

impl GeminiHome {
    fn new() -> Self {
        let home = TempDir::new().unwrap();
        let settings = home.path().join(gemini::profile::SETTINGS_PATH);
        std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
        let text = serde_json::to_string_pretty(&gemini::profile::base_settings()).unwrap();
        std::fs::write(settings, text).unwrap();
        let root = TempDir::new().unwrap();
        std::fs::create_dir(root.path().join("workspace")).unwrap();
        Self { home, root }
    }

    fn workspace(&self) -> PathBuf {
        self.root.path().join("workspace").canonicalize().unwrap()
    }

    async fn run(&self, server: &ScriptedModelServer, session_flag: &str, prompt: &str) -> Run {
        let child = Command::new(gemini_binary())
            .args([
                "--model",
                "gemini-2.5-pro",
                "--output-format",
                "stream-json",
                "--yolo",
            ])
            .args([session_flag, SESSION])
            .arg(format!("--prompt={prompt}"))
            .current_dir(self.workspace())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", self.home.path())
            .env("GEMINI_CLI_NO_RELAUNCH", "true")
            .env("GOOGLE_GEMINI_BASE_URL", server.base_url())
            .env("GEMINI_API_KEY", "test-key")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn gemini");
        let output = tokio::time::timeout(CLI_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("gemini hung; requests: {:#?}", request_summary(server)))
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        Run {
            lines: stdout
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            code: output.status.code(),
        }
    }

    /// Every file below the home directory, relative to it.
    fn home_files(&self) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else {
                    out.push(path.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(self.home.path(), self.home.path(), &mut out);
        out
    }
}

impl Run {
    fn of_type(&self, kind: &str) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["type"] == kind).collect()
    }

    fn describe(&self) -> String {
        format!(
            "exit {:?}\nstderr:\n{}\nstdout:\n{:#?}",
            self.code, self.stderr, self.lines
        )
    }
}

#[tokio::test]
async fn demo_turn_then_resume_in_a_fresh_home() {
    let server = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let first = GeminiHome::new();
    let run = first.run(&server, "--session-id", "create hello.txt").await;
    let context = run.describe();
    assert_eq!(run.code, Some(0), "{context}");
    assert_eq!(run.of_type("result")[0]["status"], "success", "{context}");
    let calls = run.of_type("tool_use");
    assert_eq!(calls.len(), 1, "{context}");
    assert_eq!(calls[0]["tool_name"], "write_file");
    assert_eq!(run.of_type("tool_result")[0]["status"], "success");
    let written = std::fs::read_to_string(first.workspace().join("hello.txt")).unwrap();
    assert_eq!(written, DEMO_FILE_CONTENT);
    assert_eq!(
        server.message_requests().len(),
        2,
        "{:#?}",
        request_summary(&server)
    );

    // Save as the runtime does, restore into a fresh home, resume.
    let saved = gemini::transcript_files_to_save(&first.home_files(), SESSION);
    assert_eq!(saved.len(), 1, "{saved:?}");
    let second = GeminiHome::new();
    let mut transcript = Vec::new();
    for file in &saved {
        let content = std::fs::read_to_string(first.home.path().join(&file.home_path)).unwrap();
        let to = gemini::transcript_restore_path(&file.name, "/sandbox/workspace").unwrap();
        let to = second.home.path().join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, &content).unwrap();
        transcript.push((file.name.clone(), content));
    }
    assert!(AgentKind::GeminiCli.can_resume(&transcript, SESSION));
    server.clear_requests();
    let run = second.run(&server, "--resume", "what did you do?").await;
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let sent = server.message_requests();
    let history = serde_json::to_string(sent[0].conversation()).unwrap();
    assert!(history.contains("create hello.txt"), "{history}");
    assert!(history.contains("what did you do?"), "{history}");
    assert_eq!(sent[0].last_user_text(), "what did you do?");
}

#[tokio::test]
async fn an_api_error_ends_the_run_with_the_status_in_the_result_and_the_exit_code() {
    let server = ScriptedModelServer::start(Scenario::new(vec![Rule::always(Response::error(
        400,
        "scripted bad request",
    ))]))
    .await
    .unwrap();
    let run = GeminiHome::new()
        .run(&server, "--session-id", "hello")
        .await;
    let context = run.describe();
    // HTTP status modulo 256.
    assert_eq!(run.code, Some(144), "{context}");
    let result = run.of_type("result");
    assert_eq!(result[0]["status"], "error", "{context}");
    let message = result[0]["error"]["message"].as_str().unwrap();
    assert!(message.contains("\"code\":400"), "{message}");
    assert!(message.contains("scripted bad request"), "{message}");
}
