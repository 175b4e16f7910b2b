//! A [`SandboxProvider`](agent_runtime_sandbox::SandboxProvider) that runs sandboxes on
//! [Modal](https://modal.com) through Modal's own gRPC API (the generated clients of
//! `agent-runtime-modal-proto`), calling the same RPCs, the same way, as Modal's Python client
//! 1.6.4.
//!
//! Each sandbox is a Modal sandbox of the configured image that runs `sleep infinity`, with
//! `block_network` (it reaches nothing by itself), its environment in an app-owned Modal secret
//! (so values never travel in exec requests), and tags holding the request's labels plus
//! [`SANDBOX_ID_TAG`]. Processes, file operations and scans are execs through the task command
//! router. When the request has an egress handler, a Node.js relay inside listens on
//! `127.0.0.1:3128` and tunnels each connection over its exec's stdio to the handler: the
//! model API key stays in the runtime, and the sandbox's only way out is the runtime's proxy.
//!
//! # Layout
//!
//! - [`config`]: [`ModalConfig`], [`ModalImage`], [`RetryPolicy`]: plain data, defaults.
//! - [`provider`]: [`ModalProvider`]: app and image once, then create, list, terminate.
//! - `image`: the image layers and waiting for their build.
//! - `sandbox`: the [`Sandbox`](agent_runtime_sandbox::Sandbox) of one Modal sandbox, and the
//!   watch that notices when Modal ends it.
//! - `exec`: one exec as local streams (stdin with offsets, resumable stdout/stderr, exit).
//! - `process`: the process handle: process groups, kill by exec, owner task.
//! - [`commands`]: the command lines run inside and the parsing of their output (pure).
//! - `tunnel`: the egress relay's host side; `relay.js`: its sandbox side.
//! - [`codec`]: the tunnel's frame format (pure).
//! - `router`: the task command router client (JWT, exec RPCs).
//! - `rpc`: channels, Modal's metadata, and the one retry loop every RPC goes through.
//! - [`error`]: [`ModalError`] and its mapping into `SandboxError`.

pub mod codec;
pub mod commands;
pub mod config;
pub mod error;
mod exec;
mod image;
mod process;
pub mod provider;
mod router;
mod rpc;
mod sandbox;
mod tunnel;

pub use config::{
    ModalConfig, ModalImage, RetryPolicy, DEFAULT_APP_NAME, DEFAULT_BASE_IMAGE,
    DEFAULT_SANDBOX_TIMEOUT, DEFAULT_SERVER_URL,
};
pub use error::ModalError;
pub use provider::{enforcement_report, ModalProvider, ENTRYPOINT, SANDBOX_ID_TAG};
pub use tunnel::RELAY_JS;
