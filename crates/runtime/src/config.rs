//! What the runtime needs to know, decided once by the binary and passed down.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use agent_runtime_agents::{AgentRegistry, ModelApi};
use agent_runtime_egress::{AddressException, Resolver};
use agent_runtime_protocol::NetworkPolicy;

use crate::limits::Limits;

/// A model API endpoint handed to agents inside their sandboxes.
#[derive(Clone, Default)]
pub struct ModelEndpoint {
    /// e.g. `ANTHROPIC_BASE_URL`: a gateway, a proxy, or the scripted model server. `None`:
    /// the agent's own default.
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

/// How long a quiet session stays loaded by default.
pub const DEFAULT_SESSION_UNLOAD_AFTER: Duration = Duration::from_secs(5 * 60);

/// Runtime settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where agent CLIs are installed (shared by all sessions, mounted read-only into sandboxes).
    pub tools_dir: PathBuf,
    /// A sandbox with no running turn is stopped after this long.
    pub idle_timeout: Duration,
    /// A loaded session that is quiet (no turn, no sandbox, nothing queued or waiting for a
    /// person) and has no subscriber is unloaded from memory after this long; `None`: never.
    pub session_unload_after: Option<Duration>,
    /// A turn whose agent writes nothing to stdout for this long is ended with an error (code
    /// `timeout`): an agent that retries a failing model API silently (Gemini) or hangs.
    pub turn_stall_timeout: Duration,
    /// How long an interrupted agent gets to end its turn before its process is killed.
    pub interrupt_grace: Duration,
    /// How often workspace files are scanned for changes while a turn runs.
    pub file_scan_interval: Duration,
    /// The agents sessions may run: the built-in ones and the config file's ACP agents.
    pub agents: AgentRegistry,
    /// The endpoint of each model API; an agent gets the one of its
    /// [`agent_runtime_agents::AgentKind::model_api`] (none configured: the agent's defaults).
    pub model_endpoints: BTreeMap<ModelApi, ModelEndpoint>,
    /// The endpoint is the built-in demo model; sessions are labelled as demo sessions.
    pub demo: bool,
    /// What every sandbox gets unless its profile says otherwise.
    pub sandbox: SandboxDefaults,
    /// The operator's settings of every sandbox's egress proxy.
    pub egress: EgressSettings,
    /// Warm sandboxes kept per agent and profile (see `crate::pool`); 0 turns the pool off.
    pub warm_pool_size: usize,
    /// This process is one node of several sharing the store (`crate::cluster`); `None`: the
    /// only one.
    pub cluster: Option<ClusterConfig>,
    /// Names this installation's sandboxes at their providers (a label), so that a later run,
    /// or another node, finds the ones a dead run left (`crate::sandboxes`). Nodes of one
    /// cluster share it.
    pub install_id: String,
    /// How often the providers' sandboxes are reconciled with what the runtime holds.
    pub reconcile_interval: Duration,
}

/// The default of [`RuntimeConfig::reconcile_interval`].
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(60);

/// How a node of several identifies itself and holds its sessions.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Unique among the live nodes.
    pub node_id: String,
    /// Where the other nodes reach this one's API to forward commands.
    pub advertise_url: String,
    /// The shared secret forwarded requests carry between nodes.
    pub secret: String,
    /// How long a node stays live without a heartbeat: its sessions are taken over after it.
    pub lease_ttl: Duration,
}

/// The default of [`ClusterConfig::lease_ttl`].
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);

/// The operator's side of the egress proxies: the private destinations they may reach after
/// all, what this host is, and how names and certificates are checked.
#[derive(Clone, Default)]
pub struct EgressSettings {
    /// The only way to a loopback, private, link-local or metadata destination.
    pub exceptions: Vec<AddressException>,
    /// This host's own interface addresses, refused like loopback.
    pub host_addresses: Vec<std::net::IpAddr>,
    /// How the proxies resolve names; `None`: the system resolver.
    pub resolver: Option<Arc<dyn Resolver>>,
    /// Roots upstream TLS is verified against (secret injection, an `https` model endpoint);
    /// `None`: the Mozilla roots.
    pub upstream_roots: Option<Arc<rustls::RootCertStore>>,
    /// The host's CA bundle, included in the bundle sandboxes get when secrets are intercepted.
    pub system_ca_bundle: Option<PathBuf>,
}

impl std::fmt::Debug for EgressSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EgressSettings")
            .field("exceptions", &self.exceptions)
            .field("host_addresses", &self.host_addresses)
            .field("resolver", &self.resolver.as_ref().map(|_| "custom"))
            .field(
                "upstream_roots",
                &self.upstream_roots.as_ref().map(|r| r.len()),
            )
            .field("system_ca_bundle", &self.system_ca_bundle)
            .finish()
    }
}

/// The server-wide defaults of a sandbox, which profiles override.
#[derive(Debug, Clone)]
pub struct SandboxDefaults {
    pub network_policy: NetworkPolicy,
    /// Host patterns the `allowlist` policy lets through (validated by the binary).
    pub network_allow: Vec<String>,
    pub limits: Limits,
}

impl Default for SandboxDefaults {
    /// `allowlist` with an empty list (only the model API), and [`Limits::default`].
    fn default() -> Self {
        SandboxDefaults {
            network_policy: NetworkPolicy::Allowlist,
            network_allow: Vec::new(),
            limits: Limits::default(),
        }
    }
}

impl RuntimeConfig {
    /// Defaults for everything but where tools live.
    pub fn new(tools_dir: PathBuf) -> Self {
        RuntimeConfig {
            tools_dir,
            idle_timeout: Duration::from_secs(15 * 60),
            session_unload_after: Some(DEFAULT_SESSION_UNLOAD_AFTER),
            turn_stall_timeout: Duration::from_secs(10 * 60),
            interrupt_grace: Duration::from_millis(1500),
            file_scan_interval: Duration::from_millis(750),
            agents: AgentRegistry::default(),
            model_endpoints: BTreeMap::new(),
            demo: false,
            sandbox: SandboxDefaults::default(),
            egress: EgressSettings::default(),
            warm_pool_size: 0,
            cluster: None,
            install_id: "default".to_owned(),
            reconcile_interval: DEFAULT_RECONCILE_INTERVAL,
        }
    }

    /// The endpoint for `api` (the default, empty one when none is configured).
    pub fn endpoint(&self, api: ModelApi) -> ModelEndpoint {
        self.model_endpoints.get(&api).cloned().unwrap_or_default()
    }
}
