//! [`ProcessHandle`] of a process spawned in a Modal sandbox. Modal has no "kill exec" RPC, so
//! each process runs as the leader of its own process group (see
//! [`crate::commands::process_argv`]) and killing it is one more exec that kills the group.
//! An owner task per process waits for the exit and does the killing, so a dropped handle
//! still kills.

use std::sync::Arc;
use std::time::Duration;

use agent_runtime_sandbox::{ExitInfo, ProcessHandle, SandboxError};
use async_trait::async_trait;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::commands::kill_argv;
use crate::error::ModalError;
use crate::exec::{self, Shared};
use crate::router::ExecExit;

/// How long a killed process gets to be reported gone before it is taken as killed anyway.
const KILL_WAIT: Duration = Duration::from_secs(15);
/// SIGKILL, reported for processes killed by the sandbox's destruction.
const SIGKILL: i32 = 9;

/// How long a process killed by a signal waits to learn whether its sandbox ended under it.
const ENDED_GRACE: Duration = Duration::from_secs(2);

type Exit = Option<Result<ExitInfo, String>>;

/// Starts the owner task of exec `exec_id` and returns its handle.
pub(crate) fn own(shared: &Arc<Shared>, exec_id: String, pid_file: String) -> ModalProcess {
    let kill = CancellationToken::new();
    let (exit_tx, exit_rx) = watch::channel(None);
    let (shared2, kill2) = (Arc::clone(shared), kill.clone());
    shared.tasks.spawn(async move {
        let outcome = owner(&shared2, &exec_id, &pid_file, &kill2).await;
        if let Err(e) = &outcome {
            tracing::warn!(sandbox_id = %shared2.id, exec_id, "a sandbox process: {e}");
        }
        exit_tx.send_replace(Some(outcome));
    });
    ModalProcess {
        kill,
        exit: exit_rx,
    }
}

fn exit_info(exit: ExecExit) -> ExitInfo {
    match exit {
        ExecExit::Code(code) => ExitInfo {
            code: Some(code),
            signal: None,
        },
        ExecExit::Signal(signal) => ExitInfo {
            code: None,
            signal: Some(signal),
        },
    }
}

const KILLED: ExitInfo = ExitInfo {
    code: None,
    signal: Some(SIGKILL),
};

/// Waits for the process, kills it when asked, and reports how it ended: destroyed with
/// its sandbox is a SIGKILL exit; a sandbox that ended on its own is an error naming why.
async fn owner(
    shared: &Arc<Shared>,
    exec_id: &str,
    pid_file: &str,
    kill: &CancellationToken,
) -> Result<ExitInfo, String> {
    let outcome = tokio::select! {
        biased;
        () = shared.cancel.cancelled() => return Ok(KILLED),
        exit = exec::wait(shared, exec_id) => Some(exit),
        () = kill.cancelled() => None,
    };
    if let Some(exit) = outcome {
        let exit = finish(shared, exit);
        // Killed by a signal nobody here sent: when its sandbox ended under it, that is the
        // cause to report, not the signal. The end watch hears of it within moments.
        if matches!(&exit, Ok(info) if info.signal.is_some())
            && tokio::time::timeout(ENDED_GRACE, shared.ended.cancelled())
                .await
                .is_ok()
        {
            return Err(shared.ended_error().to_string());
        }
        return exit;
    }
    if let Err(e) = exec::run(shared, kill_argv(pid_file), b"").await {
        tracing::warn!(sandbox_id = %shared.id, exec_id, "killing a sandbox process: {e}");
    }
    match tokio::time::timeout(KILL_WAIT, exec::wait(shared, exec_id)).await {
        Ok(exit) => finish(shared, exit),
        Err(_) => {
            tracing::warn!(sandbox_id = %shared.id, exec_id, "a killed process did not report its exit");
            Ok(KILLED)
        }
    }
}

fn finish(shared: &Shared, exit: Result<ExecExit, ModalError>) -> Result<ExitInfo, String> {
    match exit {
        Ok(exit) => Ok(exit_info(exit)),
        Err(_) if shared.cancel.is_cancelled() => Ok(KILLED),
        Err(e) => Err(e.to_string()),
    }
}

/// The handle of one process.
pub(crate) struct ModalProcess {
    kill: CancellationToken,
    exit: watch::Receiver<Exit>,
}

#[async_trait]
impl ProcessHandle for ModalProcess {
    fn id(&self) -> Option<u32> {
        None
    }

    async fn wait(&mut self) -> Result<ExitInfo, SandboxError> {
        let lost = |message: String| SandboxError::Io {
            context: "waiting for a Modal sandbox process".into(),
            source: std::io::Error::other(message),
        };
        let exit = self
            .exit
            .wait_for(Option::is_some)
            .await
            .map_err(|_| lost("its owner task ended".into()))?;
        match &*exit {
            Some(Ok(info)) => Ok(*info),
            Some(Err(message)) => Err(lost(message.clone())),
            None => Err(lost("no exit recorded".into())),
        }
    }

    async fn kill(&mut self) -> Result<(), SandboxError> {
        self.kill.cancel();
        self.wait().await.map(|_| ())
    }
}

impl Drop for ModalProcess {
    fn drop(&mut self) {
        // Kills only a process still running: the owner task has stopped watching otherwise.
        self.kill.cancel();
    }
}
