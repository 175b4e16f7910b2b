//! `SandboxError`, the one error enum of this crate.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while finding bubblewrap, creating a sandbox, running a process
/// in it or moving files in and out of it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// No `bwrap` binary on this host, and installing it was not possible or not allowed.
    #[error("bubblewrap (`bwrap`) was not found (looked in {searched}); {hint}")]
    BwrapNotFound { searched: String, hint: String },

    /// `bwrap` exists but cannot create a sandbox here (user namespaces disabled, seccomp, ...).
    #[error("bubblewrap at {} cannot create a sandbox: {detail}. {hint}", path.display())]
    BwrapUnusable {
        path: PathBuf,
        detail: String,
        hint: &'static str,
    },

    /// Installing bubblewrap with the system package manager failed.
    #[error("installing bubblewrap failed: `{command}` {detail}")]
    InstallFailed { command: String, detail: String },

    /// A sandbox id with characters other than `[A-Za-z0-9_-]`, empty or too long.
    #[error("invalid sandbox id {id:?}: {reason}")]
    InvalidSandboxId { id: String, reason: &'static str },

    /// `create` was called for an id whose sandbox is still alive in this provider.
    #[error("sandbox {id} already exists; destroy it before creating it again")]
    AlreadyExists { id: String },

    /// The sandbox has been destroyed; create a new one.
    #[error("sandbox {id} has been destroyed")]
    Destroyed { id: String },

    /// A file path that is not a plain relative path (absolute, `..`, empty component, ...).
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },

    /// A file path that runs through a symbolic link; file operations never follow symlinks,
    /// so a link planted by the agent cannot redirect the runtime outside the sandbox.
    #[error("path {path:?} runs through a symbolic link, which file operations never follow")]
    SymlinkInPath { path: String },

    /// The path names a directory, FIFO, socket or device rather than a regular file.
    #[error("path {path:?} is not a regular file")]
    NotARegularFile { path: String },

    /// The provider's configuration cannot work on this host.
    #[error("invalid sandbox configuration: {0}")]
    InvalidConfig(String),

    /// Starting the (sandboxed) process failed.
    #[error("failed to start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },

    /// The seccomp filter could not be assembled within classic BPF's limits.
    #[error("cannot build the seccomp filter: {0}")]
    Seccomp(String),

    /// Any other I/O failure, with what was being done.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl SandboxError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
