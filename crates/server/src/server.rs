//! Startup and shutdown of the whole server.
//!
//! [`start`] runs the startup sequence and returns a [`RunningServer`] (tests use it to run the
//! real server on port 0 in-process); [`serve`] is `start` plus waiting for a shutdown signal.
//!
//! Startup: validate the config, start the demo model if asked, ensure bubblewrap works, open
//! the store, bind (a node of several registers the bound address), start the runtime (which
//! closes turns a crash left open), install the agent CLIs, serve. Shutdown: stop accepting, stop the runtime (running turns end as `interrupted`
//! and subscribers see it), end WebSocket and SSE streams, wait for connections (bounded by
//! `shutdown_grace`), close the store.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use agent_runtime_core::{
    AgentRegistry, EgressSettings, ModelApi, ModelEndpoint, Runtime, RuntimeConfig, RuntimeError,
    SandboxDefaults, SandboxProviders,
};
use agent_runtime_protocol::SandboxProviderKind;
use agent_runtime_sandbox::{
    ensure_bwrap, BwrapProbe, HelperProgram, HostLayout, HostUser, LocalBwrapProvider,
    LocalSandboxConfig, SandboxError,
};
use agent_runtime_store::{open_store, SessionStore, StoreError};
use agent_runtime_testkit::{demo_scenario, Scenario, ScriptedModelServer, TestkitError};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::{build_app, AppState};
use crate::auth::ApiKeys;
use crate::config::{ConfigError, ServerConfig};
use crate::config_placement::install_id;
use crate::edge::EdgePolicy;

/// API key handed to agents in demo mode when none is configured (the demo model ignores it).
const DEMO_API_KEY: &str = "demo-mode-no-key-needed";

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("sandbox: {0}")]
    Sandbox(#[from] SandboxError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("runtime: {0}")]
    Runtime(#[from] RuntimeError),
    #[error("demo model: {0}")]
    Demo(#[from] TestkitError),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// A server that is accepting connections.
pub struct RunningServer {
    addr: SocketAddr,
    runtime: Arc<Runtime>,
    store: Arc<dyn SessionStore>,
    /// Stops accepting (axum's graceful shutdown).
    stop_accepting: CancellationToken,
    /// Ends long-lived WebSocket and SSE streams.
    streams: CancellationToken,
    /// The WebSocket connections.
    connections: TaskTracker,
    task: JoinHandle<std::io::Result<()>>,
    config: ServerConfig,
    /// Kept alive as long as the server runs.
    _demo: Option<ScriptedModelServer>,
}

impl RunningServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The runtime behind the server.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Whether the HTTP server has stopped on its own (it only does on an accept error).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the server: see the module docs for the order.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        tracing::info!("shutting down");
        self.stop_accepting.cancel();
        self.runtime.shutdown().await;
        self.streams.cancel();
        self.connections.close();
        let mut task = self.task;
        let connections = self.connections;
        let all_closed = async {
            let served = (&mut task).await;
            connections.wait().await;
            served
        };
        let served = match tokio::time::timeout(self.config.shutdown_grace, all_closed).await {
            Ok(joined) => joined,
            Err(_) => {
                tracing::warn!(
                    "connections still open after {:?}; closing them",
                    self.config.shutdown_grace
                );
                task.abort();
                Ok(Ok(()))
            }
        };
        self.store.close().await;
        tracing::info!("stopped");
        match served {
            Ok(result) => result.map_err(|source| ServeError::Io {
                context: "serving".into(),
                source,
            }),
            Err(e) if e.is_cancelled() => Ok(()),
            Err(e) => Err(ServeError::Io {
                context: "the server task failed".into(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }
}

/// Runs the server until `shutdown_signal` resolves, then shuts it down gracefully.
pub async fn serve(
    config: ServerConfig,
    shutdown_signal: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let server = start(config).await?;
    shutdown_signal.await;
    server.shutdown().await
}

/// Runs the startup sequence and starts serving in the background.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServeError> {
    config.validate()?;
    tracing::debug!(?config, "starting");
    create_dir(&config.data_dir).await?;

    let mut endpoints = BTreeMap::from([
        (
            ModelApi::Anthropic,
            ModelEndpoint {
                base_url: config.anthropic_base_url.clone(),
                api_key: config.anthropic_api_key.clone(),
            },
        ),
        (
            ModelApi::Gemini,
            ModelEndpoint {
                base_url: config.gemini_base_url.clone(),
                api_key: config.gemini_api_key.clone(),
            },
        ),
        (
            ModelApi::OpenAi,
            ModelEndpoint {
                base_url: config.openai_base_url.clone(),
                api_key: config.openai_api_key.clone(),
            },
        ),
    ]);
    let demo = if config.demo {
        // One scripted server speaks every model API, so every agent talks to it.
        let scenario = match &config.demo_scenario {
            Some(path) => Scenario::from_file(path)?,
            None => demo_scenario(),
        };
        let server = ScriptedModelServer::start(scenario).await?;
        for (api, endpoint) in &mut endpoints {
            if endpoint.base_url.is_some() {
                tracing::warn!(
                    api = api.id(),
                    "demo mode: ignoring the configured base URL"
                );
            }
            endpoint.base_url = Some(server.base_url());
            if endpoint.api_key.is_none() {
                endpoint.api_key = Some(DEMO_API_KEY.into());
            }
        }
        tracing::warn!(
            model = %server.base_url(),
            "DEMO MODE: agents talk to the built-in scripted demo model, not a real one; \
             every session is labelled as a demo"
        );
        Some(server)
    } else {
        None
    };

    let host_layout = HostLayout::discover();
    let sandboxes = sandbox_providers(&config, host_layout.clone()).await?;
    let store = open_store(&config.store_url).await?;
    tracing::info!(backend = store.backend(), "store open");

    // Bound before the runtime starts: a node of several registers the address it serves on.
    let listener = match TcpListener::bind((config.host.as_str(), config.port)).await {
        Ok(listener) => listener,
        Err(source) => {
            store.close().await;
            return Err(ServeError::Bind {
                addr: format!("{}:{}", config.host, config.port),
                source,
            });
        }
    };
    let addr = listener.local_addr().map_err(|source| ServeError::Io {
        context: "reading the bound address".into(),
        source,
    })?;

    let mut runtime_config = RuntimeConfig::new(config.tools_dir.clone());
    runtime_config.idle_timeout = config.idle_timeout;
    runtime_config.session_unload_after = config.session_unload_after;
    runtime_config.model_endpoints = endpoints;
    runtime_config.agents = agent_registry(&config)?;
    runtime_config.demo = config.demo;
    runtime_config.sandbox = SandboxDefaults {
        network_policy: config.sandbox.network,
        network_allow: config.sandbox.network_allow.clone(),
        limits: config.sandbox.limits,
    };
    runtime_config.egress = egress_settings(&config, host_layout.ca_bundle.clone());
    runtime_config.warm_pool_size = config.warm_pool;
    runtime_config.cluster = match &config.cluster {
        None => None,
        Some(cluster) => Some(agent_runtime_core::ClusterConfig {
            node_id: cluster.node_id.clone(),
            advertise_url: cluster.advertise_url_for(&config.host, addr.port())?,
            secret: cluster.secret.clone(),
            lease_ttl: cluster.lease_ttl,
        }),
    };
    runtime_config.install_id =
        install_id(config.placement.install_id.as_deref(), &config.data_dir).map_err(|source| {
            ServeError::Io {
                context: format!(
                    "reading or making the install id in {}",
                    config.data_dir.display()
                ),
                source,
            }
        })?;
    runtime_config.reconcile_interval = config.placement.reconcile_interval;
    let runtime = match Runtime::start(runtime_config, store.clone(), sandboxes).await {
        Ok(runtime) => runtime,
        Err(e) => {
            store.close().await;
            return Err(e.into());
        }
    };
    log_protections(&runtime);

    if let Err(e) = install_unless_skipped(&config, &runtime).await {
        runtime.shutdown().await;
        store.close().await;
        return Err(e);
    }
    // No sandbox may reach the server, whatever the operator's egress exceptions say.
    runtime.set_listen_addresses(vec![addr]);
    runtime.start_warm_pool();

    let keys = ApiKeys::new(&config.api_keys);
    if keys.is_open() {
        tracing::warn!(
            "no API key configured: requests are not authenticated, so the server listens on \
             loopback only and answers only loopback host names"
        );
    }
    let edge = EdgePolicy {
        loopback_hosts_only: keys.is_open(),
        allowed_origins: config.allowed_origins.clone(),
    };
    if !edge.allowed_origins.is_empty() {
        let origins: Vec<String> = edge
            .allowed_origins
            .iter()
            .map(ToString::to_string)
            .collect();
        tracing::info!(origins = %origins.join(", "), "CORS and cross-origin requests allowed");
    }
    let streams = CancellationToken::new();
    let connections = TaskTracker::new();
    let state = AppState {
        runtime: runtime.clone(),
        keys: Arc::new(keys),
        edge: Arc::new(edge),
        limits: config.limits,
        shutdown: streams.clone(),
        connections: connections.clone(),
        cluster: config
            .cluster
            .as_ref()
            .map(|cluster| Arc::new(crate::forward::ClusterEdge::new(&cluster.secret))),
    };
    let app = build_app(state);
    let stop_accepting = CancellationToken::new();
    let stop = stop_accepting.clone();
    // No Nagle: streamed events are small writes the writer has already coalesced, and Nagle
    // would hold one back until the client acknowledges the last (up to its delayed-ACK time).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("setting TCP_NODELAY on a connection failed: {e}");
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    tracing::info!("listening on http://{addr}");

    Ok(RunningServer {
        addr,
        runtime,
        store,
        stop_accepting,
        streams,
        connections,
        task,
        config,
        _demo: demo,
    })
}

/// Installs the agent CLIs unless skipped.
async fn install_unless_skipped(
    config: &ServerConfig,
    runtime: &Runtime,
) -> Result<(), ServeError> {
    if config.skip_install {
        tracing::info!("skipping the agent CLI install; the first turn installs what it needs");
    } else {
        tracing::info!(tools_dir = %config.tools_dir.display(), "checking the agent CLIs");
        runtime.install_agents().await?;
    }
    Ok(())
}

/// Says at start what confines a sandbox here, and loudly what does not.
fn log_protections(runtime: &Runtime) {
    for protection in runtime.protections() {
        let default = protection.default.as_deref().unwrap_or("-");
        let note = protection.note.as_deref().unwrap_or("");
        if protection.enforced {
            tracing::info!(
                name = %protection.name,
                default,
                by = %protection.by.join(" + "),
                "sandbox protection: {note}"
            );
        } else {
            tracing::warn!(
                name = %protection.name,
                default,
                "sandbox protection NOT enforced on this host: {note}"
            );
        }
    }
}

/// The sandbox helper: the configured one, or this very binary (`agent-runtime sandbox-helper`).
fn sandbox_helper(config: &ServerConfig) -> Result<HelperProgram, ServeError> {
    if let Some(helper) = &config.sandbox_helper {
        return Ok(helper.clone());
    }
    let exe = std::env::current_exe().map_err(|source| ServeError::Io {
        context: "finding this binary, the sandbox helper".into(),
        source,
    })?;
    Ok(HelperProgram::subcommand(exe, SANDBOX_HELPER_SUBCOMMAND))
}

/// The hidden subcommand under which the `agent-runtime` binary is the sandbox helper.
pub const SANDBOX_HELPER_SUBCOMMAND: &str = "sandbox-helper";

/// The operator's side of every egress proxy: the configured private destinations, this host's
/// own addresses (refused like loopback), and the system CA bundle for sandboxes whose secrets
/// are intercepted.
fn egress_settings(config: &ServerConfig, ca_bundle: Option<std::path::PathBuf>) -> EgressSettings {
    let host_addresses = match agent_runtime_egress::local_interface_addresses() {
        Ok(addresses) => addresses,
        Err(e) => {
            tracing::warn!("cannot list this host's addresses ({e}); only loopback and private ranges are refused by range");
            Vec::new()
        }
    };
    for exception in &config.sandbox.egress_allow_private {
        tracing::warn!(%exception, "sandboxes may reach this private destination (--egress-allow-private)");
    }
    EgressSettings {
        exceptions: config.sandbox.egress_allow_private.clone(),
        host_addresses,
        resolver: None,
        upstream_roots: None,
        system_ca_bundle: ca_bundle,
    }
}

/// The local provider, Modal's when it is configured, and the default among them.
async fn sandbox_providers(
    config: &ServerConfig,
    host_layout: HostLayout,
) -> Result<SandboxProviders, ServeError> {
    let local = start_sandbox_provider(config, host_layout).await?;
    let mut providers =
        SandboxProviders::single(SandboxProviderKind::Local, local, "bubblewrap on this host");
    if let Some(modal) = &config.placement.modal {
        let (provider, description) = crate::modal::start_modal_provider(config, modal).await?;
        providers.add(SandboxProviderKind::Modal, provider, description);
    }
    providers.set_default(config.placement.default)?;
    tracing::info!(
        default = config.placement.default.as_str(),
        "sandboxes run here by default"
    );
    Ok(providers)
}

async fn start_sandbox_provider(
    config: &ServerConfig,
    host_layout: HostLayout,
) -> Result<Arc<LocalBwrapProvider>, ServeError> {
    let run_as = match (HostUser::recommended(), config.sandbox.uid_range) {
        (HostUser::Range { .. }, Some((first, count))) => HostUser::Range { first, count },
        (recommended, _) => recommended,
    };
    let bwrap = ensure_bwrap(&BwrapProbe {
        path_env: config.path_env.clone(),
        allow_install: config.install_bwrap,
        run_as,
    })
    .await?;
    tracing::info!(path = %bwrap.path.display(), version = %bwrap.version, "bubblewrap ready");
    let mut sandbox_config = LocalSandboxConfig::new(
        config.data_dir.join("sandboxes"),
        config.tools_dir.clone(),
        &bwrap,
        host_layout,
        sandbox_helper(config)?,
    );
    sandbox_config.host_user = run_as;
    // Blocking file system work (creating and checking directories).
    let provider = tokio::task::spawn_blocking(move || LocalBwrapProvider::new(sandbox_config))
        .await
        .map_err(|e| ServeError::Io {
            context: "preparing the sandbox provider".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
    Ok(Arc::new(provider))
}

async fn create_dir(dir: &std::path::Path) -> Result<(), ServeError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|source| ServeError::Io {
            context: format!("creating {}", dir.display()),
            source,
        })
}

/// The built-in agents and the config file's.
pub(crate) fn agent_registry(config: &ServerConfig) -> Result<AgentRegistry, ServeError> {
    AgentRegistry::with_custom(config.agents.clone()).map_err(|why| {
        ServeError::Config(ConfigError::Invalid {
            key: "agents".into(),
            value: "[[agents]]".into(),
            why,
        })
    })
}

/// Installs every agent CLI into `tools_dir` (what `agent-runtime install` does), with progress
/// in the log.
pub async fn install_agents(config: &ServerConfig) -> Result<(), ServeError> {
    let installer = agent_runtime_core::installer::Installer::new(config.tools_dir.clone());
    for agent in agent_registry(config)?.all() {
        let installed = installer.ensure(agent).await?;
        tracing::info!(
            agent = agent.id(),
            bin = %installed.host_bin.display(),
            "agent CLI ready"
        );
    }
    Ok(())
}
