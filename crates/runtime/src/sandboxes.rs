//! Where sandboxes run, and that none is left behind.
//!
//! [`SandboxProviders`] holds the providers the server is configured with (local bubblewrap,
//! Modal) and which one is the default; a profile may name another. Every sandbox the runtime
//! creates carries labels naming this installation, this process and what it is for
//! ([`sandbox_labels`]), and is registered as *held* until it is destroyed or dropped
//! ([`HeldSandbox`]).
//!
//! The reconciler ([`reconcile`], at start and every [`RuntimeConfig::reconcile_interval`])
//! lists every provider's sandboxes of this installation and, for each:
//!
//! - keeps (*adopts*) one this process holds, or one a live node of the cluster made;
//! - terminates every other one: made by a run of the runtime that died (`kill -9`, a crash, a
//!   lost machine) or leaked by this one. An agent process cannot be reattached after its
//!   runtime died (its stdio went with it), and everything of a session is in the store, so
//!   the session's next turn starts a fresh sandbox; the old one would only run up a bill.
//!
//! Each action is logged and counted in `/metrics`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use agent_runtime_protocol::{SandboxProviderInfo, SandboxProviderKind};
use agent_runtime_sandbox::{
    FileStat, LaunchSpec, LimitHit, Root, Sandbox, SandboxError, SandboxListing, SandboxProcess,
    SandboxProvider, SandboxRequest,
};
use async_trait::async_trait;

use crate::config::RuntimeConfig;
use crate::error::{Result, RuntimeError};

/// The label naming the installation (shared by the nodes of a cluster).
pub const LABEL_INSTALL: &str = "agent-runtime.install";
/// The label naming the runtime process that made the sandbox.
pub const LABEL_INSTANCE: &str = "agent-runtime.instance";
/// The label naming the node that made it, on a node of several.
pub const LABEL_NODE: &str = "agent-runtime.node";
/// The label naming what it is for: a session id, or `pool`.
pub const LABEL_PURPOSE: &str = "agent-runtime.purpose";

/// The configured providers, and the default one.
#[derive(Clone)]
pub struct SandboxProviders {
    default: SandboxProviderKind,
    providers: BTreeMap<SandboxProviderKind, ProviderEntry>,
}

#[derive(Clone)]
struct ProviderEntry {
    provider: Arc<dyn SandboxProvider>,
    description: String,
}

impl SandboxProviders {
    /// Only `provider`, which is the default, of `kind`.
    pub fn single(
        kind: SandboxProviderKind,
        provider: Arc<dyn SandboxProvider>,
        description: impl Into<String>,
    ) -> Self {
        let mut providers = Self {
            default: kind,
            providers: BTreeMap::new(),
        };
        providers.add(kind, provider, description);
        providers
    }

    /// Adds (or replaces) the provider of `kind`.
    pub fn add(
        &mut self,
        kind: SandboxProviderKind,
        provider: Arc<dyn SandboxProvider>,
        description: impl Into<String>,
    ) {
        self.providers.insert(
            kind,
            ProviderEntry {
                provider,
                description: description.into(),
            },
        );
    }

    /// Makes `kind` the default; it must have been added.
    pub fn set_default(&mut self, kind: SandboxProviderKind) -> Result<()> {
        self.get(kind)?;
        self.default = kind;
        Ok(())
    }

    /// The default provider's kind.
    pub fn default_kind(&self) -> SandboxProviderKind {
        self.default
    }

    /// The provider of `kind`, or why the server has none.
    pub fn get(&self, kind: SandboxProviderKind) -> Result<Arc<dyn SandboxProvider>> {
        self.providers
            .get(&kind)
            .map(|entry| entry.provider.clone())
            .ok_or_else(|| {
                RuntimeError::InvalidProfile(match kind {
                    SandboxProviderKind::Modal => "this server has no modal sandbox provider \
                        (it needs Modal's token: MODAL_TOKEN_ID and MODAL_TOKEN_SECRET)"
                        .to_owned(),
                    other => format!("this server has no {} sandbox provider", other.as_str()),
                })
            })
    }

    /// The kind a sandbox under a profile naming `wanted` runs on.
    pub fn resolve(&self, wanted: Option<SandboxProviderKind>) -> SandboxProviderKind {
        wanted.unwrap_or(self.default)
    }

    /// The default provider.
    pub fn default_provider(&self) -> Arc<dyn SandboxProvider> {
        self.providers[&self.default].provider.clone()
    }

    /// What `GET /api/agents` says about them: the default first.
    pub fn infos(&self) -> Vec<SandboxProviderInfo> {
        let mut infos: Vec<_> = self
            .providers
            .iter()
            .map(|(kind, entry)| SandboxProviderInfo {
                kind: *kind,
                default: *kind == self.default,
                description: entry.description.clone(),
            })
            .collect();
        infos.sort_by_key(|info| !info.default);
        infos
    }

    fn all(&self) -> impl Iterator<Item = (SandboxProviderKind, &Arc<dyn SandboxProvider>)> {
        self.providers
            .iter()
            .map(|(kind, entry)| (*kind, &entry.provider))
    }
}

/// A sandbox this process holds: its provider and id.
type HeldKey = (SandboxProviderKind, String);

/// The sandboxes this process holds, by (provider, sandbox id), each with the generation of its
/// latest creation: a handle of an earlier sandbox with the same id (a session's id is reused by
/// each of its sandboxes) that goes away late releases nothing of the new one.
#[derive(Default)]
pub(crate) struct HeldSandboxes {
    held: Mutex<HashMap<HeldKey, u64>>,
    generations: AtomicU64,
}

impl HeldSandboxes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<HeldKey, u64>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn contains(&self, kind: SandboxProviderKind, id: &str) -> bool {
        self.lock().contains_key(&(kind, id.to_owned()))
    }

    /// Holds `key` as a new generation, which [`HeldSandboxes::release`] takes.
    fn hold(&self, key: HeldKey) -> u64 {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(key, generation);
        generation
    }

    /// Releases `key` if it is still held as `generation`.
    fn release(&self, key: &HeldKey, generation: u64) {
        let mut held = self.lock();
        if held.get(key) == Some(&generation) {
            held.remove(key);
        }
    }
}

/// What makes this process's sandboxes recognisable: the installation, the process and, on a
/// node of several, the node.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) install: String,
    pub(crate) instance: String,
    pub(crate) node: Option<String>,
}

impl Identity {
    /// A fresh instance id for this process.
    pub(crate) fn new(config: &RuntimeConfig) -> Self {
        let instance = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
        Self {
            install: config.install_id.clone(),
            instance,
            node: config.cluster.as_ref().map(|c| node_label(&c.node_id)),
        }
    }
}

/// A node id as it appears in [`LABEL_NODE`].
pub(crate) fn node_label(node_id: &str) -> String {
    label_value(node_id)
}

/// `value` as a label value: itself when it is one, else a hash of it.
fn label_value(value: &str) -> String {
    let single: agent_runtime_sandbox::Labels =
        [("k".to_owned(), value.to_owned())].into_iter().collect();
    if agent_runtime_sandbox::validate_labels(&single).is_ok() {
        return value.to_owned();
    }
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(value.as_bytes())[..12])
}

/// The labels of a sandbox made for `purpose` (a session id, or `pool`).
pub(crate) fn sandbox_labels(identity: &Identity, purpose: &str) -> agent_runtime_sandbox::Labels {
    let mut labels: agent_runtime_sandbox::Labels = [
        (LABEL_INSTALL, identity.install.clone()),
        (LABEL_INSTANCE, identity.instance.clone()),
        (LABEL_PURPOSE, label_value(purpose)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(node) = &identity.node {
        labels.insert(LABEL_NODE.to_owned(), node.clone());
    }
    labels
}

/// Creates a sandbox with `provider`, held until it is destroyed or dropped. The id is held
/// before the provider is asked, so a reconciler running meanwhile never takes it for an orphan.
pub(crate) async fn create_held(
    held: &Arc<HeldSandboxes>,
    kind: SandboxProviderKind,
    provider: &Arc<dyn SandboxProvider>,
    request: SandboxRequest,
) -> std::result::Result<Arc<dyn Sandbox>, SandboxError> {
    let key = (kind, request.sandbox_id.clone());
    let generation = held.hold(key.clone());
    match provider.create(request).await {
        Ok(inner) => Ok(Arc::new(HeldSandbox {
            inner,
            held: held.clone(),
            key,
            generation,
        })),
        Err(e) => {
            held.release(&key, generation);
            Err(e)
        }
    }
}

/// A sandbox this process holds: the provider's, released from [`HeldSandboxes`] when it is
/// destroyed or the last handle goes.
struct HeldSandbox {
    inner: Arc<dyn Sandbox>,
    held: Arc<HeldSandboxes>,
    key: HeldKey,
    generation: u64,
}

impl Drop for HeldSandbox {
    fn drop(&mut self) {
        self.held.release(&self.key, self.generation);
    }
}

#[async_trait]
impl Sandbox for HeldSandbox {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn workspace_dir(&self) -> &str {
        self.inner.workspace_dir()
    }
    fn home_dir(&self) -> &str {
        self.inner.home_dir()
    }
    fn tools_dir(&self) -> &str {
        self.inner.tools_dir()
    }
    async fn spawn(&self, spec: LaunchSpec) -> std::result::Result<SandboxProcess, SandboxError> {
        self.inner.spawn(spec).await
    }
    async fn write_file(
        &self,
        root: Root,
        rel: &str,
        bytes: &[u8],
    ) -> std::result::Result<(), SandboxError> {
        self.inner.write_file(root, rel, bytes).await
    }
    async fn read_file(
        &self,
        root: Root,
        rel: &str,
    ) -> std::result::Result<Option<Vec<u8>>, SandboxError> {
        self.inner.read_file(root, rel).await
    }
    async fn remove_file(&self, root: Root, rel: &str) -> std::result::Result<bool, SandboxError> {
        self.inner.remove_file(root, rel).await
    }
    async fn scan(
        &self,
        root: Root,
        exclude_prefixes: &[String],
    ) -> std::result::Result<Vec<FileStat>, SandboxError> {
        self.inner.scan(root, exclude_prefixes).await
    }
    fn proxy_url(&self) -> Option<String> {
        self.inner.proxy_url()
    }
    async fn limit_hit(&self) -> LimitHit {
        self.inner.limit_hit().await
    }
    fn check_limits(&self) -> Option<LimitHit> {
        self.inner.check_limits()
    }
    async fn destroy(&self) -> std::result::Result<(), SandboxError> {
        let destroyed = self.inner.destroy().await;
        self.held.release(&self.key, self.generation);
        destroyed
    }
}

/// What one reconciliation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Sandboxes kept: this process's, or a live node's.
    pub adopted: u64,
    /// Orphans terminated.
    pub terminated: u64,
    /// Listings or terminations that failed (tried again next time).
    pub failed: u64,
}

/// Lists every provider's sandboxes of this installation and terminates the orphans (see the
/// module docs). `live_nodes`: on a node of several, the node ids (as labels) that are live.
pub(crate) async fn reconcile(
    providers: &SandboxProviders,
    held: &HeldSandboxes,
    identity: &Identity,
    live_nodes: Option<&HashSet<String>>,
) -> Reconciled {
    let metrics = crate::metrics::global();
    let mut done = Reconciled::default();
    let want: agent_runtime_sandbox::Labels =
        [(LABEL_INSTALL.to_owned(), identity.install.clone())]
            .into_iter()
            .collect();
    for (kind, provider) in providers.all() {
        let listed = match provider.list(&want).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(provider = kind.as_str(), "listing sandboxes failed: {e}");
                done.failed += 1;
                continue;
            }
        };
        for listing in listed {
            if is_held_elsewhere_or_here(kind, &listing, held, identity, live_nodes) {
                done.adopted += 1;
                continue;
            }
            match provider.terminate(&listing.provider_id).await {
                Ok(()) => {
                    done.terminated += 1;
                    tracing::warn!(
                        provider = kind.as_str(),
                        sandbox_id = %listing.sandbox_id,
                        provider_id = %listing.provider_id,
                        labels = ?listing.labels,
                        "terminated an orphaned sandbox"
                    );
                }
                Err(e) => {
                    done.failed += 1;
                    tracing::warn!(
                        provider = kind.as_str(),
                        sandbox_id = %listing.sandbox_id,
                        "terminating an orphaned sandbox failed: {e}"
                    );
                }
            }
        }
    }
    use std::sync::atomic::Ordering::Relaxed;
    metrics.sandboxes_adopted.fetch_add(done.adopted, Relaxed);
    metrics
        .sandbox_orphans_terminated
        .fetch_add(done.terminated, Relaxed);
    metrics
        .sandbox_reconcile_failures
        .fetch_add(done.failed, Relaxed);
    done
}

/// Whether a listed sandbox is held: by this process, or by another live node of the cluster.
fn is_held_elsewhere_or_here(
    kind: SandboxProviderKind,
    listing: &SandboxListing,
    held: &HeldSandboxes,
    identity: &Identity,
    live_nodes: Option<&HashSet<String>>,
) -> bool {
    let instance = listing.labels.get(LABEL_INSTANCE);
    if instance == Some(&identity.instance) {
        return held.contains(kind, &listing.sandbox_id);
    }
    match (listing.labels.get(LABEL_NODE), &identity.node, live_nodes) {
        // Another node's, and that node is live: its own reconciler answers for it.
        (Some(node), Some(own), Some(live)) => node != own && live.contains(node),
        _ => false,
    }
}

#[cfg(test)]
#[path = "sandboxes_tests.rs"]
mod tests;
