use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::reply::Usage;

fn message(content: Vec<Value>, stop_reason: &str) -> AssistantMessage {
    AssistantMessage {
        id: "msg_1".into(),
        model: "claude-test".into(),
        content,
        stop_reason: stop_reason.into(),
        usage: Usage {
            input_tokens: 10,
            output_tokens: 7,
            cache_read_input_tokens: 2,
            cache_creation_input_tokens: 0,
        },
    }
}

#[test]
fn split_evenly_respects_char_boundaries() {
    assert_eq!(split_evenly("abcdefg", 3), vec!["abc", "def", "g"]);
    assert_eq!(split_evenly("héllo", 2), vec!["hél", "lo"]);
    assert_eq!(split_evenly("ab", 5), vec!["a", "b"]);
    assert_eq!(split_evenly("abc", 0), vec!["abc"]);
    assert!(split_evenly("", 3).is_empty());
}

#[test]
fn event_bytes_have_event_and_data_lines() {
    let event = SseEvent::new("ping", json!({"type": "ping"}));
    assert_eq!(
        event.to_bytes(),
        Bytes::from_static(b"event: ping\ndata: {\"type\":\"ping\"}\n\n")
    );
}

#[test]
fn message_with_thinking_text_and_tool_use_streams_in_api_order() {
    let message = message(
        vec![
            json!({"type": "thinking", "thinking": "hmm", "signature": "sig"}),
            json!({"type": "text", "text": "Hi!"}),
            json!({"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {"a": 1}}),
        ],
        "tool_use",
    );
    let events = message_events(&message, 2);
    let data: Vec<Value> = events.iter().map(|event| event.data.clone()).collect();
    assert_eq!(
        data,
        vec![
            json!({"type": "message_start", "message": {
                "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 10, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 2, "output_tokens": 1}}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "thinking_delta", "thinking": "hm"}}),
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "thinking_delta", "thinking": "m"}}),
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "signature_delta", "signature": "sig"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1,
                   "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 1,
                   "delta": {"type": "text_delta", "text": "Hi"}}),
            json!({"type": "content_block_delta", "index": 1,
                   "delta": {"type": "text_delta", "text": "!"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "content_block_start", "index": 2,
                   "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {}}}),
            json!({"type": "content_block_delta", "index": 2,
                   "delta": {"type": "input_json_delta", "partial_json": "{\"a\""}}),
            json!({"type": "content_block_delta", "index": 2,
                   "delta": {"type": "input_json_delta", "partial_json": ":1}"}}),
            json!({"type": "content_block_stop", "index": 2}),
            json!({"type": "message_delta",
                   "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                   "usage": {"input_tokens": 10, "cache_creation_input_tokens": 0,
                             "cache_read_input_tokens": 2, "output_tokens": 7}}),
            json!({"type": "message_stop"}),
        ]
    );
    for event in &events {
        assert_eq!(
            event.data["type"], event.event,
            "event name equals data.type"
        );
    }
}

#[test]
fn tool_input_deltas_concatenate_to_the_input() {
    let input = json!({"file_path": "/ws/a.txt", "content": "hello\nworld"});
    let message = message(
        vec![json!({"type": "tool_use", "id": "t", "name": "Write", "input": input})],
        "tool_use",
    );
    let joined: String = message_events(&message, 5)
        .iter()
        .filter(|event| event.data["delta"]["type"] == "input_json_delta")
        .map(|event| {
            event.data["delta"]["partial_json"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&joined).unwrap(), input);
}
