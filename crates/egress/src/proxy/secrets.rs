//! Profile secrets injected as headers for the hosts a profile names.
//!
//! A CONNECT to a host a [`SecretRule`] names is not tunnelled blindly: the proxy answers the
//! TLS handshake itself with a certificate from its own CA (which the sandbox trusts), reads
//! each HTTP/1.1 request, sets the rule's header (replacing whatever the agent sent), and sends
//! the request over a TLS connection of its own to the real host, verified against the upstream
//! trust roots, with the host as SNI, to the address that was checked. Secrets are injected only
//! over TLS: a plain-HTTP request to the same host is forwarded without them, since anything on
//! the path could read it.

use std::convert::Infallible;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use super::http::{empty, relay_response, strip_hop_by_hop, ProxyBody};
use super::upstream::{connect_pinned, http1_handshake, tls_connect, UpstreamError};
use super::{server_builder, Admitted, Inner, Tasks};
use crate::decision::{Denial, DenyReason};
use crate::error::EgressError;
use crate::host::Host;
use crate::policy::HostPattern;

/// One profile secret: header `header: value` on every HTTPS request to the hosts `hosts` match.
#[derive(Clone)]
pub struct SecretRule {
    name: String,
    hosts: Vec<HostPattern>,
    header: HeaderName,
    value: HeaderValue,
}

impl SecretRule {
    /// A rule named `name` (for logs and errors; never the value). Its hosts must be DNS names
    /// or `*.suffix` patterns: the proxy never terminates TLS for an IP-literal destination.
    pub fn new(
        name: impl Into<String>,
        hosts: Vec<HostPattern>,
        header: &str,
        value: &str,
    ) -> Result<Self, EgressError> {
        let name = name.into();
        let invalid = |why: &str| EgressError::InvalidSecretRule {
            rule: name.clone(),
            why: why.to_owned(),
        };
        if hosts.is_empty() {
            return Err(invalid("a secret rule names at least one host"));
        }
        if hosts.iter().any(|h| h.dns_name().is_none()) {
            return Err(invalid(
                "secret rules name hosts by DNS name; IP-literal destinations are never intercepted",
            ));
        }
        let (header, value) = super::gateway::sensitive_header(header, value)?;
        Ok(SecretRule {
            name,
            hosts,
            header,
            value,
        })
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hosts it applies to.
    pub fn hosts(&self) -> &[HostPattern] {
        &self.hosts
    }

    /// The header it sets.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    pub(crate) fn value(&self) -> &HeaderValue {
        &self.value
    }

    /// Whether the rule applies to a CONNECT to `host:port`.
    pub fn applies_to(&self, host: &Host, port: u16) -> bool {
        matches!(host, Host::Name(_)) && self.hosts.iter().any(|p| p.matches(host, port))
    }
}

impl fmt::Debug for SecretRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretRule")
            .field("name", &self.name)
            .field("hosts", &self.hosts)
            .field("header", &self.header)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// Answers a CONNECT to a host some secret rules name: connects upstream first (so an
/// unreachable host is a 502 on the CONNECT), then terminates the client's TLS in a task.
pub(super) async fn intercept(
    inner: &Arc<Inner>,
    tasks: &Tasks,
    request: Request<Incoming>,
    admitted: Admitted,
    headers: Vec<(HeaderName, HeaderValue)>,
) -> Response<ProxyBody> {
    let Admitted { host, port, ips } = admitted;
    let Some(name) = host.name().map(str::to_owned) else {
        // `SecretRule::applies_to` admits names only.
        return inner.refuse(
            Denial {
                host: host.to_string(),
                port,
                reason: DenyReason::BadRequest,
                address: None,
            },
            None,
        );
    };
    let Some(ca) = &inner.ca else {
        return UpstreamError::Tls(std::io::Error::other("no certificate authority"))
            .response(&name, port);
    };
    let server_config = match ca.server_config(&name) {
        Ok(config) => config,
        Err(err) => {
            tracing::warn!(host = %name, "egress: issuing a certificate failed: {err}");
            return UpstreamError::Tls(std::io::Error::other("certificate issuance failed"))
                .response(&name, port);
        }
    };
    let upstream = Arc::new(Upstream {
        name: name.clone(),
        port,
        ips,
        inner: inner.clone(),
        tasks: tasks.clone(),
        sender: Mutex::new(None),
    });
    if let Err(err) = upstream.connect_now().await {
        return err.response(&name, port);
    }
    let on_upgrade = hyper::upgrade::on(request);
    let handshake_timeout = inner.limits.connect_timeout;
    let builder = server_builder(&inner.limits);
    tasks.spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(err) => return debug!("egress: CONNECT upgrade failed: {err}"),
        };
        let accept = TlsAcceptor::from(server_config).accept(TokioIo::new(upgraded));
        let tls = match tokio::time::timeout(handshake_timeout, accept).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(err)) => return debug!(host = %name, "egress: client TLS failed: {err}"),
            Err(_) => return debug!(host = %name, "egress: client TLS timed out"),
        };
        let headers = Arc::new(headers);
        let service = service_fn(move |request| {
            let upstream = upstream.clone();
            let headers = headers.clone();
            async move { Ok::<_, Infallible>(relay(&upstream, &headers, request).await) }
        });
        if let Err(err) = builder.serve_connection(TokioIo::new(tls), service).await {
            debug!("egress: intercepted connection ended: {err}");
        }
    });
    Response::new(empty())
}

/// One request inside an intercepted tunnel: pinned to the tunnel's host, secrets set.
async fn relay(
    upstream: &Upstream,
    headers: &[(HeaderName, HeaderValue)],
    request: Request<Incoming>,
) -> Response<ProxyBody> {
    let (mut parts, body) = request.into_parts();
    let refuse = |detail: &str| {
        upstream.inner.refuse(
            Denial {
                host: upstream.name.clone(),
                port: upstream.port,
                reason: DenyReason::BadRequest,
                address: None,
            },
            Some(detail),
        )
    };
    if parts.method == Method::CONNECT {
        return refuse("CONNECT inside a tunnel");
    }
    // A request inside the tunnel may only be for the tunnel's host: another Host could route
    // the secret to another site behind the same server (domain fronting).
    if let Some(authority) = parts.uri.authority() {
        let same_host = Host::parse(authority.host())
            .ok()
            .as_ref()
            .and_then(Host::name)
            == Some(upstream.name.as_str());
        if !same_host || authority.port_u16().unwrap_or(443) != upstream.port {
            return refuse("a request for another host inside a tunnel");
        }
    }
    parts.uri = match parts.uri.path_and_query() {
        Some(path) => path.as_str().parse().unwrap_or_default(),
        None => http::Uri::from_static("/"),
    };
    parts.version = http::Version::HTTP_11;
    parts.extensions = http::Extensions::new();
    strip_hop_by_hop(&mut parts.headers);
    let host_header = if upstream.port == 443 {
        upstream.name.clone()
    } else {
        format!("{}:{}", upstream.name, upstream.port)
    };
    if let Ok(value) = HeaderValue::from_str(&host_header) {
        parts.headers.insert(header::HOST, value);
    }
    for (name, value) in headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    let request = Request::from_parts(parts, body.boxed());
    match upstream.send(request).await {
        Ok(response) => relay_response(response),
        Err(err) => err.response(&upstream.name, upstream.port),
    }
}

/// The upstream side of one intercepted tunnel: a TLS connection to the checked address,
/// reopened (to the same address) when the server closes it between requests.
struct Upstream {
    name: String,
    port: u16,
    ips: Vec<IpAddr>,
    inner: Arc<Inner>,
    tasks: Tasks,
    sender: Mutex<Option<SendRequest<ProxyBody>>>,
}

impl Upstream {
    /// Opens the connection now, so an unreachable host fails the CONNECT itself.
    async fn connect_now(&self) -> Result<(), UpstreamError> {
        let mut slot = self.sender.lock().await;
        self.ensure_ready(&mut slot).await
    }

    /// Leaves a ready connection in `slot`: the open one if it can take a request, else a new
    /// one to the same checked address.
    async fn ensure_ready(
        &self,
        slot: &mut Option<SendRequest<ProxyBody>>,
    ) -> Result<(), UpstreamError> {
        if let Some(open) = slot.as_mut() {
            if open.ready().await.is_ok() {
                return Ok(());
            }
        }
        let limits = &self.inner.limits;
        let tcp: TcpStream = connect_pinned(
            &self.ips,
            self.port,
            limits.connect_timeout,
            &self.inner.stats,
        )
        .await?;
        let tls = tls_connect(
            tcp,
            &self.name,
            self.inner.upstream_tls.clone(),
            limits.connect_timeout,
        )
        .await?;
        *slot = Some(http1_handshake(tls, &self.tasks).await?);
        Ok(())
    }

    async fn send(&self, request: Request<ProxyBody>) -> Result<Response<Incoming>, UpstreamError> {
        // HTTP/1.1 carries one request at a time: the lock is held until the response head
        // arrives; the body then streams on its own.
        let mut slot = self.sender.lock().await;
        self.ensure_ready(&mut slot).await?;
        match slot.as_mut() {
            Some(open) => Ok(open.send_request(request).await?),
            None => Err(UpstreamError::Connect(std::io::Error::other(
                "no upstream connection",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(texts: &[&str]) -> Vec<HostPattern> {
        texts
            .iter()
            .map(|t| HostPattern::parse(t).unwrap())
            .collect()
    }

    #[test]
    fn rules_apply_to_names_on_their_ports() {
        let rule = SecretRule::new(
            "gh",
            patterns(&["api.github.test", "*.gh.test:*"]),
            "authorization",
            "token real",
        )
        .unwrap();
        let host = |t: &str| Host::parse(t).unwrap();
        assert!(rule.applies_to(&host("api.github.test"), 443));
        assert!(!rule.applies_to(&host("api.github.test"), 8443));
        assert!(rule.applies_to(&host("x.gh.test"), 8443));
        assert!(!rule.applies_to(&host("github.test"), 443));
    }

    #[test]
    fn rules_refuse_addresses_and_never_print_the_value() {
        let err = SecretRule::new("ip", patterns(&["10.0.0.1"]), "x-token", "v").unwrap_err();
        assert!(err.to_string().contains("never intercepted"), "{err}");
        assert!(SecretRule::new("none", Vec::new(), "x-token", "v").is_err());
        let rule = SecretRule::new("t", patterns(&["a.test"]), "x-token", "hunter2").unwrap();
        assert!(!format!("{rule:?}").contains("hunter2"));
    }
}
