//! The local provider: each sandbox is a set of host directories plus bubblewrap processes.
//!
//! This file holds the configuration and the provider; `host_dirs.rs` a sandbox's directories
//! on the host; `sandbox.rs` the [`crate::Sandbox`] implementation and its process handles;
//! `kill.rs` how a bwrap process is killed together with its sandbox; `uids.rs` the per-sandbox
//! host uids; `egress.rs` the unix socket through which a sandbox reaches the runtime's egress
//! proxy.
//!
//! # Host state
//!
//! `<root_dir>/<sandbox_id>/` holds `workspace/` (mounted at `/workspace`), `home/` (at
//! `/home/agent`), `etc/{passwd,group}` (the sandbox user's identity) and `run/egress.sock`
//! (bound at [`EGRESS_SOCKET_INSIDE`]). It is created fresh by `create` (a leftover from a
//! crashed run is wiped) and deleted by `destroy`. `<root_dir>/.seccomp.bpf` is the seccomp
//! program every sandbox is started with.
//!
//! # How a process starts
//!
//! `spawn` turns the process's [`LaunchSpec`] into the host command line by three pure
//! transforms, innermost first:
//!
//! 1. the helper's `init` ([`crate::helper::init_spec`]) when the sandbox has an egress proxy:
//!    it binds `127.0.0.1:`[`EGRESS_PORT`] inside the sandbox's own network namespace and relays
//!    it to the egress socket, then runs the program;
//! 2. bubblewrap ([`crate::bwrap_launch_spec`]);
//! 3. the helper's `launch` ([`crate::helper::launch_spec`]): rlimits, the seccomp program on fd
//!    3, the switch to the sandbox's host uid, then exec of bwrap (same pid).
//!
//! # Ownership
//!
//! bwrap maps the sandbox uid (1000 by default) to the host uid that runs bwrap, so a file is
//! "the agent's" inside exactly when the host uid running bwrap owns it on the host. With
//! [`HostUser::Range`] (the default for a root runtime) every sandbox runs as a host uid of its
//! own from the range (and a gid of the same number), with no supplementary groups; no two live
//! sandboxes share one (see `uids.rs`):
//!
//! - files the agent creates are owned by that host uid; the runtime, being root, can read,
//!   overwrite and delete them regardless of their mode;
//! - files and directories the runtime creates through [`crate::Sandbox::write_file`] are
//!   `chown`ed to that host uid, and the session directories are created owned by it, so the
//!   agent can change everything in them;
//! - the sandboxed processes are not host root: a root-owned file is foreign to them
//!   (`nobody` inside), `RLIMIT_NPROC` counts only this sandbox's tasks, and peer credentials
//!   on host sockets name this sandbox's uid.
//!
//! The price: those host uids must be able to reach the bind sources, so every directory above
//! `root_dir`, `tools_dir` and the helper binary must be searchable by others (`o+x`);
//! [`LocalBwrapProvider::new`] checks and says what to change. With [`HostUser::Runtime`] bwrap
//! runs as the runtime's own user (under a root runtime that means the agent's processes are
//! host uid 0 without capabilities), every sandbox shares it, and ownership is trivially shared.

mod egress;
mod host_dirs;
mod kill;
mod sandbox;
mod uids;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::bwrap::{
    BwrapPolicy, HostLayout, IdentityFiles, RoMount, SocketBind, DEFAULT_GID, DEFAULT_HOSTNAME,
    DEFAULT_UID, HOME_DIR,
};
use crate::cgroup::{CgroupConfig, CgroupLimits, Cgroups, Controller, ControllerSupport};
use crate::ensure::{BwrapFeatures, BwrapInfo};
use crate::error::SandboxError;
use crate::helper::{Bridge, HelperProgram};
use crate::host_fs::HostDir;
use crate::limits::Enforcement;
use crate::live_ids::LiveIds;
use crate::provider::{
    validate_labels, validate_sandbox_id, Labels, Sandbox, SandboxListing, SandboxProvider,
    SandboxRequest,
};
use crate::seccomp::{seccomp_program, SeccompArch, SeccompOptions};
use host_dirs::{
    copy_helper, create_host_dirs, ensure_traversable, prepare_dir, read_leftovers, write_labels,
};
use sandbox::LocalSandbox;
use uids::UidPool;
pub use uids::DEFAULT_LOCK_DIR as DEFAULT_UID_LOCK_DIR;

/// The `PATH` every sandboxed process starts with: the agent tools first, then the system.
pub const BASE_PATH: &str = "/opt/agent-tools/bin:/opt/agent-tools/node_modules/.bin:\
/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The user name of the sandbox uid in the synthetic `/etc/passwd`.
pub const SANDBOX_USER: &str = "agent";

/// Where a sandbox reaches the runtime's egress proxy: this loopback port inside its own
/// network namespace (relayed by the helper to [`EGRESS_SOCKET_INSIDE`]).
pub const EGRESS_PORT: u16 = 3128;
/// The egress proxy's unix socket as seen inside a sandbox.
pub const EGRESS_SOCKET_INSIDE: &str = "/run/agent-runtime/egress.sock";

/// The first host uid of [`HostUser::Range::recommended`]: far above the ids of people and
/// system accounts, and away from the 100000+ blocks `/etc/subuid` usually hands out.
pub const DEFAULT_UID_RANGE_FIRST: u32 = 600_000;
/// How many host uids [`HostUser::Range::recommended`] spans.
pub const DEFAULT_UID_RANGE_COUNT: u32 = 65_536;

/// Which host user runs bwrap, and so owns the sandbox's processes and files on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostUser {
    /// The runtime's own user, shared by every sandbox.
    Runtime,
    /// Each live sandbox gets a host uid of its own (gid of the same number) from `first ..
    /// first + count`, switched to with no supplementary groups. Needs a root runtime.
    Range { first: u32, count: u32 },
}

impl HostUser {
    /// [`HostUser::Range`] from [`DEFAULT_UID_RANGE_FIRST`] when this process is root, else
    /// [`HostUser::Runtime`].
    pub fn recommended() -> Self {
        if rustix::process::geteuid().is_root() {
            Self::Range {
                first: DEFAULT_UID_RANGE_FIRST,
                count: DEFAULT_UID_RANGE_COUNT,
            }
        } else {
            Self::Runtime
        }
    }

    /// A host uid/gid this user stands for, to check what it can reach: the first of a range.
    fn probe_ids(self) -> Option<(u32, u32)> {
        match self {
            Self::Range { first, .. } if rustix::process::geteuid().is_root() => {
                Some((first, first))
            }
            _ => None,
        }
    }

    /// Makes `cmd` run as this host user (its first uid, for a range): for one-off probes.
    pub(crate) fn apply(self, cmd: &mut tokio::process::Command) {
        if let Some((uid, gid)) = self.probe_ids() {
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
    /// What this bubblewrap can do, from [`crate::ensure_bwrap`].
    pub bwrap_features: BwrapFeatures,
    /// The sandbox helper (see [`crate::helper`]).
    pub helper: HelperProgram,
    /// uid inside the sandbox (not 0).
    pub uid: u32,
    /// gid inside the sandbox (not 0).
    pub gid: u32,
    pub host_user: HostUser,
    /// Where uid claims of [`HostUser::Range`] live (host-wide).
    pub uid_lock_dir: PathBuf,
    /// From [`HostLayout::discover`].
    pub host_layout: HostLayout,
    /// The seccomp program (bytes for bubblewrap's `--seccomp`) every sandbox starts under;
    /// `None` runs without one (and the provider's enforcement report says so).
    pub seccomp_program: Option<Vec<u8>>,
    /// Further read-only mounts, e.g. a Node.js installed outside `/usr`.
    pub extra_ro_mounts: Vec<RoMount>,
    /// How to find the cgroups that limit memory, tasks and CPU per sandbox; `None` uses none
    /// (rlimits only, and the enforcement report says so).
    pub cgroups: Option<CgroupConfig>,
}

impl LocalSandboxConfig {
    /// Defaults: uid/gid 1000 inside, [`HostUser::recommended`], no extra mounts, and the
    /// seccomp program of [`crate::seccomp`] for this host's architecture (refusing nested user
    /// namespaces itself when this bubblewrap has no `--disable-userns`); none on an
    /// architecture it does not know.
    pub fn new(
        root_dir: impl Into<PathBuf>,
        tools_dir: impl Into<PathBuf>,
        bwrap: &BwrapInfo,
        host_layout: HostLayout,
        helper: HelperProgram,
    ) -> Self {
        Self {
            root_dir: root_dir.into(),
            tools_dir: tools_dir.into(),
            bwrap: bwrap.path.clone(),
            bwrap_features: bwrap.features,
            helper,
            uid: DEFAULT_UID,
            gid: DEFAULT_GID,
            host_user: HostUser::recommended(),
            uid_lock_dir: PathBuf::from(DEFAULT_UID_LOCK_DIR),
            host_layout,
            seccomp_program: default_seccomp_program(bwrap.features),
            extra_ro_mounts: Vec::new(),
            cgroups: Some(CgroupConfig::default()),
        }
    }
}

fn default_seccomp_program(features: BwrapFeatures) -> Option<Vec<u8>> {
    if !features.seccomp {
        return None;
    }
    let options = SeccompOptions {
        deny_user_namespaces: !features.disable_userns,
    };
    let program = seccomp_program(SeccompArch::host()?, &options);
    match program {
        Ok(program) => Some(program),
        Err(e) => {
            tracing::error!("building the seccomp program failed: {e}");
            None
        }
    }
}

/// Sandboxes as bubblewrap processes on this host. See the module docs for the host layout
/// and the ownership story.
pub struct LocalBwrapProvider {
    config: LocalSandboxConfig,
    /// Host uids for [`HostUser::Range`].
    uids: Option<UidPool>,
    /// `<root_dir>/.seccomp.bpf`, when there is a program.
    seccomp_file: Option<PathBuf>,
    /// The cgroups sandboxes are limited by, when the host has usable ones.
    cgroups: Option<Cgroups>,
    /// Sandboxes being created or alive, so one id is never live twice.
    ids: LiveIds<LocalSandbox>,
}

impl LocalBwrapProvider {
    /// Checks the configuration against the host and creates `root_dir` and `tools_dir` when
    /// missing. Blocking file system work; call it at startup.
    pub fn new(mut config: LocalSandboxConfig) -> Result<Self, SandboxError> {
        let invalid = SandboxError::InvalidConfig;
        if config.uid == 0 || config.gid == 0 {
            return Err(invalid("the sandbox uid and gid must not be 0".into()));
        }
        let uids = match config.host_user {
            HostUser::Range { first, count } => {
                if !rustix::process::geteuid().is_root() {
                    return Err(invalid(format!(
                        "a host uid range needs a root runtime (this one runs as uid {}); \
                         use HostUser::Runtime",
                        rustix::process::geteuid().as_raw()
                    )));
                }
                Some(UidPool::new(first, count, &config.uid_lock_dir)?)
            }
            HostUser::Runtime => None,
        };
        config.root_dir = prepare_dir(&config.root_dir, "root_dir")?;
        config.tools_dir = prepare_dir(&config.tools_dir, "tools_dir")?;
        // Sandbox ids are not listable by the sandbox host uids, only traversable.
        std::fs::set_permissions(&config.root_dir, std::fs::Permissions::from_mode(0o711))
            .map_err(|e| SandboxError::io("restricting the sandbox root dir", e))?;
        config.helper.path = config.helper.path.canonicalize().map_err(|e| {
            SandboxError::io(
                format!(
                    "finding the sandbox helper {}",
                    config.helper.path.display()
                ),
                e,
            )
        })?;
        for path in [
            &config.bwrap,
            &config.root_dir,
            &config.tools_dir,
            &config.helper.path,
        ] {
            if path.to_str().is_none() {
                return Err(invalid(format!("{} is not valid UTF-8", path.display())));
            }
        }
        if let Some((uid, gid)) = config.host_user.probe_ids() {
            for dir in [&config.root_dir, &config.tools_dir] {
                ensure_traversable(dir, uid, gid).map_err(invalid)?;
            }
            // The sandbox uids run the helper inside; where they cannot reach it (a checkout under
            // a private home, say), they get a copy in the root dir they can reach.
            let reachable = config
                .helper
                .path
                .parent()
                .is_some_and(|dir| ensure_traversable(dir, uid, gid).is_ok());
            if !reachable {
                config.helper.path = copy_helper(&config.helper.path, &config.root_dir)?;
            }
        }
        let seccomp_file = match &config.seccomp_program {
            Some(program) => {
                let path = config.root_dir.join(".seccomp.bpf");
                std::fs::write(&path, program)
                    .and_then(|()| {
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    })
                    .map_err(|e| SandboxError::io(format!("writing {}", path.display()), e))?;
                Some(path)
            }
            None => None,
        };
        let cgroups = config
            .cgroups
            .as_ref()
            .map(Cgroups::detect)
            .filter(|cgroups| cgroups.support().any_enforced());
        Ok(Self {
            config,
            uids,
            seccomp_file,
            cgroups,
            ids: LiveIds::default(),
        })
    }

    /// The configuration in force (paths canonicalized).
    pub fn config(&self) -> &LocalSandboxConfig {
        &self.config
    }

    /// What each protection of a sandbox is enforced by on this host (see [`Enforcement`]).
    fn enforcement_report(&self) -> Vec<Enforcement> {
        let features = self.config.bwrap_features;
        let mut report = vec![Enforcement::by(
            "network",
            ["a network namespace per sandbox (loopback only)"],
        )
        .with_note(format!(
            "the one way out is 127.0.0.1:{EGRESS_PORT} inside, relayed to the runtime's egress proxy"
        ))];
        let mut userns = Vec::new();
        if features.disable_userns {
            userns.push("bwrap --disable-userns");
        }
        if self.seccomp_file.is_some() && !features.disable_userns {
            userns.push("seccomp (unshare/clone with CLONE_NEWUSER, clone3)");
        }
        report.push(if userns.is_empty() {
            Enforcement::missing(
                "user_namespaces",
                "this bubblewrap has no --disable-userns and no seccomp program is loaded",
            )
        } else {
            Enforcement::by("user_namespaces", userns)
        });
        report.push(match &self.seccomp_file {
            Some(_) => Enforcement::by("seccomp", ["seccomp-bpf deny list via bwrap --seccomp"]),
            None => Enforcement::missing("seccomp", "no seccomp program configured"),
        });
        report.push(match &self.uids {
            Some(pool) => Enforcement::by(
                "host_uid",
                [format!(
                    "a host uid of its own per sandbox from {}",
                    pool.describe()
                )],
            ),
            None => Enforcement::missing(
                "host_uid",
                "sandboxes share the runtime's uid (a uid per sandbox needs a root runtime)",
            ),
        });
        report.push(if features.tmpfs_size {
            Enforcement::by("tmp_size", ["a sized tmpfs (bwrap --size)"])
        } else {
            Enforcement::missing(
                "tmp_size",
                "this bubblewrap has no --size; /tmp is bounded only by the memory limit",
            )
        });
        report.push(Enforcement::by("file_size", ["RLIMIT_FSIZE"]));
        report.push(Enforcement::by("open_files", ["RLIMIT_NOFILE"]));
        for controller in Controller::ALL {
            let mut by = Vec::new();
            let mut notes = Vec::new();
            match self.cgroups.as_ref().map(|c| c.support().get(controller)) {
                Some(ControllerSupport::Enforced {
                    version, caveats, ..
                }) => {
                    by.push(format!("{version} {controller}"));
                    notes.extend(caveats.iter().cloned());
                }
                Some(ControllerSupport::NotEnforced { reason }) => notes.push(reason.clone()),
                None => notes.push(match &self.config.cgroups {
                    Some(_) => "no usable cgroup on this host".to_string(),
                    None => "cgroups are turned off".to_string(),
                }),
            }
            if controller == Controller::Pids {
                match &self.uids {
                    Some(_) => by.push("RLIMIT_NPROC of the sandbox's own host uid".to_string()),
                    None => notes.push(
                        "no RLIMIT_NPROC: it would count every sandbox of the shared uid together"
                            .to_string(),
                    ),
                }
            }
            let mut entry = Enforcement::by(controller.name(), by);
            if !notes.is_empty() {
                entry = entry.with_note(notes.join("; "));
            }
            report.push(entry);
        }
        report
    }
}

#[async_trait]
impl SandboxProvider for LocalBwrapProvider {
    fn name(&self) -> &'static str {
        "local-bwrap"
    }

    fn enforcement(&self) -> Vec<Enforcement> {
        self.enforcement_report()
    }

    async fn create(&self, req: SandboxRequest) -> Result<Arc<dyn Sandbox>, SandboxError> {
        validate_sandbox_id(&req.sandbox_id)?;
        validate_labels(&req.labels)?;
        let reservation = self.ids.reserve(&req.sandbox_id)?;
        let config = &self.config;
        let host_dir = config.root_dir.join(&req.sandbox_id);
        let lease = match &self.uids {
            // Non-blocking `flock`s on a tmpfs: microseconds, fine on an async thread.
            Some(pool) => Some(pool.claim()?),
            None => None,
        };
        let owner = lease.as_ref().map(|lease| (lease.uid, lease.uid));
        let (dir, uid, gid) = (host_dir.clone(), config.uid, config.gid);
        let labels = req.labels.clone();
        tokio::task::spawn_blocking(move || {
            create_host_dirs(&dir, owner, uid, gid)?;
            write_labels(&dir, &labels)
        })
        .await
        .map_err(|e| SandboxError::io("preparing the sandbox", std::io::Error::other(e)))?
        .map_err(|e| SandboxError::io(format!("preparing {}", host_dir.display()), e))?;

        let cgroup = match &self.cgroups {
            Some(cgroups) => {
                let (cgroups, name) = (cgroups.clone(), req.sandbox_id.clone());
                let limits = CgroupLimits {
                    memory_bytes: req.limits.memory_bytes,
                    pids: req.limits.pids,
                    cpu_millicores: req.limits.cpu_millicores,
                };
                let created = tokio::task::spawn_blocking(move || cgroups.create(&name, &limits))
                    .await
                    .map_err(|e| {
                        SandboxError::io("creating the cgroup", std::io::Error::other(e))
                    })?;
                // Fail closed: a sandbox the report says is limited is never started without.
                Some(created.map_err(|e| {
                    SandboxError::io("creating the sandbox's cgroup", std::io::Error::other(e))
                })?)
            }
            None => None,
        };
        let mut env = base_env(config.host_layout.ca_bundle.as_deref());
        let mut sockets = Vec::new();
        let mut bridges = Vec::new();
        let egress = match req.egress {
            Some(handler) => {
                let listener = egress::bind(&host_dir, owner)?;
                sockets.push(SocketBind {
                    host: host_dir.join(egress::SOCKET_ON_HOST),
                    inside: EGRESS_SOCKET_INSIDE.into(),
                });
                bridges.push(Bridge {
                    port: EGRESS_PORT,
                    socket: EGRESS_SOCKET_INSIDE.into(),
                });
                env.extend(proxy_env(&egress_url()));
                Some((listener, handler))
            }
            None => None,
        };
        env.extend(req.extra_env);
        let features = config.bwrap_features;
        let policy = BwrapPolicy {
            bwrap: config.bwrap.clone(),
            workspace: host_dir.join("workspace"),
            home: host_dir.join("home"),
            tools: config.tools_dir.clone(),
            uid: config.uid,
            gid: config.gid,
            hostname: DEFAULT_HOSTNAME.to_owned(),
            system: config.host_layout.system.clone(),
            identity: Some(IdentityFiles {
                passwd: host_dir.join("etc/passwd"),
                group: host_dir.join("etc/group"),
            }),
            extra: config.extra_ro_mounts.clone(),
            helper: Some(config.helper.path.clone()),
            sockets,
            disable_userns: features.disable_userns,
            seccomp_fd: self
                .seccomp_file
                .as_ref()
                .map(|_| crate::helper::SECCOMP_FD),
            tmp_size: req.limits.tmp_bytes.filter(|_| features.tmpfs_size),
        };
        let sandbox = Arc::new(LocalSandbox {
            workspace: HostDir::new(policy.workspace.clone(), owner),
            home: HostDir::new(policy.home.clone(), owner),
            id: req.sandbox_id,
            host_dir,
            policy,
            helper: config.helper.clone(),
            bridges,
            seccomp_file: self.seccomp_file.clone(),
            limits: req.limits,
            host_ids: owner,
            uid_lease: lease.map(Arc::new),
            oom: sandbox::OomWatch::new(cgroup.as_ref()),
            cgroup: Arc::new(Mutex::new(cgroup)),
            env,
            cancel: Default::default(),
            tasks: Default::default(),
            destroyed: Default::default(),
        });
        if let Some((listener, handler)) = egress {
            egress::serve(&sandbox, listener, handler);
        }
        sandbox.watch_oom();
        reservation.complete(&sandbox);
        tracing::info!(sandbox_id = %sandbox.id, host_uid = ?owner.map(|(uid, _)| uid), "sandbox created");
        Ok(sandbox)
    }

    /// The sandbox directories under `root_dir` with matching labels: live ones and those an
    /// earlier run left (its processes died with it, `--die-with-parent`; its directories and
    /// cgroup stay until created again or terminated).
    async fn list(&self, labels: &Labels) -> Result<Vec<SandboxListing>, SandboxError> {
        let (root, want) = (self.config.root_dir.clone(), labels.clone());
        tokio::task::spawn_blocking(move || read_leftovers(&root, &want))
            .await
            .map_err(|e| SandboxError::io("listing sandboxes", std::io::Error::other(e)))?
            .map_err(|e| SandboxError::io("listing sandboxes", e))
    }

    async fn terminate(&self, provider_id: &str) -> Result<(), SandboxError> {
        validate_sandbox_id(provider_id)?;
        if let Some(live) = self.ids.get(provider_id) {
            return live.destroy().await;
        }
        // A leftover: its processes are gone; its cgroup and directories are not.
        if let Some(cgroups) = self.cgroups.clone() {
            let name = provider_id.to_owned();
            let removed = tokio::task::spawn_blocking(move || {
                let cgroup = cgroups.create(&name, &CgroupLimits::default())?;
                cgroup.kill_all()?;
                cgroup.remove()
            })
            .await
            .map_err(|e| SandboxError::io("removing a cgroup", std::io::Error::other(e)))?;
            if let Err(e) = removed {
                tracing::warn!(sandbox_id = %provider_id, "removing a leftover cgroup: {e}");
            }
        }
        let dir = self.config.root_dir.join(provider_id);
        tokio::task::spawn_blocking(move || match std::fs::symlink_metadata(&dir) {
            Ok(_) => crate::host_fs::remove_tree(&dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        })
        .await
        .map_err(|e| SandboxError::io("removing a sandbox", std::io::Error::other(e)))?
        .map_err(|e| SandboxError::io(format!("removing sandbox {provider_id}"), e))?;
        tracing::info!(sandbox_id = %provider_id, "leftover sandbox terminated");
        Ok(())
    }
}

/// The egress proxy's URL as seen inside a sandbox.
pub fn egress_url() -> String {
    format!("http://127.0.0.1:{EGRESS_PORT}")
}

/// The environment that points every common tool at the egress proxy: both spellings of
/// `HTTP_PROXY`/`HTTPS_PROXY` (curl reads only the lower-case `http_proxy`), `NO_PROXY` for
/// loopback (where the model API endpoint is), and Node.js's switch to honour them
/// (`NODE_USE_ENV_PROXY`, Node >= 24; older Node agents bring their own proxy support).
pub fn proxy_env(url: &str) -> BTreeMap<String, String> {
    let no_proxy = "localhost,127.0.0.1,::1";
    [
        ("HTTP_PROXY", url),
        ("HTTPS_PROXY", url),
        ("http_proxy", url),
        ("https_proxy", url),
        ("NO_PROXY", no_proxy),
        ("no_proxy", no_proxy),
        ("NODE_USE_ENV_PROXY", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn base_env_names_the_sandbox_user() {
        let env = base_env(Some(Path::new("/etc/ssl/cert.pem")));
        assert_eq!(env.get("HOME").map(String::as_str), Some(HOME_DIR));
        assert_eq!(env["NODE_EXTRA_CA_CERTS"], "/etc/ssl/cert.pem");
        assert!(env["PATH"].starts_with(crate::TOOLS_DIR));
    }
}
