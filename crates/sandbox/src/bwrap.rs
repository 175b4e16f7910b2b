//! The bubblewrap transform: a [`BwrapPolicy`] plus an inner [`LaunchSpec`] give the
//! [`LaunchSpec`] of `bwrap` running it, built by one pure function, [`bwrap_launch_spec`].
//!
//! Everything that depends on the host (which system directories exist, which are merged-usr
//! symlinks, which `/etc` files are there) is discovered once by [`HostLayout::discover`] and
//! passed in, so the transform itself does no I/O and is tested by asserting the whole argv.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::helper::HELPER_INSIDE;
use crate::launch_spec::LaunchSpec;

/// Where the session workspace is mounted, read-write.
pub const WORKSPACE_DIR: &str = "/workspace";
/// Where the session home is mounted, read-write (`HOME`).
pub const HOME_DIR: &str = "/home/agent";
/// Where the pinned agent tools are mounted, read-only.
pub const TOOLS_DIR: &str = "/opt/agent-tools";
/// The unprivileged uid processes run as inside a sandbox.
pub const DEFAULT_UID: u32 = 1000;
/// The gid processes run as inside a sandbox.
pub const DEFAULT_GID: u32 = 1000;
/// The hostname inside a sandbox (the host's name is not leaked).
pub const DEFAULT_HOSTNAME: &str = "sandbox";

/// One read-only entry of the sandbox's file tree taken from the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoMount {
    /// `--ro-bind HOST INSIDE`. bwrap resolves symlinks in `host`, so a host `/etc/resolv.conf`
    /// that links to `/run/...` is bound with its content.
    Bind { host: PathBuf, inside: PathBuf },
    /// `--symlink TARGET INSIDE`: re-creates a host symlink, e.g. merged-usr `/bin -> usr/bin`,
    /// so the link works inside because its target is mounted too.
    Symlink { target: PathBuf, inside: PathBuf },
}

impl RoMount {
    /// The same host path, bound read-only at the same place inside.
    pub fn same_path(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Self::Bind {
            host: path.clone(),
            inside: path,
        }
    }

    fn push_args(&self, args: &mut Vec<String>) {
        match self {
            Self::Bind { host, inside } => push(args, ["--ro-bind", &lossy(host), &lossy(inside)]),
            Self::Symlink { target, inside } => {
                push(args, ["--symlink", &lossy(target), &lossy(inside)]);
            }
        }
    }
}

/// The host's system tree as a sandbox needs it, discovered once at startup.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HostLayout {
    /// System directories, merged-usr symlinks and `/etc` entries, in mount order.
    pub system: Vec<RoMount>,
    /// The system CA bundle (a path under a bound `/etc` entry), if any. Node.js ignores the
    /// system trust store unless `NODE_EXTRA_CA_CERTS` names it, so sandboxes set that.
    pub ca_bundle: Option<PathBuf>,
}

impl HostLayout {
    /// System directories made visible read-only, when they exist on the host.
    pub const SYSTEM_DIRS: [&'static str; 7] = [
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    ];

    /// The minimal `/etc`: name resolution (DNS, hosts, services), TLS trust stores, time zone,
    /// the dynamic linker cache and Debian's alternatives. `passwd` and `group` are deliberately
    /// absent: each sandbox gets synthetic ones ([`IdentityFiles`]) naming its own user, so the
    /// host's accounts are not listed inside.
    pub const ETC_ENTRIES: [&'static str; 18] = [
        "/etc/resolv.conf",
        "/etc/hosts",
        "/etc/nsswitch.conf",
        "/etc/host.conf",
        "/etc/gai.conf",
        "/etc/services",
        "/etc/protocols",
        "/etc/ssl",
        "/etc/ca-certificates",
        "/etc/ca-certificates.conf",
        "/etc/pki",
        "/etc/localtime",
        "/etc/timezone",
        "/etc/alternatives",
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/os-release",
    ];

    /// Where distributions keep the system CA bundle: Debian/Ubuntu, Fedora/RHEL, Alpine/Arch.
    pub const CA_BUNDLES: [&'static str; 3] = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ];

    /// Looks at this host.
    pub fn discover() -> Self {
        Self::discover_under(Path::new("/"))
    }

    /// Looks at a host tree rooted at `root` (tests use a fake one). Inside paths are always
    /// absolute paths of the sandbox; host paths are under `root`.
    ///
    /// - A system directory that is a symlink (merged usr) becomes [`RoMount::Symlink`] with the
    ///   same target; a real directory is bound read-only.
    /// - An `/etc` entry is bound when it resolves to something (dangling links are skipped, as
    ///   bwrap would refuse to start on them).
    pub fn discover_under(root: &Path) -> Self {
        let on_host = |inside: &str| root.join(inside.trim_start_matches('/'));
        let mut system = Vec::new();
        for dir in Self::SYSTEM_DIRS {
            let host = on_host(dir);
            let Ok(meta) = std::fs::symlink_metadata(&host) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                if let Ok(target) = std::fs::read_link(&host) {
                    system.push(RoMount::Symlink {
                        target,
                        inside: dir.into(),
                    });
                }
            } else if meta.is_dir() {
                system.push(RoMount::Bind {
                    host,
                    inside: dir.into(),
                });
            }
        }
        for entry in Self::ETC_ENTRIES {
            let host = on_host(entry);
            if std::fs::metadata(&host).is_ok() {
                system.push(RoMount::Bind {
                    host,
                    inside: entry.into(),
                });
            }
        }
        let ca_bundle = Self::CA_BUNDLES
            .iter()
            .find(|bundle| std::fs::metadata(on_host(bundle)).is_ok_and(|m| m.is_file()))
            .map(PathBuf::from);
        Self { system, ca_bundle }
    }
}

/// Synthetic `/etc/passwd` and `/etc/group` on the host, bound read-only, so that the sandbox
/// user has a name and `HOME` (`getpwuid` works: `whoami`, Node's `os.userInfo()`, ssh, git).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityFiles {
    pub passwd: PathBuf,
    pub group: PathBuf,
}

/// Everything the bubblewrap transform needs. Host paths are expected to be valid UTF-8 (the
/// local provider checks), because a [`LaunchSpec`] is made of strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BwrapPolicy {
    /// The `bwrap` binary.
    pub bwrap: PathBuf,
    /// Host directory mounted read-write at [`WORKSPACE_DIR`].
    pub workspace: PathBuf,
    /// Host directory mounted read-write at [`HOME_DIR`].
    pub home: PathBuf,
    /// Host directory mounted read-only at [`TOOLS_DIR`].
    pub tools: PathBuf,
    /// uid inside the sandbox.
    pub uid: u32,
    /// gid inside the sandbox.
    pub gid: u32,
    pub hostname: String,
    /// Read-only system entries, usually [`HostLayout::system`].
    pub system: Vec<RoMount>,
    pub identity: Option<IdentityFiles>,
    /// Further read-only entries (e.g. a toolchain outside `/usr`), mounted after the system.
    pub extra: Vec<RoMount>,
    /// The sandbox helper's binary on the host, mounted read-only at [`HELPER_INSIDE`].
    pub helper: Option<PathBuf>,
    /// Unix sockets of the runtime bound into the sandbox (e.g. the egress proxy's).
    pub sockets: Vec<SocketBind>,
    /// `--disable-userns`: processes inside cannot create user namespaces (bwrap >= 0.8).
    pub disable_userns: bool,
    /// `--seccomp FD`: a seccomp program the spawner provides on this fd.
    pub seccomp_fd: Option<i32>,
    /// Size of the `/tmp` tmpfs in bytes (`--size`, bwrap >= 0.8 as Debian ships it); `None`:
    /// the kernel's default of half the RAM, bounded only by the memory cgroup.
    pub tmp_size: Option<u64>,
}

/// A host unix socket bound into the sandbox, read-write (connecting needs write permission).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketBind {
    pub host: PathBuf,
    pub inside: PathBuf,
}

/// Builds the [`LaunchSpec`] that runs `inner` inside bubblewrap according to `policy`.
///
/// The result runs `policy.bwrap` with `inner.env` as its complete environment (bwrap hands its
/// environment on to the sandboxed program, and whoever spawns a spec clears the inherited one),
/// rather than `--clearenv` plus one `--setenv` per variable: arguments are world-readable in
/// `/proc/PID/cmdline` on the host, the environment is not, and values may be API keys. An empty
/// `inner.cwd` means [`WORKSPACE_DIR`].
///
/// # Argument order
///
/// Namespace and process flags come first: a new user namespace mapping `policy.uid/gid` inside
/// (`--unshare-user --uid --gid`), with `--disable-userns` so nothing inside can create another
/// one; new pid, ipc, uts, cgroup (where the kernel has it) and network namespaces, the last
/// holding only loopback (the one way out is the runtime's egress proxy, reached through a
/// socket in `policy.sockets`); a fixed hostname; the seccomp program on `policy.seccomp_fd`;
/// all capabilities dropped (also from the bounding set, which matters when bwrap runs as
/// root); `--die-with-parent` so nothing outlives the runtime; and `--new-session` so the agent
/// cannot push input into a controlling terminal.
///
/// # Mount order
///
/// The sandbox starts from an empty tmpfs root, and bwrap performs mount operations in argument
/// order; a later mount at or below an earlier one covers it. So, from base to top:
///
/// 1. **System** (`policy.system`): `/usr` and friends read-only, merged-usr symlinks
///    (`/bin -> usr/bin`), then single `/etc` entries; `/etc` itself is never bound whole.
/// 2. **Identity**: the synthetic `/etc/passwd` and `/etc/group`, after the system entries so
///    they win should a layout list the host's.
/// 3. **Kernel and scratch file systems**: a fresh `/proc` for the new pid namespace (shows only
///    the sandbox's processes), a minimal `/dev`, an empty `/tmp` of `policy.tmp_size` bytes.
///    They come after the host entries so no host directory can cover them.
/// 4. **Extra** read-only entries (`policy.extra`).
/// 5. **Tools** read-only at [`TOOLS_DIR`], the **helper** read-only at [`HELPER_INSIDE`], then
///    the runtime's **sockets**.
/// 6. **Home, then workspace**, read-write at [`HOME_DIR`] and [`WORKSPACE_DIR`], last among the
///    mounts so no read-only entry can cover the session's writable directories.
/// 7. `--remount-ro /` makes the root tmpfs itself read-only, so nothing can be created at the
///    top level. It must come after every mount, because bwrap creates the mount points in that
///    tmpfs; it affects only the root, not the mounts on it (`/tmp` and the session directories
///    stay writable).
///
/// Nothing else of the host is visible: not `/root`, not the runtime's data directory, not
/// other sessions' directories.
pub fn bwrap_launch_spec(policy: &BwrapPolicy, inner: &LaunchSpec) -> LaunchSpec {
    let mut args: Vec<String> = Vec::new();

    push(
        &mut args,
        ["--unshare-user", "--uid", &policy.uid.to_string()],
    );
    push(&mut args, ["--gid", &policy.gid.to_string()]);
    if policy.disable_userns {
        push(&mut args, ["--disable-userns"]);
    }
    push(
        &mut args,
        [
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--unshare-net",
        ],
    );
    if let Some(fd) = policy.seccomp_fd {
        push(&mut args, ["--seccomp", &fd.to_string()]);
    }
    push(
        &mut args,
        ["--hostname", &policy.hostname, "--cap-drop", "ALL"],
    );
    push(&mut args, ["--die-with-parent", "--new-session"]);

    for mount in &policy.system {
        mount.push_args(&mut args);
    }
    if let Some(identity) = &policy.identity {
        push(
            &mut args,
            ["--ro-bind", &lossy(&identity.passwd), "/etc/passwd"],
        );
        push(
            &mut args,
            ["--ro-bind", &lossy(&identity.group), "/etc/group"],
        );
    }
    push(&mut args, ["--proc", "/proc", "--dev", "/dev"]);
    if let Some(size) = policy.tmp_size {
        push(&mut args, ["--size", &size.to_string()]);
    }
    push(&mut args, ["--tmpfs", "/tmp"]);
    for mount in &policy.extra {
        mount.push_args(&mut args);
    }
    push(&mut args, ["--ro-bind", &lossy(&policy.tools), TOOLS_DIR]);
    if let Some(helper) = &policy.helper {
        push(&mut args, ["--ro-bind", &lossy(helper), HELPER_INSIDE]);
    }
    for socket in &policy.sockets {
        push(
            &mut args,
            ["--bind", &lossy(&socket.host), &lossy(&socket.inside)],
        );
    }
    push(&mut args, ["--bind", &lossy(&policy.home), HOME_DIR]);
    push(
        &mut args,
        ["--bind", &lossy(&policy.workspace), WORKSPACE_DIR],
    );
    push(&mut args, ["--remount-ro", "/"]);

    let cwd = if inner.cwd.is_empty() {
        WORKSPACE_DIR
    } else {
        inner.cwd.as_str()
    };
    push(&mut args, ["--chdir", cwd, "--", &inner.program]);
    args.extend(inner.args.iter().cloned());

    LaunchSpec {
        program: lossy(&policy.bwrap),
        args,
        env: inner.env.clone(),
        // The host working directory of bwrap itself; it is not visible inside.
        cwd: "/".to_owned(),
    }
}

fn push<const N: usize>(args: &mut Vec<String>, items: [&str; N]) {
    args.extend(items.iter().map(|s| (*s).to_owned()));
}

fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
#[path = "bwrap_tests.rs"]
mod tests;
