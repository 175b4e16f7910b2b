//! API keys: REST needs a bearer key; the WebSocket takes it in the URL, a header, or a first
//! `auth` frame; `/healthz` and `/openapi.json` stay open. Every route of `ROUTES` is probed, so
//! a new route cannot be forgotten.

use agent_runtime_client::{ClientError, WsAuth};
use agent_runtime_protocol::ServerFrame;
use agent_runtime_server::app::EVENTS_ROUTE;
use agent_runtime_server::ROUTES;
use pretty_assertions::assert_eq;
use reqwest::Method;

use super::raw_http::{subscribe_raw, ws_with_origin};
use super::support::{assert_problem, code_of, next_frame, within, TestServer, WAIT};

/// Routes anyone may call without a key.
const PUBLIC_ROUTES: &[&str] = &["/healthz", "/openapi.json"];

const KEY: &str = "test-key-1";

async fn keyed_server() -> TestServer {
    TestServer::start_with(|config| config.api_keys = vec![KEY.into(), "test-key-2".into()]).await
}

#[tokio::test]
async fn rest_requires_a_valid_bearer_key() {
    let server = keyed_server().await;
    let anonymous = server.anonymous_client();
    let response = within(anonymous.request(Method::GET, "/api/sessions").send())
        .await
        .expect("send");
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    assert_problem(response, 401, "unauthorized").await;

    let wrong = server.anonymous_client().with_api_key("test-key-3");
    assert_eq!(
        code_of(within(wrong.list_sessions(None, None)).await),
        (401, "unauthorized".into())
    );
    // Also before a body is looked at.
    let response = within(
        anonymous
            .request(Method::POST, "/api/sessions")
            .header("content-type", "application/json")
            .body("{broken")
            .send(),
    )
    .await
    .expect("send");
    assert_problem(response, 401, "unauthorized").await;

    within(server.client().list_sessions(None, None))
        .await
        .expect("the first key works");
    within(
        server
            .anonymous_client()
            .with_api_key("test-key-2")
            .list_sessions(None, None),
    )
    .await
    .expect("the second key works");
    let health = within(anonymous.health())
        .await
        .expect("healthz stays open");
    assert_eq!(health.status, "ok");
    server.shutdown().await;
}

#[tokio::test]
async fn websocket_accepts_a_query_token_a_header_or_a_first_frame() {
    let server = keyed_server().await;
    for auth in [WsAuth::Query, WsAuth::Header, WsAuth::FirstFrame] {
        let mut ws = within(server.client().connect_ws(auth))
            .await
            .expect("connects");
        ws.command_timeout = WAIT;
        within(ws.ping())
            .await
            .unwrap_or_else(|e| panic!("{auth:?}: {e}"));
        ws.close().await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn websocket_with_a_wrong_query_token_is_refused_with_401() {
    let server = keyed_server().await;
    let wrong = server.anonymous_client().with_api_key("nope");
    let result = within(wrong.connect_ws(WsAuth::Query)).await;
    assert_eq!(code_of(result.map(drop)), (401, "unauthorized".into()));
    server.shutdown().await;
}

#[tokio::test]
async fn websocket_without_auth_gets_an_error_result_then_close() {
    let server = keyed_server().await;

    // A wrong first-frame token.
    let wrong = server.anonymous_client().with_api_key("nope");
    let result = within(wrong.connect_ws(WsAuth::FirstFrame)).await;
    assert!(
        matches!(&result, Err(ClientError::Api { status: 401, problem }) if problem.code == "unauthorized"),
        "{:?}",
        result.map(drop)
    );

    // A command before any auth.
    let mut ws = within(server.anonymous_client().connect_ws(WsAuth::None))
        .await
        .expect("upgrade without a token is allowed");
    ws.send_text(r#"{"type":"ping","id":"p1"}"#)
        .await
        .expect("send");
    match next_frame(&mut ws).await {
        ServerFrame::Result { id, ok, error, .. } => {
            assert_eq!((id.as_str(), ok), ("p1", false));
            assert_eq!(error.expect("problem").code, "unauthorized");
        }
        other => panic!("expected a result, got {other:?}"),
    }
    let end = ws.next_frame_within(WAIT).await.expect("closed in time");
    assert_eq!(end, None, "the connection is closed");
    server.shutdown().await;
}

#[tokio::test]
async fn sse_accepts_a_query_token() {
    let server = keyed_server().await;
    let session = server.create_session().await;
    let anonymous = server.anonymous_client();
    let path = format!("/api/sessions/{session}/events");
    let response = within(anonymous.request(Method::GET, &path).send())
        .await
        .expect("send");
    assert_problem(response, 401, "unauthorized").await;
    let response = within(
        anonymous
            .request(Method::GET, &format!("{path}?token={KEY}"))
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 200);

    // Only the event stream takes a query token.
    let response = within(
        anonymous
            .request(Method::GET, &format!("/api/sessions?token={KEY}"))
            .send(),
    )
    .await
    .expect("send");
    assert_problem(response, 401, "unauthorized").await;
    server.shutdown().await;
}

#[tokio::test]
async fn every_route_refuses_a_missing_or_a_wrong_key() {
    let server = keyed_server().await;
    let session = server.create_session().await;
    let addr = server.server().local_addr();
    let anonymous = server.anonymous_client();
    let wrong = server.anonymous_client().with_api_key("test-key-3");
    for route in ROUTES {
        let path = route
            .path
            .replace("{id}", &session)
            .replace("{*path}", "a.txt")
            .replace("{*name}", "t.jsonl");
        let method = Method::from_bytes(route.method.as_bytes()).expect("method");
        let what = format!("{} {path}", route.method);
        if PUBLIC_ROUTES.contains(&route.path) {
            let response = within(anonymous.request(method, &path).send())
                .await
                .expect("send");
            assert_eq!(response.status(), 200, "{what} is public");
            continue;
        }
        if route.path == "/api/ws" {
            // A wrong key in the URL or header is refused at the upgrade ...
            assert_eq!(
                ws_with_origin(addr, None, Some("test-key-3")).await.err(),
                Some(401),
                "{what}"
            );
            assert_eq!(
                code_of(within(wrong.connect_ws(WsAuth::Header)).await.map(drop)),
                (401, "unauthorized".into()),
                "{what}"
            );
            // ... and without one the socket opens but serves nothing until an `auth` frame.
            let mut socket = ws_with_origin(addr, None, None).await.expect("upgrade");
            match subscribe_raw(&mut socket, &session).await {
                ServerFrame::Result {
                    ok: false,
                    error: Some(problem),
                    ..
                } => assert_eq!(problem.code, "unauthorized", "{what}"),
                other => panic!("{what}: subscribed without a key: {other:?}"),
            }
            continue;
        }
        for (client, who) in [(&anonymous, "no key"), (&wrong, "a wrong key")] {
            let mut request = client.request(method.clone(), &path);
            if matches!(route.method, "POST" | "PUT" | "PATCH") {
                request = request
                    .header("content-type", "application/json")
                    .body("{}");
            }
            let response = within(request.send()).await.expect("send");
            assert_eq!(response.status(), 401, "{what} with {who}");
            assert_problem(response, 401, "unauthorized").await;
        }
        if route.path == EVENTS_ROUTE {
            let response = within(
                anonymous
                    .request(method, &format!("{path}?token=test-key-3"))
                    .send(),
            )
            .await
            .expect("send");
            assert_problem(response, 401, "unauthorized").await;
        }
    }
    server.shutdown().await;
}
