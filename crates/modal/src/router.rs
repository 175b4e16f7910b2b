//! The task command router (`modal.task_command_router.TaskCommandRouter`) of one sandbox's
//! task: where execs start, their stdio flows and their exit status comes from. Reached at
//! the URL `TaskGetCommandRouterAccess` returns, with its JWT as `authorization: Bearer`, as
//! Modal's client does; a JWT the router rejects is refreshed once per call.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use agent_runtime_modal_proto::client::{
    secret_source, SecretSource, StringMap, TaskGetCommandRouterAccessRequest,
};
use agent_runtime_modal_proto::task_command_router::task_command_router_client::TaskCommandRouterClient;
use agent_runtime_modal_proto::task_command_router::{
    task_exec_wait_response, TaskExecStartRequest, TaskExecStderrConfig, TaskExecStdinWriteRequest,
    TaskExecStdoutConfig, TaskExecWaitRequest,
};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::error::ModalError;
use crate::rpc::{add_attempt_metadata, endpoint, idempotency_key, with_retries, Control};

/// How long one `TaskExecWait` may hold before it is asked again (Modal's client uses 60 s).
const EXEC_WAIT_HOLD: Duration = Duration::from_secs(50);

/// How an exec ended, as the router reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecExit {
    Code(i32),
    Signal(i32),
}

/// A connected router client for one task.
pub struct RouterClient {
    pub task_id: String,
    channel: Channel,
    /// `Bearer <jwt>`, replaced when the router says it expired.
    auth: RwLock<AsciiMetadataValue>,
    control: Arc<Control>,
}

impl RouterClient {
    /// Fetches router access for `task_id` and connects (lazily) to it.
    pub async fn connect(control: Arc<Control>, task_id: &str) -> Result<Self, ModalError> {
        let (url, auth) = fetch_access(&control, task_id).await?;
        let channel = endpoint(&url)?.connect_lazy();
        Ok(Self {
            task_id: task_id.to_owned(),
            channel,
            auth: RwLock::new(auth),
            control,
        })
    }

    fn client(&self) -> TaskCommandRouterClient<Channel> {
        TaskCommandRouterClient::new(self.channel.clone())
    }

    fn auth(&self) -> AsciiMetadataValue {
        self.auth
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    async fn refresh_auth(&self) -> Result<(), ModalError> {
        let (_, auth) = fetch_access(&self.control, &self.task_id).await?;
        *self
            .auth
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = auth;
        Ok(())
    }

    /// A request with the router's auth, for streaming calls.
    pub fn stream_request<Req>(
        &self,
        req: Req,
    ) -> (TaskCommandRouterClient<Channel>, Request<Req>) {
        let mut request = Request::new(req);
        request.metadata_mut().insert("authorization", self.auth());
        (self.client(), request)
    }

    /// One unary router call with retries; an `UNAUTHENTICATED` answer refreshes the JWT and
    /// tries again once.
    pub async fn call<Req, Resp, F, Fut>(
        &self,
        rpc: &'static str,
        timeout: Duration,
        req: Req,
        send: F,
    ) -> Result<Resp, ModalError>
    where
        Req: Clone,
        F: Fn(TaskCommandRouterClient<Channel>, Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let key = idempotency_key();
        let mut refreshed = false;
        loop {
            let result = with_retries(rpc, &self.control.policy, timeout, |attempt| {
                let mut request = Request::new(req.clone());
                request.set_timeout(timeout);
                request.metadata_mut().insert("authorization", self.auth());
                add_attempt_metadata(request.metadata_mut(), &key, attempt);
                send(self.client(), request)
            })
            .await;
            match result {
                Err(e) if e.code() == Some(Code::Unauthenticated) && !refreshed => {
                    refreshed = true;
                    self.refresh_auth().await?;
                }
                other => return other.map(tonic::Response::into_inner),
            }
        }
    }

    /// Starts `argv` as exec `exec_id` with stdout and stderr piped; `env` is added to the
    /// container's environment (as an inline secret source, like Modal's `exec(env=...)`).
    pub async fn exec_start(
        &self,
        exec_id: &str,
        argv: Vec<String>,
        env: HashMap<String, String>,
        workdir: &str,
    ) -> Result<(), ModalError> {
        let secret_sources = if env.is_empty() {
            Vec::new()
        } else {
            vec![SecretSource {
                source: Some(secret_source::Source::Env(StringMap { contents: env })),
            }]
        };
        let req = TaskExecStartRequest {
            task_id: self.task_id.clone(),
            exec_id: exec_id.to_owned(),
            command_args: argv,
            stdout_config: TaskExecStdoutConfig::Pipe as i32,
            stderr_config: TaskExecStderrConfig::Pipe as i32,
            workdir: Some(workdir.to_owned()),
            secret_sources,
            ..Default::default()
        };
        let timeout = self.control.request_timeout;
        self.call("TaskExecStart", timeout, req, |mut c, r| async move {
            c.task_exec_start(r).await
        })
        .await
        .map(|_| ())
    }

    /// Writes `data` at `offset` of the exec's stdin, closing it after when `eof`. Safe to
    /// repeat: the router skips bytes it already has.
    pub async fn stdin_write(
        &self,
        exec_id: &str,
        offset: u64,
        data: Vec<u8>,
        eof: bool,
    ) -> Result<(), ModalError> {
        let req = TaskExecStdinWriteRequest {
            task_id: self.task_id.clone(),
            exec_id: exec_id.to_owned(),
            offset,
            data,
            eof,
        };
        let timeout = self.control.request_timeout;
        self.call("TaskExecStdinWrite", timeout, req, |mut c, r| async move {
            c.task_exec_stdin_write(r).await
        })
        .await
        .map(|_| ())
    }

    /// Waits for the exec to exit, asking again whenever one hold runs out.
    pub async fn exec_wait(&self, exec_id: &str) -> Result<ExecExit, ModalError> {
        let req = TaskExecWaitRequest {
            task_id: self.task_id.clone(),
            exec_id: exec_id.to_owned(),
        };
        loop {
            let result = self
                .call(
                    "TaskExecWait",
                    EXEC_WAIT_HOLD,
                    req.clone(),
                    |mut c, r| async move { c.task_exec_wait(r).await },
                )
                .await;
            match result {
                Ok(resp) => {
                    return match resp.exit_status {
                        Some(task_exec_wait_response::ExitStatus::Code(code)) => {
                            Ok(ExecExit::Code(code))
                        }
                        Some(task_exec_wait_response::ExitStatus::Signal(sig)) => {
                            Ok(ExecExit::Signal(sig))
                        }
                        None => continue,
                    }
                }
                // A hold that ran out on a healthy connection: the process still runs.
                Err(ModalError::Exhausted {
                    code: Code::DeadlineExceeded,
                    ..
                }) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

async fn fetch_access(
    control: &Control,
    task_id: &str,
) -> Result<(String, AsciiMetadataValue), ModalError> {
    let req = TaskGetCommandRouterAccessRequest {
        task_id: task_id.to_owned(),
    };
    let resp = control
        .call("TaskGetCommandRouterAccess", req, |mut c, r| async move {
            c.task_get_command_router_access(r).await
        })
        .await?;
    let auth = AsciiMetadataValue::try_from(format!("Bearer {}", resp.jwt))
        .map_err(|_| ModalError::Protocol("the command router JWT is not ASCII".into()))?;
    Ok((resp.url, auth))
}
