//! A profile's secrets reach the hosts they name and nothing else: an agent's `curl` to such a
//! host over HTTPS arrives with the secret as a header the egress proxy set, while the sandbox
//! holds no trace of it (unless the profile puts it into the environment, explicitly). Real
//! agent tool calls in real sandboxes, a real HTTPS server on loopback behind a name.

use std::sync::{Arc, Mutex};

use agent_runtime_agents::AgentKind;
use agent_runtime_egress::{AddressException, StaticResolver};
use agent_runtime_protocol::{AgentProfile, CreateSessionRequest};
use agent_runtime_testkit::Scenario;
use pretty_assertions::assert_eq;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::*;

const HOST: &str = "api.secret-host.test";
const SECRET: &str = "s3cret-token-only-the-proxy-sends";
const EXPOSED: &str = "exposed-on-purpose-value";

/// An HTTPS server for [`HOST`] on loopback, with a certificate from its own CA, answering
/// `authorized` when the request carries the secret and recording every Authorization header.
struct SecretHost {
    port: u16,
    roots: rustls::RootCertStore,
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

async fn secret_host() -> SecretHost {
    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![HOST.to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, record) = (acceptor.clone(), record.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                    if tls.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let auth = head.lines().find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("authorization")
                        .then(|| value.trim().to_string())
                });
                let body = if auth.as_deref() == Some(&format!("Bearer {SECRET}")) {
                    "authorized"
                } else {
                    "denied"
                };
                record.lock().unwrap().push(auth);
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    SecretHost { port, roots, seen }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_reaches_only_the_host_it_names_and_never_the_sandbox() {
    let host = secret_host().await;
    let port = host.port;
    let roots = Arc::new(host.roots.clone());
    let h = harness(Scenario::new(vec![]), |config| {
        // The operator's side: the name resolves to loopback, that one port is let through,
        // and the host's certificate is trusted upstream.
        config.egress.resolver = Some(Arc::new(
            StaticResolver::new().with(HOST, ["127.0.0.1".parse().unwrap()]),
        ));
        config.egress.exceptions =
            vec![AddressException::parse(&format!("127.0.0.1:{port}")).unwrap()];
        config.egress.upstream_roots = Some(roots);
    })
    .await;
    let profile: AgentProfile = serde_json::from_value(json!({
        "id": "with-secrets",
        "sandbox": {
            "network": {"policy": "allowlist", "allow": [format!("{HOST}:{port}")]},
            "secrets": [
                {"name": "API_TOKEN", "value": SECRET, "hosts": [format!("{HOST}:*")]},
                {"name": "EXPOSED_TOKEN", "value": EXPOSED, "hosts": ["other.test"], "env": true}
            ]
        }
    }))
    .unwrap();
    h.runtime
        .put_profile("with-secrets", profile)
        .await
        .unwrap();
    let session = h
        .runtime
        .create_session(CreateSessionRequest {
            agent: Some(AgentKind::ClaudeCode.id().to_string()),
            profile: Some("with-secrets".into()),
            ..CreateSessionRequest::default()
        })
        .await
        .unwrap()
        .session_id;

    let probes = [
        (
            "call the API",
            format!("curl -sS -m 10 https://{HOST}:{port}/whoami; echo"),
        ),
        // An attacker sends whatever Authorization it likes: the proxy sets the real one.
        (
            "forge the header",
            format!(
                "curl -sS -m 10 -H 'Authorization: Bearer forged' https://{HOST}:{port}/x; echo"
            ),
        ),
        (
            "look for the secret",
            "s=s3cret; s=$s-token; env | grep -c \"$s\"; \
             cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c \"$s\"; \
             grep -rlsF \"$s\" /home /workspace /tmp /run /etc | head -3; echo searched"
                .to_string(),
        ),
        // Its value would be redacted from tool output; its digest shows it is there.
        (
            "the exposed one",
            "printf %s \"$EXPOSED_TOKEN\" | sha256sum | cut -c1-16".to_string(),
        ),
    ];
    let out = run_bash_probes(&h, &session, &probes).await;
    let output = |name: &str| out[name].clone();
    assert_eq!(output("call the API"), "authorized");
    assert_eq!(output("forge the header"), "authorized");
    assert_eq!(output("look for the secret"), "0\n0\nsearched");
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(EXPOSED.as_bytes()));
    assert_eq!(output("the exposed one"), digest[..16]);
    // What the host received: the secret, each time, from the proxy.
    let bearer = format!("Bearer {SECRET}");
    assert_eq!(
        *host.seen.lock().unwrap(),
        vec![Some(bearer.clone()), Some(bearer)]
    );
    h.runtime.shutdown().await;
}
