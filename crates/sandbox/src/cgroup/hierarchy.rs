//! `Hierarchy`: one cgroup hierarchy this provider uses (the v2 one, or one v1 mount), its
//! directories, and the kernel features found in it.

use std::path::{Path, PathBuf};

use super::fsops;
use super::parse::keyed_value;
use super::support::{CgroupVersion, Controller};

/// Name of the base directory under the runtime's own cgroup, shared by every provider whose
/// runtime lives in that cgroup.
pub const BASE_DIR: &str = "agent-runtime";

/// Name of the leaf (cgroup v2 only) that holds the runtime's own processes when they had to
/// leave its cgroup so that cgroup could hand controllers to its children.
pub const SELF_LEAF: &str = "agent-runtime-self";

/// One hierarchy in use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    pub version: CgroupVersion,
    /// The controllers this provider enforces through this hierarchy.
    pub controllers: Vec<Controller>,
    /// `<own>/agent-runtime`.
    pub base: PathBuf,
    /// `<own>/agent-runtime/<instance>`: this provider's directory; sandboxes are its children.
    pub instance: PathBuf,
    pub features: Features,
    /// v1 only: `cpuset` shares this hierarchy, so every new cgroup needs `cpuset.cpus` and
    /// `cpuset.mems` copied from its parent before a process may join it.
    pub cpuset: bool,
}

/// Optional kernel interfaces, probed in the base directory (a real, non-root cgroup).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Features {
    /// v2 `cgroup.kill` (Linux 5.14).
    pub cgroup_kill: bool,
    /// v2 `memory.swap.max` or v1 `memory.memsw.limit_in_bytes` (swap accounting).
    pub swap_limit: bool,
    /// v2 `memory.oom.group` (Linux 4.19).
    pub oom_group: bool,
    /// An `oom_kill` counter: v2 `memory.events`, v1 `memory.oom_control` (Linux 4.13).
    pub oom_kill_count: bool,
    /// v2 `memory.peak` (Linux 5.19) or v1 `memory.max_usage_in_bytes`.
    pub memory_peak: bool,
}

impl Features {
    /// Probes `base` for the optional interfaces of `version`.
    pub(crate) fn probe(version: CgroupVersion, base: &Path) -> Self {
        let has = |file: &str| base.join(file).exists();
        let counts_oom_kills = |file: &str| {
            fsops::read(&base.join(file))
                .ok()
                .and_then(|text| keyed_value(&text, "oom_kill"))
                .is_some()
        };
        match version {
            CgroupVersion::V2 => Self {
                cgroup_kill: has("cgroup.kill"),
                swap_limit: has("memory.swap.max"),
                oom_group: has("memory.oom.group"),
                oom_kill_count: counts_oom_kills("memory.events"),
                memory_peak: has("memory.peak"),
            },
            CgroupVersion::V1 => Self {
                cgroup_kill: false,
                swap_limit: has("memory.memsw.limit_in_bytes"),
                oom_group: false,
                oom_kill_count: counts_oom_kills("memory.oom_control"),
                memory_peak: has("memory.max_usage_in_bytes"),
            },
        }
    }

    /// What the memory controller does less than fully with these features.
    pub(crate) fn memory_caveats(&self, version: CgroupVersion) -> Vec<String> {
        let mut caveats = Vec::new();
        match version {
            CgroupVersion::V2 => {
                if !self.swap_limit {
                    caveats.push("swap is not limited (no memory.swap.max)".to_owned());
                }
                if !self.oom_group {
                    caveats.push(
                        "an OOM kills one process, not the whole sandbox (no memory.oom.group)"
                            .to_owned(),
                    );
                }
                if !self.oom_kill_count {
                    caveats.push(
                        "OOM kills cannot be counted (no oom_kill in memory.events)".to_owned(),
                    );
                }
            }
            CgroupVersion::V1 => {
                if !self.swap_limit {
                    caveats.push(
                        "swap is not limited (no memory.memsw.limit_in_bytes; boot with \
                         swapaccount=1)"
                            .to_owned(),
                    );
                }
                caveats.push(
                    "an OOM kills one process, not the whole sandbox (v1 has no \
                     memory.oom.group); the runtime kills the rest"
                        .to_owned(),
                );
                if !self.oom_kill_count {
                    caveats.push(
                        "OOM kills cannot be counted (no oom_kill in memory.oom_control; \
                         Linux < 4.13)"
                            .to_owned(),
                    );
                }
            }
        }
        caveats
    }
}

/// The control file whose presence proves `controller` works in a non-root cgroup.
pub(crate) fn key_file(version: CgroupVersion, controller: Controller) -> &'static str {
    match (version, controller) {
        (CgroupVersion::V2, Controller::Memory) => "memory.max",
        (CgroupVersion::V1, Controller::Memory) => "memory.limit_in_bytes",
        (_, Controller::Pids) => "pids.max",
        (CgroupVersion::V2, Controller::Cpu) => "cpu.max",
        (CgroupVersion::V1, Controller::Cpu) => "cpu.cfs_quota_us",
    }
}

/// v1 with `cpuset` co-mounted: copies `cpuset.cpus` and `cpuset.mems` from the parent of
/// `dir` into `dir` (a new cpuset cgroup starts empty and refuses processes).
pub(crate) fn inherit_cpuset(dir: &Path) -> std::io::Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let value = fsops::read(&parent.join(file))?;
        fsops::write(&dir.join(file), value.trim())?;
    }
    Ok(())
}
