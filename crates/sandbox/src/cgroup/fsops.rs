//! Blocking file operations on a cgroup filesystem: reading and writing control files,
//! creating and removing cgroup directories, and killing what a cgroup holds.
//!
//! Control files are written with `O_CREAT`: on a real cgroupfs that creates nothing (a
//! missing file fails with `EACCES`), and on a plain directory tree in tests it records the
//! value, so the same code runs against both.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

use super::error::CgroupError;
use super::parse::pid_list;

/// `EBUSY`: a cgroup that still holds processes (rmdir, `cgroup.subtree_control`).
pub(crate) const EBUSY: i32 = 16;
/// `ESRCH`: the process is gone.
pub(crate) const ESRCH: i32 = 3;
/// Longest pause between two rounds of killing or two `rmdir` attempts.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// Reads a control file as text.
pub(crate) fn read(path: &Path) -> io::Result<String> {
    std::fs::read_to_string(path)
}

/// Writes `value` to a control file in one `write`, as the kernel wants it.
pub(crate) fn write(path: &Path, value: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all(value.as_bytes())
}

/// Moves process `pid` into the cgroup whose `cgroup.procs` is `procs`. Appends, so a test
/// tree keeps every pid written; a real cgroupfs ignores the offset.
pub(crate) fn move_pid(procs: &Path, pid: u32) -> io::Result<()> {
    let mut file = OpenOptions::new().append(true).create(true).open(procs)?;
    file.write_all(format!("{pid}\n").as_bytes())
}

/// The processes in the cgroup at `dir`; none when the cgroup does not exist (any more).
pub(crate) fn pids_in(dir: &Path) -> io::Result<Vec<u32>> {
    match read(&dir.join("cgroup.procs")) {
        Ok(text) => Ok(pid_list(&text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Creates the cgroup `dir`; `Ok(false)` when it already exists.
pub(crate) fn make_dir(dir: &Path) -> io::Result<bool> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The child cgroups of `dir` (its subdirectories), sorted; none when `dir` is missing.
pub(crate) fn child_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Removes the (empty) cgroup `dir`, retrying while the kernel still tears down the
/// processes that were in it (`EBUSY`) until `timeout`. A missing `dir` counts as removed.
pub(crate) fn remove_dir(dir: &Path, timeout: Duration) -> Result<(), CgroupError> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_PAUSE);
            }
            Err(e) => {
                return Err(CgroupError::io(
                    format!("removing cgroup {}", dir.display()),
                    e,
                ))
            }
        }
    }
}

/// One cgroup to kill: its directory, and whether it has `cgroup.kill` (v2, Linux 5.14+).
#[derive(Clone, Debug)]
pub(crate) struct KillTarget {
    pub dir: PathBuf,
    pub cgroup_kill: bool,
}

/// Kills every process in `targets` (the directories of one sandbox in each hierarchy, so
/// the same processes) and returns once every `cgroup.procs` is empty.
///
/// With `cgroup.kill` the kernel kills the whole cgroup at once, forks in flight included.
/// Without it every listed pid gets `SIGKILL`, round after round, until none is left: a
/// process forked after a listing is caught by the next one, and a killed process forks no
/// more, so the rounds end (a pids limit keeps them few). Zombies are not listed in
/// `cgroup.procs`; reaping them is their parent's business.
pub(crate) fn kill_all(targets: &[KillTarget], timeout: Duration) -> Result<(), CgroupError> {
    for target in targets.iter().filter(|t| t.cgroup_kill) {
        match write(&target.dir.join("cgroup.kill"), "1") {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::debug!(dir = %target.dir.display(), error = %e, "cgroup.kill failed; signalling instead");
            }
        }
    }
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        let mut pids = Vec::new();
        for target in targets {
            let listed = pids_in(&target.dir).map_err(|e| {
                CgroupError::io(format!("listing processes of {}", target.dir.display()), e)
            })?;
            pids.extend(listed);
        }
        pids.sort_unstable();
        pids.dedup();
        if pids.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let dir = targets.first().map(|t| t.dir.clone()).unwrap_or_default();
            return Err(CgroupError::KillTimeout { dir, pids });
        }
        signal_kill(&pids);
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// `SIGKILL` to each pid; pids already gone are fine. Pid 0 (a process outside this pid
/// namespace, as `cgroup.procs` shows it) is never signalled: `kill(0)` means our own group.
pub(crate) fn signal_kill(pids: &[u32]) {
    for pid in pids {
        let Some(target) = i32::try_from(*pid).ok().and_then(Pid::from_raw) else {
            continue;
        };
        if let Err(e) = kill_process(target, Signal::KILL) {
            if e.raw_os_error() != ESRCH {
                tracing::debug!(pid, error = %e, "cannot kill a process of a sandbox cgroup");
            }
        }
    }
}
