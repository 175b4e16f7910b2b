//! `SandboxCgroup`: one sandbox's cgroup, a leaf in every hierarchy the provider uses, with
//! its limits written before any process joins it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::error::CgroupError;
use super::fsops::{self, KillTarget};
use super::hierarchy::{inherit_cpuset, Features};
use super::limits::{limit_writes, CgroupLimits};
use super::parse::keyed_value;
use super::support::{CgroupVersion, Controller};
use super::Inner;

/// Longest a sandbox name may be.
pub const MAX_CGROUP_NAME_LEN: usize = 64;
/// How long `kill_all` waits for every process to leave the cgroup.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `remove` retries `rmdir` while the kernel finishes tearing processes down.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(2);
/// What dropping an unremoved `SandboxCgroup` may block for, per step.
const DROP_TIMEOUT: Duration = Duration::from_millis(100);

/// Checks a sandbox cgroup name: 1 to 64 of `[A-Za-z0-9_-]`, not starting with `-` (so no
/// `/`, no `..`, nothing that looks like a control file such as `memory.max`).
pub fn validate_cgroup_name(name: &str) -> Result<(), CgroupError> {
    let reason = if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > MAX_CGROUP_NAME_LEN {
        Some("must be at most 64 characters")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Some("may contain only ASCII letters, digits, '-' and '_'")
    } else if name.starts_with('-') {
        Some("must not start with '-'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(CgroupError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The cgroup of one sandbox: a directory `<provider dir>/<name>` in each hierarchy in use.
///
/// Dropping it without [`SandboxCgroup::remove`] kills its processes and removes it on a
/// best-effort basis (bounded to a fraction of a second); what remains is swept when the
/// provider ([`super::Cgroups`]) is dropped, or by the next runtime if this one crashes.
#[derive(Debug)]
pub struct SandboxCgroup {
    name: String,
    leaves: Vec<Leaf>,
    removed: bool,
    /// Keeps the provider directory alive as long as a sandbox cgroup is in it.
    _owner: Arc<Inner>,
}

#[derive(Debug)]
struct Leaf {
    version: CgroupVersion,
    controllers: Vec<Controller>,
    dir: PathBuf,
    features: Features,
}

impl SandboxCgroup {
    pub(crate) fn create(
        owner: Arc<Inner>,
        name: &str,
        limits: &CgroupLimits,
    ) -> Result<Self, CgroupError> {
        validate_cgroup_name(name)?;
        limits.validate()?;
        if owner.hierarchies.is_empty() {
            return Err(CgroupError::Unavailable(
                owner.support.to_string().replace('\n', "; "),
            ));
        }
        let mut cgroup = Self {
            name: name.to_owned(),
            leaves: Vec::new(),
            removed: false,
            _owner: owner.clone(),
        };
        for hierarchy in &owner.hierarchies {
            let dir = hierarchy.instance.join(name);
            match fsops::make_dir(&dir) {
                Ok(true) => {}
                Ok(false) => {
                    cgroup.discard();
                    return Err(CgroupError::AlreadyExists {
                        name: name.to_owned(),
                        dir,
                    });
                }
                Err(e) => {
                    cgroup.discard();
                    return Err(CgroupError::io(format!("creating {}", dir.display()), e));
                }
            }
            cgroup.leaves.push(Leaf {
                version: hierarchy.version,
                controllers: hierarchy.controllers.clone(),
                dir: dir.clone(),
                features: hierarchy.features,
            });
            let written = write_limits(hierarchy, &dir, limits);
            if let Err(e) = written {
                cgroup.discard();
                return Err(e);
            }
        }
        Ok(cgroup)
    }

    /// The name given at creation.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `cgroup.procs` files, one per hierarchy. The launcher must write its own pid to
    /// **every** one of them, all before it executes anything of the sandbox, so that every
    /// process of the sandbox is born inside all of its cgroups.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.leaves
            .iter()
            .map(|leaf| leaf.dir.join("cgroup.procs"))
            .collect()
    }

    /// The directory through which `controller` is enforced for this sandbox, if it is.
    pub fn dir(&self, controller: Controller) -> Option<&Path> {
        self.leaf(controller).map(|leaf| leaf.dir.as_path())
    }

    /// Processes currently in the sandbox (in any of its cgroups), sorted.
    pub fn pids(&self) -> Result<Vec<u32>, CgroupError> {
        let mut pids = Vec::new();
        for leaf in &self.leaves {
            let listed = fsops::pids_in(&leaf.dir).map_err(|e| {
                CgroupError::io(format!("listing processes of {}", leaf.dir.display()), e)
            })?;
            pids.extend(listed);
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// How many processes the kernel's OOM killer has killed in this sandbox so far; `None`
    /// when memory is not enforced or this kernel does not count OOM kills. Poll it: an
    /// increase means the sandbox ran out of memory.
    pub fn oom_kills(&self) -> Result<Option<u64>, CgroupError> {
        let Some(leaf) = self.leaf(Controller::Memory) else {
            return Ok(None);
        };
        if !leaf.features.oom_kill_count {
            return Ok(None);
        }
        let file = match leaf.version {
            CgroupVersion::V2 => "memory.events",
            CgroupVersion::V1 => "memory.oom_control",
        };
        let text = read_in(&leaf.dir, file)?;
        Ok(keyed_value(&text, "oom_kill"))
    }

    /// The most memory the sandbox has used at once, in bytes; `None` when memory is not
    /// enforced or the kernel does not track it (cgroup v2 before Linux 5.19).
    pub fn memory_peak(&self) -> Result<Option<u64>, CgroupError> {
        let Some(leaf) = self.leaf(Controller::Memory) else {
            return Ok(None);
        };
        if !leaf.features.memory_peak {
            return Ok(None);
        }
        let file = match leaf.version {
            CgroupVersion::V2 => "memory.peak",
            CgroupVersion::V1 => "memory.max_usage_in_bytes",
        };
        Ok(read_in(&leaf.dir, file)?.trim().parse().ok())
    }

    /// Kills every process of the sandbox and returns once none is left in its cgroups
    /// (`cgroup.kill` where the kernel has it, else `SIGKILL` to each, round after round).
    /// Killed children of the caller remain zombies until the caller reaps them; they no
    /// longer count as members of the cgroup.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        fsops::kill_all(&self.kill_targets(), KILL_TIMEOUT)
    }

    /// Kills everything in the sandbox and removes its cgroups (retrying `rmdir` briefly
    /// while the kernel tears the processes down).
    pub fn remove(mut self) -> Result<(), CgroupError> {
        self.kill_all()?;
        for leaf in &self.leaves {
            fsops::remove_dir(&leaf.dir, REMOVE_TIMEOUT)?;
        }
        self.removed = true;
        Ok(())
    }

    fn leaf(&self, controller: Controller) -> Option<&Leaf> {
        self.leaves
            .iter()
            .find(|leaf| leaf.controllers.contains(&controller))
    }

    fn kill_targets(&self) -> Vec<KillTarget> {
        self.leaves
            .iter()
            .map(|leaf| KillTarget {
                dir: leaf.dir.clone(),
                cgroup_kill: leaf.features.cgroup_kill,
            })
            .collect()
    }

    /// Removes the directories of a half-created cgroup (no process has joined it yet).
    fn discard(&mut self) {
        for leaf in &self.leaves {
            let _ = std::fs::remove_dir(&leaf.dir);
        }
        self.removed = true;
    }
}

impl Drop for SandboxCgroup {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let removed = fsops::kill_all(&self.kill_targets(), DROP_TIMEOUT).and_then(|()| {
            self.leaves
                .iter()
                .try_for_each(|leaf| fsops::remove_dir(&leaf.dir, DROP_TIMEOUT))
        });
        if let Err(e) = removed {
            tracing::debug!(name = %self.name, error = %e, "sandbox cgroup left for the provider's sweep");
        }
    }
}

fn write_limits(
    hierarchy: &super::hierarchy::Hierarchy,
    dir: &Path,
    limits: &CgroupLimits,
) -> Result<(), CgroupError> {
    if hierarchy.cpuset {
        inherit_cpuset(dir)
            .map_err(|e| CgroupError::io(format!("setting up cpuset in {}", dir.display()), e))?;
    }
    for controller in &hierarchy.controllers {
        for (file, value) in
            limit_writes(hierarchy.version, *controller, &hierarchy.features, limits)
        {
            fsops::write(&dir.join(file), &value).map_err(|e| {
                CgroupError::io(format!("writing {value:?} to {}/{file}", dir.display()), e)
            })?;
        }
    }
    Ok(())
}

fn read_in(dir: &Path, file: &str) -> Result<String, CgroupError> {
    fsops::read(&dir.join(file))
        .map_err(|e| CgroupError::io(format!("reading {}/{file}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "sess_01-abc", &"x".repeat(64)] {
            assert!(validate_cgroup_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "..",
            "a/b",
            "memory.max",
            "-x",
            "a b",
            &"x".repeat(65),
            "é",
        ] {
            assert!(
                matches!(
                    validate_cgroup_name(bad),
                    Err(CgroupError::InvalidName { .. })
                ),
                "{bad}"
            );
        }
    }
}
