//! Bare WebSocket clients (tokio-tungstenite, no full frame parsing) for the figures that open
//! thousands of them: connect to `/api/ws` and subscribe to a session.

use std::time::Duration;

use anyhow::{bail, Result};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::frame::{scan, Frame};

/// A raw client socket.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The longest a subscribe may wait for its result.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);

/// `ws://host:port/api/ws` of a server's `http://host:port`.
pub fn ws_url(base_url: &str) -> String {
    format!("{}/api/ws", base_url.replacen("http://", "ws://", 1))
}

/// Connects and subscribes to `session` after `since`, returning once the `subscribe` result
/// arrived (events before it are not expected: callers subscribe at the end of the log).
pub async fn connect_and_subscribe(url: &str, session: &str, since: u64) -> Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    let frame = serde_json::json!({
        "type": "subscribe", "id": "s", "sessionId": session, "since": since,
    });
    socket.send(Message::Text(frame.to_string().into())).await?;
    let deadline = tokio::time::Instant::now() + SUBSCRIBE_TIMEOUT;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, socket.next()).await {
        if let Message::Text(text) = message? {
            match scan(&text) {
                Frame::Result { ok: true } => return Ok(socket),
                Frame::Result { ok: false } => bail!("subscribe refused: {}", text.as_str()),
                _ => {}
            }
        }
    }
    bail!("no subscribe result within {SUBSCRIBE_TIMEOUT:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ws_url_of_a_base_url() {
        assert_eq!(
            ws_url("http://127.0.0.1:8080"),
            "ws://127.0.0.1:8080/api/ws"
        );
    }
}
