//! [`ModalStandIn`]: starting and stopping the stand-in, and the hooks tests drive it with.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_runtime_modal_proto::client::modal_client_server::ModalClientServer;
use agent_runtime_modal_proto::task_command_router::task_command_router_server::TaskCommandRouterServer;
use agent_runtime_sandbox::{LocalBwrapProvider, LocalSandboxConfig, RoMount};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::container::INIT_INSIDE;
use super::control::ControlPlane;
use super::error::ModalError;
use super::ids::new_id;
use super::lock;
use super::net::{incoming, EdgeLayer, Faults};
use super::router::Router;
use super::state::{
    EndReason, ImageRecord, Registry, SandboxPhase, SandboxRecord, SecretRecord, State,
};

/// The image builder version the stand-in's environment reports (one Modal's client knows).
pub const IMAGE_BUILDER_VERSION: &str = "2025.06";

/// How long [`ModalStandIn::shutdown`] waits for the gRPC server to drain.
const SERVER_DRAIN: Duration = Duration::from_secs(5);

/// What [`ModalStandIn::start`] needs.
#[derive(Clone, Debug)]
pub struct ModalStandInConfig {
    /// The local sandboxes containers run in. The stand-in adds a read-only mount of the
    /// container init; egress is always off (loopback only, like `block_network=True`).
    pub sandbox: LocalSandboxConfig,
    /// The `agent-runtime-modal-container` binary (see [`super::modal_container_binary`]).
    pub container_binary: PathBuf,
    /// The token pair every control plane call must carry.
    pub token_id: String,
    pub token_secret: String,
}

impl ModalStandInConfig {
    /// A config with a fresh random token pair (`ak-...`, `as-...`).
    pub fn new(sandbox: LocalSandboxConfig, container_binary: impl Into<PathBuf>) -> Self {
        Self {
            sandbox,
            container_binary: container_binary.into(),
            token_id: new_id("ak"),
            token_secret: new_id("as"),
        }
    }
}

/// A running Modal stand-in: Modal's control plane and task command router on one loopback
/// port, with sandboxes as local bubblewrap sandboxes. See the module docs.
pub struct ModalStandIn {
    addr: SocketAddr,
    state: Arc<State>,
    server: Option<JoinHandle<()>>,
    /// Holds the copy of the container init; removed on drop.
    _scratch: tempfile::TempDir,
}

impl ModalStandIn {
    /// Starts the stand-in on `127.0.0.1` with an OS-chosen port.
    pub async fn start(config: ModalStandInConfig) -> Result<Self, ModalError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ModalError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ModalError::Bind { addr, source })?;
        let (scratch, init) = copy_init(&config.container_binary)?;
        let mut sandbox = config.sandbox;
        sandbox.extra_ro_mounts.push(RoMount::Bind {
            host: init,
            inside: INIT_INSIDE.into(),
        });
        let provider = tokio::task::spawn_blocking(move || LocalBwrapProvider::new(sandbox))
            .await
            .map_err(|e| ModalError::Prepare {
                path: PathBuf::from("sandbox provider"),
                source: std::io::Error::other(e),
            })??;
        let url = format!("http://{addr}");
        let state = Arc::new(State {
            token_id: config.token_id,
            token_secret: config.token_secret,
            image_builder_version: IMAGE_BUILDER_VERSION.to_owned(),
            url,
            provider,
            registry: Mutex::new(Registry::default()),
            faults: Faults::default(),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        });
        let server = tonic::transport::Server::builder()
            .layer(EdgeLayer(Arc::clone(&state)))
            .add_service(ModalClientServer::new(ControlPlane(Arc::clone(&state))))
            .add_service(TaskCommandRouterServer::new(Router(Arc::clone(&state))));
        let stop = state.shutdown.clone();
        let stream = incoming(listener, Arc::clone(&state));
        let server = tokio::spawn(async move {
            if let Err(e) = server
                .serve_with_incoming_shutdown(stream, stop.cancelled_owned())
                .await
            {
                tracing::error!("Modal stand-in server stopped: {e}");
            }
        });
        tracing::info!(%addr, "Modal stand-in listening");
        Ok(Self {
            addr,
            state,
            server: Some(server),
            _scratch: scratch,
        })
    }

    /// `http://127.0.0.1:PORT`: the value for `MODAL_SERVER_URL` (and the router's URL).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The value for `MODAL_TOKEN_ID`.
    pub fn token_id(&self) -> &str {
        &self.state.token_id
    }

    /// The value for `MODAL_TOKEN_SECRET`.
    pub fn token_secret(&self) -> &str {
        &self.state.token_secret
    }

    /// Every sandbox ever created, oldest first.
    pub fn sandboxes(&self) -> Vec<SandboxRecord> {
        let entries: Vec<_> = lock(&self.state.registry)
            .sandboxes
            .values()
            .cloned()
            .collect();
        let mut entries: Vec<_> = entries.iter().map(|e| (e.created_at, e.record())).collect();
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        entries.into_iter().map(|(_, record)| record).collect()
    }

    /// One sandbox by its `sb-...` id.
    pub fn sandbox(&self, id: &str) -> Option<SandboxRecord> {
        self.state.sandbox(id).map(|entry| entry.record())
    }

    /// Every image definition recorded, in order.
    pub fn images(&self) -> Vec<ImageRecord> {
        lock(&self.state.registry).images.clone()
    }

    /// Every secret, in order.
    pub fn secrets(&self) -> Vec<SecretRecord> {
        lock(&self.state.registry).secrets.clone()
    }

    /// Adds a named secret (for `Secret.from_name`); returns its id.
    pub fn add_secret(&self, name: &str, env: BTreeMap<String, String>) -> String {
        let id = new_id("st");
        lock(&self.state.registry).secrets.push(SecretRecord {
            id: id.clone(),
            name: name.to_owned(),
            env,
        });
        id
    }

    /// Simulates the container dying: its init and every process are killed, the sandbox
    /// ends with `GENERIC_STATUS_INTERNAL_FAILURE`, its execs end (signal 9), and the router
    /// answers `NOT_FOUND` for its task. Returns once it is all gone.
    pub async fn kill_sandbox(&self, id: &str) -> Result<(), ModalError> {
        let entry = self
            .state
            .sandbox(id)
            .ok_or_else(|| ModalError::UnknownSandbox(id.to_owned()))?;
        entry.end_with(EndReason::Killed);
        let container = lock(&entry.status).container.clone();
        if let Some(container) = container {
            container.kill_init().await;
        }
        entry.finished.cancelled().await;
        Ok(())
    }

    /// Fails the next `n` calls (of any method, both services) with `code`, before they
    /// reach authentication or a handler.
    pub fn fail_next_calls(&self, n: u32, code: tonic::Code) {
        self.state.faults.fail_next(None, n, code);
    }

    /// Fails the next `n` calls of `method` (e.g. `"SandboxCreate"`, `"TaskExecStart"`).
    pub fn fail_next_calls_to(&self, method: &str, n: u32, code: tonic::Code) {
        self.state
            .faults
            .fail_next(Some(method.to_owned()), n, code);
    }

    /// Ends every failure scripted by [`ModalStandIn::fail_next_calls`] and `_to`: Modal is back.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }

    /// Cuts every open connection (reads and writes fail with a reset).
    pub fn drop_connections(&self) {
        self.state.faults.drop_connections();
    }

    /// Cuts every open connection and closes new ones at once for `duration`.
    pub fn refuse_connections_for(&self, duration: Duration) {
        self.state.faults.refuse_connections_for(duration);
    }

    /// The method names of every call received so far, in order (including failed ones).
    pub fn calls(&self) -> Vec<String> {
        self.state.faults.calls()
    }

    /// Terminates every sandbox (killing its processes and deleting its local state), then
    /// stops the server.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        let entries: Vec<_> = lock(&self.state.registry)
            .sandboxes
            .values()
            .cloned()
            .collect();
        for entry in &entries {
            if !matches!(entry.phase(), SandboxPhase::Finished(_)) {
                entry.end_with(EndReason::Terminated);
            }
        }
        self.state.shutdown.cancel();
        self.state.tasks.close();
        self.state.tasks.wait().await;
        if let Some(server) = self.server.take() {
            if tokio::time::timeout(SERVER_DRAIN, server).await.is_err() {
                tracing::warn!("the Modal stand-in's server did not drain in time");
            }
        }
    }
}

impl Drop for ModalStandIn {
    /// Without [`ModalStandIn::shutdown`]: sandboxes are told to end and the server stops;
    /// their processes die with the dropped handles, but nothing is awaited.
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Copies the container init into a fresh directory every host uid can reach (sandbox
/// processes run as other host uids; the build tree may be private).
fn copy_init(binary: &Path) -> Result<(tempfile::TempDir, PathBuf), ModalError> {
    let prepare = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ModalError::Prepare { path, source }
    };
    let dir = tempfile::Builder::new()
        .prefix("modal-stand-in-")
        .tempdir()
        .map_err(prepare(Path::new("a temp dir")))?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
        .map_err(prepare(dir.path()))?;
    let copy = dir.path().join("agent-runtime-modal-container");
    std::fs::copy(binary, &copy).map_err(prepare(binary))?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))
        .map_err(prepare(&copy))?;
    Ok((dir, copy))
}
