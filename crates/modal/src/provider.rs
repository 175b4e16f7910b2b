//! [`ModalProvider`]: creates, lists and terminates Modal sandboxes with the RPCs Modal's own
//! Python client (1.6.4) uses, in the same order: `ClientHello`; `EnvironmentGetOrCreate` (the
//! image builder version); `AppGetOrCreate` (create if missing); `ImageGetOrCreate` per layer,
//! then `ImageJoinStreaming` until built; per sandbox `SecretGetOrCreate` (its environment,
//! owned by the app), `SandboxCreate`, `SandboxGetTaskId` until scheduled, and
//! `TaskGetCommandRouterAccess` for its router.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use agent_runtime_modal_proto::client::{
    network_access::NetworkAccessType, AppGetOrCreateRequest, EnvironmentGetOrCreateRequest,
    NetworkAccess, ObjectCreationType, Resources, SandboxCreateRequest, SandboxGetTaskIdRequest,
    SandboxListRequest, SandboxTag, SecretGetOrCreateRequest,
};
use agent_runtime_sandbox::live_ids::LiveIds;
use agent_runtime_sandbox::local::{base_env, egress_url, proxy_env};
use agent_runtime_sandbox::{
    labels_match, validate_labels, validate_sandbox_id, Enforcement, Labels, Sandbox, SandboxError,
    SandboxListing, SandboxProvider, SandboxRequest, HOME_DIR, WORKSPACE_DIR,
};
use async_trait::async_trait;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::commands::{mkdir_argv, PID_DIR};
use crate::config::ModalConfig;
use crate::error::ModalError;
use crate::exec::{self, Shared};
use crate::image::build_image;
use crate::router::RouterClient;
use crate::rpc::Control;
use crate::sandbox::{terminate, watch_end, ModalSandbox};
use crate::tunnel;

/// The tag naming our sandbox id on every Modal sandbox this provider creates.
pub const SANDBOX_ID_TAG: &str = "agent-runtime.sandbox";
/// What each sandbox runs as its main process: nothing, for ever; work comes as execs.
pub const ENTRYPOINT: [&str; 2] = ["sleep", "infinity"];
/// How often `SandboxGetTaskId` is asked while Modal schedules a sandbox (as Modal's client).
const TASK_ID_POLL: Duration = Duration::from_millis(500);

/// The app (and its environment's image builder version), found once.
struct AppInfo {
    app_id: String,
    builder_version: String,
}

/// Sandboxes on Modal. See the crate docs.
pub struct ModalProvider {
    config: ModalConfig,
    control: Arc<Control>,
    app: OnceCell<AppInfo>,
    image_id: OnceCell<String>,
    /// Sandboxes being created or alive here, so one id is never live twice.
    ids: LiveIds<ModalSandbox>,
}

impl ModalProvider {
    /// Checks the configuration; nothing is contacted until the first call.
    pub fn new(config: ModalConfig) -> Result<Self, SandboxError> {
        let control = Control::new(&config).map_err(SandboxError::from)?;
        Ok(Self {
            config,
            control: Arc::new(control),
            app: OnceCell::new(),
            image_id: OnceCell::new(),
            ids: LiveIds::default(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ModalConfig {
        &self.config
    }

    fn environment_name(&self) -> String {
        self.config.environment.clone().unwrap_or_default()
    }

    async fn app(&self) -> Result<&AppInfo, ModalError> {
        self.app
            .get_or_try_init(|| async {
                let control = &self.control;
                control
                    .call("ClientHello", (), |mut c, r| async move {
                        c.client_hello(r).await
                    })
                    .await?;
                let req = EnvironmentGetOrCreateRequest {
                    deployment_name: self.environment_name(),
                    object_creation_type: ObjectCreationType::Unspecified as i32,
                };
                let env = control
                    .call("EnvironmentGetOrCreate", req, |mut c, r| async move {
                        c.environment_get_or_create(r).await
                    })
                    .await?;
                let builder_version = env
                    .metadata
                    .and_then(|m| m.settings)
                    .map(|s| s.image_builder_version)
                    .unwrap_or_default();
                let req = AppGetOrCreateRequest {
                    app_name: self.config.app_name.clone(),
                    environment_name: self.environment_name(),
                    object_creation_type: ObjectCreationType::CreateIfMissing as i32,
                };
                let app = control
                    .call("AppGetOrCreate", req, |mut c, r| async move {
                        c.app_get_or_create(r).await
                    })
                    .await?;
                tracing::info!(app = %self.config.app_name, app_id = %app.app_id, %builder_version, "Modal app ready");
                Ok(AppInfo {
                    app_id: app.app_id,
                    builder_version,
                })
            })
            .await
    }

    async fn image(&self, app: &AppInfo) -> Result<&str, ModalError> {
        let deadline = self.config.start_timeout;
        self.image_id
            .get_or_try_init(|| async {
                let built = build_image(
                    &self.control,
                    &app.app_id,
                    &app.builder_version,
                    &self.config.image,
                );
                tokio::time::timeout(deadline, built)
                    .await
                    .map_err(|_| ModalError::ImageBuild(format!("not built within {deadline:?}")))?
            })
            .await
            .map(String::as_str)
    }

    /// The environment every process starts with, stored in the sandbox's secret.
    fn sandbox_env(&self, req: &SandboxRequest) -> BTreeMap<String, String> {
        let mut env = base_env(None);
        if req.egress.is_some() {
            env.extend(proxy_env(&egress_url()));
        }
        env.extend(req.extra_env.clone());
        env
    }

    fn resources(&self, req: &SandboxRequest) -> Option<Resources> {
        let milli_cpu = req.limits.cpu_millicores.or(self.config.cpu_millicores);
        let memory_mb = req
            .limits
            .memory_bytes
            .map(|b| b.div_ceil(1024 * 1024))
            .or(self.config.memory_mib);
        if milli_cpu.is_none() && memory_mb.is_none() {
            return None;
        }
        let clamp = |v: Option<u64>| v.map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX));
        Some(Resources {
            milli_cpu: clamp(milli_cpu),
            memory_mb: clamp(memory_mb),
            ..Default::default()
        })
    }

    /// Everything of `create` after the id is reserved.
    async fn create_sandbox(&self, req: SandboxRequest) -> Result<Arc<ModalSandbox>, ModalError> {
        let started = Instant::now();
        let app = self.app().await?;
        let image_id = self.image(app).await?.to_owned();
        let secret = SecretGetOrCreateRequest {
            object_creation_type: ObjectCreationType::AnonymousOwnedByApp as i32,
            env_dict: self.sandbox_env(&req).into_iter().collect(),
            app_id: app.app_id.clone(),
            environment_name: self.environment_name(),
            ..Default::default()
        };
        let secret = self
            .control
            .call("SecretGetOrCreate", secret, |mut c, r| async move {
                c.secret_get_or_create(r).await
            })
            .await?;
        let mut tags: Vec<SandboxTag> = req
            .labels
            .iter()
            .map(|(k, v)| SandboxTag {
                tag_name: k.clone(),
                tag_value: v.clone(),
            })
            .collect();
        tags.push(SandboxTag {
            tag_name: SANDBOX_ID_TAG.to_owned(),
            tag_value: req.sandbox_id.clone(),
        });
        let definition = agent_runtime_modal_proto::client::Sandbox {
            entrypoint_args: ENTRYPOINT.map(str::to_owned).to_vec(),
            image_id,
            secret_ids: vec![secret.secret_id],
            resources: self.resources(&req),
            timeout_secs: u32::try_from(self.config.sandbox_timeout.as_secs()).unwrap_or(u32::MAX),
            workdir: Some(WORKSPACE_DIR.to_owned()),
            block_network: true,
            network_access: Some(NetworkAccess {
                network_access_type: NetworkAccessType::Blocked as i32,
                ..Default::default()
            }),
            ..Default::default()
        };
        let create = SandboxCreateRequest {
            app_id: app.app_id.clone(),
            definition: Some(definition),
            tags,
            ..Default::default()
        };
        let modal_id = self
            .control
            .call("SandboxCreate", create, |mut c, r| async move {
                c.sandbox_create(r).await
            })
            .await?
            .sandbox_id;
        tracing::info!(sandbox_id = %req.sandbox_id, %modal_id, "Modal sandbox created");
        match self.start_sandbox(req, &modal_id, started).await {
            Ok(sandbox) => Ok(sandbox),
            Err(e) => {
                // Nobody would ever use it: do not leave it running until its timeout.
                if let Err(te) = terminate(&self.control, &modal_id).await {
                    tracing::warn!(%modal_id, "terminating a sandbox that failed to start: {te}");
                }
                Err(e)
            }
        }
    }

    /// Waits for the sandbox's task, connects its router, prepares its directories and
    /// starts the egress tunnel.
    async fn start_sandbox(
        &self,
        req: SandboxRequest,
        modal_id: &str,
        started: Instant,
    ) -> Result<Arc<ModalSandbox>, ModalError> {
        let task_id = self.wait_for_task(modal_id).await?;
        let router = RouterClient::connect(Arc::clone(&self.control), &task_id).await?;
        let shared = Arc::new(Shared {
            id: req.sandbox_id.clone(),
            modal_id: modal_id.to_owned(),
            control: Arc::clone(&self.control),
            router,
            tasks: TaskTracker::new(),
            cancel: CancellationToken::new(),
            ended: CancellationToken::new(),
            ended_reason: OnceLock::new(),
        });
        let sandbox = Arc::new(ModalSandbox {
            shared: Arc::clone(&shared),
            egress: req.egress.is_some(),
            destroyed: Default::default(),
        });
        shared.tasks.spawn(watch_end(Arc::clone(&shared)));
        let mkdir = exec::run(
            &shared,
            mkdir_argv(&[WORKSPACE_DIR, HOME_DIR, PID_DIR]),
            b"",
        )
        .await?;
        if mkdir.code() != Some(0) {
            return Err(ModalError::Protocol(format!(
                "preparing the sandbox's directories: {}",
                mkdir.describe()
            )));
        }
        if let Some(handler) = req.egress {
            tunnel::start(&shared, handler).await?;
        }
        tracing::info!(sandbox_id = %shared.id, %modal_id, %task_id, elapsed = ?started.elapsed(), "Modal sandbox ready");
        Ok(sandbox)
    }

    /// Polls `SandboxGetTaskId` until Modal has scheduled the sandbox.
    async fn wait_for_task(&self, modal_id: &str) -> Result<String, ModalError> {
        let deadline = Instant::now() + self.config.start_timeout;
        let req = SandboxGetTaskIdRequest {
            sandbox_id: modal_id.to_owned(),
            ..Default::default()
        };
        loop {
            let resp = self
                .control
                .call("SandboxGetTaskId", req.clone(), |mut c, r| async move {
                    c.sandbox_get_task_id(r).await
                })
                .await?;
            if let Some(task_id) = resp.task_id.filter(|t| !t.is_empty()) {
                return Ok(task_id);
            }
            if let Some(result) = resp.task_result {
                return Err(ModalError::SandboxEnded {
                    sandbox_id: modal_id.to_owned(),
                    reason: format!("before it started: {}", result.exception),
                });
            }
            if Instant::now() >= deadline {
                return Err(ModalError::SandboxEnded {
                    sandbox_id: modal_id.to_owned(),
                    reason: format!("not scheduled within {:?}", self.config.start_timeout),
                });
            }
            tokio::time::sleep(TASK_ID_POLL).await;
        }
    }

    /// The live sandbox created here with Modal id `modal_id`, if any.
    fn live_by_modal_id(&self, modal_id: &str) -> Option<Arc<ModalSandbox>> {
        self.ids.find(|s| s.modal_id() == modal_id)
    }
}

#[async_trait]
impl SandboxProvider for ModalProvider {
    fn name(&self) -> &'static str {
        "modal"
    }

    fn enforcement(&self) -> Vec<Enforcement> {
        enforcement_report()
    }

    async fn create(&self, req: SandboxRequest) -> Result<Arc<dyn Sandbox>, SandboxError> {
        validate_sandbox_id(&req.sandbox_id)?;
        validate_labels(&req.labels)?;
        if req.labels.contains_key(SANDBOX_ID_TAG) {
            return Err(SandboxError::InvalidConfig(format!(
                "the label {SANDBOX_ID_TAG} is reserved by the Modal provider"
            )));
        }
        let reservation = self.ids.reserve(&req.sandbox_id)?;
        let id = req.sandbox_id.clone();
        let sandbox = self
            .create_sandbox(req)
            .await
            .map_err(|e| e.into_sandbox_error(format!("creating Modal sandbox {id}")))?;
        reservation.complete(&sandbox);
        Ok(sandbox)
    }

    async fn list(&self, labels: &Labels) -> Result<Vec<SandboxListing>, SandboxError> {
        let context = "listing Modal sandboxes";
        let app = self
            .app()
            .await
            .map_err(|e| e.into_sandbox_error(context))?;
        let tags: Vec<SandboxTag> = labels
            .iter()
            .map(|(k, v)| SandboxTag {
                tag_name: k.clone(),
                tag_value: v.clone(),
            })
            .collect();
        let mut found = Vec::new();
        let mut before: Option<f64> = None;
        loop {
            let req = SandboxListRequest {
                app_id: app.app_id.clone(),
                before_timestamp: before.unwrap_or(0.0),
                include_finished: false,
                tags: tags.clone(),
                ..Default::default()
            };
            let page = self
                .control
                .call("SandboxList", req, |mut c, r| async move {
                    c.sandbox_list(r).await
                })
                .await
                .map_err(|e| e.into_sandbox_error(context))?
                .sandboxes;
            let Some(last) = page.last().map(|info| info.created_at) else {
                break;
            };
            for info in page {
                if let Some(listing) = listing_of(&info.id, &info.tags) {
                    if labels_match(&listing.labels, labels) {
                        found.push(listing);
                    }
                }
            }
            // Pages go back in time; a server that does not page would repeat itself.
            if before.is_some_and(|b| last >= b) {
                break;
            }
            before = Some(last);
        }
        Ok(found)
    }

    async fn terminate(&self, provider_id: &str) -> Result<(), SandboxError> {
        if let Some(live) = self.live_by_modal_id(provider_id) {
            return live.shut_down().await;
        }
        terminate(&self.control, provider_id)
            .await
            .map_err(|e| e.into_sandbox_error(format!("terminating Modal sandbox {provider_id}")))
    }
}

/// The listing of a Modal sandbox from its tags; `None` when it was not created by this
/// provider (no [`SANDBOX_ID_TAG`]).
pub fn listing_of(modal_id: &str, tags: &[SandboxTag]) -> Option<SandboxListing> {
    let mut labels: Labels = tags
        .iter()
        .map(|t| (t.tag_name.clone(), t.tag_value.clone()))
        .collect();
    let sandbox_id = labels.remove(SANDBOX_ID_TAG)?;
    Some(SandboxListing {
        sandbox_id,
        provider_id: modal_id.to_owned(),
        labels,
    })
}

/// What enforces each protection of a Modal sandbox. Never claims more than holds.
pub fn enforcement_report() -> Vec<Enforcement> {
    vec![
        Enforcement::by("network", ["Modal sandbox with block_network"]).with_note(
            "the one way out is the runtime's egress proxy through the exec stream \
             (127.0.0.1:3128 inside)",
        ),
        Enforcement::by("isolation", ["gVisor container on Modal"]),
        Enforcement::by("cpu", ["Modal resources (milli_cpu)"])
            .with_note("from limits.cpu_millicores or the provider's cpu setting"),
        Enforcement::by("memory", ["Modal resources (memory_mb)"])
            .with_note("from limits.memory_bytes or the provider's memory setting"),
        Enforcement::missing("pids", "Modal has no per-sandbox task limit"),
        Enforcement::missing(
            "tmp_size",
            "/tmp is the container's disk, not a sized tmpfs",
        ),
        Enforcement::missing("file_size", "no RLIMIT_FSIZE is set in Modal sandboxes"),
        Enforcement::missing("open_files", "no RLIMIT_NOFILE is set in Modal sandboxes"),
        Enforcement::missing(
            "host_uid",
            "processes run as the image's user (root in the container, inside gVisor)",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn listings_come_from_tags() {
        let tag = |k: &str, v: &str| SandboxTag {
            tag_name: k.into(),
            tag_value: v.into(),
        };
        let listing = listing_of("sb-1", &[tag("install", "i1"), tag(SANDBOX_ID_TAG, "s1")]);
        assert_eq!(
            listing,
            Some(SandboxListing {
                sandbox_id: "s1".into(),
                provider_id: "sb-1".into(),
                labels: Labels::from([("install".to_owned(), "i1".to_owned())]),
            })
        );
        assert_eq!(listing_of("sb-2", &[tag("install", "i1")]), None);
    }

    #[test]
    fn resources_come_from_limits_or_config() {
        let mut config = ModalConfig::new("ak", "as");
        config.server_url = "http://127.0.0.1:9".into();
        config.cpu_millicores = Some(2000);
        let provider = ModalProvider::new(config).unwrap();
        let mut req = SandboxRequest::new("s1");
        req.limits.memory_bytes = Some(3 * 1024 * 1024 + 1);
        let resources = provider.resources(&req).unwrap();
        assert_eq!((resources.milli_cpu, resources.memory_mb), (2000, 4));
        let mut config = ModalConfig::new("ak", "as");
        config.server_url = "http://127.0.0.1:9".into();
        let provider = ModalProvider::new(config).unwrap();
        assert_eq!(provider.resources(&SandboxRequest::new("s1")), None);
    }
}
