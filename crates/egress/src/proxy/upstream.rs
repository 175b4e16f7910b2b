//! Connections to the real destination: TCP to an address that was already checked (never a
//! name, so nothing is resolved twice), TLS with the upstream trust roots and the checked name
//! as SNI, and an HTTP/1.1 client handshake whose connection task the caller's task set owns.

use std::io;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tracing::debug;

use super::http::{upstream_failure, ProxyBody};
use super::{Stats, Tasks};
use crate::error::EgressError;

/// Why an allowed destination could not be reached.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    #[error("connecting timed out")]
    TimedOut,
    #[error("connecting failed: {0}")]
    Connect(io::Error),
    #[error("TLS with the upstream failed: {0}")]
    Tls(io::Error),
    #[error("HTTP with the upstream failed: {0}")]
    Http(#[from] hyper::Error),
}

impl UpstreamError {
    /// The response the client gets: 504 for a timeout, 502 otherwise.
    pub(crate) fn response(&self, host: &str, port: u16) -> http::Response<ProxyBody> {
        let status = match self {
            UpstreamError::TimedOut => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        };
        upstream_failure(host, port, status, &format!("upstream unreachable: {self}"))
    }
}

/// Connects to the first of `ips` that answers within `timeout` each.
pub(crate) async fn connect_pinned(
    ips: &[IpAddr],
    port: u16,
    timeout: Duration,
    stats: &Stats,
) -> Result<TcpStream, UpstreamError> {
    let mut last = UpstreamError::Connect(io::Error::new(
        io::ErrorKind::AddrNotAvailable,
        "no address to connect to",
    ));
    for &ip in ips {
        stats.upstream_connects.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(timeout, TcpStream::connect((ip, port))).await {
            Ok(Ok(stream)) => {
                // Small writes (SSE tokens) must leave at once.
                if let Err(err) = stream.set_nodelay(true) {
                    debug!(%ip, port, "egress: setting TCP_NODELAY failed: {err}");
                }
                return Ok(stream);
            }
            Ok(Err(err)) => last = UpstreamError::Connect(err),
            Err(_) => last = UpstreamError::TimedOut,
        }
    }
    Err(last)
}

/// The TLS configuration for upstream connections: the given roots, ring, HTTP/1.1 only.
pub(crate) fn client_tls_config(
    roots: Arc<RootCertStore>,
) -> Result<Arc<ClientConfig>, EgressError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Opens TLS to `name` over `tcp`, verifying the certificate for `name` against the roots.
pub(crate) async fn tls_connect(
    tcp: TcpStream,
    name: &str,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, UpstreamError> {
    let server_name = ServerName::try_from(name.to_owned())
        .map_err(|err| UpstreamError::Tls(io::Error::new(io::ErrorKind::InvalidInput, err)))?;
    match tokio::time::timeout(
        timeout,
        TlsConnector::from(config).connect(server_name, tcp),
    )
    .await
    {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(err)) => Err(UpstreamError::Tls(err)),
        Err(_) => Err(UpstreamError::TimedOut),
    }
}

/// An HTTP/1.1 client on `io`. The connection task goes to `tasks`; it ends when the sender is
/// dropped and the last response body has been read.
pub(crate) async fn http1_handshake<T>(
    io: T,
    tasks: &Tasks,
) -> Result<SendRequest<ProxyBody>, UpstreamError>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tasks.spawn(async move {
        if let Err(err) = connection.await {
            debug!("egress: upstream connection ended: {err}");
        }
    });
    Ok(sender)
}
