//! A hostile client: garbage, malformed proxy requests, oversized and slow heads, too many
//! connections. The proxy answers or closes, never panics, and keeps serving others.

use std::time::Duration;

use agent_runtime_egress::{DenyReason, EgressPolicy, ProxyLimits};
use pretty_assertions::assert_eq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::common::*;

#[tokio::test]
async fn garbage_gets_a_400_and_the_proxy_keeps_serving() {
    let proxy = Proxy::start(config(EgressPolicy::open()));
    for garbage in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"[..],
        b"NOT A REQUEST\r\n\r\n",
        b"GET / HTTP/1.1\r\nbad header line\r\n\r\n",
        b"\r\n\r\n\r\n\0\0\0\0\r\n\r\n",
    ] {
        let mut stream = proxy.connect();
        let answer = raw_exchange(&mut stream, garbage).await;
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{garbage:?} got {answer:?}"
        );
    }
    // Still serving.
    let mut client = proxy.client().await;
    let answer = client.fetch(get("/v1/messages")).await;
    assert_eq!(answer.denied(), Some("no_gateway"));
}

#[tokio::test]
async fn malformed_proxy_requests_are_bad_requests_on_a_live_connection() {
    let proxy = Proxy::start(config(EgressPolicy::open()));
    let mut stream = proxy.connect();
    let requests = [
        "CONNECT example.test HTTP/1.1\r\nhost: example.test\r\n\r\n",
        "GET ftp://example.test/file HTTP/1.1\r\nhost: example.test\r\n\r\n",
        "CONNECT bad_host!:443 HTTP/1.1\r\nhost: x\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nhost: x\r\n\r\n",
    ];
    for request in requests {
        stream.write_all(request.as_bytes()).await.unwrap();
        let head = read_head(&mut stream).await;
        assert!(head.starts_with("http/1.1 400"), "{request:?} got {head:?}");
        assert!(
            head.contains("x-agent-runtime-egress-denied: bad_request"),
            "{head}"
        );
    }
    let reasons: Vec<DenyReason> = proxy.denials().iter().map(|d| d.reason).collect();
    assert_eq!(reasons, vec![DenyReason::BadRequest; requests.len()]);
}

/// Reads one response (head and its content-length body) from a raw stream; returns the
/// head in lower case.
async fn read_head(stream: &mut tokio::net::UnixStream) -> String {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        let n = within("response head", stream.read(&mut byte))
            .await
            .unwrap();
        assert_eq!(
            n,
            1,
            "the proxy closed the connection; got {:?}",
            String::from_utf8_lossy(&data)
        );
        data.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&data).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map(|n| n.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; length];
    within("response body", stream.read_exact(&mut body))
        .await
        .unwrap();
    head
}

#[tokio::test]
async fn oversized_request_heads_are_refused() {
    let mut config = config(EgressPolicy::open());
    config.limits.max_header_bytes = 16 * 1024;
    let proxy = Proxy::start(config);
    let mut stream = proxy.connect();
    let request = format!(
        "GET /v1/messages HTTP/1.1\r\nx-big: {}\r\n\r\n",
        "a".repeat(256 * 1024)
    );
    let answer = raw_exchange(&mut stream, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let mut config = config(EgressPolicy::open());
    config.limits.header_read_timeout = Duration::from_millis(300);
    let proxy = Proxy::start(config);
    let mut stream = proxy.connect();
    stream
        .write_all(b"GET /v1/messages HTTP/1.1\r\nx-slow: ")
        .await
        .unwrap();
    let mut out = Vec::new();
    // `within` fails the test if the proxy waits forever.
    within(
        "the proxy closes a slow client",
        stream.read_to_end(&mut out),
    )
    .await
    .unwrap();
    let answer = String::from_utf8_lossy(&out);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once() {
    let mut config = config(EgressPolicy::open());
    config.limits = ProxyLimits {
        max_connections: 2,
        ..ProxyLimits::default()
    };
    let proxy = Proxy::start(config);
    let mut first = proxy.client().await;
    let mut second = proxy.client().await;
    // Both are being served (each holds its slot while it lives).
    assert_eq!(first.fetch(get("/")).await.status, 404);
    assert_eq!(second.fetch(get("/")).await.status, 404);
    assert_eq!(proxy.proxy.stats().open_connections, 2);

    let mut third = proxy.connect();
    let answer = raw_exchange(&mut third, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(
        answer, "",
        "the third connection is closed without an answer"
    );
    assert_eq!(proxy.proxy.stats().refused_connections, 1);

    // Closing one frees its slot.
    drop(first);
    within("a slot frees", async {
        while proxy.proxy.stats().open_connections != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let mut fourth = proxy.client().await;
    assert_eq!(fourth.fetch(get("/")).await.status, 404);
}
