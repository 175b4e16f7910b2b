//! Sandboxes for agent processes.
//!
//! A sandbox is first of all a **transform of a launch spec**: [`LaunchSpec`] in, a sandboxed
//! [`LaunchSpec`] out ([`bwrap_launch_spec`], and the helper's [`helper::launch_spec`] and
//! [`helper::init_spec`] around and inside it), pure functions whose tests assert the whole
//! argv. Around that sits the one place where providers truly differ, the
//! lifecycle of a sandbox: [`SandboxProvider`] creates a [`Sandbox`], which spawns processes,
//! moves files in and out, and is destroyed. The local provider runs bubblewrap on this host;
//! a remote one (Modal, Kubernetes) implements the same two traits.
//!
//! # Layout
//!
//! - [`launch_spec`]: `LaunchSpec`, plain data with a redacted `Debug`/`Display`.
//! - [`redact`]: secret detection for logs, by name (`is_secret_env_key`) and by value
//!   (`redact_secrets`: token shapes, URL passwords, random strings).
//! - [`bwrap`]: `BwrapPolicy`, `HostLayout` (the host's system paths, discovered once) and the
//!   pure `bwrap_launch_spec`; its doc explains the mount order.
//! - [`helper`]: the sandbox helper program (`launch` on the host: cgroups, rlimits, seccomp,
//!   uid switch; `init` inside: loopback bridges to the egress proxy) and its launch specs.
//! - [`limits`]: `SandboxLimits`, and `Enforcement`, the report of what enforces each limit.
//! - [`cgroup`]: `Cgroups` (detection, v1/v2) and `SandboxCgroup`, memory/pids/CPU limits per
//!   sandbox; its doc explains the layout on the host.
//! - [`ensure`]: `ensure_bwrap`, find bubblewrap, prove it can sandbox, install it if allowed.
//! - [`seccomp`]: `seccomp_program`, the syscall filter bwrap installs (`--seccomp FD`).
//! - [`live_ids`]: `LiveIds`, the ids a provider is creating or holds, so none is live twice.
//! - [`provider`]: the provider-agnostic traits and their data (`Sandbox`, `Root`, `FileStat`).
//! - [`host_fs`]: `RelPath` validation and symlink-proof file operations on host directories.
//! - [`local`]: `LocalBwrapProvider`, sandboxes as bubblewrap processes on this host.
//! - [`error`]: `SandboxError`, the crate's one error enum.

pub mod bwrap;
pub mod cgroup;
pub mod ensure;
pub mod error;
pub mod helper;
pub mod host_fs;
pub mod launch_spec;
pub mod limits;
pub mod live_ids;
pub mod local;
pub mod provider;
pub mod redact;
pub mod seccomp;

pub use bwrap::{
    bwrap_launch_spec, BwrapPolicy, HostLayout, IdentityFiles, RoMount, SocketBind, DEFAULT_GID,
    DEFAULT_HOSTNAME, DEFAULT_UID, HOME_DIR, TOOLS_DIR, WORKSPACE_DIR,
};
pub use cgroup::{
    CgroupConfig, CgroupError, CgroupLimits, CgroupSupport, CgroupVersion, Cgroups, Controller,
    ControllerSupport, InternalProcesses, SandboxCgroup,
};
pub use ensure::{ensure_bwrap, BwrapFeatures, BwrapInfo, BwrapProbe};
pub use error::SandboxError;
pub use helper::HelperProgram;
pub use host_fs::RelPath;
pub use launch_spec::LaunchSpec;
pub use limits::{Enforcement, SandboxLimits};
pub use local::{HostUser, LocalBwrapProvider, LocalSandboxConfig};
pub use provider::{
    labels_match, validate_labels, validate_sandbox_id, EgressHandler, ExitInfo, FileStat, Labels,
    LimitHit, ProcessHandle, Root, Sandbox, SandboxListing, SandboxProcess, SandboxProvider,
    SandboxRequest, SandboxStream, MAX_LABEL_LEN,
};
pub use redact::{contains_secret, is_secret_env_key, redact_env_value, redact_secrets, REDACTED};
pub use seccomp::{seccomp_program, SeccompArch, SeccompOptions};
