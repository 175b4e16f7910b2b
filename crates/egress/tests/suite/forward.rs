//! Plain HTTP in absolute form: forwarded to the checked address in origin form, hop-by-hop
//! headers and the proxy credentials dropped, `Host` taken from the URL.

use agent_runtime_egress::EgressPolicy;
use http::Request;
use pretty_assertions::assert_eq;

use super::common::*;

#[tokio::test]
async fn plain_http_is_forwarded_to_the_checked_address() {
    let mut upstream = HttpUpstream::start().await;
    let port = upstream.port();
    let mut config = config(EgressPolicy::allowlist(patterns(&[&format!(
        "plain.test:{port}"
    )])));
    config.resolver = resolver(&[("plain.test", "127.0.0.1")]);
    config.exceptions = loopback_exceptions(&[port]);
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;

    let request = Request::builder()
        .method("POST")
        .uri(format!("http://plain.test:{port}/pkg/index.json?x=1"))
        .header("host", "spoofed.test")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .header("x-kept", "kept")
        .body(full("payload"))
        .unwrap();
    let answer = client.fetch(request).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "upstream saw POST /pkg/index.json?x=1");

    let seen = upstream.next_seen().await;
    assert_eq!(seen.uri, "/pkg/index.json?x=1");
    assert_eq!(
        seen.header("host"),
        Some(format!("plain.test:{port}").as_str())
    );
    assert_eq!(seen.header("x-kept"), Some("kept"));
    assert_eq!(seen.header("proxy-authorization"), None);
    assert_eq!(seen.header("x-hop"), None);
    assert_eq!(seen.body, "payload");

    // Keep-alive: the same client connection forwards a second request.
    let answer = client
        .fetch(get(&format!("http://plain.test:{port}/second")))
        .await;
    assert_eq!(answer.body, "upstream saw GET /second");
}

#[tokio::test]
async fn https_in_absolute_form_is_a_bad_request() {
    let proxy = Proxy::start(config(EgressPolicy::open()));
    let mut client = proxy.client().await;
    let answer = client.fetch(get("https://example.test/")).await;
    assert_eq!(
        (answer.status.as_u16(), answer.denied()),
        (400, Some("bad_request"))
    );
    assert!(
        answer.body.contains("use CONNECT for https"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn an_unreachable_allowed_destination_is_a_bad_gateway_not_a_denial() {
    // Bind then drop a listener: its port is closed on 127.0.0.1.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = config(EgressPolicy::open());
    config.exceptions = loopback_exceptions(&[closed]);
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;
    let answer = client
        .connect_to(&format!("127.0.0.1:{closed}"))
        .await
        .expect_err("closed");
    assert_eq!((answer.status.as_u16(), answer.denied()), (502, None));
    assert!(
        answer.body.contains("upstream unreachable"),
        "{}",
        answer.body
    );
    assert!(proxy.denials().is_empty());
}
