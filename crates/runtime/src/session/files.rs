//! Workspace files and native transcripts: sandbox <-> store, with file events.
//!
//! The store is written before the event that announces a change, so a client that sees
//! `file_created` can always fetch the content.

use std::time::Duration;

use agent_runtime_agents::TranscriptFile;
use agent_runtime_protocol::{FileInfo, SessionEvent};
use agent_runtime_sandbox::{FileStat, Root, Sandbox};
use tokio::time::Instant;

use super::actor::{Actor, InterruptReason};
use crate::error::{Result, RuntimeError};
use crate::limits::human_bytes;
use crate::paths::validate_workspace_path;

/// How long [`Actor::save_transcripts_naming`] waits for the agent to write the call it asks
/// about.
const TRANSCRIPT_WAIT: Duration = Duration::from_secs(2);

/// How often it looks.
const TRANSCRIPT_POLL: Duration = Duration::from_millis(50);

impl Actor {
    /// Scans the sandbox's workspace and records what changed since the last scan.
    pub(super) async fn sync_files(&mut self) {
        let Some(sandbox) = self.sandbox.clone() else {
            return;
        };
        let session_id = self.session_id().to_string();
        let scanned = match sandbox.scan(Root::Workspace, &[]).await {
            Ok(scanned) => scanned,
            Err(e) => {
                tracing::warn!(session_id = %session_id, "workspace scan failed: {e}");
                return;
            }
        };
        if let Some(quota) = self.limits.workspace_bytes {
            let total: u64 = scanned.iter().map(|f| f.size).sum();
            if total > quota {
                self.on_workspace_full(total, quota).await;
                return;
            }
        }
        let mut events = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for stat in scanned {
            seen.insert(stat.path.clone());
            let known = self.files.get(&stat.path);
            if known.is_some_and(|k| k.sha256 == stat.sha256) {
                continue;
            }
            let created = known.is_none();
            let bytes = match sandbox.read_file(Root::Workspace, &stat.path).await {
                Ok(Some(bytes)) => bytes,
                // Removed or unreadable since the scan; the next scan sees it again.
                Ok(None) | Err(_) => continue,
            };
            match self
                .deps
                .store
                .put_file(&session_id, &stat.path, &bytes)
                .await
            {
                Ok(info) => {
                    self.files.insert(info.path.clone(), info.clone());
                    events.push(if created {
                        SessionEvent::FileCreated(info)
                    } else {
                        SessionEvent::FileModified(info)
                    });
                }
                Err(e) => {
                    tracing::error!(session_id = %session_id, path = %stat.path, "saving a workspace file failed: {e}")
                }
            }
        }
        let gone: Vec<String> = self
            .files
            .keys()
            .filter(|path| !seen.contains(*path))
            .cloned()
            .collect();
        for path in gone {
            match self.deps.store.delete_file(&session_id, &path).await {
                Ok(_) => {
                    self.files.remove(&path);
                    events.push(SessionEvent::FileDeleted { path });
                }
                Err(e) => {
                    tracing::error!(session_id = %session_id, %path, "deleting a workspace file failed: {e}")
                }
            }
        }
        self.emit(events).await;
    }

    /// The workspace holds more than its quota: nothing of it is saved, and a running turn is
    /// ended with `workspace_full` (the agent can be asked to clean up in the next one).
    async fn on_workspace_full(&mut self, total: u64, quota: u64) {
        tracing::warn!(session_id = %self.session_id(), total, quota, "workspace over its quota");
        match self.turn.as_ref() {
            Some(turn) if turn.interrupt_reason.is_none() => {
                self.request_interrupt(InterruptReason::WorkspaceFull).await;
            }
            Some(_) => {}
            None => {
                let message = format!(
                    "the workspace holds {total} bytes, over its quota of {}; changes are not saved",
                    human_bytes(quota)
                );
                self.emit(vec![SessionEvent::Warning { message, raw: None }])
                    .await;
            }
        }
    }

    /// The agent's native transcript files in the sandbox's home, each with its stat.
    pub(super) async fn transcript_files(
        &self,
        sandbox: &dyn Sandbox,
    ) -> Result<Vec<(TranscriptFile, FileStat)>> {
        let home = sandbox.scan(Root::Home, &[]).await?;
        let paths: Vec<String> = home.iter().map(|f| f.path.clone()).collect();
        let wanted = self
            .agent
            .transcript_files_to_save(&paths, &self.agent_session_id());
        Ok(wanted
            .into_iter()
            .filter_map(|file| {
                let stat = home.iter().find(|f| f.path == file.home_path)?.clone();
                Some((file, stat))
            })
            .collect())
    }

    /// Copies the agent's native transcript files from the sandbox into the store.
    pub(super) async fn save_transcripts(&mut self) {
        let Some(sandbox) = self.sandbox.clone() else {
            return;
        };
        let session_id = self.session_id().to_string();
        let files = match self.transcript_files(sandbox.as_ref()).await {
            Ok(files) => files,
            Err(e) => {
                tracing::warn!(session_id = %session_id, "home scan failed: {e}");
                return;
            }
        };
        for (file, stat) in files {
            if self.saved_transcripts.get(&file.name) == Some(&stat.sha256) {
                continue;
            }
            let bytes = match sandbox.read_file(Root::Home, &file.home_path).await {
                Ok(Some(bytes)) => bytes,
                Ok(None) | Err(_) => continue,
            };
            match self
                .deps
                .store
                .put_transcript(&session_id, &file.name, &bytes)
                .await
            {
                Ok(_) => {
                    self.saved_transcripts.insert(file.name, stat.sha256);
                }
                Err(e) => {
                    tracing::error!(session_id = %session_id, name = %file.name, "saving the transcript failed: {e}")
                }
            }
        }
    }

    /// Saves the transcript once it names `marker` (the tool call a request is about): the
    /// agent may write that line a moment after it asks. After [`TRANSCRIPT_WAIT`] what is there
    /// is saved.
    pub(super) async fn save_transcripts_naming(&mut self, marker: Option<&str>) {
        if let (Some(marker), Some(sandbox)) = (marker, self.sandbox.clone()) {
            let deadline = Instant::now() + TRANSCRIPT_WAIT;
            while !self.transcript_names(sandbox.as_ref(), marker).await
                && Instant::now() < deadline
            {
                tokio::time::sleep(TRANSCRIPT_POLL).await;
            }
        }
        self.save_transcripts().await;
    }

    /// Whether one of the agent's transcript files in the sandbox contains `marker`.
    async fn transcript_names(&self, sandbox: &dyn Sandbox, marker: &str) -> bool {
        let Ok(files) = self.transcript_files(sandbox).await else {
            return false;
        };
        for (file, _) in files {
            if let Ok(Some(bytes)) = sandbox.read_file(Root::Home, &file.home_path).await {
                if String::from_utf8_lossy(&bytes).contains(marker) {
                    return true;
                }
            }
        }
        false
    }

    /// Writes a workspace file on behalf of a client.
    pub(super) async fn write_file(&mut self, path: &str, bytes: &[u8]) -> Result<FileInfo> {
        let path = validate_workspace_path(path)?;
        self.refresh_limits().await;
        if let Some(quota) = self.limits.workspace_bytes {
            let others: u64 = self
                .files
                .values()
                .filter(|f| f.path != path)
                .map(|f| f.size)
                .sum();
            let total = others.saturating_add(bytes.len() as u64);
            if total > quota {
                return Err(RuntimeError::WorkspaceFull(format!(
                    "the workspace would hold {total} bytes, over its quota of {}",
                    human_bytes(quota)
                )));
            }
        }
        if let Some(sandbox) = &self.sandbox {
            sandbox.write_file(Root::Workspace, &path, bytes).await?;
        }
        let info = self
            .deps
            .store
            .put_file(self.session_id(), &path, bytes)
            .await?;
        let event = if self.files.contains_key(&path) {
            SessionEvent::FileModified(info.clone())
        } else {
            SessionEvent::FileCreated(info.clone())
        };
        self.files.insert(path, info.clone());
        self.log.append(vec![event]).await?;
        Ok(info)
    }

    /// Deletes a workspace file on behalf of a client; `false` when it did not exist.
    pub(super) async fn delete_file(&mut self, path: &str) -> Result<bool> {
        let path = validate_workspace_path(path)?;
        if !self.files.contains_key(&path) {
            return Err(RuntimeError::FileNotFound(path));
        }
        if let Some(sandbox) = &self.sandbox {
            sandbox.remove_file(Root::Workspace, &path).await?;
        }
        self.deps
            .store
            .delete_file(self.session_id(), &path)
            .await?;
        self.files.remove(&path);
        self.log
            .append(vec![SessionEvent::FileDeleted { path }])
            .await?;
        Ok(true)
    }
}
