//! A small Rust client for the agent-runtime server, used by tests and tools.
//!
//! ```no_run
//! # async fn example() -> Result<(), agent_runtime_client::ClientError> {
//! use agent_runtime_client::{Client, WsAuth};
//! use agent_runtime_protocol::{CreateSessionRequest, SendMessageRequest};
//!
//! let client = Client::new("http://127.0.0.1:8080").with_api_key("secret");
//! let session = client.create_session(&CreateSessionRequest::default()).await?;
//! let mut ws = client.connect_ws(WsAuth::Query).await?;
//! ws.subscribe(&session.session_id, 0).await?;
//! client
//!     .send_message(&session.session_id, &SendMessageRequest {
//!         text: "hello".into(),
//!         if_busy: None,
//!         client_message_id: None,
//!     })
//!     .await?;
//! while let Some(frame) = ws.next_frame().await {
//!     // ServerFrame::Event { envelope } or ServerFrame::ResyncRequired { .. }
//! #   let _ = frame;
//! }
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`rest`]: [`Client`], one method per REST route; errors decoded from problem+json.
//! - [`ws`]: [`WsConnection`]: commands awaited by id, events as a stream of frames.
//! - [`sse`]: [`SseStream`], a reader of `text/event-stream` responses.
//! - [`error`]: [`ClientError`], the one error type of the client.

pub mod error;
pub mod rest;
pub mod sse;
pub mod ws;

pub use error::ClientError;
pub use rest::{Client, FileWrite, ProfileWrite};
pub use sse::{SseEvent, SseStream};
pub use ws::{WsAuth, WsConnection};
