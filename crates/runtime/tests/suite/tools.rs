//! The egress proxy serves the tools an agent runs, through the environment alone
//! (`HTTP_PROXY`/`HTTPS_PROXY`, both spellings; `NO_PROXY` for loopback): curl, git, npm, pip
//! and Python reach an allowed host by name, which only the proxy can resolve (the sandbox has no
//! DNS, and no route). A real agent's tool calls in a real sandbox.

use std::sync::{Arc, Mutex};

use agent_runtime_agents::AgentKind;
use agent_runtime_egress::{AddressException, StaticResolver};
use agent_runtime_protocol::{AgentProfile, CreateSessionRequest};
use agent_runtime_testkit::Scenario;
use pretty_assertions::assert_eq;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::*;

const MIRROR: &str = "mirror.test";

/// A plain-HTTP server on loopback that answers `mirror:<path>` and records `(path, user agent)`.
async fn mirror() -> (u16, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let agent = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("user-agent")
                            .then(|| value.trim().to_string())
                    })
                    .unwrap_or_default();
                record.lock().unwrap().push((path.clone(), agent));
                let body = format!("mirror:{path}");
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn common_tools_reach_an_allowed_host_through_the_proxy_by_the_environment_alone() {
    let (port, seen) = mirror().await;
    let h = harness(Scenario::new(vec![]), |config| {
        config.egress.resolver = Some(Arc::new(
            StaticResolver::new().with(MIRROR, ["127.0.0.1".parse().unwrap()]),
        ));
        config.egress.exceptions =
            vec![AddressException::parse(&format!("127.0.0.1:{port}")).unwrap()];
    })
    .await;
    let profile: AgentProfile = serde_json::from_value(json!({
        "id": "mirror",
        "sandbox": {"network": {"policy": "allowlist", "allow": [format!("{MIRROR}:{port}")]}}
    }))
    .unwrap();
    h.runtime.put_profile("mirror", profile).await.unwrap();
    let session = h
        .runtime
        .create_session(CreateSessionRequest {
            agent: Some(AgentKind::ClaudeCode.id().to_string()),
            profile: Some("mirror".into()),
            ..CreateSessionRequest::default()
        })
        .await
        .unwrap()
        .session_id;
    let base = format!("http://{MIRROR}:{port}");
    let probes = [
        ("curl", format!("curl -s -m 10 {base}/curl; echo")),
        (
            "python",
            format!(
                "python3 -c \"import urllib.request; \
                 print(urllib.request.urlopen('{base}/python', timeout=10).read().decode())\""
            ),
        ),
        (
            "git",
            format!("git ls-remote {base}/repo.git >/dev/null 2>&1; echo git-ran"),
        ),
        (
            "npm",
            format!(
                "npm view --registry {base}/npm/ left-pad version --fetch-retries=0 \
                 --fetch-timeout=10000 >/dev/null 2>&1; echo npm-ran"
            ),
        ),
        (
            "pip",
            format!(
                "python3 -m pip download --no-deps --retries 0 --timeout 10 -d /tmp/pip \
                 --trusted-host {MIRROR} --index-url {base}/simple/ left-pad >/dev/null 2>&1; \
                 echo pip-ran"
            ),
        ),
    ];
    let out = run_bash_probes(&h, &session, &probes).await;
    let output = |name: &str| out[name].clone();
    assert_eq!(output("curl"), "mirror:/curl");
    assert_eq!(output("python"), "mirror:/python");
    assert_eq!(output("git"), "git-ran");
    assert_eq!(output("npm"), "npm-ran");
    assert_eq!(output("pip"), "pip-ran");
    // Each tool's request arrived, through the proxy (the mirror is reachable no other way).
    let seen = seen.lock().unwrap().clone();
    let arrived = |prefix: &str, agent: &str| {
        seen.iter()
            .any(|(path, ua)| path.starts_with(prefix) && ua.to_lowercase().contains(agent))
    };
    assert!(arrived("/curl", "curl"), "{seen:?}");
    assert!(arrived("/python", "python"), "{seen:?}");
    assert!(arrived("/repo.git/info/refs", "git"), "{seen:?}");
    assert!(arrived("/npm/left-pad", "npm"), "{seen:?}");
    assert!(arrived("/simple/left-pad", "pip"), "{seen:?}");
    h.runtime.shutdown().await;
}
