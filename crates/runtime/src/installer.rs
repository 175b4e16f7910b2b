//! Installs the pinned agent CLIs from npm into the tools dir, once, with progress.
//!
//! Each package version gets its own directory `<tools>/<package>@<version>/`. An install runs
//! in a temporary sibling directory and is renamed into place only when complete, so a crash or a
//! concurrent installer (another process, another test) never leaves a half-installed tree behind.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use agent_runtime_agents::{AgentKind, InstallSpec};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::Mutex;

use crate::error::{Result, RuntimeError};

/// Marker written last into a completed install.
const COMPLETE_MARKER: &str = ".agent-runtime-installed";

/// An installed agent CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledAgent {
    /// The executable, relative to the tools dir (the sandbox mounts the tools dir elsewhere).
    pub relative_bin: String,
    /// The executable on the host.
    pub host_bin: PathBuf,
}

/// Serializes installs within this process; the rename makes them safe across processes.
pub struct Installer {
    tools_dir: PathBuf,
    lock: Mutex<()>,
}

impl Installer {
    /// An installer for `tools_dir` (created on first install).
    pub fn new(tools_dir: PathBuf) -> Self {
        Installer {
            tools_dir,
            lock: Mutex::new(()),
        }
    }

    /// The tools dir on the host.
    pub fn tools_dir(&self) -> &Path {
        &self.tools_dir
    }

    /// The agent's executable if its pinned package is completely installed.
    pub fn installed(&self, agent: &AgentKind) -> Option<InstalledAgent> {
        let spec = agent.install_spec();
        let dir_name = install_dir_name(&spec);
        if !self
            .tools_dir
            .join(&dir_name)
            .join(COMPLETE_MARKER)
            .exists()
        {
            return None;
        }
        find_bin(&self.tools_dir, &dir_name, &spec)
    }

    /// Returns the agent's executable, installing its pinned package first if needed.
    pub async fn ensure(&self, agent: &AgentKind) -> Result<InstalledAgent> {
        let spec = agent.install_spec();
        let _guard = self.lock.lock().await;
        if let Some(found) = self.installed(agent) {
            return Ok(found);
        }
        let dir_name = install_dir_name(&spec);
        self.install(&spec, &dir_name).await?;
        find_bin(&self.tools_dir, &dir_name, &spec).ok_or_else(|| {
            RuntimeError::Install(format!(
                "{}@{} installed but none of {:?} exists",
                spec.npm_package, spec.version, spec.binary_candidates
            ))
        })
    }

    async fn install(&self, spec: &InstallSpec, dir_name: &str) -> Result<()> {
        let io = |what: &str, e: std::io::Error| RuntimeError::Install(format!("{what}: {e}"));
        tokio::fs::create_dir_all(&self.tools_dir)
            .await
            .map_err(|e| io("creating the tools dir", e))?;
        let staging = self.tools_dir.join(format!(
            ".staging-{dir_name}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        tokio::fs::create_dir_all(&staging)
            .await
            .map_err(|e| io("creating the staging dir", e))?;
        let package = format!("{}@{}", spec.npm_package, spec.version);
        tracing::info!(%package, dir = %self.tools_dir.display(), "installing agent CLI from npm (first run only)");
        let mut child = Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&staging)
            .args(["--no-audit", "--no-fund", "--no-save", "--loglevel=http"])
            .arg(&package)
            .args(&spec.extra_packages)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                RuntimeError::Install(format!(
                    "cannot run npm ({e}); install Node.js and npm, then retry"
                ))
            })?;
        let progress = |stream: ProgressStream| {
            let package = package.clone();
            async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(%package, "npm: {line}");
                }
            }
        };
        let stdout = child
            .stdout
            .take()
            .map(|s| tokio::spawn(progress(Box::new(s))));
        let stderr = child
            .stderr
            .take()
            .map(|s| tokio::spawn(progress(Box::new(s))));
        let status = child.wait().await.map_err(|e| io("waiting for npm", e))?;
        for task in [stdout, stderr].into_iter().flatten() {
            let _ = task.await;
        }
        if !status.success() {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(RuntimeError::Install(format!(
                "npm install {package} failed ({status})"
            )));
        }
        tokio::fs::write(staging.join(COMPLETE_MARKER), package.as_bytes())
            .await
            .map_err(|e| io("writing the install marker", e))?;
        let target = self.tools_dir.join(dir_name);
        if target.exists() {
            // An incomplete leftover, or another process finished first; keep a complete one.
            if target.join(COMPLETE_MARKER).exists() {
                let _ = tokio::fs::remove_dir_all(&staging).await;
                return Ok(());
            }
            tokio::fs::remove_dir_all(&target)
                .await
                .map_err(|e| io("removing an incomplete install", e))?;
        }
        if let Err(e) = tokio::fs::rename(&staging, &target).await {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            if !target.join(COMPLETE_MARKER).exists() {
                return Err(io("moving the install into place", e));
            }
        }
        tracing::info!(%package, "agent CLI installed");
        Ok(())
    }
}

/// The shell commands that install `agents` into `tools_dir` of an image (e.g. a Modal image's
/// `RUN` lines), laid out exactly as [`Installer::ensure`] lays out the host's tools dir, so the
/// launch specs made from the host's install find the same binaries inside.
pub fn image_install_commands(agents: &[AgentKind], tools_dir: &str) -> Vec<String> {
    agents
        .iter()
        .map(|agent| {
            let spec = agent.install_spec();
            let mut packages = vec![format!("{}@{}", spec.npm_package, spec.version)];
            packages.extend(spec.extra_packages.iter().cloned());
            format!(
                "npm install --prefix {tools_dir}/{} --no-audit --no-fund --no-save {}",
                install_dir_name(&spec),
                packages.join(" ")
            )
        })
        .collect()
}

type ProgressStream = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

/// `<package>@<version>`, plus `+<package>@<version>` per extra package, with every character of
/// a name but letters, digits, `-` and `.` made `_`.
fn install_dir_name(spec: &InstallSpec) -> String {
    let safe = |name: &str| -> String {
        name.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let mut name = format!("{}@{}", safe(&spec.npm_package), spec.version);
    for extra in &spec.extra_packages {
        if let Some((package, version)) = extra.rsplit_once('@') {
            name.push_str(&format!("+{}@{version}", safe(package)));
        }
    }
    name
}

fn find_bin(tools_dir: &Path, dir_name: &str, spec: &InstallSpec) -> Option<InstalledAgent> {
    spec.binary_candidates.iter().find_map(|candidate| {
        let relative_bin = format!("{dir_name}/{candidate}");
        let host_bin = tools_dir.join(&relative_bin);
        host_bin.is_file().then_some(InstalledAgent {
            relative_bin,
            host_bin,
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn image_commands_lay_agents_out_like_the_tools_dir() {
        let commands = super::image_install_commands(
            &[agent_runtime_agents::AgentKind::ClaudeCode],
            "/opt/agent-tools",
        );
        let spec = agent_runtime_agents::AgentKind::ClaudeCode.install_spec();
        assert_eq!(
            commands,
            [format!(
                "npm install --prefix /opt/agent-tools/_anthropic-ai_claude-code@{v} --no-audit \
                 --no-fund --no-save @anthropic-ai/claude-code@{v}",
                v = spec.version
            )]
        );
    }

    use super::*;

    #[test]
    fn install_dir_names_are_filesystem_safe() {
        let spec = InstallSpec {
            npm_package: "@anthropic-ai/claude-code".into(),
            version: "2.1.328".into(),
            extra_packages: vec![],
            binary_candidates: vec![],
        };
        assert_eq!(install_dir_name(&spec), "_anthropic-ai_claude-code@2.1.328");
        let spec = InstallSpec {
            npm_package: "@zed-industries/codex-acp".into(),
            version: "0.16.0".into(),
            extra_packages: vec!["@openai/codex@0.171.0".into()],
            binary_candidates: vec![],
        };
        assert_eq!(
            install_dir_name(&spec),
            "_zed-industries_codex-acp@0.16.0+_openai_codex@0.171.0"
        );
    }
}
