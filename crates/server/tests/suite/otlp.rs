//! OTLP export: the real binary started with `--otlp-endpoint` posts its spans, as OTLP/HTTP
//! JSON, to a collector this test runs on loopback; a turn shows as a `turn` span carrying the
//! session, the turn and the agent, inside its session's trace, and requests as `http` spans.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_runtime_client::{Client, WsAuth};
use agent_runtime_protocol::{CreateSessionRequest, SessionEvent};
use agent_runtime_testkit::{demo_scenario, ScriptedModelServer};
use axum::routing::post;
use axum::Json;
use serde_json::Value;

use super::agent::*;
use super::support::*;

/// A collector that keeps every span it is sent.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |Json(body): Json<Value>| {
            let kept = kept.clone();
            async move {
                let mut kept = kept.lock().unwrap();
                for resource in body["resourceSpans"].as_array().into_iter().flatten() {
                    assert_eq!(
                        resource["resource"]["attributes"][0]["value"]["stringValue"],
                        "runtime-under-test"
                    );
                    for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                        kept.extend(scope["spans"].as_array().into_iter().flatten().cloned());
                    }
                }
                Json(serde_json::json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_of_a_turn_reach_an_otlp_collector() {
    let (endpoint, spans) = collector().await;
    let model = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = dir.path().join("data");
    let model_url = model.base_url();
    let (mut child, url) = spawn_serve("otlp", |command| {
        command
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--store", "memory"])
            .arg("--tools-dir")
            .arg(tools_dir())
            .args(["--anthropic-base-url", &model_url])
            .args(["--otlp-endpoint", &endpoint])
            .env("OTEL_SERVICE_NAME", "runtime-under-test")
            .env("ANTHROPIC_API_KEY", "sk-test-never-shown");
    })
    .await;
    let client = Client::new(&url);
    let session = within(client.create_session(&CreateSessionRequest::default()))
        .await
        .unwrap();
    let mut ws = within(client.connect_ws(WsAuth::None)).await.unwrap();
    within(ws.subscribe(&session.session_id, 0)).await.unwrap();
    let sent = within(ws.send_message(&session.session_id, "create hello.txt", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert!(matches!(
        events.last().unwrap().event,
        SessionEvent::TurnCompleted { .. }
    ));

    // The turn's span is sent once it ends (batches go out every second).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let turn = loop {
        let found = spans
            .lock()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "turn" && attribute(s, "turn_id") == Some(&sent.turn_id))
            .cloned();
        if let Some(turn) = found {
            break turn;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no turn span arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        attribute(&turn, "session_id"),
        Some(session.session_id.as_str())
    );
    assert_eq!(attribute(&turn, "agent"), Some("claude-code"));
    assert_eq!(attribute(&turn, "outcome"), Some("completed"));
    let start: u128 = turn["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
    let end: u128 = turn["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
    assert!(end > start);
    assert_eq!(turn["traceId"].as_str().unwrap().len(), 32);
    // A child of the session's span, whose trace it shares.
    assert!(
        turn["parentSpanId"].as_str().is_some_and(|p| p.len() == 16),
        "{turn}"
    );
    let http = spans
        .lock()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "http" && attribute(s, "path") == Some("/api/sessions"));
    assert!(http, "no http span for POST /api/sessions");
    child.start_kill().unwrap();
    let _ = child.wait().await;
}
