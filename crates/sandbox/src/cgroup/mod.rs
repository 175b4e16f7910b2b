//! Resource limits per sandbox through cgroups: memory (with OOM detection), number of tasks
//! and CPU bandwidth, on cgroup v2 where the kernel offers them there, else on cgroup v1.
//!
//! # Layout on the host
//!
//! Everything lives under the runtime's **own** cgroup in each hierarchy (read from
//! `/proc/self/cgroup`), so that limits set on the runtime (a systemd unit, a container)
//! bound its sandboxes too, and nothing outside the runtime's own subtree is changed:
//!
//! ```text
//! <own>/agent-runtime/                       base, shared by all runtimes in <own>
//! <own>/agent-runtime/<pidns>-<pid>-<start>-<rand>/   one provider (`Cgroups`)
//! <own>/agent-runtime/<...>/<sandbox>/       one sandbox (`SandboxCgroup`), a leaf
//! <own>/agent-runtime-self/                  v2 only, if needed: the runtime's own processes
//! ```
//!
//! On cgroup v1 this tree exists once per hierarchy in use (e.g. `/sys/fs/cgroup/memory/...`,
//! `/sys/fs/cgroup/pids/...`, `/sys/fs/cgroup/cpu/...`), and a sandbox's processes must join
//! each of them; on v2 once, under the cgroup2 mount.
//!
//! # Choices
//!
//! - **v2 first, per controller.** A controller bound to a v1 hierarchy cannot be on v2 at
//!   the same time, so each of memory, pids and cpu is used where the kernel has it: a
//!   hybrid host (v1 controllers plus an empty cgroup2 at `/sys/fs/cgroup/unified`) uses v1;
//!   a pure v2 host uses v2. One provider may use both.
//! - **Proved, not assumed.** Detection creates the base and provider directories and
//!   requires the controller's own file there (`memory.max`, `pids.max`, ...); on v2 it
//!   enables controllers in `cgroup.subtree_control` from the runtime's cgroup down and reads
//!   them back. What fails is reported per controller, with the reason, in
//!   [`CgroupSupport`], which the server logs and shows: never a pretended limit.
//! - **No internal processes (v2).** A non-root v2 cgroup that holds processes cannot give
//!   controllers to its children. [`InternalProcesses`] decides: by default the runtime moves
//!   itself into `<own>/agent-runtime-self` only when it is alone there, else v2 limits are
//!   reported as not enforced, with the fix.
//! - **Memory.** v2: `memory.max`, `memory.swap.max = 0`, `memory.oom.group = 1` (an OOM
//!   kills the whole sandbox); OOM kills counted in `memory.events`. v1:
//!   `memory.limit_in_bytes` and, with swap accounting, `memory.memsw.limit_in_bytes`; OOM
//!   kills counted in `memory.oom_control` (Linux 4.13+); the OOM killer takes one process
//!   and the runtime kills the rest.
//! - **Pids** `pids.max`; **CPU** a quota per 100 ms period (`cpu.max`, or
//!   `cpu.cfs_quota_us`/`cpu.cfs_period_us`).
//!   The leaf stays when the provider is dropped (the runtime is in it); the next start
//!   recognises it in `/proc/self/cgroup` and uses its parent again.
//! - **Killing.** `cgroup.kill` where present (v2, Linux 5.14+: atomic, forks included);
//!   else `SIGKILL` to every pid in `cgroup.procs`, round after round, until it is empty.
//! - **Many runtimes at once.** Each provider has its own directory, named after its owner
//!   (pid namespace, pid, start time) plus a random part. Directories whose owner is provably
//!   gone (crashed) are swept at detection: their processes killed, the cgroups removed. A
//!   live runtime's directories, and anything of another pid namespace, are never touched.
//!
//! # Joining a sandbox's cgroups, race-free
//!
//! The runtime creates the [`SandboxCgroup`] before the sandbox's first process. A launcher
//! (running with the privileges to write there) writes its own pid into every file of
//! [`SandboxCgroup::procs_files`], then drops privileges and executes bubblewrap: all of the
//! sandbox's processes are born inside. The runtime polls [`SandboxCgroup::oom_kills`], and
//! at the end calls [`SandboxCgroup::remove`], which kills whatever is left.
//!
//! All I/O here is blocking (quick writes to a pseudo-filesystem, short bounded retries);
//! async callers use `spawn_blocking`.
//!
//! # Files
//!
//! - `parse.rs`: pure parsers of `/proc/self/cgroup` and `/proc/self/mountinfo`;
//! - `detect.rs`: which hierarchy serves which controller, and the setup that proves it;
//! - `delegate.rs`: v2 `cgroup.subtree_control` and the no-internal-processes rule;
//! - `hierarchy.rs`: a hierarchy in use, its directories and optional kernel features;
//! - `instance.rs`: provider directory names, liveness of their owners, the sweep;
//! - `limits.rs`: `CgroupLimits` and which file carries which limit;
//! - `sandbox.rs`: `SandboxCgroup`; `fsops.rs`: file operations and killing;
//! - `support.rs`: the `CgroupSupport` report; `error.rs`: `CgroupError`.

mod delegate;
mod detect;
mod error;
mod fsops;
mod hierarchy;
mod instance;
mod limits;
mod parse;
mod sandbox;
mod support;

#[cfg(test)]
mod fake_fs_tests;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use delegate::InternalProcesses;
pub use error::CgroupError;
pub use hierarchy::{BASE_DIR, SELF_LEAF};
pub use limits::{
    CgroupLimits, CPU_PERIOD_US, MAX_CPU_MILLICORES, MAX_PIDS, MIN_CPU_MILLICORES, MIN_MEMORY_BYTES,
};
pub use sandbox::{validate_cgroup_name, SandboxCgroup, MAX_CGROUP_NAME_LEN};
pub use support::{CgroupSupport, CgroupVersion, Controller, ControllerSupport};

use detect::DetectInput;
use hierarchy::Hierarchy;
use instance::Owner;

/// Serializes detection and provider teardown within this process, so that providers created
/// in parallel (tests) do not race on the shared base directory or on moving the process.
/// Other processes are handled by retries instead.
static SETUP_LOCK: Mutex<()> = Mutex::new(());

/// Where and how to detect cgroups.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CgroupConfig {
    /// Prefix of every cgroup mount point found in mountinfo: `/` on a host; a temp dir
    /// holding a fake cgroup tree in tests.
    pub fs_root: PathBuf,
    /// What to do if the runtime's own v2 cgroup holds processes.
    pub internal_processes: InternalProcesses,
}

impl Default for CgroupConfig {
    fn default() -> Self {
        Self {
            fs_root: PathBuf::from("/"),
            internal_processes: InternalProcesses::default(),
        }
    }
}

/// One provider's cgroups: what detection found, and the directory its sandboxes go in.
/// Cheap to clone; the provider directory is removed (with any sandbox cgroup still in it,
/// its processes killed) when the last clone and the last [`SandboxCgroup`] are gone.
#[derive(Clone, Debug)]
pub struct Cgroups {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    hierarchies: Vec<Hierarchy>,
    support: CgroupSupport,
}

impl Cgroups {
    /// Detects and sets up cgroups for this process from `/proc/self/cgroup` and
    /// `/proc/self/mountinfo`. Never fails: [`Cgroups::support`] says what works and why the
    /// rest does not.
    pub fn detect(config: &CgroupConfig) -> Self {
        let texts = std::fs::read_to_string("/proc/self/cgroup")
            .and_then(|cgroup| Ok((cgroup, std::fs::read_to_string("/proc/self/mountinfo")?)));
        match texts {
            Ok((cgroup, mountinfo)) => Self::detect_from(config, &cgroup, &mountinfo),
            Err(e) => {
                Self::unsupported(&format!("cannot read /proc/self/cgroup or mountinfo: {e}"))
            }
        }
    }

    /// [`Cgroups::detect`] with the two `/proc` texts given (tests use samples of other hosts
    /// together with a fake tree under `config.fs_root`).
    pub fn detect_from(config: &CgroupConfig, proc_self_cgroup: &str, mountinfo: &str) -> Self {
        let _setup = SETUP_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let owner = match Owner::current() {
            Ok(owner) => owner,
            Err(e) => return Self::unsupported(&format!("cannot identify this process: {e}")),
        };
        let instance_name = match owner.new_instance_name() {
            Ok(name) => name,
            Err(e) => return Self::unsupported(&format!("cannot name the provider: {e}")),
        };
        let input = DetectInput {
            fs_root: &config.fs_root,
            internal_processes: config.internal_processes,
            owner,
            instance_name: &instance_name,
        };
        let (hierarchies, support) = detect::detect(&input, proc_self_cgroup, mountinfo);
        Self {
            inner: Arc::new(Inner {
                hierarchies,
                support,
            }),
        }
    }

    fn unsupported(reason: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                hierarchies: Vec::new(),
                support: CgroupSupport::none(reason),
            }),
        }
    }

    /// What is enforced, by which means, and why the rest is not.
    pub fn support(&self) -> &CgroupSupport {
        &self.inner.support
    }

    /// This provider's directories, one per hierarchy in use.
    pub fn provider_dirs(&self) -> Vec<PathBuf> {
        self.inner
            .hierarchies
            .iter()
            .map(|h| h.instance.clone())
            .collect()
    }

    /// Creates the cgroup of sandbox `name` (see [`validate_cgroup_name`]) with `limits`
    /// written in; limits of controllers that are not enforced are skipped (the support
    /// report already says so). Fails with [`CgroupError::Unavailable`] when no controller
    /// is enforced at all.
    pub fn create(&self, name: &str, limits: &CgroupLimits) -> Result<SandboxCgroup, CgroupError> {
        SandboxCgroup::create(self.inner.clone(), name, limits)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _teardown = SETUP_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for hierarchy in &self.hierarchies {
            let removed =
                instance::remove_provider_dir(&hierarchy.instance, hierarchy.features.cgroup_kill);
            if let Err(e) = removed {
                tracing::warn!(dir = %hierarchy.instance.display(), error = %e, "cannot remove the provider's cgroup");
            }
            // Shared with other runtimes in the same cgroup: gone only once empty.
            let _ = std::fs::remove_dir(&hierarchy.base);
        }
    }
}
