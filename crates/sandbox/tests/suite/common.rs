use std::collections::BTreeMap;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_runtime_sandbox::{
    ensure_bwrap, BwrapInfo, BwrapProbe, HelperProgram, HostLayout, HostUser, LocalBwrapProvider,
    LocalSandboxConfig, Sandbox, SandboxProvider, SandboxRequest,
};

/// Upper bound for one whole test.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(90);
pub use agent_runtime_testkit::sandbox_run::RUN_TIMEOUT;
/// Content of the secret file next to the sandbox root, which no sandbox may see.
pub const SECRET: &str = "TOP-SECRET-runtime-data";

/// Runs a test body with [`TEST_TIMEOUT`].
pub async fn timed<F: Future<Output = ()>>(body: F) {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("test timed out");
}

/// A runtime data dir as a deployment would have it: `sandboxes/` (the provider's root),
/// `tools/` (with `bin/hello-tool`) and `secret.txt`, all in a temp dir.
pub struct Harness {
    pub data_dir: tempfile::TempDir,
    pub secret: PathBuf,
    pub provider: Arc<LocalBwrapProvider>,
}

impl Harness {
    pub async fn new(host_user: HostUser) -> Self {
        Self::with_config(host_user, |_| {}).await
    }

    pub async fn with_config(
        host_user: HostUser,
        adjust: impl FnOnce(&mut LocalSandboxConfig),
    ) -> Self {
        let bwrap = bwrap(host_user).await;
        let data_dir = tempfile::tempdir().unwrap();
        // Like /var/lib/agent-runtime: searchable, so the unprivileged host uid reaches sandboxes/.
        std::fs::set_permissions(data_dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let secret = data_dir.path().join("secret.txt");
        std::fs::write(&secret, SECRET).unwrap();
        // World-readable: only the mount namespace may keep it from the sandbox.
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let tools = data_dir.path().join("tools");
        std::fs::create_dir_all(tools.join("bin")).unwrap();
        let tool = tools.join("bin/hello-tool");
        std::fs::write(&tool, "#!/bin/sh\necho hello from the tools dir\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();

        let mut config = LocalSandboxConfig::new(
            data_dir.path().join("sandboxes"),
            tools,
            &bwrap,
            HostLayout::discover(),
            helper(),
        );
        config.host_user = host_user;
        adjust(&mut config);
        let provider = Arc::new(LocalBwrapProvider::new(config).unwrap());
        Self {
            data_dir,
            secret,
            provider,
        }
    }

    pub fn provider(&self) -> Arc<dyn SandboxProvider> {
        self.provider.clone()
    }

    /// A sandbox with no limits and no way out.
    pub async fn create(&self, id: &str) -> Arc<dyn Sandbox> {
        self.create_with(SandboxRequest::new(id)).await
    }

    pub async fn create_with(&self, req: SandboxRequest) -> Arc<dyn Sandbox> {
        self.provider.create(req).await.unwrap()
    }

    /// The host directory of a sandbox.
    pub fn host_dir(&self, id: &str) -> PathBuf {
        self.provider.config().root_dir.join(id)
    }
}

/// The Modal provider against the Modal stand-in (`agent-runtime-modal-standin`) (real gRPC; its containers are local
/// bubblewrap sandboxes with the tools dir of `Harness`).
pub struct ModalHarness {
    pub server: agent_runtime_modal_standin::ModalStandIn,
    pub provider: Arc<agent_runtime_modal::ModalProvider>,
    _data_dir: tempfile::TempDir,
}

impl ModalHarness {
    pub async fn start() -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(data_dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let tools = data_dir.path().join("tools");
        std::fs::create_dir_all(&tools).unwrap();
        let server = agent_runtime_modal_standin::start_test_standin(
            &data_dir.path().join("sandboxes"),
            &tools,
        )
        .await
        .unwrap();
        let mut config =
            agent_runtime_modal::ModalConfig::new(server.token_id(), server.token_secret());
        config.server_url = server.url();
        let provider = Arc::new(agent_runtime_modal::ModalProvider::new(config).unwrap());
        Self {
            server,
            provider,
            _data_dir: data_dir,
        }
    }

    pub fn provider(&self) -> Arc<dyn SandboxProvider> {
        self.provider.clone()
    }
}

/// This crate's own helper binary, which cargo builds for these tests.
pub fn helper() -> HelperProgram {
    HelperProgram::standalone(env!("CARGO_BIN_EXE_agent-runtime-sandbox-helper"))
}

pub async fn bwrap(run_as: HostUser) -> BwrapInfo {
    let probe = BwrapProbe {
        path_env: std::env::var_os("PATH"),
        allow_install: false,
        run_as,
    };
    match ensure_bwrap(&probe).await {
        Ok(info) => info,
        Err(e) => panic!("these tests need a working bubblewrap (apt-get install bubblewrap): {e}"),
    }
}

/// The host-user configurations to run provider tests with: the recommended one, and running
/// bwrap as the runtime's own user when that differs.
pub fn host_users() -> Vec<HostUser> {
    let mut users = vec![HostUser::recommended()];
    if !users.contains(&HostUser::Runtime) {
        users.push(HostUser::Runtime);
    }
    users
}

/// What a script run in a sandbox did.
pub use agent_runtime_testkit::sandbox_run::{run, run_spec, Ran};

/// Parses `env` output into a map.
pub fn parse_env(output: &str) -> BTreeMap<String, String> {
    output
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Host pids whose command line contains `marker`.
pub fn host_pids_with(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            pids.push(pid);
        }
    }
    pids
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
