//! Modal's gRPC API, generated at build time from the file descriptors that Modal's own Python
//! client (`modal` on PyPI, the version in the descriptor file's name) registers:
//! `modal.client.ModalClient` (the control plane: apps, images, secrets, sandboxes) and
//! `modal.task_command_router.TaskCommandRouter` (exec and stdio on a sandbox's worker).
//!
//! Both the runtime's Modal provider (`agent-runtime-modal`) and the Modal stand-in in testkit
//! use these types, so the two agree with each other and, through the descriptors, with Modal.
//! `scripts/modal-proto` regenerates `proto/*.fds` from the pinned package and checks it.

/// `modal_proto/api.proto`.
#[allow(clippy::large_enum_variant, clippy::doc_lazy_continuation, clippy::all)]
pub mod client {
    tonic::include_proto!("modal.client");
}

/// `modal_proto/task_command_router.proto`.
#[allow(clippy::large_enum_variant, clippy::doc_lazy_continuation, clippy::all)]
pub mod task_command_router {
    tonic::include_proto!("modal.task_command_router");
}

/// The pinned `modal` package the descriptors come from.
pub const MODAL_CLIENT_VERSION: &str = "1.6.4";
