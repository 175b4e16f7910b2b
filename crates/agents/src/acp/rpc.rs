//! JSON-RPC 2.0 as ACP uses it over stdio: one message per line, requests both ways.
//!
//! Our own types, kept to what the client needs: what we send is built here, what arrives is
//! classified into [`Incoming`] with its payload left as JSON for the translator to read
//! tolerantly (agents add fields and unstable update kinds all the time).

use serde_json::{json, Value};

/// The ACP protocol version this client speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// JSON-RPC's "method not found".
pub const METHOD_NOT_FOUND: i64 = -32601;

/// One line from the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The agent asks the client something and waits for a response with the same `id`.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// The agent tells the client something (`session/update`).
    Notification { method: String, params: Value },
    /// The answer to one of our requests.
    Response {
        id: Value,
        result: Result<Value, RpcError>,
    },
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

/// Classifies one parsed line; `None` when it is JSON but no JSON-RPC message.
pub fn classify(value: Value) -> Option<Incoming> {
    let Value::Object(mut map) = value else {
        return None;
    };
    let id = map.remove("id");
    let method = map
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_string);
    let params = map.remove("params").unwrap_or(Value::Null);
    match (id, method) {
        (Some(id), Some(method)) => Some(Incoming::Request { id, method, params }),
        (None, Some(method)) => Some(Incoming::Notification { method, params }),
        (Some(id), None) => {
            if let Some(error) = map.remove("error") {
                let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the agent reported an error without a message")
                    .to_string();
                let data = error.get("data").cloned();
                Some(Incoming::Response {
                    id,
                    result: Err(RpcError {
                        code,
                        message,
                        data,
                    }),
                })
            } else {
                let result = map.remove("result").unwrap_or(Value::Null);
                Some(Incoming::Response {
                    id,
                    result: Ok(result),
                })
            }
        }
        (None, None) => None,
    }
}

/// A request line (with its trailing newline).
pub fn request(id: u64, method: &str, params: Value) -> String {
    line(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
}

/// A notification line (with its trailing newline).
pub fn notification(method: &str, params: Value) -> String {
    line(json!({"jsonrpc": "2.0", "method": method, "params": params}))
}

/// A successful response to the agent's request `id`.
pub fn response(id: &Value, result: Value) -> String {
    line(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

/// An error response to the agent's request `id`.
pub fn error_response(id: &Value, code: i64, message: &str) -> String {
    line(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
}

fn line(value: Value) -> String {
    let mut text = value.to_string();
    text.push('\n');
    text
}

/// The `initialize` params: protocol version 1, and no client capabilities. The agent's file
/// and terminal tools then run inside the sandbox on their own (which is where the agent runs),
/// so there is nothing for the client to serve: `fs/*` and `terminal/*` requests are declined.
pub fn initialize_params() -> Value {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "clientCapabilities": {
            "fs": {"readTextFile": false, "writeTextFile": false},
            "terminal": false
        },
        "clientInfo": {"name": "agent-runtime", "version": env!("CARGO_PKG_VERSION")}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_classified_by_their_fields() {
        let request = classify(
            json!({"jsonrpc": "2.0", "id": 0, "method": "session/request_permission", "params": {"a": 1}}),
        );
        assert!(
            matches!(request, Some(Incoming::Request { ref method, .. }) if method == "session/request_permission")
        );
        let note = classify(json!({"jsonrpc": "2.0", "method": "session/update", "params": {}}));
        assert!(matches!(note, Some(Incoming::Notification { .. })));
        let ok = classify(json!({"jsonrpc": "2.0", "id": 3, "result": {"stopReason": "end_turn"}}));
        assert!(matches!(ok, Some(Incoming::Response { result: Ok(_), .. })));
        let err = classify(
            json!({"jsonrpc": "2.0", "id": 3, "error": {"code": -32603, "message": "boom"}}),
        );
        match err {
            Some(Incoming::Response { result: Err(e), .. }) => {
                assert_eq!((e.code, e.message.as_str()), (-32603, "boom"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(classify(json!({"hello": 1})), None);
        assert_eq!(classify(json!([1, 2])), None);
    }

    #[test]
    fn lines_are_single_json_lines() {
        let line = request(
            1,
            "session/prompt",
            json!({"prompt": [{"type": "text", "text": "a\nb"}]}),
        );
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1);
        let back: Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(back["params"]["prompt"][0]["text"], "a\nb");
    }
}
