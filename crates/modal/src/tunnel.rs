//! The egress tunnel: a Modal sandbox has no network (`block_network`), and its one way out
//! is this. `relay.js` runs as an exec (`node -e`, so nothing is written to the sandbox's
//! files), listens on `127.0.0.1:3128` inside and multiplexes each accepted connection over
//! the exec's stdout and stdin ([`crate::codec`]); here every opened connection becomes a
//! `tokio::io::duplex` stream handed to the request's [`EgressHandler`].
//!
//! Backpressure: bytes to the sandbox go through one bounded frame queue into the exec's
//! stdin writer; bytes from it are demultiplexed into bounded per-connection queues. A
//! connection whose handler does not read stalls the demultiplexer once its queue is full
//! (head-of-line blocking, bounded memory), and the relay pauses its sockets while its stdout
//! is full.
//!
//! If the relay exec dies, the sandbox's egress is gone: that is logged, open connections are
//! closed, and new ones inside are refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_runtime_sandbox::EgressHandler;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::codec::{Decoder, Frame, FrameKind, MAX_PAYLOAD};
use crate::error::ModalError;
use crate::exec::{self, Shared};

/// The relay program (`node -e`).
pub const RELAY_JS: &str = include_str!("relay.js");
/// How long the relay may take to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Frames queued for the relay's stdin before connections wait: bounds memory when Modal is
/// slower than the handlers.
const OUTBOUND_QUEUE: usize = 64;
/// Chunks queued for one connection's handler before the demultiplexer waits.
const CONN_QUEUE: usize = 16;
/// The in-memory pipe between a connection's pumps and its handler, per direction.
const DUPLEX_BUFFER: usize = 64 * 1024;

type Conns = Arc<Mutex<HashMap<u32, Conn>>>;

struct Conn {
    inbound: mpsc::Sender<Inbound>,
    cancel: CancellationToken,
}

enum Inbound {
    Data(Bytes),
    Eof,
}

fn lock(conns: &Conns) -> std::sync::MutexGuard<'_, HashMap<u32, Conn>> {
    conns
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts the relay in the sandbox and returns once it listens.
pub(crate) async fn start(
    shared: &Arc<Shared>,
    handler: Arc<dyn EgressHandler>,
) -> Result<(), ModalError> {
    let argv = vec!["node".to_owned(), "-e".to_owned(), RELAY_JS.to_owned()];
    let relay = exec::start(shared, exec::new_exec_id(), argv, HashMap::new(), "/").await?;
    let (out_tx, out_rx) = mpsc::channel::<Frame>(OUTBOUND_QUEUE);
    let (ready_tx, ready_rx) = oneshot::channel();
    let cancel = shared.cancel.child_token();
    let stdin = relay.stdin;
    let writer_cancel = cancel.clone();
    shared.tasks.spawn(async move {
        tokio::select! {
            () = writer_cancel.cancelled() => {}
            () = write_frames(out_rx, stdin) => {}
        }
    });
    let ctx = Demux {
        shared: Arc::clone(shared),
        handler,
        out: out_tx,
        conns: Conns::default(),
        cancel,
    };
    let (stdout, stderr) = (relay.stdout, relay.stderr);
    shared
        .tasks
        .spawn(async move { ctx.run(stdout, stderr, ready_tx).await });
    match tokio::time::timeout(READY_TIMEOUT, ready_rx).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(ModalError::Protocol(
            "the egress relay ended before it listened (is node in the image?)".into(),
        )),
        Err(_) => Err(ModalError::Protocol(format!(
            "the egress relay did not listen within {READY_TIMEOUT:?}"
        ))),
    }
}

async fn write_frames(mut frames: mpsc::Receiver<Frame>, mut stdin: impl AsyncWrite + Unpin) {
    let mut buf = BytesMut::new();
    while let Some(frame) = frames.recv().await {
        frame.encode(&mut buf);
        if stdin.write_all(&buf.split()).await.is_err() {
            return;
        }
    }
}

struct Demux {
    shared: Arc<Shared>,
    handler: Arc<dyn EgressHandler>,
    out: mpsc::Sender<Frame>,
    conns: Conns,
    /// Cancelled when the tunnel ends: every connection goes with it.
    cancel: CancellationToken,
}

impl Demux {
    async fn run(
        self,
        mut stdout: impl AsyncRead + Unpin,
        mut stderr: impl AsyncRead + Unpin + Send + 'static,
        ready: oneshot::Sender<()>,
    ) {
        let sandbox_id = self.shared.id.clone();
        let mut ready = Some(ready);
        let mut decoder = Decoder::new();
        let mut buf = vec![0u8; MAX_PAYLOAD];
        let reason = 'read: loop {
            let n = tokio::select! {
                () = self.cancel.cancelled() => break 'read "the sandbox was destroyed".to_owned(),
                n = stdout.read(&mut buf) => n,
            };
            match n {
                Ok(0) => break 'read "the relay exited".to_owned(),
                Ok(n) => decoder.push(&buf[..n]),
                Err(e) => break 'read format!("reading the relay: {e}"),
            }
            loop {
                match decoder.next_frame() {
                    Ok(Some(frame)) => {
                        if frame.kind == FrameKind::Ready {
                            if let Some(ready) = ready.take() {
                                let _ = ready.send(());
                            }
                        } else {
                            self.dispatch(frame).await;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => break 'read format!("the relay's stream is corrupt: {e}"),
                }
            }
        };
        self.cancel.cancel();
        lock(&self.conns).clear();
        if !self.shared.cancel.is_cancelled() {
            let mut err = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(1), stderr.read_to_end(&mut err)).await;
            tracing::warn!(
                %sandbox_id,
                stderr = %String::from_utf8_lossy(&err).trim(),
                "the egress tunnel ended ({reason}); the sandbox has no way out any more"
            );
        }
    }

    async fn dispatch(&self, frame: Frame) {
        match frame.kind {
            FrameKind::Open => self.open(frame.conn),
            FrameKind::Data | FrameKind::Eof => {
                let inbound = lock(&self.conns)
                    .get(&frame.conn)
                    .map(|c| c.inbound.clone());
                let item = match frame.kind {
                    FrameKind::Data => Inbound::Data(frame.payload),
                    _ => Inbound::Eof,
                };
                if let Some(inbound) = inbound {
                    let _ = inbound.send(item).await;
                }
            }
            FrameKind::Close => {
                if let Some(conn) = lock(&self.conns).remove(&frame.conn) {
                    conn.cancel.cancel();
                }
            }
            FrameKind::Ready => {}
        }
    }

    /// Serves a connection the relay accepted: the handler on one end of a duplex, two pumps
    /// on the other.
    fn open(&self, id: u32) {
        let (ours, theirs) = tokio::io::duplex(DUPLEX_BUFFER);
        let (inbound_tx, inbound_rx) = mpsc::channel(CONN_QUEUE);
        let cancel = self.cancel.child_token();
        lock(&self.conns).insert(
            id,
            Conn {
                inbound: inbound_tx,
                cancel: cancel.clone(),
            },
        );
        let handled = CancellationToken::new();
        let (handler, done, stop) = (Arc::clone(&self.handler), handled.clone(), cancel.clone());
        self.shared.tasks.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = handler.handle(Box::new(theirs)) => {}
            }
            done.cancel();
        });
        let (read_half, write_half) = tokio::io::split(ours);
        let stop = cancel.clone();
        self.shared.tasks.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = to_handler(inbound_rx, write_half) => {}
            }
        });
        let (out, conns) = (self.out.clone(), Arc::clone(&self.conns));
        self.shared.tasks.spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = from_handler(id, read_half, &out, &handled) => {}
            }
            lock(&conns).remove(&id);
        });
    }
}

async fn to_handler(mut inbound: mpsc::Receiver<Inbound>, mut to: impl AsyncWrite + Unpin) {
    while let Some(item) = inbound.recv().await {
        let written = match item {
            Inbound::Data(data) => to.write_all(&data).await,
            Inbound::Eof => to.shutdown().await,
        };
        if written.is_err() {
            return;
        }
    }
}

/// Sends what the handler writes as data frames, then EOF; then, once the handler is done,
/// CLOSE (after the data, so none is lost).
async fn from_handler(
    id: u32,
    mut from: impl AsyncRead + Unpin,
    out: &mpsc::Sender<Frame>,
    handled: &CancellationToken,
) {
    let mut buf = vec![0u8; MAX_PAYLOAD];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let frame = Frame::data(id, Bytes::copy_from_slice(&buf[..n]));
                if out.send(frame).await.is_err() {
                    return;
                }
            }
        }
    }
    if out.send(Frame::control(id, FrameKind::Eof)).await.is_err() {
        return;
    }
    handled.cancelled().await;
    let _ = out.send(Frame::control(id, FrameKind::Close)).await;
}
