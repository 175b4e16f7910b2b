//! A runtime over a SQLite store and real bubblewrap sandboxes, pointed at a scripted model that
//! speaks every model API, so each test body runs for every agent (see [`agent_matrix`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_runtime_agents::AgentKind;
use agent_runtime_core::{
    ModelApi, ModelEndpoint, Runtime, RuntimeConfig, Subscription, SubscriptionItem,
};
use agent_runtime_protocol::{CreateSessionRequest, Envelope, SessionEvent};
use agent_runtime_sandbox::{
    ensure_bwrap, BwrapProbe, HelperProgram, HostLayout, HostUser, LocalBwrapProvider,
    LocalSandboxConfig,
};
use agent_runtime_testkit::{sandbox_helper_binary, Scenario, ScriptedModelServer};
use tempfile::TempDir;

/// Upper bound for anything a test waits for.
pub const WAIT: Duration = Duration::from_secs(60);

/// Where the pinned agent CLIs are installed for tests (shared by every test run).
pub fn tools_dir() -> PathBuf {
    std::env::var_os("AGENT_RUNTIME_TEST_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/agent-tools")
        })
}

pub struct Harness {
    pub runtime: Arc<Runtime>,
    pub model: ScriptedModelServer,
    /// Kept alive for the test's duration.
    pub _data: TempDir,
}

pub async fn harness(scenario: Scenario, tune: impl FnOnce(&mut RuntimeConfig)) -> Harness {
    let data = tempfile::Builder::new()
        .prefix("art-")
        .tempdir()
        .expect("temp data dir");
    let model = ScriptedModelServer::start(scenario)
        .await
        .expect("model server");
    let runtime = start_runtime(&data, &model, tune).await;
    Harness {
        runtime,
        model,
        _data: data,
    }
}

pub async fn start_runtime(
    data: &TempDir,
    model: &ScriptedModelServer,
    tune: impl FnOnce(&mut RuntimeConfig),
) -> Arc<Runtime> {
    let store = agent_runtime_store::open_store(&format!(
        "sqlite://{}",
        data.path().join("runtime.db").display()
    ))
    .await
    .expect("store");
    start_runtime_on(data, model, store, tune).await
}

/// A runtime over `store`, with sandboxes under `data`.
pub async fn start_runtime_on(
    data: &TempDir,
    model: &ScriptedModelServer,
    store: Arc<dyn agent_runtime_store::SessionStore>,
    tune: impl FnOnce(&mut RuntimeConfig),
) -> Arc<Runtime> {
    let probe = BwrapProbe {
        path_env: std::env::var_os("PATH"),
        allow_install: false,
        run_as: HostUser::recommended(),
    };
    let bwrap = ensure_bwrap(&probe).await.expect("bubblewrap works");
    let tools = tools_dir();
    let provider = LocalBwrapProvider::new(LocalSandboxConfig::new(
        data.path().join("sandboxes"),
        &tools,
        &bwrap,
        HostLayout::discover(),
        HelperProgram::standalone(sandbox_helper_binary()),
    ))
    .expect("sandbox provider");
    let mut config = RuntimeConfig::new(tools);
    for api in ModelApi::ALL {
        let endpoint = ModelEndpoint {
            base_url: Some(model.base_url()),
            api_key: Some("test-key-not-secret".into()),
        };
        config.model_endpoints.insert(*api, endpoint);
    }
    tune(&mut config);
    let sandboxes = agent_runtime_core::SandboxProviders::single(
        agent_runtime_protocol::SandboxProviderKind::Local,
        Arc::new(provider),
        "bubblewrap on this host",
    );
    let runtime = Runtime::start(config, store, sandboxes)
        .await
        .expect("runtime starts");
    runtime.install_agents().await.expect("agent CLIs install");
    runtime
}

/// A new session of `agent`.
pub async fn create_session(runtime: &Runtime, agent: AgentKind) -> String {
    runtime
        .create_session(CreateSessionRequest {
            agent: Some(agent.id().to_string()),
            ..CreateSessionRequest::default()
        })
        .await
        .expect("session created")
        .session_id
}

/// Runs test bodies (`async fn(AgentKind)`) once per agent: one module per agent line, one
/// `#[tokio::test]` per body, named after it.
///
/// ```ignore
/// agent_matrix! {
///     tests: [a_turn_completes, interrupts_work];
///     claude_code => AgentKind::ClaudeCode,
///     gemini_cli => AgentKind::GeminiCli,
/// }
/// ```
macro_rules! agent_matrix {
    (tests: $tests:tt; $($module:ident => $agent:expr),* $(,)?) => {$(
        agent_matrix!(@module $module, $agent, $tests);
    )*};
    (@module $module:ident, $agent:expr, [$($test:ident),* $(,)?]) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($agent).await
                }
            )*
        }
    };
}
pub(crate) use agent_matrix;

/// Collects events until one matches `done` (inclusive).
pub async fn collect_until(
    sub: &mut Subscription,
    mut done: impl FnMut(&Envelope) -> bool,
) -> Vec<Envelope> {
    let mut seen = Vec::new();
    let result = tokio::time::timeout(WAIT, async {
        while let Some(item) = sub.next().await {
            match item {
                SubscriptionItem::Event(event) => {
                    let stop = done(&event.envelope);
                    seen.push(event.envelope.clone());
                    if stop {
                        return;
                    }
                }
                SubscriptionItem::Resync { reason, .. } => panic!("unexpected resync: {reason}"),
            }
        }
        panic!("subscription ended");
    })
    .await;
    if result.is_err() {
        panic!(
            "timed out; events so far: {:#?}",
            seen.iter().map(|e| &e.event).collect::<Vec<_>>()
        );
    }
    seen
}

pub fn is_turn_completed(envelope: &Envelope) -> bool {
    matches!(envelope.event, SessionEvent::TurnCompleted { .. })
}

/// Runs each `(name, command)` as a `Bash` tool call of one turn of `session` ("go"), the
/// scripted model asking for all of them at once; returns each call's output, trimmed, by name.
pub async fn run_bash_probes(
    h: &Harness,
    session: &str,
    probes: &[(&str, String)],
) -> std::collections::BTreeMap<String, String> {
    use agent_runtime_protocol::Block;
    use agent_runtime_testkit::{Block as Reply, Matcher, Response, Rule};
    let calls = probes
        .iter()
        .map(|(name, command)| {
            Reply::tool_use(
                "Bash",
                serde_json::json!({"command": command, "description": name}),
            )
        })
        .collect();
    h.model.set_scenario(Scenario::new(vec![
        Rule::new(Matcher::tool_result(Some("Bash")), Response::text("done")),
        Rule::new(
            Matcher::last_user_text_contains("go"),
            Response::blocks(calls),
        ),
    ]));
    let mut sub = h.runtime.subscribe(session, 0).await.unwrap();
    h.runtime
        .send_message(session, super::turns::message("go"))
        .await
        .unwrap();
    collect_until(&mut sub, is_turn_completed).await;
    let blocks = h.runtime.snapshot(session).await.unwrap().state.blocks;
    probes
        .iter()
        .map(|(name, _)| {
            let id = blocks
                .iter()
                .find_map(|b| match b {
                    Block::ToolUse(t) if t.input["description"] == *name => Some(t.id.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no tool call for {name}"));
            let output = blocks
                .iter()
                .find_map(|b| match b {
                    Block::ToolResult(r) if r.tool_use_id == id => {
                        Some(r.output.trim().to_string())
                    }
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no result for {name}"));
            (name.to_string(), output)
        })
        .collect()
}
