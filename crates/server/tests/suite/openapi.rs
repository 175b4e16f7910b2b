//! `/openapi.json` is served, and every route of `ROUTES` is really answered by the router.

use agent_runtime_server::ROUTES;
use reqwest::Method;

use super::support::{within, TestServer};

#[tokio::test]
async fn openapi_is_served_as_json() {
    let server = TestServer::start().await;
    let response = within(
        server
            .anonymous_client()
            .request(Method::GET, "/openapi.json")
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let doc: serde_json::Value = response.json().await.expect("valid JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    server.shutdown().await;
}

#[tokio::test]
async fn every_listed_route_is_served() {
    let server = TestServer::start().await;
    let client = server.client();
    for route in ROUTES {
        let session = server.create_session().await;
        let path = route
            .path
            .replace("{id}", &session)
            .replace("{*path}", "x.txt")
            .replace("{*name}", "t.jsonl");
        let method = Method::from_bytes(route.method.as_bytes()).expect("method");
        let mut request = client.request(method, &path);
        if route.method == "POST" || route.method == "PATCH" {
            request = request
                .header("content-type", "application/json")
                .body("{}");
        }
        let response = within(request.send()).await.expect("send");
        let status = response.status().as_u16();
        assert_ne!(status, 405, "{} {path}", route.method);
        if status == 404 {
            let body: serde_json::Value = response.json().await.expect("problem");
            assert_ne!(
                body["code"], "not_found",
                "{} {path} is not routed",
                route.method
            );
        }
    }
    server.shutdown().await;
}
