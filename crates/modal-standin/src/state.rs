//! What the stand-in knows: apps, images, secrets, sandboxes and the router's tokens; and the
//! records tests read through [`super::ModalStandIn`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use agent_runtime_modal_proto::client::{GenericResult, Image, SandboxCreateRequest};
use agent_runtime_sandbox::LocalBwrapProvider;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::container::Container;
use super::lock;
use super::net::Faults;

/// An app created by `AppGetOrCreate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRecord {
    pub id: String,
    pub name: String,
    pub environment_name: String,
}

/// An image definition recorded by `ImageGetOrCreate` (never built: every build "succeeds").
#[derive(Clone, Debug, PartialEq)]
pub struct ImageRecord {
    pub id: String,
    /// The definition exactly as the client sent it.
    pub image: Image,
    pub app_id: String,
    pub builder_version: String,
}

/// A secret created by `SecretGetOrCreate` or [`super::ModalStandIn::add_secret`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRecord {
    pub id: String,
    /// Empty for ephemeral (`Secret.from_dict`) secrets.
    pub name: String,
    pub env: BTreeMap<String, String>,
}

/// Where a sandbox is in its life.
#[derive(Clone, Debug, PartialEq)]
pub enum SandboxPhase {
    /// Created; its container is starting (no task id handed out yet).
    Starting,
    /// Its container runs; execs are accepted.
    Running,
    /// Ended with this result (`GENERIC_STATUS_*` and exit code).
    Finished(GenericResult),
}

/// A sandbox as a test sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxRecord {
    pub id: String,
    pub task_id: String,
    pub app_id: String,
    pub tags: BTreeMap<String, String>,
    pub phase: SandboxPhase,
    /// The `SandboxCreate` request exactly as received (definition, network settings, ...).
    pub request: SandboxCreateRequest,
    /// The environment its processes get from the sandbox's secrets.
    pub secret_env: BTreeMap<String, String>,
}

impl SandboxRecord {
    /// Whether its container is running.
    pub fn is_running(&self) -> bool {
        self.phase == SandboxPhase::Running
    }
}

/// Why a sandbox is being ended from outside its entrypoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndReason {
    Terminated,
    TimedOut,
    /// The container died ([`super::ModalStandIn::kill_sandbox`]).
    Killed,
}

/// One sandbox: its record, its container, and what ends it.
pub(crate) struct SandboxEntry {
    pub id: String,
    pub task_id: String,
    pub created_at: f64,
    pub request: SandboxCreateRequest,
    pub app_id: String,
    pub secret_env: BTreeMap<String, String>,
    pub status: Mutex<SandboxStatus>,
    /// Bumped on every change of `status`.
    pub changed: watch::Sender<()>,
    /// Cancelled to end the sandbox; the reason is in `status.end_reason`.
    pub end: CancellationToken,
    /// Cancelled once the sandbox has finished and its container is gone.
    pub finished: CancellationToken,
}

/// The mutable part of a sandbox.
pub(crate) struct SandboxStatus {
    pub tags: BTreeMap<String, String>,
    pub phase: SandboxPhase,
    pub end_reason: Option<EndReason>,
    pub container: Option<Arc<Container>>,
    /// Exec ids (the client's) to the container's exec numbers.
    pub execs: HashMap<String, u32>,
    pub next_exec: u32,
}

impl SandboxEntry {
    pub fn record(&self) -> SandboxRecord {
        let status = lock(&self.status);
        SandboxRecord {
            id: self.id.clone(),
            task_id: self.task_id.clone(),
            app_id: self.app_id.clone(),
            tags: status.tags.clone(),
            phase: status.phase.clone(),
            request: self.request.clone(),
            secret_env: self.secret_env.clone(),
        }
    }

    /// Changes the status and wakes every waiter.
    pub fn update<R>(&self, f: impl FnOnce(&mut SandboxStatus) -> R) -> R {
        let out = f(&mut lock(&self.status));
        self.changed.send_replace(());
        out
    }

    /// Asks the sandbox to end (the first reason wins).
    pub fn end_with(&self, reason: EndReason) {
        self.update(|s| {
            s.end_reason.get_or_insert(reason);
        });
        self.end.cancel();
    }

    pub fn phase(&self) -> SandboxPhase {
        lock(&self.status).phase.clone()
    }
}

/// Everything the services share.
pub(crate) struct State {
    pub token_id: String,
    pub token_secret: String,
    pub image_builder_version: String,
    /// `http://127.0.0.1:PORT`, handed out as the command router's URL.
    pub url: String,
    pub provider: LocalBwrapProvider,
    pub registry: Mutex<Registry>,
    pub faults: Faults,
    /// The sandboxes' lifecycle tasks.
    pub tasks: TaskTracker,
    /// Cancelled at shutdown.
    pub shutdown: CancellationToken,
}

/// The objects, by id.
#[derive(Default)]
pub(crate) struct Registry {
    pub apps: Vec<AppRecord>,
    pub images: Vec<ImageRecord>,
    pub secrets: Vec<SecretRecord>,
    pub sandboxes: BTreeMap<String, Arc<SandboxEntry>>,
    /// Router JWTs to the task they grant access to.
    pub jwts: HashMap<String, String>,
    /// The last `created_at` handed out, so every sandbox's is distinct (list pagination).
    pub last_created_at: f64,
}

impl State {
    pub fn sandbox(&self, id: &str) -> Option<Arc<SandboxEntry>> {
        lock(&self.registry).sandboxes.get(id).cloned()
    }

    pub fn sandbox_by_task(&self, task_id: &str) -> Option<Arc<SandboxEntry>> {
        lock(&self.registry)
            .sandboxes
            .values()
            .find(|s| s.task_id == task_id)
            .cloned()
    }

    /// The task a router JWT was issued for.
    pub fn jwt_task(&self, jwt: &str) -> Option<String> {
        lock(&self.registry).jwts.get(jwt).cloned()
    }
}
