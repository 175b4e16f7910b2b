//! The Modal stand-in driven by Modal's own Python client (`modal==1.6.4`, unmodified) in a
//! venv `scripts/modal-proto` creates under the target dir; the same script first proves that
//! the descriptors `agent-runtime-modal-proto` is generated from are the package's.

// Helpers outside `#[test]` functions may panic too: this is a test binary.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use agent_runtime_modal_proto::client::generic_result::GenericStatus;
use agent_runtime_modal_proto::client::network_access::NetworkAccessType;
use agent_runtime_modal_standin::{
    local_sandbox_config, modal_container_binary, ModalStandIn, ModalStandInConfig, SandboxPhase,
};
use pretty_assertions::assert_eq;
use serde_json::json;

/// Upper bound for the Python script (it takes a few seconds; installing the venv is before).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tools_dir() -> PathBuf {
    std::env::var_os("AGENT_RUNTIME_TEST_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/agent-tools"))
}

/// Runs `scripts/modal-proto` with `arg`; fails the test (never skips) when it fails.
async fn modal_proto(arg: &str) -> String {
    let output = tokio::process::Command::new(workspace().join("scripts/modal-proto"))
        .arg(arg)
        .stderr(Stdio::inherit())
        .output()
        .await
        .expect("scripts/modal-proto runs");
    assert!(output.status.success(), "scripts/modal-proto {arg} failed");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modals_python_client_drives_the_stand_in() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_test_writer()
        .try_init();
    modal_proto("--check").await;
    let python = modal_proto("--venv").await;
    let data = tempfile::Builder::new().prefix("mdl-").tempdir().unwrap();
    let sandboxes = data.path().join("sandboxes");
    let config = local_sandbox_config(&sandboxes, &tools_dir())
        .await
        .unwrap();
    let binary = tokio::task::spawn_blocking(modal_container_binary)
        .await
        .unwrap();
    let stand_in = ModalStandIn::start(ModalStandInConfig::new(config, binary))
        .await
        .unwrap();
    let home = data.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modal_faithfulness.py");
    let run = tokio::process::Command::new(&python)
        .arg(&script)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("MODAL_CONFIG_PATH", home.join("no-modal.toml"))
        .env("MODAL_SERVER_URL", stand_in.url())
        .env("MODAL_TOKEN_ID", stand_in.token_id())
        .env("MODAL_TOKEN_SECRET", stand_in.token_secret())
        // Modal 1.6 creates V2 sandboxes by default; the stand-in serves V1 (see its docs).
        .env("MODAL_SANDBOX_V2", "0")
        .kill_on_drop(true)
        .output();
    let t = std::time::Instant::now();
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .expect("the Python script finishes in time")
        .unwrap();
    eprintln!("script took {:?}", t.elapsed());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the script failed:\n{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });

    let records = stand_in.sandboxes();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(
        result,
        json!({
            "app_id": record.app_id,
            "sandbox_id": record.id,
            "tags": {"owner": "faithfulness", "run": "1"},
            "exec": {"stdout": "got:hello\nsecret:s3cret-value\n", "stderr": "oops\n", "returncode": 3},
            "exec_env": "v1 x2 /tmp\n",
            "exec_env_poll": 0,
            "write_returncode": 0,
            "shared_file": "shared\n",
            "other_exec_process": "sleep",
            "listed": [true],
            "listed_wrong_tag": [],
            "poll_running": null,
            "returncode_after_terminate": 137,
            "poll_after_terminate": 137,
            "listed_after_terminate": [],
            "exec_after_terminate": "NotFoundError",
        }),
        "stderr of the script:\n{stderr}"
    );

    let definition = record.request.definition.clone().unwrap();
    assert_eq!(
        (
            definition.entrypoint_args.clone(),
            definition.timeout_secs,
            // `block_network=True` travels as a network access of type BLOCKED.
            definition
                .network_access
                .as_ref()
                .map(|n| n.network_access_type),
            definition.secret_ids.len(),
        ),
        (
            vec!["sleep".to_owned(), "infinity".to_owned()],
            120,
            Some(NetworkAccessType::Blocked as i32),
            1
        )
    );
    assert_eq!(
        record.phase,
        SandboxPhase::Finished(agent_runtime_modal_proto::client::GenericResult {
            status: GenericStatus::Terminated as i32,
            ..Default::default()
        })
    );
    let images = stand_in.images();
    let layer = images
        .iter()
        .find(|i| i.id == definition.image_id)
        .expect("the sandbox's image was recorded");
    assert_eq!(
        layer.image.dockerfile_commands,
        vec![
            "FROM base".to_owned(),
            "RUN npm install -g @anthropic-ai/claude-code@2.0.0".to_owned()
        ]
    );

    stand_in.shutdown().await;
    let left: Vec<_> = std::fs::read_dir(&sandboxes)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| !name.to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(
        left,
        Vec::<std::ffi::OsString>::new(),
        "no sandbox dirs are left"
    );
}
