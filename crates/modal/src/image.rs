//! The sandbox image, built like `modal.Image.from_registry(base).run_commands(*commands)`:
//! one layer `FROM <base>`, one `FROM base` + `RUN <command>` per command on top of it (plus
//! the directories every sandbox needs), each through `ImageGetOrCreate` and, unless Modal has
//! it already, `ImageJoinStreaming` until the build result.

use agent_runtime_modal_proto::client::generic_result::GenericStatus;
use agent_runtime_modal_proto::client::{
    BaseImage, GenericResult, Image, ImageGetOrCreateRequest, ImageJoinStreamingRequest,
};
use agent_runtime_sandbox::{HOME_DIR, WORKSPACE_DIR};
use tokio_stream::StreamExt;

use crate::config::ModalImage;
use crate::error::ModalError;
use crate::rpc::Control;

/// How long one `ImageJoinStreaming` call holds (what Modal's client asks for).
const JOIN_HOLD_SECS: f32 = 55.0;
/// Broken `ImageJoinStreaming` streams tolerated per layer (Modal's client allows 3).
const JOIN_ATTEMPTS: u32 = 3;

/// The Dockerfile commands of each layer, bottom first.
pub fn layer_commands(image: &ModalImage) -> Vec<Vec<String>> {
    let mut run = vec!["FROM base".to_owned()];
    run.extend(image.commands.iter().map(|c| format!("RUN {c}")));
    run.push(format!("RUN mkdir -p {WORKSPACE_DIR} {HOME_DIR}"));
    vec![vec![format!("FROM {}", image.base)], run]
}

/// Builds (or finds) the image and returns its id.
pub async fn build_image(
    control: &Control,
    app_id: &str,
    builder_version: &str,
    image: &ModalImage,
) -> Result<String, ModalError> {
    let mut base: Option<String> = None;
    for commands in layer_commands(image) {
        let definition = Image {
            base_images: base
                .iter()
                .map(|id| BaseImage {
                    image_id: id.clone(),
                    docker_tag: "base".to_owned(),
                })
                .collect(),
            dockerfile_commands: commands,
            ..Default::default()
        };
        let req = ImageGetOrCreateRequest {
            image: Some(definition),
            app_id: app_id.to_owned(),
            builder_version: builder_version.to_owned(),
            ..Default::default()
        };
        let resp = control
            .call("ImageGetOrCreate", req, |mut c, r| async move {
                c.image_get_or_create(r).await
            })
            .await?;
        let result = match resp.result.filter(|r| r.status != 0) {
            Some(result) => result,
            None => join(control, &resp.image_id).await?,
        };
        check_result(&resp.image_id, &result)?;
        tracing::info!(image_id = %resp.image_id, "Modal image layer ready");
        base = Some(resp.image_id);
    }
    base.ok_or_else(|| ModalError::ImageBuild("no layers".into()))
}

/// Follows the build of `image_id` until its result, resuming after the last log entry when
/// a stream breaks.
async fn join(control: &Control, image_id: &str) -> Result<GenericResult, ModalError> {
    let mut last_entry_id = String::new();
    let mut failures = 0;
    loop {
        let req = ImageJoinStreamingRequest {
            image_id: image_id.to_owned(),
            timeout: JOIN_HOLD_SECS,
            last_entry_id: last_entry_id.clone(),
            include_logs_for_finished: false,
        };
        let (mut client, request) = control.stream_request(req);
        let outcome: Result<(), tonic::Status> = match client.image_join_streaming(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                let mut result = None;
                let mut broken = None;
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(message) => {
                            if !message.entry_id.is_empty() {
                                last_entry_id = message.entry_id;
                            }
                            for log in &message.task_logs {
                                if !log.data.is_empty() {
                                    tracing::debug!(%image_id, "image build: {}", log.data.trim_end());
                                }
                            }
                            if let Some(r) = message.result.filter(|r| r.status != 0) {
                                result = Some(r);
                            }
                        }
                        Err(status) => {
                            broken = Some(status);
                            break;
                        }
                    }
                }
                match (result, broken) {
                    (Some(result), _) => return Ok(result),
                    (None, Some(status)) => Err(status),
                    // The hold ran out before the build did: ask again.
                    (None, None) => continue,
                }
            }
            Err(status) => Err(status),
        };
        if let Err(status) = outcome {
            failures += 1;
            if failures >= JOIN_ATTEMPTS {
                return Err(ModalError::Rpc {
                    rpc: "ImageJoinStreaming",
                    code: status.code(),
                    message: status.message().to_owned(),
                });
            }
        }
    }
}

/// A clear error unless the build succeeded.
fn check_result(image_id: &str, result: &GenericResult) -> Result<(), ModalError> {
    let status = GenericStatus::try_from(result.status).unwrap_or(GenericStatus::Unspecified);
    let detail = if result.exception.is_empty() {
        String::new()
    } else {
        format!(": {}", result.exception)
    };
    match status {
        GenericStatus::Success => Ok(()),
        GenericStatus::Timeout => Err(ModalError::ImageBuild(format!(
            "image {image_id} timed out{detail}"
        ))),
        GenericStatus::Terminated => Err(ModalError::ImageBuild(format!(
            "image {image_id} was terminated{detail}"
        ))),
        other => Err(ModalError::ImageBuild(format!(
            "image {image_id} failed ({other:?}){detail}; see `modal image logs {image_id}`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn layers_are_base_then_commands() {
        let image = ModalImage {
            base: "node:22-slim".into(),
            commands: vec!["npm install -g x".into()],
        };
        assert_eq!(
            layer_commands(&image),
            vec![
                vec!["FROM node:22-slim".to_owned()],
                vec![
                    "FROM base".to_owned(),
                    "RUN npm install -g x".to_owned(),
                    "RUN mkdir -p /workspace /home/agent".to_owned(),
                ],
            ]
        );
    }

    #[test]
    fn failed_builds_are_clear() {
        let failed = GenericResult {
            status: GenericStatus::Failure as i32,
            exception: "npm ERR! 404".into(),
            ..Default::default()
        };
        assert_eq!(
            check_result("im-1", &failed).unwrap_err().to_string(),
            "building the Modal image failed: image im-1 failed (Failure): npm ERR! 404; see `modal image logs im-1`"
        );
        let ok = GenericResult {
            status: GenericStatus::Success as i32,
            ..Default::default()
        };
        assert!(check_result("im-1", &ok).is_ok());
    }
}
