//! The model gateway: how the agent reaches the model API without ever holding the key.
//!
//! Inside the sandbox the agent's base URL (`ANTHROPIC_BASE_URL`, Gemini's equivalent) points at
//! the proxy itself, and its key variable holds a worthless placeholder. Requests for the proxy
//! itself (origin-form, or absolute-form to `127.0.0.1`/`localhost` on the inside port) come
//! here: the placeholder credentials are stripped, the real ones injected, and the request goes
//! to the operator's upstream. The response streams back frame by frame (SSE token by token).
//! No address check applies: the operator configured the upstream. During a rehearsal
//! (`rehearsal.rs`) nothing is forwarded: the gateway answers by itself.

use std::fmt;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::ClientConfig;
use tracing::warn;

use super::http::{relay_response, strip_hop_by_hop, upstream_failure, ProxyBody};
use super::rehearsal::{self, Rehearsal};
use super::{Inner, ProxyLimits};
use crate::decision::{Denial, DenyReason};
use crate::error::EgressError;

/// Headers that carry an agent's credential; the placeholder must never reach the upstream.
pub const PLACEHOLDER_HEADERS: [&str; 3] = ["authorization", "x-api-key", "x-goog-api-key"];
/// Query parameters that carry an agent's credential (Gemini's `?key=`).
pub const PLACEHOLDER_QUERY_PARAMS: [&str; 1] = ["key"];

/// Where model API requests go and which credentials they carry there.
#[derive(Clone)]
pub struct ModelGateway {
    upstream: Uri,
    inject: Vec<(HeaderName, HeaderValue)>,
    strip_headers: Vec<HeaderName>,
    strip_query: Vec<String>,
    /// While on, requests are answered here and never forwarded (`rehearsal.rs`).
    rehearsal: Rehearsal,
}

impl ModelGateway {
    /// A gateway to `upstream`, an `http://` or `https://` base URL (a path prefix is kept).
    /// It strips [`PLACEHOLDER_HEADERS`] and [`PLACEHOLDER_QUERY_PARAMS`] and injects nothing
    /// until [`ModelGateway::inject_header`] says what.
    pub fn new(upstream: &str) -> Result<Self, EgressError> {
        let invalid = |why: &str| EgressError::InvalidGatewayUpstream {
            url: upstream.to_owned(),
            why: why.to_owned(),
        };
        let uri: Uri = upstream.parse().map_err(|_| invalid("not a URL"))?;
        match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS => {}
            _ => return Err(invalid("the scheme must be http or https")),
        }
        if uri.authority().is_none() {
            return Err(invalid("the URL has no host"));
        }
        if uri.query().is_some() {
            return Err(invalid("a base URL cannot carry a query"));
        }
        Ok(ModelGateway {
            upstream: uri,
            inject: Vec::new(),
            strip_headers: PLACEHOLDER_HEADERS
                .iter()
                .map(|name| HeaderName::from_static(name))
                .collect(),
            strip_query: PLACEHOLDER_QUERY_PARAMS
                .iter()
                .map(|p| p.to_string())
                .collect(),
            rehearsal: Rehearsal::default(),
        })
    }

    /// The Anthropic API at `upstream`, authenticated with `x-api-key: <api_key>`.
    pub fn anthropic(upstream: &str, api_key: &str) -> Result<Self, EgressError> {
        ModelGateway::new(upstream)?.inject_header("x-api-key", api_key)
    }

    /// The Gemini API at `upstream`, authenticated with `x-goog-api-key: <api_key>`.
    pub fn gemini(upstream: &str, api_key: &str) -> Result<Self, EgressError> {
        ModelGateway::new(upstream)?.inject_header("x-goog-api-key", api_key)
    }

    /// The OpenAI API at `upstream`, authenticated with `authorization: Bearer <api_key>`.
    pub fn openai(upstream: &str, api_key: &str) -> Result<Self, EgressError> {
        ModelGateway::new(upstream)?.inject_header("authorization", &format!("Bearer {api_key}"))
    }

    /// Sets `name: value` on every request, replacing what the agent sent. The value is marked
    /// sensitive, so it never appears in a `Debug` print.
    pub fn inject_header(mut self, name: &str, value: &str) -> Result<Self, EgressError> {
        let (name, value) = sensitive_header(name, value)?;
        self.inject.retain(|(injected, _)| *injected != name);
        self.inject.push((name, value));
        Ok(self)
    }

    /// Also removes header `name` from every request.
    pub fn strip_header(mut self, name: &str) -> Result<Self, EgressError> {
        let name = header_name(name)?;
        if !self.strip_headers.contains(&name) {
            self.strip_headers.push(name);
        }
        Ok(self)
    }

    /// Also removes query parameter `name` from every request.
    pub fn strip_query_param(mut self, name: &str) -> Self {
        if !self.strip_query.iter().any(|p| p == name) {
            self.strip_query.push(name.to_owned());
        }
        self
    }

    /// The switch that makes this gateway (and every proxy built with it) answer requests
    /// itself instead of forwarding them; off until [`Rehearsal::begin`].
    pub fn rehearsal(&self) -> Rehearsal {
        self.rehearsal.clone()
    }

    /// The upstream base URL.
    pub fn upstream(&self) -> &Uri {
        &self.upstream
    }

    /// The upstream URL for a request to `path_and_query` on the proxy: base path + path, and
    /// the query without the stripped parameters.
    pub fn upstream_uri(&self, path_and_query: &PathAndQuery) -> Result<Uri, http::Error> {
        let base = self.upstream.path().trim_end_matches('/');
        let mut target = format!("{base}{}", path_and_query.path());
        if let Some(query) = path_and_query.query() {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| {
                    let name = pair.split('=').next().unwrap_or(pair);
                    !pair.is_empty() && !self.strip_query.iter().any(|p| p == name)
                })
                .collect();
            if !kept.is_empty() {
                target.push('?');
                target.push_str(&kept.join("&"));
            }
        }
        let mut parts = self.upstream.clone().into_parts();
        parts.path_and_query = Some(target.parse()?);
        Ok(Uri::from_parts(parts)?)
    }

    /// Removes hop-by-hop headers, `Host` and the placeholder credentials, then injects the
    /// real ones.
    pub fn rewrite_headers(&self, headers: &mut HeaderMap) {
        strip_hop_by_hop(headers);
        headers.remove(header::HOST);
        for name in &self.strip_headers {
            headers.remove(name);
        }
        for (name, value) in &self.inject {
            headers.insert(name.clone(), value.clone());
        }
    }
}

impl fmt::Debug for ModelGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let injected: Vec<&str> = self.inject.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("ModelGateway")
            .field("upstream", &self.upstream)
            .field("inject", &injected)
            .field("strip_headers", &self.strip_headers)
            .field("strip_query", &self.strip_query)
            .field("rehearsal", &self.rehearsal)
            .finish()
    }
}

pub(crate) fn header_name(name: &str) -> Result<HeaderName, EgressError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| EgressError::InvalidHeader {
        name: name.to_owned(),
        why: "not a valid header name".into(),
    })
}

/// A header whose value is marked sensitive (redacted from `Debug`, never indexed by HPACK).
pub(crate) fn sensitive_header(
    name: &str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), EgressError> {
    let name = header_name(name)?;
    let mut value = HeaderValue::from_str(value).map_err(|_| EgressError::InvalidHeader {
        name: name.to_string(),
        why: "the value has characters a header cannot carry".into(),
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// A gateway with its connection pool.
pub(crate) struct GatewayClient {
    gateway: ModelGateway,
    client: Client<HttpsConnector<HttpConnector>, ProxyBody>,
}

impl GatewayClient {
    pub(crate) fn new(gateway: ModelGateway, tls: Arc<ClientConfig>, limits: &ProxyLimits) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(limits.connect_timeout));
        // hyper-rustls sets ALPN itself (and insists on doing so).
        let mut tls = (*tls).clone();
        tls.alpn_protocols.clear();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(connector);
        GatewayClient { gateway, client }
    }
}

/// Forwards one request for the proxy itself to the model upstream.
pub(super) async fn handle(inner: &Arc<Inner>, request: Request<Incoming>) -> Response<ProxyBody> {
    let Some(gateway) = &inner.gateway else {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse::<http::uri::Authority>().ok())
            .map(|authority| authority.host().to_owned())
            .unwrap_or_default();
        return inner.refuse(
            Denial {
                host,
                port: inner.inside_port,
                reason: DenyReason::NoGateway,
                address: None,
            },
            None,
        );
    };
    if gateway.gateway.rehearsal.is_on() {
        return rehearsal::answer(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    parts.uri = match gateway.gateway.upstream_uri(&path) {
        Ok(uri) => uri,
        Err(_) => {
            return inner.refuse(
                Denial {
                    host: String::new(),
                    port: inner.inside_port,
                    reason: DenyReason::BadRequest,
                    address: None,
                },
                Some("the path cannot be joined to the model gateway's upstream"),
            )
        }
    };
    parts.version = http::Version::HTTP_11;
    parts.extensions = http::Extensions::new();
    gateway.gateway.rewrite_headers(&mut parts.headers);
    match gateway
        .client
        .request(Request::from_parts(parts, body.boxed()))
        .await
    {
        Ok(response) => relay_response(response),
        Err(err) => {
            warn!(upstream = %gateway.gateway.upstream, "egress: model gateway upstream failed: {err}");
            let host = gateway.gateway.upstream.host().unwrap_or("");
            let port = gateway.gateway.upstream.port_u16().unwrap_or(0);
            upstream_failure(
                host,
                port,
                StatusCode::BAD_GATEWAY,
                "model gateway upstream unreachable",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn pq(text: &'static str) -> PathAndQuery {
        PathAndQuery::from_static(text)
    }

    #[test]
    fn upstream_urls_join_the_base_path_and_drop_the_key_param() {
        let gateway = ModelGateway::new("http://127.0.0.1:4567/prefix/").unwrap();
        assert_eq!(
            gateway.upstream_uri(&pq("/v1/messages?beta=true")).unwrap(),
            "http://127.0.0.1:4567/prefix/v1/messages?beta=true"
        );
        assert_eq!(
            gateway
                .upstream_uri(&pq(
                    "/v1beta/models/g:streamGenerateContent?alt=sse&key=PLACEHOLDER"
                ))
                .unwrap(),
            "http://127.0.0.1:4567/prefix/v1beta/models/g:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            gateway.upstream_uri(&pq("/x?key=only")).unwrap(),
            "http://127.0.0.1:4567/prefix/x"
        );
        let root = ModelGateway::new("https://api.anthropic.com").unwrap();
        assert_eq!(
            root.upstream_uri(&pq("/v1/messages")).unwrap(),
            "https://api.anthropic.com/v1/messages"
        );
    }

    #[test]
    fn placeholders_are_stripped_and_the_real_key_injected() {
        let gateway = ModelGateway::anthropic("http://127.0.0.1:1", "sk-real").unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-api-key", "placeholder"),
            ("authorization", "Bearer placeholder"),
            ("x-goog-api-key", "placeholder"),
            ("host", "127.0.0.1:3128"),
            ("proxy-authorization", "Basic x"),
            ("anthropic-version", "2023-06-01"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        gateway.rewrite_headers(&mut headers);
        let mut seen: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                ("anthropic-version".to_owned(), "2023-06-01".to_owned()),
                ("x-api-key".to_owned(), "sk-real".to_owned()),
            ]
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let gateway = ModelGateway::gemini("https://g.test", "AIza-real").unwrap();
        let printed = format!("{gateway:?}");
        assert!(!printed.contains("AIza-real"), "{printed}");
        assert!(printed.contains("x-goog-api-key"), "{printed}");
    }

    #[test]
    fn invalid_upstreams_say_why() {
        let why = |url: &str| match ModelGateway::new(url) {
            Err(EgressError::InvalidGatewayUpstream { why, .. }) => why,
            other => panic!("{url}: {other:?}"),
        };
        assert_eq!(why("ftp://x.test"), "the scheme must be http or https");
        assert_eq!(why("/v1"), "the scheme must be http or https");
        assert_eq!(why("http://x.test/?a=b"), "a base URL cannot carry a query");
        assert!(ModelGateway::anthropic("http://x.test", "bad\nkey").is_err());
    }
}
