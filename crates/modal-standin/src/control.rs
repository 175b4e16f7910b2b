//! The control plane (`modal.client.ModalClient`): environments, apps, images, secrets,
//! sandboxes and router access. Every other method keeps the generated `UNIMPLEMENTED` stub.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agent_runtime_modal_proto::client::generic_result::GenericStatus;
use agent_runtime_modal_proto::client::modal_client_server::ModalClient;
use agent_runtime_modal_proto::client::{self as pb, ObjectCreationType};
use base64::Engine;
use prost::Message;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::ids::new_id;
use super::lifecycle::run_sandbox;
use super::lock;
use super::state::{
    AppRecord, EndReason, ImageRecord, SandboxEntry, SandboxPhase, SandboxStatus, SecretRecord,
    State,
};

/// How many sandboxes one `SandboxList` page holds (small, so tests exercise paging).
pub const LIST_PAGE_SIZE: usize = 8;
/// The longest `SandboxWait` hold the stand-in grants (Modal's client asks for 10 s).
const MAX_WAIT: Duration = Duration::from_secs(50);
/// How long a router JWT claims to be valid.
const JWT_LIFETIME_SECS: u64 = 3600;

/// The `ModalClient` service.
pub(crate) struct ControlPlane(pub Arc<State>);

type Rpc<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ModalClient for ControlPlane {
    async fn client_hello(&self, _: Request<()>) -> Rpc<pb::ClientHelloResponse> {
        Ok(Response::new(pb::ClientHelloResponse {
            image_builder_version: self.0.image_builder_version.clone(),
            ..Default::default()
        }))
    }

    async fn environment_get_or_create(
        &self,
        request: Request<pb::EnvironmentGetOrCreateRequest>,
    ) -> Rpc<pb::EnvironmentGetOrCreateResponse> {
        let name = request.into_inner().deployment_name;
        let name = if name.is_empty() { "main".into() } else { name };
        Ok(Response::new(pb::EnvironmentGetOrCreateResponse {
            environment_id: format!("en-{name}"),
            metadata: Some(pb::EnvironmentMetadata {
                name,
                settings: Some(pb::EnvironmentSettings {
                    image_builder_version: self.0.image_builder_version.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }))
    }

    async fn app_get_or_create(
        &self,
        request: Request<pb::AppGetOrCreateRequest>,
    ) -> Rpc<pb::AppGetOrCreateResponse> {
        let req = request.into_inner();
        let mut registry = lock(&self.0.registry);
        let found = registry
            .apps
            .iter()
            .find(|a| a.name == req.app_name && a.environment_name == req.environment_name)
            .cloned();
        let app = match found {
            Some(app) => app,
            None if req.object_creation_type == ObjectCreationType::CreateIfMissing as i32 => {
                let app = AppRecord {
                    id: new_id("ap"),
                    name: req.app_name,
                    environment_name: req.environment_name,
                };
                registry.apps.push(app.clone());
                app
            }
            None => {
                return Err(Status::not_found(format!(
                    "App '{}' not found",
                    req.app_name
                )))
            }
        };
        Ok(Response::new(pb::AppGetOrCreateResponse {
            app_id: app.id,
            handle_metadata: Some(pb::AppHandleMetadata::default()),
        }))
    }

    async fn image_get_or_create(
        &self,
        request: Request<pb::ImageGetOrCreateRequest>,
    ) -> Rpc<pb::ImageGetOrCreateResponse> {
        let req = request.into_inner();
        let image = req.image.unwrap_or_default();
        let key = image_key(&image);
        let mut registry = lock(&self.0.registry);
        let id = match registry.images.iter().find(|i| image_key(&i.image) == key) {
            Some(found) => found.id.clone(),
            None => {
                let id = new_id("im");
                registry.images.push(ImageRecord {
                    id: id.clone(),
                    image,
                    app_id: req.app_id,
                    builder_version: req.builder_version.clone(),
                });
                id
            }
        };
        Ok(Response::new(pb::ImageGetOrCreateResponse {
            image_id: id,
            result: Some(success()),
            metadata: Some(image_metadata(&req.builder_version)),
        }))
    }

    async fn image_join_streaming(
        &self,
        request: Request<pb::ImageJoinStreamingRequest>,
    ) -> Rpc<BoxStream<pb::ImageJoinStreamingResponse>> {
        let id = request.into_inner().image_id;
        let version = {
            let registry = lock(&self.0.registry);
            let image = registry.images.iter().find(|i| i.id == id);
            image
                .map(|i| i.builder_version.clone())
                .ok_or_else(|| Status::not_found(format!("Image {id} not found")))?
        };
        let done = pb::ImageJoinStreamingResponse {
            result: Some(success()),
            eof: true,
            metadata: Some(image_metadata(&version)),
            ..Default::default()
        };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(done)]))))
    }

    async fn secret_get_or_create(
        &self,
        request: Request<pb::SecretGetOrCreateRequest>,
    ) -> Rpc<pb::SecretGetOrCreateResponse> {
        let req = request.into_inner();
        let env: BTreeMap<String, String> = req.env_dict.into_iter().collect();
        let mut registry = lock(&self.0.registry);
        let named = (!req.deployment_name.is_empty())
            .then(|| {
                registry
                    .secrets
                    .iter()
                    .find(|s| s.name == req.deployment_name)
            })
            .flatten();
        let id = match named {
            Some(secret) => {
                if let Some(key) = req
                    .required_keys
                    .iter()
                    .find(|k| !secret.env.contains_key(*k))
                {
                    return Err(Status::not_found(format!("Secret is missing key {key}")));
                }
                secret.id.clone()
            }
            None if req.deployment_name.is_empty()
                || req.object_creation_type == ObjectCreationType::CreateIfMissing as i32 =>
            {
                let id = new_id("st");
                registry.secrets.push(SecretRecord {
                    id: id.clone(),
                    name: req.deployment_name,
                    env,
                });
                id
            }
            None => {
                let name = req.deployment_name;
                return Err(Status::not_found(format!("Secret '{name}' not found")));
            }
        };
        Ok(Response::new(pb::SecretGetOrCreateResponse {
            secret_id: id,
            metadata: None,
        }))
    }

    async fn sandbox_create(
        &self,
        request: Request<pb::SandboxCreateRequest>,
    ) -> Rpc<pb::SandboxCreateResponse> {
        let req = request.into_inner();
        let definition = req.definition.clone().unwrap_or_default();
        if definition.entrypoint_args.is_empty() {
            return Err(Status::invalid_argument("a sandbox needs an entrypoint"));
        }
        let entry = {
            let mut registry = lock(&self.0.registry);
            if !registry.apps.iter().any(|a| a.id == req.app_id) {
                return Err(Status::not_found(format!("App {} not found", req.app_id)));
            }
            if !definition.image_id.is_empty()
                && !registry.images.iter().any(|i| i.id == definition.image_id)
            {
                let image = &definition.image_id;
                return Err(Status::not_found(format!("Image {image} not found")));
            }
            let mut secret_env = BTreeMap::new();
            for id in &definition.secret_ids {
                let secret = registry.secrets.iter().find(|s| &s.id == id);
                let secret =
                    secret.ok_or_else(|| Status::not_found(format!("Secret {id} not found")))?;
                secret_env.extend(secret.env.clone());
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default();
            let created_at = now.max(registry.last_created_at + 1e-6);
            registry.last_created_at = created_at;
            let entry = Arc::new(SandboxEntry {
                id: new_id("sb"),
                task_id: new_id("ta"),
                created_at,
                app_id: req.app_id.clone(),
                secret_env,
                status: std::sync::Mutex::new(SandboxStatus {
                    tags: tags_map(&req.tags),
                    phase: SandboxPhase::Starting,
                    end_reason: None,
                    container: None,
                    execs: Default::default(),
                    next_exec: 0,
                }),
                request: req,
                changed: tokio::sync::watch::Sender::new(()),
                end: Default::default(),
                finished: Default::default(),
            });
            registry
                .sandboxes
                .insert(entry.id.clone(), Arc::clone(&entry));
            entry
        };
        tracing::info!(sandbox_id = %entry.id, "sandbox created");
        self.0
            .tasks
            .spawn(run_sandbox(Arc::clone(&self.0), Arc::clone(&entry)));
        Ok(Response::new(pb::SandboxCreateResponse {
            sandbox_id: entry.id.clone(),
            metadata: Some(handle_metadata(&entry)),
        }))
    }

    async fn sandbox_get_task_id(
        &self,
        request: Request<pb::SandboxGetTaskIdRequest>,
    ) -> Rpc<pb::SandboxGetTaskIdResponse> {
        let entry = self.sandbox(&request.get_ref().sandbox_id)?;
        Ok(Response::new(match entry.phase() {
            SandboxPhase::Starting => pb::SandboxGetTaskIdResponse::default(),
            SandboxPhase::Running => pb::SandboxGetTaskIdResponse {
                task_id: Some(entry.task_id.clone()),
                task_result: None,
            },
            SandboxPhase::Finished(result) => pb::SandboxGetTaskIdResponse {
                task_id: None,
                task_result: Some(result),
            },
        }))
    }

    async fn sandbox_wait(
        &self,
        request: Request<pb::SandboxWaitRequest>,
    ) -> Rpc<pb::SandboxWaitResponse> {
        let req = request.into_inner();
        let entry = self.sandbox(&req.sandbox_id)?;
        let hold = Duration::from_secs_f32(req.timeout.clamp(0.0, MAX_WAIT.as_secs_f32()));
        // An unfinished sandbox answers with no result (status 0) when the hold runs out.
        let _ = tokio::time::timeout(hold, entry.finished.cancelled()).await;
        let result = match entry.phase() {
            SandboxPhase::Finished(result) => Some(result),
            _ => None,
        };
        Ok(Response::new(pb::SandboxWaitResponse {
            result,
            metadata: Some(handle_metadata(&entry)),
        }))
    }

    async fn sandbox_terminate(
        &self,
        request: Request<pb::SandboxTerminateRequest>,
    ) -> Rpc<pb::SandboxTerminateResponse> {
        let entry = self.sandbox(&request.get_ref().sandbox_id)?;
        let existing_result = match entry.phase() {
            SandboxPhase::Finished(result) => Some(result),
            _ => {
                entry.end_with(EndReason::Terminated);
                entry.finished.cancelled().await;
                None
            }
        };
        Ok(Response::new(pb::SandboxTerminateResponse {
            existing_result,
        }))
    }

    async fn sandbox_list(
        &self,
        request: Request<pb::SandboxListRequest>,
    ) -> Rpc<pb::SandboxListResponse> {
        let req = request.into_inner();
        let want = tags_map(&req.tags);
        let entries: Vec<Arc<SandboxEntry>> =
            lock(&self.0.registry).sandboxes.values().cloned().collect();
        let mut page: Vec<(f64, pb::SandboxInfo)> = entries
            .iter()
            .filter(|e| req.app_id.is_empty() || e.app_id == req.app_id)
            .filter(|e| req.before_timestamp == 0.0 || e.created_at < req.before_timestamp)
            .filter_map(|e| {
                let record = e.record();
                let finished = matches!(record.phase, SandboxPhase::Finished(_));
                let tagged = want.iter().all(|(k, v)| record.tags.get(k) == Some(v));
                (tagged && (req.include_finished || !finished)).then(|| (e.created_at, info(e)))
            })
            .collect();
        page.sort_by(|a, b| b.0.total_cmp(&a.0));
        page.truncate(LIST_PAGE_SIZE);
        Ok(Response::new(pb::SandboxListResponse {
            sandboxes: page.into_iter().map(|(_, info)| info).collect(),
        }))
    }

    async fn sandbox_tags_set(&self, request: Request<pb::SandboxTagsSetRequest>) -> Rpc<()> {
        let req = request.into_inner();
        let entry = self.sandbox(&req.sandbox_id)?;
        entry.update(|s| s.tags = tags_map(&req.tags));
        Ok(Response::new(()))
    }

    async fn sandbox_tags_get(
        &self,
        request: Request<pb::SandboxTagsGetRequest>,
    ) -> Rpc<pb::SandboxTagsGetResponse> {
        let entry = self.sandbox(&request.get_ref().sandbox_id)?;
        Ok(Response::new(pb::SandboxTagsGetResponse {
            tags: tag_protos(&entry.record().tags),
        }))
    }

    async fn task_get_command_router_access(
        &self,
        request: Request<pb::TaskGetCommandRouterAccessRequest>,
    ) -> Rpc<pb::TaskGetCommandRouterAccessResponse> {
        let task_id = request.into_inner().task_id;
        if self.0.sandbox_by_task(&task_id).is_none() {
            return Err(Status::not_found(format!("Task {task_id} not found")));
        }
        let jwt = new_jwt(&task_id);
        lock(&self.0.registry).jwts.insert(jwt.clone(), task_id);
        Ok(Response::new(pb::TaskGetCommandRouterAccessResponse {
            jwt,
            url: self.0.url.clone(),
        }))
    }
}

impl ControlPlane {
    fn sandbox(&self, id: &str) -> Result<Arc<SandboxEntry>, Status> {
        self.0
            .sandbox(id)
            .ok_or_else(|| Status::not_found(format!("Sandbox {id} not found")))
    }
}

/// Identifies an image definition regardless of map order.
fn image_key(image: &pb::Image) -> Vec<u8> {
    let mut plain = image.clone();
    let mut args: Vec<(String, String)> = plain.build_args.drain().collect();
    args.sort();
    let mut key = plain.encode_to_vec();
    key.extend(format!("{args:?}").into_bytes());
    key
}

fn success() -> pb::GenericResult {
    pb::GenericResult {
        status: GenericStatus::Success as i32,
        ..Default::default()
    }
}

fn image_metadata(builder_version: &str) -> pb::ImageMetadata {
    pb::ImageMetadata {
        image_builder_version: Some(builder_version.to_owned()),
        ..Default::default()
    }
}

fn handle_metadata(entry: &SandboxEntry) -> pb::SandboxHandleMetadata {
    pb::SandboxHandleMetadata {
        result: match entry.phase() {
            SandboxPhase::Finished(result) => Some(result),
            _ => None,
        },
        app_id: entry.app_id.clone(),
    }
}

fn info(entry: &SandboxEntry) -> pb::SandboxInfo {
    let record = entry.record();
    let result = match &record.phase {
        SandboxPhase::Finished(result) => Some(result.clone()),
        _ => None,
    };
    pb::SandboxInfo {
        id: record.id.clone(),
        created_at: entry.created_at,
        task_info: Some(pb::TaskInfo {
            id: record.task_id.clone(),
            started_at: entry.created_at,
            result,
            sandbox_id: record.id.clone(),
            ..Default::default()
        }),
        app_id: record.app_id.clone(),
        tags: tag_protos(&record.tags),
        image_id: record
            .request
            .definition
            .as_ref()
            .map(|d| d.image_id.clone())
            .unwrap_or_default(),
        timeout_secs: record
            .request
            .definition
            .as_ref()
            .map(|d| d.timeout_secs)
            .unwrap_or_default(),
        metadata: Some(handle_metadata(entry)),
        ..Default::default()
    }
}

fn tags_map(tags: &[pb::SandboxTag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.tag_name.clone(), t.tag_value.clone()))
        .collect()
}

fn tag_protos(tags: &BTreeMap<String, String>) -> Vec<pb::SandboxTag> {
    tags.iter()
        .map(|(k, v)| pb::SandboxTag {
            tag_name: k.clone(),
            tag_value: v.clone(),
        })
        .collect()
}

/// An unsigned JWT whose payload names the task and an `exp` (Modal's client reads `exp` to
/// know when to refresh); the stand-in checks tokens by lookup, not by signature.
fn new_jwt(task_id: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        + JWT_LIFETIME_SECS;
    let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64.encode(format!(r#"{{"task_id":"{task_id}","exp":{exp}}}"#));
    let nonce = b64.encode(uuid::Uuid::new_v4().as_bytes());
    format!("{header}.{payload}.{nonce}")
}
