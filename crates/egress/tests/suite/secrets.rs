//! Profile secrets: a CONNECT to a host a rule names is intercepted with the proxy's CA and the
//! secret set as a header on the way to the real (loopback, test-CA) HTTPS upstream; other
//! hosts are tunnelled blindly; plain HTTP never gets a secret.

use std::sync::Arc;

use agent_runtime_egress::{EgressConfig, EgressPolicy, SecretRule};
use http::Request;
use pretty_assertions::assert_eq;
use tokio::net::TcpListener;

use super::common::*;

const REAL: &str = "Bearer real-token";
const PLACEHOLDER: &str = "Bearer placeholder";

struct Setup {
    proxy: Proxy,
    upstream: HttpUpstream,
    pki: TestPki,
}

async fn setup() -> Setup {
    let pki = TestPki::new();
    let upstream = HttpUpstream::with_handler(
        Arc::new(|seen: &Seen| {
            http::Response::new(full(format!("upstream saw {} {}", seen.method, seen.uri)))
        }),
        Some(pki.server_config("secret.test")),
    )
    .await;
    let mut config = secret_config(&pki, upstream.port());
    config.resolver = resolver(&[("secret.test", "127.0.0.1"), ("plain.test", "127.0.0.1")]);
    Setup {
        proxy: Proxy::start(config),
        upstream,
        pki,
    }
}

fn secret_config(pki: &TestPki, port: u16) -> EgressConfig {
    let mut config = config(EgressPolicy::allowlist(patterns(&[
        "secret.test:*",
        "plain.test:*",
    ])));
    config.exceptions = loopback_exceptions(&[port]);
    config.secrets = vec![SecretRule::new(
        "api token",
        patterns(&["secret.test:*"]),
        "authorization",
        REAL,
    )
    .unwrap()];
    config.upstream_roots = pki.roots.clone();
    config
}

fn whoami(host: &str) -> Request<TestBody> {
    Request::builder()
        .uri("/whoami")
        .header("host", host)
        .header("authorization", PLACEHOLDER)
        .body(empty())
        .unwrap()
}

#[tokio::test]
async fn the_secret_is_injected_over_tls_for_the_named_host() {
    let Setup {
        proxy,
        mut upstream,
        ..
    } = setup().await;
    let ca = proxy
        .proxy
        .ca_certificate_pem()
        .expect("secret rules give the proxy a CA")
        .to_owned();
    let port = upstream.port();

    let mut client = proxy.client().await;
    let tunnel = client
        .connect_to(&format!("secret.test:{port}"))
        .await
        .expect("CONNECT");
    // The agent trusts the proxy's CA, as the sandbox will, and would like HTTP/2: the
    // interception speaks HTTP/1.1 only, and says so in ALPN.
    let mut agent_tls = (*client_tls(roots_from_pem(&ca))).clone();
    agent_tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tls = tls_over(tunnel, "secret.test", Arc::new(agent_tls))
        .await
        .expect("TLS with the proxy");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut inner = Client::over(tls).await;

    // A spoofed Host must not route the secret elsewhere.
    let answer = inner.fetch(whoami("evil.test")).await;
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_str()),
        (200, "upstream saw GET /whoami")
    );
    let seen = upstream.next_seen().await;
    assert_eq!(seen.header("authorization"), Some(REAL));
    assert_eq!(
        seen.header("host"),
        Some(format!("secret.test:{port}").as_str())
    );

    // Keep-alive inside the tunnel, one upstream connection for both requests.
    let answer = inner.fetch(whoami(&format!("secret.test:{port}"))).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        upstream.next_seen().await.header("authorization"),
        Some(REAL)
    );
    assert_eq!(upstream.accepted(), 1);
    assert!(proxy.denials().is_empty());
}

#[tokio::test]
async fn hosts_no_rule_names_are_tunnelled_blindly() {
    let Setup {
        proxy,
        mut upstream,
        pki,
    } = setup().await;
    let port = upstream.port();
    let mut client = proxy.client().await;
    let tunnel = client
        .connect_to(&format!("plain.test:{port}"))
        .await
        .expect("CONNECT");
    // The TLS session is with the upstream itself: its test-CA certificate verifies end to end.
    let tls = tls_over(tunnel, "secret.test", client_tls((*pki.roots).clone()))
        .await
        .expect("TLS with the upstream");
    let mut inner = Client::over(tls).await;
    let answer = inner.fetch(whoami("secret.test")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        upstream.next_seen().await.header("authorization"),
        Some(PLACEHOLDER)
    );
}

#[tokio::test]
async fn the_proxy_ca_is_not_the_upstreams() {
    // Without the proxy's CA, the intercepted handshake fails: nothing is injected silently.
    let Setup {
        proxy,
        upstream,
        pki,
    } = setup().await;
    let mut client = proxy.client().await;
    let tunnel = client
        .connect_to(&format!("secret.test:{}", upstream.port()))
        .await
        .expect("CONNECT");
    let refused = tls_over(tunnel, "secret.test", client_tls((*pki.roots).clone())).await;
    assert!(
        refused.is_err(),
        "a client that does not trust the proxy CA must fail"
    );
}

#[tokio::test]
async fn plain_http_never_carries_a_secret() {
    let pki = TestPki::new();
    let mut plain = HttpUpstream::start().await;
    let mut config = secret_config(&pki, plain.port());
    config.resolver = resolver(&[("secret.test", "127.0.0.1")]);
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;
    let request = Request::builder()
        .uri(format!("http://secret.test:{}/whoami", plain.port()))
        .header("authorization", PLACEHOLDER)
        .body(empty())
        .unwrap();
    assert_eq!(client.fetch(request).await.status, 200);
    assert_eq!(
        plain.next_seen().await.header("authorization"),
        Some(PLACEHOLDER)
    );
}

#[tokio::test]
async fn an_unreachable_secret_host_fails_the_connect() {
    let pki = TestPki::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = secret_config(&pki, closed);
    config.resolver = resolver(&[("secret.test", "127.0.0.1")]);
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;
    let answer = client
        .connect_to(&format!("secret.test:{closed}"))
        .await
        .expect_err("closed");
    assert_eq!(answer.status, 502);
}

#[tokio::test]
async fn curl_trusts_the_proxy_ca_and_the_secret_is_injected() {
    // A real client: curl (OpenSSL) through the proxy on a loopback TCP port, trusting the
    // proxy's CA from a file, as a sandboxed tool would.
    let Setup {
        proxy,
        mut upstream,
        ..
    } = setup().await;
    let port = upstream.port();
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), proxy.proxy.ca_certificate_pem().unwrap()).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    let server = proxy.proxy.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let server = server.clone();
            tokio::spawn(async move { server.serve(stream).await });
        }
    });

    let mut curl = tokio::process::Command::new("curl");
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        curl.env_remove(var);
    }
    let output = within(
        "curl",
        curl.args(["--silent", "--show-error", "--max-time", "10", "--proxy"])
            .arg(format!("http://{proxy_addr}"))
            .arg("--cacert")
            .arg(ca_file.path())
            .args(["--header", &format!("authorization: {PLACEHOLDER}")])
            .arg(format!("https://secret.test:{port}/from-curl"))
            .output(),
    )
    .await
    .expect("curl must be installed for this test");
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "upstream saw GET /from-curl"
    );
    assert_eq!(
        upstream.next_seen().await.header("authorization"),
        Some(REAL)
    );
}
