//! The server over real HTTP: routes, SSE, errors, pacing, cuts, recording, lifecycle.

use std::time::{Duration, Instant};

use agent_runtime_testkit::{
    demo_scenario, Block, ErrorSpec, Matcher, RequestKind, Response, Rule, Scenario,
    ScriptedModelServer,
};
use pretty_assertions::assert_eq;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

use super::http_client::{
    parse_response, parse_sse, post_json, request, send, RawResponse, IO_TIMEOUT,
};

/// A main-agent request body as Claude Code shapes it.
fn main_request(prompt: &str, stream: bool) -> Value {
    json!({
        "model": "claude-opus-5-5",
        "max_tokens": 32000,
        "stream": stream,
        "tools": [{"name": "Write", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": prompt}]},
            {"role": "system", "content": [{"type": "text",
                "text": "# Environment\n - Primary working directory: /ws\n"}]}
        ]
    })
}

/// The concatenated `text_delta`s of an SSE response.
fn streamed_text(response: &RawResponse) -> String {
    response
        .sse_events()
        .iter()
        .filter_map(|(_, data)| data["delta"]["text"].as_str().map(str::to_owned))
        .collect()
}

async fn start(scenario: Scenario) -> ScriptedModelServer {
    ScriptedModelServer::start(scenario)
        .await
        .expect("server starts")
}

#[tokio::test]
async fn non_streaming_request_gets_a_json_message() {
    let server = start(Scenario::new(vec![Rule::always(Response::text("hello"))])).await;
    let response = post_json(
        server.local_addr(),
        "/v1/messages",
        &main_request("hi", false),
    )
    .await;
    assert_eq!(response.status, 200);
    let mut body = response.json();
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    body["id"] = json!("msg_x");
    body["usage"] = json!(null);
    assert_eq!(
        body,
        json!({
            "id": "msg_x", "type": "message", "role": "assistant", "model": "claude-opus-5-5",
            "content": [{"type": "text", "text": "hello"}],
            "stop_reason": "end_turn", "stop_sequence": null, "usage": null
        })
    );
}

#[tokio::test]
async fn streaming_request_gets_sse_events_in_api_order() {
    let server = start(Scenario::new(vec![Rule::always(
        Response::blocks(vec![
            Block::thinking("plan"),
            Block::text("Hi there"),
            Block::tool_use("Write", json!({"file_path": "{{cwd}}/a.txt"})),
        ])
        .with_chunks(2),
    )]))
    .await;
    let response = post_json(
        server.local_addr(),
        "/v1/messages?beta=true",
        &main_request("go", true),
    )
    .await;
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let events = response.sse_events();
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let partial_json: String = events
        .iter()
        .filter_map(|(_, data)| data["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(partial_json, r#"{"file_path":"/ws/a.txt"}"#);
    let (_, message_delta) = &events[15];
    assert_eq!(message_delta["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn extra_routes_answer_and_everything_is_recorded_with_secrets_redacted() {
    let server = start(Scenario::default()).await;
    let addr = server.local_addr();
    let secret_headers = [
        ("x-api-key", "sk-very-secret"),
        ("authorization", "Bearer sk-very-secret"),
        ("anthropic-version", "2023-06-01"),
    ];
    let hello = request(addr, "HEAD", "/api/hello", &[], None).await;
    assert_eq!(hello.status, 200);
    let tokens = post_json(addr, "/v1/messages/count_tokens", &main_request("x", false)).await;
    assert!(tokens.json()["input_tokens"].as_u64().unwrap() > 0);
    let unknown = request(addr, "GET", "/v1/models", &secret_headers, None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["type"], "not_found_error");

    let recorded = server.requests();
    let summary: Vec<(&str, &str, RequestKind)> = recorded
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.kind))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("HEAD", "/api/hello", RequestKind::Other),
            (
                "POST",
                "/v1/messages/count_tokens",
                RequestKind::CountTokens
            ),
            ("GET", "/v1/models", RequestKind::Other),
        ]
    );
    let models = &recorded[2];
    // Redacted, with a fingerprint that tells which secret it was.
    let redacted = |secret: &str| {
        format!(
            "[redacted] {}",
            agent_runtime_testkit::secret_fingerprint(secret.as_bytes())
        )
    };
    assert_eq!(
        models.header("x-api-key"),
        Some(redacted("sk-very-secret").as_str())
    );
    assert_eq!(
        models.header("Authorization"),
        Some(redacted("Bearer sk-very-secret").as_str())
    );
    assert!(!format!("{models:?}").contains("sk-very-secret"));
    assert_eq!(models.header("anthropic-version"), Some("2023-06-01"));
    let everything = format!("{recorded:?}");
    assert!(!everything.contains("sk-very-secret"));
}

#[tokio::test]
async fn scripted_errors_fail_the_first_hits_then_succeed() {
    let server = start(Scenario::new(vec![Rule::always(Response {
        error: Some(ErrorSpec {
            status: 500,
            error_type: None,
            message: "scripted boom".into(),
            times: Some(1),
        }),
        ..Response::text("recovered")
    })]))
    .await;
    let addr = server.local_addr();
    let failed = post_json(addr, "/v1/messages", &main_request("x", true)).await;
    assert_eq!(failed.status, 500);
    assert!(failed.header("request-id").unwrap().starts_with("req_"));
    let mut error = failed.json();
    error["request_id"] = json!("req_x");
    assert_eq!(
        error,
        json!({"type": "error", "error": {"type": "api_error", "message": "scripted boom"},
               "request_id": "req_x"})
    );
    let retried = post_json(addr, "/v1/messages", &main_request("x", true)).await;
    assert_eq!(retried.status, 200);
    assert_eq!(streamed_text(&retried), "recovered");
}

#[tokio::test]
async fn side_requests_get_builtin_answers_without_consuming_rules() {
    let server = start(Scenario::new(vec![Rule::always(Response::text(
        "step one",
    ))
    .once()]))
    .await;
    let addr = server.local_addr();
    let probe = json!({"model": "claude-haiku", "max_tokens": 1,
                       "messages": [{"role": "user", "content": "quota"}]});
    let answer = post_json(addr, "/v1/messages", &probe).await.json();
    assert_eq!(answer["stop_reason"], "max_tokens");
    let title = json!({"model": "claude-haiku", "max_tokens": 100,
                       "messages": [{"role": "user", "content": "title this"}]});
    assert_eq!(post_json(addr, "/v1/messages", &title).await.status, 200);

    let main = post_json(addr, "/v1/messages", &main_request("x", true)).await;
    assert_eq!(streamed_text(&main), "step one");
    let kinds: Vec<RequestKind> = server.requests().iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        vec![
            RequestKind::SideMessage,
            RequestKind::SideMessage,
            RequestKind::MainMessage
        ]
    );
    let main_requests = server.message_requests();
    assert_eq!(main_requests.len(), 1);
    assert_eq!(main_requests[0].rule, Some(0));
    assert_eq!(main_requests[0].messages().len(), 2);
    assert_eq!(main_requests[0].last_user_text(), "x");
}

#[tokio::test]
async fn fallback_answers_when_no_rule_matches() {
    let scenario = Scenario::new(vec![Rule::new(
        Matcher::last_user_text_contains("special"),
        Response::text("special answer"),
    )])
    .with_fallback(Response::text("fallback answer"));
    let server = start(scenario).await;
    let response = post_json(
        server.local_addr(),
        "/v1/messages",
        &main_request("plain", false),
    )
    .await;
    assert_eq!(response.json()["content"][0]["text"], "fallback answer");
    assert_eq!(server.message_requests()[0].rule, None);
}

#[tokio::test]
async fn slow_stream_trickles_and_stops_when_the_client_disconnects() {
    const DELAY: Duration = Duration::from_millis(100);
    let server = start(Scenario::new(vec![Rule::always(
        Response::text("a long answer that trickles in slowly")
            .with_chunks(20)
            .with_chunk_delay_ms(DELAY.as_millis() as u64),
    )]))
    .await;
    let mut stream = send(
        server.local_addr(),
        "POST",
        "/v1/messages",
        &[],
        Some(&main_request("x", true)),
    )
    .await;
    // `message_start` arrives at once; the rest (about 25 events) would take seconds.
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&received).contains("text_delta") {
        let n = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut buffer))
            .await
            .expect("first events in time")
            .expect("read");
        assert!(n > 0, "stream ended early");
        received.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&received);
    assert!(text.contains("message_start"));
    assert!(
        !text.contains("message_stop"),
        "the stream must not arrive at once"
    );
    assert_eq!(server.active_streams(), 1);

    drop(stream);
    let stopped = Instant::now();
    while server.active_streams() > 0 {
        assert!(
            stopped.elapsed() < Duration::from_secs(2),
            "stream still running after the client left"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn midstream_cut_drops_the_connection_then_later_hits_complete() {
    let mut response = Response::text("cut me").with_chunks(3);
    response.midstream_cut = Some(agent_runtime_testkit::MidstreamCut {
        after_events: 4,
        times: Some(1),
    });
    let server = start(Scenario::new(vec![Rule::always(response)])).await;
    let addr = server.local_addr();

    let cut = post_json(addr, "/v1/messages", &main_request("x", true)).await;
    let names: Vec<String> = parse_sse(&cut.body).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        vec![
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta"
        ]
    );

    let whole = post_json(addr, "/v1/messages", &main_request("x", true)).await;
    assert_eq!(whole.sse_events().last().unwrap().0, "message_stop");
}

#[tokio::test]
async fn set_scenario_swaps_rules_and_resets_counters() {
    let server = start(Scenario::new(vec![
        Rule::always(Response::text("old")).once()
    ]))
    .await;
    let addr = server.local_addr();
    let text = |r: RawResponse| r.json()["content"][0]["text"].clone();
    assert_eq!(
        text(post_json(addr, "/v1/messages", &main_request("x", false)).await),
        "old"
    );
    server.set_scenario(Scenario::new(vec![
        Rule::always(Response::text("new")).once()
    ]));
    assert_eq!(
        text(post_json(addr, "/v1/messages", &main_request("x", false)).await),
        "new"
    );
}

#[tokio::test]
async fn wait_for_requests_returns_when_enough_arrived_or_times_out() {
    let server = start(Scenario::default()).await;
    let addr = server.local_addr();
    let early = server.wait_for_requests(1, Duration::from_millis(50)).await;
    assert!(early.is_err());

    let waiter = server.wait_for_message_requests(2, IO_TIMEOUT);
    let sender = async {
        post_json(addr, "/v1/messages", &main_request("one", true)).await;
        request(addr, "HEAD", "/api/hello", &[], None).await;
        post_json(addr, "/v1/messages", &main_request("two", true)).await;
    };
    let (waited, ()) = tokio::join!(waiter, sender);
    let texts: Vec<String> = waited.unwrap().iter().map(|r| r.last_user_text()).collect();
    assert_eq!(texts, vec!["one", "two"]);
    assert_eq!(
        server.wait_for_requests(3, IO_TIMEOUT).await.unwrap().len(),
        3
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_drop_closes_the_port() {
    let server = start(Scenario::new(vec![Rule::always(
        Response::text("endless")
            .with_chunks(50)
            .with_chunk_delay_ms(200),
    )]))
    .await;
    let addr = server.local_addr();
    let mut stream = send(
        addr,
        "POST",
        "/v1/messages",
        &[],
        Some(&main_request("x", true)),
    )
    .await;
    let mut first = [0u8; 64];
    let n = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut first))
        .await
        .unwrap()
        .unwrap();
    assert!(n > 0);
    tokio::time::timeout(Duration::from_secs(3), server.shutdown())
        .await
        .expect("shutdown does not wait for the slow stream");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(IO_TIMEOUT, stream.read_to_end(&mut rest)).await;

    let dropped = start(Scenario::default()).await;
    let dropped_addr = dropped.local_addr();
    drop(dropped);
    let deadline = Instant::now() + Duration::from_secs(3);
    while tokio::net::TcpStream::connect(dropped_addr).await.is_ok() {
        assert!(Instant::now() < deadline, "port still open after drop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn demo_scenario_writes_the_mentioned_file_under_the_reported_cwd() {
    let server = start(demo_scenario()).await;
    let addr = server.local_addr();
    let reply = post_json(
        addr,
        "/v1/messages",
        &main_request("please create notes.md", false),
    )
    .await
    .json();
    let content = reply["content"].as_array().unwrap();
    let kinds: Vec<&str> = content
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["thinking", "text", "tool_use"]);
    assert!(content[1]["text"].as_str().unwrap().contains("demo model"));
    assert_eq!(content[2]["name"], "Write");
    assert_eq!(content[2]["input"]["file_path"], "/ws/notes.md");
    assert_eq!(reply["stop_reason"], "tool_use");

    let greeting = post_json(addr, "/v1/messages", &main_request("hi", false))
        .await
        .json();
    let kinds: Vec<&str> = greeting["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["thinking", "text"]);
}

#[test]
fn truncated_chunked_bodies_keep_what_arrived() {
    let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n9\r\nwor";
    assert_eq!(parse_response(raw).body, "hellowor");
}
