//! Test harness: a proxy served over real unix socket pairs, a client that speaks HTTP/1.1 to
//! it, and real upstream servers on 127.0.0.1 (TCP echo, HTTP, HTTPS with a test CA) that
//! record what reached them. Every wait has an explicit timeout.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_runtime_egress::{
    AddressException, Denial, EgressConfig, EgressPolicy, EgressProxy, HostPattern, StaticResolver,
    DENIED_HEADER,
};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::RootCertStore;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixStream};
use tokio::sync::mpsc;

/// Longest any single step of a test may take.
pub const STEP: Duration = Duration::from_secs(10);

/// Runs `fut`, failing the test if it takes longer than [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

pub fn patterns(texts: &[&str]) -> Vec<HostPattern> {
    texts
        .iter()
        .map(|t| HostPattern::parse(t).unwrap())
        .collect()
}

pub fn exceptions(texts: &[&str]) -> Vec<AddressException> {
    texts
        .iter()
        .map(|t| AddressException::parse(t).unwrap())
        .collect()
}

/// A config with `policy`, a resolver that knows nothing (no test ever queries DNS) and no
/// upstream roots.
pub fn config(policy: EgressPolicy) -> EgressConfig {
    let mut config = EgressConfig::new(policy);
    config.resolver = Arc::new(StaticResolver::new());
    config.upstream_roots = Arc::new(RootCertStore::empty());
    config
}

/// A proxy under test and the denials it reported.
pub struct Proxy {
    pub proxy: EgressProxy,
    denials: Arc<Mutex<Vec<Denial>>>,
}

impl Proxy {
    pub fn start(config: EgressConfig) -> Proxy {
        let denials = Arc::new(Mutex::new(Vec::new()));
        let sink = denials.clone();
        let proxy = EgressProxy::new(config, move |denial| sink.lock().unwrap().push(denial))
            .expect("the proxy builds");
        Proxy { proxy, denials }
    }

    /// Every denial reported so far.
    pub fn denials(&self) -> Vec<Denial> {
        self.denials.lock().unwrap().clone()
    }

    /// A new client connection: one end of a unix socket pair, the proxy serving the other.
    pub fn connect(&self) -> UnixStream {
        let (client, server) = UnixStream::pair().unwrap();
        let proxy = self.proxy.clone();
        tokio::spawn(async move { proxy.serve(server).await });
        client
    }

    /// A new client connection with an HTTP/1.1 client on it.
    pub async fn client(&self) -> Client {
        Client::over(self.connect()).await
    }
}

pub type TestBody = BoxBody<Bytes, hyper::Error>;

pub fn empty() -> TestBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn full(data: impl Into<Bytes>) -> TestBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An HTTP/1.1 client on any stream.
pub struct Client {
    sender: SendRequest<TestBody>,
}

/// A response read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    /// The reason code the proxy put in its refusal header.
    pub fn denied(&self) -> Option<&str> {
        self.headers.get(DENIED_HEADER).map(|v| v.to_str().unwrap())
    }
}

impl Client {
    pub async fn over<S>(stream: S) -> Client
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (sender, connection) = within(
            "client handshake",
            hyper::client::conn::http1::handshake(TokioIo::new(stream)),
        )
        .await
        .unwrap();
        tokio::spawn(async move {
            let _ = connection.with_upgrades().await;
        });
        Client { sender }
    }

    pub async fn send(&mut self, request: Request<TestBody>) -> Response<Incoming> {
        within("client ready", self.sender.ready()).await.unwrap();
        within("response head", self.sender.send_request(request))
            .await
            .unwrap()
    }

    /// Sends `request` and reads the whole response.
    pub async fn fetch(&mut self, request: Request<TestBody>) -> Answer {
        let response = self.send(request).await;
        read_answer(response).await
    }

    /// Sends `CONNECT target`; on 200 returns the tunnel, otherwise the refusal.
    pub async fn connect_to(
        &mut self,
        target: &str,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>, Answer> {
        let request = Request::builder()
            .method(Method::CONNECT)
            .uri(target)
            .body(empty())
            .unwrap();
        let response = self.send(request).await;
        if response.status() != StatusCode::OK {
            return Err(read_answer(response).await);
        }
        let upgraded = within("upgrade", hyper::upgrade::on(response))
            .await
            .unwrap();
        Ok(TokioIo::new(upgraded))
    }
}

pub async fn read_answer(response: Response<Incoming>) -> Answer {
    let (parts, body) = response.into_parts();
    let body = within("response body", body.collect())
        .await
        .unwrap()
        .to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub fn get(uri: &str) -> Request<TestBody> {
    Request::builder().uri(uri).body(empty()).unwrap()
}

/// A TCP server on 127.0.0.1 that echoes every byte and counts connections.
pub struct EchoServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl EchoServer {
    pub async fn start() -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        EchoServer { addr, accepted }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Writes `data` into a tunnel and reads the same number of bytes back.
pub async fn echo_through<S: AsyncRead + AsyncWrite + Unpin>(
    tunnel: &mut S,
    data: &[u8],
) -> Vec<u8> {
    within("tunnel write", tunnel.write_all(data))
        .await
        .unwrap();
    let mut back = vec![0; data.len()];
    within("tunnel read", tunnel.read_exact(&mut back))
        .await
        .unwrap();
    back
}

/// One request as an upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Response<TestBody> + Send + Sync>;

/// An HTTP/1.1 server on 127.0.0.1 (optionally TLS) that records each request and answers
/// with `handler`.
pub struct HttpUpstream {
    pub addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    accepted: Arc<AtomicUsize>,
}

impl HttpUpstream {
    /// Answers every request with `200 upstream saw <method> <uri>`.
    pub async fn start() -> HttpUpstream {
        HttpUpstream::with_handler(
            Arc::new(|seen: &Seen| {
                Response::new(full(format!("upstream saw {} {}", seen.method, seen.uri)))
            }),
            None,
        )
        .await
    }

    pub async fn with_handler(
        handler: Handler,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> HttpUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (record, seen) = mpsc::unbounded_channel();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                let record = record.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let handler = handler.clone();
                        let record = record.clone();
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let seen = Seen {
                                method: parts.method.to_string(),
                                uri: parts.uri.to_string(),
                                headers: parts.headers,
                                body,
                            };
                            let response = handler(&seen);
                            let _ = record.send(seen);
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(config) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(config);
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        HttpUpstream {
            addr,
            seen,
            accepted,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The next request this upstream received.
    pub async fn next_seen(&mut self) -> Seen {
        within("upstream request", self.seen.recv()).await.unwrap()
    }
}

/// A test certificate authority and a TLS server configuration signed by it.
pub struct TestPki {
    pub roots: Arc<RootCertStore>,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl TestPki {
    pub fn new() -> TestPki {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        TestPki {
            roots: Arc::new(roots),
            ca,
            ca_key,
        }
    }

    /// A server configuration presenting a certificate for `name`.
    pub fn server_config(&self, name: &str) -> Arc<rustls::ServerConfig> {
        let params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        Arc::new(config)
    }
}

/// A TLS client configuration trusting `roots`.
pub fn client_tls(roots: RootCertStore) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A root store holding the PEM certificate `pem`.
pub fn roots_from_pem(pem: &str) -> RootCertStore {
    use rustls::pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
        .unwrap();
    roots
}

/// Opens TLS to `name` over `stream` with `config`.
pub async fn tls_over<S>(
    stream: S,
    name: &str,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    within(
        "TLS handshake",
        tokio_rustls::TlsConnector::from(config).connect(name, stream),
    )
    .await
}

/// A name-to-address map for tests.
pub fn resolver(entries: &[(&str, &str)]) -> Arc<StaticResolver> {
    let mut resolver = StaticResolver::new();
    for (name, addr) in entries {
        resolver = resolver.with(name, [ip(addr)]);
    }
    Arc::new(resolver)
}

/// Writes raw bytes on a fresh connection and reads everything until the proxy closes it.
pub async fn raw_exchange(stream: &mut UnixStream, data: &[u8]) -> String {
    // The proxy may answer and close before all of `data` is written.
    let _ = stream.write_all(data).await;
    let mut out = Vec::new();
    let _ = within("raw read", stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Exceptions for loopback ports in tests.
pub fn loopback_exceptions(ports: &[u16]) -> Vec<AddressException> {
    ports
        .iter()
        .map(|port| AddressException::parse(&format!("127.0.0.1:{port}")).unwrap())
        .collect()
}
