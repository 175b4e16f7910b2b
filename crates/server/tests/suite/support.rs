//! `TestServer`: the real server, started in-process on port 0 with a temporary data dir, and
//! helpers with explicit timeouts.
//!
//! ```ignore
//! let server = TestServer::start_with(|config| {
//!     config.store_url = format!("sqlite://{}/db.sqlite", config.data_dir.display());
//!     config.tools_dir = shared_tools_dir();
//!     config.anthropic_base_url = Some(model.base_url());
//!     config.idle_timeout = Duration::from_secs(5);
//!     config.api_keys = vec!["test-key".into()];
//! })
//! .await;
//! let client = server.client(); // carries the first API key, if any
//! ```

#![allow(dead_code)]

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use agent_runtime_client::{Client, ClientError, WsAuth, WsConnection};
use agent_runtime_protocol::{CreateSessionRequest, Envelope, ServerFrame};
use agent_runtime_server::{start, BodyLimits, RunningServer, ServerConfig};
use tempfile::TempDir;

/// Longest a server may take to start (it probes bubblewrap).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest any single wait for a frame or event.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long "nothing more arrives" is watched for.
pub const QUIET: Duration = Duration::from_millis(300);
/// Body limits of test servers: small, so oversize tests send little.
pub const TEST_LIMITS: BodyLimits = BodyLimits {
    json: 16 * 1024,
    file: 64 * 1024,
};

/// A running server and the temporary directory it lives in.
pub struct TestServer {
    server: Option<RunningServer>,
    config: ServerConfig,
    dir: TempDir,
}

impl TestServer {
    /// Defaults: memory store, no API key, no agent install, [`TEST_LIMITS`].
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestServer::start`], with `customize` applied to the config last.
    pub async fn start_with(customize: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // Sandboxes may run as another host user, who must be able to enter the data dir.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod tempdir");
        let mut config = ServerConfig::new(dir.path().join("data"));
        config.port = 0;
        config.store_url = "memory".into();
        config.skip_install = true;
        config.limits = TEST_LIMITS;
        config.shutdown_grace = Duration::from_secs(5);
        // A warm sandbox per server would start an agent for every test; the pool's own tests
        // (and the e2e matrix's pooled row) turn it on.
        config.warm_pool = 0;
        // In-process, this test binary is not the server: the real one is the sandbox helper.
        config.sandbox_helper = Some(agent_runtime_sandbox::HelperProgram::subcommand(
            env!("CARGO_BIN_EXE_agent-runtime"),
            agent_runtime_server::server::SANDBOX_HELPER_SUBCOMMAND,
        ));
        customize(&mut config);
        let server = launch(config.clone()).await;
        TestServer {
            server: Some(server),
            config,
            dir,
        }
    }

    /// The server.
    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server is running")
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The temporary directory holding the data dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn base_url(&self) -> String {
        self.server().base_url()
    }

    /// A client with the first configured API key (if any).
    pub fn client(&self) -> Client {
        let client = Client::new(self.base_url());
        match self.config.api_keys.first() {
            Some(key) => client.with_api_key(key),
            None => client,
        }
    }

    /// A client without a key.
    pub fn anonymous_client(&self) -> Client {
        Client::new(self.base_url())
    }

    /// A WebSocket with the API key in the URL (or none when the server has no key).
    pub async fn ws(&self) -> WsConnection {
        let mut ws = within(self.client().connect_ws(WsAuth::Query))
            .await
            .expect("websocket connects");
        ws.command_timeout = WAIT;
        ws
    }

    /// Creates a session with default settings.
    pub async fn create_session(&self) -> String {
        within(
            self.client()
                .create_session(&CreateSessionRequest::default()),
        )
        .await
        .expect("create session")
        .session_id
    }

    /// Writes `count` files `f0.txt`, `f1.txt`, ... into a session: one event each.
    pub async fn write_files(&self, session_id: &str, count: usize) {
        for i in 0..count {
            let content = format!("content {i}\n");
            within(
                self.client()
                    .write_file(session_id, &format!("f{i}.txt"), content),
            )
            .await
            .expect("write file");
        }
    }

    /// Stops the server and starts it again on the same data dir and config (a new port).
    pub async fn restart(mut self) -> Self {
        if let Some(server) = self.server.take() {
            within(server.shutdown()).await.expect("shutdown");
        }
        self.server = Some(launch(self.config.clone()).await);
        self
    }

    /// Stops the server gracefully.
    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            within(server.shutdown()).await.expect("shutdown");
        }
    }
}

async fn launch(config: ServerConfig) -> RunningServer {
    tokio::time::timeout(STARTUP_TIMEOUT, start(config))
        .await
        .expect("server starts in time")
        .expect("server starts")
}

/// Awaits `future` for at most [`WAIT`], panicking on timeout.
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .expect("timed out waiting")
}

/// The next frame, which must arrive within [`WAIT`].
pub async fn next_frame(ws: &mut WsConnection) -> ServerFrame {
    ws.next_frame_within(WAIT)
        .await
        .expect("a frame in time")
        .expect("connection open")
}

/// The next frame, which must be an event.
pub async fn next_event(ws: &mut WsConnection) -> Envelope {
    match next_frame(ws).await {
        ServerFrame::Event { envelope } => envelope,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Asserts that nothing arrives for [`QUIET`].
pub async fn assert_quiet(ws: &mut WsConnection) {
    if let Ok(frame) = ws.next_frame_within(QUIET).await {
        panic!("expected nothing, got {frame:?}");
    }
}

/// The code of an API error.
pub fn code_of<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Api { status, problem }) => (status, problem.code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Asserts a raw response is a problem+json with this status and code.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.expect("problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["type"], format!("urn:agent-runtime:error:{code}"));
    assert!(body["title"].is_string(), "{body}");
}

/// Starts the real binary as `agent-runtime serve --port 0 --skip-install`, with `customize`
/// adding flags and env, and returns it with its base URL, read from its startup log. Its
/// warnings and errors are echoed to the test's output, prefixed with `name`.
pub async fn spawn_serve(
    name: &'static str,
    customize: impl FnOnce(&mut tokio::process::Command),
) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_agent-runtime"));
    command
        .arg("serve")
        .args(["--port", "0", "--skip-install"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        // As for in-process servers; a `--warm-pool` flag overrides it.
        .env("AGENT_RUNTIME_WARM_POOL", "0");
    customize(&mut command);
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let mut tx = Some(tx);
        // Keep draining so the child never blocks on a full pipe.
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("WARN") || line.contains("ERROR") {
                eprintln!("[serve {name}] {line}");
            }
            if let Some(at) = line.find("listening on http://") {
                let url = line[at + "listening on ".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                if let Some(tx) = tx.take() {
                    let _ = tx.send(url);
                }
            }
        }
    });
    let url = tokio::time::timeout(STARTUP_TIMEOUT, rx)
        .await
        .expect("the binary listens in time")
        .expect("the binary logged its address (did it fail to start?)");
    (child, url)
}
