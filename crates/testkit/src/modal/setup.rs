//! What tests need to start a stand-in: the container init binary and a local sandbox
//! configuration like the runtime's tests use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use agent_runtime_sandbox::{
    ensure_bwrap, BwrapProbe, HelperProgram, HostLayout, HostUser, LocalSandboxConfig,
};

use super::error::ModalError;
use crate::sandbox_helper::sandbox_helper_binary;

const PACKAGE: &str = "agent-runtime-testkit";
const BINARY: &str = "agent-runtime-modal-container";

/// The path of a freshly built `agent-runtime-modal-container`, built by cargo into the
/// running test's target directory once per process (like [`sandbox_helper_binary`]). Panics
/// (it is for tests) with the reason when it cannot be built.
pub fn modal_container_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build).clone()
}

fn build() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary is in <target>/<profile>/deps")
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .expect("<target>/<profile>")
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "-p",
            PACKAGE,
            "--bin",
            BINARY,
            "--target-dir",
        ])
        .arg(&target_dir);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        command.arg("--release");
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {BINARY}: {e}"));
    assert!(status.success(), "building {BINARY} failed: {status}");
    let binary = profile_dir.join(BINARY);
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

/// A local sandbox config with sandboxes under `root_dir` and the agent tools from
/// `tools_dir`: bubblewrap from `PATH` (checked, never installed), this host's layout, the
/// sandbox helper built for tests, the recommended host user.
pub async fn local_sandbox_config(
    root_dir: &Path,
    tools_dir: &Path,
) -> Result<LocalSandboxConfig, ModalError> {
    let probe = BwrapProbe {
        path_env: std::env::var_os("PATH"),
        allow_install: false,
        run_as: HostUser::recommended(),
    };
    let bwrap = ensure_bwrap(&probe).await?;
    let helper = tokio::task::spawn_blocking(sandbox_helper_binary)
        .await
        .map_err(|e| ModalError::Prepare {
            path: PathBuf::from("agent-runtime-sandbox-helper"),
            source: std::io::Error::other(e),
        })?;
    Ok(LocalSandboxConfig::new(
        root_dir,
        tools_dir,
        &bwrap,
        HostLayout::discover(),
        HelperProgram::standalone(helper),
    ))
}
