//! [`SseStream`]: reads a `text/event-stream` response event by event.

use agent_runtime_protocol::Envelope;
use bytes::{Buf, BytesMut};
use futures::StreamExt;

use crate::error::ClientError;

/// One server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    /// The `event:` field (`message` when absent, per the spec, is left as `None` here).
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// The data as a session event envelope.
    pub fn envelope(&self) -> Result<Envelope, ClientError> {
        serde_json::from_str(&self.data).map_err(|e| ClientError::Decode(e.to_string()))
    }
}

/// Events of one SSE response; comments (keep-alives) are skipped.
pub struct SseStream {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: BytesMut,
}

impl SseStream {
    /// Reads `response`'s body as an event stream.
    pub fn new(response: reqwest::Response) -> Self {
        SseStream {
            body: response.bytes_stream().boxed(),
            buffer: BytesMut::new(),
        }
    }

    /// The next event; `None` when the server ended the stream.
    pub async fn next_event(&mut self) -> Option<Result<SseEvent, ClientError>> {
        loop {
            if let Some(block) = self.take_block() {
                if let Some(event) = parse_block(&block) {
                    return Some(Ok(event));
                }
                continue;
            }
            match self.body.next().await? {
                Ok(chunk) => self.buffer.extend_from_slice(&chunk),
                Err(e) => return Some(Err(ClientError::Http(e))),
            }
        }
    }

    /// One complete event block (up to a blank line), normalized to `\n` line ends.
    fn take_block(&mut self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.buffer).replace("\r\n", "\n");
        let end = text.find("\n\n")?;
        let block = text[..end].to_string();
        // Advance by the bytes consumed in the original buffer.
        let consumed = byte_len_of_prefix(&self.buffer, end + 2);
        self.buffer.advance(consumed);
        Some(block)
    }
}

/// The number of raw bytes that make up the first `normalized_len` bytes after `\r\n` -> `\n`.
fn byte_len_of_prefix(raw: &[u8], normalized_len: usize) -> usize {
    let mut normalized = 0;
    let mut i = 0;
    while i < raw.len() && normalized < normalized_len {
        if raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            i += 2;
        } else {
            i += 1;
        }
        normalized += 1;
    }
    i
}

/// An event from its field lines; `None` for a block of comments only.
fn parse_block(block: &str) -> Option<SseEvent> {
    let mut event = SseEvent::default();
    let mut data_lines = Vec::new();
    let mut has_field = false;
    for line in block.split('\n') {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        has_field = true;
        match field {
            "id" => event.id = Some(value.to_string()),
            "event" => event.event = Some(value.to_string()),
            "data" => data_lines.push(value),
            _ => {}
        }
    }
    event.data = data_lines.join("\n");
    has_field.then_some(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_skips_comments() {
        assert_eq!(
            parse_block("id: 3\nevent: file_created\ndata: {\"a\":1}"),
            Some(SseEvent {
                id: Some("3".into()),
                event: Some("file_created".into()),
                data: "{\"a\":1}".into(),
            })
        );
        assert_eq!(parse_block(":keep-alive"), None);
        assert_eq!(
            parse_block("data: a\ndata: b").map(|e| e.data),
            Some("a\nb".into())
        );
    }

    #[test]
    fn counts_raw_bytes_across_crlf() {
        assert_eq!(byte_len_of_prefix(b"a\r\n\r\nb", 3), 5);
        assert_eq!(byte_len_of_prefix(b"a\n\nb", 3), 3);
    }
}
