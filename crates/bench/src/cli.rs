//! The anchor of the first-token figures: the raw Claude Code CLI started by hand against the
//! same scripted model, as the seed did for every message: spawn, one user message on stdin,
//! time to its first text delta on stdout.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agent_runtime_agents::{AgentKind, WarmUp, WarmUpStep};
use agent_runtime_core::installer::Installer;
use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// The longest a raw CLI may take to its first text delta.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// The pinned Claude Code executable in `tools_dir`.
pub fn claude_binary(tools_dir: &Path) -> Result<PathBuf> {
    let claude =
        AgentKind::from_id("claude-code").ok_or_else(|| anyhow!("no claude-code agent"))?;
    Installer::new(tools_dir.to_path_buf())
        .installed(&claude)
        .map(|installed| installed.host_bin)
        .ok_or_else(|| {
            anyhow!(
                "Claude Code is not installed in {} (run `agent-runtime install --tools-dir {}`)",
                tools_dir.display(),
                tools_dir.display()
            )
        })
}

/// How the raw CLI is brought to its first message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawStart {
    /// Spawned with the message: timed from the spawn.
    Cold,
    /// Started, its `initialize` control request answered (what the pool waits for), then idle
    /// for the given time: timed from writing the first message, the CLI's own work on the
    /// first message of a process.
    Booted(Duration),
    /// Booted, then taken by hand through the warm pool's warm-up (a turn, answered by the
    /// scripted model, then rewound: `agent_runtime_agents::WarmUp`), then idle for the
    /// given time: what a pooled process costs by itself.
    WarmedUp(Duration),
}

/// One start of the raw CLI, headless with stream-json both ways and partial messages, as the
/// runtime runs it, but on the host (no sandbox), with a fresh home, brought to its first
/// message as `start` says; the time to the first `text_delta` stream event on its stdout.
pub async fn raw_cli_first_delta(
    claude: &Path,
    model_url: &str,
    start: RawStart,
) -> Result<Duration> {
    let home = tempfile::tempdir()?;
    let home_path = home.path().display().to_string();
    let mut started = Instant::now();
    let mut child = tokio::process::Command::new(claude)
        .args([
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
        ])
        .current_dir(home.path())
        .env_clear()
        .env("HOME", &home_path)
        .env("CLAUDE_CONFIG_DIR", format!("{home_path}/.claude"))
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("ANTHROPIC_BASE_URL", model_url)
        .env("ANTHROPIC_API_KEY", "bench-key")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", claude.display()))?;
    let mut stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let found = tokio::time::timeout(CLI_TIMEOUT, async {
        let settle = match start {
            RawStart::Cold => None,
            RawStart::Booted(settle) | RawStart::WarmedUp(settle) => Some(settle),
        };
        if let Some(settle) = settle {
            let probe = agent_runtime_agents::claude::launch::encode_readiness_probe();
            stdin.write_all(probe.as_bytes()).await?;
            stdin.flush().await?;
            loop {
                let Some(line) = lines.next_line().await? else {
                    bail!("the CLI ended before it answered initialize");
                };
                if agent_runtime_agents::claude::answers_readiness_probe(&line) {
                    break;
                }
            }
            if matches!(start, RawStart::WarmedUp(_)) {
                let mut warm_up = WarmUp::new(uuid::Uuid::new_v4().to_string());
                stdin.write_all(warm_up.first_line().as_bytes()).await?;
                stdin.flush().await?;
                loop {
                    let Some(line) = lines.next_line().await? else {
                        bail!("the CLI ended during its warm-up");
                    };
                    match warm_up.on_line(&line) {
                        WarmUpStep::Wait => {}
                        WarmUpStep::Write(next) => {
                            stdin.write_all(next.as_bytes()).await?;
                            stdin.flush().await?;
                        }
                        WarmUpStep::Done => break,
                        WarmUpStep::Failed(why) => bail!("the warm-up failed: {why}"),
                    }
                }
            }
            tokio::time::sleep(settle).await;
            started = Instant::now();
        }
        let message = agent_runtime_agents::claude::launch::encode_user_message("hello");
        stdin.write_all(message.as_bytes()).await?;
        stdin.flush().await?;
        while let Some(line) = lines.next_line().await? {
            if is_text_delta_line(&line) {
                return Ok::<_, anyhow::Error>(Some(started.elapsed()));
            }
        }
        Ok(None)
    })
    .await;
    let _ = child.kill().await;
    match found {
        Ok(Ok(Some(elapsed))) => Ok(elapsed),
        Ok(Ok(None)) => bail!("the CLI ended without a text delta"),
        Ok(Err(error)) => Err(error),
        Err(_) => bail!("no text delta from the CLI within {CLI_TIMEOUT:?}"),
    }
}

/// Whether a stream-json stdout line is a partial message's text delta.
pub fn is_text_delta_line(line: &str) -> bool {
    line.contains("\"type\":\"stream_event\"") && line.contains("\"type\":\"text_delta\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_text_deltas_only() {
        assert!(is_text_delta_line(
            r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}},"session_id":"s"}"#
        ));
        assert!(!is_text_delta_line(
            r#"{"type":"stream_event","event":{"type":"content_block_start","index":0}}"#
        ));
        assert!(!is_text_delta_line(r#"{"type":"system","subtype":"init"}"#));
    }
}
