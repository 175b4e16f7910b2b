//! `launch`: the host side. Joins cgroups, sets rlimits, opens the seccomp program as fd 3,
//! drops privileges, then execs its program (bubblewrap) in place, keeping its pid.
//!
//! The order matters: cgroups are joined while the launcher may still write `cgroup.procs`
//! (root); rlimits are set before the uid changes (an unprivileged process may only lower them,
//! and these are final); the seccomp file is opened while it is still readable; the uid changes
//! last, dropping every capability with it.

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use rustix::fs::{Mode, OFlags};
use rustix::process::{Resource, Rlimit as SysRlimit};
use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};

use super::args::{LaunchArgs, RlimitKind};
use super::HelperError;

/// The fd bubblewrap's `--seccomp` reads the program from. A freshly started process has only
/// 0, 1 and 2 open (the runtime opens everything else close-on-exec), so the first file opened
/// gets 3; the launcher checks that it did.
pub const SECCOMP_FD: i32 = 3;

/// Prepares the process and execs `command`; returns only the error that stopped it.
pub(crate) fn launch(args: &LaunchArgs, command: &[OsString]) -> HelperError {
    match prepare_and_exec(args, command) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn prepare_and_exec(
    args: &LaunchArgs,
    command: &[OsString],
) -> Result<std::convert::Infallible, HelperError> {
    let pid = std::process::id().to_string();
    for procs in &args.cgroup_procs {
        std::fs::write(procs, &pid)
            .map_err(|e| HelperError::io(format!("joining cgroup {}", procs.display()), &e))?;
    }
    for limit in &args.rlimits {
        let value = SysRlimit {
            current: Some(limit.value),
            maximum: Some(limit.value),
        };
        rustix::process::setrlimit(resource(limit.kind), value).map_err(|e| {
            HelperError::io(
                format!("setting rlimit {}", limit.kind.name()),
                &std::io::Error::from(e),
            )
        })?;
    }
    // Held open (not close-on-exec) across the exec below; bubblewrap reads it.
    let _seccomp = match &args.seccomp {
        Some(path) => {
            let fd = rustix::fs::open(path, OFlags::RDONLY, Mode::empty()).map_err(|e| {
                HelperError::io(
                    format!("opening {}", path.display()),
                    &std::io::Error::from(e),
                )
            })?;
            if fd.as_raw_fd() != SECCOMP_FD {
                return Err(HelperError::usage(format!(
                    "the seccomp program got fd {} instead of {SECCOMP_FD}: the launcher \
                     inherited open file descriptors",
                    fd.as_raw_fd()
                )));
            }
            Some(fd)
        }
        None => None,
    };
    if let Some((uid, gid)) = args.user {
        drop_privileges(uid, gid)?;
    }
    let (program, rest) = command
        .split_first()
        .ok_or_else(|| HelperError::usage("missing PROGRAM"))?;
    let error = Command::new(program).args(rest).exec();
    Err(HelperError::exec(program, &error))
}

/// Switches to `uid`/`gid` with no supplementary groups. The launcher is single-threaded, so
/// the per-thread system calls change the whole process.
fn drop_privileges(uid: u32, gid: u32) -> Result<(), HelperError> {
    let failed = |what: &str, e: rustix::io::Errno| HelperError::io(what, &std::io::Error::from(e));
    set_thread_groups(&[]).map_err(|e| failed("dropping supplementary groups", e))?;
    let gid = rustix::process::Gid::from_raw(gid);
    set_thread_res_gid(gid, gid, gid).map_err(|e| failed("switching gid", e))?;
    let uid = rustix::process::Uid::from_raw(uid);
    set_thread_res_uid(uid, uid, uid).map_err(|e| failed("switching uid", e))?;
    // Fail closed: never exec the sandbox with privileges left.
    if rustix::process::geteuid() != uid || rustix::process::getegid() != gid {
        return Err(HelperError::usage("the uid/gid switch did not take effect"));
    }
    Ok(())
}

fn resource(kind: RlimitKind) -> Resource {
    match kind {
        RlimitKind::Nofile => Resource::Nofile,
        RlimitKind::Nproc => Resource::Nproc,
        RlimitKind::Core => Resource::Core,
        RlimitKind::Fsize => Resource::Fsize,
    }
}
