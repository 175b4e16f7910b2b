//! The real Gemini CLI (the pinned version the runtime installs) against the scripted Gemini
//! API: the demo turn, a resume in a fresh home with the chat file restored where the agents
//! crate puts it, an API error, and how the prompt arrives on stdin.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use agent_runtime_agents::{gemini, AgentKind};
use agent_runtime_testkit::{
    demo::DEMO_FILE_CONTENT, demo_scenario, Response, Rule, Scenario, ScriptedModelServer,
};
use pretty_assertions::assert_eq;
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::cli::{request_summary, CLI_TIMEOUT};

const SESSION: &str = "11111111-2222-3333-4444-555555555555";

fn gemini_binary() -> PathBuf {
    let tools = std::env::var_os("AGENT_RUNTIME_TEST_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/agent-tools"));
    let installer = agent_runtime_core::installer::Installer::new(tools.clone());
    match installer.installed(&AgentKind::GeminiCli) {
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

    /// One headless turn as the runtime starts it: the prompt on stdin (then closed), not in
    /// the arguments.
    async fn run(&self, server: &ScriptedModelServer, session_flag: &str, prompt: &str) -> Run {
        self.run_with_args(server, &[session_flag, SESSION], prompt)
            .await
    }

    /// One headless turn with `extra` arguments and `stdin` piped in.
    async fn run_with_args(
        &self,
        server: &ScriptedModelServer,
        extra: &[&str],
        stdin: &str,
    ) -> Run {
        let mut child = Command::new(gemini_binary())
            .args([
                "--model",
                "gemini-2.5-pro",
                "--output-format",
                "stream-json",
                "--yolo",
            ])
            .args(extra)
            .current_dir(self.workspace())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", self.home.path())
            .env("GEMINI_CLI_NO_RELAUNCH", "true")
            .env("GOOGLE_GEMINI_BASE_URL", server.base_url())
            .env("GEMINI_API_KEY", "test-key")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn gemini");
        let mut pipe = child.stdin.take().expect("stdin");
        let bytes = stdin.as_bytes().to_vec();
        // Written while the output is read: a large input fills the pipe until the CLI reads it.
        let writer = tokio::spawn(async move {
            pipe.write_all(&bytes).await?;
            pipe.shutdown().await
        });
        let output = tokio::time::timeout(CLI_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("gemini hung; requests: {:#?}", request_summary(server)))
            .unwrap();
        writer.await.unwrap().expect("stdin written");
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

/// Every text part of every user content of `request`, unmodified.
fn user_texts(request: &agent_runtime_testkit::RecordedRequest) -> Vec<String> {
    request
        .conversation()
        .iter()
        .filter(|c| c["role"] == "user")
        .filter_map(|c| c["parts"].as_array())
        .flatten()
        .filter_map(|p| p["text"].as_str().map(str::to_string))
        .collect()
}

/// What `gemini::per_turn_stdin` relies on: without `-p`, headless Gemini CLI takes its whole
/// stdin as the prompt, byte for byte (a leading `-`, quotes, newlines, 300 KiB: more than one
/// argument may hold); given `-p` as well, it would join the two.
///
/// The answer trickles on purpose: the CLI echoes the prompt as a stdout line, and Node drops
/// stdout it has not written yet when the CLI exits (stdout is a non-blocking pipe of 64 KiB);
/// a reader that has not drained a 300 KiB echo by then loses the rest of the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_is_the_whole_prompt_and_p_would_be_joined_to_it() {
    let answer = Response::text("ok ".repeat(10))
        .with_chunks(10)
        .with_chunk_delay_ms(50);
    let server = ScriptedModelServer::start(Scenario::new(vec![]).with_fallback(answer))
        .await
        .unwrap();
    let mut message = String::from("--create \"hello.txt\"\n'quoted'\n");
    while message.len() < 300 * 1024 {
        message.push_str("more text, \"quotes\" and 'more'\n");
    }
    let run = GeminiHome::new()
        .run(&server, "--session-id", &gemini::per_turn_stdin(&message))
        .await;
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let sent = server.message_requests();
    assert_eq!(sent.len(), 1, "{:#?}", request_summary(&server));
    let texts = user_texts(&sent[0]);
    assert_eq!(texts.last(), Some(&message), "{} parts", texts.len());

    server.clear_requests();
    let run = GeminiHome::new()
        .run_with_args(
            &server,
            &["--session-id", SESSION, "-p", "from the flag"],
            "from stdin",
        )
        .await;
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let texts = user_texts(&server.message_requests()[0]);
    assert_eq!(
        texts.last().map(String::as_str),
        Some("from stdin\n\nfrom the flag")
    );
}
