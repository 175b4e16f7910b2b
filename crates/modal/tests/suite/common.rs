use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_runtime_modal::{ModalConfig, ModalProvider, RetryPolicy};
use agent_runtime_modal_standin::{start_test_standin, ModalStandIn};

/// Upper bound for one whole test.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs a test body with [`TEST_TIMEOUT`].
pub async fn timed<F: Future<Output = ()>>(body: F) {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("test timed out");
}

/// A running stand-in and a provider configured for it.
pub struct Harness {
    pub server: ModalStandIn,
    pub provider: Arc<ModalProvider>,
    _dir: tempfile::TempDir,
}

/// Quick retries, so fault tests finish fast.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 5,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        total: Duration::from_secs(5),
    }
}

impl Harness {
    pub async fn start() -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let tools = std::env::var_os("AGENT_RUNTIME_TEST_TOOLS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.path().join("tools"));
        std::fs::create_dir_all(&tools).unwrap();
        let server = start_test_standin(&dir.path().join("sandboxes"), &tools)
            .await
            .unwrap();
        let mut config = ModalConfig::new(server.token_id(), server.token_secret());
        config.server_url = server.url();
        config.retry = fast_retries();
        config.request_timeout = Duration::from_secs(10);
        let provider = Arc::new(ModalProvider::new(config).unwrap());
        Self {
            server,
            provider,
            _dir: dir,
        }
    }

    /// The stand-in's `sb-...` id of the sandbox created with our id `id`.
    pub fn modal_id(&self, id: &str) -> String {
        self.server
            .sandboxes()
            .into_iter()
            .rev()
            .find(|s| {
                s.tags
                    .get(agent_runtime_modal::SANDBOX_ID_TAG)
                    .map(String::as_str)
                    == Some(id)
            })
            .map(|s| s.id)
            .expect("a Modal sandbox with that id tag")
    }
}

/// What a script run in a sandbox did.
pub use agent_runtime_testkit::sandbox_run::run;
