//! Bad input: every error is problem+json with a stable code, and nothing escapes the workspace.

use pretty_assertions::assert_eq;
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::{assert_problem, code_of, within, TestServer, TEST_LIMITS};

#[tokio::test]
async fn unknown_session_is_404_session_not_found() {
    let server = TestServer::start().await;
    let client = server.client();
    assert_eq!(
        code_of(within(client.get_session("no-such-session")).await),
        (404, "session_not_found".into())
    );
    assert_eq!(
        code_of(within(client.list_files("no-such-session")).await),
        (404, "session_not_found".into())
    );
    assert_eq!(
        code_of(within(client.interrupt("no-such-session")).await),
        (404, "session_not_found".into())
    );
    assert_eq!(
        code_of(within(client.events("no-such-session", 0)).await.map(drop)),
        (404, "session_not_found".into())
    );
    for (method, path) in [
        (Method::GET, "/api/sessions/nope"),
        (Method::DELETE, "/api/sessions/nope"),
        (Method::GET, "/api/sessions/nope/transcripts"),
        (Method::GET, "/api/sessions/nope/files/a.txt"),
    ] {
        let response = within(client.request(method, path).send())
            .await
            .expect("send");
        assert_problem(response, 404, "session_not_found").await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_and_misshapen_bodies_are_400() {
    let server = TestServer::start().await;
    let client = server.client();
    let session = server.create_session().await;
    let post = |path: String, body: &'static str| {
        client
            .request(Method::POST, &path)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = within(post("/api/sessions".into(), "{not json"))
        .await
        .expect("send");
    assert_problem(response, 400, "invalid_json").await;
    let response = within(post("/api/sessions".into(), r#"{"bogus": 1}"#))
        .await
        .expect("send");
    assert_problem(response, 400, "invalid_request").await;
    let messages = format!("/api/sessions/{session}/messages");
    let response = within(post(messages.clone(), r#"{"text": "#))
        .await
        .expect("send");
    assert_problem(response, 400, "invalid_json").await;
    let response = within(post(messages.clone(), r#"{"txt": "hi"}"#))
        .await
        .expect("send");
    assert_problem(response, 400, "invalid_request").await;
    let response = within(post("/api/sessions".into(), r#"{"agent": "nope"}"#))
        .await
        .expect("send");
    assert_problem(response, 400, "unknown_agent").await;

    let response = within(
        client
            .request(Method::POST, &messages)
            .header("content-type", "text/plain")
            .body(r#"{"text": "hi"}"#)
            .send(),
    )
    .await
    .expect("send");
    assert_problem(response, 415, "unsupported_media_type").await;

    let response = within(
        client
            .request(Method::GET, "/api/sessions?limit=many")
            .send(),
    )
    .await
    .expect("send");
    assert_problem(response, 400, "invalid_request").await;
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let server = TestServer::start().await;
    let client = server.client();
    let session = server.create_session().await;
    let text = "x".repeat(TEST_LIMITS.json + 1);
    let body = serde_json::json!({ "text": text }).to_string();
    let response = within(
        client
            .request(Method::POST, &format!("/api/sessions/{session}/messages"))
            .header("content-type", "application/json")
            .body(body)
            .send(),
    )
    .await
    .expect("send");
    assert_problem(response, 413, "payload_too_large").await;

    // File uploads have their own, larger limit.
    let fits = vec![7u8; TEST_LIMITS.json * 2];
    within(client.write_file(&session, "big.bin", fits))
        .await
        .expect("within the file limit");
    let too_big = vec![7u8; TEST_LIMITS.file + 1];
    assert_eq!(
        code_of(within(client.write_file(&session, "huge.bin", too_big)).await),
        (413, "payload_too_large".into())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let server = TestServer::start().await;
    let client = server.client();
    let response = within(client.request(Method::GET, "/api/nothing-here").send())
        .await
        .expect("send");
    assert_problem(response, 404, "not_found").await;
    let response = within(client.request(Method::GET, "/nothing").send())
        .await
        .expect("send");
    assert_problem(response, 404, "not_found").await;
    let response = within(client.request(Method::PUT, "/api/sessions").send())
        .await
        .expect("send");
    assert_problem(response, 405, "method_not_allowed").await;
    let response = within(client.request(Method::GET, "/api/ws").send())
        .await
        .expect("send");
    assert_problem(response, 426, "upgrade_required").await;
    server.shutdown().await;
}

#[tokio::test]
async fn file_paths_never_escape_the_workspace() {
    let server = TestServer::start().await;
    let client = server.client();
    let session = server.create_session().await;
    let outside = server.dir().join("escape.txt");
    for path in [
        "..%2F..%2Fetc%2Fpasswd",
        "..%2f..%2f..%2fescape.txt",
        "a/..%2F..%2F..%2Fescape.txt",
        "%2Fetc%2Fpasswd",
        "%2E%2E/escape.txt",
        "a%00b",
        "a%5C..%5Cb",
        "a//b",
    ] {
        let url = format!("/api/sessions/{session}/files/{path}");
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let response = within(client.request(method.clone(), &url).body("pwned").send())
                .await
                .expect("send");
            let status = response.status().as_u16();
            assert!(
                status == 400 || status == 404,
                "{method} {path}: status {status}"
            );
            if status == 400 {
                assert_problem(response, 400, "invalid_path").await;
            } else {
                let body = response.text().await.unwrap_or_default();
                assert!(!body.contains("root:"), "{method} {path} leaked: {body}");
            }
        }
    }
    assert!(
        !outside.exists(),
        "a file was written outside the workspace"
    );

    // A literal `..` that no client library would send (they normalize it away).
    let request = format!(
        "GET /api/sessions/{session}/files/../../../../etc/passwd HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(server.server().local_addr())
        .await
        .expect("connect");
    within(stream.write_all(request.as_bytes()))
        .await
        .expect("write");
    let mut response = String::new();
    within(stream.read_to_string(&mut response))
        .await
        .expect("read");
    assert!(
        response.starts_with("HTTP/1.1 400") || response.starts_with("HTTP/1.1 404"),
        "{response}"
    );
    assert!(!response.contains("root:"), "{response}");
    assert!(response.contains("application/problem+json"), "{response}");
    server.shutdown().await;
}
