//! One running agent process inside a sandbox: stdin writes, stdout and stderr lines (in arrival
//! order, on one channel), a stderr tail.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use agent_runtime_agents::{Translator, WarmUp, WarmUpStep};
use agent_runtime_sandbox::{ExitInfo, ProcessHandle, SandboxProcess};
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Output lines buffered between the reader tasks and the session actor. Small: the actor persists
/// every line's events before taking the next, and back-pressure on a chatty agent is correct.
const STDOUT_LINE_BUFFER: usize = 256;

/// Lines of stderr kept for error reports.
const STDERR_TAIL_LINES: usize = 40;

/// One line the agent wrote.
#[derive(Debug)]
pub(crate) enum OutputLine {
    Stdout(String),
    Stderr(String),
}

type Stdin = std::pin::Pin<Box<dyn AsyncWrite + Send>>;

/// An agent process and its translator.
pub(crate) struct AgentProcess {
    /// In a mutex only so the actor stays `Sync`; it is reached through `get_mut`, never locked.
    /// `None` once closed.
    stdin: Mutex<Option<Stdin>>,
    lines: mpsc::Receiver<OutputLine>,
    /// Lines read while waiting for the agent to be ready ([`AgentProcess::wait_until_ready`]),
    /// handed out first by [`AgentProcess::next_line`].
    held: VecDeque<OutputLine>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    handle: Box<dyn ProcessHandle>,
    pub(crate) translator: Translator,
    session_id: String,
    /// The stdout and stderr readers, and the stdin writer if any; aborted on drop.
    tasks: Vec<JoinHandle<()>>,
}

impl AgentProcess {
    /// Wraps a spawned process; starts the stdout and stderr readers.
    pub(crate) fn start(process: SandboxProcess, translator: Translator, session_id: &str) -> Self {
        let (tx, lines) = mpsc::channel(STDOUT_LINE_BUFFER);
        let stderr_tx = tx.clone();
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let span = tracing::Span::current();
        let stdout_reader = tokio::spawn(async move {
            let mut reader = BufReader::new(process.stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                        if !line.is_empty() && tx.send(OutputLine::Stdout(line)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let tail = stderr_tail.clone();
        let session = session_id.to_string();
        let stderr_reader = tokio::spawn(tracing::Instrument::instrument(
            async move {
                let mut lines = BufReader::new(process.stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!(session_id = %session, "[agent stderr] {line}");
                    if let Ok(mut tail) = tail.lock() {
                        if tail.len() == STDERR_TAIL_LINES {
                            tail.pop_front();
                        }
                        tail.push_back(line.clone());
                    }
                    if stderr_tx.send(OutputLine::Stderr(line)).await.is_err() {
                        break;
                    }
                }
            },
            span,
        ));
        AgentProcess {
            stdin: Mutex::new(Some(process.stdin)),
            lines,
            held: VecDeque::new(),
            stderr_tail,
            handle: process.handle,
            translator,
            session_id: session_id.to_string(),
            tasks: vec![stdout_reader, stderr_reader],
        }
    }

    /// Writes one line to the agent's stdin.
    pub(crate) async fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        let mut bytes = line.trim_end_matches('\n').as_bytes().to_vec();
        bytes.push(b'\n');
        let stdin = self
            .stdin
            .get_mut()
            .map_err(|_| std::io::Error::other("agent stdin poisoned"))?
            .as_mut()
            .ok_or_else(|| std::io::Error::other("agent stdin closed"))?;
        stdin.write_all(&bytes).await?;
        stdin.flush().await
    }

    /// Writes `bytes` to the agent's stdin and closes it, in a task of the process's own: a
    /// large input fills the pipe until the agent reads it, and the actor must not wait for that
    /// (nor deadlock with an agent blocked on a full stdout). A failed write (the process died)
    /// shows as the process's exit; what was written is never logged.
    pub(crate) fn write_stdin_and_close(&mut self, bytes: Vec<u8>) {
        let Some(mut stdin) = self.stdin.get_mut().ok().and_then(Option::take) else {
            return;
        };
        let session = self.session_id.clone();
        self.tasks.push(tokio::spawn(async move {
            let written = async {
                stdin.write_all(&bytes).await?;
                stdin.shutdown().await
            };
            if let Err(e) = written.await {
                tracing::debug!(session_id = %session, "writing the agent's stdin failed: {e}");
            }
        }));
    }

    /// Whether the process closed its stdout (it exited or is about to): a warm process that did
    /// before it was claimed is of no use. Reliable while fewer lines wait than the channel holds.
    pub(crate) fn has_exited(&self) -> bool {
        self.tasks.first().is_some_and(JoinHandle::is_finished)
    }

    /// The next stdout or stderr line; `None` once both are closed.
    pub(crate) async fn next_line(&mut self) -> Option<OutputLine> {
        match self.held.pop_front() {
            Some(line) => Some(line),
            None => self.lines.recv().await,
        }
    }

    /// Writes the translator's readiness probe, if it has one, and waits until a stdout line
    /// shows the agent up and reading its input ([`Translator::shows_ready`]). Every line read
    /// meanwhile is kept, in order, for [`AgentProcess::next_line`]: nothing is translated here.
    /// `false` if the process closed its output (or its stdin) first.
    pub(crate) async fn wait_until_ready(&mut self) -> bool {
        if let Some(probe) = self.translator.readiness_probe() {
            if self.write_line(&probe).await.is_err() {
                return false;
            }
        }
        while let Some(line) = self.lines.recv().await {
            let ready =
                matches!(&line, OutputLine::Stdout(text) if self.translator.shows_ready(text));
            self.held.push_back(line);
            if ready {
                return true;
            }
        }
        false
    }

    /// Takes the process through `warm_up` (a turn it works through and then takes back; see
    /// [`WarmUp`]): writes its lines and reads what the agent answers until it is done. Every
    /// line read is dropped: the warm-up belongs to no session, and nothing of it is
    /// translated. Lines held by [`AgentProcess::wait_until_ready`] stay held.
    pub(crate) async fn warm_up(&mut self, mut warm_up: WarmUp) -> Result<(), String> {
        self.write_line(&warm_up.first_line())
            .await
            .map_err(|e| format!("writing the warm-up: {e}"))?;
        while let Some(line) = self.lines.recv().await {
            let OutputLine::Stdout(line) = line else {
                continue;
            };
            match warm_up.on_line(&line) {
                WarmUpStep::Wait => {}
                WarmUpStep::Write(next) => self
                    .write_line(&next)
                    .await
                    .map_err(|e| format!("writing the warm-up: {e}"))?,
                WarmUpStep::Done => return Ok(()),
                WarmUpStep::Failed(why) => return Err(why),
            }
        }
        Err("the agent exited during its warm-up".into())
    }

    /// The last lines the agent wrote to stderr.
    pub(crate) fn stderr_tail(&self) -> Option<String> {
        let tail = self.stderr_tail.lock().ok()?;
        (!tail.is_empty()).then(|| tail.iter().cloned().collect::<Vec<_>>().join("\n"))
    }

    /// Waits for the process to exit (after stdout closed).
    pub(crate) async fn wait(&mut self) -> Result<ExitInfo, agent_runtime_sandbox::SandboxError> {
        self.handle.wait().await
    }

    /// Kills the process and waits for it.
    pub(crate) async fn kill(mut self) {
        self.kill_in_place().await;
    }

    /// Kills the process and waits for it, keeping what it wrote: the remaining lines are still
    /// read, then [`AgentProcess::next_line`] returns `None`.
    pub(crate) async fn kill_in_place(&mut self) {
        let _ = self.handle.kill().await;
        let _ = self.handle.wait().await;
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
