//! Plain HTTP in absolute form (`GET http://host/path`): decide, connect to the checked
//! address, send the request in origin form with `Host` set from the URL, stream the response.
//! One upstream connection per request: plain HTTP through the proxy is rare (most tools use
//! HTTPS, which is `CONNECT`). Secrets are never injected here.

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::uri::Authority;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::http::{relay_response, strip_hop_by_hop, ProxyBody};
use super::upstream::{connect_pinned, http1_handshake};
use super::{Inner, Tasks};

pub(super) async fn handle(
    inner: &Arc<Inner>,
    tasks: &Tasks,
    request: Request<Incoming>,
    authority: Authority,
) -> Response<ProxyBody> {
    let port = authority.port_u16().unwrap_or(80);
    let admitted = match inner.admit(authority.host(), port).await {
        Ok(admitted) => admitted,
        Err(denial) => return inner.refuse(denial, None),
    };
    let host = admitted.host.to_string();
    let upstream = match connect_pinned(
        &admitted.ips,
        port,
        inner.limits.connect_timeout,
        &inner.stats,
    )
    .await
    {
        Ok(stream) => stream,
        Err(err) => return err.response(&host, port),
    };
    let mut sender = match http1_handshake(upstream, tasks).await {
        Ok(sender) => sender,
        Err(err) => return err.response(&host, port),
    };
    let (mut parts, body) = request.into_parts();
    parts.uri = match parts.uri.path_and_query() {
        Some(path) => path.as_str().parse().unwrap_or_default(),
        None => http::Uri::from_static("/"),
    };
    parts.version = http::Version::HTTP_11;
    parts.extensions = http::Extensions::new();
    strip_hop_by_hop(&mut parts.headers);
    let host_header = match authority.port_u16() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    if let Ok(value) = HeaderValue::from_str(&host_header) {
        parts.headers.insert(header::HOST, value);
    }
    match sender
        .send_request(Request::from_parts(parts, body.boxed()))
        .await
    {
        Ok(response) => relay_response(response),
        Err(err) => super::upstream::UpstreamError::from(err).response(&host, port),
    }
}
