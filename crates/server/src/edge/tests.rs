//! The edge's decisions, request by request, without a server.

use super::*;

fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> (Method, Uri, HeaderMap) {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
    }
    (
        Method::from_bytes(method.as_bytes()).expect("method"),
        uri.parse().expect("uri"),
        map,
    )
}

fn code(result: Result<(), ApiError>) -> Option<&'static str> {
    result.err().map(|e| e.classify().1)
}

fn open_policy(allowed: &[&str]) -> EdgePolicy {
    EdgePolicy {
        loopback_hosts_only: true,
        allowed_origins: allowed
            .iter()
            .map(|o| Origin::parse(o).expect("origin"))
            .collect(),
    }
}

#[test]
fn without_a_key_only_loopback_hosts_are_served() {
    let policy = open_policy(&[]);
    let host = |uri: &str, headers: &[(&str, &str)]| {
        let (_, uri, headers) = request("GET", uri, headers);
        code(policy.check_host(&uri, &headers))
    };
    assert_eq!(host("/api/sessions", &[("host", "127.0.0.1:8080")]), None);
    assert_eq!(host("/", &[("host", "app.localhost")]), None);
    assert_eq!(
        host("http://localhost:1/healthz", &[("host", "localhost:1")]),
        None
    );
    // HTTP/2 style: the authority only in the URI.
    assert_eq!(host("http://[::1]:1/healthz", &[]), None);
    let misdirected = Some("misdirected_request");
    assert_eq!(host("/", &[("host", "attacker.example")]), misdirected);
    assert_eq!(host("/", &[("host", "attacker.example:8080")]), misdirected);
    assert_eq!(host("/", &[]), misdirected, "no Host at all");
    assert_eq!(host("/", &[("host", "")]), misdirected);
    assert_eq!(
        host("/", &[("host", "127.0.0.1"), ("host", "attacker.example")]),
        misdirected
    );
    assert_eq!(
        host(
            "http://attacker.example/api/sessions",
            &[("host", "127.0.0.1")]
        ),
        misdirected,
        "an absolute-form URI names the host too"
    );

    let keyed = EdgePolicy {
        loopback_hosts_only: false,
        allowed_origins: Vec::new(),
    };
    let (_, uri, headers) = request("GET", "/", &[("host", "attacker.example")]);
    assert_eq!(code(keyed.check_host(&uri, &headers)), None);
}

#[test]
fn state_changes_and_upgrades_need_the_servers_own_or_an_allowed_origin() {
    let policy = open_policy(&["http://localhost:5173"]);
    let origin = |method: &str, headers: &[(&str, &str)]| {
        let (method, uri, headers) = request(method, "/api/sessions", headers);
        code(policy.check_origin(&method, &uri, &headers))
    };
    let host = ("host", "127.0.0.1:8080");
    let refused = Some("origin_not_allowed");

    // Same origin, an allowed one, or none at all.
    assert_eq!(
        origin("POST", &[host, ("origin", "http://127.0.0.1:8080")]),
        None
    );
    assert_eq!(
        origin("DELETE", &[host, ("origin", "http://localhost:5173")]),
        None
    );
    assert_eq!(origin("PUT", &[host]), None);
    assert_eq!(
        origin("PATCH", &[host, ("sec-fetch-site", "same-origin")]),
        None
    );

    // Foreign, opaque, malformed, doubled.
    for method in ["POST", "PUT", "PATCH", "DELETE", "PROPFIND"] {
        assert_eq!(
            origin(method, &[host, ("origin", "http://attacker.example")]),
            refused,
            "{method}"
        );
    }
    assert_eq!(origin("POST", &[host, ("origin", "null")]), refused);
    assert_eq!(
        origin("POST", &[host, ("origin", "http://127.0.0.1:8081")]),
        refused
    );
    assert_eq!(
        origin("POST", &[host, ("origin", "http://localhost:5173/")]),
        refused
    );
    assert_eq!(
        origin(
            "POST",
            &[
                host,
                ("origin", "http://127.0.0.1:8080"),
                ("origin", "http://attacker.example")
            ]
        ),
        refused
    );
    assert_eq!(
        origin("POST", &[host, ("sec-fetch-site", "cross-site")]),
        refused,
        "a browser said cross-site but sent no Origin"
    );

    // Reads pass whatever their Origin (CORS decides whether a page may read the answer) ...
    assert_eq!(
        origin("GET", &[host, ("origin", "http://attacker.example")]),
        None
    );
    // ... but not WebSocket upgrades or preflights.
    let upgrade = [
        host,
        ("upgrade", "websocket"),
        ("origin", "http://attacker.example"),
    ];
    assert_eq!(origin("GET", &upgrade), refused);
    let preflight = [
        host,
        ("access-control-request-method", "POST"),
        ("origin", "http://attacker.example"),
    ];
    assert_eq!(origin("OPTIONS", &preflight), refused);
    let allowed_preflight = [
        host,
        ("access-control-request-method", "POST"),
        ("origin", "http://localhost:5173"),
    ];
    assert_eq!(origin("OPTIONS", &allowed_preflight), None);
}

#[test]
fn same_origin_follows_the_absolute_form_authority() {
    let policy = open_policy(&[]);
    let (method, uri, headers) = request(
        "POST",
        "http://localhost:9000/api/sessions",
        &[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://localhost:9000"),
        ],
    );
    assert_eq!(code(policy.check_origin(&method, &uri, &headers)), None);
}

#[test]
fn cors_exists_only_for_allowed_origins() {
    assert!(open_policy(&[]).cors_layer().is_none());
    assert!(open_policy(&["https://app.example"]).cors_layer().is_some());
}
