//! The host side of one container: the init process in a local sandbox, the frames to and
//! from it, and what each exec has produced so far.
//!
//! Output is kept whole per exec (tests produce little), so a reader can start or resume at
//! any offset. Every change to an exec bumps its `watch` channel; readers subscribe first and
//! then look, so no change is missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_runtime_sandbox::{LaunchSpec, ProcessHandle, Sandbox};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::frame::{encode, Decoder, ExecNum, ExecSpec, ExitStatus, Frame, OUTPUT_CHUNK};
use super::lock;

/// Where the init binary is mounted inside every sandbox.
pub const INIT_INSIDE: &str = "/opt/modal-stand-in/agent-runtime-modal-container";

/// How long the init may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The exit a process gets when its container goes away under it (SIGKILL).
const KILLED: ExitStatus = ExitStatus::Signal(9);

/// One process in the container (the entrypoint is exec 0).
#[derive(Debug)]
pub(crate) struct Exec {
    pub num: ExecNum,
    pub data: Mutex<ExecData>,
    pub changed: watch::Sender<()>,
}

/// Where an exec's output goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct OutputMode {
    pub discard_stdout: bool,
    pub discard_stderr: bool,
    /// Stderr is appended to stdout (and the stderr stream stays empty).
    pub stderr_to_stdout: bool,
}

/// What an exec has produced and consumed.
#[derive(Debug, Default)]
pub(crate) struct ExecData {
    pub mode: OutputMode,
    raw_stdout_eof: bool,
    raw_stderr_eof: bool,
    pub stdout: Vec<u8>,
    pub stdout_eof: bool,
    pub stderr: Vec<u8>,
    pub stderr_eof: bool,
    pub exit: Option<ExitStatus>,
    /// Stdin bytes accepted so far (the next write's expected offset).
    pub stdin_written: u64,
    pub stdin_closed: bool,
}

impl Exec {
    fn new(num: ExecNum, mode: OutputMode) -> Arc<Self> {
        Arc::new(Self {
            num,
            data: Mutex::new(ExecData {
                mode,
                ..ExecData::default()
            }),
            changed: watch::Sender::new(()),
        })
    }

    /// Changes the data and wakes every waiter.
    pub fn update(&self, f: impl FnOnce(&mut ExecData)) {
        f(&mut lock(&self.data));
        self.changed.send_replace(());
    }
}

/// A running container init and its execs.
pub(crate) struct Container {
    pub sandbox: Arc<dyn Sandbox>,
    /// To the writer task; taken at destroy so the writer ends.
    commands: Mutex<Option<mpsc::UnboundedSender<Frame>>>,
    execs: Mutex<HashMap<ExecNum, Arc<Exec>>>,
    /// The init process: killed by [`Container::kill_init`].
    handle: tokio::sync::Mutex<Box<dyn ProcessHandle>>,
    /// Cancelled when the init has exited (or was killed).
    pub gone: CancellationToken,
    tasks: TaskTracker,
}

impl Container {
    /// Starts the init in `sandbox` and waits until it is ready.
    pub async fn start(sandbox: Arc<dyn Sandbox>, sandbox_id: &str) -> Result<Arc<Self>, String> {
        let process = sandbox
            .spawn(LaunchSpec::new(INIT_INSIDE))
            .await
            .map_err(|e| format!("starting the container init: {e}"))?;
        let (commands, mut rx) = mpsc::unbounded_channel::<Frame>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let container = Arc::new(Self {
            sandbox,
            commands: Mutex::new(Some(commands)),
            execs: Mutex::new(HashMap::new()),
            handle: tokio::sync::Mutex::new(process.handle),
            gone: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        let mut stdin = process.stdin;
        container.tasks.spawn(async move {
            while let Some(frame) = rx.recv().await {
                if stdin.write_all(&encode(&frame)).await.is_err() || stdin.flush().await.is_err() {
                    break;
                }
            }
        });
        let mut stderr = process.stderr;
        let id = sandbox_id.to_owned();
        container.tasks.spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]);
                tracing::warn!(sandbox_id = %id, "container init: {}", text.trim_end());
            }
        });
        let mut stdout = process.stdout;
        let weak = Arc::downgrade(&container);
        let gone = container.gone.clone();
        container.tasks.spawn(async move {
            let mut ready = Some(ready_tx);
            let mut decoder = Decoder::new();
            let mut buf = vec![0u8; OUTPUT_CHUNK + 64];
            'read: while let Ok(n) = stdout.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                decoder.feed(&buf[..n]);
                loop {
                    match decoder.next_frame() {
                        Ok(Some(Frame::Ready)) => {
                            if let Some(ready) = ready.take() {
                                let _ = ready.send(());
                            }
                        }
                        Ok(Some(frame)) => match weak.upgrade() {
                            Some(container) => container.apply(frame),
                            None => break 'read,
                        },
                        Ok(None) => break,
                        Err(e) => {
                            tracing::error!("container init sent garbage: {e}");
                            break 'read;
                        }
                    }
                }
            }
            gone.cancel();
        });
        let waiter = Arc::downgrade(&container);
        container.tasks.spawn({
            let gone = container.gone.clone();
            async move {
                gone.cancelled().await;
                if let Some(container) = waiter.upgrade() {
                    container.finish_all();
                }
            }
        });
        container.tasks.close();
        match tokio::time::timeout(READY_TIMEOUT, ready_rx).await {
            Ok(Ok(())) => Ok(container),
            _ => {
                container.kill_init().await;
                Err("the container init did not start".into())
            }
        }
    }

    /// Starts a process; its record is returned at once (a failed start shows as exit 127
    /// with the reason on stderr, like a shell's).
    pub fn start_exec(&self, num: ExecNum, spec: ExecSpec, mode: OutputMode) -> Arc<Exec> {
        let exec = Exec::new(num, mode);
        exec.update(settle_eofs);
        lock(&self.execs).insert(num, Arc::clone(&exec));
        if self.gone.is_cancelled() {
            exec.update(|d| finish(d, KILLED));
        } else {
            self.send(Frame::Start { exec: num, spec });
        }
        exec
    }

    /// The record of a started process.
    pub fn exec(&self, num: ExecNum) -> Option<Arc<Exec>> {
        lock(&self.execs).get(&num).cloned()
    }

    /// Sends a command to the init (dropped once it is gone).
    pub fn send(&self, frame: Frame) {
        if let Some(commands) = lock(&self.commands).as_ref() {
            let _ = commands.send(frame);
        }
    }

    /// Kills the init (and so, by the sandbox's PID namespace, everything in the container is
    /// orphaned; the caller destroys the sandbox next) and marks every exec ended.
    pub async fn kill_init(&self) {
        let mut handle = self.handle.lock().await;
        if let Err(e) = handle.kill().await {
            tracing::warn!("killing the container init: {e}");
        }
        self.gone.cancel();
        self.finish_all();
    }

    /// Kills everything and destroys the sandbox; waits for the container's own tasks.
    pub async fn destroy(&self) {
        self.send(Frame::KillAll);
        lock(&self.commands).take();
        self.kill_init().await;
        if let Err(e) = self.sandbox.destroy().await {
            tracing::warn!(sandbox_id = %self.sandbox.id(), "destroying the local sandbox: {e}");
        }
        self.tasks.wait().await;
    }

    fn apply(&self, frame: Frame) {
        let num = match &frame {
            Frame::StartFailed { exec, .. }
            | Frame::Stdout { exec, .. }
            | Frame::Stderr { exec, .. }
            | Frame::StdoutEof { exec }
            | Frame::StderrEof { exec }
            | Frame::Exited { exec, .. } => *exec,
            other => {
                tracing::warn!("unexpected frame from the container init: {other:?}");
                return;
            }
        };
        let Some(exec) = self.exec(num) else {
            tracing::warn!("frame for unknown exec {num}");
            return;
        };
        exec.update(|d| match frame {
            Frame::StartFailed { message, .. } => {
                d.stderr
                    .extend_from_slice(format!("{message}\n").as_bytes());
                finish(d, ExitStatus::Code(127));
            }
            Frame::Stdout { data, .. } if !d.mode.discard_stdout => {
                d.stdout.extend_from_slice(&data);
            }
            Frame::Stderr { data, .. } if d.mode.stderr_to_stdout && !d.mode.discard_stdout => {
                d.stdout.extend_from_slice(&data);
            }
            Frame::Stderr { data, .. } if !d.mode.discard_stderr && !d.mode.stderr_to_stdout => {
                d.stderr.extend_from_slice(&data);
            }
            Frame::StdoutEof { .. } => d.raw_stdout_eof = true,
            Frame::StderrEof { .. } => d.raw_stderr_eof = true,
            Frame::Exited { status, .. } => d.exit = Some(status),
            _ => {}
        });
        exec.update(settle_eofs);
    }

    /// Ends every exec: the container is gone, so are its processes and pipes.
    fn finish_all(&self) {
        let execs: Vec<Arc<Exec>> = lock(&self.execs).values().cloned().collect();
        for exec in execs {
            exec.update(|d| finish(d, KILLED));
        }
    }
}

/// Derives the streams' ends from the pipes' ends: a discarded stream ends at once, a merged
/// stdout when both pipes have ended.
fn settle_eofs(d: &mut ExecData) {
    let mode = d.mode;
    d.stdout_eof |=
        mode.discard_stdout || (d.raw_stdout_eof && (d.raw_stderr_eof || !mode.stderr_to_stdout));
    d.stderr_eof |= mode.discard_stderr || mode.stderr_to_stdout || d.raw_stderr_eof;
}

/// Closes both outputs and sets the exit unless the process already exited.
fn finish(data: &mut ExecData, status: ExitStatus) {
    data.stdout_eof = true;
    data.stderr_eof = true;
    data.stdin_closed = true;
    data.exit.get_or_insert(status);
}
