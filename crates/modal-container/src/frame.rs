//! The framed protocol between the stand-in and its container init
//! (`agent-runtime-modal-container`), over the init's stdin (to the init) and stdout (from it).
//!
//! A pure codec: [`encode`] turns a [`Frame`] into bytes, [`Decoder`] is fed bytes as they
//! arrive and yields whole frames. No I/O, so both ends and the tests share it.
//!
//! # Wire form
//!
//! Every frame is `len: u32 BE` (of what follows), `kind: u8`, `exec: u32 BE`, then a body
//! whose form depends on the kind: raw bytes for output and stdin, JSON for [`ExecSpec`], an
//! `i32 BE` for exit codes and signals, UTF-8 for error messages, nothing otherwise.

use serde::{Deserialize, Serialize};

/// The largest frame accepted (length field), so a corrupt stream fails instead of allocating.
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// How much output the init reads from a child pipe into one frame.
pub const OUTPUT_CHUNK: usize = 64 * 1024;

/// Which process a frame is about: the entrypoint is exec 0, every exec a number of its own
/// (chosen by the stand-in).
pub type ExecNum = u32;

/// What to start: the program and its arguments, environment additions and working directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecSpec {
    /// `argv[0]` is looked up in `PATH` when it has no `/`.
    pub argv: Vec<String>,
    /// Added to (and overriding) the init's own environment.
    pub env: Vec<(String, String)>,
    /// `None`: the init's own working directory.
    pub cwd: Option<String>,
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

/// One message of the protocol, in either direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    // To the init.
    /// Start a process.
    Start { exec: ExecNum, spec: ExecSpec },
    /// Bytes for a process's stdin.
    Stdin { exec: ExecNum, data: Vec<u8> },
    /// Close a process's stdin.
    StdinEof { exec: ExecNum },
    /// Send a signal to a process's process group.
    Kill { exec: ExecNum, signal: i32 },
    /// SIGKILL every process group the init started.
    KillAll,

    // From the init.
    /// The init is up and listening.
    Ready,
    /// A process could not be started (then no other frame comes for it).
    StartFailed { exec: ExecNum, message: String },
    /// Output on a process's stdout.
    Stdout { exec: ExecNum, data: Vec<u8> },
    /// Output on a process's stderr.
    Stderr { exec: ExecNum, data: Vec<u8> },
    /// A process's stdout reached end of file.
    StdoutEof { exec: ExecNum },
    /// A process's stderr reached end of file.
    StderrEof { exec: ExecNum },
    /// A process exited.
    Exited { exec: ExecNum, status: ExitStatus },
}

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {0} bytes exceeds the limit")]
    TooLong(usize),
    #[error("frame too short for its kind {0}")]
    Truncated(u8),
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("bad frame body: {0}")]
    Body(String),
}

mod kind {
    pub const START: u8 = 1;
    pub const STDIN: u8 = 2;
    pub const STDIN_EOF: u8 = 3;
    pub const KILL: u8 = 4;
    pub const KILL_ALL: u8 = 5;
    pub const READY: u8 = 10;
    pub const START_FAILED: u8 = 11;
    pub const STDOUT: u8 = 12;
    pub const STDERR: u8 = 13;
    pub const STDOUT_EOF: u8 = 14;
    pub const STDERR_EOF: u8 = 15;
    pub const EXIT_CODE: u8 = 16;
    pub const EXIT_SIGNAL: u8 = 17;
}

/// The bytes of one frame.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let (kind, exec, body): (u8, ExecNum, Vec<u8>) = match frame {
        Frame::Start { exec, spec } => (
            kind::START,
            *exec,
            // A struct of strings always serializes.
            serde_json::to_vec(spec).unwrap_or_default(),
        ),
        Frame::Stdin { exec, data } => (kind::STDIN, *exec, data.clone()),
        Frame::StdinEof { exec } => (kind::STDIN_EOF, *exec, Vec::new()),
        Frame::Kill { exec, signal } => (kind::KILL, *exec, signal.to_be_bytes().to_vec()),
        Frame::KillAll => (kind::KILL_ALL, 0, Vec::new()),
        Frame::Ready => (kind::READY, 0, Vec::new()),
        Frame::StartFailed { exec, message } => {
            (kind::START_FAILED, *exec, message.as_bytes().to_vec())
        }
        Frame::Stdout { exec, data } => (kind::STDOUT, *exec, data.clone()),
        Frame::Stderr { exec, data } => (kind::STDERR, *exec, data.clone()),
        Frame::StdoutEof { exec } => (kind::STDOUT_EOF, *exec, Vec::new()),
        Frame::StderrEof { exec } => (kind::STDERR_EOF, *exec, Vec::new()),
        Frame::Exited { exec, status } => match status {
            ExitStatus::Code(code) => (kind::EXIT_CODE, *exec, code.to_be_bytes().to_vec()),
            ExitStatus::Signal(sig) => (kind::EXIT_SIGNAL, *exec, sig.to_be_bytes().to_vec()),
        },
    };
    let len = 1 + 4 + body.len();
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.push(kind);
    out.extend_from_slice(&exec.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Reassembles frames from a byte stream cut anywhere.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, `None` until one is complete. An error leaves the stream
    /// unusable (the framing is lost).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(len_bytes) = self.buf.get(..4) else {
            return Ok(None);
        };
        let len =
            u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
        if len > MAX_FRAME_LEN {
            return Err(FrameError::TooLong(len));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let payload: Vec<u8> = self.buf.drain(..4 + len).skip(4).collect();
        decode_payload(&payload).map(Some)
    }

    /// Bytes held that do not yet form a whole frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

fn decode_payload(payload: &[u8]) -> Result<Frame, FrameError> {
    let Some((&kind, rest)) = payload.split_first() else {
        return Err(FrameError::Truncated(0));
    };
    let Some(exec_bytes) = rest.get(..4) else {
        return Err(FrameError::Truncated(kind));
    };
    let exec = u32::from_be_bytes([exec_bytes[0], exec_bytes[1], exec_bytes[2], exec_bytes[3]]);
    let body = &rest[4..];
    let int = || -> Result<i32, FrameError> {
        body.try_into()
            .map(i32::from_be_bytes)
            .map_err(|_| FrameError::Truncated(kind))
    };
    Ok(match kind {
        kind::START => Frame::Start {
            exec,
            spec: serde_json::from_slice(body).map_err(|e| FrameError::Body(e.to_string()))?,
        },
        kind::STDIN => Frame::Stdin {
            exec,
            data: body.to_vec(),
        },
        kind::STDIN_EOF => Frame::StdinEof { exec },
        kind::KILL => Frame::Kill {
            exec,
            signal: int()?,
        },
        kind::KILL_ALL => Frame::KillAll,
        kind::READY => Frame::Ready,
        kind::START_FAILED => Frame::StartFailed {
            exec,
            message: String::from_utf8_lossy(body).into_owned(),
        },
        kind::STDOUT => Frame::Stdout {
            exec,
            data: body.to_vec(),
        },
        kind::STDERR => Frame::Stderr {
            exec,
            data: body.to_vec(),
        },
        kind::STDOUT_EOF => Frame::StdoutEof { exec },
        kind::STDERR_EOF => Frame::StderrEof { exec },
        kind::EXIT_CODE => Frame::Exited {
            exec,
            status: ExitStatus::Code(int()?),
        },
        kind::EXIT_SIGNAL => Frame::Exited {
            exec,
            status: ExitStatus::Signal(int()?),
        },
        other => return Err(FrameError::UnknownKind(other)),
    })
}
