//! Shared pieces of the end-to-end tests that run the real Claude Code CLI in real sandboxes
//! against the scripted model server.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use agent_runtime_client::WsConnection;
use agent_runtime_protocol::{Envelope, ServerFrame, SessionEvent};
use agent_runtime_server::ServerConfig;
use agent_runtime_testkit::{Matcher, Response, Rule, Scenario, ScriptedModelServer};

use super::support::TestServer;

/// Longest a whole agent turn may take.
pub const TURN_WAIT: Duration = Duration::from_secs(60);

/// The tools dir the test script installs the pinned agent CLIs into.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("AGENT_RUNTIME_TEST_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/agent-tools")
        })
}

/// Points a server config at the model server, a SQLite store and the shared tools dir.
pub fn agent_config(config: &mut ServerConfig, model: &ScriptedModelServer) {
    config.store_url = format!("sqlite://{}/runtime.db", config.data_dir.display());
    config.tools_dir = tools_dir();
    config.skip_install = false;
    config.anthropic_base_url = Some(model.base_url());
    config.anthropic_api_key = Some("sk-test-never-shown".into());
}

/// A server ready to run agent turns.
pub async fn agent_server(model: &ScriptedModelServer) -> TestServer {
    TestServer::start_with(|c| agent_config(c, model)).await
}

/// A scenario whose answer to "slow" trickles for about ten seconds.
pub fn slow_scenario() -> Scenario {
    Scenario::new(vec![Rule::new(
        Matcher::last_user_text_contains("slow"),
        Response::text("word ".repeat(200))
            .with_chunks(200)
            .with_chunk_delay_ms(50),
    )])
    .with_fallback(Response::text("A quick answer."))
}

/// Events from `ws` until one satisfies `done` (inclusive), within [`TURN_WAIT`].
pub async fn events_until(
    ws: &mut WsConnection,
    mut done: impl FnMut(&Envelope) -> bool,
) -> Vec<Envelope> {
    let mut seen = Vec::new();
    let outcome = tokio::time::timeout(TURN_WAIT, async {
        loop {
            match ws.next_frame().await {
                Some(ServerFrame::Event { envelope }) => {
                    let stop = done(&envelope);
                    seen.push(envelope);
                    if stop {
                        return;
                    }
                }
                Some(ServerFrame::ResyncRequired { reason, .. }) => panic!("resync: {reason}"),
                Some(ServerFrame::Result { .. }) => {}
                None => panic!("connection closed"),
            }
        }
    })
    .await;
    if outcome.is_err() {
        let kinds: Vec<_> = seen.iter().map(|e| event_type(&e.event)).collect();
        panic!("timed out; events so far: {kinds:?}");
    }
    seen
}

pub fn is_turn_completed(envelope: &Envelope) -> bool {
    matches!(envelope.event, SessionEvent::TurnCompleted { .. })
}

/// The wire name of an event's type.
pub fn event_type(event: &SessionEvent) -> String {
    serde_json::to_value(event).expect("serializable")["type"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
