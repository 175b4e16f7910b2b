use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::reply::{Reply, Usage};
use crate::scenario::{Block, Response, UsageSpec};
use crate::template::TemplateContext;

fn message(content: Vec<Value>, stop_reason: &str) -> AssistantMessage {
    AssistantMessage {
        id: "msg_01abc".into(),
        model: "gpt-5.4".into(),
        content,
        stop_reason: stop_reason.into(),
        usage: Usage {
            input_tokens: 10,
            output_tokens: 5,
            cache_read_input_tokens: 2,
            cache_creation_input_tokens: 0,
        },
    }
}

#[test]
fn a_text_reply_streams_as_the_responses_api_does() {
    let events = response_events(
        &message(vec![json!({"type": "text", "text": "Hi!"})], "end_turn"),
        2,
    );
    let item = json!({"type": "message", "id": "msg_01abc_0", "role": "assistant",
                      "status": "completed",
                      "content": [{"type": "output_text", "text": "Hi!", "annotations": []}]});
    let at = json!({"item_id": "msg_01abc_0", "output_index": 0, "content_index": 0});
    let with = |mut base: Value, extra: Value| {
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base
    };
    let started = json!({"id": "resp_01abc", "object": "response", "created_at": 0,
                         "status": "in_progress", "model": "gpt-5.4", "output": [],
                         "usage": null});
    let expected: Vec<(&str, Value)> = vec![
        ("response.created", json!({"response": started})),
        ("response.in_progress", json!({"response": started})),
        (
            "response.output_item.added",
            json!({"output_index": 0, "item": with(item.clone(),
                   json!({"status": "in_progress", "content": []}))}),
        ),
        (
            "response.content_part.added",
            with(
                at.clone(),
                json!({"part": {"type": "output_text", "text": "", "annotations": []}}),
            ),
        ),
        (
            "response.output_text.delta",
            with(at.clone(), json!({"delta": "Hi"})),
        ),
        (
            "response.output_text.delta",
            with(at.clone(), json!({"delta": "!"})),
        ),
        (
            "response.output_text.done",
            with(at.clone(), json!({"text": "Hi!"})),
        ),
        (
            "response.content_part.done",
            with(
                at,
                json!({"part": {"type": "output_text", "text": "Hi!", "annotations": []}}),
            ),
        ),
        (
            "response.output_item.done",
            json!({"output_index": 0, "item": item}),
        ),
        (
            "response.completed",
            json!({"response": {"id": "resp_01abc", "object": "response", "created_at": 0,
                   "status": "completed", "model": "gpt-5.4", "output": [item],
                   "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 2},
                             "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                             "total_tokens": 17}}}),
        ),
    ];
    let expected: Vec<SseEvent> = expected
        .into_iter()
        .enumerate()
        .map(|(n, (event, data))| SseEvent {
            event,
            data: with(data, json!({"type": event, "sequence_number": n})),
        })
        .collect();
    assert_eq!(events, expected);
    assert!(events[4]
        .to_bytes()
        .starts_with(b"event: response.output_text.delta\ndata: {"));
}

/// The concatenated deltas of one kind.
fn deltas(events: &[SseEvent], kind: &str) -> String {
    events
        .iter()
        .filter(|e| e.event == kind)
        .map(|e| e.data["delta"].as_str().unwrap())
        .collect()
}

#[test]
fn thinking_and_tool_calls_stream_as_summaries_and_argument_deltas() {
    let response = Response {
        usage: Some(UsageSpec {
            input_tokens: Some(7),
            ..UsageSpec::default()
        }),
        ..Response::blocks(vec![
            Block::thinking("Plan: list files."),
            Block::tool_use("Bash", json!({"command": "ls"})),
            Block::tool_use(
                "Edit",
                json!({"file_path": "a", "old_string": "x", "new_string": "y"}),
            ),
        ])
    };
    let body = json!({});
    let context = TemplateContext::from_request(&crate::ModelRequest::OpenAi(
        crate::openai::ResponsesRequest::new(&body),
    ));
    let Reply::Message { message, .. } = Reply::render(&response, 0, "m", &context) else {
        panic!("not a message");
    };
    let events = response_events(&message, 3);
    assert_eq!(
        deltas(&events, "response.reasoning_summary_text.delta"),
        "Plan: list files."
    );
    assert_eq!(
        deltas(&events, "response.function_call_arguments.delta"),
        r#"{"cmd":"ls"}"#
    );
    assert_eq!(
        deltas(&events, "response.custom_tool_call_input.delta"),
        "*** Begin Patch\n*** Update File: a\n@@\n-x\n+y\n*** End Patch\n"
    );
    let added: Vec<&str> = events
        .iter()
        .filter(|e| e.event == "response.output_item.added")
        .map(|e| e.data["item"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(added, ["reasoning", "function_call", "custom_tool_call"]);
    let last = events.last().unwrap();
    assert_eq!(last.event, "response.completed");
    assert_eq!(last.data["response"]["output"].as_array().unwrap().len(), 3);
    assert_eq!(last.data["response"]["usage"]["input_tokens"], 7);
    let numbers: Vec<u64> = events
        .iter()
        .map(|e| e.data["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (0..events.len() as u64).collect::<Vec<_>>());
}

#[test]
fn a_max_tokens_stop_ends_incomplete() {
    let events = response_events(
        &message(vec![json!({"type": "text", "text": "cut"})], "max_tokens"),
        1,
    );
    let last = events.last().unwrap();
    assert_eq!(last.event, "response.incomplete");
    assert_eq!(last.data["response"]["status"], "incomplete");
    assert_eq!(
        last.data["response"]["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
}
