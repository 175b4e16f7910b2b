//! What tests need to start a stand-in: the container init binary and a local sandbox
//! configuration like the runtime's tests use.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use agent_runtime_sandbox::{
    ensure_bwrap, BwrapProbe, HelperProgram, HostLayout, HostUser, LocalSandboxConfig,
};

use super::error::ModalError;
use agent_runtime_testkit::sandbox_helper::{build_workspace_binary, sandbox_helper_binary};

const BINARY: &str = "agent-runtime-modal-container";

/// The path of a freshly built `agent-runtime-modal-container`, built by cargo into the
/// running test's target directory once per process (like [`sandbox_helper_binary`]). Panics
/// (it is for tests) with the reason when it cannot be built.
pub fn modal_container_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_workspace_binary(BINARY)).clone()
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

/// A stand-in as tests start one: its sandboxes under `root_dir` (see
/// [`local_sandbox_config`]), the agent tools from `tools_dir`, the container init built by
/// cargo ([`modal_container_binary`]), a fresh token pair.
pub async fn start_test_standin(
    root_dir: &Path,
    tools_dir: &Path,
) -> Result<super::ModalStandIn, ModalError> {
    let sandbox = local_sandbox_config(root_dir, tools_dir).await?;
    let binary = tokio::task::spawn_blocking(modal_container_binary)
        .await
        .map_err(|e| ModalError::Prepare {
            path: PathBuf::from(BINARY),
            source: std::io::Error::other(e),
        })?;
    super::ModalStandIn::start(super::ModalStandInConfig::new(sandbox, binary)).await
}
