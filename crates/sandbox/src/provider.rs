//! The provider-agnostic lifecycle boundary: [`SandboxProvider`] creates a [`Sandbox`]; a
//! sandbox runs processes and moves files. Both traits are object-safe and held as
//! `Arc<dyn ...>`; the local bubblewrap provider and future remote ones implement them alike.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::SandboxError;
use crate::launch_spec::LaunchSpec;
use crate::limits::SandboxLimits;
use crate::redact::redact_env_value;

/// Creates sandboxes. One per kind of backend (local bubblewrap, Modal, Kubernetes).
#[async_trait]
pub trait SandboxProvider: Send + Sync {
    /// A short stable name for logs and metrics, e.g. `"local-bwrap"`.
    fn name(&self) -> &'static str;

    /// Creates the sandbox of one session, or re-creates it after a destroy, with an empty
    /// workspace and home. Fails with [`SandboxError::AlreadyExists`] while a sandbox with the
    /// same id is alive in this provider.
    async fn create(&self, req: SandboxRequest) -> Result<Arc<dyn Sandbox>, SandboxError>;

    /// What enforces each protection of this provider's sandboxes on this host.
    fn enforcement(&self) -> Vec<crate::limits::Enforcement>;

    /// Every sandbox this provider holds that carries all of `labels` (same key, same value)
    /// and is not terminated, whoever created it: this process, or an earlier run that died
    /// without destroying it. The runtime's reconciler finds orphans with it.
    async fn list(&self, labels: &Labels) -> Result<Vec<SandboxListing>, SandboxError>;

    /// Terminates a sandbox [`SandboxProvider::list`] found, by its
    /// [`SandboxListing::provider_id`]: kills every process in it and deletes its state.
    /// Idempotent: an unknown or already terminated sandbox is `Ok`.
    async fn terminate(&self, provider_id: &str) -> Result<(), SandboxError>;
}

/// Key/value pairs a provider keeps with a sandbox ([`SandboxRequest::labels`]), so that a later
/// run can tell whose it is ([`SandboxProvider::list`]).
pub type Labels = BTreeMap<String, String>;

/// A sandbox found by [`SandboxProvider::list`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxListing {
    /// The id it was created with ([`SandboxRequest::sandbox_id`]).
    pub sandbox_id: String,
    /// The provider's own id for it, which [`SandboxProvider::terminate`] takes (the same as
    /// `sandbox_id` for the local provider; Modal's `sb-...` id for Modal).
    pub provider_id: String,
    pub labels: Labels,
}

/// One live sandbox. Paths given to [`Sandbox::spawn`] are as seen from inside; file operations
/// take a [`Root`] and a relative path checked by [`crate::RelPath`].
#[async_trait]
pub trait Sandbox: Send + Sync {
    /// The id it was created with.
    fn id(&self) -> &str;
    /// The workspace as seen from inside, [`crate::WORKSPACE_DIR`] for bubblewrap.
    fn workspace_dir(&self) -> &str;
    /// The home directory as seen from inside, [`crate::HOME_DIR`] for bubblewrap.
    fn home_dir(&self) -> &str;
    /// The read-only agent tools as seen from inside, [`crate::TOOLS_DIR`] for bubblewrap.
    fn tools_dir(&self) -> &str;

    /// Starts a process inside the sandbox. The process gets the sandbox's base environment
    /// (`HOME`, `USER`, `PATH`, ...), overlaid by the request's `extra_env`, overlaid by
    /// `spec.env`. An empty `spec.cwd` means the workspace.
    async fn spawn(&self, spec: LaunchSpec) -> Result<SandboxProcess, SandboxError>;

    /// Writes a whole file, creating missing parent directories.
    async fn write_file(&self, root: Root, rel: &str, bytes: &[u8]) -> Result<(), SandboxError>;

    /// Reads a whole file; `None` when it does not exist.
    async fn read_file(&self, root: Root, rel: &str) -> Result<Option<Vec<u8>>, SandboxError>;

    /// Removes a file (or a symlink itself). Returns whether something was removed.
    async fn remove_file(&self, root: Root, rel: &str) -> Result<bool, SandboxError>;

    /// Every regular file under `root` with size and sha256, paths relative and `/`-separated,
    /// sorted by byte order. Symlinks, FIFOs, sockets and devices are skipped, and so is every
    /// path equal to or below one of `exclude_prefixes` (compared by whole components, so
    /// `node_modules` excludes `node_modules/x` but not `node_modules2`).
    async fn scan(
        &self,
        root: Root,
        exclude_prefixes: &[String],
    ) -> Result<Vec<FileStat>, SandboxError>;

    /// The runtime's egress proxy as processes inside reach it (`http://127.0.0.1:3128` for
    /// bubblewrap), when the request had an [`EgressHandler`]; also in their `HTTP_PROXY` and
    /// `HTTPS_PROXY`.
    fn proxy_url(&self) -> Option<String>;

    /// Resolves when the kernel enforced a limit on the sandbox as a whole: today, when a process
    /// in it was killed for running out of memory. Pending forever where the provider cannot
    /// tell (no memory cgroup). Cancel-safe; each event is reported once.
    async fn limit_hit(&self) -> LimitHit;

    /// Like [`Sandbox::limit_hit`], but looks now and does not wait: for the moments a caller
    /// must know before it goes on (a turn about to end). Reports each event once, shared with
    /// `limit_hit`.
    fn check_limits(&self) -> Option<LimitHit>;

    /// Kills every process still running and deletes the sandbox's state. Idempotent; every
    /// operation after it fails with [`SandboxError::Destroyed`].
    async fn destroy(&self) -> Result<(), SandboxError>;
}

/// A limit the kernel enforced on a sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LimitHit {
    /// Processes were killed for exceeding the memory limit (`kills` so far in this sandbox).
    OutOfMemory { kills: u64 },
}

/// A byte stream from a process inside a sandbox to the runtime.
pub trait SandboxStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> SandboxStream for T {}

/// Serves the connections a sandbox makes to its egress proxy address. Implemented by the
/// runtime; each sandbox has its own, so a connection needs no credentials to be attributed.
#[async_trait]
pub trait EgressHandler: Send + Sync {
    /// Serves one connection until it ends.
    async fn handle(&self, stream: Box<dyn SandboxStream>);
}

/// What [`SandboxProvider::create`] needs to know about one sandbox.
///
/// Every sandbox has a network namespace of its own with nothing but loopback in it; `egress`
/// is its one way out.
#[derive(Clone)]
pub struct SandboxRequest {
    /// Checked by [`validate_sandbox_id`].
    pub sandbox_id: String,
    /// Added to the environment of every process in the sandbox.
    pub extra_env: BTreeMap<String, String>,
    pub limits: SandboxLimits,
    /// Serves the sandbox's egress proxy address ([`Sandbox::proxy_url`]); `None`: the sandbox
    /// reaches nothing outside itself.
    pub egress: Option<Arc<dyn EgressHandler>>,
    /// Kept with the sandbox and returned by [`SandboxProvider::list`]. Keys and values are
    /// checked by [`validate_labels`].
    pub labels: Labels,
}

impl SandboxRequest {
    /// A request with no extra environment, no limits and no way out.
    pub fn new(sandbox_id: impl Into<String>) -> Self {
        Self {
            sandbox_id: sandbox_id.into(),
            extra_env: BTreeMap::new(),
            limits: SandboxLimits::default(),
            egress: None,
            labels: Labels::new(),
        }
    }
}

/// Redacts `extra_env` values like [`LaunchSpec`] does ([`redact_env_value`]).
impl fmt::Debug for SandboxRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: BTreeMap<&str, Cow<'_, str>> = self
            .extra_env
            .iter()
            .map(|(k, v)| (k.as_str(), redact_env_value(k, v)))
            .collect();
        f.debug_struct("SandboxRequest")
            .field("sandbox_id", &self.sandbox_id)
            .field("extra_env", &env)
            .field("limits", &self.limits)
            .field("egress", &self.egress.is_some())
            .field("labels", &self.labels)
            .finish()
    }
}

/// The writable trees file operations are relative to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Root {
    Workspace,
    Home,
}

/// One regular file found by [`Sandbox::scan`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// Relative to the root, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// A process started by [`Sandbox::spawn`]: its pipes and a handle to wait for or kill it.
pub struct SandboxProcess {
    pub stdin: Pin<Box<dyn AsyncWrite + Send>>,
    pub stdout: Pin<Box<dyn AsyncRead + Send>>,
    pub stderr: Pin<Box<dyn AsyncRead + Send>>,
    pub handle: Box<dyn ProcessHandle>,
}

impl fmt::Debug for SandboxProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxProcess")
            .field("id", &self.handle.id())
            .finish_non_exhaustive()
    }
}

/// Waits for or kills a sandboxed process. Dropping the handle kills the process.
#[async_trait]
pub trait ProcessHandle: Send + Sync {
    /// A provider-specific id for logs (the host pid of bwrap for the local provider).
    fn id(&self) -> Option<u32>;
    /// Waits until the process has exited; may be called again after it returned.
    async fn wait(&mut self) -> Result<ExitInfo, SandboxError>;
    /// Kills the process and everything it started, and returns once it is gone. Forceful:
    /// graceful interruption goes through the agent's own protocol (stdin), not signals.
    async fn kill(&mut self) -> Result<(), SandboxError>;
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// The exit code. For the local provider a program killed by signal `N` inside the sandbox
    /// shows as `128 + N` (bwrap reports it that way), so [`ProcessHandle::kill`] usually
    /// leaves `Some(137)`.
    pub code: Option<i32>,
    /// The signal that killed the process itself, if one did.
    pub signal: Option<i32>,
}

impl ExitInfo {
    /// Whether the process exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// The longest sandbox id accepted.
pub const MAX_SANDBOX_ID_LEN: usize = 64;

/// Checks a sandbox id: 1 to [`MAX_SANDBOX_ID_LEN`] characters of `[A-Za-z0-9_-]`, not starting
/// with `-`. Ids name host directories and remote resources, so nothing else is allowed.
pub fn validate_sandbox_id(id: &str) -> Result<(), SandboxError> {
    let reason = if id.is_empty() {
        Some("must not be empty")
    } else if id.len() > MAX_SANDBOX_ID_LEN {
        Some("must be at most 64 characters")
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Some("may contain only ASCII letters, digits, '-' and '_'")
    } else if id.starts_with('-') {
        Some("must not start with '-'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(SandboxError::InvalidSandboxId {
            id: id.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The longest label key or value: what Modal allows for a tag.
pub const MAX_LABEL_LEN: usize = 63;

/// Checks that every label key and value is 1 to [`MAX_LABEL_LEN`] ASCII letters, digits, `.`,
/// `_` or `-`: what every provider can store (Modal's tags, Kubernetes' label values).
pub fn validate_labels(labels: &Labels) -> Result<(), SandboxError> {
    let valid = |s: &str| {
        (1..=MAX_LABEL_LEN).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    match labels.iter().find(|(k, v)| !valid(k) || !valid(v)) {
        Some((k, v)) => Err(SandboxError::InvalidConfig(format!(
            "sandbox label {k:?}={v:?}: keys and values are 1 to {MAX_LABEL_LEN} ASCII letters, \
             digits, '.', '_' or '-'"
        ))),
        None => Ok(()),
    }
}

/// Whether `have` carries every label of `want`.
pub fn labels_match(have: &Labels, want: &Labels) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn labels_are_checked_and_matched() {
        let labels = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let ok = labels(&[("agent-runtime.install", "a1_b-2.c")]);
        assert!(validate_labels(&ok).is_ok());
        for bad in [
            labels(&[("", "x")]),
            labels(&[("k", "")]),
            labels(&[("k", "a b")]),
            labels(&[("k/x", "v")]),
            labels(&[("k", &"x".repeat(64))]),
        ] {
            assert!(validate_labels(&bad).is_err(), "{bad:?}");
        }
        let have = labels(&[("a", "1"), ("b", "2")]);
        assert!(labels_match(&have, &labels(&[("a", "1")])));
        assert!(labels_match(&have, &Labels::new()));
        assert!(!labels_match(&have, &labels(&[("a", "2")])));
        assert!(!labels_match(&have, &labels(&[("c", "1")])));
    }

    #[test]
    fn sandbox_ids() {
        let long = "a".repeat(65);
        let results: Vec<(&str, bool)> = [
            "s1",
            "sess_01-AB",
            "",
            "../x",
            "a/b",
            "a.b",
            "-rf",
            "é",
            long.as_str(),
        ]
        .into_iter()
        .map(|id| (id, validate_sandbox_id(id).is_ok()))
        .collect();
        assert_eq!(
            results,
            vec![
                ("s1", true),
                ("sess_01-AB", true),
                ("", false),
                ("../x", false),
                ("a/b", false),
                ("a.b", false),
                ("-rf", false),
                ("é", false),
                (long.as_str(), false),
            ]
        );
    }

    #[test]
    fn request_debug_redacts() {
        let mut req = SandboxRequest::new("s1");
        req.extra_env
            .insert("ANTHROPIC_API_KEY".into(), "sk".into());
        req.extra_env
            .insert("PROXY".into(), "http://u:hunter2@proxy:3128".into());
        req.extra_env.insert(
            "SETTINGS".into(),
            "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q".into(),
        );
        req.limits.pids = Some(7);
        assert_eq!(
            format!("{req:?}"),
            r#"SandboxRequest { sandbox_id: "s1", extra_env: {"ANTHROPIC_API_KEY": "***", "PROXY": "http://u:***@proxy:3128", "SETTINGS": "***"}, limits: SandboxLimits { memory_bytes: None, pids: Some(7), cpu_millicores: None, tmp_bytes: None, file_size_bytes: None, open_files: None }, egress: false, labels: {} }"#
        );
    }
}
