//! A cheap reader of the server's WebSocket frames for the fan-out clients: it finds the few
//! fields a subscriber's figures need (frame type, seq, append time, event type) without
//! deserializing the frame, so thousands of clients on the same two cores as the server cost
//! as little as possible.
//!
//! It relies on what JSON guarantees and how the protocol serializes: a key pattern such as
//! `"seq":` can never occur inside a JSON string (quotes inside strings are escaped), and an
//! envelope's fields come in declaration order (`sessionId`, `seq`, `at`, `event`), so the first
//! `"seq":` of a frame is the envelope's and the first `"type":` after `"event":` is the event's.

/// What a fan-out client learns from one text frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A session event.
    Event {
        seq: u64,
        /// The envelope's `at` in milliseconds since the Unix epoch (it has millisecond
        /// resolution); `None` when it does not parse.
        at_ms: Option<i64>,
        kind: EventKind,
    },
    /// `resync_required`: the subscription ended because the client fell behind.
    Resync,
    /// The `result` of a command, ok or not.
    Result { ok: bool },
    /// Anything else.
    Other,
}

/// The event types the figures distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    TextDelta,
    TurnCompleted,
    Other,
}

/// Reads one server frame (a WebSocket text message).
pub fn scan(text: &str) -> Frame {
    match string_after(text, "\"type\":\"") {
        Some("event") => scan_event(text),
        Some("resync_required") => Frame::Resync,
        Some("result") => Frame::Result {
            ok: text.contains("\"ok\":true"),
        },
        _ => Frame::Other,
    }
}

fn scan_event(text: &str) -> Frame {
    let Some(seq) = number_after(text, "\"seq\":") else {
        return Frame::Other;
    };
    let at_ms = string_after(text, "\"at\":\"").and_then(rfc3339_millis);
    let kind = text
        .find("\"event\":")
        .and_then(|at| string_after(&text[at..], "\"type\":\""))
        .map_or(EventKind::Other, |kind| match kind {
            "text_delta" => EventKind::TextDelta,
            "turn_completed" => EventKind::TurnCompleted,
            _ => EventKind::Other,
        });
    Frame::Event { seq, at_ms, kind }
}

/// The string value right after the first `pattern` (which ends with the opening quote).
fn string_after<'a>(text: &'a str, pattern: &str) -> Option<&'a str> {
    let start = text.find(pattern)? + pattern.len();
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

/// The unsigned integer right after the first `pattern`.
fn number_after(text: &str, pattern: &str) -> Option<u64> {
    let start = text.find(pattern)? + pattern.len();
    let digits = text[start..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len() - start);
    text[start..start + digits].parse().ok()
}

/// Milliseconds since the Unix epoch of an RFC 3339 timestamp.
pub fn rfc3339_millis(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn reads_events_from_real_frames() {
        let delta = r#"{"type":"event","envelope":{"sessionId":"s1","seq":42,"at":"2026-01-02T03:04:05.678Z","event":{"type":"text_delta","conversationId":"main","blockId":"b1","delta":"say \"seq\":1 and \"type\":\"x\""}}}"#;
        assert_eq!(
            scan(delta),
            Frame::Event {
                seq: 42,
                at_ms: Some(1_767_323_045_678),
                kind: EventKind::TextDelta
            }
        );
        let done = r#"{"type":"event","envelope":{"sessionId":"s1","seq":7,"at":"bad","event":{"type":"turn_completed","turnId":"t"}}}"#;
        assert_eq!(
            scan(done),
            Frame::Event {
                seq: 7,
                at_ms: None,
                kind: EventKind::TurnCompleted
            }
        );
    }

    #[test]
    fn reads_results_and_resyncs() {
        assert_eq!(
            scan(r#"{"type":"result","id":"s","ok":true,"data":{"latestSeq":3}}"#),
            Frame::Result { ok: true }
        );
        assert_eq!(
            scan(r#"{"type":"result","id":"s","ok":false,"error":{}}"#),
            Frame::Result { ok: false }
        );
        assert_eq!(
            scan(r#"{"type":"resync_required","sessionId":"s","latestSeq":9,"reason":"slow"}"#),
            Frame::Resync
        );
        assert_eq!(scan("{}"), Frame::Other);
    }

    #[test]
    fn frames_the_protocol_serializes_are_read_alike() {
        let envelope = agent_runtime_protocol::Envelope {
            session_id: "s".into(),
            seq: 5,
            at: "2026-01-02T03:04:05.000Z".into(),
            event: agent_runtime_protocol::SessionEvent::TextDelta {
                conversation_id: "main".into(),
                block_id: "b".into(),
                delta: "hi".into(),
            },
        };
        let text = serde_json::to_string(&agent_runtime_protocol::ServerFrame::Event { envelope })
            .expect("serializes");
        assert_eq!(
            scan(&text),
            Frame::Event {
                seq: 5,
                at_ms: Some(1_767_323_045_000),
                kind: EventKind::TextDelta
            }
        );
    }
}
