//! [`ModalError`]: what can go wrong starting or driving the stand-in.

use std::path::PathBuf;

/// An error of the Modal stand-in's Rust API (gRPC callers get `tonic::Status` instead).
#[derive(Debug, thiserror::Error)]
pub enum ModalError {
    /// The listening socket could not be bound.
    #[error("cannot bind the Modal stand-in to {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Preparing the container init binary or the scratch directory failed.
    #[error("preparing {path}")]
    Prepare {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The local sandbox provider refused the configuration or failed.
    #[error(transparent)]
    Sandbox(#[from] agent_runtime_sandbox::SandboxError),
    /// No sandbox has this id.
    #[error("no sandbox {0}")]
    UnknownSandbox(String),
}
