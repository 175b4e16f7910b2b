//! The local provider: each sandbox is a set of host directories plus bubblewrap processes.
//!
//! This file holds the configuration, the provider and the host layout of a sandbox;
//! `sandbox.rs` the [`crate::Sandbox`] implementation and its process handles; `kill.rs` how a
//! bwrap process is killed together with its sandbox.
//!
//! # Host state
//!
//! `<root_dir>/<sandbox_id>/` holds `workspace/` (mounted at `/workspace`), `home/` (at
//! `/home/agent`) and `etc/{passwd,group}` (the sandbox user's identity). It is created fresh by
//! `create` (a leftover from a crashed run is wiped) and deleted by `destroy`.
//!
//! # Ownership
//!
//! bwrap maps the sandbox uid (1000 by default) to the host uid that runs bwrap, so a file is
//! "the agent's" inside exactly when the host uid running bwrap owns it on the host. With
//! [`HostUser::Unprivileged`] (the default for a root runtime) a root runtime starts bwrap as an
//! unprivileged host uid (1000 by default, so host and sandbox agree on numbers) with no
//! supplementary groups:
//!
//! - files the agent creates are owned by that host uid; the runtime, being root, can read,
//!   overwrite and delete them regardless of their mode;
//! - files and directories the runtime creates through [`crate::Sandbox::write_file`] are
//!   `chown`ed to that host uid, and the session directories are created owned by it, so the
//!   agent can change everything in them;
//! - the sandboxed processes are not host root: a root-owned file is foreign to them
//!   (`nobody` inside), `RLIMIT_NPROC` applies, and peer credentials on host sockets say uid
//!   1000, not 0.
//!
//! The price: that host uid must be able to reach the bind sources, so every directory above
//! `root_dir` and `tools_dir` must be searchable by it (`o+x`); [`LocalBwrapProvider::new`]
//! checks and says what to change. With [`HostUser::Runtime`] bwrap runs as the runtime's own
//! user (under a root runtime that means the agent's processes are host uid 0 without
//! capabilities), and ownership is trivially shared.

mod kill;
mod sandbox;

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::bwrap::{
    BwrapPolicy, HostLayout, IdentityFiles, RoMount, DEFAULT_GID, DEFAULT_HOSTNAME, DEFAULT_UID,
    HOME_DIR,
};
use crate::ensure::BwrapInfo;
use crate::error::SandboxError;
use crate::host_fs::{remove_tree, HostDir};
use crate::provider::{validate_sandbox_id, Sandbox, SandboxProvider, SandboxRequest};
use crate::rlimit::ResourceLimits;
use sandbox::LocalSandbox;

/// The `PATH` every sandboxed process starts with: the agent tools first, then the system.
pub const BASE_PATH: &str = "/opt/agent-tools/bin:/opt/agent-tools/node_modules/.bin:\
/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The user name of the sandbox uid in the synthetic `/etc/passwd`.
pub const SANDBOX_USER: &str = "agent";

/// Which host user runs bwrap, and so owns the sandbox's processes and files on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostUser {
    /// The runtime's own user.
    Runtime,
    /// This unprivileged host uid/gid, switched to (with no supplementary groups) when the
    /// runtime is root. A non-root runtime can only use its own uid here.
    Unprivileged { uid: u32, gid: u32 },
}

impl HostUser {
    /// `Unprivileged { uid: 1000, gid: 1000 }` when this process is root, else `Runtime`.
    pub fn recommended() -> Self {
        if rustix::process::geteuid().is_root() {
            Self::Unprivileged {
                uid: DEFAULT_UID,
                gid: DEFAULT_GID,
            }
        } else {
            Self::Runtime
        }
    }

    /// The host uid/gid to switch to before exec, if any.
    fn switch_to(self) -> Option<(u32, u32)> {
        match self {
            Self::Unprivileged { uid, gid } if rustix::process::geteuid().is_root() => {
                Some((uid, gid))
            }
            _ => None,
        }
    }

    /// Makes `cmd` run as this host user.
    pub(crate) fn apply(self, cmd: &mut tokio::process::Command) {
        if let Some((uid, gid)) = self.switch_to() {
            // std drops supplementary groups (setgroups(0)) when root switches uid.
            cmd.uid(uid).gid(gid);
        }
    }
}

/// Configuration of [`LocalBwrapProvider`], assembled by the runtime's `main`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalSandboxConfig {
    /// Where sandboxes keep their host state, e.g. `<data-dir>/sandboxes`. Nothing else of the
    /// data dir is visible inside.
    pub root_dir: PathBuf,
    /// The pinned agent tools, mounted read-only at [`crate::TOOLS_DIR`].
    pub tools_dir: PathBuf,
    /// The bubblewrap binary, from [`crate::ensure_bwrap`].
    pub bwrap: PathBuf,
    /// uid inside the sandbox (not 0).
    pub uid: u32,
    /// gid inside the sandbox (not 0).
    pub gid: u32,
    pub host_user: HostUser,
    /// From [`HostLayout::discover`].
    pub host_layout: HostLayout,
    /// Applied with the host's `prlimit`; skipped with a warning when it has none.
    pub limits: ResourceLimits,
    /// Further read-only mounts, e.g. a Node.js installed outside `/usr`.
    pub extra_ro_mounts: Vec<RoMount>,
}

impl LocalSandboxConfig {
    /// Defaults: uid/gid 1000 inside, [`HostUser::recommended`], no core dumps, no extra mounts.
    pub fn new(
        root_dir: impl Into<PathBuf>,
        tools_dir: impl Into<PathBuf>,
        bwrap: &BwrapInfo,
        host_layout: HostLayout,
    ) -> Self {
        Self {
            root_dir: root_dir.into(),
            tools_dir: tools_dir.into(),
            bwrap: bwrap.path.clone(),
            uid: DEFAULT_UID,
            gid: DEFAULT_GID,
            host_user: HostUser::recommended(),
            host_layout,
            limits: ResourceLimits::NO_CORE_DUMPS,
            extra_ro_mounts: Vec::new(),
        }
    }
}

/// Sandboxes as bubblewrap processes on this host. See the module docs for the host layout
/// and the ownership story.
pub struct LocalBwrapProvider {
    config: LocalSandboxConfig,
    /// Sandboxes being created or alive, so one id is never live twice.
    slots: Mutex<HashMap<String, Slot>>,
}

enum Slot {
    Creating,
    Live(Weak<LocalSandbox>),
}

impl LocalBwrapProvider {
    /// Checks the configuration against the host and creates `root_dir` and `tools_dir` when
    /// missing. Blocking file system work; call it at startup.
    pub fn new(mut config: LocalSandboxConfig) -> Result<Self, SandboxError> {
        let invalid = SandboxError::InvalidConfig;
        if config.uid == 0 || config.gid == 0 {
            return Err(invalid("the sandbox uid and gid must not be 0".into()));
        }
        if let HostUser::Unprivileged { uid, gid } = config.host_user {
            let euid = rustix::process::geteuid();
            if !euid.is_root() && euid.as_raw() != uid {
                return Err(invalid(format!(
                    "host user {uid}:{gid} needs a root runtime (this one runs as uid {}); \
                     use HostUser::Runtime",
                    euid.as_raw()
                )));
            }
            if uid == 0 {
                return Err(invalid("HostUser::Unprivileged must not be uid 0".into()));
            }
        }
        config.root_dir = prepare_dir(&config.root_dir, "root_dir")?;
        config.tools_dir = prepare_dir(&config.tools_dir, "tools_dir")?;
        // Sandbox ids are not listable by the sandbox host uid, only traversable.
        std::fs::set_permissions(&config.root_dir, std::fs::Permissions::from_mode(0o711))
            .map_err(|e| SandboxError::io("restricting the sandbox root dir", e))?;
        for path in [&config.bwrap, &config.root_dir, &config.tools_dir] {
            if path.to_str().is_none() {
                return Err(invalid(format!("{} is not valid UTF-8", path.display())));
            }
        }
        if let Some((uid, gid)) = config.host_user.switch_to() {
            for dir in [&config.root_dir, &config.tools_dir] {
                ensure_traversable(dir, uid, gid).map_err(invalid)?;
            }
        }
        if !config.limits.is_empty() && config.host_layout.prlimit.is_none() {
            tracing::warn!("the host has no `prlimit`; sandbox resource limits are not applied");
        }
        Ok(Self {
            config,
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration in force (paths canonicalized).
    pub fn config(&self) -> &LocalSandboxConfig {
        &self.config
    }

    /// Reserves `id`, or fails if a sandbox with it is being created or alive.
    fn reserve(&self, id: &str) -> Result<Reservation<'_>, SandboxError> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.retain(|_, slot| match slot {
            Slot::Creating => true,
            Slot::Live(weak) => weak.upgrade().is_some_and(|s| !s.is_destroyed()),
        });
        if slots.contains_key(id) {
            return Err(SandboxError::AlreadyExists { id: id.to_owned() });
        }
        slots.insert(id.to_owned(), Slot::Creating);
        Ok(Reservation {
            provider: self,
            id: id.to_owned(),
            done: false,
        })
    }
}

/// Frees a reserved id if creation fails or is cancelled.
struct Reservation<'a> {
    provider: &'a LocalBwrapProvider,
    id: String,
    done: bool,
}

impl Reservation<'_> {
    fn complete(mut self, sandbox: &Arc<LocalSandbox>) {
        let mut slots = self
            .provider
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        slots.insert(self.id.clone(), Slot::Live(Arc::downgrade(sandbox)));
        self.done = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut slots = self
                .provider
                .slots
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            slots.remove(&self.id);
        }
    }
}

#[async_trait]
impl SandboxProvider for LocalBwrapProvider {
    fn name(&self) -> &'static str {
        "local-bwrap"
    }

    async fn create(&self, req: SandboxRequest) -> Result<Arc<dyn Sandbox>, SandboxError> {
        validate_sandbox_id(&req.sandbox_id)?;
        let reservation = self.reserve(&req.sandbox_id)?;
        let config = &self.config;
        let host_dir = config.root_dir.join(&req.sandbox_id);
        let owner = config.host_user.switch_to();
        let (dir, uid, gid) = (host_dir.clone(), config.uid, config.gid);
        tokio::task::spawn_blocking(move || create_host_dirs(&dir, owner, uid, gid))
            .await
            .map_err(|e| SandboxError::io("preparing the sandbox", std::io::Error::other(e)))?
            .map_err(|e| SandboxError::io(format!("preparing {}", host_dir.display()), e))?;

        let policy = BwrapPolicy {
            bwrap: config.bwrap.clone(),
            workspace: host_dir.join("workspace"),
            home: host_dir.join("home"),
            tools: config.tools_dir.clone(),
            network: req.network,
            uid: config.uid,
            gid: config.gid,
            hostname: DEFAULT_HOSTNAME.to_owned(),
            system: config.host_layout.system.clone(),
            identity: Some(IdentityFiles {
                passwd: host_dir.join("etc/passwd"),
                group: host_dir.join("etc/group"),
            }),
            extra: config.extra_ro_mounts.clone(),
        };
        let mut env = base_env(config.host_layout.ca_bundle.as_deref());
        env.extend(req.extra_env);
        let sandbox = Arc::new(LocalSandbox {
            workspace: HostDir::new(policy.workspace.clone(), owner),
            home: HostDir::new(policy.home.clone(), owner),
            id: req.sandbox_id,
            host_dir,
            policy,
            prlimit: config.host_layout.prlimit.clone(),
            limits: config.limits,
            host_user: config.host_user,
            env,
            cancel: Default::default(),
            tasks: Default::default(),
            destroyed: Default::default(),
        });
        reservation.complete(&sandbox);
        tracing::info!(sandbox_id = %sandbox.id, network = ?sandbox.policy.network, "sandbox created");
        Ok(sandbox)
    }
}

/// The environment every sandboxed process starts from: `HOME`, `USER`, `LOGNAME`, `PATH`
/// ([`BASE_PATH`]), `TMPDIR`, `LANG`, and `NODE_EXTRA_CA_CERTS` when the host has a system CA
/// bundle (so Node.js agents trust what the system trusts, e.g. a corporate proxy's CA).
pub fn base_env(ca_bundle: Option<&Path>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("HOME", HOME_DIR),
        ("USER", SANDBOX_USER),
        ("LOGNAME", SANDBOX_USER),
        ("PATH", BASE_PATH),
        ("TMPDIR", "/tmp"),
        ("LANG", "C.UTF-8"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if let Some(bundle) = ca_bundle {
        env.insert(
            "NODE_EXTRA_CA_CERTS".to_owned(),
            bundle.to_string_lossy().into_owned(),
        );
    }
    env
}

/// Creates `path` (and parents) if missing and returns its canonical form, so bwrap resolves
/// exactly the directories that were checked.
fn prepare_dir(path: &Path, what: &str) -> Result<PathBuf, SandboxError> {
    if !path.is_absolute() {
        return Err(SandboxError::InvalidConfig(format!(
            "{what} must be an absolute path, got {}",
            path.display()
        )));
    }
    std::fs::create_dir_all(path)
        .and_then(|()| path.canonicalize())
        .map_err(|e| SandboxError::io(format!("preparing {what} {}", path.display()), e))
}

/// Checks that host `uid:gid` may search every directory from `/` down to `dir`, which bwrap
/// needs to bind it when it runs as that user.
fn ensure_traversable(dir: &Path, uid: u32, gid: u32) -> Result<(), String> {
    let mut current = PathBuf::new();
    for component in dir.components() {
        current.push(component);
        let meta = std::fs::metadata(&current)
            .map_err(|e| format!("cannot inspect {}: {e}", current.display()))?;
        let mode = meta.mode();
        let searchable = if meta.uid() == uid {
            mode & 0o100 != 0
        } else if meta.gid() == gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !searchable {
            return Err(format!(
                "sandboxes run as host uid {uid}, which cannot enter {} (mode {:o}, owner {}); \
                 keep {} under directories that others may search (`chmod o+x {}`), e.g. \
                 /var/lib/agent-runtime, or set host_user to Runtime",
                current.display(),
                mode & 0o7777,
                meta.uid(),
                dir.display(),
                current.display(),
            ));
        }
    }
    Ok(())
}

/// Lays out `<root_dir>/<id>/` fresh: see the module docs.
fn create_host_dirs(
    dir: &Path,
    owner: Option<(u32, u32)>,
    uid: u32,
    gid: u32,
) -> std::io::Result<()> {
    if std::fs::symlink_metadata(dir).is_ok() {
        tracing::warn!(path = %dir.display(), "wiping a sandbox left over from an earlier run");
        remove_tree(dir)?;
    }
    std::fs::create_dir(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
    for writable in ["workspace", "home"] {
        let path = dir.join(writable);
        std::fs::create_dir(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
        if let Some((host_uid, host_gid)) = owner {
            std::os::unix::fs::chown(&path, Some(host_uid), Some(host_gid))?;
        }
    }
    let etc = dir.join("etc");
    std::fs::create_dir(&etc)?;
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o755))?;
    std::fs::write(etc.join("passwd"), passwd_file(uid, gid))?;
    std::fs::write(etc.join("group"), group_file(gid))?;
    for file in ["passwd", "group"] {
        std::fs::set_permissions(etc.join(file), std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

fn passwd_file(uid: u32, gid: u32) -> String {
    let mut text = "root:x:0:0:root:/root:/usr/sbin/nologin\n".to_owned();
    text.push_str(&format!(
        "{SANDBOX_USER}:x:{uid}:{gid}:{SANDBOX_USER}:{HOME_DIR}:/bin/sh\n"
    ));
    if uid != 65534 {
        text.push_str("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    }
    text
}

fn group_file(gid: u32) -> String {
    let mut text = format!("root:x:0:\n{SANDBOX_USER}:x:{gid}:\n");
    if gid != 65534 {
        text.push_str("nogroup:x:65534:\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn identity_files() {
        assert_eq!(
            passwd_file(1000, 1000),
            "root:x:0:0:root:/root:/usr/sbin/nologin\n\
             agent:x:1000:1000:agent:/home/agent:/bin/sh\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        );
        assert_eq!(
            group_file(1000),
            "root:x:0:\nagent:x:1000:\nnogroup:x:65534:\n"
        );
    }

    #[test]
    fn traversal_is_checked_by_mode_bits() {
        let tmp = tempfile::tempdir().unwrap();
        let inner = tmp.path().join("a/b");
        std::fs::create_dir_all(&inner).unwrap();
        let set = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        set(tmp.path(), 0o711);
        set(&tmp.path().join("a"), 0o700);
        let err = ensure_traversable(&inner, 54321, 54321).unwrap_err();
        assert!(
            err.contains("cannot enter") && err.contains("/a (mode 700"),
            "{err}"
        );
        set(&tmp.path().join("a"), 0o701);
        assert_eq!(ensure_traversable(&inner, 54321, 54321), Ok(()));
    }

    #[test]
    fn base_env_names_the_sandbox_user() {
        let env = base_env(Some(Path::new("/etc/ssl/cert.pem")));
        assert_eq!(env.get("HOME").map(String::as_str), Some(HOME_DIR));
        assert_eq!(env["NODE_EXTRA_CA_CERTS"], "/etc/ssl/cert.pem");
        assert!(env["PATH"].starts_with(crate::TOOLS_DIR));
    }
}
