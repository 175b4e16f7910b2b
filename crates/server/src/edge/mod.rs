//! The HTTP edge: what every request passes before it reaches a route, in this order (see
//! [`crate::app::build_app`]).
//!
//! 1. **Host** ([`EdgePolicy::check_host`]). With no API key configured, only a loopback `Host`
//!    is served (`localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`, with or without a port), and
//!    an absolute-form URI must name one too; anything else, a missing `Host` included, is
//!    `421 misdirected_request`. This stops DNS rebinding: a page on `attacker.example` whose
//!    name is re-pointed at 127.0.0.1 still sends `Host: attacker.example`. With a key, any
//!    `Host` is served (the key is what protects the server then).
//! 2. **Origin** ([`EdgePolicy::check_origin`]). A request that can change state (any method but
//!    GET, HEAD and OPTIONS), a WebSocket upgrade or a CORS preflight that carries `Origin` must
//!    come from the server's own origin (same host and port as its `Host`) or one of
//!    `--allowed-origins`, else `403 origin_not_allowed`, for WebSockets before the upgrade.
//!    `Origin: null` (sandboxed frames, `file:` pages) is refused. A request without `Origin`
//!    (curl, server to server) passes, unless its `Sec-Fetch-Site` says a browser sent it from
//!    another site: browsers that send `Sec-Fetch-Site` also send `Origin` on such requests, so
//!    the pair can only mean a stripped `Origin`. Auth still applies after this.
//! 3. **CORS** ([`EdgePolicy::cors_layer`], only when origins are allowed): preflights from
//!    allowed origins are answered; responses to them carry `Access-Control-Allow-Origin` (that
//!    origin) and `Vary: Origin`; other origins get no CORS headers.
//!
//! Every response carries `X-Content-Type-Options: nosniff`.

mod authority;
mod origin;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName};
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, AllowPrivateNetwork, CorsLayer};

use crate::error::ApiError;
use crate::rest::files::SHA256_HEADER;

pub use authority::Authority;
pub use origin::{InvalidOrigin, Origin};

/// How long a browser may cache a preflight answer.
pub const CORS_MAX_AGE: Duration = Duration::from_secs(3600);

/// Request headers an allowed origin may send: the key, JSON bodies, SSE resume, and
/// revalidation of file reads.
const CORS_ALLOW_HEADERS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    HeaderName::from_static("last-event-id"),
    header::IF_NONE_MATCH,
];

/// Response headers an allowed origin's scripts may read besides the safelisted ones.
const CORS_EXPOSE_HEADERS: [HeaderName; 4] = [
    HeaderName::from_static(SHA256_HEADER),
    header::ETAG,
    header::CONTENT_DISPOSITION,
    header::WWW_AUTHENTICATE,
];

/// What the edge lets through.
#[derive(Debug, Clone)]
pub struct EdgePolicy {
    /// Serve only loopback `Host`s (true when no API key is configured).
    pub loopback_hosts_only: bool,
    /// Origins besides the server's own that may change state, open WebSockets, and read
    /// responses (CORS).
    pub allowed_origins: Vec<Origin>,
}

impl EdgePolicy {
    /// Step 1: the `Host` (and the authority of an absolute-form URI).
    pub fn check_host(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
        if !self.loopback_hosts_only {
            return Ok(());
        }
        let mut hosts = headers.get_all(header::HOST).iter();
        let host = hosts.next();
        if hosts.next().is_some() {
            return Err(ApiError::MisdirectedRequest);
        }
        let from_header = host.map(|value| value.to_str().ok().and_then(Authority::parse));
        let from_uri = uri.authority().map(|a| Authority::parse(a.as_str()));
        if from_header.is_none() && from_uri.is_none() {
            return Err(ApiError::MisdirectedRequest);
        }
        let all_loopback = [from_header, from_uri]
            .into_iter()
            .flatten()
            .all(|authority| authority.is_some_and(|a| a.is_loopback()));
        if all_loopback {
            Ok(())
        } else {
            Err(ApiError::MisdirectedRequest)
        }
    }

    /// Step 2: the `Origin` of requests that change state, upgrade, or ask for CORS.
    pub fn check_origin(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), ApiError> {
        if !needs_origin_check(method, headers) {
            return Ok(());
        }
        let mut values = headers.get_all(header::ORIGIN).iter();
        let (value, extra) = (values.next(), values.next());
        let Some(value) = value else {
            return match sec_fetch_site(headers) {
                Some("cross-site" | "same-site") => Err(ApiError::OriginNotAllowed(
                    "a cross-site browser request without an Origin header".into(),
                )),
                _ => Ok(()),
            };
        };
        if extra.is_some() {
            return Err(ApiError::OriginNotAllowed(
                "more than one Origin header".into(),
            ));
        }
        let text = value.to_str().unwrap_or_default();
        if text == "null" {
            return Err(ApiError::OriginNotAllowed(
                "the opaque origin null (a sandboxed frame or a local file)".into(),
            ));
        }
        let origin = Origin::parse(text)
            .map_err(|_| ApiError::OriginNotAllowed(format!("malformed Origin {text:?}")))?;
        let same_origin =
            request_authority(uri, headers).is_some_and(|authority| origin.is_same_as(&authority));
        if same_origin || self.allowed_origins.contains(&origin) {
            Ok(())
        } else {
            Err(ApiError::OriginNotAllowed(format!(
                "origin {origin} is neither this server's own nor one of --allowed-origins"
            )))
        }
    }

    /// Step 3: CORS for the allowed origins; `None` when there are none (then the server
    /// answers no preflight, and `OPTIONS` stays `405`).
    pub fn cors_layer(&self) -> Option<CorsLayer> {
        if self.allowed_origins.is_empty() {
            return None;
        }
        let allowed = Arc::new(self.allowed_origins.clone());
        let is_allowed = move |value: &HeaderValue, _: &axum::http::request::Parts| {
            value
                .to_str()
                .ok()
                .and_then(|text| Origin::parse(text).ok())
                .is_some_and(|origin| allowed.contains(&origin))
        };
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::predicate(is_allowed.clone()))
                // A page on a public origin the operator allowed may reach a server on a
                // private address (Chrome's Private Network Access preflight).
                .allow_private_network(AllowPrivateNetwork::predicate(is_allowed))
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers(CORS_ALLOW_HEADERS)
                .expose_headers(CORS_EXPOSE_HEADERS)
                .max_age(CORS_MAX_AGE),
        )
    }
}

/// Middleware for steps 1 and 2, and `nosniff` on every response.
pub async fn guard_edge(
    State(policy): State<Arc<EdgePolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let checked = policy
        .check_host(request.uri(), request.headers())
        .and_then(|()| policy.check_origin(request.method(), request.uri(), request.headers()));
    let mut response = match checked {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::info!(error = %refusal, "refused at the edge");
            refusal.into_response()
        }
    };
    response
        .headers_mut()
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    response
}

/// Methods that cannot change state are GET, HEAD and OPTIONS; a WebSocket upgrade is a GET
/// that opens a channel which can, and a preflight asks to send one that can.
fn needs_origin_check(method: &Method, headers: &HeaderMap) -> bool {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let upgrade = headers.contains_key(header::UPGRADE);
    let preflight =
        *method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    !safe || upgrade || preflight
}

fn sec_fetch_site(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
}

/// The authority a request is addressed to: an absolute-form URI's (which overrides `Host`,
/// RFC 9112 §3.2.2), else the one `Host` header's.
fn request_authority(uri: &Uri, headers: &HeaderMap) -> Option<Authority> {
    if let Some(authority) = uri.authority() {
        return Authority::parse(authority.as_str());
    }
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next()?;
    if hosts.next().is_some() {
        return None;
    }
    Authority::parse(host.to_str().ok()?)
}

#[cfg(test)]
mod tests;
