//! The real `agent-runtime` release binary as a separate process on a loopback port: started
//! against the scripted model, timed to its first `/healthz` answer, observed through `/proc`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::AsyncBufReadExt;

use crate::procfs;

/// The longest a server may take to answer `/healthz` (a 1,000,000-event store included).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(600);

/// Interval between `/healthz` polls while it starts.
const HEALTH_POLL: Duration = Duration::from_millis(2);

/// Log lines kept to explain a failure.
const KEPT_LOG_LINES: usize = 40;

/// What every server of a run shares.
#[derive(Debug, Clone)]
pub struct ServerSetup {
    /// The `agent-runtime` executable.
    pub binary: PathBuf,
    /// Where the agent CLIs are installed.
    pub tools_dir: PathBuf,
    /// The scripted model's base URL (loopback).
    pub model_url: String,
    /// Warm sandboxes the server keeps (`--warm-pool`); 0 unless a figure is about the pool.
    pub warm_pool: usize,
}

/// A running `agent-runtime serve`. Killed when dropped.
pub struct RuntimeProcess {
    child: tokio::process::Child,
    pid: u32,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// From spawn to the first successful `/healthz`.
    pub startup: Duration,
    log: Arc<Mutex<VecDeque<String>>>,
    /// The data dir, when the process owns a temporary one.
    _data: Option<tempfile::TempDir>,
}

impl RuntimeProcess {
    /// Starts a server with a fresh temporary data dir (and SQLite store in it).
    pub async fn start_fresh(setup: &ServerSetup) -> Result<RuntimeProcess> {
        let data = world_readable_tempdir()?;
        let store = format!(
            "sqlite://{}",
            data.path().join("agent-runtime.db").display()
        );
        let mut server = RuntimeProcess::start(setup, data.path(), &store).await?;
        server._data = Some(data);
        Ok(server)
    }

    /// Starts a server on `data_dir` with the store at `store_url`, and waits (at most
    /// [`STARTUP_TIMEOUT`]) until `/healthz` answers 200.
    pub async fn start(setup: &ServerSetup, data_dir: &Path, store_url: &str) -> Result<Self> {
        RuntimeProcess::start_with_args(setup, data_dir, store_url, &[]).await
    }

    /// [`RuntimeProcess::start`] with more `serve` arguments.
    pub async fn start_with_args(
        setup: &ServerSetup,
        data_dir: &Path,
        store_url: &str,
        args: &[&str],
    ) -> Result<Self> {
        let port = free_port()?;
        let started = Instant::now();
        let mut child = tokio::process::Command::new(&setup.binary)
            .arg("serve")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--skip-install")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--store", store_url])
            .arg("--tools-dir")
            .arg(&setup.tools_dir)
            .args(["--anthropic-base-url", &setup.model_url])
            .args(["--anthropic-api-key", "bench-key"])
            .args(["--warm-pool", &setup.warm_pool.to_string()])
            .args(args)
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", setup.binary.display()))?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("the server exited at once"))?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            // Drains stderr so the server never blocks on a full pipe; ends with the process.
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut log) = log.lock() {
                        if log.len() == KEPT_LOG_LINES {
                            log.pop_front();
                        }
                        log.push_back(line);
                    }
                }
            });
        }
        let base_url = format!("http://127.0.0.1:{port}");
        let mut server = RuntimeProcess {
            child,
            pid,
            base_url,
            startup: Duration::ZERO,
            log,
            _data: None,
        };
        server.startup = server.wait_healthy(started).await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self, started: Instant) -> Result<Duration> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()?;
        let url = format!("{}/healthz", self.base_url);
        while started.elapsed() < STARTUP_TIMEOUT {
            if let Ok(response) = http.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(started.elapsed());
                }
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited ({status}): {}", self.recent_log());
            }
            tokio::time::sleep(HEALTH_POLL).await;
        }
        bail!(
            "no /healthz answer within {STARTUP_TIMEOUT:?}: {}",
            self.recent_log()
        )
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The server process's CPU time so far (user + system, not its children: sandboxes and
    /// agent CLIs are other processes).
    pub fn cpu_time(&self) -> Result<Duration> {
        procfs::cpu_time(self.pid)
    }

    /// Its resident memory in bytes.
    pub fn rss(&self) -> Result<u64> {
        procfs::rss_bytes(self.pid)
    }

    /// The last lines the server logged (warnings and errors), for error messages.
    pub fn recent_log(&self) -> String {
        self.log
            .lock()
            .map(|log| log.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// Stops the server: SIGKILL, then waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A free loopback port (the kernel's pick; free again once the probe socket closes).
fn free_port() -> Result<u16> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(probe.local_addr()?.port())
}

/// A temporary directory the sandbox's unprivileged user may enter (the server runs sandboxes
/// as another uid, which must traverse the data dir).
pub fn world_readable_tempdir() -> Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("agent-runtime-bench-")
        .tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

/// The `agent-runtime` binary to drive: `explicit` if given; else the one next to this
/// executable in the same target dir, built first with `cargo build --release --bin
/// agent-runtime` (by `cargo`, else `cargo` on the PATH) when the workspace this crate was
/// built from is still there, so it is never stale.
pub async fn locate_runtime_binary(
    explicit: Option<PathBuf>,
    cargo: Option<PathBuf>,
) -> Result<PathBuf> {
    if let Some(binary) = explicit {
        if !binary.is_file() {
            bail!("{} does not exist", binary.display());
        }
        return Ok(binary);
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("{} has no directory", exe.display()))?;
    let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if workspace.join("Cargo.toml").is_file() {
        let mut build =
            tokio::process::Command::new(cargo.unwrap_or_else(|| PathBuf::from("cargo")));
        build
            .current_dir(&workspace)
            .args(["build", "--bin", "agent-runtime"]);
        if profile == "release" {
            build.arg("--release");
        }
        if let Some(target) = dir.parent() {
            build.arg("--target-dir").arg(target);
        }
        let status = build.status().await.context("running cargo build")?;
        if !status.success() {
            bail!("cargo build --bin agent-runtime failed ({status})");
        }
    }
    let binary = dir.join("agent-runtime");
    if !binary.is_file() {
        bail!(
            "{} does not exist: build it with `cargo build --release --bin agent-runtime` or pass --binary",
            binary.display()
        );
    }
    if profile != "release" {
        eprintln!("warning: {} is not a release build", binary.display());
    }
    Ok(binary)
}
