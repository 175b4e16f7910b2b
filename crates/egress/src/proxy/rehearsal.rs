//! Rehearsals: the model gateway answering by itself.
//!
//! A warm pool takes a pooled agent through one turn before any session claims it, so the
//! claiming session's first message finds the agent warm (the runtime's `pool.rs`). That turn's
//! model requests must not reach the operator's upstream: they would be paid for, on the
//! operator's key, for nobody. While a [`Rehearsal`] is on, the gateway forwards nothing and
//! answers every request itself, in the Anthropic Messages API's shape (the one agent that is
//! warmed up, Claude Code, speaks it): a turn whose only content is the text `OK`, with all
//! usage zero, so the agent counts no cost for it. Any other request is refused with `503`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::http::{full, ProxyBody};

/// The largest request body read during a rehearsal (Claude Code's first request is about
/// 50 KB).
const MAX_BODY: usize = 16 << 20;

/// The text of every stand-in answer.
pub const REHEARSAL_REPLY: &str = "OK";

/// A switch shared by a gateway and whoever rehearses its agent: while on, model requests are
/// answered by the proxy and never forwarded. Off when made; clones share the switch.
#[derive(Clone, Default)]
pub struct Rehearsal(Arc<AtomicBool>);

impl Rehearsal {
    /// From now on, model requests are answered here.
    pub fn begin(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// From now on, model requests go to the upstream again.
    pub fn end(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for Rehearsal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Rehearsal").field(&self.is_on()).finish()
    }
}

/// Answers `request` without the upstream.
pub(super) async fn answer(request: Request<Incoming>) -> Response<ProxyBody> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let reply = reply(&parts.method, parts.uri.path(), &body);
    let mut response = Response::new(full(reply.body));
    *response.status_mut() = reply.status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    response
}

/// A stand-in answer.
#[derive(Debug, PartialEq)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

/// The stand-in answer to a request for `path` with `body`: the Messages API's token count
/// (zero), its message (streamed as server-sent events when the request asks for a stream), or
/// `503` for anything else.
pub(crate) fn reply(method: &Method, path: &str, body: &[u8]) -> Reply {
    let path = path.trim_end_matches('/');
    let json_reply = |value: Value| Reply {
        status: StatusCode::OK,
        content_type: "application/json",
        body: value.to_string(),
    };
    if *method == Method::POST && path.ends_with("/v1/messages/count_tokens") {
        return json_reply(json!({ "input_tokens": 0 }));
    }
    if *method != Method::POST || !path.ends_with("/v1/messages") {
        return Reply {
            status: StatusCode::SERVICE_UNAVAILABLE,
            content_type: "text/plain; charset=utf-8",
            body: "agent-runtime egress: the model gateway forwards nothing during a rehearsal\n"
                .into(),
        };
    }
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let model = request["model"].as_str().unwrap_or("rehearsal");
    let usage = json!({ "input_tokens": 0, "output_tokens": 0 });
    let id = "msg_agent_runtime_rehearsal";
    if request["stream"] != true {
        return json_reply(json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [{ "type": "text", "text": REHEARSAL_REPLY }],
            "stop_reason": "end_turn", "stop_sequence": null, "usage": usage,
        }));
    }
    let events = [
        json!({ "type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": usage,
        }}),
        json!({ "type": "content_block_start", "index": 0,
                "content_block": { "type": "text", "text": "" } }),
        json!({ "type": "content_block_delta", "index": 0,
                "delta": { "type": "text_delta", "text": REHEARSAL_REPLY } }),
        json!({ "type": "content_block_stop", "index": 0 }),
        json!({ "type": "message_delta",
                "delta": { "stop_reason": "end_turn", "stop_sequence": null },
                "usage": { "output_tokens": 0 } }),
        json!({ "type": "message_stop" }),
    ];
    let body = events
        .iter()
        .map(|event| {
            format!(
                "event: {}\ndata: {event}\n\n",
                event["type"].as_str().unwrap_or("")
            )
        })
        .collect();
    Reply {
        status: StatusCode::OK,
        content_type: "text/event-stream",
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_switch_is_shared_by_clones_and_off_when_made() {
        let rehearsal = Rehearsal::default();
        let clone = rehearsal.clone();
        assert!(!clone.is_on());
        rehearsal.begin();
        assert!(clone.is_on());
        clone.end();
        assert!(!rehearsal.is_on());
    }

    #[test]
    fn a_streamed_message_is_one_text_turn_that_costs_nothing() {
        let body = br#"{"model":"claude-opus-5-5","stream":true,"messages":[]}"#;
        let reply = reply(&Method::POST, "/v1/messages", body);
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.content_type, "text/event-stream");
        let events: Vec<(String, Value)> = reply
            .body
            .split("\n\n")
            .filter(|frame| !frame.is_empty())
            .map(|frame| {
                let (event, data) = frame.split_once('\n').unwrap();
                let data: Value =
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                (event.strip_prefix("event: ").unwrap().to_string(), data)
            })
            .collect();
        let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        for (name, data) in &events {
            assert_eq!(data["type"], name.as_str());
        }
        assert_eq!(events[0].1["message"]["model"], "claude-opus-5-5");
        assert_eq!(
            events[0].1["message"]["usage"],
            json!({"input_tokens": 0, "output_tokens": 0})
        );
        assert_eq!(events[2].1["delta"]["text"], REHEARSAL_REPLY);
        assert_eq!(events[4].1["usage"]["output_tokens"], 0);
    }

    #[test]
    fn an_unstreamed_message_a_token_count_and_anything_else() {
        let plain = reply(
            &Method::POST,
            "/prefix/v1/messages",
            br#"{"model":"m","messages":[]}"#,
        );
        assert_eq!(plain.content_type, "application/json");
        let message: Value = serde_json::from_str(&plain.body).unwrap();
        assert_eq!(message["content"][0]["text"], REHEARSAL_REPLY);
        assert_eq!(message["usage"]["input_tokens"], 0);

        let count = reply(&Method::POST, "/v1/messages/count_tokens", b"{}");
        assert_eq!(count.body, r#"{"input_tokens":0}"#);

        for (method, path) in [
            (Method::GET, "/v1/models"),
            (Method::GET, "/v1/messages"),
            (Method::POST, "/v1beta/models/gemini:streamGenerateContent"),
            (Method::POST, "/v1/responses"),
        ] {
            let refused = reply(&method, path, b"{}");
            assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        }
        // A body that is not JSON still gets a message.
        let odd = reply(&Method::POST, "/v1/messages", b"not json");
        assert_eq!(odd.status, StatusCode::OK);
    }
}
