//! The Modal stand-in (`agent_runtime_modal_standin`) for end-to-end tests: one shared by every
//! test of this binary that only needs Modal to work (the matrix), on a thread and runtime of
//! its own so it outlives each test's runtime, and fresh ones for tests that break things.

use std::sync::OnceLock;

use agent_runtime_modal_standin::{start_test_standin, ModalStandIn};
use agent_runtime_protocol::SandboxProviderKind;
use agent_runtime_server::config::ServerConfig;
use agent_runtime_server::config_placement::{ModalSettings, PlacementConfig};

use super::agent::tools_dir;

/// A stand-in that lives as long as the test process.
pub struct SharedStandIn {
    pub standin: ModalStandIn,
    _dir: tempfile::TempDir,
}

/// The shared stand-in, started on first use.
pub fn shared_standin() -> &'static SharedStandIn {
    static SHARED: OnceLock<SharedStandIn> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("modal-stand-in".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the Modal stand-in");
                let (standin, dir) = runtime.block_on(start_standin());
                tx.send(SharedStandIn { standin, _dir: dir }).ok();
                // Serve until the process exits.
                runtime.block_on(std::future::pending::<()>());
            })
            .expect("the stand-in's thread");
        rx.recv().expect("the Modal stand-in started")
    })
}

/// A fresh stand-in on the caller's runtime, with the directory its sandboxes live in.
pub async fn start_standin() -> (ModalStandIn, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a dir for the stand-in's sandboxes");
    // Like /var/lib/agent-runtime: searchable, so sandbox host uids reach their directories.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .expect("chmod");
    let standin = start_test_standin(&dir.path().join("sandboxes"), &tools_dir())
        .await
        .expect("the Modal stand-in starts");
    (standin, dir)
}

/// Points `config` at `standin` and makes Modal the default place for sandboxes.
pub fn use_modal(config: &mut ServerConfig, standin: &ModalStandIn) {
    config.placement = PlacementConfig {
        default: SandboxProviderKind::Modal,
        modal: Some(ModalSettings {
            server_url: standin.url(),
            token_id: standin.token_id().to_owned(),
            token_secret: standin.token_secret().to_owned(),
            environment: None,
            app: "agent-runtime-tests".into(),
            image: "node:22-slim".into(),
        }),
        ..config.placement.clone()
    };
}
