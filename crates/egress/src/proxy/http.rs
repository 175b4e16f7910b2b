//! HTTP plumbing shared by every path through the proxy: the body type, hop-by-hop header
//! stripping, relaying an upstream response as it streams, and the refusal and failure
//! responses the client sees.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;

use crate::decision::Denial;

/// The body of every response the proxy sends and every request it forwards: upstream bodies
/// pass through frame by frame, never buffered.
pub(crate) type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// The response header that names why a request was refused (a [`crate::DenyReason`] code).
pub const DENIED_HEADER: &str = "x-agent-runtime-egress-denied";

/// Headers that describe one connection, not the message (RFC 9110 section 7.6.1), plus the
/// client's credentials for this proxy, which must never travel on.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub(crate) fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub(crate) fn full(text: impl Into<Bytes>) -> ProxyBody {
    Full::new(text.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Removes hop-by-hop headers, and any header the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// An upstream response on its way back: hop-by-hop headers dropped, body streamed as it comes.
pub(crate) fn relay_response(response: Response<Incoming>) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, body.boxed())
}

/// `host:port`, or `request` when the host is unknown.
fn target(host: &str, port: u16) -> String {
    if host.is_empty() {
        "request".into()
    } else {
        format!("{host}:{port}")
    }
}

/// The response to a refused request: the reason's status, a one-line plain-text body and the
/// reason code in [`DENIED_HEADER`].
pub(crate) fn refusal(denial: &Denial, detail: Option<&str>) -> Response<ProxyBody> {
    let reason = denial.reason;
    let mut body = format!(
        "agent-runtime egress: {} denied: {} ({}",
        target(&denial.host, denial.port),
        reason.code(),
        reason.describe()
    );
    if let Some(ip) = denial.address {
        body.push_str(&format!(", {ip}"));
    }
    if let Some(detail) = detail {
        body.push_str(&format!("; {detail}"));
    }
    body.push_str(")\n");
    let status = StatusCode::from_u16(reason.status()).unwrap_or(StatusCode::FORBIDDEN);
    text_response(status, body, Some(reason.code()))
}

/// The response when an allowed destination could not be reached.
pub(crate) fn upstream_failure(
    host: &str,
    port: u16,
    status: StatusCode,
    what: &str,
) -> Response<ProxyBody> {
    let body = format!("agent-runtime egress: {}: {what}\n", target(host, port));
    text_response(status, body, None)
}

fn text_response(status: StatusCode, body: String, reason: Option<&str>) -> Response<ProxyBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(code) = reason.and_then(|code| HeaderValue::from_str(code).ok()) {
        headers.insert(DENIED_HEADER, code);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::DenyReason;
    use pretty_assertions::assert_eq;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_stripped() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-private"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic abc"),
            ("transfer-encoding", "chunked"),
            ("x-private", "1"),
            ("content-type", "text/plain"),
            ("x-api-key", "k"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        strip_hop_by_hop(&mut headers);
        let left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, vec!["content-type", "x-api-key"]);
    }

    #[tokio::test]
    async fn refusals_say_who_and_why() {
        let denial = Denial {
            host: "metadata.test".into(),
            port: 80,
            reason: DenyReason::Metadata,
            address: Some("169.254.169.254".parse().unwrap()),
        };
        let response = refusal(&denial, None);
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[DENIED_HEADER], "metadata");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            body,
            "agent-runtime egress: metadata.test:80 denied: metadata (a cloud metadata service, 169.254.169.254)\n"
        );
    }
}
