//! What the sandbox's confinement costs, measured against what it replaced, in one run.
//!
//! 1. **First byte of a model response** (`time_starttransfer` of curl, median of 40): directly
//!    from the host to the model server, and from inside a sandbox through its egress proxy
//!    (127.0.0.1:3128 in the sandbox's network namespace, the helper's bridge, the runtime's
//!    proxy, its model gateway). Target: within 5 ms.
//! 2. **Cold first turn** (POST of a message to the first `text_delta` at a WebSocket client,
//!    median of 5 fresh sessions, the real Claude Code CLI against an instant scripted model):
//!    this build's `agent-runtime`, and, when `AGENT_RUNTIME_BENCH_BASELINE` names another
//!    build of it (e.g. one from before the sandbox hardening), that one too. Target: within
//!    20 ms.
//!
//! Run: `cargo bench -p agent-runtime-server --bench sandbox_overhead` (as root, with the
//! agent CLIs installed in `AGENT_RUNTIME_TEST_TOOLS_DIR`, as `scripts/test` leaves them).
//! Timing belongs here, never in a pass/fail test.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_runtime_client::{Client, WsAuth};
use agent_runtime_egress::{EgressConfig, EgressPolicy, EgressProxy, ModelGateway};
use agent_runtime_protocol::{CreateSessionRequest, SendMessageRequest, ServerFrame, SessionEvent};
use agent_runtime_sandbox::{
    ensure_bwrap, BwrapProbe, EgressHandler, HelperProgram, HostLayout, HostUser, LaunchSpec,
    LocalBwrapProvider, LocalSandboxConfig, Sandbox, SandboxProvider, SandboxRequest,
    SandboxStream,
};
use agent_runtime_testkit::{Response, Scenario, ScriptedModelServer};
use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

const FIRST_BYTE_SAMPLES: usize = 40;
const COLD_TURNS: usize = 5;

#[tokio::main]
async fn main() {
    let tools = tools_dir();
    println!("sandbox overhead (medians; lower is better)\n");
    let (direct, proxied) = first_byte().await;
    println!(
        "first byte of a model response   direct {:>7.2} ms   through the egress proxy {:>7.2} ms   \
         difference {:>+6.2} ms (target <= 5 ms)   ratio {:.2}",
        direct,
        proxied,
        proxied - direct,
        proxied / direct
    );
    let this = cold_first_turn(Path::new(env!("CARGO_BIN_EXE_agent-runtime")), &tools).await;
    match std::env::var_os("AGENT_RUNTIME_BENCH_BASELINE") {
        Some(baseline) => {
            let before = cold_first_turn(Path::new(&baseline), &tools).await;
            println!(
                "cold first turn (POST -> first text_delta)   baseline {:>7.1} ms   this build {:>7.1} ms   \
                 difference {:>+6.1} ms (target <= 20 ms)   ratio {:.3}",
                before,
                this,
                this - before,
                this / before
            );
        }
        None => println!(
            "cold first turn (POST -> first text_delta)   this build {this:>7.1} ms   \
             (set AGENT_RUNTIME_BENCH_BASELINE to an older agent-runtime binary to compare)"
        ),
    }
}

fn tools_dir() -> PathBuf {
    std::env::var_os("AGENT_RUNTIME_TEST_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/agent-tools")
        })
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

struct Proxy(EgressProxy);

#[async_trait]
impl EgressHandler for Proxy {
    async fn handle(&self, stream: Box<dyn SandboxStream>) {
        self.0.serve(stream).await;
    }
}

/// The curl loop both sides run: one streaming Messages API request per line of output.
fn curl_loop(url: &str) -> String {
    let body = r#"{"model":"bench","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    format!(
        "for i in $(seq {FIRST_BYTE_SAMPLES}); do curl -s --noproxy '*' -o /dev/null \
         -w '%{{time_starttransfer}}\\n' -X POST {url}/v1/messages \
         -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
         -H 'x-api-key: placeholder' -d '{body}'; done"
    )
}

fn parse_seconds(output: &str) -> Vec<f64> {
    output
        .lines()
        .filter_map(|l| l.trim().parse::<f64>().ok())
        .map(|s| s * 1000.0)
        .collect()
}

/// Median first-byte latency in ms: directly, and from a sandbox through its proxy.
async fn first_byte() -> (f64, f64) {
    let model = ScriptedModelServer::start(
        Scenario::new(vec![]).with_fallback(Response::text("Hello from the bench")),
    )
    .await
    .unwrap();
    let direct = tokio::process::Command::new("sh")
        .args(["-c", &curl_loop(&model.base_url())])
        .output()
        .await
        .unwrap();
    let direct = median(parse_seconds(&String::from_utf8_lossy(&direct.stdout)));

    let data = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        data.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let bwrap = ensure_bwrap(&BwrapProbe {
        path_env: std::env::var_os("PATH"),
        allow_install: false,
        run_as: HostUser::recommended(),
    })
    .await
    .unwrap();
    let helper = HelperProgram::subcommand(env!("CARGO_BIN_EXE_agent-runtime"), "sandbox-helper");
    let provider = LocalBwrapProvider::new(LocalSandboxConfig::new(
        data.path().join("sandboxes"),
        data.path().join("tools"),
        &bwrap,
        HostLayout::discover(),
        helper,
    ))
    .unwrap();
    let mut config = EgressConfig::new(EgressPolicy::none());
    config.gateway = Some(ModelGateway::anthropic(&model.base_url(), "bench-key").unwrap());
    let proxy = EgressProxy::new(config, |_| {}).unwrap();
    let mut request = SandboxRequest::new("bench");
    request.egress = Some(Arc::new(Proxy(proxy)));
    let sandbox = provider.create(request).await.unwrap();
    let url = sandbox.proxy_url().unwrap();
    let output = run(sandbox.as_ref(), &curl_loop(&url)).await;
    let proxied = median(parse_seconds(&output));
    sandbox.destroy().await.unwrap();
    (direct, proxied)
}

async fn run(sandbox: &dyn Sandbox, script: &str) -> String {
    let mut process = sandbox
        .spawn(LaunchSpec::new("sh").args(["-c", script]))
        .await
        .unwrap();
    drop(process.stdin);
    let mut out = String::new();
    process.stdout.read_to_string(&mut out).await.unwrap();
    process.handle.wait().await.unwrap();
    out
}

/// Median ms from POSTing a message to the first `text_delta`, over fresh sessions of a server
/// started from `binary` with the demo model answering at once.
async fn cold_first_turn(binary: &Path, tools: &Path) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let scenario = dir.path().join("instant.json");
    std::fs::write(
        &scenario,
        r#"{"rules": [], "fallback": {"content": [{"type": "text", "text": "Hello there."}]}}"#,
    )
    .unwrap();
    let mut child = tokio::process::Command::new(binary)
        .arg("serve")
        .args(["--port", "0", "--skip-install", "--demo"])
        .arg("--demo-scenario")
        .arg(&scenario)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--tools-dir")
        .arg(tools)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .expect("the server starts")
            .unwrap()
            .expect("the server runs");
        if let Some(at) = line.find("listening on http://") {
            break line[at + "listening on ".len()..].trim().to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let client = Client::new(url);
    let mut samples = Vec::new();
    for _ in 0..COLD_TURNS {
        let session = client
            .create_session(&CreateSessionRequest::default())
            .await
            .unwrap()
            .session_id;
        let mut ws = client.connect_ws(WsAuth::None).await.unwrap();
        ws.subscribe(&session, 0).await.unwrap();
        let started = Instant::now();
        client
            .send_message(
                &session,
                &serde_json::from_value::<SendMessageRequest>(serde_json::json!({"text": "hello"}))
                    .unwrap(),
            )
            .await
            .unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(60), ws.next_frame())
                .await
                .expect("the turn streams")
            {
                Some(ServerFrame::Event { envelope }) => {
                    if matches!(envelope.event, SessionEvent::TextDelta { .. }) {
                        break;
                    }
                }
                Some(_) => {}
                None => panic!("the WebSocket closed"),
            }
        }
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = child.kill().await;
    median(samples)
}
