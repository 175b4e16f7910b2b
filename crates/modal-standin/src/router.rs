//! The task command router (`modal.task_command_router.TaskCommandRouter`): exec, stdio and
//! exit status of processes in a running sandbox. Calls need a JWT from
//! `TaskGetCommandRouterAccess` for the same task; a task that has finished answers
//! `NOT_FOUND`, as Modal's router does once a task has shut down.

use std::collections::BTreeMap;
use std::sync::Arc;

use agent_runtime_modal_proto::client::secret_source::Source;
use agent_runtime_modal_proto::task_command_router::task_command_router_server::TaskCommandRouter;
use agent_runtime_modal_proto::task_command_router::{
    self as pb, task_exec_poll_response, task_exec_wait_response, TaskExecStderrConfig,
    TaskExecStdioFileDescriptor, TaskExecStdoutConfig,
};
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::container::{Container, Exec, OutputMode};
use super::frame::{ExecSpec, ExitStatus, Frame, OUTPUT_CHUNK};
use super::lock;
use super::net::jwt_of;
use super::state::{SandboxEntry, SandboxPhase, State};

/// The `TaskCommandRouter` service.
pub(crate) struct Router(pub Arc<State>);

type Rpc<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl TaskCommandRouter for Router {
    async fn task_exec_start(
        &self,
        request: Request<pb::TaskExecStartRequest>,
    ) -> Rpc<pb::TaskExecStartResponse> {
        let (entry, container) = self.task(&request, &request.get_ref().task_id)?;
        let req = request.into_inner();
        if req.command_args.is_empty() {
            return Err(Status::invalid_argument("empty command"));
        }
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for source in &req.secret_sources {
            match &source.source {
                Some(Source::SecretId(id)) => env.extend(self.secret_env(id)?),
                Some(Source::Env(map)) => env.extend(map.contents.clone()),
                None => {}
            }
        }
        for id in &req.secret_ids {
            env.extend(self.secret_env(id)?);
        }
        env.extend(req.env.clone());
        let mode = OutputMode {
            discard_stdout: req.stdout_config == TaskExecStdoutConfig::Devnull as i32,
            discard_stderr: req.stderr_config == TaskExecStderrConfig::Devnull as i32,
            stderr_to_stdout: req.stderr_config == TaskExecStderrConfig::Stdout as i32,
        };
        // The exec id is the client's idempotency key: a retried start starts nothing new.
        let num = entry.update(|s| {
            if s.execs.contains_key(&req.exec_id) {
                return None;
            }
            let num = s.next_exec;
            s.next_exec += 1;
            s.execs.insert(req.exec_id.clone(), num);
            Some(num)
        });
        if let Some(num) = num {
            let spec = ExecSpec {
                argv: req.command_args,
                env: env.into_iter().collect(),
                cwd: req.workdir.or_else(|| {
                    let definition = entry.request.definition.as_ref();
                    definition.and_then(|d| d.workdir.clone())
                }),
            };
            let exec = container.start_exec(num, spec, mode);
            if let Some(secs) = req.timeout_secs.filter(|s| *s > 0) {
                let container = Arc::clone(&container);
                self.0.tasks.spawn(async move {
                    let deadline = std::time::Duration::from_secs(u64::from(secs));
                    if tokio::time::timeout(deadline, wait_exit(&exec))
                        .await
                        .is_err()
                    {
                        container.send(Frame::Kill {
                            exec: exec.num,
                            signal: 9,
                        });
                    }
                });
            }
        }
        Ok(Response::new(pb::TaskExecStartResponse {}))
    }

    async fn task_exec_stdio_read(
        &self,
        request: Request<pb::TaskExecStdioReadRequest>,
    ) -> Rpc<BoxStream<pb::TaskExecStdioReadResponse>> {
        let (_, exec) = self.exec(
            &request,
            &request.get_ref().task_id,
            &request.get_ref().exec_id,
        )?;
        let req = request.into_inner();
        let stderr = req.file_descriptor == TaskExecStdioFileDescriptor::Stderr as i32;
        let start = usize::try_from(req.offset).unwrap_or(usize::MAX);
        let stream = futures::stream::unfold((exec, start), move |(exec, offset)| async move {
            loop {
                let mut changed = exec.changed.subscribe();
                {
                    let data = lock(&exec.data);
                    let (buf, eof) = if stderr {
                        (&data.stderr, data.stderr_eof)
                    } else {
                        (&data.stdout, data.stdout_eof)
                    };
                    if buf.len() > offset {
                        let end = buf.len().min(offset + OUTPUT_CHUNK);
                        let chunk = buf[offset..end].to_vec();
                        drop(data);
                        let item = Ok(pb::TaskExecStdioReadResponse { data: chunk });
                        return Some((item, (exec, end)));
                    }
                    if eof {
                        return None;
                    }
                }
                if changed.changed().await.is_err() {
                    return None;
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn task_exec_stdin_write(
        &self,
        request: Request<pb::TaskExecStdinWriteRequest>,
    ) -> Rpc<pb::TaskExecStdinWriteResponse> {
        let (container, exec) = self.exec(
            &request,
            &request.get_ref().task_id,
            &request.get_ref().exec_id,
        )?;
        let req = request.into_inner();
        let mut fresh = None;
        let mut close = false;
        let mut failure = None;
        exec.update(|d| {
            let end = req.offset + req.data.len() as u64;
            if req.offset > d.stdin_written {
                failure = Some(Status::out_of_range(format!(
                    "stdin write at offset {} but only {} bytes were written",
                    req.offset, d.stdin_written
                )));
                return;
            }
            if end > d.stdin_written {
                if d.stdin_closed {
                    failure = Some(Status::failed_precondition("stdin is closed"));
                    return;
                }
                // Bytes before `stdin_written` arrived already (a retried write).
                let skip = (d.stdin_written - req.offset) as usize;
                fresh = Some(req.data[skip..].to_vec());
                d.stdin_written = end;
            }
            if req.eof && !d.stdin_closed {
                d.stdin_closed = true;
                close = true;
            }
        });
        if let Some(status) = failure {
            return Err(status);
        }
        if let Some(data) = fresh {
            container.send(Frame::Stdin {
                exec: exec.num,
                data,
            });
        }
        if close {
            container.send(Frame::StdinEof { exec: exec.num });
        }
        Ok(Response::new(pb::TaskExecStdinWriteResponse {}))
    }

    async fn task_exec_stdin_status(
        &self,
        request: Request<pb::TaskExecStdinStatusRequest>,
    ) -> Rpc<pb::TaskExecStdinStatusResponse> {
        let (_, exec) = self.exec(
            &request,
            &request.get_ref().task_id,
            &request.get_ref().exec_id,
        )?;
        let data = lock(&exec.data);
        Ok(Response::new(pb::TaskExecStdinStatusResponse {
            num_bytes_written: data.stdin_written,
            closed: data.stdin_closed,
        }))
    }

    async fn task_exec_wait(
        &self,
        request: Request<pb::TaskExecWaitRequest>,
    ) -> Rpc<pb::TaskExecWaitResponse> {
        let (_, exec) = self.exec(
            &request,
            &request.get_ref().task_id,
            &request.get_ref().exec_id,
        )?;
        let exit_status = Some(match wait_exit(&exec).await {
            ExitStatus::Code(code) => task_exec_wait_response::ExitStatus::Code(code),
            ExitStatus::Signal(sig) => task_exec_wait_response::ExitStatus::Signal(sig),
        });
        Ok(Response::new(pb::TaskExecWaitResponse { exit_status }))
    }

    async fn task_exec_poll(
        &self,
        request: Request<pb::TaskExecPollRequest>,
    ) -> Rpc<pb::TaskExecPollResponse> {
        let (_, exec) = self.exec(
            &request,
            &request.get_ref().task_id,
            &request.get_ref().exec_id,
        )?;
        let exit = lock(&exec.data).exit;
        let exit_status = exit.map(|exit| match exit {
            ExitStatus::Code(code) => task_exec_poll_response::ExitStatus::Code(code),
            ExitStatus::Signal(sig) => task_exec_poll_response::ExitStatus::Signal(sig),
        });
        Ok(Response::new(pb::TaskExecPollResponse { exit_status }))
    }
}

impl Router {
    /// The running sandbox of a task, checking that the call's JWT is for it.
    fn task<T>(
        &self,
        request: &Request<T>,
        task_id: &str,
    ) -> Result<(Arc<SandboxEntry>, Arc<Container>), Status> {
        let granted = jwt_of(request.metadata()).and_then(|jwt| self.0.jwt_task(&jwt));
        if granted.as_deref() != Some(task_id) {
            return Err(Status::permission_denied(format!(
                "the token does not grant access to task {task_id}"
            )));
        }
        let not_found = || Status::not_found(format!("Task {task_id} not found"));
        let entry = self.0.sandbox_by_task(task_id).ok_or_else(not_found)?;
        let status = lock(&entry.status);
        match (&status.phase, &status.container) {
            (SandboxPhase::Running, Some(container)) if !container.gone.is_cancelled() => {
                let container = Arc::clone(container);
                drop(status);
                Ok((entry, container))
            }
            _ => Err(not_found()),
        }
    }

    /// An exec of a running task.
    fn exec<T>(
        &self,
        request: &Request<T>,
        task_id: &str,
        exec_id: &str,
    ) -> Result<(Arc<Container>, Arc<Exec>), Status> {
        let (entry, container) = self.task(request, task_id)?;
        let num = lock(&entry.status).execs.get(exec_id).copied();
        let exec = num.and_then(|num| container.exec(num));
        let exec = exec.ok_or_else(|| Status::not_found(format!("Exec {exec_id} not found")))?;
        Ok((container, exec))
    }

    fn secret_env(&self, id: &str) -> Result<BTreeMap<String, String>, Status> {
        let registry = lock(&self.0.registry);
        let secret = registry.secrets.iter().find(|s| s.id == id);
        secret
            .map(|s| s.env.clone())
            .ok_or_else(|| Status::not_found(format!("Secret {id} not found")))
    }
}

/// Waits until an exec has exited.
pub(crate) async fn wait_exit(exec: &Exec) -> ExitStatus {
    loop {
        let mut changed = exec.changed.subscribe();
        if let Some(exit) = lock(&exec.data).exit {
            return exit;
        }
        if changed.changed().await.is_err() {
            return ExitStatus::Signal(9);
        }
    }
}
