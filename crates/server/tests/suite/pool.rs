//! The warm pool through the real server: new sessions take sandboxes whose Claude Code is
//! already running and warmed up without the model, nothing of one session reaches the next, a
//! profile's sessions are warmed after its first one, and a changed profile is never served
//! from a stale entry.

use std::time::Duration;

use agent_runtime_agents::claude::WARM_UP_TEXT;
use agent_runtime_protocol::{AgentProfile, CreateSessionRequest, ProfileFile, SessionEvent};
use agent_runtime_testkit::{Matcher, Response, Rule, Scenario};
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use super::attack::{denials, profile, Probe, Target};
use super::metrics::scrape;
use super::support::*;

/// Waits until `ready` warm sandboxes wait in the pool.
async fn pool_ready(target: &Target, ready: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let figures = scrape(&target.server).await;
        if figures.get("agent_runtime_pool_ready") == Some(&ready) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pool did not reach {ready} ready: {figures:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn figure(target: &Target, name: &str) -> f64 {
    scrape(&target.server)
        .await
        .get(name)
        .copied()
        .unwrap_or(-1.0)
}

async fn session(target: &Target, profile: Option<&str>) -> String {
    let request = CreateSessionRequest {
        agent: Some(target.agent.to_string()),
        profile: profile.map(str::to_string),
        ..Default::default()
    };
    within(target.server.client().create_session(&request))
        .await
        .expect("session created")
        .session_id
}

/// The agent session id a session's agent runs under.
async fn agent_session_id(target: &Target, session_id: &str) -> String {
    let snapshot = within(target.server.client().get_session(session_id))
        .await
        .expect("snapshot");
    snapshot
        .state
        .agent_session_id
        .expect("an agent session id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_sessions_take_warm_sandboxes_and_nothing_of_one_reaches_the_next() {
    let target = Target::start(|config| {
        config.warm_pool = 1;
        // Nothing but the runtime's own address stops the probe below: it shows that the warm
        // sandbox, made before any session, refuses the address the server listens on.
        config.sandbox.network = agent_runtime_protocol::NetworkPolicy::Open;
    })
    .await;
    pool_ready(&target, 1.0).await;

    let first = session(&target, None).await;
    let before = agent_session_id(&target, &first).await;
    let (out, _) = target
        .run(
            &first,
            &[Probe::new(
                "leave traces",
                "echo first-session-secret > /workspace/trace.txt; \
                 echo first-session-secret > ~/trace.txt; \
                 echo first-session-secret > /tmp/trace.txt; echo left",
            )],
        )
        .await;
    assert_eq!(out["leave traces"], "left");
    assert_eq!(figure(&target, "agent_runtime_pool_hits_total").await, 1.0);
    // The session took the warm agent's conversation id, and a new entry is being made.
    let taken = agent_session_id(&target, &first).await;
    assert_ne!(taken, before);
    pool_ready(&target, 1.0).await;

    let second = session(&target, None).await;
    let api = target.api_port();
    let (out, events) = target
        .run(
            &second,
            &[
                Probe::new(
                    "look for traces",
                    "s=first-session; grep -rlsF \"$s-secret\" /workspace /home /tmp | head -3; \
                     echo searched",
                ),
                Probe::new(
                    "the runtime's API",
                    format!(
                        "curl -s -m 5 --noproxy '' -x http://127.0.0.1:3128 -o /dev/null \
                         -w '%{{http_code}}' http://127.0.0.1:{api}/api/sessions; \
                         echo \" exit=$?\""
                    ),
                ),
            ],
        )
        .await;
    assert_eq!(figure(&target, "agent_runtime_pool_hits_total").await, 2.0);
    assert_eq!(out["look for traces"], "searched");
    // The warm sandbox was made after the server knew its address: its proxy refuses it, under
    // the open policy too.
    assert_eq!(out["the runtime's API"], "403 exit=0");
    assert!(
        denials(&events)
            .iter()
            .any(|(_, port, reason)| *port == api && reason == "runtime_address"),
        "{:?}",
        denials(&events)
    );
    assert_ne!(agent_session_id(&target, &second).await, taken);
    target.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_is_warmed_after_its_first_session_and_never_served_stale() {
    let target = Target::start(|config| config.warm_pool = 1).await;
    let with_file = |content: &str| {
        let mut p: AgentProfile = profile("seeded", json!({}));
        p.files = vec![ProfileFile {
            path: "seed.txt".into(),
            content: content.into(),
        }];
        p
    };
    within(
        target
            .server
            .client()
            .put_profile(&with_file("version one")),
    )
    .await
    .expect("profile stored");
    pool_ready(&target, 1.0).await;
    let read_seed = [Probe::new("seed", "cat /workspace/seed.txt")];

    // The profile's first session starts cold; its key is warm from then on.
    let cold = session(&target, Some("seeded")).await;
    let (out, _) = target.run(&cold, &read_seed).await;
    assert_eq!(out["seed"], "version one");
    assert_eq!(
        figure(&target, "agent_runtime_pool_misses_total").await,
        1.0
    );
    assert_eq!(figure(&target, "agent_runtime_pool_hits_total").await, 0.0);
    pool_ready(&target, 2.0).await;

    let warm = session(&target, Some("seeded")).await;
    let (out, _) = target.run(&warm, &read_seed).await;
    assert_eq!(out["seed"], "version one");
    assert_eq!(figure(&target, "agent_runtime_pool_hits_total").await, 1.0);
    pool_ready(&target, 2.0).await;

    // The profile changes: the entry made under version one is discarded, not handed out.
    within(
        target
            .server
            .client()
            .put_profile(&with_file("version two")),
    )
    .await
    .expect("profile stored");
    let changed = session(&target, Some("seeded")).await;
    let (out, events) = target.run(&changed, &read_seed).await;
    assert_eq!(out["seed"], "version two");
    assert_eq!(figure(&target, "agent_runtime_pool_hits_total").await, 1.0);
    assert_eq!(
        figure(&target, "agent_runtime_pool_misses_total").await,
        2.0
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, SessionEvent::TurnCompleted { .. })));
    target.server.shutdown().await;
}

/// What of a model request is the conversation: the system prompt, the tools and the messages,
/// with the sandbox's own per-process ids left out (none are in these).
fn conversation(body: &Value) -> Value {
    json!({
        "system": body["system"],
        "tools": body["tools"],
        "messages": body["messages"],
        "model": body["model"],
    })
}

/// A warm Claude Code has worked through a turn and had it taken back before any session
/// claimed it: its transcript holds that turn, cut by a rewind; the model never saw it (the
/// proxy answered); and the session's first model request is the one a session whose agent
/// started cold sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_agent_was_warmed_up_without_the_model_and_starts_as_a_cold_one() {
    let target = Target::start(|config| config.warm_pool = 1).await;
    target.model.set_scenario(Scenario::new(vec![Rule::new(
        Matcher::last_user_text_contains("hello"),
        Response::text("Hi there"),
    )]));
    pool_ready(&target, 1.0).await;
    assert_eq!(
        target.model.requests().len(),
        0,
        "the warm-up reached the model"
    );

    let warm = session(&target, None).await;
    target.turn(&warm, "hello").await;
    assert_eq!(figure(&target, "agent_runtime_pool_hits_total").await, 1.0);
    // A profile's key is warmed after its first session: this one starts cold.
    let cold = target.session_with(profile("plain", json!({}))).await;
    target.turn(&cold, "hello").await;
    assert_eq!(
        figure(&target, "agent_runtime_pool_misses_total").await,
        1.0
    );

    let requests = target.model.message_requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    for request in &requests {
        let body = request.body.as_ref().expect("a JSON body").to_string();
        assert!(
            !body.contains(WARM_UP_TEXT),
            "the warm-up reached the model"
        );
    }
    let [warm_request, cold_request] =
        [0, 1].map(|i| conversation(requests[i].body.as_ref().unwrap()));
    assert_eq!(warm_request, cold_request);
    // The warm-up cost nothing: the session's usage and cost are the cold one's.
    let client = target.server.client();
    let warm_state = within(client.get_session(&warm))
        .await
        .expect("snapshot")
        .state;
    let cold_state = within(client.get_session(&cold))
        .await
        .expect("snapshot")
        .state;
    assert_eq!(warm_state.usage, cold_state.usage);
    assert_eq!(warm_state.cost_usd, cold_state.cost_usd);

    // The warm-up ran in the process this session took: the CLI's transcript has it, cut.
    let name = format!("{}.jsonl", agent_session_id(&target, &warm).await);
    let transcript = within(target.server.client().read_transcript(&warm, &name))
        .await
        .expect("the session's transcript");
    let transcript = String::from_utf8_lossy(&transcript);
    assert!(
        transcript.contains(WARM_UP_TEXT),
        "no warm-up in the transcript"
    );
    assert!(
        transcript.contains(r#""rewound":true"#),
        "the warm-up was not cut"
    );
    target.server.shutdown().await;
}
