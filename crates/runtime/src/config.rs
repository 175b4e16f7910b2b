//! What the runtime needs to know, decided once by the binary and passed down.

use std::path::PathBuf;
use std::time::Duration;

/// The model API endpoint handed to agents inside their sandboxes.
#[derive(Clone, Default)]
pub struct ModelEndpoint {
    /// e.g. `ANTHROPIC_BASE_URL`: a gateway, a proxy, or the scripted model server.
    pub base_url: Option<String>,
    /// e.g. `ANTHROPIC_API_KEY`. Never logged.
    pub api_key: Option<String>,
}

impl std::fmt::Debug for ModelEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelEndpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Runtime settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where agent CLIs are installed (shared by all sessions, mounted read-only into sandboxes).
    pub tools_dir: PathBuf,
    /// A sandbox with no running turn is stopped after this long.
    pub idle_timeout: Duration,
    /// A turn that produces no agent output for this long is ended with an error.
    pub turn_stall_timeout: Duration,
    /// How long an interrupted agent gets to end its turn before its process is killed.
    pub interrupt_grace: Duration,
    /// How often workspace files are scanned for changes while a turn runs.
    pub file_scan_interval: Duration,
    /// Anthropic-compatible endpoint for Claude Code.
    pub anthropic: ModelEndpoint,
    /// The endpoint is the built-in demo model; sessions are labelled as demo sessions.
    pub demo: bool,
}

impl RuntimeConfig {
    /// Defaults for everything but where tools live.
    pub fn new(tools_dir: PathBuf) -> Self {
        RuntimeConfig {
            tools_dir,
            idle_timeout: Duration::from_secs(15 * 60),
            turn_stall_timeout: Duration::from_secs(10 * 60),
            interrupt_grace: Duration::from_millis(1500),
            file_scan_interval: Duration::from_millis(750),
            anthropic: ModelEndpoint::default(),
            demo: false,
        }
    }
}
