//! Resource limits as another launch-spec transform: `prlimit --nofile=N ... -- INNER`.
//!
//! Setting rlimits in the child between fork and exec needs `pre_exec`, which is `unsafe`, and
//! `unsafe_code` is forbidden in this workspace. util-linux's `prlimit` does the same from the
//! outside: it sets the limits on itself and then executes the rest of the command line, so
//! bwrap and everything in the sandbox inherit them. When the host has no `prlimit`, limits are
//! skipped with a warning (see the local provider). cgroups, where available, are the stronger
//! tool for memory and CPU and are left to the deployment.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::launch_spec::LaunchSpec;

/// Per-process limits; each one sets soft and hard limit to the same value, so the agent cannot
/// raise it again. `None` keeps the limit inherited from the runtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLimits {
    /// `RLIMIT_NOFILE`: open file descriptors per process.
    pub nofile: Option<u64>,
    /// `RLIMIT_NPROC`: processes of the sandbox's **host** uid, counted across every sandbox
    /// that shares that host uid. The kernel never applies it to processes whose host uid is 0,
    /// so it has no effect with [`crate::HostUser::Runtime`] under a root runtime.
    pub nproc: Option<u64>,
    /// `RLIMIT_CORE`: core dump size; 0 keeps agents from littering the workspace with cores.
    pub core: Option<u64>,
}

impl ResourceLimits {
    /// No core dumps; everything else inherited.
    pub const NO_CORE_DUMPS: Self = Self {
        nofile: None,
        nproc: None,
        core: Some(0),
    };

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.nofile.is_none() && self.nproc.is_none() && self.core.is_none()
    }
}

/// Wraps `inner` in `prlimit` applying `limits`; returns `inner` unchanged when no limit is set.
/// The environment and working directory are those of `inner` (prlimit keeps both).
pub fn rlimit_launch_spec(
    prlimit: &Path,
    limits: &ResourceLimits,
    inner: LaunchSpec,
) -> LaunchSpec {
    if limits.is_empty() {
        return inner;
    }
    let mut args = Vec::new();
    let named = [
        ("nofile", limits.nofile),
        ("nproc", limits.nproc),
        ("core", limits.core),
    ];
    for (name, value) in named {
        if let Some(value) = value {
            args.push(format!("--{name}={value}"));
        }
    }
    args.push("--".to_owned());
    args.push(inner.program);
    args.extend(inner.args);
    LaunchSpec {
        program: prlimit.to_string_lossy().into_owned(),
        args,
        env: inner.env,
        cwd: inner.cwd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn bwrap() -> LaunchSpec {
        LaunchSpec::new("/usr/bin/bwrap")
            .args(["--", "sh"])
            .env("A", "1")
            .cwd("/")
    }

    #[test]
    fn wraps_in_prlimit() {
        let limits = ResourceLimits {
            nofile: Some(4096),
            nproc: Some(512),
            core: Some(0),
        };
        let spec = rlimit_launch_spec(Path::new("/usr/bin/prlimit"), &limits, bwrap());
        assert_eq!(
            spec,
            LaunchSpec::new("/usr/bin/prlimit")
                .args([
                    "--nofile=4096",
                    "--nproc=512",
                    "--core=0",
                    "--",
                    "/usr/bin/bwrap",
                    "--",
                    "sh"
                ])
                .env("A", "1")
                .cwd("/")
        );
    }

    #[test]
    fn no_limits_no_wrapper() {
        let spec = rlimit_launch_spec(
            Path::new("/usr/bin/prlimit"),
            &ResourceLimits::default(),
            bwrap(),
        );
        assert_eq!(spec, bwrap());
    }
}
