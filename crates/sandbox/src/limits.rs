//! Resource limits of a sandbox, and the report of what actually enforces each.

use serde::{Deserialize, Serialize};

/// Limits of one sandbox; `None` leaves a limit unset. Which mechanism enforces each depends on
/// the host (see [`Enforcement`]): cgroups for memory, pids and CPU; a sized tmpfs for `/tmp`;
/// rlimits for file size, open files and (per sandbox host uid) tasks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxLimits {
    /// Memory of every process in the sandbox together (plus its `/tmp`, which lives in RAM).
    pub memory_bytes: Option<u64>,
    /// Tasks (processes and threads) in the sandbox.
    pub pids: Option<u64>,
    /// CPU time per period, in thousandths of a CPU (1000 = one full core).
    pub cpu_millicores: Option<u64>,
    /// Size of the `/tmp` tmpfs.
    pub tmp_bytes: Option<u64>,
    /// The largest file a process may write (`RLIMIT_FSIZE`).
    pub file_size_bytes: Option<u64>,
    /// Open file descriptors per process (`RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
}

/// How one protection is enforced on this host, or that it is not: what the server logs at
/// start and `/healthz` shows. Never claims more than holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforcement {
    /// A stable name: `memory`, `pids`, `cpu`, `tmp_size`, `file_size`, `open_files`,
    /// `network`, `user_namespaces`, `seccomp`, `host_uid`, ...
    pub name: String,
    /// The mechanisms that enforce it, e.g. `["cgroup v1 memory"]`; empty when nothing does.
    pub by: Vec<String>,
    /// Why it is not (or only partly) enforced, or a fact worth knowing.
    pub note: Option<String>,
}

impl Enforcement {
    /// Enforced by `by` (one or more mechanisms).
    pub fn by(name: &str, by: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            name: name.to_owned(),
            by: by.into_iter().map(Into::into).collect(),
            note: None,
        }
    }

    /// Not enforced, and why.
    pub fn missing(name: &str, why: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            by: Vec::new(),
            note: Some(why.into()),
        }
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Whether anything enforces it.
    pub fn is_enforced(&self) -> bool {
        !self.by.is_empty()
    }
}
