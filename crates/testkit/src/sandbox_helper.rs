//! The sandbox helper binary for tests of crates that run sandboxes but do not build it.
//!
//! The sandbox crate's own tests get `agent-runtime-sandbox-helper` from cargo
//! (`CARGO_BIN_EXE_*`), and the server's tests use the server binary itself; the runtime's tests
//! (and anyone else's) call [`sandbox_helper_binary`], which has cargo build it into the same
//! target directory as the running test, once per test process. Cargo holds no lock while tests
//! run, and `cargo test --workspace` has already built it, so this is a no-op check there (see
//! [`build_workspace_binary`] for why it really is).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The binary's name (in the `agent-runtime-sandbox` package).
const BINARY: &str = "agent-runtime-sandbox-helper";

/// A small test target of the workspace (the Modal container init's frame codec tests) that
/// [`build_workspace_binary`] builds along with a binary, so that cargo resolves features as
/// `cargo test --workspace` does.
const FEATURE_ANCHOR_TEST: &str = "frame_codec";

/// The path of a freshly built `agent-runtime-sandbox-helper`. Panics (it is for tests) with
/// the reason when it cannot be built.
pub fn sandbox_helper_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_workspace_binary(BINARY)).clone()
}

/// Has cargo build `binary` (of any workspace package) into the running test's target directory
/// and profile and returns its path. Panics (it is for tests) with the reason when it cannot be
/// built.
///
/// Cargo resolves features per command: `cargo build -p <package> --bin <binary>` would unify
/// them over that package's normal dependencies only, while `cargo test --workspace` unifies
/// them over every member and its dev-dependencies (tokio's `test-util`, ...), so the binary
/// and a score of its dependencies would be compiled a second time, in the middle of the test
/// run. Selecting the whole workspace and one small test target ([`FEATURE_ANCHOR_TEST`])
/// makes cargo resolve exactly as `cargo test --workspace` does: there, the binary is the one
/// cargo already built.
pub fn build_workspace_binary(binary: &str) -> PathBuf {
    // A test binary lives in <target>/<profile>/deps/.
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
            "--workspace",
            "--bin",
            binary,
            "--test",
            FEATURE_ANCHOR_TEST,
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
        .unwrap_or_else(|e| panic!("cannot run cargo to build {binary}: {e}"));
    assert!(status.success(), "building {binary} failed: {status}");
    let path = profile_dir.join(binary);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}
