//! The model gateway: requests for the proxy itself reach the configured upstream with the real
//! key instead of the agent's placeholder, and the response streams back unbuffered.

use std::sync::{Arc, Mutex};

use agent_runtime_egress::{Denial, DenyReason, EgressPolicy, ModelGateway};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::channel::{Channel, Sender};
use http_body_util::BodyExt;
use pretty_assertions::assert_eq;

use super::common::*;

fn gateway_proxy(upstream: &HttpUpstream, policy: EgressPolicy) -> Proxy {
    let mut config = config(policy);
    config.gateway = Some(
        ModelGateway::anthropic(
            &format!("http://127.0.0.1:{}/anthropic", upstream.port()),
            "sk-real-key",
        )
        .unwrap(),
    );
    Proxy::start(config)
}

#[tokio::test]
async fn the_gateway_injects_the_real_key_and_strips_the_placeholder() {
    let mut upstream = HttpUpstream::start().await;
    // Policy `none` and no exception for the upstream: the gateway is the operator's own path.
    let proxy = gateway_proxy(&upstream, EgressPolicy::none());
    let mut client = proxy.client().await;

    let request = Request::builder()
        .method("POST")
        .uri("/v1/messages?beta=true&key=placeholder")
        .header("host", "127.0.0.1:3128")
        .header("x-api-key", "placeholder")
        .header("authorization", "Bearer placeholder")
        .header("x-goog-api-key", "placeholder")
        .header("anthropic-version", "2023-06-01")
        .body(full(r#"{"model":"m","stream":true}"#))
        .unwrap();
    let answer = client.fetch(request).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        "upstream saw POST /anthropic/v1/messages?beta=true"
    );

    let seen = upstream.next_seen().await;
    assert_eq!(seen.header("x-api-key"), Some("sk-real-key"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.header("x-goog-api-key"), None);
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        seen.header("host"),
        Some(format!("127.0.0.1:{}", upstream.port()).as_str())
    );
    assert_eq!(seen.body, r#"{"model":"m","stream":true}"#);

    // Absolute form to the proxy's own inside address goes to the gateway too.
    let answer = client.fetch(get("http://127.0.0.1:3128/v1/models")).await;
    assert_eq!(answer.body, "upstream saw GET /anthropic/v1/models");
    let answer = client.fetch(get("http://localhost:3128/v1/models")).await;
    assert_eq!(answer.body, "upstream saw GET /anthropic/v1/models");
    assert_eq!(
        upstream.next_seen().await.header("x-api-key"),
        Some("sk-real-key")
    );
    assert!(proxy.denials().is_empty());
}

#[tokio::test]
async fn the_gateway_streams_each_chunk_as_it_comes() {
    let body_sender: Arc<Mutex<Option<Sender<Bytes, hyper::Error>>>> = Arc::new(Mutex::new(None));
    let slot = body_sender.clone();
    let upstream = HttpUpstream::with_handler(
        Arc::new(move |_seen: &Seen| {
            let (sender, body) = Channel::<Bytes, hyper::Error>::new(4);
            *slot.lock().unwrap() = Some(sender);
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(body.boxed())
                .unwrap()
        }),
        None,
    )
    .await;
    let proxy = gateway_proxy(&upstream, EgressPolicy::none());
    let mut client = proxy.client().await;

    let response = client
        .send(
            Request::builder()
                .method("POST")
                .uri("/v1/messages")
                .body(full("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut sender = body_sender
        .lock()
        .unwrap()
        .take()
        .expect("the upstream got the request");
    let mut body = response.into_body();

    within(
        "send first",
        sender.send_data(Bytes::from("event: message_start\n\n")),
    )
    .await
    .unwrap();
    // The upstream has not finished (its sender is alive): the first chunk must arrive anyway.
    let first = within("first chunk through the proxy", body.frame())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "event: message_start\n\n");

    within(
        "send second",
        sender.send_data(Bytes::from("event: content_block_delta\n\n")),
    )
    .await
    .unwrap();
    let second = within("second chunk", body.frame()).await.unwrap().unwrap();
    assert_eq!(
        second.into_data().unwrap(),
        "event: content_block_delta\n\n"
    );

    drop(sender);
    let rest = within("end of stream", body.collect())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(rest, "");
}

#[tokio::test]
async fn without_a_gateway_requests_for_the_proxy_are_refused() {
    let proxy = Proxy::start(config(EgressPolicy::open()));
    let mut client = proxy.client().await;
    let request = Request::builder()
        .uri("/v1/messages")
        .header("host", "127.0.0.1:3128")
        .body(empty())
        .unwrap();
    let answer = client.fetch(request).await;
    assert_eq!(
        (answer.status.as_u16(), answer.denied()),
        (404, Some("no_gateway"))
    );
    assert_eq!(
        proxy.denials(),
        vec![Denial {
            host: "127.0.0.1".into(),
            port: 3128,
            reason: DenyReason::NoGateway,
            address: None,
        }]
    );
}

#[tokio::test]
async fn an_unreachable_gateway_upstream_is_a_bad_gateway() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = config(EgressPolicy::none());
    config.gateway =
        Some(ModelGateway::anthropic(&format!("http://127.0.0.1:{closed}"), "sk").unwrap());
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;
    let answer = client.fetch(get("/v1/messages")).await;
    assert_eq!(answer.status, 502);
    assert!(
        answer.body.contains("model gateway upstream unreachable"),
        "{}",
        answer.body
    );
}

/// During a rehearsal the gateway answers by itself: the upstream is never connected to (no
/// request, so no use of the key), and the agent gets a streamed turn whose text is the
/// stand-in's. When it ends, requests go to the upstream again, on a proxy built before.
#[tokio::test]
async fn during_a_rehearsal_nothing_reaches_the_upstream() {
    let mut upstream = HttpUpstream::start().await;
    let mut config = config(EgressPolicy::none());
    let gateway = ModelGateway::anthropic(
        &format!("http://127.0.0.1:{}/anthropic", upstream.port()),
        "sk-real-key",
    )
    .unwrap();
    let rehearsal = gateway.rehearsal();
    config.gateway = Some(gateway);
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;
    let message = || {
        Request::builder()
            .method("POST")
            .uri("/v1/messages?beta=true")
            .header("x-api-key", "placeholder")
            .body(full(r#"{"model":"claude-opus-5-5","stream":true}"#))
            .unwrap()
    };

    rehearsal.begin();
    let answer = client.fetch(message()).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.body.starts_with("event: message_start\n"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains(&format!(
        r#""text":"{}""#,
        agent_runtime_egress::REHEARSAL_REPLY
    )));
    let refused = client.fetch(get("http://127.0.0.1:3128/v1/models")).await;
    assert_eq!(refused.status, 503);
    assert_eq!(upstream.accepted(), 0);

    rehearsal.end();
    let answer = client.fetch(message()).await;
    assert_eq!(
        answer.body,
        "upstream saw POST /anthropic/v1/messages?beta=true"
    );
    assert_eq!(
        upstream.next_seen().await.header("x-api-key"),
        Some("sk-real-key")
    );
    assert_eq!(upstream.accepted(), 1);
    assert!(proxy.denials().is_empty());
}
