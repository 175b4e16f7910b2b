//! Session CRUD and list pagination.

use std::collections::HashSet;

use agent_runtime_protocol::{CreateSessionRequest, PatchSessionRequest};
use pretty_assertions::assert_eq;
use reqwest::Method;

use super::support::{code_of, within, TestServer};

#[tokio::test]
async fn create_get_patch_delete() {
    let server = TestServer::start().await;
    let client = server.client();

    let response = within(
        client
            .request(Method::POST, "/api/sessions")
            .header("content-type", "application/json")
            .body(r#"{"name": "first"}"#)
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 201);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let info: agent_runtime_protocol::SessionInfo = response.json().await.expect("json");
    assert_eq!(location, Some(format!("/api/sessions/{}", info.session_id)));
    assert_eq!(info.agent, "claude-code");
    assert_eq!(info.name.as_deref(), Some("first"));

    let snapshot = within(client.get_session(&info.session_id))
        .await
        .expect("get");
    assert_eq!(snapshot.session, info);
    assert!(snapshot.state.seq >= 1, "creation is logged");
    assert!(snapshot.state.blocks.is_empty());
    assert!(!snapshot.state.demo);

    let patched = within(client.patch_session(
        &info.session_id,
        &PatchSessionRequest {
            name: Some("renamed".into()),
            budget: None,
        },
    ))
    .await
    .expect("patch");
    assert_eq!(patched.name.as_deref(), Some("renamed"));
    assert_eq!(patched.created_at, info.created_at);
    let again = within(client.get_session(&info.session_id))
        .await
        .expect("get");
    assert_eq!(again.session.name.as_deref(), Some("renamed"));

    let blank = PatchSessionRequest {
        name: Some("   ".into()),
        budget: None,
    };
    assert_eq!(
        code_of(within(client.patch_session(&info.session_id, &blank)).await),
        (400, "invalid_request".into())
    );

    let response = within(
        client
            .request(
                Method::DELETE,
                &format!("/api/sessions/{}", info.session_id),
            )
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 204);
    assert_eq!(
        code_of(within(client.get_session(&info.session_id)).await),
        (404, "session_not_found".into())
    );
    assert_eq!(
        code_of(within(client.delete_session(&info.session_id)).await),
        (404, "session_not_found".into())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn create_accepts_an_empty_body() {
    let server = TestServer::start().await;
    let response = within(
        server
            .client()
            .request(Method::POST, "/api/sessions")
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 201);
    server.shutdown().await;
}

#[tokio::test]
async fn list_pages_with_a_cursor_newest_first() {
    let server = TestServer::start().await;
    let client = server.client();
    let mut created = Vec::new();
    for i in 0..5 {
        let info = within(client.create_session(&CreateSessionRequest {
            name: Some(format!("s{i}")),
            ..Default::default()
        }))
        .await
        .expect("create");
        created.push(info);
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = within(client.list_sessions(cursor.as_deref(), Some(2)))
            .await
            .expect("list");
        assert!(page.sessions.len() <= 2);
        pages += 1;
        seen.extend(page.sessions);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    let ids: Vec<&str> = seen.iter().map(|s| s.session_id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 5, "each session exactly once");
    let mut expected = created.clone();
    expected.sort_by(|a, b| {
        (b.created_at.as_str(), b.session_id.as_str())
            .cmp(&(a.created_at.as_str(), a.session_id.as_str()))
    });
    assert_eq!(seen, expected, "newest first");

    let all = within(client.list_sessions(None, None))
        .await
        .expect("list");
    assert_eq!(all.sessions.len(), 5);
    assert_eq!(all.next_cursor, None);

    assert_eq!(
        code_of(within(client.list_sessions(Some("garbage-cursor"), None)).await).0,
        400
    );
    server.shutdown().await;
}

#[tokio::test]
async fn interrupt_without_a_running_turn_is_ok_and_empty() {
    let server = TestServer::start().await;
    let session = server.create_session().await;
    let response = within(server.client().interrupt(&session))
        .await
        .expect("interrupt");
    assert_eq!(response.turn_id, None);
    server.shutdown().await;
}

#[tokio::test]
async fn healthz_reports_version_and_demo() {
    let server = TestServer::start().await;
    let health = within(server.client().health()).await.expect("health");
    assert_eq!(health.status, "ok");
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    assert!(!health.demo);
    assert!(health.store.ok, "{:?}", health.store);
    assert_eq!(health.store.error, None);
    assert_eq!(
        health.store.backend,
        server.server().runtime().store().backend()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn healthz_is_503_when_the_store_does_not_answer() {
    let server = TestServer::start().await;
    server.server().runtime().store().close().await;
    let response = within(
        reqwest::Client::new()
            .get(format!("{}/healthz", server.base_url()))
            .send(),
    )
    .await
    .expect("request");
    assert_eq!(response.status().as_u16(), 503);
    let health: agent_runtime_protocol::Health =
        within(response.json()).await.expect("health body");
    assert_eq!(health.status, "unavailable");
    assert!(!health.store.ok);
    assert!(
        health
            .store
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("closed"),
        "{:?}",
        health.store.error
    );
    server.shutdown().await;
}

#[tokio::test]
async fn demo_mode_labels_the_server_and_its_sessions() {
    let server = TestServer::start_with(|config| config.demo = true).await;
    let client = server.client();
    assert!(within(client.health()).await.expect("health").demo);
    let session = server.create_session().await;
    let snapshot = within(client.get_session(&session))
        .await
        .expect("snapshot");
    assert!(snapshot.state.demo);
    server.shutdown().await;
}
