//! The attack suite: what a hostile agent would try, each probe a real `Bash` tool call of the
//! real Claude Code CLI in a real sandbox of the real server, each asserting that it fails.
//! `docs/security.md` tables every probe, what stops it, and the test that proves it.
//!
//! - `network`: the runtime's API, other loopback services, link-local and metadata
//!   addresses, hosts off the allowlist, under each network policy; the model key.
//! - `limits`: fork bomb, memory bomb, `/tmp`, oversized files, workspace quota, turn time,
//!   nested user namespaces.
//! - `escape`: host paths, another session, the data dir, symlinks and hardlinks through the
//!   file API, messages on argv.
//!
//! The probes print a verdict the test reads from the tool result. Every loop in a probe is
//! bounded in count and time, and traffic goes only to loopback: a destination such as the
//! metadata address is asked of the egress proxy, which refuses it before connecting.

mod escape;
mod limits;
mod network;

use std::collections::BTreeMap;

use agent_runtime_protocol::{AgentProfile, Block, CreateSessionRequest, SessionEvent};
use agent_runtime_server::ServerConfig;
use agent_runtime_testkit::{
    Block as Reply, Matcher, Response, Rule, Scenario, ScriptedModelServer,
};
use serde_json::json;

use super::agent::{agent_config, events_until, is_turn_completed, Setup};
use super::support::{within, TestServer};

/// The model API key the server holds; no probe may find it.
pub const REAL_MODEL_KEY: &str = "sk-ant-api03-REAL-KEY-only-the-runtime-holds-4b1d";

/// Numbers each probe run's trigger message, so a scenario answers only its own run.
static PROBE_RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The output of a probe whose tool call got no result (the turn ended first).
pub const NO_RESULT: &str = "<no result>";

/// One shell command an attacker runs, named so its result can be found.
pub struct Probe {
    pub name: &'static str,
    pub command: String,
}

impl Probe {
    pub fn new(name: &'static str, command: impl Into<String>) -> Self {
        Probe {
            name,
            command: command.into(),
        }
    }
}

/// A real server running an agent (Claude Code unless [`Target::start_agent`] says otherwise)
/// against the scripted model, holding [`REAL_MODEL_KEY`] for every model API.
pub struct Target {
    pub server: TestServer,
    pub model: ScriptedModelServer,
    /// The agent sessions run.
    pub agent: &'static str,
}

impl Target {
    pub async fn start(customize: impl FnOnce(&mut ServerConfig)) -> Target {
        Target::start_agent(Setup::CLAUDE_SQLITE, customize).await
    }

    /// A target whose sessions run the agent of `setup`.
    pub async fn start_agent(setup: Setup, customize: impl FnOnce(&mut ServerConfig)) -> Target {
        let model = ScriptedModelServer::start(Scenario::new(vec![]))
            .await
            .expect("model server");
        let server = TestServer::start_with(|config| {
            agent_config(config, &model, setup);
            config.anthropic_api_key = Some(REAL_MODEL_KEY.into());
            config.gemini_api_key = Some(REAL_MODEL_KEY.into());
            config.openai_api_key = Some(REAL_MODEL_KEY.into());
            // The server's own body limits, not the small ones of the other tests.
            config.limits = agent_runtime_server::BodyLimits::default();
            customize(config);
        })
        .await;
        Target {
            server,
            model,
            agent: setup.agent,
        }
    }

    /// The port the runtime's API listens on.
    pub fn api_port(&self) -> u16 {
        self.server.server().local_addr().port()
    }

    /// Stores `profile` and creates a session of the target's agent with it.
    pub async fn session_with(&self, profile: AgentProfile) -> String {
        let id = profile.id.clone();
        within(self.server.client().put_profile(&profile))
            .await
            .expect("profile stored");
        let request = CreateSessionRequest {
            agent: Some(self.agent.to_string()),
            profile: Some(id),
            ..Default::default()
        };
        within(self.server.client().create_session(&request))
            .await
            .expect("session created")
            .session_id
    }

    /// Runs `probes` as the tool calls of one turn of `session_id`; returns each probe's output,
    /// trimmed, by name ([`NO_RESULT`] for a call the turn ended before answering), and the
    /// turn's events.
    pub async fn run(
        &self,
        session_id: &str,
        probes: &[Probe],
    ) -> (BTreeMap<&'static str, String>, Vec<SessionEvent>) {
        let trigger = format!(
            "probe-{}",
            PROBE_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let calls = probes
            .iter()
            .map(|p| Reply::tool_use("Bash", json!({"command": p.command, "description": p.name})))
            .collect();
        self.model.set_scenario(Scenario::new(vec![
            Rule::new(Matcher::tool_result(Some("Bash")), Response::text("probed")),
            Rule::new(
                Matcher::last_user_text_contains(trigger.clone()),
                Response::blocks(calls),
            ),
        ]));
        let events = self.turn(session_id, &trigger).await;
        let snapshot = within(self.server.client().get_session(session_id))
            .await
            .expect("snapshot");
        let mut by_name = BTreeMap::new();
        for probe in probes {
            // The call whose input holds the probe's command (agents wrap it in their own input:
            // Codex runs `["/bin/sh", "-lc", command]`).
            let quoted = serde_json::Value::from(probe.command.as_str()).to_string();
            let command = &quoted[1..quoted.len() - 1];
            let tool = snapshot
                .state
                .blocks
                .iter()
                .rev()
                .find_map(|b| match b {
                    Block::ToolUse(t)
                        if t.input["description"] == probe.name
                            || t.input.to_string().contains(command) =>
                    {
                        Some(t.id.clone())
                    }
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no tool call for probe {:?}", probe.name));
            let output = snapshot
                .state
                .blocks
                .iter()
                .find_map(|b| match b {
                    Block::ToolResult(r) if r.tool_use_id == tool => {
                        Some(r.output.trim().to_string())
                    }
                    _ => None,
                })
                .unwrap_or_else(|| NO_RESULT.to_string());
            by_name.insert(probe.name, output);
        }
        (by_name, events)
    }

    /// Sends `text` and returns the turn's events up to its `turn_completed`.
    pub async fn turn(&self, session_id: &str, text: &str) -> Vec<SessionEvent> {
        let mut ws = self.server.ws().await;
        let since = within(self.server.client().get_session(session_id))
            .await
            .expect("snapshot")
            .state
            .seq;
        within(ws.subscribe(session_id, since))
            .await
            .expect("subscribed");
        within(ws.send_message(session_id, text, None))
            .await
            .expect("message accepted");
        events_until(&mut ws, is_turn_completed)
            .await
            .into_iter()
            .map(|e| e.event)
            .collect()
    }
}

/// A profile with `id` and sandbox settings from JSON (the wire shape, camelCase).
pub fn profile(id: &str, sandbox: serde_json::Value) -> AgentProfile {
    serde_json::from_value(json!({"id": id, "sandbox": sandbox})).expect("a valid profile")
}

/// The `network_denied` events among `events`, as `(host, port, reason)`.
pub fn denials(events: &[SessionEvent]) -> Vec<(String, u16, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::NetworkDenied { host, port, reason } => {
                Some((host.clone(), *port, reason.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A loopback HTTP service that answers every request with `body` and counts connections, so a
/// test can show a refused probe never reached it.
pub struct LoopbackService {
    pub port: u16,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl LoopbackService {
    pub async fn start(body: &'static str) -> LoopbackService {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        LoopbackService {
            port,
            connections,
            task,
        }
    }

    /// How many connections reached it.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for LoopbackService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `/healthz` says what confines a sandbox on this host, and never claims what does not hold:
/// each protection is enforced exactly when a mechanism is named, and the ones this (root,
/// cgroup, bubblewrap 0.8) host can provide are enforced.
#[tokio::test]
async fn healthz_reports_every_protection_truthfully() {
    let server = TestServer::start().await;
    let health = within(server.anonymous_client().health()).await.unwrap();
    let names: Vec<&str> = health.sandbox.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "network",
            "user_namespaces",
            "seccomp",
            "host_uid",
            "tmp_size",
            "file_size",
            "open_files",
            "memory",
            "pids",
            "cpu",
            "model_credentials",
            "workspace_size",
            "turn_time",
        ]
    );
    for protection in &health.sandbox {
        assert_eq!(
            protection.enforced,
            !protection.by.is_empty(),
            "{protection:?}"
        );
    }
    let root = matches!(
        agent_runtime_sandbox::HostUser::recommended(),
        agent_runtime_sandbox::HostUser::Range { .. }
    );
    let cgroups = agent_runtime_sandbox::Cgroups::detect(&Default::default());
    for protection in &health.sandbox {
        let expected = match protection.name.as_str() {
            "host_uid" => root,
            "memory" => cgroups.support().memory.is_enforced(),
            "cpu" => cgroups.support().cpu.is_enforced(),
            "pids" => root || cgroups.support().pids.is_enforced(),
            _ => true,
        };
        assert_eq!(protection.enforced, expected, "{protection:?}");
    }
    let default = |name: &str| {
        health
            .sandbox
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.default.clone())
    };
    assert_eq!(default("memory").as_deref(), Some("4 GiB"));
    assert_eq!(default("pids").as_deref(), Some("1024"));
    assert_eq!(default("network").as_deref(), Some("allowlist"));
}
