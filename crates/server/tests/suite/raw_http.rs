//! Requests as an attacker or a browser sends them, which `reqwest` would not: a raw HTTP/1.1
//! client over TCP (a foreign `Host`, no `Host` at all, an absolute-form URI), and WebSocket
//! upgrades with an `Origin`.

#![allow(dead_code)]

use std::net::SocketAddr;

use agent_runtime_protocol::ServerFrame;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::support::{within, WAIT};

/// The headers of a WebSocket upgrade request.
pub const UPGRADE_HEADERS: &[(&str, &str)] = &[
    ("upgrade", "websocket"),
    ("connection", "Upgrade"),
    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("sec-websocket-version", "13"),
];

/// A response read off the wire. `body` is read only when `Content-Length` gives its size
/// (streams and upgrades leave it empty).
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a problem+json with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let body: serde_json::Value = serde_json::from_slice(&self.body).expect("problem body");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status, "{body}");
    }
}

/// `request` with its headers: `host` (`None`: no Host header at all), then `headers`, then a
/// `Content-Length` when there is a body.
pub fn request_text(
    method: &str,
    target: &str,
    host: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let mut text = format!("{method} {target} HTTP/1.1\r\n");
    if let Some(host) = host {
        text.push_str(&format!("host: {host}\r\n"));
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        text.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text
}

/// Sends `request` (exactly these bytes) on a new connection and reads the response.
pub async fn send_raw(addr: SocketAddr, request: &str) -> RawResponse {
    within(async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("write request");
        read_response(&mut stream).await
    })
    .await
}

async fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.expect("read");
        assert!(
            read > 0,
            "connection closed before a response head: {:?}",
            String::from_utf8_lossy(&buffer)
        );
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).expect("UTF-8 head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut response = RawResponse {
        status,
        headers,
        body: buffer[head_end + 4..].to_vec(),
    };
    match response
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(length) => {
            while response.body.len() < length {
                let mut chunk = [0u8; 4096];
                let read = stream.read(&mut chunk).await.expect("read body");
                assert!(read > 0, "connection closed inside the body");
                response.body.extend_from_slice(&chunk[..read]);
            }
            response.body.truncate(length);
        }
        None => response.body.clear(),
    }
    response
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `/api/ws` the way a browser page does, with `Origin: origin` (and `?token=` when
/// given). An HTTP refusal comes back as its status.
pub async fn ws_with_origin(
    addr: SocketAddr,
    origin: Option<&str>,
    token: Option<&str>,
) -> Result<Socket, u16> {
    let mut url = format!("ws://{addr}/api/ws");
    if let Some(token) = token {
        url.push_str(&format!("?token={token}"));
    }
    let mut request = url.into_client_request().expect("request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).expect("origin"));
    }
    match within(tokio_tungstenite::connect_async(request)).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("the upgrade failed without an HTTP status: {other}"),
    }
}

/// Sends `subscribe` for `session_id` and returns its `result` frame.
pub async fn subscribe_raw(socket: &mut Socket, session_id: &str) -> ServerFrame {
    let frame = serde_json::json!({
        "type": "subscribe",
        "id": "sub-1",
        "sessionId": session_id,
        "since": 0,
    });
    socket
        .send(Message::Text(frame.to_string().into()))
        .await
        .expect("send subscribe");
    tokio::time::timeout(WAIT, async {
        while let Some(message) = socket.next().await {
            let Ok(Message::Text(text)) = message else {
                continue;
            };
            let frame: ServerFrame = serde_json::from_str(text.as_str()).expect("a server frame");
            if matches!(&frame, ServerFrame::Result { id, .. } if id == "sub-1") {
                return frame;
            }
        }
        panic!("the socket closed before the subscribe result");
    })
    .await
    .expect("a subscribe result in time")
}
