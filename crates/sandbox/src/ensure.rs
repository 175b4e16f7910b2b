//! `ensure_bwrap`: find bubblewrap, prove it can create a sandbox here, and install it when it
//! is missing and installing is allowed and possible (root on Debian/Ubuntu with `apt-get`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::error::SandboxError;
use crate::launch_spec::LaunchSpec;
use crate::local::HostUser;

/// Where bwrap is looked for when it is not on the search path.
pub const FALLBACK_BWRAP: &str = "/usr/bin/bwrap";
/// How long the trial sandbox may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one package manager command may take (a slow mirror, a held dpkg lock).
const INSTALL_STEP_TIMEOUT: Duration = Duration::from_secs(600);

/// A bubblewrap that has been seen to create a sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BwrapInfo {
    pub path: PathBuf,
    /// As printed by `bwrap --version`, e.g. `"0.8.0"`.
    pub version: String,
    /// Options this build has, from `bwrap --help`.
    pub features: BwrapFeatures,
}

/// Options that not every bubblewrap build has; each one the sandbox uses where present, and the
/// server reports where it is missing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BwrapFeatures {
    /// `--disable-userns`: nothing inside can create a user namespace (bubblewrap 0.8).
    pub disable_userns: bool,
    /// `--size` before `--tmpfs`: a bounded `/tmp`.
    pub tmpfs_size: bool,
    /// `--seccomp FD`.
    pub seccomp: bool,
}

impl BwrapFeatures {
    /// The options listed in `bwrap --help` output.
    pub fn from_help(help: &str) -> Self {
        let has = |option: &str| {
            help.lines()
                .any(|line| line.split_whitespace().next() == Some(option))
        };
        Self {
            disable_userns: has("--disable-userns"),
            tmpfs_size: has("--size"),
            seccomp: has("--seccomp"),
        }
    }
}

/// How [`ensure_bwrap`] looks for bubblewrap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BwrapProbe {
    /// The `PATH` to search, read by the caller (this crate reads no environment).
    pub path_env: Option<OsString>,
    /// Whether a missing bwrap may be installed with the system package manager.
    pub allow_install: bool,
    /// The host user sandboxes will run as; the trial sandbox runs as it too, so a bwrap that
    /// works only for root is not accepted for an unprivileged host user.
    pub run_as: HostUser,
}

/// Finds bwrap (in `path_env`, then [`FALLBACK_BWRAP`]) and runs a trial sandbox with the
/// namespaces sandboxes use. If bwrap is missing, `allow_install` is set, this process is root
/// and the host is Debian-like with `apt-get`, installs the `bubblewrap` package (its output
/// goes to tracing at info level) and checks again. Otherwise fails with an error saying what
/// to do.
pub async fn ensure_bwrap(probe: &BwrapProbe) -> Result<BwrapInfo, SandboxError> {
    if let Some(path) = find_bwrap(probe.path_env.as_deref()) {
        return check_bwrap(&path, probe.run_as).await;
    }
    let facts = InstallFacts::gather(probe.path_env.as_deref());
    let plan = match plan_install(&facts) {
        Ok(plan) if probe.allow_install => plan,
        Ok(_) => {
            return Err(not_found(
                probe,
                "installing it was not allowed; run `apt-get install bubblewrap`",
            ))
        }
        Err(why) => return Err(not_found(probe, why)),
    };
    tracing::info!("bubblewrap is missing; installing it with apt-get");
    for step in &plan {
        run_install_step(step).await?;
    }
    let path = find_bwrap(probe.path_env.as_deref()).ok_or_else(|| {
        not_found(
            probe,
            "the bubblewrap package was installed but no `bwrap` binary appeared",
        )
    })?;
    check_bwrap(&path, probe.run_as).await
}

fn not_found(probe: &BwrapProbe, hint: &str) -> SandboxError {
    let mut searched: Vec<String> = search_dirs(probe.path_env.as_deref())
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    searched.push(FALLBACK_BWRAP.to_owned());
    SandboxError::BwrapNotFound {
        searched: searched.join(", "),
        hint: hint.to_owned(),
    }
}

fn search_dirs(path_env: Option<&std::ffi::OsStr>) -> Vec<PathBuf> {
    path_env
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default()
}

/// The first executable `bwrap` in `path_env`, else [`FALLBACK_BWRAP`] if executable.
pub fn find_bwrap(path_env: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    find_executable("bwrap", path_env).or_else(|| {
        let fallback = PathBuf::from(FALLBACK_BWRAP);
        is_executable(&fallback).then_some(fallback)
    })
}

fn find_executable(name: &str, path_env: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    search_dirs(path_env)
        .into_iter()
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Reads the version, then runs `bwrap --version` inside a trial sandbox.
async fn check_bwrap(path: &Path, run_as: HostUser) -> Result<BwrapInfo, SandboxError> {
    let unusable = |detail: String| SandboxError::BwrapUnusable {
        path: path.to_owned(),
        detail,
        hint: USERNS_HINT,
    };
    let version_spec = LaunchSpec::new(path.to_string_lossy()).args(["--version"]);
    let out = run_captured(&version_spec, HostUser::Runtime)
        .await
        .map_err(&unusable)?;
    let version = parse_version(&out.stdout)
        .ok_or_else(|| unusable(format!("unexpected `--version` output {:?}", out.stdout)))?;

    let help_spec = LaunchSpec::new(path.to_string_lossy()).args(["--help"]);
    let help = run_captured(&help_spec, HostUser::Runtime)
        .await
        .map_err(&unusable)?;
    let features = BwrapFeatures::from_help(&format!("{}\n{}", help.stdout, help.stderr));

    let trial = trial_spec(path);
    let out = run_captured(&trial, run_as).await.map_err(&unusable)?;
    if !out.success || parse_version(&out.stdout).is_none() {
        let stderr = out.stderr.trim();
        return Err(unusable(format!("the trial sandbox failed: {stderr}")));
    }
    tracing::debug!(path = %path.display(), %version, "bubblewrap can create sandboxes");
    Ok(BwrapInfo {
        path: path.to_owned(),
        version,
        features,
    })
}

const USERNS_HINT: &str = "bubblewrap needs user namespaces: check that \
`sysctl user.max_user_namespaces` is above 0, that `kernel.unprivileged_userns_clone` is 1 where \
it exists, that AppArmor allows bwrap (`kernel.apparmor_restrict_unprivileged_userns`, Ubuntu \
24.04+), and, in a container, that seccomp and AppArmor allow it (e.g. docker run \
--security-opt seccomp=unconfined --security-opt apparmor=unconfined)";

/// The trial sandbox: every namespace a sandbox may use, running bwrap's own `--version` so
/// that nothing else has to exist on the host.
fn trial_spec(bwrap: &Path) -> LaunchSpec {
    let bwrap = bwrap.to_string_lossy().into_owned();
    LaunchSpec::new(bwrap.clone()).args([
        "--unshare-user",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-net",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--",
        &bwrap,
        "--version",
    ])
}

/// `"bubblewrap 0.8.0\n"` gives `"0.8.0"`.
fn parse_version(stdout: &str) -> Option<String> {
    let rest = stdout.trim().strip_prefix("bubblewrap ")?;
    let version = rest.split_whitespace().next()?;
    version
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| version.to_owned())
}

struct Captured {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn run_captured(spec: &LaunchSpec, run_as: HostUser) -> Result<Captured, String> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    run_as.apply(&mut cmd);
    let output = tokio::time::timeout(PROBE_TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("`{spec}` did not finish within {PROBE_TIMEOUT:?}"))?
        .map_err(|e| format!("cannot run `{spec}`: {e}"))?;
    Ok(Captured {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// What decides whether bubblewrap can be installed here.
#[derive(Clone, Debug, PartialEq, Eq)]
struct InstallFacts {
    is_root: bool,
    apt_get: Option<PathBuf>,
    /// Contents of `/etc/os-release`.
    os_release: Option<String>,
}

impl InstallFacts {
    fn gather(path_env: Option<&std::ffi::OsStr>) -> Self {
        let apt_get = find_executable("apt-get", path_env).or_else(|| {
            let fallback = PathBuf::from("/usr/bin/apt-get");
            is_executable(&fallback).then_some(fallback)
        });
        Self {
            is_root: rustix::process::geteuid().is_root(),
            apt_get,
            os_release: std::fs::read_to_string("/etc/os-release").ok(),
        }
    }
}

/// The commands that install bubblewrap, or why it cannot be installed automatically.
fn plan_install(facts: &InstallFacts) -> Result<Vec<LaunchSpec>, &'static str> {
    let debian_like = facts.os_release.as_deref().is_some_and(|text| {
        text.lines().any(|line| {
            let Some((key, value)) = line.split_once('=') else {
                return false;
            };
            let value = value.trim_matches('"').to_ascii_lowercase();
            (key == "ID" || key == "ID_LIKE")
                && value
                    .split_whitespace()
                    .any(|id| id == "debian" || id == "ubuntu")
        })
    });
    if !debian_like {
        return Err("install the `bubblewrap` package with your system's package manager");
    }
    let Some(apt_get) = &facts.apt_get else {
        return Err("apt-get was not found; install the `bubblewrap` package");
    };
    if !facts.is_root {
        return Err(
            "ask an administrator to run `apt-get install bubblewrap` (installing needs root)",
        );
    }
    let apt = apt_get.to_string_lossy().into_owned();
    let step = |args: &[&str]| {
        LaunchSpec::new(apt.clone())
            .args(args.iter().copied())
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .cwd("/")
    };
    Ok(vec![
        step(&["update", "-q", "-o", "DPkg::Lock::Timeout=120"]),
        step(&[
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "-o",
            "DPkg::Lock::Timeout=120",
            "bubblewrap",
        ]),
    ])
}

/// Runs one package manager command, forwarding its output lines to tracing.
async fn run_install_step(step: &LaunchSpec) -> Result<(), SandboxError> {
    let failed = |detail: String| SandboxError::InstallFailed {
        command: step.to_string(),
        detail,
    };
    tracing::info!(command = %step, "installing bubblewrap");
    let mut child = Command::new(&step.program)
        .args(&step.args)
        .env_clear()
        .envs(&step.env)
        .current_dir(&step.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("could not start: {e}")))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(failed("its output pipes were not available".into()));
    };
    let forward = async {
        let mut out = BufReader::new(stdout).lines();
        let mut err = BufReader::new(stderr).lines();
        let (mut out_open, mut err_open) = (true, true);
        let mut last_err = String::new();
        while out_open || err_open {
            tokio::select! {
                line = out.next_line(), if out_open => match line {
                    Ok(Some(line)) => tracing::info!(target: "agent_runtime_sandbox::install", "{line}"),
                    _ => out_open = false,
                },
                line = err.next_line(), if err_open => match line {
                    Ok(Some(line)) => {
                        tracing::warn!(target: "agent_runtime_sandbox::install", "{line}");
                        last_err = line;
                    }
                    _ => err_open = false,
                },
            }
        }
        (child.wait().await, last_err)
    };
    let (status, last_err) = tokio::time::timeout(INSTALL_STEP_TIMEOUT, forward)
        .await
        .map_err(|_| failed(format!("did not finish within {INSTALL_STEP_TIMEOUT:?}")))?;
    let status = status.map_err(|e| failed(format!("could not be waited for: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(format!("exited with {status}: {last_err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn facts(is_root: bool, apt: bool, os: &str) -> InstallFacts {
        InstallFacts {
            is_root,
            apt_get: apt.then(|| PathBuf::from("/usr/bin/apt-get")),
            os_release: Some(os.to_owned()),
        }
    }

    #[test]
    fn install_plan_on_debian_as_root() {
        let plan = plan_install(&facts(true, true, "ID=debian\nVERSION_ID=\"12\"\n")).unwrap();
        let shown: Vec<String> = plan.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "cd / && env DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /usr/bin/apt-get update -q -o DPkg::Lock::Timeout=120",
                "cd / && env DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /usr/bin/apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 bubblewrap",
            ]
        );
    }

    #[test]
    fn install_refused_with_a_reason() {
        let ubuntu_like = "ID=pop\nID_LIKE=\"ubuntu debian\"\n";
        let outcomes: Vec<Result<usize, &str>> = [
            facts(true, true, ubuntu_like),
            facts(false, true, ubuntu_like),
            facts(true, false, ubuntu_like),
            facts(true, true, "ID=fedora\n"),
        ]
        .iter()
        .map(|f| plan_install(f).map(|p| p.len()))
        .collect();
        assert_eq!(
            outcomes,
            vec![
                Ok(2),
                Err("ask an administrator to run `apt-get install bubblewrap` (installing needs root)"),
                Err("apt-get was not found; install the `bubblewrap` package"),
                Err("install the `bubblewrap` package with your system's package manager"),
            ]
        );
    }

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("bubblewrap 0.8.0\n"),
            Some("0.8.0".to_owned())
        );
        assert_eq!(parse_version("bwrap: unknown option"), None);
    }

    #[test]
    fn features_come_from_the_help_text() {
        let help = "usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n\
            \x20   --disable-userns             Disable further use of user namespaces\n\
            \x20   --seccomp FD                 Load and use seccomp rules from FD\n\
            \x20   --size BYTES                 Set size of next argument\n";
        assert_eq!(
            BwrapFeatures::from_help(help),
            BwrapFeatures {
                disable_userns: true,
                tmpfs_size: true,
                seccomp: true
            }
        );
        let old =
            "    --seccomp FD   Load seccomp rules\n    --userns FD   Use this user namespace\n";
        assert_eq!(
            BwrapFeatures::from_help(old),
            BwrapFeatures {
                disable_userns: false,
                tmpfs_size: false,
                seccomp: true
            }
        );
    }

    #[test]
    fn search_prefers_path_then_fallback() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("bwrap");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path_env = std::env::join_paths(["relative/dir".as_ref(), dir.path()]).unwrap();
        assert_eq!(find_bwrap(Some(&path_env)), Some(fake));
    }
}
