//! A runtime over a SQLite store and real bubblewrap sandboxes, pointed at a scripted model.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_runtime_core::{ModelEndpoint, Runtime, RuntimeConfig, Subscription, SubscriptionItem};
use agent_runtime_protocol::{Envelope, SessionEvent};
use agent_runtime_sandbox::{
    ensure_bwrap, BwrapProbe, HostLayout, HostUser, LocalBwrapProvider, LocalSandboxConfig,
};
use agent_runtime_testkit::{Scenario, ScriptedModelServer};
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
    ))
    .expect("sandbox provider");
    let store = agent_runtime_store::open_store(&format!(
        "sqlite://{}",
        data.path().join("runtime.db").display()
    ))
    .await
    .expect("store");
    let mut config = RuntimeConfig::new(tools);
    config.anthropic = ModelEndpoint {
        base_url: Some(model.base_url()),
        api_key: Some("test-key-not-secret".into()),
    };
    tune(&mut config);
    let runtime = Runtime::start(config, store, Arc::new(provider))
        .await
        .expect("runtime starts");
    runtime.install_agents().await.expect("agent CLIs install");
    runtime
}

/// Collects events until one matches `done` (inclusive).
pub async fn collect_until(
    sub: &mut Subscription,
    mut done: impl FnMut(&Envelope) -> bool,
) -> Vec<Envelope> {
    let mut seen = Vec::new();
    let result = tokio::time::timeout(WAIT, async {
        while let Some(item) = sub.next().await {
            match item {
                SubscriptionItem::Event(envelope) => {
                    let stop = done(&envelope);
                    seen.push(envelope);
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
