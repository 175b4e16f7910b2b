//! One exec in a Modal sandbox as local byte streams: stdin through `TaskExecStdinWrite` with
//! offsets, stdout and stderr from `TaskExecStdioRead` streams that resume at the last offset
//! after a break (no loss, no duplicates), and the exit through `TaskExecWait`.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use agent_runtime_modal_proto::task_command_router::{
    TaskExecStdioFileDescriptor, TaskExecStdioReadRequest,
};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tokio_util::io::StreamReader;
use tokio_util::sync::{CancellationToken, PollSender};
use tokio_util::task::TaskTracker;

use crate::error::ModalError;
use crate::router::{ExecExit, RouterClient};
use crate::rpc::{retry_delay, Control};

/// Output chunks buffered per stream before the pump stops reading from Modal: bounds memory
/// when the consumer is slow (each chunk is what one stream message carried).
const OUTPUT_QUEUE: usize = 16;
/// Writes queued for stdin before `poll_write` waits: bounds memory when Modal is slow.
const STDIN_QUEUE: usize = 16;
/// The most stdin bytes sent in one `TaskExecStdinWrite` (queued writes are coalesced).
const STDIN_BATCH: usize = 1 << 20;

/// The parts of a live sandbox an exec needs.
pub(crate) struct Shared {
    /// Our id ([`agent_runtime_sandbox::SandboxRequest::sandbox_id`]).
    pub id: String,
    /// Modal's `sb-...` id.
    pub modal_id: String,
    pub control: Arc<Control>,
    pub router: RouterClient,
    /// Owns every task of the sandbox (pumps, writers, process owners, the tunnel).
    pub tasks: TaskTracker,
    /// Cancelled by `destroy`: every task stops.
    pub cancel: CancellationToken,
    /// Cancelled when Modal reports the sandbox finished, with the reason in `ended_reason`.
    pub ended: CancellationToken,
    pub ended_reason: OnceLock<String>,
}

impl Shared {
    /// The error for an operation on a sandbox Modal has ended.
    pub fn ended_error(&self) -> ModalError {
        ModalError::SandboxEnded {
            sandbox_id: self.modal_id.clone(),
            reason: self
                .ended_reason
                .get()
                .cloned()
                .unwrap_or_else(|| "it is gone".to_owned()),
        }
    }

    /// Records that the sandbox ended and wakes everything waiting on it.
    pub fn mark_ended(&self, reason: String) {
        let _ = self.ended_reason.set(reason);
        self.ended.cancel();
    }
}

/// A started exec's streams.
pub(crate) struct Exec {
    pub id: String,
    pub stdin: StdinWriter,
    pub stdout: Pin<Box<dyn AsyncRead + Send>>,
    pub stderr: Pin<Box<dyn AsyncRead + Send>>,
}

/// A fresh exec id (a UUID, like Modal's client; it doubles as the idempotency key).
pub(crate) fn new_exec_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Starts `argv` as exec `id` in the sandbox, with its pumps owned by the sandbox's tasks.
pub(crate) async fn start(
    shared: &Arc<Shared>,
    id: String,
    argv: Vec<String>,
    env: HashMap<String, String>,
    workdir: &str,
) -> Result<Exec, ModalError> {
    shared.router.exec_start(&id, argv, env, workdir).await?;
    Ok(Exec {
        stdin: StdinWriter::start(shared, &id),
        stdout: output(shared, &id, TaskExecStdioFileDescriptor::Stdout),
        stderr: output(shared, &id, TaskExecStdioFileDescriptor::Stderr),
        id,
    })
}

/// What a finished helper command did.
#[derive(Debug)]
pub(crate) struct Output {
    pub exit: ExecExit,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// The exit code, `None` after a signal.
    pub fn code(&self) -> Option<i32> {
        match self.exit {
            ExecExit::Code(code) => Some(code),
            ExecExit::Signal(_) => None,
        }
    }

    /// A one-line description for errors.
    pub fn describe(&self) -> String {
        format!(
            "{:?}: {}",
            self.exit,
            String::from_utf8_lossy(&self.stderr).trim()
        )
    }
}

/// Runs a helper command to its end: `stdin` fed and closed, output collected.
pub(crate) async fn run(
    shared: &Arc<Shared>,
    argv: Vec<String>,
    stdin: &[u8],
) -> Result<Output, ModalError> {
    let mut exec = start(shared, new_exec_id(), argv, HashMap::new(), "/").await?;
    let feed = async {
        exec.stdin.write_all(stdin).await?;
        exec.stdin.shutdown().await
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let (fed, out, err) = tokio::join!(
        feed,
        exec.stdout.read_to_end(&mut stdout),
        exec.stderr.read_to_end(&mut stderr)
    );
    let io_error = |e: io::Error| ModalError::Protocol(format!("helper command streams: {e}"));
    out.map_err(io_error)?;
    err.map_err(io_error)?;
    if let Err(e) = fed {
        tracing::debug!(exec_id = %exec.id, "stdin of a helper command: {e}");
    }
    let exit = wait(shared, &exec.id).await?;
    Ok(Output {
        exit,
        stdout,
        stderr,
    })
}

/// Waits for an exec's exit, or the sandbox's end or destruction (which kill it).
pub(crate) async fn wait(shared: &Shared, exec_id: &str) -> Result<ExecExit, ModalError> {
    tokio::select! {
        biased;
        () = shared.cancel.cancelled() => Err(ModalError::SandboxEnded {
            sandbox_id: shared.modal_id.clone(),
            reason: "destroyed".into(),
        }),
        () = shared.ended.cancelled() => Err(shared.ended_error()),
        exit = shared.router.exec_wait(exec_id) => exit,
    }
}

/// One output stream of an exec as an `AsyncRead`, fed by a pump task.
fn output(
    shared: &Arc<Shared>,
    exec_id: &str,
    fd: TaskExecStdioFileDescriptor,
) -> Pin<Box<dyn AsyncRead + Send>> {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(OUTPUT_QUEUE);
    let (shared2, exec_id) = (Arc::clone(shared), exec_id.to_owned());
    shared.tasks.spawn(async move {
        tokio::select! {
            () = shared2.cancel.cancelled() => {}
            () = pump_output(&shared2, &exec_id, fd, &tx) => {}
        }
    });
    Box::pin(StreamReader::new(ReceiverStream::new(rx)))
}

/// Streams one fd from `offset` 0 into `tx`, reopening the stream at the current offset after
/// a transient failure; a stream that ends normally is the fd's end of file.
async fn pump_output(
    shared: &Shared,
    exec_id: &str,
    fd: TaskExecStdioFileDescriptor,
    tx: &mpsc::Sender<io::Result<Bytes>>,
) {
    let mut offset: u64 = 0;
    let mut failures: u32 = 0;
    let mut failing_since = std::time::Instant::now();
    loop {
        let req = TaskExecStdioReadRequest {
            task_id: shared.router.task_id.clone(),
            exec_id: exec_id.to_owned(),
            offset,
            file_descriptor: fd as i32,
        };
        let (mut client, request) = shared.router.stream_request(req);
        let status = match client.task_exec_stdio_read(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.next().await {
                        Some(Ok(message)) => {
                            failures = 0;
                            offset += message.data.len() as u64;
                            if tx.send(Ok(Bytes::from(message.data))).await.is_err() {
                                return; // The reader was dropped.
                            }
                        }
                        Some(Err(status)) => break status,
                        None => return, // End of file.
                    }
                }
            }
            Err(status) => status,
        };
        if failures == 0 {
            failing_since = std::time::Instant::now();
        }
        let pause = retry_delay(
            &shared.control.policy,
            status.code(),
            failures,
            failing_since.elapsed(),
        );
        let Some(pause) = pause.filter(|_| !shared.ended.is_cancelled()) else {
            let error = if shared.ended.is_cancelled() {
                shared.ended_error().to_string()
            } else {
                format!(
                    "reading {fd:?} of exec {exec_id}: {:?}: {}",
                    status.code(),
                    status.message()
                )
            };
            let _ = tx.send(Err(io::Error::other(error))).await;
            return;
        };
        tracing::debug!(exec_id, ?fd, offset, code = ?status.code(), "resuming an output stream");
        failures += 1;
        tokio::time::sleep(pause).await;
    }
}

enum StdinMsg {
    Data(Bytes),
    Eof,
}

/// An exec's stdin. Writes are queued (at most [`STDIN_QUEUE`]) and sent in order by a task;
/// shutdown (or drop) closes it. After a failed send, writes fail with `BrokenPipe`.
pub(crate) struct StdinWriter {
    tx: PollSender<StdinMsg>,
    shut: bool,
}

impl StdinWriter {
    fn start(shared: &Arc<Shared>, exec_id: &str) -> Self {
        let (tx, rx) = mpsc::channel(STDIN_QUEUE);
        let (shared2, exec_id) = (Arc::clone(shared), exec_id.to_owned());
        shared.tasks.spawn(async move {
            tokio::select! {
                () = shared2.cancel.cancelled() => {}
                result = feed_stdin(&shared2, &exec_id, rx) => {
                    if let Err(e) = result {
                        tracing::debug!(exec_id, "stdin of a sandbox process: {e}");
                    }
                }
            }
        });
        Self {
            tx: PollSender::new(tx),
            shut: false,
        }
    }
}

async fn feed_stdin(
    shared: &Shared,
    exec_id: &str,
    mut rx: mpsc::Receiver<StdinMsg>,
) -> Result<(), ModalError> {
    let mut offset: u64 = 0;
    loop {
        let mut batch = BytesMut::new();
        let mut eof = false;
        match rx.recv().await {
            Some(StdinMsg::Data(data)) => batch.extend_from_slice(&data),
            Some(StdinMsg::Eof) | None => eof = true,
        }
        while !eof && batch.len() < STDIN_BATCH {
            match rx.try_recv() {
                Ok(StdinMsg::Data(data)) => batch.extend_from_slice(&data),
                Ok(StdinMsg::Eof) | Err(mpsc::error::TryRecvError::Disconnected) => eof = true,
                Err(mpsc::error::TryRecvError::Empty) => break,
            }
        }
        let len = batch.len() as u64;
        shared
            .router
            .stdin_write(exec_id, offset, batch.to_vec(), eof)
            .await?;
        offset += len;
        if eof {
            return Ok(());
        }
    }
}

fn broken_pipe() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the process's stdin is closed")
}

impl AsyncWrite for StdinWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.shut {
            return Poll::Ready(Err(broken_pipe()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        match self.tx.poll_reserve(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(_)) => Poll::Ready(Err(broken_pipe())),
            Poll::Ready(Ok(())) => {
                let data = Bytes::copy_from_slice(buf);
                match self.tx.send_item(StdinMsg::Data(data)) {
                    Ok(()) => Poll::Ready(Ok(buf.len())),
                    Err(_) => Poll::Ready(Err(broken_pipe())),
                }
            }
        }
    }

    /// Queued writes go out in order on their own; there is nothing to wait for here.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shut {
            return Poll::Ready(Ok(()));
        }
        match self.tx.poll_reserve(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(_)) => {
                self.shut = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(())) => {
                let _ = self.tx.send_item(StdinMsg::Eof);
                self.tx.close();
                self.shut = true;
                Poll::Ready(Ok(()))
            }
        }
    }
}
