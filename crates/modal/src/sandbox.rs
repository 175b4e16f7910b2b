//! [`ModalSandbox`]: one live Modal sandbox behind the [`Sandbox`] trait. Processes are execs
//! (`exec.rs`, `process.rs`); file operations are execs of small shell scripts
//! (`commands.rs`), like Modal's own filesystem API, which also execs a tool in the container.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agent_runtime_modal_proto::client::generic_result::GenericStatus;
use agent_runtime_modal_proto::client::{SandboxTerminateRequest, SandboxWaitRequest};
use agent_runtime_sandbox::live_ids::LiveSandbox;
use agent_runtime_sandbox::local::egress_url;
use agent_runtime_sandbox::{
    FileStat, LaunchSpec, LimitHit, RelPath, Root, Sandbox, SandboxError, SandboxProcess, HOME_DIR,
    TOOLS_DIR, WORKSPACE_DIR,
};
use async_trait::async_trait;

use crate::commands::{
    file_argv, parse_scan, pid_file, process_argv, scan_argv, FileOp, EXIT_MISSING,
    EXIT_NOT_REGULAR, EXIT_SYMLINK,
};
use crate::error::ModalError;
use crate::exec::{self, new_exec_id, Output, Shared};
use crate::process;
use crate::rpc::Control;

/// How long `destroy` waits for the sandbox's tasks to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one `SandboxWait` of the end watch holds (Modal's client asks for 10 s).
const END_WATCH_HOLD: Duration = Duration::from_secs(10);
/// The pause of the end watch after a failed poll.
const END_WATCH_BACKOFF: Duration = Duration::from_secs(2);
/// `xargs` exits 123 when `sha256sum` failed on a file that vanished during a scan.
const XARGS_SOME_FAILED: i32 = 123;

pub(crate) struct ModalSandbox {
    pub(crate) shared: Arc<Shared>,
    /// Whether the egress tunnel was started.
    pub(crate) egress: bool,
    pub(crate) destroyed: AtomicBool,
}

impl LiveSandbox for ModalSandbox {
    fn is_destroyed(&self) -> bool {
        self.destroyed.load(Ordering::Acquire)
    }
}

impl ModalSandbox {
    /// Modal's id of this sandbox.
    pub(crate) fn modal_id(&self) -> &str {
        &self.shared.modal_id
    }

    fn ensure_alive(&self) -> Result<(), SandboxError> {
        if self.is_destroyed() {
            return Err(SandboxError::Destroyed {
                id: self.shared.id.clone(),
            });
        }
        Ok(())
    }

    /// Maps a failure, reporting `Destroyed` when the sandbox went away meanwhile.
    fn error(&self, e: ModalError, context: &str) -> SandboxError {
        if self.is_destroyed() {
            return SandboxError::Destroyed {
                id: self.shared.id.clone(),
            };
        }
        e.into_sandbox_error(format!("{context} in Modal sandbox {}", self.shared.id))
    }

    fn root_dir(root: Root) -> &'static str {
        match root {
            Root::Workspace => WORKSPACE_DIR,
            Root::Home => HOME_DIR,
        }
    }

    async fn file_op(
        &self,
        op: FileOp,
        root: Root,
        rel: &str,
        stdin: &[u8],
    ) -> Result<Option<Output>, SandboxError> {
        self.ensure_alive()?;
        let rel = RelPath::parse(rel)?;
        let argv = file_argv(op, Self::root_dir(root), rel.as_str());
        let output = exec::run(&self.shared, argv, stdin)
            .await
            .map_err(|e| self.error(e, "a file operation"))?;
        let path = rel.as_str().to_owned();
        match output.code() {
            Some(0) => Ok(Some(output)),
            Some(EXIT_MISSING) => Ok(None),
            Some(EXIT_SYMLINK) => Err(SandboxError::SymlinkInPath { path }),
            Some(EXIT_NOT_REGULAR) => Err(SandboxError::NotARegularFile { path }),
            _ => Err(SandboxError::Io {
                context: format!("{op:?} {path} in Modal sandbox {}", self.shared.id),
                source: std::io::Error::other(output.describe()),
            }),
        }
    }

    /// Terminates the Modal sandbox and stops every task; idempotent.
    pub(crate) async fn shut_down(&self) -> Result<(), SandboxError> {
        if self.destroyed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.shared.cancel.cancel();
        let terminated = terminate(&self.shared.control, &self.shared.modal_id).await;
        self.shared.tasks.close();
        if tokio::time::timeout(STOP_TIMEOUT, self.shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(sandbox_id = %self.shared.id, "sandbox tasks did not stop in time");
        }
        terminated.map_err(|e| {
            e.into_sandbox_error(format!("terminating Modal sandbox {}", self.shared.id))
        })?;
        tracing::info!(sandbox_id = %self.shared.id, modal_id = %self.shared.modal_id, "sandbox destroyed");
        Ok(())
    }
}

/// `SandboxTerminate`; a sandbox Modal does not know (any more) counts as terminated.
pub(crate) async fn terminate(control: &Control, modal_id: &str) -> Result<(), ModalError> {
    let req = SandboxTerminateRequest {
        sandbox_id: modal_id.to_owned(),
    };
    match control
        .call("SandboxTerminate", req, |mut c, r| async move {
            c.sandbox_terminate(r).await
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Long-polls `SandboxWait` until Modal reports the sandbox finished, then marks it ended so
/// waiting processes and streams fail instead of hanging. Stops on destroy.
pub(crate) async fn watch_end(shared: Arc<Shared>) {
    let req = SandboxWaitRequest {
        sandbox_id: shared.modal_id.clone(),
        timeout: END_WATCH_HOLD.as_secs_f32(),
    };
    let hold = END_WATCH_HOLD + shared.control.request_timeout;
    loop {
        let poll = shared.control.call_with_timeout(
            "SandboxWait",
            hold,
            req.clone(),
            |mut c, r| async move { c.sandbox_wait(r).await },
        );
        let result = tokio::select! {
            () = shared.cancel.cancelled() => return,
            result = poll => result,
        };
        match result {
            Ok(resp) => {
                if let Some(result) = resp.result.filter(|r| r.status != 0) {
                    let status = GenericStatus::try_from(result.status)
                        .map(|s| {
                            s.as_str_name()
                                .trim_start_matches("GENERIC_STATUS_")
                                .to_owned()
                        })
                        .unwrap_or_else(|_| result.status.to_string());
                    let reason = if result.exception.is_empty() {
                        format!("finished with status {status}")
                    } else {
                        format!("finished with status {status}: {}", result.exception)
                    };
                    tracing::warn!(sandbox_id = %shared.id, modal_id = %shared.modal_id, "the Modal sandbox {reason}");
                    shared.mark_ended(reason);
                    return;
                }
            }
            Err(e) if e.is_not_found() => {
                shared.mark_ended("Modal no longer knows it".into());
                return;
            }
            Err(e) => {
                tracing::debug!(sandbox_id = %shared.id, "watching the sandbox's end: {e}");
                tokio::time::sleep(END_WATCH_BACKOFF).await;
            }
        }
    }
}

#[async_trait]
impl Sandbox for ModalSandbox {
    fn id(&self) -> &str {
        &self.shared.id
    }

    fn workspace_dir(&self) -> &str {
        WORKSPACE_DIR
    }

    fn home_dir(&self) -> &str {
        HOME_DIR
    }

    fn tools_dir(&self) -> &str {
        TOOLS_DIR
    }

    async fn spawn(&self, spec: LaunchSpec) -> Result<SandboxProcess, SandboxError> {
        self.ensure_alive()?;
        if self.shared.ended.is_cancelled() {
            return Err(self.error(self.shared.ended_error(), "spawning"));
        }
        tracing::debug!(sandbox_id = %self.shared.id, spec = %spec, "spawning in Modal sandbox");
        let exec_id = new_exec_id();
        let pid_file = pid_file(&exec_id);
        let argv = process_argv(&pid_file, &spec.program, &spec.args);
        let workdir = if spec.cwd.is_empty() {
            WORKSPACE_DIR.to_owned()
        } else {
            spec.cwd
        };
        let env: HashMap<String, String> = spec.env.into_iter().collect();
        let exec = exec::start(&self.shared, exec_id.clone(), argv, env, &workdir)
            .await
            .map_err(|e| self.error(e, &format!("spawning {}", spec.program)))?;
        let handle = process::own(&self.shared, exec_id, pid_file);
        Ok(SandboxProcess {
            stdin: Box::pin(exec.stdin),
            stdout: exec.stdout,
            stderr: exec.stderr,
            handle: Box::new(handle),
        })
    }

    async fn write_file(&self, root: Root, rel: &str, bytes: &[u8]) -> Result<(), SandboxError> {
        match self.file_op(FileOp::Write, root, rel, bytes).await? {
            Some(_) => Ok(()),
            None => Err(SandboxError::Io {
                context: format!("writing {rel} in Modal sandbox {}", self.shared.id),
                source: std::io::Error::other("the write script reported a missing file"),
            }),
        }
    }

    async fn read_file(&self, root: Root, rel: &str) -> Result<Option<Vec<u8>>, SandboxError> {
        Ok(self
            .file_op(FileOp::Read, root, rel, b"")
            .await?
            .map(|output| output.stdout))
    }

    async fn remove_file(&self, root: Root, rel: &str) -> Result<bool, SandboxError> {
        Ok(self
            .file_op(FileOp::Remove, root, rel, b"")
            .await?
            .is_some())
    }

    async fn scan(
        &self,
        root: Root,
        exclude_prefixes: &[String],
    ) -> Result<Vec<FileStat>, SandboxError> {
        self.ensure_alive()?;
        let argv = scan_argv(Self::root_dir(root), exclude_prefixes);
        let output = exec::run(&self.shared, argv, b"")
            .await
            .map_err(|e| self.error(e, "scanning"))?;
        let scan_error = |message: String| SandboxError::Io {
            context: format!("scanning {root:?} in Modal sandbox {}", self.shared.id),
            source: std::io::Error::other(message),
        };
        if !matches!(output.code(), Some(0 | XARGS_SOME_FAILED)) {
            return Err(scan_error(output.describe()));
        }
        parse_scan(&output.stdout, exclude_prefixes).map_err(scan_error)
    }

    fn proxy_url(&self) -> Option<String> {
        self.egress.then(egress_url)
    }

    /// Modal does not report out-of-memory kills of single processes.
    async fn limit_hit(&self) -> LimitHit {
        std::future::pending().await
    }

    fn check_limits(&self) -> Option<LimitHit> {
        None
    }

    async fn destroy(&self) -> Result<(), SandboxError> {
        self.shut_down().await
    }
}

/// A dropped sandbox (not destroyed) stops its tasks; the Modal sandbox itself runs on until
/// its timeout or a reconciler's `terminate`.
impl Drop for ModalSandbox {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}
