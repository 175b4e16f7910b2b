//! [`WsConnection`]: the WebSocket at `/api/ws`.
//!
//! A background task reads the socket: each `result` goes to the command waiting for its id,
//! every other frame (events, `resync_required`, and results nobody waits for) to
//! [`WsConnection::next_frame`]. Frames are buffered without bound on the client side, so a test
//! that reads slowly sees everything the server sent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_runtime_protocol::{
    AnswerPermissionRequest, AnswerQuestionRequest, ClientFrame, IfBusy, InterruptResponse,
    PermissionResolution, QuestionResolution, SendMessageResponse, ServerFrame, SubscribeResult,
};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::ClientError;
use crate::rest::encode_segment;

/// How long a command waits for its `result` by default.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsAuth {
    /// Send nothing (a server without keys, or a test of the refusal).
    None,
    /// `?token=<key>` on the upgrade URL.
    Query,
    /// `Authorization: Bearer <key>` on the upgrade request.
    Header,
    /// An `auth` frame first, awaiting its result.
    FirstFrame,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<ServerFrame>>>>;

/// An open WebSocket connection.
pub struct WsConnection {
    sink: SplitSink<Socket, Message>,
    pending: Pending,
    frames: mpsc::UnboundedReceiver<ServerFrame>,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
    /// How long commands wait for their result.
    pub command_timeout: Duration,
}

impl WsConnection {
    /// Connects to `<base_url>/api/ws` (http(s) becomes ws(s)).
    pub async fn connect(
        base_url: &str,
        api_key: Option<&str>,
        auth: WsAuth,
    ) -> Result<Self, ClientError> {
        let ws_base = base_url
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        let mut url = format!("{ws_base}/api/ws");
        if let (WsAuth::Query, Some(key)) = (auth, api_key) {
            url.push_str(&format!("?token={}", encode_segment(key)));
        }
        let mut request = url
            .into_client_request()
            .map_err(|e| ClientError::WebSocket(e.to_string()))?;
        if let (WsAuth::Header, Some(key)) = (auth, api_key) {
            let value = HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|e| ClientError::WebSocket(e.to_string()))?;
            request.headers_mut().insert("authorization", value);
        }
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(upgrade_error)?;
        let (sink, stream) = socket.split();
        let pending: Pending = Arc::default();
        let (frames_tx, frames) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_frames(stream, pending.clone(), frames_tx));
        let mut connection = WsConnection {
            sink,
            pending,
            frames,
            next_id: AtomicU64::new(1),
            reader,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        };
        if auth == WsAuth::FirstFrame {
            let id = connection.new_id();
            let token = api_key.unwrap_or_default().to_string();
            connection.call(ClientFrame::Auth { id, token }).await?;
        }
        Ok(connection)
    }

    /// A fresh command id.
    pub fn new_id(&self) -> String {
        format!("c{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Sends a command and waits for its `result`: `data` when ok, the problem as
    /// [`ClientError::Api`] when not.
    pub async fn call(&mut self, frame: ClientFrame) -> Result<Option<Value>, ClientError> {
        let id = frame.id().to_string();
        let text = serde_json::to_string(&frame).map_err(|e| ClientError::Decode(e.to_string()))?;
        let result = self.send_and_wait(id, text).await?;
        match result {
            ServerFrame::Result { ok: true, data, .. } => Ok(data),
            ServerFrame::Result {
                error: Some(problem),
                ..
            } => Err(ClientError::Api {
                status: problem.status,
                problem,
            }),
            other => Err(ClientError::Decode(format!("not a result: {other:?}"))),
        }
    }

    /// Sends a frame without waiting: its `result` arrives through [`Self::next_frame`], in
    /// order with the events around it.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        let text = serde_json::to_string(frame).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.send_text(text).await
    }

    /// Sends raw text (e.g. a malformed frame) without waiting.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), ClientError> {
        self.sink
            .send(Message::Text(text.into().into()))
            .await
            .map_err(|e| ClientError::WebSocket(e.to_string()))
    }

    /// Sends raw text (e.g. a malformed frame) and waits for the `result` with `id`.
    pub async fn send_raw_and_wait(
        &mut self,
        id: &str,
        text: &str,
    ) -> Result<ServerFrame, ClientError> {
        self.send_and_wait(id.to_string(), text.to_string()).await
    }

    async fn send_and_wait(
        &mut self,
        id: String,
        text: String,
    ) -> Result<ServerFrame, ClientError> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        if let Err(e) = self.sink.send(Message::Text(text.into())).await {
            lock(&self.pending).remove(&id);
            return Err(ClientError::WebSocket(e.to_string()));
        }
        match tokio::time::timeout(self.command_timeout, rx).await {
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(_)) => Err(ClientError::WebSocket("connection closed".into())),
            Err(_) => {
                lock(&self.pending).remove(&id);
                Err(ClientError::Timeout(self.command_timeout))
            }
        }
    }

    /// `subscribe`: events after `since` follow as frames.
    pub async fn subscribe(
        &mut self,
        session_id: &str,
        since: u64,
    ) -> Result<SubscribeResult, ClientError> {
        let id = self.new_id();
        let data = self
            .call(ClientFrame::Subscribe {
                id,
                session_id: session_id.to_string(),
                since: Some(since),
            })
            .await?;
        decode(data)
    }

    /// `unsubscribe`.
    pub async fn unsubscribe(&mut self, session_id: &str) -> Result<(), ClientError> {
        let id = self.new_id();
        self.call(ClientFrame::Unsubscribe {
            id,
            session_id: session_id.to_string(),
        })
        .await
        .map(drop)
    }

    /// `send_message`.
    pub async fn send_message(
        &mut self,
        session_id: &str,
        text: &str,
        if_busy: Option<IfBusy>,
    ) -> Result<SendMessageResponse, ClientError> {
        let id = self.new_id();
        let data = self
            .call(ClientFrame::SendMessage {
                id,
                session_id: session_id.to_string(),
                text: text.to_string(),
                if_busy,
                client_message_id: None,
            })
            .await?;
        decode(data)
    }

    /// `interrupt`.
    pub async fn interrupt(&mut self, session_id: &str) -> Result<InterruptResponse, ClientError> {
        let id = self.new_id();
        let data = self
            .call(ClientFrame::Interrupt {
                id,
                session_id: session_id.to_string(),
            })
            .await?;
        decode(data)
    }

    /// `answer_permission`: as `POST /api/sessions/{id}/permissions/{requestId}`.
    pub async fn answer_permission(
        &mut self,
        session_id: &str,
        request_id: &str,
        answer: AnswerPermissionRequest,
    ) -> Result<PermissionResolution, ClientError> {
        let id = self.new_id();
        let data = self
            .call(ClientFrame::AnswerPermission {
                id,
                session_id: session_id.to_string(),
                request_id: request_id.to_string(),
                decision: answer.decision,
                remember: answer.remember,
                save_to_profile: answer.save_to_profile,
                message: answer.message,
                option_id: answer.option_id,
            })
            .await?;
        decode(data)
    }

    /// `answer_question`: as `POST /api/sessions/{id}/questions/{requestId}`.
    pub async fn answer_question(
        &mut self,
        session_id: &str,
        request_id: &str,
        answer: AnswerQuestionRequest,
    ) -> Result<QuestionResolution, ClientError> {
        let id = self.new_id();
        let data = self
            .call(ClientFrame::AnswerQuestion {
                id,
                session_id: session_id.to_string(),
                request_id: request_id.to_string(),
                answers: answer.answers,
            })
            .await?;
        decode(data)
    }

    /// `ping`.
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        let id = self.new_id();
        self.call(ClientFrame::Ping { id }).await.map(drop)
    }

    /// The next event, `resync_required`, or unclaimed `result`; `None` once the connection is
    /// closed and everything received has been read.
    pub async fn next_frame(&mut self) -> Option<ServerFrame> {
        self.frames.recv().await
    }

    /// [`Self::next_frame`] with a deadline.
    pub async fn next_frame_within(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<ServerFrame>, ClientError> {
        tokio::time::timeout(timeout, self.frames.recv())
            .await
            .map_err(|_| ClientError::Timeout(timeout))
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = self.sink.send(Message::Close(None)).await;
        let _ = self.sink.close().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
    }
}

impl Drop for WsConnection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_frames(
    mut stream: futures::stream::SplitStream<Socket>,
    pending: Pending,
    frames: mpsc::UnboundedSender<ServerFrame>,
) {
    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let frame: ServerFrame = match serde_json::from_str(text.as_str()) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::warn!("ignoring an undecodable frame: {e}");
                continue;
            }
        };
        let waiter = match &frame {
            ServerFrame::Result { id, .. } => lock(&pending).remove(id),
            _ => None,
        };
        let unclaimed = match waiter {
            Some(waiter) => waiter.send(frame).err(),
            None => Some(frame),
        };
        if let Some(frame) = unclaimed {
            if frames.send(frame).is_err() {
                break;
            }
        }
    }
    // Waiting commands learn that the connection is gone.
    lock(&pending).clear();
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn decode<T: DeserializeOwned>(data: Option<Value>) -> Result<T, ClientError> {
    serde_json::from_value(data.unwrap_or(Value::Null))
        .map_err(|e| ClientError::Decode(e.to_string()))
}

/// An upgrade refused with an HTTP error becomes [`ClientError::Api`] (e.g. 401).
fn upgrade_error(e: tokio_tungstenite::tungstenite::Error) -> ClientError {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(response) => {
            let status = response.status().as_u16();
            let problem = response
                .body()
                .as_ref()
                .and_then(|body| serde_json::from_slice(body).ok())
                .unwrap_or_else(|| {
                    agent_runtime_protocol::Problem::new(
                        status,
                        "unknown",
                        "WebSocket upgrade refused",
                        None,
                    )
                });
            ClientError::Api { status, problem }
        }
        other => ClientError::WebSocket(other.to_string()),
    }
}
