//! `GET /metrics`: Prometheus's text exposition, behind the API key, and its figures move with
//! a real turn (the metrics are per process and tests run side by side, so the checks are on
//! growth, not on exact values).

use std::collections::BTreeMap;

use agent_runtime_testkit::{demo_scenario, ScriptedModelServer};
use reqwest::Method;

use super::agent::*;
use super::support::*;

/// The samples of a scrape, by name with labels.
pub async fn scrape(server: &TestServer) -> BTreeMap<String, f64> {
    scrape_client(&server.client()).await
}

/// [`scrape`] of the server `client` talks to.
pub async fn scrape_client(client: &agent_runtime_client::Client) -> BTreeMap<String, f64> {
    let response = within(client.request(Method::GET, "/metrics").send())
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').expect("name value");
            (name.to_string(), value.parse::<f64>().expect("a number"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_figures_move_with_a_turn() {
    let model = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let server = agent_server(&model, Setup::CLAUDE_SQLITE).await;
    let before = scrape(&server).await;
    let session_id = create_agent_session(&server, Setup::CLAUDE_SQLITE).await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    within(ws.send_message(&session_id, "create hello.txt", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    let after = scrape(&server).await;
    let grew = |name: &str| after[name] - before.get(name).copied().unwrap_or(0.0);

    assert!(after["agent_runtime_sessions_loaded"] >= 1.0);
    assert!(grew("agent_runtime_turns_total{outcome=\"completed\"}") >= 1.0);
    assert!(grew("agent_runtime_sandbox_starts_total") >= 1.0);
    assert!(grew("agent_runtime_sandbox_start_seconds_count") >= 1.0);
    assert!(grew("agent_runtime_first_token_seconds_count") >= 1.0);
    let seen = events.len() as f64;
    assert!(
        grew("agent_runtime_events_appended_total") >= seen,
        "{seen}"
    );
    assert!(grew("agent_runtime_store_append_seconds_count") >= 1.0);
    assert!(
        grew("agent_runtime_fanout_deliveries_total") >= seen,
        "{seen}"
    );
    // Histograms are cumulative: +Inf holds every observation.
    assert_eq!(
        after["agent_runtime_store_append_seconds_bucket{le=\"+Inf\"}"],
        after["agent_runtime_store_append_seconds_count"]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_turn_is_counted_running() {
    let model = ScriptedModelServer::start(slow_scenario()).await.unwrap();
    let server = agent_server(&model, Setup::CLAUDE_SQLITE).await;
    let session_id = create_agent_session(&server, Setup::CLAUDE_SQLITE).await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    within(ws.send_message(&session_id, "slow please", None))
        .await
        .unwrap();
    events_until(&mut ws, |e| {
        matches!(
            e.event,
            agent_runtime_protocol::SessionEvent::TextDelta { .. }
        )
    })
    .await;
    assert!(scrape(&server).await["agent_runtime_turns_running"] >= 1.0);
    within(server.client().interrupt(&session_id))
        .await
        .unwrap();
    events_until(&mut ws, is_turn_completed).await;
    let after = scrape(&server).await;
    assert!(after["agent_runtime_turns_total{outcome=\"interrupted\"}"] >= 1.0);
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_need_the_api_key() {
    let server = TestServer::start_with(|c| c.api_keys = vec!["metrics-key".into()]).await;
    let anonymous = reqwest::Client::new()
        .get(format!("{}/metrics", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(scrape(&server)
        .await
        .contains_key("agent_runtime_turns_running"));
    server.shutdown().await;
}
