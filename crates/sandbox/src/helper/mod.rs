//! The sandbox helper: one small program the local provider runs on both sides of a sandbox.
//!
//! - **`launch`**, on the host, started by the runtime (usually as root): joins the sandbox's
//!   cgroups, sets its rlimits, opens the seccomp program as fd 3 for bubblewrap, drops to the
//!   sandbox's own host uid, and execs bubblewrap. Doing this in a process of its own, rather
//!   than between fork and exec of the runtime (which needs `unsafe` `pre_exec` code), means every
//!   process of the sandbox is born inside its limits: nothing runs before they hold.
//! - **`init`**, inside the sandbox, as bubblewrap's command: binds the loopback bridges of the
//!   sandbox's private network namespace (e.g. `127.0.0.1:3128` relayed to the egress proxy's
//!   unix socket, bound into the sandbox) *before* the agent starts, so its first request finds
//!   the proxy listening; then runs the agent's program and relays connections until it exits,
//!   exiting with its status.
//!
//! Both modes are plain data ([`LaunchArgs`], [`InitArgs`]) with a pure round trip to argv, so the
//! launch-spec transforms that use them ([`launch_spec`], [`init_spec`]) are tested by asserting
//! the whole argv. The program itself is any binary that calls [`main`] with its arguments: the
//! crate's own `agent-runtime-sandbox-helper`, or the server binary behind a subcommand
//! ([`HelperProgram::prefix_args`]).
//!
//! Exit codes of the helper itself follow `env(1)`: 125 when the helper fails, 126 when the
//! program cannot be run, 127 when it does not exist; otherwise the program's own code, or
//! `128 + N` when signal `N` killed it.

mod args;
mod init;
mod launch;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

pub use args::{Bridge, InitArgs, LaunchArgs, Rlimit, RlimitKind};
pub use launch::SECCOMP_FD;

use crate::launch_spec::LaunchSpec;

/// Where the helper is mounted inside a sandbox (read-only).
pub const HELPER_INSIDE: &str = "/opt/agent-runtime/sandbox-helper";

/// Exit code when the helper itself fails.
pub const EXIT_HELPER_FAILED: u8 = 125;
/// Exit code when the program exists but cannot be run.
pub const EXIT_CANNOT_RUN: u8 = 126;
/// Exit code when the program does not exist.
pub const EXIT_NOT_FOUND: u8 = 127;

/// How to run the helper: a binary and the arguments that select the helper in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelperProgram {
    /// The binary on the host (mounted at [`HELPER_INSIDE`] in every sandbox).
    pub path: PathBuf,
    /// Arguments before `launch`/`init`, e.g. `["sandbox-helper"]` for a multi-call binary.
    pub prefix_args: Vec<String>,
}

impl HelperProgram {
    /// A binary whose first argument is the mode (`agent-runtime-sandbox-helper`).
    pub fn standalone(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            prefix_args: Vec::new(),
        }
    }

    /// A multi-call binary that runs the helper behind `subcommand`.
    pub fn subcommand(path: impl Into<PathBuf>, subcommand: &str) -> Self {
        Self {
            path: path.into(),
            prefix_args: vec![subcommand.to_owned()],
        }
    }
}

/// Wraps `inner` (a host command line, usually bubblewrap) in the helper's `launch` mode. The
/// environment and working directory are those of `inner`: the helper execs `inner.program`
/// with the environment it was started with.
pub fn launch_spec(helper: &HelperProgram, args: &LaunchArgs, inner: LaunchSpec) -> LaunchSpec {
    let program = helper.path.to_string_lossy().into_owned();
    wrap(
        program,
        &helper.prefix_args,
        "launch",
        args.to_args(),
        inner,
    )
}

/// Wraps `inner` (the program to run inside a sandbox) in the helper's `init` mode, run from
/// [`HELPER_INSIDE`]. `prefix_args` are those of the [`HelperProgram`] mounted there.
pub fn init_spec(prefix_args: &[String], args: &InitArgs, inner: LaunchSpec) -> LaunchSpec {
    wrap(
        HELPER_INSIDE.to_owned(),
        prefix_args,
        "init",
        args.to_args(),
        inner,
    )
}

/// `program PREFIX... MODE OPTIONS... -- INNER...`, with `inner`'s environment and directory.
fn wrap(
    program: String,
    prefix_args: &[String],
    mode: &str,
    options: Vec<String>,
    inner: LaunchSpec,
) -> LaunchSpec {
    let mut args = prefix_args.to_vec();
    args.push(mode.to_owned());
    args.extend(options);
    args.push("--".to_owned());
    args.push(inner.program);
    args.extend(inner.args);
    LaunchSpec {
        program,
        args,
        env: inner.env,
        cwd: inner.cwd,
    }
}

/// The helper program: `args` are its arguments after those that selected it, starting with the
/// mode (`launch ...` or `init ...`). Returns only on failure in `launch` mode (which otherwise
/// becomes its program); `init` returns the program's status.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    let result: Result<ExitCode, HelperError> = match args.first().and_then(|mode| mode.to_str()) {
        Some("launch") => match LaunchArgs::parse(&args[1..]) {
            Ok((launch, command)) => Err(launch::launch(&launch, &command)),
            Err(e) => Err(e),
        },
        Some("init") => {
            InitArgs::parse(&args[1..]).and_then(|(init, command)| init::init(&init, &command))
        }
        _ => Err(HelperError::usage(
            "usage: launch [OPTIONS] -- PROGRAM [ARGS...] | init [OPTIONS] -- PROGRAM [ARGS...]",
        )),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // The helper runs outside tracing (before bubblewrap, or as the sandbox's init);
            // stderr is the agent process's stderr, which the runtime reads.
            eprintln!("agent-runtime-sandbox-helper: {}", e.message);
            ExitCode::from(e.exit_code)
        }
    }
}

/// Why the helper gave up, and the exit code that says so.
#[derive(Debug)]
pub(crate) struct HelperError {
    pub(crate) message: String,
    pub(crate) exit_code: u8,
}

impl HelperError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: EXIT_HELPER_FAILED,
        }
    }

    pub(crate) fn io(context: impl std::fmt::Display, error: &std::io::Error) -> Self {
        Self {
            message: format!("{context}: {error}"),
            exit_code: EXIT_HELPER_FAILED,
        }
    }

    /// The program could not be started: 127 when it does not exist, else 126.
    pub(crate) fn exec(program: &std::ffi::OsStr, error: &std::io::Error) -> Self {
        let exit_code = if error.kind() == std::io::ErrorKind::NotFound {
            EXIT_NOT_FOUND
        } else {
            EXIT_CANNOT_RUN
        };
        Self {
            message: format!("cannot run {}: {error}", program.to_string_lossy()),
            exit_code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn launch_wraps_the_whole_command_line() {
        let helper = HelperProgram::subcommand("/usr/bin/agent-runtime", "sandbox-helper");
        let args = LaunchArgs {
            cgroup_procs: vec!["/sys/fs/cgroup/pids/x/cgroup.procs".into()],
            rlimits: vec![Rlimit::new(RlimitKind::Fsize, 1024)],
            user: Some((600_001, 600_001)),
            seccomp: Some("/var/lib/ar/sandboxes/.seccomp.bpf".into()),
        };
        let inner = LaunchSpec::new("/usr/bin/bwrap")
            .args(["--seccomp", "3", "--", "sh"])
            .env("A", "1")
            .cwd("/");
        assert_eq!(
            launch_spec(&helper, &args, inner),
            LaunchSpec::new("/usr/bin/agent-runtime")
                .args([
                    "sandbox-helper",
                    "launch",
                    "--cgroup-procs",
                    "/sys/fs/cgroup/pids/x/cgroup.procs",
                    "--rlimit",
                    "fsize=1024",
                    "--user",
                    "600001:600001",
                    "--seccomp",
                    "/var/lib/ar/sandboxes/.seccomp.bpf",
                    "--",
                    "/usr/bin/bwrap",
                    "--seccomp",
                    "3",
                    "--",
                    "sh",
                ])
                .env("A", "1")
                .cwd("/")
        );
    }

    #[test]
    fn init_runs_from_the_mounted_helper() {
        let args = InitArgs {
            bridges: vec![Bridge {
                port: 3128,
                socket: "/run/agent-runtime/egress.sock".into(),
            }],
        };
        let inner = LaunchSpec::new("claude")
            .args(["-p", "--", "-x"])
            .env("HOME", "/home/agent")
            .cwd("/workspace");
        assert_eq!(
            init_spec(&[], &args, inner),
            LaunchSpec::new(HELPER_INSIDE)
                .args([
                    "init",
                    "--bridge",
                    "3128=/run/agent-runtime/egress.sock",
                    "--",
                    "claude",
                    "-p",
                    "--",
                    "-x",
                ])
                .env("HOME", "/home/agent")
                .cwd("/workspace")
        );
    }

    #[test]
    fn unknown_modes_fail_with_the_helper_code() {
        assert_eq!(
            main([OsString::from("nope")]),
            ExitCode::from(EXIT_HELPER_FAILED)
        );
        assert_eq!(
            main(Vec::<OsString>::new()),
            ExitCode::from(EXIT_HELPER_FAILED)
        );
    }
}
