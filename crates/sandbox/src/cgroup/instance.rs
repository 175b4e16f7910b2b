//! Naming of a provider's directory (`<pidns>-<pid>-<starttime>-<random>`) and the sweep of
//! directories whose owner is gone.
//!
//! Many providers may share one base directory: several in one process (tests), several
//! runtimes on one host. The random part keeps names of one process apart; pid namespace,
//! pid and the process's start time (in clock ticks since boot, from `/proc/<pid>/stat`) say
//! who owns a directory, and whether that owner still lives: a reused pid has another start
//! time. A directory is swept only when its owner is provably gone, so a live runtime's
//! directories are never touched; directories of another pid namespace, or with names of
//! another form, are left alone.

use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use super::fsops::{self, KillTarget};

/// How long the sweep waits for one stale sandbox's processes to die.
const SWEEP_KILL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `rmdir` of one stale cgroup is retried.
const SWEEP_RMDIR_TIMEOUT: Duration = Duration::from_secs(1);

/// Who created a provider directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    /// Inode of the owner's pid namespace (`/proc/self/ns/pid` -> `pid:[N]`).
    pub pid_ns: u64,
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat`.
    pub start_time: u64,
}

impl Owner {
    /// This process.
    pub(crate) fn current() -> io::Result<Self> {
        let pid = std::process::id();
        Ok(Self {
            pid_ns: current_pid_ns()?,
            pid,
            start_time: start_time(pid)?.ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/self/stat")
            })?,
        })
    }

    /// A fresh directory name for a provider of this owner.
    pub(crate) fn new_instance_name(&self) -> io::Result<String> {
        let mut random = [0u8; 4];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut random)?;
        Ok(format!(
            "{}-{}-{}-{}",
            self.pid_ns,
            self.pid,
            self.start_time,
            hex::encode(random)
        ))
    }
}

/// The owner named by a provider directory's name, if it has the form above.
pub(crate) fn parse_instance_name(name: &str) -> Option<Owner> {
    let mut parts = name.split('-');
    let pid_ns = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    let start_time = parts.next()?.parse().ok()?;
    let random = parts.next()?;
    let well_formed = random.len() == 8
        && random.bytes().all(|b| b.is_ascii_hexdigit())
        && parts.next().is_none();
    well_formed.then_some(Owner {
        pid_ns,
        pid,
        start_time,
    })
}

/// Whether `owner` is provably gone, seen from a process in pid namespace `our_pid_ns`.
pub(crate) fn is_gone(owner: &Owner, our_pid_ns: u64) -> bool {
    if owner.pid_ns != our_pid_ns {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{}/stat", owner.pid)) {
        Err(e) => e.kind() == io::ErrorKind::NotFound,
        Ok(stat) => match (stat_field(&stat, 3), stat_start_time(&stat)) {
            // A zombie has crashed; only its parent's reaping is missing.
            (Some("Z" | "X"), _) => true,
            (_, Some(start)) => start != owner.start_time,
            (_, None) => false,
        },
    }
}

/// Removes every stale provider directory in `base`: kills what each of its sandbox cgroups
/// still holds, removes them, then the provider directory. Returns the directories removed.
pub(crate) fn sweep_stale(base: &Path, our_pid_ns: u64, cgroup_kill: bool) -> Vec<String> {
    let mut swept = Vec::new();
    let Ok(dirs) = fsops::child_dirs(base) else {
        return swept;
    };
    for dir in dirs {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(owner) = parse_instance_name(name) else {
            continue;
        };
        if !is_gone(&owner, our_pid_ns) {
            continue;
        }
        match remove_provider_dir(&dir, cgroup_kill) {
            Ok(()) => swept.push(dir.display().to_string()),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot sweep a stale cgroup")
            }
        }
    }
    swept
}

/// Kills and removes every sandbox cgroup in the provider directory `dir`, then `dir`.
pub(crate) fn remove_provider_dir(
    dir: &Path,
    cgroup_kill: bool,
) -> Result<(), super::error::CgroupError> {
    let children = fsops::child_dirs(dir)
        .map_err(|e| super::error::CgroupError::io(format!("listing {}", dir.display()), e))?;
    for child in children {
        let target = KillTarget {
            dir: child.clone(),
            cgroup_kill,
        };
        fsops::kill_all(&[target], SWEEP_KILL_TIMEOUT)?;
        fsops::remove_dir(&child, SWEEP_RMDIR_TIMEOUT)?;
    }
    fsops::remove_dir(dir, SWEEP_RMDIR_TIMEOUT)
}

fn current_pid_ns() -> io::Result<u64> {
    let link = std::fs::read_link("/proc/self/ns/pid")?;
    let link = link.to_string_lossy();
    link.strip_prefix("pid:[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inode| inode.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("odd pid ns {link}")))
}

/// The start time of `pid`, or `None` when its stat line cannot be read.
fn start_time(pid: u32) -> io::Result<Option<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    Ok(stat_start_time(&stat))
}

/// Field `n` (1-based, as in proc(5)) of a `/proc/<pid>/stat` line, for `n >= 3`; `comm`
/// (field 2) may contain spaces and parentheses, so counting starts after its last `)`.
fn stat_field(stat: &str, n: usize) -> Option<&str> {
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(n.checked_sub(3)?)
}

fn stat_start_time(stat: &str) -> Option<u64> {
    stat_field(stat, 22)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn instance_names_round_trip_and_differ() {
        let owner = Owner::current().unwrap();
        let a = owner.new_instance_name().unwrap();
        let b = owner.new_instance_name().unwrap();
        assert_ne!(a, b);
        assert_eq!(parse_instance_name(&a), Some(owner));
        for odd in [
            "agent-runtime",
            "1-2-3",
            "1-2-3-xyz",
            "1-2-3-0123456789",
            "1-2-3-01234567-9",
            "a-2-3-01234567",
        ] {
            assert_eq!(parse_instance_name(odd), None, "{odd}");
        }
    }

    #[test]
    fn start_time_is_field_22_even_with_odd_command_names() {
        let stat = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(stat_start_time(stat), Some(987_654));
        assert_eq!(stat_field(stat, 3), Some("S"));
        assert_eq!(stat_start_time("garbage"), None);
    }

    #[test]
    fn liveness_by_pid_and_start_time() {
        let me = Owner::current().unwrap();
        assert!(!is_gone(&me, me.pid_ns));
        // Same pid, another start time: the pid was reused, the owner is gone.
        let reused = Owner {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(is_gone(&reused, me.pid_ns));
        // Another pid namespace: not ours to judge.
        assert!(!is_gone(&reused, me.pid_ns + 1));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = Owner {
            pid: child.id(),
            ..me
        };
        child.wait().unwrap();
        assert!(is_gone(&dead, me.pid_ns));
    }
}
