use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::model_request::ModelRequest;
use crate::request::MessagesRequest;
use crate::scenario::{ErrorSpec, MidstreamCut};

fn context() -> TemplateContext {
    let body = json!({"messages": [
        {"role": "user", "content": "create a.txt"},
        {"role": "system", "content": " - Primary working directory: /ws"}
    ]});
    TemplateContext::from_request(&ModelRequest::Anthropic(MessagesRequest::new(&body)))
}

fn message_of(reply: Reply) -> (AssistantMessage, Delivery) {
    match reply {
        Reply::Message { message, delivery } => (message, delivery),
        Reply::Error { .. } => panic!("expected a message, got {reply:?}"),
    }
}

#[test]
fn tool_use_gets_generated_id_rendered_input_and_stop_reason() {
    let response = Response::blocks(vec![
        Block::text("writing {{mentionedFile}}"),
        Block::tool_use("Write", json!({"file_path": "{{mentionedPath}}"})),
    ]);
    let (message, delivery) = message_of(Reply::render(&response, 0, "m", &context()));
    assert_eq!(message.stop_reason, "tool_use");
    assert_eq!(message.model, "m");
    assert!(message.id.starts_with("msg_01"));
    assert_eq!(
        message.content[0],
        json!({"type": "text", "text": "writing a.txt"})
    );
    let tool = &message.content[1];
    assert!(tool["id"].as_str().unwrap().starts_with("toolu_01"));
    assert_eq!(tool["input"], json!({"file_path": "/ws/a.txt"}));
    assert_eq!(delivery, Delivery::default());
}

#[test]
fn scripted_ids_usage_and_stop_reason_are_kept() {
    let response = Response {
        content: vec![
            Block::Thinking {
                thinking: "t".into(),
                signature: Some("s".into()),
            },
            Block::ToolUse {
                name: "Read".into(),
                input: json!({}),
                id: Some("toolu_fixed".into()),
            },
        ],
        stop_reason: Some("max_tokens".into()),
        usage: Some(UsageSpec {
            input_tokens: Some(5),
            output_tokens: Some(6),
            ..UsageSpec::default()
        }),
        ..Response::default()
    };
    let (message, _) = message_of(Reply::render(&response, 0, "m", &context()));
    assert_eq!(
        message.content,
        vec![
            json!({"type": "thinking", "thinking": "t", "signature": "s"}),
            json!({"type": "tool_use", "id": "toolu_fixed", "name": "Read", "input": {}}),
        ]
    );
    assert_eq!(message.stop_reason, "max_tokens");
    assert_eq!(
        message.usage,
        Usage {
            input_tokens: 5,
            output_tokens: 6,
            ..Usage::default()
        }
    );
}

#[test]
fn errors_apply_to_the_first_hits_only() {
    let response = Response {
        error: Some(ErrorSpec {
            status: 529,
            error_type: None,
            message: "busy".into(),
            times: Some(2),
        }),
        ..Response::text("finally")
    };
    for hit in 0..2 {
        let Reply::Error { status, body } = Reply::render(&response, hit, "m", &context()) else {
            panic!("hit {hit} should fail");
        };
        assert_eq!(status, 529);
        assert_eq!(body["type"], "error");
        assert_eq!(
            body["error"],
            json!({"type": "overloaded_error", "message": "busy"})
        );
    }
    let (message, _) = message_of(Reply::render(&response, 2, "m", &context()));
    assert_eq!(
        message.content,
        vec![json!({"type": "text", "text": "finally"})]
    );
}

#[test]
fn midstream_cut_and_pacing_reach_the_delivery() {
    let response = Response {
        midstream_cut: Some(MidstreamCut {
            after_events: 3,
            times: Some(1),
        }),
        ..Response::text("x").with_chunk_delay_ms(7).with_chunks(0)
    };
    let (_, first) = message_of(Reply::render(&response, 0, "m", &context()));
    assert_eq!(
        first,
        Delivery {
            chunk_delay: Duration::from_millis(7),
            chunks: 1,
            cut_after_events: Some(3),
        }
    );
    let (_, second) = message_of(Reply::render(&response, 1, "m", &context()));
    assert_eq!(second.cut_after_events, None);
}
