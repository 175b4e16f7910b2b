//! Shared pieces of the end-to-end tests that run the real Claude Code CLI in real sandboxes
//! against the scripted model server.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use agent_runtime_client::WsConnection;
use agent_runtime_protocol::{Envelope, ServerFrame, SessionEvent};
use agent_runtime_server::ServerConfig;
use agent_runtime_store::contract::postgres::TestDatabase;
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

/// Which agent and which store an end-to-end test runs with.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Agent wire id, e.g. `claude-code`.
    pub agent: &'static str,
    pub store: StoreKind,
    /// The scratch PostgreSQL database of the running test, once [`Setup::with_fresh_store`]
    /// created it.
    pub postgres_url: Option<&'static str>,
    /// Warm sandboxes the server keeps (0: the pool is off, as in most tests).
    pub warm_pool: usize,
    /// Sandboxes run on Modal (the shared stand-in, [`super::standin`]) instead of locally.
    pub modal: bool,
}

/// The store backends end-to-end tests run against.
#[derive(Debug, Clone, Copy)]
pub enum StoreKind {
    /// A file in the server's data dir.
    Sqlite,
    /// A scratch database per test on the server of `AGENT_RUNTIME_TEST_POSTGRES`.
    Postgres,
}

impl Setup {
    pub const CLAUDE_SQLITE: Setup = Setup {
        agent: "claude-code",
        store: StoreKind::Sqlite,
        postgres_url: None,
        warm_pool: 0,
        modal: false,
    };

    pub const GEMINI_SQLITE: Setup = Setup {
        agent: "gemini-cli",
        store: StoreKind::Sqlite,
        postgres_url: None,
        warm_pool: 0,
        modal: false,
    };

    pub const OPENCODE_SQLITE: Setup = Setup {
        agent: "opencode",
        store: StoreKind::Sqlite,
        postgres_url: None,
        warm_pool: 0,
        modal: false,
    };

    pub const CODEX_SQLITE: Setup = Setup {
        agent: "codex",
        store: StoreKind::Sqlite,
        postgres_url: None,
        warm_pool: 0,
        modal: false,
    };

    /// Claude Code sessions taking warm sandboxes from the pool.
    pub const CLAUDE_POOL_SQLITE: Setup = Setup {
        agent: "claude-code",
        store: StoreKind::Sqlite,
        postgres_url: None,
        warm_pool: 1,
        modal: false,
    };

    pub const CLAUDE_MODAL: Setup = Setup::CLAUDE_SQLITE.on_modal();
    pub const GEMINI_MODAL: Setup = Setup::GEMINI_SQLITE.on_modal();
    pub const OPENCODE_MODAL: Setup = Setup::OPENCODE_SQLITE.on_modal();
    pub const CODEX_MODAL: Setup = Setup::CODEX_SQLITE.on_modal();

    /// The same setup with its sandboxes on Modal.
    pub const fn on_modal(self) -> Setup {
        Setup {
            modal: true,
            ..self
        }
    }

    pub const CLAUDE_POSTGRES: Setup = Setup {
        agent: "claude-code",
        store: StoreKind::Postgres,
        postgres_url: None,
        warm_pool: 0,
        modal: false,
    };

    /// Prepares the setup's store for one test: for PostgreSQL, a scratch database, dropped when
    /// the returned guard is (also when the test panics). Keep the guard until the test ends.
    pub async fn with_fresh_store(self) -> (Setup, Option<TestDatabase>) {
        match self.store {
            StoreKind::Sqlite => (self, None),
            StoreKind::Postgres => {
                let db = TestDatabase::create().await;
                // `Setup` is `Copy` and passed by value everywhere; one short URL per test leaks.
                let url: &'static str = Box::leak(db.url().to_string().into_boxed_str());
                let setup = Setup {
                    postgres_url: Some(url),
                    ..self
                };
                (setup, Some(db))
            }
        }
    }

    /// The store URL for a server whose data dir is `data_dir`.
    pub fn store_url(&self, data_dir: &std::path::Path) -> String {
        match self.store {
            StoreKind::Sqlite => format!("sqlite://{}/runtime.db", data_dir.display()),
            StoreKind::Postgres => self
                .postgres_url
                .expect("Setup::with_fresh_store creates the database first")
                .to_string(),
        }
    }
}

/// Points a server config at the model server, the setup's store and the shared tools dir.
pub fn agent_config(config: &mut ServerConfig, model: &ScriptedModelServer, setup: Setup) {
    config.store_url = setup.store_url(&config.data_dir);
    config.tools_dir = tools_dir();
    config.skip_install = false;
    // The scripted model speaks every model API, so one server serves every agent.
    config.anthropic_base_url = Some(model.base_url());
    config.anthropic_api_key = Some("sk-test-never-shown".into());
    config.gemini_base_url = Some(model.base_url());
    config.gemini_api_key = Some("sk-test-never-shown".into());
    config.openai_base_url = Some(model.base_url());
    config.openai_api_key = Some("sk-test-never-shown".into());
    config.warm_pool = setup.warm_pool;
    if setup.modal {
        super::standin::use_modal(config, &super::standin::shared_standin().standin);
    }
}

/// A server ready to run agent turns (with its warm pool full, if it has one).
pub async fn agent_server(model: &ScriptedModelServer, setup: Setup) -> TestServer {
    let server = TestServer::start_with(|c| agent_config(c, model, setup)).await;
    if setup.warm_pool > 0 {
        let deadline = tokio::time::Instant::now() + TURN_WAIT;
        while pool_figure(&server, "agent_runtime_pool_ready").await < setup.warm_pool as f64 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the warm pool did not fill"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    server
}

/// One of the warm pool's figures in `/metrics` (they are the server's own, not the process's).
pub async fn pool_figure(server: &TestServer, name: &str) -> f64 {
    super::metrics::scrape(server)
        .await
        .get(name)
        .copied()
        .unwrap_or_default()
}

/// Creates a session of the setup's agent.
pub async fn create_agent_session(server: &TestServer, setup: Setup) -> String {
    let request = agent_runtime_protocol::CreateSessionRequest {
        agent: Some(setup.agent.to_string()),
        ..Default::default()
    };
    super::support::within(server.client().create_session(&request))
        .await
        .expect("create session")
        .session_id
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
