//! `CgroupError`, what can go wrong while creating, watching or removing a sandbox's cgroup.

use std::io;
use std::path::PathBuf;

/// Errors of the [`crate::cgroup`] module. Detection never fails: what it cannot use is
/// reported in [`crate::cgroup::CgroupSupport`] instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// A sandbox cgroup name with characters other than `[A-Za-z0-9_-]`, empty or too long.
    #[error("invalid cgroup name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },

    /// A limit outside what the kernel accepts or what makes sense for a sandbox.
    #[error("invalid limit `{field}`: {reason}")]
    InvalidLimit { field: &'static str, reason: String },

    /// No controller can be used on this host (the support report says why).
    #[error("no cgroup controller can be used on this host: {0}")]
    Unavailable(String),

    /// A cgroup of that name already exists for this provider; remove it first.
    #[error("cgroup {name} already exists at {}", dir.display())]
    AlreadyExists { name: String, dir: PathBuf },

    /// `/proc/self/cgroup` or `/proc/self/mountinfo` holds a line this module cannot read.
    #[error("cannot parse {file} line {line:?}: {reason}")]
    Parse {
        file: &'static str,
        line: String,
        reason: &'static str,
    },

    /// Processes were still in the cgroup after every kill attempt.
    #[error("processes {pids:?} survived killing the cgroup at {}", dir.display())]
    KillTimeout { dir: PathBuf, pids: Vec<u32> },

    /// Any I/O failure on the cgroup filesystem, with what was being done.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl CgroupError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
