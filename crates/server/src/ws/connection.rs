//! One WebSocket connection: a reader loop that answers commands, and a writer task that owns
//! the socket's sending half and the connection's subscriptions (`writer.rs`).
//!
//! Everything the reader wants sent goes through one bounded channel ([`OUTBOUND_CAPACITY`]) to
//! the writer, in order: a subscription is handed over with its `subscribe` result, which the
//! writer sends before any of its events, and after an `unsubscribe` nothing of that session
//! is sent. Task ownership: all tasks of a connection hang off its cancellation token (a child
//! of the server's), and closing the connection cancels and awaits them.

use std::time::Duration;

use agent_runtime_protocol::{ClientFrame, ServerFrame, SubscribeResult};
use axum::extract::ws::{Message, WebSocket};
use futures::stream::SplitStream;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::writer::{write_frames, Outbound};
use crate::app::AppState;
use crate::error::ApiError;
use crate::forward::{forward_command, path_segment};

/// Requests (command results, subscribes) queued per connection before the writer takes them.
/// It bounds the memory a client that stops reading can pin: when it is full the reader waits,
/// and stops reading commands. Events do not go through it (see `subscription.rs`).
pub const OUTBOUND_CAPACITY: usize = 1024;

/// How long a connection opened without a key may take to send its `auth` frame.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// Commands (`send_message`, `interrupt`) one connection may have waiting on sessions at once;
/// past it the connection stops reading until one finishes, so a client that floods commands
/// and never reads its results cannot grow the server's memory.
pub const MAX_COMMANDS_IN_FLIGHT: usize = 32;

/// WebSocket close code "policy violation", sent after a failed `auth`.
const CLOSE_POLICY_VIOLATION: u16 = 1008;

/// Serves one upgraded connection until either side closes it or the server shuts down.
pub async fn run(socket: WebSocket, state: AppState, authenticated: bool) {
    let cancel = state.shutdown.child_token();
    let (sink, stream) = socket.split();
    let (out, outbound) = mpsc::channel(OUTBOUND_CAPACITY);
    let writer = tokio::spawn(write_frames(sink, outbound, cancel.clone()));
    let mut connection = Connection {
        state,
        out,
        cancel: cancel.clone(),
        commands: JoinSet::new(),
    };
    connection.read_frames(stream, authenticated).await;
    connection.close().await;
    if let Err(e) = writer.await {
        if e.is_panic() {
            tracing::error!("websocket writer panicked: {e}");
        }
    }
    cancel.cancel();
}

struct Connection {
    state: AppState,
    out: mpsc::Sender<Outbound>,
    cancel: CancellationToken,
    /// Commands that wait on a session's actor (send_message, interrupt), so the reader keeps
    /// answering other commands meanwhile.
    commands: JoinSet<()>,
}

impl Connection {
    async fn read_frames(&mut self, mut stream: SplitStream<WebSocket>, authenticated: bool) {
        if !authenticated && !self.authenticate(&mut stream).await {
            return;
        }
        loop {
            let message = tokio::select! {
                _ = self.cancel.cancelled() => return,
                message = stream.next() => message,
            };
            match message {
                Some(Ok(Message::Text(text))) => self.handle_text(&text).await,
                Some(Ok(Message::Binary(_))) => {
                    let error = ApiError::InvalidFrame("binary frames are not supported".into());
                    self.send_error(String::new(), &error).await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
            }
            while self.commands.try_join_next().is_some() {}
        }
    }

    /// Waits for the `auth` frame of a connection opened without a key; on anything else, an
    /// error `result` is sent and the connection closed.
    async fn authenticate(&mut self, stream: &mut SplitStream<WebSocket>) -> bool {
        let first = tokio::select! {
            _ = self.cancel.cancelled() => return false,
            first = tokio::time::timeout(AUTH_TIMEOUT, stream.next()) => first,
        };
        let text = match first {
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) | Err(_) => {
                self.reject_auth(String::new()).await;
                return false;
            }
            Ok(Some(Err(_)) | None) => return false,
        };
        let (id, frame) = parse_frame(&text);
        match frame {
            Ok(ClientFrame::Auth { id, token }) if self.state.keys.accepts(&token) => {
                self.send_ok(id, None).await;
                true
            }
            _ => {
                self.reject_auth(id).await;
                false
            }
        }
    }

    async fn reject_auth(&mut self, id: String) {
        self.send_error(id, &ApiError::Unauthorized).await;
        self.queue(Outbound::Close {
            code: CLOSE_POLICY_VIOLATION,
            reason: "unauthorized",
        })
        .await;
    }

    async fn handle_text(&mut self, text: &str) {
        let (id, frame) = parse_frame(text);
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => return self.send_error(id, &error).await,
        };
        match frame {
            ClientFrame::Auth { id, token } => {
                if self.state.keys.is_open() || self.state.keys.accepts(&token) {
                    self.send_ok(id, None).await;
                } else {
                    self.send_error(id, &ApiError::Unauthorized).await;
                }
            }
            ClientFrame::Ping { id } => self.send_ok(id, None).await,
            ClientFrame::Subscribe {
                id,
                session_id,
                since,
            } => self.subscribe(id, session_id, since.unwrap_or(0)).await,
            ClientFrame::Unsubscribe { id, session_id } => {
                self.queue(Outbound::Unsubscribe { session_id }).await;
                self.send_ok(id, None).await;
            }
            ClientFrame::SendMessage {
                id,
                session_id,
                text,
                if_busy,
                client_message_id,
            } => {
                let request = agent_runtime_protocol::SendMessageRequest {
                    text,
                    if_busy,
                    client_message_id,
                };
                let route = format!("/api/sessions/{}/messages", path_segment(&session_id));
                self.spawn_session_command(id, route, request.clone(), |runtime| async move {
                    runtime.send_message(&session_id, request).await
                })
                .await;
            }
            ClientFrame::Interrupt { id, session_id } => {
                let route = format!("/api/sessions/{}/interrupt", path_segment(&session_id));
                self.spawn_session_command(
                    id,
                    route,
                    serde_json::json!({}),
                    |runtime| async move { runtime.interrupt(&session_id).await },
                )
                .await;
            }
            ClientFrame::AnswerPermission {
                id,
                session_id,
                request_id,
                decision,
                remember,
                save_to_profile,
                message,
                option_id,
            } => {
                let answer = agent_runtime_protocol::AnswerPermissionRequest {
                    decision,
                    remember,
                    save_to_profile,
                    message,
                    option_id,
                };
                let route = format!(
                    "/api/sessions/{}/permissions/{}",
                    path_segment(&session_id),
                    path_segment(&request_id)
                );
                self.spawn_session_command(id, route, answer.clone(), |runtime| async move {
                    runtime
                        .answer_permission(&session_id, &request_id, answer)
                        .await
                })
                .await;
            }
            ClientFrame::AnswerQuestion {
                id,
                session_id,
                request_id,
                answers,
            } => {
                let answer = agent_runtime_protocol::AnswerQuestionRequest { answers };
                let route = format!(
                    "/api/sessions/{}/questions/{}",
                    path_segment(&session_id),
                    path_segment(&request_id)
                );
                self.spawn_session_command(id, route, answer.clone(), |runtime| async move {
                    runtime
                        .answer_question(&session_id, &request_id, answer)
                        .await
                })
                .await;
            }
        }
    }

    /// Answers `subscribe`: hands the subscription to the writer with its `result`, which goes
    /// out first, then the replay and live events. A second subscribe to the same session
    /// replaces the first.
    async fn subscribe(&mut self, id: String, session_id: String, since: u64) {
        let subscription = match self.state.runtime.subscribe(&session_id, since).await {
            Ok(subscription) => subscription,
            Err(e) => return self.send_error(id, &ApiError::from(e)).await,
        };
        let result = SubscribeResult {
            session_id: session_id.clone(),
            latest_seq: subscription.latest_seq,
        };
        let result = ok_frame(id, to_data(&result));
        self.queue(Outbound::Subscribe {
            session_id,
            result: Box::new(result),
            subscription: Box::new(subscription),
        })
        .await;
    }

    /// Runs a session command, `call`, like [`Self::spawn_command`]; on a node of several, when
    /// another node owns the session, the owner runs it instead, at its REST `route` with `body`
    /// (`crate::forward`).
    async fn spawn_session_command<T, B, F, Fut>(
        &mut self,
        id: String,
        route: String,
        body: B,
        call: F,
    ) where
        T: Serialize + serde::de::DeserializeOwned + Send + 'static,
        B: Serialize + Send + Sync + 'static,
        F: FnOnce(std::sync::Arc<agent_runtime_core::Runtime>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = agent_runtime_core::Result<T>> + Send,
    {
        let runtime = self.state.runtime.clone();
        let edge = self.state.cluster.clone();
        self.spawn_command(id, async move {
            let here = call(runtime).await;
            forward_command(edge, here, route, &body).await
        })
        .await;
    }

    /// Runs a command that waits on a session's actor in its own task; its result is queued
    /// when it completes.
    async fn spawn_command<T, F>(&mut self, id: String, call: F)
    where
        T: Serialize,
        F: std::future::Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        while self.commands.len() >= MAX_COMMANDS_IN_FLIGHT {
            if self.commands.join_next().await.is_none() {
                break;
            }
        }
        let out = self.out.clone();
        let cancel = self.cancel.clone();
        self.commands.spawn(async move {
            let frame = match call.await {
                Ok(data) => ok_frame(id, to_data(&data)),
                Err(e) => error_frame(id, &e),
            };
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = out.send(Outbound::Frame(Box::new(frame))) => {}
            }
        });
    }

    async fn send_ok(&self, id: String, data: Option<Value>) {
        self.queue(Outbound::Frame(Box::new(ok_frame(id, data))))
            .await;
    }

    async fn send_error(&self, id: String, error: &ApiError) {
        self.queue(Outbound::Frame(Box::new(error_frame(id, error))))
            .await;
    }

    /// Queues a frame, waiting for room (command results are never dropped).
    async fn queue(&self, outbound: Outbound) {
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            _ = self.out.send(outbound) => {}
        }
    }

    /// Stops every command, then lets the writer drain and close (its subscriptions end with it).
    async fn close(mut self) {
        self.commands.abort_all();
        while self.commands.join_next().await.is_some() {}
        self.queue(Outbound::Close {
            code: 1000,
            reason: "",
        })
        .await;
    }
}

/// The command id (if one can be read) and the parsed frame.
fn parse_frame(text: &str) -> (String, Result<ClientFrame, ApiError>) {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return (String::new(), Err(ApiError::InvalidFrame(e.to_string()))),
    };
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let frame = serde_json::from_value(value).map_err(|e| ApiError::InvalidFrame(e.to_string()));
    (id, frame)
}

fn to_data<T: Serialize>(data: &T) -> Option<Value> {
    serde_json::to_value(data).ok().filter(|v| !v.is_null())
}

fn ok_frame(id: String, data: Option<Value>) -> ServerFrame {
    ServerFrame::Result {
        id,
        ok: true,
        data,
        error: None,
    }
}

fn error_frame(id: String, error: &ApiError) -> ServerFrame {
    ServerFrame::Result {
        id,
        ok: false,
        data: None,
        error: Some(error.to_problem()),
    }
}
