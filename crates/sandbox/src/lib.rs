//! Sandboxes for agent processes.
//!
//! A sandbox is first of all a **transform of a launch spec**: [`LaunchSpec`] in, a sandboxed
//! [`LaunchSpec`] out ([`bwrap_launch_spec`], [`rlimit_launch_spec`]), both pure functions whose
//! tests assert the whole argv. Around that sits the one place where providers truly differ, the
//! lifecycle of a sandbox: [`SandboxProvider`] creates a [`Sandbox`], which spawns processes,
//! moves files in and out, and is destroyed. The local provider runs bubblewrap on this host;
//! a remote one (Modal, Kubernetes) implements the same two traits.
//!
//! # Layout
//!
//! - [`launch_spec`]: `LaunchSpec`, plain data with a redacted `Debug`/`Display`.
//! - [`bwrap`]: `BwrapPolicy`, `HostLayout` (the host's system paths, discovered once) and the
//!   pure `bwrap_launch_spec`; its doc explains the mount order.
//! - [`rlimit`]: `ResourceLimits` and the pure `rlimit_launch_spec` (a `prlimit` wrapper).
//! - [`cgroup`]: `Cgroups` (detection, v1/v2) and `SandboxCgroup`, memory/pids/CPU limits per
//!   sandbox; its doc explains the layout on the host.
//! - [`ensure`]: `ensure_bwrap`, find bubblewrap, prove it can sandbox, install it if allowed.
//! - [`provider`]: the provider-agnostic traits and their data (`Sandbox`, `Root`, `FileStat`).
//! - [`host_fs`]: `RelPath` validation and symlink-proof file operations on host directories.
//! - [`local`]: `LocalBwrapProvider`, sandboxes as bubblewrap processes on this host.
//! - [`error`]: `SandboxError`, the crate's one error enum.

pub mod bwrap;
pub mod cgroup;
pub mod ensure;
pub mod error;
pub mod host_fs;
pub mod launch_spec;
pub mod local;
pub mod provider;
pub mod rlimit;

pub use bwrap::{
    bwrap_launch_spec, BwrapPolicy, HostLayout, IdentityFiles, NetworkPolicy, RoMount, DEFAULT_GID,
    DEFAULT_HOSTNAME, DEFAULT_UID, HOME_DIR, TOOLS_DIR, WORKSPACE_DIR,
};
pub use cgroup::{
    CgroupConfig, CgroupError, CgroupLimits, CgroupSupport, CgroupVersion, Cgroups, Controller,
    ControllerSupport, InternalProcesses, SandboxCgroup,
};
pub use ensure::{ensure_bwrap, BwrapInfo, BwrapProbe};
pub use error::SandboxError;
pub use host_fs::RelPath;
pub use launch_spec::{is_secret_env_key, LaunchSpec, REDACTED};
pub use local::{HostUser, LocalBwrapProvider, LocalSandboxConfig};
pub use provider::{
    validate_sandbox_id, ExitInfo, FileStat, ProcessHandle, Root, Sandbox, SandboxProcess,
    SandboxProvider, SandboxRequest,
};
pub use rlimit::{rlimit_launch_spec, ResourceLimits};
