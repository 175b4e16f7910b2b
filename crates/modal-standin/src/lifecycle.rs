//! A sandbox's life: a local bubblewrap sandbox with the container init in it, the entrypoint
//! as exec 0, and its end (entrypoint exit, terminate, timeout, or the container dying), after
//! which everything in it is killed and the local sandbox destroyed.

use std::sync::Arc;
use std::time::Duration;

use agent_runtime_modal_proto::client::generic_result::GenericStatus;
use agent_runtime_modal_proto::client::GenericResult;
use agent_runtime_sandbox::{Labels, SandboxProvider, SandboxRequest};

use super::container::{Container, OutputMode};
use super::frame::{ExecSpec, ExitStatus};
use super::state::{EndReason, SandboxEntry, SandboxPhase, State};

/// The label the local sandboxes carry, with the Modal sandbox id as value.
pub const SANDBOX_LABEL: &str = "modal-stand-in.sandbox";

/// Runs one sandbox from creation to its end. Owned by the state's task tracker.
pub(crate) async fn run_sandbox(state: Arc<State>, entry: Arc<SandboxEntry>) {
    let result = match start_container(&state, &entry).await {
        Ok(container) => {
            entry.update(|s| {
                s.container = Some(Arc::clone(&container));
                s.phase = SandboxPhase::Running;
            });
            tracing::info!(sandbox_id = %entry.id, task_id = %entry.task_id, "sandbox running");
            let result = supervise(&state, &entry, &container).await;
            container.destroy().await;
            result
        }
        Err(message) => {
            tracing::warn!(sandbox_id = %entry.id, "sandbox failed to start: {message}");
            result(GenericStatus::InitFailure, 0, message)
        }
    };
    tracing::info!(sandbox_id = %entry.id, status = result.status, "sandbox finished");
    entry.update(|s| {
        s.container = None;
        s.phase = SandboxPhase::Finished(result);
    });
    entry.finished.cancel();
}

async fn start_container(state: &State, entry: &SandboxEntry) -> Result<Arc<Container>, String> {
    let mut request = SandboxRequest::new(entry.id.clone());
    request.extra_env = entry.secret_env.clone();
    request.labels = Labels::from([(SANDBOX_LABEL.to_owned(), entry.id.clone())]);
    let sandbox = state
        .provider
        .create(request)
        .await
        .map_err(|e| format!("creating the local sandbox: {e}"))?;
    match Container::start(Arc::clone(&sandbox), &entry.id).await {
        Ok(container) => Ok(container),
        Err(e) => {
            let _ = sandbox.destroy().await;
            Err(e)
        }
    }
}

/// Starts the entrypoint and waits for whatever ends the sandbox first.
async fn supervise(state: &State, entry: &SandboxEntry, container: &Container) -> GenericResult {
    let definition = entry.request.definition.clone().unwrap_or_default();
    let timeout = match definition.timeout_secs {
        0 => Duration::from_secs(300),
        secs => Duration::from_secs(u64::from(secs)),
    };
    let num = entry.update(|s| {
        s.next_exec += 1;
        s.next_exec - 1
    });
    let entrypoint = container.start_exec(
        num,
        ExecSpec {
            argv: definition.entrypoint_args.clone(),
            env: Vec::new(),
            cwd: definition.workdir.clone(),
        },
        OutputMode::default(),
    );
    let exited = async {
        loop {
            let mut changed = entrypoint.changed.subscribe();
            if let Some(exit) = super::lock(&entrypoint.data).exit {
                return exit;
            }
            if changed.changed().await.is_err() {
                return ExitStatus::Signal(9);
            }
        }
    };
    let reason = tokio::select! {
        exit = exited => {
            if container.gone.is_cancelled() && entry.end.is_cancelled() {
                None
            } else if container.gone.is_cancelled() {
                // The init died under the entrypoint.
                return result(GenericStatus::InternalFailure, 0, "the container died".into());
            } else {
                return match exit {
                    ExitStatus::Code(0) => result(GenericStatus::Success, 0, String::new()),
                    ExitStatus::Code(code) => result(GenericStatus::Failure, code, String::new()),
                    ExitStatus::Signal(sig) => result(GenericStatus::Failure, 128 + sig, String::new()),
                };
            }
        }
        () = entry.end.cancelled() => None,
        () = state.shutdown.cancelled() => Some(EndReason::Terminated),
        () = tokio::time::sleep(timeout) => Some(EndReason::TimedOut),
        () = container.gone.cancelled() => Some(EndReason::Killed),
    };
    let reason = reason
        .or_else(|| super::lock(&entry.status).end_reason)
        .unwrap_or(EndReason::Terminated);
    match reason {
        EndReason::Terminated => result(GenericStatus::Terminated, 0, String::new()),
        EndReason::TimedOut => result(
            GenericStatus::Timeout,
            0,
            format!("Sandbox timed out after {}s", timeout.as_secs()),
        ),
        EndReason::Killed => result(
            GenericStatus::InternalFailure,
            0,
            "the container died".into(),
        ),
    }
}

fn result(status: GenericStatus, exitcode: i32, exception: String) -> GenericResult {
    GenericResult {
        status: status as i32,
        exitcode,
        exception,
        ..Default::default()
    }
}
